//! The server keeps its figures current, on SQLite and PostgreSQL: it
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! brings every machine up to date at start when the last assessment is a
//! day old, and every page says when its figures were brought up to date
//! (with a warning while they are not).

use std::sync::Arc;
use std::time::Duration;
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};
use vigie_store::Store;
use vigie_store::testdb::TestDb;
use vigie_web::WebConfig;

async fn world(db: &TestDb) -> (Arc<dyn Store>, vigie_web::AppState, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store: Arc<dyn Store> = Arc::new(db.open().await.unwrap());
    store
        .import_org(
            &[Region {
                code: RegionCode::new("REG1").unwrap(),
                name: "Region One".into(),
            }],
            &[Establishment {
                code: EstablishmentCode::new("EST1").unwrap(),
                name: "Est One".into(),
                kind: EstablishmentKind::Acute,
                region: RegionCode::new("REG1").unwrap(),
                parent: None,
                hostname_patterns: vec!["est1-*".into()],
                subnets: vec![],
            }],
        )
        .await
        .unwrap();
    let t = vigie_auth::new_api_token().unwrap();
    store
        .create_token(&vigie_store::NewApiToken {
            name: "analyst".into(),
            prefix: t.prefix.clone(),
            token_hash: t.hash.clone(),
            role: "national-analyst".into(),
            region: None,
            establishment: None,
            created_by: "test".into(),
            created_at: jiff::Timestamp::now(),
            expires_at: None,
        })
        .await
        .unwrap();
    let st = vigie_web::setup::default_state(store.clone(), WebConfig::default())
        .await
        .unwrap();
    (store, st, t.secret)
}

async fn serve(st: vigie_web::AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = vigie_web::serve(listener, st, std::future::pending()).await;
    });
    base
}

/// A page or answer of the API, which must succeed.
async fn get(base: &str, token: &str, path: &str) -> String {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.text().await.unwrap()
}

