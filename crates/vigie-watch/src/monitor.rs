//! The watch's bookkeeping, independent of I/O: each probe result is
//! judged ([`crate::evaluate`]), fed to the target's state machine and to
//! the correlator, and turned into a sample and, when the state changes,
//! an event. The runner (the `vigie` binary) stores those and sends the
//! correlator's notices.

use crate::correlate::{
    Change, Config as CorrelateConfig, Correlator, IncidentRecord, Member, Notice, TargetInfo,
};
use crate::evaluate::{Evaluation, Memory, Prepared, Reason, Signal, evaluate_prepared};
use crate::probe::{ProbeOutcome, registrable_zone};
use crate::state::{Observed, Status, Thresholds, Transition};
use crate::target::TargetOptions;
use serde::Serialize;
use std::collections::HashMap;

/// A target as the monitor knows it.
#[derive(Debug, Clone)]
pub struct Watched {
    pub id: i64,
    pub name: String,
    pub url: url::Url,
    pub establishment: Option<String>,
    pub region: Option<String>,
    pub options: TargetOptions,
    pub memory: Memory,
    /// The last outcome, for metrics and `watch once`.
    pub last: Option<LastProbe>,
}

/// The latest probe of a target (what `/metrics` exposes); the body is
/// not kept.
#[derive(Debug, Clone, Serialize)]
pub struct LastProbe {
    pub at: i64,
    pub observed: Observed,
    pub reasons: Vec<Reason>,
    pub outcome: ProbeOutcome,
    /// Body bytes read.
    pub body_bytes: Option<usize>,
}

/// What one probe result produced.
#[derive(Debug, Clone, Serialize)]
pub struct Handled {
    pub target_id: i64,
    pub name: String,
    pub observed: Observed,
    pub evaluation: Evaluation,
    /// A declared state change, with the reasons of the probe that confirmed it.
    pub transition: Option<Transition>,
    /// One-off signals (DNS answer replaced, certificate issuer changed).
    pub signals: Vec<Signal>,
    /// The target's memory changed and should be stored.
    pub memory_changed: bool,
}

pub struct Monitor {
    /// Each target with its options prepared once.
    targets: HashMap<i64, (Watched, Prepared)>,
    thresholds: Thresholds,
    correlator: Correlator,
}

impl Monitor {
    pub fn new(thresholds: Thresholds, correlate: CorrelateConfig) -> Monitor {
        Monitor {
            targets: HashMap::new(),
            thresholds,
            correlator: Correlator::new(correlate),
        }
    }

    /// Adds or replaces a target (keeps the memory given).
    pub fn insert(&mut self, w: Watched) {
        let prep = Prepared::new(&w.options);
        self.targets.insert(w.id, (w, prep));
    }

    pub fn remove(&mut self, id: i64) -> Option<Watched> {
        self.targets.remove(&id).map(|(w, _)| w)
    }

    pub fn get(&self, id: i64) -> Option<&Watched> {
        self.targets.get(&id).map(|(w, _)| w)
    }

    pub fn targets(&self) -> impl Iterator<Item = &Watched> {
        self.targets.values().map(|(w, _)| w)
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    pub fn correlator_mut(&mut self) -> &mut Correlator {
        &mut self.correlator
    }

    /// Takes back the incidents and lone failures a previous run left open
    /// ([`Correlator::resume`]), with the targets inserted so far: insert
    /// the targets (with their stored memory) first.
    pub fn resume(
        &mut self,
        incidents: Vec<(IncidentRecord, Vec<Member>)>,
        lone: Vec<(Member, i64)>,
        now: i64,
    ) {
        let by_name: HashMap<&str, &Watched> = self
            .targets
            .values()
            .map(|(w, _)| (w.name.as_str(), w))
            .collect();
        let lookup = |name: &str| {
            by_name
                .get(name)
                .map(|w| (Self::info(w, None), w.memory.state.status))
        };
        self.correlator.resume(incidents, lone, lookup, now);
    }

    /// What to store so that open incidents survive a restart
    /// ([`Correlator::take_changes`]).
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.correlator.take_changes()
    }

    fn info(w: &Watched, outcome: Option<&ProbeOutcome>) -> TargetInfo {
        TargetInfo {
            id: w.name.clone(),
            establishment: w.establishment.clone(),
            region: w.region.clone(),
            zone: w.url.host_str().and_then(registrable_zone),
            address: outcome
                .and_then(|o| o.address)
                .map(|a| a.ip().to_string())
                .or_else(|| w.memory.known_addresses.iter().next().cloned()),
        }
    }

