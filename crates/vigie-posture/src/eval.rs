//! Rule evaluation: conditions against merged host facts, producing findings
//! with the evidence that made each condition true.

use crate::checks::{CheckOutcome, Checks, PatchOutcome};
use crate::lang::{CheckKind, Condition, Fact, Rule, RuleSet, Test, UnknownPolicy};
use std::cmp::Ordering;
use std::collections::HashMap;
use vigie_core::version::compare;
use vigie_core::{Day, Evidence, Finding, FindingStatus, HostFacts};

/// Memoised check outcomes for one host on one day: several rules share a
/// check (os-eol and os-eol-soon both read the lifecycle).
pub struct Evaluation<'a> {
    facts: &'a HostFacts,
    on: Day,
    checks: &'a dyn Checks,
    cache: HashMap<CheckKind, CheckOutcome>,
    patch: Option<PatchOutcome>,
}

/// What a condition adds when it holds (or may hold).
#[derive(Default)]
struct Match {
    evidence: Evidence,
    states: Vec<&'static str>,
    needs_review: bool,
}

impl Match {
    /// Adds what another condition brings (`all`, or the unknowns of `any`).
    fn absorb(&mut self, other: Match) {
        self.evidence.extend(other.evidence);
        self.states.extend(other.states);
        self.needs_review |= other.needs_review;
    }
}

/// A condition's answer in three-valued logic: it holds, it does not, or
/// its inputs are missing and it cannot be decided (with what is missing).
enum Tri {
    Yes(Match),
    No,
    Unknown(Match),
}

impl<'a> Evaluation<'a> {
    pub fn new(facts: &'a HostFacts, on: Day, checks: &'a dyn Checks) -> Self {
        Evaluation {
            facts,
            on,
            checks,
            cache: HashMap::new(),
            patch: None,
        }
    }

    fn check(&mut self, kind: CheckKind) -> &CheckOutcome {
        let (facts, on, checks) = (self.facts, self.on, self.checks);
        self.cache.entry(kind).or_insert_with(|| match kind {
            CheckKind::OsLifecycle => checks.os_lifecycle(facts, on),
            CheckKind::Ms17010 => checks.ms17_010(facts),
            CheckKind::Smbv1 => checks.smbv1(facts),
            CheckKind::KevSoftware => checks.kev_software(facts),
        })
    }

    fn patch(&mut self) -> PatchOutcome {
        let (facts, checks) = (self.facts, self.checks);
        self.patch
            .get_or_insert_with(|| checks.patch_level(facts))
            .clone()
    }

    /// An input the condition needs is missing: `key` says which.
    fn missing(key: &str, what: &str) -> Tri {
        let mut m = Match::default();
        m.evidence.insert(key.to_string(), what.to_string());
        Tri::Unknown(m)
    }

