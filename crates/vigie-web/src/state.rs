//! What every handler shares.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use vigie_ingest::Pipeline;
use vigie_kb::KbSource;
use vigie_store::Store;

/// Builds an ingest pipeline on the current directory, rules and knowledge
/// base (the binary knows how).
pub type PipelineFactory =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = anyhow::Result<Pipeline>> + Send>> + Send + Sync>;

/// A rule as the pages and the API show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub rationale: String,
    pub remediation: String,
    pub references: Vec<String>,
    pub origin: String,
}

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure` (behind TLS; off only for plain-HTTP tests and demos).
    pub secure_cookies: bool,
    pub session_ttl: Duration,
    /// Largest inventory accepted by `POST /api/v1/ingest` (bytes).
    pub max_ingest_bytes: usize,
    /// Failed logins allowed per user name and per address in `login_window`.
    pub login_attempts: u32,
    pub login_window: Duration,
    /// Behind a reverse proxy on the same machine: take the client's
    /// address from the last `X-Forwarded-For` entry (rate limits, audit).
    pub trust_proxy: bool,
    /// How long a computed posture or trend is reused (0: never).
    pub cache_ttl: Duration,
    /// How long an upload's body may take to arrive (a stalled or
    /// trickling client is answered 408 and frees its place).
    pub ingest_body_timeout: Duration,
    /// Uploads received and held in memory at once; more wait for a place.
    pub ingest_concurrency: usize,
    /// Show the fleet's figures as of this day instead of today (a demo or
    /// an archive whose evidence ends on that day): the pages default to
    /// it and say so plainly, and the server brings machines up to that
    /// day only. `None`: today.
    pub as_of: Option<vigie_core::Day>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            secure_cookies: true,
            session_ttl: Duration::from_secs(8 * 3600),
            max_ingest_bytes: 512 << 20,
            login_attempts: 5,
            login_window: Duration::from_secs(15 * 60),
            trust_proxy: false,
            cache_ttl: Duration::from_secs(60),
            ingest_body_timeout: Duration::from_secs(120),
            ingest_concurrency: 8,
            as_of: None,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub pipeline: PipelineFactory,
    pub rules: Arc<Vec<RuleInfo>>,
    pub kb: Arc<Vec<KbSource>>,
    pub cfg: Arc<WebConfig>,
    pub limiter: Arc<crate::auth::LoginLimiter>,
    /// Places for uploads being received or ingested (their bodies are in
    /// memory). Writing takes turns in the store itself, after the body
    /// has arrived: a slow client never holds what other uploads need.
    pub ingest_slots: Arc<tokio::sync::Semaphore>,
    /// Password verifications at once (argon2 uses 19 MiB each).
    pub hashing: Arc<tokio::sync::Semaphore>,
    pub cache: Arc<ResultCache>,
    /// The installation's opaque machine id codec, read from the store
    /// (or its secret generated there) on first use.
    host_ids: Arc<tokio::sync::OnceCell<vigie_auth::HostIds>>,
}

impl AppState {
    /// The day the figures are shown for: today, or the configured
    /// `as_of` day (see [`WebConfig::as_of`]).
    pub fn today(&self) -> vigie_core::Day {
        self.cfg
            .as_of
            .unwrap_or_else(|| vigie_core::Day::of_timestamp(jiff::Timestamp::now()))
    }

    /// The time every machine is brought up to: now, or the end of the
    /// `as_of` day when that is earlier.
    pub fn assess_until(&self) -> jiff::Timestamp {
        let now = jiff::Timestamp::now();
        match self.cfg.as_of {
            Some(d) => jiff::Timestamp::from_second(d.end_second()).map_or(now, |end| end.min(now)),
            None => now,
        }
    }

    pub fn new(
        store: Arc<dyn Store>,
        pipeline: PipelineFactory,
        rules: Vec<RuleInfo>,
        kb: Vec<KbSource>,
        cfg: WebConfig,
    ) -> AppState {
        let limiter = crate::auth::LoginLimiter::new(cfg.login_attempts, cfg.login_window);
        let cfg_cache_ttl = cfg.cache_ttl;
        let ingest_concurrency = cfg.ingest_concurrency.max(1);
        AppState {
            store,
            pipeline,
            rules: Arc::new(rules),
            kb: Arc::new(kb),
            cfg: Arc::new(cfg),
            limiter: Arc::new(limiter),
            ingest_slots: Arc::new(tokio::sync::Semaphore::new(ingest_concurrency)),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get() * 2),
            )),
            cache: Arc::new(ResultCache::new(cfg_cache_ttl)),
            host_ids: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The codec of the opaque machine ids every answer shows
    /// ([`crate::load_host_ids`], once per state).
    pub async fn host_ids(&self) -> Result<&vigie_auth::HostIds, crate::HostIdsError> {
        self.host_ids
            .get_or_try_init(|| crate::load_host_ids(self.store.as_ref()))
            .await
    }
}

/// A computed posture or trend, shared by the requests that ask for the same
/// perimeter, grouping and days.
#[derive(Clone)]
pub enum Cached {
    Posture(Arc<Vec<crate::api::PostureItem>>),
    Trend(Arc<Vec<crate::api::TrendItem>>),
}

/// Posture and trends computed from the daily aggregates, kept a short
/// while: an upload through the API clears it at once; an ingest by
/// another process (the CLI) shows after at most `ttl`. Keys include the
/// exact scope, so perimeters never share an entry.
pub struct ResultCache {
    ttl: Duration,
    map: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Cached)>>,
}

/// Most entries kept. An entry is a few kilobytes, up to a few megabytes
/// for a national table by establishment at full scale, and a caller can
/// make a new key per day asked for: the count stays small.
const CACHE_ENTRIES: usize = 256;

impl ResultCache {
    pub fn new(ttl: Duration) -> ResultCache {
        ResultCache {
            ttl,
            map: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (std::time::Instant, Cached)>>
    {
        match self.map.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn get(&self, key: &str) -> Option<Cached> {
        let map = self.lock();
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, v: Cached) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.lock();
        if map.len() >= CACHE_ENTRIES {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| at.elapsed() < ttl);
            if map.len() >= CACHE_ENTRIES {
                map.clear();
            }
        }
        map.insert(key, (std::time::Instant::now(), v));
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}
