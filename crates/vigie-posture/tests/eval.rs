//! Rule evaluation against fixed check answers and real knowledge-base verdicts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use vigie_core::facts::SourceState;
use vigie_core::{
    Day, Evidence, Feature, FindingStatus, HostFacts, Hotfix, OsFacts, OsFamily, Severity,
    Software, SourceKind,
};
use vigie_posture::{CheckOutcome, Checks, KbChecks, MemoChecks, PatchOutcome, RuleSet};

/// Checks with fixed answers, to test the language independently of the KB.
struct Fixed {
    lifecycle: &'static str,
    ms17: &'static str,
    kev: (&'static str, bool),
    patch: Option<Day>,
}

impl Checks for Fixed {
    fn os_lifecycle(&self, _: &HostFacts, _: Day) -> CheckOutcome {
        CheckOutcome::new(
            self.lifecycle,
            Evidence::from([("product".into(), "Windows 7 SP1".into())]),
        )
    }
    fn ms17_010(&self, _: &HostFacts) -> CheckOutcome {
        CheckOutcome::new(self.ms17, Evidence::new())
    }
    fn smbv1(&self, _: &HostFacts) -> CheckOutcome {
        CheckOutcome::new("unknown", Evidence::new())
    }
    fn patch_level(&self, _: &HostFacts) -> PatchOutcome {
        match self.patch {
            Some(d) => PatchOutcome::Dated {
                released: d,
                evidence: Evidence::from([(
                    "newest_security_update".into(),
                    format!("KB released {d}"),
                )]),
            },
            None => PatchOutcome::NotApplicable,
        }
    }
    fn kev_software(&self, _: &HostFacts) -> CheckOutcome {
        CheckOutcome {
            state: self.kev.0,
            evidence: Evidence::new(),
            needs_review: self.kev.1,
        }
    }
}

fn day(s: &str) -> Day {
    Day::parse(s).unwrap()
}

fn win7() -> HostFacts {
    let mut st = SourceState::empty(SourceKind::Osquery, "2017-05-12T08:00:00Z".parse().unwrap());
    st.os = Some(OsFacts {
        family: OsFamily::Windows,
        name: Some("Microsoft Windows 7 Professionnel".into()),
        version: Some("6.1.7601".into()),
        build: Some(7601),
        service_pack: Some("Service Pack 1".into()),
        ..Default::default()
    });
    st.hotfixes = Some(vec![Hotfix {
        id: "KB3205394".into(),
        installed_on: None,
    }]);
    st.software = Some(vec![
        Software {
            name: "TeamViewer 12".into(),
            version: Some("12.0.72365".into()),
            publisher: Some("TeamViewer".into()),
        },
        Software {
            name: "7-Zip 19.00 (x64)".into(),
            version: Some("19.00".into()),
            publisher: None,
        },
    ]);
    st.features = Some(vec![Feature {
        name: "SMB1Protocol".into(),
        enabled: true,
    }]);
    HostFacts::merge(Some("RBH-PC001".into()), &[st])
}

fn ids(f: &[vigie_core::Finding]) -> Vec<&str> {
    f.iter().map(|x| x.rule.as_str()).collect()
}

#[test]
fn default_rules_follow_the_checks() {
    let rules = RuleSet::defaults().unwrap();
    let facts = win7();
    let c = Fixed {
        lifecycle: "esu-only",
        ms17: "missing",
        kev: ("needs-review", true),
        patch: Some(day("2017-01-10")),
    };
    let found = rules.evaluate(&facts, day("2017-05-12"), &c);
    assert_eq!(
        ids(&found),
        vec!["os-eol", "ms17-010-missing", "patch-age", "kev-software"]
    );
    let eol = &found[0];
    assert_eq!(
        eol.severity,
        Severity::High,
        "esu-only lowers os-eol to high"
    );
    assert_eq!(
        eol.evidence.get("check.os-lifecycle").map(String::as_str),
        Some("esu-only")
    );
    assert_eq!(
        eol.evidence.get("os.name").map(String::as_str),
        Some("Microsoft Windows 7 Professionnel")
    );
    let kev = found
        .iter()
        .find(|f| f.rule.as_str() == "kev-software")
        .unwrap();
    assert_eq!(
        kev.status,
        FindingStatus::NeedsReview,
        "a product-only match is never confirmed"
    );
    let age = found
        .iter()
        .find(|f| f.rule.as_str() == "patch-age")
        .unwrap();
    assert!(
        age.evidence["patch_age_days"].starts_with("122 days"),
        "{:?}",
        age.evidence
    );

    let c = Fixed {
        lifecycle: "eol",
        ms17: "fixed",
        kev: ("confirmed", false),
        patch: Some(day("2017-04-11")),
    };
    let found = rules.evaluate(&facts, day("2017-05-12"), &c);
    assert_eq!(ids(&found), vec!["os-eol", "kev-software"]);
    assert_eq!(found[0].severity, Severity::Critical);
    assert_eq!(found[1].status, FindingStatus::Confirmed);

    let c = Fixed {
        lifecycle: "ends-soon",
        ms17: "not-affected",
        kev: ("none", false),
        patch: None,
    };
    assert_eq!(
        ids(&rules.evaluate(&facts, day("2017-05-12"), &c)),
        vec!["os-eol-soon"]
    );
}

#[test]
fn language_forms() {
    let src = r#"
[[rule]]
id = "teamviewer-old"
title = "TeamViewer older than 15"
severity = "high"
rationale = "r"
remediation = "m"
when = { software = "(?i)^teamviewer", version = { version_lt = "15" } }

[[rule]]
id = "win7-no-march"
title = "Windows 7 without the March KBs"
severity = "critical"
rationale = "r"
remediation = "m"
when = { all = [ { fact = "os.version", version_lt = "6.2" }, { fact = "os.family", equals = "WINDOWS" }, { hotfix_missing = ["KB4012212", "kb4012215"] } ] }

[[rule]]
id = "any-not"
title = "t"
severity = "low"
rationale = "r"
remediation = "m"
when = { any = [ { fact = "os.edition", exists = true }, { not = { feature_enabled = "SMB1Protocol" } } ] }

[[rule]]
id = "smb1-feature"
title = "t"
severity = "medium"
rationale = "r"
remediation = "m"
when = { all = [ { feature_enabled = "smb1protocol" }, { hotfix_present = ["KB3205394"] }, { fact = "hostname", matches = "^RBH-" } ] }

[[rule]]
id = "silent"
title = "t"
severity = "low"
rationale = "r"
remediation = "m"
when = { stale_days = 30 }
"#;
    let rules = RuleSet::parse("site.toml", src).unwrap();
    let facts = win7();
    let c = Fixed {
        lifecycle: "supported",
        ms17: "fixed",
        kev: ("none", false),
        patch: None,
    };
    let found = rules.evaluate(&facts, day("2017-05-12"), &c);
    assert_eq!(
        ids(&found),
        vec!["teamviewer-old", "win7-no-march", "smb1-feature"]
    );
    assert_eq!(found[0].evidence["software"], "TeamViewer 12 12.0.72365");
    assert_eq!(found[1].evidence["hotfix_missing"], "KB4012212, KB4012215");
    // thirty-one days later the machine has gone silent
    let later = rules.evaluate(&facts, day("2017-06-12"), &c);
    assert!(ids(&later).contains(&"silent"), "{:?}", ids(&later));
    // the same evidence on any later day: a stored finding is not
    // rewritten by each assessment
    let evidence = |d: &str| {
        rules
            .evaluate(&facts, day(d), &c)
            .into_iter()
            .find(|f| f.rule.as_str() == "silent")
            .map(|f| f.evidence)
            .unwrap()
    };
    assert_eq!(evidence("2017-06-12"), evidence("2018-06-12"));
    assert_eq!(
        evidence("2017-06-12")["last_report"],
        "2017-05-12T08:00:00Z (no report for more than 30 days)"
    );
    // an unknown update list proves nothing either way: the rule cannot be
    // decided, and says so
    let mut unknown = facts.clone();
    unknown.hotfixes = None;
    let found = rules.evaluate(&unknown, day("2017-05-12"), &c);
    let f = found
        .iter()
        .find(|f| f.rule.as_str() == "win7-no-march")
        .unwrap();
    assert_eq!(f.status, FindingStatus::Unknown);
    assert_eq!(f.evidence["hotfixes"], "not reported by any source");
}

fn rule(when: &str, extra: &str) -> RuleSet {
    RuleSet::parse(
        "t.toml",
        &format!(
            "[[rule]]\nid = \"r\"\ntitle = \"t\"\nseverity = \"high\"\nrationale = \"r\"\nremediation = \"m\"\n{extra}when = {when}\n"
        ),
    )
    .unwrap()
}

fn status_of(rules: &RuleSet, facts: &HostFacts, c: &dyn Checks) -> Option<FindingStatus> {
    rules
        .evaluate(facts, day("2024-01-10"), c)
        .first()
        .map(|f| f.status)
}

#[test]
fn missing_inputs_follow_three_valued_logic() {
    let mut facts = win7();
    facts.hotfixes = None;
    let c = Fixed {
        lifecycle: "eol",
        ms17: "unknown",
        kev: ("none", false),
        patch: None,
    };
    let missing = "{ hotfix_missing = [\"KB4012212\"] }";
    let eol = "{ check = \"os-lifecycle\", in = [\"eol\"] }";
    let supported = "{ check = \"os-lifecycle\", in = [\"supported\"] }";
    // all: one false input decides; otherwise unknown stays unknown
    assert_eq!(
        status_of(
            &rule(&format!("{{ all = [{missing}, {supported}] }}"), ""),
            &facts,
            &c
        ),
        None
    );
    assert_eq!(
        status_of(
            &rule(&format!("{{ all = [{missing}, {eol}] }}"), ""),
            &facts,
            &c
        ),
        Some(FindingStatus::Unknown)
    );
    // any: one true input decides
    assert_eq!(
        status_of(
            &rule(&format!("{{ any = [{missing}, {eol}] }}"), ""),
            &facts,
            &c
        ),
        Some(FindingStatus::Confirmed)
    );
    assert_eq!(
        status_of(
            &rule(&format!("{{ any = [{missing}, {supported}] }}"), ""),
            &facts,
            &c
        ),
        Some(FindingStatus::Unknown)
    );
    // not: the negation of unknown is unknown
    assert_eq!(
        status_of(&rule(&format!("{{ not = {missing} }}"), ""), &facts, &c),
        Some(FindingStatus::Unknown)
    );
    // a check's own "unknown" state, and a rule told to ignore it
    let ms17 = "{ check = \"ms17-010\", in = [\"missing\"] }";
    assert_eq!(
        status_of(&rule(ms17, ""), &facts, &c),
        Some(FindingStatus::Unknown)
    );
    assert_eq!(
        status_of(&rule(ms17, "unknown = \"ignore\"\n"), &facts, &c),
        None
    );
    assert_eq!(
        status_of(&rule(ms17, "unknown = \"report\"\n"), &facts, &c),
        Some(FindingStatus::Unknown)
    );
    // a rule may name the state to flag it as a finding of its own
    assert_eq!(
        status_of(
            &rule("{ check = \"ms17-010\", in = [\"unknown\"] }", ""),
            &facts,
            &c
        ),
        Some(FindingStatus::Confirmed)
    );
    // facts the machine does not report
    let mut bare = facts.clone();
    bare.os = None;
    assert_eq!(
        status_of(
            &rule("{ fact = \"os.build\", version_lt = \"7601\" }", ""),
            &bare,
            &c
        ),
        Some(FindingStatus::Unknown)
    );
    assert_eq!(
        status_of(
            &rule("{ fact = \"os.build\", exists = false }", ""),
            &bare,
            &c
        ),
        Some(FindingStatus::Confirmed)
    );
    let err = RuleSet::parse(
        "t.toml",
        "[[rule]]\nid = \"r\"\ntitle = \"t\"\nseverity = \"high\"\nrationale = \"r\"\nremediation = \"m\"\nunknown = \"maybe\"\nwhen = { stale_days = 3 }\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("t.toml:1: rule r: unknown = \"maybe\""),
        "{err}"
    );
}

