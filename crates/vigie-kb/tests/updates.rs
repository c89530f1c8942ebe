//! Updating the Windows update knowledge without a new release: monthly MSRC
//! documents, a newer build history, a newer legacy update list; the horizon
//! of each source; what is newer than the base is never dated from it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use vigie_core::facts::SourceState;
use vigie_core::{Day, HostFacts, Hotfix, OsFacts, OsFamily, SourceKind};
use vigie_kb::{KbError, KbSource, KnowledgeBase, PatchState, SourceOrigin};

const CVRF: &[u8] = include_bytes!("data/msrc-cvrf-2026-Nov.sample.json");
const HISTORY: &[u8] = include_bytes!("../../../data/patches/windows-update-history.min.json");
const ROLLUPS: &[u8] = include_bytes!("../../../data/patches/windows-legacy-rollups.min.json");

fn day(s: &str) -> Day {
    Day::parse(s).unwrap()
}

fn host(os: OsFacts, hotfixes: &[&str]) -> HostFacts {
    let mut st = SourceState::empty(SourceKind::Osquery, "2026-11-25T08:00:00Z".parse().unwrap());
    st.os = Some(os);
    st.hotfixes = Some(
        hotfixes
            .iter()
            .map(|k| Hotfix {
                id: (*k).into(),
                installed_on: None,
            })
            .collect(),
    );
    HostFacts::merge(Some("h".into()), &[st])
}

fn nt10(name: &str, build: u32, ubr: u32) -> OsFacts {
    OsFacts {
        family: OsFamily::Windows,
        name: Some(name.into()),
        version: Some(format!("10.0.{build}")),
        build: Some(build),
        ubr: Some(ubr),
        ..Default::default()
    }
}

fn server_2012_r2() -> OsFacts {
    OsFacts {
        family: OsFamily::Windows,
        name: Some("Microsoft Windows Server 2012 R2 Standard".into()),
        version: Some("6.3.9600".into()),
        build: Some(9600),
        ..Default::default()
    }
}

fn source(kb: &KnowledgeBase, name: &str) -> KbSource {
    kb.sources()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no source {name}"))
}

fn released(state: PatchState) -> Day {
    match state {
        PatchState::Dated(level) => level.released,
        other => panic!("expected a dated patch level, got {other:?}"),
    }
}

#[test]
fn a_monthly_msrc_document_dates_builds_and_rollups_the_base_did_not_know() {
    let mut kb = common::kb().clone();
    let win11 = host(
        nt10("Microsoft Windows 11 Enterprise", 26100, 33580),
        &["KB5130001"],
    );
    let win10 = host(nt10("Microsoft Windows 10 Pro", 19045, 7920), &[]);
    let legacy = host(server_2012_r2(), &["KB5094041", "KB5130010"]);
    // before: newer than the knowledge base, its horizon in the evidence
    for (facts, horizon) in [
        (&win11, "2026-08-11"),
        (&win10, "2026-08-11"),
        (&legacy, "2026-06-09"),
    ] {
        match kb.patch_state(facts) {
            PatchState::NewerThanKb {
                horizon: h,
                evidence,
            } => {
                assert_eq!(h, day(horizon));
                assert!(
                    evidence["knowledge_base"].contains(&format!("up to {horizon}")),
                    "{evidence:?}"
                );
            }
            other => panic!("expected newer than the knowledge base, got {other:?}"),
        }
    }
    assert!(kb.newest_security_update(&win11).is_none());
    let builds_before = source(&kb, "windows-builds");
    assert_eq!(builds_before.horizon, Some(day("2026-08-12")));

    let src = kb.load_update(CVRF).unwrap();
    assert_eq!(src.name, "msrc-cvrf/2026-Nov");
    assert_eq!(src.version, "2026-11-18", "the current revision's day");
    assert_eq!(src.date, Some(day("2026-11-10")));
    assert_eq!(src.origin, SourceOrigin::Update);
    // two Windows 10/11/Server revisions (24H2 and Server 2025, x64 and
    // ARM64, share one), the Server 2025 hotpatch, three legacy updates
    // (one per KB and family, Server Core or not); the .NET update and the
    // workaround are not Windows updates
    assert_eq!(src.entries, 6, "{src:?}");

    // after: dated by the month's release day
    assert_eq!(released(kb.patch_state(&win11)), day("2026-11-10"));
    assert_eq!(released(kb.patch_state(&win10)), day("2026-11-10"));
    let level = kb.newest_security_update(&legacy).unwrap();
    assert_eq!(level.released, day("2026-11-10"));
    assert!(level.basis.contains("esu monthly"), "{}", level.basis);
    // the windows-builds horizon moves to the month, its own date does not
    let builds = source(&kb, "windows-builds");
    assert_eq!(builds.date, builds_before.date);
    assert_eq!(builds.horizon, Some(day("2026-11-10")));
    assert!(builds.version.ends_with("+ MSRC 2026-Nov"), "{builds:?}");
    assert_eq!(builds.entries, builds_before.entries + 3);
    assert!(!builds.is_stale(day("2026-12-03"), None));
    assert!(builds_before.is_stale(day("2026-12-03"), None));
    let rollups = source(&kb, "windows-legacy-rollups");
    assert_eq!(rollups.horizon, Some(day("2026-11-10")));
    // the month's monthly rollup is cumulative: it carries the MS17-010 fix
    let only_new = host(server_2012_r2(), &["KB5130010"]);
    assert!(
        matches!(kb.ms17_010(&only_new), vigie_kb::Ms17Verdict::Fixed { .. }),
        "{:?}",
        kb.ms17_010(&only_new)
    );
    let only_security = host(server_2012_r2(), &["KB5130011"]);
    assert!(
        !matches!(
            kb.ms17_010(&only_security),
            vigie_kb::Ms17Verdict::Fixed { .. }
        ),
        "a security-only update is not cumulative"
    );
    // a revision neither lists, between the history's last and the
    // month's, is dated by the release below it, as within the history
    let between = host(nt10("Microsoft Windows 11 Pro", 26100, 33400), &[]);
    assert_eq!(released(kb.patch_state(&between)), day("2026-08-11"));
}

