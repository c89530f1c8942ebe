//! Storage for vigie.
//!
//! One interface ([`Store`], [`StoreTx`]) with one conformance suite
//! ([`testsuite`]) run against SQLite and PostgreSQL. Every read takes the
//! caller's [`Scope`]: there is no unscoped read outside the ingest
//! transaction, which the pipeline drives.
//!
//! Findings are stored as intervals (opened, last seen, closed) and daily
//! aggregates (one row per establishment × rule × day on which a count
//! changed) are refreshed as ingest happens, so posture at a past date and
//! trends read small tables instead of scanning hosts.

mod accounts;
pub mod citus;
mod codec;
mod sql;
pub mod testdb;
pub mod testsuite;
mod watch;
mod watch_writer;

pub use accounts::{
    ApiTokenRecord, AuditEntry, AuditFilter, NewApiToken, NewAuditEntry, NewUser, SessionRecord,
    UserRecord,
};
pub use codec::{StoredSourceState, decode_state, encode_state};
pub use sql::SqlStore;
pub use watch::{
    UptimeRow, WatchEvent, WatchEventView, WatchGroup, WatchImport, WatchNotice, WatchSample,
    WatchStateRecord, WatchTarget, WatchTargetInput,
};
pub use watch::{WatchIncidentOp, WatchNoticeInput, WatchOpenIncident};
pub use watch_writer::{Waiting, WatchWriter, WatchWriterConfig, WatchWriterStats};

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vigie_core::{
    AttributionReason, Day, Establishment, EstablishmentCode, Evidence, Finding, FindingStatus,
    OrgDirectory, OsFamily, Region, RegionCode, RuleId, Severity, Software, SourceKind,
    SourceSummary,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A database's own error. Shown with its message and code only:
    /// PostgreSQL adds "at line N", where N is a line of the server's C
    /// source, which users read as a line of their file.
    #[error("database error: {}", describe_database_error(.0))]
    Database(#[from] sqlx::Error),
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("corrupt stored value in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
    #[error("unknown establishment {0}")]
    UnknownEstablishment(EstablishmentCode),
    #[error("unknown region {0}")]
    UnknownRegion(RegionCode),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Another writer held the database for longer than a writer waits
    /// (SQLite: 30 minutes); nothing was written.
    #[error(
        "the database stayed busy for {waited_seconds} s (another process is writing); nothing was written"
    )]
    Busy { waited_seconds: u64 },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long after the last assessment ([`Store::last_assessment`]) the
/// figures are said to be out of date: a day, and slack for the daily run.
pub const ASSESSMENT_STALE: jiff::SignedDuration = jiff::SignedDuration::from_hours(26);

fn describe_database_error(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(d) => match d.code() {
            Some(code) => format!("{} (code {code})", d.message()),
            None => d.message().to_string(),
        },
        None => e.to_string(),
    }
}

/// Whose data a read may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "level", content = "code")]
pub enum Scope {
    /// The whole sector, including unassigned machines.
    National,
    Region(RegionCode),
    Establishment(EstablishmentCode),
}

/// How posture and trends are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Sector,
    Region,
    Establishment,
}

impl GroupBy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sector" | "nation" | "national" => Some(GroupBy::Sector),
            "region" => Some(GroupBy::Region),
            "establishment" => Some(GroupBy::Establishment),
            _ => None,
        }
    }
}

/// Trend granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Day,
    Week,
}

/// A summary of what an organisation import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgImport {
    pub regions: usize,
    pub establishments_added: usize,
    pub establishments_updated: usize,
}

/// A file already ingested (content hash), so re-ingesting changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub content_hash: String,
    pub name: String,
    pub format: String,
    pub ingested_at: Timestamp,
    pub observations: u64,
    pub hosts: u64,
    pub unassigned: u64,
}

/// An open finding as the ingest pipeline sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFinding {
    pub finding: Finding,
    pub opened_at: Timestamp,
}

