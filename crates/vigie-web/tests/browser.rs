//! The dashboard in a real headless Chromium, driven through chromedriver
//! over the W3C WebDriver protocol (plain HTTP, no client library): sign
//! in, go from the sector to a region, an establishment and a machine,
//! filter, export, sign out; an establishment officer is refused another
//! establishment's page. Screenshots are kept under
//! `$CARGO_TARGET_DIR/browser-artifacts/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`; `.ci/run` installs them
//! and sets `VIGIE_REQUIRE_BROWSER=1`, without which a machine lacking them
//! skips this test (and says so).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};
use vigie_store::{NewUser, SqlStore, Store};
use vigie_web::WebConfig;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn artifacts() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let d = base.join("browser-artifacts");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Driver {
    async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let rb = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body),
        };
        let v: Value = rb.send().await.unwrap().json().await.unwrap();
        assert!(v["value"].get("error").is_none(), "{method} {path}: {v}");
        v["value"].clone()
    }
    async fn go(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url })).await;
    }
    async fn url(&self) -> String {
        self.cmd("GET", "/url", json!({}))
            .await
            .as_str()
            .unwrap()
            .to_string()
    }
    /// Waits (bounded) until the address contains `needle`: a click that
    /// submits a form returns before the next page has loaded.
    async fn wait_url(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let url = self.url().await;
            if url.contains(needle) {
                return url;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "waited for {needle}, still on {url}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    async fn source(&self) -> String {
        self.cmd("GET", "/source", json!({}))
            .await
            .as_str()
            .unwrap()
            .to_string()
    }
    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(|x| x.as_str())
            .unwrap()
            .to_string()
    }
    async fn attr_all(&self, css: &str, attr: &str) -> Vec<String> {
        let els = self
            .cmd(
                "POST",
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let mut out = Vec::new();
        for e in els.as_array().unwrap() {
            let id = e
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .as_str()
                .unwrap();
            let v = self
                .cmd("GET", &format!("/element/{id}/property/{attr}"), json!({}))
                .await;
            if let Some(s) = v.as_str() {
                out.push(s.to_string());
            }
        }
        out
    }
    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }
    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), json!({}))
            .await;
    }
    async fn shot(&self, name: &str) {
        use base64_decode::decode;
        let v = self.cmd("GET", "/screenshot", json!({})).await;
        let png = decode(v.as_str().unwrap());
        assert!(png.len() > 1000, "empty screenshot");
        std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
    }
    async fn cookie(&self, name: &str) -> String {
        let v = self.cmd("GET", &format!("/cookie/{name}"), json!({})).await;
        v["value"].as_str().unwrap().to_string()
    }
}

/// A small base64 decoder (the standard alphabet) for screenshots.
mod base64_decode {
    pub fn decode(s: &str) -> Vec<u8> {
        let val = |c: u8| -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            })
        };
        let mut out = Vec::with_capacity(s.len() * 3 / 4);
        let mut acc = 0u32;
        let mut bits = 0;
        for c in s.bytes().filter_map(val) {
            acc = (acc << 6) | c;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }
}

async fn start_world() -> (String, Arc<dyn Store>, tempfile::TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&format!("sqlite://{}", dir.path().join("b.db").display()))
            .await
            .unwrap(),
    );
    let est = |code: &str, region: &str, name: &str| Establishment {
        code: EstablishmentCode::new(code).unwrap(),
        name: name.into(),
        kind: EstablishmentKind::Acute,
        region: RegionCode::new(region).unwrap(),
        parent: None,
        hostname_patterns: vec![],
        subnets: vec![],
    };
    store
        .import_org(
            &[
                Region {
                    code: RegionCode::new("NORD").unwrap(),
                    name: "Hauts-de-France".into(),
                },
                Region {
                    code: RegionCode::new("IDF").unwrap(),
                    name: "Île-de-France".into(),
                },
            ],
            &[
                est("CHULILLE", "NORD", "CHU de Lille"),
                est("CHARRAS", "NORD", "CH d'Arras"),
                est("APHP", "IDF", "AP-HP"),
            ],
        )
        .await
        .unwrap();
    for (username, role, e) in [
        ("analyste", "national-analyst", None),
        ("rssi-lille", "establishment-officer", Some("CHULILLE")),
    ] {
        store
            .create_user(&NewUser {
                username: username.into(),
                password_hash: vigie_auth::hash_password("un mot de passe long").unwrap(),
                role: role.into(),
                region: None,
                establishment: e.map(|e| EstablishmentCode::new(e).unwrap()),
                created_at: jiff::Timestamp::now(),
            })
            .await
            .unwrap();
    }
    let state = vigie_web::setup::default_state(
        store.clone(),
        WebConfig {
            secure_cookies: false,
            ..WebConfig::default()
        },
    )
    .await
    .unwrap();
    // inventories, through the same pipeline as uploads
    for (e, prefix, os) in [
        (
            "CHULILLE",
            "lil",
            "Microsoft Windows 7 Professional\",\"6.1.7601\",\"7601",
        ),
        (
            "CHARRAS",
            "arr",
            "Microsoft Windows 10 Enterprise\",\"10.0.19045.3803\",\"19045",
        ),
        (
            "APHP",
            "aph",
            "Microsoft Windows 7 Professional\",\"6.1.7601\",\"7601",
        ),
    ] {
        let csv = format!(
            "\"Computer Name\",\"Serial Number\",\"Operating System\",\"OS Version\",\"Build Number\",\"IP Addresses\",\"Installed KBs\",\"Last Hardware Scan\"\n\
             \"{prefix}-pc01\",\"S{prefix}1\",\"{os}\",\"10.1.2.42\",\"KB976902\",\"1/31/2024 10:00:00 AM\"\n\
             \"{prefix}-pc02\",\"S{prefix}2\",\"{os}\",\"10.1.2.43\",\"\",\"1/31/2024 11:00:00 AM\"\n"
        );
        let mut p = (state.pipeline)().await.unwrap();
        p.ingest_reader(
            "inventory.csv",
            std::io::Cursor::new(csv.into_bytes()),
            &vigie_ingest::IngestOptions {
                establishment: Some(EstablishmentCode::new(e).unwrap()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = vigie_web::serve(listener, state, std::future::pending()).await;
    });
    (base, store, dir)
}

async fn driver(profile: &Path) -> Option<(Driver, Kill)> {
    let required = std::env::var("VIGIE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let bin = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(bin) = bin else {
        assert!(!required, "chromedriver is required but not installed");
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: browser test: chromedriver not installed (apt-get install chromium chromium-driver)\n"
        );
        return None;
    };
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let kill = Kill(child);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while http.get(format!("{base}/status")).send().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--window-size=1440,1000", format!("--user-data-dir={}", profile.display())]
        }
    }}});
    let v: Value = http
        .post(format!("{base}/session"))
        .json(&caps)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = v["value"]["sessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("no session: {v}"))
        .to_string();
    Some((
        Driver {
            http,
            base,
            session,
        },
        kill,
    ))
}

