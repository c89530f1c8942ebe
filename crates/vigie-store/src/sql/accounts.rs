//! Accounts, API tokens, sessions and the audit log (migration 0003), and
//! the installation's secrets (migration 0008). National reference tables:
//! nothing here is keyed by establishment.

use super::{SqlStore, WriteTx, corrupt, q, qs, ts};
use crate::{
    ApiTokenRecord, AuditEntry, AuditFilter, NewApiToken, NewAuditEntry, NewUser, Result,
    SessionRecord, StoreError, UserRecord,
};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
use vigie_core::{EstablishmentCode, RegionCode};

const USER_COLS: &str = "id, username, password_hash, role, region_code, establishment_code, \
                         created_at, disabled_at, last_login_at";
const TOKEN_COLS: &str = "id, name, prefix, token_hash, role, region_code, establishment_code, \
                          created_by, created_at, expires_at, revoked_at, last_used_at";
const SESSION_COLS: &str = "id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at";

/// Longest text accepted in a name, role, actor, action, target or outcome.
const MAX_TEXT: usize = 256;
/// Longest audit detail (JSON), in bytes.
const MAX_DETAIL: usize = 64 * 1024;

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

fn check_text(what: &str, v: &str, allow_empty: bool) -> Result<()> {
    if (!allow_empty && v.trim().is_empty())
        || v.len() > MAX_TEXT
        || v.chars().any(char::is_control)
    {
        return Err(StoreError::Invalid(format!(
            "{what} must be 1 to {MAX_TEXT} bytes without control characters, got {v:?}"
        )));
    }
    Ok(())
}

fn opt_ts(v: Option<i64>) -> Option<Timestamp> {
    v.map(ts)
}

fn region_col(r: &AnyRow, table: &'static str) -> Result<Option<RegionCode>> {
    r.try_get::<Option<String>, _>("region_code")?
        .map(|s| RegionCode::new(&s).map_err(|e| corrupt(table, e.to_string())))
        .transpose()
}

fn est_col(r: &AnyRow, table: &'static str) -> Result<Option<EstablishmentCode>> {
    r.try_get::<Option<String>, _>("establishment_code")?
        .map(|s| EstablishmentCode::new(&s).map_err(|e| corrupt(table, e.to_string())))
        .transpose()
}

fn user_from_row(r: &AnyRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: r.try_get("id")?,
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        role: r.try_get("role")?,
        region: region_col(r, "users")?,
        establishment: est_col(r, "users")?,
        created_at: ts(r.try_get("created_at")?),
        disabled_at: opt_ts(r.try_get("disabled_at")?),
        last_login_at: opt_ts(r.try_get("last_login_at")?),
    })
}

fn token_from_row(r: &AnyRow) -> Result<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        prefix: r.try_get("prefix")?,
        token_hash: r.try_get("token_hash")?,
        role: r.try_get("role")?,
        region: region_col(r, "api_tokens")?,
        establishment: est_col(r, "api_tokens")?,
        created_by: r.try_get("created_by")?,
        created_at: ts(r.try_get("created_at")?),
        expires_at: opt_ts(r.try_get("expires_at")?),
        revoked_at: opt_ts(r.try_get("revoked_at")?),
        last_used_at: opt_ts(r.try_get("last_used_at")?),
    })
}

fn session_from_row(r: &AnyRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        id_hash: r.try_get("id_hash")?,
        user_id: r.try_get("user_id")?,
        csrf_token: r.try_get("csrf_token")?,
        created_at: ts(r.try_get("created_at")?),
        expires_at: ts(r.try_get("expires_at")?),
        last_seen_at: ts(r.try_get("last_seen_at")?),
    })
}

fn audit_from_row(r: &AnyRow) -> Result<AuditEntry> {
    let detail: String = r.try_get("detail")?;
    Ok(AuditEntry {
        id: r.try_get("id")?,
        at: ts(r.try_get("at")?),
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        outcome: r.try_get("outcome")?,
        ip: r.try_get("ip")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| corrupt("audit_log", format!("detail: {e}")))?,
    })
}

fn affected(n: u64) -> bool {
    n > 0
}

impl SqlStore {
    /// Refuses a perimeter naming an unknown region or establishment.
    async fn check_perimeter(
        tx: &mut WriteTx,
        region: Option<&RegionCode>,
        establishment: Option<&EstablishmentCode>,
    ) -> Result<()> {
        if let Some(r) = region {
            let n: i64 = qs("SELECT COUNT(*) FROM regions WHERE code = $1")
                .bind(r.as_str().to_string())
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?;
            if n == 0 {
                return Err(StoreError::UnknownRegion(r.clone()));
            }
        }
        if let Some(e) = establishment {
            let n: i64 = qs("SELECT COUNT(*) FROM establishments WHERE code = $1")
                .bind(e.as_str().to_string())
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?;
            if n == 0 {
                return Err(StoreError::UnknownEstablishment(e.clone()));
            }
        }
        Ok(())
    }

