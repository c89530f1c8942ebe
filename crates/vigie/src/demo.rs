//! `vigie demo`: a synthetic sector on real registries, written as real
//! inventory files in every supported format, ingested day by day, and
//! summarised.

use crate::app::Ctx;
use crate::output::{OutputFormat, Table, emit, pct, progress};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use vigie_core::{Day, RuleId};
use vigie_ingest::IngestOptions;
use vigie_store::{GroupBy, Scope, SqlStore, Step, Store};

/// The default last day of the demo's history: the end of the month of the
/// knowledge base's newest Windows update data.
const DEMO_END: &str = "2026-08-31";

#[derive(Args)]
pub struct DemoArgs {
    /// england (NHS trusts and GP practices) or france (FINESS hospitals).
    #[arg(long, default_value = "england")]
    profile: String,
    /// Fleet size factor: 1.0 is the whole sector (England ≈ 1.5M endpoints).
    #[arg(long, default_value_t = 0.003)]
    scale: f64,
    /// Days of history (a migration under way).
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Last day of the history (default 2026-08-31: the bundled Windows update
    /// history ends in August 2026, and later days would show every machine behind).
    #[arg(long, default_value = DEMO_END)]
    end: String,
    #[arg(long, default_value_t = 2017)]
    seed: u64,
    /// Where the inventory files (and, unless --db is given, the database) go.
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Empty the database first when it already holds data.
    #[arg(long)]
    reset: bool,
    /// Exit after the summary instead of serving the dashboard.
    #[arg(long)]
    no_serve: bool,
    /// Where the dashboard is served at the end (loopback, plain HTTP).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
}

/// Creates (or resets the password of) the demo accounts: a national
/// administrator and the officer of one establishment. Returns
/// (username, password, perimeter) for each.
async fn demo_accounts(store: &dyn Store) -> Result<Vec<(String, String, String)>> {
    let org = store.org().await?;
    let mut out = Vec::new();
    let mut wanted = vec![("demo".to_string(), "national-admin".to_string(), None)];
    if let Some(e) = org
        .establishments()
        .iter()
        .find(|e| e.kind.as_str() == "acute")
    {
        wanted.push((
            "demo-officer".to_string(),
            "establishment-officer".to_string(),
            Some(e.code.clone()),
        ));
    }
    for (name, role, est) in wanted {
        // a fresh random password each run, printed once
        let password: String = vigie_auth::new_csrf_token()?.chars().take(20).collect();
        let hash = vigie_auth::hash_password(&password)?;
        if store.user_by_name(&name).await?.is_some() {
            store.set_user_password(&name, &hash).await?;
            store
                .set_user_disabled(&name, false, jiff::Timestamp::now())
                .await?;
        } else {
            store
                .create_user(&vigie_store::NewUser {
                    username: name.clone(),
                    password_hash: hash,
                    role: role.clone(),
                    region: None,
                    establishment: est.clone(),
                    created_at: jiff::Timestamp::now(),
                })
                .await?;
        }
        let perimeter = match &est {
            Some(e) => format!("{role} of {e}"),
            None => role,
        };
        out.push((name, password, perimeter));
    }
    Ok(out)
}

#[derive(Serialize)]
struct DemoSummary {
    profile: String,
    database: String,
    regions: usize,
    establishments: usize,
    files: usize,
    observations: u64,
    hosts: u64,
    unassigned: u64,
    failed_files: usize,
    generate_seconds: f64,
    ingest_seconds: f64,
    from: String,
    to: String,
    first_day: Vec<(String, u64)>,
    last_day: Vec<(String, u64)>,
}

pub async fn run(ctx: &Ctx, a: DemoArgs) -> Result<ExitCode> {
    let profile: vigie_demo::Profile = a
        .profile
        .parse()
        .map_err(|e| anyhow::anyhow!("--profile: {e}"))?;
    if !(a.scale > 0.0 && a.scale <= 4.0) {
        bail!("--scale must be in (0, 4]");
    }
    if a.days == 0 || a.days > 3650 {
        bail!("--days must be between 1 and 3650");
    }
    let end = Day::parse(&a.end).context("--end")?;
    let spec = vigie_demo::DemoSpec {
        profile,
        scale: a.scale,
        days: a.days,
        end,
        seed: a.seed,
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    // The demo never writes into the default production database: unless a
    // database was named, it uses its own file next to the inventories.
    let own_db = ctx.db == "vigie.db" && std::env::var_os("VIGIE_DB").is_none();
    let db = if own_db {
        a.out.join("vigie.db").display().to_string()
    } else {
        ctx.db.clone()
    };
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&db)
            .await
            .with_context(|| format!("opening {db}"))?,
    );
    let existing = store.stats(&Scope::National).await?;
    if existing.hosts > 0 || existing.files > 0 {
        if own_db || a.reset {
            store.reset().await?;
        } else {
            bail!(
                "database {} already holds {} hosts; pass --reset to replace them, or --db another database",
                crate::app::redact(&db),
                existing.hosts
            );
        }
    }
    let say = |msg: String| {
        if ctx.format == OutputFormat::Table && !ctx.quiet {
            eprintln!("{msg}");
        }
    };

