//! CISA KEV catalog, affected-version data, and matching of installed
//! software against them.
//!
//! Matching is built for precision: a software name must *equal* a product
//! name (after normalisation, with the vendor prefix and trailing edition words
//! removed), never merely contain it; generic product names need vendor
//! evidence; operating-system products never match installed software.

use crate::error::KbError;
use crate::raw::{self, Affected, Cve5Version};
use crate::ver::{Ver, clean_version, is_unbounded_marker};
use crate::{KbSource, SourceOrigin};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use vigie_core::{Day, Evidence, FindingStatus, Software};

/// One KEV CVE that applies to an installed software.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KevMatch {
    pub cve: String,
    /// KEV `vendorProject`.
    pub vendor: String,
    /// KEV `product`.
    pub product: String,
    pub vulnerability_name: String,
    pub date_added: Day,
    pub due_date: Option<Day>,
    pub ransomware_known: bool,
    /// `Confirmed`: the installed version is inside an affected range or equals
    /// an enumerated affected version. `NeedsReview`: the product matched but
    /// the version cannot be decided (unknown installed version, no version
    /// data for the product, or a range with an unusable bound).
    pub confidence: FindingStatus,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct KevInfo {
    pub cve: String,
    pub vendor: String,
    pub product: String,
    pub name: String,
    pub date_added: Day,
    pub due_date: Option<Day>,
    pub ransomware_known: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub version: String,
    pub date: Option<Day>,
    pub entries: Vec<KevInfo>,
    pub origin: SourceOrigin,
}

#[derive(Debug, Clone)]
pub(crate) struct AffectedData {
    pub version: String,
    pub by_cve: HashMap<String, Vec<Affected>>,
    pub origin: SourceOrigin,
}

pub(crate) const KEV_FILE: &str = "known_exploited_vulnerabilities.json";
pub(crate) const AFFECTED_FILE: &str = "kev-affected.json";

pub(crate) fn parse_catalog(
    file: &str,
    bytes: &[u8],
    origin: SourceOrigin,
) -> Result<Catalog, KbError> {
    let raw: raw::KevCatalog = raw::from_json(file, bytes)?;
    if raw.catalog_version.trim().is_empty() {
        return Err(KbError::invalid(
            file,
            "catalogVersion",
            "empty catalog version",
        ));
    }
    if raw.vulnerabilities.is_empty() {
        return Err(KbError::invalid(file, "vulnerabilities", "empty catalog"));
    }
    if let Some(count) = raw.count
        && count != raw.vulnerabilities.len()
    {
        return Err(KbError::invalid(
            file,
            "count",
            format!(
                "says {count} but {} vulnerabilities are listed",
                raw.vulnerabilities.len()
            ),
        ));
    }
    let date = raw::opt_day(file, || "dateReleased".into(), raw.date_released.as_deref())?;
    let mut seen = HashSet::new();
    let mut entries = Vec::with_capacity(raw.vulnerabilities.len());
    for (i, v) in raw.vulnerabilities.into_iter().enumerate() {
        let path = |field: &str| format!("vulnerabilities[{i}].{field}");
        if !v.cve_id.starts_with("CVE-") {
            return Err(KbError::invalid(
                file,
                path("cveID"),
                format!("not a cve id: {:?}", v.cve_id),
            ));
        }
        if !seen.insert(v.cve_id.clone()) {
            return Err(KbError::invalid(
                file,
                path("cveID"),
                format!("duplicate {}", v.cve_id),
            ));
        }
        let date_added = raw::day(file, || path("dateAdded"), &v.date_added)?;
        let due_date = raw::opt_day(file, || path("dueDate"), v.due_date.as_deref())?;
        entries.push(KevInfo {
            ransomware_known: v
                .known_ransomware_campaign_use
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case("known")),
            cve: v.cve_id,
            vendor: v.vendor_project.trim().to_string(),
            product: v.product.trim().to_string(),
            name: v.vulnerability_name,
            date_added,
            due_date,
        });
    }
    Ok(Catalog {
        version: raw.catalog_version,
        date,
        entries,
        origin,
    })
}

pub(crate) fn parse_affected(
    file: &str,
    bytes: &[u8],
    origin: SourceOrigin,
) -> Result<AffectedData, KbError> {
    let raw: raw::AffectedFile = raw::from_json(file, bytes)?;
    if let Some(count) = raw.count
        && count != raw.vulnerabilities.len()
    {
        return Err(KbError::invalid(
            file,
            "count",
            format!(
                "says {count} but {} vulnerabilities are listed",
                raw.vulnerabilities.len()
            ),
        ));
    }
    let mut by_cve = HashMap::with_capacity(raw.vulnerabilities.len());
    for (i, v) in raw.vulnerabilities.into_iter().enumerate() {
        if !v.cve.starts_with("CVE-") {
            return Err(KbError::invalid(
                file,
                format!("vulnerabilities[{i}].cve"),
                format!("not a cve id: {:?}", v.cve),
            ));
        }
        for (j, a) in v.affected.iter().enumerate() {
            if a.criteria.is_none() && a.product.is_none() {
                return Err(KbError::invalid(
                    file,
                    format!("vulnerabilities[{i}].affected[{j}]"),
                    "neither a cpe criteria nor a product",
                ));
            }
        }
        by_cve.insert(v.cve, v.affected);
    }
    Ok(AffectedData {
        version: raw.kev_catalog_version,
        by_cve,
        origin,
    })
}

