//! The exposure watch's write-behind queue: the runner hands it samples,
//! state changes, events, notices and incident changes and goes on
//! probing; a task writes them, in order, whenever the database lets it.
//!
//! - Nothing but raw samples is ever dropped: state changes, events,
//!   notices and incident changes wait (in memory) until they are written,
//!   however long the database stays busy (a long ingest holding SQLite's
//!   write lock, a PostgreSQL lock, a failing server), and a failed write
//!   is tried again, with a pause that grows to 30 s.
//! - Raw samples wait too, up to [`WatchWriterConfig::max_samples`]; beyond,
//!   new samples are dropped and counted ([`WatchWriterStats`]).
//! - [`WatchWriter::waiting`] says what is waiting and for how long (the
//!   runner exports it as metrics), and a warning is logged every minute
//!   while writes wait.
//!
//! The queue imposes no timeout of its own: a write waits as long as the
//! store does (SQLite writers wait their turn, up to 30 minutes, and are
//! then tried again here).

use crate::{Store, WatchEvent, WatchIncidentOp, WatchNoticeInput, WatchSample, WatchStateRecord};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How the queue behaves.
#[derive(Debug, Clone)]
pub struct WatchWriterConfig {
    /// The runner whose incidents are written ([`Store::save_watch_incidents`]).
    pub runner: String,
    /// Most raw samples waiting; beyond, new samples are dropped (counted).
    pub max_samples: usize,
    /// First pause after a failed write (doubles, at most 30 s).
    pub retry_pause: Duration,
}

impl Default for WatchWriterConfig {
    fn default() -> Self {
        WatchWriterConfig {
            runner: "national".into(),
            max_samples: 100_000,
            retry_pause: Duration::from_secs(1),
        }
    }
}

/// Counters of the queue (exported as metrics by the runner).
#[derive(Debug, Default)]
pub struct WatchWriterStats {
    /// Samples written.
    pub samples_written: AtomicU64,
    /// Samples dropped because too many were waiting.
    pub samples_dropped: AtomicU64,
    /// Failed write attempts (each is tried again).
    pub write_failures: AtomicU64,
}

/// What waits to be written, written or not yet (the write under way
/// included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    pub samples: usize,
    pub events: usize,
    /// Targets whose state waits.
    pub states: usize,
    pub notices: usize,
    pub incident_changes: usize,
    /// Age of the oldest waiting write, in seconds (0 when none waits).
    pub oldest_seconds: u64,
}

impl Waiting {
    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.samples == 0
            && self.events == 0
            && self.states == 0
            && self.notices == 0
            && self.incident_changes == 0
    }
}

#[derive(Default)]
struct Batch {
    samples: Vec<WatchSample>,
    events: Vec<WatchEvent>,
    /// The latest state of each target.
    states: BTreeMap<i64, WatchStateRecord>,
    notices: Vec<WatchNoticeInput>,
    incidents: Vec<WatchIncidentOp>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.samples.is_empty()
            && self.events.is_empty()
            && self.states.is_empty()
            && self.notices.is_empty()
            && self.incidents.is_empty()
    }

    fn count(&self, w: &mut Waiting) {
        w.samples += self.samples.len();
        w.events += self.events.len();
        w.states += self.states.len();
        w.notices += self.notices.len();
        w.incident_changes += self.incidents.len();
    }
}

#[derive(Default)]
struct Queue {
    pending: Batch,
    /// Taken by the task and not written yet.
    in_flight: Waiting,
    /// When the oldest waiting item was queued.
    since: Option<Instant>,
    closed: bool,
}

struct Shared {
    store: Arc<dyn Store>,
    cfg: WatchWriterConfig,
    queue: Mutex<Queue>,
    wake: Notify,
    stats: Arc<WatchWriterStats>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn waiting(&self) -> Waiting {
        let q = self.lock();
        let mut w = q.in_flight;
        q.pending.count(&mut w);
        w.oldest_seconds = q.since.map_or(0, |s| s.elapsed().as_secs());
        w
    }
}

