//! The organisation directory built from the embedded registries, and the
//! demo facts of each establishment (fleet size, reporting agent, subnet).

use crate::rng::{Rng, hash_str};
use crate::{DemoError, DemoSpec, Profile};
use ipnet::{IpNet, Ipv4Net};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};

const NHS_REGIONS: &str = include_str!("../../../data/registries/nhs-ods/regions.csv");
const NHS_TRUSTS: &str = include_str!("../../../data/registries/nhs-ods/trusts.csv");
const NHS_PRACTICES: &str = include_str!("../../../data/registries/nhs-ods/gp-practices.csv");
const FINESS_REGIONS: &str = include_str!("../../../data/registries/finess/regions.csv");
const FINESS_HOSPITALS: &str = include_str!("../../../data/registries/finess/hospitals.csv");

/// How an establishment's machines report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {
    /// osquery, results logged by a fleet server shared by the establishment's
    /// parent group (ICB) or region: one JSON-lines file per collector per day.
    Osquery,
    /// GLPI Agent native JSON, one file per machine per inventory.
    GlpiJson,
    /// FusionInventory agent XML, one file per machine per inventory.
    FusionXml,
    /// OCS Inventory NG agent XML (`.ocs`), one file per machine per inventory.
    OcsXml,
    /// A weekly ConfigMgr (SCCM) hardware + software report, one CSV per
    /// establishment per week.
    SccmCsv,
    /// A daily Intune device + discovered-apps export run by the GP IT
    /// provider of a region, one CSV per region per day.
    IntuneCsv,
    /// A weekly GLPI computer-list export (French headers, `;`), one CSV per
    /// establishment per week.
    GlpiCsv,
}

impl Agent {
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::Osquery => "osquery",
            Agent::GlpiJson => "glpi-json",
            Agent::FusionXml => "fusion-xml",
            Agent::OcsXml => "ocs-xml",
            Agent::SccmCsv => "sccm-csv",
            Agent::IntuneCsv => "intune-csv",
            Agent::GlpiCsv => "glpi-csv",
        }
    }

    /// One file per machine per inventory.
    pub fn per_machine(self) -> bool {
        matches!(self, Agent::GlpiJson | Agent::FusionXml | Agent::OcsXml)
    }
}

/// What the demo adds to a registry establishment.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// Machines (workstations, servers, devices) at this scale.
    pub hosts: u64,
    pub agent: Agent,
    /// Whether the subnet is scanned weekly with nmap (SMB scripts).
    pub nmap: bool,
    /// Groups aggregated files: the ICB (England trusts, osquery), the
    /// region (GP exports, French osquery) or the establishment itself.
    pub collector: String,
    /// Hostname prefix: machines are named `PREFIX-WS000123`.
    pub prefix: String,
    /// DNS domain of the establishment.
    pub domain: String,
    pub subnet: Ipv4Net,
    /// Yearly pace of the Windows 11 migration and of remediation
    /// (1.0 = sector average).
    pub pace: f64,
    /// Multiplier of the share of legacy Windows (XP, 7, 8.1).
    pub legacy: f64,
    /// Day of the week (0 = the first day of the history) of weekly exports
    /// and scans.
    pub weekday: u8,
    /// Workstations run Pro editions (GP practices, small clinics).
    pub pro_editions: bool,
    /// Locale of the machines (`en-GB` or `fr-FR`).
    pub french: bool,
}

/// A synthetic health sector: the org directory from the registries and a
/// fleet per establishment.
#[derive(Debug, Clone)]
pub struct Sector {
    pub profile: Profile,
    pub regions: Vec<Region>,
    /// Establishments kept at this scale, in registry order.
    pub establishments: Vec<Establishment>,
    /// Demo facts, parallel to `establishments`.
    pub sites: Vec<Site>,
    /// Establishments in the registry (before small-scale sampling).
    pub registry_establishments: usize,
}

impl Sector {
    pub fn total_hosts(&self) -> u64 {
        self.sites.iter().map(|s| s.hosts).sum()
    }

    /// (kind, establishments, machines), in [`EstablishmentKind::ALL`] order.
    pub fn fleet_by_kind(&self) -> Vec<(EstablishmentKind, usize, u64)> {
        EstablishmentKind::ALL
            .iter()
            .filter_map(|k| {
                let (n, h) = self
                    .establishments
                    .iter()
                    .zip(&self.sites)
                    .filter(|(e, _)| e.kind == *k)
                    .fold((0usize, 0u64), |(n, h), (_, s)| (n + 1, h + s.hosts));
                (n > 0).then_some((*k, n, h))
            })
            .collect()
    }

