//! Knowledge-base checks as the rule engine sees them: a state name plus
//! evidence. The trait keeps the evaluator independent of how the knowledge
//! base computes its verdicts (and lets tests substitute fixed answers).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use vigie_core::{Day, Evidence, FindingStatus, HostFacts, Software};
use vigie_kb::{KevMatch, KnowledgeBase, LifecycleStatus, Ms17Verdict, PatchState, Smb1Verdict};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// One of the check's states (see `CheckKind::states`).
    pub state: &'static str,
    pub evidence: Evidence,
    /// The outcome is a lead for an analyst, not an established fact.
    pub needs_review: bool,
}

impl CheckOutcome {
    pub fn new(state: &'static str, evidence: Evidence) -> Self {
        CheckOutcome {
            state,
            evidence,
            needs_review: false,
        }
    }
}

/// A host's patch level as the `patch-age` condition sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchOutcome {
    /// Release day of the newest installed security update.
    Dated { released: Day, evidence: Evidence },
    /// Released after `horizon`, the newest day the knowledge base knows;
    /// the exact day is not known.
    NewerThanKb { horizon: Day, evidence: Evidence },
    /// The patch level cannot be told from what the sources report.
    Unknown(Evidence),
    /// Not a machine the update history applies to.
    NotApplicable,
}

pub trait Checks: Sync {
    fn os_lifecycle(&self, facts: &HostFacts, on: Day) -> CheckOutcome;
    fn ms17_010(&self, facts: &HostFacts) -> CheckOutcome;
    fn smbv1(&self, facts: &HostFacts) -> CheckOutcome;
    /// The patch level: release day of the newest installed security
    /// update, or why it cannot be told.
    fn patch_level(&self, facts: &HostFacts) -> PatchOutcome;
    fn kev_software(&self, facts: &HostFacts) -> CheckOutcome;
    /// The days on which the `os-lifecycle` state of these facts changes
    /// (support ending within a year, support ended, paid extended support
    /// ended): the dates at which a finding opens or closes without any new
    /// inventory. None by default.
    fn os_lifecycle_changes(&self, _facts: &HostFacts) -> Vec<Day> {
        Vec::new()
    }
}

/// The answers of `inner` for the facts of one machine, each asked once:
/// what does not depend on the day (MS17-010, SMBv1, the patch level, KEV
/// matches, the days the lifecycle state changes) is computed on the first
/// question and reused by every later evaluation of the same facts, which a
/// projection over months makes at each change day. The day-dependent
/// lifecycle answer is asked every time. Use one per facts: it does not
/// look at the facts it is given after the first answer.
pub struct MemoChecks<'a> {
    inner: &'a (dyn Checks + Send + Sync),
    ms17: OnceLock<CheckOutcome>,
    smbv1: OnceLock<CheckOutcome>,
    patch: OnceLock<PatchOutcome>,
    kev: OnceLock<CheckOutcome>,
    changes: OnceLock<Vec<Day>>,
}

impl<'a> MemoChecks<'a> {
    pub fn new(inner: &'a (dyn Checks + Send + Sync)) -> Self {
        MemoChecks {
            inner,
            ms17: OnceLock::new(),
            smbv1: OnceLock::new(),
            patch: OnceLock::new(),
            kev: OnceLock::new(),
            changes: OnceLock::new(),
        }
    }
}

impl Checks for MemoChecks<'_> {
    fn os_lifecycle(&self, facts: &HostFacts, on: Day) -> CheckOutcome {
        self.inner.os_lifecycle(facts, on)
    }
    fn ms17_010(&self, facts: &HostFacts) -> CheckOutcome {
        self.ms17.get_or_init(|| self.inner.ms17_010(facts)).clone()
    }
    fn smbv1(&self, facts: &HostFacts) -> CheckOutcome {
        self.smbv1.get_or_init(|| self.inner.smbv1(facts)).clone()
    }
    fn patch_level(&self, facts: &HostFacts) -> PatchOutcome {
        self.patch
            .get_or_init(|| self.inner.patch_level(facts))
            .clone()
    }
    fn kev_software(&self, facts: &HostFacts) -> CheckOutcome {
        self.kev
            .get_or_init(|| self.inner.kev_software(facts))
            .clone()
    }
    fn os_lifecycle_changes(&self, facts: &HostFacts) -> Vec<Day> {
        self.changes
            .get_or_init(|| self.inner.os_lifecycle_changes(facts))
            .clone()
    }
}

/// How many distinct software entries the KEV cache keeps before it is
/// cleared (bounded memory whatever the fleet).
const KEV_CACHE_LIMIT: usize = 200_000;

