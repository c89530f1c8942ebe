use crate::identity;
use crate::softdict::SoftwareDict;
use jiff::Timestamp;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};
use vigie_core::facts::SourceState;
use vigie_core::{
    AttributionReason, Day, EstablishmentCode, Finding, HostFacts, Observation, OrgDirectory,
    RuleId, Software,
};
use vigie_inventory::{DETECT_BYTES, Format, ParseError, ParseOptions};
use vigie_posture::{Checks, MemoChecks, RuleSet};
use vigie_store::{
    FileRecord, HostChange, HostRecord, OsSummary, Store, StoreError, StoreTx, StoredSourceState,
};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error(
        "{file}: format not recognised (expected osquery, glpi-json, fusion-xml, ocs-xml, nmap or csv)"
    )]
    UnknownFormat { file: String },
    #[error("{file}: {error}")]
    Parse { file: String, error: ParseError },
    #[error("{file}: storage: {source}")]
    Store { file: String, source: StoreError },
    #[error("unknown establishment {0} (import it first with `vigie org import`)")]
    UnknownEstablishment(EstablishmentCode),
    #[error("{file}: internal error: {detail}")]
    Internal { file: String, detail: String },
    /// An upload confined to one establishment describes a machine the
    /// inventory itself tags for another: nothing of the file is stored.
    #[error(
        "{file}: machine {host} is tagged for establishment {named}, but the file was sent for {expected}: \
         an upload for one establishment may describe only its machines (nothing was stored)"
    )]
    ForeignMachine {
        file: String,
        expected: EstablishmentCode,
        named: EstablishmentCode,
        host: String,
    },
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Attribute every machine to this establishment.
    pub establishment: Option<EstablishmentCode>,
    /// Observation time when the inventory does not say.
    pub observed_at: Option<Timestamp>,
    /// Skip detection.
    pub format: Option<Format>,
    pub parse: ParseOptions,
    /// "Now", for observations without any time.
    pub now: Timestamp,
    /// Confine the file to `establishment` (uploads over HTTP by an
    /// establishment's officer or ingest token): machines are matched and
    /// recorded by keys scoped to that establishment only. Hardware ids are
    /// global, so an unconfined upload naming another establishment's
    /// serial number would claim that machine and its history.
    pub confine: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            establishment: None,
            observed_at: None,
            format: None,
            parse: ParseOptions::default(),
            now: Timestamp::now(),
            confine: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileStatus {
    Ingested,
    AlreadyIngested,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub file: String,
    pub format: String,
    pub status: FileStatus,
    pub content_hash: String,
    pub observations: u64,
    pub hosts_new: u64,
    pub hosts_updated: u64,
    /// Distinct machines of this file left without an establishment.
    pub unassigned: u64,
    /// Observations older than what their source already reported (kept out).
    pub stale: u64,
    /// Observations with nothing to identify a machine by.
    pub unidentified: u64,
    /// Observations dated in the future (wrong clock: after now + 15
    /// minutes, or beyond year 9999), counted as observed now.
    pub future_dated: u64,
    /// Observations dated before 1995-01-01 (a clock never set: 1970,
    /// negative times), counted as observed now.
    pub too_old: u64,
    /// Values cut to their field's length limit (docs/formats.md).
    pub values_truncated: u64,
    /// Values whose control characters were escaped (docs/formats.md).
    pub values_escaped: u64,
    /// Machines the inventory tags for another establishment than the one
    /// the file was sent for (`--establishment`): recorded in the file's
    /// establishment, as asked, and said here.
    pub foreign: u64,
    /// A few of them: "HOST (tagged CODE)".
    pub foreign_examples: Vec<String>,
    pub findings_opened: u64,
    pub findings_closed: u64,
    pub first_observed: Option<Timestamp>,
    pub last_observed: Option<Timestamp>,
}

impl FileReport {
    fn new(file: &str, format: Format, hash: &str) -> Self {
        FileReport {
            file: file.to_string(),
            format: format.as_str().to_string(),
            status: FileStatus::Ingested,
            content_hash: hash.to_string(),
            observations: 0,
            hosts_new: 0,
            hosts_updated: 0,
            unassigned: 0,
            stale: 0,
            unidentified: 0,
            future_dated: 0,
            too_old: 0,
            values_truncated: 0,
            values_escaped: 0,
            foreign: 0,
            foreign_examples: Vec::new(),
            findings_opened: 0,
            findings_closed: 0,
            first_observed: None,
            last_observed: None,
        }
    }
}

/// How far ahead of now an observation time may be before it is treated as
/// a wrong clock.
const FUTURE_TOLERANCE: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// The earliest plausible observation time, 1995-01-01T00:00:00Z: no
/// inventory agent vigie reads existed before; earlier times (1970, negative
/// ones) come from a clock that was never set.
const EARLIEST_PLAUSIBLE: i64 = 788_918_400;

/// Where an observation time falls against the plausible window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plausibility {
    Plausible,
    Future,
    TooOld,
}

fn plausibility(at: Timestamp, now: Timestamp) -> Plausibility {
    let latest = now.checked_add(FUTURE_TOLERANCE).unwrap_or(Timestamp::MAX);
    if at > latest {
        Plausibility::Future
    } else if at.as_second() < EARLIEST_PLAUSIBLE {
        Plausibility::TooOld
    } else {
        Plausibility::Plausible
    }
}

/// Observations per batch: large enough to amortise queries, small enough
/// that memory stays flat (a batch of Windows hosts is a few MB).
const DEFAULT_BATCH: usize = 1000;

pub struct Pipeline {
    store: Arc<dyn Store>,
    org: Arc<OrgDirectory>,
    rules: Arc<RuleSet>,
    checks: Arc<dyn Checks + Send + Sync>,
    dict: SoftwareDict,
    batch_size: usize,
}