    /// Machines per reporting agent.
    pub fn fleet_by_agent(&self) -> Vec<(Agent, u64)> {
        let mut map: Vec<(Agent, u64)> = Vec::new();
        for s in &self.sites {
            match map.iter_mut().find(|(a, _)| *a == s.agent) {
                Some((_, n)) => *n += s.hosts,
                None => map.push((s.agent, s.hosts)),
            }
        }
        map
    }
}

/// A registry row, before fleet sizing.
struct Entry {
    code: String,
    name: String,
    kind: EstablishmentKind,
    region: String,
    parent: Option<String>,
    /// Base fleet at scale 1.
    base: f64,
    /// Smallest fleet kept when sampling small scales.
    min_fleet: u64,
    agent: Agent,
    nmap: bool,
    collector: String,
    prefix: String,
    domain: String,
    pro: bool,
}

fn csv_rows(text: &str) -> impl Iterator<Item = csv::StringRecord> + '_ {
    csv::Reader::from_reader(text.as_bytes())
        .into_records()
        .filter_map(Result::ok)
}

fn field(rec: &csv::StringRecord, i: usize) -> String {
    rec.get(i).unwrap_or("").trim().to_string()
}

/// Log-uniform draw in `[lo, hi]`: many small, few large.
fn log_uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * rng.unit()).exp()
}

fn pick_agent(rng: &mut Rng, table: &[(Agent, f64)]) -> Agent {
    let weights: Vec<f64> = table.iter().map(|(_, w)| *w).collect();
    table
        .get(rng.weighted(&weights))
        .map_or(Agent::Osquery, |(a, _)| *a)
}

/// Mental-health trusts whose names do not say so.
const NHS_MENTAL_HEALTH: &[&str] = &[
    "G6V2S", "RAT", "RKL", "RHA", "RLY", "RMY", "RNU", "RP1", "RPG", "RT1", "RT2", "RV3", "RV5",
    "RV9", "RW1", "RW4", "RWK", "RWX", "RX3", "RX4", "RXE", "RXM", "RDY", "RW5",
];

fn nhs_trust_kind(code: &str, name: &str) -> EstablishmentKind {
    let n = name.to_ascii_uppercase();
    if n.contains("AMBULANCE") {
        EstablishmentKind::Ambulance
    } else if n.contains("MENTAL HEALTH")
        || n.contains("PARTNERSHIP")
        || n.contains("TAVISTOCK")
        || NHS_MENTAL_HEALTH.contains(&code)
    {
        EstablishmentKind::MentalHealth
    } else if n.contains("COMMUNITY") || n.contains("HEALTH AND CARE") {
        EstablishmentKind::Community
    } else {
        EstablishmentKind::Acute
    }
}

fn england(seed: u64) -> (Vec<Region>, Vec<Entry>) {
    let regions: Vec<Region> = csv_rows(NHS_REGIONS)
        .filter_map(|r| {
            Some(Region {
                code: RegionCode::new(&field(&r, 0)).ok()?,
                name: field(&r, 1),
            })
        })
        .collect();
    let mut entries = Vec::new();
    for r in csv_rows(NHS_TRUSTS) {
        let (code, name, region, icb) = (field(&r, 0), field(&r, 1), field(&r, 2), field(&r, 3));
        let kind = nhs_trust_kind(&code, &name);
        let mut rng = Rng::keyed(&[seed, hash_str(&code), 1]);
        let upper = name.to_ascii_uppercase();
        let specialist = [
            "CHILDREN",
            "WOMEN",
            "CHRISTIE",
            "MARSDEN",
            "WALTON",
            "CLATTERBRIDGE",
        ]
        .iter()
        .any(|k| upper.contains(k));
        let base = match kind {
            EstablishmentKind::Ambulance => rng.range_f(800.0, 2000.0),
            EstablishmentKind::MentalHealth => rng.range_f(1500.0, 4000.0),
            EstablishmentKind::Community => rng.range_f(1000.0, 3000.0),
            _ if specialist => rng.range_f(2500.0, 5000.0),
            _ => {
                let b = rng.range_f(4000.0, 14000.0);
                if upper.contains("UNIVERSITY") || upper.contains("TEACHING") {
                    (b * 1.15).min(14000.0)
                } else {
                    b
                }
            }
        };
        // Per-machine agents (one file per machine per inventory) only in
        // the smaller trusts, which keeps file counts reasonable.
        let small = base < 4500.0;
        let per_machine = if small { 1.0 } else { 0.0 };
        let agent = pick_agent(
            &mut rng,
            &[
                (Agent::Osquery, 0.50),
                (Agent::SccmCsv, 0.36),
                (Agent::GlpiJson, 0.08 * per_machine),
                (Agent::FusionXml, 0.04 * per_machine),
                (Agent::OcsXml, 0.04 * per_machine),
            ],
        );
        let nmap = rng.chance(0.4);
        let collector = if agent == Agent::Osquery {
            icb.clone()
        } else {
            code.clone()
        };
        entries.push(Entry {
            prefix: code.clone(),
            domain: format!("{}.nhs.uk", code.to_ascii_lowercase()),
            code,
            name,
            kind,
            region,
            parent: Some(icb).filter(|p| !p.is_empty()),
            base,
            min_fleet: 8,
            agent,
            nmap,
            collector,
            pro: false,
        });
    }
    for r in csv_rows(NHS_PRACTICES) {
        let (code, name, region, icb) = (field(&r, 0), field(&r, 1), field(&r, 2), field(&r, 3));
        let mut rng = Rng::keyed(&[seed, hash_str(&code), 2]);
        let base = rng.range_f(8.0, 45.0);
        let agent = pick_agent(
            &mut rng,
            &[
                (Agent::IntuneCsv, 0.9),
                (Agent::Osquery, 0.06),
                (Agent::GlpiJson, 0.02),
                (Agent::OcsXml, 0.02),
            ],
        );
        let collector = match agent {
            Agent::IntuneCsv => region.clone(),
            Agent::Osquery => icb.clone(),
            _ => code.clone(),
        };
        entries.push(Entry {
            prefix: code.clone(),
            domain: format!("{}.gp.nhs.uk", code.to_ascii_lowercase()),
            code,
            name,
            kind: EstablishmentKind::GpPractice,
            region,
            parent: Some(icb).filter(|p| !p.is_empty()),
            base,
            min_fleet: 3,
            agent,
            nmap: false,
            collector,
            pro: true,
        });
    }
    (regions, entries)
}

