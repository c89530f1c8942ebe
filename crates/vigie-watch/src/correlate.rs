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
//!
//! Open incidents and lone failures outlive the process: the runner stores
//! what [`Correlator::take_changes`] reports and hands it back to
//! [`Correlator::resume`] after a restart, so an incident is neither
//! announced twice nor left without its end. Incident ids come from the
//! caller ([`Correlator::grant_ids`]), which takes them from a store that
//! never hands the same id out twice.
//!
//! Times are unix seconds, as the runner's clock gives them (whole
//! seconds): a failure seen "at 12" happened within [12, 13).

use crate::state::{Status, Transition};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Counted from the end of the second the first failure was seen in:
    /// the notice goes out at the first tick after `began + gather`, so a
    /// failure seen less than `gather` seconds after the first (in real
    /// time) is always in it, whatever the phase of the ticks.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
            | Notice::IncidentResolved { incident, .. } => incident_key(*incident),
            Notice::TargetFailed { target, .. } | Notice::TargetRecovered { target, .. } => {
                target_key(&target.target)
            }
            Notice::CanaryLost { .. } | Notice::CanaryRestored { .. } => "canary".into(),
        }
    }
}

/// What is kept of an open incident between runs (its members are kept
/// one by one, see [`Change::Incident`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub id: u64,
    pub scope: GroupScope,
    /// When its first member failed.
    pub began: i64,
    /// The opening notice has gone out.
    pub announced: bool,
    /// When the last notice (opening or digest) went out.
    pub last_notice: i64,
    /// Members that joined since the last notice (for the next digest).
    pub unreported: Vec<String>,
}

impl IncidentRecord {
    /// The key its notices share ("incident-12").
    pub fn key(&self) -> String {
        incident_key(self.id)
    }
}

/// The key of an incident's notices.
pub fn incident_key(id: u64) -> String {
    format!("incident-{id}")
}

/// The key of a lone failure's notices.
pub fn target_key(target: &str) -> String {
    format!("target:{target}")
}

/// A change of what must survive a restart, from
/// [`Correlator::take_changes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Change {
    /// An incident was opened or changed: store the record, these members
    /// (new or changed) and forget the removed ones.
    Incident {
        record: IncidentRecord,
        members: Vec<Member>,
        removed: Vec<String>,
    },
    /// An incident ended (its resolution, if it was announced, is among the
    /// notices of the same tick).
    IncidentClosed { id: u64 },
    /// A failure was notified on its own (or its status changed).
    Lone { member: Member, since: i64 },
    /// A failure notified on its own ended.
    LoneClosed { target: String },
}

impl Change {
    /// The key of the notices concerned.
    pub fn key(&self) -> String {
        match self {
            Change::Incident { record, .. } => record.key(),
            Change::IncidentClosed { id } => incident_key(*id),
            Change::Lone { member, .. } => target_key(&member.target),
            Change::LoneClosed { target } => target_key(target),
        }
    }
}

/// Incident ids: process-local from 1 ([`Correlator::new`]: tests, `watch
/// once`), or the blocks granted by the caller, `[first, end)`.
#[derive(Debug)]
enum Ids {
    Local(u64),
    Granted(VecDeque<(u64, u64)>),
}

