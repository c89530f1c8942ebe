//! Exposure watch (issue #3). This first step holds the pure part of
//! defacement detection: page normalisation, baselines learned from several
//! fetches, and the comparison that tells "unchanged", "changed" (a warning)
//! and "defaced" apart. See `docs/defacement.md` for the method and the
//! measured rates.

pub mod deface;
