//! The organisation directory (regions, establishments) and the attribution of
//! machines to establishments by hostname pattern or subnet.

use crate::ids::{EstablishmentCode, RegionCode};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EstablishmentKind {
    Acute,
    MentalHealth,
    Community,
    Ambulance,
    GpPractice,
    Clinic,
    CareHome,
    Other,
}

impl EstablishmentKind {
    pub const ALL: [EstablishmentKind; 8] = [
        EstablishmentKind::Acute,
        EstablishmentKind::MentalHealth,
        EstablishmentKind::Community,
        EstablishmentKind::Ambulance,
        EstablishmentKind::GpPractice,
        EstablishmentKind::Clinic,
        EstablishmentKind::CareHome,
        EstablishmentKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EstablishmentKind::Acute => "acute",
            EstablishmentKind::MentalHealth => "mental-health",
            EstablishmentKind::Community => "community",
            EstablishmentKind::Ambulance => "ambulance",
            EstablishmentKind::GpPractice => "gp-practice",
            EstablishmentKind::Clinic => "clinic",
            EstablishmentKind::CareHome => "care-home",
            EstablishmentKind::Other => "other",
        }
    }

    /// Accepts the canonical names and common synonyms ("hospital" = acute,
    /// "gp" = GP practice).
    pub fn parse(s: &str) -> Option<Self> {
        let n = s.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        Some(match n.as_str() {
            "acute" | "hospital" | "acute-hospital" | "chu" | "ch" => EstablishmentKind::Acute,
            "mental-health" | "mental" | "psychiatric" => EstablishmentKind::MentalHealth,
            "community" => EstablishmentKind::Community,
            "ambulance" => EstablishmentKind::Ambulance,
            "gp-practice" | "gp" | "practice" => EstablishmentKind::GpPractice,
            "clinic" | "clinique" => EstablishmentKind::Clinic,
            "care-home" | "ehpad" => EstablishmentKind::CareHome,
            "other" => EstablishmentKind::Other,
            _ => return None,
        })
    }
}

