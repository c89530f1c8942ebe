//! `vigie watch`: exposure watch commands and the long-running runner
//! that ties the probes, the store, the notifiers and `/metrics` together.

use crate::app::{Ctx, scope_of, today};
use crate::metrics::{MetricsState, serve_metrics};
use crate::output::{Table, emit, pct};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use vigie_core::{Day, EstablishmentCode};
use vigie_notify::{Alert, AlertKind, Delivery, DeliveryOutcome, Notifier, NotifyConfig, Severity};
use vigie_store::{
    Scope, Store, WatchEvent, WatchGroup, WatchIncidentOp, WatchNoticeInput, WatchOpenIncident,
    WatchSample, WatchStateRecord, WatchTarget, WatchTargetInput, WatchWriter, WatchWriterConfig,
};
use vigie_watch::correlate::{
    Change, Config as CorrelateConfig, GroupScope, IncidentRecord, Member, Notice,
};
use vigie_watch::evaluate::{Memory, Signal};
use vigie_watch::monitor::{Handled, Monitor, Watched};
use vigie_watch::probe::{ProbeEnv, ProbeEnvConfig, ProbeOutcome, ProbeSpec};
use vigie_watch::schedule::{Job, ProbeResult, ScheduleConfig, Scheduler, run_once};
use vigie_watch::state::{Observed, Status, Thresholds};
use vigie_watch::target::{TargetDef, TargetOptions, parse_targets};

#[derive(Subcommand)]
pub enum WatchCommand {
    /// Watch a URL (or a bare host: https://HOST/).
    Add(AddArgs),
    /// Add or update targets from a CSV file (a `url` column, or an organisation export with a `domains` column).
    Import { file: PathBuf },
    /// Targets with their current state.
    List {
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        establishment: Option<String>,
        /// Include removed targets.
        #[arg(long)]
        all: bool,
    },
    /// Stop watching a target (its history is kept).
    Remove { name: String },
    /// Accept a target's current content as normal: learn its baseline again from the next fetches.
    Rebaseline { name: String },
    /// Probe every target once; exit code 2 when one is down or defaced.
    Once(ProbeArgs),
    /// Probe continuously, record history, notify, serve /metrics.
    Run(RunArgs),
    /// Declared state changes.
    Events {
        /// Since this day (YYYY-MM-DD); default 7 days ago.
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: u64,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        establishment: Option<String>,
    },
    /// Availability per day.
    Uptime {
        /// sector, region, establishment or target.
        #[arg(long, default_value = "establishment")]
        by: String,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        establishment: Option<String>,
    },
    /// The register of notices sent (grouped incidents, lone failures).
    Notices {
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
}

#[derive(Args)]
pub struct AddArgs {
    /// URL or host.
    url: String,
    /// Name (default: the host and path).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    establishment: Option<String>,
    /// Accepted status codes, e.g. 200-299,301.
    #[arg(long)]
    expect_status: Option<String>,
    /// Text the page must contain (repeatable).
    #[arg(long)]
    expect_content: Vec<String>,
    /// Regular expression the body must match.
    #[arg(long)]
    expect_regex: Option<String>,
    /// Phrase that must never appear (repeatable), beyond the built-in defacer phrases.
    #[arg(long)]
    banned: Vec<String>,
    #[arg(long)]
    interval: Option<u32>,
    #[arg(long)]
    timeout: Option<u32>,
    #[arg(long)]
    min_cert_days: Option<u32>,
    #[arg(long)]
    no_follow_redirects: bool,
    /// No content baseline (no defacement detection).
    #[arg(long)]
    no_deface: bool,
    /// TLS name to verify for an IP-literal URL.
    #[arg(long)]
    tls_name: Option<String>,
}

#[derive(Args, Clone)]
pub struct ProbeArgs {
    /// DNS server(s) to use (ip:port), instead of the system's.
    #[arg(long = "dns-server")]
    dns_servers: Vec<SocketAddr>,
    /// Extra trusted CA certificates (PEM file, repeatable).
    #[arg(long = "ca-file")]
    ca_files: Vec<PathBuf>,
    /// Do not trust the system's root store (webpki roots and --ca-file only).
    #[arg(long)]
    no_system_roots: bool,
    /// Most probes in flight (default: sized from the targets).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Most probes in flight to one host.
    #[arg(long, default_value_t = 2)]
    per_host: usize,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    establishment: Option<String>,
}

/// `watch run`'s options parsed on their own (for `vigie serve --watch`).
#[derive(clap::Parser)]
struct RunOnly {
    #[command(flatten)]
    run: RunArgs,
}

/// Builds `watch run`'s options from command-line words.
pub fn run_args_from(words: &[String]) -> Result<RunArgs> {
    use clap::Parser;
    let argv = std::iter::once("vigie-watch-run".to_string()).chain(words.iter().cloned());
    Ok(RunOnly::try_parse_from(argv)
        .map_err(|e| anyhow::anyhow!("watch options: {e}"))?
        .run)
}

#[derive(Args, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    probe: ProbeArgs,
    /// Serve Prometheus /metrics here (e.g. 127.0.0.1:9465).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Notification channels and routes (TOML, see docs/notifications.md).
    #[arg(long, env = "VIGIE_NOTIFY")]
    notify: Option<PathBuf>,
    /// vigie's own connectivity check: a URL outside the watched sector
    /// (while it fails, nothing is notified).
    #[arg(long)]
    canary: Option<String>,
    /// Raw samples are kept this many days (daily uptime is kept for ever).
    #[arg(long, default_value_t = 30)]
    retention_days: u32,
    /// Consecutive failed probes before a target is declared down.
    #[arg(long, default_value_t = 2)]
    fail_threshold: u32,
    /// Consecutive good probes before it is declared up again.
    #[arg(long, default_value_t = 2)]
    recover_threshold: u32,
    /// Failing targets that make a mass event.
    #[arg(long, default_value_t = 5)]
    group_min: usize,
    /// Seconds from a mass event's first failure to its notice (default: the shortest interval).
    #[arg(long)]
    group_gather: Option<i64>,
    /// Least seconds between two digests of a growing incident.
    #[arg(long, default_value_t = 300)]
    digest_every: i64,
    /// Keep a raw sample of an unremarkable success at most every this many
    /// seconds per target (failures, warnings and changes are always kept;
    /// every probe counts in the daily uptime).
    #[arg(long, default_value_t = 300)]
    sample_every: i64,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    duration: Option<u64>,
}

pub async fn run(ctx: &Ctx, cmd: WatchCommand) -> Result<ExitCode> {
    match cmd {
        WatchCommand::Add(a) => add(ctx, a).await,
        WatchCommand::Import { file } => import(ctx, &file).await,
        WatchCommand::List {
            region,
            establishment,
            all,
        } => list(ctx, region, establishment, all).await,
        WatchCommand::Remove { name } => remove(ctx, &name).await,
        WatchCommand::Rebaseline { name } => rebaseline(ctx, &name).await,
        WatchCommand::Once(a) => once(ctx, a).await,
        WatchCommand::Run(a) => run_forever(ctx, a).await,
        WatchCommand::Events {
            since,
            limit,
            region,
            establishment,
        } => events(ctx, since, limit, region, establishment).await,
        WatchCommand::Uptime {
            by,
            from,
            to,
            region,
            establishment,
        } => uptime(ctx, &by, from, to, region, establishment).await,
        WatchCommand::Notices { limit } => notices(ctx, limit).await,
    }
}

