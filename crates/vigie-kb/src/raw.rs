//! Serde shapes of the source files, as published upstream. Only the fields
//! the knowledge base uses are declared; serde skips the others, so the compact
//! bundled copies and the full upstream files parse with the same structs.

use crate::error::KbError;
use serde::Deserialize;
use vigie_core::Day;

pub(crate) fn from_json<'a, T: Deserialize<'a>>(file: &str, bytes: &'a [u8]) -> Result<T, KbError> {
    serde_json::from_slice(bytes).map_err(|e| KbError::json(file, &e))
}

pub(crate) fn day(file: &str, path: impl FnOnce() -> String, s: &str) -> Result<Day, KbError> {
    Day::parse(s).map_err(|_| KbError::invalid(file, path(), format!("invalid date {s:?}")))
}

pub(crate) fn opt_day(
    file: &str,
    path: impl FnOnce() -> String,
    s: Option<&str>,
) -> Result<Option<Day>, KbError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => day(file, path, s).map(Some),
    }
}

// ---------------------------------------------------------------- CISA KEV

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KevCatalog {
    pub catalog_version: String,
    pub date_released: Option<String>,
    pub count: Option<usize>,
    pub vulnerabilities: Vec<KevEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KevEntry {
    #[serde(rename = "cveID")]
    pub cve_id: String,
    pub vendor_project: String,
    pub product: String,
    pub vulnerability_name: String,
    pub date_added: String,
    pub due_date: Option<String>,
    pub known_ransomware_campaign_use: Option<String>,
}

// ---------------------------------------------------------------- kev-affected.json

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AffectedFile {
    pub kev_catalog_version: String,
    pub count: Option<usize>,
    pub vulnerabilities: Vec<AffectedCve>,
}

#[derive(Deserialize)]
pub(crate) struct AffectedCve {
    pub cve: String,
    #[serde(default)]
    pub affected: Vec<Affected>,
}

/// Either an NVD CPE match (`criteria` set) or a CVE JSON 5 affected block.
#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Affected {
    pub origin: String,
    pub criteria: Option<String>,
    pub version_start_including: Option<String>,
    pub version_start_excluding: Option<String>,
    pub version_end_including: Option<String>,
    pub version_end_excluding: Option<String>,
    pub vulnerable: Option<bool>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub default_status: Option<String>,
    pub versions: Option<Vec<Cve5Version>>,
}

#[derive(Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Cve5Version {
    pub version: Option<String>,
    pub less_than: Option<String>,
    pub less_than_or_equal: Option<String>,
    pub status: Option<String>,
    pub version_type: Option<String>,
}

// ---------------------------------------------------------------- endoflife.date

#[derive(Deserialize)]
pub(crate) struct EolProductFile {
    pub product: String,
    pub title: Option<String>,
    pub source: Option<EolSource>,
    pub releases: Vec<EolRelease>,
}

#[derive(Deserialize)]
pub(crate) struct EolSource {
    pub repository_commit: Option<String>,
    pub repository_commit_date: Option<String>,
}

/// endoflife.date uses a date, or `true` (ended, date unknown) / `false`
/// (not ended or not announced).
#[derive(Deserialize, Clone, Debug)]
#[serde(untagged)]
pub(crate) enum DateOrBool {
    Bool(bool),
    Date(String),
}

#[derive(Deserialize)]
pub(crate) struct EolRelease {
    pub cycle: String,
    pub label: Option<String>,
    pub codename: Option<String>,
    pub release_date: Option<String>,
    pub eol: Option<DateOrBool>,
    pub extended_support: Option<DateOrBool>,
    pub latest: Option<serde_json::Value>,
}

/// A product as the endoflife.date API v1 serves it
/// (`https://endoflife.date/api/v1/products/<product>`).
#[derive(Deserialize)]
pub(crate) struct EolApiV1 {
    pub schema_version: String,
    pub last_modified: Option<String>,
    pub generated_at: Option<String>,
    pub result: EolApiProduct,
}