/// A stored host, loaded for the ingest pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct HostRecord {
    pub id: i64,
    pub establishment: Option<EstablishmentCode>,
    /// Why the host is in its establishment.
    pub attribution: Option<AttributionReason>,
    /// When the latest of its closed findings was closed.
    pub last_closed: Option<Timestamp>,
    pub hostname: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub sources: Vec<StoredSourceState>,
    pub open_findings: Vec<OpenFinding>,
    /// The findings that were open at `last_seen`, the last observation:
    /// what a change dated after it starts from once the projections made
    /// from earlier facts are rewound ([`HostChange::rewind_after`]).
    pub open_at_last_seen: Vec<OpenFinding>,
    /// Identity keys that point at this host.
    pub keys: Vec<String>,
}

impl HostRecord {
    /// The latest time anything was recorded for this host: its last
    /// observation or the opening of one of its findings (a re-assessment
    /// can open findings after the last observation).
    pub fn latest_event(&self) -> Timestamp {
        self.open_findings
            .iter()
            .map(|f| f.opened_at)
            .chain(self.last_closed)
            .fold(self.last_seen, Timestamp::max)
    }

    /// Findings opened or closed after the last observation: projections of
    /// the facts then known (support ending, patches ageing), made up to
    /// the time of an ingest or assessment.
    pub fn has_projections(&self) -> bool {
        self.latest_event() > self.last_seen
    }
}

/// OS columns kept on the host row for listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OsSummary {
    pub family: Option<OsFamily>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub build: Option<u32>,
    pub ubr: Option<u32>,
}

/// Everything one observation changes for one host, computed by the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct HostChange {
    pub host_id: i64,
    /// True when the host did not exist before this change.
    pub is_new: bool,
    /// Where the host was stored before (for a re-attribution); `None` for new hosts.
    pub previous_establishment: Option<Option<EstablishmentCode>>,
    pub establishment: Option<EstablishmentCode>,
    pub attribution: Option<AttributionReason>,
    pub hostname: Option<String>,
    /// Identity keys to point at this host ("hw:…", "name:…", "addr:…");
    /// only keys that are new or point elsewhere need to be listed.
    pub keys: Vec<String>,
    pub os: OsSummary,
    pub observed_at: Timestamp,
    pub first_seen: Timestamp,
    /// The updated state of the source that made the observation; `None`
    /// for a re-assessment, which changes findings only (the host row, its
    /// sources and keys stay as they are).
    pub source: Option<StoredSourceState>,
    /// The source's state is what was stored, but for its time: only the
    /// time is written.
    pub source_unchanged: bool,
    pub opened: Vec<Finding>,
    /// Rules whose open finding the observation shows gone.
    pub closed: Vec<RuleId>,
    /// Open findings still present whose evidence or severity changed.
    pub updated: Vec<Finding>,
    /// Moves `last_seen` of every finding left open to `observed_at`.
    pub bump_open: bool,
    /// Before anything else: the findings opened after this time are
    /// deleted and those closed after it are open again. They were
    /// projected from facts that a newer observation (or knowledge base)
    /// replaces, and are computed again by the rest of the change.
    pub rewind_after: Option<Timestamp>,
}

/// A finding as reads return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingView {
    pub rule: RuleId,
    pub severity: Severity,
    pub status: FindingStatus,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub evidence: Evidence,
}

/// A host as reads return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostView {
    pub id: i64,
    pub hostname: Option<String>,
    pub establishment: Option<EstablishmentCode>,
    pub region: Option<RegionCode>,
    pub attribution: Option<String>,
    pub os: OsSummary,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub sources: Vec<SourceSummary>,
    pub findings: Vec<FindingView>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostFilter {
    pub establishment: Option<EstablishmentCode>,
    pub region: Option<RegionCode>,
    /// Only hosts with an open finding of this rule (at `at`).
    pub rule: Option<RuleId>,
    /// Evaluate at the end of this day; `None` means now.
    pub at: Option<Day>,
    /// Only hosts without an establishment (national scope only).
    pub unassigned_only: bool,
    pub hostname: Option<String>,
    /// One host by id (the scope still applies: outside it, nothing).
    pub host_id: Option<i64>,
    pub limit: Option<u64>,
    pub offset: u64,
}

