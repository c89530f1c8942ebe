//! Unknown is a state of its own, on SQLite and on PostgreSQL: an osquery
//! Windows 7 machine whose pack has no patches query at all has
//! `ms17-010-missing` with status `unknown` (never counted as fixed, never
//! as confirmed); an empty patches result is evidence, and the fix is then
//! confirmed missing. The change from one to the other is a new interval,
//! so the past keeps saying "unknown", and it is not a remediation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use vigie_core::{Day, FindingStatus, RuleId};
use vigie_store::testdb::TestDb;
use vigie_store::{FindingView, GroupBy, Scope, Store};

mod common;

use common::{opts, t};

/// One osquery snapshot of a Windows 7 SP1 machine at `unix`, with the
/// patches query's result when `patches` is `Some` (possibly empty).
fn windows7(dir: &Path, name: &str, host: &str, unix: i64, patches: Option<&str>) -> PathBuf {
    let line = |snapshot: &str, query: &str| {
        format!(
            "{{\"snapshot\":{snapshot},\"action\":\"snapshot\",\"name\":\"{query}\",\"hostIdentifier\":\"{host}\",\
             \"unixTime\":{unix},\"decorations\":{{\"host_uuid\":\"uuid-{host}\",\"establishment\":\"RBH\"}}}}\n"
        )
    };
    let mut text = line(
        "[{\"name\":\"Microsoft Windows 7 Professional\",\"version\":\"6.1.7601\",\"build\":\"7601\",\
         \"platform\":\"windows\",\"arch\":\"64-bit\"}]",
        "pack_vigie_os",
    );
    text.push_str(&line(
        &format!(
            "[{{\"hostname\":\"{host}\",\"computer_name\":\"{host}\",\"uuid\":\"uuid-{host}\"}}]"
        ),
        "pack_vigie_system",
    ));
    text.push_str(&line(
        "[{\"name\":\"7-Zip 19.00 (x64)\",\"version\":\"19.00\",\"publisher\":\"Igor Pavlov\"}]",
        "pack_vigie_programs",
    ));
    if let Some(p) = patches {
        text.push_str(&line(p, "pack_vigie_patches"));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn ms17(store: &dyn Store, host: &str, at: &str) -> Option<FindingView> {
    common::open_finding(store, host, at, "ms17-010-missing").await
}

/// (confirmed, needs review, unknown) machines of a rule in the sector.
async fn counts(store: &dyn Store, rule: &str, at: &str) -> (u64, u64, u64) {
    let rows = store
        .posture(&Scope::National, GroupBy::Sector, Day::parse(at).unwrap())
        .await
        .unwrap();
    let get = |m: &std::collections::BTreeMap<String, u64>| m.get(rule).copied().unwrap_or(0);
    (
        get(&rows[0].rules),
        get(&rows[0].review),
        get(&rows[0].unknown),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_update_inventory_is_unknown_and_an_empty_one_is_evidence() {
    let files = tempfile::tempdir().unwrap();
    let dir = files.path();
    // 2024-01-31: rbh-pc7 without any patches query, rbh-pc8 with an
    // empty patches result
    let jan_none = windows7(dir, "none.log", "rbh-pc7", 1_706_695_200, None);
    let jan_empty = windows7(dir, "empty.log", "rbh-pc8", 1_706_695_200, Some("[]"));
    // 2024-02-05: rbh-pc7's pack gained the patches query, which returned
    // nothing; 2024-02-20: it lists the March 2017 fix
    let feb_empty = windows7(dir, "feb.log", "rbh-pc7", 1_707_120_000, Some("[]"));
    let feb_fixed = windows7(
        dir,
        "fixed.log",
        "rbh-pc7",
        1_708_416_000,
        Some("[{\"hotfix_id\":\"KB4012212\",\"installed_on\":\"3/15/2017\"}]"),
    );
    for db in TestDb::both("unknown findings").await.unwrap() {
        let backend = db.backend;
        let (store, mut p) = common::seeded(&db).await;
        p.ingest_file(&jan_none, &opts("2024-01-31T12:00:00Z"))
            .await
            .unwrap();
        p.ingest_file(&jan_empty, &opts("2024-01-31T12:00:00Z"))
            .await
            .unwrap();

        let f = ms17(store.as_ref(), "rbh-pc7", "2024-01-31")
            .await
            .unwrap_or_else(|| panic!("{backend}: no update inventory must not read as fixed"));
        assert_eq!(f.status, FindingStatus::Unknown, "{backend}: {f:?}");
        assert_eq!(
            f.evidence.get("hotfixes").map(String::as_str),
            Some("not reported"),
            "{backend}: the evidence says what is missing: {:?}",
            f.evidence
        );
        let f = ms17(store.as_ref(), "rbh-pc8", "2024-01-31").await.unwrap();
        assert_eq!(f.status, FindingStatus::Confirmed, "{backend}: {f:?}");
        // counted apart: one confirmed, one unknown, none compliant by default
        assert_eq!(
            counts(store.as_ref(), "ms17-010-missing", "2024-01-31").await,
            (1, 0, 1),
            "{backend}"
        );

        // the updates arrive: the same finding, now confirmed, from the
        // day of the report; the past still says unknown
        p.ingest_file(&feb_empty, &opts("2024-02-05T12:00:00Z"))
            .await
            .unwrap();
        let before = ms17(store.as_ref(), "rbh-pc7", "2024-02-03").await.unwrap();
        assert_eq!(before.status, FindingStatus::Unknown, "{backend}");
        let after = ms17(store.as_ref(), "rbh-pc7", "2024-02-06").await.unwrap();
        assert_eq!(after.status, FindingStatus::Confirmed, "{backend}");
        assert_eq!(
            after.first_seen,
            t("2024-02-05T08:00:00Z"),
            "{backend}: confirmed from the report that proved it"
        );
        assert_eq!(
            counts(store.as_ref(), "ms17-010-missing", "2024-02-03").await,
            (1, 0, 1),
            "{backend}"
        );
        assert_eq!(
            counts(store.as_ref(), "ms17-010-missing", "2024-02-06").await,
            (2, 0, 0),
            "{backend}"
        );

        // then fixed: one remediation, measured from the confirmation (the
        // change of status was not one)
        p.ingest_file(&feb_fixed, &opts("2024-02-20T12:00:00Z"))
            .await
            .unwrap();
        assert!(
            ms17(store.as_ref(), "rbh-pc7", "2024-02-21")
                .await
                .is_none()
        );
        let rule = RuleId::new("ms17-010-missing").unwrap();
        let r = store
            .remediation(
                &Scope::National,
                &rule,
                Day::parse("2024-01-01").unwrap(),
                Day::parse("2024-12-31").unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.closed, 1, "{backend}: {r:?}");
        assert_eq!(r.median_days, Some(15.0), "{backend}: {r:?}");
        assert_eq!(r.still_open, 1, "{backend}: rbh-pc8 is still missing it");
        db.cleanup().await.unwrap();
    }
}
