//! `vigie watch` end to end: real HTTP servers on loopback, the real
//! binary, real webhook receivers. A mass event of 40 defaced sites and 20
//! down ones must reach each route as exactly one grouped notification.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SITES: usize = 60;

/// 0 = normal, 1 = defaced, 2 = failing with 503.
#[derive(Clone)]
struct Sites(Arc<Vec<AtomicU8>>);

async fn site(AxPath(i): AxPath<usize>, State(s): State<Sites>) -> impl IntoResponse {
    let mode = s.0.get(i).map_or(0, |m| m.load(Ordering::Relaxed));
    match mode {
        1 => (
            StatusCode::OK,
            Html(
                "<html><head><title>HACKED</title></head><body><h1>Hacked by x0r</h1>\
                 <p>your security is low. greetz to all crews</p></body></html>"
                    .to_string(),
            ),
        ),
        2 => (StatusCode::SERVICE_UNAVAILABLE, Html("down".to_string())),
        _ => (
            StatusCode::OK,
            Html(format!(
                "<html><head><title>Agence regionale de sante {i}</title></head><body>\
                 <nav><a href='/'>Accueil</a> <a href='/rdv'>Prendre rendez-vous</a></nav>\
                 <h1>Bienvenue sur le site de l'agence {i}</h1>\
                 <p>Informations sur l'offre de soins, la prevention et la veille sanitaire de la region.</p>\
                 <p>Actualites du {}: campagne de vaccination, appels a projets, recrutement.</p>\
                 <footer>Mentions legales - Accessibilite - Contact</footer></body></html>",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
            )),
        ),
    }
}

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, Value, HeaderMap)>>>);

async fn hook(
    AxPath(route): AxPath<String>,
    State(r): State<Received>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    r.0.lock().unwrap().push((route, v, headers));
    StatusCode::OK
}

async fn serve(app: Router) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(l, app).await.unwrap();
    });
    addr
}