// ------------------------------------------------------------------ rules

#[derive(Debug, Clone)]
struct Bound {
    v: Ver,
    inclusive: bool,
}

#[derive(Debug, Clone)]
enum Cond {
    /// Half-open or closed range; `None` bounds are open.
    Range {
        start: Option<Bound>,
        end: Option<Bound>,
        unaffected: bool,
    },
    /// One enumerated version.
    Exact { v: Ver, unaffected: bool },
    /// Lower bound known, upper bound unusable (e.g. a URL): cannot confirm.
    OpenEnded { start: Option<Ver> },
}

#[derive(Debug, Clone)]
struct Rule {
    cve: u32,
    vendor: Vec<String>,
    generic: bool,
    default_affected: bool,
    conds: Vec<Cond>,
    /// Where the rule comes from, for evidence ("nvd google:chrome").
    what: String,
}

enum Eval {
    Affected(String),
    /// A definite "this version is not affected".
    NotAffected,
    Indeterminate(String),
}

impl Bound {
    fn describe(&self, below: bool) -> String {
        let op = match (below, self.inclusive) {
            (true, true) => "<=",
            (true, false) => "<",
            (false, true) => ">=",
            (false, false) => ">",
        };
        format!("{op} {}", self.v.as_str())
    }
}

/// Year-style versions (Office "2016", Citrix "1904") and semantic versions
/// (16.0.4266, 22.3.0) of the same product do not compare.
fn same_scheme(a: &Ver, b: &Ver) -> bool {
    match (a.major(), b.major()) {
        (Some(x), Some(y)) => (x >= 1000) == (y >= 1000),
        _ => true,
    }
}

fn range_comparable(v: &Ver, start: &Option<Bound>, end: &Option<Bound>) -> bool {
    start.iter().chain(end).all(|b| same_scheme(v, &b.v))
}

fn in_range(v: &Ver, start: &Option<Bound>, end: &Option<Bound>) -> bool {
    use std::cmp::Ordering::*;
    let after_start = match start {
        None => true,
        Some(b) => matches!((v.cmp_to(&b.v), b.inclusive), (Greater, _) | (Equal, true)),
    };
    let before_end = match end {
        None => true,
        Some(b) => matches!((v.cmp_to(&b.v), b.inclusive), (Less, _) | (Equal, true)),
    };
    after_start && before_end
}

/// Builds an explanation only when asked: lookups evaluate many rules and
/// explain only the one that decides the verdict.
macro_rules! why {
    ($explain:expr, $($arg:tt)*) => {
        if $explain { format!($($arg)*) } else { String::new() }
    };
}

