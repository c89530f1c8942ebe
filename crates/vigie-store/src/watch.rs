//! Stored records of the exposure watch. The store keeps target options and
//! per-target detection memory as opaque JSON written by `vigie-watch`, so
//! storage does not depend on the probe code.

use serde::{Deserialize, Serialize};
use vigie_core::{Day, EstablishmentCode, RegionCode};

/// A target to add or update (by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchTargetInput {
    pub name: String,
    pub url: String,
    /// `None`: attached to no establishment (seen nationally only).
    pub establishment: Option<EstablishmentCode>,
    /// Probe options, JSON.
    pub options: String,
}

/// What an upsert of targets changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchImport {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// A stored target with its current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchTarget {
    pub id: i64,
    pub name: String,
    pub url: String,
    pub establishment: Option<EstablishmentCode>,
    pub region: Option<RegionCode>,
    pub options: String,
    pub created_at: i64,
    pub removed_at: Option<i64>,
    pub state: Option<WatchStateRecord>,
}

/// A target's declared status and detection memory (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchStateRecord {
    pub status: String,
    pub since: i64,
    pub updated_at: i64,
    pub data: String,
}

/// One probe's result, as kept for a configurable number of days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchSample {
    pub target_id: i64,
    pub at: i64,
    /// up, degraded, changed, down, defaced.
    pub observed: String,
    pub http_status: Option<u16>,
    pub dns_us: Option<i64>,
    pub connect_us: Option<i64>,
    pub tls_us: Option<i64>,
    pub first_byte_us: Option<i64>,
    pub total_us: i64,
    pub error: Option<String>,
    /// Keep the raw row; when false the probe only counts in the daily
    /// uptime (a runner thins out unremarkable successes).
    #[serde(default = "yes")]
    pub keep_raw: bool,
}

fn yes() -> bool {
    true
}

impl WatchSample {
    /// Counted as available in the daily uptime.
    pub fn is_up(&self) -> bool {
        matches!(self.observed.as_str(), "up" | "degraded" | "changed")
    }
    pub fn is_degraded(&self) -> bool {
        matches!(self.observed.as_str(), "degraded" | "changed")
    }
}

/// A declared state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEvent {
    pub target_id: i64,
    pub at: i64,
    pub from: String,
    pub to: String,
    /// Reasons, JSON.
    pub detail: String,
}

/// A state change with the target it concerns, for listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchEventView {
    pub target: String,
    pub establishment: Option<EstablishmentCode>,
    pub at: i64,
    pub from: String,
    pub to: String,
    pub detail: String,
}

/// How uptime is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchGroup {
    Sector,
    Region,
    Establishment,
    Target,
}

impl WatchGroup {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sector" | "nation" | "national" => Some(WatchGroup::Sector),
            "region" => Some(WatchGroup::Region),
            "establishment" => Some(WatchGroup::Establishment),
            "target" => Some(WatchGroup::Target),
            _ => None,
        }
    }
}

/// Probes and availability of one group on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UptimeRow {
    /// "sector", a region or establishment code, or a target name;
    /// "(none)" for targets attached to no establishment.
    pub group: String,
    pub day: Day,
    pub probes: u64,
    pub up: u64,
    pub degraded: u64,
}

impl UptimeRow {
    /// Share of probes that found the service available, 0–1.
    pub fn uptime(&self) -> f64 {
        if self.probes == 0 {
            0.0
        } else {
            self.up as f64 / self.probes as f64
        }
    }
}

/// A notice the correlator sent, with what happened to each delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchNotice {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub incident_key: String,
    /// The notice, JSON.
    pub payload: String,
    /// Deliveries, JSON.
    pub deliveries: String,
}

/// A change of the open incidents a watch runner keeps across restarts.
/// `key` is the key of the incident's notices ("incident-12", or
/// "target:NAME" for a failure notified on its own); the JSON is written
/// by `vigie-watch` and opaque here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchIncidentOp {
    /// Creates or replaces the incident's record, adds or replaces these
    /// members (target name, JSON) and deletes the removed ones.
    Save {
        key: String,
        data: String,
        members: Vec<(String, String)>,
        removed: Vec<String>,
        at: i64,
    },
    /// Its opening (or a digest) was delivered on these routes. Ignored
    /// when the incident is not open (it ended meanwhile).
    Delivered {
        key: String,
        routes: Vec<String>,
        at: i64,
    },
    /// It ended: forgets it, its members and its deliveries.
    Close { key: String },
}

/// An open incident as stored, to resume after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchOpenIncident {
    pub key: String,
    /// The incident's record, JSON.
    pub data: String,
    pub updated_at: i64,
    /// (target name, JSON), by name.
    pub members: Vec<(String, String)>,
    /// Routes its opening reached, by name.
    pub routes: Vec<String>,
}

/// A notice to append to the register (see [`crate::Store::record_watch_notice`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchNoticeInput {
    pub at: i64,
    pub kind: String,
    pub incident_key: String,
    /// The notice, JSON.
    pub payload: String,
    /// Deliveries, JSON.
    pub deliveries: String,
}
