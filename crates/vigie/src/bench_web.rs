//! `vigie bench web`: page and API latencies (p50/p95) of `vigie serve` on
//! the current database, and the overview API's throughput measured with
//! wrk (Debian package) when it is installed.

use crate::app::Ctx;
use crate::output::{Table, emit};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vigie_store::{GroupBy, HostFilter, Scope};

#[derive(Args)]
pub struct WebBenchArgs {
    /// Requests per endpoint for the latency figures.
    #[arg(long, default_value_t = 50)]
    iterations: u32,
    /// wrk: connections and seconds for the throughput figure.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// The server's result cache, in seconds (0: every request computes,
    /// the worst case).
    #[arg(long, default_value_t = 60)]
    cache_seconds: u64,
}

#[derive(Serialize)]
struct Latency {
    endpoint: String,
    bytes: usize,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
}

#[derive(Serialize)]
struct WebBench {
    machine: String,
    hosts: u64,
    establishments: usize,
    cache_seconds: u64,
    latencies: Vec<Latency>,
    wrk_endpoint: String,
    wrk_requests_per_second: Option<f64>,
    wrk_output: Option<String>,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn run(ctx: &Ctx, a: WebBenchArgs) -> Result<ExitCode> {
    if a.iterations == 0 {
        bail!("--iterations must be positive");
    }
    let store = ctx.store().await?;
    let stats = store.stats(&Scope::National).await?;
    let ests = store.establishments(&Scope::National).await?;
    // the largest region and establishment make the slowest pages
    let regions = store
        .posture(
            &Scope::National,
            GroupBy::Region,
            vigie_core::Day::of_timestamp(jiff::Timestamp::now()),
        )
        .await?;
    let region = regions
        .iter()
        .filter(|r| r.group != "unassigned" && !r.group.is_empty())
        .max_by_key(|r| r.hosts)
        .map(|r| r.group.clone())
        .context(
            "no region with machines: load data first (vigie demo --no-serve, vigie bench ingest)",
        )?;
    let by_est = store
        .posture(
            &Scope::National,
            GroupBy::Establishment,
            vigie_core::Day::of_timestamp(jiff::Timestamp::now()),
        )
        .await?;
    let est = by_est
        .iter()
        .filter(|r| r.group != "unassigned" && !r.group.is_empty())
        .max_by_key(|r| r.hosts)
        .map(|r| r.group.clone())
        .context("no establishment with machines")?;
    let host_id = store
        .hosts(
            &Scope::National,
            &HostFilter {
                limit: Some(1),
                ..HostFilter::default()
            },
        )
        .await?
        .first()
        .map(|h| h.id)
        .context("no machine")?;
    // pages name machines by their opaque ids
    let host_id = vigie_web::load_host_ids(store.as_ref())
        .await?
        .encode(host_id);
    // a token for the run, revoked at the end
    let t = vigie_auth::new_api_token()?;
    let rec = store
        .create_token(&vigie_store::NewApiToken {
            name: "bench-web".into(),
            prefix: t.prefix.clone(),
            token_hash: t.hash.clone(),
            role: "national-analyst".into(),
            region: None,
            establishment: None,
            created_by: "bench".into(),
            created_at: jiff::Timestamp::now(),
            expires_at: jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() + 3600)
                .ok(),
        })
        .await?;
    let mut serve_args = crate::serve::ServeArgs::loopback("127.0.0.1:0".parse()?);
    serve_args.cache_seconds = a.cache_seconds;
    let state = crate::serve::build_state(ctx, &serve_args).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = vigie_web::serve(listener, state, std::future::pending()).await;
    });
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let endpoints = [
        "/".to_string(),
        format!("/regions/{region}"),
        format!("/establishments/{est}"),
        format!("/hosts/{host_id}"),
        "/api/v1/posture?by=region".to_string(),
        "/api/v1/establishments?per_page=100".to_string(),
        format!("/api/v1/hosts?establishment={est}&per_page=100"),
        format!("/api/v1/hosts?region={region}&rule=os-eol&per_page=100"),
        "/api/v1/hosts?rule=ms17-010-missing&per_page=100".to_string(),
        "/api/v1/regions".to_string(),
        "/api/v1/trend?rule=os-eol&by=region&step=week".to_string(),
    ];
    let mut latencies = Vec::new();
    for e in &endpoints {
        let mut times = Vec::with_capacity(a.iterations as usize);
        let mut bytes = 0;
        for _ in 0..a.iterations {
            let start = Instant::now();
            let r = client
                .get(format!("{base}{e}"))
                .bearer_auth(&t.secret)
                .send()
                .await?;
            let status = r.status();
            let body = r.bytes().await?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            if !status.is_success() {
                bail!("{e}: {status}");
            }
            bytes = body.len();
        }
        times.sort_by(f64::total_cmp);
        latencies.push(Latency {
            endpoint: e.clone(),
            bytes,
            p50_ms: (pct(&times, 0.5) * 10.0).round() / 10.0,
            p95_ms: (pct(&times, 0.95) * 10.0).round() / 10.0,
            max_ms: (pct(&times, 1.0) * 10.0).round() / 10.0,
        });
    }
    // throughput of the overview API with wrk
    let wrk_endpoint = "/api/v1/posture?by=region".to_string();
    let (rps, out) = match std::process::Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{}", a.connections),
            &format!("-d{}s", a.seconds),
            "-H",
            &format!("Authorization: Bearer {}", t.secret),
            &format!("{base}{wrk_endpoint}"),
        ])
        .output()
    {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).to_string();
            let rps = text
                .lines()
                .find(|l| l.starts_with("Requests/sec:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok());
            (rps, Some(text))
        }
        Err(_) => (None, None),
    };
    let _ = store
        .revoke_token(&rec.id.to_string(), jiff::Timestamp::now())
        .await;
    server.abort();
    let out = WebBench {
        machine: crate::bench::machine(),
        hosts: stats.hosts,
        establishments: ests.len(),
        cache_seconds: a.cache_seconds,
        latencies,
        wrk_endpoint,
        wrk_requests_per_second: rps,
        wrk_output: out,
    };
    let mut t = Table::new(["endpoint", "bytes", "p50 ms", "p95 ms", "max ms"]);
    for l in &out.latencies {
        t.row([
            l.endpoint.clone(),
            l.bytes.to_string(),
            format!("{:.1}", l.p50_ms),
            format!("{:.1}", l.p95_ms),
            format!("{:.1}", l.max_ms),
        ]);
    }
    t.row([
        format!("wrk {} ({} connections)", out.wrk_endpoint, a.connections),
        String::new(),
        out.wrk_requests_per_second
            .map_or("wrk not installed".into(), |r| format!("{r:.0} req/s")),
        String::new(),
        String::new(),
    ]);
    emit(ctx.format, &out, &t)?;
    Ok(ExitCode::SUCCESS)
}
