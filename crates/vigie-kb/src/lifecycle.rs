//! OS lifecycle data (endoflife.date, Microsoft lifecycle), OS identification
//! and the end-of-support verdict.

use crate::error::KbError;
use crate::raw::{self, DateOrBool};
use crate::windows::{WinFacts, win_facts};
use crate::{KbSource, SourceOrigin};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use vigie_core::{Day, Evidence, OsFacts, OsFamily};

/// How far ahead `EndsSoon` looks.
pub const ENDS_SOON_DAYS: i32 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EolDate {
    Date(Day),
    /// `true` in endoflife.date: ended, date unknown.
    Ended,
    /// `false`: not ended or not announced.
    NotEnded,
}

#[derive(Debug, Clone)]
pub(crate) struct EolCycle {
    pub cycle: String,
    pub label: String,
    pub codename: Option<String>,
    pub eol: Option<EolDate>,
    pub extended: Option<EolDate>,
    /// The `latest` field, which for Windows is the NT version ("10.0.19045").
    pub latest: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct EolProduct {
    pub title: String,
    pub commit: Option<String>,
    pub date: Option<Day>,
    pub cycles: Vec<EolCycle>,
    pub origin: SourceOrigin,
}

impl EolProduct {
    pub(crate) fn cycle(&self, id: &str) -> Option<&EolCycle> {
        self.cycles.iter().find(|c| c.cycle == id)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct MsProduct {
    pub name: String,
    pub extended_end: Option<Day>,
    pub mainstream_end: Option<Day>,
    pub releases: Vec<(String, Option<Day>)>,
}

#[derive(Debug, Clone)]
pub(crate) struct MsLifecycle {
    pub commit: String,
    pub date: Option<Day>,
    pub products: HashMap<String, MsProduct>,
    pub origin: SourceOrigin,
}

#[derive(Debug, Clone)]
pub(crate) struct Sku {
    pub value: String,
    pub meaning: String,
}

#[derive(Debug, Clone)]
pub(crate) struct LifecycleDb {
    pub eol: BTreeMap<String, EolProduct>,
    pub ms: MsLifecycle,
    pub sku: HashMap<u32, Sku>,
    pub sku_version: String,
    pub sku_date: Option<Day>,
}

fn eol_value(
    file: &str,
    path: impl FnOnce() -> String,
    v: &Option<DateOrBool>,
) -> Result<Option<EolDate>, KbError> {
    Ok(match v {
        None => None,
        Some(DateOrBool::Bool(true)) => Some(EolDate::Ended),
        Some(DateOrBool::Bool(false)) => Some(EolDate::NotEnded),
        Some(DateOrBool::Date(s)) => Some(EolDate::Date(raw::day(file, path, s)?)),
    })
}

pub(crate) fn parse_eol_product(
    file: &str,
    bytes: &[u8],
    origin: SourceOrigin,
) -> Result<(String, EolProduct), KbError> {
    let raw: raw::EolProductFile = raw::from_json(file, bytes)?;
    eol_product(file, raw, origin)
}

/// Reads a product of the endoflife.date API v1: a release's `name` is the
/// cycle, `eolFrom` (else `isEol`) the end of security support, `eoesFrom`
/// (else `isEoes`) the end of extended support, as in the product pages'
/// front matter the bundled files hold.
pub(crate) fn parse_eol_api_v1(
    file: &str,
    bytes: &[u8],
    origin: SourceOrigin,
) -> Result<(String, EolProduct), KbError> {
    let api: raw::EolApiV1 = raw::from_json(file, bytes)?;
    if !api.schema_version.starts_with("1.") {
        return Err(KbError::invalid(
            file,
            "schema_version",
            format!("api schema {:?} is not 1.x", api.schema_version),
        ));
    }
    let modified = api
        .last_modified
        .as_deref()
        .or(api.generated_at.as_deref())
        .map(|s| s.get(..10).unwrap_or(s).to_string());
    let date_or_bool = |date: Option<String>, flag: Option<bool>| match (date, flag) {
        (Some(d), _) => Some(raw::DateOrBool::Date(d)),
        (None, Some(b)) => Some(raw::DateOrBool::Bool(b)),
        (None, None) => None,
    };
    let product = raw::EolProductFile {
        product: api.result.name,
        title: api.result.label,
        source: Some(raw::EolSource {
            repository_commit: Some(match &modified {
                Some(m) => format!("endoflife.date api v1 {m}"),
                None => "endoflife.date api v1".into(),
            }),
            repository_commit_date: modified,
        }),
        releases: api
            .result
            .releases
            .into_iter()
            .map(|r| raw::EolRelease {
                cycle: r.name,
                label: r.label,
                codename: r.codename,
                release_date: r.release_date,
                eol: date_or_bool(r.eol_from, r.is_eol),
                extended_support: date_or_bool(r.eoes_from, r.is_eoes),
                latest: r.latest.and_then(|l| l.name).map(serde_json::Value::String),
            })
            .collect(),
    };
    eol_product(file, product, origin)
}

fn eol_product(
    file: &str,
    raw: raw::EolProductFile,
    origin: SourceOrigin,
) -> Result<(String, EolProduct), KbError> {
    if raw.product.trim().is_empty() {
        return Err(KbError::invalid(file, "product", "empty product name"));
    }
    if raw.releases.is_empty() {
        return Err(KbError::invalid(file, "releases", "no release cycles"));
    }
    let mut cycles = Vec::with_capacity(raw.releases.len());
    for (i, r) in raw.releases.iter().enumerate() {
        if r.cycle.trim().is_empty() {
            return Err(KbError::invalid(
                file,
                format!("releases[{i}].cycle"),
                "empty cycle",
            ));
        }
        raw::opt_day(
            file,
            || format!("releases[{i}].release_date"),
            r.release_date.as_deref(),
        )?;
        cycles.push(EolCycle {
            cycle: r.cycle.clone(),
            label: r.label.clone().unwrap_or_else(|| r.cycle.clone()),
            codename: r.codename.clone(),
            eol: eol_value(file, || format!("releases[{i}].eol"), &r.eol)?,
            extended: eol_value(
                file,
                || format!("releases[{i}].extended_support"),
                &r.extended_support,
            )?,
            latest: r.latest.as_ref().map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        });
    }
    let (commit, date) = match &raw.source {
        Some(s) => (
            s.repository_commit.clone(),
            raw::opt_day(
                file,
                || "source.repository_commit_date".into(),
                s.repository_commit_date.as_deref(),
            )?,
        ),
        None => (None, None),
    };
    let title = raw.title.clone().unwrap_or_else(|| raw.product.clone());
    Ok((
        raw.product,
        EolProduct {
            title,
            commit,
            date,
            cycles,
            origin,
        },
    ))
}

pub(crate) fn parse_ms_lifecycle(
    file: &str,
    bytes: &[u8],
    origin: SourceOrigin,
) -> Result<MsLifecycle, KbError> {
    let raw: raw::MsLifecycleFile = raw::from_json(file, bytes)?;
    if raw.products.is_empty() {
        return Err(KbError::invalid(file, "products", "no products"));
    }
    let mut products = HashMap::with_capacity(raw.products.len());
    for (i, p) in raw.products.into_iter().enumerate() {
        let extended_end = raw::opt_day(
            file,
            || format!("products[{i}].extended_end"),
            p.extended_end.as_deref(),
        )?;
        let mainstream_end = raw::opt_day(
            file,
            || format!("products[{i}].mainstream_end"),
            p.mainstream_end.as_deref(),
        )?;
        let mut releases = Vec::with_capacity(p.releases.len());
        for (j, r) in p.releases.into_iter().enumerate() {
            let end = raw::opt_day(
                file,
                || format!("products[{i}].releases[{j}].end"),
                r.end.as_deref(),
            )?;
            releases.push((r.version, end));
        }
        if products
            .insert(
                p.id.clone(),
                MsProduct {
                    name: p.name,
                    extended_end,
                    mainstream_end,
                    releases,
                },
            )
            .is_some()
        {
            return Err(KbError::invalid(
                file,
                format!("products[{i}].id"),
                format!("duplicate id {}", p.id),
            ));
        }
    }
    let (commit, date) = match &raw.source {
        Some(s) => (
            s.commit.clone().unwrap_or_default(),
            raw::opt_day(
                file,
                || "source.commit_date".into(),
                s.commit_date.as_deref(),
            )?,
        ),
        None => (String::new(), None),
    };
    Ok(MsLifecycle {
        commit,
        date,
        products,
        origin,
    })
}

pub(crate) fn parse_sku(
    file: &str,
    bytes: &[u8],
) -> Result<(HashMap<u32, Sku>, Option<Day>), KbError> {
    let raw: raw::SkuFile = raw::from_json(file, bytes)?;
    let date = match raw
        .metadata
        .as_ref()
        .and_then(|m| m.last_collected.as_deref())
    {
        Some(s) => Some(raw::day(file, || "metadata.lastCollected".into(), s)?),
        None => None,
    };
    let sku = raw
        .data
        .into_iter()
        .map(|e| {
            (
                e.dec,
                Sku {
                    value: e.value,
                    meaning: e.meaning,
                },
            )
        })
        .collect();
    Ok((sku, date))
}

impl LifecycleDb {
    pub(crate) fn sources(&self) -> Vec<KbSource> {
        let mut out: Vec<KbSource> = self
            .eol
            .iter()
            .map(|(name, p)| KbSource {
                name: format!("lifecycle-endoflife/{name}"),
                version: p.commit.clone().unwrap_or_else(|| "unknown".into()),
                date: p.date,
                horizon: None,
                entries: p.cycles.len(),
                origin: p.origin,
            })
            .collect();
        out.push(KbSource {
            name: "lifecycle-microsoft".into(),
            version: self.ms.commit.clone(),
            date: self.ms.date,
            horizon: None,
            entries: self.ms.products.len(),
            origin: self.ms.origin,
        });
        out.push(KbSource {
            name: "windows-sku".into(),
            version: self.sku_version.clone(),
            date: self.sku_date,
            horizon: None,
            entries: self.sku.len(),
            origin: SourceOrigin::Embedded,
        });
        out
    }

    pub(crate) fn sku(&self, code: Option<u32>) -> Option<&Sku> {
        self.sku.get(&code?)
    }

    fn resolve(&self, r: &DateRef) -> Option<(EolDate, String)> {
        match r {
            DateRef::Eol { product, cycle } | DateRef::EolExt { product, cycle } => {
                let p = self.eol.get(product)?;
                let c = p.cycle(cycle)?;
                let (value, field) = match r {
                    DateRef::Eol { .. } => (c.eol?, "eol"),
                    _ => (c.extended?, "extended_support"),
                };
                let commit = p
                    .commit
                    .as_deref()
                    .map(|c| format!(" @{}", &c[..c.len().min(10)]))
                    .unwrap_or_default();
                Some((
                    value,
                    format!("endoflife.date {product} {cycle} {field}{commit}"),
                ))
            }
            DateRef::MsRelease { id, version } => {
                let p = self.ms.products.get(*id)?;
                let (_, end) = p.releases.iter().find(|(v, _)| v.starts_with(version))?;
                Some((
                    EolDate::Date((*end)?),
                    format!(
                        "microsoft lifecycle {id} ({}) \"{version}\" end",
                        p.name.trim()
                    ),
                ))
            }
            DateRef::MsExtended { id } => {
                let p = self.ms.products.get(*id)?;
                let end = p.extended_end.or(p.mainstream_end)?;
                Some((
                    EolDate::Date(end),
                    format!("microsoft lifecycle {id} extended end"),
                ))
            }
            DateRef::MsEsu { id } => {
                let p = self.ms.products.get(*id)?;
                let end = p
                    .releases
                    .iter()
                    .filter(|(v, _)| {
                        v.starts_with("Extended Security Update") && !v.contains("Azure")
                    })
                    .filter_map(|(_, d)| *d)
                    .max()?;
                Some((
                    EolDate::Date(end),
                    format!("microsoft lifecycle {id} last extended security update year"),
                ))
            }
        }
    }
}

// ------------------------------------------------------------------ public types

/// Servicing channel / edition family of an identified OS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OsChannel {
    Client,
    Server,
    /// Windows 10/11 Enterprise LTSB/LTSC.
    Ltsc,
    /// Windows 10/11 IoT Enterprise (LTSC when the product key says so).
    Iot,
    /// Windows Embedded / POSReady / Thin PC.
    Embedded,
}

/// Windows 10/11 edition class: the two have different end-of-servicing dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EditionClass {
    HomePro,
    EnterpriseEducation,
}

/// An OS the knowledge base recognised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnownOs {
    /// Stable key: "windows-7", "windows-10-22h2", "windows-server-2019", "ubuntu-22.04".
    pub key: String,
    /// For people: "Windows 7 SP1", "Windows 10 Enterprise LTSC 2019", "Ubuntu 22.04 'Jammy Jellyfish'".
    pub label: String,
    pub family: OsFamily,
    pub channel: Option<OsChannel>,
    pub edition: Option<EditionClass>,
    /// Service pack level for pre-Windows 10 systems, when known or assumed.
    pub service_pack: Option<u8>,
    /// Windows build number (7601, 19045) when known.
    pub build: Option<u32>,
    pub evidence: Evidence,
    #[serde(skip)]
    pub(crate) lifecycle: LifecycleRef,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum OsProduct {
    Known(KnownOs),
    Unknown { reason: String, evidence: Evidence },
}

impl OsProduct {
    pub fn key(&self) -> Option<&str> {
        match self {
            OsProduct::Known(k) => Some(&k.key),
            OsProduct::Unknown { .. } => None,
        }
    }
    pub fn label(&self) -> &str {
        match self {
            OsProduct::Known(k) => &k.label,
            OsProduct::Unknown { .. } => "unknown os",
        }
    }
    pub fn known(&self) -> Option<&KnownOs> {
        match self {
            OsProduct::Known(k) => Some(k),
            OsProduct::Unknown { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LifecycleStatus {
    /// Security updates continue beyond the look-ahead window (or no end is announced).
    Supported,
    /// Security support ends within [`ENDS_SOON_DAYS`] days (`ends` is the first day without it).
    EndsSoon {
        ends: Day,
        days_left: i32,
    },
    /// Free security support is over; paid extended security updates
    /// (ESU / ESM / ELS / LTSS) still exist until `esu_end`.
    EsuOnly {
        security_end: Day,
        esu_end: Day,
    },
    /// No security updates at all. `since` is the last supported day (`None`
    /// when the source only says "ended" without a date).
    Eol {
        since: Option<Day>,
    },
    Unknown {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleVerdict {
    /// Product label ("Windows 7 SP1") or "unknown os".
    pub product: String,
    pub key: Option<String>,
    pub status: LifecycleStatus,
    /// Last day of free security updates.
    pub security_end: Option<Day>,
    /// Last day of paid extended security updates.
    pub esu_end: Option<Day>,
    pub evidence: Evidence,
}

// ------------------------------------------------------------------ lifecycle references

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DateRef {
    Eol {
        product: String,
        cycle: String,
    },
    EolExt {
        product: String,
        cycle: String,
    },
    MsRelease {
        id: &'static str,
        version: &'static str,
    },
    MsExtended {
        id: &'static str,
    },
    MsEsu {
        id: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LifecycleRef {
    pub security: DateRef,
    pub esu: Option<DateRef>,
}

impl LifecycleRef {
    pub(crate) fn eol(product: &str, cycle: &str, with_ext: bool) -> LifecycleRef {
        LifecycleRef {
            security: DateRef::Eol {
                product: product.into(),
                cycle: cycle.into(),
            },
            esu: with_ext.then(|| DateRef::EolExt {
                product: product.into(),
                cycle: cycle.into(),
            }),
        }
    }
    pub(crate) fn ms_release(id: &'static str, version: &'static str) -> LifecycleRef {
        LifecycleRef {
            security: DateRef::MsRelease { id, version },
            esu: None,
        }
    }
    pub(crate) fn ms_extended(id: &'static str) -> LifecycleRef {
        LifecycleRef {
            security: DateRef::MsExtended { id },
            esu: None,
        }
    }
    pub(crate) fn with_ms_esu(mut self, id: &'static str) -> LifecycleRef {
        self.esu = Some(DateRef::MsEsu { id });
        self
    }
}

// ------------------------------------------------------------------ identification

pub(crate) fn put(e: &mut Evidence, k: &str, v: impl Into<String>) {
    e.insert(k.to_string(), v.into());
}

fn os_evidence(os: &OsFacts) -> Evidence {
    let mut e = Evidence::new();
    put(&mut e, "os.family", os.family.as_str());
    let fields: [(&str, Option<String>); 7] = [
        ("os.name", os.name.clone()),
        ("os.version", os.version.clone()),
        ("os.build", os.build.map(|b| b.to_string())),
        ("os.service_pack", os.service_pack.clone()),
        ("os.display_version", os.display_version.clone()),
        ("os.edition", os.edition.clone()),
        ("os.sku", os.sku.map(|s| s.to_string())),
    ];
    for (k, v) in fields {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            put(&mut e, k, v);
        }
    }
    e
}

pub(crate) fn unknown(reason: impl Into<String>, evidence: Evidence) -> OsProduct {
    OsProduct::Unknown {
        reason: reason.into(),
        evidence,
    }
}

/// endoflife.date product ids for non-Windows OS names, most specific first.
const LINUX_PRODUCTS: &[(&[&str], &str)] = &[
    (&["centos stream"], "centos-stream"),
    (&["centos"], "centos"),
    (&["red hat", "redhat", "rhel"], "rhel"),
    (&["ubuntu"], "ubuntu"),
    (&["debian"], "debian"),
    (&["suse linux enterprise", "sles", "sle "], "sles"),
    (&["almalinux", "alma linux"], "almalinux"),
    (&["rocky"], "rocky-linux"),
    (&["oracle linux", "oracle"], "oracle-linux"),
    (&["fedora"], "fedora"),
];

/// Numeric components of the first version-looking token ("15 SP5" → 15.5).
fn numeric_version(s: &str) -> Vec<u64> {
    let lower = s.to_ascii_lowercase();
    // SLES writes service packs as "15 SP5" / "15-SP5"
    let lower = lower.replace("-sp", ".").replace(" sp", ".");
    let Some(start) = lower.find(|c: char| c.is_ascii_digit()) else {
        return Vec::new();
    };
    lower[start..]
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .unwrap_or("")
        .split('.')
        .map_while(|p| p.parse::<u64>().ok())
        .collect()
}

impl LifecycleDb {
    pub(crate) fn identify(&self, os: &OsFacts) -> OsProduct {
        let mut evidence = os_evidence(os);
        if let Some(s) = self.sku(os.sku) {
            put(
                &mut evidence,
                "os.sku_meaning",
                format!("{} ({})", s.value, s.meaning),
            );
        }
        let name = os.name.as_deref().unwrap_or("");
        match os.family_or_guess() {
            OsFamily::Windows => match win_facts(os, self) {
                Some(w) => self.identify_windows(os, &w, evidence),
                None => unknown(
                    "windows version not recognised (no nt version, build or known product name)",
                    evidence,
                ),
            },
            OsFamily::Macos => self.identify_eol_product("macos", os, evidence),
            OsFamily::Linux => {
                let lower = format!(" {} ", name.to_ascii_lowercase());
                match LINUX_PRODUCTS
                    .iter()
                    .find(|(needles, _)| needles.iter().any(|n| lower.contains(n)))
                {
                    Some((_, product)) => self.identify_eol_product(product, os, evidence),
                    None => unknown(
                        format!("linux distribution not in the lifecycle data: {name:?}"),
                        evidence,
                    ),
                }
            }
            OsFamily::Bsd | OsFamily::Other => {
                unknown("os family without lifecycle data", evidence)
            }
        }
    }

    fn identify_eol_product(
        &self,
        product: &str,
        os: &OsFacts,
        mut evidence: Evidence,
    ) -> OsProduct {
        let Some(p) = self.eol.get(product) else {
            return unknown(format!("no lifecycle data for {product}"), evidence);
        };
        let name = os.name.as_deref().unwrap_or("");
        let version_text = os
            .version
            .as_deref()
            .filter(|v| v.chars().any(|c| c.is_ascii_digit()))
            .unwrap_or(name);
        let have = numeric_version(version_text);
        // Longest cycle whose numbers are a prefix of the reported version:
        // Ubuntu 22.04.4 → 22.04, macOS 14.4.1 → 14, macOS 10.15.7 → 10.15.
        let by_number = p
            .cycles
            .iter()
            .filter_map(|c| {
                let want = numeric_version(&c.cycle);
                (!want.is_empty() && want.len() <= have.len() && have[..want.len()] == want[..])
                    .then_some((want.len(), c))
            })
            .max_by_key(|(n, _)| *n)
            .map(|(_, c)| c);
        let lower = format!("{} {}", name, os.version.as_deref().unwrap_or("")).to_lowercase();
        let by_codename = || {
            p.cycles.iter().find(|c| {
                c.codename.as_deref().is_some_and(|code| {
                    let first = code.split_whitespace().next().unwrap_or("").to_lowercase();
                    first.len() >= 4 && lower.contains(&first)
                })
            })
        };
        let Some(cycle) = by_number.or_else(by_codename) else {
            return unknown(
                format!("{} release not recognised from {:?}", p.title, version_text),
                evidence,
            );
        };
        put(
            &mut evidence,
            "lifecycle.cycle",
            format!("{product} {}", cycle.cycle),
        );
        let label = if cycle.label.starts_with(|c: char| c.is_ascii_digit()) {
            format!("{} {}", p.title, cycle.label)
        } else {
            cycle.label.clone()
        };
        OsProduct::Known(KnownOs {
            key: format!("{product}-{}", cycle.cycle),
            label,
            family: os.family,
            channel: None,
            edition: None,
            service_pack: None,
            build: None,
            evidence,
            lifecycle: LifecycleRef::eol(product, &cycle.cycle, true),
        })
    }

    pub(crate) fn verdict(&self, product: &OsProduct, on: Day) -> LifecycleVerdict {
        let known = match product {
            OsProduct::Unknown { reason, evidence } => {
                return LifecycleVerdict {
                    product: "unknown os".into(),
                    key: None,
                    status: LifecycleStatus::Unknown {
                        reason: reason.clone(),
                    },
                    security_end: None,
                    esu_end: None,
                    evidence: evidence.clone(),
                };
            }
            OsProduct::Known(k) => k,
        };
        let mut evidence = known.evidence.clone();
        put(&mut evidence, "product", known.label.clone());
        put(&mut evidence, "evaluated_on", on.to_string());
        let unknown_status = |reason: String, evidence: Evidence| LifecycleVerdict {
            product: known.label.clone(),
            key: Some(known.key.clone()),
            status: LifecycleStatus::Unknown { reason },
            security_end: None,
            esu_end: None,
            evidence,
        };
        let Some((security, source)) = self.resolve(&known.lifecycle.security) else {
            return unknown_status(format!("no lifecycle dates for {}", known.label), evidence);
        };
        put(&mut evidence, "lifecycle.source", source);
        let esu = known.lifecycle.esu.as_ref().and_then(|r| self.resolve(r));
        let security_end = match security {
            EolDate::Date(d) => d,
            EolDate::NotEnded => {
                put(&mut evidence, "security_end", "not announced");
                return LifecycleVerdict {
                    product: known.label.clone(),
                    key: Some(known.key.clone()),
                    status: LifecycleStatus::Supported,
                    security_end: None,
                    esu_end: None,
                    evidence,
                };
            }
            EolDate::Ended => {
                put(&mut evidence, "security_end", "ended (date unknown)");
                return LifecycleVerdict {
                    product: known.label.clone(),
                    key: Some(known.key.clone()),
                    status: LifecycleStatus::Eol { since: None },
                    security_end: None,
                    esu_end: None,
                    evidence,
                };
            }
        };
        put(&mut evidence, "security_end", security_end.to_string());
        let esu_end = match esu {
            Some((EolDate::Date(d), src)) if d > security_end => {
                put(&mut evidence, "esu_end", d.to_string());
                put(&mut evidence, "esu.source", src);
                Some(d)
            }
            _ => None,
        };
        // the end date is the first day without support (Microsoft: "reached
        // end of support on January 10, 2023"), whatever was released on it
        let status = if on < security_end {
            let days_left = security_end.days_since(on);
            if days_left <= ENDS_SOON_DAYS {
                LifecycleStatus::EndsSoon {
                    ends: security_end,
                    days_left,
                }
            } else {
                LifecycleStatus::Supported
            }
        } else {
            match esu_end {
                Some(e) if on < e => LifecycleStatus::EsuOnly {
                    security_end,
                    esu_end: e,
                },
                _ => LifecycleStatus::Eol {
                    since: Some(security_end),
                },
            }
        };
        LifecycleVerdict {
            product: known.label.clone(),
            key: Some(known.key.clone()),
            status,
            security_end: Some(security_end),
            esu_end,
            evidence,
        }
    }

    fn identify_windows(&self, os: &OsFacts, w: &WinFacts, evidence: Evidence) -> OsProduct {
        crate::windows::identify(self, os, w, evidence)
    }
}
