//! User and token administration end to end on a real server: the pages'
//! forms (signed in with a cookie, CSRF double-submitted with the session)
//! and the API (Bearer tokens, or a session with `X-CSRF-Token`). An
//! administrator creates an officer who then sees only their perimeter,
//! disables them (their open session stops at once), sets passwords, makes
//! and revokes tokens whose secret is shown once; everyone else is refused
//! and every change is in the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, SET_COOKIE};
use std::sync::Arc;
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};
use vigie_store::{AuditEntry, AuditFilter, NewApiToken, NewUser, SqlStore, Store};
use vigie_web::WebConfig;

const ADMIN: &str = "root-admin";
const ADMIN_PW: &str = "correct horse battery";

struct Server {
    base: String,
    store: Arc<dyn Store>,
    /// A national administrator's API token.
    admin_token: String,
    c: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn est(code: &str, region: &str) -> Establishment {
    Establishment {
        code: EstablishmentCode::new(code).unwrap(),
        name: format!("{code} Hospital"),
        kind: EstablishmentKind::Acute,
        region: RegionCode::new(region).unwrap(),
        parent: None,
        hostname_patterns: vec![],
        subnets: vec![],
    }
}

async fn server() -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&format!("sqlite://{}", dir.path().join("a.db").display()))
            .await
            .unwrap(),
    );
    store
        .import_org(
            &[
                Region {
                    code: RegionCode::new("REG1").unwrap(),
                    name: "Region One".into(),
                },
                Region {
                    code: RegionCode::new("REG2").unwrap(),
                    name: "Region Two".into(),
                },
            ],
            &[est("EST1", "REG1"), est("EST2", "REG2")],
        )
        .await
        .unwrap();
    store
        .create_user(&NewUser {
            username: ADMIN.into(),
            password_hash: vigie_auth::hash_password(ADMIN_PW).unwrap(),
            role: "national-admin".into(),
            region: None,
            establishment: None,
            created_at: jiff::Timestamp::now(),
        })
        .await
        .unwrap();
    let t = vigie_auth::new_api_token().unwrap();
    store
        .create_token(&NewApiToken {
            name: "admin-script".into(),
            prefix: t.prefix.clone(),
            token_hash: t.hash.clone(),
            role: "national-admin".into(),
            region: None,
            establishment: None,
            created_by: "test".into(),
            created_at: jiff::Timestamp::now(),
            expires_at: None,
        })
        .await
        .unwrap();
    let state = vigie_web::setup::default_state(
        store.clone(),
        WebConfig {
            secure_cookies: false,
            ..WebConfig::default()
        },
    )
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
        admin_token: t.secret,
        c: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap()[name.len() + 1..].to_string())
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let i = html.find(&marker).unwrap() + marker.len();
    html[i..].split('"').next().unwrap().to_string()
}

/// The value shown once on a form's answer.
fn shown_once(html: &str) -> String {
    let marker = "<code class=\"secret\">";
    let i = html
        .find(marker)
        .unwrap_or_else(|| panic!("nothing shown once in {html}"))
        + marker.len();
    html[i..].split('<').next().unwrap().to_string()
}

/// A signed-in browser: its session cookie and the session's CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