impl HostFilter {
    /// Names at most a perimeter (establishment, region) and a rule, about
    /// now: no date, name, id or unassigned-only. Such a filter can be
    /// answered from the findings or sources tables alone, whose rows all
    /// belong to a machine of their establishment.
    pub fn is_perimeter_and_rule_now(&self) -> bool {
        self.at.is_none()
            && !self.unassigned_only
            && self.hostname.is_none()
            && self.host_id.is_none()
    }
}

/// Machines described by one inventory source, and its latest report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCount {
    pub source: SourceKind,
    pub hosts: u64,
    pub last_observed: Timestamp,
}

/// One group of a posture table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostureRow {
    /// "sector", a region code or an establishment code ("unassigned" for
    /// machines without one).
    pub group: String,
    pub name: String,
    pub hosts: u64,
    /// Machines with a confirmed finding, per rule.
    pub rules: BTreeMap<String, u64>,
    /// Machines whose finding needs an analyst's review (e.g. a KEV product
    /// match without version evidence), per rule; not counted in `rules`.
    pub review: BTreeMap<String, u64>,
    /// Machines for which the rule cannot be decided (status `unknown`:
    /// its inputs are missing), per rule; counted neither in `rules` nor as
    /// compliant.
    #[serde(default)]
    pub unknown: BTreeMap<String, u64>,
}

impl PostureRow {
    /// Machines silent at the date: no source has reported them for the
    /// `silent` rule's number of days.
    pub fn silent(&self) -> u64 {
        self.rules.get(SILENT_RULE).copied().unwrap_or(0)
    }

    /// Machines with fresh evidence (not silent).
    pub fn covered(&self) -> u64 {
        self.hosts.saturating_sub(self.silent())
    }

    /// Share of the machines with fresh evidence (not silent), 0 to 1;
    /// `None` without machines.
    pub fn coverage(&self) -> Option<f64> {
        coverage(self.hosts, self.covered())
    }
}

/// The rule whose confirmed findings are the machines gone silent; the
/// coverage of a group is the share of its machines without one.
pub const SILENT_RULE: &str = "silent";

/// Share of `hosts` machines that are `covered` (not silent), 0 to 1.
fn coverage(hosts: u64, covered: u64) -> Option<f64> {
    (hosts > 0).then(|| covered as f64 / hosts as f64)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub day: Day,
    pub group: String,
    pub hosts: u64,
    /// Machines with a confirmed finding.
    pub with_rule: u64,
    /// Machines whose finding needs review.
    pub needs_review: u64,
    /// Machines for which the rule cannot be decided.
    #[serde(default)]
    pub unknown: u64,
    /// Machines silent at that date (see [`SILENT_RULE`]).
    #[serde(default)]
    pub silent: u64,
}

impl TrendPoint {
    /// Machines with fresh evidence (not silent).
    pub fn covered(&self) -> u64 {
        self.hosts.saturating_sub(self.silent)
    }

    /// Share of the machines with fresh evidence, 0 to 1.
    pub fn coverage(&self) -> Option<f64> {
        coverage(self.hosts, self.covered())
    }
}

