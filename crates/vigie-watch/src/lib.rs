//! Exposure watch (issue #3). The first steps hold pure logic:
//!
//! - [`deface`]: page normalisation, baselines learned from several fetches,
//!   and the comparison that tells "unchanged", "changed" (a warning) and
//!   "defaced" apart (method and measured rates in `docs/defacement.md`);
//! - [`state`]: per-target state with thresholds against flapping;
//! - [`correlate`]: mass events into one incident (open, digests, resolve),
//!   lone failures after a hold time, silence while vigie's own canary fails.
//!
//! Probes, the scheduler, sample storage and the notifiers come next
//! (`docs/watch.md`).

pub mod correlate;
pub mod deface;
pub mod state;
