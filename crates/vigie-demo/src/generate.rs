//! Writing the history: which file holds what, in parallel.

use crate::fleet::{Ctx, Machine, Snapshot};
use crate::sector::Agent;
use crate::write::{csv_export, glpi, nmap, osquery, xml_agent};
use crate::{DemoError, DemoFile, DemoSpec, Sector};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use vigie_core::Day;

/// One file (or, for per-machine agents, one batch of files) to write.
#[derive(Debug, Clone)]
enum Job {
    /// osquery results of every site sharing a collector, one day.
    Osquery {
        collector: String,
        sites: Vec<usize>,
        day: Day,
    },
    /// Per-machine inventories of one site, one day.
    PerMachine { site: usize, day: Day },
    /// Weekly CSV report of one site (ConfigMgr or GLPI list).
    Weekly { site: usize, day: Day },
    /// Daily Intune export of every GP site of a region.
    Intune {
        collector: String,
        sites: Vec<usize>,
        day: Day,
    },
    /// Weekly nmap scan of one site's subnet.
    Nmap { site: usize, day: Day },
}

/// Buffered file output that flushes the string buffer as it grows, so
/// memory stays flat whatever the file size.
struct Out {
    path: PathBuf,
    writer: BufWriter<File>,
    buf: String,
}

impl Out {
    fn create(root: &Path, rel: &Path) -> Result<Out, DemoError> {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DemoError::io(dir, e))?;
        }
        let file = File::create(&path).map_err(|e| DemoError::io(&path, e))?;
        Ok(Out {
            path,
            writer: BufWriter::with_capacity(256 * 1024, file),
            buf: String::with_capacity(1 << 20),
        })
    }

    fn maybe_flush(&mut self) -> Result<(), DemoError> {
        if self.buf.len() > 1 << 20 {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> Result<(), DemoError> {
        self.writer
            .write_all(self.buf.as_bytes())
            .map_err(|e| DemoError::io(&self.path, e))?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<PathBuf, DemoError> {
        self.flush_buf()?;
        self.writer
            .flush()
            .map_err(|e| DemoError::io(&self.path, e))?;
        Ok(self.path)
    }
}

fn days(ctx: &Ctx<'_>) -> impl Iterator<Item = Day> + use<> {
    let start = ctx.start;
    (0..ctx.days).map(move |i| start.add_days(i32::try_from(i).unwrap_or(0)))
}

/// Day index in the week of the history (0 = first day).
fn weekday(ctx: &Ctx<'_>, d: Day) -> u8 {
    u8::try_from(d.days_since(ctx.start).rem_euclid(7)).unwrap_or(0)
}

fn plan(ctx: &Ctx<'_>) -> Vec<Job> {
    let sector = ctx.sector;
    let mut osquery: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut intune: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut jobs = Vec::new();
    for (i, site) in sector.sites.iter().enumerate() {
        match site.agent {
            Agent::Osquery => osquery.entry(&site.collector).or_default().push(i),
            Agent::IntuneCsv => intune.entry(&site.collector).or_default().push(i),
            _ => {}
        }
    }
    for d in days(ctx) {
        for (collector, sites) in &osquery {
            jobs.push(Job::Osquery {
                collector: collector.to_string(),
                sites: sites.clone(),
                day: d,
            });
        }
        for (collector, sites) in &intune {
            jobs.push(Job::Intune {
                collector: collector.to_string(),
                sites: sites.clone(),
                day: d,
            });
        }
        for (i, site) in sector.sites.iter().enumerate() {
            if site.agent.per_machine() {
                jobs.push(Job::PerMachine { site: i, day: d });
            }
            let wd = weekday(ctx, d);
            if matches!(site.agent, Agent::SccmCsv | Agent::GlpiCsv) && wd == site.weekday {
                jobs.push(Job::Weekly { site: i, day: d });
            }
            if site.nmap && wd == site.weekday {
                jobs.push(Job::Nmap { site: i, day: d });
            }
        }
    }
    // Big jobs first keeps both cores busy until the end.
    jobs.sort_by_key(|j| match j {
        Job::Osquery { sites, .. } | Job::Intune { sites, .. } => {
            std::cmp::Reverse(sites.iter().map(|s| sector.sites[*s].hosts).sum::<u64>())
        }
        Job::PerMachine { site, .. } | Job::Weekly { site, .. } | Job::Nmap { site, .. } => {
            std::cmp::Reverse(sector.sites[*site].hosts)
        }
    });
    jobs
}

fn tag<'s>(sector: &'s Sector, m: &Machine) -> Option<&'s str> {
    m.tagged
        .then(|| sector.establishments[m.site].code.as_str())
}

