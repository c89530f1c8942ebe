//! Sessions end to end on a real server: login with the double-submit CSRF
//! form, cookie flags, pages and API with the cookie, CSRF on logout,
//! login rate limiting, security headers, body limits, and the OpenAPI
//! document against its snapshot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use std::sync::Arc;
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};
use vigie_store::{NewUser, SqlStore, Store};
use vigie_web::WebConfig;

struct Server {
    base: String,
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

async fn server(cfg: WebConfig) -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&format!("sqlite://{}", dir.path().join("s.db").display()))
            .await
            .unwrap(),
    );
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
                hostname_patterns: vec![],
                subnets: vec![],
            }],
        )
        .await
        .unwrap();
    store
        .create_user(&NewUser {
            username: "alice".into(),
            password_hash: vigie_auth::hash_password("correct horse battery").unwrap(),
            role: "national-analyst".into(),
            region: None,
            establishment: None,
            created_at: jiff::Timestamp::now(),
        })
        .await
        .unwrap();
    let state = vigie_web::setup::default_state(store.clone(), cfg)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = vigie_web::serve(listener, state, std::future::pending()).await;
    });
    Server {
        base,
        store,
        _dir: dir,
    }
}

fn client() -> reqwest::Client {
    // no connection reuse: a server that refuses an oversized body closes
    // the connection without reading it
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<(String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v.split(';').next().unwrap()[name.len() + 1..].to_string();
            (value, v.to_string())
        })
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html.find(&marker).unwrap() + marker.len();
    html[i..].split('"').next().unwrap().to_string()
}