    async fn next_id(tx: &mut WriteTx, name: &str) -> Result<i64> {
        let next: i64 =
            qs("UPDATE id_alloc SET next_id = next_id + 1 WHERE name = $1 RETURNING next_id")
                .bind(name.to_string())
                .fetch_one(&mut **tx)
                .await?
                .try_get(0)?;
        Ok(next - 1)
    }

    pub(super) async fn a_create_user(&self, u: &NewUser) -> Result<UserRecord> {
        check_text("username", &u.username, false)?;
        check_text("role", &u.role, false)?;
        if u.password_hash.is_empty() {
            return Err(StoreError::Invalid("empty password hash".into()));
        }
        let mut tx = self.write().await?;
        Self::check_perimeter(&mut tx, u.region.as_ref(), u.establishment.as_ref()).await?;
        let exists: i64 = qs("SELECT COUNT(*) FROM users WHERE username = $1")
            .bind(u.username.clone())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if exists > 0 {
            return Err(StoreError::Invalid(format!(
                "user {:?} already exists",
                u.username
            )));
        }
        let id = Self::next_id(&mut tx, "user").await?;
        qs("INSERT INTO users (id, username, password_hash, role, region_code, establishment_code, created_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(id)
            .bind(u.username.clone())
            .bind(u.password_hash.clone())
            .bind(u.role.clone())
            .bind(u.region.as_ref().map(|r| r.as_str().to_string()))
            .bind(u.establishment.as_ref().map(|e| e.as_str().to_string()))
            .bind(u.created_at.as_second())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Invalid(format!("user {:?} already exists", u.username))
                } else {
                    e.into()
                }
            })?;
        tx.commit().await?;
        Ok(UserRecord {
            id,
            username: u.username.clone(),
            password_hash: u.password_hash.clone(),
            role: u.role.clone(),
            region: u.region.clone(),
            establishment: u.establishment.clone(),
            created_at: ts(u.created_at.as_second()),
            disabled_at: None,
            last_login_at: None,
        })
    }

    pub(super) async fn a_users(&self) -> Result<Vec<UserRecord>> {
        q(format!("SELECT {USER_COLS} FROM users ORDER BY username"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    pub(super) async fn a_user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        q(format!("SELECT {USER_COLS} FROM users WHERE username = $1"))
            .bind(username.to_string())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    pub(super) async fn a_user_by_id(&self, id: i64) -> Result<Option<UserRecord>> {
        q(format!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    pub(super) async fn a_set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        at: Timestamp,
    ) -> Result<Option<UserRecord>> {
        let mut tx = self.write().await?;
        let Some(row) = q(format!("SELECT {USER_COLS} FROM users WHERE username = $1"))
            .bind(username.to_string())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let mut user = user_from_row(&row)?;
        if disabled {
            qs("UPDATE users SET disabled_at = COALESCE(disabled_at, $1) WHERE id = $2")
                .bind(at.as_second())
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
            qs("DELETE FROM sessions WHERE user_id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
            user.disabled_at = Some(user.disabled_at.unwrap_or(ts(at.as_second())));
        } else {
            qs("UPDATE users SET disabled_at = NULL WHERE id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await?;
            user.disabled_at = None;
        }
        tx.commit().await?;
        Ok(Some(user))
    }

    pub(super) async fn a_set_user_password(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<bool> {
        if password_hash.is_empty() {
            return Err(StoreError::Invalid("empty password hash".into()));
        }
        let mut tx = self.write().await?;
        let Some(row) = qs("SELECT id FROM users WHERE username = $1")
            .bind(username.to_string())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(false);
        };
        let id: i64 = row.try_get(0)?;
        qs("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash.to_string())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        qs("DELETE FROM sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(super) async fn a_record_login(&self, user_id: i64, at: Timestamp) -> Result<()> {
        let mut tx = self.write().await?;
        qs("UPDATE users SET last_login_at = $1 WHERE id = $2")
            .bind(at.as_second())
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn a_create_token(&self, t: &NewApiToken) -> Result<ApiTokenRecord> {
        check_text("token name", &t.name, false)?;
        check_text("token prefix", &t.prefix, false)?;
        check_text("role", &t.role, false)?;
        check_text("created_by", &t.created_by, false)?;
        if t.token_hash.len() < 32 {
            return Err(StoreError::Invalid("token hash too short".into()));
        }
        if let Some(exp) = t.expires_at
            && exp <= t.created_at
        {
            return Err(StoreError::Invalid(
                "a token cannot expire before it is created".into(),
            ));
        }
        let mut tx = self.write().await?;
        Self::check_perimeter(&mut tx, t.region.as_ref(), t.establishment.as_ref()).await?;
        let dup = || StoreError::Invalid("a token with this hash already exists".into());
        let exists: i64 = qs("SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1")
            .bind(t.token_hash.clone())
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if exists > 0 {
            return Err(dup());
        }
        let id = Self::next_id(&mut tx, "api_token").await?;
        qs("INSERT INTO api_tokens (id, name, prefix, token_hash, role, region_code, establishment_code, \
            created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(id)
            .bind(t.name.clone())
            .bind(t.prefix.clone())
            .bind(t.token_hash.clone())
            .bind(t.role.clone())
            .bind(t.region.as_ref().map(|r| r.as_str().to_string()))
            .bind(t.establishment.as_ref().map(|e| e.as_str().to_string()))
            .bind(t.created_by.clone())
            .bind(t.created_at.as_second())
            .bind(t.expires_at.map(|e| e.as_second()))
            .execute(&mut *tx)
            .await
            .map_err(|e| if is_unique_violation(&e) { dup() } else { e.into() })?;
        tx.commit().await?;
        Ok(ApiTokenRecord {
            id,
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            token_hash: t.token_hash.clone(),
            role: t.role.clone(),
            region: t.region.clone(),
            establishment: t.establishment.clone(),
            created_by: t.created_by.clone(),
            created_at: ts(t.created_at.as_second()),
            expires_at: t.expires_at.map(|e| ts(e.as_second())),
            revoked_at: None,
            last_used_at: None,
        })
    }

    pub(super) async fn a_tokens(&self) -> Result<Vec<ApiTokenRecord>> {
        q(format!("SELECT {TOKEN_COLS} FROM api_tokens ORDER BY id"))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    pub(super) async fn a_token_by_hash(&self, hash: &str) -> Result<Option<ApiTokenRecord>> {
        q(format!(
            "SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = $1"
        ))
        .bind(hash.to_string())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    pub(super) async fn a_revoke_token(
        &self,
        id_or_prefix: &str,
        at: Timestamp,
    ) -> Result<Option<ApiTokenRecord>> {
        let key = id_or_prefix.trim();
        if key.is_empty() {
            return Err(StoreError::Invalid("give a token id or prefix".into()));
        }
        let mut tx = self.write().await?;
        let rows = match key.parse::<i64>() {
            Ok(id) => {
                q(format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = $1"))
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?
            }
            Err(_) => {
                q(format!(
                    "SELECT {TOKEN_COLS} FROM api_tokens WHERE prefix = $1"
                ))
                .bind(key.to_string())
                .fetch_all(&mut *tx)
                .await?
            }
        };
        let mut tokens = rows
            .iter()
            .map(token_from_row)
            .collect::<Result<Vec<_>>>()?;
        if tokens.len() > 1 {
            return Err(StoreError::Invalid(format!(
                "prefix {key:?} matches {} tokens: give the id instead (ids {})",
                tokens.len(),
                tokens
                    .iter()
                    .map(|t| t.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let Some(mut token) = tokens.pop() else {
            return Ok(None);
        };
        if token.revoked_at.is_none() {
            qs("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at.as_second())
                .bind(token.id)
                .execute(&mut *tx)
                .await?;
            token.revoked_at = Some(ts(at.as_second()));
        }
        tx.commit().await?;
        Ok(Some(token))
    }

    pub(super) async fn a_touch_token(&self, id: i64, at: Timestamp) -> Result<()> {
        let mut tx = self.write().await?;
        qs("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(at.as_second())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn a_create_session(&self, s: &SessionRecord) -> Result<()> {
        if s.id_hash.len() < 32 || s.csrf_token.is_empty() {
            return Err(StoreError::Invalid(
                "a session needs a hash and a CSRF token".into(),
            ));
        }
        let dup = || StoreError::Invalid("a session with this hash already exists".into());
        let mut tx = self.write().await?;
        let known: i64 = qs("SELECT COUNT(*) FROM users WHERE id = $1")
            .bind(s.user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if known == 0 {
            return Err(StoreError::Invalid(format!(
                "no user with id {}",
                s.user_id
            )));
        }
        q(format!(
            "INSERT INTO sessions ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(s.id_hash.clone())
        .bind(s.user_id)
        .bind(s.csrf_token.clone())
        .bind(s.created_at.as_second())
        .bind(s.expires_at.as_second())
        .bind(s.last_seen_at.as_second())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                dup()
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn a_session_by_hash(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        q(format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE id_hash = $1"
        ))
        .bind(id_hash.to_string())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    pub(super) async fn a_touch_session(
        &self,
        id_hash: &str,
        at: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.write().await?;
        let r = qs("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE id_hash = $3")
            .bind(at.as_second())
            .bind(expires_at.as_second())
            .bind(id_hash.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(affected(r.rows_affected()))
    }

    pub(super) async fn a_delete_session(&self, id_hash: &str) -> Result<bool> {
        let mut tx = self.write().await?;
        let r = qs("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(affected(r.rows_affected()))
    }

    pub(super) async fn a_delete_sessions_of_user(&self, user_id: i64) -> Result<u64> {
        let mut tx = self.write().await?;
        let r = qs("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    pub(super) async fn a_prune_sessions(&self, now: Timestamp) -> Result<u64> {
        let mut tx = self.write().await?;
        let r = qs("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.as_second())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected())
    }

    pub(super) async fn a_append_audit(&self, e: &NewAuditEntry) -> Result<i64> {
        check_text("audit actor", &e.actor, false)?;
        check_text("audit action", &e.action, false)?;
        check_text("audit target", &e.target, true)?;
        check_text("audit outcome", &e.outcome, false)?;
        if let Some(ip) = &e.ip {
            check_text("audit ip", ip, false)?;
        }
        let detail = serde_json::to_string(&e.detail)
            .map_err(|err| StoreError::Invalid(format!("audit detail: {err}")))?;
        if detail.len() > MAX_DETAIL {
            return Err(StoreError::Invalid(format!(
                "audit detail is {} bytes, more than {MAX_DETAIL}",
                detail.len()
            )));
        }
        let mut tx = self.write().await?;
        let id = Self::next_id(&mut tx, "audit").await?;
        qs(
            "INSERT INTO audit_log (id, at, actor, action, target, outcome, ip, detail) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(e.at.as_second())
        .bind(e.actor.clone())
        .bind(e.action.clone())
        .bind(e.target.clone())
        .bind(e.outcome.clone())
        .bind(e.ip.clone())
        .bind(detail)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(super) async fn a_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let limit = match f.limit {
            0 => 100,
            n => n.min(10_000),
        };
        // placeholders are numbered in order of appearance (see sql.rs)
        let mut conds = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if f.since.is_some() {
            conds.push(format!("at >= {}", next()));
        }
        if f.action.is_some() {
            conds.push(format!("action = {}", next()));
        }
        if f.actor.is_some() {
            conds.push(format!("actor = {}", next()));
        }
        if f.before_id.is_some() {
            conds.push(format!("id < {}", next()));
        }
        let where_sql = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let mut query = q(format!(
            "SELECT id, at, actor, action, target, outcome, ip, detail FROM audit_log{where_sql} \
             ORDER BY id DESC LIMIT {limit}"
        ));
        if let Some(s) = f.since {
            query = query.bind(s.as_second());
        }
        if let Some(a) = &f.action {
            query = query.bind(a.clone());
        }
        if let Some(a) = &f.actor {
            query = query.bind(a.clone());
        }
        if let Some(b) = f.before_id {
            query = query.bind(b);
        }
        query
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(audit_from_row)
            .collect()
    }

    pub(super) async fn a_installation_secret(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>> {
        check_text("secret name", name, false)?;
        if candidate.is_empty() {
            return Err(StoreError::Invalid(
                "an installation secret cannot be empty".into(),
            ));
        }
        let read = |row: Option<AnyRow>| -> Result<Option<Vec<u8>>> {
            let Some(row) = row else { return Ok(None) };
            let value: Vec<u8> = row.try_get(0)?;
            if value.is_empty() {
                return Err(corrupt("installation_secrets", format!("{name} is empty")));
            }
            Ok(Some(value))
        };
        // almost always there already: a read, without waiting for a
        // writer's turn (an ingest may hold it for minutes)
        let select = "SELECT value FROM installation_secrets WHERE name = $1";
        if let Some(v) = read(
            qs(select)
                .bind(name.to_string())
                .fetch_optional(&self.pool)
                .await?,
        )? {
            return Ok(v);
        }
        // the first writer's candidate wins; whoever comes second (another
        // handle, another process) reads it
        let mut tx = self.write().await?;
        qs(
            "INSERT INTO installation_secrets (name, value, created_at) VALUES ($1, $2, $3) \
            ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.to_string())
        .bind(candidate.to_vec())
        .bind(Timestamp::now().as_second())
        .execute(&mut *tx)
        .await?;
        let stored = read(
            qs(select)
                .bind(name.to_string())
                .fetch_optional(&mut *tx)
                .await?,
        )?;
        tx.commit().await?;
        stored.ok_or_else(|| corrupt("installation_secrets", format!("{name} was not stored")))
    }
}