/// Time to remediate a rule: closed intervals in a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemediationStats {
    pub rule: RuleId,
    pub closed: u64,
    pub still_open: u64,
    pub median_days: Option<f64>,
    pub p90_days: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KbUpdateRecord {
    pub name: String,
    pub version: String,
    pub loaded_at: Timestamp,
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StoreStats {
    pub hosts: u64,
    pub unassigned_hosts: u64,
    pub open_findings: u64,
    pub files: u64,
    pub software_dictionary: u64,
}

/// The storage interface. Implementations must pass [`testsuite::run_all`].
#[async_trait]
pub trait Store: Send + Sync {
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;

    /// Adds or updates regions and establishments (by code). Never deletes.
    async fn import_org(
        &self,
        regions: &[Region],
        establishments: &[Establishment],
    ) -> Result<OrgImport>;
    /// The directory used for attribution (reference data).
    async fn org(&self) -> Result<OrgDirectory>;
    /// Establishments visible in a scope.
    async fn establishments(&self, scope: &Scope) -> Result<Vec<Establishment>>;

    async fn file_record(&self, content_hash: &str) -> Result<Option<FileRecord>>;
    async fn files(&self, limit: u64) -> Result<Vec<FileRecord>>;

    /// Starts the transaction an ingest of one file runs in.
    async fn begin(&self) -> Result<Box<dyn StoreTx>>;

    async fn hosts(&self, scope: &Scope, filter: &HostFilter) -> Result<Vec<HostView>>;
    async fn count_hosts(&self, scope: &Scope, filter: &HostFilter) -> Result<u64>;
    /// The machines carrying the heaviest open findings (at `filter.at`),
    /// heaviest first: each critical finding weighs 100, each high 10, any
    /// other 1; ties by id. Machines without a finding are left out.
    /// `filter.limit` caps the list (default 20); the rest of the filter
    /// narrows as in [`Store::hosts`]. Ranked in the database, so a fleet
    /// of any size costs the same to the caller.
    async fn worst_hosts(&self, scope: &Scope, filter: &HostFilter) -> Result<Vec<HostView>>;
    /// For each inventory source, how many machines (matching the filter)
    /// it has described and its latest observation.
    async fn source_summary(&self, scope: &Scope, filter: &HostFilter) -> Result<Vec<SourceCount>>;
    /// Posture at the end of `at`, from the daily aggregates.
    async fn posture(&self, scope: &Scope, by: GroupBy, at: Day) -> Result<Vec<PostureRow>>;
    async fn trend(
        &self,
        scope: &Scope,
        rule: &RuleId,
        by: GroupBy,
        from: Day,
        to: Day,
        step: Step,
    ) -> Result<Vec<TrendPoint>>;
    async fn remediation(
        &self,
        scope: &Scope,
        rule: &RuleId,
        from: Day,
        to: Day,
    ) -> Result<RemediationStats>;
    async fn stats(&self, scope: &Scope) -> Result<StoreStats>;

    async fn record_kb_update(
        &self,
        name: &str,
        version: &str,
        origin: &str,
        content: &[u8],
    ) -> Result<()>;
    /// The newest recorded update per source, with its content.
    async fn kb_updates(&self) -> Result<Vec<(KbUpdateRecord, Vec<u8>)>>;
    /// The time every machine was last brought up to (the latest committed
    /// assessment), if any.
    async fn last_assessment(&self) -> Result<Option<Timestamp>>;

    /// Removes all data (tests and demo only); the installation's
    /// secrets stay.
    async fn reset(&self) -> Result<()>;

    // --- exposure watch -------------------------------------------------

    /// Adds or updates targets by name, all or nothing: an unknown
    /// establishment or an invalid entry writes none of them. A removed
    /// target given again is watched again.
    async fn upsert_watch_targets(&self, targets: &[WatchTargetInput]) -> Result<WatchImport>;
    /// Stops watching a target; its history is kept. False if unknown.
    async fn remove_watch_target(&self, name: &str, at: i64) -> Result<bool>;
    /// Targets visible in a scope, by name, with their current state.
    async fn watch_targets(&self, scope: &Scope, include_removed: bool)
    -> Result<Vec<WatchTarget>>;
    /// Watched targets with their status but without the detection memory
    /// (`state.data` is empty): the cheap listing a runner polls.
    async fn watch_target_list(&self, scope: &Scope) -> Result<Vec<WatchTarget>>;
    /// Replaces the stored state of these targets.
    async fn save_watch_states(&self, states: &[(i64, WatchStateRecord)]) -> Result<()>;
    /// Records probe samples and state changes in one transaction and adds
    /// the samples to the daily uptime aggregates.
    async fn record_watch(&self, samples: &[WatchSample], events: &[WatchEvent]) -> Result<()>;
    /// Daily uptime per group over `[from, to]`.
    async fn watch_uptime(
        &self,
        scope: &Scope,
        by: WatchGroup,
        from: Day,
        to: Day,
    ) -> Result<Vec<UptimeRow>>;
    /// State changes at or after `since`, newest first.
    async fn watch_events(
        &self,
        scope: &Scope,
        since: i64,
        limit: u64,
    ) -> Result<Vec<WatchEventView>>;
    /// Raw samples of one target in `[from, to]`, oldest first.
    async fn watch_samples(
        &self,
        scope: &Scope,
        target: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<WatchSample>>;
    /// Deletes raw samples older than `before`; daily aggregates stay.
    async fn prune_watch_samples(&self, before: i64) -> Result<u64>;
    /// Appends a notice to the register; returns its id.
    async fn record_watch_notice(
        &self,
        at: i64,
        kind: &str,
        incident_key: &str,
        payload: &str,
        deliveries: &str,
    ) -> Result<i64>;
    /// The newest notices (national register).
    async fn watch_notices(&self, limit: u64) -> Result<Vec<WatchNotice>>;
    /// Reserves `count` (at least one) watch incident ids and returns the
    /// first: no id is ever handed out twice over the life of the
    /// database, so incident keys are unique across restarts and runners.
    async fn allocate_watch_incident_ids(&self, count: u64) -> Result<i64>;
    /// Applies changes to the open incidents of one watch runner (a name
    /// for the process and its perimeter), in order, all or nothing.
    async fn save_watch_incidents(&self, runner: &str, ops: &[WatchIncidentOp]) -> Result<()>;
    /// The open incidents of one runner, by key, with their members and
    /// the routes their opening reached.
    async fn watch_open_incidents(&self, runner: &str) -> Result<Vec<WatchOpenIncident>>;

    // --- accounts, tokens, sessions, audit (national reference data) ---

    /// Creates a user. An unknown region or establishment is
    /// [`StoreError::UnknownRegion`] / [`StoreError::UnknownEstablishment`],
    /// an existing username [`StoreError::Invalid`]; nothing is written then.
    async fn create_user(&self, user: &NewUser) -> Result<UserRecord>;
    /// Every user, by username.
    async fn users(&self) -> Result<Vec<UserRecord>>;
    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>>;
    async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>>;
    /// Disables (`disabled_at = at`, and every session of the user is
    /// deleted in the same transaction) or enables a user. Disabling a
    /// disabled user keeps its first `disabled_at`. `None` if unknown.
    async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        at: Timestamp,
    ) -> Result<Option<UserRecord>>;
    /// Replaces a user's password hash and deletes its sessions. False if unknown.
    async fn set_user_password(&self, username: &str, password_hash: &str) -> Result<bool>;
    async fn record_login(&self, user_id: i64, at: Timestamp) -> Result<()>;

    /// Creates an API token (its hash must be new: [`StoreError::Invalid`]
    /// otherwise). Perimeter codes are checked as for users.
    async fn create_token(&self, token: &NewApiToken) -> Result<ApiTokenRecord>;
    /// Every token, revoked and expired ones included, by id.
    async fn tokens(&self) -> Result<Vec<ApiTokenRecord>>;
    /// The token with this hash, whatever its state: check
    /// [`ApiTokenRecord::is_active`].
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>>;
    /// Revokes the token with this id (digits) or prefix; a prefix that
    /// matches several tokens is [`StoreError::Invalid`]. Revoking a revoked
    /// token keeps its first `revoked_at`. `None` if no token matches.
    async fn revoke_token(
        &self,
        id_or_prefix: &str,
        at: Timestamp,
    ) -> Result<Option<ApiTokenRecord>>;
    /// Records a use of the token.
    async fn touch_token(&self, id: i64, at: Timestamp) -> Result<()>;

    /// Stores a new session ([`StoreError::Invalid`] if its hash exists).
    async fn create_session(&self, session: &SessionRecord) -> Result<()>;
    /// The session with this hash, whatever its expiry: check
    /// [`SessionRecord::is_live`].
    async fn session_by_hash(&self, id_hash: &str) -> Result<Option<SessionRecord>>;
    /// Records activity and moves the expiry (sliding sessions). False if unknown.
    async fn touch_session(
        &self,
        id_hash: &str,
        at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool>;
    /// Logs out one session. False if unknown.
    async fn delete_session(&self, id_hash: &str) -> Result<bool>;
    /// Logs out every session of a user; returns how many.
    async fn delete_sessions_of_user(&self, user_id: i64) -> Result<u64>;
    /// Deletes sessions expired at `now`; returns how many.
    async fn prune_sessions(&self, now: Timestamp) -> Result<u64>;

    /// Appends an entry to the audit log; returns its id (ids grow with
    /// every append).
    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<i64>;
    /// Audit entries, newest first (by id).
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>>;

    /// The installation secret stored under `name`, storing `candidate`
    /// (fresh random bytes, not empty) first if there is none: every
    /// handle and process gets the first value stored, whoever races.
    /// Kept by [`Store::reset`].
    async fn installation_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>>;
}

/// One ingest transaction. Dropping it without [`StoreTx::commit`] rolls back.
#[async_trait]
pub trait StoreTx: Send {
    /// Records the file. Returns `false` when it was already ingested.
    async fn record_file(&mut self, record: &FileRecord) -> Result<bool>;
    /// Reserves `n` new host ids.
    async fn allocate_host_ids(&mut self, n: u64) -> Result<i64>;
    /// Finds hosts by identity keys, strongest first; returns the host id of the
    /// first key that resolves.
    async fn resolve_keys(&mut self, keys: &[Vec<String>]) -> Result<Vec<Option<i64>>>;
    async fn load_hosts(&mut self, ids: &[i64]) -> Result<Vec<HostRecord>>;
    /// Like `load_hosts`, without the identity keys (`keys` is left empty):
    /// for bringing stored machines up to a date, which never changes them.
    async fn load_hosts_for_assessment(&mut self, ids: &[i64]) -> Result<Vec<HostRecord>> {
        self.load_hosts(ids).await
    }
    /// Host ids in ascending order after `after`, at most `limit`, of hosts
    /// first seen at or before `seen_by` (for re-assessment in pages).
    async fn host_ids_after(
        &mut self,
        after: i64,
        limit: u64,
        seen_by: Timestamp,
    ) -> Result<Vec<i64>>;
    /// Interns software entries in the dictionary, returning their ids.
    async fn intern_software(&mut self, items: &[Software]) -> Result<Vec<u32>>;
    async fn software_by_ids(&mut self, ids: &[u32]) -> Result<Vec<(u32, Software)>>;
    async fn apply(&mut self, changes: &[HostChange]) -> Result<()>;
    /// Recomputes the daily aggregates of these establishments (`None` =
    /// unassigned) for `from` and every later day already aggregated, and for
    /// each day in `days`.
    async fn refresh_daily(
        &mut self,
        establishments: &[Option<EstablishmentCode>],
        days: &[Day],
    ) -> Result<()>;
    /// Records that this transaction brings every machine up to `at` (an
    /// assessment): visible once committed, gone with a rollback.
    async fn record_assessment(&mut self, at: Timestamp) -> Result<()>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Source kinds as stored.
pub fn source_from_str(s: &str) -> Option<SourceKind> {
    SourceKind::parse(s)
}