impl Default for Ids {
    fn default() -> Self {
        Ids::Local(1)
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
    /// Resumed after a restart at this time: an incident not announced
    /// yet gathers again for one `gather`, so that every member is probed
    /// again before the notice lists it.
    resumed_at: Option<i64>,
}

impl Incident {
    fn record(&self, id: u64) -> IncidentRecord {
        IncidentRecord {
            id,
            scope: self.scope.clone(),
            began: self.began,
            announced: self.announced,
            last_notice: self.last_notice,
            unreported: self.unreported.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Correlator {
    cfg: Config,
    failing: BTreeMap<String, Failing>,
    incidents: BTreeMap<u64, Incident>,
    ids: Ids,
    recovered_alone: Vec<(Member, i64)>,
    canary_down: bool,
    /// What [`Correlator::take_changes`] last reported, to report only
    /// differences.
    persisted: BTreeMap<u64, (IncidentRecord, BTreeMap<String, Member>)>,
    persisted_lone: BTreeMap<String, (Member, i64)>,
}

impl Correlator {
    pub fn new(cfg: Config) -> Self {
        Correlator {
            cfg,
            ..Default::default()
        }
    }

    pub fn config(&self) -> Config {
        self.cfg
    }

    /// Gives the correlator ids `[first, first + count)` for its next
    /// incidents. From the first grant on it uses granted ids only, and an
    /// incident due while none is left opens at a later tick, once more are
    /// granted. Grant before the first tick.
    pub fn grant_ids(&mut self, first: u64, count: u64) {
        if matches!(self.ids, Ids::Local(_)) {
            self.ids = Ids::Granted(VecDeque::new());
        }
        if let Ids::Granted(q) = &mut self.ids
            && count > 0
        {
            q.push_back((first, first.saturating_add(count)));
        }
    }

    /// Granted ids not used yet (`u64::MAX` with process-local ids).
    pub fn ids_left(&self) -> u64 {
        match &self.ids {
            Ids::Local(_) => u64::MAX,
            Ids::Granted(q) => q.iter().map(|(a, b)| b.saturating_sub(*a)).sum(),
        }
    }

    fn next_id(&mut self) -> Option<u64> {
        match &mut self.ids {
            Ids::Local(n) => {
                let id = *n;
                *n += 1;
                Some(id)
            }
            Ids::Granted(q) => loop {
                let (first, end) = q.front_mut()?;
                if *first < *end {
                    let id = *first;
                    *first += 1;
                    return Some(id);
                }
                q.pop_front();
            },
        }
    }

    /// Takes back, after a restart, the incidents and lone failures a
    /// previous run left open (as stored from [`Correlator::take_changes`]).
    /// `lookup` gives the description and declared status of a target this
    /// runner watches (`None`: not watched any more). Until a probe says
    /// otherwise, every member still watched counts as failing, so an
    /// incident ends only once its members were probed again and came
    /// back, and then its resolution goes out; members no longer watched
    /// no longer count.
    pub fn resume(
        &mut self,
        incidents: Vec<(IncidentRecord, Vec<Member>)>,
        lone: Vec<(Member, i64)>,
        lookup: impl Fn(&str) -> Option<(TargetInfo, Status)>,
        now: i64,
    ) {
        for (record, members) in incidents {
            let id = record.id;
            if let Ids::Local(n) = &mut self.ids {
                *n = (*n).max(id.saturating_add(1));
            }
            let members: BTreeMap<String, Member> =
                members.into_iter().map(|m| (m.target.clone(), m)).collect();
            for m in members.values() {
                if let Some((info, declared)) = lookup(&m.target) {
                    self.failing.insert(
                        m.target.clone(),
                        Failing {
                            info,
                            status: m.status,
                            since: record.began,
                            raw: true,
                            declared: declared.is_failure(),
                            incident: Some(id),
                            notified_alone: false,
                        },
                    );
                }
            }
            self.persisted.insert(id, (record.clone(), members.clone()));
            self.incidents.insert(
                id,
                Incident {
                    scope: record.scope,
                    members,
                    began: record.began,
                    announced: record.announced,
                    unreported: record.unreported,
                    last_notice: record.last_notice,
                    resumed_at: Some(now),
                },
            );
        }
        for (m, since) in lone {
            if let Some(f) = self.failing.get_mut(&m.target) {
                // notified alone, then joined an incident
                f.notified_alone = true;
                f.since = since;
            } else if let Some((info, declared)) = lookup(&m.target) {
                self.failing.insert(
                    m.target.clone(),
                    Failing {
                        info,
                        status: m.status,
                        since,
                        raw: true,
                        declared: declared.is_failure(),
                        incident: None,
                        notified_alone: true,
                    },
                );
            }
            self.persisted_lone.insert(m.target.clone(), (m, since));
        }
    }

    /// What changed in the open incidents and lone failures since the last
    /// call: store it to resume after a restart. Call it after each tick.
    pub fn take_changes(&mut self) -> Vec<Change> {
        let mut out = Vec::new();
        let closed: Vec<u64> = self
            .persisted
            .keys()
            .filter(|id| !self.incidents.contains_key(id))
            .copied()
            .collect();
        for id in closed {
            self.persisted.remove(&id);
            out.push(Change::IncidentClosed { id });
        }
        for (id, inc) in &self.incidents {
            let record = inc.record(*id);
            let (members, removed) = match self.persisted.get(id) {
                Some((before, known)) => {
                    let members: Vec<Member> = inc
                        .members
                        .iter()
                        .filter(|(k, m)| known.get(*k) != Some(*m))
                        .map(|(_, m)| m.clone())
                        .collect();
                    let removed: Vec<String> = known
                        .keys()
                        .filter(|k| !inc.members.contains_key(*k))
                        .cloned()
                        .collect();
                    if *before == record && members.is_empty() && removed.is_empty() {
                        continue;
                    }
                    (members, removed)
                }
                None => (inc.members.values().cloned().collect(), Vec::new()),
            };
            self.persisted
                .insert(*id, (record.clone(), inc.members.clone()));
            out.push(Change::Incident {
                record,
                members,
                removed,
            });
        }
        let lone: BTreeMap<String, (Member, i64)> = self
            .failing
            .values()
            .filter(|f| f.notified_alone)
            .map(|f| (f.info.id.clone(), (f.member(), f.since)))
            .collect();
        for target in self.persisted_lone.keys() {
            if !lone.contains_key(target) {
                out.push(Change::LoneClosed {
                    target: target.clone(),
                });
            }
        }
        for (target, v) in &lone {
            if self.persisted_lone.get(target) != Some(v) {
                out.push(Change::Lone {
                    member: v.0.clone(),
                    since: v.1,
                });
            }
        }
        self.persisted_lone = lone;
        out
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
            // without an id (none granted yet) it opens at a later tick
            if let Some(id) = self.next_id() {
                self.open(id, scope, members, began, now);
            }
        }
        // 2. incidents: announce once gathered, digest, resolve
        out.extend(self.announce_digest_resolve(now));
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

    fn open(
        &mut self,
        id: u64,
        scope: GroupScope,
        members: BTreeMap<String, Member>,
        began: i64,
        now: i64,
    ) {
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
                resumed_at: None,
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

    /// Incidents: announce once gathered, digest, resolve.
    fn announce_digest_resolve(&mut self, now: i64) -> Vec<Notice> {
        let mut out = Vec::new();
        let mut resolved = Vec::new();
        let ids: Vec<u64> = self.incidents.keys().copied().collect();
        for id in ids {
            let failing_members: BTreeSet<String> = match self.incidents.get(&id) {
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
                // strictly after: `began` is the start of the second the
                // first failure was seen in, and so is `now` of the tick
                let start = inc.began.max(inc.resumed_at.unwrap_or(i64::MIN));
                if now <= start.saturating_add(self.cfg.gather) {
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
        out
    }
}