impl Rule {
    fn eval(&self, v: Option<&Ver>, explain: bool) -> Eval {
        let Some(v) = v else {
            return Eval::Indeterminate(why!(explain, "installed version unknown ({})", self.what));
        };
        if self.conds.is_empty() {
            return Eval::Indeterminate(why!(
                explain,
                "no version information for this product ({})",
                self.what
            ));
        }
        // Unaffected ranges first: with defaultStatus "affected" they are the
        // only thing that clears a version.
        for c in &self.conds {
            match c {
                Cond::Range {
                    start,
                    end,
                    unaffected: true,
                } if range_comparable(v, start, end) && in_range(v, start, end) => {
                    return Eval::NotAffected;
                }
                Cond::Exact {
                    v: e,
                    unaffected: true,
                } if v.cmp_to(e).is_eq() => return Eval::NotAffected,
                _ => {}
            }
        }
        let mut definite = false;
        let mut open = false;
        let mut scheme_mismatch = false;
        let mut same_line_higher: Option<&Ver> = None;
        for c in &self.conds {
            match c {
                Cond::Range {
                    start,
                    end,
                    unaffected: false,
                } if !range_comparable(v, start, end) => {
                    scheme_mismatch = true;
                }
                Cond::Range {
                    start,
                    end,
                    unaffected: false,
                } => {
                    definite = true;
                    if in_range(v, start, end) {
                        if !explain {
                            return Eval::Affected(String::new());
                        }
                        let parts: Vec<String> = start
                            .iter()
                            .map(|s| s.describe(false))
                            .chain(end.iter().map(|e| e.describe(true)))
                            .collect();
                        let range = if parts.is_empty() {
                            "any version".to_string()
                        } else {
                            parts.join(" and ")
                        };
                        return Eval::Affected(why!(
                            explain,
                            "{} is {range} ({})",
                            v.as_str(),
                            self.what
                        ));
                    }
                }
                Cond::Exact {
                    v: e,
                    unaffected: false,
                } => {
                    definite = true;
                    if v.cmp_to(e).is_eq() {
                        return Eval::Affected(why!(
                            explain,
                            "{} is an enumerated affected version ({})",
                            v.as_str(),
                            self.what
                        ));
                    }
                    if v.major().is_some() && v.major() == e.major() && v.cmp_to(e).is_lt() {
                        same_line_higher = Some(e);
                    }
                }
                Cond::OpenEnded { start } => match start {
                    Some(s) if v.cmp_to(s).is_lt() => definite = true,
                    _ => open = true,
                },
                Cond::Range {
                    unaffected: true, ..
                }
                | Cond::Exact {
                    unaffected: true, ..
                } => definite = true,
            }
        }
        if self.default_affected && definite {
            return Eval::Affected(why!(
                explain,
                "{} is in no unaffected range and the default status is affected ({})",
                v.as_str(),
                self.what
            ));
        }
        if open {
            return Eval::Indeterminate(why!(
                explain,
                "affected range has no usable upper bound ({})",
                self.what
            ));
        }
        if scheme_mismatch && !definite {
            return Eval::Indeterminate(why!(
                explain,
                "{} and the affected range use different version schemes ({})",
                v.as_str(),
                self.what
            ));
        }
        if let Some(e) = same_line_higher {
            // Enumerations are not exhaustive: an older build of a listed
            // release line is probably affected too, but not provably.
            return Eval::Indeterminate(why!(
                explain,
                "{} is older than the enumerated affected version {} of the same line ({})",
                v.as_str(),
                e.as_str(),
                self.what
            ));
        }
        if definite {
            Eval::NotAffected
        } else {
            Eval::Indeterminate(why!(explain, "no usable version bounds ({})", self.what))
        }
    }
}

// ------------------------------------------------------------------ text normalisation

/// Product words that say nothing on their own: a product made only of them
/// needs vendor evidence to match.
const GENERIC: &[&str] = &[
    "windows",
    "office",
    "server",
    "client",
    "reader",
    "player",
    "core",
    "kernel",
    "framework",
    "webmail",
    "mail",
    "multiple",
    "products",
    "product",
    "system",
    "systems",
    "agent",
    "gateway",
    "manager",
    "management",
    "suite",
    "viewer",
    "desktop",
    "plugin",
    "app",
    "apps",
    "service",
    "services",
    "runtime",
    "tools",
    "tool",
    "studio",
    "cloud",
    "platform",
    "portal",
    "console",
    "network",
    "browser",
    "firmware",
    "router",
    "firewall",
    "appliance",
    "connect",
    "access",
    "secure",
    "security",
    "internet",
    "explorer",
    "edge",
    "web",
    "media",
    "center",
    "remote",
    "update",
    "updater",
    "support",
    "assistant",
    "driver",
    "drivers",
    "package",
    "components",
    "component",
    "sdk",
    "for",
    "and",
    "the",
    "of",
    "photo",
    "station",
    "backup",
    "replication",
    "os",
    "software",
    "enterprise",
    "pro",
    "professional",
    "standard",
    "express",
    "live",
    "online",
    "link",
    "mobile",
    "devices",
    "device",
    "chipsets",
];

/// Trailing words an inventory adds to a product name ("Acrobat Reader DC",
/// "Office Professional Plus"); dropped one at a time to find the product.
const EDITION: &[&str] = &[
    "dc",
    "pro",
    "professional",
    "plus",
    "proplus",
    "standard",
    "enterprise",
    "home",
    "business",
    "student",
    "premium",
    "ultimate",
    "edition",
    "ppapi",
    "npapi",
    "activex",
    "mui",
];

/// Corporate words dropped from publishers ("Google LLC" → google).
const CORPORATE: &[&str] = &[
    "inc",
    "llc",
    "ltd",
    "corporation",
    "corp",
    "co",
    "gmbh",
    "sa",
    "sas",
    "ag",
    "limited",
    "incorporated",
    "foundation",
    "the",
    "software",
    "systems",
    "technologies",
    "project",
    "bv",
    "srl",
    "spa",
    "plc",
    "kk",
    "oy",
    "ab",
    "as",
    "pty",
    "contributors",
    "team",
    "community",
];

/// Vendors whose publisher string differs from the CPE/KEV vendor.
const VENDOR_ALIASES: &[(&str, &str)] = &[
    ("rarlab", "win rar"),
    ("7 zip", "igor pavlov"),
    ("sun", "oracle"),
    ("oracle", "sun"),
    ("libreoffice", "document"),
    ("notepad plus plus", "notepad"),
    ("python", "python"),
    ("mozilla", "mozilla"),
];

