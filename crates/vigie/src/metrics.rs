//! Prometheus `/metrics` for the watch, with blackbox_exporter's metric
//! names where they exist (so existing Grafana dashboards work; the target
//! is a label instead of one scrape per target) and vigie's own.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;
use vigie_notify::DeliveryOutcome;
use vigie_store::WatchWriter;
use vigie_watch::monitor::Watched;
use vigie_watch::schedule::ScheduleStats;
use vigie_watch::state::{Observed, Status};

#[derive(Debug, Clone)]
struct TargetMetrics {
    labels: String,
    success: bool,
    duration: f64,
    phases: [(&'static str, Option<f64>); 5],
    status_code: Option<u16>,
    earliest_expiry: Option<i64>,
    dns_lookup: Option<f64>,
    content_length: Option<usize>,
    redirects: usize,
    tls_version: Option<String>,
    is_tls: bool,
    state: Status,
    defaced: bool,
    changed: bool,
    last_probe: i64,
}

#[derive(Default)]
pub struct MetricsState {
    targets: Mutex<BTreeMap<i64, TargetMetrics>>,
    schedule: Mutex<Option<(Arc<ScheduleStats>, Arc<AtomicU64>)>>,
    /// The storage queue: what it wrote, dropped and keeps waiting.
    writer: Mutex<Option<WatchWriter>>,
    notices_dropped: AtomicU64,
    deliveries_sent: AtomicU64,
    deliveries_failed: AtomicU64,
    deliveries_limited: AtomicU64,
    incidents_open: AtomicU64,
    targets_failing: AtomicU64,
    canary_up: AtomicU64,
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

impl MetricsState {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, TargetMetrics>> {
        match self.targets.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    pub fn set_schedule(&self, stats: Arc<ScheduleStats>, concurrency: Arc<AtomicU64>) {
        let mut g = match self.schedule.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Some((stats, concurrency));
    }

    /// Records a target's latest probe.
    pub fn observe(&self, w: &Watched) {
        let Some(last) = &w.last else { return };
        let o = &last.outcome;
        let labels = format!(
            "target=\"{}\",instance=\"{}\",establishment=\"{}\",region=\"{}\"",
            esc(&w.name),
            esc(w.url.as_str()),
            esc(w.establishment.as_deref().unwrap_or("")),
            esc(w.region.as_deref().unwrap_or(""))
        );
        let p = &o.phases;
        // blackbox's phases: resolve, connect, tls, processing (to the
        // first byte), transfer (the body)
        let before_first = [p.dns, p.connect, p.tls]
            .iter()
            .flatten()
            .map(|d| secs(*d))
            .sum::<f64>();
        let processing = p.first_byte.map(|f| (secs(f) - before_first).max(0.0));
        let transfer = p.first_byte.map(|f| (secs(p.total) - secs(f)).max(0.0));
        let m = TargetMetrics {
            labels,
            success: matches!(
                last.observed,
                Observed::Up | Observed::Degraded | Observed::Changed
            ),
            duration: secs(p.total),
            phases: [
                ("resolve", p.dns.map(secs)),
                ("connect", p.connect.map(secs)),
                ("tls", p.tls.map(secs)),
                ("processing", processing),
                ("transfer", transfer),
            ],
            status_code: o.http.as_ref().map(|h| h.status),
            earliest_expiry: o.tls.as_ref().and_then(|t| t.earliest_expiry),
            dns_lookup: p.dns.map(secs),
            content_length: last.body_bytes,
            redirects: o.http.as_ref().map_or(0, |h| h.redirects.len()),
            tls_version: o.tls.as_ref().map(|t| t.version.clone()),
            is_tls: o.tls.is_some(),
            state: w.memory.state.status,
            defaced: w.memory.state.status == Status::Defaced,
            changed: w.memory.state.status == Status::Changed,
            last_probe: last.at,
        };
        self.lock().insert(w.id, m);
    }

    pub fn forget(&self, id: i64) {
        self.lock().remove(&id);
    }

    pub fn set_writer(&self, w: WatchWriter) {
        let mut g = match self.writer.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Some(w);
    }
    pub fn notice_dropped(&self) {
        self.notices_dropped.fetch_add(1, Ordering::Relaxed);
    }
    pub fn delivery(&self, o: &DeliveryOutcome) {
        let c = match o {
            DeliveryOutcome::Sent { .. } => &self.deliveries_sent,
            DeliveryOutcome::Failed { .. } => &self.deliveries_failed,
            DeliveryOutcome::RateLimited => &self.deliveries_limited,
            DeliveryOutcome::Skipped(_) => return,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
    pub fn set_incidents(&self, open: usize, failing: usize, canary_up: bool) {
        self.incidents_open.store(open as u64, Ordering::Relaxed);
        self.targets_failing
            .store(failing as u64, Ordering::Relaxed);
        self.canary_up
            .store(u64::from(canary_up), Ordering::Relaxed);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let targets = self.lock().clone();
        let mut out = String::with_capacity(256 + targets.len() * 1200);
        let mut gauge = |name: &str, help: &str, rows: &mut dyn Iterator<Item = (String, f64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (labels, v) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        };
        gauge(
            "probe_success",
            "Whether the last probe succeeded (answered, expected status and content, not defaced).",
            &mut targets
                .values()
                .map(|t| (t.labels.clone(), f64::from(u8::from(t.success)))),
        );
        gauge(
            "probe_duration_seconds",
            "How long the last probe took to complete in seconds.",
            &mut targets.values().map(|t| (t.labels.clone(), t.duration)),
        );
        gauge(
            "probe_http_duration_seconds",
            "Duration of the last probe's HTTP request by phase.",
            &mut targets.values().flat_map(|t| {
                t.phases.iter().filter_map(move |(phase, v)| {
                    v.map(|v| (format!("{},phase=\"{phase}\"", t.labels), v))
                })
            }),
        );
        gauge(
            "probe_dns_lookup_time_seconds",
            "Returns the time taken for the probe's DNS lookup in seconds.",
            &mut targets
                .values()
                .filter_map(|t| t.dns_lookup.map(|v| (t.labels.clone(), v))),
        );
        gauge(
            "probe_http_status_code",
            "Response HTTP status code (0 when none).",
            &mut targets
                .values()
                .map(|t| (t.labels.clone(), f64::from(t.status_code.unwrap_or(0)))),
        );
        gauge(
            "probe_http_content_length",
            "Length of the HTTP body read (capped).",
            &mut targets
                .values()
                .filter_map(|t| t.content_length.map(|v| (t.labels.clone(), v as f64))),
        );
        gauge(
            "probe_http_redirects",
            "The number of redirects followed.",
            &mut targets
                .values()
                .map(|t| (t.labels.clone(), t.redirects as f64)),
        );
        gauge(
            "probe_http_ssl",
            "Indicates if TLS was used for the final request.",
            &mut targets
                .values()
                .map(|t| (t.labels.clone(), f64::from(u8::from(t.is_tls)))),
        );
        gauge(
            "probe_ssl_earliest_cert_expiry",
            "Returns the earliest TLS certificate expiry in unix time.",
            &mut targets
                .values()
                .filter_map(|t| t.earliest_expiry.map(|v| (t.labels.clone(), v as f64))),
        );
        gauge(
            "probe_tls_version_info",
            "Returns the TLS version used or NaN when unknown.",
            &mut targets.values().filter_map(|t| {
                t.tls_version
                    .as_ref()
                    .map(|v| (format!("{},version=\"{}\"", t.labels, esc(v)), 1.0))
            }),
        );
        gauge(
            "vigie_target_state",
            "The target's declared state: one series per target, labelled with the current state, value 1.",
            &mut targets
                .values()
                .map(|t| (format!("{},state=\"{}\"", t.labels, t.state.as_str()), 1.0)),
        );
        gauge(
            "vigie_defaced",
            "1 when the target is declared defaced.",
            &mut targets
                .values()
                .map(|t| (t.labels.clone(), f64::from(u8::from(t.defaced)))),
        );
        gauge(
            "vigie_content_changed",
            "1 when the target's content changed beyond its baseline (a warning).",
            &mut targets
                .values()
                .map(|t| (t.labels.clone(), f64::from(u8::from(t.changed)))),
        );
        gauge(
            "vigie_last_probe_timestamp_seconds",
            "When the target was last probed (unix time).",
            &mut targets
                .values()
                .map(|t| (t.labels.clone(), t.last_probe as f64)),
        );
        let writer = match self.writer.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
        .map(|w| {
            let waiting = w.waiting();
            (w, waiting)
        });
        if let Some((_, waiting)) = &writer {
            gauge(
                "vigie_store_writes_waiting",
                "Writes waiting for the database, by kind (kept until written; samples are dropped beyond the queue's room).",
                &mut [
                    ("samples", waiting.samples),
                    ("events", waiting.events),
                    ("states", waiting.states),
                    ("notices", waiting.notices),
                    ("incidents", waiting.incident_changes),
                ]
                .into_iter()
                .map(|(kind, n)| (format!("kind=\"{kind}\""), n as f64)),
            );
        }
        let mut plain = |name: &str, kind: &str, help: &str, v: f64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
        plain(
            "vigie_watch_targets",
            "gauge",
            "Targets being watched.",
            targets.len() as f64,
        );
        plain(
            "vigie_incidents_open",
            "gauge",
            "Grouped incidents open.",
            load(&self.incidents_open),
        );
        plain(
            "vigie_targets_failing",
            "gauge",
            "Targets failing (suspected or declared).",
            load(&self.targets_failing),
        );
        plain(
            "vigie_canary_up",
            "gauge",
            "1 while vigie's own connectivity check succeeds.",
            load(&self.canary_up),
        );
        if let Some((w, waiting)) = &writer {
            let stats = w.stats();
            plain(
                "vigie_samples_written_total",
                "counter",
                "Probe samples stored.",
                load(&stats.samples_written),
            );
            plain(
                "vigie_samples_dropped_total",
                "counter",
                "Probe samples dropped because too many waited for storage (nothing else is ever dropped).",
                load(&stats.samples_dropped),
            );
            plain(
                "vigie_store_write_failures_total",
                "counter",
                "Failed storage writes (each is tried again until it succeeds).",
                load(&stats.write_failures),
            );
            plain(
                "vigie_store_oldest_write_waiting_seconds",
                "gauge",
                "How long the oldest waiting write has waited for the database (0 when none waits).",
                waiting.oldest_seconds as f64,
            );
        }
        plain(
            "vigie_notices_dropped_total",
            "counter",
            "Notices dropped because the sender queue was full.",
            load(&self.notices_dropped),
        );
        for (outcome, a) in [
            ("sent", &self.deliveries_sent),
            ("failed", &self.deliveries_failed),
            ("rate_limited", &self.deliveries_limited),
        ] {
            plain(
                &format!("vigie_notifications_{outcome}_total"),
                "counter",
                "Notification deliveries by outcome.",
                load(a),
            );
        }
        let sched = match self.schedule.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        if let Some((s, limit)) = sched {
            plain(
                "vigie_probes_started_total",
                "counter",
                "Probes started.",
                load(&s.started),
            );
            plain(
                "vigie_probes_finished_total",
                "counter",
                "Probes finished.",
                load(&s.finished),
            );
            plain(
                "vigie_probes_skipped_total",
                "counter",
                "Probe slots skipped because the previous probe of the target still ran.",
                load(&s.skipped),
            );
            plain(
                "vigie_probe_results_dropped_total",
                "counter",
                "Probe results dropped because the consumer was behind.",
                load(&s.dropped),
            );
            plain(
                "vigie_probes_in_flight",
                "gauge",
                "Probes running now.",
                load(&s.in_flight),
            );
            plain(
                "vigie_probe_concurrency_limit",
                "gauge",
                "Most probes allowed in flight.",
                load(&limit),
            );
        }
        out
    }
}

/// Serves `/metrics` and `/healthz` until `shutdown` turns true.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: Arc<MetricsState>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let state = state.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        state.render(),
                    )
                        .into_response()
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }));
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            while shutdown.changed().await.is_ok() {
                if *shutdown.borrow() {
                    break;
                }
            }
        })
        .await
}
