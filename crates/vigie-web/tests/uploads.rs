//! Uploads through the API under contention, on SQLite and PostgreSQL: a
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! stalled sender delays nobody and is answered 408 when its time is up;
//! uploads that arrive together, and an ingest by another process at the
//! same time, are all stored, none answered 500.

use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};
use vigie_store::testdb::TestDb;
use vigie_store::{Scope, Store};
use vigie_web::WebConfig;

const ESTS: [&str; 4] = ["EST1", "EST2", "EST3", "EST4"];

struct Server {
    base: String,
    addr: std::net::SocketAddr,
    store: Arc<dyn Store>,
    /// Ingest token secret per establishment.
    tokens: Vec<String>,
}

async fn server(db: &TestDb, cfg: WebConfig) -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store: Arc<dyn Store> = Arc::new(db.open().await.unwrap());
    store
        .import_org(
            &[Region {
                code: RegionCode::new("REG1").unwrap(),
                name: "Region One".into(),
            }],
            &ESTS
                .iter()
                .map(|c| Establishment {
                    code: EstablishmentCode::new(c).unwrap(),
                    name: format!("{c} hospital"),
                    kind: EstablishmentKind::Acute,
                    region: RegionCode::new("REG1").unwrap(),
                    parent: None,
                    hostname_patterns: vec![format!("{}-*", c.to_lowercase())],
                    subnets: vec![],
                })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for c in ESTS {
        let t = vigie_auth::new_api_token().unwrap();
        store
            .create_token(&vigie_store::NewApiToken {
                name: format!("agent-{c}"),
                prefix: t.prefix.clone(),
                token_hash: t.hash.clone(),
                role: "ingest".into(),
                region: None,
                establishment: Some(EstablishmentCode::new(c).unwrap()),
                created_by: "test".into(),
                created_at: jiff::Timestamp::now(),
                expires_at: None,
            })
            .await
            .unwrap();
        tokens.push(t.secret);
    }
    let state = vigie_web::setup::default_state(store.clone(), cfg)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = vigie_web::serve(listener, state, std::future::pending()).await;
    });
    Server {
        base: format!("http://{addr}"),
        addr,
        store,
        tokens,
    }
}

/// `n` Windows 10 machines of an establishment as a CSV export.
fn inventory(est: &str, from: u32, n: u32) -> String {
    let mut s = String::from(
        "Computer Name,Serial Number,Operating System,OS Version,Build Number,Installed KBs,Last Hardware Scan\n",
    );
    for i in from..from + n {
        s.push_str(&format!(
            "{}-pc{i:05},{est}SN{i:06},Microsoft Windows 10 Enterprise,10.0.19045,19045,KB5034122,2026-11-20T08:00:00Z\n",
            est.to_lowercase()
        ));
    }
    s
}

async fn upload(s: &Server, i: usize, body: String) -> (StatusCode, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/ingest/{}", s.base, ESTS[i]))
        .bearer_auth(&s.tokens[i])
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

/// A sender that announces 100,000 bytes and trickles a byte a second
/// held the server's only ingest lock: every other establishment waited.
/// Now another upload completes while it trickles, and the trickler gets
/// a 408 in the API's error format once its time is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_delays_nobody() {
    for db in TestDb::both("a stalled upload").await.unwrap() {
        let s = server(
            &db,
            WebConfig {
                ingest_body_timeout: Duration::from_secs(4),
                ..WebConfig::default()
            },
        )
        .await;
        let mut stalled = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let head = format!(
            "POST /api/v1/ingest/EST1 HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Length: 100000\r\n\r\nComputer Name,",
            s.addr, s.tokens[0]
        );
        stalled.write_all(head.as_bytes()).await.unwrap();
        let trickle = tokio::spawn(async move {
            let mut answer = Vec::new();
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if stalled.write_all(b"x").await.is_err() {
                    break;
                }
                let mut buf = [0u8; 4096];
                match tokio::time::timeout(Duration::from_millis(1), stalled.read(&mut buf)).await {
                    Ok(Ok(0)) => break,
                    Ok(Ok(n)) => {
                        answer.extend_from_slice(&buf[..n]);
                        break;
                    }
                    _ => {}
                }
            }
            String::from_utf8_lossy(&answer).into_owned()
        });
        // another establishment's upload goes through while the first trickles
        let (status, body) = tokio::time::timeout(
            Duration::from_secs(60),
            upload(&s, 1, inventory("EST2", 0, 20)),
        )
        .await
        .expect("the second upload waited for the stalled one");
        assert_eq!(status, StatusCode::OK, "{}: {body}", db.backend);
        assert!(
            !trickle.is_finished(),
            "{}: the stalled upload ended before the other was stored",
            db.backend
        );
        let answer = tokio::time::timeout(Duration::from_secs(30), trickle)
            .await
            .unwrap()
            .unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "{}: {answer}",
            db.backend
        );
        assert!(
            answer.contains(r#""code":"request_timeout""#),
            "{}: {answer}",
            db.backend
        );
        let hosts = s.store.stats(&Scope::National).await.unwrap().hosts;
        assert_eq!(hosts, 20, "{}", db.backend);
        db.cleanup().await.unwrap();
    }
}

/// Uploads for four establishments at once, twice each, while another
/// process ingests into the same database: every upload is answered 200
/// and every machine is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_uploads_and_a_cli_ingest_are_all_stored() {
    for db in TestDb::both("simultaneous uploads").await.unwrap() {
        let s = Arc::new(server(&db, WebConfig::default()).await);
        // "another process": its own handle and pipeline
        let other: Arc<dyn Store> = Arc::new(db.open().await.unwrap());
        let files = tempfile::tempdir().unwrap();
        let cli_file = files.path().join("cli.csv");
        std::fs::write(&cli_file, inventory("EST4", 1000, 1500)).unwrap();
        let other_state = vigie_web::setup::default_state(other, WebConfig::default())
            .await
            .unwrap();
        let cli = tokio::spawn(async move {
            let mut p = (other_state.pipeline)().await.unwrap();
            p.ingest_file(&cli_file, &vigie_ingest::IngestOptions::default())
                .await
        });
        let mut uploads = Vec::new();
        for round in 0..2u32 {
            for (i, est) in ESTS.iter().enumerate() {
                let s = s.clone();
                uploads.push(tokio::spawn(async move {
                    upload(&s, i, inventory(est, round * 100, 150)).await
                }));
            }
        }
        for u in uploads {
            let (status, body) = u.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{}: {body}", db.backend);
        }
        cli.await.unwrap().unwrap();
        // per establishment: machines 0..250 from the uploads, and EST4's
        // 1000..2500 from the other process
        let hosts = s.store.stats(&Scope::National).await.unwrap().hosts;
        assert_eq!(hosts, 4 * 250 + 1500, "{}", db.backend);
        db.cleanup().await.unwrap();
    }
}