fn now_s() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn input_of(def: &TargetDef) -> Result<WatchTargetInput> {
    Ok(WatchTargetInput {
        name: def.name.clone(),
        url: def.url.clone(),
        establishment: def
            .establishment
            .as_deref()
            .map(EstablishmentCode::new)
            .transpose()
            .with_context(|| format!("target {}", def.name))?,
        options: serde_json::to_string(&def.options)?,
    })
}

/// Keeps the rebaseline epoch of targets already stored, so a re-import
/// does not relearn baselines.
async fn keep_epochs(store: &dyn Store, defs: &mut [TargetDef]) -> Result<()> {
    let existing: HashMap<String, u32> = store
        .watch_targets(&Scope::National, true)
        .await?
        .into_iter()
        .filter_map(|t| {
            serde_json::from_str::<TargetOptions>(&t.options)
                .ok()
                .map(|o| (t.name, o.baseline_epoch))
        })
        .collect();
    for d in defs {
        if let Some(e) = existing.get(&d.name) {
            d.options.baseline_epoch = *e;
        }
    }
    Ok(())
}

async fn add(ctx: &Ctx, a: AddArgs) -> Result<ExitCode> {
    let mut o = TargetOptions::default();
    if let Some(s) = a.expect_status {
        o.expect_status = s;
    }
    o.expect_content = a.expect_content;
    o.expect_regex = a.expect_regex;
    o.banned_content = a.banned;
    if let Some(v) = a.interval {
        o.interval_s = v;
    }
    if let Some(v) = a.timeout {
        o.timeout_s = v;
    }
    if let Some(v) = a.min_cert_days {
        o.min_cert_days = v;
    }
    o.follow_redirects = !a.no_follow_redirects;
    o.deface = !a.no_deface;
    o.tls_server_name = a.tls_name;
    let def = TargetDef::new(a.name.as_deref(), &a.url, a.establishment.as_deref(), o)
        .map_err(|e| anyhow::anyhow!(e))?;
    let store = ctx.store().await?;
    let mut defs = vec![def];
    keep_epochs(store.as_ref(), &mut defs).await?;
    let r = store.upsert_watch_targets(&[input_of(&defs[0])?]).await?;
    let mut t = Table::new(["target", "url", "establishment", "added", "updated"]);
    t.row([
        defs[0].name.clone(),
        defs[0].url.clone(),
        defs[0].establishment.clone().unwrap_or_default(),
        r.added.to_string(),
        r.updated.to_string(),
    ]);
    emit(
        ctx.format,
        &serde_json::json!({"target": defs[0], "result": r}),
        &t,
    )?;
    Ok(ExitCode::SUCCESS)
}

async fn import(ctx: &Ctx, file: &std::path::Path) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut defs = parse_targets(&text, &file.display().to_string())?;
    let store = ctx.store().await?;
    keep_epochs(store.as_ref(), &mut defs).await?;
    let inputs = defs.iter().map(input_of).collect::<Result<Vec<_>>>()?;
    let r = store
        .upsert_watch_targets(&inputs)
        .await
        .with_context(|| format!("importing {} (nothing was written)", file.display()))?;
    let mut t = Table::new(["file", "targets", "added", "updated", "unchanged"]);
    t.row([
        file.display().to_string(),
        defs.len().to_string(),
        r.added.to_string(),
        r.updated.to_string(),
        r.unchanged.to_string(),
    ]);
    emit(ctx.format, &r, &t)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct TargetJson {
    name: String,
    url: String,
    establishment: Option<String>,
    region: Option<String>,
    status: Option<String>,
    since: Option<String>,
    baseline: bool,
    removed_at: Option<String>,
    options: serde_json::Value,
}

fn rfc(s: i64) -> String {
    vigie_core::rfc3339(s)
}

async fn list(
    ctx: &Ctx,
    region: Option<String>,
    establishment: Option<String>,
    all: bool,
) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let scope = scope_of(region.as_deref(), establishment.as_deref())?;
    let targets = store.watch_targets(&scope, all).await?;
    let json: Vec<TargetJson> = targets
        .iter()
        .map(|t| {
            let mem = t
                .state
                .as_ref()
                .and_then(|s| serde_json::from_str::<Memory>(&s.data).ok());
            TargetJson {
                name: t.name.clone(),
                url: t.url.clone(),
                establishment: t.establishment.as_ref().map(ToString::to_string),
                region: t.region.as_ref().map(ToString::to_string),
                status: t.state.as_ref().map(|s| s.status.clone()),
                since: t.state.as_ref().map(|s| rfc(s.since)),
                baseline: mem.is_some_and(|m| m.baseline.is_some()),
                removed_at: t.removed_at.map(rfc),
                options: serde_json::from_str(&t.options).unwrap_or(serde_json::Value::Null),
            }
        })
        .collect();
    let mut table = Table::new([
        "target",
        "url",
        "establishment",
        "status",
        "since",
        "baseline",
    ]);
    for j in &json {
        table.row([
            j.name.clone(),
            j.url.clone(),
            j.establishment.clone().unwrap_or_default(),
            match (&j.removed_at, &j.status) {
                (Some(_), _) => "removed".to_string(),
                (None, Some(s)) => s.clone(),
                (None, None) => "not probed yet".to_string(),
            },
            j.since.clone().unwrap_or_default(),
            if j.baseline { "learned" } else { "learning" }.to_string(),
        ]);
    }
    emit(ctx.format, &json, &table)?;
    Ok(ExitCode::SUCCESS)
}

async fn remove(ctx: &Ctx, name: &str) -> Result<ExitCode> {
    let store = ctx.store().await?;
    if !store.remove_watch_target(name, now_s()).await? {
        bail!("no watched target named {name:?} (see `vigie watch list`)");
    }
    let mut t = Table::new(["removed"]);
    t.row([name.to_string()]);
    emit(ctx.format, &serde_json::json!({ "removed": name }), &t)?;
    Ok(ExitCode::SUCCESS)
}

async fn rebaseline(ctx: &Ctx, name: &str) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let Some(t) = store
        .watch_targets(&Scope::National, false)
        .await?
        .into_iter()
        .find(|t| t.name == name)
    else {
        bail!("no watched target named {name:?} (see `vigie watch list`)");
    };
    let mut o: TargetOptions =
        serde_json::from_str(&t.options).with_context(|| format!("stored options of {name}"))?;
    o.baseline_epoch = o.baseline_epoch.wrapping_add(1);
    store
        .upsert_watch_targets(&[WatchTargetInput {
            name: t.name.clone(),
            url: t.url.clone(),
            establishment: t.establishment.clone(),
            options: serde_json::to_string(&o)?,
        }])
        .await?;
    let mut table = Table::new(["target", "baseline"]);
    table.row([
        name.to_string(),
        "learned again from the next fetches".to_string(),
    ]);
    emit(
        ctx.format,
        &serde_json::json!({ "target": name, "baseline_epoch": o.baseline_epoch }),
        &table,
    )?;
    Ok(ExitCode::SUCCESS)
}

fn probe_env(a: &ProbeArgs) -> Result<ProbeEnv> {
    let mut extra = Vec::new();
    for f in &a.ca_files {
        extra.push(std::fs::read(f).with_context(|| format!("reading {}", f.display()))?);
    }
    let cfg = ProbeEnvConfig {
        nameservers: (!a.dns_servers.is_empty()).then(|| a.dns_servers.clone()),
        extra_ca_pem: extra,
        use_system_roots: !a.no_system_roots,
        ..ProbeEnvConfig::default()
    };
    ProbeEnv::new(cfg).context("preparing the probes")
}

