//! The scheduler: every target is probed once per interval, at an offset
//! within the interval derived from its id (so probes are spread evenly and
//! the same target keeps its slot across restarts), with
//!
//! - **bounded concurrency** sized from the targets: the sum over targets
//!   of timeout / interval is how many probes are in flight if every probe
//!   runs to its timeout, so a mass timeout still completes the cycle;
//! - **per-host politeness**: at most `per_host` probes to one host at a
//!   time;
//! - **never a pile-up**: a target still being probed when its next slot
//!   comes is skipped (counted), and results go to the consumer through a
//!   bounded channel that drops (and counts) rather than blocking probes.

use crate::probe::{ProbeEnv, ProbeOutcome, ProbeSpec, probe};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

/// One target to probe.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub spec: ProbeSpec,
    pub interval: Duration,
}

impl Job {
    fn host(&self) -> String {
        self.spec.url.host_str().unwrap_or("").to_ascii_lowercase()
    }
}

/// A finished probe.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    pub id: i64,
    pub outcome: ProbeOutcome,
}

#[derive(Debug, Clone, Copy)]
pub struct ScheduleConfig {
    /// Most probes in flight; `None` sizes it from the targets.
    pub max_concurrency: Option<usize>,
    /// Most probes in flight to one host.
    pub per_host: usize,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            max_concurrency: None,
            per_host: 2,
        }
    }
}

/// Counters the runner exposes as metrics.
#[derive(Debug, Default)]
pub struct ScheduleStats {
    pub started: AtomicU64,
    pub finished: AtomicU64,
    /// Slots skipped because the previous probe of the target still ran.
    pub skipped: AtomicU64,
    /// Results dropped because the consumer was behind.
    pub dropped: AtomicU64,
    pub in_flight: AtomicU64,
}

/// In-flight probes needed if every probe ran to its timeout, with a
/// margin, clamped to what one process sensibly holds open.
pub fn concurrency_for(jobs: &[Job]) -> usize {
    let need: f64 = jobs
        .iter()
        .map(|j| j.spec.timeout.as_secs_f64() / j.interval.as_secs_f64().max(1.0))
        .sum();
    ((need * 1.25).ceil() as usize + 16).clamp(16, 8192)
}

/// The target's slot within its interval (FNV-1a of the id).
pub fn offset_of(id: i64, interval: Duration) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.to_le_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(h % ms)
}

#[derive(PartialEq, Eq)]
struct Due {
    at: Instant,
    id: i64,
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // a min-heap on time
        other.at.cmp(&self.at).then(other.id.cmp(&self.id))
    }
}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

struct Shared {
    env: ProbeEnv,
    global: Arc<Semaphore>,
    hosts: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    per_host: usize,
    running: std::sync::Mutex<HashSet<i64>>,
    stats: Arc<ScheduleStats>,
}

impl Shared {
    fn host_gate(&self, host: &str) -> Arc<Semaphore> {
        let mut map = match self.hosts.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        map.entry(host.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_host.max(1))))
            .clone()
    }

    fn set_running(&self, id: i64, on: bool) -> bool {
        let mut set = match self.running.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if on { set.insert(id) } else { set.remove(&id) }
    }
}

