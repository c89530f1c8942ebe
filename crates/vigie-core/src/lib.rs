//! Domain types shared by every vigie crate.
//!
//! This crate is pure: no I/O, no async, no SQL. It holds the organisation
//! directory and attribution, the normalised [`Observation`] produced by the
//! inventory parsers, the merged [`HostFacts`] the rules evaluate, findings,
//! and small utilities (dates, version comparison, hostname globs).

pub mod csv_export;
pub mod facts;
pub mod finding;
pub mod ids;
pub mod observation;
pub mod org;
pub mod time;
pub mod version;

pub use facts::{HostFacts, SourceSummary};
pub use finding::{Evidence, Finding, FindingStatus, Severity};
pub use ids::{EstablishmentCode, IdError, RegionCode, RuleId};
pub use observation::{
    Feature, HostIdentity, Hotfix, NetworkFacts, Observation, OsFacts, OsFamily, Section, Software,
    SourceKind,
};
pub use org::{
    Attribution, AttributionReason, Establishment, EstablishmentKind, OrgDirectory, Region,
};
pub use time::{Clock, Day, FixedClock, SystemClock, rfc3339};
