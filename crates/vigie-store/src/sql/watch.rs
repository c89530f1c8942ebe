//! The exposure watch's tables (migration 0002). Target rows, their state
//! and their history are keyed by the establishment (`est_id`, 0 for a
//! target attached to none) so they distribute with the rest of an
//! establishment's data; a target that changes establishment has its rows
//! copied and deleted, never updated in place.

use super::{CHUNK, SqlStore, corrupt, id_list, placeholders, q, qs};
use crate::{
    Result, Scope, StoreError, UptimeRow, WatchEvent, WatchEventView, WatchGroup, WatchImport,
    WatchNotice, WatchSample, WatchStateRecord, WatchTarget, WatchTargetInput,
};
use jiff::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::{BTreeMap, HashMap};
use vigie_core::{Day, EstablishmentCode, RegionCode};

/// Tables whose rows follow a target to another establishment: (table,
/// target column, other columns).
const MOVED: [(&str, &str, &str); 3] = [
    (
        "watch_samples",
        "target_id",
        "at, observed, http_status, dns_us, connect_us, tls_us, first_byte_us, total_us, error",
    ),
    (
        "watch_events",
        "target_id",
        "at, seq, from_status, to_status, detail",
    ),
    ("watch_daily", "target_id", "day, probes, up, degraded"),
];

const MAX_NAME: usize = 200;
const MAX_URL: usize = 2048;

fn opt_u16(v: Option<i64>) -> Option<u16> {
    v.and_then(|v| u16::try_from(v).ok())
}

fn sample_from_row(r: &AnyRow) -> Result<WatchSample> {
    Ok(WatchSample {
        target_id: r.try_get(0)?,
        at: r.try_get(1)?,
        observed: r.try_get(2)?,
        http_status: opt_u16(r.try_get(3)?),
        dns_us: r.try_get(4)?,
        connect_us: r.try_get(5)?,
        tls_us: r.try_get(6)?,
        first_byte_us: r.try_get(7)?,
        total_us: r.try_get(8)?,
        error: r.try_get(9)?,
        keep_raw: true,
    })
}