/// Per-file accumulators.
#[derive(Default)]
struct Acc {
    touched: BTreeSet<Option<EstablishmentCode>>,
    days: BTreeSet<Day>,
    hosts_new: BTreeSet<i64>,
    hosts_updated: BTreeSet<i64>,
    unassigned: BTreeSet<i64>,
    /// The previous batch's writes, not applied yet.
    pending: Option<Pending>,
}

/// Writes of the previous batch, applied while the next batch is evaluated.
#[derive(Default)]
struct Pending {
    rounds: Vec<Vec<HostChange>>,
    /// Identity keys the batch used or registers.
    keys: HashSet<String>,
    /// Hosts the batch changes.
    hosts: HashSet<i64>,
}

async fn write_pending(tx: &mut dyn StoreTx, pending: Option<Pending>) -> Result<(), StoreError> {
    if let Some(p) = pending {
        for round in p.rounds {
            tx.apply(&round).await?;
        }
    }
    Ok(())
}

/// One observation, attributed and keyed.
struct Prepared {
    obs: Observation,
    at: Timestamp,
    attribution: Option<(EstablishmentCode, AttributionReason)>,
    keys: Vec<String>,
    /// For an attributed observation, its keys scoped to no establishment:
    /// how the machine was known if it was first seen unassigned.
    unscoped: Vec<String>,
}

/// Observations of one host within a batch, in file order.
struct Group {
    host_id: i64,
    record: Option<HostRecord>,
    items: Vec<Prepared>,
    /// From a confined upload: record no hardware key.
    confined: bool,
}

struct GroupResult {
    changes: Vec<HostChange>,
    /// Set when a late report moved the machine's first sighting earlier:
    /// the days from then on must be re-aggregated.
    earliest: Option<Day>,
    stale: u64,
    opened: u64,
    closed: u64,
}

impl GroupResult {
    /// Adds a machine's projected changes; the first carries the rewind of
    /// what was projected before, if it is still to be written.
    fn push_projected(
        &mut self,
        steps: Vec<Projected>,
        host_id: i64,
        est: &Option<EstablishmentCode>,
        hostname: &Option<String>,
        first_seen: Timestamp,
        rewind: &mut Option<Timestamp>,
    ) {
        for step in steps {
            self.opened += step.opened.len() as u64;
            self.closed += step.closed.len() as u64;
            self.changes
                .push(step.into_change(host_id, est, hostname, first_seen, rewind.take()));
        }
    }
}

