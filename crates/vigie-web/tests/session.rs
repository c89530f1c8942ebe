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
