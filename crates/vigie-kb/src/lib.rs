//! vigie knowledge base: OS lifecycle, Windows builds and updates, MS17-010,
//! CISA KEV — embedded data and pure, synchronous verdicts.
//!
//! The data files under `data/` of the workspace are compiled in
//! ([`KnowledgeBase::embedded`]); newer copies of the KEV catalog, of
//! `kev-affected.json`, of an endoflife.date product file or of
//! `microsoft-lifecycle.json`, of the Windows build history or of the legacy
//! update list can replace the bundled ones at run time, and monthly MSRC
//! security update documents extend the Windows update lists
//! ([`KnowledgeBase::load_update`]). See `docs/knowledge-base.md`.

mod error;
mod kev;
mod lifecycle;
mod patches;
mod raw;
mod ver;
mod windows;

pub use error::KbError;
pub use kev::KevMatch;
pub use lifecycle::{
    ENDS_SOON_DAYS, EditionClass, KnownOs, LifecycleStatus, LifecycleVerdict, OsChannel, OsProduct,
};
pub use patches::{Ms17Verdict, PatchLevel, PatchState, Smb1Verdict};

use kev::KevDb;
use lifecycle::LifecycleDb;
use patches::PatchDb;
use serde::Serialize;
use std::collections::BTreeMap;
use vigie_core::{Day, HostFacts, OsFacts, Software};

/// Whether a source is the copy compiled into the binary or a later update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceOrigin {
    Embedded,
    Update,
}

impl SourceOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceOrigin::Embedded => "embedded",
            SourceOrigin::Update => "update",
        }
    }
}

/// One data source of the knowledge base and the version in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KbSource {
    /// "cisa-kev", "kev-affected", "lifecycle-endoflife/ubuntu", "lifecycle-microsoft",
    /// "ms17-010", "windows-builds", "windows-legacy-rollups", "windows-sku",
    /// "msrc-cvrf/2026-Nov".
    pub name: String,
    /// Catalog version, commit or generation date, as the source states it.
    pub version: String,
    /// The day the source was published or collected.
    pub date: Option<Day>,
    /// The newest day the source describes, when it is later than `date`
    /// says (the build history extended by monthly MSRC documents) or is
    /// not its publication day (the newest update a list knows).
    pub horizon: Option<Day>,
    pub entries: usize,
    pub origin: SourceOrigin,
}

impl KbSource {
    /// How old this source may get before its verdicts cannot be trusted
    /// for today, in days: the CISA KEV catalog and the Windows build
    /// history change every month (a build history a few weeks old calls
    /// every well-patched fleet out of date), the endoflife.date lifecycle
    /// files every few months. `None`: a source describing a closed past
    /// (MS17-010, legacy rollups, the 2022 Microsoft lifecycle export).
    pub fn max_age_days(&self) -> Option<i32> {
        match self.name.as_str() {
            "cisa-kev" | "windows-builds" => Some(30),
            n if n.starts_with("lifecycle-endoflife/") => Some(90),
            _ => None,
        }
    }

    /// Days between the newest information the source holds (its horizon,
    /// else its date) and `today` (`None` without either).
    pub fn age_days(&self, today: Day) -> Option<i32> {
        self.horizon.or(self.date).map(|d| today.days_since(d))
    }

    /// Older than its maximum age on `today` (`max_age` overrides the
    /// source's own, for every source that has one).
    pub fn is_stale(&self, today: Day, max_age: Option<i32>) -> bool {
        match (self.age_days(today), self.max_age_days()) {
            (Some(age), Some(own)) => age > max_age.unwrap_or(own),
            _ => false,
        }
    }
}

mod embedded {
    pub const KEV: &[u8] =
        include_bytes!("../../../data/kev/known_exploited_vulnerabilities.min.json");
    pub const KEV_AFFECTED: &[u8] = include_bytes!("../../../data/kev/kev-affected.json");
    pub const MS_LIFECYCLE: &[u8] =
        include_bytes!("../../../data/lifecycle/microsoft-lifecycle.json");
    pub const SKU: &[u8] = include_bytes!("../../../data/lifecycle/windows-sku.json");
    pub const MS17: &[u8] = include_bytes!("../../../data/patches/ms17-010.json");
    pub const ROLLUPS: &[u8] =
        include_bytes!("../../../data/patches/windows-legacy-rollups.min.json");
    pub const HISTORY: &[u8] =
        include_bytes!("../../../data/patches/windows-update-history.min.json");