/// A reader that hashes what passes through it (for streams, where the
/// content hash is only known at the end).
struct HashingReader<R> {
    inner: R,
    hasher: Arc<Mutex<blake3::Hasher>>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut h) = self.hasher.lock() {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

impl Pipeline {
    pub fn new(
        store: Arc<dyn Store>,
        org: OrgDirectory,
        rules: RuleSet,
        checks: Arc<dyn Checks + Send + Sync>,
    ) -> Self {
        Pipeline {
            store,
            org: Arc::new(org),
            rules: Arc::new(rules),
            checks,
            dict: SoftwareDict::default(),
            batch_size: DEFAULT_BATCH,
        }
    }

    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    pub fn org(&self) -> &OrgDirectory {
        &self.org
    }

    fn check_options(&self, opts: &IngestOptions) -> Result<(), IngestError> {
        if let Some(e) = &opts.establishment
            && self.org.get(e).is_none()
        {
            return Err(IngestError::UnknownEstablishment(e.clone()));
        }
        Ok(())
    }

    /// Ingests one file. Its content hash is computed first so a file
    /// already ingested is skipped without parsing (see [`record_key`]).
    pub async fn ingest_file(
        &mut self,
        path: &Path,
        opts: &IngestOptions,
    ) -> Result<FileReport, IngestError> {
        self.check_options(opts)?;
        let name = path.display().to_string();
        let io = |source| IngestError::Io {
            file: name.clone(),
            source,
        };
        let p = path.to_path_buf();
        let (hash, head) =
            tokio::task::spawn_blocking(move || -> std::io::Result<(String, Vec<u8>)> {
                let mut f = std::fs::File::open(&p)?;
                let mut hasher = blake3::Hasher::new();
                let mut head = Vec::new();
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = f.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    if head.len() < DETECT_BYTES {
                        let take = n.min(DETECT_BYTES - head.len());
                        head.extend_from_slice(&buf[..take]);
                    }
                    hasher.update(&buf[..n]);
                }
                Ok((hasher.finalize().to_hex().to_string(), head))
            })
            .await
            .map_err(|e| IngestError::Internal {
                file: name.clone(),
                detail: e.to_string(),
            })?
            .map_err(io)?;
        let format = match opts.format.or_else(|| vigie_inventory::detect(&head)) {
            Some(f) => f,
            None => return Err(IngestError::UnknownFormat { file: name }),
        };
        if self
            .store
            .file_record(&record_key(&hash, opts))
            .await
            .map_err(|source| IngestError::Store {
                file: name.clone(),
                source,
            })?
            .is_some()
        {
            let mut r = FileReport::new(&name, format, &hash);
            r.status = FileStatus::AlreadyIngested;
            return Ok(r);
        }
        let file = std::fs::File::open(path).map_err(io)?;
        let reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 18, file));
        self.run_inner(&name, format, reader, HashSource::Known(hash), opts)
            .await
    }

    /// Ingests a stream (stdin, an HTTP body). The content hash is computed
    /// while parsing; a stream already ingested is rolled back at the end.
    pub async fn ingest_reader<R: Read + Send + 'static>(
        &mut self,
        name: &str,
        mut reader: R,
        opts: &IngestOptions,
    ) -> Result<FileReport, IngestError> {
        self.check_options(opts)?;
        let io = |source| IngestError::Io {
            file: name.to_string(),
            source,
        };
        let mut head = Vec::with_capacity(DETECT_BYTES);
        (&mut reader)
            .take(DETECT_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(io)?;
        let format = match opts.format.or_else(|| vigie_inventory::detect(&head)) {
            Some(f) => f,
            None => {
                return Err(IngestError::UnknownFormat {
                    file: name.to_string(),
                });
            }
        };
        let hasher = Arc::new(Mutex::new(blake3::Hasher::new()));
        let chained = std::io::Cursor::new(head).chain(reader);
        let hashing = HashingReader {
            inner: chained,
            hasher: hasher.clone(),
        };
        let reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 18, hashing));
        // the hash is final only once the parser has read everything
        self.run_inner(name, format, reader, HashSource::Stream(hasher), opts)
            .await
    }

    async fn run_inner(
        &mut self,
        name: &str,
        format: Format,
        reader: Box<dyn BufRead + Send>,
        hash: HashSource,
        opts: &IngestOptions,
    ) -> Result<FileReport, IngestError> {
        let result = self.run_tx(name, format, reader, hash, opts).await;
        match &result {
            Ok(r) if r.status == FileStatus::Ingested => self.dict.commit(),
            _ => self.dict.rollback(),
        }
        result
    }

    async fn run_tx(
        &mut self,
        name: &str,
        format: Format,
        reader: Box<dyn BufRead + Send>,
        hash: HashSource,
        opts: &IngestOptions,
    ) -> Result<FileReport, IngestError> {
        let store_err = |source| IngestError::Store {
            file: name.to_string(),
            source,
        };
        let (sender, mut receiver) =
            tokio::sync::mpsc::channel::<Result<Vec<Observation>, ParseError>>(4);
        let batch_size = self.batch_size;
        let parse_opts = opts.parse.clone();
        // Parsing runs on its own thread so it overlaps with database work.
        let parser = std::thread::Builder::new()
            .name("vigie-parse".into())
            .spawn(move || {
                let mut buf = Vec::with_capacity(batch_size);
                for item in vigie_inventory::parse(format, reader, &parse_opts) {
                    match item {
                        Ok(o) => {
                            buf.push(o);
                            if buf.len() >= batch_size
                                && sender.blocking_send(Ok(std::mem::take(&mut buf))).is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = sender.blocking_send(Err(e));
                            return;
                        }
                    }
                }
                if !buf.is_empty() {
                    let _ = sender.blocking_send(Ok(buf));
                }
            })
            .map_err(|e| IngestError::Internal {
                file: name.to_string(),
                detail: e.to_string(),
            })?;

        let mut tx = self.store.begin().await.map_err(store_err)?;
        let mut report = FileReport::new(name, format, "");
        let mut acc = Acc::default();
        while let Some(msg) = receiver.recv().await {
            match msg {
                Ok(batch) => {
                    report.observations += batch.len() as u64;
                    self.process_batch(name, tx.as_mut(), batch, opts, &mut report, &mut acc)
                        .await?;
                }
                Err(error) => {
                    // dropping `tx` rolls back everything this file wrote
                    return Err(IngestError::Parse {
                        file: name.to_string(),
                        error,
                    });
                }
            }
        }
        drop(receiver);
        write_pending(tx.as_mut(), acc.pending.take())
            .await
            .map_err(store_err)?;
        let _ = tokio::task::spawn_blocking(move || parser.join()).await;

        let content_hash = match hash {
            HashSource::Known(h) => h,
            HashSource::Stream(h) => match h.lock() {
                Ok(hasher) => hasher.finalize().to_hex().to_string(),
                Err(_) => {
                    return Err(IngestError::Internal {
                        file: name.to_string(),
                        detail: "hash lock poisoned".into(),
                    });
                }
            },
        };
        report.content_hash = content_hash.clone();
        report.hosts_new = acc.hosts_new.len() as u64;
        report.hosts_updated = acc.hosts_updated.difference(&acc.hosts_new).count() as u64;
        report.unassigned = acc.unassigned.len() as u64;
        let touched: Vec<Option<EstablishmentCode>> = acc.touched.iter().cloned().collect();
        let days: Vec<Day> = acc.days.iter().copied().collect();
        tx.refresh_daily(&touched, &days).await.map_err(store_err)?;
        let fresh = tx
            .record_file(&FileRecord {
                content_hash: record_key(&content_hash, opts),
                name: name.to_string(),
                format: format.as_str().to_string(),
                ingested_at: opts.now,
                observations: report.observations,
                hosts: report.hosts_new + report.hosts_updated,
                unassigned: report.unassigned,
            })
            .await
            .map_err(store_err)?;
        if !fresh {
            // the same bytes were ingested before: keep the database as it was
            drop(tx);
            let mut r = FileReport::new(name, format, &report.content_hash);
            r.status = FileStatus::AlreadyIngested;
            return Ok(r);
        }
        tx.commit().await.map_err(store_err)?;
        Ok(report)
    }

    /// Brings the software the stored sources refer to into the dictionary
    /// cache, so their lists can be rebuilt.
    async fn load_software(
        &mut self,
        tx: &mut dyn StoreTx,
        records: impl Iterator<Item = &HostRecord>,
    ) -> Result<(), StoreError> {
        let unknown: BTreeSet<u32> = records
            .flat_map(|r| r.sources.iter())
            .flat_map(|s| s.software_ids.iter().flatten())
            .copied()
            .filter(|id| self.dict.get(*id).is_none())
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let ids: Vec<u32> = unknown.into_iter().collect();
        for (id, sw) in tx.software_by_ids(&ids).await? {
            self.dict.insert_pending(id, sw);
        }
        Ok(())
    }

    async fn process_batch(
        &mut self,
        name: &str,
        tx: &mut dyn StoreTx,
        batch: Vec<Observation>,
        opts: &IngestOptions,
        report: &mut FileReport,
        acc: &mut Acc,
    ) -> Result<(), IngestError> {
        let mut pending = acc.pending.take();
        let store_err = |source| IngestError::Store {
            file: name.to_string(),
            source,
        };
        let t0 = std::time::Instant::now();
        // 1. time, attribution, identity keys
        let mut prepared = Vec::with_capacity(batch.len());
        for obs in batch {
            report.values_truncated += u64::from(obs.adjusted.truncated);
            report.values_escaped += u64::from(obs.adjusted.escaped);
            let mut at = obs.observed_at.or(opts.observed_at).unwrap_or(opts.now);
            // An endpoint with a wrong clock must not date evidence in the
            // future: findings only move forward, so one such report would
            // pin the machine's history; nor in 1970, where a Windows 10
            // would be judged as of then. Count it and use now instead.
            match plausibility(at, opts.now) {
                Plausibility::Plausible => {}
                Plausibility::Future => {
                    report.future_dated += 1;
                    at = opts.now;
                }
                Plausibility::TooOld => {
                    report.too_old += 1;
                    at = opts.now;
                }
            }
            let hostnames: Vec<&str> = [obs.host.hostname.as_deref(), obs.host.fqdn.as_deref()]
                .into_iter()
                .flatten()
                .collect();
            // a file sent for one establishment that tags a machine for another
            if let Some(forced) = opts.establishment.as_ref()
                && let Some(named) = obs
                    .establishment_hint
                    .as_deref()
                    .and_then(|t| EstablishmentCode::new(t).ok())
                    .filter(|c| c != forced && self.org.get(c).is_some())
            {
                let host = hostnames
                    .first()
                    .map(|h| h.to_string())
                    .or_else(|| obs.host.serial.clone())
                    .unwrap_or_else(|| "(unnamed)".into());
                if opts.confine {
                    return Err(IngestError::ForeignMachine {
                        file: name.to_string(),
                        expected: forced.clone(),
                        named,
                        host,
                    });
                }
                report.foreign += 1;
                if report.foreign_examples.len() < MAX_FOREIGN_EXAMPLES {
                    report
                        .foreign_examples
                        .push(format!("{host} (tagged {named})"));
                }
            }
            let attribution = self
                .org
                .attribute(
                    opts.establishment.as_ref(),
                    obs.establishment_hint.as_deref(),
                    &hostnames,
                    &obs.host.addresses,
                )
                .map(|a| (a.establishment, a.reason));
            let mut keys = identity::keys(&obs.host, attribution.as_ref().map(|a| &a.0));
            if opts.confine {
                keys.retain(|k| !k.starts_with("hw:"));
            }
            if keys.is_empty() {
                report.unidentified += 1;
                continue;
            }
            report.first_observed = Some(report.first_observed.map_or(at, |f| f.min(at)));
            report.last_observed = Some(report.last_observed.map_or(at, |l| l.max(at)));
            // (a confined upload never adopts a machine recorded elsewhere)
            let unscoped = if attribution.is_some() && !opts.confine {
                identity::keys(&obs.host, None)
            } else {
                Vec::new()
            };
            prepared.push(Prepared {
                obs,
                at,
                attribution,
                keys,
                unscoped,
            });
        }
        if prepared.is_empty() {
            acc.pending = pending;
            return Ok(());
        }
        // The previous batch's writes are still pending. A machine it touched
        // must be written before this batch reads it: first by key (machines
        // it created are not in the database yet), then by resolved id.
        // (unscoped keys too: an attributed machine may be one the previous
        // batch created unassigned)
        if pending.as_ref().is_some_and(|p| {
            prepared
                .iter()
                .any(|o| o.keys.iter().chain(&o.unscoped).any(|k| p.keys.contains(k)))
        }) {
            write_pending(tx, pending.take()).await.map_err(store_err)?;
        }
        // 2. resolve against the database, then group within the batch
        let key_lists: Vec<Vec<String>> = prepared.iter().map(|p| p.keys.clone()).collect();
        let mut resolved = tx.resolve_keys(&key_lists).await.map_err(store_err)?;
        // A machine first seen unassigned carries keys scoped to no
        // establishment; once the directory attributes it, look those up too,
        // and take the match only if that machine is still unassigned.
        let unscoped: Vec<(usize, Vec<String>)> = prepared
            .iter()
            .enumerate()
            .filter(|(i, p)| resolved[*i].is_none() && !p.unscoped.is_empty())
            .map(|(i, p)| (i, p.unscoped.clone()))
            .collect();
        if !unscoped.is_empty() {
            let lists: Vec<Vec<String>> = unscoped.iter().map(|(_, k)| k.clone()).collect();
            let found = tx.resolve_keys(&lists).await.map_err(store_err)?;
            let ids: Vec<i64> = found.iter().flatten().copied().collect();
            let still_unassigned: HashSet<i64> = tx
                .load_hosts(&ids)
                .await
                .map_err(store_err)?
                .into_iter()
                .filter(|r| r.establishment.is_none())
                .map(|r| r.id)
                .collect();
            for ((i, _), f) in unscoped.iter().zip(found) {
                if let Some(id) = f.filter(|id| still_unassigned.contains(id)) {
                    resolved[*i] = Some(id);
                }
            }
        }
        if pending
            .as_ref()
            .is_some_and(|p| resolved.iter().flatten().any(|id| p.hosts.contains(id)))
        {
            write_pending(tx, pending.take()).await.map_err(store_err)?;
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut by_host: HashMap<i64, usize> = HashMap::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut new_groups: Vec<usize> = Vec::new();
        for (p, found) in prepared.into_iter().zip(resolved) {
            // what the database resolved wins; keys seen earlier in this batch
            // only group machines the database does not know yet
            let gi = match found {
                Some(id) => by_host.get(&id).copied(),
                None => p
                    .keys
                    .iter()
                    .find_map(|k| by_key.get(k).copied())
                    .or_else(|| {
                        // an attributed report of a machine this batch saw
                        // unassigned (same rule as for stored machines)
                        p.unscoped
                            .iter()
                            .filter_map(|k| by_key.get(k).copied())
                            .find(|&g| {
                                groups[g].host_id == 0
                                    && groups[g].items.iter().all(|i| i.attribution.is_none())
                            })
                    }),
            };
            let gi = match (gi, found) {
                (Some(gi), _) => gi,
                (None, Some(id)) => {
                    groups.push(Group {
                        host_id: id,
                        record: None,
                        items: Vec::new(),
                        confined: opts.confine,
                    });
                    by_host.insert(id, groups.len() - 1);
                    groups.len() - 1
                }
                (None, None) => {
                    groups.push(Group {
                        host_id: 0,
                        record: None,
                        items: Vec::new(),
                        confined: opts.confine,
                    });
                    new_groups.push(groups.len() - 1);
                    groups.len() - 1
                }
            };
            for k in &p.keys {
                by_key.entry(k.clone()).or_insert(gi);
            }
            groups[gi].items.push(p);
        }
        if !new_groups.is_empty() {
            let first = tx
                .allocate_host_ids(new_groups.len() as u64)
                .await
                .map_err(store_err)?;
            for (i, gi) in new_groups.iter().enumerate() {
                groups[*gi].host_id = first + i as i64;
            }
        }
        let existing: Vec<i64> = by_host.keys().copied().collect();
        let records = tx.load_hosts(&existing).await.map_err(store_err)?;
        for r in records {
            if let Some(&gi) = by_host.get(&r.id) {
                groups[gi].record = Some(r);
            }
        }
        let t_load = t0.elapsed();
        // 3. software dictionary: stored ids we do not know, and observed entries
        self.load_software(tx, groups.iter().filter_map(|g| g.record.as_ref()))
            .await
            .map_err(store_err)?;
        let mut unseen: Vec<Software> = Vec::new();
        let mut unseen_set: BTreeSet<&Software> = BTreeSet::new();
        for g in &groups {
            for p in &g.items {
                let lists: Vec<&Vec<Software>> = match &p.obs.software {
                    vigie_core::Section::Unknown => vec![],
                    vigie_core::Section::Full(l) => vec![l],
                    vigie_core::Section::Delta { added, removed } => vec![added, removed],
                };
                for s in lists.into_iter().flatten() {
                    if self.dict.id(s).is_none() && unseen_set.insert(s) {
                        unseen.push(s.clone());
                    }
                }
            }
        }
        drop(unseen_set);
        if !unseen.is_empty() {
            let ids = tx.intern_software(&unseen).await.map_err(store_err)?;
            for (id, sw) in ids.into_iter().zip(unseen) {
                self.dict.insert_pending(id, sw);
            }
        }
        let t_dict = t0.elapsed();
        // 4. apply, merge, evaluate: CPU work, in parallel off the async runtime
        let rules = self.rules.clone();
        let checks = self.checks.clone();
        let dict = std::mem::take(&mut self.dict);
        // findings the date alone brings are projected up to now
        let until = opts.now;
        let mut batch_keys: HashSet<String> = HashSet::new();
        for g in &groups {
            for p in &g.items {
                batch_keys.extend(p.keys.iter().cloned());
            }
        }
        let eval = tokio::task::spawn_blocking(move || {
            let results: Vec<GroupResult> = groups
                .into_par_iter()
                .map(|g| evaluate_group(g, &rules, checks.as_ref(), &dict, until))
                .collect();
            (results, dict)
        });
        // the previous batch is written while this one is evaluated
        let (written, evaluated) = tokio::join!(write_pending(tx, pending.take()), eval);
        let (results, dict) = evaluated.map_err(|e| IngestError::Internal {
            file: name.to_string(),
            detail: e.to_string(),
        })?;
        self.dict = dict;
        written.map_err(store_err)?;
        let t_eval = t0.elapsed();
        // 5. queue the writes, in rounds so that no host appears twice in one
        // statement batch; they are applied with the next batch's evaluation
        let mut rounds: Vec<Vec<HostChange>> = Vec::new();
        let mut hosts: HashSet<i64> = HashSet::new();
        for r in results {
            if let Some(d) = r.earliest {
                acc.days.insert(d);
            }
            report.stale += r.stale;
            report.findings_opened += r.opened;
            report.findings_closed += r.closed;
            for (i, c) in r.changes.into_iter().enumerate() {
                hosts.insert(c.host_id);
                batch_keys.extend(c.keys.iter().cloned());
                if c.is_new {
                    acc.hosts_new.insert(c.host_id);
                } else {
                    acc.hosts_updated.insert(c.host_id);
                }
                if c.establishment.is_none() {
                    acc.unassigned.insert(c.host_id);
                } else {
                    acc.unassigned.remove(&c.host_id);
                }
                if let Some(prev) = &c.previous_establishment {
                    acc.touched.insert(prev.clone());
                }
                acc.touched.insert(c.establishment.clone());
                acc.days.insert(Day::of_timestamp(c.observed_at));
                // a rewound history is aggregated again from where it starts
                acc.days.extend(c.rewind_after.map(Day::of_timestamp));
                if rounds.len() <= i {
                    rounds.push(Vec::new());
                }
                rounds[i].push(c);
            }
        }
        acc.pending = Some(Pending {
            rounds,
            keys: batch_keys,
            hosts,
        });
        tracing::debug!(
            file = name,
            load_ms = t_load.as_millis() as u64,
            dict_ms = (t_dict - t_load).as_millis() as u64,
            eval_and_previous_write_ms = (t_eval - t_dict).as_millis() as u64,
            "batch processed"
        );
        Ok(())
    }
}