/// Inventory product names whose CPE product is spelled differently.
const PRODUCT_ALIASES: &[(&str, &[&str])] = &[
    ("java", &["jre", "java se", "java runtime environment"]),
    (
        "java update",
        &["jre", "java se", "java runtime environment"],
    ),
    ("java se runtime environment", &["jre", "java se"]),
    ("java se development kit", &["jdk", "java se"]),
    ("java se development kit update", &["jdk", "java se"]),
    ("jdk", &["jdk", "java se"]),
    ("notepad", &["notepad plus plus"]),
];

fn is_version_word(w: &str) -> bool {
    // "v1.2" is a version, "V8" (the JavaScript engine) is a product
    let w = match w.strip_prefix('v') {
        Some(rest) if rest.contains('.') => rest,
        Some(_) => return false,
        None => w,
    };
    let mut chars = w.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_digit()) {
        return false;
    }
    let letters = w.chars().filter(|c| c.is_alphabetic()).count();
    letters <= 2
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

fn is_arch_word(w: &str) -> bool {
    matches!(
        w,
        "x64"
            | "x86"
            | "x86_64"
            | "x86-64"
            | "amd64"
            | "arm64"
            | "ia64"
            | "win64"
            | "win32"
            | "64-bit"
            | "32-bit"
            | "64bit"
            | "32bit"
            | "64-bits"
            | "32-bits"
            | "x32"
    )
}

fn is_locale_word(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() == 5 && b[2] == b'-' && b[..2].iter().chain(&b[3..]).all(u8::is_ascii_alphabetic)
}

/// Lowercase product tokens of a name: bracketed parts, version numbers,
/// architectures and locales dropped; punctuation and `_` split words.
pub(crate) fn name_tokens(s: &str) -> Vec<String> {
    let lower = s.to_lowercase();
    let mut cleaned = String::with_capacity(lower.len());
    let mut depth = 0u32;
    for c in lower.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => {
                depth = depth.saturating_sub(1);
                cleaned.push(' ');
            }
            _ if depth == 0 => cleaned.push(c),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for word in cleaned.split(|c: char| c.is_whitespace() || c == ',' || c == '/') {
        if word.is_empty() || is_version_word(word) || is_arch_word(word) || is_locale_word(word) {
            continue;
        }
        for t in word.split(|c: char| !c.is_alphanumeric()) {
            // single letters are leftovers of "(R)", "C++" and the like
            if t.is_empty()
                || t == "tm"
                || (t.len() == 1 && t.chars().all(|c| c.is_ascii_alphabetic()))
            {
                continue;
            }
            out.push(t.to_string());
        }
    }
    out
}

fn publisher_tokens(p: Option<&str>) -> Vec<String> {
    p.map(name_tokens)
        .unwrap_or_default()
        .into_iter()
        .filter(|t| !CORPORATE.contains(&t.as_str()))
        .collect()
}

fn starts_with(have: &[String], prefix: &[String]) -> bool {
    !prefix.is_empty() && have.len() >= prefix.len() && have.iter().zip(prefix).all(|(a, b)| a == b)
}

fn contains_run(have: &[String], run: &[String]) -> bool {
    !run.is_empty() && have.windows(run.len()).any(|w| w == run)
}

/// Does this list of tokens (a stripped name prefix or a publisher) name the vendor?
fn names_vendor(have: &[String], vendor: &[String]) -> bool {
    if have.is_empty() || vendor.is_empty() {
        return false;
    }
    if contains_run(have, vendor) || have[0] == vendor[0] {
        return true;
    }
    let v = vendor.join(" ");
    let h = have.join(" ");
    VENDOR_ALIASES
        .iter()
        .any(|(a, b)| *a == v && h.starts_with(b))
}

fn is_generic(tokens: &[String]) -> bool {
    tokens
        .iter()
        .all(|t| GENERIC.contains(&t.as_str()) || t.len() <= 2)
}

/// Operating-system products: never matched against installed software (the
/// OS verdicts cover them).
fn is_os_level(vendor: &[String], product: &[String]) -> bool {
    let first = product.first().map(String::as_str).unwrap_or("");
    let v = vendor.first().map(String::as_str).unwrap_or("");
    if product.iter().any(|t| t == "multiple") {
        return true;
    }
    match v {
        // Internet Explorer and the EdgeHTML "Edge" of the KEV entries are
        // Windows components, not separately installed software (Chromium
        // Edge is CPE product edge_chromium).
        "microsoft" => {
            matches!(first, "windows" | "win32k")
                || product.iter().any(|t| t == "win32k" || t == "smbv1")
                || product == ["edge"]
                || product == ["internet", "explorer"]
        }
        "apple" => matches!(
            first,
            "ios" | "ipados" | "macos" | "mac" | "watchos" | "tvos" | "visionos" | "iphone"
        ),
        "linux" => first == "kernel" || first == "linux",
        "android" | "google" => matches!(first, "android" | "pixel"),
        _ => false,
    }
}

