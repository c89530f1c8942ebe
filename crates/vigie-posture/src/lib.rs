//! Posture rules.
//!
//! Rules are written in TOML (see `docs/rules.md`): each has a stable id,
//! title, severity, rationale, remediation, references, and a `when`
//! condition built from knowledge-base checks (`os-lifecycle`, `ms17-010`,
//! `smbv1`, `patch-age`, `kev-software`) and host facts, combined with
//! `all`, `any` and `not`. The default set ships embedded; users add their
//! own from a directory without recompiling.
//!
//! Evaluation is pure: `RuleSet::evaluate(facts, day, checks)` returns the
//! findings with their evidence.

mod checks;
mod eval;
mod lang;

pub use checks::{CheckOutcome, Checks, KbChecks, MemoChecks, PatchOutcome};
pub use eval::Evaluation;
pub use lang::{Condition, Rule, RuleError, RuleSet, UnknownPolicy};

/// The default rules, embedded.
pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");
