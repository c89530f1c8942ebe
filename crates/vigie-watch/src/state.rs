//! Per-target state with thresholds against flapping: a target is declared
//! down only after several failed probes in a row, and up again only after
//! several successes, so one lost packet or one slow answer raises nothing.

use serde::{Deserialize, Serialize};

/// What one probe cycle concluded about a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Observed {
    Up,
    /// Answered, but slowly, with a certificate close to expiry, or similar.
    Degraded,
    Down,
    /// Content changed beyond the baseline (a warning).
    Changed,
    Defaced,
}

/// The state a target is declared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Not probed yet: nothing is known, neither up nor down. The first
    /// probe result is declared at once.
    Pending,
    Up,
    Degraded,
    Changed,
    Down,
    Defaced,
}

impl Observed {
    pub fn as_str(self) -> &'static str {
        match self {
            Observed::Up => "up",
            Observed::Degraded => "degraded",
            Observed::Down => "down",
            Observed::Changed => "changed",
            Observed::Defaced => "defaced",
        }
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Up => "up",
            Status::Degraded => "degraded",
            Status::Changed => "changed",
            Status::Down => "down",
            Status::Defaced => "defaced",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "pending" => Status::Pending,
            "up" => Status::Up,
            "degraded" => Status::Degraded,
            "changed" => Status::Changed,
            "down" => Status::Down,
            "defaced" => Status::Defaced,
            _ => return None,
        })
    }

    fn of(o: Observed) -> Status {
        match o {
            Observed::Up => Status::Up,
            Observed::Degraded => Status::Degraded,
            Observed::Down => Status::Down,
            Observed::Changed => Status::Changed,
            Observed::Defaced => Status::Defaced,
        }
    }

    /// Down and defaced are failures; the rest answer.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Down | Status::Defaced)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    /// Consecutive observations of a worse state before it is declared.
    pub to_worse: u32,
    /// Consecutive observations of a better state before it is declared.
    pub to_better: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            to_worse: 2,
            to_better: 2,
        }
    }
}

/// A declared change of state, at the time (unix seconds) of the
/// observation that confirmed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: Status,
    pub to: Status,
    pub at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetState {
    pub status: Status,
    pub since: i64,
    candidate: Option<Status>,
    streak: u32,
}

impl TargetState {
    /// A target starts pending: nothing is known of it until its first
    /// probe result, which is declared at once (there is no earlier state
    /// to protect from flapping).
    pub fn new(at: i64) -> Self {
        TargetState {
            status: Status::Pending,
            since: at,
            candidate: None,
            streak: 0,
        }
    }

    /// Feeds one observation; returns the transition it confirms, if any.
    /// A defacement is declared at once: content seen once is evidence,
    /// unlike a timeout. So is the first result of a pending target.
    pub fn observe(&mut self, o: Observed, at: i64, t: Thresholds) -> Option<Transition> {
        let seen = Status::of(o);
        if self.status == Status::Pending {
            return Some(self.declare(seen, at));
        }
        if seen == self.status {
            self.candidate = None;
            self.streak = 0;
            return None;
        }
        if self.candidate == Some(seen) {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.candidate = Some(seen);
            self.streak = 1;
        }
        let needed = if seen == Status::Defaced {
            1
        } else if seen > self.status {
            t.to_worse.max(1)
        } else {
            t.to_better.max(1)
        };
        if self.streak < needed {
            return None;
        }
        Some(self.declare(seen, at))
    }

    fn declare(&mut self, seen: Status, at: i64) -> Transition {
        let tr = Transition {
            from: self.status,
            to: seen,
            at,
        };
        self.status = seen;
        self.since = at;
        self.candidate = None;
        self.streak = 0;
        tr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A target already declared up (its first probe answered).
    fn up() -> TargetState {
        let mut s = TargetState::new(0);
        s.observe(Observed::Up, 0, Thresholds::default());
        s
    }

    fn run(seq: &[Observed], t: Thresholds) -> Vec<(Status, Status, i64)> {
        let mut s = up();
        seq.iter()
            .enumerate()
            .filter_map(|(i, o)| s.observe(*o, i as i64, t))
            .map(|tr| (tr.from, tr.to, tr.at))
            .collect()
    }

    use Observed::*;

    #[test]
    fn a_target_is_pending_until_its_first_result_which_is_declared_at_once() {
        let t = Thresholds::default();
        let mut s = TargetState::new(5);
        assert_eq!(s.status, Status::Pending);
        assert!(!s.status.is_failure());
        // never answered: down at once, not "up since" its creation
        assert_eq!(
            s.observe(Down, 10, t),
            Some(Transition {
                from: Status::Pending,
                to: Status::Down,
                at: 10
            })
        );
        assert_eq!((s.status, s.since), (Status::Down, 10));
        // from then on the thresholds apply
        assert_eq!(s.observe(Up, 20, t), None);
        assert!(s.observe(Up, 30, t).is_some_and(|tr| tr.to == Status::Up));
        let mut s = TargetState::new(5);
        assert!(
            s.observe(Up, 7, t)
                .is_some_and(|tr| tr.from == Status::Pending && tr.to == Status::Up)
        );
        assert_eq!(s.observe(Down, 8, t), None, "one failure is not an outage");
        assert_eq!(Status::parse("pending"), Some(Status::Pending));
        assert_eq!(Status::Pending.as_str(), "pending");
    }

    #[test]
    fn one_failure_is_not_an_outage() {
        assert!(run(&[Up, Down, Up, Down, Up], Thresholds::default()).is_empty());
    }

    #[test]
    fn down_after_two_up_after_two() {
        let got = run(&[Up, Down, Down, Down, Up, Up, Up], Thresholds::default());
        assert_eq!(
            got,
            vec![(Status::Up, Status::Down, 2), (Status::Down, Status::Up, 5)]
        );
    }

    #[test]
    fn defacement_is_declared_at_once_and_clears_with_the_threshold() {
        let got = run(&[Up, Defaced, Up, Up], Thresholds::default());
        assert_eq!(
            got,
            vec![
                (Status::Up, Status::Defaced, 1),
                (Status::Defaced, Status::Up, 3)
            ]
        );
    }

    #[test]
    fn alternating_states_do_not_flap() {
        let got = run(
            &[Down, Degraded, Down, Degraded, Down, Degraded],
            Thresholds::default(),
        );
        assert!(got.is_empty(), "{got:?}");
    }

    proptest::proptest! {
        #[test]
        fn transitions_chain_and_need_a_streak(seq in proptest::collection::vec(0u8..5, 0..200), worse in 1u32..4, better in 1u32..4) {
            let obs: Vec<Observed> = seq.iter().map(|v| [Up, Degraded, Down, Changed, Defaced][*v as usize]).collect();
            let t = Thresholds { to_worse: worse, to_better: better };
            let got = run(&obs, t);
            let mut current = Status::Up;
            for (from, to, at) in &got {
                proptest::prop_assert_eq!(*from, current);
                proptest::prop_assert_ne!(from, to);
                let needed = if *to == Status::Defaced { 1 } else if to > from { worse } else { better } as usize;
                let at = *at as usize;
                proptest::prop_assert!(at + 1 >= needed);
                // the last `needed` observations all showed the new state
                for o in &obs[at + 1 - needed..=at] {
                    proptest::prop_assert_eq!(Status::of(*o), *to);
                }
                current = *to;
            }
        }
    }
}
