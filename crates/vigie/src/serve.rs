//! `vigie serve`: the web dashboard and the REST API.

use crate::app::Ctx;
use anyhow::{Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use vigie_web::WebConfig;

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on. Put a TLS reverse proxy in front for anything
    /// but loopback.
    #[arg(long, default_value = "127.0.0.1:8080", env = "VIGIE_LISTEN")]
    pub listen: SocketAddr,
    /// Send cookies without the Secure flag (plain HTTP on loopback, demos).
    #[arg(long)]
    pub insecure_cookies: bool,
    /// Behind a reverse proxy on this machine: the client's address is the
    /// last X-Forwarded-For entry.
    #[arg(long)]
    pub trust_proxy: bool,
    /// Session lifetime in hours (sliding).
    #[arg(long, default_value_t = 8)]
    pub session_hours: u64,
    /// Largest inventory accepted over HTTP, in MiB.
    #[arg(long, default_value_t = 512)]
    pub max_ingest_mib: usize,
    /// How long computed posture and trends are reused, in seconds (0: never).
    /// An upload through the API clears them at once.
    #[arg(long, default_value_t = 60)]
    pub cache_seconds: u64,
    /// How long an upload's body may take to arrive, in seconds; a slower
    /// sender is answered 408 and frees its place.
    #[arg(long, default_value_t = 120)]
    pub ingest_body_seconds: u64,
    /// Uploads received and held in memory at once (each up to
    /// --max-ingest-mib); more wait for a place.
    #[arg(long, default_value_t = 8)]
    pub ingest_concurrency: usize,
    /// Bring every machine up to date (`vigie assess`) every this many hours,
    /// and at start when the last assessment is older; 0: never (schedule
    /// `vigie assess` yourself).
    #[arg(long, default_value_t = 24)]
    pub assess_hours: u64,
    /// Also run the exposure watch (`vigie watch run`) in this process.
    #[arg(long)]
    pub watch: bool,
    /// With --watch: notification channels and routes (TOML).
    #[arg(long, env = "VIGIE_NOTIFY")]
    pub watch_notify: Option<std::path::PathBuf>,
    /// With --watch: serve Prometheus /metrics on this address.
    #[arg(long)]
    pub watch_metrics: Option<SocketAddr>,
    /// With --watch: the connectivity canary URL.
    #[arg(long)]
    pub watch_canary: Option<String>,
    /// Show the figures as of this day (YYYY-MM-DD) instead of today, for
    /// evidence that ends on that day (a demo, an archive): every page
    /// says "Data as of …", and machines are brought up to that day only.
    #[arg(long)]
    pub as_of: Option<String>,
}

impl ServeArgs {
    /// Plain HTTP on a loopback address, with the defaults (the demo and
    /// the benchmark).
    pub fn loopback(listen: SocketAddr) -> ServeArgs {
        ServeArgs {
            listen,
            insecure_cookies: true,
            trust_proxy: false,
            session_hours: 8,
            max_ingest_mib: 512,
            cache_seconds: 60,
            ingest_body_seconds: 120,
            ingest_concurrency: 8,
            assess_hours: 24,
            watch: false,
            watch_notify: None,
            watch_metrics: None,
            watch_canary: None,
            as_of: None,
        }
    }
}

pub async fn build_state(ctx: &Ctx, a: &ServeArgs) -> Result<vigie_web::AppState> {
    let store = ctx.store().await?;
    let kb = Arc::new(ctx.kb(store.as_ref()).await?);
    let rules = ctx.rules()?;
    let cfg = WebConfig {
        secure_cookies: !a.insecure_cookies,
        session_ttl: Duration::from_secs(a.session_hours.max(1) * 3600),
        max_ingest_bytes: a.max_ingest_mib.max(1) << 20,
        trust_proxy: a.trust_proxy,
        cache_ttl: Duration::from_secs(a.cache_seconds),
        ingest_body_timeout: Duration::from_secs(a.ingest_body_seconds.max(1)),
        ingest_concurrency: a.ingest_concurrency.max(1),
        as_of: a
            .as_of
            .as_deref()
            .map(vigie_core::Day::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("--as-of: {e}"))?,
        ..WebConfig::default()
    };
    Ok(vigie_web::setup::app_state(store, rules, kb, cfg))
}

pub async fn run(ctx: &Ctx, a: ServeArgs) -> Result<ExitCode> {
    let state = build_state(ctx, &a).await?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("listening on {}", a.listen))?;
    eprintln!("vigie: serving the dashboard on http://{}/", a.listen);
    // every machine brought up to date daily, beside the requests; the task
    // ends with the process
    let _assessing = (a.assess_hours > 0).then(|| {
        AbortOnDrop(tokio::spawn(vigie_web::currency::keep_assessed(
            state.clone(),
            Duration::from_secs(a.assess_hours.saturating_mul(3600)),
        )))
    });
    let web = vigie_web::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    });
    if !a.watch {
        web.await?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut words = Vec::new();
    if let Some(n) = &a.watch_notify {
        words.push("--notify".to_string());
        words.push(n.display().to_string());
    }
    if let Some(m) = &a.watch_metrics {
        words.push("--listen".to_string());
        words.push(m.to_string());
    }
    if let Some(c) = &a.watch_canary {
        words.push("--canary".to_string());
        words.push(c.clone());
    }
    let watch_args = crate::watch::run_args_from(&words)?;
    // both stop on Ctrl-C; the watch writes what is pending first
    let (w, r) = tokio::join!(web, crate::watch::run_forever(ctx, watch_args));
    w?;
    r
}

/// Stops a background task when the command ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