/// Removes the vendor's tokens from the front of a product name
/// ("Microsoft Office 2019" under vendor Microsoft → office).
fn strip_vendor(product: Vec<String>, vendor: &[String]) -> Vec<String> {
    if starts_with(&product, vendor) && product.len() > vendor.len() {
        product[vendor.len()..].to_vec()
    } else {
        product
    }
}

/// Splits a CPE 2.3 formatted string on unescaped colons.
fn cpe_fields(cpe: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(13);
    let mut cur = String::new();
    let mut escaped = false;
    for c in cpe.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ':' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn usable_bound(s: &Option<String>) -> Option<Ver> {
    let s = s.as_deref()?.trim();
    if s.is_empty()
        || is_unbounded_marker(s)
        || s.contains('*')
        || !vigie_core::version::is_versionish(s)
    {
        return None;
    }
    // A bound that is a URL or prose cannot be compared.
    if s.contains("://") || s.contains(' ') && !clean_version(s).chars().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    Some(Ver::parse(clean_version(s)))
}

/// Combines a CPE version and update field ("1.7.0" + "update10" → 1.7.0_10).
fn cpe_version(version: &str, update: &str) -> String {
    let u = update.trim_start_matches("update").trim_start_matches('_');
    if update == "*" || update == "-" || update.is_empty() {
        version.to_string()
    } else if update.starts_with("update") && u.chars().all(|c| c.is_ascii_digit()) && !u.is_empty()
    {
        format!("{version}_{u}")
    } else {
        format!("{version}.{update}")
    }
}

struct RuleDraft {
    vendor: Vec<String>,
    product: Vec<String>,
    default_affected: bool,
    conds: Vec<Cond>,
    what: String,
}

fn nvd_rule(a: &Affected) -> Option<(RuleDraft, String)> {
    let criteria = a.criteria.as_deref()?;
    if a.vulnerable == Some(false) {
        return None;
    }
    let f = cpe_fields(criteria);
    if f.len() < 7 || f[2] != "a" {
        return None;
    }
    let vendor = name_tokens(&f[3].replace('_', " "));
    let product = strip_vendor(name_tokens(&f[4].replace('_', " ")), &vendor);
    let mut conds = Vec::new();
    let version = f[5].as_str();
    if version != "*" && version != "-" {
        conds.push(Cond::Exact {
            v: Ver::parse(&cpe_version(version, &f[6])),
            unaffected: false,
        });
    } else {
        let start = a
            .version_start_including
            .as_ref()
            .map(|s| Bound {
                v: Ver::parse(s),
                inclusive: true,
            })
            .or_else(|| {
                a.version_start_excluding.as_ref().map(|s| Bound {
                    v: Ver::parse(s),
                    inclusive: false,
                })
            });
        let end = a
            .version_end_excluding
            .as_ref()
            .map(|s| Bound {
                v: Ver::parse(s),
                inclusive: false,
            })
            .or_else(|| {
                a.version_end_including.as_ref().map(|s| Bound {
                    v: Ver::parse(s),
                    inclusive: true,
                })
            });
        if start.is_some() || end.is_some() {
            conds.push(Cond::Range {
                start,
                end,
                unaffected: false,
            });
        }
    }
    // NVD lists one row per enumerated version: rows of one CVE and product merge.
    let merge_key = format!("{}:{}:{}", a.origin, f[3], f[4]);
    let what = format!("{} cpe {}:{}", a.origin, f[3], f[4]);
    Some((
        RuleDraft {
            vendor,
            product,
            default_affected: false,
            conds,
            what,
        },
        merge_key,
    ))
}

fn cve5_cond(v: &Cve5Version) -> Option<Cond> {
    let unaffected = match v.status.as_deref() {
        Some("affected") => false,
        Some("unaffected") => true,
        _ => return None,
    };
    if v.version_type.as_deref() == Some("git") {
        return None;
    }
    let raw_start = v.version.as_deref().unwrap_or("");
    let start = (!is_unbounded_marker(raw_start) && vigie_core::version::is_versionish(raw_start))
        .then(|| Ver::parse(clean_version(raw_start)));
    let upper = v
        .less_than
        .as_ref()
        .map(|s| (s, false))
        .or_else(|| v.less_than_or_equal.as_ref().map(|s| (s, true)));
    match upper {
        Some((bound, inclusive)) => match usable_bound(&Some(bound.clone())) {
            Some(end) => {
                // Some CNAs put the fixed version in both fields ("128.0.6613.84
                // lessThan 128.0.6613.84"): that means "below the fix".
                let start =
                    start.filter(|s| s.cmp_to(&end).is_lt() || inclusive && s.cmp_to(&end).is_eq());
                Some(Cond::Range {
                    start: start.map(|v| Bound { v, inclusive: true }),
                    end: Some(Bound { v: end, inclusive }),
                    unaffected,
                })
            }
            None if unaffected => None,
            None => Some(Cond::OpenEnded { start }),
        },
        None => start.map(|v| Cond::Exact { v, unaffected }),
    }
}

fn cve5_rule(a: &Affected) -> Option<RuleDraft> {
    let vendor_raw = a.vendor.as_deref().unwrap_or("");
    let product_raw = a.product.as_deref()?;
    if is_unbounded_marker(product_raw) || is_unbounded_marker(vendor_raw) {
        return None;
    }
    let vendor = name_tokens(&vendor_raw.replace('_', " "));
    let product = strip_vendor(name_tokens(&product_raw.replace('_', " ")), &vendor);
    let conds = a.versions.iter().flatten().filter_map(cve5_cond).collect();
    Some(RuleDraft {
        vendor,
        product,
        default_affected: a.default_status.as_deref() == Some("affected"),
        conds,
        what: format!("{} {vendor_raw}/{product_raw}", a.origin),
    })
}

/// Product names a KEV `product` text stands for: "Acrobat and Reader" →
/// acrobat, reader, acrobat reader; "Chromium V8" → chromium v8, chromium.
fn kev_text_products(product: &str, vendor: &[String]) -> Vec<Vec<String>> {
    let normalised = product.replace(" and ", ",").replace('&', ",");
    let alts: Vec<Vec<String>> = normalised
        .split(',')
        .map(|p| strip_vendor(name_tokens(p.trim()), vendor))
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = alts.clone();
    if alts.len() == 2 {
        out.push([alts[0].clone(), alts[1].clone()].concat());
        out.push([alts[1].clone(), alts[0].clone()].concat());
    }
    for a in &alts {
        if a.len() > 1 && a[0] == "chromium" {
            out.push(vec!["chromium".to_string()]);
        }
    }
    out.sort();
    out.dedup();
    out
}

// ------------------------------------------------------------------ the database

#[derive(Debug, Clone)]
pub(crate) struct KevDb {
    pub catalog: Catalog,
    pub affected: AffectedData,
    rules: Vec<Rule>,
    index: HashMap<String, Vec<u32>>,
    text_rules: Vec<Rule>,
    text_index: HashMap<String, Vec<u32>>,
    /// Per catalog entry: the affected-version data names at least one
    /// application. The KEV vendor/product text is only a fallback for CVEs
    /// without such data; otherwise the data says which products are affected.
    has_app_data: Vec<bool>,
}

impl KevDb {
    pub(crate) fn build(catalog: Catalog, affected: AffectedData) -> KevDb {
        let mut rules: Vec<Rule> = Vec::new();
        let mut index: HashMap<String, Vec<u32>> = HashMap::new();
        let mut text_rules: Vec<Rule> = Vec::new();
        let mut text_index: HashMap<String, Vec<u32>> = HashMap::new();
        let mut has_app_data = vec![false; catalog.entries.len()];
        for (ci, info) in catalog.entries.iter().enumerate() {
            let cve = ci as u32;
            let mut merged: HashMap<String, usize> = HashMap::new();
            for a in affected.by_cve.get(&info.cve).into_iter().flatten() {
                let (draft, merge_key) = if a.criteria.is_some() {
                    match nvd_rule(a) {
                        Some((d, k)) => (d, Some(k)),
                        None => continue,
                    }
                } else {
                    match cve5_rule(a) {
                        Some(d) => (d, None),
                        None => continue,
                    }
                };
                if draft.product.is_empty() || is_os_level(&draft.vendor, &draft.product) {
                    continue;
                }
                has_app_data[ci] = true;
                if let Some(&at) = merge_key.as_ref().and_then(|k| merged.get(k)) {
                    rules[at].conds.extend(draft.conds);
                    continue;
                }
                let key = draft.product.join(" ");
                let at = rules.len();
                rules.push(Rule {
                    cve,
                    generic: is_generic(&draft.product),
                    vendor: draft.vendor,
                    default_affected: draft.default_affected,
                    conds: draft.conds,
                    what: draft.what,
                });
                index.entry(key).or_default().push(at as u32);
                if let Some(k) = merge_key {
                    merged.insert(k, at);
                }
            }
            let vendor = name_tokens(&info.vendor);
            for product in kev_text_products(&info.product, &vendor) {
                if is_os_level(&vendor, &product) {
                    continue;
                }
                let at = text_rules.len() as u32;
                text_rules.push(Rule {
                    cve,
                    generic: is_generic(&product),
                    vendor: vendor.clone(),
                    default_affected: false,
                    conds: Vec::new(),
                    what: format!("cisa-kev {}/{}", info.vendor, info.product),
                });
                text_index.entry(product.join(" ")).or_default().push(at);
            }
        }
        KevDb {
            catalog,
            affected,
            rules,
            index,
            text_rules,
            text_index,
            has_app_data,
        }
    }

    pub(crate) fn sources(&self) -> [KbSource; 2] {
        [
            KbSource {
                name: "cisa-kev".into(),
                version: self.catalog.version.clone(),
                date: self.catalog.date,
                horizon: None,
                entries: self.catalog.entries.len(),
                origin: self.catalog.origin,
            },
            KbSource {
                name: "kev-affected".into(),
                version: self.affected.version.clone(),
                date: None,
                horizon: None,
                entries: self.affected.by_cve.len(),
                origin: self.affected.origin,
            },
        ]
    }

    pub(crate) fn lookup(&self, sw: &Software) -> Vec<KevMatch> {
        let tokens = name_tokens(&sw.name);
        if tokens.is_empty() {
            return Vec::new();
        }
        let publisher = publisher_tokens(sw.publisher.as_deref());
        let version = installed_version(sw, &tokens);
        let candidates = candidates(&tokens);

        // (cve, outcome, rule id, from the KEV text index)
        let mut hits: Vec<(u32, Eval, u32, bool)> = Vec::new();
        let mut structured_cves: Vec<u32> = Vec::new();
        for (key, hint_len) in &candidates {
            let hint = (*hint_len > 0).then(|| &tokens[..*hint_len]);
            if let Some(ids) = self.index.get(key) {
                for &id in ids {
                    let rule = &self.rules[id as usize];
                    if vendor_ok(rule, hint, &publisher) {
                        structured_cves.push(rule.cve);
                        hits.push((rule.cve, rule.eval(version.as_ref(), false), id, false));
                    }
                }
            }
        }
        for (key, hint_len) in &candidates {
            let hint = (*hint_len > 0).then(|| &tokens[..*hint_len]);
            if let Some(ids) = self.text_index.get(key) {
                for &id in ids {
                    let rule = &self.text_rules[id as usize];
                    let fallback = !self.has_app_data[rule.cve as usize]
                        && !structured_cves.contains(&rule.cve);
                    if fallback && vendor_ok(rule, hint, &publisher) {
                        hits.push((rule.cve, Eval::Indeterminate(String::new()), id, true));
                    }
                }
            }
        }
        if hits.is_empty() {
            return Vec::new();
        }
        hits.sort_by_key(|h| h.0);
        let mut out = Vec::new();
        let mut i = 0;
        while i < hits.len() {
            let cve = hits[i].0;
            let mut j = i;
            while j < hits.len() && hits[j].0 == cve {
                j += 1;
            }
            let group = &hits[i..j];
            i = j;
            let decisive = match group.iter().find(|h| matches!(h.1, Eval::Affected(_))) {
                Some(h) => Some((FindingStatus::Confirmed, h)),
                None if group.iter().any(|h| matches!(h.1, Eval::NotAffected)) => None,
                None => group
                    .iter()
                    .find(|h| matches!(h.1, Eval::Indeterminate(_)))
                    .map(|h| (FindingStatus::NeedsReview, h)),
            };
            let Some((confidence, &(_, _, rule_id, text_only))) = decisive else {
                continue;
            };
            let why = if text_only {
                let rule = &self.text_rules[rule_id as usize];
                match &version {
                    None => format!("installed version unknown ({})", rule.what),
                    Some(_) => format!("no affected-version data for this product ({})", rule.what),
                }
            } else {
                match self.rules[rule_id as usize].eval(version.as_ref(), true) {
                    Eval::Affected(why) | Eval::Indeterminate(why) => why,
                    Eval::NotAffected => String::new(),
                }
            };
            let info = &self.catalog.entries[cve as usize];
            let mut evidence = Evidence::new();
            evidence.insert("software.name".into(), sw.name.clone());
            evidence.insert(
                "software.version".into(),
                version
                    .as_ref()
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_else(|| "unknown".into()),
            );
            if let Some(p) = &sw.publisher {
                evidence.insert("software.publisher".into(), p.clone());
            }
            evidence.insert("kev.match".into(), why);
            evidence.insert("kev.catalog".into(), self.catalog.version.clone());
            evidence.insert(
                "kev.data".into(),
                if text_only {
                    format!("cisa-kev {} vendor/product only", self.catalog.version)
                } else {
                    format!("kev-affected {}", self.affected.version)
                },
            );
            out.push(KevMatch {
                cve: info.cve.clone(),
                vendor: info.vendor.clone(),
                product: info.product.clone(),
                vulnerability_name: info.name.clone(),
                date_added: info.date_added,
                due_date: info.due_date,
                ransomware_known: info.ransomware_known,
                confidence,
                evidence,
            });
        }
        out
    }
}

fn vendor_ok(rule: &Rule, hint: Option<&[String]>, publisher: &[String]) -> bool {
    if let Some(h) = hint
        && names_vendor(h, &rule.vendor)
    {
        return true;
    }
    if names_vendor(publisher, &rule.vendor) {
        return true;
    }
    // A stripped prefix that is not this vendor ("Foo Chrome") is another product.
    if hint.is_some() {
        return false;
    }
    !rule.generic
}

/// Lookup keys for a software name: the whole name, the name without one or
/// two leading (vendor) tokens, each also without trailing edition words, and
/// known aliases. The second value is how many leading tokens were dropped.
fn candidates(tokens: &[String]) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::with_capacity(8);
    let max_strip = tokens.len().saturating_sub(1).min(2);
    for k in 0..=max_strip {
        let mut rest = &tokens[k..];
        out.push((rest.join(" "), k));
        while rest.len() > 1 && rest.last().is_some_and(|t| EDITION.contains(&t.as_str())) {
            rest = &rest[..rest.len() - 1];
            out.push((rest.join(" "), k));
        }
    }
    let n = out.len();
    for i in 0..n {
        if let Some((_, aliases)) = PRODUCT_ALIASES.iter().find(|(k, _)| *k == out[i].0) {
            let k = out[i].1;
            out.extend(aliases.iter().map(|a| (a.to_string(), k)));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The version to compare: Java's marketing version from its name ("Java 8
/// Update 201" → 1.8.0_201, the form NVD uses) or the inventory version.
fn installed_version(sw: &Software, tokens: &[String]) -> Option<Ver> {
    if tokens
        .iter()
        .any(|t| t == "java" || t == "jre" || t == "jdk")
    {
        let words: Vec<String> = sw
            .name
            .to_lowercase()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if let Some(u) = words.iter().position(|w| w == "update") {
            let update = words
                .get(u + 1)
                .filter(|w| w.chars().all(|c| c.is_ascii_digit()));
            let major = words[..u]
                .iter()
                .rev()
                .find(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()));
            if let (Some(major), Some(update)) = (major, update) {
                return Some(Ver::parse(&format!("1.{major}.0_{update}")));
            }
        }
    }
    let v = sw
        .version
        .as_deref()
        .map(clean_version)
        .filter(|v| vigie_core::version::is_versionish(v))?;
    Some(Ver::parse(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> String {
        name_tokens(s).join(" ")
    }

    #[test]
    fn normalises_inventory_names() {
        assert_eq!(toks("Mozilla Firefox (x64 en-GB)"), "mozilla firefox");
        assert_eq!(toks("7-Zip 19.00 (x64)"), "7 zip");
        assert_eq!(toks("Google Chrome"), "google chrome");
        assert_eq!(toks("Oracle Java 8 Update 201"), "oracle java update");
        assert_eq!(
            toks("Microsoft 365 Apps for enterprise - en-us"),
            "microsoft apps for enterprise"
        );
        assert_eq!(
            toks("Microsoft Office Click-to-Run Extensibility Component"),
            "microsoft office click to run extensibility component"
        );
        assert_eq!(toks("acrobat_reader_dc"), "acrobat reader dc");
        assert_eq!(toks("Notepad++ (64-bit x64)"), "notepad");
    }

    #[test]
    fn cpe_fields_honour_escapes() {
        let f = cpe_fields(r"cpe:2.3:a:foo:bar\:baz:1.0:*:*:*:*:*:*:*");
        assert_eq!(f[4], "bar:baz");
        assert_eq!(cpe_version("1.7.0", "update10"), "1.7.0_10");
        assert_eq!(cpe_version("1.7.0", "update_10"), "1.7.0_10");
        assert_eq!(cpe_version("2007", "sp1"), "2007.sp1");
    }

    #[test]
    fn java_version_from_name() {
        let sw = Software {
            name: "Java 8 Update 201 (64-bit)".into(),
            version: Some("8.0.2010.9".into()),
            publisher: None,
        };
        let v = installed_version(&sw, &name_tokens(&sw.name));
        assert_eq!(
            v.map(|v| v.as_str().to_string()).as_deref(),
            Some("1.8.0_201")
        );
    }

    #[test]
    fn kev_text_alternatives() {
        let adobe = name_tokens("Adobe");
        let p: Vec<String> = kev_text_products("Acrobat and Reader", &adobe)
            .iter()
            .map(|t| t.join(" "))
            .collect();
        assert!(p.contains(&"acrobat reader".to_string()));
        assert!(p.contains(&"reader".to_string()));
        let g = name_tokens("Google");
        let p: Vec<String> = kev_text_products("Chromium V8", &g)
            .iter()
            .map(|t| t.join(" "))
            .collect();
        assert_eq!(p, vec!["chromium", "chromium v8"]);
    }
}
