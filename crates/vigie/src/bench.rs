//! `vigie bench`: the measurements behind BENCHMARKS.md. Each prints what it
//! measured and the machine it ran on; nothing here asserts a time.

use crate::app::{Ctx, today};
use crate::output::{Table, emit};
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use vigie_core::{Day, Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};
use vigie_ingest::IngestOptions;
use vigie_store::{GroupBy, Scope, SqlStore, Store};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Ingest + assess a synthetic Windows fleet from osquery JSON lines, then
    /// re-ingest it as daily snapshots of a mostly unchanged fleet.
    Ingest {
        #[arg(long, default_value_t = 100_000)]
        hosts: u64,
        #[arg(long, default_value_t = 100)]
        programs: usize,
        #[arg(long, default_value_t = 100)]
        hotfixes: usize,
        /// Daily snapshots to ingest (the first is the initial load).
        #[arg(long, default_value_t = 1)]
        days: u32,
        #[arg(long, default_value_t = 200)]
        establishments: usize,
        /// Scratch directory (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Allow emptying a non-empty PostgreSQL database first.
        #[arg(long)]
        reset: bool,
        /// Keep the input files and reuse them on the next run (otherwise each
        /// day's file is deleted once ingested).
        #[arg(long)]
        reuse_input: bool,
    },
    /// The exposure watch: HTTPS targets on loopback probed by `vigie watch run` and by
    /// prometheus-blackbox-exporter side by side (CPU per probe), then a mass defacement
    /// and the time to its grouped notification.
    Watch(crate::bench_watch::WatchBenchArgs),
    /// Page and API latencies of `vigie serve` on the current database, and
    /// the overview API's throughput with wrk.
    Web(crate::bench_web::WebBenchArgs),
    /// The same inventories ingested by the CLI's pipeline and uploaded to
    /// `vigie serve` over HTTP, into two fresh databases: both rates.
    IngestHttp(crate::bench_http::IngestHttpArgs),
    /// The watch benchmark's site server (run by `bench watch` in its own process).
    #[command(hide = true)]
    ServeSites(crate::bench_watch::ServeSitesArgs),
    /// Time `assess` on the current database at a date long after its last
    /// observations (a gap with no assessment), with peak memory.
    Assess {
        /// Days after today to assess at.
        #[arg(long, default_value_t = 365)]
        days_later: u32,
    },
    /// One host's osquery differential log of N program rows (9 in 10 added,
    /// 1 in 10 removed, all at one second) ingested into a fresh SQLite file.
    Differential {
        /// Row counts to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "25000,50000,100000")]
        rows: Vec<usize>,
    },
    /// Time `posture` (sector, region, establishment) on the current database.
    Posture {
        #[arg(long, default_value_t = 20)]
        iterations: u32,
        #[arg(long)]
        at: Option<String>,
    },
}

/// Establishment codes of the synthetic benchmark fleets: E00000, E00001…
pub(crate) fn bench_codes(n: usize) -> Result<Vec<EstablishmentCode>> {
    Ok((0..n)
        .map(|i| EstablishmentCode::new(&format!("E{i:05}")))
        .collect::<Result<_, _>>()?)
}

/// One region, BENCH, holding the benchmark's establishments.
pub(crate) async fn import_bench_org(store: &dyn Store, codes: &[EstablishmentCode]) -> Result<()> {
    let region = RegionCode::new("BENCH")?;
    let ests: Vec<Establishment> = codes
        .iter()
        .map(|c| Establishment {
            code: c.clone(),
            name: format!("Bench establishment {c}"),
            kind: EstablishmentKind::Acute,
            region: region.clone(),
            parent: None,
            hostname_patterns: vec![],
            subnets: vec![],
        })
        .collect();
    store
        .import_org(
            &[Region {
                code: region,
                name: "Bench".into(),
            }],
            &ests,
        )
        .await?;
    Ok(())
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0);
    format!(
        "{cpu}, {cores} cores, {:.0} GiB RAM",
        mem as f64 / 1_048_576.0
    )
}

/// Peak resident memory of this process (VmHWM), in MiB.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn db_bytes(path: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

