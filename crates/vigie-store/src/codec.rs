//! Compact encoding of a source's last state, stored as one blob per host and
//! source. Software is kept as dictionary ids (sorted, delta-encoded), hotfix
//! ids as numbers, so a host with 100 programs and 100 updates costs well
//! under a kilobyte.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use vigie_core::{Feature, Hotfix, NetworkFacts, OsFacts, SourceKind};

/// A source state as stored: like `vigie_core::facts::SourceState`, with
/// software replaced by dictionary ids.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSourceState {
    pub kind: SourceKind,
    pub observed_at: Timestamp,
    pub os: Option<OsFacts>,
    pub hotfixes: Option<Vec<Hotfix>>,
    /// Sorted, unique dictionary ids.
    pub software_ids: Option<Vec<u32>>,
    pub features: Option<Vec<Feature>>,
    pub network: Option<NetworkFacts>,
}

impl StoredSourceState {
    /// Same source and same facts, whatever the time of observation.
    pub fn same_facts(&self, other: &StoredSourceState) -> bool {
        self.kind == other.kind
            && self.os == other.os
            && self.hotfixes == other.hotfixes
            && self.software_ids == other.software_ids
            && self.features == other.features
            && self.network == other.network
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u8,
    os: Option<OsFacts>,
    /// (numeric KB id or 0, day number or i32::MIN, non-numeric id)
    hotfixes: Option<Vec<(u32, i32, Option<String>)>>,
    software_deltas: Option<Vec<u32>>,
    features: Option<Vec<(String, bool)>>,
    network: Option<NetworkFacts>,
}

const NO_DAY: i32 = i32::MIN;

pub fn encode_state(state: &StoredSourceState) -> Result<Vec<u8>, String> {
    let hotfixes = state.hotfixes.as_ref().map(|list| {
        list.iter()
            .map(|h| {
                // Only ids that print back identically are stored as numbers.
                let num = h.id.strip_prefix("KB").and_then(|n| {
                    n.parse::<u32>()
                        .ok()
                        .filter(|v| v.to_string() == n && *v != 0)
                });
                let day = h
                    .installed_on
                    .map(|d| vigie_core::Day::from_date(d).number())
                    .unwrap_or(NO_DAY);
                match num {
                    Some(n) => (n, day, None),
                    None => (0, day, Some(h.id.clone())),
                }
            })
            .collect()
    });
    let software_deltas = state.software_ids.as_ref().map(|ids| {
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        let mut prev = 0u32;
        sorted
            .into_iter()
            .map(|id| {
                let d = id - prev;
                prev = id;
                d
            })
            .collect()
    });
    let wire = Wire {
        v: 1,
        os: state.os.clone(),
        hotfixes,
        software_deltas,
        features: state
            .features
            .as_ref()
            .map(|l| l.iter().map(|f| (f.name.clone(), f.enabled)).collect()),
        network: state.network.clone(),
    };
    postcard::to_allocvec(&wire).map_err(|e| format!("encoding a source state: {e}"))
}

pub fn decode_state(
    kind: SourceKind,
    observed_at: Timestamp,
    bytes: &[u8],
) -> Result<StoredSourceState, String> {
    let wire: Wire = postcard::from_bytes(bytes).map_err(|e| format!("state blob: {e}"))?;
    if wire.v != 1 {
        return Err(format!("state blob version {} is not supported", wire.v));
    }
    let hotfixes = wire.hotfixes.map(|list| {
        list.into_iter()
            .map(|(n, day, text)| Hotfix {
                id: text.unwrap_or_else(|| format!("KB{n}")),
                installed_on: (day != NO_DAY).then(|| vigie_core::Day::from_number(day).date()),
            })
            .collect()
    });
    let software_ids = wire.software_deltas.map(|deltas| {
        let mut acc = 0u32;
        deltas
            .into_iter()
            .map(|d| {
                acc = acc.saturating_add(d);
                acc
            })
            .collect()
    });
    Ok(StoredSourceState {
        kind,
        observed_at,
        os: wire.os,
        hotfixes,
        software_ids,
        features: wire.features.map(|l| {
            l.into_iter()
                .map(|(name, enabled)| Feature { name, enabled })
                .collect()
        }),
        network: wire.network,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_core::OsFamily;

    #[test]
    fn round_trip_is_small() {
        let state = StoredSourceState {
            kind: SourceKind::Osquery,
            observed_at: Timestamp::from_second(1_494_547_200).unwrap(),
            os: Some(OsFacts {
                family: OsFamily::Windows,
                name: Some("Microsoft Windows 7 Professional".into()),
                version: Some("6.1.7601".into()),
                build: Some(7601),
                ..Default::default()
            }),
            hotfixes: Some(
                (0..100)
                    .map(|i| Hotfix {
                        id: format!("KB40{:05}", i * 37),
                        installed_on: Some("2017-03-14".parse().unwrap()),
                    })
                    .chain([Hotfix {
                        id: "Q123".into(),
                        installed_on: None,
                    }])
                    .collect(),
            ),
            software_ids: Some((0..100).map(|i| 5000 + i * 13).collect()),
            features: Some(vec![Feature {
                name: "SMB1Protocol".into(),
                enabled: true,
            }]),
            network: None,
        };
        let bytes = encode_state(&state).unwrap();
        assert!(bytes.len() < 1024, "state takes {} bytes", bytes.len());
        let back = decode_state(state.kind, state.observed_at, &bytes).unwrap();
        assert_eq!(back, state);
        assert!(decode_state(state.kind, state.observed_at, &bytes[..10]).is_err());
        assert!(decode_state(state.kind, state.observed_at, b"\xff\xff").is_err());
    }
}