async fn run_one(shared: Arc<Shared>, job: Job, tx: mpsc::Sender<ProbeResult>) {
    let gate = shared.host_gate(&job.host());
    let permit = gate.acquire_owned().await;
    shared.stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let outcome = probe(&shared.env, &job.spec).await;
    shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    drop(permit);
    shared.stats.finished.fetch_add(1, Ordering::Relaxed);
    shared.set_running(job.id, false);
    if tx
        .try_send(ProbeResult {
            id: job.id,
            outcome,
        })
        .is_err()
    {
        shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Probes every job once, as fast as the bounds allow (`vigie watch once`).
/// Returns the results in job order.
pub async fn run_once(env: &ProbeEnv, jobs: &[Job], cfg: ScheduleConfig) -> Vec<ProbeResult> {
    let limit = cfg
        .max_concurrency
        .unwrap_or_else(|| jobs.len().clamp(1, 512));
    let stats = Arc::new(ScheduleStats::default());
    let shared = Arc::new(Shared {
        env: env.clone(),
        global: Arc::new(Semaphore::new(limit.max(1))),
        hosts: std::sync::Mutex::new(HashMap::new()),
        per_host: cfg.per_host,
        running: std::sync::Mutex::new(HashSet::new()),
        stats,
    });
    let (tx, mut rx) = mpsc::channel(jobs.len().max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for job in jobs.iter().cloned() {
        let Ok(permit) = shared.global.clone().acquire_owned().await else {
            break;
        };
        let shared = shared.clone();
        let tx = tx.clone();
        tasks.spawn(async move {
            run_one(shared, job, tx).await;
            drop(permit);
        });
    }
    drop(tx);
    while tasks.join_next().await.is_some() {}
    let mut by_id: HashMap<i64, ProbeResult> = HashMap::new();
    while let Ok(r) = rx.try_recv() {
        by_id.insert(r.id, r);
    }
    jobs.iter().filter_map(|j| by_id.remove(&j.id)).collect()
}

/// A running scheduler. Replace its jobs with [`Scheduler::set_jobs`];
/// drop the shutdown sender (or send `true`) to stop it.
pub struct Scheduler {
    jobs_tx: watch::Sender<Arc<Vec<Job>>>,
    stats: Arc<ScheduleStats>,
    concurrency: Arc<AtomicU64>,
}

impl Scheduler {
    /// Starts probing `jobs` forever, sending results to `tx`.
    pub fn start(
        env: ProbeEnv,
        jobs: Vec<Job>,
        cfg: ScheduleConfig,
        tx: mpsc::Sender<ProbeResult>,
        mut shutdown: watch::Receiver<bool>,
    ) -> (Scheduler, tokio::task::JoinHandle<()>) {
        let stats = Arc::new(ScheduleStats::default());
        let (jobs_tx, mut jobs_rx) = watch::channel(Arc::new(jobs));
        let concurrency = Arc::new(AtomicU64::new(0));
        let sched = Scheduler {
            jobs_tx,
            stats: stats.clone(),
            concurrency: concurrency.clone(),
        };
        let handle = tokio::spawn(async move {
            let initial = jobs_rx.borrow_and_update().clone();
            let limit = cfg
                .max_concurrency
                .unwrap_or_else(|| concurrency_for(&initial));
            concurrency.store(limit as u64, Ordering::Relaxed);
            let shared = Arc::new(Shared {
                env,
                global: Arc::new(Semaphore::new(limit.max(1))),
                hosts: std::sync::Mutex::new(HashMap::new()),
                per_host: cfg.per_host,
                running: std::sync::Mutex::new(HashSet::new()),
                stats,
            });
            let start = Instant::now();
            let mut current: HashMap<i64, Job> = HashMap::new();
            let mut heap: BinaryHeap<Due> = BinaryHeap::new();
            let load =
                |jobs: &[Job], current: &mut HashMap<i64, Job>, heap: &mut BinaryHeap<Due>| {
                    let now = Instant::now();
                    let fresh: HashMap<i64, Job> = jobs.iter().map(|j| (j.id, j.clone())).collect();
                    heap.clear();
                    for j in fresh.values() {
                        // the next slot of this job after `now`
                        let iv = j.interval.max(Duration::from_secs(1));
                        let off = offset_of(j.id, iv);
                        let since = now.saturating_duration_since(start);
                        let cycles =
                            (since.saturating_sub(off).as_millis() / iv.as_millis().max(1)) as u32;
                        let mut at = start + off + iv * cycles;
                        if at < now {
                            at += iv;
                        }
                        heap.push(Due { at, id: j.id });
                    }
                    *current = fresh;
                };
            load(&initial, &mut current, &mut heap);
            let mut tasks = tokio::task::JoinSet::new();
            loop {
                let next_at = heap.peek().map(|d| d.at);
                tokio::select! {
                    _ = shutdown.changed() => {
                        if *shutdown.borrow() {
                            break;
                        }
                    }
                    changed = jobs_rx.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        let jobs = jobs_rx.borrow_and_update().clone();
                        load(&jobs, &mut current, &mut heap);
                    }
                    _ = async {
                        match next_at {
                            Some(t) => tokio::time::sleep_until(t).await,
                            None => std::future::pending::<()>().await,
                        }
                    } => {
                        let now = Instant::now();
                        while let Some(d) = heap.peek() {
                            if d.at > now {
                                break;
                            }
                            let Some(d) = heap.pop() else { break };
                            let Some(job) = current.get(&d.id).cloned() else { continue };
                            heap.push(Due { at: d.at + job.interval.max(Duration::from_secs(1)), id: d.id });
                            if !shared.set_running(job.id, true) {
                                shared.stats.skipped.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            // waits when the limit is reached: the slots
                            // behind are late, not lost
                            let Ok(permit) = shared.global.clone().acquire_owned().await else {
                                break;
                            };
                            shared.stats.started.fetch_add(1, Ordering::Relaxed);
                            let shared = shared.clone();
                            let tx = tx.clone();
                            tasks.spawn(async move {
                                run_one(shared, job, tx).await;
                                drop(permit);
                            });
                        }
                        // reap finished tasks without waiting
                        while tasks.try_join_next().is_some() {}
                    }
                }
            }
            tasks.shutdown().await;
        });
        (sched, handle)
    }

    pub fn set_jobs(&self, jobs: Vec<Job>) {
        let _ = self.jobs_tx.send(Arc::new(jobs));
    }

    pub fn stats(&self) -> &Arc<ScheduleStats> {
        &self.stats
    }

    /// The concurrency limit in use (0 until the scheduler has started).
    pub fn concurrency(&self) -> u64 {
        self.concurrency.load(Ordering::Relaxed)
    }

    /// The concurrency limit, read live (for metrics).
    pub fn concurrency_handle(&self) -> Arc<AtomicU64> {
        self.concurrency.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: i64, timeout: u64, interval: u64) -> Job {
        let url = url::Url::parse("https://example.test/").unwrap_or_else(|_| unreachable!());
        let mut spec = ProbeSpec::new(url);
        spec.timeout = Duration::from_secs(timeout);
        Job {
            id,
            spec,
            interval: Duration::from_secs(interval),
        }
    }

    #[test]
    fn concurrency_covers_a_mass_timeout() {
        // 10,000 targets, 10 s timeout, 60 s interval: 1,667 in flight at worst
        let jobs: Vec<Job> = (0..10_000).map(|i| job(i, 10, 60)).collect();
        let c = concurrency_for(&jobs);
        assert!((1_667..=2_200).contains(&c), "{c}");
        assert_eq!(concurrency_for(&[]), 16);
    }

    #[test]
    fn offsets_spread_over_the_interval() {
        let iv = Duration::from_secs(60);
        let mut buckets = [0u32; 6];
        for id in 0..6_000 {
            let o = offset_of(id, iv);
            assert!(o < iv);
            buckets[(o.as_secs() / 10) as usize] += 1;
        }
        // each 10 s bucket holds about a sixth
        for b in buckets {
            assert!((800..=1200).contains(&b), "{buckets:?}");
        }
        assert_eq!(offset_of(42, iv), offset_of(42, iv));
    }
}
