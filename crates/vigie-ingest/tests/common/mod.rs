//! Set-up shared by the ingest tests that run on both backends: one region
//! (Y56) with one establishment (RBH, machines `rbh-*`), and a pipeline on
//! the store's directory with the default rules and embedded knowledge base.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use vigie_core::Day;
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};
use vigie_ingest::{IngestOptions, Pipeline};
use vigie_kb::KnowledgeBase;
use vigie_posture::{KbChecks, RuleSet};
use vigie_store::{FindingView, HostFilter, Scope, Store};

pub async fn seed_org(store: &dyn Store) {
    store
        .import_org(
            &[Region {
                code: RegionCode::new("Y56").unwrap(),
                name: "London".into(),
            }],
            &[Establishment {
                code: EstablishmentCode::new("RBH").unwrap(),
                name: "RBH hospital".into(),
                kind: EstablishmentKind::Acute,
                region: RegionCode::new("Y56").unwrap(),
                parent: None,
                hostname_patterns: vec!["rbh-*".into()],
                subnets: vec![],
            }],
        )
        .await
        .unwrap();
}

/// A store on `db` with the directory seeded, and its pipeline.
pub async fn seeded(db: &vigie_store::testdb::TestDb) -> (Arc<dyn Store>, Pipeline) {
    let store: Arc<dyn Store> = Arc::new(db.open().await.unwrap());
    seed_org(store.as_ref()).await;
    let p = pipeline_for(&store).await;
    (store, p)
}

pub async fn pipeline_for(store: &Arc<dyn Store>) -> Pipeline {
    Pipeline::new(
        store.clone(),
        store.org().await.unwrap(),
        RuleSet::defaults().unwrap(),
        Arc::new(KbChecks::new(Arc::new(KnowledgeBase::embedded().unwrap()))),
    )
}

/// A time written in RFC 3339.
pub fn t(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// Ingest options with `now` at a time written in RFC 3339.
pub fn opts(now: &str) -> IngestOptions {
    IngestOptions {
        now: t(now),
        ..Default::default()
    }
}

/// The finding of `rule` open on machine `host` on day `at` (the machine
/// must exist then).
pub async fn open_finding(
    store: &dyn Store,
    host: &str,
    at: &str,
    rule: &str,
) -> Option<FindingView> {
    let hosts = store
        .hosts(
            &Scope::National,
            &HostFilter {
                hostname: Some(host.into()),
                at: Some(Day::parse(at).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hosts.len(), 1, "{host} on {at}");
    hosts[0]
        .findings
        .iter()
        .find(|f| f.rule.as_str() == rule && f.resolved_at.is_none())
        .cloned()
}
