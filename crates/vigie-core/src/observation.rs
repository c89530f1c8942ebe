//! The normalised output of every inventory parser: facts about one host, as
//! seen by one source, at one time.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::hash::Hash;
use std::net::IpAddr;

/// Which kind of evidence produced an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Osquery,
    GlpiJson,
    FusionXml,
    OcsXml,
    Nmap,
    Csv,
}

impl SourceKind {
    pub const ALL: [SourceKind; 6] = [
        SourceKind::Osquery,
        SourceKind::GlpiJson,
        SourceKind::FusionXml,
        SourceKind::OcsXml,
        SourceKind::Nmap,
        SourceKind::Csv,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Osquery => "osquery",
            SourceKind::GlpiJson => "glpi-json",
            SourceKind::FusionXml => "fusion-xml",
            SourceKind::OcsXml => "ocs-xml",
            SourceKind::Nmap => "nmap",
            SourceKind::Csv => "csv",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Agents that run on the host see its OS, patches and software; a network
    /// scanner only sees what the host offers on the wire.
    pub fn is_agent(self) -> bool {
        !matches!(self, SourceKind::Nmap)
    }
}

impl std::fmt::Display for SourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A list of facts as an observation reports it.
///
/// `Unknown` means the observation says nothing about this list (the previous
/// state stands); `Full` replaces it; `Delta` applies osquery-style
/// differential results to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Section<T> {
    #[default]
    Unknown,
    Full(Vec<T>),
    Delta {
        added: Vec<T>,
        removed: Vec<T>,
    },
}

/// Applies a delta onto `list`: every item equal to a removed one goes, then
/// each added item not already in the list is appended, in order. Linear:
/// membership is tested in hash sets (a differential log of 100,000 rows
/// for one host is one delta).
fn apply_delta<T: Eq + Hash>(list: &mut Vec<T>, added: Vec<T>, removed: &[T]) {
    if !removed.is_empty() {
        let removed: HashSet<&T> = removed.iter().collect();
        list.retain(|x| !removed.contains(x));
    }
    let keep: Vec<bool> = {
        let mut present: HashSet<&T> = list.iter().collect();
        added.iter().map(|a| present.insert(a)).collect()
    };
    list.extend(
        added
            .into_iter()
            .zip(keep)
            .filter_map(|(a, keep)| keep.then_some(a)),
    );
}

impl<T: Eq + Hash + Clone> Section<T> {
    pub fn is_unknown(&self) -> bool {
        matches!(self, Section::Unknown)
    }

    /// Applies this section onto a previous list. `None` means the list was
    /// never reported.
    pub fn apply(&self, previous: Option<Vec<T>>) -> Option<Vec<T>> {
        match self {
            Section::Unknown => previous,
            Section::Full(items) => Some(items.clone()),
            Section::Delta { added, removed } => {
                let mut list = previous.unwrap_or_default();
                apply_delta(&mut list, added.clone(), removed);
                Some(list)
            }
        }
    }

    /// Like [`Section::apply`], consuming the section (no copies of a full list).
    pub fn apply_owned(self, previous: Option<Vec<T>>) -> Option<Vec<T>> {
        match self {
            Section::Unknown => previous,
            Section::Full(items) => Some(items),
            Section::Delta { added, removed } => {
                let mut list = previous.unwrap_or_default();
                apply_delta(&mut list, added, &removed);
                Some(list)
            }
        }
    }

    pub fn is_full(&self) -> bool {
        matches!(self, Section::Full(_))
    }

    /// Merges another section of the same observation (several result lines
    /// about the same table) into this one.
    pub fn merge(&mut self, other: Section<T>) {
        match (std::mem::take(self), other) {
            (s, Section::Unknown) => *self = s,
            (Section::Unknown, o) => *self = o,
            (Section::Full(mut a), Section::Full(b)) => {
                a.extend(b);
                *self = Section::Full(a);
            }
            (Section::Full(a), d @ Section::Delta { .. }) => {
                *self = Section::Full(d.apply(Some(a)).unwrap_or_default());
            }
            (Section::Delta { .. }, f @ Section::Full(_)) => *self = f,
            (
                Section::Delta {
                    mut added,
                    mut removed,
                },
                Section::Delta {
                    added: a2,
                    removed: r2,
                },
            ) => {
                if !r2.is_empty() {
                    let gone: HashSet<&T> = r2.iter().collect();
                    added.retain(|x| !gone.contains(x));
                }
                removed.extend(r2);
                added.extend(a2);
                *self = Section::Delta { added, removed };
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    Windows,
    Linux,
    Macos,
    Bsd,
    #[default]
    Other,
}

impl OsFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::Windows => "windows",
            OsFamily::Linux => "linux",
            OsFamily::Macos => "macos",
            OsFamily::Bsd => "bsd",
            OsFamily::Other => "other",
        }
    }

