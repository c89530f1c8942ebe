//! The everyday commands.

use crate::app::{Ctx, parse_day, scope_of, today};
use crate::output::{Table, emit, pct, progress, share};
use crate::{HostsArgs, IngestArgs, PostureArgs, RemediationArgs, TrendArgs};
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vigie_core::{EstablishmentCode, RegionCode, RuleId};
use vigie_ingest::{FileReport, FileStatus, IngestOptions};
use vigie_inventory::{CsvMapping, Format, ParseOptions};
use vigie_store::{GroupBy, HostFilter, HostView, Scope, Step};

pub async fn org_import(ctx: &Ctx, file: &Path) -> Result<ExitCode> {
    let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let (regions, ests) = vigie_inventory::parse_org_csv(std::io::BufReader::new(f))
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let store = ctx.store().await?;
    let summary = store.import_org(&regions, &ests).await?;
    let mut t = Table::new(["regions", "establishments added", "establishments updated"]);
    t.row([
        summary.regions.to_string(),
        summary.establishments_added.to_string(),
        summary.establishments_updated.to_string(),
    ]);
    emit(ctx.format, &summary, &t)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn org_list(ctx: &Ctx, region: Option<String>) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let scope = scope_of(region.as_deref(), None)?;
    let ests = store.establishments(&scope).await?;
    let mut t = Table::new([
        "code",
        "name",
        "kind",
        "region",
        "parent",
        "hostname patterns",
        "subnets",
    ]);
    for e in &ests {
        t.row([
            e.code.to_string(),
            e.name.clone(),
            e.kind.to_string(),
            e.region.to_string(),
            e.parent.clone().unwrap_or_default(),
            e.hostname_patterns.join(";"),
            e.subnets
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(";"),
        ]);
    }
    emit(ctx.format, &ests, &t)?;
    Ok(ExitCode::SUCCESS)
}

/// Files under a path, sorted, recursively; hidden files skipped. Symbolic
/// links to directories are not followed (no loops). A directory that cannot
/// be read is reported as a failed entry and the others go on.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<Result<PathBuf, String>>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Ok(p.clone()));
            continue;
        }
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if !meta.is_dir() {
            out.push(Ok(p.clone()));
            continue;
        }
        let mut stack = vec![p.clone()];
        let mut found = Vec::new();
        while let Some(dir) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    found.push(Err(format!(
                        "{}: cannot read directory: {e}",
                        dir.display()
                    )));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
                {
                    continue;
                }
                match entry.file_type() {
                    Ok(t) if t.is_dir() => stack.push(path),
                    Ok(t) if t.is_symlink() && path.is_dir() => {}
                    Ok(_) => found.push(Ok(path)),
                    Err(e) => found.push(Err(format!("{}: {e}", path.display()))),
                }
            }
        }
        found.sort_by(|a, b| match (a, b) {
            (Ok(x), Ok(y)) => x.cmp(y),
            (Err(x), Err(y)) => x.cmp(y),
            (Ok(_), Err(_)) => std::cmp::Ordering::Less,
            (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        });
        out.extend(found);
    }
    Ok(out)
}

pub fn ingest_options(a: &IngestArgs) -> Result<IngestOptions> {
    let mut parse = ParseOptions::default();
    let mut mapping = match &a.csv_map {
        Some(p) => {
            let src =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            Some(
                CsvMapping::from_toml_str(&src)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
            )
        }
        None => None,
    };
    if !a.csv_columns.is_empty() {
        let flags = CsvMapping::from_pairs(a.csv_columns.iter().map(String::as_str))
            .map_err(|e| anyhow::anyhow!("--csv-column: {e}"))?;
        mapping = Some(match mapping {
            Some(m) => overlay(m, flags),
            None => flags,
        });
    }
    parse.csv_mapping = mapping;
    Ok(IngestOptions {
        establishment: a
            .establishment
            .as_deref()
            .map(EstablishmentCode::new)
            .transpose()?,
        observed_at: a
            .observed_at
            .as_deref()
            .map(|s| {
                let t = s
                    .parse::<jiff::Timestamp>()
                    .with_context(|| format!("--observed-at {s:?}: expected RFC 3339"))?;
                if t > jiff::Timestamp::now() {
                    bail!("--observed-at {s:?} is in the future");
                }
                Ok(t)
            })
            .transpose()?,
        format: a
            .input_format
            .as_deref()
            .map(|f| {
                Format::parse(f).with_context(|| format!("--input-format {f:?}: unknown format"))
            })
            .transpose()?,
        parse,
        now: jiff::Timestamp::now(),
        confine: false,
    })
}

