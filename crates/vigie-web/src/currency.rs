//! The server keeps its figures current: findings that the date alone
//! brings (support ending, patches ageing, silence) need every machine to be
//! brought up to date each day. [`keep_assessed`] assesses at start when the
//! last assessment is older than the period (or there was none), then once
//! per period, in its own transaction: requests are served meanwhile
//! (uploads wait for the write turn like any writer).

use crate::AppState;
use std::time::Duration;

/// How long to wait before trying again after a failed assessment.
const RETRY: Duration = Duration::from_secs(300);
/// The longest single sleep: a period changed by another process's
/// assessment (`vigie assess` from cron) is noticed within this.
const LONGEST_SLEEP: Duration = Duration::from_secs(3600);

/// How long until the next assessment is due (zero: now).
async fn due_in(st: &AppState, every: Duration) -> Duration {
    match st.store.last_assessment().await {
        Ok(None) => Duration::ZERO,
        // figures shown as of a past day: brought up to it once
        Ok(Some(last)) if st.cfg.as_of.is_some() && last >= st.assess_until() => LONGEST_SLEEP,
        Ok(Some(last)) => {
            let age = jiff::Timestamp::now().duration_since(last);
            let age = Duration::try_from(age).unwrap_or(Duration::ZERO);
            every.saturating_sub(age)
        }
        Err(e) => {
            tracing::warn!("last assessment unknown: {e}");
            RETRY
        }
    }
}

/// Assesses every machine once per `every`, and at once when the last
/// assessment is older than that. Runs until the task is dropped.
pub async fn keep_assessed(st: AppState, every: Duration) {
    loop {
        let wait = due_in(&st, every).await;
        if !wait.is_zero() {
            tokio::time::sleep(wait.min(LONGEST_SLEEP)).await;
            continue;
        }
        let started = std::time::Instant::now();
        let result = match (st.pipeline)().await {
            Ok(mut p) => p.assess(st.assess_until()).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(r) => {
                st.cache.clear();
                tracing::info!(
                    machines = r.hosts,
                    opened = r.findings_opened,
                    closed = r.findings_closed,
                    seconds = started.elapsed().as_secs(),
                    "machines brought up to date"
                );
            }
            Err(e) => {
                tracing::warn!("daily assessment failed, trying again in 5 minutes: {e}");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}
