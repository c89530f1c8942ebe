//! The alert model: what the watcher and the posture engine hand to the notifier.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How serious an alert is. Ordered: `Info < Warning < Major < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Major,
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Warning,
        Severity::Major,
        Severity::Critical,
    ];

    /// The lowercase name used in configuration and JSON (`"major"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }

    /// The uppercase label used in subjects and message headings (`"MAJOR"`).
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Major => "MAJOR",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not one of info, warning, major, critical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity \"{0}\" (expected info, warning, major or critical)")]
pub struct ParseSeverityError(pub String);

impl FromStr for Severity {
    type Err = ParseSeverityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Severity::ALL
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| ParseSeverityError(s.to_string()))
    }
}

/// What happened to the thing the alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// An incident was opened.
    Opened,
    /// An open incident grew (more establishments, more targets).
    Grew,
    /// An incident ended.
    Resolved,
    /// A watched target failed.
    Failed,
    /// A failed target recovered.
    Recovered,
    /// A standalone warning (no end message expected).
    Warning,
}

impl AlertKind {
    /// The lowercase name used in JSON (`"opened"`).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Opened => "opened",
            AlertKind::Grew => "grew",
            AlertKind::Resolved => "resolved",
            AlertKind::Failed => "failed",
            AlertKind::Recovered => "recovered",
            AlertKind::Warning => "warning",
        }
    }

    /// True for the kinds that end something (`Resolved`, `Recovered`).
    pub fn is_resolution(self) -> bool {
        matches!(self, AlertKind::Resolved | AlertKind::Recovered)
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One notification to dispatch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable identity, the same across opened / grew / resolved
    /// (`"incident-12"`, `"target:chu-x-portail"`).
    pub key: String,
    pub kind: AlertKind,
    pub severity: Severity,
    /// One line.
    pub title: String,
    /// Plain-text details; each channel caps what it sends.
    pub body: String,
    /// Establishment codes concerned (routing).
    pub establishments: Vec<String>,
    /// Region codes concerned (routing).
    pub regions: Vec<String>,
    /// Unix seconds.
    pub at: i64,
    /// Machine-readable payload, sent as-is inside the webhook JSON.
    pub details: serde_json::Value,
}
