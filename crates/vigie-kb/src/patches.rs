//! Windows update knowledge: the MS17-010 fact sheet, pre-Windows 10 rollup
//! lists and the Windows 10/11/Server build history, and the verdicts built
//! on them (MS17-010, SMBv1, newest security update).

use crate::error::KbError;
use crate::lifecycle::{LifecycleDb, put};
use crate::raw;
use crate::windows::{WinFacts, win_facts};
use crate::{KbSource, SourceOrigin};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use vigie_core::{Day, Evidence, HostFacts, Hotfix, OsFamily, SourceKind};

/// Release date of MS17-010: cumulative rollups from then on carry the fix.
const MS17_RELEASE: &str = "2017-03-14";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Ms17Verdict {
    /// The OS is not affected (not Windows, or a build that shipped with the fix).
    NotAffected {
        reason: String,
        evidence: Evidence,
    },
    /// An update containing the fix is installed (or the build includes it).
    Fixed {
        by: String,
        evidence: Evidence,
    },
    /// Affected platform without a fixing update.
    Missing {
        platform: String,
        fix_kbs: Vec<String>,
        evidence: Evidence,
    },
    Unknown {
        reason: String,
        evidence: Evidence,
    },
}

impl Ms17Verdict {
    pub fn evidence(&self) -> &Evidence {
        match self {
            Ms17Verdict::NotAffected { evidence, .. }
            | Ms17Verdict::Fixed { evidence, .. }
            | Ms17Verdict::Missing { evidence, .. }
            | Ms17Verdict::Unknown { evidence, .. } => evidence,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Smb1Verdict {
    Enabled {
        evidence: Evidence,
    },
    NotEnabled {
        evidence: Evidence,
    },
    /// No evidence either way: no finding.
    Unknown,
}

/// Release date of the newest security update installed on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchLevel {
    pub released: Day,
    /// "build 10.0.19045.3803 (KB5033372 released 2023-12-12)" or "KB4012212 released 2017-03-14".
    pub basis: String,
    pub evidence: Evidence,
}

/// What the knowledge base can say about a host's patch level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PatchState {
    /// The newest installed security update and its release date.
    Dated(PatchLevel),
    /// The installed build revision is newer than every release the build
    /// history knows: it was released after `horizon`, and its exact date
    /// is not known.
    NewerThanKb { horizon: Day, evidence: Evidence },
    /// A Windows machine (or one whose OS is not known) whose patch level
    /// cannot be told from what its sources report.
    Unknown { reason: String, evidence: Evidence },
    /// Not a Windows machine: the Windows update history does not apply.
    NotApplicable,
}

#[derive(Debug, Clone)]
struct Ms17Platform {
    label: String,
    major: u32,
    minor: u32,
    build: u32,
    /// `Some(true)` server only, `Some(false)` client only.
    server: Option<bool>,
    fix_kbs: Vec<String>,
    /// Every KB the fact sheet lists for the platform, with its release date
    /// (KB4012598 has different dates on XP and on Vista).
    kb_dates: Vec<(String, Day)>,
    fixed_ubr: Option<u32>,
}

#[derive(Debug, Clone)]
struct RollupInfo {
    family: String,
    kind: String,
    date: Day,
    fixes_ms17: bool,
}

#[derive(Debug, Clone)]
struct HistoryRow {
    ubr: u32,
    date: Day,
    kb: String,
    release_type: String,
}

impl HistoryRow {
    /// Preview ("optional non-security") releases carry no new security fixes.
    fn is_security(&self) -> bool {
        !matches!(self.release_type.as_str(), "Preview" | "Other")
    }
}

/// The pre-Windows 10 update list in use: the bundled copy or a later
/// `windows-legacy-rollups.json`.
#[derive(Debug, Clone)]
struct RollupList {
    version: String,
    date: Option<Day>,
    origin: SourceOrigin,
    entries: Vec<(String, RollupInfo)>,
}

/// The Windows 10/11/Server build history in use: the bundled copy or a later
/// DataForGeeks `buildnumbers.json`.
#[derive(Debug, Clone)]
struct HistoryList {
    version: String,
    date: Option<Day>,
    origin: SourceOrigin,
    rows: Vec<(u32, HistoryRow)>,
}

/// What one monthly MSRC security update document adds: the Windows 10/11/
/// Server cumulative updates (build revision, KB) and the pre-Windows 10
/// rollups and security-only updates it lists, dated by its release day.
#[derive(Debug, Clone)]
pub(crate) struct CvrfMonth {
    /// "2026-Nov".
    pub(crate) id: String,
    /// Day of the document's current revision.
    pub(crate) version: String,
    /// Day the month's updates were released (the document's initial release).
    pub(crate) date: Day,
    builds: Vec<(u32, HistoryRow)>,
    rollups: Vec<(String, RollupInfo)>,
}

impl CvrfMonth {
    pub(crate) fn source_name(&self) -> String {
        format!("msrc-cvrf/{}", self.id)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PatchDb {
    ms17_version: String,
    ms17_date: Option<Day>,
    platforms: Vec<Ms17Platform>,
    no_fix_kbs: HashSet<String>,
    replaced_kbs: HashSet<String>,
    /// KB → release date from the MS17-010 fact sheet (any platform).
    ms17_kb_dates: HashMap<String, Day>,
    rollup_list: RollupList,
    history_list: HistoryList,
    /// Monthly MSRC documents loaded as updates, by month id.
    cvrf: BTreeMap<String, CvrfMonth>,
    // ---- derived by `index` from the lists and the monthly documents
    rollups: HashMap<String, Vec<RollupInfo>>,
    rollups_count: usize,
    /// Per legacy servicing family: the highest KB number listed and the
    /// newest release day (the family's horizon).
    family_span: HashMap<String, (u32, Day)>,
    /// build → rows sorted by UBR.
    history: HashMap<u32, Vec<HistoryRow>>,
    history_count: usize,
    history_kb: HashMap<String, (u32, u32, Day)>,
}

fn kb_norm(s: &str) -> String {
    Hotfix::kb_in(s).unwrap_or_else(|| s.trim().to_ascii_uppercase())
}

/// The number of a normalised "KB5046617".
fn kb_number(kb: &str) -> Option<u32> {
    kb.strip_prefix("KB")?.parse().ok()
}

fn parse_prefix(prefix: &str) -> Option<(u32, u32, u32, Option<bool>)> {
    let mut it = prefix.split_whitespace();
    let nums: Vec<u32> = it
        .next()?
        .split('.')
        .map_while(|p| p.parse().ok())
        .collect();
    let server = match it.next() {
        Some("(server)") => Some(true),
        Some("(client)") => Some(false),
        _ => None,
    };
    (nums.len() == 3).then(|| (nums[0], nums[1], nums[2], server))
}

/// Parses a legacy update list (`windows-legacy-rollups.json`, full or
/// trimmed).
fn parse_rollups(file: &str, bytes: &[u8], origin: SourceOrigin) -> Result<RollupList, KbError> {
    let r: raw::RollupFile = raw::from_json(file, bytes)?;
    if let Some(id) = r.id.as_deref().filter(|id| *id != "windows-legacy-rollups") {
        return Err(KbError::invalid(
            file,
            "id",
            format!("expected \"windows-legacy-rollups\", found {id:?}"),
        ));
    }
    if r.entries.is_empty() {
        return Err(KbError::invalid(file, "entries", "no update listed"));
    }
    let mut entries = Vec::with_capacity(r.entries.len());
    for (i, e) in r.entries.iter().enumerate() {
        let date = raw::day(
            file,
            || format!("entries[{i}].release_date"),
            &e.release_date,
        )?;
        if !LEGACY_FAMILIES.contains(&e.os_family.as_str()) {
            return Err(KbError::invalid(
                file,
                format!("entries[{i}].os_family"),
                format!(
                    "unknown servicing family {:?} (expected one of {})",
                    e.os_family,
                    LEGACY_FAMILIES.join(", ")
                ),
            ));
        }
        let kb = Hotfix::kb_in(&e.kb).ok_or_else(|| {
            KbError::invalid(
                file,
                format!("entries[{i}].kb"),
                format!("not a kb number: {:?}", e.kb),
            )
        })?;
        entries.push((
            kb,
            RollupInfo {
                family: e.os_family.clone(),
                kind: e.kind.clone(),
                date,
                fixes_ms17: e.ms17_010.starts_with("fix"),
            },
        ));
    }
    let date = raw::opt_day(file, || "generated".into(), r.generated.as_deref())?;
    Ok(RollupList {
        version: r.generated.clone().unwrap_or_default(),
        date,
        origin,
        entries,
    })
}

/// Parses a Windows 10/11/Server build history (DataForGeeks
/// `buildnumbers.json`, full or trimmed).
fn parse_history(
    file: &str,
    bytes: &[u8],
    origin: SourceOrigin,
    version: Option<&str>,
) -> Result<HistoryList, KbError> {
    let h: raw::UpdateHistoryFile = raw::from_json(file, bytes)?;
    let meta = h.metadata.as_ref();
    if let Some(ds) = meta
        .and_then(|m| m.dataset.as_deref())
        .filter(|d| *d != "windows-update-history")
    {
        return Err(KbError::invalid(
            file,
            "metadata.dataset",
            format!("expected \"windows-update-history\", found {ds:?}"),
        ));
    }
    if h.data.is_empty() {
        return Err(KbError::invalid(file, "data", "no release listed"));
    }
    // (the bundled copy adds the rows of the older format, for build 10240,
    // to the count it keeps from upstream)
    if origin == SourceOrigin::Update
        && let Some(n) = meta.and_then(|m| m.record_count)
        && n != h.data.len()
    {
        return Err(KbError::invalid(
            file,
            "metadata.recordCount",
            format!(
                "says {n} records, the file has {} (truncated?)",
                h.data.len()
            ),
        ));
    }
    let mut rows = Vec::with_capacity(h.data.len());
    for (i, row) in h.data.iter().enumerate() {
        let n: Vec<u32> = row
            .full_version
            .split('.')
            .map_while(|p| p.parse().ok())
            .collect();
        if n.len() != 4 || n[0] != 10 {
            return Err(KbError::invalid(
                file,
                format!("data[{i}].full_version"),
                format!("not a full nt 10.0 version: {:?}", row.full_version),
            ));
        }
        let date = raw::day(
            file,
            || format!("data[{i}].release_date"),
            &row.release_date,
        )?;
        let kb = row.kb_article.as_deref().map(kb_norm).unwrap_or_default();
        rows.push((
            n[2],
            HistoryRow {
                ubr: n[3],
                date,
                kb,
                release_type: row
                    .release_type
                    .clone()
                    .unwrap_or_else(|| "Standard".into()),
            },
        ));
    }
    let date = raw::opt_day(
        file,
        || "metadata.lastCollected".into(),
        meta.and_then(|m| m.last_collected.as_deref())
            .map(|s| s.get(..10).unwrap_or(s)),
    )?;
    let version = match (version, date) {
        (Some(v), _) => v.to_string(),
        (None, Some(d)) => format!("DataForGeeks {d}"),
        (None, None) => "DataForGeeks".into(),
    };
    Ok(HistoryList {
        version,
        date,
        origin,
        rows,
    })
}

/// The servicing families of the pre-Windows 10 update list.
const LEGACY_FAMILIES: [&str; 4] = ["vista_2008", "win7_2008r2", "win81_2012r2", "ws2012"];

/// The first day of extended security updates (paid ESU) per family.
fn esu_start(family: &str) -> &'static str {
    match family {
        "win7_2008r2" | "vista_2008" => "2020-01-15",
        _ => "2023-10-11",
    }
}

/// The legacy servicing family of an MSRC product name.
fn legacy_family_of(product: &str) -> Option<&'static str> {
    let p = product.to_ascii_lowercase();
    if p.starts_with("windows 7") || p.starts_with("windows server 2008 r2") {
        Some("win7_2008r2")
    } else if p.starts_with("windows server 2008") || p.starts_with("windows vista") {
        Some("vista_2008")
    } else if p.starts_with("windows 8.1")
        || p.starts_with("windows rt 8.1")
        || p.starts_with("windows server 2012 r2")
    {
        Some("win81_2012r2")
    } else if p.starts_with("windows server 2012") {
        Some("ws2012")
    } else {
        None
    }
}

/// "5046617", "KB5046617" or "Security Update KB5046617" → "KB5046617".
fn remediation_kb(text: &str) -> Option<String> {
    let t = text.trim();
    if (6..=8).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!("KB{t}"));
    }
    Hotfix::kb_in(t)
}

