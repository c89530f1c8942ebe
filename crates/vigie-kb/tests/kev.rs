//! KEV matching and source updates.

mod common;

use vigie_core::{FindingStatus, Software};
use vigie_kb::{KbError, KnowledgeBase, SourceOrigin};

fn sw(name: &str, version: Option<&str>, publisher: Option<&str>) -> Software {
    Software {
        name: name.into(),
        version: version.map(Into::into),
        publisher: publisher.map(Into::into),
    }
}

fn find<'a>(m: &'a [vigie_kb::KevMatch], cve: &str) -> Option<&'a vigie_kb::KevMatch> {
    m.iter().find(|m| m.cve == cve)
}

#[test]
fn version_in_range_is_confirmed() {
    let kb = common::kb();
    let m = kb.kev_for_software(&sw(
        "Google Chrome",
        Some("120.0.6099.71"),
        Some("Google LLC"),
    ));
    let hit = find(&m, "CVE-2024-0519").expect("chrome 120.0.6099.71 < 120.0.6099.224");
    assert_eq!(hit.confidence, FindingStatus::Confirmed);
    assert_eq!(hit.vendor, "Google");
    assert_eq!(hit.product, "Chromium V8");
    assert_eq!(hit.date_added.to_string(), "2024-01-17");
    assert_eq!(
        hit.due_date.map(|d| d.to_string()).as_deref(),
        Some("2024-02-07")
    );
    assert!(!hit.ransomware_known);
    assert!(
        hit.evidence["kev.match"].contains("120.0.6099.224"),
        "{:?}",
        hit.evidence
    );
    assert_eq!(hit.evidence["software.version"], "120.0.6099.71");
    assert!(
        m.iter().all(|m| m.confidence == FindingStatus::Confirmed),
        "every chrome cve has a range"
    );

    let m = kb.kev_for_software(&sw(
        "Mozilla Firefox (x64 en-GB)",
        Some("131.0"),
        Some("Mozilla"),
    ));
    assert_eq!(
        find(&m, "CVE-2024-9680").map(|m| m.confidence),
        Some(FindingStatus::Confirmed)
    );
    let m = kb.kev_for_software(&sw(
        "Mozilla Firefox ESR (x64 fr)",
        Some("128.3.0"),
        Some("Mozilla"),
    ));
    assert_eq!(
        find(&m, "CVE-2024-9680").map(|m| m.confidence),
        Some(FindingStatus::Confirmed)
    );
    let m = kb.kev_for_software(&sw(
        "Adobe Acrobat Reader DC",
        Some("19.010.20069"),
        Some("Adobe Systems Incorporated"),
    ));
    assert_eq!(
        find(&m, "CVE-2020-9715").map(|m| m.confidence),
        Some(FindingStatus::Confirmed)
    );
    let m = kb.kev_for_software(&sw(
        "WinRAR 6.02 (64-bit)",
        Some("6.02.0"),
        Some("win.rar GmbH"),
    ));
    assert_eq!(
        find(&m, "CVE-2023-38831").map(|m| m.confidence),
        Some(FindingStatus::Confirmed)
    );
}

#[test]
fn enumerated_version_is_confirmed() {
    let kb = common::kb();
    let m = kb.kev_for_software(&sw("7-Zip 24.08 (x64)", Some("24.08"), Some("Igor Pavlov")));
    assert_eq!(
        find(&m, "CVE-2025-0411").map(|m| m.confidence),
        Some(FindingStatus::Confirmed)
    );
}

#[test]
fn java_update_name_gives_the_version() {
    let kb = common::kb();
    let m = kb.kev_for_software(&sw(
        "Java 8 Update 201 (64-bit)",
        Some("8.0.2010.9"),
        Some("Oracle Corporation"),
    ));
    assert!(!m.is_empty());
    assert!(
        m.iter()
            .all(|m| m.evidence["software.version"] == "1.8.0_201")
    );
}