#[derive(Serialize)]
struct IngestBench {
    machine: String,
    backend: String,
    hosts: u64,
    programs_per_host: usize,
    hotfixes_per_host: usize,
    input_bytes: u64,
    first_load_seconds: f64,
    first_load_hosts_per_second: f64,
    snapshots: u32,
    snapshot_seconds: Vec<f64>,
    db_bytes: Option<u64>,
    db_bytes_per_host: Option<f64>,
    peak_rss_mib: f64,
    open_findings: u64,
}

pub async fn run(ctx: &Ctx, cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Watch(a) => crate::bench_watch::bench(ctx, a).await,
        BenchCommand::Web(a) => crate::bench_web::run(ctx, a).await,
        BenchCommand::IngestHttp(a) => crate::bench_http::run(ctx, a).await,
        BenchCommand::ServeSites(a) => crate::bench_watch::serve_sites(a).await,
        BenchCommand::Ingest {
            hosts,
            programs,
            hotfixes,
            days,
            establishments,
            dir,
            reuse_input,
            reset,
        } => {
            if days == 0 || establishments == 0 || hosts == 0 {
                bail!("--hosts, --days and --establishments must be positive");
            }
            let tmp;
            let dir = match dir {
                Some(d) => {
                    std::fs::create_dir_all(&d)?;
                    d
                }
                None => {
                    tmp = tempfile::tempdir()?;
                    tmp.path().to_path_buf()
                }
            };
            let sqlite_path = dir.join("bench.db");
            let is_sqlite = !ctx.db.starts_with("postgres");
            let db = if is_sqlite {
                sqlite_path.display().to_string()
            } else {
                ctx.db.clone()
            };
            if is_sqlite {
                for s in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{s}", sqlite_path.display()));
                }
            }
            let sql = SqlStore::connect(&db).await?;
            let store: Arc<dyn Store> = Arc::new(sql.clone());
            // SQLite benches use a scratch file; a server database is emptied
            // only when it holds nothing or when asked to
            let existing = store.stats(&Scope::National).await?;
            let has_org = !store.establishments(&Scope::National).await?.is_empty();
            if !is_sqlite && (existing.hosts > 0 || existing.files > 0 || has_org) && !reset {
                bail!(
                    "database {} is not empty; the benchmark would erase it: pass --reset to allow that, or use an empty database",
                    crate::app::redact(&db)
                );
            }
            store.reset().await?;
            let codes = bench_codes(establishments)?;
            import_bench_org(store.as_ref(), &codes).await?;
            let end = today();
            let first_day = end.add_days(-(i32::try_from(days).unwrap_or(1) - 1));
            let mut pipeline = ctx.pipeline(&store).await?;
            let mut input_bytes = 0;
            let mut times = Vec::new();
            // one day at a time: write the snapshot, ingest it, and (unless it
            // is kept for reuse) delete it, so disk use stays at one snapshot
            for d in 0..days {
                let day = first_day.add_days(i32::try_from(d).unwrap_or(0));
                let path = dir.join(format!("fleet-{day}.jsonl"));
                if !(reuse_input && path.exists()) {
                    let f =
                        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
                    let codes = codes.clone();
                    let p = path.clone();
                    tokio::task::spawn_blocking(move || {
                        vigie_demo::write_osquery_fleet(
                            f, hosts, &codes, programs, hotfixes, day, 42,
                        )
                    })
                    .await?
                    .map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?;
                }
                input_bytes += std::fs::metadata(&path)?.len();
                let t = Instant::now();
                let r = pipeline
                    .ingest_file(&path, &IngestOptions::default())
                    .await
                    .with_context(|| path.display().to_string())?;
                times.push(t.elapsed().as_secs_f64());
                if !ctx.quiet {
                    eprintln!(
                        "{}: {} observations in {:.2} s",
                        path.display(),
                        r.observations,
                        times[times.len() - 1]
                    );
                }
                if !reuse_input {
                    std::fs::remove_file(&path)?;
                }
            }
            let stats = store.stats(&Scope::National).await?;
            // closing checkpoints the write-ahead log into the database file
            drop(pipeline);
            sql.close().await;
            let bytes = is_sqlite.then(|| db_bytes(&sqlite_path));
            let first = times.first().copied().unwrap_or(0.0);
            let result = IngestBench {
                machine: machine(),
                backend: store.backend().into(),
                hosts,
                programs_per_host: programs,
                hotfixes_per_host: hotfixes,
                input_bytes,
                first_load_seconds: first,
                first_load_hosts_per_second: hosts as f64 / first.max(1e-9),
                snapshots: days,
                snapshot_seconds: times.clone(),
                db_bytes: bytes,
                db_bytes_per_host: bytes.map(|b| b as f64 / hosts as f64),
                peak_rss_mib: peak_rss_mib(),
                open_findings: stats.open_findings,
            };
            let mut t = Table::new(["measure", "value"]);
            t.row(["machine".to_string(), result.machine.clone()]);
            t.row(["backend".to_string(), result.backend.clone()]);
            t.row([
                "hosts × (programs, hotfixes)".to_string(),
                format!("{hosts} × ({programs}, {hotfixes})"),
            ]);
            t.row([
                "input".to_string(),
                format!(
                    "{:.1} MiB in {days} file(s)",
                    input_bytes as f64 / 1_048_576.0
                ),
            ]);
            t.row([
                "first load".to_string(),
                format!(
                    "{first:.2} s = {:.0} hosts/s",
                    result.first_load_hosts_per_second
                ),
            ]);
            if days > 1 {
                let rest: Vec<String> = times[1..].iter().map(|s| format!("{s:.2}")).collect();
                t.row(["later snapshots (s)".to_string(), rest.join(", ")]);
            }
            if let (Some(b), Some(per)) = (result.db_bytes, result.db_bytes_per_host) {
                t.row([
                    "database".to_string(),
                    format!("{:.1} MiB = {per:.0} bytes/host", b as f64 / 1_048_576.0),
                ]);
            }
            t.row([
                "peak RSS".to_string(),
                format!("{:.0} MiB", result.peak_rss_mib),
            ]);
            t.row([
                "open findings".to_string(),
                result.open_findings.to_string(),
            ]);
            emit(ctx.format, &result, &t)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Assess { days_later } => {
            let store = ctx.store().await?;
            let mut pipeline = ctx.pipeline(&store).await?;
            let at = jiff::Timestamp::now()
                .checked_add(jiff::SignedDuration::from_hours(24 * i64::from(days_later)))
                .context("--days-later is too far")?;
            let t = Instant::now();
            let r = pipeline.assess(at).await?;
            let seconds = t.elapsed().as_secs_f64();
            #[derive(Serialize)]
            struct AssessBench {
                machine: String,
                backend: String,
                at: String,
                hosts: u64,
                findings_opened: u64,
                findings_closed: u64,
                seconds: f64,
                hosts_per_second: f64,
                peak_rss_mib: f64,
            }
            let result = AssessBench {
                machine: machine(),
                backend: store.backend().into(),
                at: at.to_string(),
                hosts: r.hosts,
                findings_opened: r.findings_opened,
                findings_closed: r.findings_closed,
                seconds,
                hosts_per_second: r.hosts as f64 / seconds.max(1e-9),
                peak_rss_mib: peak_rss_mib(),
            };
            let mut t = Table::new(["measure", "value"]);
            t.row(["machine".to_string(), result.machine.clone()]);
            t.row(["backend".to_string(), result.backend.clone()]);
            t.row(["assessed at".to_string(), result.at.clone()]);
            t.row(["machines".to_string(), result.hosts.to_string()]);
            t.row([
                "findings opened / closed".to_string(),
                format!("{} / {}", result.findings_opened, result.findings_closed),
            ]);
            t.row(["time".to_string(), format!("{:.2} s", result.seconds)]);
            t.row([
                "rate".to_string(),
                format!("{:.0} machines/s", result.hosts_per_second),
            ]);
            t.row([
                "peak RSS".to_string(),
                format!("{:.0} MiB", result.peak_rss_mib),
            ]);
            emit(ctx.format, &result, &t)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Differential { rows } => {
            #[derive(Serialize)]
            struct DiffBench {
                machine: String,
                rows: usize,
                seconds: f64,
            }
            let mut results = Vec::new();
            for n in rows {
                let dir = tempfile::tempdir()?;
                let db = dir.path().join("bench.db").display().to_string();
                let store: Arc<dyn Store> = Arc::new(SqlStore::connect(&db).await?);
                let codes = bench_codes(1)?;
                import_bench_org(store.as_ref(), &codes).await?;
                let path = dir.path().join("diff.log");
                std::fs::write(&path, differential_log(&codes[0], n))?;
                let mut pipeline = ctx.pipeline(&store).await?;
                let t = Instant::now();
                let r = pipeline
                    .ingest_file(&path, &IngestOptions::default())
                    .await
                    .with_context(|| path.display().to_string())?;
                let seconds = t.elapsed().as_secs_f64();
                if r.hosts_new != 1 {
                    bail!("expected one machine, got {r:?}");
                }
                results.push(DiffBench {
                    machine: machine(),
                    rows: n,
                    seconds,
                });
            }
            let mut t = Table::new(["rows", "ingest"]);
            for r in &results {
                t.row([r.rows.to_string(), format!("{:.2} s", r.seconds)]);
            }
            if !ctx.quiet {
                eprintln!("machine: {}", machine());
            }
            emit(ctx.format, &results, &t)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Posture { iterations, at } => {
            let store = ctx.store().await?;
            let at = match at {
                Some(s) => Day::parse(&s)?,
                None => today(),
            };
            let stats = store.stats(&Scope::National).await?;
            #[derive(Serialize)]
            struct Timing {
                by: String,
                iterations: u32,
                p50_ms: f64,
                p95_ms: f64,
                max_ms: f64,
            }
            let mut results = Vec::new();
            for (name, by) in [
                ("sector", GroupBy::Sector),
                ("region", GroupBy::Region),
                ("establishment", GroupBy::Establishment),
            ] {
                let mut ms = Vec::new();
                for _ in 0..iterations.max(1) {
                    let t = Instant::now();
                    let rows = store.posture(&Scope::National, by, at).await?;
                    std::hint::black_box(rows);
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                ms.sort_by(|a, b| a.total_cmp(b));
                let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
                results.push(Timing {
                    by: name.into(),
                    iterations,
                    p50_ms: q(0.5),
                    p95_ms: q(0.95),
                    max_ms: q(1.0),
                });
            }
            let mut t = Table::new(["posture --by", "hosts", "p50 ms", "p95 ms", "max ms"]);
            for r in &results {
                t.row([
                    r.by.clone(),
                    stats.hosts.to_string(),
                    format!("{:.1}", r.p50_ms),
                    format!("{:.1}", r.p95_ms),
                    format!("{:.1}", r.max_ms),
                ]);
            }
            eprintln!(
                "machine: {}; backend {}; {} hosts",
                machine(),
                store.backend(),
                stats.hosts
            );
            emit(ctx.format, &results, &t)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One host's osquery differential log: its OS, then `rows` program rows
/// at one second, 9 in 10 added and 1 in 10 removed.
fn differential_log(est: &EstablishmentCode, rows: usize) -> String {
    let head = format!(
        r#""hostIdentifier":"diff-host-1","unixTime":1700000000,"decorations":{{"establishment":"{est}"}}"#
    );
    let mut out = format!(
        "{{\"snapshot\":[{{\"name\":\"Microsoft Windows 10 Pro\",\"version\":\"10.0.19045\",\"major\":\"10\",\"minor\":\"0\",\"build\":\"19045\",\"platform\":\"windows\"}}],\"action\":\"snapshot\",\"name\":\"os\",{head}}}\n"
    );
    for i in 0..rows {
        let action = if i % 10 == 9 { "removed" } else { "added" };
        out.push_str(&format!(
            "{{\"name\":\"programs\",\"columns\":{{\"name\":\"Program {i}\",\"version\":\"1.{i}\",\"publisher\":\"Vendor {}\"}},\"action\":\"{action}\",{head}}}\n",
            i % 97
        ));
    }
    out
}