fn machines<'a>(ctx: &'a Ctx<'a>, site: usize) -> impl Iterator<Item = Machine> + 'a {
    (0..ctx.sector.sites[site].hosts).map(move |i| Machine::new(ctx, site, i))
}

fn run(ctx: &Ctx<'_>, job: &Job, root: &Path) -> Result<Vec<DemoFile>, DemoError> {
    let sector = ctx.sector;
    match job {
        Job::Osquery {
            collector,
            sites,
            day,
        } => {
            let rel = PathBuf::from(day.to_string())
                .join("osquery")
                .join(format!("{collector}-osqueryd.results.log"));
            let mut out: Option<Out> = None;
            let mut hosts = 0;
            for &s in sites {
                let site = &sector.sites[s];
                for m in machines(ctx, s) {
                    if !m.reports(*day) {
                        continue;
                    }
                    let cur = m.snapshot(ctx, *day);
                    let prev: Option<Snapshot> = m
                        .previous_report(*day, ctx.start)
                        .map(|p| m.snapshot(ctx, p));
                    let o = match out.as_mut() {
                        Some(o) => o,
                        None => out.insert(Out::create(root, &rel)?),
                    };
                    let counter = u64::try_from(day.days_since(ctx.start)).unwrap_or(0);
                    osquery::host_report(
                        &mut o.buf,
                        &m,
                        site,
                        tag(sector, &m),
                        &cur,
                        prev.as_ref(),
                        counter,
                    );
                    o.maybe_flush()?;
                    hosts += 1;
                }
            }
            finish(out, *day, "osquery", hosts)
        }
        Job::PerMachine { site, day } => {
            let s = &sector.sites[*site];
            let mut files = Vec::new();
            for m in machines(ctx, *site) {
                if !m.reports(*day) {
                    continue;
                }
                let snap = m.snapshot(ctx, *day);
                let t = tag(sector, &m);
                let offset = crate::write::local_offset(snap.time, m.french).0;
                let id = crate::write::device_id(&m.hostname, snap.time + offset);
                let (dir, name, format, body) = match s.agent {
                    Agent::GlpiJson => (
                        "glpi",
                        format!("{id}.json"),
                        "glpi-json",
                        glpi::document(&m, s, t, &snap),
                    ),
                    Agent::FusionXml => (
                        "fusion",
                        format!("{id}.xml"),
                        "fusion-xml",
                        xml_agent::fusion(&m, s, t, &snap),
                    ),
                    _ => (
                        "ocs",
                        format!("{}.ocs", crate::write::device_id(&m.hostname, snap.time)),
                        "ocs-xml",
                        xml_agent::ocs(&m, s, t, &snap),
                    ),
                };
                let rel = PathBuf::from(day.to_string()).join(dir).join(name);
                let mut out = Out::create(root, &rel)?;
                out.buf = body;
                files.push(DemoFile {
                    path: out.finish()?,
                    day: *day,
                    format,
                    hosts: 1,
                });
            }
            Ok(files)
        }
        Job::Weekly { site, day } => {
            let s = &sector.sites[*site];
            let code = sector.establishments[*site].code.as_str();
            let (layout, name) = if s.agent == Agent::GlpiCsv {
                (
                    csv_export::Layout::GlpiFr,
                    format!("{code}-glpi-ordinateurs.csv"),
                )
            } else {
                (
                    csv_export::Layout::Sccm,
                    format!("{code}-configmgr-hardware-software.csv"),
                )
            };
            let rel = PathBuf::from(day.to_string()).join("csv").join(name);
            let from = day.add_days(-6).max(ctx.start);
            let mut rows = Vec::new();
            for m in machines(ctx, *site) {
                if let Some(r) = m.last_report(*day, from) {
                    rows.push((m, r));
                }
            }
            csv_file(ctx, root, &rel, layout, rows, *day)
        }
        Job::Intune {
            collector,
            sites,
            day,
        } => {
            let rel = PathBuf::from(day.to_string())
                .join("csv")
                .join(format!("gp-it-{collector}-intune-devices-apps.csv"));
            let mut rows = Vec::new();
            for &s in sites {
                for m in machines(ctx, s) {
                    if m.reports(*day) {
                        rows.push((m, *day));
                    }
                }
            }
            csv_file(ctx, root, &rel, csv_export::Layout::Intune, rows, *day)
        }
        Job::Nmap { site, day } => {
            let s = &sector.sites[*site];
            let code = sector.establishments[*site].code.as_str();
            let rel = PathBuf::from(day.to_string())
                .join("nmap")
                .join(format!("{code}-smb-scan.xml"));
            // Evening scan: after the day's agent reports.
            let start = day.start_second()
                + 20 * 3600
                + i64::try_from(crate::rng::hash_str(code) % 1800).unwrap_or(0);
            let mut out = Out::create(root, &rel)?;
            nmap::header(&mut out.buf, s, start);
            let mut up = 0u64;
            let mut t = start;
            for m in machines(ctx, *site) {
                if m.rogue || !m.active(*day) {
                    continue;
                }
                // Some machines are off or unplugged during the scan.
                let off = crate::rng::key(&[m.seed, u64::try_from(day.number()).unwrap_or(0), 17])
                    .is_multiple_of(10);
                if off {
                    continue;
                }
                t += 2;
                let snap = m.snapshot(ctx, *day);
                nmap::host(&mut out.buf, &m, s, &snap, t);
                up += 1;
                out.maybe_flush()?;
            }
            let total = u64::from(1u32 << (32 - u32::from(s.subnet.prefix_len())));
            nmap::footer(&mut out.buf, t + 20, up, total);
            Ok(vec![DemoFile {
                path: out.finish()?,
                day: *day,
                format: "nmap",
                hosts: up,
            }])
        }
    }
}

