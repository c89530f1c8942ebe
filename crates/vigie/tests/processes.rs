//! Several `vigie` processes on one database at once, on SQLite and on
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PostgreSQL: every writer waits its turn, nothing is lost or duplicated,
//! and processes started together on a fresh database all come up.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use vigie_store::testdb::TestDb;

fn vigie(db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
    c.env_remove("VIGIE_DB")
        .env_remove("VIGIE_RULES")
        .arg("--db")
        .arg(db)
        .arg("--quiet")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const ORG: &str = "code,name,kind,region,parent,hostname_patterns,subnets,region_name\n\
RBH,Royal Berkshire,acute,Y59,QU9,rbh-*,10.1.0.0/16,South East\n";

/// Windows 10 machines `rbh-pc{from}`..`rbh-pc{to}` as a CSV export.
fn fleet_csv(dir: &Path, name: &str, from: u32, to: u32) -> PathBuf {
    let mut s = String::from(
        "Computer Name,Serial Number,Operating System,OS Version,Build Number,Installed KBs,Site Code,Last Hardware Scan\n",
    );
    for n in from..to {
        s.push_str(&format!(
            "rbh-pc{n:05},SN{n:07},Microsoft Windows 10 Enterprise,10.0.19045,19045,KB5034122,RBH,2026-11-20T08:00:00Z\n"
        ));
    }
    let p = dir.join(name);
    std::fs::write(&p, s).unwrap();
    p
}

fn stats(db: &str) -> Value {
    let out = vigie(db)
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    ok("status", &out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Three `vigie ingest` at once on one database, with overlapping
/// machines: all succeed (they failed with `database is locked` within
/// 0.7 s on SQLite) and the machines are counted once (PostgreSQL created
/// the shared ones twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_ingest_processes_at_once() {
    let files = tempfile::tempdir().unwrap();
    let inputs = [
        fleet_csv(files.path(), "a.csv", 0, 3000),
        fleet_csv(files.path(), "b.csv", 1500, 4500),
        fleet_csv(files.path(), "c.csv", 3000, 6000),
    ];
    let org = files.path().join("org.csv");
    std::fs::write(&org, ORG).unwrap();
    for db in TestDb::both("three ingest processes").await.unwrap() {
        ok(
            "org import",
            &vigie(&db.url)
                .args(["org", "import"])
                .arg(&org)
                .output()
                .unwrap(),
        );
        let children: Vec<_> = inputs
            .iter()
            .map(|f| vigie(&db.url).arg("ingest").arg(f).spawn().unwrap())
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            ok(&format!("{}: concurrent ingest", db.backend), &out);
        }
        let s = stats(&db.url);
        assert_eq!(s["hosts"], 6000, "{}: {s}", db.backend);
        assert_eq!(s["files"], 3, "{}: {s}", db.backend);
        db.cleanup().await.unwrap();
    }
}

/// Processes started together on a fresh database (a server and a watch
/// started by systemd) all migrate it or find it migrated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_started_together_on_a_fresh_database() {
    for db in TestDb::both("processes on a fresh database").await.unwrap() {
        let children: Vec<_> = (0..3)
            .map(|_| vigie(&db.url).arg("status").spawn().unwrap())
            .collect();
        for c in children {
            ok(
                &format!("{}: start on a fresh database", db.backend),
                &c.wait_with_output().unwrap(),
            );
        }
        assert_eq!(stats(&db.url)["hosts"], 0);
        db.cleanup().await.unwrap();
    }
}

/// `db distribute` is for a Citus coordinator: on SQLite it says so and
/// changes nothing.
#[test]
fn db_distribute_refuses_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.db").display().to_string();
    let out = vigie(&db).args(["db", "distribute"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PostgreSQL"), "{err}");
}
