//! The notifier: routes an alert, applies rate limits, sends with retries.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinSet;

use crate::alert::Alert;
use crate::channel::{self, Channel, Extras};
use crate::config::{NotifyConfig, RouteConfig, Settings};
use crate::error::{ConfigError, NotifyError};
use crate::routing::{RouteState, filters_match};

/// What happened on one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Accepted by the receiver after `attempts` attempts.
    Sent { attempts: u32 },
    /// Held back by the route's rate limit (counted, reported later).
    RateLimited,
    /// Not accepted; `error` never contains a secret.
    Failed { attempts: u32, error: String },
    /// The route matched but chose not to send (the reason says why).
    Skipped(String),
}

/// One route's part of a dispatch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub route: String,
    pub channel: String,
    pub outcome: DeliveryOutcome,
}

struct Inner {
    settings: Settings,
    routes: Vec<RouteConfig>,
    /// Channel of each route, by index into `channels`.
    route_channel: Vec<usize>,
    channels: Vec<(String, Channel)>,
    http: reqwest::Client,
    state: Mutex<Vec<RouteState>>,
}

/// Sends alerts. Cheap to clone (shared state); `Send + Sync`.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("routes", &self.route_names())
            .finish_non_exhaustive()
    }
}

/// (count, since) held back by a rate limit.
type Suppressed = Option<(u64, i64)>;

