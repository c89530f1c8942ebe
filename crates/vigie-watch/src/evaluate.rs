//! From one probe's outcome to what it means for the target: the observed
//! state (up, degraded, changed, down, defaced), the reasons, and one-shot
//! signals (DNS answer or certificate issuer replaced). Pure: no I/O.
//!
//! Each target keeps a [`Memory`] between probes (its state machine, the
//! addresses and certificate seen, its content baseline), stored as JSON.

use crate::deface::{
    Assessment, Baseline, DEFAULT_BANNED, Page, Verdict, contains_phrase, normalize, phrase_words,
};
use crate::probe::{CertProblem, ErrorKind, Phase, ProbeOutcome};
use crate::state::{Observed, TargetState};
use crate::target::{StatusSet, TargetOptions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Good fetches a baseline is learned from.
pub const LEARN_FETCHES: usize = 3;
/// Most addresses remembered per target (round-robin and CDN answers vary).
const MAX_KNOWN_ADDRESSES: usize = 32;
/// A key change this close to the old certificate's expiry is a renewal.
const RENEWAL_WINDOW_S: i64 = 45 * 86_400;

/// The certificate identity a target is expected to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertIdentity {
    pub issuer: String,
    pub spki_sha256: String,
    pub not_after: i64,
}

/// What a target remembers between probes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    pub state: TargetState,
    /// Every address the name resolved to (bounded).
    #[serde(default)]
    pub known_addresses: BTreeSet<String>,
    #[serde(default)]
    pub cnames: Option<Vec<String>>,
    #[serde(default)]
    pub cert: Option<CertIdentity>,
    #[serde(default)]
    pub baseline: Option<Baseline>,
    /// Fetches gathered towards a baseline (kept, so that `vigie watch
    /// once` run from a scheduler learns across runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learning: Vec<Page>,
    /// The options' `baseline_epoch` the baseline was learned under.
    #[serde(default)]
    pub baseline_epoch: u32,
}

/// What changes in a [`Memory`] when something worth storing happened
/// (everything but the baseline's content, which changes only with the
/// learning count or the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySig {
    state: TargetState,
    addresses: usize,
    cnames: Option<Vec<String>>,
    cert: Option<CertIdentity>,
    baseline: Option<usize>,
    epoch: u32,
    learning: usize,
}

impl Memory {
    pub fn sig(&self) -> MemorySig {
        MemorySig {
            state: self.state.clone(),
            addresses: self.known_addresses.len(),
            cnames: self.cnames.clone(),
            cert: self.cert.clone(),
            baseline: self.baseline.as_ref().map(|b| b.fetches),
            epoch: self.baseline_epoch,
            learning: self.learning.len(),
        }
    }

    pub fn new(at: i64) -> Memory {
        Memory {
            state: TargetState::new(at),
            known_addresses: BTreeSet::new(),
            cnames: None,
            cert: None,
            baseline: None,
            learning: Vec::new(),
            baseline_epoch: 0,
        }
    }
}

/// Why a probe was not simply "up".
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reason {
    Failed {
        phase: Phase,
        error: ErrorKind,
        message: String,
    },
    CertInvalid {
        problem: CertProblem,
    },
    CertExpiring {
        days: i64,
    },
    UnexpectedStatus {
        status: u16,
    },
    ContentMissing {
        what: String,
    },
    /// Defacer or banned phrases on a page while no baseline exists yet.
    BannedContent {
        phrases: Vec<String>,
    },
    Slow {
        ms: u64,
    },
    ContentChanged {
        text_kept: f64,
        structure_kept: f64,
        text_new: f64,
    },
    Defaced {
        assessment: Assessment,
    },
    /// A fetch gathered towards the baseline.
    Learning {
        fetches: usize,
    },
    /// The service answered as expected: the reason of a declared change
    /// to a good state (a recovery, a first probe), which has no other.
    Answered {
        status: Option<u16>,
        ms: u64,
    },
}