/// Checks whose patch level is newer than the knowledge base's horizon.
struct Newer(Day);

impl Checks for Newer {
    fn os_lifecycle(&self, _: &HostFacts, _: Day) -> CheckOutcome {
        CheckOutcome::new("supported", Evidence::new())
    }
    fn ms17_010(&self, _: &HostFacts) -> CheckOutcome {
        CheckOutcome::new("not-affected", Evidence::new())
    }
    fn smbv1(&self, _: &HostFacts) -> CheckOutcome {
        CheckOutcome::new("not-enabled", Evidence::new())
    }
    fn patch_level(&self, _: &HostFacts) -> PatchOutcome {
        PatchOutcome::NewerThanKb {
            horizon: self.0,
            evidence: Evidence::from([("knowledge_base".into(), "newer".into())]),
        }
    }
    fn kev_software(&self, _: &HostFacts) -> CheckOutcome {
        CheckOutcome::new("none", Evidence::new())
    }
}

#[test]
fn a_build_newer_than_the_knowledge_base_is_never_judged_late() {
    let rules = rule("{ check = \"patch-age\", older_than_days = 60 }", "");
    let c = Newer(day("2026-08-12"));
    let facts = win7();
    // released on 2026-08-13 at the earliest: not late while that day is
    // within 60 days, then unknown (never confirmed)
    let on = |d: &str| {
        rules
            .evaluate(&facts, day(d), &c)
            .first()
            .map(|f| (f.status, f.evidence.get("knowledge_base").cloned()))
    };
    assert_eq!(on("2026-10-12"), None);
    assert_eq!(
        on("2026-10-13"),
        Some((FindingStatus::Unknown, Some("newer".into())))
    );
    assert_eq!(
        on("2026-12-03"),
        Some((FindingStatus::Unknown, Some("newer".into())))
    );
    // and the day it becomes unknown is a change day, so assess dates it
    assert_eq!(
        rules.next_change(&facts, day("2026-09-01"), &c),
        Some(day("2026-10-13"))
    );
}

