//! The `vigie` command line.

mod accounts;
mod app;
mod bench;
mod bench_http;
mod bench_watch;
mod bench_web;
mod commands;
mod demo;
mod metrics;
mod output;
mod serve;
mod watch;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use output::OutputFormat;
use std::path::PathBuf;
use std::process::ExitCode;

// Ingest allocates and frees many small strings per machine; mimalloc's
// thread-local free lists measured faster than glibc's here (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "vigie",
    version,
    about = "Security observatory for the health sector: fleet posture from real inventories"
)]
struct Cli {
    /// Database URL: a SQLite path or sqlite://PATH (default ./vigie.db), or postgres://…
    #[arg(long, global = true, env = "VIGIE_DB", default_value = "vigie.db")]
    db: String,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Extra rule files (*.toml) added to the default rules; a rule with an existing id replaces it.
    #[arg(long, global = true, env = "VIGIE_RULES")]
    rules: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Organisation directory: regions and establishments.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Ingest inventory files, directories, or `-` for standard input.
    Ingest(IngestArgs),
    /// Re-evaluate every machine on its stored facts at a date (default now): run daily,
    /// so end of support, ageing patches and silent machines show without a new inventory.
    Assess {
        /// Assessment time (RFC 3339) or day (YYYY-MM-DD, end of day); default now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Machines, with their findings and evidence.
    Hosts(HostsArgs),
    /// Posture by sector, region or establishment at a date.
    Posture(PostureArgs),
    /// How a rule evolves per day or week.
    Trend(TrendArgs),
    /// Time to remediate a rule (closed findings in a window).
    Remediation(RemediationArgs),
    /// Posture rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Knowledge base (lifecycle, updates, MS17-010, KEV).
    #[command(subcommand)]
    Kb(KbCommand),
    /// Files already ingested.
    Files {
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Counts: hosts, unassigned machines, open findings.
    Status,
    /// Build a synthetic sector from real registries, write it as real inventory files, ingest it, summarise.
    Demo(demo::DemoArgs),
    /// Exposure watch: DNS, TLS, HTTP and defacement of public services.
    #[command(subcommand)]
    Watch(watch::WatchCommand),
    /// The web dashboard and the REST API (/api/v1).
    Serve(serve::ServeArgs),
    /// Accounts of the web dashboard and API: national, regional and establishment perimeters.
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// API tokens (ingest pipelines, scripts): shown once, stored hashed, revocable.
    #[command(subcommand)]
    Token(accounts::TokenCommand),
    /// The audit log: logins, ingests, exports and administrative actions, newest first.
    Audit(accounts::AuditArgs),
    /// Database administration.
    #[command(subcommand)]
    Db(DbCommand),
    /// Benchmarks (figures for BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[derive(Subcommand)]
enum DbCommand {
    /// On a Citus coordinator (extension created, workers added): distribute the
    /// tables by establishment and replicate the reference tables; run once after
    /// the first connection created the schema (again: changes nothing).
    Distribute,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Import regions and establishments from CSV (code,name,kind,region,parent,hostname_patterns,subnets).
    Import { file: PathBuf },
    /// List establishments.
    List {
        #[arg(long)]
        region: Option<String>,
    },
}

#[derive(Args)]
pub struct IngestArgs {
    /// Attribute every machine to this establishment.
    #[arg(long)]
    establishment: Option<String>,
    /// Observation time when the inventory does not carry one (RFC 3339).
    #[arg(long)]
    observed_at: Option<String>,
    /// Input format, when detection is not wanted: osquery, glpi-json, fusion-xml, ocs-xml, nmap, csv.
    #[arg(long)]
    input_format: Option<String>,
    /// CSV column mapping file (TOML).
    #[arg(long)]
    csv_map: Option<PathBuf>,
    /// CSV column mapping entries, e.g. --csv-column hostname="Device name".
    #[arg(long = "csv-column")]
    csv_columns: Vec<String>,
    /// Files or directories (`-` = standard input).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

#[derive(Args)]
pub struct HostsArgs {
    #[arg(long)]
    establishment: Option<String>,
    #[arg(long)]
    region: Option<String>,
    /// Only machines with an open finding of this rule.
    #[arg(long)]
    rule: Option<String>,
    /// As of the end of this day (YYYY-MM-DD).
    #[arg(long)]
    at: Option<String>,
    /// Only machines no establishment claims.
    #[arg(long)]
    unassigned: bool,
    #[arg(long)]
    hostname: Option<String>,
    #[arg(long, default_value_t = 1000)]
    limit: u64,
    #[arg(long, default_value_t = 0)]
    offset: u64,
}

#[derive(Args)]
pub struct PostureArgs {
    #[arg(long, default_value = "sector")]
    by: String,
    #[arg(long)]
    at: Option<String>,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    establishment: Option<String>,
}

#[derive(Args)]
pub struct TrendArgs {
    #[arg(long)]
    rule: String,
    #[arg(long, default_value = "sector")]
    by: String,
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    /// day or week
    #[arg(long, default_value = "day")]
    step: String,
    #[arg(long)]
    region: Option<String>,
    #[arg(long)]
    establishment: Option<String>,
}

#[derive(Args)]
pub struct RemediationArgs {
    #[arg(long)]
    rule: String,
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// List the rules in effect.
    List,
    /// Check rule files; errors name the file and line.
    Check { files: Vec<PathBuf> },
}

#[derive(Subcommand)]
enum KbCommand {
    /// Each source's version, date and age; exit code 2 when one is older than
    /// its threshold (30 days for the CISA KEV catalog and the Windows build history,
    /// 90 for endoflife.date files), so a monitoring system can alert.
    Status {
        /// One threshold in days for every source that ages, instead of its own.
        #[arg(long)]
        max_age_days: Option<i32>,
    },
    /// Load a newer knowledge-base source (CISA KEV, kev-affected, endoflife.date,
    /// Microsoft lifecycle, Windows build history, legacy update list, monthly
    /// MSRC CVRF document) from a file, a directory of .json files or an
    /// http(s) URL.
    Update {
        #[arg(long)]
        from: String,
        /// Accept a version older than the one in use (rolling back a bad feed).
        #[arg(long)]
        allow_older: bool,
    },
}

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (see ARCHITECTURE.md, pitfalls).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("VIGIE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        // a reader that stops early (`vigie hosts | head`) is not an error
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
            || c.downcast_ref::<csv::Error>()
                .is_some_and(|x| match x.kind() {
                    csv::ErrorKind::Io(io) => io.kind() == std::io::ErrorKind::BrokenPipe,
                    _ => false,
                })
    })
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let ctx = app::Ctx {
        db: cli.db.clone(),
        format: cli.format,
        rules_dir: cli.rules.clone(),
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Org(OrgCommand::Import { file }) => commands::org_import(&ctx, &file).await,
        Command::Org(OrgCommand::List { region }) => commands::org_list(&ctx, region).await,
        Command::Ingest(a) => commands::ingest(&ctx, a).await,
        Command::Assess { at } => commands::assess(&ctx, at.as_deref()).await,
        Command::Hosts(a) => commands::hosts(&ctx, a).await,
        Command::Posture(a) => commands::posture(&ctx, a).await,
        Command::Trend(a) => commands::trend(&ctx, a).await,
        Command::Remediation(a) => commands::remediation(&ctx, a).await,
        Command::Rules(RulesCommand::List) => commands::rules_list(&ctx),
        Command::Rules(RulesCommand::Check { files }) => commands::rules_check(&ctx, &files),
        Command::Kb(KbCommand::Status { max_age_days }) => {
            commands::kb_status(&ctx, max_age_days).await
        }
        Command::Kb(KbCommand::Update { from, allow_older }) => {
            commands::kb_update(&ctx, &from, allow_older).await
        }
        Command::Files { limit } => commands::files(&ctx, limit).await,
        Command::Status => commands::status(&ctx).await,
        Command::Db(DbCommand::Distribute) => commands::db_distribute(&ctx).await,
        Command::Demo(a) => demo::run(&ctx, a).await,
        Command::Watch(w) => watch::run(&ctx, w).await,
        Command::Serve(a) => serve::run(&ctx, a).await,
        Command::User(u) => accounts::user(&ctx, u).await,
        Command::Token(t) => accounts::token(&ctx, t).await,
        Command::Audit(a) => accounts::audit(&ctx, a).await,
        Command::Bench(b) => bench::run(&ctx, b).await,
    }
}