#[test]
fn versions_outside_the_range_do_not_match() {
    let kb = common::kb();
    // fixed release
    let m = kb.kev_for_software(&sw(
        "Mozilla Firefox (x64 en-GB)",
        Some("131.0.2"),
        Some("Mozilla"),
    ));
    assert!(find(&m, "CVE-2024-9680").is_none());
    // CVE-2026-34486: tomcat >= 9.0.116 and < 9.0.117
    let below = kb.kev_for_software(&sw(
        "Apache Tomcat 9.0",
        Some("9.0.115"),
        Some("The Apache Software Foundation"),
    ));
    assert!(find(&below, "CVE-2026-34486").is_none());
    let inside = kb.kev_for_software(&sw(
        "Apache Tomcat 9.0",
        Some("9.0.116"),
        Some("The Apache Software Foundation"),
    ));
    assert_eq!(
        find(&inside, "CVE-2026-34486").map(|m| m.confidence),
        Some(FindingStatus::Confirmed)
    );
    let above = kb.kev_for_software(&sw(
        "Apache Tomcat 9.0",
        Some("9.0.117"),
        Some("The Apache Software Foundation"),
    ));
    assert!(find(&above, "CVE-2026-34486").is_none());
    // a chrome newer than every fix
    assert!(
        kb.kev_for_software(&sw("Google Chrome", Some("999.0.0.1"), Some("Google LLC")))
            .is_empty()
    );
}

#[test]
fn product_only_matches_need_review() {
    let kb = common::kb();
    // CVE-2025-15556 has no affected-version data: KEV vendor/product only
    let m = kb.kev_for_software(&sw(
        "Notepad++ (64-bit x64)",
        Some("8.5.8"),
        Some("Notepad++ Team"),
    ));
    let hit = find(&m, "CVE-2025-15556").expect("notepad++ kev entry");
    assert_eq!(hit.confidence, FindingStatus::NeedsReview);
    assert!(hit.evidence["kev.data"].contains("vendor/product only"));
    // unknown installed version: never confirmed
    let m = kb.kev_for_software(&sw("Google Chrome", None, Some("Google LLC")));
    assert!(m.len() > 10);
    assert!(m.iter().all(|m| m.confidence == FindingStatus::NeedsReview));
    // year-style bound (Citrix "1904") against a semantic version: cannot confirm
    let m = kb.kev_for_software(&sw(
        "Citrix Workspace 2203",
        Some("22.3.0.24"),
        Some("Citrix Systems, Inc."),
    ));
    assert!(
        m.iter().all(|m| m.confidence == FindingStatus::NeedsReview),
        "{m:?}"
    );
}

#[test]
fn generic_and_os_level_names_do_not_match() {
    let kb = common::kb();
    for (name, version, publisher) in [
        (
            "Microsoft Office Click-to-Run Extensibility Component",
            Some("16.0.17126.20132"),
            Some("Microsoft Corporation"),
        ),
        (
            "Microsoft Office Click-to-Run Localization Component",
            Some("16.0.17126.20132"),
            Some("Microsoft Corporation"),
        ),
        (
            "Microsoft Windows Desktop Runtime - 6.0.5 (x64)",
            Some("6.0.5"),
            Some("Microsoft Corporation"),
        ),
        (
            "Security Update for Windows (KB4012212)",
            None,
            Some("Microsoft Corporation"),
        ),
        ("Windows", None, Some("Microsoft Corporation")),
        ("Microsoft Windows", Some("10.0.19045"), None),
        ("Win32k", None, None),
        (
            "Microsoft Edge",
            Some("120.0.2210.91"),
            Some("Microsoft Corporation"),
        ),
        (
            "Internet Explorer",
            Some("11.0.9600.19596"),
            Some("Microsoft"),
        ),
        ("Server", Some("1.0"), Some("Foo Corp")),
        ("Reader", None, Some("Foxit Software")),
        ("Office", None, Some("Some Vendor")),
        (
            "Google Chrome Remote Desktop Host",
            Some("120.0.6099.71"),
            Some("Google LLC"),
        ),
        (
            "Mozilla Maintenance Service",
            Some("115.0"),
            Some("Mozilla"),
        ),
        (
            "Java Auto Updater",
            Some("2.8.201.9"),
            Some("Oracle Corporation"),
        ),
        ("", None, None),
    ] {
        let m = kb.kev_for_software(&sw(name, version, publisher));
        assert!(
            m.is_empty(),
            "{name:?} must not match: {:?}",
            m.iter().map(|m| &m.cve).collect::<Vec<_>>()
        );
    }
}