    /// Guesses the family from an OS name as agents print it.
    pub fn guess(name: &str) -> OsFamily {
        let n = name.to_ascii_lowercase();
        if n.contains("windows") || n.starts_with("microsoft") || n.contains("win32") {
            OsFamily::Windows
        } else if n.contains("mac os")
            || n.contains("macos")
            || n.contains("os x")
            || n.contains("darwin")
        {
            OsFamily::Macos
        } else if n.contains("bsd") {
            OsFamily::Bsd
        } else if [
            "linux", "ubuntu", "debian", "red hat", "rhel", "centos", "fedora", "suse", "sles",
            "alma", "rocky", "oracle", "mint", "arch", "gentoo", "alpine",
        ]
        .iter()
        .any(|k| n.contains(k))
        {
            OsFamily::Linux
        } else {
            OsFamily::Other
        }
    }
}

/// What an inventory says about the operating system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct OsFacts {
    pub family: OsFamily,
    /// Name as reported ("Microsoft Windows 7 Professionnel", "Ubuntu").
    pub name: Option<String>,
    /// Version as reported: NT version for Windows ("6.1.7601", "10.0.19045"),
    /// release for others ("22.04", "12", "14.4.1").
    pub version: Option<String>,
    /// Windows build number (7601, 19045) where known.
    pub build: Option<u32>,
    /// Windows update build revision (the fourth part of 10.0.19045.3803).
    pub ubr: Option<u32>,
    /// Service pack ("Service Pack 1", "SP3") where the inventory gives it.
    pub service_pack: Option<String>,
    /// Windows display version ("22H2", "1607") where the inventory gives it.
    pub display_version: Option<String>,
    /// Edition hints ("Enterprise LTSC", "IoT", "Embedded", "Server").
    pub edition: Option<String>,
    /// WMI OperatingSystemSKU where known.
    pub sku: Option<u32>,
    pub arch: Option<String>,
    pub kernel: Option<String>,
}

impl OsFacts {
    /// The family, guessed from the name when the inventory gave none.
    pub fn family_or_guess(&self) -> OsFamily {
        match self.family {
            OsFamily::Other => self
                .name
                .as_deref()
                .map_or(OsFamily::Other, OsFamily::guess),
            f => f,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hotfix {
    /// Normalised "KB1234567".
    pub id: String,
    pub installed_on: Option<Date>,
}

impl Hotfix {
    /// Extracts a normalised KB id ("KB4012212") from text such as
    /// "Security Update for Windows (KB4012212)" or "kb4012212".
    pub fn kb_in(text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i + 2 < bytes.len() {
            if bytes[i].eq_ignore_ascii_case(&b'k') && bytes[i + 1].eq_ignore_ascii_case(&b'b') {
                let start = i + 2;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                // KB numbers have 6 or 7 digits; fewer are not KB ids.
                if (6..=8).contains(&(end - start)) {
                    // (no formatting machinery: called for every installed
                    // update at every evaluation)
                    let mut kb = String::with_capacity(2 + end - start);
                    kb.push_str("KB");
                    kb.push_str(&text[start..end]);
                    return Some(kb);
                }
                i = end.max(i + 1);
            } else {
                i += 1;
            }
        }
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Software {
    pub name: String,
    pub version: Option<String>,
    pub publisher: Option<String>,
}

/// A Windows optional feature (e.g. `SMB1Protocol`) and whether it is enabled.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Feature {
    pub name: String,
    pub enabled: bool,
}

/// What a network scan saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NetworkFacts {
    /// SMB dialects offered ("NT LM 0.12", "2.0.2", "3.1.1").
    pub smb_dialects: Vec<String>,
    /// SMBv1 offered: `Some(true)` when NT LM 0.12 was accepted.
    pub smbv1_offered: Option<bool>,
    /// Result of nmap's smb-vuln-ms17-010: `Some(true)` vulnerable, `Some(false)` not.
    pub ms17_010_vulnerable: Option<bool>,
    /// OS as guessed by smb-os-discovery or OS detection.
    pub os_guess: Option<String>,
    pub open_tcp_ports: Vec<u16>,
}

impl NetworkFacts {
    pub fn is_empty(&self) -> bool {
        self == &NetworkFacts::default()
    }
}

/// Identifying facts. The store merges hosts on serial or UUID first, then on
/// hostname within an establishment, then on address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostIdentity {
    pub hostname: Option<String>,
    pub fqdn: Option<String>,
    pub serial: Option<String>,
    pub uuid: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub macs: Vec<String>,
}

impl HostIdentity {
    /// Serial numbers that vendors ship unset, and must not merge hosts.
    fn usable_serial(s: &str) -> bool {
        let t = s.trim().to_ascii_lowercase();
        !(t.is_empty()
            || t.len() < 4
            || t.chars().all(|c| c == '0')
            || [
                "to be filled by o.e.m.",
                "default string",
                "system serial number",
                "none",
                "not specified",
                "n/a",
                "0123456789",
                "chassis serial number",
            ]
            .contains(&t.as_str()))
    }

    fn usable_uuid(u: &str) -> bool {
        let t: String = u.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        t.len() >= 16
            && !t.chars().all(|c| c == '0')
            && !t.chars().all(|c| c.eq_ignore_ascii_case(&'f'))
    }

    /// The hardware key used to merge sources: "uuid:…" or "serial:…".
    pub fn hardware_key(&self) -> Option<String> {
        if let Some(u) = self.uuid.as_deref().filter(|u| Self::usable_uuid(u)) {
            return Some(format!("uuid:{}", u.trim().to_ascii_lowercase()));
        }
        if let Some(s) = self.serial.as_deref().filter(|s| Self::usable_serial(s)) {
            return Some(format!("serial:{}", s.trim().to_ascii_lowercase()));
        }
        None
    }

    /// Short hostname, lowercase, without domain. A bare address is not a hostname.
    pub fn short_hostname(&self) -> Option<String> {
        let full = self.hostname.as_deref().or(self.fqdn.as_deref())?.trim();
        if full.parse::<IpAddr>().is_ok() {
            return None;
        }
        let short = full.split('.').next().unwrap_or("").to_ascii_lowercase();
        (!short.is_empty()).then_some(short)
    }
}

/// Facts about one host from one source at one time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub source: SourceKind,
    /// When the facts were observed, if the inventory says so.
    pub observed_at: Option<Timestamp>,
    pub host: HostIdentity,
    /// Establishment named by the inventory itself (GLPI tag, osquery decoration).
    pub establishment_hint: Option<String>,
    pub os: Option<OsFacts>,
    pub hotfixes: Section<Hotfix>,
    pub software: Section<Software>,
    pub features: Section<Feature>,
    pub network: Option<NetworkFacts>,
    /// What the parser had to change in the source's text to keep it.
    #[serde(default)]
    pub adjusted: Adjustments,
}

/// Values of one observation that were not kept exactly as the source
/// wrote them (see "Text values" in docs/formats.md). Counted in the ingest
/// report, so nothing is changed silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Adjustments {
    /// Values longer than their field's limit, cut (and marked).
    pub truncated: u32,
    /// Values holding control characters, which were escaped.
    pub escaped: u32,
}

