//! Mass-event correlation: many targets failing within a short window
//! become one incident whose list grows, with one notice when it opens,
//! digests while it grows, and one when it resolves. A lone failure is
//! notified on its own after a hold time (in case it is the first of many).
//! While vigie's own connectivity canary fails, nothing is notified: the
//! problem is ours, not the sector's.

use crate::state::{Status, Transition};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Where a target sits, for grouping.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TargetInfo {
    pub id: String,
    pub establishment: Option<String>,
    pub region: Option<String>,
    /// Registrable DNS zone ("sante.gouv.fr").
    pub zone: Option<String>,
    /// Hosting address.
    pub address: Option<String>,
}

/// What an incident covers, most specific first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum GroupScope {
    Address(String),
    Zone(String),
    Establishment(String),
    Region(String),
    Sector,
}

impl TargetInfo {
    fn scopes(&self) -> Vec<GroupScope> {
        let mut v = Vec::new();
        if let Some(a) = &self.address {
            v.push(GroupScope::Address(a.clone()));
        }
        if let Some(z) = &self.zone {
            v.push(GroupScope::Zone(z.clone()));
        }
        if let Some(e) = &self.establishment {
            v.push(GroupScope::Establishment(e.clone()));
        }
        if let Some(r) = &self.region {
            v.push(GroupScope::Region(r.clone()));
        }
        v.push(GroupScope::Sector);
        v
    }

    fn within(&self, scope: &GroupScope) -> bool {
        self.scopes().contains(scope)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Config {
    /// Failures this close together count as one event (seconds).
    pub window: i64,
    /// How many failing targets make a mass event.
    pub min_targets: usize,
    /// How long a lone failure waits before it is notified on its own.
    pub hold: i64,
    /// Least time between two digests of a growing incident.
    pub digest_every: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window: 120,
            min_targets: 5,
            hold: 60,
            digest_every: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "notice", rename_all = "kebab-case")]
pub enum Notice {
    IncidentOpened {
        incident: u64,
        scope: GroupScope,
        members: Vec<String>,
        defaced: usize,
        down: usize,
        at: i64,
    },
    IncidentGrew {
        incident: u64,
        scope: GroupScope,
        added: Vec<String>,
        total: usize,
        at: i64,
    },
    IncidentResolved {
        incident: u64,
        scope: GroupScope,
        members: usize,
        at: i64,
    },
    TargetFailed {
        target: String,
        status: Status,
        at: i64,
    },
    TargetRecovered {
        target: String,
        at: i64,
    },
    CanaryLost {
        at: i64,
    },
    CanaryRestored {
        at: i64,
    },
}

#[derive(Debug, Clone)]
struct Failing {
    info: TargetInfo,
    status: Status,
    since: i64,
    incident: Option<u64>,
    notified_alone: bool,
}

#[derive(Debug, Clone)]
struct Incident {
    scope: GroupScope,
    members: BTreeSet<String>,
    unreported: Vec<String>,
    last_notice: i64,
}

#[derive(Debug, Default)]
pub struct Correlator {
    cfg: Config,
    failing: BTreeMap<String, Failing>,
    incidents: BTreeMap<u64, Incident>,
    next_id: u64,
    recovered_alone: Vec<(String, i64)>,
    canary_down: bool,
}

impl Correlator {
    pub fn new(cfg: Config) -> Self {
        Correlator {
            cfg,
            next_id: 1,
            ..Default::default()
        }
    }

    /// Records a target's declared transition.
    pub fn record(&mut self, info: &TargetInfo, tr: Transition) {
        if tr.to.is_failure() {
            let open = self
                .incidents
                .iter_mut()
                .find(|(_, inc)| info.within(&inc.scope));
            let incident = open.map(|(id, inc)| {
                if inc.members.insert(info.id.clone()) {
                    inc.unreported.push(info.id.clone());
                }
                *id
            });
            let entry = self.failing.entry(info.id.clone()).or_insert(Failing {
                info: info.clone(),
                status: tr.to,
                since: tr.at,
                incident,
                notified_alone: false,
            });
            entry.status = tr.to;
            if entry.incident.is_none() {
                entry.incident = incident;
            }
        } else if let Some(f) = self.failing.remove(&info.id)
            && f.notified_alone
        {
            self.recovered_alone.push((info.id.clone(), tr.at));
        }
    }

