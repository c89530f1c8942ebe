//! `vigie bench ingest-http`: the same inventories ingested twice into two
//! fresh databases, once the way `vigie ingest` does it (one pipeline, the
//! files in turn) and once uploaded to `vigie serve` through
//! `POST /api/v1/ingest/{establishment}`, so the two rates can be compared.

use crate::app::{Ctx, today};
use crate::output::{Table, emit};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigie_core::EstablishmentCode;
use vigie_ingest::IngestOptions;
use vigie_store::{Scope, SqlStore, Store};

#[derive(Args)]
pub struct IngestHttpArgs {
    /// Machines in all (spread evenly over the establishments).
    #[arg(long, default_value_t = 100_000)]
    hosts: u64,
    /// Establishments: one osquery file each, as each would upload its own.
    #[arg(long, default_value_t = 200)]
    establishments: usize,
    #[arg(long, default_value_t = 100)]
    programs: usize,
    #[arg(long, default_value_t = 100)]
    hotfixes: usize,
    /// Who uploads: `ingest` (one ingest token per establishment, the
    /// confined path establishments use) or `admin` (a national
    /// administrator's token, the same matching as the CLI).
    #[arg(long, default_value = "ingest")]
    uploader: String,
    /// Scratch directory (default: a new temporary directory). Must be on
    /// a local disk; both databases and the inventories go there.
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Serialize)]
struct Run {
    seconds: f64,
    hosts_per_second: f64,
    hosts: u64,
    open_findings: u64,
}

#[derive(Serialize)]
struct IngestHttpBench {
    machine: String,
    hosts: u64,
    establishments: usize,
    files: usize,
    input_bytes: u64,
    uploader: String,
    cli: Run,
    http: Run,
    http_over_cli: f64,
}

/// Splits a fleet log into one file per establishment (by the
/// `establishment` decoration every line carries).
fn split_by_establishment(
    fleet: &Path,
    codes: &[EstablishmentCode],
    out: &Path,
) -> Result<Vec<(EstablishmentCode, PathBuf)>> {
    std::fs::create_dir_all(out)?;
    let mut writers: HashMap<String, (std::io::BufWriter<std::fs::File>, PathBuf)> = HashMap::new();
    let mut files = Vec::new();
    for c in codes {
        let p = out.join(format!("{c}.jsonl"));
        let f = std::fs::File::create(&p).with_context(|| p.display().to_string())?;
        writers.insert(
            c.as_str().to_string(),
            (std::io::BufWriter::with_capacity(1 << 16, f), p.clone()),
        );
        files.push((c.clone(), p));
    }
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(fleet).with_context(|| fleet.display().to_string())?,
    );
    let marker = "\"establishment\":\"";
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", fleet.display(), n + 1))?;
        let code = line
            .find(marker)
            .map(|i| &line[i + marker.len()..])
            .and_then(|rest| rest.split('"').next())
            .with_context(|| format!("{}: line {} has no establishment", fleet.display(), n + 1))?;
        let (w, _) = writers
            .get_mut(code)
            .with_context(|| format!("{}: line {}: unknown {code}", fleet.display(), n + 1))?;
        w.write_all(line.as_bytes())?;
        w.write_all(b"\n")?;
    }
    for (_, (mut w, p)) in writers {
        w.flush().with_context(|| p.display().to_string())?;
    }
    Ok(files)
}

/// A fresh SQLite database holding the benchmark's organisation.
async fn fresh_db(path: &Path, codes: &[EstablishmentCode]) -> Result<(String, SqlStore)> {
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{s}", path.display()));
    }
    let db = path.display().to_string();
    let sql = SqlStore::connect(&db).await?;
    crate::bench::import_bench_org(&sql, codes).await?;
    Ok((db, sql))
}

async fn finish(sql: SqlStore, seconds: f64, hosts: u64) -> Result<Run> {
    let stats = sql.stats(&Scope::National).await?;
    sql.close().await;
    Ok(Run {
        seconds: (seconds * 100.0).round() / 100.0,
        hosts_per_second: (hosts as f64 / seconds.max(1e-9)).round(),
        hosts: stats.hosts,
        open_findings: stats.open_findings,
    })
}