impl std::fmt::Display for EstablishmentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Establishment {
    pub code: EstablishmentCode,
    pub name: String,
    pub kind: EstablishmentKind,
    pub region: RegionCode,
    /// Parent group (GHT, ICB…), free text code.
    pub parent: Option<String>,
    /// Hostname globs (`*` and `?`, case-insensitive), e.g. `RBH-*`.
    pub hostname_patterns: Vec<String>,
    pub subnets: Vec<IpNet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttributionReason {
    Flag,
    InventoryTag,
    HostnamePattern,
    Subnet,
}

impl AttributionReason {
    pub fn parse(s: &str) -> Option<Self> {
        [
            AttributionReason::Flag,
            AttributionReason::InventoryTag,
            AttributionReason::HostnamePattern,
            AttributionReason::Subnet,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// How much an attribution is worth: an explicit flag beats the
    /// inventory's own tag, which beats a hostname pattern, which beats a
    /// subnet. A weaker reason never moves a machine a stronger one placed.
    pub fn strength(self) -> u8 {
        match self {
            AttributionReason::Flag => 4,
            AttributionReason::InventoryTag => 3,
            AttributionReason::HostnamePattern => 2,
            AttributionReason::Subnet => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AttributionReason::Flag => "flag",
            AttributionReason::InventoryTag => "inventory-tag",
            AttributionReason::HostnamePattern => "hostname-pattern",
            AttributionReason::Subnet => "subnet",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub establishment: EstablishmentCode,
    pub reason: AttributionReason,
}

/// Case-insensitive glob match with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().flat_map(char::to_lowercase).collect();
    let t: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Regions and establishments, indexed for fast attribution.
#[derive(Debug, Clone, Default)]
pub struct OrgDirectory {
    regions: Vec<Region>,
    establishments: Vec<Establishment>,
    by_code: HashMap<EstablishmentCode, usize>,
    /// `PREFIX*` patterns, lowercased prefix → establishment index.
    prefix_patterns: HashMap<String, usize>,
    prefix_lengths: Vec<usize>,
    /// Other patterns, checked one by one.
    other_patterns: Vec<(String, usize)>,
    /// Subnets grouped by prefix length, longest first: network → index.
    subnets: Vec<(u8, bool, HashMap<IpNet, usize>)>,
}

impl OrgDirectory {
    pub fn new(regions: Vec<Region>, establishments: Vec<Establishment>) -> Self {
        let mut dir = OrgDirectory {
            regions,
            establishments,
            ..Default::default()
        };
        dir.reindex();
        dir
    }

    fn reindex(&mut self) {
        self.by_code.clear();
        self.prefix_patterns.clear();
        self.other_patterns.clear();
        let mut lengths = std::collections::BTreeSet::new();
        let mut nets: HashMap<(u8, bool), HashMap<IpNet, usize>> = HashMap::new();
        for (i, e) in self.establishments.iter().enumerate() {
            self.by_code.insert(e.code.clone(), i);
            for p in &e.hostname_patterns {
                let lower = p.trim().to_lowercase();
                if lower.is_empty() {
                    continue;
                }
                let body = lower.strip_suffix('*');
                match body {
                    Some(prefix) if !prefix.contains(['*', '?']) && !prefix.is_empty() => {
                        lengths.insert(prefix.chars().count());
                        self.prefix_patterns.entry(prefix.to_string()).or_insert(i);
                    }
                    _ => self.other_patterns.push((lower, i)),
                }
            }
            for n in &e.subnets {
                let net = n.trunc();
                nets.entry((net.prefix_len(), net.addr().is_ipv4()))
                    .or_default()
                    .entry(net)
                    .or_insert(i);
            }
        }
        // longest prefix first so the most specific pattern wins
        self.prefix_lengths = lengths.into_iter().rev().collect();
        let mut subnets: Vec<_> = nets.into_iter().map(|((l, v4), m)| (l, v4, m)).collect();
        subnets.sort_by_key(|s| std::cmp::Reverse(s.0));
        self.subnets = subnets;
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn establishments(&self) -> &[Establishment] {
        &self.establishments
    }

    pub fn get(&self, code: &EstablishmentCode) -> Option<&Establishment> {
        self.by_code.get(code).map(|&i| &self.establishments[i])
    }

    pub fn region(&self, code: &RegionCode) -> Option<&Region> {
        self.regions.iter().find(|r| &r.code == code)
    }

    /// Finds the establishment a hostname pattern assigns. The longest
    /// `PREFIX*` pattern wins; other globs are tried afterwards in file order.
    pub fn by_hostname(&self, hostname: &str) -> Option<&Establishment> {
        let lower = hostname.trim().to_lowercase();
        let chars: Vec<(usize, char)> = lower.char_indices().collect();
        for &len in &self.prefix_lengths {
            if len > chars.len() {
                continue;
            }
            let end = chars.get(len).map(|(b, _)| *b).unwrap_or(lower.len());
            if let Some(&i) = self.prefix_patterns.get(&lower[..end]) {
                return Some(&self.establishments[i]);
            }
        }
        self.other_patterns
            .iter()
            .find(|(p, _)| glob_match(p, &lower))
            .map(|(_, i)| &self.establishments[*i])
    }

    /// Finds the establishment whose most specific subnet holds the address.
    pub fn by_address(&self, addr: IpAddr) -> Option<&Establishment> {
        for (len, v4, map) in &self.subnets {
            if *v4 != addr.is_ipv4() {
                continue;
            }
            if let Ok(net) = IpNet::new(addr, *len)
                && let Some(&i) = map.get(&net.trunc())
            {
                return Some(&self.establishments[i]);
            }
        }
        None
    }

    /// Applies the attribution order: flag, inventory tag, hostname pattern,
    /// subnet. A flag or tag naming an unknown establishment does not
    /// attribute (the caller reports it).
    pub fn attribute(
        &self,
        flag: Option<&EstablishmentCode>,
        tag: Option<&str>,
        hostnames: &[&str],
        addresses: &[IpAddr],
    ) -> Option<Attribution> {
        if let Some(code) = flag.filter(|c| self.by_code.contains_key(*c)) {
            return Some(Attribution {
                establishment: code.clone(),
                reason: AttributionReason::Flag,
            });
        }
        if let Some(code) = tag
            .and_then(|t| EstablishmentCode::new(t).ok())
            .filter(|c| self.by_code.contains_key(c))
        {
            return Some(Attribution {
                establishment: code,
                reason: AttributionReason::InventoryTag,
            });
        }
        for h in hostnames {
            if let Some(e) = self.by_hostname(h) {
                return Some(Attribution {
                    establishment: e.code.clone(),
                    reason: AttributionReason::HostnamePattern,
                });
            }
        }
        for a in addresses {
            if let Some(e) = self.by_address(*a) {
                return Some(Attribution {
                    establishment: e.code.clone(),
                    reason: AttributionReason::Subnet,
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(code: &str, patterns: &[&str], subnets: &[&str]) -> Establishment {
        Establishment {
            code: EstablishmentCode::new(code).unwrap(),
            name: code.into(),
            kind: EstablishmentKind::Acute,
            region: RegionCode::new("R1").unwrap(),
            parent: None,
            hostname_patterns: patterns.iter().map(|s| s.to_string()).collect(),
            subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    fn dir() -> OrgDirectory {
        OrgDirectory::new(
            vec![Region {
                code: RegionCode::new("R1").unwrap(),
                name: "R".into(),
            }],
            vec![
                est("RBH", &["rbh-*", "*.rbh.nhs.uk"], &["10.1.0.0/16"]),
                est("RBHX", &["rbh-x*"], &["10.1.2.0/24"]),
                est("GP1", &["gp?-*"], &["fd00::/64"]),
            ],
        )
    }

    #[test]
    fn glob() {
        assert!(glob_match("rbh-*", "RBH-PC01"));
        assert!(glob_match("*.nhs.uk", "a.b.nhs.uk"));
        assert!(glob_match("gp?-*", "gp1-x"));
        assert!(!glob_match("gp?-*", "gp12-x"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a", ""));
    }

    #[test]
    fn longest_prefix_and_subnet_win() {
        let d = dir();
        assert_eq!(d.by_hostname("RBH-X042").unwrap().code.as_str(), "RBHX");
        assert_eq!(d.by_hostname("rbh-042").unwrap().code.as_str(), "RBH");
        assert_eq!(d.by_hostname("pc.rbh.nhs.uk").unwrap().code.as_str(), "RBH");
        assert_eq!(d.by_hostname("gp7-pc").unwrap().code.as_str(), "GP1");
        assert!(d.by_hostname("other").is_none());
        assert_eq!(
            d.by_address("10.1.2.9".parse().unwrap())
                .unwrap()
                .code
                .as_str(),
            "RBHX"
        );
        assert_eq!(
            d.by_address("10.1.9.9".parse().unwrap())
                .unwrap()
                .code
                .as_str(),
            "RBH"
        );
        assert_eq!(
            d.by_address("fd00::5".parse().unwrap())
                .unwrap()
                .code
                .as_str(),
            "GP1"
        );
        assert!(d.by_address("192.168.1.1".parse().unwrap()).is_none());
    }

    #[test]
    fn attribution_order() {
        let d = dir();
        let flag = EstablishmentCode::new("GP1").unwrap();
        let addr: IpAddr = "10.1.2.3".parse().unwrap();
        let a = d
            .attribute(Some(&flag), Some("RBH"), &["rbh-1"], &[addr])
            .unwrap();
        assert_eq!(a.reason, AttributionReason::Flag);
        let a = d.attribute(None, Some("rbh"), &["gp1-1"], &[addr]).unwrap();
        assert_eq!(
            (a.establishment.as_str(), a.reason),
            ("RBH", AttributionReason::InventoryTag)
        );
        let a = d
            .attribute(None, Some("unknown"), &["gp1-1"], &[addr])
            .unwrap();
        assert_eq!(a.reason, AttributionReason::HostnamePattern);
        let a = d.attribute(None, None, &["nope"], &[addr]).unwrap();
        assert_eq!(
            (a.establishment.as_str(), a.reason),
            ("RBHX", AttributionReason::Subnet)
        );
        assert!(d.attribute(None, None, &["nope"], &[]).is_none());
    }

    proptest::proptest! {
        #[test]
        fn glob_never_panics(p in ".{0,12}", t in ".{0,24}") {
            let _ = glob_match(&p, &t);
        }
        #[test]
        fn star_prefix_matches_itself(p in "[a-z0-9-]{1,10}", rest in "[a-z0-9-]{0,10}") {
            let pattern = format!("{p}*");
            let text = format!("{p}{rest}");
            proptest::prop_assert!(glob_match(&pattern, &text));
        }
    }
}