#[test]
fn load_update_switches_the_kev_catalog() {
    let mut kb = KnowledgeBase::embedded().unwrap();
    let kev_version = |kb: &KnowledgeBase| {
        let s = kb
            .sources()
            .into_iter()
            .find(|s| s.name == "cisa-kev")
            .unwrap();
        (s.version, s.origin, s.entries)
    };
    assert_eq!(
        kev_version(&kb),
        ("2026.08.21".into(), SourceOrigin::Embedded, 1674)
    );
    let chrome = sw("Google Chrome", Some("120.0.6099.71"), Some("Google LLC"));
    assert!(find(&kb.kev_for_software(&chrome), "CVE-2026-11645").is_some());

    let loaded = kb
        .load_update(include_bytes!("data/kev-2025.08.25.min.json"))
        .unwrap();
    assert_eq!(loaded.name, "cisa-kev");
    assert_eq!(loaded.version, "2025.08.25");
    assert_eq!(loaded.origin, SourceOrigin::Update);
    assert_eq!(
        kev_version(&kb),
        ("2025.08.25".into(), SourceOrigin::Update, 1404)
    );
    // CVEs added after August 2025 are gone, older ones still match
    let m = kb.kev_for_software(&chrome);
    assert!(find(&m, "CVE-2026-11645").is_none());
    assert_eq!(
        find(&m, "CVE-2024-0519").map(|m| m.confidence),
        Some(FindingStatus::Confirmed)
    );
    assert_eq!(
        find(&m, "CVE-2024-0519").unwrap().evidence["kev.catalog"],
        "2025.08.25"
    );
}