    /// endoflife.date products used for OS identification.
    pub const EOL: &[(&str, &[u8])] = &[
        (
            "windows.json",
            include_bytes!("../../../data/lifecycle/windows.json"),
        ),
        (
            "windows-server.json",
            include_bytes!("../../../data/lifecycle/windows-server.json"),
        ),
        (
            "windows-embedded.json",
            include_bytes!("../../../data/lifecycle/windows-embedded.json"),
        ),
        (
            "macos.json",
            include_bytes!("../../../data/lifecycle/macos.json"),
        ),
        (
            "ubuntu.json",
            include_bytes!("../../../data/lifecycle/ubuntu.json"),
        ),
        (
            "debian.json",
            include_bytes!("../../../data/lifecycle/debian.json"),
        ),
        (
            "rhel.json",
            include_bytes!("../../../data/lifecycle/rhel.json"),
        ),
        (
            "centos.json",
            include_bytes!("../../../data/lifecycle/centos.json"),
        ),
        (
            "centos-stream.json",
            include_bytes!("../../../data/lifecycle/centos-stream.json"),
        ),
        (
            "sles.json",
            include_bytes!("../../../data/lifecycle/sles.json"),
        ),
        (
            "almalinux.json",
            include_bytes!("../../../data/lifecycle/almalinux.json"),
        ),
        (
            "rocky-linux.json",
            include_bytes!("../../../data/lifecycle/rocky-linux.json"),
        ),
        (
            "oracle-linux.json",
            include_bytes!("../../../data/lifecycle/oracle-linux.json"),
        ),
        (
            "fedora.json",
            include_bytes!("../../../data/lifecycle/fedora.json"),
        ),
    ];
}

/// The knowledge base. Immutable during evaluation (`Send + Sync`): share it
/// behind an `Arc`; to apply an update, clone, `load_update`, and swap.
#[derive(Debug, Clone)]
pub struct KnowledgeBase {
    kev: KevDb,
    lifecycle: LifecycleDb,
    patches: PatchDb,
}

impl KnowledgeBase {
    /// Parses the data compiled into the binary.
    pub fn embedded() -> Result<KnowledgeBase, KbError> {
        let catalog = kev::parse_catalog(kev::KEV_FILE, embedded::KEV, SourceOrigin::Embedded)?;
        let affected = kev::parse_affected(
            kev::AFFECTED_FILE,
            embedded::KEV_AFFECTED,
            SourceOrigin::Embedded,
        )?;
        let mut eol = BTreeMap::new();
        for (file, bytes) in embedded::EOL {
            let (product, p) = lifecycle::parse_eol_product(file, bytes, SourceOrigin::Embedded)?;
            eol.insert(product, p);
        }
        let ms = lifecycle::parse_ms_lifecycle(
            "microsoft-lifecycle.json",
            embedded::MS_LIFECYCLE,
            SourceOrigin::Embedded,
        )?;
        let (sku, sku_date) = lifecycle::parse_sku("windows-sku.json", embedded::SKU)?;
        let patches = PatchDb::parse(embedded::MS17, embedded::ROLLUPS, embedded::HISTORY)?;
        Ok(KnowledgeBase {
            kev: KevDb::build(catalog, affected),
            lifecycle: LifecycleDb {
                eol,
                ms,
                sku,
                sku_version: "DataForGeeks 6846a6a".into(),
                sku_date,
            },
            patches,
        })
    }

    /// Loads one update from the given bytes: a CISA KEV catalog, a
    /// `kev-affected.json`, an endoflife.date product (the shape of the
    /// bundled `data/lifecycle/<product>.json`, or as the endoflife.date API
    /// v1 serves it), `microsoft-lifecycle.json`,
    /// a DataForGeeks Windows build history (`buildnumbers.json`), a
    /// `windows-legacy-rollups.json`, or one monthly MSRC CVRF document
    /// (JSON), which adds its month's Windows updates to the last two. The
    /// kind is detected from the content; the new data is parsed and
    /// validated completely before anything is replaced, so on error the
    /// knowledge base is unchanged. Returns the source as now in use.
    pub fn load_update(&mut self, bytes: &[u8]) -> Result<KbSource, KbError> {
        #[derive(serde::Deserialize)]
        struct Meta {
            dataset: Option<String>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Probe {
            catalog_version: Option<serde::de::IgnoredAny>,
            kev_catalog_version: Option<serde::de::IgnoredAny>,
            product: Option<serde::de::IgnoredAny>,
            releases: Option<serde::de::IgnoredAny>,
            products: Option<serde::de::IgnoredAny>,
            #[serde(rename = "DocumentTracking")]
            document_tracking: Option<serde::de::IgnoredAny>,
            metadata: Option<Meta>,
            id: Option<String>,
            #[serde(rename = "schema_version")]
            schema_version: Option<serde::de::IgnoredAny>,
            result: Option<serde::de::IgnoredAny>,
        }
        let probe: Probe = raw::from_json("update", bytes)?;
        let name = if probe.catalog_version.is_some() {
            let catalog =
                kev::parse_catalog("update (cisa kev catalog)", bytes, SourceOrigin::Update)?;
            self.kev = KevDb::build(catalog, self.kev.affected.clone());
            "cisa-kev".to_string()
        } else if probe.kev_catalog_version.is_some() {
            let affected =
                kev::parse_affected("update (kev-affected)", bytes, SourceOrigin::Update)?;
            self.kev = KevDb::build(self.kev.catalog.clone(), affected);
            "kev-affected".to_string()
        } else if (probe.product.is_some() && probe.releases.is_some())
            || (probe.schema_version.is_some() && probe.result.is_some())
        {
            let (product, p) = if probe.product.is_some() {
                lifecycle::parse_eol_product(
                    "update (endoflife.date)",
                    bytes,
                    SourceOrigin::Update,
                )?
            } else {
                lifecycle::parse_eol_api_v1(
                    "update (endoflife.date api v1)",
                    bytes,
                    SourceOrigin::Update,
                )?
            };
            let name = format!("lifecycle-endoflife/{product}");
            self.lifecycle.eol.insert(product, p);
            name
        } else if probe.products.is_some() {
            let ms = lifecycle::parse_ms_lifecycle(
                "update (microsoft lifecycle)",
                bytes,
                SourceOrigin::Update,
            )?;
            self.lifecycle.ms = ms;
            "lifecycle-microsoft".to_string()
        } else if probe.document_tracking.is_some() {
            let month = patches::parse_cvrf("update (msrc cvrf)", bytes)?;
            let name = month.source_name();
            self.patches.add_cvrf(month);
            name
        } else if probe.metadata.as_ref().and_then(|m| m.dataset.as_deref())
            == Some("windows-update-history")
        {
            self.patches
                .replace_history("update (windows build history)", bytes)?;
            "windows-builds".to_string()
        } else if probe.id.as_deref() == Some("windows-legacy-rollups") {
            self.patches
                .replace_rollups("update (windows legacy rollups)", bytes)?;
            "windows-legacy-rollups".to_string()
        } else {
            return Err(KbError::Unrecognised {
                detail: "no catalogVersion, kevCatalogVersion, product+releases, schema_version+result, products, DocumentTracking, metadata.dataset or id key".into(),
            });
        };
        self.sources()
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| KbError::invalid("update", "source", format!("{name} not registered")))
    }