impl SqlStore {
    /// est_id of each of these targets (unknown ids are absent).
    async fn watch_est_ids(&self, ids: &[i64]) -> Result<HashMap<i64, i64>> {
        let mut map = HashMap::with_capacity(ids.len());
        let mut sorted: Vec<i64> = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for chunk in sorted.chunks(CHUNK) {
            let rows = q(format!(
                "SELECT target_id, est_id FROM watch_target_names WHERE target_id IN ({})",
                id_list(chunk)
            ))
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                map.insert(r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?);
            }
        }
        Ok(map)
    }

    pub(super) async fn w_upsert_targets(
        &self,
        targets: &[WatchTargetInput],
    ) -> Result<WatchImport> {
        // validate everything before writing anything
        let mut ests: HashMap<EstablishmentCode, i64> = HashMap::new();
        let mut seen = BTreeMap::new();
        for (i, t) in targets.iter().enumerate() {
            let name = t.name.trim();
            if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
                return Err(StoreError::Invalid(format!(
                    "target #{}: a name is 1 to {MAX_NAME} printable characters",
                    i + 1
                )));
            }
            if t.url.is_empty() || t.url.len() > MAX_URL {
                return Err(StoreError::Invalid(format!(
                    "target {name}: the URL must be 1 to {MAX_URL} bytes"
                )));
            }
            if seen.insert(name.to_string(), i).is_some() {
                return Err(StoreError::Invalid(format!("target {name} is given twice")));
            }
            if let Some(code) = &t.establishment
                && !ests.contains_key(code)
            {
                let id = self.est_id(code).await?;
                ests.insert(code.clone(), id);
            }
        }
        let now = Timestamp::now().as_second();
        let mut out = WatchImport::default();
        let mut tx = self.write().await?;
        for t in targets {
            let name = t.name.trim();
            let est = match &t.establishment {
                Some(code) => ests.get(code).copied().unwrap_or(0),
                None => 0,
            };
            let existing = qs("SELECT est_id, target_id FROM watch_target_names WHERE name = $1")
                .bind(name.to_string())
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = existing else {
                let next: i64 = qs(
                    "UPDATE id_alloc SET next_id = next_id + 1 WHERE name = 'watch_target' RETURNING next_id",
                )
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                let id = next - 1;
                qs("INSERT INTO watch_target_names (name, est_id, target_id) VALUES ($1, $2, $3)")
                    .bind(name.to_string())
                    .bind(est)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                qs("INSERT INTO watch_targets (est_id, id, name, url, options, created_at, updated_at, removed_at) \
                    VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)")
                    .bind(est)
                    .bind(id)
                    .bind(name.to_string())
                    .bind(t.url.clone())
                    .bind(t.options.clone())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                out.added += 1;
                continue;
            };
            let old_est: i64 = row.try_get(0)?;
            let id: i64 = row.try_get(1)?;
            if old_est != est {
                // copy, then delete: the distribution column is never updated
                qs("INSERT INTO watch_targets (est_id, id, name, url, options, created_at, updated_at, removed_at) \
                    SELECT $1, id, name, $2, $3, created_at, $4, NULL FROM watch_targets WHERE est_id = $5 AND id = $6")
                    .bind(est)
                    .bind(t.url.clone())
                    .bind(t.options.clone())
                    .bind(now)
                    .bind(old_est)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                qs("DELETE FROM watch_targets WHERE est_id = $1 AND id = $2")
                    .bind(old_est)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                for (table, col, cols) in MOVED {
                    q(format!(
                        "INSERT INTO {table} (est_id, {col}, {cols}) SELECT {est}, {col}, {cols} FROM {table} \
                         WHERE est_id = {old_est} AND {col} = {id}"
                    ))
                    .execute(&mut *tx)
                    .await?;
                    q(format!(
                        "DELETE FROM {table} WHERE est_id = {old_est} AND {col} = {id}"
                    ))
                    .execute(&mut *tx)
                    .await?;
                }
                // the state machine starts again: thresholds and baselines
                // belong to where the service was
                qs("DELETE FROM watch_state WHERE est_id = $1 AND target_id = $2")
                    .bind(old_est)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                qs("UPDATE watch_target_names SET est_id = $1 WHERE name = $2")
                    .bind(est)
                    .bind(name.to_string())
                    .execute(&mut *tx)
                    .await?;
                out.updated += 1;
                continue;
            }
            let same = qs(
                "SELECT url, options, removed_at FROM watch_targets WHERE est_id = $1 AND id = $2",
            )
            .bind(est)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let unchanged = match &same {
                Some(r) => {
                    r.try_get::<String, _>(0)? == t.url
                        && r.try_get::<String, _>(1)? == t.options
                        && r.try_get::<Option<i64>, _>(2)?.is_none()
                }
                None => false,
            };
            if unchanged {
                out.unchanged += 1;
                continue;
            }
            if same.is_none() {
                return Err(corrupt(
                    "watch_targets",
                    format!("target {name} has a name but no row"),
                ));
            }
            let url_changed = same
                .as_ref()
                .map(|r| r.try_get::<String, _>(0))
                .transpose()?
                .is_some_and(|u| u != t.url);
            qs("UPDATE watch_targets SET url = $1, options = $2, updated_at = $3, removed_at = NULL \
                WHERE est_id = $4 AND id = $5")
                .bind(t.url.clone())
                .bind(t.options.clone())
                .bind(now)
                .bind(est)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if url_changed {
                // a different service: its baselines and state do not apply
                qs("DELETE FROM watch_state WHERE est_id = $1 AND target_id = $2")
                    .bind(est)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            out.updated += 1;
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(super) async fn w_remove_target(&self, name: &str, at: i64) -> Result<bool> {
        let mut tx = self.write().await?;
        let Some(row) = qs("SELECT est_id, target_id FROM watch_target_names WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(false);
        };
        let est: i64 = row.try_get(0)?;
        let id: i64 = row.try_get(1)?;
        let done = qs(
            "UPDATE watch_targets SET removed_at = $1 WHERE est_id = $2 AND id = $3 AND removed_at IS NULL",
        )
        .bind(at)
        .bind(est)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        qs("DELETE FROM watch_state WHERE est_id = $1 AND target_id = $2")
            .bind(est)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn w_targets(
        &self,
        scope: &Scope,
        include_removed: bool,
        with_data: bool,
    ) -> Result<Vec<WatchTarget>> {
        let data = if with_data { "s.data" } else { "''" };
        let cond = self.est_condition(scope, "t.est_id", None, None).await?;
        let removed = if include_removed {
            ""
        } else {
            " AND t.removed_at IS NULL"
        };
        let rows = q(format!(
            "SELECT t.id, t.name, t.url, e.code, e.region_code, t.options, t.created_at, t.removed_at, \
             s.status, s.since, s.updated_at, {data} \
             FROM watch_targets t \
             LEFT JOIN establishments e ON e.id = t.est_id \
             LEFT JOIN watch_state s ON s.est_id = t.est_id AND s.target_id = t.id \
             WHERE {cond}{removed} ORDER BY t.name"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let establishment = r
                .try_get::<Option<String>, _>(3)?
                .map(|c| EstablishmentCode::new(&c))
                .transpose()
                .map_err(|e| corrupt("establishments", e.to_string()))?;
            let region = r
                .try_get::<Option<String>, _>(4)?
                .map(|c| RegionCode::new(&c))
                .transpose()
                .map_err(|e| corrupt("establishments", e.to_string()))?;
            let state = match r.try_get::<Option<String>, _>(8)? {
                Some(status) => Some(WatchStateRecord {
                    status,
                    since: r.try_get(9)?,
                    updated_at: r.try_get(10)?,
                    data: r.try_get(11)?,
                }),
                None => None,
            };
            out.push(WatchTarget {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                url: r.try_get(2)?,
                establishment,
                region,
                options: r.try_get(5)?,
                created_at: r.try_get(6)?,
                removed_at: r.try_get(7)?,
                state,
            });
        }
        Ok(out)
    }

    pub(super) async fn w_save_states(&self, states: &[(i64, WatchStateRecord)]) -> Result<()> {
        if states.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = states.iter().map(|(id, _)| *id).collect();
        let ests = self.watch_est_ids(&ids).await?;
        let rows: Vec<(i64, i64, &WatchStateRecord)> = states
            .iter()
            .filter_map(|(id, s)| ests.get(id).map(|est| (*est, *id, s)))
            .collect();
        let mut tx = self.write().await?;
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO watch_state (est_id, target_id, status, since, updated_at, data) VALUES {} \
                 ON CONFLICT (est_id, target_id) DO UPDATE SET status = excluded.status, \
                 since = excluded.since, updated_at = excluded.updated_at, data = excluded.data",
                placeholders(self.dialect, chunk.len(), 6, 1)
            );
            let mut query = q(sql);
            for (est, id, s) in chunk {
                query = query
                    .bind(*est)
                    .bind(*id)
                    .bind(s.status.clone())
                    .bind(s.since)
                    .bind(s.updated_at)
                    .bind(s.data.clone());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn w_record(
        &self,
        samples: &[WatchSample],
        events: &[WatchEvent],
    ) -> Result<()> {
        if samples.is_empty() && events.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = samples
            .iter()
            .map(|s| s.target_id)
            .chain(events.iter().map(|e| e.target_id))
            .collect();
        let ests = self.watch_est_ids(&ids).await?;
        let mut tx = self.write().await?;
        // samples (a second probe of a target in the same second is dropped)
        let known: Vec<(i64, &WatchSample)> = samples
            .iter()
            .filter_map(|s| ests.get(&s.target_id).map(|e| (*e, s)))
            .collect();
        let mut daily: BTreeMap<(i64, i64, i32), (i64, i64, i64)> = BTreeMap::new();
        for (est, s) in &known {
            let day =
                Day::of_timestamp(Timestamp::from_second(s.at).unwrap_or(Timestamp::UNIX_EPOCH));
            let agg = daily.entry((*est, s.target_id, day.number())).or_default();
            agg.0 += 1;
            agg.1 += i64::from(s.is_up());
            agg.2 += i64::from(s.is_degraded());
        }
        let kept: Vec<(i64, &WatchSample)> =
            known.into_iter().filter(|(_, s)| s.keep_raw).collect();
        for chunk in kept.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO watch_samples (est_id, target_id, at, observed, http_status, dns_us, connect_us, \
                 tls_us, first_byte_us, total_us, error) VALUES {} ON CONFLICT DO NOTHING",
                placeholders(self.dialect, chunk.len(), 11, 1)
            );
            let mut query = q(sql);
            for (est, s) in chunk {
                query = query
                    .bind(*est)
                    .bind(s.target_id)
                    .bind(s.at)
                    .bind(s.observed.clone())
                    .bind(s.http_status.map(i64::from))
                    .bind(s.dns_us)
                    .bind(s.connect_us)
                    .bind(s.tls_us)
                    .bind(s.first_byte_us)
                    .bind(s.total_us)
                    .bind(s.error.clone());
            }
            query.execute(&mut *tx).await?;
        }
        let daily: Vec<_> = daily.into_iter().collect();
        for chunk in daily.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO watch_daily (est_id, target_id, day, probes, up, degraded) VALUES {} \
                 ON CONFLICT (est_id, target_id, day) DO UPDATE SET probes = watch_daily.probes + excluded.probes, \
                 up = watch_daily.up + excluded.up, degraded = watch_daily.degraded + excluded.degraded",
                placeholders(self.dialect, chunk.len(), 6, 1)
            );
            let mut query = q(sql);
            for ((est, id, day), (probes, up, degraded)) in chunk {
                query = query
                    .bind(*est)
                    .bind(*id)
                    .bind(i64::from(*day))
                    .bind(*probes)
                    .bind(*up)
                    .bind(*degraded);
            }
            query.execute(&mut *tx).await?;
        }
        // events: seq orders several changes of one target in one second,
        // after those already stored (an earlier batch, `watch once` run
        // twice within a second): a change is never dropped as a duplicate
        let mut seq: HashMap<(i64, i64), i64> = HashMap::new();
        for e in events {
            let Some(est) = ests.get(&e.target_id) else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(v) = seq.entry((e.target_id, e.at)) {
                let max: i64 = qs("SELECT COALESCE(MAX(seq), 0) FROM watch_events \
                                   WHERE est_id = $1 AND target_id = $2 AND at = $3")
                .bind(*est)
                .bind(e.target_id)
                .bind(e.at)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
                v.insert(max);
            }
        }
        let evs: Vec<(i64, i64, &WatchEvent)> = events
            .iter()
            .filter_map(|e| {
                let est = *ests.get(&e.target_id)?;
                let n = seq.entry((e.target_id, e.at)).or_insert(0);
                *n += 1;
                Some((est, *n, e))
            })
            .collect();
        for chunk in evs.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO watch_events (est_id, target_id, at, seq, from_status, to_status, detail) VALUES {} \
                 ON CONFLICT DO NOTHING",
                placeholders(self.dialect, chunk.len(), 7, 1)
            );
            let mut query = q(sql);
            for (est, n, e) in chunk {
                query = query
                    .bind(*est)
                    .bind(e.target_id)
                    .bind(e.at)
                    .bind(*n)
                    .bind(e.from.clone())
                    .bind(e.to.clone())
                    .bind(e.detail.clone());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn w_uptime(
        &self,
        scope: &Scope,
        by: WatchGroup,
        from: Day,
        to: Day,
    ) -> Result<Vec<UptimeRow>> {
        let cond = self.est_condition(scope, "d.est_id", None, None).await?;
        let (key, group, join) = match by {
            WatchGroup::Sector => ("'sector'", "d.day", ""),
            WatchGroup::Region => (
                "COALESCE(e.region_code, '(none)')",
                "e.region_code, d.day",
                "",
            ),
            WatchGroup::Establishment => ("COALESCE(e.code, '(none)')", "e.code, d.day", ""),
            WatchGroup::Target => (
                "t.name",
                "t.name, d.day",
                " JOIN watch_targets t ON t.est_id = d.est_id AND t.id = d.target_id",
            ),
        };
        let rows = q(format!(
            "SELECT {key}, d.day, CAST(SUM(d.probes) AS BIGINT), CAST(SUM(d.up) AS BIGINT), \
             CAST(SUM(d.degraded) AS BIGINT) FROM watch_daily d \
             LEFT JOIN establishments e ON e.id = d.est_id{join} \
             WHERE {cond} AND d.day >= {} AND d.day <= {} GROUP BY {group} ORDER BY 1, 2",
            from.number(),
            to.number()
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let day: i64 = r.try_get(1)?;
            out.push(UptimeRow {
                group: r.try_get(0)?,
                day: Day::from_number(
                    i32::try_from(day).map_err(|_| corrupt("watch_daily", "day out of range"))?,
                ),
                probes: u64::try_from(r.try_get::<i64, _>(2)?).unwrap_or(0),
                up: u64::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                degraded: u64::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
            });
        }
        Ok(out)
    }

    pub(super) async fn w_events(
        &self,
        scope: &Scope,
        since: i64,
        limit: u64,
    ) -> Result<Vec<WatchEventView>> {
        let cond = self.est_condition(scope, "v.est_id", None, None).await?;
        let limit = i64::try_from(limit.min(1_000_000)).unwrap_or(1_000_000);
        let rows = q(format!(
            "SELECT t.name, e.code, v.at, v.from_status, v.to_status, v.detail FROM watch_events v \
             JOIN watch_targets t ON t.est_id = v.est_id AND t.id = v.target_id \
             LEFT JOIN establishments e ON e.id = v.est_id \
             WHERE {cond} AND v.at >= {since} ORDER BY v.at DESC, v.seq DESC LIMIT {limit}"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(WatchEventView {
                target: r.try_get(0)?,
                establishment: r
                    .try_get::<Option<String>, _>(1)?
                    .map(|c| EstablishmentCode::new(&c))
                    .transpose()
                    .map_err(|e| corrupt("establishments", e.to_string()))?,
                at: r.try_get(2)?,
                from: r.try_get(3)?,
                to: r.try_get(4)?,
                detail: r.try_get(5)?,
            });
        }
        Ok(out)
    }

    pub(super) async fn w_samples(
        &self,
        scope: &Scope,
        target: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<WatchSample>> {
        let Some(row) = qs("SELECT est_id, target_id FROM watch_target_names WHERE name = $1")
            .bind(target.to_string())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(Vec::new());
        };
        let est: i64 = row.try_get(0)?;
        let id: i64 = row.try_get(1)?;
        if let Some(ids) = self.scope_ids(scope).await?
            && !ids.contains(&est)
        {
            // outside the scope reads as unknown
            return Ok(Vec::new());
        }
        let rows = qs(
            "SELECT target_id, at, observed, http_status, dns_us, connect_us, tls_us, first_byte_us, total_us, error \
             FROM watch_samples WHERE est_id = $1 AND target_id = $2 AND at >= $3 AND at <= $4 ORDER BY at",
        )
        .bind(est)
        .bind(id)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sample_from_row).collect()
    }

    pub(super) async fn w_prune(&self, before: i64) -> Result<u64> {
        let mut tx = self.write().await?;
        let done = qs("DELETE FROM watch_samples WHERE at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    pub(super) async fn w_record_notice(
        &self,
        at: i64,
        kind: &str,
        key: &str,
        payload: &str,
        deliveries: &str,
    ) -> Result<i64> {
        let mut tx = self.write().await?;
        let next: i64 = qs(
            "UPDATE id_alloc SET next_id = next_id + 1 WHERE name = 'watch_notice' RETURNING next_id",
        )
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        let id = next - 1;
        qs("INSERT INTO watch_notices (id, at, kind, incident_key, payload, deliveries) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(at)
            .bind(kind.to_string())
            .bind(key.to_string())
            .bind(payload.to_string())
            .bind(deliveries.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(super) async fn w_notices(&self, limit: u64) -> Result<Vec<WatchNotice>> {
        let limit = i64::try_from(limit.min(1_000_000)).unwrap_or(1_000_000);
        let rows = q(format!(
            "SELECT id, at, kind, incident_key, payload, deliveries FROM watch_notices ORDER BY id DESC LIMIT {limit}"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(WatchNotice {
                id: r.try_get(0)?,
                at: r.try_get(1)?,
                kind: r.try_get(2)?,
                incident_key: r.try_get(3)?,
                payload: r.try_get(4)?,
                deliveries: r.try_get(5)?,
            });
        }
        Ok(out)
    }
}

/// Most incident ids one call reserves.
const MAX_INCIDENT_IDS: u64 = 1_000_000;

/// Open incidents of the watch (migration 0006): national reference
/// tables keyed by the runner and the incident's key.
impl SqlStore {
    pub(super) async fn w_allocate_incident_ids(&self, count: u64) -> Result<i64> {
        let n = i64::try_from(count.clamp(1, MAX_INCIDENT_IDS)).unwrap_or(1);
        let mut tx = self.write().await?;
        let next: i64 = qs(
            "UPDATE id_alloc SET next_id = next_id + $1 WHERE name = 'watch_incident' RETURNING next_id",
        )
        .bind(n)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        tx.commit().await?;
        Ok(next - n)
    }

    pub(super) async fn w_save_incidents(
        &self,
        runner: &str,
        ops: &[crate::WatchIncidentOp],
    ) -> Result<()> {
        use crate::WatchIncidentOp;
        if ops.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for op in ops {
            match op {
                WatchIncidentOp::Save {
                    key,
                    data,
                    members,
                    removed,
                    at,
                } => {
                    qs("INSERT INTO watch_incidents (runner, incident_key, data, updated_at) VALUES ($1, $2, $3, $4) \
                        ON CONFLICT (runner, incident_key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at")
                        .bind(runner.to_string())
                        .bind(key.clone())
                        .bind(data.clone())
                        .bind(*at)
                        .execute(&mut *tx)
                        .await?;
                    for chunk in members.chunks(CHUNK) {
                        let sql = format!(
                            "INSERT INTO watch_incident_members (runner, incident_key, target, data) VALUES {} \
                             ON CONFLICT (runner, incident_key, target) DO UPDATE SET data = excluded.data",
                            placeholders(self.dialect, chunk.len(), 4, 1)
                        );
                        let mut query = q(sql);
                        for (target, m) in chunk {
                            query = query
                                .bind(runner.to_string())
                                .bind(key.clone())
                                .bind(target.clone())
                                .bind(m.clone());
                        }
                        query.execute(&mut *tx).await?;
                    }
                    for target in removed {
                        qs("DELETE FROM watch_incident_members WHERE runner = $1 AND incident_key = $2 AND target = $3")
                            .bind(runner.to_string())
                            .bind(key.clone())
                            .bind(target.clone())
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                WatchIncidentOp::Delivered { key, routes, at } => {
                    let open = qs(
                        "SELECT COUNT(*) FROM watch_incidents WHERE runner = $1 AND incident_key = $2",
                    )
                    .bind(runner.to_string())
                    .bind(key.clone())
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get::<i64, _>(0)?;
                    if open == 0 {
                        continue;
                    }
                    for route in routes {
                        qs("INSERT INTO watch_incident_deliveries (runner, incident_key, route, delivered_at) \
                            VALUES ($1, $2, $3, $4) ON CONFLICT (runner, incident_key, route) DO NOTHING")
                            .bind(runner.to_string())
                            .bind(key.clone())
                            .bind(route.clone())
                            .bind(*at)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                WatchIncidentOp::Close { key } => {
                    for table in [
                        "watch_incident_deliveries",
                        "watch_incident_members",
                        "watch_incidents",
                    ] {
                        q(format!(
                            "DELETE FROM {table} WHERE runner = $1 AND incident_key = $2"
                        ))
                        .bind(runner.to_string())
                        .bind(key.clone())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn w_open_incidents(
        &self,
        runner: &str,
    ) -> Result<Vec<crate::WatchOpenIncident>> {
        let mut out: BTreeMap<String, crate::WatchOpenIncident> = BTreeMap::new();
        let rows = qs(
            "SELECT incident_key, data, updated_at FROM watch_incidents WHERE runner = $1 ORDER BY incident_key",
        )
        .bind(runner.to_string())
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let key: String = r.try_get(0)?;
            out.insert(
                key.clone(),
                crate::WatchOpenIncident {
                    key,
                    data: r.try_get(1)?,
                    updated_at: r.try_get(2)?,
                    members: Vec::new(),
                    routes: Vec::new(),
                },
            );
        }
        let rows = qs(
            "SELECT incident_key, target, data FROM watch_incident_members WHERE runner = $1 \
             ORDER BY incident_key, target",
        )
        .bind(runner.to_string())
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            if let Some(i) = out.get_mut(&r.try_get::<String, _>(0)?) {
                i.members.push((r.try_get(1)?, r.try_get(2)?));
            }
        }
        let rows = qs(
            "SELECT incident_key, route FROM watch_incident_deliveries WHERE runner = $1 \
             ORDER BY incident_key, route",
        )
        .bind(runner.to_string())
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            if let Some(i) = out.get_mut(&r.try_get::<String, _>(0)?) {
                i.routes.push(r.try_get(1)?);
            }
        }
        Ok(out.into_values().collect())
    }
}