/// ASCII letters of a French commune name, upper case, accents folded.
fn fold_letters(s: &str) -> String {
    s.chars()
        .filter_map(|c| {
            let c = match c {
                'à' | 'â' | 'ä' | 'À' | 'Â' => 'A',
                'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' => 'E',
                'î' | 'ï' | 'Î' | 'Ï' => 'I',
                'ô' | 'ö' | 'Ô' => 'O',
                'ù' | 'û' | 'ü' | 'Û' | 'Ù' => 'U',
                'ç' | 'Ç' => 'C',
                c => c,
            };
            c.is_ascii_alphabetic().then(|| c.to_ascii_uppercase())
        })
        .collect()
}

/// French establishment class from the name: (kind, prefix tag, base fleet
/// range, log-uniform).
fn finess_class(name: &str, status: &str) -> (EstablishmentKind, &'static str, f64, f64) {
    let n = format!(" {} ", name.to_ascii_uppercase());
    let has = |k: &str| n.contains(k);
    let public = status == "public";
    if has("SMUR") || has("ANTENNE") {
        return (EstablishmentKind::Other, "SMUR", 8.0, 40.0);
    }
    if has(" USLD ") || has("LONGUE DUREE") || has("LONG SEJOUR") || has("EHPAD") {
        return (EstablishmentKind::CareHome, "USLD", 15.0, 80.0);
    }
    if has("PSYCHIATR")
        || has(" CHS ")
        || has("EPSM")
        || has("SANTE MENTALE")
        || has("EPSAN")
        || has("PSYCHOTHERAP")
        || has(" GHU PARIS")
    {
        return if public {
            (EstablishmentKind::MentalHealth, "PSY", 300.0, 1500.0)
        } else {
            (EstablishmentKind::MentalHealth, "PSY", 60.0, 250.0)
        };
    }
    if has(" CHU ")
        || has(" CHRU ")
        || has(" CHR ")
        || has("UNIVERSITAIRE")
        || has("APHP")
        || has("AP-HP")
        || has("HOSPICES CIVILS")
        || has("APHM")
    {
        return (EstablishmentKind::Acute, "CHU", 800.0, 6000.0);
    }
    if has(" HAD ") || has("DOMICILE") {
        return (EstablishmentKind::Community, "HAD", 30.0, 150.0);
    }
    if has("DIALYSE")
        || has(" AURA")
        || has("SANTELYS")
        || has("NEPHROCARE")
        || has(" AIDER ")
        || has(" AAIR ")
        || has("AUTODIALYSE")
        || has("NEPHRO")
    {
        return (EstablishmentKind::Other, "DIA", 10.0, 60.0);
    }
    if has(" SSR ")
        || has(" SMR ")
        || has(" CRF ")
        || has("REEDUCATION")
        || has("READAPTATION")
        || has("RÉÉDUCATION")
        || has("RÉADAPTATION")
    {
        return (EstablishmentKind::Clinic, "SSR", 30.0, 200.0);
    }
    if has("CANCER") || has(" INSTITUT ") || has("GUSTAVE ROUSSY") || has("LEON BERARD") {
        return (EstablishmentKind::Acute, "CLCC", 800.0, 3000.0);
    }
    if has("CLINIQUE") || has(" CL ") || has("POLYCLINIQUE") || has("HOPITAL PRIVE") || has(" HP ")
    {
        return (EstablishmentKind::Clinic, "CL", 80.0, 600.0);
    }
    if has("HOPITAL LOCAL") || has(" HL ") {
        return (EstablishmentKind::Acute, "HL", 60.0, 300.0);
    }
    if has(" CH ") || has(" CHI ") || has("CENTRE HOSPITALIER") || has(" GH ") || has(" GHT ") {
        return (EstablishmentKind::Acute, "CH", 120.0, 1800.0);
    }
    if public {
        (EstablishmentKind::Acute, "HOP", 60.0, 800.0)
    } else {
        (EstablishmentKind::Clinic, "ES", 40.0, 300.0)
    }
}