async fn login(d: &Driver, base: &str, user: &str) {
    d.go(&format!("{base}/")).await;
    assert!(
        d.url().await.contains("/login"),
        "signed out: the login page"
    );
    d.type_into("#username", user).await;
    d.type_into("#password", "un mot de passe long").await;
    d.click("form button[type=submit]").await;
    // the form posts and redirects; wait for the page to leave /login
    let start = Instant::now();
    loop {
        let url = d.url().await;
        assert!(!url.contains("failed=1"), "login refused for {user}");
        if !url.contains("/login") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "still on {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_national_analyst_walks_down_and_an_officer_stays_home() {
    let (base, _store, _dir) = start_world().await;
    let profile = tempfile::tempdir().unwrap();
    let Some((d, _kill)) = driver(profile.path()).await else {
        return;
    };
    // the national analyst
    login(&d, &base, "analyste").await;
    let src = d.source().await;
    assert!(src.contains("Sector overview"), "{src}");
    assert!(src.contains("Hauts-de-France") && src.contains("Île-de-France"));
    d.shot("01-sector").await;
    // the wall screen, from the overview's link
    d.click("a.wall-link").await;
    d.wait_url("/?wall=1").await;
    let src = d.source().await;
    assert!(src.contains("class=\"wall\"") && src.contains("leave the wall screen"));
    d.shot("01b-wall").await;
    d.go(&format!("{base}/")).await;
    // sector → region (the tile)
    let tiles = d.attr_all("a.tile", "href").await;
    let nord = tiles.iter().find(|h| h.ends_with("/regions/NORD")).unwrap();
    d.go(nord).await;
    let src = d.source().await;
    assert!(src.contains("CHU de Lille") && !src.contains("AP-HP"));
    d.shot("02-region").await;
    // region → establishment
    d.click("a[href='/establishments/CHULILLE']").await;
    d.wait_url("/establishments/CHULILLE").await;
    let src = d.source().await;
    assert!(src.contains("lil-pc01"), "{src}");
    d.shot("03-establishment").await;
    // filter the machines by rule
    let id = d.find("#rule").await;
    d.cmd(
        "POST",
        &format!("/element/{id}/value"),
        json!({"text": "ms17-010-missing"}),
    )
    .await;
    d.click("form.filter button").await;
    d.wait_url("rule=ms17-010-missing").await;
    d.shot("04-filtered").await;
    // establishment → machine
    let hosts = d.attr_all("table.data a[href^='/hosts/']", "href").await;
    assert!(!hosts.is_empty(), "a machine link");
    // machines are linked by their opaque ids, never their numbers
    for h in &hosts {
        let id = h.rsplit('/').next().unwrap_or_default();
        assert!(
            id.len() == vigie_auth::HOST_ID_LEN && id.parse::<u64>().is_err(),
            "{h}"
        );
    }
    d.go(&hosts[0]).await;
    let src = d.source().await;
    assert!(src.contains("Findings") && src.contains("evidence"));
    d.shot("05-machine").await;
    // export: the CSV link of the establishment, fetched with the session
    d.go(&format!("{base}/establishments/CHULILLE")).await;
    let links = d.attr_all(".exports a", "href").await;
    let csv = links
        .iter()
        .find(|l| l.contains("format=csv") && l.contains("hosts"))
        .unwrap();
    let session = d.cookie("vigie_session").await;
    let body = reqwest::Client::new()
        .get(csv)
        .header("cookie", format!("vigie_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.starts_with("id,") && body.contains("lil-pc01"),
        "{body}"
    );
    assert!(!body.contains("aph-pc01"));
    // sign out
    d.click("header form button").await;
    d.wait_url("/login").await;
    d.go(&format!("{base}/establishments/CHULILLE")).await;
    assert!(d.url().await.contains("/login"), "signed out for good");

    // the establishment officer
    login(&d, &base, "rssi-lille").await;
    // an officer lands on their establishment
    d.wait_url("/establishments/CHULILLE").await;
    d.shot("06-officer-home").await;
    d.go(&format!("{base}/establishments/APHP")).await;
    let src = d.source().await;
    assert!(
        src.contains("not found") && !src.contains("aph-pc"),
        "{src}"
    );
    d.shot("07-officer-refused").await;
    d.go(&format!("{base}/regions/NORD")).await;
    assert!(d.source().await.contains("not found"));
    d.cmd("DELETE", "", json!({})).await;
}
