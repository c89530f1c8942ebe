//! Mass-event correlation: many targets failing within a short window
//! become one incident whose list grows, with one notice when it opens,
//! digests while it grows, and one when it resolves. A lone failure is
//! notified on its own after a hold time (in case it is the first of many).
//! While vigie's own connectivity canary fails, nothing is notified: the
//! problem is ours, not the sector's.
//!
//! Two kinds of input feed it:
//! - [`Correlator::observe`], every probe's raw outcome: a first failure is
//!   a *suspect*. Many suspects at once are a mass event even before each
//!   target's flapping threshold is crossed (forty sites failing together
//!   are not forty blips).
//! - [`Correlator::record`], the declared transitions of each target's
//!   state machine: a lone failure is notified only once declared, and a
//!   member of an incident counts as failing until it is declared up again.

use crate::state::{Status, Transition};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a target sits, for grouping and routing.
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

impl std::fmt::Display for GroupScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GroupScope::Address(a) => write!(f, "hosting address {a}"),
            GroupScope::Zone(z) => write!(f, "DNS zone {z}"),
            GroupScope::Establishment(e) => write!(f, "establishment {e}"),
            GroupScope::Region(r) => write!(f, "region {r}"),
            GroupScope::Sector => write!(f, "the whole sector"),
        }
    }
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
        match scope {
            GroupScope::Address(a) => self.address.as_ref() == Some(a),
            GroupScope::Zone(z) => self.zone.as_ref() == Some(z),
            GroupScope::Establishment(e) => self.establishment.as_ref() == Some(e),
            GroupScope::Region(r) => self.region.as_ref() == Some(r),
            GroupScope::Sector => true,
        }
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
    /// Time from the first failure of a mass event to its opening notice,
    /// so that the notice lists everything that fell within one probe
    /// interval rather than the first few. Set it to the probe interval.
    pub gather: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window: 120,
            min_targets: 5,
            hold: 60,
            digest_every: 300,
            gather: 60,
        }
    }
}

/// A member of an incident as listed in its notices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub target: String,
    pub status: Status,
    pub establishment: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "notice", rename_all = "kebab-case")]
pub enum Notice {
    IncidentOpened {
        incident: u64,
        scope: GroupScope,
        members: Vec<Member>,
        defaced: usize,
        down: usize,
        at: i64,
    },
    IncidentGrew {
        incident: u64,
        scope: GroupScope,
        added: Vec<Member>,
        total: usize,
        at: i64,
    },
    IncidentResolved {
        incident: u64,
        scope: GroupScope,
        members: Vec<Member>,
        /// When the incident's first member failed.
        began: i64,
        at: i64,
    },
    TargetFailed {
        target: Member,
        since: i64,
        at: i64,
    },
    TargetRecovered {
        target: Member,
        at: i64,
    },
    CanaryLost {
        at: i64,
    },
    CanaryRestored {
        at: i64,
    },
}