/// The département of a FINESS number (INSEE code for overseas).
fn departement(finess: &str, region: &str) -> String {
    match region {
        "01" => "971".into(),
        "02" => "972".into(),
        "03" => "973".into(),
        "04" => "974".into(),
        "06" => "976".into(),
        _ => finess.get(..2).unwrap_or(finess).to_string(),
    }
}

fn france(seed: u64) -> (Vec<Region>, Vec<Entry>) {
    let regions: Vec<Region> = csv_rows(FINESS_REGIONS)
        .filter_map(|r| {
            Some(Region {
                code: RegionCode::new(&field(&r, 0)).ok()?,
                name: field(&r, 1),
            })
        })
        .collect();
    let mut entries = Vec::new();
    let mut prefixes: HashSet<String> = HashSet::new();
    for r in csv_rows(FINESS_HOSPITALS) {
        let (code, name, commune, status, region) = (
            field(&r, 0),
            field(&r, 1),
            field(&r, 2),
            field(&r, 3),
            field(&r, 4),
        );
        let (kind, tag, lo, hi) = finess_class(&name, &status);
        let mut rng = Rng::keyed(&[seed, hash_str(&code), 3]);
        let base = log_uniform(&mut rng, lo, hi);
        let letters = fold_letters(&commune);
        let stem: String = format!("{tag}{}", letters.get(..4).unwrap_or(&letters));
        let mut prefix = stem.clone();
        let mut n = 2;
        while !prefixes.insert(prefix.clone()) {
            prefix = format!("{stem}{n}");
            n += 1;
        }
        // Per-machine agents in the smaller sites only (clinics, SSR, small
        // CH): file counts stay reasonable; large hospitals export lists.
        let per_machine = if base < 400.0 { 1.0 } else { 0.0 };
        let agent = pick_agent(
            &mut rng,
            &[
                (Agent::GlpiCsv, 0.45),
                (Agent::Osquery, 0.25),
                (Agent::GlpiJson, 0.12 * per_machine),
                (Agent::FusionXml, 0.09 * per_machine),
                (Agent::OcsXml, 0.09 * per_machine),
            ],
        );
        let nmap = rng.chance(if base > 300.0 { 0.4 } else { 0.15 });
        let collector = if agent == Agent::Osquery {
            region.clone()
        } else {
            code.clone()
        };
        entries.push(Entry {
            domain: format!("{}.local", prefix.to_ascii_lowercase()),
            prefix,
            parent: Some(departement(&code, &region)),
            code,
            name,
            kind,
            region,
            base,
            min_fleet: if base > 200.0 { 8 } else { 3 },
            agent,
            nmap,
            collector,
            pro: base < 200.0,
        });
    }
    (regions, entries)
}

/// Subnet prefix length holding `hosts` machines with room to spare.
fn prefix_len_for(hosts: u64) -> u8 {
    let need = (hosts.saturating_mul(2)).max(32);
    let bits = 64 - (need - 1).leading_zeros();
    u8::try_from(32u32.saturating_sub(bits)).unwrap_or(0).max(8)
}