/// What a re-assessment changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AssessReport {
    pub at: Option<Timestamp>,
    pub hosts: u64,
    pub findings_opened: u64,
    pub findings_closed: u64,
}

impl Pipeline {
    /// Re-evaluates every machine on its stored facts as of `at`. Rules that
    /// depend on the date (end of support reached, patches ageing, machines
    /// gone silent) change without any new inventory: run this daily.
    /// Findings it opens or closes are dated `at`; hosts, sources and keys
    /// are left as they are. One transaction.
    pub async fn assess(&mut self, at: Timestamp) -> Result<AssessReport, IngestError> {
        let name = "assessment";
        let store_err = |source| IngestError::Store {
            file: name.to_string(),
            source,
        };
        let mut tx = self.store.begin().await.map_err(store_err)?;
        let mut report = AssessReport {
            at: Some(at),
            ..Default::default()
        };
        let mut touched: BTreeSet<Option<EstablishmentCode>> = BTreeSet::new();
        let mut days: BTreeSet<Day> = BTreeSet::from([Day::of_timestamp(at)]);
        let mut after = 0i64;
        let result: Result<(), IngestError> = async {
            loop {
                let ids = tx
                    .host_ids_after(after, self.batch_size as u64, at)
                    .await
                    .map_err(store_err)?;
                let Some(&last) = ids.last() else { break };
                after = last;
                let records = tx
                    .load_hosts_for_assessment(&ids)
                    .await
                    .map_err(store_err)?;
                self.load_software(&mut *tx, records.iter())
                    .await
                    .map_err(store_err)?;
                let rules = self.rules.clone();
                let checks = self.checks.clone();
                let dict = std::mem::take(&mut self.dict);
                let (changes, dict) = tokio::task::spawn_blocking(move || {
                    let changes: Vec<Vec<HostChange>> = records
                        .into_par_iter()
                        .map(|r| reassess(r, at, &rules, checks.as_ref(), &dict))
                        .filter(|c| !c.is_empty())
                        .collect();
                    (changes, dict)
                })
                .await
                .map_err(|e| IngestError::Internal {
                    file: name.to_string(),
                    detail: e.to_string(),
                })?;
                self.dict = dict;
                report.hosts += ids.len() as u64;
                // in rounds: a machine appears at most once per statement batch
                let mut rounds: Vec<Vec<HostChange>> = Vec::new();
                for host in changes {
                    for (i, c) in host.into_iter().enumerate() {
                        report.findings_opened += c.opened.len() as u64;
                        report.findings_closed += c.closed.len() as u64;
                        touched.insert(c.establishment.clone());
                        days.insert(Day::of_timestamp(c.observed_at));
                        if rounds.len() <= i {
                            rounds.push(Vec::new());
                        }
                        rounds[i].push(c);
                    }
                }
                for round in &rounds {
                    tx.apply(round).await.map_err(store_err)?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            self.dict.rollback();
            return Err(e);
        }
        let touched: Vec<_> = touched.into_iter().collect();
        let days: Vec<Day> = days.into_iter().collect();
        tx.refresh_daily(&touched, &days).await.map_err(store_err)?;
        tx.record_assessment(at).await.map_err(store_err)?;
        tx.commit().await.map_err(store_err)?;
        self.dict.commit();
        Ok(report)
    }
}

/// Brings one stored machine to `at`: the changes its stored facts bring
/// with the date alone after what is already recorded are dated on the day
/// they happen, however long since the last run (once after a year or every
/// day, the same intervals), then it is evaluated on `at` itself, which
/// dates there what only new knowledge (an updated knowledge base or rule)
/// changes. Empty when nothing changes. Never dates anything before what is
/// already recorded.
fn reassess(
    r: HostRecord,
    at: Timestamp,
    rules: &RuleSet,
    checks: &(dyn Checks + Send + Sync),
    dict: &SoftwareDict,
) -> Vec<HostChange> {
    let from = r.latest_event();
    if at < from {
        return Vec::new();
    }
    let states: Vec<SourceState> = r
        .sources
        .iter()
        .map(|s| to_source_state(s, dict, true))
        .collect();
    let facts = HostFacts::merge_owned(r.hostname.clone(), states);
    let mut open: BTreeMap<RuleId, Finding> = r
        .open_findings
        .iter()
        .map(|f| (f.finding.rule.clone(), f.finding.clone()))
        .collect();
    // one machine's facts, evaluated on every change day and on `at`: the
    // answers that do not depend on the day are computed once
    let checks = MemoChecks::new(checks);
    let mut steps = project(rules, &checks, &facts, &mut open, from, at, true);
    steps.extend(Projected::from_evaluation(
        &mut open,
        rules.evaluate(&facts, Day::of_timestamp(at), &checks),
        at,
    ));
    steps
        .into_iter()
        .map(|step| step.into_change(r.id, &r.establishment, &r.hostname, r.first_seen, None))
        .collect()
}

enum HashSource {
    Known(String),
    Stream(Arc<Mutex<blake3::Hasher>>),
}

fn to_source_state(s: &StoredSourceState, dict: &SoftwareDict, with_software: bool) -> SourceState {
    SourceState {
        kind: s.kind,
        observed_at: s.observed_at,
        os: s.os.clone(),
        hotfixes: s.hotfixes.clone(),
        software: if with_software {
            s.software_ids
                .as_ref()
                .map(|ids| ids.iter().filter_map(|id| dict.get(*id).cloned()).collect())
        } else {
            None
        },
        features: s.features.clone(),
        network: s.network.clone(),
    }
}

fn to_stored(s: &SourceState, dict: &SoftwareDict) -> StoredSourceState {
    StoredSourceState {
        kind: s.kind,
        observed_at: s.observed_at,
        os: s.os.clone(),
        hotfixes: s.hotfixes.clone(),
        software_ids: s.software.as_ref().map(|l| {
            let mut ids: Vec<u32> = l.iter().filter_map(|sw| dict.id(sw)).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        }),
        features: s.features.clone(),
        network: s.network.clone(),
    }
}

/// Evidence keys whose value changes with the evaluation day; a change in
/// them alone does not rewrite the stored finding.
const VOLATILE_EVIDENCE: &[&str] = &["patch_age_days", "support", "evaluated_on"];

fn same_finding(a: &Finding, b: &Finding) -> bool {
    if a.severity != b.severity || a.status != b.status {
        return false;
    }
    let strip = |f: &Finding| {
        f.evidence
            .iter()
            .filter(|(k, _)| !VOLATILE_EVIDENCE.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    strip(a) == strip(b)
}

/// Examples of machines tagged for another establishment kept in a report.
const MAX_FOREIGN_EXAMPLES: usize = 10;

/// Most changes one machine's facts can bring with the date alone (support
/// ending then ended, paid support ended, patches ageing, going silent are
/// a handful); a bound, not a budget.
const MAX_PROJECTED_STEPS: usize = 64;

/// A change of one machine's findings that the date alone brings.
struct Projected {
    at: Timestamp,
    opened: Vec<Finding>,
    closed: Vec<RuleId>,
    updated: Vec<Finding>,
}

impl Projected {
    /// The change an evaluation at `at` makes to the open findings (which
    /// become the evaluation); `None` when it changes nothing.
    fn from_evaluation(
        open: &mut BTreeMap<RuleId, Finding>,
        found: Vec<Finding>,
        at: Timestamp,
    ) -> Option<Projected> {
        let (opened, closed, updated) = diff(open, found);
        (!(opened.is_empty() && closed.is_empty() && updated.is_empty())).then_some(Projected {
            at,
            opened,
            closed,
            updated,
        })
    }

    fn into_change(
        self,
        host_id: i64,
        est: &Option<EstablishmentCode>,
        hostname: &Option<String>,
        first_seen: Timestamp,
        rewind_after: Option<Timestamp>,
    ) -> HostChange {
        HostChange {
            host_id,
            is_new: false,
            previous_establishment: None,
            establishment: est.clone(),
            attribution: None,
            hostname: hostname.clone(),
            keys: Vec::new(),
            os: OsSummary::default(),
            observed_at: self.at,
            first_seen,
            source: None,
            source_unchanged: false,
            opened: self.opened,
            closed: self.closed,
            updated: self.updated,
            bump_open: false,
            rewind_after,
        }
    }
}

/// Brings `open` from `from` to `until` with the facts unchanged: the
/// findings are evaluated on each day a rule may change its answer
/// ([`RuleSet::next_change`]) and every change is dated at the start of its
/// day, not at the time this runs. `until` itself is included when
/// `inclusive` (up to now) and not otherwise (up to the next observation,
/// which is evaluated on its own). The result does not depend on how often
/// or when this runs: that is what makes a history right for any date.
fn project(
    rules: &RuleSet,
    checks: &(dyn Checks + Send + Sync),
    facts: &HostFacts,
    open: &mut BTreeMap<RuleId, Finding>,
    from: Timestamp,
    until: Timestamp,
    inclusive: bool,
) -> Vec<Projected> {
    let mut out = Vec::new();
    let mut day = Day::of_timestamp(from);
    for _ in 0..MAX_PROJECTED_STEPS {
        let Some(next) = rules.next_change(facts, day, checks) else {
            break;
        };
        let Ok(at) = Timestamp::from_second(next.start_second()) else {
            break;
        };
        if at > until || (!inclusive && at == until) {
            break;
        }
        out.extend(Projected::from_evaluation(
            open,
            rules.evaluate(facts, next, checks),
            at,
        ));
        day = next;
    }
    out
}

/// Compares an evaluation with the open findings, which become the
/// evaluation: (opened, closed, changed).
fn diff(
    open: &mut BTreeMap<RuleId, Finding>,
    found: Vec<Finding>,
) -> (Vec<Finding>, Vec<RuleId>, Vec<Finding>) {
    let mut opened = Vec::new();
    let mut updated = Vec::new();
    let mut now_open: BTreeMap<RuleId, Finding> = BTreeMap::new();
    let mut closed: Vec<RuleId> = Vec::new();
    for f in found {
        match open.get(&f.rule) {
            None => opened.push(f.clone()),
            // a new status is a new interval: the old one keeps its status
            // for the dates it covered (unknown until the updates were
            // reported, then confirmed)
            Some(prev) if prev.status != f.status => {
                closed.push(f.rule.clone());
                opened.push(f.clone());
            }
            Some(prev) if !same_finding(prev, &f) => updated.push(f.clone()),
            Some(_) => {}
        }
        now_open.insert(f.rule.clone(), f);
    }
    closed.extend(open.keys().filter(|r| !now_open.contains_key(*r)).cloned());
    *open = now_open;
    (opened, closed, updated)
}

fn evaluate_group(
    g: Group,
    rules: &RuleSet,
    checks: &(dyn Checks + Send + Sync),
    dict: &SoftwareDict,
    until: Timestamp,
) -> GroupResult {
    let mut out = GroupResult {
        changes: Vec::new(),
        earliest: None,
        stale: 0,
        opened: 0,
        closed: 0,
    };
    let (mut states, mut open, mut est, mut hostname, mut first_seen, mut last_time, existed) =
        match &g.record {
            Some(r) => (
                r.sources
                    .iter()
                    .map(|s| {
                        // a full software list from this source's first (not
                        // stale) observation replaces the stored one: no need
                        // to decode it
                        let replaced = g
                            .items
                            .iter()
                            .find(|p| p.obs.source == s.kind)
                            .is_some_and(|p| p.obs.software.is_full() && p.at >= s.observed_at);
                        to_source_state(s, dict, !replaced)
                    })
                    .collect::<Vec<_>>(),
                // projections from the stored facts are made again from
                // the last observation (see `rewind` below)
                if r.has_projections() {
                    &r.open_at_last_seen
                } else {
                    &r.open_findings
                }
                .iter()
                .map(|f| (f.finding.rule.clone(), f.finding.clone()))
                .collect::<BTreeMap<_, _>>(),
                r.establishment.clone(),
                r.hostname.clone(),
                Some(r.first_seen),
                Some(r.last_seen),
                true,
            ),
            None => (Vec::new(), BTreeMap::new(), None, None, None, None, false),
        };
    let mut previous_est = existed.then(|| est.clone());
    let mut stored_reason = g.record.as_ref().and_then(|r| r.attribution);
    // what each source had stored, to write only the time when nothing changed
    let mut originals: Vec<StoredSourceState> = g
        .record
        .as_ref()
        .map(|r| r.sources.clone())
        .unwrap_or_default();
    let record_first = g.record.as_ref().map(|r| r.first_seen);
    let mut known_keys: std::collections::HashSet<String> = g
        .record
        .as_ref()
        .map(|r| r.keys.iter().cloned().collect())
        .unwrap_or_default();
    let mut is_new = !existed;
    // what was projected after the last observation is rewound by the first
    // change written, and made again from the facts in force
    let mut rewind = g
        .record
        .as_ref()
        .filter(|r| r.has_projections())
        .map(|r| r.last_seen);
    for p in g.items {
        let Prepared {
            mut obs,
            at: obs_time,
            attribution: p_attribution,
            keys: p_keys,
            ..
        } = p;
        // the facts known so far held until this observation: the changes
        // they bring with the date alone come first, on their own days
        // (`last_time` is the latest evaluation: projections continue from it)
        if let Some(from) = last_time
            && !states.is_empty()
        {
            let next = from.max(obs_time);
            let facts = HostFacts::merge(hostname.clone(), &states);
            let steps = project(
                rules,
                &MemoChecks::new(checks),
                &facts,
                &mut open,
                from,
                next,
                false,
            );
            let first = first_seen.unwrap_or(from);
            out.push_projected(steps, g.host_id, &est, &hostname, first, &mut rewind);
        }
        let ident = std::mem::take(&mut obs.host);
        let idx = match states.iter().position(|s| s.kind == obs.source) {
            Some(i) => {
                if obs_time < states[i].observed_at {
                    out.stale += 1;
                    continue;
                }
                i
            }
            None => {
                states.push(SourceState::empty(obs.source, obs_time));
                states.len() - 1
            }
        };
        states[idx].apply_owned(obs, obs_time);
        // findings move forward in time only, whatever order sources arrive in
        let at = last_time.map_or(obs_time, |l| l.max(obs_time));
        last_time = Some(at);
        // a weaker reason never moves a machine a stronger one placed
        if let Some((code, reason)) = &p_attribution
            && (est.is_none() || reason.strength() >= stored_reason.map_or(0, |r| r.strength()))
        {
            est = Some(code.clone());
            stored_reason = Some(*reason);
        }
        let attribution = stored_reason;
        if let Some(h) = ident.hostname.clone().or_else(|| ident.fqdn.clone()) {
            hostname = Some(h);
        }
        let first = first_seen.map_or(obs_time, |f| f.min(obs_time));
        first_seen = Some(first);
        let facts = HostFacts::merge(hostname.clone(), &states);
        let found = rules.evaluate(&facts, Day::of_timestamp(at), checks);
        let (opened, closed, updated) = diff(&mut open, found);
        let bump_open = open.len() > opened.len();
        out.opened += opened.len() as u64;
        out.closed += closed.len() as u64;
        let mut keys = identity::keys(&ident, est.as_ref());
        keys.extend(p_keys.iter().filter(|k| k.starts_with("hw:")).cloned());
        if g.confined {
            keys.retain(|k| !k.starts_with("hw:"));
        }
        keys.sort();
        keys.dedup();
        // keys already pointing here need no write (the moved host's keys are
        // rewritten by the store with the rest of its rows)
        keys.retain(|k| !known_keys.contains(k));
        known_keys.extend(keys.iter().cloned());
        let os = facts.os.as_ref().map(|o| OsSummary {
            family: Some(o.family),
            name: o.name.clone(),
            version: o.version.clone(),
            build: o.build,
            ubr: o.ubr,
        });
        let new_source = to_stored(&states[idx], dict);
        let source_unchanged = originals.iter().any(|o| o.same_facts(&new_source));
        // later observations of this group compare with what this one stores
        originals.retain(|o| o.kind != new_source.kind);
        originals.push(new_source.clone());
        out.changes.push(HostChange {
            host_id: g.host_id,
            is_new,
            previous_establishment: previous_est.clone(),
            establishment: est.clone(),
            attribution,
            hostname: hostname.clone(),
            keys,
            os: os.unwrap_or_default(),
            observed_at: at,
            first_seen: first,
            source_unchanged,
            source: Some(new_source),
            opened,
            closed,
            updated,
            bump_open,
            rewind_after: rewind.take(),
        });
        previous_est = Some(est.clone());
        is_new = false;
    }
    // and from the last observation up to now
    if let Some(from) = last_time
        && !states.is_empty()
    {
        let facts = HostFacts::merge(hostname.clone(), &states);
        let steps = project(
            rules,
            &MemoChecks::new(checks),
            &facts,
            &mut open,
            from,
            until,
            true,
        );
        let first = first_seen.unwrap_or(from);
        out.push_projected(steps, g.host_id, &est, &hostname, first, &mut rewind);
    }
    if let (Some(stored), Some(first)) = (record_first, first_seen)
        && first < stored
    {
        out.earliest = Some(Day::of_timestamp(first));
    }
    out
}

/// The key under which an ingested file is remembered. A file ingested
/// with its establishment named by the caller (`--establishment`, an HTTP
/// upload) is remembered for that establishment only: the same bytes sent
/// for another establishment mean other machines, are ingested, and never
/// reveal that someone else sent them. Otherwise the key is the content
/// hash itself.
pub fn record_key(content_hash: &str, opts: &IngestOptions) -> String {
    match &opts.establishment {
        Some(code) => format!("{content_hash}@{code}"),
        None => content_hash.to_string(),
    }
}
