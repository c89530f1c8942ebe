//! The SQL implementation of [`Store`], shared by SQLite and PostgreSQL
//! through sqlx's runtime driver. The two dialects differ only in their
//! DDL (one migrations folder each) and in connection set-up; every query
//! below is written in the common subset (`$n` placeholders in order,
//! `ON CONFLICT … DO UPDATE`, `RETURNING`, CASE instead of MAX/GREATEST).

use crate::codec::{StoredSourceState, decode_state, encode_state};
use crate::{
    ApiTokenRecord, AuditEntry, AuditFilter, NewApiToken, NewAuditEntry, NewUser, SessionRecord,
    UserRecord,
};
use crate::{
    FileRecord, FindingView, GroupBy, HostChange, HostFilter, HostRecord, HostView, KbUpdateRecord,
    OpenFinding, OrgImport, OsSummary, PostureRow, RemediationStats, Result, SILENT_RULE, Scope,
    SourceCount, Step, Store, StoreError, StoreStats, StoreTx, TrendPoint, UptimeRow, WatchEvent,
    WatchEventView, WatchGroup, WatchImport, WatchNotice, WatchSample, WatchStateRecord,
    WatchTarget, WatchTargetInput,
};
use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use vigie_core::{
    AttributionReason, Day, Establishment, EstablishmentCode, EstablishmentKind, Evidence, Finding,
    FindingStatus, OrgDirectory, OsFamily, Region, RegionCode, RuleId, Severity, Software,
    SourceKind, SourceSummary,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

mod accounts;
mod turn;
mod watch;

use turn::WriteTx;

// `MIGRATIONS_SQLITE` and `MIGRATIONS_POSTGRES`: (version, file name, SQL),
// derived by build.rs from the `migrations/<dialect>/` folders.
include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// Tables whose rows follow a machine to another establishment: (table,
/// host column, other columns).
const MOVED_TABLES: [(&str, &str, &str); 3] = [
    (
        "hosts",
        "id",
        "hostname, attribution, os_family, os_name, os_version, os_build, os_ubr, first_seen, last_seen",
    ),
    ("host_sources", "host_id", "source, observed_at, state"),
    (
        "findings",
        "host_id",
        "rule_id, opened_at, last_seen, closed_at, severity, status, evidence_id",
    ),
];

/// Rows per multi-row statement: well under both dialects' bind limits.
const CHUNK: usize = 400;

/// SQLite or PostgreSQL behind one implementation.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    /// The establishments directory, reloaded when `org_version` moves.
    directory: Arc<std::sync::Mutex<Option<Arc<EstDirectory>>>>,
    /// The turn of this process's writers (SQLite: see [`turn`]).
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// Establishment id → (code, region, name).
type EstById = HashMap<i64, (EstablishmentCode, RegionCode, String)>;

/// The establishments directory by id and by code, as of one
/// `org_version`. Every ingest transaction and most reads need it; at
/// national scale (6,400 establishments) reading it per file cost more
/// than ingesting a one-machine inventory.
struct EstDirectory {
    version: i64,
    /// Every establishment with its id, in the database's code order.
    all: Arc<Vec<(i64, Establishment)>>,
    by_id: Arc<EstById>,
    by_code: Arc<HashMap<EstablishmentCode, i64>>,
}

fn q(sql: String) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(AssertSqlSafe(sql)).persistent(false)
}

/// A dynamic statement that is prepared once and cached when `reuse` (the
/// SQL text of full multi-row chunks repeats; partial chunks do not).
fn qp(sql: String, reuse: bool) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(AssertSqlSafe(sql)).persistent(reuse)
}

fn qs(sql: &'static str) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(sql)
}

fn ts(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `(…),(…)` placeholders for a multi-row statement. SQLite gets anonymous
/// `?`: its driver resolves every named parameter by a linear search of the
/// statement's names, which is quadratic on statements with thousands of
/// parameters; PostgreSQL needs `$n`.
fn placeholders(dialect: Dialect, rows: usize, cols: usize, start: usize) -> String {
    if dialect == Dialect::Sqlite {
        let row = format!("({})", vec!["?"; cols].join(","));
        return vec![row; rows].join(",");
    }
    let mut s = String::with_capacity(rows * cols * 5);
    let mut n = start;
    for r in 0..rows {
        if r > 0 {
            s.push(',');
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push(',');
            }
            s.push('$');
            s.push_str(&n.to_string());
            n += 1;
        }
        s.push(')');
    }
    s
}

/// `a,b,c` placeholders for an `IN (…)` list (see [`placeholders`]).
fn list_placeholders(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => vec!["?"; n].join(","),
        Dialect::Postgres => (1..=n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(","),
    }
}

fn id_list(ids: &[i64]) -> String {
    let mut s = String::with_capacity(ids.len() * 8);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s
}

fn corrupt(table: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        detail: detail.into(),
    }
}

/// Normalises what users type into a URL sqlx understands.
fn normalise_url(url: &str) -> Result<(String, Dialect)> {
    let u = url.trim();
    if u.starts_with("postgres://") || u.starts_with("postgresql://") {
        return Ok((u.to_string(), Dialect::Postgres));
    }
    if let Some(rest) = u.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        if path == ":memory:" || rest.contains("mode=memory") {
            return Ok((format!("sqlite:{rest}"), Dialect::Sqlite));
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        let mode = if path.contains("mode=") {
            String::new()
        } else {
            format!("{sep}mode=rwc")
        };
        return Ok((format!("sqlite://{path}{mode}"), Dialect::Sqlite));
    }
    if u.contains("://") {
        return Err(StoreError::UnsupportedUrl(u.to_string()));
    }
    // a bare path
    Ok((format!("sqlite://{u}?mode=rwc"), Dialect::Sqlite))
}

impl SqlStore {
    /// Connects and runs migrations. Accepts `sqlite://PATH`, a bare path, or
    /// `postgres://…`.
    pub async fn connect(url: &str) -> Result<SqlStore> {
        SqlStore::connect_with_cache(url, 64).await
    }