fn finish(
    out: Option<Out>,
    day: Day,
    format: &'static str,
    hosts: u64,
) -> Result<Vec<DemoFile>, DemoError> {
    match out {
        Some(o) => Ok(vec![DemoFile {
            path: o.finish()?,
            day,
            format,
            hosts,
        }]),
        None => Ok(Vec::new()),
    }
}

fn csv_file(
    ctx: &Ctx<'_>,
    root: &Path,
    rel: &Path,
    layout: csv_export::Layout,
    rows: Vec<(Machine, Day)>,
    day: Day,
) -> Result<Vec<DemoFile>, DemoError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DemoError::io(dir, e))?;
    }
    let file = File::create(&path).map_err(|e| DemoError::io(&path, e))?;
    let mut w = csv::WriterBuilder::new()
        .delimiter(csv_export::delimiter(layout))
        .quote_style(if layout == csv_export::Layout::Sccm {
            csv::QuoteStyle::Always
        } else {
            csv::QuoteStyle::Necessary
        })
        .from_writer(BufWriter::with_capacity(256 * 1024, file));
    let csv_err = |e: csv::Error| DemoError::io(&path, std::io::Error::other(e.to_string()));
    w.write_record(csv_export::header(layout))
        .map_err(csv_err)?;
    let hosts = u64::try_from(rows.len()).unwrap_or(0);
    for (m, r) in rows {
        let snap = m.snapshot(ctx, r);
        let t = tag(ctx.sector, &m);
        for row in csv_export::device_rows(layout, &m, t, &snap) {
            w.write_record(&row).map_err(csv_err)?;
        }
    }
    w.flush().map_err(|e| DemoError::io(&path, e))?;
    Ok(vec![DemoFile {
        path,
        day,
        format: "csv",
        hosts,
    }])
}

pub(crate) fn write_all(
    spec: &DemoSpec,
    sector: &Sector,
    out_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<DemoFile>, DemoError> {
    let ctx = Ctx::new(spec, sector);
    let jobs = plan(&ctx);
    std::fs::create_dir_all(out_dir).map_err(|e| DemoError::io(out_dir, e))?;
    let results: Vec<Vec<DemoFile>> = jobs
        .par_iter()
        .map(|job| {
            let files = run(&ctx, job, out_dir)?;
            let hosts: u64 = files.iter().map(|f| f.hosts).sum();
            if hosts > 0 {
                progress(hosts);
            }
            Ok(files)
        })
        .collect::<Result<_, DemoError>>()?;
    let mut files: Vec<DemoFile> = results.into_iter().flatten().collect();
    // Ingest order: by day; agents before scans within a day, so a scan
    // is the newest observation of the day when both exist.
    let rank = |f: &DemoFile| u8::from(f.format == "nmap");
    files.sort_by(|a, b| (a.day, rank(a), &a.path).cmp(&(b.day, rank(b), &b.path)));
    Ok(files)
}