enum Plan {
    Send { suppressed: Suppressed },
    RateLimited,
    Skipped(String),
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Notifier {
    /// Builds the channels (HTTP client, SMTP transports) from a validated
    /// configuration whose secrets are resolved.
    pub fn new(cfg: NotifyConfig) -> Result<Notifier, NotifyError> {
        let extra = channel::extra_ca(&cfg.settings)?;
        let http = channel::http_client(&cfg.settings, &extra)?;
        let mut channels: Vec<(String, Channel)> = Vec::new();
        for c in &cfg.channels {
            if channels.iter().any(|(n, _)| *n == c.name) {
                return Err(ConfigError {
                    source_name: cfg.source_name.clone(),
                    line: c.line,
                    message: format!("duplicate channel name \"{}\"", c.name),
                }
                .into());
            }
            channels.push((c.name.clone(), Channel::build(c, &cfg.settings, &extra)?));
        }
        let mut route_channel = Vec::with_capacity(cfg.routes.len());
        for (i, r) in cfg.routes.iter().enumerate() {
            let dup = cfg.routes.iter().take(i).any(|o| o.name == r.name);
            let idx = channels.iter().position(|(n, _)| *n == r.channel);
            let message = match (dup, idx) {
                (true, _) => format!("duplicate route name \"{}\"", r.name),
                (false, None) => {
                    format!("unknown channel \"{}\" in route \"{}\"", r.channel, r.name)
                }
                (false, Some(idx)) => {
                    route_channel.push(idx);
                    continue;
                }
            };
            return Err(ConfigError {
                source_name: cfg.source_name.clone(),
                line: r.line,
                message,
            }
            .into());
        }
        for unused in cfg.unused_channels() {
            tracing::warn!(channel = %unused, "notification channel used by no route");
        }
        let state = cfg.routes.iter().map(|_| RouteState::default()).collect();
        Ok(Notifier {
            inner: Arc::new(Inner {
                settings: cfg.settings,
                routes: cfg.routes,
                route_channel,
                channels,
                http,
                state: Mutex::new(state),
            }),
        })
    }

    /// Route names, in configuration order.
    pub fn route_names(&self) -> Vec<String> {
        self.inner.routes.iter().map(|r| r.name.clone()).collect()
    }

    fn state(&self) -> MutexGuard<'_, Vec<RouteState>> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers that the opening of `key` was delivered on `route`, as a
    /// dispatch does: its resolution then goes to that route. A watch that
    /// restarts during an incident restores what it had stored this way,
    /// so the end of an incident opened before the restart still reaches
    /// the people who were told. False when there is no such route.
    pub fn restore_delivered(&self, route: &str, key: &str) -> bool {
        let Some(idx) = self.inner.routes.iter().position(|r| r.name == route) else {
            return false;
        };
        let cap = self.inner.settings.max_tracked_keys;
        let mut state = self.state();
        match state.get_mut(idx) {
            Some(st) => {
                st.delivered.insert(key, cap);
                true
            }
            None => false,
        }
    }

    /// Which routes an alert would go to now (rate limits aside). A
    /// resolved / recovered alert goes only where its opening was delivered
    /// and the route sends resolutions.
    pub fn routes_for(&self, alert: &Alert) -> Vec<String> {
        let state = self.state();
        self.inner
            .routes
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                if alert.kind.is_resolution() {
                    r.send_resolved
                        && state
                            .get(*i)
                            .is_some_and(|s| s.delivered.contains(&alert.key))
                } else {
                    filters_match(r, alert)
                }
            })
            .map(|(_, r)| r.name.clone())
            .collect()
    }

    /// [`Notifier::dispatch_at`] with the current time.
    pub async fn dispatch(&self, alert: &Alert) -> Vec<Delivery> {
        self.dispatch_at(alert, unix_now()).await
    }

    /// Sends the alert to every matching route, once per route, with `now`
    /// (unix seconds) as the clock of the rate limits. Routes are served
    /// concurrently; each send is bounded by the timeout and the attempts.
    pub async fn dispatch_at(&self, alert: &Alert, now: i64) -> Vec<Delivery> {
        let plans = self.plan(alert, now);
        self.execute(alert, plans).await
    }

    /// Sends the alert on one route, ignoring its filters and rate limit
    /// (for `vigie notify test`). `None` when there is no such route.
    pub async fn send_to_route(&self, route: &str, alert: &Alert) -> Option<Delivery> {
        let idx = self.inner.routes.iter().position(|r| r.name == route)?;
        let plans = vec![(idx, Plan::Send { suppressed: None })];
        self.execute(alert, plans).await.into_iter().next()
    }

    fn plan(&self, alert: &Alert, now: i64) -> Vec<(usize, Plan)> {
        let mut state = self.state();
        let mut plans = Vec::new();
        for (i, route) in self.inner.routes.iter().enumerate() {
            let Some(st) = state.get_mut(i) else { continue };
            if alert.kind.is_resolution() {
                if !st.delivered.contains(&alert.key) {
                    continue;
                }
                if !route.send_resolved {
                    st.delivered.remove(&alert.key);
                    plans.push((
                        i,
                        Plan::Skipped("send_resolved is off for this route".to_string()),
                    ));
                    continue;
                }
                // The end of something people were told about: never limited.
                plans.push((
                    i,
                    Plan::Send {
                        suppressed: st.window.take_suppressed(),
                    },
                ));
                continue;
            }
            if !filters_match(route, alert) {
                continue;
            }
            if let Some(limit) = &route.rate_limit
                && !st.window.try_take(limit, now)
            {
                st.window.note_suppressed(now);
                tracing::info!(route = %route.name, key = %alert.key, "alert held back by the rate limit");
                plans.push((i, Plan::RateLimited));
                continue;
            }
            plans.push((
                i,
                Plan::Send {
                    suppressed: st.window.take_suppressed(),
                },
            ));
        }
        plans
    }

    async fn execute(&self, alert: &Alert, plans: Vec<(usize, Plan)>) -> Vec<Delivery> {
        let mut results: Vec<Option<DeliveryOutcome>> = vec![None; plans.len()];
        // (result slot, route index, suppression count reported)
        let mut pending: Vec<(usize, usize, Suppressed)> = Vec::new();
        let mut tasks = JoinSet::new();
        for (slot, (route_idx, plan)) in plans.iter().enumerate() {
            match plan {
                Plan::RateLimited => {
                    if let Some(r) = results.get_mut(slot) {
                        *r = Some(DeliveryOutcome::RateLimited);
                    }
                }
                Plan::Skipped(reason) => {
                    if let Some(r) = results.get_mut(slot) {
                        *r = Some(DeliveryOutcome::Skipped(reason.clone()));
                    }
                }
                Plan::Send { suppressed } => {
                    pending.push((slot, *route_idx, *suppressed));
                    let inner = Arc::clone(&self.inner);
                    let alert = alert.clone();
                    let route_idx = *route_idx;
                    let suppressed = *suppressed;
                    tasks.spawn(async move {
                        let outcome = inner.send(route_idx, &alert, suppressed).await;
                        (slot, outcome)
                    });
                }
            }
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((slot, outcome)) => {
                    if let Some(r) = results.get_mut(slot) {
                        *r = Some(outcome);
                    }
                }
                Err(e) => tracing::error!(error = %e, "notification task ended abnormally"),
            }
        }
        // Record what was delivered (to pair resolutions) and put back
        // suppression counts that could not be reported.
        {
            let cap = self.inner.settings.max_tracked_keys;
            let mut state = self.state();
            for (slot, route_idx, suppressed) in &pending {
                let Some(st) = state.get_mut(*route_idx) else {
                    continue;
                };
                match results.get(*slot) {
                    Some(Some(DeliveryOutcome::Sent { .. })) => {
                        if alert.kind.is_resolution() {
                            st.delivered.remove(&alert.key);
                        } else {
                            st.delivered.insert(&alert.key, cap);
                        }
                    }
                    _ => {
                        if let Some((n, since)) = suppressed {
                            st.window.restore_suppressed(*n, *since);
                        }
                    }
                }
            }
        }
        plans
            .iter()
            .zip(results)
            .map(|((route_idx, _), outcome)| {
                let route = self.inner.routes.get(*route_idx);
                let channel = self
                    .inner
                    .route_channel
                    .get(*route_idx)
                    .and_then(|c| self.inner.channels.get(*c))
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                Delivery {
                    route: route.map(|r| r.name.clone()).unwrap_or_default(),
                    channel,
                    outcome: outcome.unwrap_or_else(|| DeliveryOutcome::Failed {
                        attempts: 0,
                        error: "the send task did not complete".to_string(),
                    }),
                }
            })
            .collect()
    }
}

