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
        "vigie_samples_written_total",
        "vigie_samples_dropped_total 0",
        "vigie_store_writes_waiting{kind=\"events\"}",
        "vigie_store_writes_waiting{kind=\"notices\"}",
        "vigie_store_oldest_write_waiting_seconds",
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

fn kinds(r: &Received, route: &str) -> Vec<(String, String)> {
    opened(r, route)
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap_or("").to_string(),
                v["key"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Waits (at most `secs`) for `cond`, checking every 250 ms.
async fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn json_of(c: &mut Command) -> Value {
    let out = c.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// An incident outlives the runner: killed (SIGKILL) while it is open and
/// restarted while the sites still fail, vigie announces nothing again;
/// stopped (SIGTERM) and restarted after the sites came back while it was
/// down, it probes them again and sends the resolution. The receiver gets
/// exactly one opening and one resolution, with one key, and the register
/// holds one row of each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_survives_restarts_of_the_runner() {
    const N: usize = 8;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db").display().to_string();
    let sites = Sites(Arc::new((0..N).map(|_| AtomicU8::new(0)).collect()));
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
    let mut targets = String::from("name,url,interval,timeout\n");
    for i in 0..N {
        targets.push_str(&format!("site{i},http://{site_addr}/site/{i},2,1\n"));
    }
    let tpath = dir.path().join("targets.csv");
    std::fs::write(&tpath, targets).unwrap();
    ok(vigie(&db).args(["watch", "import"]).arg(&tpath));
    let npath = dir.path().join("notify.toml");
    std::fs::write(
        &npath,
        format!(
            "[[channel]]\nname = \"cert\"\nkind = \"webhook\"\nurl = \"http://{hook_addr}/hook/national\"\nsecret = \"s3cret\"\n\n\
             [[route]]\nname = \"national\"\nchannel = \"cert\"\nmin_severity = \"major\"\n"
        ),
    )
    .unwrap();
    let start = |n: u32| {
        let log = std::fs::File::create(dir.path().join(format!("run{n}.log"))).unwrap();
        Kill(
            vigie(&db)
                .args(["watch", "run", "--duration", "120", "--group-gather", "2"])
                .arg("--notify")
                .arg(&npath)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        )
    };
    let statuses = || -> Vec<String> {
        json_of(vigie(&db).args(["watch", "list", "--format", "json"]))
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| t["status"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let register = || -> Vec<(String, String)> {
        json_of(vigie(&db).args(["watch", "notices", "--format", "json"]))
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|n| {
                        (
                            n["kind"].as_str().unwrap_or("").to_string(),
                            n["key"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };

    // run 1: all is well, then every site fails
    let mut run1 = start(1);
    wait_for(40, "every site declared up", || {
        let s = statuses();
        s.len() == N && s.iter().all(|s| s == "up")
    })
    .await;
    for m in sites.0.iter() {
        m.store(2, Ordering::Relaxed);
    }
    wait_for(30, "the opening", || {
        !opened(&received, "national").is_empty()
    })
    .await;
    wait_for(15, "the opening in the register", || {
        register().iter().any(|(k, _)| k.starts_with("opened"))
    })
    .await;
    let first = kinds(&received, "national");
    assert_eq!(first.len(), 1, "{first:?}");
    let key = first[0].1.clone();
    assert!(key.starts_with("incident-"), "{key}");
    // kill -9 during the incident
    run1.0.kill().unwrap();
    run1.0.wait().unwrap();

    // run 2: the sites still fail; the incident is resumed, not announced again
    let mut run2 = start(2);
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        kinds(&received, "national"),
        first,
        "no second opening after the restart"
    );
    // SIGTERM (systemd, docker stop)
    let pid = run2.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let stopped = Instant::now();
    loop {
        if let Some(st) = run2.0.try_wait().unwrap() {
            assert!(st.success(), "run 2 ended with {st:?}");
            break;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "run 2 did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // the sites come back while vigie is down
    for m in sites.0.iter() {
        m.store(0, Ordering::Relaxed);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(kinds(&received, "national"), first);

    // run 3: probes again and sends the resolution
    let run3 = start(3);
    wait_for(40, "the resolution after the restart", || {
        opened(&received, "national").len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let all = kinds(&received, "national");
    assert_eq!(
        all,
        vec![
            ("opened".to_string(), key.clone()),
            ("resolved".to_string(), key.clone())
        ],
        "exactly one opening and one resolution, with one key"
    );
    wait_for(15, "the resolution in the register", || {
        register().iter().any(|(k, _)| k.starts_with("resolved"))
    })
    .await;
    let rows = register();
    let of_key: Vec<&str> = rows
        .iter()
        .filter(|(_, k)| *k == key)
        .map(|(kind, _)| kind.as_str())
        .collect();
    assert_eq!(of_key.len(), 2, "{rows:?}");
    assert_eq!(
        of_key.iter().filter(|k| k.starts_with("opened")).count(),
        1,
        "{rows:?}"
    );
    assert_eq!(
        of_key.iter().filter(|k| k.starts_with("resolved")).count(),
        1,
        "{rows:?}"
    );
    drop(run3);
}

/// A target that never answered is neither "up" in the list nor an event
/// without a reason: it is pending until its first probe, which declares
/// it down at once; and every later change carries its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_never_answered_is_not_up_and_every_event_has_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db").display().to_string();
    let sites = Sites(Arc::new((0..1).map(|_| AtomicU8::new(0)).collect()));
    let site_addr = serve(
        Router::new()
            .route("/site/{i}", get(site))
            .with_state(sites.clone()),
    )
    .await;
    // a port nobody listens on
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    ok(vigie(&db).args([
        "watch",
        "add",
        &format!("http://127.0.0.1:{closed}/"),
        "--name",
        "never",
        "--no-deface",
        "--timeout",
        "2",
    ]));
    let list = |name: &str| -> Value {
        json_of(vigie(&db).args(["watch", "list", "--format", "json"]))
            .as_array()
            .and_then(|a| a.iter().find(|t| t["name"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    assert_eq!(list("never")["status"], Value::Null, "not probed yet");
    let once = || vigie(&db).args(["watch", "once"]).output().unwrap();
    let out = once();
    assert_eq!(out.status.code(), Some(2), "down: exit code 2");
    let t = list("never");
    assert_eq!(t["status"], "down", "never answered, so not up: {t}");
    let events = json_of(vigie(&db).args(["watch", "events", "--format", "json"]));
    let evs: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == "never")
        .collect();
    assert_eq!(evs.len(), 1, "{events}");
    assert_eq!(
        (evs[0]["from"].as_str(), evs[0]["to"].as_str()),
        (Some("pending"), Some("down"))
    );
    assert!(
        evs[0]["detail"].as_array().is_some_and(|a| !a.is_empty()),
        "the event carries its reason: {}",
        evs[0]
    );
    let table = String::from_utf8_lossy(
        &vigie(&db)
            .args(["watch", "events"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(table.contains("refused"), "the table says why: {table}");

    // a site that answered, then fails: up -> down with its reason
    ok(vigie(&db).args([
        "watch",
        "add",
        &format!("http://{site_addr}/site/0"),
        "--name",
        "flaky",
        "--no-deface",
    ]));
    let _ = once();
    assert_eq!(list("flaky")["status"], "up");
    sites.0[0].store(2, Ordering::Relaxed);
    let _ = once();
    assert_eq!(
        list("flaky")["status"],
        "up",
        "one failure is not an outage"
    );
    let _ = once();
    assert_eq!(list("flaky")["status"], "down");
    let events = json_of(vigie(&db).args(["watch", "events", "--format", "json"]));
    let flaky: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == "flaky")
        .collect();
    assert_eq!(flaky.len(), 2, "{events}");
    for e in &flaky {
        assert!(
            e["detail"].as_array().is_some_and(|a| !a.is_empty()),
            "every event carries its reason: {e}"
        );
    }
    assert_eq!(
        (flaky[0]["from"].as_str(), flaky[0]["to"].as_str()),
        (Some("up"), Some("down"))
    );
    assert_eq!(flaky[0]["detail"][0]["kind"], "unexpected-status");
    assert_eq!(flaky[1]["detail"][0]["kind"], "answered");
    let table = String::from_utf8_lossy(
        &vigie(&db)
            .args(["watch", "events"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(table.contains("status 503"), "{table}");
    assert!(table.contains("answered 200"), "{table}");
}