/// [`Checks`] backed by the knowledge base, with a cache of KEV matches per
/// distinct software (fleets repeat the same few thousand programs).
pub struct KbChecks {
    kb: Arc<KnowledgeBase>,
    kev_cache: RwLock<Map<Software, Arc<Vec<KevMatch>>>>,
    /// Whole outcomes per software list: machines built from one image
    /// carry the same list, so most hosts are answered by one lookup.
    kev_lists: RwLock<Map<u128, CheckOutcome>>,
}

/// Seeded fast hashing (foldhash) for the caches keyed by inventory data.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// 128-bit FNV-1a over the software list (two 64-bit lanes with different
/// offsets), enough to tell lists apart without keeping them.
fn list_key(list: &[Software]) -> u128 {
    const P: u64 = 0x100_0000_01b3;
    let (mut a, mut b) = (0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4u64);
    let mut feed = |bytes: &[u8]| {
        for &x in bytes {
            a = (a ^ u64::from(x)).wrapping_mul(P);
            b = (b ^ u64::from(x.rotate_left(3))).wrapping_mul(P);
        }
        // field separator, so ("ab", "c") differs from ("a", "bc")
        a = (a ^ 0xff).wrapping_mul(P);
        b = (b ^ 0xfe).wrapping_mul(P);
    };
    for sw in list {
        feed(sw.name.as_bytes());
        feed(sw.version.as_deref().unwrap_or("\u{0}").as_bytes());
        feed(sw.publisher.as_deref().unwrap_or("\u{0}").as_bytes());
    }
    (u128::from(a) << 64) | u128::from(b)
}

impl KbChecks {
    pub fn new(kb: Arc<KnowledgeBase>) -> Self {
        KbChecks {
            kb,
            kev_cache: RwLock::new(Map::default()),
            kev_lists: RwLock::new(Map::default()),
        }
    }

    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    fn kev_for(&self, sw: &Software) -> Arc<Vec<KevMatch>> {
        if let Ok(cache) = self.kev_cache.read()
            && let Some(hit) = cache.get(sw)
        {
            return hit.clone();
        }
        let found = Arc::new(self.kb.kev_for_software(sw));
        if let Ok(mut cache) = self.kev_cache.write() {
            if cache.len() >= KEV_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(sw.clone(), found.clone());
        }
        found
    }
}

fn with(mut e: Evidence, k: &str, v: String) -> Evidence {
    e.insert(k.to_string(), v);
    e
}

impl Checks for KbChecks {
    fn os_lifecycle(&self, facts: &HostFacts, on: Day) -> CheckOutcome {
        let Some(os) = &facts.os else {
            return CheckOutcome::new(
                "unknown",
                with(
                    Evidence::new(),
                    "os",
                    "no source reported the operating system".into(),
                ),
            );
        };
        let v = self.kb.lifecycle(os, on);
        let mut ev = v.evidence.clone();
        ev.insert("product".into(), v.product.clone());
        if let Some(src) = facts.os_source {
            ev.insert("os_source".into(), src.to_string());
        }
        let state = match &v.status {
            LifecycleStatus::Supported => "supported",
            LifecycleStatus::EndsSoon { ends, days_left } => {
                ev.insert(
                    "support".into(),
                    format!("security updates end on {ends} ({days_left} days left)"),
                );
                "ends-soon"
            }
            LifecycleStatus::EsuOnly {
                security_end,
                esu_end,
            } => {
                ev.insert(
                    "support".into(),
                    format!("free security updates ended on {security_end}; only paid extended security updates (ESU) until {esu_end}"),
                );
                "esu-only"
            }
            LifecycleStatus::Eol { since } => {
                ev.insert(
                    "support".into(),
                    match since {
                        Some(d) => format!("no security updates since {d}"),
                        None => "no security updates (end date not published)".into(),
                    },
                );
                "eol"
            }
            LifecycleStatus::Unknown { reason } => {
                ev.insert("support".into(), format!("unknown: {reason}"));
                "unknown"
            }
        };
        CheckOutcome::new(state, ev)
    }

    fn ms17_010(&self, facts: &HostFacts) -> CheckOutcome {
        let v = self.kb.ms17_010(facts);
        let mut ev = v.evidence().clone();
        let state = match &v {
            Ms17Verdict::NotAffected { reason, .. } => {
                ev.insert("verdict".into(), format!("not affected: {reason}"));
                "not-affected"
            }
            Ms17Verdict::Fixed { by, .. } => {
                ev.insert("verdict".into(), format!("fixed by {by}"));
                "fixed"
            }
            Ms17Verdict::Missing {
                platform, fix_kbs, ..
            } => {
                ev.insert("platform".into(), platform.clone());
                if !fix_kbs.is_empty() {
                    ev.insert("fixing_updates".into(), fix_kbs.join(", "));
                }
                "missing"
            }
            Ms17Verdict::Unknown { reason, .. } => {
                ev.insert("verdict".into(), format!("unknown: {reason}"));
                "unknown"
            }
        };
        CheckOutcome::new(state, ev)
    }