pub async fn run(ctx: &Ctx, a: IngestHttpArgs) -> Result<ExitCode> {
    if a.hosts == 0 || a.establishments == 0 || a.establishments > 1000 {
        bail!("--hosts must be positive and --establishments between 1 and 1000");
    }
    let admin = match a.uploader.as_str() {
        "ingest" => false,
        "admin" => true,
        other => bail!("--uploader: ingest or admin, not {other:?}"),
    };
    if ctx.db.starts_with("postgres") {
        bail!("bench ingest-http compares two fresh SQLite databases; leave --db unset");
    }
    let tmp;
    let dir = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let codes = crate::bench::bench_codes(a.establishments)?;

    // the inventories: one fleet, split per establishment
    let fleet = dir.join("fleet.jsonl");
    {
        let f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&fleet)?);
        let (codes, p) = (codes.clone(), fleet.clone());
        let (hosts, programs, hotfixes) = (a.hosts, a.programs, a.hotfixes);
        tokio::task::spawn_blocking(move || {
            vigie_demo::write_osquery_fleet(f, hosts, &codes, programs, hotfixes, today(), 42)
        })
        .await?
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?;
    }
    let split_dir = dir.join("per-establishment");
    let files = {
        let (fleet, codes, out) = (fleet.clone(), codes.clone(), split_dir.clone());
        tokio::task::spawn_blocking(move || split_by_establishment(&fleet, &codes, &out)).await??
    };
    std::fs::remove_file(&fleet)?;
    let input_bytes: u64 = files
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let say = |m: String| {
        if !ctx.quiet {
            eprintln!("{m}");
        }
    };
    say(format!(
        "{} files, {:.1} MiB; ingesting with the CLI's pipeline",
        files.len(),
        input_bytes as f64 / 1_048_576.0
    ));

    // 1. the CLI's way: one pipeline, the files in turn
    let (_, sql) = fresh_db(&dir.join("cli.db"), &codes).await?;
    let store: Arc<dyn Store> = Arc::new(sql.clone());
    let mut pipeline = ctx.pipeline(&store).await?;
    let t = Instant::now();
    for (code, path) in &files {
        let opts = IngestOptions {
            establishment: Some(code.clone()),
            confine: !admin,
            ..Default::default()
        };
        pipeline
            .ingest_file(path, &opts)
            .await
            .with_context(|| path.display().to_string())?;
    }
    let cli_secs = t.elapsed().as_secs_f64();
    drop(pipeline);
    drop(store);
    let cli = finish(sql, cli_secs, a.hosts).await?;
    say(format!(
        "CLI: {:.1} s = {:.0} hosts/s; uploading to vigie serve",
        cli.seconds, cli.hosts_per_second
    ));

    // 2. over HTTP: a server on loopback, one upload per file
    let (http_db, sql) = fresh_db(&dir.join("http.db"), &codes).await?;
    let now = jiff::Timestamp::now();
    let expires = jiff::Timestamp::from_second(now.as_second() + 24 * 3600).ok();
    let mut secrets: HashMap<String, String> = HashMap::new();
    let grants: Vec<(String, Option<EstablishmentCode>)> = if admin {
        vec![("national-admin".into(), None)]
    } else {
        codes
            .iter()
            .map(|c| ("ingest".to_string(), Some(c.clone())))
            .collect()
    };
    for (role, est) in grants {
        let t = vigie_auth::new_api_token()?;
        sql.create_token(&vigie_store::NewApiToken {
            name: format!("bench-{}", est.as_ref().map_or("admin", |e| e.as_str())),
            prefix: t.prefix.clone(),
            token_hash: t.hash.clone(),
            role,
            region: None,
            establishment: est.clone(),
            created_by: "bench".into(),
            created_at: now,
            expires_at: expires,
        })
        .await?;
        secrets.insert(
            est.map_or_else(|| "*".to_string(), |e| e.as_str().to_string()),
            t.secret,
        );
    }
    let server_ctx = Ctx {
        db: http_db,
        format: ctx.format,
        rules_dir: ctx.rules_dir.clone(),
        quiet: true,
    };
    let state = crate::serve::build_state(
        &server_ctx,
        &crate::serve::ServeArgs::loopback("127.0.0.1:0".parse()?),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = vigie_web::serve(listener, state, std::future::pending()).await;
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let t = Instant::now();
    for (code, path) in &files {
        let secret = secrets
            .get(code.as_str())
            .or_else(|| secrets.get("*"))
            .context("no token for the upload")?;
        // reading the file is part of the uploader's work, as it is the CLI's
        let body = tokio::fs::read(path)
            .await
            .with_context(|| path.display().to_string())?;
        let r = client
            .post(format!(
                "http://{addr}/api/v1/ingest/{code}?format=osquery&name={code}.jsonl"
            ))
            .bearer_auth(secret)
            .body(body)
            .send()
            .await?;
        let status = r.status();
        if !status.is_success() {
            let text = r.text().await.unwrap_or_default();
            bail!("upload of {}: {status}: {text}", path.display());
        }
    }
    let http_secs = t.elapsed().as_secs_f64();
    server.abort();
    let _ = server.await;
    let http = finish(sql, http_secs, a.hosts).await?;
    if http.hosts != cli.hosts || http.open_findings != cli.open_findings {
        bail!(
            "the two databases differ: CLI {} machines, {} findings; HTTP {} machines, {} findings",
            cli.hosts,
            cli.open_findings,
            http.hosts,
            http.open_findings
        );
    }
    let ratio = http.hosts_per_second / cli.hosts_per_second.max(1e-9);
    let out = IngestHttpBench {
        machine: crate::bench::machine(),
        hosts: a.hosts,
        establishments: a.establishments,
        files: files.len(),
        input_bytes,
        uploader: a.uploader.clone(),
        cli,
        http,
        http_over_cli: (ratio * 1000.0).round() / 1000.0,
    };
    let mut t = Table::new(["path", "seconds", "hosts/s", "machines", "open findings"]);
    for (name, r) in [("vigie ingest (CLI)", &out.cli), ("HTTP upload", &out.http)] {
        t.row([
            name.to_string(),
            format!("{:.2}", r.seconds),
            format!("{:.0}", r.hosts_per_second),
            r.hosts.to_string(),
            r.open_findings.to_string(),
        ]);
    }
    t.row([
        "HTTP / CLI".to_string(),
        String::new(),
        format!("{:.1} %", out.http_over_cli * 100.0),
        String::new(),
        String::new(),
    ]);
    if ctx.format == crate::output::OutputFormat::Table && !ctx.quiet {
        eprintln!(
            "machine: {}; {} machines in {} files ({:.1} MiB), uploader {}",
            out.machine,
            out.hosts,
            out.files,
            input_bytes as f64 / 1_048_576.0,
            out.uploader
        );
    }
    emit(ctx.format, &out, &t)?;
    Ok(ExitCode::SUCCESS)
}