/// A notable one-off change, reported at once (not a lasting state).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Signal {
    DnsChanged {
        before: Vec<String>,
        after: Vec<String>,
        cnames_before: Vec<String>,
        cnames_after: Vec<String>,
    },
    CertChanged {
        issuer_before: String,
        issuer_after: String,
        key_changed: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub observed: Observed,
    pub reasons: Vec<Reason>,
    pub signals: Vec<Signal>,
}

fn worst(a: Observed, b: Observed) -> Observed {
    fn rank(o: Observed) -> u8 {
        match o {
            Observed::Up => 0,
            Observed::Degraded => 1,
            Observed::Changed => 2,
            Observed::Down => 3,
            Observed::Defaced => 4,
        }
    }
    if rank(b) > rank(a) { b } else { a }
}

/// What a target's options need at every probe, worked out once: the
/// accepted statuses, the compiled regular expression, the banned phrases
/// (built-in and the target's).
#[derive(Debug, Clone)]
pub struct Prepared {
    status: StatusSet,
    regex: Option<regex::Regex>,
    banned: Vec<String>,
}

impl Prepared {
    pub fn new(opts: &TargetOptions) -> Prepared {
        Prepared {
            status: opts.status_set(),
            regex: opts.regex(),
            banned: DEFAULT_BANNED
                .iter()
                .map(|p| p.to_string())
                .chain(opts.banned_content.iter().cloned())
                .collect(),
        }
    }
}

/// [`evaluate_prepared`] with the options prepared for this one call.
pub fn evaluate(
    opts: &TargetOptions,
    outcome: &ProbeOutcome,
    mem: &mut Memory,
    now: i64,
) -> Evaluation {
    evaluate_prepared(opts, &Prepared::new(opts), outcome, mem, now)
}