    /// vigie's own connectivity: while it fails, nothing is notified.
    pub fn canary(&mut self, ok: bool, at: i64) -> Vec<Notice> {
        match (self.canary_down, ok) {
            (false, false) => {
                self.canary_down = true;
                vec![Notice::CanaryLost { at }]
            }
            (true, true) => {
                self.canary_down = false;
                vec![Notice::CanaryRestored { at }]
            }
            _ => Vec::new(),
        }
    }

    /// Decides what to notify now. Call it every few seconds.
    pub fn tick(&mut self, now: i64) -> Vec<Notice> {
        if self.canary_down {
            return Vec::new();
        }
        let mut out = Vec::new();
        // 1. a mass event among recent failures no incident holds yet
        let recent: Vec<&Failing> = self
            .failing
            .values()
            .filter(|f| {
                f.incident.is_none() && !f.notified_alone && f.since >= now - self.cfg.window
            })
            .collect();
        if recent.len() >= self.cfg.min_targets {
            // the most specific scope they all share
            let mut common: Option<Vec<GroupScope>> = None;
            for f in &recent {
                let s = f.info.scopes();
                common = Some(match common {
                    None => s,
                    Some(c) => c.into_iter().filter(|x| s.contains(x)).collect(),
                });
            }
            let scope = common
                .and_then(|c| c.into_iter().min())
                .unwrap_or(GroupScope::Sector);
            let members: Vec<String> = recent.iter().map(|f| f.info.id.clone()).collect();
            let defaced = recent
                .iter()
                .filter(|f| f.status == Status::Defaced)
                .count();
            let down = recent.len() - defaced;
            let id = self.next_id;
            self.next_id += 1;
            for m in &members {
                if let Some(f) = self.failing.get_mut(m) {
                    f.incident = Some(id);
                }
            }
            self.incidents.insert(
                id,
                Incident {
                    scope: scope.clone(),
                    members: members.iter().cloned().collect(),
                    unreported: Vec::new(),
                    last_notice: now,
                },
            );
            out.push(Notice::IncidentOpened {
                incident: id,
                scope,
                members,
                defaced,
                down,
                at: now,
            });
        }
        // 2. lone failures past the hold time
        for f in self.failing.values_mut() {
            if f.incident.is_none() && !f.notified_alone && f.since + self.cfg.hold <= now {
                f.notified_alone = true;
                out.push(Notice::TargetFailed {
                    target: f.info.id.clone(),
                    status: f.status,
                    at: now,
                });
            }
        }
        for (target, at) in self.recovered_alone.drain(..) {
            out.push(Notice::TargetRecovered { target, at });
        }
        // 3. digests of growing incidents, and resolutions
        let mut resolved = Vec::new();
        for (id, inc) in self.incidents.iter_mut() {
            let still = inc
                .members
                .iter()
                .any(|m| self.failing.get(m).is_some_and(|f| f.incident == Some(*id)));
            if !still {
                resolved.push(*id);
                continue;
            }
            if !inc.unreported.is_empty() && now - inc.last_notice >= self.cfg.digest_every {
                out.push(Notice::IncidentGrew {
                    incident: *id,
                    scope: inc.scope.clone(),
                    added: std::mem::take(&mut inc.unreported),
                    total: inc.members.len(),
                    at: now,
                });
                inc.last_notice = now;
            }
        }
        for id in resolved {
            if let Some(inc) = self.incidents.remove(&id) {
                out.push(Notice::IncidentResolved {
                    incident: id,
                    scope: inc.scope,
                    members: inc.members.len(),
                    at: now,
                });
            }
        }
        out
    }
}