    fn eval(&mut self, c: &Condition) -> Tri {
        match c {
            Condition::All(list) => {
                let mut m = Match::default();
                let mut unknown = false;
                for c in list {
                    match self.eval(c) {
                        Tri::No => return Tri::No,
                        Tri::Yes(sub) => m.absorb(sub),
                        Tri::Unknown(sub) => {
                            unknown = true;
                            m.absorb(sub);
                        }
                    }
                }
                if unknown {
                    Tri::Unknown(m)
                } else {
                    Tri::Yes(m)
                }
            }
            Condition::Any(list) => {
                let mut unknown: Option<Match> = None;
                for c in list {
                    match self.eval(c) {
                        Tri::Yes(m) => return Tri::Yes(m),
                        Tri::No => {}
                        Tri::Unknown(sub) => unknown.get_or_insert_with(Match::default).absorb(sub),
                    }
                }
                unknown.map_or(Tri::No, Tri::Unknown)
            }
            Condition::Not(inner) => match self.eval(inner) {
                Tri::Yes(_) => Tri::No,
                Tri::No => Tri::Yes(Match::default()),
                Tri::Unknown(m) => Tri::Unknown(m),
            },
            Condition::Check { check, states } => {
                let out = self.check(*check);
                // a state the rule names holds; the check's own "unknown"
                // (not named) cannot be decided; any other does not hold
                let holds = states.iter().any(|s| s == out.state);
                if !holds && out.state != "unknown" {
                    return Tri::No;
                }
                let mut evidence = out.evidence.clone();
                evidence.insert(format!("check.{}", check.as_str()), out.state.to_string());
                let m = Match {
                    evidence,
                    states: vec![out.state],
                    needs_review: holds && out.needs_review,
                };
                if holds { Tri::Yes(m) } else { Tri::Unknown(m) }
            }
            Condition::PatchAge { older_than_days } => {
                let threshold = i32::try_from(*older_than_days).unwrap_or(i32::MAX);
                match self.patch() {
                    PatchOutcome::Dated {
                        released,
                        mut evidence,
                    } => {
                        let age = self.on.days_since(released);
                        if age > threshold {
                            evidence.insert(
                                "patch_age_days".into(),
                                format!("{age} days on {} (threshold {older_than_days})", self.on),
                            );
                            Tri::Yes(Match {
                                evidence,
                                ..Default::default()
                            })
                        } else {
                            Tri::No
                        }
                    }
                    // released on `horizon + 1` at the earliest: while even
                    // that day is within the threshold the machine is not
                    // late; after, it may be and nobody can say
                    PatchOutcome::NewerThanKb {
                        horizon,
                        mut evidence,
                    } => {
                        let most = self.on.days_since(horizon.add_days(1));
                        if most > threshold {
                            evidence.insert(
                                "patch_age_days".into(),
                                format!(
                                    "unknown on {}: at most {most} days (threshold {older_than_days})",
                                    self.on
                                ),
                            );
                            Tri::Unknown(Match {
                                evidence,
                                ..Default::default()
                            })
                        } else {
                            Tri::No
                        }
                    }
                    PatchOutcome::Unknown(evidence) => Tri::Unknown(Match {
                        evidence,
                        ..Default::default()
                    }),
                    PatchOutcome::NotApplicable => Tri::No,
                }
            }
            Condition::Fact { fact, test } => {
                let value = fact_value(self.facts, *fact);
                if value.is_none() && !matches!(test, Test::Exists(_)) {
                    return Self::missing(fact.name(), "(not reported)");
                }
                if run_test(test, value.as_deref()) {
                    let mut m = Match::default();
                    m.evidence.insert(
                        fact.name().to_string(),
                        value.unwrap_or_else(|| "(not reported)".into()),
                    );
                    Tri::Yes(m)
                } else {
                    Tri::No
                }
            }
            Condition::Software { name, version } => {
                let Some(list) = self.facts.software.as_ref() else {
                    return Self::missing("software", "not reported by any source");
                };
                let hits: Vec<String> = list
                    .iter()
                    .filter(|s| name.0.is_match(&s.name))
                    .filter(|s| {
                        version
                            .as_ref()
                            .is_none_or(|t| run_test(t, s.version.as_deref()))
                    })
                    .map(|s| format!("{} {}", s.name, s.version.as_deref().unwrap_or("?")))
                    .collect();
                if hits.is_empty() {
                    return Tri::No;
                }
                let mut m = Match::default();
                m.evidence.insert("software".into(), hits.join("; "));
                Tri::Yes(m)
            }
            Condition::HotfixPresent(kbs) => {
                if self.facts.hotfixes.is_none() {
                    return Self::missing("hotfixes", "not reported by any source");
                }
                let found: Vec<&String> = kbs.iter().filter(|k| self.facts.has_hotfix(k)).collect();
                if found.is_empty() {
                    return Tri::No;
                }
                let mut m = Match::default();
                m.evidence.insert(
                    "hotfix_present".into(),
                    found
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                Tri::Yes(m)
            }
            Condition::HotfixMissing(kbs) => {
                // an unknown update list proves nothing either way
                if self.facts.hotfixes.is_none() {
                    return Self::missing("hotfixes", "not reported by any source");
                }
                if kbs.iter().any(|k| self.facts.has_hotfix(k)) {
                    return Tri::No;
                }
                let mut m = Match::default();
                m.evidence.insert("hotfix_missing".into(), kbs.join(", "));
                Tri::Yes(m)
            }
            Condition::FeatureEnabled(name) => {
                let Some(features) = self.facts.features.as_ref() else {
                    return Self::missing("features", "not reported by any source");
                };
                let Some(f) = features
                    .iter()
                    .find(|f| f.name.eq_ignore_ascii_case(name) && f.enabled)
                else {
                    return Tri::No;
                };
                let mut m = Match::default();
                m.evidence
                    .insert("feature".into(), format!("{} enabled", f.name));
                Tri::Yes(m)
            }
            Condition::StaleDays(days) => {
                let Some(newest) = self.facts.sources.iter().map(|s| s.last_observed).max() else {
                    return Tri::No;
                };
                let age = self.on.days_since(Day::of_timestamp(newest));
                if age > i32::try_from(*days).unwrap_or(i32::MAX) {
                    // no evaluation day in the evidence: it stays true for
                    // the whole interval, and a later evaluation of the same
                    // facts does not rewrite the stored finding
                    let mut m = Match::default();
                    m.evidence.insert(
                        "last_report".into(),
                        format!("{newest} (no report for more than {days} days)"),
                    );
                    Tri::Yes(m)
                } else {
                    Tri::No
                }
            }
        }
    }

    /// Adds to `days` every day on which a condition of `c` may change its
    /// answer for these facts (the facts themselves unchanged).
    fn change_days(&mut self, c: &Condition, days: &mut Vec<Day>) {
        match c {
            Condition::All(list) | Condition::Any(list) => {
                for c in list {
                    self.change_days(c, days);
                }
            }
            Condition::Not(inner) => self.change_days(inner, days),
            Condition::Check { check, .. } => {
                if *check == CheckKind::OsLifecycle {
                    days.extend(self.checks.os_lifecycle_changes(self.facts));
                }
            }
            Condition::PatchAge { older_than_days } => {
                let n = i32::try_from(*older_than_days).unwrap_or(i32::MAX - 2);
                match self.patch() {
                    // the first day whose age exceeds the threshold
                    PatchOutcome::Dated { released, .. } => {
                        days.push(released.add_days(n.saturating_add(1)));
                    }
                    // the first day on which even a release the day after
                    // the horizon would be late
                    PatchOutcome::NewerThanKb { horizon, .. } => {
                        days.push(horizon.add_days(n.saturating_add(2)));
                    }
                    PatchOutcome::Unknown(_) | PatchOutcome::NotApplicable => {}
                }
            }
            Condition::StaleDays(n) => {
                if let Some(newest) = self.facts.sources.iter().map(|s| s.last_observed).max() {
                    let n = i32::try_from(*n).unwrap_or(i32::MAX - 1);
                    days.push(Day::of_timestamp(newest).add_days(n.saturating_add(1)));
                }
            }
            Condition::Fact { .. }
            | Condition::Software { .. }
            | Condition::HotfixPresent(_)
            | Condition::HotfixMissing(_)
            | Condition::FeatureEnabled(_) => {}
        }
    }

    /// Evaluates one rule; `Some` when it holds, or when it cannot be
    /// decided and the rule reports what it cannot decide (status
    /// `unknown`).
    pub fn rule(&mut self, rule: &Rule) -> Option<Finding> {
        let (m, status) = match self.eval(&rule.when) {
            Tri::No => return None,
            Tri::Yes(m) => {
                let status = if m.needs_review {
                    FindingStatus::NeedsReview
                } else {
                    FindingStatus::Confirmed
                };
                (m, status)
            }
            Tri::Unknown(m) => match rule.unknown {
                UnknownPolicy::Report => (m, FindingStatus::Unknown),
                UnknownPolicy::Ignore => return None,
            },
        };
        let severity = m
            .states
            .iter()
            .find_map(|s| rule.severity_by_state.get(*s))
            .copied()
            .unwrap_or(rule.severity);
        let mut evidence = m.evidence;
        if let Some(os) = &self.facts.os {
            if let Some(n) = &os.name {
                evidence
                    .entry("os.name".into())
                    .or_insert_with(|| n.clone());
            }
            if let Some(v) = &os.version {
                let full = match os.ubr {
                    Some(u) => format!("{v}.{u}"),
                    None => v.clone(),
                };
                evidence.entry("os.version".into()).or_insert(full);
            }
        }
        Some(Finding {
            rule: rule.id.clone(),
            severity,
            status,
            evidence,
        })
    }
}

fn fact_value(f: &HostFacts, fact: Fact) -> Option<String> {
    let os = f.os.as_ref();
    match fact {
        Fact::OsFamily => os.map(|o| o.family.as_str().to_string()),
        Fact::OsName => os.and_then(|o| o.name.clone()),
        Fact::OsVersion => os.and_then(|o| o.version.clone()),
        Fact::OsBuild => os.and_then(|o| o.build).map(|b| b.to_string()),
        Fact::OsUbr => os.and_then(|o| o.ubr).map(|b| b.to_string()),
        Fact::OsEdition => os.and_then(|o| o.edition.clone()),
        Fact::OsServicePack => os.and_then(|o| o.service_pack.clone()),
        Fact::OsDisplayVersion => os.and_then(|o| o.display_version.clone()),
        Fact::Hostname => f.hostname.clone(),
    }
}

fn run_test(t: &Test, value: Option<&str>) -> bool {
    let Some(v) = value else {
        return matches!(t, Test::Exists(false));
    };
    match t {
        Test::Exists(want) => *want,
        Test::Equals(x) => v.eq_ignore_ascii_case(x),
        Test::Contains(x) => v.to_lowercase().contains(&x.to_lowercase()),
        Test::Matches(r) => r.is_match(v),
        Test::In(list) => list.iter().any(|x| x.eq_ignore_ascii_case(v)),
        Test::VersionLt(x) => compare(v, x) == Ordering::Less,
        Test::VersionLe(x) => compare(v, x) != Ordering::Greater,
        Test::VersionGt(x) => compare(v, x) == Ordering::Greater,
        Test::VersionGe(x) => compare(v, x) != Ordering::Less,
    }
}

impl RuleSet {
    /// The first day after `after` on which the findings of these facts may
    /// change with nothing but the date: support ending or ended, patches
    /// passing their age threshold, a machine going silent. `None` when no
    /// rule depends on the date for these facts. Every day on which
    /// [`RuleSet::evaluate`] changes its answer (facts unchanged) is one of
    /// the days this walks through, so evaluating on each of them finds
    /// every change on the day it happens.
    pub fn next_change(&self, facts: &HostFacts, after: Day, checks: &dyn Checks) -> Option<Day> {
        let mut ev = Evaluation::new(facts, after, checks);
        let mut days = Vec::new();
        for r in self.rules() {
            ev.change_days(&r.when, &mut days);
        }
        days.into_iter().filter(|d| *d > after).min()
    }

    /// Evaluates every rule against a host on a day.
    pub fn evaluate(&self, facts: &HostFacts, on: Day, checks: &dyn Checks) -> Vec<Finding> {
        let mut ev = Evaluation::new(facts, on, checks);
        self.rules().iter().filter_map(|r| ev.rule(r)).collect()
    }
}