#[derive(Deserialize)]
pub(crate) struct EolApiProduct {
    pub name: String,
    pub label: Option<String>,
    pub releases: Vec<EolApiRelease>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EolApiRelease {
    pub name: String,
    pub label: Option<String>,
    pub codename: Option<String>,
    pub release_date: Option<String>,
    pub is_eol: Option<bool>,
    pub eol_from: Option<String>,
    pub is_eoes: Option<bool>,
    pub eoes_from: Option<String>,
    pub latest: Option<EolApiLatest>,
}

#[derive(Deserialize)]
pub(crate) struct EolApiLatest {
    pub name: Option<String>,
}

// ---------------------------------------------------------------- Microsoft lifecycle

#[derive(Deserialize)]
pub(crate) struct MsLifecycleFile {
    pub source: Option<MsSource>,
    pub products: Vec<MsProduct>,
}

#[derive(Deserialize)]
pub(crate) struct MsSource {
    pub commit: Option<String>,
    pub commit_date: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct MsProduct {
    pub id: String,
    pub name: String,
    pub extended_end: Option<String>,
    pub mainstream_end: Option<String>,
    #[serde(default)]
    pub releases: Vec<MsRelease>,
}

#[derive(Deserialize)]
pub(crate) struct MsRelease {
    pub version: String,
    pub end: Option<String>,
}

// ---------------------------------------------------------------- windows-sku.json

#[derive(Deserialize)]
pub(crate) struct SkuFile {
    pub metadata: Option<DfgMetadata>,
    pub data: Vec<SkuEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DfgMetadata {
    pub last_collected: Option<String>,
    pub dataset: Option<String>,
    pub record_count: Option<usize>,
}

#[derive(Deserialize)]
pub(crate) struct SkuEntry {
    pub value: String,
    pub dec: u32,
    pub meaning: String,
}

// ---------------------------------------------------------------- patches

#[derive(Deserialize)]
pub(crate) struct Ms17File {
    pub generated: Option<String>,
    pub platforms: Vec<Ms17Platform>,
    #[serde(default)]
    pub kbs_without_fix: Vec<String>,
}

#[derive(Deserialize)]
pub(crate) struct Ms17Platform {
    pub platform: String,
    pub os_version_prefix: Vec<String>,
    pub updates: Vec<Ms17Update>,
    pub fixed_from_build: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct Ms17Update {
    pub kb: String,
    pub release_date: String,
    pub contains_ms17_010_fix: bool,
    pub replaces: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RollupFile {
    pub id: Option<String>,
    pub generated: Option<String>,
    pub entries: Vec<RollupEntry>,
}

#[derive(Deserialize)]
pub(crate) struct RollupEntry {
    pub os_family: String,
    pub kb: String,
    pub kind: String,
    pub release_date: String,
    pub ms17_010: String,
}

#[derive(Deserialize)]
pub(crate) struct UpdateHistoryFile {
    pub metadata: Option<DfgMetadata>,
    pub data: Vec<UpdateHistoryRow>,
}

#[derive(Deserialize)]
pub(crate) struct UpdateHistoryRow {
    pub full_version: String,
    pub release_date: String,
    pub kb_article: Option<String>,
    pub release_type: Option<String>,
}

// ---------------------------------------------------------------- MSRC CVRF

/// One monthly security update document of the Microsoft Security Response
/// Center, as `https://api.msrc.microsoft.com/cvrf/v3.0/cvrf/2026-Nov`
/// serves it with `Accept: application/json`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CvrfDoc {
    pub document_tracking: CvrfTracking,
    pub product_tree: Option<CvrfProductTree>,
    #[serde(default)]
    pub vulnerability: Vec<CvrfVulnerability>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CvrfTracking {
    pub identification: CvrfIdentification,
    pub initial_release_date: String,
    pub current_release_date: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CvrfIdentification {
    #[serde(rename = "ID")]
    pub id: CvrfText,
}

#[derive(Deserialize)]
pub(crate) struct CvrfText {
    #[serde(rename = "Value")]
    pub value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CvrfProductTree {
    #[serde(default)]
    pub full_product_name: Vec<CvrfProduct>,
}

#[derive(Deserialize)]
pub(crate) struct CvrfProduct {
    #[serde(rename = "ProductID")]
    pub product_id: String,
    #[serde(rename = "Value")]
    pub value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CvrfVulnerability {
    #[serde(default)]
    pub remediations: Vec<CvrfRemediation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CvrfRemediation {
    pub description: Option<CvrfText>,
    pub sub_type: Option<String>,
    pub fixed_build: Option<String>,
    #[serde(rename = "ProductID", default)]
    pub product_id: Vec<String>,
    #[serde(rename = "URL")]
    pub url: Option<String>,
}