async fn footer(base: &str, token: &str) -> String {
    let html = get(base, token, "/rules").await;
    let i = html.find("<footer>").unwrap();
    html[i..].split("</footer>").next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_brings_machines_up_to_date_and_pages_say_when() {
    for db in TestDb::both("the server keeps itself current")
        .await
        .unwrap()
    {
        let (store, st, token) = world(&db).await;
        let base = serve(st.clone()).await;
        // never assessed: the pages say so
        let f = footer(&base, &token).await;
        assert!(
            f.contains("never brought up to date"),
            "{}: {f}",
            db.backend
        );
        // the embedded Windows build history ends in August 2026: every
        // page warns that the knowledge base is out of date, and the
        // knowledge-base page says which source
        assert!(
            f.contains("WARNING: knowledge base out of date:") && f.contains("windows-builds"),
            "{}: {f}",
            db.backend
        );
        let kb = get(&base, &token, "/kb").await;
        assert!(kb.contains("out of date (over 30)"), "{}", db.backend);
        // each source says the newest day it describes: the legacy update
        // list knows updates up to June 2026
        assert!(
            kb.contains("Describes up to") && kb.contains("<td>2026-06-09</td>"),
            "{}",
            db.backend
        );
        // assessed three days ago: out of date, and the pages warn
        let mut p = (st.pipeline)().await.unwrap();
        let old = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(72);
        p.assess(old).await.unwrap();
        let f = footer(&base, &token).await;
        assert!(
            f.contains("WARNING: machines not brought up to date since"),
            "{}: {f}",
            db.backend
        );
        // the server's own assessment runs at start since the last is old
        let task = tokio::spawn(vigie_web::currency::keep_assessed(
            st.clone(),
            Duration::from_secs(24 * 3600),
        ));
        let mut fresh = None;
        for _ in 0..120 {
            let last = store.last_assessment().await.unwrap().unwrap();
            if jiff::Timestamp::now().duration_since(last) < jiff::SignedDuration::from_hours(1) {
                fresh = Some(last);
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        task.abort();
        let fresh = fresh.unwrap_or_else(|| panic!("{}: no assessment at start", db.backend));
        let f = footer(&base, &token).await;
        assert!(
            f.contains(&format!(
                "machines brought up to date {}",
                vigie_core::rfc3339(fresh.as_second())
            )) && !f.contains("WARNING: machines"),
            "{}: {f}",
            db.backend
        );
        db.cleanup().await.unwrap();
    }
}

/// A server showing figures as of a past day (the demo's last day) says so
/// on every page, shows that day's figures, and brings machines up to the
/// end of that day only, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn figures_as_of_a_past_day_say_so_and_stop_there() {
    let db = TestDb::sqlite().unwrap();
    let (store, st, token) = world(&db).await;
    let as_of = vigie_core::Day::parse("2026-08-31").unwrap();
    let cfg = WebConfig {
        as_of: Some(as_of),
        ..(*st.cfg).clone()
    };
    let st = vigie_web::AppState::new(
        st.store.clone(),
        st.pipeline.clone(),
        st.rules.as_ref().clone(),
        st.kb.as_ref().clone(),
        cfg,
    );
    assert_eq!(st.today(), as_of);
    let base = serve(st.clone()).await;
    let f = footer(&base, &token).await;
    assert!(f.contains("Data as of 2026-08-31"), "{f}");
    let html = get(&base, &token, "/").await;
    assert!(
        html.contains("class=\"asof-banner\"") && html.contains("not of today"),
        "{html}"
    );
    let task = tokio::spawn(vigie_web::currency::keep_assessed(
        st.clone(),
        Duration::from_secs(24 * 3600),
    ));
    let mut last = None;
    for _ in 0..120 {
        last = store.last_assessment().await.unwrap();
        if last.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // not assessed again: still that day's end a moment later
    tokio::time::sleep(Duration::from_millis(500)).await;
    task.abort();
    let end = jiff::Timestamp::from_second(as_of.end_second()).unwrap();
    assert_eq!(last, Some(end));
    assert_eq!(store.last_assessment().await.unwrap(), Some(end));
}

// What vigie cannot decide is shown as unknown, never as compliant, in the
// API and on the pages: an osquery Windows Server 2016 machine (supported
// until January 2027) reporting neither its update revision nor any update
// is counted in `unknown` for MS17-010 (not in the confirmed share, not as
// fixed), next to the coverage of its establishment, and its region is not
// shown as low risk.

/// An osquery report of a Windows Server 2016 machine an hour ago: OS
/// (without the update revision), identity and software, but no patches
/// query at all.
fn report(dir: &std::path::Path) -> std::path::PathBuf {
    let unix = jiff::Timestamp::now().as_second() - 3600;
    let line = |snapshot: &str, query: &str| {
        format!(
            "{{\"snapshot\":{snapshot},\"action\":\"snapshot\",\"name\":\"{query}\",\"hostIdentifier\":\"est1-pc7\",\
             \"unixTime\":{unix},\"decorations\":{{\"host_uuid\":\"uuid-pc7\"}}}}\n"
        )
    };
    let text = [
        line(
            "[{\"name\":\"Microsoft Windows Server 2016 Standard\",\"version\":\"10.0.14393\",\"build\":\"14393\",\"platform\":\"windows\"}]",
            "pack_vigie_os",
        ),
        line(
            "[{\"hostname\":\"est1-pc7\",\"computer_name\":\"est1-pc7\",\"uuid\":\"uuid-pc7\"}]",
            "pack_vigie_system",
        ),
        line(
            "[{\"name\":\"7-Zip 19.00 (x64)\",\"version\":\"19.00\"}]",
            "pack_vigie_programs",
        ),
    ]
    .concat();
    let p = dir.join("pc7.log");
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_is_counted_apart_in_the_api_and_on_the_pages() {
    let files = tempfile::tempdir().unwrap();
    let file = report(files.path());
    for db in TestDb::both("unknown in the api and pages").await.unwrap() {
        let backend = db.backend;
        let (_store, st, token) = world(&db).await;
        let mut p = (st.pipeline)().await.unwrap();
        p.ingest_file(&file, &vigie_ingest::IngestOptions::default())
            .await
            .unwrap();
        let base = serve(st.clone()).await;

        let posture: serde_json::Value =
            serde_json::from_str(&get(&base, &token, "/api/v1/posture?by=establishment").await)
                .unwrap();
        let est = posture["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["group"] == "EST1")
            .unwrap_or_else(|| panic!("{backend}: {posture}"));
        let ms17 = &est["rules"]["ms17-010-missing"];
        assert_eq!(ms17["hosts"], 0, "{backend}: never confirmed: {est}");
        assert_eq!(ms17["unknown"], 1, "{backend}: counted apart: {est}");
        assert_eq!(ms17["unknown_share"], 1.0, "{backend}: {est}");
        assert_eq!(
            est["coverage"], 1.0,
            "{backend}: reported an hour ago: {est}"
        );
        assert_eq!(est["silent"], 0, "{backend}: {est}");

        let trend: serde_json::Value =
            serde_json::from_str(&get(&base, &token, "/api/v1/trend?rule=ms17-010-missing").await)
                .unwrap();
        let last = trend["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["unknown"], 1, "{backend}: {trend}");
        assert_eq!(last["with_rule"], 0, "{backend}: {trend}");
        assert_eq!(last["coverage"], 1.0, "{backend}: {trend}");

        let csv = get(&base, &token, "/api/v1/posture?by=establishment&format=csv").await;
        assert!(
            csv.lines().next().unwrap_or("").contains("unknown"),
            "{backend}: {csv}"
        );

        // the overview's MS17-010 card says how many are unknown, the
        // establishment is not shown as low risk, and its worst machines
        // carry the status
        let overview = get(&base, &token, "/").await;
        assert!(
            overview.contains("0 of 1 machines; 1 more unknown (100.0 %)"),
            "{backend}: {overview}"
        );
        assert!(overview.contains("Coverage (fresh evidence)"), "{backend}");
        // the region's tile is grey, not green
        assert!(
            overview.contains("fill=\"#7b8794\""),
            "{backend}: {overview}"
        );
        let region = get(&base, &token, "/regions/REG1").await;
        assert!(region.contains(">Coverage</th>"), "{backend}");
        assert!(
            region.contains("+1 unknown (100.0 %)"),
            "{backend}: {region}"
        );
        assert!(
            region.contains("data-level=\"unknown\""),
            "{backend}: an establishment at 0 % confirmed and 100 % unknown is not green"
        );
        let est_page = get(&base, &token, "/establishments/EST1").await;
        assert!(
            est_page.contains("ms17-010-missing (unknown)"),
            "{backend}: {est_page}"
        );
        db.cleanup().await.unwrap();
    }
}