/// Flags override the mapping file, field by field.
fn overlay(mut base: CsvMapping, flags: CsvMapping) -> CsvMapping {
    macro_rules! take {
        ($($f:ident),*) => { $( if flags.$f.is_some() { base.$f = flags.$f; } )* };
    }
    take!(
        hostname,
        fqdn,
        serial,
        uuid,
        ip,
        mac,
        os_name,
        os_version,
        os_build,
        hotfixes,
        software_name,
        software_version,
        software_publisher,
        establishment,
        observed_at,
        delimiter,
        day_first,
        auto_detect
    );
    base
}

#[derive(Serialize)]
struct IngestRow {
    file: String,
    ok: bool,
    #[serde(flatten)]
    report: Option<FileReport>,
    error: Option<String>,
}

pub async fn ingest(ctx: &Ctx, a: IngestArgs) -> Result<ExitCode> {
    let opts = ingest_options(&a)?;
    let files = expand_paths(&a.paths)?;
    let store = ctx.store().await?;
    let mut pipeline = ctx.pipeline(&store).await?;
    let pb = progress(files.len() as u64, "ingest", ctx.quiet);
    let mut rows = Vec::new();
    let mut failed = 0;
    for entry in &files {
        let f = match entry {
            Ok(f) => f,
            Err(e) => {
                failed += 1;
                pb.suspend(|| eprintln!("error: {e}"));
                rows.push(IngestRow {
                    file: e.split(": ").next().unwrap_or_default().to_string(),
                    ok: false,
                    report: None,
                    error: Some(e.clone()),
                });
                pb.inc(1);
                continue;
            }
        };
        let result = if f.as_os_str() == "-" {
            pipeline
                .ingest_reader("<stdin>", std::io::stdin(), &opts)
                .await
        } else {
            pipeline.ingest_file(f, &opts).await
        };
        match result {
            Ok(r) => rows.push(IngestRow {
                file: r.file.clone(),
                ok: true,
                report: Some(r),
                error: None,
            }),
            Err(e) => {
                failed += 1;
                tracing::warn!(file = %f.display(), error = %e, "ingest failed");
                pb.suspend(|| eprintln!("error: {e}"));
                rows.push(IngestRow {
                    file: f.display().to_string(),
                    ok: false,
                    report: None,
                    error: Some(e.to_string()),
                });
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut t = Table::new([
        "file",
        "format",
        "status",
        "observations",
        "new hosts",
        "updated",
        "unassigned",
        "skipped",
        "opened",
        "closed",
        "observed",
    ]);
    for r in &rows {
        match &r.report {
            Some(rep) => t.row([
                rep.file.clone(),
                rep.format.clone(),
                match rep.status {
                    FileStatus::Ingested => "ingested".into(),
                    FileStatus::AlreadyIngested => "already ingested (unchanged)".to_string(),
                },
                rep.observations.to_string(),
                rep.hosts_new.to_string(),
                rep.hosts_updated.to_string(),
                rep.unassigned.to_string(),
                skipped(rep),
                rep.findings_opened.to_string(),
                rep.findings_closed.to_string(),
                rep.last_observed.map(|t| t.to_string()).unwrap_or_default(),
            ]),
            None => t.row([
                r.file.clone(),
                String::new(),
                format!("FAILED: {}", r.error.clone().unwrap_or_default()),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]),
        }
    }
    emit(ctx.format, &rows, &t)?;
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Observations left out or adjusted, with why: older than the source's
/// last report, nothing to identify the machine, dated in the future or
/// before 1995; values cut to length or with control characters escaped.
fn skipped(r: &FileReport) -> String {
    let mut parts = Vec::new();
    if r.stale > 0 {
        parts.push(format!("{} stale", r.stale));
    }
    if r.unidentified > 0 {
        parts.push(format!("{} unidentified", r.unidentified));
    }
    if r.future_dated > 0 {
        parts.push(format!("{} future-dated (counted now)", r.future_dated));
    }
    if r.too_old > 0 {
        parts.push(format!("{} dated before 1995 (counted now)", r.too_old));
    }
    let values = |n: u64| if n == 1 { "value" } else { "values" };
    if r.values_truncated > 0 {
        let n = r.values_truncated;
        parts.push(format!("{n} {} cut to length", values(n)));
    }
    if r.values_escaped > 0 {
        let n = r.values_escaped;
        parts.push(format!("{n} {} with control characters escaped", values(n)));
    }
    if r.foreign > 0 {
        parts.push(format!(
            "{} tagged for another establishment, recorded in the one named: {}",
            r.foreign,
            r.foreign_examples.join(", ")
        ));
    }
    parts.join(", ")
}

#[derive(Serialize)]
struct OsJson {
    name: Option<String>,
    version: Option<String>,
    build: Option<u32>,
    ubr: Option<u32>,
    family: Option<String>,
}

#[derive(Serialize)]
struct SourceJson {
    kind: String,
    last_observed: String,
}

#[derive(Serialize)]
struct FindingJson {
    rule: String,
    severity: String,
    status: String,
    first_seen: String,
    last_seen: String,
    resolved_at: Option<String>,
    evidence: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct HostJson {
    /// The opaque id (the one the API and the pages show).
    id: String,
    hostname: Option<String>,
    establishment: Option<String>,
    region: Option<String>,
    attribution: Option<String>,
    os: OsJson,
    first_seen: String,
    last_seen: String,
    sources: Vec<SourceJson>,
    findings: Vec<FindingJson>,
}

fn host_json(ids: &vigie_auth::HostIds, h: &HostView) -> HostJson {
    HostJson {
        id: ids.encode(h.id),
        hostname: h.hostname.clone(),
        establishment: h.establishment.as_ref().map(|e| e.to_string()),
        region: h.region.as_ref().map(|r| r.to_string()),
        attribution: h.attribution.clone(),
        os: OsJson {
            name: h.os.name.clone(),
            version: h.os.version.clone(),
            build: h.os.build,
            ubr: h.os.ubr,
            family: h.os.family.map(|f| f.as_str().to_string()),
        },
        first_seen: h.first_seen.to_string(),
        last_seen: h.last_seen.to_string(),
        sources: h
            .sources
            .iter()
            .map(|s| SourceJson {
                kind: s.kind.to_string(),
                last_observed: s.last_observed.to_string(),
            })
            .collect(),
        findings: h
            .findings
            .iter()
            .map(|f| FindingJson {
                rule: f.rule.to_string(),
                severity: f.severity.to_string(),
                status: f.status.as_str().to_string(),
                first_seen: f.first_seen.to_string(),
                last_seen: f.last_seen.to_string(),
                resolved_at: f.resolved_at.map(|t| t.to_string()),
                evidence: f.evidence.clone(),
            })
            .collect(),
    }
}

pub async fn hosts(ctx: &Ctx, a: HostsArgs) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let filter = HostFilter {
        establishment: a
            .establishment
            .as_deref()
            .map(EstablishmentCode::new)
            .transpose()?,
        region: a.region.as_deref().map(RegionCode::new).transpose()?,
        rule: a.rule.as_deref().map(RuleId::new).transpose()?,
        at: parse_day(a.at.as_deref(), "at")?,
        unassigned_only: a.unassigned,
        hostname: a.hostname.clone(),
        host_id: None,
        limit: Some(a.limit),
        offset: a.offset,
    };
    if let Some(r) = &filter.rule {
        ctx.known_rule(r)?;
    }
    let hosts = store.hosts(&Scope::National, &filter).await?;
    // machines by their opaque ids, as the API and the pages show them
    let ids = vigie_web::load_host_ids(store.as_ref()).await?;
    let json: Vec<HostJson> = hosts.iter().map(|h| host_json(&ids, h)).collect();
    let mut t = Table::new([
        "id",
        "hostname",
        "establishment",
        "os",
        "build",
        "sources",
        "findings",
    ]);
    for (h, j) in hosts.iter().zip(&json) {
        t.row([
            j.id.clone(),
            h.hostname.clone().unwrap_or_default(),
            h.establishment
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "unassigned".into()),
            h.os.name.clone().unwrap_or_default(),
            match (h.os.version.as_deref(), h.os.ubr) {
                (Some(v), Some(u)) => format!("{v}.{u}"),
                (Some(v), None) => v.to_string(),
                _ => String::new(),
            },
            h.sources
                .iter()
                .map(|s| s.kind.to_string())
                .collect::<Vec<_>>()
                .join(","),
            h.findings
                .iter()
                .map(|f| match f.status {
                    vigie_core::FindingStatus::NeedsReview => format!("{} (review)", f.rule),
                    vigie_core::FindingStatus::Unknown => format!("{} (unknown)", f.rule),
                    vigie_core::FindingStatus::Confirmed => f.rule.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    emit(ctx.format, &json, &t)?;
    if ctx.format == crate::output::OutputFormat::Table && hosts.len() as u64 == a.limit {
        eprintln!(
            "(first {} machines; use --limit and --offset for more)",
            a.limit
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct RuleShare {
    /// Machines with a confirmed finding.
    hosts: u64,
    share: f64,
    /// Machines whose finding needs an analyst's review (not in `hosts`).
    needs_review: u64,
    /// Machines for which the rule cannot be decided (not in `hosts`, and
    /// not compliant either).
    unknown: u64,
    unknown_share: f64,
}

#[derive(Serialize)]
struct PostureJson {
    group: String,
    name: String,
    hosts: u64,
    /// Machines silent at the date (no report for the `silent` rule's days).
    silent: u64,
    /// Share of the machines with fresh evidence (not silent).
    coverage: f64,
    rules: BTreeMap<String, RuleShare>,
}

fn group_by(s: &str) -> Result<GroupBy> {
    GroupBy::parse(s)
        .with_context(|| format!("--by {s:?}: expected sector, region or establishment"))
}

pub async fn posture(ctx: &Ctx, a: PostureArgs) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let rules = ctx.rules()?;
    let at = parse_day(a.at.as_deref(), "at")?.unwrap_or_else(today);
    let scope = scope_of(a.region.as_deref(), a.establishment.as_deref())?;
    let rows = store.posture(&scope, group_by(&a.by)?, at).await?;
    let rule_ids: Vec<String> = rules.rules().iter().map(|r| r.id.to_string()).collect();
    let json: Vec<PostureJson> = rows
        .iter()
        .map(|r| PostureJson {
            group: r.group.clone(),
            name: r.name.clone(),
            hosts: r.hosts,
            silent: r.silent(),
            coverage: r.coverage().unwrap_or(0.0),
            rules: rule_ids
                .iter()
                .map(|id| {
                    let n = r.rules.get(id).copied().unwrap_or(0);
                    let review = r.review.get(id).copied().unwrap_or(0);
                    let unknown = r.unknown.get(id).copied().unwrap_or(0);
                    (
                        id.clone(),
                        RuleShare {
                            hosts: n,
                            share: share(n, r.hosts),
                            needs_review: review,
                            unknown,
                            unknown_share: share(unknown, r.hosts),
                        },
                    )
                })
                .collect(),
        })
        .collect();
    let csv = ctx.format == crate::output::OutputFormat::Csv;
    let mut headers = vec![
        "group".to_string(),
        "name".to_string(),
        "hosts".to_string(),
        "coverage".to_string(),
    ];
    for id in &rule_ids {
        headers.push(id.clone());
        if csv {
            headers.push(format!("{id} review"));
            headers.push(format!("{id} unknown"));
        }
    }
    let mut t = Table::new(headers);
    for r in &rows {
        let mut cells = vec![
            r.group.clone(),
            r.name.clone(),
            r.hosts.to_string(),
            if csv {
                format!("{:.4}", r.coverage().unwrap_or(0.0))
            } else {
                pct(r.covered(), r.hosts)
            },
        ];
        for id in &rule_ids {
            let n = r.rules.get(id).copied().unwrap_or(0);
            let review = r.review.get(id).copied().unwrap_or(0);
            let unknown = r.unknown.get(id).copied().unwrap_or(0);
            if csv {
                cells.extend([n.to_string(), review.to_string(), unknown.to_string()]);
                continue;
            }
            let mut cell = format!("{n} ({})", pct(n, r.hosts));
            if review > 0 {
                cell.push_str(&format!(" +{review} to review"));
            }
            if unknown > 0 {
                cell.push_str(&format!(" +{unknown} unknown ({})", pct(unknown, r.hosts)));
            }
            cells.push(cell);
        }
        t.row(cells);
    }
    if ctx.format == crate::output::OutputFormat::Table {
        println!("Posture on {at}");
    }
    emit(ctx.format, &json, &t)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct TrendJson {
    day: String,
    group: String,
    hosts: u64,
    with_rule: u64,
    share: f64,
    needs_review: u64,
    unknown: u64,
    silent: u64,
    /// Share of the machines with fresh evidence (not silent).
    coverage: f64,
}

pub async fn trend(ctx: &Ctx, a: TrendArgs) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let rule = RuleId::new(&a.rule)?;
    ctx.known_rule(&rule)?;
    let to = parse_day(a.to.as_deref(), "to")?.unwrap_or_else(today);
    let from = parse_day(a.from.as_deref(), "from")?.unwrap_or_else(|| to.add_days(-30));
    let step = match a.step.as_str() {
        "day" => Step::Day,
        "week" => Step::Week,
        other => bail!("--step {other:?}: expected day or week"),
    };
    let scope = scope_of(a.region.as_deref(), a.establishment.as_deref())?;
    let points = store
        .trend(&scope, &rule, group_by(&a.by)?, from, to, step)
        .await?;
    let json: Vec<TrendJson> = points
        .iter()
        .map(|p| TrendJson {
            day: p.day.to_string(),
            group: p.group.clone(),
            hosts: p.hosts,
            with_rule: p.with_rule,
            share: share(p.with_rule, p.hosts),
            needs_review: p.needs_review,
            unknown: p.unknown,
            silent: p.silent,
            coverage: p.coverage().unwrap_or(0.0),
        })
        .collect();
    let mut t = Table::new([
        "day",
        "group",
        "hosts",
        rule.as_str(),
        "share",
        "to review",
        "unknown",
        "coverage",
    ]);
    for p in &points {
        t.row([
            p.day.to_string(),
            p.group.clone(),
            p.hosts.to_string(),
            p.with_rule.to_string(),
            pct(p.with_rule, p.hosts),
            p.needs_review.to_string(),
            p.unknown.to_string(),
            pct(p.covered(), p.hosts),
        ]);
    }
    emit(ctx.format, &json, &t)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn remediation(ctx: &Ctx, a: RemediationArgs) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let rule = RuleId::new(&a.rule)?;
    ctx.known_rule(&rule)?;
    let to = parse_day(a.to.as_deref(), "to")?.unwrap_or_else(today);
    let from = parse_day(a.from.as_deref(), "from")?.unwrap_or_else(|| to.add_days(-365));
    let stats = store.remediation(&Scope::National, &rule, from, to).await?;
    let f = |d: Option<f64>| d.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    let mut t = Table::new(["rule", "closed", "still open", "median days", "p90 days"]);
    t.row([
        stats.rule.to_string(),
        stats.closed.to_string(),
        stats.still_open.to_string(),
        f(stats.median_days),
        f(stats.p90_days),
    ]);
    emit(ctx.format, &stats, &t)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct RuleJson {
    id: String,
    title: String,
    severity: String,
    rationale: String,
    remediation: String,
    references: Vec<String>,
    /// "report" (a finding with status unknown when the inputs are
    /// missing) or "ignore".
    unknown: &'static str,
    origin: String,
    line: usize,
}

pub fn rules_list(ctx: &Ctx) -> Result<ExitCode> {
    let set = ctx.rules()?;
    let json: Vec<RuleJson> = set
        .rules()
        .iter()
        .map(|r| RuleJson {
            id: r.id.to_string(),
            title: r.title.clone(),
            severity: r.severity.to_string(),
            rationale: r.rationale.clone(),
            remediation: r.remediation.clone(),
            references: r.references.clone(),
            unknown: r.unknown.as_str(),
            origin: r.origin.clone(),
            line: r.line,
        })
        .collect();
    let mut t = Table::new(["id", "severity", "title", "when unknown", "origin"]);
    for r in set.rules() {
        t.row([
            r.id.to_string(),
            r.severity.to_string(),
            r.title.clone(),
            r.unknown.as_str().to_string(),
            format!("{}:{}", r.origin, r.line),
        ]);
    }
    emit(ctx.format, &json, &t)?;
    Ok(ExitCode::SUCCESS)
}

pub fn rules_check(ctx: &Ctx, files: &[PathBuf]) -> Result<ExitCode> {
    if files.is_empty() {
        bail!("give at least one rule file");
    }
    #[derive(Serialize)]
    struct Checked {
        file: String,
        ok: bool,
        rules: usize,
        error: Option<String>,
    }
    let mut out = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let res = std::fs::read_to_string(f)
            .map_err(|e| format!("{name}: {e}"))
            .and_then(|src| vigie_posture::RuleSet::parse(&name, &src).map_err(|e| e.to_string()));
        match res {
            Ok(set) => out.push(Checked {
                file: name,
                ok: true,
                rules: set.rules().len(),
                error: None,
            }),
            Err(e) => out.push(Checked {
                file: name,
                ok: false,
                rules: 0,
                error: Some(e),
            }),
        }
    }
    let mut t = Table::new(["file", "result"]);
    for c in &out {
        t.row([
            c.file.clone(),
            match &c.error {
                None => format!("ok ({} rules)", c.rules),
                Some(e) => e.clone(),
            },
        ]);
    }
    emit(ctx.format, &out, &t)?;
    for c in &out {
        if let Some(e) = &c.error {
            eprintln!("error: {e}");
        }
    }
    Ok(if out.iter().all(|c| c.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn kb_status(ctx: &Ctx, max_age_days: Option<i32>) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let kb = ctx.kb(store.as_ref()).await?;
    let today = today();
    #[derive(Serialize)]
    struct Row {
        #[serde(flatten)]
        source: vigie_kb::KbSource,
        age_days: Option<i32>,
        max_age_days: Option<i32>,
        stale: bool,
    }
    let rows: Vec<Row> = kb
        .sources()
        .into_iter()
        .map(|s| Row {
            age_days: s.age_days(today),
            max_age_days: s.max_age_days().map(|own| max_age_days.unwrap_or(own)),
            stale: s.is_stale(today, max_age_days),
            source: s,
        })
        .collect();
    let mut t = Table::new([
        "source", "version", "date", "horizon", "age", "entries", "origin",
    ]);
    for r in &rows {
        let s = &r.source;
        t.row([
            s.name.clone(),
            s.version.clone(),
            s.date.map(|d| d.to_string()).unwrap_or_default(),
            s.horizon.map(|d| d.to_string()).unwrap_or_default(),
            match (r.age_days, r.max_age_days) {
                (Some(a), Some(m)) if r.stale => format!("{a} d: STALE (over {m} d)"),
                (Some(a), _) => format!("{a} d"),
                (None, _) => String::new(),
            },
            s.entries.to_string(),
            s.origin.as_str().to_string(),
        ]);
    }
    emit(ctx.format, &rows, &t)?;
    let stale: Vec<&str> = rows
        .iter()
        .filter(|r| r.stale)
        .map(|r| r.source.name.as_str())
        .collect();
    if stale.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "vigie: stale knowledge-base sources: {} (load newer data with `vigie kb update`; docs/knowledge-base.md)",
        stale.join(", ")
    );
    Ok(ExitCode::from(2))
}

/// Largest knowledge-base update accepted (the KEV catalog is ~1.5 MB).
const MAX_KB_UPDATE: usize = 64 * 1024 * 1024;

/// The local path `--from` names (`file://` or a bare path), `None` for an
/// http(s) URL.
fn local_path(from: &str) -> Option<&str> {
    if from.starts_with("http://") || from.starts_with("https://") {
        None
    } else {
        Some(from.strip_prefix("file://").unwrap_or(from))
    }
}

async fn fetch(from: &str) -> Result<Vec<u8>> {
    if let Some(path) = local_path(from) {
        let meta = std::fs::metadata(path).with_context(|| format!("reading {path}"))?;
        if meta.len() > MAX_KB_UPDATE as u64 {
            bail!("{path}: larger than {} MiB", MAX_KB_UPDATE >> 20);
        }
        return std::fs::read(path).with_context(|| format!("reading {path}"));
    }
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()?;
    let mut resp = client
        .get(from)
        // the MSRC CVRF API answers in XML unless JSON is asked for
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .with_context(|| format!("fetching {from}"))?;
    if !resp.status().is_success() {
        bail!("fetching {from}: http status {}", resp.status());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .with_context(|| format!("reading {from}"))?
    {
        if body.len() + chunk.len() > MAX_KB_UPDATE {
            bail!("{from}: larger than {} MiB", MAX_KB_UPDATE >> 20);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The files `--from` names: the `.json` files of a directory (by name),
/// else the path or URL itself.
fn update_inputs(from: &str) -> Result<Vec<String>> {
    let Some(path) = local_path(from).filter(|p| Path::new(p).is_dir()) else {
        return Ok(vec![from.to_string()]);
    };
    let mut files: Vec<String> = std::fs::read_dir(path)
        .with_context(|| format!("reading directory {path}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        })
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{path}: no .json file in this directory");
    }
    Ok(files)
}

/// Whether `new` is older than `current` (same source): by the day each
/// was published or collected, else by version.
fn older_than(new: &vigie_kb::KbSource, current: &vigie_kb::KbSource) -> bool {
    match (new.date, current.date) {
        (Some(n), Some(c)) if n != c => n < c,
        _ => {
            vigie_core::version::compare(&new.version, &current.version) == std::cmp::Ordering::Less
        }
    }
}

pub async fn kb_update(ctx: &Ctx, from: &str, allow_older: bool) -> Result<ExitCode> {
    let inputs = update_inputs(from)?;
    let store = ctx.store().await?;
    let mut kb = ctx.kb(store.as_ref()).await?;
    // every file is validated, in order, before anything is recorded
    let mut loaded = Vec::new();
    for input in &inputs {
        let bytes = fetch(input).await?;
        let before = kb.sources();
        let src = kb
            .load_update(&bytes)
            .with_context(|| format!("{input}: not a usable knowledge-base update"))?;
        if let Some(current) = before.iter().find(|s| s.name == src.name)
            && older_than(&src, current)
            && !allow_older
        {
            bail!(
                "{input}: {} version {}{} is older than the one in use ({}{}); pass --allow-older to load it anyway",
                src.name,
                src.version,
                src.date.map(|d| format!(" of {d}")).unwrap_or_default(),
                current.version,
                current.date.map(|d| format!(" of {d}")).unwrap_or_default(),
            );
        }
        loaded.push((input.clone(), bytes, src));
    }
    for (input, bytes, src) in &loaded {
        store
            .record_kb_update(&src.name, &src.version, input, bytes)
            .await?;
    }
    // what is now in use, horizon included (a monthly document moves the
    // build history's)
    let now = kb.sources();
    let mut t = Table::new(["source", "version", "date", "horizon", "entries", "from"]);
    let mut rows = Vec::new();
    for (input, _, src) in &loaded {
        let mut shown = vec![src.clone()];
        if src.name.starts_with("msrc-cvrf/") {
            shown.extend(
                now.iter()
                    .filter(|s| s.name == "windows-builds" || s.name == "windows-legacy-rollups")
                    .cloned(),
            );
        }
        for s in shown {
            t.row([
                s.name.clone(),
                s.version.clone(),
                s.date.map(|d| d.to_string()).unwrap_or_default(),
                s.horizon.map(|d| d.to_string()).unwrap_or_default(),
                s.entries.to_string(),
                input.clone(),
            ]);
            rows.push(UpdateRow {
                source: s,
                from: input.clone(),
            });
        }
    }
    emit(ctx.format, &rows, &t)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct UpdateRow {
    #[serde(flatten)]
    source: vigie_kb::KbSource,
    from: String,
}

pub async fn files(ctx: &Ctx, limit: u64) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let files = store.files(limit).await?;
    let mut t = Table::new([
        "ingested at",
        "file",
        "format",
        "observations",
        "hosts",
        "unassigned",
        "hash",
    ]);
    for f in &files {
        t.row([
            f.ingested_at.to_string(),
            f.name.clone(),
            f.format.clone(),
            f.observations.to_string(),
            f.hosts.to_string(),
            f.unassigned.to_string(),
            f.content_hash.chars().take(16).collect(),
        ]);
    }
    emit(ctx.format, &files, &t)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn status(ctx: &Ctx) -> Result<ExitCode> {
    let store = ctx.store().await?;
    let s = store.stats(&Scope::National).await?;
    // what the figures stand on: said on standard error, beside the table
    let kb = ctx.kb(store.as_ref()).await?;
    let today = today();
    for src in kb.sources().iter().filter(|s| s.is_stale(today, None)) {
        eprintln!(
            "warning: knowledge-base source {} is {} days old (over {}): `vigie kb status`, `vigie kb update`",
            src.name,
            src.age_days(today).unwrap_or_default(),
            src.max_age_days().unwrap_or_default()
        );
    }
    match store.last_assessment().await? {
        None => eprintln!("warning: machines never brought up to date: run `vigie assess`"),
        Some(at) if jiff::Timestamp::now().duration_since(at) > vigie_store::ASSESSMENT_STALE => {
            eprintln!(
                "warning: machines not brought up to date since {at}: run `vigie assess` (or `vigie serve`, which does it daily)"
            )
        }
        Some(_) => {}
    }
    let mut t = Table::new([
        "backend",
        "hosts",
        "unassigned",
        "open findings",
        "files",
        "software entries",
    ]);
    t.row([
        store.backend().to_string(),
        s.hosts.to_string(),
        s.unassigned_hosts.to_string(),
        s.open_findings.to_string(),
        s.files.to_string(),
        s.software_dictionary.to_string(),
    ]);
    emit(ctx.format, &s, &t)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn db_distribute(ctx: &Ctx) -> Result<ExitCode> {
    let placed = ctx.sql_store().await?.distribute_for_citus().await?;
    #[derive(serde::Serialize)]
    struct Placed {
        table: String,
        placement: String,
    }
    let rows: Vec<Placed> = vigie_store::citus::LAYOUT
        .iter()
        .filter(|(t, _)| placed.iter().any(|p| p == t))
        .map(|(t, p)| Placed {
            table: t.to_string(),
            placement: match p {
                vigie_store::citus::Placement::Reference => "reference".into(),
                vigie_store::citus::Placement::ByEstablishment => {
                    "distributed by est_id (with hosts)".into()
                }
                vigie_store::citus::Placement::ByColumn(c) => format!("distributed by {c}"),
            },
        })
        .collect();
    let mut t = Table::new(["table", "placement"]);
    for r in &rows {
        t.row([r.table.clone(), r.placement.clone()]);
    }
    emit(ctx.format, &rows, &t)?;
    Ok(ExitCode::SUCCESS)
}

pub async fn assess(ctx: &Ctx, at: Option<&str>) -> Result<ExitCode> {
    let now = jiff::Timestamp::now();
    let at = match at {
        None => now,
        Some(s) => match s.parse::<jiff::Timestamp>() {
            Ok(t) if t > now => bail!("--at {s:?} is in the future"),
            Ok(t) => t,
            Err(_) => {
                let d = vigie_core::Day::parse(s)
                    .with_context(|| format!("--at {s:?}: expected RFC 3339 or YYYY-MM-DD"))?;
                if d > today() {
                    bail!("--at {s:?} is in the future");
                }
                // the end of that day, or now for today
                jiff::Timestamp::from_second(d.end_second())?.min(now)
            }
        },
    };
    let store = ctx.store().await?;
    let mut pipeline = ctx.pipeline(&store).await?;
    let report = pipeline.assess(at).await?;
    let mut t = Table::new([
        "assessed at",
        "machines",
        "findings opened",
        "findings closed",
    ]);
    t.row([
        at.to_string(),
        report.hosts.to_string(),
        report.findings_opened.to_string(),
        report.findings_closed.to_string(),
    ]);
    emit(ctx.format, &report, &t)?;
    Ok(ExitCode::SUCCESS)
}