impl Notice {
    /// A short machine name ("incident-opened", …).
    pub fn kind(&self) -> &'static str {
        match self {
            Notice::IncidentOpened { .. } => "incident-opened",
            Notice::IncidentGrew { .. } => "incident-grew",
            Notice::IncidentResolved { .. } => "incident-resolved",
            Notice::TargetFailed { .. } => "target-failed",
            Notice::TargetRecovered { .. } => "target-recovered",
            Notice::CanaryLost { .. } => "canary-lost",
            Notice::CanaryRestored { .. } => "canary-restored",
        }
    }

    /// The key that ties the notices of one incident or target together.
    pub fn key(&self) -> String {
        match self {
            Notice::IncidentOpened { incident, .. }
            | Notice::IncidentGrew { incident, .. }
            | Notice::IncidentResolved { incident, .. } => format!("incident-{incident}"),
            Notice::TargetFailed { target, .. } | Notice::TargetRecovered { target, .. } => {
                format!("target:{}", target.target)
            }
            Notice::CanaryLost { .. } | Notice::CanaryRestored { .. } => "canary".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Failing {
    info: TargetInfo,
    status: Status,
    since: i64,
    /// The last probe failed.
    raw: bool,
    /// The state machine declared the failure.
    declared: bool,
    incident: Option<u64>,
    notified_alone: bool,
}

impl Failing {
    fn member(&self) -> Member {
        Member {
            target: self.info.id.clone(),
            status: self.status,
            establishment: self.info.establishment.clone(),
            region: self.info.region.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct Incident {
    scope: GroupScope,
    members: BTreeMap<String, Member>,
    began: i64,
    /// The opening notice has gone out.
    announced: bool,
    unreported: Vec<String>,
    last_notice: i64,
}

#[derive(Debug, Default)]
pub struct Correlator {
    cfg: Config,
    failing: BTreeMap<String, Failing>,
    incidents: BTreeMap<u64, Incident>,
    next_id: u64,
    recovered_alone: Vec<(Member, i64)>,
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

    pub fn config(&self) -> Config {
        self.cfg
    }

    fn join_open_incident(&mut self, id: &str) {
        let Some(f) = self.failing.get(id) else {
            return;
        };
        if f.incident.is_some() {
            return;
        }
        let info = f.info.clone();
        let member = f.member();
        let found = self
            .incidents
            .iter_mut()
            .find(|(_, inc)| info.within(&inc.scope));
        if let Some((inc_id, inc)) = found {
            if inc.members.insert(info.id.clone(), member).is_none() && inc.announced {
                inc.unreported.push(info.id.clone());
            }
            let inc_id = *inc_id;
            if let Some(f) = self.failing.get_mut(id) {
                f.incident = Some(inc_id);
            }
        }
    }

    fn upsert(&mut self, info: &TargetInfo, status: Status, at: i64) -> &mut Failing {
        self.failing
            .entry(info.id.clone())
            .or_insert_with(|| Failing {
                info: info.clone(),
                status,
                since: at,
                raw: false,
                declared: false,
                incident: None,
                notified_alone: false,
            })
    }

    /// Removes a target that is no longer failing by either measure.
    fn settle(&mut self, id: &str, at: i64) {
        let done = self.failing.get(id).is_some_and(|f| !f.raw && !f.declared);
        if done
            && let Some(f) = self.failing.remove(id)
            && f.notified_alone
        {
            self.recovered_alone.push((f.member(), at));
        }
    }

    /// Records one probe's raw outcome (before thresholds).
    pub fn observe(&mut self, info: &TargetInfo, seen: Status, at: i64) {
        if seen.is_failure() {
            if self.canary_down {
                return;
            }
            let f = self.upsert(info, seen, at);
            f.raw = true;
            f.status = seen;
            if let Some(inc) = f.incident {
                let m = f.member();
                if let Some(i) = self.incidents.get_mut(&inc) {
                    i.members.insert(info.id.clone(), m);
                }
            }
            self.join_open_incident(&info.id);
        } else if let Some(f) = self.failing.get_mut(&info.id) {
            f.raw = false;
            self.settle(&info.id, at);
        }
    }

    /// Records a target's declared transition.
    pub fn record(&mut self, info: &TargetInfo, tr: Transition) {
        if tr.to.is_failure() {
            if self.canary_down {
                return;
            }
            let f = self.upsert(info, tr.to, tr.at);
            f.declared = true;
            f.status = tr.to;
            self.join_open_incident(&info.id);
        } else if let Some(f) = self.failing.get_mut(&info.id) {
            f.declared = false;
            self.settle(&info.id, tr.at);
        }
    }

    /// vigie's own connectivity: while it fails, nothing is notified, and
    /// failures that began while it failed are forgotten when it returns.
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

    pub fn canary_down(&self) -> bool {
        self.canary_down
    }

    /// Targets currently failing (raw or declared), for metrics and status.
    pub fn failing_count(&self) -> usize {
        self.failing.len()
    }

    /// Open incidents: (id, scope, members, announced).
    pub fn incidents(&self) -> Vec<(u64, GroupScope, usize, bool)> {
        self.incidents
            .iter()
            .map(|(id, i)| (*id, i.scope.clone(), i.members.len(), i.announced))
            .collect()
    }

    fn still_failing(&self, id: u64, target: &str) -> bool {
        self.failing
            .get(target)
            .is_some_and(|f| f.incident == Some(id))
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
            let began = recent.iter().map(|f| f.since).min().unwrap_or(now);
            let members: BTreeMap<String, Member> = recent
                .iter()
                .map(|f| (f.info.id.clone(), f.member()))
                .collect();
            let id = self.next_id;
            self.next_id += 1;
            for m in members.keys() {
                if let Some(f) = self.failing.get_mut(m) {
                    f.incident = Some(id);
                }
            }
            self.incidents.insert(
                id,
                Incident {
                    scope,
                    members,
                    began,
                    announced: false,
                    unreported: Vec::new(),
                    last_notice: now,
                },
            );
            // failures elsewhere in its scope join it
            let others: Vec<String> = self
                .failing
                .iter()
                .filter(|(_, f)| f.incident.is_none() && !f.notified_alone)
                .map(|(k, _)| k.clone())
                .collect();
            for k in others {
                self.join_open_incident(&k);
            }
        }
        // 2. incidents: announce once gathered, digest, resolve
        let mut resolved = Vec::new();
        let ids: Vec<u64> = self.incidents.keys().copied().collect();
        for id in ids {
            let failing_members: Vec<String> = match self.incidents.get(&id) {
                Some(inc) => inc
                    .members
                    .keys()
                    .filter(|m| self.still_failing(id, m))
                    .cloned()
                    .collect(),
                None => continue,
            };
            let Some(inc) = self.incidents.get_mut(&id) else {
                continue;
            };
            if failing_members.is_empty() {
                resolved.push(id);
                continue;
            }
            if !inc.announced {
                if now < inc.began + self.cfg.gather {
                    continue;
                }
                // members that came back before the notice are not listed
                inc.members.retain(|k, _| failing_members.contains(k));
                let members: Vec<Member> = inc.members.values().cloned().collect();
                let defaced = members
                    .iter()
                    .filter(|m| m.status == Status::Defaced)
                    .count();
                out.push(Notice::IncidentOpened {
                    incident: id,
                    scope: inc.scope.clone(),
                    down: members.len() - defaced,
                    defaced,
                    members,
                    at: now,
                });
                inc.announced = true;
                inc.last_notice = now;
                continue;
            }
            if !inc.unreported.is_empty() && now - inc.last_notice >= self.cfg.digest_every {
                let added: Vec<Member> = std::mem::take(&mut inc.unreported)
                    .iter()
                    .filter_map(|k| inc.members.get(k).cloned())
                    .collect();
                out.push(Notice::IncidentGrew {
                    incident: id,
                    scope: inc.scope.clone(),
                    added,
                    total: inc.members.len(),
                    at: now,
                });
                inc.last_notice = now;
            }
        }
        for id in resolved {
            if let Some(inc) = self.incidents.remove(&id)
                && inc.announced
            {
                out.push(Notice::IncidentResolved {
                    incident: id,
                    scope: inc.scope,
                    members: inc.members.into_values().collect(),
                    began: inc.began,
                    at: now,
                });
            }
        }
        // 3. lone declared failures past the hold time
        for f in self.failing.values_mut() {
            if f.declared
                && f.incident.is_none()
                && !f.notified_alone
                && f.since + self.cfg.hold <= now
            {
                f.notified_alone = true;
                out.push(Notice::TargetFailed {
                    target: f.member(),
                    since: f.since,
                    at: now,
                });
            }
        }
        for (target, at) in self.recovered_alone.drain(..) {
            out.push(Notice::TargetRecovered { target, at });
        }
        out
    }
}