    fn smbv1(&self, facts: &HostFacts) -> CheckOutcome {
        match self.kb.smbv1(facts) {
            Smb1Verdict::Enabled { evidence } => CheckOutcome::new("enabled", evidence),
            Smb1Verdict::NotEnabled { evidence } => CheckOutcome::new("not-enabled", evidence),
            Smb1Verdict::Unknown => CheckOutcome::new("unknown", Evidence::new()),
        }
    }

    fn os_lifecycle_changes(&self, facts: &HostFacts) -> Vec<Day> {
        let Some(os) = &facts.os else {
            return Vec::new();
        };
        // the dates do not depend on the day asked about
        let v = self.kb.lifecycle(os, Day::from_number(0));
        let mut days = Vec::new();
        if let Some(end) = v.security_end {
            days.push(end.add_days(-vigie_kb::ENDS_SOON_DAYS));
            days.push(end);
        }
        days.extend(v.esu_end);
        days
    }

    fn patch_level(&self, facts: &HostFacts) -> PatchOutcome {
        match self.kb.patch_state(facts) {
            PatchState::Dated(p) => {
                let mut evidence = p.evidence;
                evidence.insert("newest_security_update".into(), p.basis);
                PatchOutcome::Dated {
                    released: p.released,
                    evidence,
                }
            }
            PatchState::NewerThanKb { horizon, evidence } => {
                PatchOutcome::NewerThanKb { horizon, evidence }
            }
            PatchState::Unknown { evidence, .. } => PatchOutcome::Unknown(evidence),
            PatchState::NotApplicable => PatchOutcome::NotApplicable,
        }
    }

    fn kev_software(&self, facts: &HostFacts) -> CheckOutcome {
        let Some(list) = &facts.software else {
            return CheckOutcome::new(
                "unknown",
                with(
                    Evidence::new(),
                    "software",
                    "no source reported the installed software".into(),
                ),
            );
        };
        let key = list_key(list);
        if let Ok(cache) = self.kev_lists.read()
            && let Some(hit) = cache.get(&key)
        {
            return hit.clone();
        }
        let outcome = self.kev_software_uncached(list);
        if let Ok(mut cache) = self.kev_lists.write() {
            if cache.len() >= KEV_CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(key, outcome.clone());
        }
        outcome
    }
}

impl KbChecks {
    fn kev_software_uncached(&self, list: &[Software]) -> CheckOutcome {
        let mut confirmed: Vec<String> = Vec::new();
        let mut review: Vec<String> = Vec::new();
        let mut ransomware = false;
        for sw in list {
            for m in self.kev_for(sw).iter() {
                let label = format!(
                    "{} {} ({}: {} {})",
                    sw.name,
                    sw.version.as_deref().unwrap_or("?"),
                    m.cve,
                    m.vendor,
                    m.product
                );
                ransomware |= m.ransomware_known;
                match m.confidence {
                    FindingStatus::Confirmed => confirmed.push(label),
                    FindingStatus::NeedsReview | FindingStatus::Unknown => review.push(label),
                }
            }
        }
        confirmed.sort();
        confirmed.dedup();
        review.sort();
        review.dedup();
        let cap = |v: &[String]| -> String {
            const MAX: usize = 20;
            let mut s = v.iter().take(MAX).cloned().collect::<Vec<_>>().join("; ");
            if v.len() > MAX {
                s.push_str(&format!("; … and {} more", v.len() - MAX));
            }
            s
        };
        let mut ev = Evidence::new();
        if !confirmed.is_empty() {
            ev.insert("kev_confirmed".into(), cap(&confirmed));
        }
        if !review.is_empty() {
            ev.insert("kev_needs_review".into(), cap(&review));
        }
        if ransomware {
            ev.insert("known_ransomware_use".into(), "yes".into());
        }
        if !confirmed.is_empty() {
            CheckOutcome::new("confirmed", ev)
        } else if !review.is_empty() {
            CheckOutcome {
                state: "needs-review",
                evidence: ev,
                needs_review: true,
            }
        } else {
            CheckOutcome::new("none", ev)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sw(n: &str, v: Option<&str>) -> Software {
        Software {
            name: n.into(),
            version: v.map(str::to_string),
            publisher: None,
        }
    }

    #[test]
    fn list_keys_tell_lists_apart() {
        let a = vec![sw("ab", Some("c"))];
        let b = vec![sw("a", Some("bc"))];
        let c = vec![sw("ab", None)];
        let d = vec![sw("ab", Some(""))];
        assert_ne!(list_key(&a), list_key(&b));
        assert_ne!(list_key(&c), list_key(&d));
        assert_eq!(list_key(&a), list_key(&a.clone()));
        assert_ne!(list_key(&[]), list_key(&a));
    }
}