fn cvrf_month_id_ok(id: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match id.split_once('-') {
        Some((y, m)) => {
            y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) && MONTHS.contains(&m)
        }
        None => false,
    }
}

/// Parses one monthly MSRC CVRF document (JSON).
pub(crate) fn parse_cvrf(file: &str, bytes: &[u8]) -> Result<CvrfMonth, KbError> {
    let doc: raw::CvrfDoc = raw::from_json(file, bytes)?;
    let tracking = &doc.document_tracking;
    let id = tracking
        .identification
        .id
        .value
        .as_deref()
        .unwrap_or_default()
        .trim()
        .to_string();
    if !cvrf_month_id_ok(&id) {
        return Err(KbError::invalid(
            file,
            "DocumentTracking.Identification.ID",
            format!("not a monthly security update document (YYYY-Mon): {id:?}"),
        ));
    }
    let day_of =
        |path: &'static str, s: &str| raw::day(file, || path.into(), s.get(..10).unwrap_or(s));
    let date = day_of(
        "DocumentTracking.InitialReleaseDate",
        &tracking.initial_release_date,
    )?;
    let current = match tracking.current_release_date.as_deref() {
        Some(s) => day_of("DocumentTracking.CurrentReleaseDate", s)?,
        None => date,
    };
    if current < date {
        return Err(KbError::invalid(
            file,
            "DocumentTracking.CurrentReleaseDate",
            format!("{current} is before the initial release {date}"),
        ));
    }
    let products: HashMap<&str, &str> = doc
        .product_tree
        .iter()
        .flat_map(|t| t.full_product_name.iter())
        .map(|p| (p.product_id.as_str(), p.value.as_str()))
        .collect();
    if products.is_empty() {
        return Err(KbError::invalid(
            file,
            "ProductTree.FullProductName",
            "no product listed",
        ));
    }
    let mut builds: BTreeMap<(u32, u32), HistoryRow> = BTreeMap::new();
    let mut rollups: BTreeMap<(String, &'static str), RollupInfo> = BTreeMap::new();
    let ms17_from = Day::parse(MS17_RELEASE).ok();
    for (i, v) in doc.vulnerability.iter().enumerate() {
        for (j, r) in v.remediations.iter().enumerate() {
            let Some(kb) = r
                .description
                .as_ref()
                .and_then(|d| d.value.as_deref())
                .and_then(remediation_kb)
                .or_else(|| r.url.as_deref().and_then(Hotfix::kb_in))
            else {
                continue;
            };
            let sub = r.sub_type.as_deref().unwrap_or_default();
            let names: Vec<&str> = r
                .product_id
                .iter()
                .filter_map(|p| products.get(p.as_str()).copied())
                .collect();
            let windows10 = names
                .iter()
                .any(|n| n.starts_with("Windows ") && legacy_family_of(n).is_none());
            if let Some(fb) = r.fixed_build.as_deref().map(str::trim)
                && fb.starts_with("10.0.")
                && windows10
            {
                let n: Vec<u32> = fb.split('.').map_while(|p| p.parse().ok()).collect();
                if n.len() != 4 {
                    return Err(KbError::invalid(
                        file,
                        format!("Vulnerability[{i}].Remediations[{j}].FixedBuild"),
                        format!("not a full nt version: {fb:?}"),
                    ));
                }
                let release_type = if sub.contains("Hotpatch") {
                    "Hotpatch"
                } else if sub == "Security Update" {
                    "Standard"
                } else {
                    continue;
                };
                builds.entry((n[2], n[3])).or_insert_with(|| HistoryRow {
                    ubr: n[3],
                    date,
                    kb: kb.clone(),
                    release_type: release_type.into(),
                });
            }
            for family in names.iter().filter_map(|n| legacy_family_of(n)) {
                let esu = Day::parse(esu_start(family)).is_ok_and(|e| date >= e);
                let kind = match (sub, esu) {
                    ("Monthly Rollup", false) => "monthly_rollup",
                    ("Monthly Rollup", true) => "esu_monthly",
                    ("Security Only", false) => "security_only",
                    ("Security Only", true) => "esu_security_only",
                    ("Security Update", _) => "security_update",
                    ("Servicing Stack Update", _) => "ssu",
                    _ => continue,
                };
                let cumulative = matches!(kind, "monthly_rollup" | "esu_monthly");
                rollups
                    .entry((kb.clone(), family))
                    .or_insert_with(|| RollupInfo {
                        family: family.to_string(),
                        kind: kind.to_string(),
                        date,
                        fixes_ms17: cumulative && ms17_from.is_some_and(|m| date >= m),
                    });
            }
        }
    }
    if builds.is_empty() && rollups.is_empty() {
        return Err(KbError::invalid(
            file,
            "Vulnerability[].Remediations",
            "no Windows cumulative update, rollup or security-only update listed",
        ));
    }
    Ok(CvrfMonth {
        id,
        version: current.to_string(),
        date,
        builds: builds.into_iter().map(|((b, _), row)| (b, row)).collect(),
        rollups: rollups.into_iter().map(|((kb, _), r)| (kb, r)).collect(),
    })
}

impl PatchDb {
    pub(crate) fn parse(ms17: &[u8], rollups: &[u8], history: &[u8]) -> Result<PatchDb, KbError> {
        const MS17: &str = "ms17-010.json";
        let m: raw::Ms17File = raw::from_json(MS17, ms17)?;
        let mut platforms = Vec::new();
        let mut ms17_kb_dates = HashMap::new();
        let mut replaced_kbs = HashSet::new();
        for (i, p) in m.platforms.iter().enumerate() {
            let mut fix_kbs = Vec::new();
            let mut kb_dates = Vec::new();
            for (j, u) in p.updates.iter().enumerate() {
                let d = raw::day(
                    MS17,
                    || format!("platforms[{i}].updates[{j}].release_date"),
                    &u.release_date,
                )?;
                let kb = kb_norm(&u.kb);
                ms17_kb_dates.entry(kb.clone()).or_insert(d);
                kb_dates.push((kb.clone(), d));
                if u.contains_ms17_010_fix {
                    fix_kbs.push(kb);
                }
                if let Some(r) = u.replaces.as_deref().and_then(Hotfix::kb_in) {
                    replaced_kbs.insert(r);
                }
            }
            let fixed_ubr = p
                .fixed_from_build
                .as_deref()
                .and_then(|b| b.split('.').nth(3))
                .and_then(|u| u.parse::<u32>().ok());
            for prefix in &p.os_version_prefix {
                let Some((major, minor, build, server)) = parse_prefix(prefix) else {
                    return Err(KbError::invalid(
                        MS17,
                        format!("platforms[{i}].os_version_prefix"),
                        format!("not an nt version prefix: {prefix:?}"),
                    ));
                };
                platforms.push(Ms17Platform {
                    label: p.platform.clone(),
                    major,
                    minor,
                    build,
                    server,
                    fix_kbs: fix_kbs.clone(),
                    kb_dates: kb_dates.clone(),
                    fixed_ubr,
                });
            }
        }
        let ms17_date = raw::opt_day(
            MS17,
            || "generated".into(),
            m.generated.as_deref().map(|g| g.get(..10).unwrap_or(g)),
        )?;
        let rollup_list = parse_rollups(
            "windows-legacy-rollups.min.json",
            rollups,
            SourceOrigin::Embedded,
        )?;
        let history_list = parse_history(
            "windows-update-history.min.json",
            history,
            SourceOrigin::Embedded,
            Some("DataForGeeks 6846a6a"),
        )?;
        let mut db = PatchDb {
            ms17_version: format!(
                "MS17-010 fact sheet {}",
                m.generated.as_deref().unwrap_or("")
            )
            .trim()
            .to_string(),
            ms17_date,
            platforms,
            no_fix_kbs: m.kbs_without_fix.iter().map(|k| kb_norm(k)).collect(),
            replaced_kbs,
            ms17_kb_dates,
            rollup_list,
            history_list,
            cvrf: BTreeMap::new(),
            rollups: HashMap::new(),
            rollups_count: 0,
            family_span: HashMap::new(),
            history: HashMap::new(),
            history_count: 0,
            history_kb: HashMap::new(),
        };
        db.index();
        Ok(db)
    }

    /// Replaces the pre-Windows 10 update list (a complete
    /// `windows-legacy-rollups.json`).
    pub(crate) fn replace_rollups(&mut self, file: &str, bytes: &[u8]) -> Result<(), KbError> {
        self.rollup_list = parse_rollups(file, bytes, SourceOrigin::Update)?;
        self.index();
        Ok(())
    }

    /// Replaces the build history with a DataForGeeks `buildnumbers.json`.
    /// Builds the new file does not cover (its v2 format dropped Windows 10
    /// 1507, build 10240) keep the rows in use.
    pub(crate) fn replace_history(&mut self, file: &str, bytes: &[u8]) -> Result<(), KbError> {
        let mut new = parse_history(file, bytes, SourceOrigin::Update, None)?;
        let covered: HashSet<u32> = new.rows.iter().map(|(b, _)| *b).collect();
        new.rows.extend(
            self.history_list
                .rows
                .iter()
                .filter(|(b, _)| !covered.contains(b))
                .cloned(),
        );
        self.history_list = new;
        self.index();
        Ok(())
    }

    /// Adds (or replaces the earlier revision of) one monthly MSRC document.
    pub(crate) fn add_cvrf(&mut self, month: CvrfMonth) {
        self.cvrf.insert(month.id.clone(), month);
        self.index();
    }

    /// Re-derives the lookup tables: the lists first, then what the monthly
    /// documents add (a release the lists already know keeps their date and
    /// type, which are more precise than the document's release day).
    fn index(&mut self) {
        let mut months: Vec<&CvrfMonth> = self.cvrf.values().collect();
        months.sort_by_key(|m| m.date);
        let mut rollups: HashMap<String, Vec<RollupInfo>> = HashMap::new();
        for (kb, info) in &self.rollup_list.entries {
            rollups.entry(kb.clone()).or_default().push(info.clone());
        }
        let mut count = self.rollup_list.entries.len();
        for (kb, info) in months.iter().flat_map(|m| m.rollups.iter()) {
            let infos = rollups.entry(kb.clone()).or_default();
            if !infos.iter().any(|r| r.family == info.family) {
                infos.push(info.clone());
                count += 1;
            }
        }
        let mut span: HashMap<String, (u32, Day)> = HashMap::new();
        for (kb, infos) in &rollups {
            let n = kb_number(kb).unwrap_or(0);
            for r in infos {
                let e = span.entry(r.family.clone()).or_insert((n, r.date));
                e.0 = e.0.max(n);
                e.1 = e.1.max(r.date);
            }
        }
        let mut hist: HashMap<u32, Vec<HistoryRow>> = HashMap::new();
        let mut history_kb = HashMap::new();
        for (build, row) in &self.history_list.rows {
            if !row.kb.is_empty() {
                history_kb.insert(row.kb.clone(), (*build, row.ubr, row.date));
            }
            hist.entry(*build).or_default().push(row.clone());
        }
        let mut count_h = self.history_list.rows.len();
        for (build, row) in months.iter().flat_map(|m| m.builds.iter()) {
            let rows = hist.entry(*build).or_default();
            if rows.iter().any(|r| r.ubr == row.ubr) {
                continue;
            }
            // one KB serves several builds (Windows 10 21H2 and 22H2)
            history_kb
                .entry(row.kb.clone())
                .or_insert((*build, row.ubr, row.date));
            rows.push(row.clone());
            count_h += 1;
        }
        for rows in hist.values_mut() {
            rows.sort_by_key(|r| (r.ubr, r.date));
        }
        self.rollups = rollups;
        self.rollups_count = count;
        self.family_span = span;
        self.history = hist;
        self.history_count = count_h;
        self.history_kb = history_kb;
    }

    /// A KB some source of the base dates.
    fn kb_known(&self, kb: &str) -> bool {
        self.rollups.contains_key(kb)
            || self.ms17_kb_dates.contains_key(kb)
            || self.history_kb.contains_key(kb)
    }

    pub(crate) fn sources(&self) -> Vec<KbSource> {
        let newest_build_month = self
            .cvrf
            .values()
            .filter(|m| !m.builds.is_empty())
            .max_by_key(|m| m.date);
        let rollup_horizon = self.family_span.values().map(|(_, d)| *d).max();
        let mut out = vec![
            KbSource {
                name: "ms17-010".into(),
                version: self.ms17_version.clone(),
                date: self.ms17_date,
                horizon: None,
                entries: self.platforms.len(),
                origin: SourceOrigin::Embedded,
            },
            KbSource {
                name: "windows-legacy-rollups".into(),
                version: self.rollup_list.version.clone(),
                date: self.rollup_list.date,
                horizon: rollup_horizon,
                entries: self.rollups_count,
                origin: self.rollup_list.origin,
            },
            KbSource {
                name: "windows-builds".into(),
                version: match newest_build_month {
                    Some(m) => format!("{} + MSRC {}", self.history_list.version, m.id),
                    None => self.history_list.version.clone(),
                },
                date: self.history_list.date,
                horizon: self
                    .history_list
                    .date
                    .max(newest_build_month.map(|m| m.date)),
                entries: self.history_count,
                origin: self.history_list.origin,
            },
        ];
        out.extend(self.cvrf.values().map(|m| KbSource {
            name: m.source_name(),
            version: m.version.clone(),
            date: Some(m.date),
            horizon: Some(m.date),
            entries: m.builds.len() + m.rollups.len(),
            origin: SourceOrigin::Update,
        }));
        out
    }

    fn legacy_family(w: &WinFacts) -> Option<&'static str> {
        match (w.major, w.minor) {
            (6, 0) => Some("vista_2008"),
            (6, 1) => Some("win7_2008r2"),
            (6, 2) if w.server => Some("ws2012"),
            (6, 3) => Some("win81_2012r2"),
            _ => None,
        }
    }

    fn platform(&self, w: &WinFacts) -> Option<&Ms17Platform> {
        let build = w.build?;
        self.platforms.iter().find(|p| {
            p.major == w.major
                && p.minor == w.minor
                && p.build == build
                && p.server.is_none_or(|s| s == w.server)
        })
    }

    // -------------------------------------------------------------- MS17-010

    pub(crate) fn ms17_010(&self, lc: &LifecycleDb, facts: &HostFacts) -> Ms17Verdict {
        let mut ev = Evidence::new();
        put(&mut ev, "source", self.ms17_version.clone());
        let scan = facts.network.as_ref().and_then(|n| n.ms17_010_vulnerable);
        match scan {
            Some(true) => put(&mut ev, "nmap.smb-vuln-ms17-010", "VULNERABLE"),
            Some(false) => put(&mut ev, "nmap.smb-vuln-ms17-010", "not vulnerable"),
            None => {}
        }
        let scan_missing = |mut ev: Evidence, platform: String, fix_kbs: Vec<String>| {
            put(&mut ev, "basis", "nmap smb-vuln-ms17-010: VULNERABLE");
            Ms17Verdict::Missing {
                platform,
                fix_kbs,
                evidence: ev,
            }
        };
        let Some(os) = facts.os.as_ref() else {
            return match scan {
                Some(true) => scan_missing(ev, "unknown windows (network scan)".into(), Vec::new()),
                Some(false) => Ms17Verdict::NotAffected {
                    reason: "nmap smb-vuln-ms17-010 reported not vulnerable; no os facts".into(),
                    evidence: ev,
                },
                None => Ms17Verdict::Unknown {
                    reason: "no os facts".into(),
                    evidence: ev,
                },
            };
        };
        let family = os.family_or_guess();
        put(&mut ev, "os.family", family.as_str());
        if let Some(n) = &os.name {
            put(&mut ev, "os.name", n.clone());
        }
        if family != OsFamily::Windows {
            if scan == Some(true) {
                // A scanner finding on a non-Windows OS is odd: report it, the
                // analyst will sort out which is wrong.
                return scan_missing(
                    ev,
                    format!("{} (os facts say not windows)", family.as_str()),
                    Vec::new(),
                );
            }
            if family == OsFamily::Other {
                return Ms17Verdict::Unknown {
                    reason: "os family unknown".into(),
                    evidence: ev,
                };
            }
            return Ms17Verdict::NotAffected {
                reason: format!("{} is not windows", family.as_str()),
                evidence: ev,
            };
        }
        let Some(w) = win_facts(os, lc) else {
            return match scan {
                Some(true) => scan_missing(ev, "windows (version unknown)".into(), Vec::new()),
                _ => Ms17Verdict::Unknown {
                    reason: "windows version unknown".into(),
                    evidence: ev,
                },
            };
        };
        put(&mut ev, "windows.nt", w.nt());
        if let Some(u) = w.ubr {
            put(&mut ev, "windows.ubr", u.to_string());
        }
        let hotfixes: Option<Vec<String>> = facts
            .hotfixes
            .as_ref()
            .map(|l| l.iter().map(|h| kb_norm(&h.id)).collect());
        match &hotfixes {
            Some(l) => put(&mut ev, "hotfixes.count", l.len().to_string()),
            None => put(&mut ev, "hotfixes", "not reported"),
        }
        // When a scan says vulnerable but the agent lists a fix, believe the
        // more recent observation.
        let scan_is_newer = {
            let when = |pred: &dyn Fn(SourceKind) -> bool| {
                facts
                    .sources
                    .iter()
                    .filter(|s| pred(s.kind))
                    .map(|s| s.last_observed)
                    .max()
            };
            match (when(&|k| k == SourceKind::Nmap), when(&|k| k.is_agent())) {
                (Some(n), Some(a)) => n >= a,
                _ => true,
            }
        };

        if w.major == 10 {
            return self.ms17_nt10(&w, hotfixes.as_deref(), scan, scan_is_newer, ev);
        }
        if w.major > 10 || w.major < 5 {
            return Ms17Verdict::Unknown {
                reason: format!("windows nt {} not covered", w.nt()),
                evidence: ev,
            };
        }
        if (w.major, w.minor) == (5, 0) {
            // Windows 2000 has SMBv1 but never got a fix; the fact sheet does not cover it.
            return match scan {
                Some(true) => {
                    scan_missing(ev, "Windows 2000 (no fix published)".into(), Vec::new())
                }
                _ => Ms17Verdict::Unknown {
                    reason:
                        "windows 2000 is not covered by the ms17-010 data (no fix was published)"
                            .into(),
                    evidence: ev,
                },
            };
        }
        let platform = self.platform(&w);
        // RTM / older service packs cannot install the fix: use the platform of
        // the same NT version for the KB list and say why.
        let (label, fix_kbs) = match platform {
            Some(p) => (p.label.clone(), p.fix_kbs.clone()),
            None => {
                let p = self.platforms.iter().find(|p| {
                    p.major == w.major
                        && p.minor == w.minor
                        && p.server.is_none_or(|s| s == w.server)
                });
                put(
                    &mut ev,
                    "note",
                    format!(
                        "build {} is below the service pack the ms17-010 updates require",
                        w.nt()
                    ),
                );
                match p {
                    Some(p) => (
                        format!("{} (older service pack)", p.label),
                        p.fix_kbs.clone(),
                    ),
                    None => (format!("windows nt {}", w.nt()), Vec::new()),
                }
            }
        };
        put(&mut ev, "platform", label.clone());
        let family = Self::legacy_family(&w);
        let Some(installed) = hotfixes else {
            return match scan {
                Some(true) => scan_missing(ev, label, fix_kbs),
                Some(false) => Ms17Verdict::Fixed {
                    by:
                        "network scan: nmap smb-vuln-ms17-010 not vulnerable (patched or smbv1 off)"
                            .into(),
                    evidence: ev,
                },
                None => Ms17Verdict::Unknown {
                    reason: "installed updates not reported and no network scan".into(),
                    evidence: ev,
                },
            };
        };
        let release = Day::parse(MS17_RELEASE).ok();
        let fixing = installed.iter().find_map(|kb| {
            if platform.is_some() && fix_kbs.contains(kb) {
                let date = self
                    .ms17_kb_dates
                    .get(kb)
                    .map(|d| format!(" released {d}"))
                    .unwrap_or_default();
                return Some(format!("{kb} (listed ms17-010 update{date})"));
            }
            platform?;
            let info = self
                .rollups
                .get(kb)?
                .iter()
                .find(|r| Some(r.family.as_str()) == family)?;
            let cumulative = matches!(
                info.kind.as_str(),
                "monthly_rollup" | "esu_monthly" | "preview_rollup"
            );
            (info.fixes_ms17 || cumulative && release.is_some_and(|d| info.date >= d)).then(|| {
                format!(
                    "{kb} ({} released {}, cumulative: contains ms17-010)",
                    info.kind.replace('_', " "),
                    info.date
                )
            })
        });
        let not_fixing: Vec<&String> = installed
            .iter()
            .filter(|k| self.no_fix_kbs.contains(*k))
            .collect();
        if !not_fixing.is_empty() {
            put(
                &mut ev,
                "note.april-2017-security-only",
                format!(
                    "{} installed: the april 2017 security-only update does not contain the ms17-010 fix",
                    not_fixing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        let replaced: Vec<&String> = installed
            .iter()
            .filter(|k| self.replaced_kbs.contains(*k))
            .collect();
        if !replaced.is_empty() {
            put(
                &mut ev,
                "note.replaced-updates",
                format!(
                    "{} installed: updates replaced by ms17-010, they do not fix it",
                    replaced
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        match fixing {
            Some(by) if scan == Some(true) && scan_is_newer => {
                put(
                    &mut ev,
                    "conflict",
                    format!("agent lists {by} but a newer network scan says vulnerable"),
                );
                scan_missing(ev, label, fix_kbs)
            }
            Some(by) => {
                put(&mut ev, "fixed_by", by.clone());
                Ms17Verdict::Fixed { by, evidence: ev }
            }
            None => {
                put(
                    &mut ev,
                    "basis",
                    "no installed update contains the ms17-010 fix",
                );
                if family.is_some() {
                    put(
                        &mut ev,
                        "rule",
                        "any monthly rollup of this os family released on or after 2017-03-14 also fixes it",
                    );
                }
                Ms17Verdict::Missing {
                    platform: label,
                    fix_kbs,
                    evidence: ev,
                }
            }
        }
    }

    fn ms17_nt10(
        &self,
        w: &WinFacts,
        hotfixes: Option<&[String]>,
        scan: Option<bool>,
        scan_is_newer: bool,
        mut ev: Evidence,
    ) -> Ms17Verdict {
        let Some(build) = w.build else {
            return match scan {
                Some(true) => {
                    put(&mut ev, "basis", "nmap smb-vuln-ms17-010: VULNERABLE");
                    Ms17Verdict::Missing {
                        platform: "windows 10 (build unknown)".into(),
                        fix_kbs: Vec::new(),
                        evidence: ev,
                    }
                }
                _ => Ms17Verdict::Unknown {
                    reason: "windows 10/11 build unknown".into(),
                    evidence: ev,
                },
            };
        };
        if build >= 15063 {
            return Ms17Verdict::NotAffected {
                reason: format!("nt 10.0 build {build} (1703 or later) shipped with the fix"),
                evidence: ev,
            };
        }
        let Some(p) = self.platform(w) else {
            return Ms17Verdict::Unknown {
                reason: format!("nt 10.0 build {build} is not a released build"),
                evidence: ev,
            };
        };
        put(&mut ev, "platform", p.label.clone());
        let Some(fixed_ubr) = p.fixed_ubr else {
            return Ms17Verdict::Unknown {
                reason: "no fixed build in the data".into(),
                evidence: ev,
            };
        };
        put(
            &mut ev,
            "fixed_from_build",
            format!("10.0.{build}.{fixed_ubr}"),
        );
        let missing = |mut ev: Evidence, basis: String| {
            put(&mut ev, "basis", basis);
            Ms17Verdict::Missing {
                platform: p.label.clone(),
                fix_kbs: p.fix_kbs.clone(),
                evidence: ev,
            }
        };
        if scan == Some(true) && scan_is_newer {
            return missing(ev, "nmap smb-vuln-ms17-010: VULNERABLE".into());
        }
        if let Some(ubr) = w.ubr {
            return if ubr >= fixed_ubr {
                Ms17Verdict::Fixed {
                    by: format!("build 10.0.{build}.{ubr} >= 10.0.{build}.{fixed_ubr}"),
                    evidence: ev,
                }
            } else {
                missing(
                    ev,
                    format!("build 10.0.{build}.{ubr} is below 10.0.{build}.{fixed_ubr}"),
                )
            };
        }
        // No UBR: look for a cumulative update of this build at or above the fix.
        if let Some(list) = hotfixes {
            let mut known_below = None;
            for kb in list {
                if let Some(&(b, u, d)) = self.history_kb.get(kb).filter(|(b, ..)| *b == build) {
                    if u >= fixed_ubr {
                        return Ms17Verdict::Fixed {
                            by: format!("{kb} (cumulative update to 10.0.{b}.{u}, released {d})"),
                            evidence: ev,
                        };
                    }
                    known_below = Some(format!("{kb} (10.0.{b}.{u})"));
                }
                if p.fix_kbs.contains(kb) {
                    return Ms17Verdict::Fixed {
                        by: format!("{kb} (listed ms17-010 update)"),
                        evidence: ev,
                    };
                }
            }
            if let Some(below) = known_below {
                return missing(
                    ev,
                    format!("newest cumulative update listed is {below}, below the fix"),
                );
            }
        }
        match scan {
            Some(false) => Ms17Verdict::Fixed {
                by: "network scan: nmap smb-vuln-ms17-010 not vulnerable (patched or smbv1 off)"
                    .into(),
                evidence: ev,
            },
            Some(true) => missing(ev, "nmap smb-vuln-ms17-010: VULNERABLE".into()),
            None => Ms17Verdict::Unknown {
                reason:
                    "update build revision unknown and no listed cumulative update of this build"
                        .into(),
                evidence: ev,
            },
        }
    }

    // -------------------------------------------------------------- SMBv1

    pub(crate) fn smbv1(&self, lc: &LifecycleDb, facts: &HostFacts) -> Smb1Verdict {
        let mut ev = Evidence::new();
        let mut enabled = false;
        let mut disabled_feature = false;
        for f in facts.features.iter().flatten() {
            let n = f.name.to_ascii_lowercase();
            // SMB1Protocol (client+server bundle), SMB1Protocol-Server, and the
            // Windows Server role feature FS-SMB1.
            if matches!(
                n.as_str(),
                "smb1protocol" | "smb1protocol-server" | "fs-smb1"
            ) {
                put(
                    &mut ev,
                    &format!("feature.{}", f.name),
                    if f.enabled { "enabled" } else { "disabled" },
                );
                if f.enabled {
                    enabled = true;
                } else {
                    disabled_feature = true;
                }
            } else if n == "smb1protocol-client" {
                put(
                    &mut ev,
                    &format!("feature.{}", f.name),
                    if f.enabled {
                        "enabled (client only)"
                    } else {
                        "disabled"
                    },
                );
            }
        }
        let net = facts.network.as_ref();
        let offered = net.and_then(|n| n.smbv1_offered);
        let dialect_v1 = net.is_some_and(|n| {
            n.smb_dialects.iter().any(|d| {
                let d = d.to_ascii_lowercase();
                d.contains("nt lm 0.12") || d == "nt1" || d.contains("smbv1")
            })
        });
        if offered == Some(true) || dialect_v1 {
            put(&mut ev, "nmap.smb", "smbv1 (nt lm 0.12) offered");
            enabled = true;
        } else if offered == Some(false) {
            put(&mut ev, "nmap.smb", "smbv1 not offered");
        }
        // NT 5.x (XP, Server 2003) has no SMB2: if it shares files, it is SMBv1.
        let windows = |os: &vigie_core::OsFacts| {
            os.family == OsFamily::Windows
                || os.name.as_deref().map(OsFamily::guess) == Some(OsFamily::Windows)
        };
        if let Some(os) = facts.os.as_ref().filter(|os| windows(os))
            && let Some(w) = win_facts(os, lc)
            && w.major == 5
        {
            put(&mut ev, "os", format!("nt {}: speaks only smbv1", w.nt()));
            enabled = true;
        }
        if enabled {
            Smb1Verdict::Enabled { evidence: ev }
        } else if disabled_feature || offered == Some(false) {
            Smb1Verdict::NotEnabled { evidence: ev }
        } else {
            Smb1Verdict::Unknown
        }
    }

    // -------------------------------------------------------------- patch age

    /// The patch level as far as the knowledge base can tell, saying so
    /// when it cannot: a build newer than the history, a Windows machine
    /// with neither a dated build revision nor a dated update.
    pub(crate) fn patch_state(&self, lc: &LifecycleDb, facts: &HostFacts) -> PatchState {
        let os = facts.os.as_ref();
        let w = os.and_then(|os| win_facts(os, lc));
        let mut ev = Evidence::new();
        if let Some(w) = w.as_ref().filter(|w| w.major == 10)
            && let (Some(build), Some(ubr)) = (w.build, w.ubr)
            && self.newer_than_history(build, ubr)
        {
            let horizon = self
                .history
                .get(&build)
                .and_then(|rows| rows.iter().map(|r| r.date).max());
            if let Some(horizon) = horizon {
                put(&mut ev, "windows.build", format!("10.0.{build}.{ubr}"));
                put(
                    &mut ev,
                    "knowledge_base",
                    format!(
                        "build revision newer than the knowledge base (windows-builds knows releases up to {horizon}): released after {horizon}, date unknown"
                    ),
                );
                return PatchState::NewerThanKb {
                    horizon,
                    evidence: ev,
                };
            }
        }
        // A pre-Windows 10 machine with an update the lists do not know and
        // numbered above every update listed for its family: it was released
        // after the lists end, so the newest dated update may not be the
        // newest installed one.
        if let Some(family) = w.as_ref().and_then(Self::legacy_family)
            && let Some(&(max_kb, horizon)) = self.family_span.get(family)
            && let Some(newer) = facts
                .hotfixes
                .iter()
                .flatten()
                .map(|h| kb_norm(&h.id))
                .filter(|kb| kb_number(kb).is_some_and(|n| n > max_kb) && !self.kb_known(kb))
                .max_by_key(|kb| kb_number(kb))
        {
            put(&mut ev, "hotfix", newer.clone());
            put(
                &mut ev,
                "knowledge_base",
                format!(
                    "{newer} is newer than the knowledge base (windows-legacy-rollups lists {family} updates up to {horizon}): released after {horizon}, date unknown"
                ),
            );
            return PatchState::NewerThanKb {
                horizon,
                evidence: ev,
            };
        }
        if let Some(level) = self.newest_security_update(lc, facts) {
            return PatchState::Dated(level);
        }
        let windows = os.is_some_and(|os| os.family_or_guess() == OsFamily::Windows);
        let reason = match (os, windows) {
            (None, _) => "no source reported the operating system",
            (Some(_), false) => return PatchState::NotApplicable,
            (Some(_), true) => match (&w, &facts.hotfixes) {
                (Some(w), _) if w.major == 10 && (w.build.is_none() || w.ubr.is_none()) => {
                    if facts.hotfixes.is_some() {
                        "no build revision reported, and no installed update the knowledge base can date"
                    } else {
                        "no build revision and no installed updates reported"
                    }
                }
                (_, None) => "installed updates not reported",
                (_, Some(_)) => "no installed update the knowledge base can date",
            },
        };
        match &facts.hotfixes {
            Some(l) => put(&mut ev, "hotfixes.count", l.len().to_string()),
            None => put(&mut ev, "hotfixes", "not reported"),
        }
        if let Some(w) = &w {
            put(&mut ev, "windows.nt", w.nt());
        }
        put(&mut ev, "patch_level", format!("unknown: {reason}"));
        PatchState::Unknown {
            reason: reason.to_string(),
            evidence: ev,
        }
    }

    pub(crate) fn newest_security_update(
        &self,
        lc: &LifecycleDb,
        facts: &HostFacts,
    ) -> Option<PatchLevel> {
        let os = facts.os.as_ref();
        let w = os.and_then(|os| win_facts(os, lc));
        if let Some(w) = w.as_ref().filter(|w| w.major == 10)
            && let (Some(build), Some(ubr)) = (w.build, w.ubr)
        {
            // a revision above every release the build history knows was
            // released after the history ends: its age is not known, and is
            // never guessed from the history's last date (which would call
            // every machine patched since then out of date)
            if self.newer_than_history(build, ubr) {
                return None;
            }
            if let Some(level) = self.level_from_build(build, ubr) {
                return Some(level);
            }
        }
        // KB lists are per servicing family: only dates of the host's family
        // count (or of any family when the OS is not known).
        let family = w.as_ref().and_then(Self::legacy_family);
        let rollups_apply = |r: &RollupInfo| match (&w, family) {
            (_, Some(f)) => r.family == f,
            (Some(_), None) => false,
            (None, None) => true,
        };
        let platform_dates = w.as_ref().and_then(|w| {
            self.platforms.iter().find(|p| {
                p.major == w.major && p.minor == w.minor && p.server.is_none_or(|s| s == w.server)
            })
        });
        let ms17_date = |kb: &str| match platform_dates {
            Some(p) => p.kb_dates.iter().find(|(k, _)| k == kb).map(|(_, d)| *d),
            None if w.is_none() => self.ms17_kb_dates.get(kb).copied(),
            None => None,
        };
        let mut best: Option<(Day, String, &'static str)> = None;
        for h in facts.hotfixes.iter().flatten() {
            let kb = kb_norm(&h.id);
            let dated = self
                .rollups
                .get(&kb)
                .and_then(|infos| {
                    // servicing stack updates are not security updates
                    infos
                        .iter()
                        .filter(|r| r.kind != "ssu" && rollups_apply(r))
                        .map(|r| (r.date, r.kind.clone()))
                        .max()
                })
                .map(|(d, kind)| {
                    (
                        d,
                        format!("{kb} ({}) released {d}", kind.replace('_', " ")),
                        "windows-legacy-rollups",
                    )
                })
                .or_else(|| ms17_date(&kb).map(|d| (d, format!("{kb} released {d}"), "ms17-010")))
                .or_else(|| {
                    self.history_kb.get(&kb).map(|(b, u, d)| {
                        (
                            *d,
                            format!("{kb} (build 10.0.{b}.{u}) released {d}"),
                            "windows-builds",
                        )
                    })
                });
            if let Some((d, basis, src)) = dated
                && best.as_ref().is_none_or(|(bd, ..)| d > *bd)
            {
                best = Some((d, basis, src));
            }
        }
        let (released, basis, src) = best?;
        let mut ev = Evidence::new();
        put(&mut ev, "basis", basis.clone());
        put(&mut ev, "source", src);
        put(
            &mut ev,
            "hotfixes.count",
            facts.hotfixes.as_ref().map_or(0, Vec::len).to_string(),
        );
        Some(PatchLevel {
            released,
            basis,
            evidence: ev,
        })
    }

    /// True when revision `ubr` of `build` must have been released after the
    /// build history ends: it is not in the history, and the nearest known
    /// release below it is from the history's last release day for that
    /// build (a revision between two known releases is an unlisted preview
    /// or out-of-band release, dated by the release below it). Revision
    /// numbers of one build run in branches (24H2's 9xxx and 3xxxx), so
    /// "above the highest known number" alone would miss the new releases
    /// of the lower branch.
    pub(crate) fn newer_than_history(&self, build: u32, ubr: u32) -> bool {
        let Some(rows) = self.history.get(&build) else {
            return false;
        };
        if rows.iter().any(|r| r.ubr == ubr) {
            return false;
        }
        let Some(horizon) = rows.iter().map(|r| r.date).max() else {
            return false;
        };
        rows.iter()
            .filter(|r| r.ubr < ubr)
            .max_by_key(|r| r.ubr)
            .is_some_and(|below| below.date >= horizon)
    }

    fn level_from_build(&self, build: u32, ubr: u32) -> Option<PatchLevel> {
        let rows = self.history.get(&build)?;
        let full = format!("10.0.{build}.{ubr}");
        let mut ev = Evidence::new();
        put(&mut ev, "windows.build", full.clone());
        put(&mut ev, "source", "windows-builds (windows update history)");
        let exact = rows.iter().rev().find(|r| r.ubr == ubr);
        // The newest security release at or below the installed revision: a
        // preview on top of it adds no security fixes.
        let newest_security = rows
            .iter()
            .rev()
            .find(|r| r.ubr <= ubr && r.is_security())?;
        let basis = match exact {
            Some(e) if e.is_security() => format!("build {full} ({} released {})", e.kb, e.date),
            Some(e) => format!(
                "build {full} ({} {} of {}; newest security release at or below it: {} released {})",
                e.release_type.to_lowercase(),
                e.kb,
                e.date,
                newest_security.kb,
                newest_security.date
            ),
            None => {
                let newer_than_data = rows.last().is_some_and(|l| ubr > l.ubr);
                if newer_than_data {
                    put(
                        &mut ev,
                        "note",
                        "revision newer than the build history: date is a lower bound",
                    );
                }
                format!(
                    "build {full} (revision not in the history; nearest security release below it: {} 10.0.{build}.{} released {})",
                    newest_security.kb, newest_security.ubr, newest_security.date
                )
            }
        };
        put(&mut ev, "basis", basis.clone());
        Some(PatchLevel {
            released: newest_security.date,
            basis,
            evidence: ev,
        })
    }
}