    let t0 = Instant::now();
    // the sector is built once, off the async runtime, and reused for the
    // inventories
    let spec_for_sector = spec.clone();
    let sector = tokio::task::spawn_blocking(move || vigie_demo::sector(&spec_for_sector))
        .await?
        .map_err(|e| anyhow::anyhow!("building the sector: {e}"))?;
    let org_path = a.out.join("org.csv");
    {
        let f = std::fs::File::create(&org_path)
            .with_context(|| format!("writing {}", org_path.display()))?;
        vigie_demo::write_org_csv(&sector, std::io::BufWriter::new(f))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let (regions, ests) =
        vigie_inventory::parse_org_csv(std::io::BufReader::new(std::fs::File::open(&org_path)?))
            .map_err(|e| anyhow::anyhow!("{}: {e}", org_path.display()))?;
    store.import_org(&regions, &ests).await?;
    say(format!(
        "sector: {} regions, {} establishments ({} profile, scale {}); writing {} days of inventories to {}",
        regions.len(),
        ests.len(),
        a.profile,
        a.scale,
        a.days,
        a.out.display()
    ));
    let inv_dir = a.out.join("inventories");
    if inv_dir.exists() {
        std::fs::remove_dir_all(&inv_dir)
            .with_context(|| format!("clearing {}", inv_dir.display()))?;
    }
    let pb = progress(
        0,
        "generate",
        ctx.quiet || ctx.format != OutputFormat::Table,
    );
    let pb2 = pb.clone();
    let spec2 = spec.clone();
    let inv2 = inv_dir.clone();
    let files = tokio::task::spawn_blocking(move || {
        vigie_demo::write_inventories(&spec2, &sector, &inv2, &|n| pb2.inc(n))
    })
    .await?
    .map_err(|e| anyhow::anyhow!("writing inventories: {e}"))?;
    pb.finish_and_clear();
    let generate_seconds = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    let mut pipeline = ctx.pipeline(&store).await?;
    let pb = progress(
        files.len() as u64,
        "ingest",
        ctx.quiet || ctx.format != OutputFormat::Table,
    );
    let mut observations = 0u64;
    let mut failed = 0usize;
    let opts = IngestOptions::default();
    for f in &files {
        match pipeline.ingest_file(&f.path, &opts).await {
            Ok(r) => observations += r.observations,
            Err(e) => {
                failed += 1;
                pb.suspend(|| eprintln!("error: {e}"));
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let ingest_seconds = t1.elapsed().as_secs_f64();

    let start = end.add_days(-(i32::try_from(a.days).unwrap_or(30) - 1));
    // Machines report every 1 to 7 days: the fleet is complete after a week.
    let first_full = start.add_days(6).min(end);
    let stats = store.stats(&Scope::National).await?;
    let first = store
        .posture(&Scope::National, GroupBy::Sector, first_full)
        .await?;
    let last = store
        .posture(&Scope::National, GroupBy::Sector, end)
        .await?;
    let rules = ctx.rules()?;
    let mut t = Table::new([
        "rule",
        &format!("hosts on {first_full}"),
        &format!("hosts on {end}"),
        "change",
    ]);
    let mut first_day = Vec::new();
    let mut last_day = Vec::new();
    let (h0, h1) = (
        first.first().map_or(0, |r| r.hosts),
        last.first().map_or(0, |r| r.hosts),
    );
    t.row([
        "(machines)".to_string(),
        h0.to_string(),
        h1.to_string(),
        String::new(),
    ]);
    for r in rules.rules() {
        let id = r.id.to_string();
        let n0 = first
            .first()
            .and_then(|p| p.rules.get(&id))
            .copied()
            .unwrap_or(0);
        let n1 = last
            .first()
            .and_then(|p| p.rules.get(&id))
            .copied()
            .unwrap_or(0);
        let r1 = last
            .first()
            .and_then(|p| p.review.get(&id))
            .copied()
            .unwrap_or(0);
        let u1 = last
            .first()
            .and_then(|p| p.unknown.get(&id))
            .copied()
            .unwrap_or(0);
        first_day.push((id.clone(), n0));
        last_day.push((id.clone(), n1));
        let mut now = format!("{n1} ({})", pct(n1, h1));
        if r1 > 0 {
            now.push_str(&format!(" +{r1} to review"));
        }
        if u1 > 0 {
            now.push_str(&format!(" +{u1} unknown"));
        }
        t.row([
            id,
            format!("{n0} ({})", pct(n0, h0)),
            now,
            format!("{:+}", n1 as i64 - n0 as i64),
        ]);
    }
    let summary = DemoSummary {
        profile: a.profile.clone(),
        database: crate::app::redact(&db),
        regions: regions.len(),
        establishments: ests.len(),
        files: files.len(),
        observations,
        hosts: stats.hosts,
        unassigned: stats.unassigned_hosts,
        failed_files: failed,
        generate_seconds,
        ingest_seconds,
        from: first_full.to_string(),
        to: end.to_string(),
        first_day,
        last_day,
    };
    if ctx.format == OutputFormat::Table {
        println!(
            "\nvigie demo: {} machines ({} unassigned) in {} establishments, {} files, {} observations",
            stats.hosts,
            stats.unassigned_hosts,
            ests.len(),
            files.len(),
            observations
        );
        println!(
            "generated in {generate_seconds:.1} s, ingested and evaluated in {ingest_seconds:.1} s ({:.0} observations/s)\n",
            observations as f64 / ingest_seconds.max(0.001)
        );
        println!(
            "Sector posture after the first week (every machine has reported) and on the last day:"
        );
    }
    emit(ctx.format, &summary, &t)?;
    if ctx.format == OutputFormat::Table {
        let by_region = store
            .posture(&Scope::National, GroupBy::Region, end)
            .await?;
        let mut rt = Table::new([
            "region",
            "name",
            "hosts",
            "os-eol",
            "ms17-010-missing",
            "smbv1-enabled",
        ]);
        for r in &by_region {
            let g = |id: &str| {
                let n = r.rules.get(id).copied().unwrap_or(0);
                format!("{n} ({})", pct(n, r.hosts))
            };
            rt.row([
                r.group.clone(),
                r.name.clone(),
                r.hosts.to_string(),
                g("os-eol"),
                g("ms17-010-missing"),
                g("smbv1-enabled"),
            ]);
        }
        println!("\nBy region on {end}:");
        emit(OutputFormat::Table, &(), &rt)?;
        let trend = store
            .trend(
                &Scope::National,
                &RuleId::new("os-eol")?,
                GroupBy::Sector,
                start,
                end,
                Step::Week,
            )
            .await?;
        let line: Vec<String> = trend
            .iter()
            .map(|p| format!("{} {}", p.day, pct(p.with_rule, p.hosts)))
            .collect();
        println!("\nos-eol by week: {}", line.join(" → "));
        let db_flag = if own_db {
            format!(" --db {db}")
        } else {
            String::new()
        };
        println!("\nExplore:");
        println!("  vigie{db_flag} posture --by region");
        println!("  vigie{db_flag} hosts --rule ms17-010-missing --limit 20");
        println!("  vigie{db_flag} trend --rule os-eol --by region --step week --from {start}");
        println!("  vigie{db_flag} hosts --rule os-eol --at {start} --format json --limit 5");
    }
    if failed > 0 {
        return Ok(ExitCode::from(1));
    }
    if a.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    // the demo ends on the dashboard
    let accounts = demo_accounts(store.as_ref()).await?;
    eprintln!("\nDashboard: http://{}/   (Ctrl-C to stop)", a.listen);
    for (name, password, perimeter) in &accounts {
        eprintln!("  sign in as {name:<13} password {password}   ({perimeter})");
    }
    let serve_ctx = Ctx {
        db: db.clone(),
        format: ctx.format,
        rules_dir: ctx.rules_dir.clone(),
        quiet: ctx.quiet,
    };
    crate::serve::run(&serve_ctx, serve_args(a.listen, end)).await
}

/// The demo's dashboard: its evidence ends on its last day, so the pages
/// show that day, and say so when it is not today.
fn serve_args(listen: std::net::SocketAddr, end: Day) -> crate::serve::ServeArgs {
    let mut serve = crate::serve::ServeArgs::loopback(listen);
    serve.as_of = Some(end.to_string());
    serve
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dashboard_shows_the_demo_s_last_day() {
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], 8080));
        let end = Day::parse(DEMO_END).unwrap_or_else(|_| Day::from_number(0));
        assert_eq!(serve_args(listen, end).as_of.as_deref(), Some("2026-08-31"));
    }
}