async fn login(s: &Server, c: &reqwest::Client, user: &str, pass: &str) -> reqwest::Response {
    let page = c.get(format!("{}/login", s.base)).send().await.unwrap();
    let (pre, _) = cookie(page.headers(), "vigie_login_csrf").unwrap();
    let html = page.text().await.unwrap();
    let csrf = hidden(&html, "csrf");
    assert_eq!(pre, csrf, "double submit: the cookie and the field match");
    c.post(format!("{}/login", s.base))
        .header("cookie", format!("vigie_login_csrf={pre}"))
        .form(&[
            ("username", user),
            ("password", pass),
            ("csrf", csrf.as_str()),
            ("next", "/rules"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_browse_logout() {
    let s = server(WebConfig::default()).await;
    let c = client();
    // not signed in: pages redirect to the login page, the API says 401
    let r = c.get(format!("{}/rules", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login?next=/rules");
    let r = c.get(format!("{}/api/v1/me", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");

    // a wrong password, then the right one (the name's case does not matter)
    let r = login(&s, &c, "alice", "wrong password!!").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?failed=1")
    );
    assert!(cookie(r.headers(), "vigie_session").is_none());
    let r = login(&s, &c, "Alice", "correct horse battery").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/rules");
    let (session, raw) = cookie(r.headers(), "vigie_session").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(raw.contains(flag), "{flag} missing from {raw}");
    }
    // the session opens pages and the API
    let with = |path: &str| {
        c.get(format!("{}{path}", s.base))
            .header("cookie", format!("vigie_session={session}"))
            .send()
    };
    let r = with("/rules").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let headers = r.headers().clone();
    let html = r.text().await.unwrap();
    assert!(html.contains("os-eol") && html.contains("alice"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.contains_key("strict-transport-security"));
    assert!(!html.contains("<script"), "no script on the pages");
    let me: serde_json::Value = with("/api/v1/me").await.unwrap().json().await.unwrap();
    assert_eq!(me["role"], "national-analyst");
    assert_eq!(me["name"], "alice");
    // an analyst is not an administrator
    assert_eq!(
        with("/admin/audit").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // logout needs the session's CSRF token
    let csrf = hidden(&html, "csrf");
    let r = c
        .post(format!("{}/logout", s.base))
        .header("cookie", format!("vigie_session={session}"))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(with("/api/v1/me").await.unwrap().status(), StatusCode::OK);
    let r = c
        .post(format!("{}/logout", s.base))
        .header("cookie", format!("vigie_session={session}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        with("/api/v1/me").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // a login form without its cookie (cross-site) is refused
    let r = c
        .post(format!("{}/login", s.base))
        .form(&[
            ("username", "alice"),
            ("password", "correct horse battery"),
            ("csrf", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // the audit log has the logins and the logout
    let entries = s
        .store
        .audit(&vigie_store::AuditFilter::default())
        .await
        .unwrap();
    let actions: Vec<(String, String)> = entries
        .iter()
        .map(|e| (e.action.clone(), e.outcome.clone()))
        .collect();
    assert!(
        actions.contains(&("login".into(), "failed".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("login".into(), "ok".into())),
        "{actions:?}"
    );
    assert!(
        actions.contains(&("logout".into(), "ok".into())),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_rate_limited() {
    let s = server(WebConfig {
        login_attempts: 3,
        ..WebConfig::default()
    })
    .await;
    let c = client();
    for _ in 0..3 {
        let r = login(&s, &c, "alice", "not the password").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    // now even the right password waits
    let r = login(&s, &c, "alice", "correct horse battery").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(cookie(r.headers(), "vigie_session").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_limited() {
    let s = server(WebConfig {
        max_ingest_bytes: 1024,
        ..WebConfig::default()
    })
    .await;
    let c = client();
    let big = "x".repeat(200 * 1024);
    let r = c
        .post(format!("{}/login", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let t = vigie_auth::new_api_token().unwrap();
    s.store
        .create_token(&vigie_store::NewApiToken {
            name: "agent".into(),
            prefix: t.prefix.clone(),
            token_hash: t.hash.clone(),
            role: "ingest".into(),
            region: None,
            establishment: Some(EstablishmentCode::new("EST1").unwrap()),
            created_by: "test".into(),
            created_at: jiff::Timestamp::now(),
            expires_at: None,
        })
        .await
        .unwrap();
    let r = c
        .post(format!("{}/api/v1/ingest/EST1", s.base))
        .bearer_auth(&t.secret)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // a revoked token is refused
    s.store
        .revoke_token(&t.prefix, jiff::Timestamp::now())
        .await
        .unwrap();
    let r = c
        .post(format!("{}/api/v1/ingest/EST1", s.base))
        .bearer_auth(&t.secret)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn openapi_matches_its_snapshot() {
    let doc = serde_json::to_string_pretty(&vigie_web::openapi::build()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi.json");
    if std::env::var("VIGIE_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &doc).unwrap();
    }
    let snapshot = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        snapshot == doc,
        "the OpenAPI document changed: review it and run with VIGIE_UPDATE_SNAPSHOTS=1 to accept"
    );
    // every API route of the table is documented
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    for r in vigie_web::ROUTES
        .iter()
        .filter(|r| r.kind == vigie_web::Kind::Api)
    {
        assert!(
            v["paths"][r.path][r.method.to_ascii_lowercase()].is_object(),
            "{} {} undocumented",
            r.method,
            r.path
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_screen() {
    let s = server(WebConfig::default()).await;
    // two watched services, one of them down
    s.store
        .upsert_watch_targets(&[
            vigie_store::WatchTargetInput {
                name: "portal".into(),
                url: "https://portal.example/".into(),
                establishment: Some(EstablishmentCode::new("EST1").unwrap()),
                options: "{}".into(),
            },
            vigie_store::WatchTargetInput {
                name: "booking".into(),
                url: "https://booking.example/".into(),
                establishment: Some(EstablishmentCode::new("EST1").unwrap()),
                options: "{}".into(),
            },
        ])
        .await
        .unwrap();
    let targets = s
        .store
        .watch_targets(&vigie_store::Scope::National, false)
        .await
        .unwrap();
    let now = jiff::Timestamp::now().as_second();
    let states: Vec<(i64, vigie_store::WatchStateRecord)> = targets
        .iter()
        .map(|t| {
            (
                t.id,
                vigie_store::WatchStateRecord {
                    status: if t.name == "portal" { "down" } else { "up" }.into(),
                    since: now,
                    updated_at: now,
                    data: "{}".into(),
                },
            )
        })
        .collect();
    s.store.save_watch_states(&states).await.unwrap();

    let c = client();
    let r = login(&s, &c, "alice", "correct horse battery").await;
    let (value, _) = cookie(r.headers(), "vigie_session").unwrap();
    let session = format!("vigie_session={value}");
    let get = |path: &'static str| {
        let c = c.clone();
        let url = format!("{}{path}", s.base);
        let session = session.clone();
        async move {
            let r = c.get(url).header("cookie", session).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            r.text().await.unwrap()
        }
    };
    let normal = get("/").await;
    assert!(
        normal.contains("href=\"/?wall=1\""),
        "a link to the wall screen"
    );
    assert!(!normal.contains("http-equiv=\"refresh\""));
    assert!(normal.contains("Ranked by risk"));
    assert!(
        normal.contains("1 up, 1 down, 0 defaced, of 2 watched"),
        "{normal}"
    );
    let wall = get("/?wall=1").await;
    assert!(wall.contains("<body class=\"wall\">"));
    assert!(wall.contains("<meta http-equiv=\"refresh\" content=\"60\">"));
    assert!(!wall.contains("Ranked by risk"), "no table on the wall");
    assert!(wall.contains("leave the wall screen"));
    assert!(
        wall.contains("50.0 %") && wall.contains("1 need attention"),
        "{wall}"
    );
    // any other value is the ordinary page
    assert!(!get("/?wall=0").await.contains("class=\"wall\""));
}

/// A token of this role for the test server.
async fn token(s: &Server, name: &str, role: &str, establishment: Option<&str>) -> String {
    let t = vigie_auth::new_api_token().unwrap();
    s.store
        .create_token(&vigie_store::NewApiToken {
            name: name.into(),
            prefix: t.prefix.clone(),
            token_hash: t.hash.clone(),
            role: role.into(),
            region: None,
            establishment: establishment.map(|e| EstablishmentCode::new(e).unwrap()),
            created_by: "test".into(),
            created_at: jiff::Timestamp::now(),
            expires_at: None,
        })
        .await
        .unwrap();
    t.secret
}

/// How a spreadsheet splits a CSV line on `sep` (quotes kept, separators
/// inside quotes ignored).
fn spreadsheet_cells(line: &str, sep: char) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if c == sep && !quoted {
            cells.push(String::new());
        } else {
            cells.last_mut().unwrap().push(c);
        }
    }
    cells
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_exports_cannot_run_formulas() {
    let s = server(WebConfig::default()).await;
    let agent = token(&s, "agent", "ingest", Some("EST1")).await;
    let reader = token(&s, "reader", "national-analyst", None).await;
    let c = client();
    // host names as an inventory may carry them
    let evil = [
        "PC7;=1+1;",
        "=HYPERLINK(\"http://x.example\",\"a\")",
        "-2+3;@SUM(A1)",
        "PC8,+1",
    ];
    let mut inventory = String::from(
        "\"Computer Name\",\"Serial Number\",\"Operating System\",\"OS Version\",\"Build Number\",\"IP Addresses\",\"Installed KBs\",\"Last Hardware Scan\"\n",
    );
    for (i, name) in evil.iter().enumerate() {
        inventory.push_str(&format!(
            "\"{}\",\"SNX{i}\",\"Microsoft Windows 7 Professional\",\"6.1.7601\",\"7601\",\"10.9.0.{i}\",\"\",\"1/31/2024 10:00:00 AM\"\n",
            name.replace('"', "\"\"")
        ));
    }
    let r = c
        .post(format!("{}/api/v1/ingest/EST1?format=csv", s.base))
        .bearer_auth(&agent)
        .body(inventory)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = c
        .get(format!("{}/api/v1/hosts?format=csv", s.base))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + evil.len(), "{csv}");
    let columns = lines[0].split(',').count();
    for sep in [';', ','] {
        for line in &lines[1..] {
            let cells = spreadsheet_cells(line, sep);
            if sep == ',' {
                assert_eq!(cells.len(), columns, "{line}");
            }
            for cell in &cells {
                let shown = cell.strip_prefix('"').unwrap_or(cell);
                assert!(
                    !shown.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{cell:?} of {line:?} split on {sep:?} is a formula"
                );
            }
        }
    }
    // the names are all there, whole
    assert!(csv.contains("\"PC7;=1+1;\""), "{csv}");
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://x.example\"\",\"\"a\"\")\""),
        "{csv}"
    );
    assert!(csv.contains("\"'-2+3;@SUM(A1)\""), "{csv}");
    assert!(csv.contains("\"PC8,+1\""), "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_does_not_reset_the_address_limit() {
    let s = server(WebConfig {
        login_attempts: 3,
        ..WebConfig::default()
    })
    .await;
    s.store
        .create_user(&NewUser {
            username: "bob".into(),
            password_hash: vigie_auth::hash_password("bob's long passphrase").unwrap(),
            role: "national-analyst".into(),
            region: None,
            establishment: None,
            created_at: jiff::Timestamp::now(),
        })
        .await
        .unwrap();
    let c = client();
    // people signing in from one address never block it by succeeding
    for _ in 0..4 {
        let r = login(&s, &c, "alice", "correct horse battery").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(cookie(r.headers(), "vigie_session").is_some());
    }
    // password spraying from one address: one guess per account, with the
    // attacker's own good password between the guesses
    for user in ["carol", "dave"] {
        let r = login(&s, &c, user, "Winter2026!!!").await;
        assert!(cookie(r.headers(), "vigie_session").is_none());
    }
    let r = login(&s, &c, "alice", "correct horse battery").await;
    assert!(cookie(r.headers(), "vigie_session").is_some());
    let r = login(&s, &c, "erin", "Winter2026!!!").await;
    assert!(cookie(r.headers(), "vigie_session").is_none());
    // three failures from this address: even bob's right password waits
    let r = login(&s, &c, "bob", "bob's long passphrase").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(cookie(r.headers(), "vigie_session").is_none());
}

/// An answer in the one error format, with this status and code.
async fn check_error(r: reqwest::Response, status: StatusCode, code: &str, what: &str) {
    assert_eq!(r.status(), status, "{what}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("application/json"), "{what}: {ct}");
    let body: serde_json::Value = r.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error"], "{what}: {body}");
    let error = body["error"].as_object().unwrap();
    let mut keys: Vec<&String> = error.keys().collect();
    keys.sort();
    assert_eq!(keys, ["code", "message"], "{what}: {body}");
    assert_eq!(error["code"], code, "{what}: {body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_the_documented_shape() {
    let s = server(WebConfig::default()).await;
    let admin = token(&s, "admin", "national-admin", None).await;
    let c = client();
    let get = |path: &str| {
        c.get(format!("{}{path}", s.base))
            .bearer_auth(&admin)
            .send()
    };
    // query strings: out of range, not a number, empty
    for (path, status, code) in [
        (
            "/api/v1/hosts?page=9223372036854775807",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/hosts?page=18446744073709551616",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/hosts?page=",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/hosts?page=0",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/hosts?page=-1",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/regions?page=1000000001",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/regions?per_page=1001",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/regions?per_page=ten",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/posture?format=xml",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("/api/v1/hosts/abc", StatusCode::NOT_FOUND, "not_found"),
        ("/api/v1/no-such-thing", StatusCode::NOT_FOUND, "not_found"),
    ] {
        check_error(get(path).await.unwrap(), status, code, path).await;
    }
    // the last page there is answers (empty), it is not an error
    let r = get("/api/v1/hosts?page=1000000000&per_page=1000")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // a method a path does not take
    let r = c
        .delete(format!("{}/api/v1/hosts", s.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("allow"));
    check_error(
        r,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "DELETE",
    )
    .await;
    // bodies: too large, malformed, of the wrong type
    let post = |path: &str, body: String| {
        c.post(format!("{}{path}", s.base))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let big = format!(
        "{{\"username\": \"big\", \"role\": \"national-admin\", \"padding\": \"{}\"}}",
        "x".repeat(100 * 1024)
    );
    check_error(
        post("/api/v1/users", big).await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "a body over 64 KiB",
    )
    .await;
    for (path, body) in [
        ("/api/v1/users", "{"),
        ("/api/v1/users", "[1, 2]"),
        ("/api/v1/users", "{\"username\": 3, \"role\": \"x\"}"),
        ("/api/v1/users/alice/password", "{\"password\": "),
        (
            "/api/v1/tokens",
            "{\"name\": \"t\", \"role\": \"ingest\", \"expires_days\": -1}",
        ),
    ] {
        check_error(
            post(path, body.into()).await.unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
            &format!("{path} {body}"),
        )
        .await;
    }

    // pages: a client asking for JSON gets the same format; a browser a page
    let r = login(&s, &c, "alice", "correct horse battery").await;
    let (session, _) = cookie(r.headers(), "vigie_session").unwrap();
    let session = format!("vigie_session={session}");
    let logout = |body: Option<&'static str>, json: bool| {
        let mut rb = c
            .post(format!("{}/logout", s.base))
            .header("cookie", session.clone());
        if json {
            rb = rb.header("accept", "application/json");
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/x-www-form-urlencoded")
                .body(b);
        }
        rb.send()
    };
    for body in [Some(""), Some("other=1"), None] {
        let what = format!("POST /logout with {body:?}");
        check_error(
            logout(body, true).await.unwrap(),
            StatusCode::FORBIDDEN,
            "csrf_failed",
            &what,
        )
        .await;
        let r = logout(body, false).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Form expired") && html.contains("csrf_failed"),
            "{html}"
        );
    }
    // still signed in: nothing was done without the token
    let r = c
        .get(format!("{}/api/v1/me", s.base))
        .header("cookie", session.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // a form that is not one, a form too large
    let r = c
        .post(format!("{}/login", s.base))
        .header("accept", "application/json")
        .body("username=alice")
        .send()
        .await
        .unwrap();
    check_error(
        r,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "a login without its content type",
    )
    .await;
    let r = c
        .post(format!("{}/login", s.base))
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("x".repeat(100 * 1024))
        .send()
        .await
        .unwrap();
    check_error(
        r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "a login form over 64 KiB",
    )
    .await;
    let r = c
        .post(format!("{}/login", s.base))
        .header("accept", "application/json")
        .form(&[("username", "alice"), ("password", "correct horse battery")])
        .send()
        .await
        .unwrap();
    check_error(
        r,
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "a login form without its CSRF field",
    )
    .await;
}
