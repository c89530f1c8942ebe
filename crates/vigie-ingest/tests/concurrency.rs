//! Writers wait their turn and lose nothing, on SQLite and on PostgreSQL:
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! concurrent ingests of overlapping machines end exactly as the same files
//! ingested one after the other; processes starting together on a fresh
//! database all migrate it; account writes during ingests never fail.
//!
//! Each case runs on a fresh SQLite file and on a fresh database of the
//! PostgreSQL server named by `VIGIE_TEST_PG` (default
//! `postgres://postgres@127.0.0.1:5432/test`); without a server the
//! PostgreSQL half says SKIPPED, unless `VIGIE_REQUIRE_POSTGRES=1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigie_core::EstablishmentCode;
use vigie_ingest::{FileStatus, IngestOptions, Pipeline};
use vigie_store::testdb::TestDb;
use vigie_store::{HostFilter, NewUser, Scope, SqlStore, Store};

mod common;
use common::seed_org;

async fn open(db: &TestDb) -> Arc<dyn Store> {
    Arc::new(db.open().await.unwrap())
}

async fn pipeline_for(store: &Arc<dyn Store>) -> Pipeline {
    common::pipeline_for(store).await.with_batch_size(100)
}

/// Windows 7 machines `rbh-pc{from}`..`rbh-pc{to}` as an osquery snapshot
/// log, with hardware ids (serial, UUID), no MS17-010 update and SMBv1 on
/// for every third machine.
fn fleet_log(from: u32, to: u32, unix: i64) -> String {
    let mut out = String::new();
    for n in from..to {
        let host = format!("rbh-pc{n:05}");
        let deco = format!(
            r#""hostIdentifier":"{host}","unixTime":{unix},"epoch":0,"counter":0,"decorations":{{"establishment":"RBH"}}"#
        );
        out.push_str(&format!(
            r#"{{"snapshot":[{{"name":"Microsoft Windows 7 Professional","version":"6.1.7601","major":"6","minor":"1","build":"7601","platform":"windows","arch":"64-bit"}}],"action":"snapshot","name":"os",{deco}}}"#
        ));
        out.push('\n');
        out.push_str(&format!(
            r#"{{"snapshot":[{{"hostname":"{host}","computer_name":"{host}","uuid":"4C4C4544-0000-0000-0000-{n:012}","hardware_serial":"SN-{n:06}"}}],"action":"snapshot","name":"sys",{deco}}}"#
        ));
        out.push('\n');
        out.push_str(&format!(
            r#"{{"snapshot":[{{"hotfix_id":"KB976902","description":"Update","installed_on":"3/15/2017"}}],"action":"snapshot","name":"patches",{deco}}}"#
        ));
        out.push('\n');
        let smb1 = n % 3 == 0;
        out.push_str(&format!(
            r#"{{"snapshot":[{{"name":"SMB1Protocol","caption":"SMB 1.0/CIFS","state":"{}","statename":"{}"}}],"action":"snapshot","name":"features",{deco}}}"#,
            if smb1 { 1 } else { 2 },
            if smb1 { "Enabled" } else { "Disabled" }
        ));
        out.push('\n');
    }
    out
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

const MAY_11: i64 = 1_494_489_600; // 2017-05-11T08:00:00Z

/// What a database holds, as a comparable summary: machines (hostname and
/// open rules), the count of machines, of open findings, and posture.
async fn summary(store: &dyn Store) -> (Vec<(String, Vec<String>)>, u64, u64, String) {
    let hosts = store
        .hosts(&Scope::National, &HostFilter::default())
        .await
        .unwrap();
    let mut machines: Vec<(String, Vec<String>)> = hosts
        .iter()
        .map(|h| {
            let mut rules: Vec<String> = h
                .findings
                .iter()
                .filter(|f| f.resolved_at.is_none())
                .map(|f| format!("{}@{}", f.rule, f.first_seen))
                .collect();
            rules.sort();
            (h.hostname.clone().unwrap_or_default(), rules)
        })
        .collect();
    machines.sort();
    let stats = store.stats(&Scope::National).await.unwrap();
    let posture = store
        .posture(
            &Scope::National,
            vigie_store::GroupBy::Establishment,
            vigie_core::Day::parse("2017-05-12").unwrap(),
        )
        .await
        .unwrap();
    (
        machines,
        stats.hosts,
        stats.open_findings,
        format!("{posture:?}"),
    )
}

/// Two ingests of overlapping new machines at once (two handles, as two
/// processes) end with exactly the machines and findings of the same files
/// ingested one after the other: no machine twice, no file lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingests_of_overlapping_machines_equal_sequential() {
    let files = tempfile::tempdir().unwrap();
    // A: machines 0..600; B: 300..900 (300 in common); C: 150..450 (in
    // both). Observed at the same time, so any order of arrival gives the
    // same history and only a race can make a difference.
    let a = write(files.path(), "a.log", &fleet_log(0, 600, MAY_11));
    let b = write(files.path(), "b.log", &fleet_log(300, 900, MAY_11));
    let c = write(files.path(), "c.log", &fleet_log(150, 450, MAY_11));
    for db in TestDb::both("concurrent ingests").await.unwrap() {
        let backend = db.backend;
        // sequentially, in a database of its own
        let seq_db = match backend {
            "sqlite" => TestDb::sqlite().unwrap(),
            _ => TestDb::postgres("concurrent ingests")
                .await
                .unwrap()
                .unwrap(),
        };
        let seq = open(&seq_db).await;
        seed_org(seq.as_ref()).await;
        let mut p = pipeline_for(&seq).await;
        for f in [&a, &b, &c] {
            let r = p.ingest_file(f, &IngestOptions::default()).await.unwrap();
            assert_eq!(r.status, FileStatus::Ingested, "{backend}");
        }
        let expected = summary(seq.as_ref()).await;
        assert_eq!(expected.1, 900, "{backend}: sequential machines");

        // at once, from three handles
        let first = open(&db).await;
        seed_org(first.as_ref()).await;
        let mut tasks = Vec::new();
        for f in [&a, &b, &c] {
            let store = open(&db).await;
            let f = f.clone();
            tasks.push(tokio::spawn(async move {
                let mut p = pipeline_for(&store).await;
                p.ingest_file(&f, &IngestOptions::default()).await
            }));
        }
        for t in tasks {
            let r = t.await.unwrap();
            let r = r.unwrap_or_else(|e| panic!("{backend}: a concurrent ingest failed: {e}"));
            assert_eq!(r.status, FileStatus::Ingested, "{backend}");
        }
        let got = summary(first.as_ref()).await;
        assert_eq!(got.1, expected.1, "{backend}: machines");
        assert_eq!(got.2, expected.2, "{backend}: open findings");
        // the same machines with the same open findings opened at the same
        // times
        assert_eq!(got.0, expected.0, "{backend}: machines and findings");
        assert_eq!(got.3, expected.3, "{backend}: posture");
        seq_db.cleanup().await.unwrap();
        db.cleanup().await.unwrap();
    }
}

