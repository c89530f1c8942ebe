//! A knowledge base brought up to date re-judges what it could not decide,
//! on SQLite and on PostgreSQL: machines patched after the bundled Windows
//! update lists end are `patch-age` *unknown* (never late, never current);
//! once the month's MSRC document is loaded, the next assessment dates
//! their updates and the unknown findings close.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use vigie_core::{Day, FindingStatus};
use vigie_ingest::Pipeline;
use vigie_kb::KnowledgeBase;
use vigie_posture::{KbChecks, RuleSet};
use vigie_store::testdb::TestDb;
use vigie_store::{FindingView, GroupBy, Scope, Store};

mod common;

use common::{opts, t};

const CVRF: &[u8] = include_bytes!("../../vigie-kb/tests/data/msrc-cvrf-2026-Nov.sample.json");

/// One osquery snapshot (2026-11-25 08:00 UTC) of a Windows machine.
fn windows(dir: &Path, host: &str, os: &str, patches: &str) -> PathBuf {
    let line = |snapshot: &str, query: &str| {
        format!(
            "{{\"snapshot\":{snapshot},\"action\":\"snapshot\",\"name\":\"{query}\",\"hostIdentifier\":\"{host}\",\
             \"unixTime\":1795593600,\"decorations\":{{\"host_uuid\":\"uuid-{host}\",\"establishment\":\"RBH\"}}}}\n"
        )
    };
    let mut text = line(os, "pack_vigie_os");
    text.push_str(&line(
        &format!(
            "[{{\"hostname\":\"{host}\",\"computer_name\":\"{host}\",\"uuid\":\"uuid-{host}\"}}]"
        ),
        "pack_vigie_system",
    ));
    text.push_str(&line(
        "[{\"name\":\"7-Zip 24.09 (x64)\",\"version\":\"24.09\",\"publisher\":\"Igor Pavlov\"}]",
        "pack_vigie_programs",
    ));
    text.push_str(&line(patches, "pack_vigie_patches"));
    let path = dir.join(format!("{host}.log"));
    std::fs::write(&path, text).unwrap();
    path
}

async fn patch_age(store: &dyn Store, host: &str, at: &str) -> Option<FindingView> {
    common::open_finding(store, host, at, "patch-age").await
}

fn pipeline(store: &Arc<dyn Store>, org: vigie_core::OrgDirectory, kb: KnowledgeBase) -> Pipeline {
    Pipeline::new(
        store.clone(),
        org,
        RuleSet::defaults().unwrap(),
        Arc::new(KbChecks::new(Arc::new(kb))),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loading_the_month_closes_what_the_base_could_not_date() {
    let files = tempfile::tempdir().unwrap();
    let dir = files.path();
    let win11 = windows(
        dir,
        "rbh-pc11",
        "[{\"name\":\"Microsoft Windows 11 Enterprise\",\"version\":\"10.0.26100\",\"build\":\"26100\",\
          \"revision\":\"33580\",\"platform\":\"windows\",\"arch\":\"64-bit\"}]",
        "[{\"hotfix_id\":\"KB5130001\",\"installed_on\":\"11/12/2026\"}]",
    );
    let server = windows(
        dir,
        "rbh-srv12",
        "[{\"name\":\"Microsoft Windows Server 2012 R2 Standard\",\"version\":\"6.3.9600\",\"build\":\"9600\",\
          \"platform\":\"windows\",\"arch\":\"64-bit\"}]",
        "[{\"hotfix_id\":\"KB5094041\",\"installed_on\":\"6/12/2026\"},\
          {\"hotfix_id\":\"KB5130010\",\"installed_on\":\"11/12/2026\"}]",
    );
    let mut updated = KnowledgeBase::embedded().unwrap();
    updated.load_update(CVRF).unwrap();
    for db in TestDb::both("kb update re-judges").await.unwrap() {
        let backend = db.backend;
        let (store, mut p) = common::seeded(&db).await;
        for f in [&win11, &server] {
            p.ingest_file(f, &opts("2026-11-25T12:00:00Z"))
                .await
                .unwrap();
        }
        p.assess(t("2026-12-03T06:00:00Z")).await.unwrap();
        for host in ["rbh-pc11", "rbh-srv12"] {
            let f = patch_age(store.as_ref(), host, "2026-12-03")
                .await
                .unwrap_or_else(|| panic!("{backend}: {host} is not known to be current"));
            assert_eq!(f.status, FindingStatus::Unknown, "{backend}: {host}: {f:?}");
            assert!(
                f.evidence
                    .get("knowledge_base")
                    .is_some_and(|e| e.contains("newer than the knowledge base")),
                "{backend}: {host}: the horizon is in the evidence: {:?}",
                f.evidence
            );
        }
        let unknown = |rows: Vec<vigie_store::PostureRow>| {
            rows[0].unknown.get("patch-age").copied().unwrap_or(0)
        };
        let day = Day::parse("2026-12-03").unwrap();
        let rows = store
            .posture(&Scope::National, GroupBy::Sector, day)
            .await
            .unwrap();
        assert_eq!(unknown(rows), 2, "{backend}");

        // the November document is loaded: both machines are dated
        // (2026-11-10, 23 days before) and current
        let mut p = pipeline(&store, store.org().await.unwrap(), updated.clone());
        p.assess(t("2026-12-03T07:00:00Z")).await.unwrap();
        for host in ["rbh-pc11", "rbh-srv12"] {
            assert!(
                patch_age(store.as_ref(), host, "2026-12-03")
                    .await
                    .is_none(),
                "{backend}: {host}"
            );
        }
        let rows = store
            .posture(&Scope::National, GroupBy::Sector, day)
            .await
            .unwrap();
        assert_eq!(unknown(rows), 0, "{backend}");
        db.cleanup().await.unwrap();
    }
}