impl Server {
    async fn try_login(&self, user: &str, pass: &str) -> Option<String> {
        let page = self
            .c
            .get(format!("{}/login", self.base))
            .send()
            .await
            .unwrap();
        let pre = cookie(page.headers(), "vigie_login_csrf").unwrap();
        let csrf = hidden(&page.text().await.unwrap(), "csrf");
        let r = self
            .c
            .post(format!("{}/login", self.base))
            .header("cookie", format!("vigie_login_csrf={pre}"))
            .form(&[
                ("username", user),
                ("password", pass),
                ("csrf", csrf.as_str()),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        cookie(r.headers(), "vigie_session")
    }

    async fn login(&self, user: &str, pass: &str) -> Session {
        let cookie = self
            .try_login(user, pass)
            .await
            .unwrap_or_else(|| panic!("{user} could not sign in"));
        let (s, html) = self.get(&cookie, "/rules").await;
        assert_eq!(s, StatusCode::OK, "{html}");
        Session {
            csrf: hidden(&html, "csrf"),
            cookie,
        }
    }

    async fn get(&self, session: &str, path: &str) -> (StatusCode, String) {
        let r = self
            .c
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("vigie_session={session}"))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// A form posted with the session (and its CSRF token unless `None`).
    async fn post_form(
        &self,
        s: &Session,
        path: &str,
        csrf: Option<&str>,
        fields: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        if let Some(c) = csrf {
            form.push(("csrf", c));
        }
        let r = self
            .c
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("vigie_session={}", s.cookie))
            .form(&form)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// The API with a Bearer token.
    async fn api(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let url = format!("{}{path}", self.base);
        let mut rb = if method == "POST" {
            self.c.post(&url)
        } else {
            self.c.get(&url)
        };
        rb = rb.bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    async fn audit(&self, action: &str) -> Vec<AuditEntry> {
        self.store
            .audit(&AuditFilter {
                action: Some(action.into()),
                limit: 1000,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
    }

    async fn user(&self, name: &str) -> Option<vigie_store::UserRecord> {
        self.store.user_by_name(name).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_manages_accounts_from_the_pages() {
    let s = server().await;
    let admin = s.login(ADMIN, ADMIN_PW).await;

    // the page and the navigation
    let (st, html) = s.get(&admin.cookie, "/admin/users").await;
    assert_eq!(st, StatusCode::OK, "{html}");
    for needle in [
        "href=\"/admin/users\"",
        "href=\"/admin/tokens\"",
        "action=\"/admin/users\"",
        "root-admin <span class=\"muted\">(you)</span>",
        "Your own account cannot be disabled here.",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    assert!(!html.contains("<script") && !html.contains("style="));
    assert!(!html.contains("$argon2"), "no password hash on the page");

    // without its CSRF token, or with a wrong one, the form changes nothing
    let bob = [
        ("username", "Bob"),
        ("role", "establishment-officer"),
        ("region", ""),
        ("establishment", "est1"),
        ("password", "bob's long passphrase"),
        ("password2", "bob's long passphrase"),
    ];
    for csrf in [None, Some("forged")] {
        let (st, html) = s.post_form(&admin, "/admin/users", csrf, &bob).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{csrf:?}: {html}");
        assert!(s.user("bob").await.is_none());
    }

    // refusals are said on the form, which keeps what was typed (never the
    // password), and write nothing
    let refusals: &[(&[(&str, &str)], &str)] = &[
        (
            &[("username", "bad name"), ("role", "national-analyst")],
            "invalid username",
        ),
        (
            &[
                ("username", "dave"),
                ("role", "establishment-officer"),
                ("establishment", ""),
            ],
            "needs an establishment",
        ),
        (
            &[
                ("username", "dave"),
                ("role", "national-analyst"),
                ("region", "REG1"),
            ],
            "neither a region nor an establishment",
        ),
        (
            &[
                ("username", "dave"),
                ("role", "regional-analyst"),
                ("region", "REG1"),
                ("establishment", "EST1"),
            ],
            "give only a region",
        ),
        (
            &[
                ("username", "dave"),
                ("role", "establishment-officer"),
                ("establishment", "NOPE"),
            ],
            "unknown establishment NOPE",
        ),
        (
            &[
                ("username", "dave"),
                ("role", "regional-analyst"),
                ("region", "QQQ"),
            ],
            "unknown region QQQ",
        ),
        (
            &[
                ("username", "dave"),
                ("role", "ingest"),
                ("establishment", "EST1"),
            ],
            "for API tokens",
        ),
        (
            &[
                ("username", "dave"),
                ("role", "national-analyst"),
                ("password", "short"),
                ("password2", "short"),
            ],
            "at least 12 characters",
        ),
        (
            &[
                ("username", "dave"),
                ("role", "national-analyst"),
                ("password", "a long passphrase 1"),
                ("password2", "a long passphrase 2"),
            ],
            "the two passwords differ",
        ),
        (&[("username", "dave"), ("role", "root")], "unknown role"),
    ];
    for (fields, needle) in refusals {
        let (st, html) = s
            .post_form(&admin, "/admin/users", Some(&admin.csrf), fields)
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{fields:?}: {html}");
        assert!(html.contains(needle), "{fields:?}: {needle} not in {html}");
        assert!(html.contains("class=\"banner error\" role=\"alert\""));
        let name = fields[0].1;
        assert!(
            html.contains(&format!("name=\"username\" value=\"{name}\"")),
            "the form keeps the name: {html}"
        );
        assert!(!html.contains("passphrase"), "a password is never echoed");
    }
    assert_eq!(s.store.users().await.unwrap().len(), 1);

    // an officer, with the password typed by the administrator
    let (st, html) = s
        .post_form(&admin, "/admin/users", Some(&admin.csrf), &bob)
        .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(
        html.contains("User bob created: establishment-officer, establishment EST1."),
        "{html}"
    );
    assert!(!html.contains("code class=\"secret\""), "nothing generated");
    assert!(!html.contains("passphrase"));
    // a second bob, whatever the case, is refused
    let (st, html) = s
        .post_form(
            &admin,
            "/admin/users",
            Some(&admin.csrf),
            &[
                ("username", "BOB"),
                ("role", "national-analyst"),
                ("password", "another passphrase"),
                ("password2", "another passphrase"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(html.contains("already exists"), "{html}");
    assert_eq!(s.user("bob").await.unwrap().role, "establishment-officer");

    // a regional analyst with a generated password, shown once
    let (st, html) = s
        .post_form(
            &admin,
            "/admin/users",
            Some(&admin.csrf),
            &[
                ("username", "carol"),
                ("role", "regional-analyst"),
                ("region", "REG1"),
                ("establishment", ""),
                ("password", ""),
                ("password2", ""),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains("Password of carol"), "{html}");
    let carol_pw = shown_once(&html);
    assert_eq!(carol_pw.len(), 23, "{carol_pw}");
    let (_, again) = s.get(&admin.cookie, "/admin/users").await;
    assert!(!again.contains(&carol_pw), "shown once only");
    let carol = s.login("carol", &carol_pw).await;
    let (_, me) = s.get(&carol.cookie, "/api/v1/me").await;
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    assert_eq!(me["region"], "REG1");

    // the officer signs in and sees their establishment only
    let bob_s = s.login("bob", "bob's long passphrase").await;
    let (_, me) = s.get(&bob_s.cookie, "/api/v1/me").await;
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    assert_eq!(me["role"], "establishment-officer");
    assert_eq!(me["establishment"], "EST1");
    let (st, list) = s.get(&bob_s.cookie, "/api/v1/establishments").await;
    assert_eq!(st, StatusCode::OK);
    assert!(list.contains("EST1") && !list.contains("EST2"), "{list}");
    assert_eq!(
        s.get(&bob_s.cookie, "/establishments/EST2").await.0,
        StatusCode::NOT_FOUND
    );
    // ... and not the administration, nor its links
    let (st, page) = s.get(&bob_s.cookie, "/establishments/EST1").await;
    assert_eq!(st, StatusCode::OK);
    assert!(!page.contains("/admin/users") && !page.contains("/admin/tokens"));
    for path in ["/admin/users", "/admin/tokens", "/api/v1/users"] {
        let (st, body) = s.get(&bob_s.cookie, path).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{path}");
        assert!(!body.contains("carol") && !body.contains(ADMIN), "{body}");
    }
    // a non-administrator's forms, CSRF token and all, change nothing
    let (st, _) = s
        .post_form(
            &bob_s,
            "/admin/users",
            Some(&bob_s.csrf),
            &[
                ("username", "mallory"),
                ("role", "national-admin"),
                ("password", "mallory's passphrase"),
                ("password2", "mallory's passphrase"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(s.user("mallory").await.is_none());
    let (st, _) = s
        .post_form(&bob_s, "/admin/users/carol/disable", Some(&bob_s.csrf), &[])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(!s.user("carol").await.unwrap().is_disabled());

    // an administrator cannot disable their own account
    let (st, html) = s
        .post_form(
            &admin,
            &format!("/admin/users/{ADMIN}/disable"),
            Some(&admin.csrf),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{html}");
    assert!(html.contains("cannot disable your own account"), "{html}");
    assert!(!s.user(ADMIN).await.unwrap().is_disabled());
    assert_eq!(s.get(&admin.cookie, "/admin/users").await.0, StatusCode::OK);

    // disabling bob ends his open session at once
    let (st, html) = s
        .post_form(&admin, "/admin/users/bob/disable", None, &[])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "CSRF first: {html}");
    assert!(!s.user("bob").await.unwrap().is_disabled());
    let (st, html) = s
        .post_form(&admin, "/admin/users/bob/disable", Some(&admin.csrf), &[])
        .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains("User bob disabled"), "{html}");
    assert!(html.contains("action=\"/admin/users/bob/enable\""));
    assert!(s.user("bob").await.unwrap().is_disabled());
    let (st, _) = s.get(&bob_s.cookie, "/api/v1/me").await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let r =
        s.c.get(format!("{}/establishments/EST1", s.base))
            .header("cookie", format!("vigie_session={}", bob_s.cookie))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        s.try_login("bob", "bob's long passphrase").await.is_none(),
        "a disabled account cannot sign in"
    );
    // an unknown account is not found
    let (st, _) = s
        .post_form(
            &admin,
            "/admin/users/nobody/disable",
            Some(&admin.csrf),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // enabled again, then a new (generated) password
    let (st, html) = s
        .post_form(&admin, "/admin/users/bob/enable", Some(&admin.csrf), &[])
        .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    let bob_s = s.login("bob", "bob's long passphrase").await;
    let (st, html) = s
        .post_form(
            &admin,
            "/admin/users/bob/password",
            Some(&admin.csrf),
            &[("password", "x"), ("password2", "x")],
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(html.contains("at least 12 characters"), "{html}");
    let (st, html) = s
        .post_form(
            &admin,
            "/admin/users/bob/password",
            Some(&admin.csrf),
            &[("password", ""), ("password2", "")],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(html.contains("Password of bob set"), "{html}");
    let bob_pw = shown_once(&html);
    assert_eq!(
        s.get(&bob_s.cookie, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED,
        "a new password ends the sessions"
    );
    assert!(s.try_login("bob", "bob's long passphrase").await.is_none());
    s.login("bob", &bob_pw).await;

    // every change is in the audit log: who, what, on whom, from where
    for (action, target, outcome) in [
        ("user.add", "bob", "ok"),
        ("user.add", "carol", "ok"),
        ("user.disable", "bob", "ok"),
        ("user.disable", ADMIN, "denied"),
        ("user.enable", "bob", "ok"),
        ("user.passwd", "bob", "ok"),
    ] {
        let entries = s.audit(action).await;
        assert!(
            entries.iter().any(|e| e.target == target
                && e.outcome == outcome
                && e.actor == format!("user:{ADMIN}")
                && e.ip.as_deref() == Some("127.0.0.1")),
            "{action} {target} {outcome}: {entries:#?}"
        );
    }
    let adds = s.audit("user.add").await;
    assert_eq!(
        adds.len(),
        4,
        "bob, carol and two unknown perimeters: {adds:#?}"
    );
    assert!(
        adds.iter()
            .any(|e| e.outcome == "failed" && e.target == "dave")
    );
    let all =
        serde_json::to_string(&s.store.audit(&AuditFilter::default()).await.unwrap()).unwrap();
    for secret in [carol_pw.as_str(), bob_pw.as_str(), "bob's long passphrase"] {
        assert!(!all.contains(secret), "a password in the audit log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_users_through_the_api() {
    let s = server().await;
    let admin = s.admin_token.clone();

    // a token for an establishment's agent; the secret comes once
    let (st, created) = s
        .api(
            &admin,
            "POST",
            "/api/v1/tokens",
            Some(serde_json::json!({"name": " EST1 agent ", "role": "ingest", "establishment": "est1"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert!(vigie_auth::looks_like_api_token(&secret), "{secret}");
    assert_eq!(created["name"], "EST1 agent");
    assert_eq!(created["establishment"], "EST1");
    assert_eq!(created["state"], "active");
    assert_eq!(created["created_by"], "token:admin-script");
    assert!(created.get("token_hash").is_none());
    // 90 days by default
    let expires: jiff::Timestamp = created["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires.as_second() - jiff::Timestamp::now().as_second()) / 86_400;
    assert!((89..=90).contains(&days), "{days}");
    let id = created["id"].as_i64().unwrap();

    // it works as a Bearer token, with its own grant
    let (st, me) = s.api(&secret, "GET", "/api/v1/me", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["role"], "ingest");
    let (st, _) = s.api(&secret, "GET", "/api/v1/tokens", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);

    // listed without its secret or its hash, as JSON and as CSV
    let hash = vigie_auth::hash_token(&secret);
    let (st, list) = s.api(&admin, "GET", "/api/v1/tokens", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["total"], 2, "{list}");
    let text = list.to_string();
    assert!(text.contains(&secret[..12]), "the prefix is listed");
    assert!(!text.contains(&secret) && !text.contains(&hash), "{text}");
    let (st, csv) = s
        .api(&admin, "GET", "/api/v1/tokens?format=csv", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let csv = csv.as_str().unwrap().to_string();
    assert!(csv.starts_with("id,name,establishment,region,"), "{csv}");
    assert!(!csv.contains(&secret) && !csv.contains(&hash), "{csv}");
    // narrowed to a perimeter
    let (_, est1) = s
        .api(&admin, "GET", "/api/v1/tokens?establishment=EST1", None)
        .await;
    assert_eq!(est1["total"], 1, "{est1}");
    let (_, reg2) = s
        .api(&admin, "GET", "/api/v1/tokens?region=REG2", None)
        .await;
    assert_eq!(reg2["total"], 0, "{reg2}");

    // refused requests create nothing
    for (body, needle) in [
        (
            serde_json::json!({"name": "x", "role": "ingest", "establishment": "EST1", "expires_days": 0}),
            "1 to 3650 days",
        ),
        (
            serde_json::json!({"name": "x", "role": "ingest", "establishment": "EST1", "expires_days": 3651}),
            "1 to 3650 days",
        ),
        (
            serde_json::json!({"name": "", "role": "ingest", "establishment": "EST1"}),
            "name must be 1 to 128",
        ),
        (
            serde_json::json!({"name": "x", "role": "ingest"}),
            "needs an establishment",
        ),
        (
            serde_json::json!({"name": "x", "role": "ingest", "establishment": "NOPE"}),
            "unknown establishment NOPE",
        ),
        (
            serde_json::json!({"name": "x", "role": "ingest", "establishment": "EST1", "secret": "vgt_mine"}),
            "unknown field",
        ),
    ] {
        let (st, e) = s
            .api(&admin, "POST", "/api/v1/tokens", Some(body.clone()))
            .await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert_eq!(e["error"]["code"], "bad_request");
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    assert_eq!(s.store.tokens().await.unwrap().len(), 2);

    // revoked, it opens nothing any more
    let (st, revoked) = s
        .api(&admin, "POST", &format!("/api/v1/tokens/{id}/revoke"), None)
        .await;
    assert_eq!(st, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["state"], "revoked");
    let (st, _) = s.api(&secret, "GET", "/api/v1/me", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = s
        .api(&admin, "POST", "/api/v1/tokens/999999/revoke", None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // users through the API: a generated password comes back once
    let (st, carol) = s
        .api(
            &admin,
            "POST",
            "/api/v1/users",
            Some(serde_json::json!({"username": "carol", "role": "regional-analyst", "region": "REG1"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{carol}");
    let carol_pw = carol["password"].as_str().unwrap().to_string();
    assert_eq!(carol["region"], "REG1");
    assert!(carol.get("password_hash").is_none());
    let (st, bob) = s
        .api(
            &admin,
            "POST",
            "/api/v1/users",
            Some(serde_json::json!({"username": "bob", "role": "establishment-officer", "establishment": "EST1", "password": "bob's long passphrase"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{bob}");
    assert!(bob.get("password").is_none(), "nothing generated: {bob}");
    let (st, e) = s
        .api(
            &admin,
            "POST",
            "/api/v1/users",
            Some(serde_json::json!({"username": "bob", "role": "national-admin", "password": "bob's long passphrase"})),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
    let (st, users) = s.api(&admin, "GET", "/api/v1/users", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(users["total"], 3, "{users}");
    let text = users.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "{text}"
    );
    let (_, reg1) = s
        .api(&admin, "GET", "/api/v1/users?region=REG1", None)
        .await;
    let names: Vec<&str> = reg1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "carol"], "a region's analysts and officers");
    let (st, csv) = s.api(&admin, "GET", "/api/v1/users?format=csv", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(!csv.as_str().unwrap().contains("argon2"));
    s.login("carol", &carol_pw).await;

    // disable and enable; a new password
    let (st, u) = s
        .api(&admin, "POST", "/api/v1/users/BOB/disable", None)
        .await;
    assert_eq!(st, StatusCode::OK, "{u}");
    assert_eq!(u["disabled"], true);
    assert!(s.try_login("bob", "bob's long passphrase").await.is_none());
    let (st, u) = s
        .api(&admin, "POST", "/api/v1/users/bob/enable", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(u["disabled"], false);
    let (st, p) = s
        .api(
            &admin,
            "POST",
            "/api/v1/users/bob/password",
            Some(serde_json::json!({"password": "bob's new passphrase"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{p}");
    assert!(p.get("password").is_none());
    s.login("bob", "bob's new passphrase").await;
    for path in [
        "/api/v1/users/nobody/disable",
        "/api/v1/users/nobody/enable",
        "/api/v1/users/nobody/password",
        "/api/v1/users/bad%20name/disable",
    ] {
        let (st, e) = s.api(&admin, "POST", path, None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(e["error"]["code"], "not_found");
    }

    // with a session, the API needs the session's CSRF token in a header,
    // and an administrator cannot disable their own account
    let session = s.login(ADMIN, ADMIN_PW).await;
    let post = |path: &str, csrf: Option<&str>, body: serde_json::Value| {
        let mut rb =
            s.c.post(format!("{}{path}", s.base))
                .header("cookie", format!("vigie_session={}", session.cookie))
                .json(&body);
        if let Some(c) = csrf {
            rb = rb.header("x-csrf-token", c);
        }
        rb.send()
    };
    let dave = serde_json::json!({"username": "dave", "role": "national-analyst", "password": "dave's long passphrase"});
    let r = post("/api/v1/users", None, dave.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "csrf_failed");
    assert!(s.user("dave").await.is_none());
    let r = post("/api/v1/users", Some(&session.csrf), dave)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = post(
        &format!("/api/v1/users/{ADMIN}/disable"),
        Some(&session.csrf),
        serde_json::json!({}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], "forbidden");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("your own account")
    );
    assert!(!s.user(ADMIN).await.unwrap().is_disabled());

    // the audit log names the token that did it
    for (action, target) in [
        ("token.create", &secret[..12]),
        ("token.revoke", &secret[..12]),
        ("user.add", "carol"),
        ("user.disable", "bob"),
        ("user.enable", "bob"),
        ("user.passwd", "bob"),
    ] {
        let entries = s.audit(action).await;
        assert!(
            entries.iter().any(|e| e.target == target
                && e.outcome == "ok"
                && e.actor == "token:admin-script"
                && e.ip.as_deref() == Some("127.0.0.1")),
            "{action} {target}: {entries:#?}"
        );
    }
    assert!(
        s.audit("user.add")
            .await
            .iter()
            .any(|e| e.target == "dave" && e.actor == format!("user:{ADMIN}"))
    );
    let all =
        serde_json::to_string(&s.store.audit(&AuditFilter::default()).await.unwrap()).unwrap();
    assert!(!all.contains(&secret) && !all.contains(&carol_pw));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_the_page_show_their_secret_once() {
    let s = server().await;
    let admin = s.login(ADMIN, ADMIN_PW).await;
    let (st, html) = s.get(&admin.cookie, "/admin/tokens").await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("action=\"/admin/tokens\""));
    assert!(html.contains("value=\"90\""), "the default lifetime");

    let fields = [
        ("name", "EST1 GLPI export"),
        ("role", "ingest"),
        ("region", ""),
        ("establishment", "EST1"),
        ("expires_days", "30"),
    ];
    let (st, _) = s.post_form(&admin, "/admin/tokens", None, &fields).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(s.store.tokens().await.unwrap().len(), 1);
    let (st, html) = s
        .post_form(
            &admin,
            "/admin/tokens",
            Some(&admin.csrf),
            &[
                ("name", "too long"),
                ("role", "ingest"),
                ("establishment", "EST1"),
                ("expires_days", "9999"),
            ],
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(html.contains("1 to 3650 days"), "{html}");
    assert!(html.contains("value=\"9999\""), "the form keeps the value");

    let (st, html) = s
        .post_form(&admin, "/admin/tokens", Some(&admin.csrf), &fields)
        .await;
    assert_eq!(st, StatusCode::OK, "{html}");
    let secret = shown_once(&html);
    assert!(vigie_auth::looks_like_api_token(&secret), "{secret}");
    assert_eq!(html.matches(&secret).count(), 1, "shown exactly once");
    assert!(html.contains("This is the only time the token"), "{html}");
    let (st, me) = s.api(&secret, "GET", "/api/v1/me", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(me["establishment"], "EST1");
    // the list shows its prefix, never its secret
    let (_, list) = s.get(&admin.cookie, "/admin/tokens").await;
    assert!(list.contains(&secret[..12]) && !list.contains(&secret));
    assert!(!list.contains(&vigie_auth::hash_token(&secret)));
    let record = s
        .store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.prefix == secret[..12])
        .unwrap();
    assert_eq!(record.created_by, format!("user:{ADMIN}"));
    let days = (record.expires_at.unwrap().as_second() - record.created_at.as_second()) / 86_400;
    assert_eq!(days, 30);

    // revoked from the page
    let path = format!("/admin/tokens/{}/revoke", record.id);
    let (st, _) = s.post_form(&admin, &path, Some("forged"), &[]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = s.api(&secret, "GET", "/api/v1/me", None).await;
    assert_eq!(st, StatusCode::OK, "a forged form revokes nothing");
    let (st, html) = s.post_form(&admin, &path, Some(&admin.csrf), &[]).await;
    assert_eq!(st, StatusCode::OK, "{html}");
    assert!(
        html.contains("revoked: it no longer opens anything"),
        "{html}"
    );
    let (st, _) = s.api(&secret, "GET", "/api/v1/me", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let entries = s.audit("token.revoke").await;
    assert!(
        entries
            .iter()
            .any(|e| e.target == secret[..12] && e.actor == format!("user:{ADMIN}")),
        "{entries:#?}"
    );
}