#[test]
fn malformed_updates_are_refused_and_change_nothing() {
    let mut kb = KnowledgeBase::embedded().unwrap();
    let before = kb.sources();
    let good = include_str!("data/kev-2025.08.25.min.json");

    let truncated = &good.as_bytes()[..good.len() / 2];
    match kb.load_update(truncated) {
        Err(KbError::Json { line, column, .. }) => assert!(line >= 1 && column >= 1),
        other => panic!("expected a json error, got {other:?}"),
    }

    let bad_date = good.replacen("\"dateAdded\":\"", "\"dateAdded\":\"yesterday-", 1);
    let err = kb.load_update(bad_date.as_bytes()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("vulnerabilities[0].dateAdded") && text.contains("invalid date"),
        "{text}"
    );
    assert_eq!(
        text,
        text.to_lowercase()
            .replace("dateadded", "dateAdded")
            .replace("cveid", "cveID"),
        "lowercase: {text}"
    );

    let bad_count = good.replacen("\"count\":1404", "\"count\":1405", 1);
    assert!(matches!(
        kb.load_update(bad_count.as_bytes()),
        Err(KbError::Invalid { .. })
    ));

    let entry = r#"{"cveID":"CVE-2017-0144","vendorProject":"Microsoft","product":"SMBv1","vulnerabilityName":"x","dateAdded":"2022-02-10"}"#;
    let duplicate = format!(
        r#"{{"catalogVersion":"2030.01.01","count":2,"vulnerabilities":[{entry},{entry}]}}"#
    );
    let err = kb
        .load_update(duplicate.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("vulnerabilities[1].cveID") && err.contains("duplicate"),
        "{err}"
    );

    assert!(matches!(
        kb.load_update(br#"{"hello": "world"}"#),
        Err(KbError::Unrecognised { .. })
    ));
    assert!(matches!(
        kb.load_update(b"[1, 2, 3]"),
        Err(KbError::Json { .. })
    ));
    assert!(matches!(kb.load_update(b""), Err(KbError::Json { .. })));
    let empty = br#"{"catalogVersion": "2030.01.01", "count": 0, "vulnerabilities": []}"#;
    assert!(matches!(
        kb.load_update(empty),
        Err(KbError::Invalid { .. })
    ));
    let affected_bad =
        br#"{"kevCatalogVersion": "x", "vulnerabilities": [{"cve": "nope", "affected": []}]}"#;
    assert!(matches!(
        kb.load_update(affected_bad),
        Err(KbError::Invalid { .. })
    ));
    let eol_bad =
        br#"{"product": "ubuntu", "releases": [{"cycle": "22.04", "eol": "2027-13-45"}]}"#;
    assert!(
        kb.load_update(eol_bad)
            .unwrap_err()
            .to_string()
            .contains("releases[0].eol")
    );

    assert_eq!(
        kb.sources(),
        before,
        "failed updates leave every source unchanged"
    );
}

#[test]
fn load_update_accepts_lifecycle_and_affected_files() {
    let mut kb = KnowledgeBase::embedded().unwrap();
    let ubuntu = vigie_core::OsFacts {
        family: vigie_core::OsFamily::Linux,
        name: Some("Ubuntu".into()),
        version: Some("22.04".into()),
        ..Default::default()
    };
    let on = vigie_core::Day::parse("2026-11-22").unwrap();
    assert!(matches!(
        kb.lifecycle(&ubuntu, on).status,
        vigie_kb::LifecycleStatus::EndsSoon { .. }
    ));
    let update = br#"{"product": "ubuntu", "title": "Ubuntu",
        "source": {"repository_commit": "feedface", "repository_commit_date": "2026-12-01"},
        "releases": [{"cycle": "22.04", "label": "22.04 LTS", "eol": "2031-01-01", "extended_support": "2036-01-01"}]}"#;
    let src = kb.load_update(update).unwrap();
    assert_eq!(
        (src.name.as_str(), src.version.as_str(), src.entries),
        ("lifecycle-endoflife/ubuntu", "feedface", 1)
    );
    assert_eq!(
        kb.lifecycle(&ubuntu, on).status,
        vigie_kb::LifecycleStatus::Supported
    );

    let ms = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/lifecycle/microsoft-lifecycle.json"
    ))
    .unwrap();
    let src = kb.load_update(&ms).unwrap();
    assert_eq!(
        (src.name.as_str(), src.origin),
        ("lifecycle-microsoft", SourceOrigin::Update)
    );

    let affected = br#"{"kevCatalogVersion": "test-1", "count": 1, "vulnerabilities": [
        {"cve": "CVE-2024-0519", "affected": [{"origin": "nvd", "criteria": "cpe:2.3:a:google:chrome:*:*:*:*:*:*:*:*",
          "versionEndExcluding": "200.0", "vulnerable": true}]}]}"#;
    let src = kb.load_update(affected).unwrap();
    assert_eq!(
        (src.name.as_str(), src.version.as_str()),
        ("kev-affected", "test-1")
    );
    let m = kb.kev_for_software(&sw("Google Chrome", Some("150.0"), Some("Google LLC")));
    let confirmed: Vec<&str> = m
        .iter()
        .filter(|m| m.confidence == FindingStatus::Confirmed)
        .map(|m| m.cve.as_str())
        .collect();
    assert_eq!(confirmed, vec!["CVE-2024-0519"]);
    // KEV entries that lost their version data fall back to vendor/product: review only
    assert!(
        m.iter()
            .filter(|m| m.cve != "CVE-2024-0519")
            .all(|m| m.confidence == FindingStatus::NeedsReview)
    );
}
