//! Exposure watch (issue #3). The first steps hold pure logic:
//!
//! - [`deface`]: page normalisation, baselines learned from several fetches,
//!   and the comparison that tells "unchanged", "changed" (a warning) and
//!   "defaced" apart (method and measured rates in `docs/defacement.md`);
//! - [`state`]: per-target state with thresholds against flapping.
//!
//! Probes, the scheduler, correlation into grouped incidents and the
//! notifiers come next.

pub mod deface;
pub mod state;