    /// Every source in use, with its version and origin.
    pub fn sources(&self) -> Vec<KbSource> {
        let mut out: Vec<KbSource> = self.kev.sources().into();
        out.extend(self.lifecycle.sources());
        out.extend(self.patches.sources());
        out
    }

    /// Which OS product (and lifecycle record) the facts describe.
    pub fn identify_os(&self, os: &OsFacts) -> OsProduct {
        self.lifecycle.identify(os)
    }

    /// End-of-security-support status of the OS on a given day.
    pub fn lifecycle(&self, os: &OsFacts, on: Day) -> LifecycleVerdict {
        let product = self.lifecycle.identify(os);
        self.lifecycle.verdict(&product, on)
    }

    /// Whether the host lacks the MS17-010 (EternalBlue / WannaCry) fix.
    pub fn ms17_010(&self, facts: &HostFacts) -> Ms17Verdict {
        self.patches.ms17_010(&self.lifecycle, facts)
    }

    /// Whether the host offers SMBv1.
    pub fn smbv1(&self, facts: &HostFacts) -> Smb1Verdict {
        self.patches.smbv1(&self.lifecycle, facts)
    }

    /// Release date of the newest security update installed: from the NT 10.0
    /// build revision, else from the release dates of installed KBs.
    pub fn newest_security_update(&self, facts: &HostFacts) -> Option<PatchLevel> {
        self.patches.newest_security_update(&self.lifecycle, facts)
    }

    /// The patch level, or why it cannot be told (see [`PatchState`]).
    pub fn patch_state(&self, facts: &HostFacts) -> PatchState {
        self.patches.patch_state(&self.lifecycle, facts)
    }

    /// KEV CVEs that apply to one installed software.
    pub fn kev_for_software(&self, sw: &Software) -> Vec<KevMatch> {
        self.kev.lookup(sw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_age_against_their_threshold() {
        let src = |name: &str, date: &str| KbSource {
            name: name.into(),
            version: "v".into(),
            date: Some(Day::parse(date).unwrap_or_else(|_| Day::from_number(0))),
            horizon: None,
            entries: 1,
            origin: SourceOrigin::Embedded,
        };
        let today = Day::parse("2026-12-03").unwrap_or_else(|_| Day::from_number(0));
        let builds = src("windows-builds", "2026-08-12");
        assert_eq!(builds.age_days(today), Some(113));
        assert!(builds.is_stale(today, None));
        assert!(!builds.is_stale(today, Some(200)));
        assert!(!src("cisa-kev", "2026-11-20").is_stale(today, None));
        assert!(src("cisa-kev", "2026-11-02").is_stale(today, None));
        // a closed past never ages
        assert!(!src("ms17-010", "2017-05-13").is_stale(today, None));
        assert!(!src("lifecycle-endoflife/ubuntu", "2026-09-10").is_stale(today, None));
    }

    #[test]
    fn knowledge_base_is_send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<KnowledgeBase>();
    }
}