pub(crate) fn build(spec: &DemoSpec) -> Result<Sector, DemoError> {
    if !(spec.scale.is_finite() && spec.scale > 0.0) {
        return Err(DemoError::Spec(format!(
            "scale must be a positive number, not {}",
            spec.scale
        )));
    }
    let (regions, entries) = match spec.profile {
        Profile::England => england(spec.seed),
        Profile::France => france(spec.seed),
    };
    let registry_establishments = entries.len();
    // Region-level pace: some regions migrate faster.
    let region_pace: HashMap<&str, f64> = regions
        .iter()
        .map(|r| {
            let mut rng = Rng::keyed(&[spec.seed, hash_str(r.code.as_str()), 4]);
            (r.code.as_str(), rng.range_f(0.6, 1.5))
        })
        .collect();

    let mut establishments = Vec::new();
    let mut sites = Vec::new();
    let mut cursor: u32 = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let end: u32 = u32::from(Ipv4Addr::new(10, 255, 255, 255));
    for e in entries {
        let mut rng = Rng::keyed(&[spec.seed, hash_str(&e.code), 5]);
        let expected = e.base * spec.scale;
        let min = e.min_fleet as f64;
        let hosts = if expected >= min {
            expected.round() as u64
        } else if rng.chance(expected / min) {
            e.min_fleet
        } else {
            continue;
        };
        let len = prefix_len_for(hosts);
        let size = 1u32 << (32 - u32::from(len));
        cursor = cursor.div_ceil(size) * size;
        if cursor.checked_add(size - 1).is_none_or(|last| last > end) {
            return Err(DemoError::Spec(format!(
                "10.0.0.0/8 cannot hold one subnet per establishment at scale {}",
                spec.scale
            )));
        }
        let subnet = Ipv4Net::new(Ipv4Addr::from(cursor), len)
            .map_err(|err| DemoError::Spec(format!("subnet: {err}")))?;
        cursor += size;
        let code = EstablishmentCode::new(&e.code)
            .map_err(|err| DemoError::Registry(format!("establishment code: {err}")))?;
        let region = RegionCode::new(&e.region)
            .map_err(|err| DemoError::Registry(format!("region code: {err}")))?;
        let pace =
            region_pace.get(e.region.as_str()).copied().unwrap_or(1.0) * rng.range_f(0.5, 1.6);
        let legacy = match e.kind {
            EstablishmentKind::GpPractice => rng.range_f(0.2, 1.2),
            _ => rng.range_f(0.3, 2.5),
        };
        establishments.push(Establishment {
            code,
            name: e.name,
            kind: e.kind,
            region,
            parent: e.parent,
            hostname_patterns: vec![format!("{}-*", e.prefix)],
            subnets: vec![IpNet::V4(subnet)],
        });
        sites.push(Site {
            hosts,
            agent: e.agent,
            nmap: e.nmap,
            collector: e.collector,
            prefix: e.prefix,
            domain: e.domain,
            subnet,
            pace,
            legacy,
            weekday: u8::try_from(rng.below(7)).unwrap_or(0),
            pro_editions: e.pro,
            french: spec.profile == Profile::France,
        });
    }
    Ok(Sector {
        profile: spec.profile,
        regions,
        establishments,
        sites,
        registry_establishments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_lengths() {
        assert_eq!(prefix_len_for(1), 27);
        assert_eq!(prefix_len_for(16), 27);
        assert_eq!(prefix_len_for(17), 26);
        assert_eq!(prefix_len_for(10_000), 17);
    }

    #[test]
    fn trust_kinds() {
        assert_eq!(
            nhs_trust_kind("RRU", "LONDON AMBULANCE SERVICE NHS TRUST"),
            EstablishmentKind::Ambulance
        );
        assert_eq!(
            nhs_trust_kind("RV5", "SOUTH LONDON AND MAUDSLEY NHS FOUNDATION TRUST"),
            EstablishmentKind::MentalHealth
        );
        assert_eq!(
            nhs_trust_kind("RY6", "LEEDS COMMUNITY HEALTHCARE NHS TRUST"),
            EstablishmentKind::Community
        );
        assert_eq!(
            nhs_trust_kind("RJ1", "GUY'S AND ST THOMAS' NHS FOUNDATION TRUST"),
            EstablishmentKind::Acute
        );
    }

    #[test]
    fn french_classes() {
        assert_eq!(finess_class("CH DE FLEYRIAT", "public").1, "CH");
        assert_eq!(finess_class("CHU DE NANTES", "public").1, "CHU");
        assert_eq!(
            finess_class("CHS LE VINATIER", "public").0,
            EstablishmentKind::MentalHealth
        );
        assert_eq!(
            finess_class("CLINIQUE DU PARC", "private-for-profit").0,
            EstablishmentKind::Clinic
        );
        assert_eq!(fold_letters("Évry-Courcouronnes"), "EVRYCOURCOURONNES");
    }
}
