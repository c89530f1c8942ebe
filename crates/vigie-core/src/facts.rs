//! The state of one host as each source last reported it, and the merged view
//! that rules evaluate.

use crate::observation::{
    Feature, Hotfix, NetworkFacts, Observation, OsFacts, Software, SourceKind,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What one source last said about a host, with differential results applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceState {
    pub kind: SourceKind,
    pub observed_at: Timestamp,
    pub os: Option<OsFacts>,
    pub hotfixes: Option<Vec<Hotfix>>,
    pub software: Option<Vec<Software>>,
    pub features: Option<Vec<Feature>>,
    pub network: Option<NetworkFacts>,
}

impl SourceState {
    pub fn empty(kind: SourceKind, observed_at: Timestamp) -> Self {
        SourceState {
            kind,
            observed_at,
            os: None,
            hotfixes: None,
            software: None,
            features: None,
            network: None,
        }
    }

    /// Applies an observation of the same source. Facts the observation does not
    /// mention keep their previous value.
    pub fn apply(&mut self, obs: &Observation, observed_at: Timestamp) {
        self.apply_owned(obs.clone(), observed_at);
    }

    /// Like [`SourceState::apply`], consuming the observation (the ingest
    /// path: no copies of its lists).
    pub fn apply_owned(&mut self, obs: Observation, observed_at: Timestamp) {
        debug_assert_eq!(self.kind, obs.source);
        if observed_at > self.observed_at {
            self.observed_at = observed_at;
        }
        if let Some(os) = obs.os {
            self.os = Some(os);
        }
        self.hotfixes = obs.hotfixes.apply_owned(self.hotfixes.take());
        self.software = obs.software.apply_owned(self.software.take());
        self.features = obs.features.apply_owned(self.features.take());
        if let Some(n) = obs.network {
            self.network = Some(n);
        }
        if let Some(l) = &mut self.hotfixes {
            l.sort();
            l.dedup_by(|a, b| a.id == b.id);
        }
        if let Some(l) = &mut self.software {
            l.sort();
            l.dedup();
        }
        if let Some(l) = &mut self.features {
            l.sort();
            l.dedup_by(|a, b| a.name.eq_ignore_ascii_case(&b.name));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSummary {
    pub kind: SourceKind,
    pub last_observed: Timestamp,
}

/// The merged view of a host across its sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HostFacts {
    pub hostname: Option<String>,
    pub os: Option<OsFacts>,
    /// Which source the OS facts come from.
    pub os_source: Option<SourceKind>,
    /// Installed updates; `None` when no source reported updates at all.
    pub hotfixes: Option<Vec<Hotfix>>,
    pub software: Option<Vec<Software>>,
    pub features: Option<Vec<Feature>>,
    pub network: Option<NetworkFacts>,
    pub sources: Vec<SourceSummary>,
}

/// The order sources are merged in: newest first, agents before scanners
/// at equal time.
fn merge_order(a: &SourceState, b: &SourceState) -> std::cmp::Ordering {
    b.observed_at
        .cmp(&a.observed_at)
        .then(b.kind.is_agent().cmp(&a.kind.is_agent()))
}

impl HostFacts {
    /// Merges source states. Agent sources win over network scans for the OS;
    /// among agents the newest report wins. Lists come from the newest agent
    /// that reported them.
    pub fn merge(hostname: Option<String>, states: &[SourceState]) -> HostFacts {
        HostFacts::merge_owned(hostname, states.to_vec())
    }

    /// [`HostFacts::merge`] of states the caller no longer needs: the
    /// lists are moved, not copied again (hundreds of programs and updates
    /// per machine, for every machine an assessment evaluates).
    pub fn merge_owned(hostname: Option<String>, mut states: Vec<SourceState>) -> HostFacts {
        let mut sources: Vec<SourceSummary> = states
            .iter()
            .map(|s| SourceSummary {
                kind: s.kind,
                last_observed: s.observed_at,
            })
            .collect();
        sources.sort_by_key(|s| s.kind);
        states.sort_by(merge_order);
        let mut facts = HostFacts {
            hostname,
            sources,
            ..Default::default()
        };
        for s in states.iter_mut().filter(|s| s.kind.is_agent()) {
            if facts.os.is_none() && s.os.is_some() {
                facts.os = s.os.take();
                facts.os_source = Some(s.kind);
            }
            if facts.hotfixes.is_none() {
                facts.hotfixes = s.hotfixes.take();
            }
            if facts.software.is_none() {
                facts.software = s.software.take();
            }
            if facts.features.is_none() {
                facts.features = s.features.take();
            }
        }
        for s in &mut states {
            if facts.network.is_none() {
                facts.network = s.network.take();
            }
            if facts.os.is_none() && s.os.is_some() {
                facts.os = s.os.take();
                facts.os_source = Some(s.kind);
            }
        }
        facts
    }

    pub fn has_hotfix(&self, kb: &str) -> bool {
        self.hotfixes
            .as_ref()
            .is_some_and(|l| l.iter().any(|h| h.id.eq_ignore_ascii_case(kb)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::{OsFamily, Section};

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn agent_os_beats_scanner_and_lists_come_from_newest_agent() {
        let mut osq = SourceState::empty(SourceKind::Osquery, ts(100));
        osq.os = Some(OsFacts {
            family: OsFamily::Windows,
            build: Some(7601),
            ..Default::default()
        });
        osq.hotfixes = Some(vec![Hotfix {
            id: "KB4012212".into(),
            installed_on: None,
        }]);
        let mut glpi = SourceState::empty(SourceKind::GlpiJson, ts(50));
        glpi.hotfixes = Some(vec![]);
        let mut nmap = SourceState::empty(SourceKind::Nmap, ts(200));
        nmap.os = Some(OsFacts {
            family: OsFamily::Windows,
            name: Some("Windows 7".into()),
            ..Default::default()
        });
        nmap.network = Some(NetworkFacts {
            smbv1_offered: Some(true),
            ..Default::default()
        });
        let states = [glpi, nmap, osq];
        let f = HostFacts::merge(Some("pc".into()), &states);
        // moving the lists gives the same facts, in any order of states
        assert_eq!(
            HostFacts::merge_owned(Some("pc".into()), states.to_vec()),
            f
        );
        let mut reversed = states.to_vec();
        reversed.reverse();
        assert_eq!(HostFacts::merge_owned(Some("pc".into()), reversed), f);
        // a scanner's OS when no agent gives one
        let scanner_only = vec![states[1].clone()];
        assert_eq!(
            HostFacts::merge_owned(None, scanner_only.clone()),
            HostFacts::merge(None, &scanner_only)
        );
        assert_eq!(f.os_source, Some(SourceKind::Osquery));
        assert!(f.has_hotfix("kb4012212"));
        assert_eq!(f.network.unwrap().smbv1_offered, Some(true));
        assert_eq!(f.sources.len(), 3);
    }

    #[test]
    fn source_state_applies_deltas() {
        let mut st = SourceState::empty(SourceKind::Osquery, ts(1));
        let mut obs = Observation::new(SourceKind::Osquery);
        obs.hotfixes = Section::Full(vec![Hotfix {
            id: "KB1000001".into(),
            installed_on: None,
        }]);
        st.apply(&obs, ts(2));
        obs.hotfixes = Section::Delta {
            added: vec![Hotfix {
                id: "KB1000002".into(),
                installed_on: None,
            }],
            removed: vec![Hotfix {
                id: "KB1000001".into(),
                installed_on: None,
            }],
        };
        st.apply(&obs, ts(3));
        let ids: Vec<_> = st.hotfixes.unwrap().into_iter().map(|h| h.id).collect();
        assert_eq!(ids, vec!["KB1000002"]);
        assert_eq!(st.observed_at, ts(3));
    }
}