impl Inner {
    async fn send(
        &self,
        route_idx: usize,
        alert: &Alert,
        suppressed: Option<(u64, i64)>,
    ) -> DeliveryOutcome {
        let Some(route) = self.routes.get(route_idx) else {
            return DeliveryOutcome::Skipped("no such route".to_string());
        };
        let Some((channel_name, channel)) = self
            .route_channel
            .get(route_idx)
            .and_then(|c| self.channels.get(*c))
        else {
            return DeliveryOutcome::Skipped("no such channel".to_string());
        };
        let extras = Extras {
            route: route.name.clone(),
            suppressed,
        };
        let attempts = self.settings.attempts.max(1);
        let mut backoff = self.settings.retry_backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            let result = tokio::time::timeout(
                self.settings.timeout,
                channel.send_once(&self.http, alert, &extras),
            )
            .await;
            let err = match result {
                Ok(Ok(())) => {
                    tracing::debug!(route = %route.name, channel = %channel_name, key = %alert.key, attempt, "alert sent");
                    return DeliveryOutcome::Sent { attempts: attempt };
                }
                Ok(Err(e)) => e,
                Err(_) => channel::SendError {
                    retryable: true,
                    message: format!("timed out after {} s", self.settings.timeout.as_secs_f32()),
                },
            };
            tracing::warn!(route = %route.name, channel = %channel_name, key = %alert.key, attempt, error = %err.message, "sending an alert failed");
            last = err.message;
            if !err.retryable {
                return DeliveryOutcome::Failed {
                    attempts: attempt,
                    error: last,
                };
            }
            if attempt < attempts {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
        DeliveryOutcome::Failed {
            attempts,
            error: last,
        }
    }
}

// Compile-time check: the notifier can be shared across tasks.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Notifier>();
};
