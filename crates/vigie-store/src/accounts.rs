//! Accounts, API tokens, sessions and the audit log (migration 0003), as
//! the store keeps them: roles as their names and perimeters as codes. The
//! store checks that a region or establishment exists but knows nothing of
//! what a role may do; `vigie-auth` turns a record into a grant.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use vigie_core::{EstablishmentCode, RegionCode};

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// The role's name (`national-admin`, `regional-analyst`, …).
    pub role: String,
    pub region: Option<RegionCode>,
    pub establishment: Option<EstablishmentCode>,
    pub created_at: Timestamp,
}

/// A stored user. The password hash is never serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    #[serde(skip_serializing, default)]
    pub password_hash: String,
    pub role: String,
    pub region: Option<RegionCode>,
    pub establishment: Option<EstablishmentCode>,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    pub last_login_at: Option<Timestamp>,
}

impl UserRecord {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// An API token to create: only its hash and prefix are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub name: String,
    /// The first characters of the secret, kept in clear for listing.
    pub prefix: String,
    /// SHA-256 of the secret, hex.
    pub token_hash: String,
    pub role: String,
    pub region: Option<RegionCode>,
    pub establishment: Option<EstablishmentCode>,
    /// Who created it (an audit actor: `cli:alice`, `user:bob`).
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// A stored API token. The hash is never serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenRecord {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    #[serde(skip_serializing, default)]
    pub token_hash: String,
    pub role: String,
    pub region: Option<RegionCode>,
    pub establishment: Option<EstablishmentCode>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

impl ApiTokenRecord {
    /// Neither revoked nor expired at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }

    /// `active`, `expired` or `revoked` at `now` (as listings show it).
    pub fn state(&self, now: Timestamp) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if !self.is_active(now) {
            "expired"
        } else {
            "active"
        }
    }
}

/// A browser session, keyed by the SHA-256 of its cookie value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_seen_at: Timestamp,
}

impl SessionRecord {
    /// Not yet expired at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// An entry to append to the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    pub at: Timestamp,
    /// Who: `user:alice`, `token:rx1-glpi`, `cli:root`, `anonymous`.
    pub actor: String,
    /// What, as a stable dotted name: `login`, `ingest`, `export`,
    /// `user.add`, `token.revoke`, …
    pub action: String,
    /// On what: a username, a token prefix, a file name, a page.
    pub target: String,
    /// `ok`, `denied`, `failed`, …
    pub outcome: String,
    pub ip: Option<String>,
    /// Anything else, as JSON (`null` when there is nothing).
    pub detail: serde_json::Value,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

/// Which audit entries to read; they come newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries with exactly this action.
    pub action: Option<String>,
    /// Entries of exactly this actor.
    pub actor: Option<String>,
    /// Entries with an id below this one (the next page after the last id seen).
    pub before_id: Option<i64>,
    /// At most this many entries (0 = the default of 100; capped at 10,000).
    pub limit: u64,
}
