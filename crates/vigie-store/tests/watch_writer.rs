//! The watch's write-behind queue while another connection holds SQLite's
//! write lock for longer than the old 10 s limit: state changes, events,
//! notices and incident changes wait and are all written once the lock is
//! released; only raw samples beyond the queue's room are dropped, and
//! every drop is counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sqlx::Connection;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use vigie_store::{
    Scope, SqlStore, Store, WatchEvent, WatchIncidentOp, WatchNoticeInput, WatchSample,
    WatchStateRecord, WatchTargetInput, WatchWriter, WatchWriterConfig,
};

const T0: i64 = 1_790_000_000;

fn sample(id: i64, at: i64) -> WatchSample {
    WatchSample {
        target_id: id,
        at,
        observed: "down".into(),
        http_status: Some(503),
        dns_us: None,
        connect_us: Some(100),
        tls_us: None,
        first_byte_us: Some(200),
        total_us: 300,
        error: None,
        keep_raw: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_but_samples_is_lost_while_another_connection_holds_the_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let store = Arc::new(SqlStore::connect(&url).await.unwrap());
    let targets: Vec<WatchTargetInput> = (0..20)
        .map(|i| WatchTargetInput {
            name: format!("site{i}"),
            url: format!("https://site{i}.example/"),
            establishment: None,
            options: "{}".into(),
        })
        .collect();
    store.upsert_watch_targets(&targets).await.unwrap();
    let ids: Vec<i64> = store
        .watch_targets(&Scope::National, false)
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids.len(), 20);

    // another process (a long ingest) takes the write lock and keeps it
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();

    let writer = WatchWriter::start(
        store.clone(),
        WatchWriterConfig {
            runner: "national".into(),
            max_samples: 30,
            retry_pause: Duration::from_millis(100),
        },
    );
    // 20 sites go down: 20 state changes and events, two samples each
    // (40: 10 beyond the queue's room), an incident and its notice
    let samples: Vec<WatchSample> = ids
        .iter()
        .flat_map(|id| [sample(*id, T0), sample(*id, T0 + 60)])
        .collect();
    let events: Vec<WatchEvent> = ids
        .iter()
        .map(|id| WatchEvent {
            target_id: *id,
            at: T0 + 60,
            from: "up".into(),
            to: "down".into(),
            detail: "[{\"kind\":\"unexpected-status\",\"status\":503}]".into(),
        })
        .collect();
    let states: Vec<(i64, WatchStateRecord)> = ids
        .iter()
        .map(|id| {
            (
                *id,
                WatchStateRecord {
                    status: "down".into(),
                    since: T0 + 60,
                    updated_at: T0 + 60,
                    data: "{}".into(),
                },
            )
        })
        .collect();
    writer.record(samples, events, states);
    writer.incidents(vec![
        WatchIncidentOp::Save {
            key: "incident-1".into(),
            data: "{\"id\":1}".into(),
            members: vec![("site0".into(), "{}".into())],
            removed: vec![],
            at: T0 + 61,
        },
        WatchIncidentOp::Delivered {
            key: "incident-1".into(),
            routes: vec!["national".into()],
            at: T0 + 62,
        },
    ]);
    writer.notice(WatchNoticeInput {
        at: T0 + 62,
        kind: "opened-major".into(),
        incident_key: "incident-1".into(),
        payload: "{}".into(),
        deliveries: "[]".into(),
    });
    let stats = writer.stats();
    assert_eq!(stats.samples_dropped.load(Ordering::Relaxed), 10);

    // longer than the old 10 s limit: everything waits, nothing is lost
    for _ in 0..24 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let w = writer.waiting();
        assert_eq!(
            (w.samples, w.events, w.states, w.notices, w.incident_changes),
            (30, 20, 20, 1, 2),
            "{w:?}"
        );
    }
    assert!(writer.waiting().oldest_seconds >= 11);
    assert!(
        store
            .watch_events(&Scope::National, 0, 100)
            .await
            .unwrap()
            .is_empty(),
        "nothing could be written while the lock was held"
    );

    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    tokio::time::timeout(Duration::from_secs(120), writer.close())
        .await
        .expect("written once the lock was released");
    assert!(writer.waiting().is_empty(), "{:?}", writer.waiting());

    let evs = store.watch_events(&Scope::National, 0, 100).await.unwrap();
    assert_eq!(evs.len(), 20, "every state change is in the history");
    assert!(
        evs.iter()
            .all(|e| e.to == "down" && e.detail.contains("503"))
    );
    let listed = store.watch_targets(&Scope::National, false).await.unwrap();
    assert!(
        listed
            .iter()
            .all(|t| t.state.as_ref().is_some_and(|s| s.status == "down")),
        "every state is stored"
    );
    let notices = store.watch_notices(10).await.unwrap();
    assert_eq!(notices.len(), 1, "the notice is registered");
    let open = store.watch_open_incidents("national").await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].routes, vec!["national".to_string()]);
    let mut raw = 0;
    for i in 0..20 {
        raw += store
            .watch_samples(&Scope::National, &format!("site{i}"), 0, i64::MAX)
            .await
            .unwrap()
            .len();
    }
    assert_eq!(raw, 30, "the samples that fitted are written");
    assert_eq!(stats.samples_written.load(Ordering::Relaxed), 30);
    assert_eq!(stats.samples_dropped.load(Ordering::Relaxed), 10);
    other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_is_counted_and_tried_again_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let store = Arc::new(SqlStore::connect(&url).await.unwrap());
    store
        .upsert_watch_targets(&[WatchTargetInput {
            name: "portal".into(),
            url: "https://portal.example/".into(),
            establishment: None,
            options: "{}".into(),
        }])
        .await
        .unwrap();
    let id = store.watch_targets(&Scope::National, false).await.unwrap()[0].id;
    // every insert of an event fails, as a broken database would
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER refuse BEFORE INSERT ON watch_events BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .execute(&mut other)
    .await
    .unwrap();
    let writer = WatchWriter::start(
        store.clone(),
        WatchWriterConfig {
            runner: "national".into(),
            max_samples: 100,
            retry_pause: Duration::from_millis(50),
        },
    );
    writer.record(
        vec![sample(id, T0)],
        vec![WatchEvent {
            target_id: id,
            at: T0,
            from: "up".into(),
            to: "down".into(),
            detail: "[]".into(),
        }],
        vec![],
    );
    let stats = writer.stats();
    for _ in 0..100 {
        if stats.write_failures.load(Ordering::Relaxed) >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        stats.write_failures.load(Ordering::Relaxed) >= 2,
        "tried again"
    );
    let w = writer.waiting();
    assert_eq!((w.samples, w.events), (1, 1), "kept: {w:?}");
    // the database is repaired: written at the next attempt
    sqlx::query("DROP TRIGGER refuse")
        .execute(&mut other)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), writer.close())
        .await
        .expect("written once the database accepts it");
    let evs = store.watch_events(&Scope::National, 0, 10).await.unwrap();
    assert_eq!(evs.len(), 1);
    assert_eq!(stats.samples_written.load(Ordering::Relaxed), 1);
    assert_eq!(stats.samples_dropped.load(Ordering::Relaxed), 0);
    other.close().await.unwrap();
}