#[test]
fn the_same_month_loaded_twice_or_revised_is_counted_once() {
    let mut kb = common::kb().clone();
    let before = kb.sources().len();
    kb.load_update(CVRF).unwrap();
    let once = source(&kb, "windows-builds").entries;
    let revised = String::from_utf8(CVRF.to_vec())
        .unwrap()
        .replace("2026-11-18T08:00:00", "2026-11-25T08:00:00");
    let src = kb.load_update(revised.as_bytes()).unwrap();
    assert_eq!(src.version, "2026-11-25");
    assert_eq!(kb.sources().len(), before + 1);
    assert_eq!(source(&kb, "windows-builds").entries, once);
}

#[test]
fn a_revision_the_build_history_already_knows_keeps_its_history_date() {
    // the document says 2026-11-10 for a revision the history dates exactly
    let doc = String::from_utf8(CVRF.to_vec())
        .unwrap()
        .replace("10.0.19045.7920", "10.0.19045.7663");
    let mut kb = common::kb().clone();
    kb.load_update(doc.as_bytes()).unwrap();
    let facts = host(nt10("Microsoft Windows 10 Pro", 19045, 7663), &[]);
    assert_eq!(released(kb.patch_state(&facts)), day("2026-08-11"));
}

#[test]
fn a_newer_build_history_replaces_the_bundled_one_and_keeps_what_it_lacks() {
    let mut v: serde_json::Value = serde_json::from_slice(HISTORY).unwrap();
    v["metadata"]["lastCollected"] = "2026-11-20T01:00:00Z".into();
    let rows = v["data"].as_array_mut().unwrap();
    // the upstream v2 file has no Windows 10 1507 (build 10240) rows
    rows.retain(|r| {
        !r["full_version"]
            .as_str()
            .unwrap()
            .starts_with("10.0.10240.")
    });
    rows.push(serde_json::json!({
        "full_version": "10.0.26100.33700",
        "release_date": "2026-11-10",
        "kb_article": "KB5130101",
        "release_type": "Standard"
    }));
    let n = rows.len();
    v["metadata"]["recordCount"] = n.into();
    let bytes = serde_json::to_vec(&v).unwrap();

    let mut kb = common::kb().clone();
    let lts = host(
        nt10("Microsoft Windows 10 Enterprise 2015 LTSB", 10240, 17319),
        &[],
    );
    let before = released(kb.patch_state(&lts));
    let src = kb.load_update(&bytes).unwrap();
    assert_eq!(src.name, "windows-builds");
    assert_eq!(src.version, "DataForGeeks 2026-11-20");
    assert_eq!(src.date, Some(day("2026-11-20")));
    assert_eq!(src.origin, SourceOrigin::Update);
    let win11 = host(nt10("Microsoft Windows 11 Pro", 26100, 33700), &[]);
    assert_eq!(released(kb.patch_state(&win11)), day("2026-11-10"));
    // build 10240 is still dated from the rows in use
    assert_eq!(released(kb.patch_state(&lts)), before);

    // a truncated copy (fewer rows than the metadata says) is refused whole
    let mut cut: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    cut["data"].as_array_mut().unwrap().truncate(100);
    let err = kb
        .clone()
        .load_update(&serde_json::to_vec(&cut).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("metadata.recordCount"), "{err}");
}