#[test]
fn real_knowledge_base_verdicts() {
    let kb = Arc::new(vigie_kb::KnowledgeBase::embedded().unwrap());
    let checks = KbChecks::new(kb);
    let rules = RuleSet::defaults().unwrap();
    let facts = win7();
    // on WannaCry day: 7 SP1 supported until 2020, MS17-010 missing, SMBv1 on
    let found = rules.evaluate(&facts, day("2017-05-12"), &checks);
    let got = ids(&found);
    assert!(
        got.contains(&"ms17-010-missing") && got.contains(&"smbv1-enabled"),
        "{got:?}"
    );
    assert!(!got.contains(&"os-eol"), "{got:?}");
    let ms17 = found
        .iter()
        .find(|f| f.rule.as_str() == "ms17-010-missing")
        .unwrap();
    assert!(
        ms17.evidence.values().any(|v| v.contains("KB4012212")),
        "fixing updates named: {:?}",
        ms17.evidence
    );
    // in 2024 it is end of life
    let found = rules.evaluate(&facts, day("2024-01-01"), &checks);
    assert!(ids(&found).contains(&"os-eol"));
    // with the March rollup the MS17-010 finding disappears
    let mut fixed = facts.clone();
    fixed.hotfixes = Some(vec![Hotfix {
        id: "KB4012215".into(),
        installed_on: None,
    }]);
    assert!(
        !ids(&rules.evaluate(&fixed, day("2017-05-12"), &checks)).contains(&"ms17-010-missing")
    );
    // a Linux host triggers no Windows rule
    let mut linux =
        SourceState::empty(SourceKind::Osquery, "2026-11-01T00:00:00Z".parse().unwrap());
    linux.os = Some(OsFacts {
        family: OsFamily::Linux,
        name: Some("Ubuntu".into()),
        version: Some("24.04".into()),
        ..Default::default()
    });
    linux.software = Some(vec![]);
    let lf = HostFacts::merge(Some("srv".into()), &[linux]);
    let got = rules.evaluate(&lf, day("2026-11-22"), &checks);
    assert!(
        !ids(&got)
            .iter()
            .any(|r| ["ms17-010-missing", "smbv1-enabled", "patch-age"].contains(r)),
        "{:?}",
        ids(&got)
    );
}