/// A handle on the queue; clones share it.
#[derive(Clone)]
pub struct WatchWriter {
    shared: Arc<Shared>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl WatchWriter {
    /// Starts the task that writes to `store`.
    pub fn start(store: Arc<dyn Store>, cfg: WatchWriterConfig) -> WatchWriter {
        let shared = Arc::new(Shared {
            store,
            cfg,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            stats: Arc::new(WatchWriterStats::default()),
        });
        let task = tokio::spawn(run(shared.clone()));
        WatchWriter {
            shared,
            task: Arc::new(Mutex::new(Some(task))),
        }
    }

    pub fn stats(&self) -> Arc<WatchWriterStats> {
        self.shared.stats.clone()
    }

    /// What waits to be written.
    pub fn waiting(&self) -> Waiting {
        self.shared.waiting()
    }

    fn push(&self, f: impl FnOnce(&mut Queue)) {
        {
            let mut q = self.shared.lock();
            f(&mut q);
            if q.since.is_none() && !q.pending.is_empty() {
                q.since = Some(Instant::now());
            }
        }
        self.shared.wake.notify_one();
    }

    /// Queues samples (those beyond the room left are dropped and
    /// counted), events and state changes (each target's latest state).
    pub fn record(
        &self,
        samples: Vec<WatchSample>,
        events: Vec<WatchEvent>,
        states: Vec<(i64, WatchStateRecord)>,
    ) {
        if samples.is_empty() && events.is_empty() && states.is_empty() {
            return;
        }
        let max = self.shared.cfg.max_samples;
        let stats = self.shared.stats.clone();
        self.push(|q| {
            let waiting = q.pending.samples.len() + q.in_flight.samples;
            let room = max.saturating_sub(waiting);
            let mut samples = samples;
            if samples.len() > room {
                let dropped = samples.len() - room;
                samples.truncate(room);
                stats
                    .samples_dropped
                    .fetch_add(dropped as u64, Ordering::Relaxed);
            }
            q.pending.samples.extend(samples);
            q.pending.events.extend(events);
            for (id, s) in states {
                q.pending.states.insert(id, s);
            }
        });
    }

    /// Queues a notice for the register.
    pub fn notice(&self, notice: WatchNoticeInput) {
        self.push(|q| q.pending.notices.push(notice));
    }

    /// Queues changes of the open incidents (kept in order).
    pub fn incidents(&self, ops: Vec<WatchIncidentOp>) {
        if ops.is_empty() {
            return;
        }
        self.push(|q| q.pending.incidents.extend(ops));
    }

    /// Writes everything queued, then stops the task. Waits as long as
    /// the writes take: the caller decides whether to give up (and then
    /// [`WatchWriter::waiting`] says what is lost).
    pub async fn close(&self) {
        {
            self.shared.lock().closed = true;
        }
        self.shared.wake.notify_one();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

async fn run(shared: Arc<Shared>) {
    loop {
        let batch = {
            let mut q = shared.lock();
            if q.pending.is_empty() {
                if q.closed {
                    return;
                }
                None
            } else {
                let b = std::mem::take(&mut q.pending);
                let mut w = Waiting::default();
                b.count(&mut w);
                q.in_flight = w;
                Some(b)
            }
        };
        match batch {
            Some(b) => write(&shared, b).await,
            None => shared.wake.notified().await,
        }
    }
}

/// Tries `f` until it succeeds, pausing longer after each failure, and
/// warning every minute while it waits.
async fn until_written<F, Fut>(shared: &Shared, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::Result<()>>,
{
    let mut pause = shared.cfg.retry_pause.max(Duration::from_millis(10));
    let mut warned = Instant::now();
    loop {
        match f().await {
            Ok(()) => return,
            Err(e) => {
                shared.stats.write_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "storing watch {what} failed: kept, trying again in {} ms", pause.as_millis());
            }
        }
        if warned.elapsed() >= Duration::from_secs(60) {
            warned = Instant::now();
            let w = shared.waiting();
            tracing::warn!(
                samples = w.samples,
                events = w.events,
                states = w.states,
                notices = w.notices,
                incident_changes = w.incident_changes,
                oldest_seconds = w.oldest_seconds,
                "the database is behind: watch writes are waiting"
            );
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

async fn write(shared: &Shared, b: Batch) {
    let store = shared.store.as_ref();
    let started = Instant::now();
    if !b.incidents.is_empty() {
        let runner = shared.cfg.runner.as_str();
        until_written(shared, "incidents", || {
            store.save_watch_incidents(runner, &b.incidents)
        })
        .await;
        shared.lock().in_flight.incident_changes = 0;
    }
    if !b.samples.is_empty() || !b.events.is_empty() {
        until_written(shared, "samples and events", || {
            store.record_watch(&b.samples, &b.events)
        })
        .await;
        shared
            .stats
            .samples_written
            .fetch_add(b.samples.len() as u64, Ordering::Relaxed);
        let mut q = shared.lock();
        q.in_flight.samples = 0;
        q.in_flight.events = 0;
    }
    if !b.states.is_empty() {
        let states: Vec<(i64, WatchStateRecord)> = b.states.into_iter().collect();
        until_written(shared, "states", || store.save_watch_states(&states)).await;
        shared.lock().in_flight.states = 0;
    }
    for n in &b.notices {
        until_written(shared, "a notice", || async {
            store
                .record_watch_notice(n.at, &n.kind, &n.incident_key, &n.payload, &n.deliveries)
                .await
                .map(|_| ())
        })
        .await;
        let mut q = shared.lock();
        q.in_flight.notices = q.in_flight.notices.saturating_sub(1);
    }
    let mut q = shared.lock();
    q.in_flight = Waiting::default();
    q.since = if q.pending.is_empty() {
        None
    } else {
        // what was queued meanwhile has waited at most this long
        Some(started)
    };
}