#[test]
fn a_newer_legacy_list_replaces_the_bundled_one() {
    let mut v: serde_json::Value = serde_json::from_slice(ROLLUPS).unwrap();
    v["generated"] = "2026-11-22".into();
    v["entries"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "os_family": "win81_2012r2", "kb": "KB5130010", "kind": "esu_monthly",
            "release_date": "2026-11-10", "ms17_010": "fix_implied_cumulative_rollup"
        }));
    let mut kb = common::kb().clone();
    let src = kb.load_update(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(src.name, "windows-legacy-rollups");
    assert_eq!(src.version, "2026-11-22");
    assert_eq!(src.horizon, Some(day("2026-11-10")));
    let legacy = host(server_2012_r2(), &["KB5130010"]);
    assert_eq!(released(kb.patch_state(&legacy)), day("2026-11-10"));
}

#[test]
fn a_legacy_update_numbered_below_the_list_is_dated_as_before() {
    // an unknown KB with a lower number (a driver, a .NET update of 2019)
    // does not make the machine newer than the base
    let kb = common::kb();
    let legacy = host(server_2012_r2(), &["KB5094041", "KB4486129"]);
    assert_eq!(released(kb.patch_state(&legacy)), day("2026-06-09"));
}

#[test]
fn malformed_windows_updates_are_refused_and_change_nothing() {
    let kb0 = common::kb().clone();
    let text = String::from_utf8(CVRF.to_vec()).unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            text.replace("\"2026-Nov\"", "\"November\""),
            "DocumentTracking.Identification.ID",
        ),
        (
            text.replace(
                "\"InitialReleaseDate\": \"2026-11-10T08:00:00\"",
                "\"InitialReleaseDate\": \"soon\"",
            ),
            "DocumentTracking.InitialReleaseDate",
        ),
        (
            text.replace(
                "\"CurrentReleaseDate\": \"2026-11-18T08:00:00\"",
                "\"CurrentReleaseDate\": \"2026-10-01T08:00:00\"",
            ),
            "before the initial release",
        ),
        (
            text.replace("10.0.26100.33580", "10.0.26100.x"),
            "FixedBuild",
        ),
        (text[..text.len() / 2].to_string(), "invalid json at line"),
    ];
    for (doc, expect) in cases {
        let mut kb = kb0.clone();
        let err = kb.load_update(doc.as_bytes()).unwrap_err();
        assert!(err.to_string().contains(expect), "{expect}: {err}");
        assert_eq!(kb.sources(), kb0.sources());
    }
    // a document with no Windows update (here: only the .NET one)
    let mut v: serde_json::Value = serde_json::from_slice(CVRF).unwrap();
    for vuln in v["Vulnerability"].as_array_mut().unwrap() {
        vuln["Remediations"]
            .as_array_mut()
            .unwrap()
            .retain(|r| r["ProductID"][0] == "12400");
    }
    let mut kb = kb0.clone();
    let err = kb
        .load_update(&serde_json::to_vec(&v).unwrap())
        .unwrap_err();
    assert!(matches!(err, KbError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("no Windows"), "{err}");
    // a legacy list with an unknown family, a history row that is not NT 10
    let mut r: serde_json::Value = serde_json::from_slice(ROLLUPS).unwrap();
    r["entries"][3]["os_family"] = "win2000".into();
    let err = kb
        .load_update(&serde_json::to_vec(&r).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("entries[3].os_family"), "{err}");
    let mut h: serde_json::Value = serde_json::from_slice(HISTORY).unwrap();
    h["metadata"]["recordCount"] = serde_json::Value::Null;
    h["data"][5]["full_version"] = "6.3.9600.1".into();
    let err = kb
        .load_update(&serde_json::to_vec(&h).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("data[5].full_version"), "{err}");
    assert_eq!(kb.sources(), kb0.sources());
}

