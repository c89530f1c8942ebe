//! Route matching, rate limits and the memory of delivered keys.

use std::collections::{HashMap, VecDeque};

use crate::alert::Alert;
use crate::config::{RateLimit, RouteConfig};

/// Does a (non-resolution) alert match the route's filters?
pub(crate) fn filters_match(route: &RouteConfig, alert: &Alert) -> bool {
    if alert.severity < route.min_severity {
        return false;
    }
    let any_in = |filter: &Vec<String>, codes: &[String]| {
        codes
            .iter()
            .any(|c| filter.iter().any(|f| f.eq_ignore_ascii_case(c.trim())))
    };
    match (&route.establishments, &route.regions) {
        (None, None) => true,
        (Some(e), None) => any_in(e, &alert.establishments),
        (None, Some(r)) => any_in(r, &alert.regions),
        (Some(e), Some(r)) => any_in(e, &alert.establishments) || any_in(r, &alert.regions),
    }
}

/// A bounded set of keys, forgetting the oldest insertions first.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    seq: u64,
    map: HashMap<String, u64>,
    order: VecDeque<(String, u64)>,
}

impl KeySet {
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn insert(&mut self, key: &str, cap: usize) {
        self.seq += 1;
        self.map.insert(key.to_string(), self.seq);
        self.order.push_back((key.to_string(), self.seq));
        while self.map.len() > cap.max(1) {
            let Some((k, s)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&k) == Some(&s) {
                self.map.remove(&k);
            }
        }
        // Drop stale queue entries (re-inserted or removed keys) now and then.
        if self.order.len() > 2 * cap.max(1) + 16 {
            let map = &self.map;
            self.order.retain(|(k, s)| map.get(k) == Some(s));
        }
    }

    pub(crate) fn remove(&mut self, key: &str) {
        self.map.remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// What the rate limit of one route has seen.
#[derive(Debug, Default)]
pub(crate) struct Window {
    sent: VecDeque<i64>,
    pub(crate) suppressed: u64,
    pub(crate) suppressed_since: Option<i64>,
}

impl Window {
    /// Takes a slot at `now` if the window has one.
    pub(crate) fn try_take(&mut self, limit: &RateLimit, now: i64) -> bool {
        let horizon = now.saturating_sub(i64::try_from(limit.per_seconds).unwrap_or(i64::MAX));
        while self.sent.front().is_some_and(|t| *t <= horizon) {
            self.sent.pop_front();
        }
        if self.sent.len() < usize::try_from(limit.max).unwrap_or(usize::MAX) {
            self.sent.push_back(now);
            true
        } else {
            false
        }
    }

    pub(crate) fn note_suppressed(&mut self, now: i64) {
        self.suppressed += 1;
        if self.suppressed_since.is_none() {
            self.suppressed_since = Some(now);
        }
    }

    /// Takes the pending suppression count (to be reported in a message).
    pub(crate) fn take_suppressed(&mut self) -> Option<(u64, i64)> {
        let since = self.suppressed_since.take()?;
        let n = std::mem::take(&mut self.suppressed);
        (n > 0).then_some((n, since))
    }

    /// Puts back a count that could not be reported (the send failed).
    pub(crate) fn restore_suppressed(&mut self, count: u64, since: i64) {
        self.suppressed += count;
        self.suppressed_since = Some(self.suppressed_since.map_or(since, |s| s.min(since)));
    }
}

/// Mutable state of one route.
#[derive(Debug, Default)]
pub(crate) struct RouteState {
    pub(crate) window: Window,
    pub(crate) delivered: KeySet,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyset_is_bounded() {
        let mut k = KeySet::default();
        for i in 0..100 {
            k.insert(&format!("k{i}"), 10);
        }
        assert_eq!(k.len(), 10);
        assert!(k.contains("k99"));
        assert!(!k.contains("k89"));
        assert!(k.contains("k90"));
        // Re-inserting refreshes a key.
        k.insert("k90", 10);
        k.insert("new", 10);
        assert!(k.contains("k90"));
        assert!(!k.contains("k91"));
        k.remove("k90");
        assert!(!k.contains("k90"));
        assert!(k.order.len() <= 2 * 10 + 16);
    }

    #[test]
    fn sliding_window() {
        let l = RateLimit {
            max: 2,
            per_seconds: 60,
        };
        let mut w = Window::default();
        assert!(w.try_take(&l, 1000));
        assert!(w.try_take(&l, 1010));
        assert!(!w.try_take(&l, 1059));
        assert!(w.try_take(&l, 1060));
        assert!(!w.try_take(&l, 1069));
        assert!(w.try_take(&l, 1070));
    }
}