/// Counts the questions asked, to check what the memo asks once.
struct Counting {
    inner: Fixed,
    asked: std::sync::atomic::AtomicUsize,
}

impl Counting {
    fn ask(&self) {
        self.asked
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Checks for Counting {
    fn os_lifecycle(&self, f: &HostFacts, on: Day) -> CheckOutcome {
        self.inner.os_lifecycle(f, on)
    }
    fn ms17_010(&self, f: &HostFacts) -> CheckOutcome {
        self.ask();
        self.inner.ms17_010(f)
    }
    fn smbv1(&self, f: &HostFacts) -> CheckOutcome {
        self.ask();
        self.inner.smbv1(f)
    }
    fn patch_level(&self, f: &HostFacts) -> PatchOutcome {
        self.ask();
        self.inner.patch_level(f)
    }
    fn kev_software(&self, f: &HostFacts) -> CheckOutcome {
        self.ask();
        self.inner.kev_software(f)
    }
}

#[test]
fn the_memo_answers_like_its_checks_asking_each_day_free_question_once() {
    let rules = RuleSet::defaults().unwrap();
    let c = Counting {
        inner: Fixed {
            lifecycle: "eol",
            ms17: "missing",
            kev: ("present", false),
            patch: Some(day("2017-01-10")),
        },
        asked: std::sync::atomic::AtomicUsize::new(0),
    };
    let facts = win7();
    let days = ["2017-02-01", "2017-05-12", "2018-01-01", "2024-06-30"];
    let plain: Vec<_> = days
        .iter()
        .map(|d| rules.evaluate(&facts, day(d), &c))
        .collect();
    let per_evaluation = c.asked.swap(0, std::sync::atomic::Ordering::Relaxed);
    assert!(per_evaluation >= 4 * days.len(), "{per_evaluation}");
    let memo = MemoChecks::new(&c);
    let memoised: Vec<_> = days
        .iter()
        .map(|d| rules.evaluate(&facts, day(d), &memo))
        .collect();
    assert_eq!(memoised, plain);
    assert_eq!(c.asked.load(std::sync::atomic::Ordering::Relaxed), 4);
}