/// Three processes starting on a fresh database at once (a server and a
/// watch started together) all come up, and the schema is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn processes_starting_together_all_migrate() {
    for db in TestDb::both("concurrent migrations").await.unwrap() {
        let backend = db.backend;
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let url = db.url.clone();
            tasks.push(tokio::spawn(async move {
                SqlStore::connect(&url).await.map(|_| ())
            }));
        }
        for t in tasks {
            if let Err(e) = t.await.unwrap() {
                panic!("{backend}: a process failed to start: {e}");
            }
        }
        let store = open(&db).await;
        seed_org(store.as_ref()).await;
        assert_eq!(
            store.establishments(&Scope::National).await.unwrap().len(),
            1
        );
        db.cleanup().await.unwrap();
    }
}

/// Account administration while ingests run never fails: every write
/// waits for its turn (the HTTP server answered 500 to a third of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn account_writes_during_ingests_wait_their_turn() {
    let files = tempfile::tempdir().unwrap();
    let logs: Vec<PathBuf> = (0..3)
        .map(|i| {
            write(
                files.path(),
                &format!("f{i}.log"),
                &fleet_log(i * 400, i * 400 + 400, MAY_11 + i64::from(i) * 60),
            )
        })
        .collect();
    for db in TestDb::both("account writes during ingests").await.unwrap() {
        let backend = db.backend;
        let admin = open(&db).await;
        seed_org(admin.as_ref()).await;
        admin
            .create_user(&NewUser {
                username: "officer".into(),
                password_hash: "$argon2id$placeholder".into(),
                role: "establishment-officer".into(),
                region: None,
                establishment: Some(EstablishmentCode::new("RBH").unwrap()),
                created_at: jiff::Timestamp::now(),
            })
            .await
            .unwrap();
        let mut ingests = Vec::new();
        for f in &logs {
            let store = open(&db).await;
            let f = f.clone();
            ingests.push(tokio::spawn(async move {
                let mut p = pipeline_for(&store).await;
                p.ingest_file(&f, &IngestOptions::default()).await
            }));
        }
        // administrative writes on the ingests' own handles and on another
        let mut failures = Vec::new();
        for i in 0..30u32 {
            let disabled = i % 2 == 0;
            if let Err(e) = admin
                .set_user_disabled("officer", disabled, jiff::Timestamp::now())
                .await
            {
                failures.push(e.to_string());
            }
        }
        for t in ingests {
            t.await
                .unwrap()
                .unwrap_or_else(|e| panic!("{backend}: ingest failed: {e}"));
        }
        assert!(failures.is_empty(), "{backend}: {failures:?}");
        assert_eq!(
            admin.stats(&Scope::National).await.unwrap().hosts,
            1200,
            "{backend}"
        );
        db.cleanup().await.unwrap();
    }
}