/// A stored target as the monitor and the scheduler need it.
fn watched_of(t: &WatchTarget, now: i64) -> Result<(Watched, Job)> {
    let options: TargetOptions = serde_json::from_str(&t.options)
        .with_context(|| format!("stored options of target {}", t.name))?;
    let url = url::Url::parse(&t.url).with_context(|| format!("URL of target {}", t.name))?;
    let memory = t
        .state
        .as_ref()
        .and_then(|s| serde_json::from_str::<Memory>(&s.data).ok())
        .unwrap_or_else(|| Memory::new(now));
    let mut spec = ProbeSpec::new(url.clone());
    spec.timeout = Duration::from_secs(u64::from(options.timeout_s));
    spec.follow_redirects = options.follow_redirects;
    spec.max_body = options.max_body_kib as usize * 1024;
    spec.tls_server_name = options.tls_server_name.clone();
    let job = Job {
        id: t.id,
        spec,
        interval: Duration::from_secs(u64::from(options.interval_s)),
    };
    Ok((
        Watched {
            id: t.id,
            name: t.name.clone(),
            url,
            establishment: t.establishment.as_ref().map(ToString::to_string),
            region: t.region.as_ref().map(ToString::to_string),
            options,
            memory,
            last: None,
        },
        job,
    ))
}

fn us(d: Option<Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

fn sample_of(id: i64, at: i64, observed: Observed, o: &ProbeOutcome) -> WatchSample {
    WatchSample {
        target_id: id,
        at,
        observed: observed.as_str().to_string(),
        http_status: o.http.as_ref().map(|h| h.status),
        dns_us: us(o.phases.dns),
        connect_us: us(o.phases.connect),
        tls_us: us(o.phases.tls),
        first_byte_us: us(o.phases.first_byte),
        total_us: us(Some(o.phases.total)).unwrap_or(0),
        error: o
            .error
            .as_ref()
            .map(|e| format!("{:?}/{:?}: {}", e.phase, e.kind, e.message).to_lowercase()),
        keep_raw: true,
    }
}

fn state_record(w: &Watched, now: i64) -> Result<WatchStateRecord> {
    Ok(WatchStateRecord {
        status: w.memory.state.status.as_str().to_string(),
        since: w.memory.state.since,
        updated_at: now,
        data: serde_json::to_string(&w.memory)?,
    })
}

fn event_of(h: &Handled) -> Option<WatchEvent> {
    let tr = h.transition?;
    Some(WatchEvent {
        target_id: h.target_id,
        at: tr.at,
        from: tr.from.as_str().to_string(),
        to: tr.to.as_str().to_string(),
        detail: serde_json::to_string(&h.evaluation.reasons).unwrap_or_else(|_| "[]".into()),
    })
}

fn signal_events(h: &Handled, at: i64) -> Vec<WatchEvent> {
    h.signals
        .iter()
        .map(|s| WatchEvent {
            target_id: h.target_id,
            at,
            from: "-".into(),
            to: match s {
                Signal::DnsChanged { .. } => "dns-changed".into(),
                Signal::CertChanged { .. } => "certificate-changed".into(),
            },
            detail: serde_json::to_string(s).unwrap_or_else(|_| "{}".into()),
        })
        .collect()
}

#[derive(Serialize)]
struct OnceJson {
    target: String,
    url: String,
    establishment: Option<String>,
    observed: Observed,
    status: Status,
    http_status: Option<u16>,
    total_ms: f64,
    dns_ms: Option<f64>,
    connect_ms: Option<f64>,
    tls_ms: Option<f64>,
    first_byte_ms: Option<f64>,
    tls_version: Option<String>,
    certificate_expires: Option<String>,
    error: Option<String>,
    reasons: serde_json::Value,
    signals: serde_json::Value,
}

fn ms(d: Option<Duration>) -> Option<f64> {
    d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3)
}

/// Targets with their memory, or (`light`) without it: a runner polling
/// for edits does not read every baseline again.
async fn load(
    store: &dyn Store,
    scope: &Scope,
    now: i64,
    light: bool,
) -> Result<Vec<(Watched, Job)>> {
    let targets = if light {
        store.watch_target_list(scope).await?
    } else {
        store.watch_targets(scope, false).await?
    };
    let mut out = Vec::with_capacity(targets.len());
    for t in &targets {
        match watched_of(t, now) {
            Ok(x) => out.push(x),
            Err(e) => eprintln!("warning: skipping target {}: {e:#}", t.name),
        }
    }
    Ok(out)
}

