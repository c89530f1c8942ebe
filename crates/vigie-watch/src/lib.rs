//! Exposure watch (issue #3).
//!
//! - [`target`]: targets and their options, targets files;
//! - [`probe`]: DNS, TCP, TLS and HTTP probes with per-phase timings,
//!   every step bounded by one deadline;
//! - [`evaluate`]: one probe outcome → observed state, reasons, signals;
//! - [`monitor`]: per-target memory, state machines and the correlator;
//! - [`schedule`]: spreads probes over the interval with bounded
//!   concurrency and per-host politeness.
//!
//! Pure logic (no I/O):
//!
//! - [`deface`]: page normalisation, baselines learned from several fetches,
//!   and the comparison that tells "unchanged", "changed" (a warning) and
//!   "defaced" apart (method and measured rates in `docs/defacement.md`);
//! - [`state`]: per-target state with thresholds against flapping;
//! - [`correlate`]: mass events into one incident (open, digests, resolve),
//!   lone failures after a hold time, silence while vigie's own canary fails.
//!
//! Storage, notifications and `/metrics` are wired by the `vigie` binary
//! (`docs/watch.md`).

pub mod correlate;
pub mod deface;
pub mod evaluate;
pub mod monitor;
pub mod probe;
pub mod schedule;
pub mod state;
pub mod target;