    /// Judges one probe result. Unknown ids (a target removed meanwhile)
    /// give `None`.
    pub fn handle(&mut self, id: i64, outcome: ProbeOutcome, now: i64) -> Option<Handled> {
        let thresholds = self.thresholds;
        let (w, prep) = self.targets.get_mut(&id)?;
        let before = w.memory.sig();
        let evaluation = evaluate_prepared(&w.options, prep, &outcome, &mut w.memory, now);
        let observed = evaluation.observed;
        let info = Self::info(w, Some(&outcome));
        let transition = if self.correlator.canary_down() {
            // our own network is down: this probe says nothing of the target
            None
        } else {
            w.memory.state.observe(observed, now, thresholds)
        };
        let name = w.name.clone();
        let memory_changed = w.memory.sig() != before;
        // every declared change carries its reason: a change to a good
        // state has none of its own, so it says the service answered
        let mut evaluation = evaluation;
        if transition.is_some() && evaluation.reasons.is_empty() {
            evaluation.reasons.push(Reason::Answered {
                status: outcome.http.as_ref().map(|h| h.status),
                ms: u64::try_from(outcome.phases.total.as_millis()).unwrap_or(u64::MAX),
            });
        }
        // the body has been judged: keeping 10,000 of them would only cost memory
        let mut outcome = outcome;
        let body_bytes = outcome.http.as_ref().map(|h| h.body.len());
        if let Some(h) = outcome.http.as_mut() {
            h.body = bytes::Bytes::new();
        }
        w.last = Some(LastProbe {
            at: now,
            observed,
            reasons: evaluation.reasons.clone(),
            outcome,
            body_bytes,
        });
        let seen = match observed {
            Observed::Down => Status::Down,
            Observed::Defaced => Status::Defaced,
            _ => Status::Up,
        };
        self.correlator.observe(&info, seen, now);
        if let Some(tr) = transition {
            self.correlator.record(&info, tr);
        }
        Some(Handled {
            target_id: id,
            name,
            observed,
            signals: evaluation.signals.clone(),
            evaluation,
            transition,
            memory_changed,
        })
    }

    /// vigie's own connectivity probe result.
    pub fn canary(&mut self, ok: bool, now: i64) -> Vec<Notice> {
        self.correlator.canary(ok, now)
    }

    /// Notices due now.
    pub fn tick(&mut self, now: i64) -> Vec<Notice> {
        self.correlator.tick(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ErrorKind, HttpInfo, Phase, Phases, ProbeError};
    use std::time::Duration;

    fn watched(id: i64, name: &str) -> Watched {
        Watched {
            id,
            name: name.into(),
            url: url::Url::parse("http://127.0.0.1:9/").unwrap_or_else(|_| unreachable!()),
            establishment: Some("CHU-X".into()),
            region: Some("IDF".into()),
            options: TargetOptions {
                deface: false,
                ..TargetOptions::default()
            },
            memory: Memory::new(0),
            last: None,
        }
    }

    fn refused(at: i64) -> ProbeOutcome {
        ProbeOutcome {
            started_at: at,
            phases: Phases {
                total: Duration::from_millis(3),
                ..Phases::default()
            },
            dns: None,
            address: None,
            tls: None,
            http: None,
            error: Some(ProbeError {
                phase: Phase::Connect,
                kind: ErrorKind::Refused,
                message: "connection refused".into(),
            }),
        }
    }

    fn answered(at: i64) -> ProbeOutcome {
        ProbeOutcome {
            error: None,
            http: Some(HttpInfo {
                status: 200,
                redirects: Vec::new(),
                final_url: "http://127.0.0.1:9/".into(),
                headers: Vec::new(),
                body: bytes::Bytes::from_static(b"<html><body>ok</body></html>"),
                body_truncated: false,
                content_length: None,
            }),
            ..refused(at)
        }
    }

    #[test]
    fn a_target_never_answered_is_pending_then_down_and_every_change_has_its_reason() {
        let mut m = Monitor::new(Thresholds::default(), CorrelateConfig::default());
        m.insert(watched(1, "portal"));
        assert_eq!(
            m.get(1).map(|w| w.memory.state.status),
            Some(Status::Pending),
            "not probed yet: neither up nor down"
        );
        // its first probe fails: down at once, with the reason
        let h = m.handle(1, refused(10), 10);
        let tr = h.as_ref().and_then(|h| h.transition);
        assert_eq!(
            tr.map(|t| (t.from, t.to)),
            Some((Status::Pending, Status::Down))
        );
        let h = h.unwrap_or_else(|| unreachable!());
        assert!(
            matches!(
                &h.evaluation.reasons[..],
                [Reason::Failed {
                    phase: Phase::Connect,
                    error: ErrorKind::Refused,
                    ..
                }]
            ),
            "{:?}",
            h.evaluation.reasons
        );
        assert_eq!(m.get(1).map(|w| w.memory.state.status), Some(Status::Down));
        // it comes back (two good probes): the recovery says why
        assert!(
            m.handle(1, answered(20), 20)
                .and_then(|h| h.transition)
                .is_none()
        );
        let h = m
            .handle(1, answered(30), 30)
            .unwrap_or_else(|| unreachable!());
        assert_eq!(h.transition.map(|t| t.to), Some(Status::Up));
        assert!(
            matches!(
                &h.evaluation.reasons[..],
                [Reason::Answered {
                    status: Some(200),
                    ..
                }]
            ),
            "{:?}",
            h.evaluation.reasons
        );
        // and fails again: up -> down with the failure as its reason
        assert!(
            m.handle(1, refused(40), 40)
                .and_then(|h| h.transition)
                .is_none()
        );
        let h = m
            .handle(1, refused(50), 50)
            .unwrap_or_else(|| unreachable!());
        assert_eq!(
            h.transition.map(|t| (t.from, t.to)),
            Some((Status::Up, Status::Down))
        );
        assert!(!h.evaluation.reasons.is_empty());
        // a probe that changes nothing adds no reason of its own
        let h = m
            .handle(1, answered(60), 60)
            .unwrap_or_else(|| unreachable!());
        assert!(h.transition.is_none() && h.evaluation.reasons.is_empty());
    }
}