#[test]
fn an_endoflife_date_api_v1_product_is_read_like_the_bundled_front_matter() {
    let ubuntu = OsFacts {
        family: OsFamily::Linux,
        name: Some("Ubuntu".into()),
        version: Some("22.04".into()),
        ..Default::default()
    };
    let on = day("2026-11-22");
    let mut kb = common::kb().clone();
    assert!(matches!(
        kb.lifecycle(&ubuntu, on).status,
        vigie_kb::LifecycleStatus::EndsSoon { .. }
    ));
    // the shape https://endoflife.date/api/v1/products/ubuntu serves
    let api = br#"{"schema_version": "1.2.0", "generated_at": "2026-12-01T04:10:00+00:00",
      "last_modified": "2026-11-28T09:00:00+00:00",
      "result": {"name": "ubuntu", "aliases": [], "label": "Ubuntu", "category": "os",
        "labels": {"eoas": "Hardware & Maintenance", "eol": "Maintenance & Security Support", "eoes": "Expanded Security Maintenance"},
        "releases": [
          {"name": "24.04", "codename": "Noble Numbat", "label": "24.04 'Noble Numbat' (LTS)",
           "releaseDate": "2024-04-25", "isLts": true, "isEoas": false, "eoasFrom": "2026-09-30",
           "isEol": false, "eolFrom": "2029-05-31", "isEoes": false, "eoesFrom": "2036-04-25",
           "isMaintained": true, "latest": {"name": "24.04.3", "date": "2025-08-07", "link": null}},
          {"name": "22.04", "codename": "Jammy Jellyfish", "label": "22.04 'Jammy Jellyfish' (LTS)",
           "releaseDate": "2022-04-21", "isLts": true, "isEol": false, "eolFrom": "2031-01-01",
           "isEoes": false, "eoesFrom": "2036-01-01", "isMaintained": true,
           "latest": {"name": "22.04.5", "date": "2024-09-11", "link": null}},
          {"name": "14.04", "label": "14.04 (LTS)", "releaseDate": "2014-04-17",
           "isEol": true, "eolFrom": null, "isMaintained": false, "latest": null}
        ]}}"#;
    let src = kb.load_update(api).unwrap();
    assert_eq!(src.name, "lifecycle-endoflife/ubuntu");
    assert_eq!(src.version, "endoflife.date api v1 2026-11-28");
    assert_eq!(src.date, Some(day("2026-11-28")));
    assert_eq!(src.entries, 3);
    assert_eq!(
        kb.lifecycle(&ubuntu, on).status,
        vigie_kb::LifecycleStatus::Supported
    );
    // a schema this reader does not know is refused, nothing replaced
    let v2 = String::from_utf8(api.to_vec())
        .unwrap()
        .replace("\"1.2.0\"", "\"2.0.0\"");
    let before = kb.sources();
    let err = kb.load_update(v2.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("schema_version"), "{err}");
    assert_eq!(kb.sources(), before);
}

#[test]
fn one_kb_for_two_builds_dates_both() {
    // Windows 10 21H2 and 22H2 share their monthly update
    let mut v: serde_json::Value = serde_json::from_slice(CVRF).unwrap();
    v["ProductTree"]["FullProductName"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"ProductID": "11569", "Value": "Windows 10 Version 21H2 for x64-based Systems"}));
    v["Vulnerability"][0]["Remediations"]
        .as_array_mut()
        .unwrap()
        .push(
            serde_json::json!({"Description": {"Value": "5130002"}, "SubType": "Security Update",
            "FixedBuild": "10.0.19044.7920", "ProductID": ["11569"], "Type": 2}),
        );
    let mut kb = common::kb().clone();
    kb.load_update(&serde_json::to_vec(&v).unwrap()).unwrap();
    for build in [19044, 19045] {
        let facts = host(nt10("Microsoft Windows 10 Enterprise", build, 7920), &[]);
        assert_eq!(
            released(kb.patch_state(&facts)),
            day("2026-11-10"),
            "{build}"
        );
    }
}