/// Judges one probe outcome and updates the target's detection memory
/// (not its state machine: the caller feeds `observed` to it). `prep` is
/// [`Prepared::new`] of `opts`, kept from one probe to the next.
pub fn evaluate_prepared(
    opts: &TargetOptions,
    prep: &Prepared,
    outcome: &ProbeOutcome,
    mem: &mut Memory,
    now: i64,
) -> Evaluation {
    let mut observed = Observed::Up;
    let mut reasons = Vec::new();
    let mut signals = Vec::new();

    // DNS: a complete change of addresses or of the CNAME chain is a
    // hijack sign; rotation among known addresses is not
    if let Some(dns) = &outcome.dns {
        let after: Vec<String> = dns.addresses.iter().map(|a| a.to_string()).collect();
        if !after.is_empty() {
            let replaced = !mem.known_addresses.is_empty()
                && !after.iter().any(|a| mem.known_addresses.contains(a));
            let cname_changed = mem
                .cnames
                .as_ref()
                .is_some_and(|c| !c.is_empty() && *c != dns.cnames);
            if replaced || cname_changed {
                signals.push(Signal::DnsChanged {
                    before: mem.known_addresses.iter().cloned().collect(),
                    after: after.clone(),
                    cnames_before: mem.cnames.clone().unwrap_or_default(),
                    cnames_after: dns.cnames.clone(),
                });
            }
            if replaced {
                mem.known_addresses.clear();
            }
            for a in after {
                if mem.known_addresses.len() < MAX_KNOWN_ADDRESSES {
                    mem.known_addresses.insert(a);
                }
            }
            mem.cnames = Some(dns.cnames.clone());
        }
    }

    // TLS
    if let Some(tls) = &outcome.tls {
        if let Err(problem) = &tls.verification {
            observed = worst(observed, Observed::Down);
            reasons.push(Reason::CertInvalid {
                problem: problem.clone(),
            });
        }
        if let Some(exp) = tls.earliest_expiry {
            let days = (exp - now).div_euclid(86_400);
            if tls.verification.is_ok() && days < i64::from(opts.min_cert_days) {
                observed = worst(observed, Observed::Degraded);
                reasons.push(Reason::CertExpiring { days });
            }
        }
        if let Some(leaf) = &tls.leaf
            && tls.verification.is_ok()
        {
            if let Some(prev) = &mem.cert {
                let issuer_changed = prev.issuer != leaf.issuer;
                let key_changed = prev.spki_sha256 != leaf.spki_sha256;
                let renewal = prev.not_after - now < RENEWAL_WINDOW_S;
                if issuer_changed || (key_changed && !renewal) {
                    signals.push(Signal::CertChanged {
                        issuer_before: prev.issuer.clone(),
                        issuer_after: leaf.issuer.clone(),
                        key_changed,
                    });
                }
            }
            mem.cert = Some(CertIdentity {
                issuer: leaf.issuer.clone(),
                spki_sha256: leaf.spki_sha256.clone(),
                not_after: leaf.not_after,
            });
        }
    }

    // a failed phase (a certificate problem is already counted)
    if let Some(e) = &outcome.error {
        let cert_only = e.phase == Phase::Tls
            && outcome
                .tls
                .as_ref()
                .is_some_and(|t| t.verification.is_err());
        observed = worst(observed, Observed::Down);
        if !cert_only {
            reasons.push(Reason::Failed {
                phase: e.phase,
                error: e.kind,
                message: e.message.clone(),
            });
        }
    }

    // HTTP
    let Some(http) = &outcome.http else {
        return Evaluation {
            observed,
            reasons,
            signals,
        };
    };
    let status_ok = prep.status.contains(http.status);
    if !status_ok {
        observed = worst(observed, Observed::Down);
        reasons.push(Reason::UnexpectedStatus {
            status: http.status,
        });
    }
    let total_ms = u64::try_from(outcome.phases.total.as_millis()).unwrap_or(u64::MAX);
    if total_ms > u64::from(opts.slow_ms) {
        observed = worst(observed, Observed::Degraded);
        reasons.push(Reason::Slow { ms: total_ms });
    }
    let body = String::from_utf8_lossy(&http.body);
    if let Some(re) = &prep.regex
        && !re.is_match(&body)
    {
        observed = worst(observed, Observed::Down);
        reasons.push(Reason::ContentMissing {
            what: format!("/{}/", opts.expect_regex.clone().unwrap_or_default()),
        });
    }
    let page_ok = matches!(observed, Observed::Up | Observed::Degraded);
    // expected phrases absent from the page's words
    let missing = |joined: &str| -> Vec<String> {
        opts.expect_content
            .iter()
            .filter(|e| {
                let want = phrase_words(e);
                !want.is_empty() && !contains_phrase(joined, &want)
            })
            .cloned()
            .collect()
    };
    if !opts.deface {
        // keyword checks without a baseline
        let joined = normalize(&body).words.join(" ");
        for what in missing(&joined) {
            observed = worst(observed, Observed::Down);
            reasons.push(Reason::ContentMissing { what });
        }
        return Evaluation {
            observed,
            reasons,
            signals,
        };
    }
    if !status_ok || outcome.error.is_some() {
        // an error page is not the site's content: an outage whose error
        // page has its own title is not a defacement
        return Evaluation {
            observed,
            reasons,
            signals,
        };
    }
    let page = normalize(&body);
    let banned: Vec<&str> = prep.banned.iter().map(String::as_str).collect();
    if mem.baseline_epoch != opts.baseline_epoch
        || mem
            .baseline
            .as_ref()
            .is_some_and(|b| !b.checked_for(&banned))
    {
        mem.baseline = None;
        mem.learning.clear();
        mem.baseline_epoch = opts.baseline_epoch;
    }
    match &mem.baseline {
        None => {
            if page_ok {
                mem.learning.push(page.clone());
            }
            // while learning, the fixed checks still apply
            let joined = page.words.join(" ");
            let hits: Vec<String> = banned
                .iter()
                .map(|p| phrase_words(p))
                .filter(|w| !w.is_empty() && contains_phrase(&joined, w))
                .collect();
            for what in missing(&joined) {
                observed = worst(observed, Observed::Changed);
                reasons.push(Reason::ContentMissing { what });
            }
            if !hits.is_empty() {
                // never learn a page carrying a defacer's phrase as the norm
                if page_ok {
                    mem.learning.pop();
                }
                observed = worst(observed, Observed::Changed);
                reasons.push(Reason::BannedContent { phrases: hits });
            }
            if mem.learning.len() >= LEARN_FETCHES {
                mem.baseline = Some(Baseline::learn_with(&mem.learning, &banned));
                mem.learning.clear();
            } else if page_ok {
                reasons.push(Reason::Learning {
                    fetches: mem.learning.len(),
                });
            }
        }
        Some(b) => {
            let a = b.assess(&page, &opts.expect_content, &banned);
            match a.verdict {
                Verdict::Unchanged => {}
                Verdict::Changed => {
                    observed = worst(observed, Observed::Changed);
                    reasons.push(Reason::ContentChanged {
                        text_kept: a.text_kept,
                        structure_kept: a.structure_kept,
                        text_new: a.text_new,
                    });
                }
                Verdict::Defaced => {
                    observed = worst(observed, Observed::Defaced);
                    reasons.push(Reason::Defaced { assessment: a });
                }
            }
        }
    }
    Evaluation {
        observed,
        reasons,
        signals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{CertInfo, DnsAnswer, HttpInfo, Phases, ProbeError, TlsInfo};
    use std::time::Duration;

    const NOW: i64 = 1_800_000_000;

    fn page(i: usize) -> String {
        format!(
            "<html><head><title>CHU de Nulle-Part</title></head><body><h1>Bienvenue au CHU</h1>\
             <p>Prise de rendez-vous en ligne, urgences, maternite, consultations.</p>\
             <p>Actualite numero {i}: le service de cardiologie recrute des infirmiers.</p></body></html>"
        )
    }

    fn cert(issuer: &str, key: &str, not_after: i64) -> CertInfo {
        CertInfo {
            subject: "CN=www.chu.example".into(),
            issuer: issuer.into(),
            not_before: NOW - 86_400,
            not_after,
            dns_names: vec!["www.chu.example".into()],
            spki_sha256: key.into(),
            sha256: format!("{key}-{not_after}"),
        }
    }

    fn outcome(body: &str, status: u16) -> ProbeOutcome {
        ProbeOutcome {
            started_at: NOW,
            phases: Phases {
                total: Duration::from_millis(120),
                ..Phases::default()
            },
            dns: Some(DnsAnswer {
                addresses: vec![
                    "192.0.2.10"
                        .parse()
                        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
                ],
                cnames: Vec::new(),
            }),
            address: None,
            tls: Some(TlsInfo {
                version: "TLSv1.3".into(),
                cipher: "TLS13_AES_128_GCM_SHA256".into(),
                verification: Ok(()),
                leaf: Some(cert("CN=Good CA", "k1", NOW + 80 * 86_400)),
                earliest_expiry: Some(NOW + 80 * 86_400),
            }),
            http: Some(HttpInfo {
                status,
                redirects: Vec::new(),
                final_url: "https://www.chu.example/".into(),
                headers: Vec::new(),
                body: bytes::Bytes::from(body.to_string()),
                body_truncated: false,
                content_length: None,
            }),
            error: None,
        }
    }

    fn learned(opts: &TargetOptions) -> Memory {
        let mut m = Memory::new(NOW);
        for i in 0..LEARN_FETCHES {
            let e = evaluate(opts, &outcome(&page(i), 200), &mut m, NOW);
            assert_eq!(e.observed, Observed::Up, "{e:?}");
        }
        assert!(
            m.baseline.is_some(),
            "learned after {LEARN_FETCHES} fetches"
        );
        m
    }

    #[test]
    fn a_defaced_page_is_defaced_and_a_new_article_is_not() {
        let opts = TargetOptions::default();
        let mut m = learned(&opts);
        let e = evaluate(&opts, &outcome(&page(99), 200), &mut m, NOW);
        assert_eq!(e.observed, Observed::Up, "{e:?}");
        let e = evaluate(
            &opts,
            &outcome(
                "<html><head><title>pwned</title></head><body>Hacked by someone. greetz</body></html>",
                200,
            ),
            &mut m,
            NOW,
        );
        assert_eq!(e.observed, Observed::Defaced, "{e:?}");
    }

    #[test]
    fn an_error_page_is_an_outage_not_a_defacement() {
        let opts = TargetOptions::default();
        let mut m = learned(&opts);
        let e = evaluate(
            &opts,
            &outcome(
                "<html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503 Service Temporarily Unavailable</h1></center><hr><center>nginx</center></body></html>",
                503,
            ),
            &mut m,
            NOW,
        );
        assert_eq!(e.observed, Observed::Down);
        assert!(
            matches!(e.reasons[..], [Reason::UnexpectedStatus { status: 503 }]),
            "{e:?}"
        );
    }

    #[test]
    fn a_defacer_phrase_is_never_learned_as_normal() {
        let opts = TargetOptions::default();
        let mut m = Memory::new(NOW);
        let hacked = "<html><body>Hacked by x0r</body></html>";
        for _ in 0..5 {
            let e = evaluate(&opts, &outcome(hacked, 200), &mut m, NOW);
            assert_eq!(e.observed, Observed::Changed, "{e:?}");
        }
        assert!(m.baseline.is_none() && m.learning.is_empty());
    }

    #[test]
    fn certificates_expiring_invalid_and_replaced() {
        let opts = TargetOptions::default();
        let mut m = Memory::new(NOW);
        let mut o = outcome(&page(0), 200);
        let _ = evaluate(&opts, &o, &mut m, NOW);
        // expiring within min_cert_days
        if let Some(t) = o.tls.as_mut() {
            t.earliest_expiry = Some(NOW + 5 * 86_400);
        }
        let e = evaluate(&opts, &o, &mut m, NOW);
        assert_eq!(e.observed, Observed::Degraded);
        assert!(e.reasons.contains(&Reason::CertExpiring { days: 5 }));
        // expired: browsers refuse it, the service is down
        let mut bad = outcome(&page(0), 200);
        if let Some(t) = bad.tls.as_mut() {
            t.verification = Err(CertProblem::Expired);
        }
        bad.http = None;
        bad.error = Some(ProbeError {
            phase: Phase::Tls,
            kind: ErrorKind::TlsHandshake,
            message: "expired".into(),
        });
        let e = evaluate(&opts, &bad, &mut m, NOW);
        assert_eq!(e.observed, Observed::Down);
        assert_eq!(
            e.reasons,
            vec![Reason::CertInvalid {
                problem: CertProblem::Expired
            }]
        );
        // another issuer: a signal
        let mut other = outcome(&page(0), 200);
        if let Some(t) = other.tls.as_mut() {
            t.leaf = Some(cert("CN=Unknown CA", "k2", NOW + 80 * 86_400));
        }
        let e = evaluate(&opts, &other, &mut m, NOW);
        assert!(
            matches!(
                &e.signals[..],
                [Signal::CertChanged {
                    key_changed: true,
                    ..
                }]
            ),
            "{e:?}"
        );
        // a renewal near expiry with a new key from the same issuer is not
        let mut m = Memory::new(NOW);
        let mut old = outcome(&page(0), 200);
        if let Some(t) = old.tls.as_mut() {
            t.leaf = Some(cert("CN=Good CA", "k1", NOW + 10 * 86_400));
        }
        let _ = evaluate(&opts, &old, &mut m, NOW);
        let mut renewed = outcome(&page(0), 200);
        if let Some(t) = renewed.tls.as_mut() {
            t.leaf = Some(cert("CN=Good CA", "k3", NOW + 90 * 86_400));
        }
        assert!(evaluate(&opts, &renewed, &mut m, NOW).signals.is_empty());
    }

    #[test]
    fn dns_replacement_is_a_signal_rotation_is_not() {
        let opts = TargetOptions::default();
        let mut m = Memory::new(NOW);
        let with = |ips: &[&str], cnames: &[&str]| {
            let mut o = outcome(&page(0), 200);
            o.dns = Some(DnsAnswer {
                addresses: ips.iter().filter_map(|s| s.parse().ok()).collect(),
                cnames: cnames.iter().map(|s| s.to_string()).collect(),
            });
            o
        };
        assert!(
            evaluate(&opts, &with(&["192.0.2.1", "192.0.2.2"], &[]), &mut m, NOW)
                .signals
                .is_empty()
        );
        // round robin among known and one new address: fine
        assert!(
            evaluate(&opts, &with(&["192.0.2.2", "192.0.2.3"], &[]), &mut m, NOW)
                .signals
                .is_empty()
        );
        // all new: a hijack sign
        let e = evaluate(&opts, &with(&["203.0.113.66"], &[]), &mut m, NOW);
        assert!(
            matches!(&e.signals[..], [Signal::DnsChanged { .. }]),
            "{e:?}"
        );
        // CNAME chain changed
        let mut m = Memory::new(NOW);
        let _ = evaluate(
            &opts,
            &with(&["192.0.2.1"], &["cdn.example.net"]),
            &mut m,
            NOW,
        );
        let e = evaluate(
            &opts,
            &with(&["192.0.2.1"], &["evil.example.org"]),
            &mut m,
            NOW,
        );
        assert_eq!(e.signals.len(), 1, "{e:?}");
    }

    #[test]
    fn a_new_epoch_learns_again_and_expected_content_is_checked() {
        let mut opts = TargetOptions {
            expect_content: vec!["Bienvenue au CHU".into()],
            ..TargetOptions::default()
        };
        let mut m = learned(&opts);
        let e = evaluate(
            &opts,
            &outcome(
                "<html><head><title>CHU de Nulle-Part</title></head><body>Maintenance</body></html>",
                200,
            ),
            &mut m,
            NOW,
        );
        assert_eq!(
            e.observed,
            Observed::Defaced,
            "major change and expected content missing: {e:?}"
        );
        opts.baseline_epoch += 1;
        let e = evaluate(&opts, &outcome(&page(7), 200), &mut m, NOW);
        assert!(
            m.baseline.is_none() && matches!(e.reasons[..], [Reason::Learning { fetches: 1 }]),
            "{e:?}"
        );
        assert_eq!(m.baseline_epoch, 1);
        // regex checks and slow answers
        let opts = TargetOptions {
            expect_regex: Some("rendez-vous".into()),
            slow_ms: 100,
            deface: false,
            ..TargetOptions::default()
        };
        let mut m = Memory::new(NOW);
        let e = evaluate(&opts, &outcome(&page(0), 200), &mut m, NOW);
        assert_eq!(e.observed, Observed::Degraded, "slow: {e:?}");
        let e = evaluate(&opts, &outcome("<p>autre</p>", 200), &mut m, NOW);
        assert_eq!(e.observed, Observed::Down, "{e:?}");
    }

    #[test]
    fn memory_round_trips_through_json() {
        let opts = TargetOptions::default();
        let m = learned(&opts);
        let json = serde_json::to_string(&m).unwrap_or_default();
        let back: Memory = serde_json::from_str(&json).unwrap_or_else(|_| Memory::new(0));
        assert_eq!(back, m);
        assert!(json.len() < 64 * 1024, "{} bytes", json.len());
    }
}