async fn once(ctx: &Ctx, a: ProbeArgs) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let scope = scope_of(a.region.as_deref(), a.establishment.as_deref())?;
    let env = probe_env(&a)?;
    let now = now_s();
    let loaded = load(store.as_ref(), &scope, now, false).await?;
    if loaded.is_empty() {
        bail!("no target to probe (add some with `vigie watch add` or `vigie watch import`)");
    }
    let mut monitor = Monitor::new(Thresholds::default(), CorrelateConfig::default());
    let mut jobs = Vec::with_capacity(loaded.len());
    for (w, j) in loaded {
        monitor.insert(w);
        jobs.push(j);
    }
    let pb = crate::output::progress(jobs.len() as u64, "probing", ctx.quiet);
    let results = run_once(
        &env,
        &jobs,
        ScheduleConfig {
            max_concurrency: a.concurrency,
            per_host: a.per_host,
        },
    )
    .await;
    pb.finish_and_clear();
    let mut samples = Vec::new();
    let mut events = Vec::new();
    let mut states = Vec::new();
    let mut json = Vec::new();
    let mut failing = 0usize;
    for r in results {
        let at = r.outcome.started_at;
        let Some(h) = monitor.handle(r.id, r.outcome, at) else {
            continue;
        };
        // the monitor keeps the outcome (without its body) as the target's last
        let Some(w) = monitor.get(h.target_id) else {
            continue;
        };
        let Some(outcome) = w.last.as_ref().map(|l| &l.outcome) else {
            continue;
        };
        samples.push(sample_of(h.target_id, at, h.observed, outcome));
        events.extend(event_of(&h));
        events.extend(signal_events(&h, at));
        states.push((w.id, state_record(w, at)?));
        if matches!(h.observed, Observed::Down | Observed::Defaced) {
            failing += 1;
        }
        json.push(OnceJson {
            target: w.name.clone(),
            url: w.url.to_string(),
            establishment: w.establishment.clone(),
            observed: h.observed,
            status: w.memory.state.status,
            http_status: outcome.http.as_ref().map(|x| x.status),
            total_ms: ms(Some(outcome.phases.total)).unwrap_or(0.0),
            dns_ms: ms(outcome.phases.dns),
            connect_ms: ms(outcome.phases.connect),
            tls_ms: ms(outcome.phases.tls),
            first_byte_ms: ms(outcome.phases.first_byte),
            tls_version: outcome.tls.as_ref().map(|t| t.version.clone()),
            certificate_expires: outcome
                .tls
                .as_ref()
                .and_then(|t| t.earliest_expiry)
                .map(rfc),
            error: outcome
                .error
                .as_ref()
                .map(|e| format!("{:?} {:?}: {}", e.phase, e.kind, e.message).to_lowercase()),
            reasons: serde_json::to_value(&h.evaluation.reasons)?,
            signals: serde_json::to_value(&h.signals)?,
        });
    }
    store.record_watch(&samples, &events).await?;
    store.save_watch_states(&states).await?;
    json.sort_by(|a, b| a.target.cmp(&b.target));
    let mut t = Table::new([
        "target",
        "observed",
        "http",
        "total ms",
        "tls",
        "cert expires",
        "why",
    ]);
    for j in &json {
        t.row([
            j.target.clone(),
            serde_json::to_value(j.observed)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            j.http_status.map(|s| s.to_string()).unwrap_or_default(),
            format!("{:.0}", j.total_ms),
            j.tls_version.clone().unwrap_or_default(),
            j.certificate_expires
                .as_deref()
                .map(|s| s.chars().take(10).collect())
                .unwrap_or_default(),
            summarise_reasons(&j.reasons, j.error.as_deref()),
        ]);
    }
    emit(ctx.format, &json, &t)?;
    Ok(if failing > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn summarise_reasons(reasons: &serde_json::Value, error: Option<&str>) -> String {
    // a list of reasons (probes, state changes) or one signal (events)
    let items: Vec<&serde_json::Value> = match reasons {
        serde_json::Value::Array(a) => a.iter().collect(),
        v @ serde_json::Value::Object(_) => vec![v],
        _ => Vec::new(),
    };
    let parts: Vec<String> = items.into_iter().filter_map(reason_text).collect();
    if parts.is_empty() {
        return error
            .map(|e| e.chars().take(80).collect())
            .unwrap_or_default();
    }
    parts.join("; ")
}

/// One reason in a few words ("connect refused: …", "status 503").
fn reason_text(r: &serde_json::Value) -> Option<String> {
    let kind = r.get("kind")?.as_str()?;
    let s = |k: &str| match r.get(k) {
        Some(serde_json::Value::String(v)) => v.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    };
    let n = |k: &str| r.get(k).map(ToString::to_string).unwrap_or_default();
    Some(match kind {
        "failed" => {
            let text = format!("{} {}: {}", s("phase"), s("error"), s("message"));
            text.chars().take(80).collect()
        }
        "unexpected-status" => format!("status {}", n("status")),
        "cert-invalid" => format!("certificate {}", s("problem")),
        "cert-expiring" => format!("certificate expires in {} days", n("days")),
        "content-missing" => format!("missing {:?}", s("what")),
        "slow" => format!("slow ({} ms)", n("ms")),
        "answered" => match r.get("status").and_then(|v| v.as_u64()) {
            Some(code) => format!("answered {code} in {} ms", n("ms")),
            None => format!("answered in {} ms", n("ms")),
        },
        other => other.to_string(),
    })
}

// ---------------------------------------------------------------------
// the runner

fn severity_of(status: Status) -> Severity {
    match status {
        Status::Defaced => Severity::Critical,
        Status::Down => Severity::Major,
        _ => Severity::Warning,
    }
}

fn member_line(m: &Member) -> String {
    format!(
        "- {} [{}]{}",
        m.target,
        m.status.as_str(),
        m.establishment
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    )
}

fn routing_of(members: &[Member]) -> (Vec<String>, Vec<String>) {
    let mut e: Vec<String> = members
        .iter()
        .filter_map(|m| m.establishment.clone())
        .collect();
    let mut r: Vec<String> = members.iter().filter_map(|m| m.region.clone()).collect();
    e.sort();
    e.dedup();
    r.sort();
    r.dedup();
    (e, r)
}

/// A correlator notice as an alert (severity kept per incident so its
/// resolution reaches the same routes).
fn alert_of(n: &Notice, incident_severity: &mut HashMap<u64, Severity>) -> Alert {
    let details = serde_json::to_value(n).unwrap_or(serde_json::Value::Null);
    let key = n.key();
    match n {
        Notice::IncidentOpened {
            incident,
            scope,
            members,
            defaced,
            down,
            at,
        } => {
            let severity = if *defaced > 0 {
                Severity::Critical
            } else {
                Severity::Major
            };
            incident_severity.insert(*incident, severity);
            let (establishments, regions) = routing_of(members);
            Alert {
                key,
                kind: AlertKind::Opened,
                severity,
                title: format!(
                    "Mass event on {}: {} sites ({} defaced, {} down)",
                    scope_text(scope),
                    members.len(),
                    defaced,
                    down
                ),
                body: members
                    .iter()
                    .map(member_line)
                    .collect::<Vec<_>>()
                    .join("\n"),
                establishments,
                regions,
                at: *at,
                details,
            }
        }
        Notice::IncidentGrew {
            incident,
            scope,
            added,
            total,
            at,
        } => {
            let severity = incident_severity
                .get(incident)
                .copied()
                .unwrap_or(Severity::Major);
            let (establishments, regions) = routing_of(added);
            Alert {
                key,
                kind: AlertKind::Grew,
                severity,
                title: format!(
                    "Mass event on {} grew: {} more, {} in all",
                    scope_text(scope),
                    added.len(),
                    total
                ),
                body: added.iter().map(member_line).collect::<Vec<_>>().join("\n"),
                establishments,
                regions,
                at: *at,
                details,
            }
        }
        Notice::IncidentResolved {
            incident,
            scope,
            members,
            began,
            at,
        } => {
            let severity = incident_severity
                .remove(incident)
                .unwrap_or(Severity::Major);
            let (establishments, regions) = routing_of(members);
            Alert {
                key,
                kind: AlertKind::Resolved,
                severity,
                title: format!(
                    "Resolved: mass event on {} ({} sites, {} min)",
                    scope_text(scope),
                    members.len(),
                    (at - began).max(0) / 60
                ),
                body: members
                    .iter()
                    .map(member_line)
                    .collect::<Vec<_>>()
                    .join("\n"),
                establishments,
                regions,
                at: *at,
                details,
            }
        }
        Notice::TargetFailed { target, since, at } => Alert {
            key,
            kind: AlertKind::Failed,
            severity: severity_of(target.status),
            title: format!("{} is {}", target.target, target.status.as_str()),
            body: format!("failing since {}", rfc(*since)),
            establishments: target.establishment.iter().cloned().collect(),
            regions: target.region.iter().cloned().collect(),
            at: *at,
            details,
        },
        Notice::TargetRecovered { target, at } => Alert {
            key,
            kind: AlertKind::Recovered,
            severity: Severity::Major,
            title: format!("{} recovered", target.target),
            body: String::new(),
            establishments: target.establishment.iter().cloned().collect(),
            regions: target.region.iter().cloned().collect(),
            at: *at,
            details,
        },
        Notice::CanaryLost { at } => Alert {
            key,
            kind: AlertKind::Warning,
            severity: Severity::Warning,
            title: "vigie lost its own connectivity: notifications are paused".into(),
            body: "The canary check fails; failures seen meanwhile are not reported.".into(),
            establishments: Vec::new(),
            regions: Vec::new(),
            at: *at,
            details,
        },
        Notice::CanaryRestored { at } => Alert {
            key,
            kind: AlertKind::Warning,
            severity: Severity::Warning,
            title: "vigie's connectivity is back: notifications resume".into(),
            body: String::new(),
            establishments: Vec::new(),
            regions: Vec::new(),
            at: *at,
            details,
        },
    }
}

fn scope_text(s: &GroupScope) -> String {
    s.to_string()
}

/// A declared warning state or a signal of one target as an alert.
fn warning_alert(
    w: &Watched,
    what: &str,
    details: serde_json::Value,
    severity: Severity,
    at: i64,
) -> Alert {
    Alert {
        key: format!("target:{}:{what}", w.name),
        kind: AlertKind::Warning,
        severity,
        title: format!("{}: {}", w.name, what.replace('-', " ")),
        body: serde_json::to_string_pretty(&details).unwrap_or_default(),
        establishments: w.establishment.iter().cloned().collect(),
        regions: w.region.iter().cloned().collect(),
        at,
        details,
    }
}

fn deliveries_json(d: &[Delivery]) -> String {
    let v: Vec<serde_json::Value> = d
        .iter()
        .map(|d| {
            let (outcome, detail) = match &d.outcome {
                DeliveryOutcome::Sent { attempts } => ("sent", format!("{attempts} attempt(s)")),
                DeliveryOutcome::RateLimited => ("rate-limited", String::new()),
                DeliveryOutcome::Failed { attempts, error } => {
                    ("failed", format!("{attempts} attempt(s): {error}"))
                }
                DeliveryOutcome::Skipped(why) => ("skipped", why.clone()),
            };
            serde_json::json!({"route": d.route, "channel": d.channel, "outcome": outcome, "detail": detail})
        })
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

/// What, when edited, makes the runner take a target's new definition.
fn target_sig(w: &Watched) -> (String, String) {
    (
        w.url.to_string(),
        format!(
            "{}|{:?}|{:?}",
            serde_json::to_string(&w.options).unwrap_or_default(),
            w.establishment,
            w.region
        ),
    )
}

fn load_notifier(path: &std::path::Path) -> Result<Notifier> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut cfg = NotifyConfig::from_toml_str(&text, &path.display().to_string())?;
    cfg.resolve_secrets(|name| std::env::var(name).ok())?;
    Ok(Notifier::new(cfg)?)
}

/// Ids of incidents reserved at once, and the count below which more are
/// reserved (in the background: an incident waits for an id only if the
/// database stayed unavailable while this many opened).
const ID_BLOCK: u64 = 64;
const ID_LOW: u64 = 32;

/// The name a runner's incidents are kept under: its perimeter, so that a
/// national runner and a regional one each resume their own.
fn runner_name(scope: &Scope) -> String {
    match scope {
        Scope::National => "national".into(),
        Scope::Region(r) => format!("region:{r}"),
        Scope::Establishment(e) => format!("establishment:{e}"),
    }
}

/// What is kept of a failure notified on its own (its member is stored
/// beside it).
#[derive(Serialize, serde::Deserialize)]
struct LoneRecord {
    since: i64,
}

/// A correlator change as a storage operation.
fn op_of(ch: &Change, now: i64) -> Result<WatchIncidentOp> {
    let member = |m: &Member| -> Result<(String, String)> {
        Ok((m.target.clone(), serde_json::to_string(m)?))
    };
    Ok(match ch {
        Change::Incident {
            record,
            members,
            removed,
        } => WatchIncidentOp::Save {
            key: record.key(),
            data: serde_json::to_string(record)?,
            members: members.iter().map(member).collect::<Result<_>>()?,
            removed: removed.clone(),
            at: now,
        },
        Change::Lone { member: m, since } => WatchIncidentOp::Save {
            key: ch.key(),
            data: serde_json::to_string(&LoneRecord { since: *since })?,
            members: vec![member(m)?],
            removed: Vec::new(),
            at: now,
        },
        Change::IncidentClosed { .. } | Change::LoneClosed { .. } => {
            WatchIncidentOp::Close { key: ch.key() }
        }
    })
}

/// Incidents and lone failures a previous run left open, and the routes
/// their openings reached.
type Resumed = (
    Vec<(IncidentRecord, Vec<Member>)>,
    Vec<(Member, i64)>,
    Vec<(String, Vec<String>)>,
);

fn parse_open(open: Vec<WatchOpenIncident>) -> Resumed {
    let mut incidents = Vec::new();
    let mut lone = Vec::new();
    let mut routes = Vec::new();
    for o in open {
        let members: Vec<Member> = o
            .members
            .iter()
            .filter_map(|(_, m)| serde_json::from_str(m).ok())
            .collect();
        if o.key.starts_with("target:") {
            match (serde_json::from_str::<LoneRecord>(&o.data), members.first()) {
                (Ok(r), Some(m)) => lone.push((m.clone(), r.since)),
                _ => {
                    eprintln!(
                        "warning: stored failure {} is unreadable: not resumed",
                        o.key
                    );
                    continue;
                }
            }
        } else {
            match serde_json::from_str::<IncidentRecord>(&o.data) {
                Ok(r) if r.key() == o.key => incidents.push((r, members)),
                _ => {
                    eprintln!(
                        "warning: stored incident {} is unreadable: not resumed",
                        o.key
                    );
                    continue;
                }
            }
        }
        routes.push((o.key, o.routes));
    }
    (incidents, lone, routes)
}

/// Storage operations for the correlator's changes: those to write at
/// once (before the notices go out), and, by key, the ends of incidents
/// whose end is among `notices`, to write only once that notice went out
/// and is registered, so that a restart in between sends the end again
/// rather than never.
fn plan_ops(
    changes: &[Change],
    notices: &[Notice],
    now: i64,
) -> (Vec<WatchIncidentOp>, HashMap<String, Vec<WatchIncidentOp>>) {
    let ends: HashSet<String> = notices
        .iter()
        .filter(|n| {
            matches!(
                n,
                Notice::IncidentResolved { .. } | Notice::TargetRecovered { .. }
            )
        })
        .map(Notice::key)
        .collect();
    let mut after: HashMap<String, Vec<WatchIncidentOp>> = HashMap::new();
    let mut now_ops = Vec::new();
    for ch in changes {
        match op_of(ch, now) {
            Ok(op) => {
                let key = ch.key();
                if matches!(op, WatchIncidentOp::Close { .. }) && ends.contains(&key) {
                    after.entry(key).or_default().push(op);
                } else {
                    now_ops.push(op);
                }
            }
            Err(e) => eprintln!("error: storing incident {}: {e:#}", ch.key()),
        }
    }
    (now_ops, after)
}

/// A notice on its way out, with the storage changes to make once it has
/// gone (and is registered): the end of an incident is forgotten only
/// after its resolution went out, so a restart in between sends it again
/// rather than never.
struct Outgoing {
    alert: Alert,
    after: Vec<WatchIncidentOp>,
}

/// The runner's state between events of its loop.
struct Runner {
    monitor: Monitor,
    metrics: Arc<MetricsState>,
    writer: WatchWriter,
    notice_tx: mpsc::Sender<Outgoing>,
    samples: Vec<WatchSample>,
    events: Vec<WatchEvent>,
    dirty: BTreeSet<i64>,
    last_raw: HashMap<i64, (i64, Observed)>,
    incident_severity: HashMap<u64, Severity>,
    sample_every: i64,
}

impl Runner {
    fn send(&self, out: Outgoing) {
        if let Err(e) = self.notice_tx.try_send(out) {
            self.metrics.notice_dropped();
            let out = match e {
                mpsc::error::TrySendError::Full(o) | mpsc::error::TrySendError::Closed(o) => o,
            };
            eprintln!(
                "error: notice dropped (the sender is behind): {}",
                out.alert.title
            );
            self.writer.incidents(out.after);
        }
    }

    fn on_result(&mut self, r: ProbeResult) {
        let now = now_s();
        let Some(h) = self.monitor.handle(r.id, r.outcome, now) else {
            return;
        };
        // the monitor keeps the outcome (without its body) as the target's last
        let Some(last) = self.monitor.get(h.target_id).and_then(|w| w.last.as_ref()) else {
            return;
        };
        let mut sample = sample_of(h.target_id, now, h.observed, &last.outcome);
        let prev = self.last_raw.get(&h.target_id).copied();
        sample.keep_raw = h.observed != Observed::Up
            || h.transition.is_some()
            || prev.is_none_or(|(at, o)| o != Observed::Up || now - at >= self.sample_every);
        if sample.keep_raw {
            self.last_raw.insert(h.target_id, (now, h.observed));
        }
        self.samples.push(sample);
        self.events.extend(event_of(&h));
        self.events.extend(signal_events(&h, now));
        if h.memory_changed {
            self.dirty.insert(h.target_id);
        }
        let Some(w) = self.monitor.get(h.target_id) else {
            return;
        };
        self.metrics.observe(w);
        let mut alerts = Vec::new();
        // warnings that are not failures go out on their own
        if let Some(tr) = h.transition
            && matches!(tr.to, Status::Degraded | Status::Changed)
        {
            let what = if tr.to == Status::Changed {
                "content-changed"
            } else {
                "degraded"
            };
            alerts.push(warning_alert(
                w,
                what,
                serde_json::to_value(&h.evaluation.reasons).unwrap_or_default(),
                Severity::Warning,
                now,
            ));
        }
        for s in &h.signals {
            let (what, sev) = match s {
                Signal::DnsChanged { .. } => ("dns-changed", Severity::Major),
                Signal::CertChanged { .. } => ("certificate-changed", Severity::Warning),
            };
            alerts.push(warning_alert(
                w,
                what,
                serde_json::to_value(s).unwrap_or_default(),
                sev,
                now,
            ));
        }
        for alert in alerts {
            self.send(Outgoing {
                alert,
                after: Vec::new(),
            });
        }
    }

    /// Stores what changed in the open incidents (see [`plan_ops`]) and
    /// sends the notices.
    fn send_notices(&mut self, notices: Vec<Notice>, now: i64) {
        let (now_ops, mut after) = plan_ops(&self.monitor.take_changes(), &notices, now);
        // stored before the notices are sent: a restart after an opening
        // went out knows it went out
        self.writer.incidents(now_ops);
        for n in notices {
            let after = after.remove(&n.key()).unwrap_or_default();
            let alert = alert_of(&n, &mut self.incident_severity);
            self.send(Outgoing { alert, after });
        }
        for (_, ops) in after {
            self.writer.incidents(ops);
        }
    }

    fn on_tick(&mut self, now: i64) {
        let notices = self.monitor.tick(now);
        self.send_notices(notices, now);
        let c = self.monitor.correlator();
        self.metrics
            .set_incidents(c.incidents().len(), c.failing_count(), !c.canary_down());
    }

    fn on_canary(&mut self, ok: bool, now: i64) {
        let notices = self.monitor.canary(ok, now);
        self.send_notices(notices, now);
    }

    /// Hands samples, events and changed states to the storage queue.
    fn flush(&mut self, now: i64) {
        let mut states = Vec::new();
        for id in std::mem::take(&mut self.dirty) {
            if let Some(w) = self.monitor.get(id) {
                match state_record(w, now) {
                    Ok(s) => states.push((id, s)),
                    Err(e) => eprintln!("error: state of {}: {e:#}", w.name),
                }
            }
        }
        self.writer.record(
            std::mem::take(&mut self.samples),
            std::mem::take(&mut self.events),
            states,
        );
    }
}

pub async fn run_forever(ctx: &Ctx, a: RunArgs) -> Result<ExitCode> {
    let store = ctx.store_small_cache().await?;
    let scope = scope_of(a.probe.region.as_deref(), a.probe.establishment.as_deref())?;
    let runner = runner_name(&scope);
    let env = probe_env(&a.probe)?;
    let notifier = a.notify.as_deref().map(load_notifier).transpose()?;
    let canary = a
        .canary
        .as_deref()
        .map(|c| url::Url::parse(c).with_context(|| format!("--canary {c}")))
        .transpose()?;
    let now = now_s();
    let loaded = load(store.as_ref(), &scope, now, false).await?;
    let shortest = loaded
        .iter()
        .map(|(_, j)| j.interval.as_secs())
        .min()
        .unwrap_or(60);
    let thresholds = Thresholds {
        to_worse: a.fail_threshold.max(1),
        to_better: a.recover_threshold.max(1),
    };
    let correlate = CorrelateConfig {
        min_targets: a.group_min.max(2),
        gather: a.group_gather.unwrap_or(shortest as i64),
        digest_every: a.digest_every.max(10),
        hold: shortest as i64,
        window: (2 * shortest as i64).max(120),
    };
    let mut monitor = Monitor::new(thresholds, correlate);
    let mut jobs = Vec::with_capacity(loaded.len());
    let mut options_seen: HashMap<i64, (String, String)> = HashMap::new();
    for (w, j) in loaded {
        options_seen.insert(w.id, target_sig(&w));
        monitor.insert(w);
        jobs.push(j);
    }
    // what a previous run left open: resumed, and its openings' routes
    // remembered, so nothing is announced twice and every end goes out
    let open = store
        .watch_open_incidents(&runner)
        .await
        .context("reading the open incidents")?;
    let (incidents, lone, routes) = parse_open(open);
    let mut incident_severity = HashMap::new();
    for (r, members) in &incidents {
        let defaced = members.iter().any(|m| m.status == Status::Defaced);
        incident_severity.insert(
            r.id,
            if defaced {
                Severity::Critical
            } else {
                Severity::Major
            },
        );
    }
    if let Some(n) = &notifier {
        for (key, routes) in &routes {
            for r in routes {
                if !n.restore_delivered(r, key) {
                    eprintln!(
                        "warning: {key} was delivered on route {r}, which is no longer configured"
                    );
                }
            }
        }
    }
    let resumed = (incidents.len(), lone.len());
    monitor.resume(incidents, lone, now);
    let first = store
        .allocate_watch_incident_ids(ID_BLOCK)
        .await
        .context("reserving incident ids")?;
    monitor
        .correlator_mut()
        .grant_ids(u64::try_from(first).unwrap_or(0), ID_BLOCK);
    eprintln!(
        "vigie watch: {} targets, shortest interval {shortest} s{}{}",
        monitor.len(),
        if resumed == (0, 0) {
            String::new()
        } else {
            format!(
                ", resumed {} open incidents and {} failures",
                resumed.0, resumed.1
            )
        },
        a.listen
            .map(|l| format!(", metrics on http://{l}/metrics"))
            .unwrap_or_default()
    );

    let metrics = Arc::new(MetricsState::default());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    if let Some(addr) = a.listen {
        let m = metrics.clone();
        let rx = shutdown_rx.clone();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        tokio::spawn(async move {
            if let Err(e) = serve_metrics(listener, m, rx).await {
                eprintln!("error: metrics server: {e}");
            }
        });
    }
    // results: bounded, probes never wait on the consumer
    let (res_tx, mut res_rx) = mpsc::channel(jobs.len().clamp(1024, 65_536));
    let targets = jobs.len();
    let (sched, sched_handle) = Scheduler::start(
        env.clone(),
        jobs,
        ScheduleConfig {
            max_concurrency: a.probe.concurrency,
            per_host: a.probe.per_host,
        },
        res_tx,
        shutdown_rx.clone(),
    );
    metrics.set_schedule(sched.stats().clone(), sched.concurrency_handle());

    // storage behind a queue that keeps everything but raw samples until
    // written, however long the database is busy
    let writer = WatchWriter::start(
        store.clone(),
        WatchWriterConfig {
            runner: runner.clone(),
            // about five probe cycles of samples (at least 50,000)
            max_samples: (targets * 5).max(50_000),
            retry_pause: Duration::from_secs(1),
        },
    );
    metrics.set_writer(writer.clone());

    // notices go out on their own task: a slow mail server delays nobody,
    // and the register is written through the queue (never waited for)
    let (notice_tx, mut notice_rx) = mpsc::channel::<Outgoing>(4096);
    let notify_writer = writer.clone();
    let notify_metrics = metrics.clone();
    let sender = tokio::spawn(async move {
        while let Some(Outgoing { alert, after }) = notice_rx.recv().await {
            let deliveries = match &notifier {
                Some(n) => n.dispatch(&alert).await,
                None => Vec::new(),
            };
            for d in &deliveries {
                notify_metrics.delivery(&d.outcome);
            }
            if matches!(
                alert.kind,
                AlertKind::Opened | AlertKind::Grew | AlertKind::Failed
            ) {
                let routes: Vec<String> = deliveries
                    .iter()
                    .filter(|d| matches!(d.outcome, DeliveryOutcome::Sent { .. }))
                    .map(|d| d.route.clone())
                    .collect();
                if !routes.is_empty() {
                    notify_writer.incidents(vec![WatchIncidentOp::Delivered {
                        key: alert.key.clone(),
                        routes,
                        at: now_s(),
                    }]);
                }
            }
            notify_writer.notice(WatchNoticeInput {
                at: alert.at,
                kind: format!("{}-{}", alert.kind.as_str(), alert.severity.as_str()),
                incident_key: alert.key.clone(),
                payload: serde_json::to_string(&alert).unwrap_or_default(),
                deliveries: deliveries_json(&deliveries),
            });
            notify_writer.incidents(after);
            if notifier.is_none() {
                eprintln!("notice: [{}] {}", alert.severity.as_str(), alert.title);
            }
        }
    });

    let mut st = Runner {
        monitor,
        metrics: metrics.clone(),
        writer: writer.clone(),
        notice_tx,
        samples: Vec::new(),
        events: Vec::new(),
        dirty: BTreeSet::new(),
        last_raw: HashMap::new(),
        incident_severity,
        sample_every: a.sample_every,
    };
    let deadline = a
        .duration
        .map(|d| tokio::time::Instant::now() + Duration::from_secs(d));
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut flush = tokio::time::interval(Duration::from_secs(5));
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut reload = tokio::time::interval(Duration::from_secs(30));
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    reload.reset();
    let mut canary_tick = tokio::time::interval(Duration::from_secs(15));
    canary_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (canary_tx, mut canary_rx) = mpsc::channel::<bool>(4);
    // more incident ids, reserved in the background when few are left
    let (ids_tx, mut ids_rx) = mpsc::channel::<Option<i64>>(1);
    let mut reserving = false;
    // SIGTERM (systemd, docker stop) ends the run like Ctrl-C: pending
    // results are written before exit
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = sigterm.recv() => break,
            _ = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending::<()>().await,
                }
            } => break,
            Some(r) = res_rx.recv() => st.on_result(r),
            _ = tick.tick() => {
                // results already received are judged first, so a notice
                // lists every failure seen before it
                for _ in 0..65_536 {
                    match res_rx.try_recv() {
                        Ok(r) => st.on_result(r),
                        Err(_) => break,
                    }
                }
                st.on_tick(now_s());
                if !reserving && st.monitor.correlator().ids_left() < ID_LOW {
                    reserving = true;
                    let store = store.clone();
                    let tx = ids_tx.clone();
                    tokio::spawn(async move {
                        let r = match store.allocate_watch_incident_ids(ID_BLOCK).await {
                            Ok(first) => Some(first),
                            Err(e) => {
                                eprintln!("error: reserving incident ids: {e}");
                                None
                            }
                        };
                        let _ = tx.send(r).await;
                    });
                }
            }
            Some(ids) = ids_rx.recv() => {
                reserving = false;
                if let Some(first) = ids {
                    st.monitor
                        .correlator_mut()
                        .grant_ids(u64::try_from(first).unwrap_or(0), ID_BLOCK);
                }
            }
            _ = flush.tick() => st.flush(now_s()),
            _ = reload.tick() => {
                let now = now_s();
                match load(store.as_ref(), &scope, now, true).await {
                    Ok(fresh) => {
                        let monitor = &mut st.monitor;
                        let mut jobs = Vec::with_capacity(fresh.len());
                        let mut keep = std::collections::HashSet::new();
                        let mut edited = false;
                        for (w, j) in fresh {
                            keep.insert(w.id);
                            let sig = target_sig(&w);
                            let changed = options_seen.get(&w.id) != Some(&sig);
                            if changed || monitor.get(w.id).is_none() {
                                edited = true;
                                // new or edited: take the new options, keep the memory
                                let memory = monitor.get(w.id).map(|old| old.memory.clone());
                                let mut w = w;
                                if let Some(m) = memory && options_seen.get(&w.id).is_some_and(|(u, _)| *u == sig.0) {
                                    w.memory = m;
                                }
                                options_seen.insert(w.id, sig);
                                monitor.insert(w);
                            }
                            jobs.push(j);
                        }
                        let gone: Vec<i64> = monitor.targets().map(|w| w.id).filter(|id| !keep.contains(id)).collect();
                        edited |= !gone.is_empty();
                        for id in gone {
                            monitor.remove(id);
                            metrics.forget(id);
                            options_seen.remove(&id);
                        }
                        // rescheduling only when something changed keeps
                        // every target's slot (a reload never skips a probe)
                        if edited {
                            sched.set_jobs(jobs);
                        }
                    }
                    Err(e) => eprintln!("error: reloading targets: {e:#}"),
                }
            }
            _ = canary_tick.tick(), if canary.is_some() => {
                if let Some(u) = &canary {
                    let env = env.clone();
                    let mut spec = ProbeSpec::new(u.clone());
                    spec.timeout = Duration::from_secs(5);
                    spec.max_body = 64 * 1024;
                    let tx = canary_tx.clone();
                    tokio::spawn(async move {
                        let o = vigie_watch::probe::probe(&env, &spec).await;
                        let _ = tx.send(o.error.is_none()).await;
                    });
                }
            }
            Some(ok) = canary_rx.recv() => st.on_canary(ok, now_s()),
            _ = prune.tick() => {
                let before = now_s() - i64::from(a.retention_days) * 86_400;
                if let Err(e) = store.prune_watch_samples(before).await {
                    eprintln!("error: pruning samples: {e}");
                }
            }
        }
    }
    // stop probing, judge what was received, store what is pending, send
    // what is queued, then wait for the storage queue to be written
    let _ = shutdown_tx.send(true);
    let _ = sched_handle.await;
    while let Ok(r) = res_rx.try_recv() {
        st.on_result(r);
    }
    let now = now_s();
    st.flush(now);
    st.send_notices(Vec::new(), now);
    drop(st);
    let _ = sender.await;
    tokio::select! {
        _ = writer.close() => {}
        _ = tokio::signal::ctrl_c() => {
            let w = writer.waiting();
            eprintln!(
                "error: interrupted while the database was busy: {} events, {} states, {} notices, {} incident changes and {} samples were not written",
                w.events, w.states, w.notices, w.incident_changes, w.samples
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct EventJson {
    target: String,
    establishment: Option<String>,
    at: String,
    from: String,
    to: String,
    detail: serde_json::Value,
}

async fn events(
    ctx: &Ctx,
    since: Option<String>,
    limit: u64,
    region: Option<String>,
    establishment: Option<String>,
) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let scope = scope_of(region.as_deref(), establishment.as_deref())?;
    let since = crate::app::parse_day(since.as_deref(), "since")?
        .unwrap_or_else(|| today().add_days(-7))
        .start_second();
    let rows = store.watch_events(&scope, since, limit).await?;
    let json: Vec<EventJson> = rows
        .iter()
        .map(|e| EventJson {
            target: e.target.clone(),
            establishment: e.establishment.as_ref().map(ToString::to_string),
            at: rfc(e.at),
            from: e.from.clone(),
            to: e.to.clone(),
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
        })
        .collect();
    let mut t = Table::new(["at", "target", "establishment", "from", "to", "why"]);
    for e in &json {
        t.row([
            e.at.clone(),
            e.target.clone(),
            e.establishment.clone().unwrap_or_default(),
            e.from.clone(),
            e.to.clone(),
            summarise_reasons(&e.detail, None),
        ]);
    }
    emit(ctx.format, &json, &t)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct UptimeJson {
    group: String,
    day: Day,
    probes: u64,
    up: u64,
    degraded: u64,
    uptime: f64,
}

async fn uptime(
    ctx: &Ctx,
    by: &str,
    from: Option<String>,
    to: Option<String>,
    region: Option<String>,
    establishment: Option<String>,
) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let scope = scope_of(region.as_deref(), establishment.as_deref())?;
    let group = WatchGroup::parse(by)
        .with_context(|| format!("--by {by}: use sector, region, establishment or target"))?;
    let to = crate::app::parse_day(to.as_deref(), "to")?.unwrap_or_else(today);
    let from = crate::app::parse_day(from.as_deref(), "from")?.unwrap_or_else(|| to.add_days(-6));
    let rows = store.watch_uptime(&scope, group, from, to).await?;
    let json: Vec<UptimeJson> = rows
        .iter()
        .map(|r| UptimeJson {
            group: r.group.clone(),
            day: r.day,
            probes: r.probes,
            up: r.up,
            degraded: r.degraded,
            uptime: (r.uptime() * 1e6).round() / 1e6,
        })
        .collect();
    let mut t = Table::new(["group", "day", "probes", "available", "uptime"]);
    for r in &json {
        t.row([
            r.group.clone(),
            r.day.to_string(),
            r.probes.to_string(),
            r.up.to_string(),
            pct(r.up, r.probes),
        ]);
    }
    emit(ctx.format, &json, &t)?;
    Ok(ExitCode::SUCCESS)
}

async fn notices(ctx: &Ctx, limit: u64) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let rows = store.watch_notices(limit).await?;
    let json: Vec<serde_json::Value> = rows
        .iter()
        .map(|n| {
            serde_json::json!({
                "id": n.id,
                "at": rfc(n.at),
                "kind": n.kind,
                "key": n.incident_key,
                "alert": serde_json::from_str::<serde_json::Value>(&n.payload).unwrap_or_default(),
                "deliveries": serde_json::from_str::<serde_json::Value>(&n.deliveries).unwrap_or_default(),
            })
        })
        .collect();
    let mut t = Table::new(["id", "at", "kind", "title", "deliveries"]);
    for j in &json {
        let deliveries = j["deliveries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        format!(
                            "{}: {}",
                            d["route"].as_str().unwrap_or(""),
                            d["outcome"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        t.row([
            j["id"].to_string(),
            j["at"].as_str().unwrap_or("").to_string(),
            j["kind"].as_str().unwrap_or("").to_string(),
            j["alert"]["title"].as_str().unwrap_or("").to_string(),
            deliveries,
        ]);
    }
    emit(ctx.format, &json, &t)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_watch::correlate::{GroupScope, IncidentRecord};

    fn member(t: &str) -> Member {
        Member {
            target: t.into(),
            status: Status::Down,
            establishment: None,
            region: None,
        }
    }

    #[test]
    fn an_end_is_forgotten_only_after_its_notice_and_the_rest_at_once() {
        let record = IncidentRecord {
            id: 7,
            scope: GroupScope::Sector,
            began: 100,
            announced: true,
            last_notice: 110,
            unreported: vec![],
        };
        let changes = vec![
            Change::Incident {
                record: IncidentRecord {
                    id: 8,
                    ..record.clone()
                },
                members: vec![member("a")],
                removed: vec![],
            },
            Change::IncidentClosed { id: 7 },
            // an incident never announced dissolves: nothing to wait for
            Change::IncidentClosed { id: 9 },
            Change::LoneClosed {
                target: "portal".into(),
            },
        ];
        let notices = vec![
            Notice::IncidentResolved {
                incident: 7,
                scope: GroupScope::Sector,
                members: vec![member("b")],
                began: 100,
                at: 200,
            },
            Notice::TargetRecovered {
                target: member("portal"),
                at: 200,
            },
        ];
        let (now, after) = plan_ops(&changes, &notices, 200);
        let now_keys: Vec<String> = now
            .iter()
            .map(|op| match op {
                WatchIncidentOp::Save { key, .. } => format!("save {key}"),
                WatchIncidentOp::Close { key } => format!("close {key}"),
                WatchIncidentOp::Delivered { key, .. } => format!("delivered {key}"),
            })
            .collect();
        assert_eq!(now_keys, ["save incident-8", "close incident-9"]);
        assert_eq!(
            after.get("incident-7"),
            Some(&vec![WatchIncidentOp::Close {
                key: "incident-7".into()
            }])
        );
        assert_eq!(
            after.get("target:portal"),
            Some(&vec![WatchIncidentOp::Close {
                key: "target:portal".into()
            }])
        );
        // what is stored reads back as what was open
        let WatchIncidentOp::Save { data, members, .. } = &now[0] else {
            unreachable!()
        };
        let (incidents, _, _) = parse_open(vec![WatchOpenIncident {
            key: "incident-8".into(),
            data: data.clone(),
            updated_at: 200,
            members: members.clone(),
            routes: vec!["national".into()],
        }]);
        assert_eq!(incidents.len(), 1);
        assert_eq!(incidents[0].0.id, 8);
        assert_eq!(incidents[0].1, vec![member("a")]);
        // and so does a failure notified on its own
        let (now, _) = plan_ops(
            &[Change::Lone {
                member: member("portal"),
                since: 150,
            }],
            &[],
            200,
        );
        let WatchIncidentOp::Save {
            key, data, members, ..
        } = &now[0]
        else {
            unreachable!()
        };
        let (_, lone, routes) = parse_open(vec![WatchOpenIncident {
            key: key.clone(),
            data: data.clone(),
            updated_at: 200,
            members: members.clone(),
            routes: vec!["ops".into()],
        }]);
        assert_eq!(lone, vec![(member("portal"), 150)]);
        assert_eq!(
            routes,
            vec![("target:portal".to_string(), vec!["ops".to_string()])]
        );
    }
}