    /// Like [`SqlStore::connect`], with SQLite's page cache per connection
    /// in MiB (64 for ingest; a long-running watch keeps it small so its
    /// memory does not grow with the database).
    pub async fn connect_with_cache(url: &str, sqlite_cache_mib: u32) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let (url, dialect) = normalise_url(url)?;
        let cache = format!(
            "PRAGMA cache_size = -{}",
            u64::from(sqlite_cache_mib.max(1)) * 1024
        );
        let mut opts = AnyPoolOptions::new();
        opts = match dialect {
            // One writer at a time in SQLite; readers use WAL snapshots.
            Dialect::Sqlite => opts.max_connections(4).after_connect(move |conn, _| {
                let cache = cache.clone();
                Box::pin(async move {
                    use sqlx::Executor;
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute(AssertSqlSafe(cache)).await?;
                    conn.execute("PRAGMA temp_store = MEMORY").await?;
                    Ok(())
                })
            }),
            Dialect::Postgres => opts.max_connections(8),
        };
        let pool = opts.connect(&url).await?;
        let store = SqlStore {
            pool,
            dialect,
            directory: Arc::new(std::sync::Mutex::new(None)),
            writer: Arc::new(tokio::sync::Mutex::new(())),
        };
        store.migrate().await?;
        Ok(store)
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// The base tables of the current schema (PostgreSQL).
    pub(crate) async fn schema_tables(&self) -> Result<Vec<String>> {
        qs(
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
            WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
    }

    /// The tables of the current schema Citus already distributes or
    /// replicates.
    pub(crate) async fn citus_tables(&self) -> Result<Vec<String>> {
        qs("SELECT CAST(c.relname AS TEXT) FROM pg_dist_partition p \
            JOIN pg_class c ON c.oid = p.logicalrelid \
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema()")
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
    }

    /// Runs one administrative statement (no parameters, no rows read).
    pub(crate) async fn execute_admin(&self, sql: &str) -> Result<()> {
        q(sql.to_string()).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies the migrations not applied yet. Safe when several processes
    /// start at once on a fresh database (a server and a watch started
    /// together): PostgreSQL runs them under an advisory lock, SQLite in one
    /// immediate transaction; whoever comes second finds them applied.
    async fn migrate(&self) -> Result<()> {
        let list = match self.dialect {
            Dialect::Sqlite => MIGRATIONS_SQLITE,
            Dialect::Postgres => MIGRATIONS_POSTGRES,
        };
        match self.dialect {
            Dialect::Sqlite => {
                let mut tx = self.write().await?;
                apply_migrations(&mut tx, list).await?;
                tx.commit().await
            }
            Dialect::Postgres => {
                // a session lock on one connection, held across the
                // migrations' own transactions
                let mut conn = self.pool.acquire().await?;
                qs("SELECT pg_advisory_lock($1)")
                    .bind(turn::MIGRATION_LOCK)
                    .execute(&mut *conn)
                    .await?;
                let result = async {
                    use sqlx::Connection;
                    let mut tx = conn.begin().await?;
                    apply_migrations(&mut tx, list).await?;
                    tx.commit().await?;
                    Ok::<(), StoreError>(())
                }
                .await;
                let unlocked = qs("SELECT pg_advisory_unlock($1)")
                    .bind(turn::MIGRATION_LOCK)
                    .execute(&mut *conn)
                    .await;
                result?;
                if let Err(e) = unlocked {
                    // the lock goes with the connection, which must not
                    // return to the pool holding it
                    conn.detach();
                    return Err(e.into());
                }
                Ok(())
            }
        }
    }

    /// The establishment ids a scope may read; `None` means every row
    /// (national scope, including unassigned machines).
    async fn scope_ids(&self, scope: &Scope) -> Result<Option<Vec<i64>>> {
        match scope {
            Scope::National => Ok(None),
            Scope::Region(code) => {
                let exists = qs("SELECT COUNT(*) FROM regions WHERE code = $1")
                    .bind(code.as_str().to_string())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get::<i64, _>(0)?;
                if exists == 0 {
                    return Err(StoreError::UnknownRegion(code.clone()));
                }
                let rows = qs("SELECT id FROM establishments WHERE region_code = $1")
                    .bind(code.as_str().to_string())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(Some(
                    rows.iter()
                        .map(|r| r.try_get::<i64, _>(0))
                        .collect::<std::result::Result<_, _>>()?,
                ))
            }
            Scope::Establishment(code) => Ok(Some(vec![self.est_id(code).await?])),
        }
    }

    async fn est_id(&self, code: &EstablishmentCode) -> Result<i64> {
        let row = qs("SELECT id FROM establishments WHERE code = $1")
            .bind(code.as_str().to_string())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(r.try_get::<i64, _>(0)?),
            None => Err(StoreError::UnknownEstablishment(code.clone())),
        }
    }

    /// id → (code, region code) for every establishment.
    async fn est_map(&self) -> Result<Arc<EstById>> {
        Ok(self.directory().await?.by_id.clone())
    }

    /// The cached establishments directory, reloaded when another change
    /// of the organisation (by any process) bumped `org_version`.
    async fn directory(&self) -> Result<Arc<EstDirectory>> {
        let version: i64 = qs("SELECT version FROM org_version WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .unwrap_or(0);
        if let Ok(cached) = self.directory.lock()
            && let Some(d) = cached.as_ref()
            && d.version == version
        {
            return Ok(d.clone());
        }
        // read after the version: an import committed in between is
        // picked up again at the next call, never missed
        let rows = qs("SELECT * FROM establishments ORDER BY code")
            .fetch_all(&self.pool)
            .await?;
        let mut by_id = HashMap::with_capacity(rows.len());
        let mut by_code = HashMap::with_capacity(rows.len());
        let mut all = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let e = row_establishment(r)?;
            by_code.insert(e.code.clone(), id);
            by_id.insert(id, (e.code.clone(), e.region.clone(), e.name.clone()));
            all.push((id, e));
        }
        let d = Arc::new(EstDirectory {
            version,
            all: Arc::new(all),
            by_id: Arc::new(by_id),
            by_code: Arc::new(by_code),
        });
        if let Ok(mut cached) = self.directory.lock() {
            *cached = Some(d.clone());
        }
        Ok(d)
    }

    /// `x.est_id` over every establishment id of a scope, 0 (machines
    /// without one) included nationally: a FROM clause for one index seek
    /// per establishment. A plain table, not a subquery: Citus runs a
    /// correlated lookup only from a distributed table joined on its
    /// distribution column.
    async fn scope_est_ids(&self, scope: &Scope) -> Result<String> {
        Ok(format!(
            "est_ids x WHERE {}",
            self.est_condition(scope, "x.est_id", None, None).await?
        ))
    }

    /// Restricts a query on `col` (an est_id column) to a scope and the
    /// establishment or region a machine filter names.
    async fn perimeter_condition(
        &self,
        scope: &Scope,
        filter: &HostFilter,
        col: &str,
    ) -> Result<String> {
        self.est_condition(
            scope,
            col,
            filter.establishment.as_ref(),
            filter.region.as_ref(),
        )
        .await
    }

    /// Restricts a query on `col` (an est_id column) to a scope and filter.
    async fn est_condition(
        &self,
        scope: &Scope,
        col: &str,
        est: Option<&EstablishmentCode>,
        region: Option<&RegionCode>,
    ) -> Result<String> {
        let mut conds = Vec::new();
        if let Some(ids) = self.scope_ids(scope).await? {
            conds.push(format!(
                "{col} IN ({})",
                if ids.is_empty() {
                    "-1".into()
                } else {
                    id_list(&ids)
                }
            ));
        }
        if let Some(code) = est {
            // An establishment outside the scope reads as empty, not as an error
            // that would reveal it exists.
            let id = match self.est_id(code).await {
                Ok(id) => id,
                Err(StoreError::UnknownEstablishment(_)) => -1,
                Err(e) => return Err(e),
            };
            conds.push(format!("{col} = {id}"));
        }
        if let Some(region) = region {
            let rows = qs("SELECT id FROM establishments WHERE region_code = $1")
                .bind(region.as_str().to_string())
                .fetch_all(&self.pool)
                .await?;
            let ids: Vec<i64> = rows
                .iter()
                .map(|r| r.try_get::<i64, _>(0))
                .collect::<std::result::Result<_, _>>()?;
            conds.push(format!(
                "{col} IN ({})",
                if ids.is_empty() {
                    "-1".into()
                } else {
                    id_list(&ids)
                }
            ));
        }
        Ok(if conds.is_empty() {
            "1=1".into()
        } else {
            conds.join(" AND ")
        })
    }
}

/// Tells every process's cached directory that the organisation changed.
async fn bump_org_version(tx: &mut WriteTx) -> Result<()> {
    qs("UPDATE org_version SET version = version + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Applies, inside the caller's transaction, every migration of `list`
/// not yet recorded in `vigie_migrations`.
async fn apply_migrations(
    conn: &mut sqlx::AnyConnection,
    list: &[(i64, &str, &str)],
) -> Result<()> {
    qs("CREATE TABLE IF NOT EXISTS vigie_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let applied: BTreeSet<i64> = qs("SELECT version FROM vigie_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<std::result::Result<_, _>>()?;
    for (version, _name, sql) in list {
        if applied.contains(version) {
            continue;
        }
        for stmt in split_statements(sql) {
            q(stmt)
                .execute(&mut *conn)
                .await
                .map_err(|source| StoreError::Migration {
                    version: *version,
                    source,
                })?;
        }
        qs("INSERT INTO vigie_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(Timestamp::now().as_second())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn split_statements(sql: &str) -> Vec<String> {
    sql.split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .map(|s| s.trim().trim_end_matches(';').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn row_establishment(r: &AnyRow) -> Result<Establishment> {
    let code = EstablishmentCode::new(&r.try_get::<String, _>("code")?)
        .map_err(|e| corrupt("establishments", e.to_string()))?;
    let kind_s: String = r.try_get("kind")?;
    let kind = EstablishmentKind::parse(&kind_s)
        .ok_or_else(|| corrupt("establishments", format!("kind {kind_s:?}")))?;
    let region = RegionCode::new(&r.try_get::<String, _>("region_code")?)
        .map_err(|e| corrupt("establishments", e.to_string()))?;
    let patterns: String = r.try_get("hostname_patterns")?;
    let subnets: String = r.try_get("subnets")?;
    Ok(Establishment {
        code,
        name: r.try_get("name")?,
        kind,
        region,
        parent: r.try_get("parent")?,
        hostname_patterns: patterns
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        subnets: subnets
            .split(';')
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|_| corrupt("establishments", format!("subnet {s:?}")))
            })
            .collect::<Result<_>>()?,
    })
}

fn finding_from_row(r: &AnyRow) -> Result<(i64, FindingView)> {
    let ev_s: String = r.try_get("evidence_body")?;
    let evidence: Evidence =
        serde_json::from_str(&ev_s).map_err(|e| corrupt("findings", format!("evidence: {e}")))?;
    finding_with_evidence(r, evidence)
}

/// A finding row whose evidence the caller already has.
fn finding_with_evidence(r: &AnyRow, evidence: Evidence) -> Result<(i64, FindingView)> {
    let host_id: i64 = r.try_get("host_id")?;
    let rule_s: String = r.try_get("rule_id")?;
    let rule = RuleId::new(&rule_s).map_err(|e| corrupt("findings", e.to_string()))?;
    let sev_s: String = r.try_get("severity")?;
    let severity = Severity::parse(&sev_s)
        .ok_or_else(|| corrupt("findings", format!("severity {sev_s:?}")))?;
    let st_s: String = r.try_get("status")?;
    let status = FindingStatus::parse(&st_s)
        .ok_or_else(|| corrupt("findings", format!("status {st_s:?}")))?;
    let closed: Option<i64> = r.try_get("closed_at")?;
    Ok((
        host_id,
        FindingView {
            rule,
            severity,
            status,
            first_seen: ts(r.try_get("opened_at")?),
            last_seen: ts(r.try_get("last_seen")?),
            resolved_at: closed.map(ts),
            evidence,
        },
    ))
}

/// A content hash of an evidence body (BLAKE3, 128 bits in hex).
fn evidence_hash(body: &str) -> String {
    let h = blake3::hash(body.as_bytes());
    h.to_hex()[..32].to_string()
}

fn evidence_json(e: &Evidence) -> String {
    serde_json::to_string(e).unwrap_or_else(|_| "{}".into())
}

fn family_from_str(s: &str) -> Option<OsFamily> {
    Some(match s {
        "windows" => OsFamily::Windows,
        "linux" => OsFamily::Linux,
        "macos" => OsFamily::Macos,
        "bsd" => OsFamily::Bsd,
        "other" => OsFamily::Other,
        _ => return None,
    })
}

fn os_from_row(r: &AnyRow) -> Result<OsSummary> {
    let fam: Option<String> = r.try_get("os_family")?;
    Ok(OsSummary {
        family: fam.as_deref().and_then(family_from_str),
        name: r.try_get("os_name")?,
        version: r.try_get("os_version")?,
        build: r
            .try_get::<Option<i64>, _>("os_build")?
            .and_then(|b| u32::try_from(b).ok()),
        ubr: r
            .try_get::<Option<i64>, _>("os_ubr")?
            .and_then(|b| u32::try_from(b).ok()),
    })
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    async fn import_org(
        &self,
        regions: &[Region],
        establishments: &[Establishment],
    ) -> Result<OrgImport> {
        let mut tx = self.write().await?;
        for r in regions {
            qs("INSERT INTO regions (code, name) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET name = excluded.name")
                .bind(r.code.as_str().to_string())
                .bind(r.name.clone())
                .execute(&mut *tx)
                .await?;
        }
        // Establishments must name a known region: refuse the whole import otherwise.
        let known: BTreeSet<String> = qs("SELECT code FROM regions")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<std::result::Result<_, _>>()?;
        if let Some(e) = establishments
            .iter()
            .find(|e| !known.contains(e.region.as_str()))
        {
            return Err(StoreError::UnknownRegion(e.region.clone()));
        }
        let existing: HashMap<String, i64> = qs("SELECT code, id FROM establishments")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect::<Result<_>>()?;
        let mut next = qs("SELECT COALESCE(MAX(id), 0) FROM establishments")
            .fetch_one(&mut *tx)
            .await?
            .try_get::<i64, _>(0)?
            + 1;
        let mut summary = OrgImport {
            regions: regions.len(),
            ..Default::default()
        };
        for e in establishments {
            let id = match existing.get(e.code.as_str()) {
                Some(id) => {
                    summary.establishments_updated += 1;
                    *id
                }
                None => {
                    summary.establishments_added += 1;
                    next += 1;
                    next - 1
                }
            };
            qs("INSERT INTO establishments (id, code, name, kind, region_code, parent, hostname_patterns, subnets) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                region_code = excluded.region_code, parent = excluded.parent, \
                hostname_patterns = excluded.hostname_patterns, subnets = excluded.subnets")
                .bind(id)
                .bind(e.code.as_str().to_string())
                .bind(e.name.clone())
                .bind(e.kind.as_str().to_string())
                .bind(e.region.as_str().to_string())
                .bind(e.parent.clone())
                .bind(e.hostname_patterns.join(";"))
                .bind(e.subnets.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(";"))
                .execute(&mut *tx)
                .await?;
            qs("INSERT INTO est_ids (est_id) VALUES ($1) ON CONFLICT (est_id) DO NOTHING")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        bump_org_version(&mut tx).await?;
        tx.commit().await?;
        Ok(summary)
    }

    async fn org(&self) -> Result<OrgDirectory> {
        let regions = qs("SELECT code, name FROM regions ORDER BY code")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Region {
                    code: RegionCode::new(&r.try_get::<String, _>(0)?)
                        .map_err(|e| corrupt("regions", e.to_string()))?,
                    name: r.try_get(1)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // in id order, as the attribution expects
        let mut ests = self.directory().await?.all.as_ref().clone();
        ests.sort_by_key(|(id, _)| *id);
        Ok(OrgDirectory::new(
            regions,
            ests.into_iter().map(|(_, e)| e).collect(),
        ))
    }

    async fn establishments(&self, scope: &Scope) -> Result<Vec<Establishment>> {
        if *scope == Scope::National {
            let dir = self.directory().await?;
            return Ok(dir.all.iter().map(|(_, e)| e.clone()).collect());
        }
        let cond = self.est_condition(scope, "id", None, None).await?;
        q(format!(
            "SELECT * FROM establishments WHERE {cond} ORDER BY code"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(row_establishment)
        .collect()
    }

    async fn file_record(&self, content_hash: &str) -> Result<Option<FileRecord>> {
        let row = qs("SELECT * FROM ingested_files WHERE content_hash = $1")
            .bind(content_hash.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| file_from_row(&r)).transpose()
    }

    async fn files(&self, limit: u64) -> Result<Vec<FileRecord>> {
        qs("SELECT * FROM ingested_files ORDER BY ingested_at DESC, name LIMIT $1")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(file_from_row)
            .collect()
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>> {
        // the directory first: it reads through the pool, which must not
        // be asked for a connection while this writer holds its turn
        let dir = self.directory().await?;
        let tx = self.write_ingest().await?;
        Ok(Box::new(SqlTx {
            dialect: self.dialect,
            est_codes: dir.by_id.clone(),
            tx,
            est_ids: dir.by_code.clone(),
            evidence: HashMap::new(),
            host_est: HashMap::new(),
        }))
    }

    async fn hosts(&self, scope: &Scope, filter: &HostFilter) -> Result<Vec<HostView>> {
        let (where_sql, at_end, binds) = self.host_where(scope, filter).await?;
        let limit = filter
            .limit
            .map(|l| format!(" LIMIT {l}"))
            .unwrap_or_default();
        let offset = if filter.offset > 0 {
            format!(" OFFSET {}", filter.offset)
        } else {
            String::new()
        };
        let mut query = q(format!(
            "SELECT h.* FROM hosts h WHERE {where_sql} ORDER BY h.est_id, h.hostname, h.id{limit}{offset}"
        ));
        for b in binds {
            query = query.bind(b);
        }
        let rows = query.fetch_all(&self.pool).await?;
        self.host_views(&rows, at_end).await
    }

    async fn count_hosts(&self, scope: &Scope, filter: &HostFilter) -> Result<u64> {
        // Machines with an open finding of one rule, now: one per open
        // finding, counted from the open-findings index instead of probing
        // every machine of the perimeter.
        if let Some(rule) = &filter.rule
            && filter.is_perimeter_and_rule_now()
        {
            let cond = self.perimeter_condition(scope, filter, "f.est_id").await?;
            let n: i64 = q(format!(
                "SELECT COUNT(*) FROM findings f WHERE f.rule_id = $1 AND f.closed_at IS NULL AND {cond}"
            ))
            .bind(rule.as_str().to_string())
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
            return Ok(u64::try_from(n).unwrap_or(0));
        }
        let (where_sql, _, binds) = self.host_where(scope, filter).await?;
        let mut query = q(format!("SELECT COUNT(*) FROM hosts h WHERE {where_sql}"));
        for b in binds {
            query = query.bind(b);
        }
        let n: i64 = query.fetch_one(&self.pool).await?.try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn worst_hosts(&self, scope: &Scope, filter: &HostFilter) -> Result<Vec<HostView>> {
        let limit = filter.limit.unwrap_or(20).min(10_000);
        let offset = filter.offset;
        // ranked in the database: only the chosen machines are loaded.
        // Without a date, name or id to match, the findings alone answer
        // (no join with the machines).
        let (query, at_end) = if filter.is_perimeter_and_rule_now() {
            let cond = self.perimeter_condition(scope, filter, "f.est_id").await?;
            let with_rule = if filter.rule.is_some() {
                " AND EXISTS (SELECT 1 FROM findings g WHERE g.est_id = f.est_id AND g.host_id = f.host_id \
                 AND g.rule_id = $1 AND g.closed_at IS NULL)"
            } else {
                ""
            };
            let mut query = q(format!(
                "SELECT f.host_id, {SEVERITY_WEIGHT} AS weight \
                 FROM findings f WHERE {cond} AND f.closed_at IS NULL{with_rule} \
                 GROUP BY f.host_id ORDER BY weight DESC, f.host_id LIMIT {limit} OFFSET {offset}"
            ));
            if let Some(rule) = &filter.rule {
                query = query.bind(rule.as_str().to_string());
            }
            (query, None)
        } else {
            let (where_sql, at_end, binds) = self.host_where(scope, filter).await?;
            let open = match at_end {
                Some(end) => {
                    format!("f.opened_at <= {end} AND (f.closed_at IS NULL OR f.closed_at > {end})")
                }
                None => "f.closed_at IS NULL".to_string(),
            };
            let mut query = q(format!(
                "SELECT h.id, {SEVERITY_WEIGHT} AS weight \
                 FROM hosts h JOIN findings f ON f.est_id = h.est_id AND f.host_id = h.id AND {open} \
                 WHERE {where_sql} GROUP BY h.id ORDER BY weight DESC, h.id LIMIT {limit} OFFSET {offset}"
            ));
            for b in binds {
                query = query.bind(b);
            }
            (query, at_end)
        };
        let ranked: Vec<i64> = query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<std::result::Result<_, _>>()?;
        if ranked.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = Vec::with_capacity(ranked.len());
        for chunk in ranked.chunks(CHUNK) {
            rows.extend(
                q(format!(
                    "SELECT h.* FROM hosts h WHERE h.id IN ({})",
                    id_list(chunk)
                ))
                .fetch_all(&self.pool)
                .await?,
            );
        }
        let mut views = self.host_views(&rows, at_end).await?;
        let rank: HashMap<i64, usize> = ranked.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        views.sort_by_key(|v| rank.get(&v.id).copied().unwrap_or(usize::MAX));
        Ok(views)
    }

    async fn source_summary(&self, scope: &Scope, filter: &HostFilter) -> Result<Vec<SourceCount>> {
        if filter.rule.is_none() && filter.is_perimeter_and_rule_now() {
            // every source row belongs to a machine: no join needed
            let cond = self.perimeter_condition(scope, filter, "s.est_id").await?;
            return q(format!(
                "SELECT s.source, COUNT(*), MAX(s.observed_at) FROM host_sources s WHERE {cond} \
                 GROUP BY s.source ORDER BY s.source"
            ))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(source_count)
            .collect();
        }
        let (where_sql, _, binds) = self.host_where(scope, filter).await?;
        let mut query = q(format!(
            "SELECT s.source, COUNT(*), MAX(s.observed_at) FROM host_sources s \
             JOIN hosts h ON h.est_id = s.est_id AND h.id = s.host_id \
             WHERE {where_sql} GROUP BY s.source ORDER BY s.source"
        ));
        for b in binds {
            query = query.bind(b);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(source_count)
            .collect()
    }

    async fn posture(&self, scope: &Scope, by: GroupBy, at: Day) -> Result<Vec<PostureRow>> {
        let day = at.number();
        // Grouping happens in SQL: at national scale the sector and region
        // views read a handful of rows instead of one per establishment.
        // Machines without an establishment (est_id 0) have no
        // establishments row and group as "unassigned".
        // (select key, select name, grouping column); the sector is one
        // group, which PostgreSQL does not let a constant GROUP BY express
        let (key, name, group) = match by {
            GroupBy::Sector => ("'sector'", "'Sector'", None),
            GroupBy::Region => (
                "COALESCE(e.region_code, '')",
                "COALESCE(MAX(r.name), '')",
                Some("e.region_code"),
            ),
            GroupBy::Establishment => (
                "COALESCE(e.code, '')",
                "COALESCE(MAX(e.name), '')",
                Some("e.code"),
            ),
        };
        let group_hosts = group.map(|g| format!(" GROUP BY {g}")).unwrap_or_default();
        let group_rules = match group {
            Some(g) => format!(" GROUP BY {g}, f.rule_id"),
            None => " GROUP BY f.rule_id".to_string(),
        };
        // each establishment's latest day: one index seek per establishment
        // (not a scan of the whole history); NULL when it has none yet,
        // which the joins below drop
        let latest = match self.dialect {
            // a lateral lookup: PostgreSQL otherwise folds the correlated
            // subquery into a hash join's condition, misjudges the rows and
            // scans the establishments once per establishment; Citus runs
            // it on the shards (joined on est_id)
            Dialect::Postgres => {
                let cond = self.est_condition(scope, "x.est_id", None, None).await?;
                format!(
                    "(SELECT x.est_id, l.day FROM est_ids x CROSS JOIN LATERAL \
                     (SELECT MAX(d.day) AS day FROM daily_hosts d WHERE d.est_id = x.est_id AND d.day <= {day}) l \
                     WHERE {cond}) m"
                )
            }
            Dialect::Sqlite => {
                let ids = self.scope_est_ids(scope).await?;
                format!(
                    "(SELECT x.est_id, (SELECT MAX(d.day) FROM daily_hosts d WHERE d.est_id = x.est_id AND d.day <= {day}) AS day \
                     FROM {ids}) m"
                )
            }
        };
        let joins = "LEFT JOIN establishments e ON e.id = m.est_id LEFT JOIN regions r ON r.code = e.region_code";
        let hosts = q(format!(
            "SELECT {key}, {name}, CAST(COALESCE(SUM(h.hosts), 0) AS BIGINT) FROM {latest} \
             JOIN daily_hosts h ON h.est_id = m.est_id AND h.day = m.day {joins}{group_hosts}"
        ))
        .fetch_all(&self.pool)
        .await?;
        // every refresh writes an establishment's host row and its rows for
        // every rule it ever had on the same day, so the latest host day is
        // the day to read the rules at
        let rules = q(format!(
            "SELECT {key}, f.rule_id, CAST(SUM(f.hosts) AS BIGINT), CAST(SUM(f.review) AS BIGINT), \
             CAST(SUM(f.unknown) AS BIGINT) FROM {latest} \
             JOIN daily_findings f ON f.est_id = m.est_id AND f.day = m.day {joins}{group_rules}"
        ))
        .fetch_all(&self.pool)
        .await?;
        let label = |g: String, n: String| -> (String, String) {
            if g.is_empty() {
                ("unassigned".into(), "Unassigned machines".into())
            } else {
                let n = if n.is_empty() { g.clone() } else { n };
                (g, n)
            }
        };
        let mut groups: BTreeMap<String, PostureRow> = BTreeMap::new();
        for r in hosts {
            let (g, name) = label(r.try_get(0)?, r.try_get(1)?);
            let n: i64 = r.try_get(2)?;
            groups.insert(
                g.clone(),
                PostureRow {
                    group: g,
                    name,
                    hosts: u64::try_from(n).unwrap_or(0),
                    rules: BTreeMap::new(),
                    review: BTreeMap::new(),
                    unknown: BTreeMap::new(),
                },
            );
        }
        for r in rules {
            let (g, _) = label(r.try_get(0)?, String::new());
            let rule: String = r.try_get(1)?;
            let n: i64 = r.try_get(2)?;
            let review: i64 = r.try_get(3)?;
            let unknown: i64 = r.try_get(4)?;
            if let Some(row) = groups.get_mut(&g) {
                *row.rules.entry(rule.clone()).or_insert(0) += u64::try_from(n).unwrap_or(0);
                *row.review.entry(rule.clone()).or_insert(0) += u64::try_from(review).unwrap_or(0);
                *row.unknown.entry(rule).or_insert(0) += u64::try_from(unknown).unwrap_or(0);
            }
        }
        if by == GroupBy::Sector && groups.is_empty() {
            groups.insert(
                "sector".into(),
                PostureRow {
                    group: "sector".into(),
                    name: "Sector".into(),
                    hosts: 0,
                    rules: BTreeMap::new(),
                    review: BTreeMap::new(),
                    unknown: BTreeMap::new(),
                },
            );
        }
        Ok(groups.into_values().collect())
    }

    async fn trend(
        &self,
        scope: &Scope,
        rule: &RuleId,
        by: GroupBy,
        from: Day,
        to: Day,
        step: Step,
    ) -> Result<Vec<TrendPoint>> {
        if to < from {
            return Err(StoreError::Invalid(format!(
                "trend window ends ({to}) before it starts ({from})"
            )));
        }
        if to.days_since(from) > 3660 {
            return Err(StoreError::Invalid(
                "trend window is longer than ten years".into(),
            ));
        }
        let cond = self.est_condition(scope, "est_id", None, None).await?;
        let end = to.number();
        // Every sample day is on or after `from`: the rows inside the
        // window, plus each establishment's last row before it (one index
        // seek each), whatever the length of the history.
        let lo = from.number();
        let before = lo - 1;
        let ids = self.scope_est_ids(scope).await?;
        let mut host_rows = q(format!(
            "SELECT x.est_id, {before}, (SELECT d.hosts FROM daily_hosts d WHERE d.est_id = x.est_id AND d.day < {lo} \
             ORDER BY d.day DESC LIMIT 1) AS v FROM {ids}"
        ))
        .fetch_all(&self.pool)
        .await?;
        host_rows.extend(
            q(format!(
                "SELECT est_id, day, hosts FROM daily_hosts WHERE day >= {lo} AND day <= {end} AND {cond} ORDER BY est_id, day"
            ))
            .fetch_all(&self.pool)
            .await?,
        );
        // the rule's series, and the machines silent at each date (the
        // `silent` rule): coverage is the share of machines that are not
        let rule_series = |rule: String| {
            let ids = ids.clone();
            let cond = cond.clone();
            async move {
                let last = |col: &str| {
                    format!(
                        "(SELECT f.{col} FROM daily_findings f WHERE f.est_id = x.est_id AND f.rule_id = $1 \
                         AND f.day < {lo} ORDER BY f.day DESC LIMIT 1)"
                    )
                };
                let mut rows = q(format!(
                    "SELECT x.est_id, {before}, {} AS v, {} AS r, {} AS u FROM {ids}",
                    last("hosts"),
                    last("review"),
                    last("unknown")
                ))
                .bind(rule.clone())
                .fetch_all(&self.pool)
                .await?;
                rows.extend(
                    q(format!(
                        "SELECT est_id, day, hosts, review, unknown FROM daily_findings WHERE rule_id = $1 \
                         AND day >= {lo} AND day <= {end} AND {cond} ORDER BY est_id, day"
                    ))
                    .bind(rule)
                    .fetch_all(&self.pool)
                    .await?,
                );
                Ok::<_, StoreError>(rows)
            }
        };
        let rule_rows = rule_series(rule.as_str().to_string()).await?;
        let silent_rows = if rule.as_str() == SILENT_RULE {
            Vec::new()
        } else {
            rule_series(SILENT_RULE.to_string()).await?
        };
        let ests = self.est_map().await?;
        let group_of = |est_id: i64| -> String {
            match (by, ests.get(&est_id)) {
                (GroupBy::Sector, _) => "sector".into(),
                (GroupBy::Region, Some((_, reg, _))) => reg.to_string(),
                (GroupBy::Establishment, Some((code, _, _))) => code.to_string(),
                (_, None) => "unassigned".into(),
            }
        };
        /// Per establishment: (day, value, review, unknown) sorted by day.
        type Series = BTreeMap<i64, Vec<(i32, [u64; 3])>>;
        fn series(rows: Vec<AnyRow>, columns: usize) -> Result<Series> {
            let mut m: Series = BTreeMap::new();
            for r in rows {
                let est: i64 = r.try_get(0)?;
                let day: i64 = r.try_get(1)?;
                // NULL: no row before the window
                let Some(v) = r.try_get::<Option<i64>, _>(2)? else {
                    continue;
                };
                let mut values = [u64::try_from(v).unwrap_or(0), 0, 0];
                for (i, slot) in values.iter_mut().enumerate().take(columns).skip(1) {
                    let x = r.try_get::<Option<i64>, _>(2 + i)?.unwrap_or(0);
                    *slot = u64::try_from(x).unwrap_or(0);
                }
                m.entry(est)
                    .or_default()
                    .push((i32::try_from(day).unwrap_or(0), values));
            }
            Ok(m)
        }
        fn value_at(s: &[(i32, [u64; 3])], day: i32) -> [u64; 3] {
            match s.partition_point(|(d, _)| *d <= day) {
                0 => [0; 3],
                i => s[i - 1].1,
            }
        }
        let hs = series(host_rows, 1)?;
        let rs = series(rule_rows, 3)?;
        let ss = series(silent_rows, 1)?;
        let mut points_days = Vec::new();
        let mut d = match step {
            Step::Day => from,
            Step::Week => from.week_start(),
        };
        while d <= to {
            // a week's value is its last day's (or the window end's)
            let sample = match step {
                Step::Day => d,
                Step::Week => d.add_days(6).min(to),
            };
            points_days.push((d, sample));
            d = d.add_days(match step {
                Step::Day => 1,
                Step::Week => 7,
            });
        }
        // each establishment's group is looked up once, not per point
        let mut names: Vec<String> = Vec::new();
        let mut slot: HashMap<String, usize> = HashMap::new();
        if by == GroupBy::Sector {
            names.push("sector".into());
            slot.insert("sector".into(), 0);
        }
        let mut index_of = |est: i64| -> usize {
            let g = group_of(est);
            *slot.entry(g.clone()).or_insert_with(|| {
                names.push(g);
                names.len() - 1
            })
        };
        type Indexed = Vec<(usize, Vec<(i32, [u64; 3])>)>;
        let mut grouped =
            |s: Series| -> Indexed { s.into_iter().map(|(e, s)| (index_of(e), s)).collect() };
        let hs = grouped(hs);
        let rs = grouped(rs);
        let ss = grouped(ss);
        // groups in name order, as before
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|a, b| names[*a].cmp(&names[*b]));
        let mut out = Vec::with_capacity(points_days.len() * names.len());
        // hosts, confirmed, review, unknown, silent
        let mut sums = vec![[0u64; 5]; names.len()];
        for (label, sample) in points_days {
            sums.iter_mut().for_each(|s| *s = [0; 5]);
            let mut present = vec![by == GroupBy::Sector; names.len()];
            for (g, s) in &hs {
                sums[*g][0] += value_at(s, sample.number())[0];
                present[*g] = true;
            }
            for (g, s) in &rs {
                let [confirmed, review, unknown] = value_at(s, sample.number());
                sums[*g][1] += confirmed;
                sums[*g][2] += review;
                sums[*g][3] += unknown;
                present[*g] = true;
            }
            for (g, s) in &ss {
                sums[*g][4] += value_at(s, sample.number())[0];
            }
            for &g in &order {
                if !present[g] {
                    continue;
                }
                let [hosts, with_rule, needs_review, unknown, mut silent] = sums[g];
                if rule.as_str() == SILENT_RULE {
                    silent = with_rule;
                }
                out.push(TrendPoint {
                    day: label,
                    group: names[g].clone(),
                    hosts,
                    with_rule,
                    needs_review,
                    unknown,
                    silent,
                });
            }
        }
        Ok(out)
    }

    async fn remediation(
        &self,
        scope: &Scope,
        rule: &RuleId,
        from: Day,
        to: Day,
    ) -> Result<RemediationStats> {
        let fcond = self.est_condition(scope, "f.est_id", None, None).await?;
        // A remediation is a known finding that ended: not one whose
        // status changed (closed and reopened at the same second with the
        // new status), and not an `unknown` one, which nobody knew needed
        // fixing.
        let rows = q(format!(
            "SELECT f.opened_at, f.closed_at FROM findings f WHERE f.rule_id = $1 AND {fcond} \
             AND f.status <> 'unknown' AND f.closed_at IS NOT NULL AND f.closed_at >= {} AND f.closed_at <= {} \
             AND NOT EXISTS (SELECT 1 FROM findings g WHERE g.est_id = f.est_id AND g.host_id = f.host_id \
             AND g.rule_id = f.rule_id AND g.opened_at = f.closed_at)",
            from.start_second(),
            to.end_second()
        ))
        .bind(rule.as_str().to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut days: Vec<f64> = rows
            .iter()
            .map(|r| {
                let o: i64 = r.try_get(0)?;
                let c: i64 = r.try_get(1)?;
                Ok((c - o) as f64 / 86_400.0)
            })
            .collect::<Result<_>>()?;
        days.sort_by(|a, b| a.total_cmp(b));
        let open: i64 = q(format!(
            "SELECT COUNT(*) FROM findings f WHERE f.rule_id = $1 AND {fcond} AND f.closed_at IS NULL \
             AND f.status <> 'unknown'"
        ))
        .bind(rule.as_str().to_string())
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        let pct = |p: f64| -> Option<f64> {
            if days.is_empty() {
                return None;
            }
            let idx = ((days.len() - 1) as f64 * p).round() as usize;
            days.get(idx).copied()
        };
        Ok(RemediationStats {
            rule: rule.clone(),
            closed: days.len() as u64,
            still_open: u64::try_from(open).unwrap_or(0),
            median_days: pct(0.5),
            p90_days: pct(0.9),
        })
    }

    async fn stats(&self, scope: &Scope) -> Result<StoreStats> {
        let cond = self.est_condition(scope, "est_id", None, None).await?;
        let one = |sql: String| async move {
            let n: i64 = q(sql).fetch_one(&self.pool).await?.try_get(0)?;
            Ok::<u64, StoreError>(u64::try_from(n).unwrap_or(0))
        };
        let national = *scope == Scope::National;
        Ok(StoreStats {
            hosts: one(format!("SELECT COUNT(*) FROM hosts WHERE {cond}")).await?,
            unassigned_hosts: if national {
                one("SELECT COUNT(*) FROM hosts WHERE est_id = 0".into()).await?
            } else {
                0
            },
            open_findings: one(format!(
                "SELECT COUNT(*) FROM findings WHERE closed_at IS NULL AND {cond}"
            ))
            .await?,
            files: if national {
                one("SELECT COUNT(*) FROM ingested_files".into()).await?
            } else {
                0
            },
            software_dictionary: if national {
                one("SELECT COUNT(*) FROM software".into()).await?
            } else {
                0
            },
        })
    }

    async fn record_kb_update(
        &self,
        name: &str,
        version: &str,
        origin: &str,
        content: &[u8],
    ) -> Result<()> {
        let mut tx = self.write().await?;
        qs("INSERT INTO kb_updates (name, version, loaded_at, origin, content) VALUES ($1, $2, $3, $4, $5) \
            ON CONFLICT (name) DO UPDATE SET version = excluded.version, loaded_at = excluded.loaded_at, origin = excluded.origin, content = excluded.content")
            .bind(name.to_string())
            .bind(version.to_string())
            .bind(Timestamp::now().as_second())
            .bind(origin.to_string())
            .bind(content.to_vec())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn kb_updates(&self) -> Result<Vec<(KbUpdateRecord, Vec<u8>)>> {
        let rows =
            qs("SELECT name, version, loaded_at, origin, content FROM kb_updates ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    KbUpdateRecord {
                        name: r.try_get(0)?,
                        version: r.try_get(1)?,
                        loaded_at: ts(r.try_get(2)?),
                        origin: r.try_get(3)?,
                    },
                    r.try_get::<Vec<u8>, _>(4)?,
                ))
            })
            .collect()
    }

    async fn last_assessment(&self) -> Result<Option<Timestamp>> {
        Ok(qs("SELECT at FROM assessments WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.try_get::<i64, _>(0))
            .transpose()?
            .map(ts))
    }

    async fn upsert_watch_targets(&self, targets: &[WatchTargetInput]) -> Result<WatchImport> {
        self.w_upsert_targets(targets).await
    }

    async fn remove_watch_target(&self, name: &str, at: i64) -> Result<bool> {
        self.w_remove_target(name, at).await
    }

    async fn watch_targets(
        &self,
        scope: &Scope,
        include_removed: bool,
    ) -> Result<Vec<WatchTarget>> {
        self.w_targets(scope, include_removed, true).await
    }

    async fn watch_target_list(&self, scope: &Scope) -> Result<Vec<WatchTarget>> {
        self.w_targets(scope, false, false).await
    }

    async fn save_watch_states(&self, states: &[(i64, WatchStateRecord)]) -> Result<()> {
        self.w_save_states(states).await
    }

    async fn record_watch(&self, samples: &[WatchSample], events: &[WatchEvent]) -> Result<()> {
        self.w_record(samples, events).await
    }

    async fn watch_uptime(
        &self,
        scope: &Scope,
        by: WatchGroup,
        from: Day,
        to: Day,
    ) -> Result<Vec<UptimeRow>> {
        self.w_uptime(scope, by, from, to).await
    }

    async fn watch_events(
        &self,
        scope: &Scope,
        since: i64,
        limit: u64,
    ) -> Result<Vec<WatchEventView>> {
        self.w_events(scope, since, limit).await
    }

    async fn watch_samples(
        &self,
        scope: &Scope,
        target: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<WatchSample>> {
        self.w_samples(scope, target, from, to).await
    }

    async fn prune_watch_samples(&self, before: i64) -> Result<u64> {
        self.w_prune(before).await
    }

    async fn record_watch_notice(
        &self,
        at: i64,
        kind: &str,
        incident_key: &str,
        payload: &str,
        deliveries: &str,
    ) -> Result<i64> {
        self.w_record_notice(at, kind, incident_key, payload, deliveries)
            .await
    }

    async fn watch_notices(&self, limit: u64) -> Result<Vec<WatchNotice>> {
        self.w_notices(limit).await
    }

    async fn allocate_watch_incident_ids(&self, count: u64) -> Result<i64> {
        self.w_allocate_incident_ids(count).await
    }

    async fn save_watch_incidents(
        &self,
        runner: &str,
        ops: &[crate::WatchIncidentOp],
    ) -> Result<()> {
        self.w_save_incidents(runner, ops).await
    }

    async fn watch_open_incidents(&self, runner: &str) -> Result<Vec<crate::WatchOpenIncident>> {
        self.w_open_incidents(runner).await
    }

    async fn create_user(&self, user: &NewUser) -> Result<UserRecord> {
        self.a_create_user(user).await
    }

    async fn users(&self) -> Result<Vec<UserRecord>> {
        self.a_users().await
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        self.a_user_by_name(username).await
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<UserRecord>> {
        self.a_user_by_id(id).await
    }

    async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        at: Timestamp,
    ) -> Result<Option<UserRecord>> {
        self.a_set_user_disabled(username, disabled, at).await
    }

    async fn set_user_password(&self, username: &str, password_hash: &str) -> Result<bool> {
        self.a_set_user_password(username, password_hash).await
    }

    async fn record_login(&self, user_id: i64, at: Timestamp) -> Result<()> {
        self.a_record_login(user_id, at).await
    }

    async fn create_token(&self, token: &NewApiToken) -> Result<ApiTokenRecord> {
        self.a_create_token(token).await
    }

    async fn tokens(&self) -> Result<Vec<ApiTokenRecord>> {
        self.a_tokens().await
    }

    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>> {
        self.a_token_by_hash(token_hash).await
    }

    async fn revoke_token(
        &self,
        id_or_prefix: &str,
        at: Timestamp,
    ) -> Result<Option<ApiTokenRecord>> {
        self.a_revoke_token(id_or_prefix, at).await
    }

    async fn touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
        self.a_touch_token(id, at).await
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<()> {
        self.a_create_session(session).await
    }

    async fn session_by_hash(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        self.a_session_by_hash(id_hash).await
    }

    async fn touch_session(
        &self,
        id_hash: &str,
        at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool> {
        self.a_touch_session(id_hash, at, expires_at).await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<bool> {
        self.a_delete_session(id_hash).await
    }

    async fn delete_sessions_of_user(&self, user_id: i64) -> Result<u64> {
        self.a_delete_sessions_of_user(user_id).await
    }

    async fn prune_sessions(&self, now: Timestamp) -> Result<u64> {
        self.a_prune_sessions(now).await
    }

    async fn append_audit(&self, entry: &NewAuditEntry) -> Result<i64> {
        self.a_append_audit(entry).await
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        self.a_audit(filter).await
    }

    async fn installation_secret(&self, name: &str, candidate: &[u8]) -> Result<Vec<u8>> {
        self.a_installation_secret(name, candidate).await
    }

    async fn reset(&self) -> Result<()> {
        let mut tx = self.write().await?;
        for t in [
            "sessions",
            "api_tokens",
            "users",
            "audit_log",
            "watch_notices",
            "watch_incident_deliveries",
            "watch_incident_members",
            "watch_incidents",
            "watch_daily",
            "watch_events",
            "watch_samples",
            "watch_state",
            "watch_targets",
            "watch_target_names",
            "findings",
            "evidence",
            "daily_findings",
            "daily_hosts",
            "host_sources",
            "host_keys",
            "hosts",
            "software",
            "ingested_files",
            "kb_updates",
            "assessments",
            "establishments",
            "regions",
        ] {
            q(format!("DELETE FROM {t}")).execute(&mut *tx).await?;
        }
        qs("DELETE FROM est_ids WHERE est_id <> 0")
            .execute(&mut *tx)
            .await?;
        qs("UPDATE id_alloc SET next_id = 1")
            .execute(&mut *tx)
            .await?;
        bump_org_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl SqlStore {
    /// WHERE clause for host lists, the end-of-day second of `filter.at`,
    /// and the values to bind, in placeholder order.
    /// Host views (sources and findings at `at_end`, or open now) for rows of `hosts h`.
    async fn host_views(&self, rows: &[AnyRow], at_end: Option<i64>) -> Result<Vec<HostView>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ests = self.est_map().await?;
        let mut hosts = Vec::with_capacity(rows.len());
        let mut index = HashMap::new();
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let est_id: i64 = r.try_get("est_id")?;
            let (establishment, region) = match ests.get(&est_id) {
                Some((c, reg, _)) => (Some(c.clone()), Some(reg.clone())),
                None => (None, None),
            };
            index.insert(id, hosts.len());
            hosts.push(HostView {
                id,
                hostname: r.try_get("hostname")?,
                establishment,
                region,
                attribution: r.try_get("attribution")?,
                os: os_from_row(r)?,
                first_seen: ts(r.try_get("first_seen")?),
                last_seen: ts(r.try_get("last_seen")?),
                sources: Vec::new(),
                findings: Vec::new(),
            });
        }
        let ids: Vec<i64> = hosts.iter().map(|h| h.id).collect();
        for chunk in ids.chunks(CHUNK) {
            let list = id_list(chunk);
            let srcs = q(format!(
                "SELECT host_id, source, observed_at FROM host_sources WHERE host_id IN ({list}) ORDER BY source"
            ))
            .fetch_all(&self.pool)
            .await?;
            for r in srcs {
                let hid: i64 = r.try_get(0)?;
                let kind_s: String = r.try_get(1)?;
                let kind = SourceKind::parse(&kind_s)
                    .ok_or_else(|| corrupt("host_sources", format!("source {kind_s:?}")))?;
                if let Some(&i) = index.get(&hid) {
                    hosts[i].sources.push(SourceSummary {
                        kind,
                        last_observed: ts(r.try_get(2)?),
                    });
                }
            }
            let cond = match at_end {
                Some(end) => {
                    format!("opened_at <= {end} AND (closed_at IS NULL OR closed_at > {end})")
                }
                None => "closed_at IS NULL".to_string(),
            };
            let fs = q(format!(
                "SELECT f.*, e.body AS evidence_body FROM findings f JOIN evidence e ON e.id = f.evidence_id \
                 WHERE f.host_id IN ({list}) AND {cond} ORDER BY f.rule_id"
            ))
            .fetch_all(&self.pool)
            .await?;
            for r in fs {
                let (hid, mut f) = finding_from_row(&r)?;
                if let (Some(end), Some(resolved)) = (at_end, f.resolved_at) {
                    // Seen at a past date, a finding resolved later was still open.
                    if resolved.as_second() > end {
                        f.resolved_at = None;
                    }
                }
                if let Some(&i) = index.get(&hid) {
                    hosts[i].findings.push(f);
                }
            }
        }
        for h in &mut hosts {
            h.findings
                .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
        }
        Ok(hosts)
    }

    async fn host_where(
        &self,
        scope: &Scope,
        filter: &HostFilter,
    ) -> Result<(String, Option<i64>, Vec<String>)> {
        let mut binds = Vec::new();
        let mut conds = vec![
            self.est_condition(
                scope,
                "h.est_id",
                filter.establishment.as_ref(),
                filter.region.as_ref(),
            )
            .await?,
        ];
        if filter.unassigned_only {
            conds.push("h.est_id = 0".into());
        }
        let at_end = filter.at.map(Day::end_second);
        if let Some(end) = at_end {
            conds.push(format!("h.first_seen <= {end}"));
        }
        let mut n = 1;
        if let Some(rule) = &filter.rule {
            let open = match at_end {
                Some(end) => {
                    format!("f.opened_at <= {end} AND (f.closed_at IS NULL OR f.closed_at > {end})")
                }
                None => "f.closed_at IS NULL".into(),
            };
            conds.push(format!(
                "EXISTS (SELECT 1 FROM findings f WHERE f.est_id = h.est_id AND f.host_id = h.id AND f.rule_id = ${n} AND {open})"
            ));
            binds.push(rule.as_str().to_string());
            n += 1;
        }
        if let Some(h) = &filter.hostname {
            conds.push(format!("LOWER(h.hostname) = ${n}"));
            binds.push(h.to_ascii_lowercase());
        }
        if let Some(id) = filter.host_id {
            conds.push(format!("h.id = {id}"));
        }
        Ok((conds.join(" AND "), at_end, binds))
    }
}

/// How heavily a machine's open findings weigh in the worst-machines
/// ranking: each critical 100, each high 10, any other 1.
const SEVERITY_WEIGHT: &str =
    "SUM(CASE f.severity WHEN 'critical' THEN 100 WHEN 'high' THEN 10 ELSE 1 END)";

fn source_count(r: &AnyRow) -> Result<SourceCount> {
    let kind_s: String = r.try_get(0)?;
    let source = SourceKind::parse(&kind_s)
        .ok_or_else(|| corrupt("host_sources", format!("source {kind_s:?}")))?;
    Ok(SourceCount {
        source,
        hosts: u64::try_from(r.try_get::<i64, _>(1)?).unwrap_or(0),
        last_observed: ts(r.try_get(2)?),
    })
}

fn file_from_row(r: &AnyRow) -> Result<FileRecord> {
    let n = |c: &str| -> Result<u64> { Ok(u64::try_from(r.try_get::<i64, _>(c)?).unwrap_or(0)) };
    Ok(FileRecord {
        content_hash: r.try_get("content_hash")?,
        name: r.try_get("name")?,
        format: r.try_get("format")?,
        ingested_at: ts(r.try_get("ingested_at")?),
        observations: n("observations")?,
        hosts: n("hosts")?,
        unassigned: n("unassigned")?,
    })
}

struct SqlTx {
    dialect: Dialect,
    tx: WriteTx,
    est_ids: Arc<HashMap<EstablishmentCode, i64>>,
    est_codes: Arc<EstById>,
    /// Evidence bodies already parsed in this transaction, by id: machines
    /// of one fleet share a few hundred bodies, parsed once each.
    evidence: HashMap<i64, Evidence>,
    /// The establishment of each machine this transaction found (by key or
    /// by id), so that reading its rows names `est_id` (one shard under
    /// Citus, instead of all of them).
    host_est: HashMap<i64, i64>,
}

impl SqlTx {
    async fn load_host_records(&mut self, ids: &[i64], with_keys: bool) -> Result<Vec<HostRecord>> {
        let mut out: Vec<HostRecord> = Vec::with_capacity(ids.len());
        let mut index: HashMap<i64, usize> = HashMap::with_capacity(ids.len());
        let mut pending_keys: Vec<AnyRow> = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let list = id_list(chunk);
            if with_keys {
                let key_rows = q(format!(
                    "SELECT host_id, key FROM host_keys WHERE host_id IN ({list})"
                ))
                .fetch_all(&mut *self.tx)
                .await?;
                pending_keys.extend(key_rows);
            }
            let rows = self.host_rows(chunk);
            let (from, on_hosts, on_sources) = match &rows {
                Some(v) => (
                    format!("{v} CROSS JOIN "),
                    "h.est_id = v.column1 AND h.id = v.column2".to_string(),
                    "s.est_id = v.column1 AND s.host_id = v.column2".to_string(),
                ),
                None => (
                    String::new(),
                    format!("h.id IN ({list})"),
                    format!("s.host_id IN ({list})"),
                ),
            };
            let on_est_h = self.on_known_ests(chunk, "h.est_id");
            let on_est_s = self.on_known_ests(chunk, "s.est_id");
            for r in q(format!(
                "SELECT h.est_id, h.id, h.hostname, h.first_seen, h.last_seen, h.attribution FROM {from}hosts h \
                 WHERE {on_est_h}{on_hosts}"
            ))
            .fetch_all(&mut *self.tx)
            .await?
            {
                let id: i64 = r.try_get(1)?;
                let est_id: i64 = r.try_get(0)?;
                let reason: Option<String> = r.try_get(5)?;
                index.insert(id, out.len());
                out.push(HostRecord {
                    id,
                    establishment: self.est_codes.get(&est_id).map(|(c, _, _)| c.clone()),
                    attribution: reason.as_deref().and_then(AttributionReason::parse),
                    last_closed: None,
                    hostname: r.try_get(2)?,
                    first_seen: ts(r.try_get(3)?),
                    last_seen: ts(r.try_get(4)?),
                    sources: Vec::new(),
                    open_findings: Vec::new(),
                    open_at_last_seen: Vec::new(),
                    keys: Vec::new(),
                });
            }
            for r in q(format!("SELECT s.host_id, s.source, s.observed_at, s.state FROM {from}host_sources s WHERE {on_est_s}{on_sources}"))
                .fetch_all(&mut *self.tx)
                .await?
            {
                let hid: i64 = r.try_get(0)?;
                let kind_s: String = r.try_get(1)?;
                let kind = SourceKind::parse(&kind_s).ok_or_else(|| corrupt("host_sources", format!("source {kind_s:?}")))?;
                let blob: Vec<u8> = r.try_get(3)?;
                let state = decode_state(kind, ts(r.try_get(2)?), &blob).map_err(|e| corrupt("host_sources", e))?;
                if let Some(&i) = index.get(&hid) {
                    out[i].sources.push(state);
                }
            }
            // open now, or closed after the machine's last observation (a
            // projection that a newer observation may rewind)
            let on_est_f = self.on_known_ests(chunk, "f.est_id");
            let on_findings = match &rows {
                Some(_) => "f.est_id = v.column1 AND f.host_id = v.column2".to_string(),
                None => format!("f.host_id IN ({list})"),
            };
            let rows = q(format!(
                "SELECT f.* FROM {from}findings f JOIN hosts h ON h.est_id = f.est_id AND h.id = f.host_id \
                 WHERE {on_est_f}{on_findings} AND (f.closed_at IS NULL OR f.closed_at > h.last_seen)"
            ))
            .fetch_all(&mut *self.tx)
            .await?;
            let mut missing: Vec<i64> = rows
                .iter()
                .map(|r| r.try_get::<i64, _>("evidence_id"))
                .collect::<std::result::Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|id| !self.evidence.contains_key(id))
                .collect();
            missing.sort_unstable();
            missing.dedup();
            for ids in missing.chunks(CHUNK) {
                for r in q(format!(
                    "SELECT id, body FROM evidence WHERE id IN ({})",
                    id_list(ids)
                ))
                .fetch_all(&mut *self.tx)
                .await?
                {
                    let id: i64 = r.try_get(0)?;
                    let body: String = r.try_get(1)?;
                    let ev: Evidence = serde_json::from_str(&body)
                        .map_err(|e| corrupt("evidence", format!("evidence {id}: {e}")))?;
                    self.evidence.insert(id, ev);
                }
            }
            for r in rows {
                let ev_id: i64 = r.try_get("evidence_id")?;
                let evidence = self
                    .evidence
                    .get(&ev_id)
                    .cloned()
                    .ok_or_else(|| corrupt("findings", format!("evidence {ev_id} missing")))?;
                let (hid, f) = finding_with_evidence(&r, evidence)?;
                if let Some(&i) = index.get(&hid) {
                    let open = OpenFinding {
                        opened_at: f.first_seen,
                        finding: Finding {
                            rule: f.rule,
                            severity: f.severity,
                            status: f.status,
                            evidence: f.evidence,
                        },
                    };
                    let host = &mut out[i];
                    if open.opened_at <= host.last_seen {
                        host.open_at_last_seen.push(open.clone());
                    }
                    if f.resolved_at.is_none() {
                        host.open_findings.push(open);
                    }
                }
            }
        }
        for r in pending_keys {
            let hid: i64 = r.try_get(0)?;
            if let Some(&i) = index.get(&hid) {
                out[i].keys.push(r.try_get(1)?);
            }
        }
        // the latest closing: nothing may be dated before it
        let mut loaded: Vec<i64> = Vec::with_capacity(out.len());
        for h in &out {
            let est = self.est_id(h.establishment.as_ref())?;
            self.host_est.insert(h.id, est);
            loaded.push(h.id);
        }
        for chunk in loaded.chunks(CHUNK) {
            let (from, on) = match self.host_rows(chunk) {
                Some(v) => (
                    format!("{v} CROSS JOIN "),
                    "f.est_id = v.column1 AND f.host_id = v.column2".to_string(),
                ),
                None => (String::new(), format!("f.host_id IN ({})", id_list(chunk))),
            };
            for r in q(format!(
                "SELECT f.host_id, MAX(f.closed_at) FROM {from}findings f WHERE {}{on} AND f.closed_at IS NOT NULL GROUP BY f.host_id",
                self.on_known_ests(chunk, "f.est_id"),
            ))
            .fetch_all(&mut *self.tx)
            .await?
            {
                let hid: i64 = r.try_get(0)?;
                let closed: Option<i64> = r.try_get(1)?;
                if let Some(&i) = index.get(&hid) {
                    out[i].last_closed = closed.map(ts);
                }
            }
        }
        Ok(out)
    }

    /// `COL IN (…) AND ` naming the establishments of these machines when
    /// this transaction knows them all (found by key or by id), so that a
    /// read names them (one shard each under Citus); empty otherwise.
    /// `est_id IN (…) AND ` for the machines' establishments, which lets
    /// Citus send a statement to their shards only. PostgreSQL only: an
    /// `IN` list on the leading key makes SQLite probe it once per entry
    /// for each row joined (100 times slower loading 1,000 machines of 200
    /// establishments).
    fn on_known_ests(&self, hosts: &[i64], col: &str) -> String {
        if self.dialect == Dialect::Sqlite {
            return String::new();
        }
        let mut ests: Vec<i64> = Vec::with_capacity(hosts.len());
        for id in hosts {
            match self.host_est.get(id) {
                Some(e) => ests.push(*e),
                None => return String::new(),
            }
        }
        ests.sort_unstable();
        ests.dedup();
        if ests.is_empty() {
            return String::new();
        }
        format!("{col} IN ({}) AND ", id_list(&ests))
    }

    /// The machines as a list of (establishment, machine) rows to join a
    /// table on, when every machine's establishment is known: one index
    /// probe per machine on the (est_id, host id) keys, where `est_id IN
    /// (…) AND host_id IN (…)` probes every pair of the two lists (200
    /// establishments × 1,000 machines: 200,000 probes).
    fn host_rows(&self, hosts: &[i64]) -> Option<String> {
        let mut rows = String::with_capacity(hosts.len() * 16);
        for (i, id) in hosts.iter().enumerate() {
            let est = self.host_est.get(id)?;
            if i > 0 {
                rows.push(',');
            }
            rows.push_str(&format!("({est},{id})"));
        }
        (!rows.is_empty()).then(|| format!("(VALUES {rows}) v"))
    }

    fn est_id(&self, code: Option<&EstablishmentCode>) -> Result<i64> {
        match code {
            None => Ok(0),
            Some(c) => self
                .est_ids
                .get(c)
                .copied()
                .ok_or_else(|| StoreError::UnknownEstablishment(c.clone())),
        }
    }

    /// Evidence bodies are stored once and shared: machines of one fleet
    /// mostly carry identical evidence (same OS, same missing update).
    async fn intern_evidence(&mut self, bodies: &[String]) -> Result<HashMap<String, i64>> {
        let hashes: Vec<String> = bodies.iter().map(|b| evidence_hash(b)).collect();
        let found = self.evidence_ids(&hashes).await?;
        let mut out: HashMap<String, i64> = HashMap::with_capacity(bodies.len());
        let mut missing: Vec<(&String, &String)> = Vec::new();
        for (b, h) in bodies.iter().zip(&hashes) {
            match found.get(h) {
                Some(id) => {
                    out.insert(b.clone(), *id);
                }
                None => missing.push((b, h)),
            }
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let n = i64::try_from(missing.len())
            .map_err(|_| StoreError::Invalid("too much evidence".into()))?;
        let next: i64 = qs(
            "UPDATE id_alloc SET next_id = next_id + $1 WHERE name = 'evidence' RETURNING next_id",
        )
        .bind(n)
        .fetch_one(&mut *self.tx)
        .await?
        .try_get(0)?;
        let first = next - n;
        for (ci, chunk) in missing.chunks(CHUNK).enumerate() {
            let mut query = q(format!(
                "INSERT INTO evidence (id, hash, body) VALUES {} ON CONFLICT (hash) DO NOTHING",
                placeholders(self.dialect, chunk.len(), 3, 1)
            ));
            for (i, (b, h)) in chunk.iter().enumerate() {
                let id = first + (ci * CHUNK + i) as i64;
                query = query.bind(id).bind((*h).clone()).bind((*b).clone());
                out.insert((*b).clone(), id);
            }
            let inserted = query.execute(&mut *self.tx).await?.rows_affected();
            if inserted < chunk.len() as u64 {
                // a concurrent ingest stored some of these first: use its ids
                let hashes: Vec<String> = chunk.iter().map(|(_, h)| (*h).clone()).collect();
                let ids = self.evidence_ids(&hashes).await?;
                for (b, h) in chunk {
                    if let Some(id) = ids.get(*h) {
                        out.insert((*b).clone(), *id);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Evidence ids by body hash, for the hashes already stored.
    async fn evidence_ids(&mut self, hashes: &[String]) -> Result<HashMap<String, i64>> {
        self.fetch_in("SELECT hash, id FROM evidence WHERE hash IN ({})", hashes)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect()
    }

    /// Dictionary entries whose name is one of `names`.
    async fn software_by_names(
        &mut self,
        names: &[String],
    ) -> Result<Vec<((String, String, String), u32)>> {
        self.fetch_in(
            "SELECT id, name, version, publisher FROM software WHERE name IN ({})",
            names,
        )
        .await?
        .iter()
        .map(|r| {
            let id = u32::try_from(r.try_get::<i64, _>(0)?)
                .map_err(|_| corrupt("software", "id out of range"))?;
            Ok(((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?), id))
        })
        .collect()
    }

    /// Runs `sql` (one `{}` for an `IN` list) for many values, in chunks
    /// under both dialects' bind limits.
    async fn fetch_in(&mut self, sql: &str, values: &[String]) -> Result<Vec<AnyRow>> {
        let mut rows = Vec::new();
        for chunk in values.chunks(CHUNK) {
            let mut query = q(sql.replace("{}", &list_placeholders(self.dialect, chunk.len())));
            for v in chunk {
                query = query.bind(v.clone());
            }
            rows.extend(query.fetch_all(&mut *self.tx).await?);
        }
        Ok(rows)
    }

    /// Brings one establishment's daily counts up to date from the first
    /// of `days` (the days its findings changed) on, that is on those days
    /// and on every day a snapshot is stored from then on: one read of its
    /// snapshots, of its machines and of the findings open in the window,
    /// counts swept over the days in memory, and a snapshot written only on
    /// the days whose counts differ from the snapshot in force (the readers
    /// carry a snapshot forward to the next one). A snapshot is whole: the
    /// machines and every rule the establishment ever had, so the latest
    /// snapshot day is the day to read rules at.
    async fn refresh_est(&mut self, est_id: i64, days: &[Day]) -> Result<()> {
        let Some(&first) = days.iter().min() else {
            return Ok(());
        };
        // the snapshots stored from the one in force before the window on
        let before: Option<i64> =
            qs("SELECT MAX(day) FROM daily_hosts WHERE est_id = $1 AND day < $2")
                .bind(est_id)
                .bind(i64::from(first.number()))
                .fetch_one(&mut *self.tx)
                .await?
                .try_get(0)?;
        let from_day = before.unwrap_or(i64::from(first.number()));
        type Snapshot = (i64, BTreeMap<String, [i64; 3]>);
        let mut stored: BTreeMap<i64, Snapshot> = BTreeMap::new();
        for r in qs("SELECT day, hosts FROM daily_hosts WHERE est_id = $1 AND day >= $2")
            .bind(est_id)
            .bind(from_day)
            .fetch_all(&mut *self.tx)
            .await?
        {
            stored.insert(r.try_get(0)?, (r.try_get(1)?, BTreeMap::new()));
        }
        for r in qs(
            "SELECT day, rule_id, hosts, review, unknown FROM daily_findings WHERE est_id = $1 AND day >= $2",
        )
        .bind(est_id)
        .bind(from_day)
        .fetch_all(&mut *self.tx)
        .await?
        {
            if let Some((_, by_rule)) = stored.get_mut(&r.try_get::<i64, _>(0)?) {
                by_rule.insert(
                    r.try_get(1)?,
                    [r.try_get(2)?, r.try_get(3)?, r.try_get(4)?],
                );
            }
        }
        let mut todo: BTreeSet<i32> = days.iter().map(|d| d.number()).collect();
        for &d in stored.keys().filter(|&&d| d >= i64::from(first.number())) {
            todo.insert(i32::try_from(d).map_err(|_| corrupt("daily_hosts", "day out of range"))?);
        }
        let todo: Vec<Day> = todo.into_iter().map(Day::from_number).collect();
        let last = todo.last().copied().unwrap_or(first);
        let ends: Vec<i64> = todo.iter().map(|d| d.end_second()).collect();
        let mut seen: Vec<i64> = qs("SELECT first_seen FROM hosts WHERE est_id = $1")
            .bind(est_id)
            .fetch_all(&mut *self.tx)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<std::result::Result<_, _>>()?;
        seen.sort_unstable();
        // per rule, the change of (confirmed, review, unknown) at each day
        // of `todo`: a finding counts on a day when it was opened by the
        // day's end and not closed by then
        let mut delta: BTreeMap<String, Vec<[i64; 3]>> = BTreeMap::new();
        for r in qs(
            "SELECT rule_id, status, opened_at, closed_at FROM findings \
             WHERE est_id = $1 AND opened_at <= $2 AND (closed_at IS NULL OR closed_at > $3)",
        )
        .bind(est_id)
        .bind(last.end_second())
        .bind(first.end_second())
        .fetch_all(&mut *self.tx)
        .await?
        {
            let status: String = r.try_get(1)?;
            let k = match status.as_str() {
                "confirmed" => 0,
                "needs-review" => 1,
                "unknown" => 2,
                _ => continue,
            };
            let opened: i64 = r.try_get(2)?;
            let closed: Option<i64> = r.try_get(3)?;
            let from = ends.partition_point(|&e| e < opened);
            let to = closed.map_or(ends.len(), |c| ends.partition_point(|&e| e < c));
            if from < to {
                let v = delta
                    .entry(r.try_get(0)?)
                    .or_insert_with(|| vec![[0; 3]; ends.len() + 1]);
                v[from][k] += 1;
                v[to][k] -= 1;
            }
        }
        let mut rules: BTreeSet<String> =
            qs("SELECT DISTINCT rule_id FROM daily_findings WHERE est_id = $1")
                .bind(est_id)
                .fetch_all(&mut *self.tx)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<std::result::Result<_, _>>()?;
        rules.extend(delta.keys().cloned());
        let mut carried: Option<Snapshot> = before.and_then(|d| stored.get(&d).cloned());
        let mut running: BTreeMap<&str, [i64; 3]> = BTreeMap::new();
        for (i, (day, end)) in todo.iter().zip(&ends).enumerate() {
            for (rule, v) in &delta {
                let c = running.entry(rule.as_str()).or_insert([0; 3]);
                for k in 0..3 {
                    c[k] += v[i][k];
                }
            }
            let hosts = i64::try_from(seen.partition_point(|&s| s <= *end)).unwrap_or(i64::MAX);
            let want: Snapshot = (
                hosts,
                rules
                    .iter()
                    .map(|r| {
                        (
                            r.clone(),
                            running.get(r.as_str()).copied().unwrap_or([0; 3]),
                        )
                    })
                    .collect(),
            );
            let n = i64::from(day.number());
            let current = stored.get(&n).or(carried.as_ref());
            if current != Some(&want) {
                self.write_snapshot(est_id, n, &want).await?;
            }
            carried = Some(want);
        }
        Ok(())
    }

    async fn write_snapshot(
        &mut self,
        est_id: i64,
        day: i64,
        (hosts, rules): &(i64, BTreeMap<String, [i64; 3]>),
    ) -> Result<()> {
        qs(
            "INSERT INTO daily_hosts (est_id, day, hosts) VALUES ($1, $2, $3) \
            ON CONFLICT (est_id, day) DO UPDATE SET hosts = excluded.hosts",
        )
        .bind(est_id)
        .bind(day)
        .bind(*hosts)
        .execute(&mut *self.tx)
        .await?;
        for (rule, [confirmed, review, unknown]) in rules {
            qs(
                "INSERT INTO daily_findings (est_id, rule_id, day, hosts, review, unknown) VALUES ($1, $2, $3, $4, $5, $6) \
                ON CONFLICT (est_id, rule_id, day) DO UPDATE SET hosts = excluded.hosts, review = excluded.review, \
                unknown = excluded.unknown",
            )
            .bind(est_id)
            .bind(rule.clone())
            .bind(day)
            .bind(*confirmed)
            .bind(*review)
            .bind(*unknown)
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl StoreTx for SqlTx {
    async fn record_file(&mut self, record: &FileRecord) -> Result<bool> {
        let done = qs("INSERT INTO ingested_files (content_hash, name, format, ingested_at, observations, hosts, unassigned) \
                       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (content_hash) DO NOTHING")
            .bind(record.content_hash.clone())
            .bind(record.name.clone())
            .bind(record.format.clone())
            .bind(record.ingested_at.as_second())
            .bind(i64::try_from(record.observations).unwrap_or(i64::MAX))
            .bind(i64::try_from(record.hosts).unwrap_or(i64::MAX))
            .bind(i64::try_from(record.unassigned).unwrap_or(i64::MAX))
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn allocate_host_ids(&mut self, n: u64) -> Result<i64> {
        let n = i64::try_from(n).map_err(|_| StoreError::Invalid("too many ids".into()))?;
        let next: i64 =
            qs("UPDATE id_alloc SET next_id = next_id + $1 WHERE name = 'host' RETURNING next_id")
                .bind(n)
                .fetch_one(&mut *self.tx)
                .await?
                .try_get(0)?;
        Ok(next - n)
    }

    async fn resolve_keys(&mut self, keys: &[Vec<String>]) -> Result<Vec<Option<i64>>> {
        let mut all: Vec<String> = keys.iter().flatten().cloned().collect();
        all.sort();
        all.dedup();
        let mut found: HashMap<String, i64> = HashMap::with_capacity(all.len());
        for r in self
            .fetch_in(
                "SELECT key, host_id, est_id FROM host_keys WHERE key IN ({})",
                &all,
            )
            .await?
        {
            let host: i64 = r.try_get(1)?;
            self.host_est.insert(host, r.try_get(2)?);
            found.insert(r.try_get(0)?, host);
        }
        Ok(keys
            .iter()
            .map(|list| list.iter().find_map(|k| found.get(k).copied()))
            .collect())
    }

    async fn load_hosts(&mut self, ids: &[i64]) -> Result<Vec<HostRecord>> {
        self.load_host_records(ids, true).await
    }

    async fn load_hosts_for_assessment(&mut self, ids: &[i64]) -> Result<Vec<HostRecord>> {
        self.load_host_records(ids, false).await
    }
    async fn host_ids_after(
        &mut self,
        after: i64,
        limit: u64,
        seen_by: Timestamp,
    ) -> Result<Vec<i64>> {
        let rows = qs(
            "SELECT id, est_id FROM hosts WHERE id > $1 AND first_seen <= $2 ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(seen_by.as_second())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *self.tx)
        .await?;
        let mut ids = Vec::with_capacity(rows.len());
        for r in rows {
            let id: i64 = r.try_get(0)?;
            self.host_est.insert(id, r.try_get(1)?);
            ids.push(id);
        }
        Ok(ids)
    }

    async fn intern_software(&mut self, items: &[Software]) -> Result<Vec<u32>> {
        fn key(s: &Software) -> (String, String, String) {
            (
                s.name.clone(),
                s.version.clone().unwrap_or_default(),
                s.publisher.clone().unwrap_or_default(),
            )
        }
        let mut names: Vec<String> = items.iter().map(|s| s.name.clone()).collect();
        names.sort_unstable();
        names.dedup();
        let mut found: HashMap<(String, String, String), u32> =
            self.software_by_names(&names).await?.into_iter().collect();
        let mut missing: Vec<(String, String, String)> = items
            .iter()
            .map(key)
            .filter(|k| !found.contains_key(k))
            .collect();
        missing.sort();
        missing.dedup();
        if !missing.is_empty() {
            let n = i64::try_from(missing.len())
                .map_err(|_| StoreError::Invalid("too many software entries".into()))?;
            let next: i64 = qs("UPDATE id_alloc SET next_id = next_id + $1 WHERE name = 'software' RETURNING next_id")
                .bind(n)
                .fetch_one(&mut *self.tx)
                .await?
                .try_get(0)?;
            let first = next - n;
            for (ci, chunk) in missing.chunks(CHUNK).enumerate() {
                let mut query = q(format!(
                    "INSERT INTO software (id, name, version, publisher) VALUES {} \
                     ON CONFLICT (name, version, publisher) DO NOTHING",
                    placeholders(self.dialect, chunk.len(), 4, 1)
                ));
                for (i, k) in chunk.iter().enumerate() {
                    let id = first + (ci * CHUNK + i) as i64;
                    query = query
                        .bind(id)
                        .bind(k.0.clone())
                        .bind(k.1.clone())
                        .bind(k.2.clone());
                    let id = u32::try_from(id)
                        .map_err(|_| StoreError::Invalid("software dictionary is full".into()))?;
                    found.insert(k.clone(), id);
                }
                let inserted = query.execute(&mut *self.tx).await?.rows_affected();
                if inserted < chunk.len() as u64 {
                    // a concurrent ingest stored some of these first: use its ids
                    let names: Vec<String> = chunk.iter().map(|k| k.0.clone()).collect();
                    for (k, id) in self.software_by_names(&names).await? {
                        if chunk.contains(&k) {
                            found.insert(k, id);
                        }
                    }
                }
            }
        }
        items
            .iter()
            .map(|s| {
                found
                    .get(&key(s))
                    .copied()
                    .ok_or_else(|| corrupt("software", "interned entry vanished"))
            })
            .collect()
    }

    async fn software_by_ids(&mut self, ids: &[u32]) -> Result<Vec<(u32, Software)>> {
        let mut out = Vec::with_capacity(ids.len());
        let list: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        for chunk in list.chunks(CHUNK * 4) {
            for r in q(format!(
                "SELECT id, name, version, publisher FROM software WHERE id IN ({})",
                id_list(chunk)
            ))
            .fetch_all(&mut *self.tx)
            .await?
            {
                let id: i64 = r.try_get(0)?;
                let version: String = r.try_get(2)?;
                let publisher: String = r.try_get(3)?;
                out.push((
                    u32::try_from(id).map_err(|_| corrupt("software", "id out of range"))?,
                    Software {
                        name: r.try_get(1)?,
                        version: (!version.is_empty()).then_some(version),
                        publisher: (!publisher.is_empty()).then_some(publisher),
                    },
                ));
            }
        }
        Ok(out)
    }

    async fn apply(&mut self, changes: &[HostChange]) -> Result<()> {
        debug_assert!(
            {
                let mut ids: Vec<i64> = changes.iter().map(|c| c.host_id).collect();
                ids.sort_unstable();
                ids.windows(2).all(|w| w[0] != w[1])
            },
            "a host appears twice in one apply batch"
        );
        for c in changes {
            let est = self.est_id(c.establishment.as_ref())?;
            self.host_est.insert(c.host_id, est);
        }
        // 0. projections a newer observation replaces: per establishment and
        // time, one statement for every machine
        let mut rewinds: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
        for c in changes {
            if let Some(t) = c.rewind_after {
                let est = match &c.previous_establishment {
                    Some(prev) => self.est_id(prev.as_ref())?,
                    None => self.est_id(c.establishment.as_ref())?,
                };
                rewinds
                    .entry((est, t.as_second()))
                    .or_default()
                    .push(c.host_id);
            }
        }
        for ((est, t), hosts) in rewinds {
            for chunk in hosts.chunks(CHUNK * 4) {
                let list = id_list(chunk);
                q(format!(
                    "DELETE FROM findings WHERE est_id = $1 AND host_id IN ({list}) AND opened_at > $2"
                ))
                .bind(est)
                .bind(t)
                .execute(&mut *self.tx)
                .await?;
                q(format!(
                    "UPDATE findings SET closed_at = NULL WHERE est_id = $1 AND host_id IN ({list}) AND closed_at > $2"
                ))
                .bind(est)
                .bind(t)
                .execute(&mut *self.tx)
                .await?;
            }
        }
        // 1. re-attributed hosts move with all their rows
        for c in changes {
            if let Some(prev) = &c.previous_establishment
                && prev != &c.establishment
            {
                let from = self.est_id(prev.as_ref())?;
                let to = self.est_id(c.establishment.as_ref())?;
                // Copy then delete rather than `UPDATE … SET est_id`: est_id is
                // the distribution column of these tables under Citus, which
                // refuses to update it.
                for (table, key, rest) in MOVED_TABLES {
                    q(format!(
                        "INSERT INTO {table} (est_id, {key}, {rest}) \
                         SELECT $1, {key}, {rest} FROM {table} WHERE est_id = $2 AND {key} = $3"
                    ))
                    .bind(to)
                    .bind(from)
                    .bind(c.host_id)
                    .execute(&mut *self.tx)
                    .await?;
                    q(format!(
                        "DELETE FROM {table} WHERE est_id = $1 AND {key} = $2"
                    ))
                    .bind(from)
                    .bind(c.host_id)
                    .execute(&mut *self.tx)
                    .await?;
                }
                // host_keys is distributed by its key: a plain update is fine
                qs("UPDATE host_keys SET est_id = $1 WHERE est_id = $2 AND host_id = $3")
                    .bind(to)
                    .bind(from)
                    .bind(c.host_id)
                    .execute(&mut *self.tx)
                    .await?;
            }
        }
        // 2. host rows (re-assessments leave hosts, sources and keys alone)
        let observed: Vec<&HostChange> = changes.iter().filter(|c| c.source.is_some()).collect();
        for chunk in observed.chunks(CHUNK / 2) {
            let mut query = qp(
                format!(
                    "INSERT INTO hosts (est_id, id, hostname, attribution, os_family, os_name, os_version, os_build, os_ubr, first_seen, last_seen) \
                 VALUES {} ON CONFLICT (est_id, id) DO UPDATE SET \
                 hostname = COALESCE(excluded.hostname, hosts.hostname), \
                 attribution = COALESCE(excluded.attribution, hosts.attribution), \
                 os_family = COALESCE(excluded.os_family, hosts.os_family), \
                 os_name = COALESCE(excluded.os_name, hosts.os_name), \
                 os_version = COALESCE(excluded.os_version, hosts.os_version), \
                 os_build = COALESCE(excluded.os_build, hosts.os_build), \
                 os_ubr = COALESCE(excluded.os_ubr, hosts.os_ubr), \
                 first_seen = CASE WHEN excluded.first_seen < hosts.first_seen THEN excluded.first_seen ELSE hosts.first_seen END, \
                 last_seen = CASE WHEN excluded.last_seen > hosts.last_seen THEN excluded.last_seen ELSE hosts.last_seen END",
                    placeholders(self.dialect, chunk.len(), 11, 1)
                ),
                chunk.len() == CHUNK / 2,
            );
            for c in chunk {
                query = query
                    .bind(self.est_id(c.establishment.as_ref())?)
                    .bind(c.host_id)
                    .bind(c.hostname.clone())
                    .bind(c.attribution.map(|a| a.as_str().to_string()))
                    .bind(c.os.family.map(|f| f.as_str().to_string()))
                    .bind(c.os.name.clone())
                    .bind(c.os.version.clone())
                    .bind(c.os.build.map(i64::from))
                    .bind(c.os.ubr.map(i64::from))
                    .bind(c.first_seen.as_second())
                    .bind(c.observed_at.as_second());
            }
            query.execute(&mut *self.tx).await?;
        }
        // 3. identity keys (last writer wins)
        let mut keys: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for c in &observed {
            let est = self.est_id(c.establishment.as_ref())?;
            for k in &c.keys {
                keys.insert(k.as_str(), (est, c.host_id));
            }
        }
        let keys: Vec<_> = keys.into_iter().collect();
        for chunk in keys.chunks(CHUNK) {
            let mut query = qp(
                format!(
                    "INSERT INTO host_keys (key, est_id, host_id) VALUES {} \
                 ON CONFLICT (key) DO UPDATE SET est_id = excluded.est_id, host_id = excluded.host_id",
                    placeholders(self.dialect, chunk.len(), 3, 1)
                ),
                chunk.len() == CHUNK,
            );
            for (k, (est, host)) in chunk {
                query = query.bind((*k).to_string()).bind(*est).bind(*host);
            }
            query.execute(&mut *self.tx).await?;
        }
        // 4. source states: unchanged ones only get their new time
        let mut touched: BTreeMap<(i64, &'static str, i64), Vec<i64>> = BTreeMap::new();
        let mut sourced: Vec<(&HostChange, &StoredSourceState)> = Vec::new();
        for c in changes {
            let Some(src) = c.source.as_ref() else {
                continue;
            };
            if c.source_unchanged {
                let est = self.est_id(c.establishment.as_ref())?;
                touched
                    .entry((est, src.kind.as_str(), src.observed_at.as_second()))
                    .or_default()
                    .push(c.host_id);
            } else {
                sourced.push((c, src));
            }
        }
        for ((est, kind, at), hosts) in touched {
            for chunk in hosts.chunks(CHUNK * 4) {
                q(format!(
                    "UPDATE host_sources SET observed_at = $1 WHERE est_id = $2 AND source = $3 AND host_id IN ({})",
                    id_list(chunk)
                ))
                .bind(at)
                .bind(est)
                .bind(kind.to_string())
                .execute(&mut *self.tx)
                .await?;
            }
        }
        for chunk in sourced.chunks(CHUNK / 2) {
            let mut query = qp(
                format!(
                    "INSERT INTO host_sources (est_id, host_id, source, observed_at, state) VALUES {} \
                 ON CONFLICT (est_id, host_id, source) DO UPDATE SET observed_at = excluded.observed_at, state = excluded.state",
                    placeholders(self.dialect, chunk.len(), 5, 1)
                ),
                chunk.len() == CHUNK / 2,
            );
            for (c, src) in chunk {
                query = query
                    .bind(self.est_id(c.establishment.as_ref())?)
                    .bind(c.host_id)
                    .bind(src.kind.as_str().to_string())
                    .bind(src.observed_at.as_second())
                    .bind(encode_state(src).map_err(StoreError::Invalid)?);
            }
            query.execute(&mut *self.tx).await?;
        }
        // 5. findings: evidence first (deduplicated), then close, update, bump, open
        // each finding's evidence serialised once, keyed by the finding's address
        let mut json_of: HashMap<usize, String> = HashMap::new();
        for f in changes
            .iter()
            .flat_map(|c| c.opened.iter().chain(c.updated.iter()))
        {
            json_of.insert(f as *const Finding as usize, evidence_json(&f.evidence));
        }
        let mut bodies: Vec<String> = json_of.values().cloned().collect();
        bodies.sort_unstable();
        bodies.dedup();
        let evidence_ids = self.intern_evidence(&bodies).await?;
        let ev_id = |f: &Finding| -> Result<i64> {
            json_of
                .get(&(f as *const Finding as usize))
                .and_then(|j| evidence_ids.get(j))
                .copied()
                .ok_or_else(|| corrupt("evidence", "interned evidence vanished"))
        };
        // closings and changed findings: one statement per establishment,
        // rule and new value for all the machines it applies to, not one
        // round trip per machine (each names its establishment, so under
        // Citus it goes to one shard)
        let mut closes: BTreeMap<(i64, &str, i64), Vec<i64>> = BTreeMap::new();
        let mut updates: BTreeMap<(i64, &str, &str, &str, i64), Vec<i64>> = BTreeMap::new();
        for c in changes {
            let est = self.est_id(c.establishment.as_ref())?;
            let at = c.observed_at.as_second();
            for rule in &c.closed {
                closes
                    .entry((est, rule.as_str(), at))
                    .or_default()
                    .push(c.host_id);
            }
            for f in &c.updated {
                updates
                    .entry((
                        est,
                        f.rule.as_str(),
                        f.severity.as_str(),
                        f.status.as_str(),
                        ev_id(f)?,
                    ))
                    .or_default()
                    .push(c.host_id);
            }
        }
        for ((est, rule, at), hosts) in closes {
            for chunk in hosts.chunks(CHUNK * 4) {
                q(format!(
                    "UPDATE findings SET closed_at = $1 WHERE est_id = $2 AND rule_id = $3 AND closed_at IS NULL AND host_id IN ({})",
                    id_list(chunk)
                ))
                .bind(at)
                .bind(est)
                .bind(rule.to_string())
                .execute(&mut *self.tx)
                .await?;
            }
        }
        for ((est, rule, severity, status, evidence), hosts) in updates {
            for chunk in hosts.chunks(CHUNK * 4) {
                q(format!(
                    "UPDATE findings SET severity = $1, status = $2, evidence_id = $3 \
                     WHERE est_id = $4 AND rule_id = $5 AND closed_at IS NULL AND host_id IN ({})",
                    id_list(chunk)
                ))
                .bind(severity.to_string())
                .bind(status.to_string())
                .bind(evidence)
                .bind(est)
                .bind(rule.to_string())
                .execute(&mut *self.tx)
                .await?;
            }
        }
        // last seen of open findings: one statement per (establishment, time),
        // which is one per batch for a snapshot file
        let mut bumps: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
        for c in changes.iter().filter(|c| c.bump_open) {
            let est = self.est_id(c.establishment.as_ref())?;
            bumps
                .entry((est, c.observed_at.as_second()))
                .or_default()
                .push(c.host_id);
        }
        for ((est, at), hosts) in bumps {
            for chunk in hosts.chunks(CHUNK * 4) {
                q(format!(
                    "UPDATE findings SET last_seen = $1 WHERE est_id = $2 AND closed_at IS NULL AND last_seen < $3 AND host_id IN ({})",
                    id_list(chunk)
                ))
                .bind(at)
                .bind(est)
                .bind(at)
                .execute(&mut *self.tx)
                .await?;
            }
        }
        let mut opened: Vec<(i64, i64, i64, &Finding)> = Vec::new();
        for c in changes {
            let est = self.est_id(c.establishment.as_ref())?;
            for f in &c.opened {
                opened.push((est, c.host_id, c.observed_at.as_second(), f));
            }
        }
        for chunk in opened.chunks(CHUNK / 2) {
            // full chunks share one SQL text, so the prepared statement is reused
            let mut query = sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO findings (est_id, host_id, rule_id, opened_at, last_seen, closed_at, severity, status, evidence_id) VALUES {} \
                 ON CONFLICT (est_id, host_id, rule_id, opened_at) DO UPDATE SET closed_at = NULL, last_seen = excluded.last_seen, \
                 severity = excluded.severity, status = excluded.status, evidence_id = excluded.evidence_id",
                placeholders(self.dialect, chunk.len(), 9, 1)
            )))
            .persistent(chunk.len() == CHUNK / 2);
            for (est, host, at, f) in chunk {
                query = query
                    .bind(*est)
                    .bind(*host)
                    .bind(f.rule.as_str().to_string())
                    .bind(*at)
                    .bind(*at)
                    .bind(None::<i64>)
                    .bind(f.severity.as_str().to_string())
                    .bind(f.status.as_str().to_string())
                    .bind(ev_id(f)?);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    async fn refresh_daily(
        &mut self,
        establishments: &[Option<EstablishmentCode>],
        days: &[Day],
    ) -> Result<()> {
        if days.is_empty() {
            return Ok(());
        }
        let mut ids: Vec<i64> = establishments
            .iter()
            .map(|e| self.est_id(e.as_ref()))
            .collect::<Result<_>>()?;
        ids.sort_unstable();
        ids.dedup();
        for est in ids {
            self.refresh_est(est, days).await?;
        }
        Ok(())
    }

    async fn record_assessment(&mut self, at: Timestamp) -> Result<()> {
        qs("INSERT INTO assessments (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at")
            .bind(at.as_second())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            normalise_url("vigie.db").unwrap().0,
            "sqlite://vigie.db?mode=rwc"
        );
        assert_eq!(
            normalise_url("sqlite://./x.db").unwrap().0,
            "sqlite://./x.db?mode=rwc"
        );
        assert_eq!(
            normalise_url("sqlite::memory:").unwrap().0,
            "sqlite::memory:"
        );
        assert_eq!(
            normalise_url("postgres://u@h/db").unwrap().1,
            Dialect::Postgres
        );
        assert!(normalise_url("mysql://x").is_err());
    }

    /// Every file of each dialect's folder is applied, in version order, and
    /// both dialects have the same migrations (PostgreSQL once lacked 0005).
    #[test]
    fn migrations_are_every_file_of_both_folders() {
        for (dialect, list) in [
            ("sqlite", MIGRATIONS_SQLITE),
            ("postgres", MIGRATIONS_POSTGRES),
        ] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            files.sort();
            let listed: Vec<String> = list.iter().map(|(_, n, _)| n.to_string()).collect();
            assert_eq!(listed, files, "{dialect}");
            for (i, (v, _, sql)) in list.iter().enumerate() {
                assert_eq!(*v, i as i64 + 1, "{dialect}");
                assert!(!split_statements(sql).is_empty(), "{dialect} {v}");
            }
        }
        fn names(l: &[(i64, &'static str, &'static str)]) -> Vec<&'static str> {
            l.iter().map(|(_, n, _)| *n).collect()
        }
        assert_eq!(names(MIGRATIONS_SQLITE), names(MIGRATIONS_POSTGRES));
    }

    #[test]
    fn statements_split() {
        let s =
            split_statements("-- c\nCREATE TABLE a (x INT);\nCREATE INDEX i ON a (x);\n-- end\n");
        assert_eq!(s, vec!["CREATE TABLE a (x INT)", "CREATE INDEX i ON a (x)"]);
    }
}