fn vigie(db: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
    c.env_remove("VIGIE_DB")
        .env_remove("VIGIE_NOTIFY")
        .args(["--db", db, "--quiet"]);
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn opened(r: &Received, route: &str) -> Vec<Value> {
    r.0.lock()
        .unwrap()
        .iter()
        .filter(|(rt, _, _)| rt == route)
        .map(|(_, v, _)| v.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mass_event_is_one_notification_per_route() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db").display().to_string();
    let sites = Sites(Arc::new((0..SITES).map(|_| AtomicU8::new(0)).collect()));
    let site_addr = serve(
        Router::new()
            .route("/site/{i}", get(site))
            .with_state(sites.clone()),
    )
    .await;
    let received = Received::default();
    let hook_addr = serve(
        Router::new()
            .route("/hook/{route}", post(hook))
            .with_state(received.clone()),
    )
    .await;

    // two regions' agencies; two routes: the national CERT and region R1
    let org = "code,name,kind,region,parent,hostname_patterns,subnets,region_name\n\
               ARS-A,Agence A,other,R1,,,,Region One\n\
               ARS-B,Agence B,other,R2,,,,Region Two\n";
    let org_path = dir.path().join("org.csv");
    std::fs::write(&org_path, org).unwrap();
    ok(vigie(&db).args(["org", "import"]).arg(&org_path));
    let mut targets = String::from("name,url,establishment,interval,timeout\n");
    for i in 0..SITES {
        let est = if i % 2 == 0 { "ARS-A" } else { "ARS-B" };
        targets.push_str(&format!("site{i},http://{site_addr}/site/{i},{est},2,1\n"));
    }
    let tpath = dir.path().join("targets.csv");
    std::fs::write(&tpath, targets).unwrap();
    ok(vigie(&db).args(["watch", "import"]).arg(&tpath));
    let notify = format!(
        "[[channel]]\nname = \"cert\"\nkind = \"webhook\"\nurl = \"http://{hook_addr}/hook/national\"\nsecret = \"s3cret\"\n\n\
         [[channel]]\nname = \"ars-r1\"\nkind = \"webhook\"\nurl = \"http://{hook_addr}/hook/r1\"\nsecret = \"other\"\n\n\
         [[route]]\nname = \"national\"\nchannel = \"cert\"\nmin_severity = \"major\"\n\n\
         [[route]]\nname = \"region-r1\"\nchannel = \"ars-r1\"\nregions = [\"R1\"]\nmin_severity = \"warning\"\n"
    );
    let npath = dir.path().join("notify.toml");
    std::fs::write(&npath, notify).unwrap();

    let metrics_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _run = Kill(
        vigie(&db)
            .args(["watch", "run", "--duration", "120", "--group-gather", "4"])
            .args(["--listen", &format!("127.0.0.1:{metrics_port}")])
            .arg("--notify")
            .arg(&npath)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // wait until every baseline is learned (3 good fetches each)
    let learned = Instant::now();
    loop {
        assert!(
            learned.elapsed() < Duration::from_secs(60),
            "baselines not learned in time"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let out = vigie(&db)
            .args(["watch", "list", "--format", "json"])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let n = v
            .as_array()
            .map_or(0, |a| a.iter().filter(|t| t["baseline"] == true).count());
        if n == SITES {
            break;
        }
    }
    assert!(
        received.0.lock().unwrap().is_empty(),
        "nothing is notified while all is well"
    );
    // Prometheus metrics with blackbox_exporter's names
    let metrics = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "probe_success{target=\"site0\"",
        "probe_duration_seconds{",
        "probe_http_status_code{target=\"site0\"",
        "probe_http_duration_seconds{",
        "vigie_defaced{",
        "vigie_target_state{",
        "vigie_watch_targets 60",
        "vigie_probes_finished_total",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let up = metrics
        .lines()
        .filter(|l| l.starts_with("probe_success{") && l.ends_with(" 1"))
        .count();
    assert_eq!(up, SITES, "every site answers before the event");

    // the night of 1-2 January 2014, on loopback
    let flipped = Instant::now();
    for (i, m) in sites.0.iter().enumerate() {
        m.store(if i < 40 { 1 } else { 2 }, Ordering::Relaxed);
    }
    let deadline = Duration::from_secs(2 + 10 + 10);
    loop {
        let n = opened(&received, "national").len();
        let r = opened(&received, "r1").len();
        if n >= 1 && r >= 1 {
            break;
        }
        assert!(
            flipped.elapsed() < deadline,
            "no grouped notification within one interval plus 10 s (and 10 s of test slack)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // let another few intervals pass: nothing more may arrive
    tokio::time::sleep(Duration::from_secs(8)).await;
    let national = opened(&received, "national");
    let regional = opened(&received, "r1");
    assert_eq!(
        national.len(),
        1,
        "one national notification: {national:#?}"
    );
    assert_eq!(
        regional.len(),
        1,
        "one regional notification: {regional:#?}"
    );
    for v in [&national[0], &regional[0]] {
        assert_eq!(v["kind"], "opened");
        assert_eq!(v["severity"], "critical");
        let members = v["details"]["members"].as_array().unwrap();
        assert_eq!(members.len(), SITES, "every site in the one notice");
        let defaced = members.iter().filter(|m| m["status"] == "defaced").count();
        assert_eq!(defaced, 40);
    }
    // signed for its own route's secret
    {
        let got = received.0.lock().unwrap();
        let (_, _, headers) = got.iter().find(|(r, _, _)| r == "national").unwrap();
        assert!(
            headers
                .get(vigie_notify::SIGNATURE_HEADER)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|s| s.starts_with("sha256=")),
            "{headers:?}"
        );
    }

    // everything comes back: one resolution per route
    for m in sites.0.iter() {
        m.store(0, Ordering::Relaxed);
    }
    let back = Instant::now();
    loop {
        let n = opened(&received, "national").len();
        let r = opened(&received, "r1").len();
        if n >= 2 && r >= 2 {
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(30), "no resolution");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    for route in ["national", "r1"] {
        let all = opened(&received, route);
        assert_eq!(all.len(), 2, "{route}: {all:#?}");
        assert_eq!(all[1]["kind"], "resolved");
    }
    // the register and the history
    let notices: Value = serde_json::from_str(&ok(
        vigie(&db).args(["watch", "notices", "--format", "json"])
    ))
    .unwrap();
    let kinds: Vec<&str> = notices
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert!(
        kinds.iter().any(|k| k.starts_with("opened"))
            && kinds.iter().any(|k| k.starts_with("resolved")),
        "{kinds:?}"
    );
    drop(_run);
    let events: Value = serde_json::from_str(&ok(
        vigie(&db).args(["watch", "events", "--format", "json", "--limit", "1000"])
    ))
    .unwrap();
    let defaced = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] == "defaced")
        .count();
    assert_eq!(defaced, 40, "each defacement is in the history");
    let uptime: Value = serde_json::from_str(&ok(
        vigie(&db).args(["watch", "uptime", "--by", "region", "--format", "json"])
    ))
    .unwrap();
    let regions: Vec<&str> = uptime
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["group"].as_str())
        .collect();
    assert!(
        regions.contains(&"R1") && regions.contains(&"R2"),
        "{regions:?}"
    );
}