impl Observation {
    pub fn new(source: SourceKind) -> Self {
        Observation {
            source,
            observed_at: None,
            host: HostIdentity::default(),
            establishment_hint: None,
            os: None,
            hotfixes: Section::Unknown,
            software: Section::Unknown,
            features: Section::Unknown,
            network: None,
            adjusted: Adjustments::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kb_extraction() {
        assert_eq!(
            Hotfix::kb_in("Security Update KB4019215").as_deref(),
            Some("KB4019215")
        );
        assert_eq!(
            Hotfix::kb_in("Mise à jour (kb4012212)").as_deref(),
            Some("KB4012212")
        );
        assert_eq!(Hotfix::kb_in("KB12"), None);
        assert_eq!(Hotfix::kb_in("kb"), None);
        assert_eq!(Hotfix::kb_in("é KB4012598"), Some("KB4012598".into()));
    }

    #[test]
    fn section_delta_applies() {
        let full = Section::Full(vec![1, 2, 3]);
        let delta = Section::Delta {
            added: vec![4],
            removed: vec![2],
        };
        let after = delta.apply(full.apply(None));
        assert_eq!(after, Some(vec![1, 3, 4]));
        assert_eq!(
            delta.clone().apply_owned(full.clone().apply_owned(None)),
            after
        );
        assert_eq!(
            Section::<u8>::Unknown.apply_owned(Some(vec![9])),
            Some(vec![9])
        );
        assert_eq!(Section::<u8>::Unknown.apply(Some(vec![9])), Some(vec![9]));
    }

    /// The list-scanning definition the hash-set implementation replaced
    /// (quadratic: 22 s for a 100,000-row delta); results must not change.
    fn apply_by_scanning<T: PartialEq + Clone>(
        previous: Option<Vec<T>>,
        added: &[T],
        removed: &[T],
    ) -> Vec<T> {
        let mut list = previous.unwrap_or_default();
        list.retain(|x| !removed.contains(x));
        for a in added {
            if !list.contains(a) {
                list.push(a.clone());
            }
        }
        list
    }

    fn merge_by_scanning<T: PartialEq + Clone>(
        first: (Vec<T>, Vec<T>),
        second: (Vec<T>, Vec<T>),
    ) -> (Vec<T>, Vec<T>) {
        let (mut added, mut removed) = first;
        let (a2, r2) = second;
        added.retain(|x| !r2.contains(x));
        removed.extend(r2);
        added.extend(a2);
        (added, removed)
    }

    #[test]
    fn mixed_delta_gives_the_same_list_in_the_same_order() {
        // duplicates before, removals of absent items, items both added and
        // removed, repeated additions
        let previous = vec![5, 1, 2, 2, 3, 9, 1];
        let added = vec![4, 2, 7, 4, 9, 8, 3, 6];
        let removed = vec![2, 9, 10, 4];
        let delta = Section::Delta {
            added: added.clone(),
            removed: removed.clone(),
        };
        let expected = vec![5, 1, 3, 1, 4, 2, 7, 9, 8, 6];
        assert_eq!(
            apply_by_scanning(Some(previous.clone()), &added, &removed),
            expected
        );
        assert_eq!(delta.apply(Some(previous.clone())), Some(expected.clone()));
        assert_eq!(delta.apply_owned(Some(previous)), Some(expected));
        // the same with real facts
        let sw = |n: &str, v: &str| Software {
            name: n.into(),
            version: Some(v.into()),
            publisher: None,
        };
        let previous = vec![sw("7-Zip", "19.00"), sw("Firefox", "115"), sw("VLC", "3.0")];
        let added = vec![sw("Firefox", "128"), sw("VLC", "3.0"), sw("Zoom", "5")];
        let removed = vec![sw("Firefox", "115"), sw("Zoom", "5")];
        let delta = Section::Delta {
            added: added.clone(),
            removed: removed.clone(),
        };
        assert_eq!(
            delta.apply_owned(Some(previous.clone())),
            Some(apply_by_scanning(Some(previous), &added, &removed))
        );
    }

    proptest::proptest! {
        #[test]
        fn delta_apply_and_merge_match_the_scanning_definition(
            previous in proptest::option::of(proptest::collection::vec(0u8..24, 0..40)),
            added in proptest::collection::vec(0u8..24, 0..40),
            removed in proptest::collection::vec(0u8..24, 0..20),
            added2 in proptest::collection::vec(0u8..24, 0..20),
            removed2 in proptest::collection::vec(0u8..24, 0..20),
        ) {
            let delta = Section::Delta { added: added.clone(), removed: removed.clone() };
            let expected = apply_by_scanning(previous.clone(), &added, &removed);
            proptest::prop_assert_eq!(delta.apply(previous.clone()), Some(expected.clone()));
            proptest::prop_assert_eq!(delta.clone().apply_owned(previous.clone()), Some(expected));
            let mut merged = delta;
            merged.merge(Section::Delta { added: added2.clone(), removed: removed2.clone() });
            let (ea, er) = merge_by_scanning((added, removed), (added2, removed2));
            proptest::prop_assert_eq!(merged, Section::Delta { added: ea, removed: er });
            let mut full = Section::Full(previous.clone().unwrap_or_default());
            let d = Section::Delta { added: vec![1, 2, 3], removed: vec![2] };
            full.merge(d.clone());
            proptest::prop_assert_eq!(full, Section::Full(d.apply(Some(previous.unwrap_or_default())).unwrap_or_default()));
        }
    }

    #[test]
    fn section_merge_accumulates() {
        let mut s = Section::Unknown;
        s.merge(Section::Full(vec![1]));
        s.merge(Section::Full(vec![2]));
        assert_eq!(s, Section::Full(vec![1, 2]));
        s.merge(Section::Delta {
            added: vec![3],
            removed: vec![1],
        });
        assert_eq!(s, Section::Full(vec![2, 3]));
    }

    #[test]
    fn identity_keys() {
        let mut id = HostIdentity {
            serial: Some("To be filled by O.E.M.".into()),
            ..Default::default()
        };
        assert_eq!(id.hardware_key(), None);
        id.serial = Some("CZC1234ABC".into());
        assert_eq!(id.hardware_key().as_deref(), Some("serial:czc1234abc"));
        id.uuid = Some("4C4C4544-0042-3510-8056-B4C04F4A4E31".into());
        assert!(id.hardware_key().unwrap().starts_with("uuid:"));
        id.hostname = Some("PC-042.rbh.nhs.uk".into());
        assert_eq!(id.short_hostname().as_deref(), Some("pc-042"));
        id.hostname = Some("10.1.2.3".into());
        assert_eq!(id.short_hostname(), None);
    }

    #[test]
    fn family_guess() {
        assert_eq!(
            OsFamily::guess("Microsoft Windows 7 Professionnel"),
            OsFamily::Windows
        );
        assert_eq!(OsFamily::guess("Ubuntu 22.04.4 LTS"), OsFamily::Linux);
        assert_eq!(OsFamily::guess("macOS"), OsFamily::Macos);
    }
}
