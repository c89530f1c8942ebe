//! The authorization matrix: every route of the route table × every role ×
//! own, another and a non-existent perimeter, over a real server on
//! loopback. Zero leaks: a caller never receives an identifier of an
//! establishment outside its perimeter (lists, counts, charts, exports and
//! error messages included), and "outside" reads exactly like "does not
//! exist". The test walks `ROUTES`, so a new route cannot escape it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use std::sync::Arc;
use vigie_core::{Establishment, EstablishmentCode, EstablishmentKind, Region, RegionCode};
use vigie_store::{NewApiToken, NewUser, SqlStore, Store, WatchTargetInput};
use vigie_web::{Access, Kind, ROUTES, RouteId, Subject, WebConfig};

/// Distinctive names: each appears nowhere but in its own perimeter's data.
struct Org;
impl Org {
    const REG_A: &'static str = "QREGA";
    const REG_B: &'static str = "QREGB";
    const A1: &'static str = "QESTA1";
    const A2: &'static str = "QESTA2";
    const B1: &'static str = "QESTB1";
}

fn markers(est: &str) -> Vec<String> {
    let lower = est.to_lowercase();
    vec![
        est.to_string(),
        format!("host-{lower}-"),
        format!("{est} Hospital"),
        format!("www.{lower}.example"),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Nobody,
    Admin,
    Analyst,
    Regional,
    Officer,
    Ingest,
}

const EVERYONE: [Who; 6] = [
    Who::Nobody,
    Who::Admin,
    Who::Analyst,
    Who::Regional,
    Who::Officer,
    Who::Ingest,
];

impl Who {
    /// Establishments this caller may read.
    fn reads(self) -> &'static [&'static str] {
        match self {
            Who::Admin | Who::Analyst => &[Org::A1, Org::A2, Org::B1],
            Who::Regional => &[Org::A1, Org::A2],
            Who::Officer => &[Org::A1],
            Who::Ingest | Who::Nobody => &[],
        }
    }
    fn reads_region(self, r: &str) -> bool {
        if r != Org::REG_A && r != Org::REG_B {
            return false;
        }
        match self {
            Who::Admin | Who::Analyst => true,
            Who::Regional => r == Org::REG_A,
            _ => false,
        }
    }
    fn may_ingest(self, est: &str) -> bool {
        match self {
            Who::Admin => true,
            Who::Officer | Who::Ingest => est == Org::A1,
            _ => false,
        }
    }
    /// Markers that must never appear in anything this caller receives
    /// (an ingest token reads nothing but knows its own establishment).
    fn forbidden(self) -> Vec<String> {
        let mut v = Vec::new();
        if !matches!(self, Who::Admin | Who::Analyst) {
            // the other region, and machines no establishment claims
            v.extend([Org::REG_B.to_string(), "Region Bravo".to_string()]);
            v.push("host-unassigned-".to_string());
        }
        for e in [Org::A1, Org::A2, Org::B1] {
            let own_ingest = self == Who::Ingest && e == Org::A1;
            if !(self.reads().contains(&e) || own_ingest) {
                v.extend(markers(e));
            }
        }
        v
    }
}

struct World {
    base: String,
    store: Arc<dyn Store>,
    tokens: Vec<(Who, String)>,
    /// One machine's opaque id per establishment, as the API lists it.
    hosts: Vec<(String, String)>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn est(code: &str, region: &str) -> Establishment {
    Establishment {
        code: EstablishmentCode::new(code).unwrap(),
        name: format!("{code} Hospital"),
        kind: EstablishmentKind::Acute,
        region: RegionCode::new(region).unwrap(),
        parent: None,
        hostname_patterns: vec![format!("host-{}-*", code.to_lowercase())],
        subnets: Vec::new(),
    }
}

fn inventory(est: &str) -> String {
    let l = est.to_lowercase();
    format!(
        "\"Computer Name\",\"Serial Number\",\"Operating System\",\"OS Version\",\"Build Number\",\"IP Addresses\",\"Installed KBs\",\"Last Hardware Scan\"\n\
         \"host-{l}-01\",\"SN{est}01\",\"Microsoft Windows 7 Professional\",\"6.1.7601\",\"7601\",\"10.1.2.42\",\"KB976902\",\"1/31/2024 10:00:00 AM\"\n\
         \"host-{l}-02\",\"SN{est}02\",\"Microsoft Windows 10 Enterprise\",\"10.0.19045.3803\",\"19045\",\"10.1.2.43\",\"KB5034122\",\"1/31/2024 11:00:00 AM\"\n"
    )
}

async fn world() -> World {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqlStore::connect(&format!("sqlite://{}", dir.path().join("w.db").display()))
            .await
            .unwrap(),
    );
    store
        .import_org(
            &[
                Region {
                    code: RegionCode::new(Org::REG_A).unwrap(),
                    name: "Region Alpha".into(),
                },
                Region {
                    code: RegionCode::new(Org::REG_B).unwrap(),
                    name: "Region Bravo".into(),
                },
            ],
            &[
                est(Org::A1, Org::REG_A),
                est(Org::A2, Org::REG_A),
                est(Org::B1, Org::REG_B),
            ],
        )
        .await
        .unwrap();
    let targets: Vec<WatchTargetInput> = [Org::A1, Org::A2, Org::B1]
        .iter()
        .map(|e| WatchTargetInput {
            name: format!("www.{}.example", e.to_lowercase()),
            url: format!("https://www.{}.example/", e.to_lowercase()),
            establishment: Some(EstablishmentCode::new(e).unwrap()),
            options: "{}".into(),
        })
        .collect();
    store.upsert_watch_targets(&targets).await.unwrap();
    let state_for_unassigned = vigie_web::setup::default_state(store.clone(), WebConfig::default())
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
    // one token per caller
    let mut tokens = Vec::new();
    for (who, role, region, est) in [
        (Who::Admin, "national-admin", None, None),
        (Who::Analyst, "national-analyst", None, None),
        (Who::Regional, "regional-analyst", Some(Org::REG_A), None),
        (Who::Officer, "establishment-officer", None, Some(Org::A1)),
        (Who::Ingest, "ingest", None, Some(Org::A1)),
    ] {
        let t = vigie_auth::new_api_token().unwrap();
        store
            .create_token(&NewApiToken {
                name: format!("{who:?}").to_lowercase(),
                prefix: t.prefix.clone(),
                token_hash: t.hash.clone(),
                role: role.into(),
                region: region.map(|r| RegionCode::new(r).unwrap()),
                establishment: est.map(|e| EstablishmentCode::new(e).unwrap()),
                created_by: "test".into(),
                created_at: jiff::Timestamp::now(),
                expires_at: None,
            })
            .await
            .unwrap();
        tokens.push((who, t.secret.clone()));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut w = World {
        base,
        store: store.clone(),
        tokens,
        hosts: Vec::new(),
        client,
        _dir: dir,
    };
    // inventories pushed over HTTP by the administrator
    for e in [Org::A1, Org::A2, Org::B1] {
        let r = w
            .req(
                "POST",
                &format!("/api/v1/ingest/{e}?format=csv"),
                Who::Admin,
                Some(inventory(e)),
            )
            .await;
        assert_eq!(r.0, StatusCode::OK, "ingest {e}: {}", r.1);
    }
    // a machine no establishment claims (seen nationally only)
    {
        let mut p = (state_for_unassigned.pipeline)().await.unwrap();
        let csv = "\"Computer Name\",\"Serial Number\",\"Operating System\",\"OS Version\",\"Build Number\",\"IP Addresses\",\"Installed KBs\",\"Last Hardware Scan\"\n\
                   \"host-unassigned-01\",\"SNUNASSIGNED01\",\"Microsoft Windows 7 Professional\",\"6.1.7601\",\"7601\",\"192.0.2.77\",\"\",\"1/31/2024 10:00:00 AM\"\n";
        p.ingest_reader(
            "unassigned.csv",
            std::io::Cursor::new(csv.as_bytes().to_vec()),
            &vigie_ingest::IngestOptions::default(),
        )
        .await
        .unwrap();
    }
    let all: serde_json::Value = serde_json::from_str(
        &w.req("GET", "/api/v1/hosts?per_page=1000", Who::Admin, None)
            .await
            .1,
    )
    .unwrap();
    for h in all["items"].as_array().unwrap() {
        if h["establishment"].is_null() {
            continue;
        }
        w.hosts.push((
            h["establishment"].as_str().unwrap_or("").to_string(),
            h["id"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(w.hosts.len(), 6, "{all}");
    // the markers are live: national callers do see what others must not
    let all_s = all.to_string();
    assert!(all_s.contains("host-unassigned-") && all_s.contains("host-qestb1-"));
    w
}

impl World {
    fn token(&self, who: Who) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(w, _)| *w == who)
            .map(|(_, t)| t.as_str())
    }

    async fn req(
        &self,
        method: &str,
        path: &str,
        who: Who,
        body: Option<String>,
    ) -> (StatusCode, String) {
        self.send(method, path, who, None, body).await
    }

    /// A request with a body of this content type.
    async fn send(
        &self,
        method: &str,
        path: &str,
        who: Who,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, String) {
        let url = format!("{}{path}", self.base);
        let mut rb = match method {
            "POST" => self.client.post(&url),
            _ => self.client.get(&url),
        };
        if let Some(t) = self.token(who) {
            rb = rb.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            rb = rb.header("content-type", ct);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status();
        (status, r.text().await.unwrap_or_default())
    }

    /// The opaque id of a machine of this establishment.
    fn host_of(&self, est: &str) -> String {
        self.hosts
            .iter()
            .find(|(e, _)| e == est)
            .map(|(_, id)| id.clone())
            .unwrap()
    }

    /// The installation's codec, as the server has it.
    async fn host_ids(&self) -> vigie_auth::HostIds {
        vigie_web::load_host_ids(self.store.as_ref()).await.unwrap()
    }
}

/// Fills a route's path for a subject value.
fn path_for(path: &str, subject: Subject, value: &str) -> String {
    let key = match subject {
        Subject::Region => "{region}",
        Subject::Establishment => "{establishment}",
        Subject::Host => "{host}",
        Subject::Target => "{target}",
        Subject::User => "{user}",
        Subject::Token => "{token}",
        Subject::None => return path.to_string(),
    };
    path.replace(key, value)
}

fn check_no_leak(who: Who, what: &str, body: &str) {
    for m in who.forbidden() {
        assert!(
            !body.contains(&m),
            "{who:?} received {m:?} from {what}:\n{}",
            &body[..body.len().min(2000)]
        );
    }
}

/// What the caller should get on a route for a subject (None: no subject).
fn expected(route: &vigie_web::RouteSpec, who: Who, subject_visible: Option<bool>) -> StatusCode {
    if who == Who::Nobody {
        return match (route.access, route.kind) {
            (Access::Public, _) => StatusCode::OK,
            (_, Kind::Api) => StatusCode::UNAUTHORIZED,
            _ => StatusCode::SEE_OTHER,
        };
    }
    match route.access {
        Access::Public | Access::Authenticated => StatusCode::OK,
        Access::Admin => {
            if who != Who::Admin {
                // refused before anything is looked up
                StatusCode::FORBIDDEN
            } else if subject_visible == Some(false) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            }
        }
        Access::Read => {
            if who == Who::Ingest {
                StatusCode::FORBIDDEN
            } else if subject_visible == Some(false) {
                StatusCode::NOT_FOUND
            } else if who == Who::Officer && route.id == RouteId::OverviewPage {
                // an officer's overview is their establishment's page
                StatusCode::SEE_OTHER
            } else {
                StatusCode::OK
            }
        }
        Access::Ingest => unreachable!("ingest routes are POSTs, tested apart"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_every_role_no_leak() {
    let w = world().await;
    let ids = w.host_ids().await;
    // the number behind the opaque id of a machine everyone who reads sees
    let own_host_number = ids.decode(&w.host_of(Org::A1)).unwrap().to_string();
    let no_such_host = ids.encode(999_999);
    let mut checked = 0usize;
    let mut not_found_bodies: Vec<(String, String)> = Vec::new();
    for route in ROUTES {
        if route.method != "GET" {
            continue;
        }
        for who in EVERYONE {
            // the subject values: own, another's, and one that does not exist
            let cases: Vec<(String, Option<bool>)> = match route.subject {
                Subject::None => vec![(route.path.to_string(), None)],
                Subject::Region => [Org::REG_A, Org::REG_B, "QNOREG"]
                    .iter()
                    .map(|r| {
                        (
                            path_for(route.path, route.subject, r),
                            Some(who.reads_region(r)),
                        )
                    })
                    .collect(),
                Subject::Establishment => [Org::A1, Org::A2, Org::B1, "QNOEST"]
                    .iter()
                    .map(|e| {
                        (
                            path_for(route.path, route.subject, e),
                            Some(who.reads().contains(e)),
                        )
                    })
                    .collect(),
                Subject::Host => [Org::A1, Org::A2, Org::B1]
                    .iter()
                    .map(|e| {
                        (
                            path_for(route.path, route.subject, &w.host_of(e)),
                            Some(who.reads().contains(e)),
                        )
                    })
                    // a machine named otherwise than by its opaque id is
                    // not found, even one the caller reads: its number, the
                    // id in capitals, a number of no machine, and a
                    // well-formed id of no machine
                    .chain(
                        [
                            own_host_number.clone(),
                            w.host_of(Org::A1).to_uppercase(),
                            "999999".to_string(),
                            no_such_host.clone(),
                        ]
                        .into_iter()
                        .map(|v| (path_for(route.path, route.subject, &v), Some(false))),
                    )
                    .collect(),
                // accounts and tokens: an existing one (the administrator
                // may name it) and one that does not exist
                Subject::User => [(MATRIX_USER, true), ("no-such-user", false)]
                    .iter()
                    .map(|(u, exists)| {
                        (
                            path_for(route.path, route.subject, u),
                            Some(who == Who::Admin && *exists),
                        )
                    })
                    .collect(),
                Subject::Token => [("1", true), ("999999", false)]
                    .iter()
                    .map(|(t, exists)| {
                        (
                            path_for(route.path, route.subject, t),
                            Some(who == Who::Admin && *exists),
                        )
                    })
                    .collect(),
                Subject::Target => panic!(
                    "{}: add own/other/missing cases for target routes to this test",
                    route.path
                ),
            };
            for (path, visible) in cases {
                let mut path = path;
                if route.id == RouteId::ApiTrend {
                    path.push_str("?rule=os-eol");
                }
                let (status, body) = w.req("GET", &path, who, None).await;
                let want = expected(route, who, visible);
                assert_eq!(status, want, "{who:?} GET {path}: {body}");
                check_no_leak(who, &path, &body);
                if status == StatusCode::NOT_FOUND && route.kind == Kind::Api {
                    not_found_bodies.push((path.clone(), body.clone()));
                }
                checked += 1;
                // list views: CSV exports and narrowing to another perimeter
                if route.list && status == StatusCode::OK {
                    let sep = if path.contains('?') { '&' } else { '?' };
                    let (s, csv) = w
                        .req("GET", &format!("{path}{sep}format=csv"), who, None)
                        .await;
                    assert_eq!(s, StatusCode::OK, "{who:?} CSV {path}");
                    check_no_leak(who, &format!("{path} as CSV"), &csv);
                    for e in [Org::A1, Org::A2, Org::B1] {
                        let (s, b) = w
                            .req("GET", &format!("{path}{sep}establishment={e}"), who, None)
                            .await;
                        let want = if who.reads().contains(&e) {
                            StatusCode::OK
                        } else {
                            StatusCode::NOT_FOUND
                        };
                        assert_eq!(s, want, "{who:?} {path} narrowed to {e}: {b}");
                        check_no_leak(who, &format!("{path} narrowed to {e}"), &b);
                    }
                    for r in [Org::REG_A, Org::REG_B] {
                        let (s, b) = w
                            .req("GET", &format!("{path}{sep}region={r}"), who, None)
                            .await;
                        let want = if who.reads_region(r) {
                            StatusCode::OK
                        } else {
                            StatusCode::NOT_FOUND
                        };
                        assert_eq!(s, want, "{who:?} {path} narrowed to {r}: {b}");
                        check_no_leak(who, &format!("{path} narrowed to {r}"), &b);
                    }
                    checked += 6;
                }
            }
        }
    }
    // "outside my perimeter" and "does not exist" read the same
    let distinct: std::collections::BTreeSet<&str> =
        not_found_bodies.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(
        distinct.len(),
        1,
        "404 bodies differ: {not_found_bodies:#?}"
    );
    assert!(checked > 400, "only {checked} checks");
}

/// Machines of B1, as the national admin sees them.
async fn b1_total(w: &World) -> u64 {
    let (_, b1) = w
        .req(
            "GET",
            &format!("/api/v1/hosts?establishment={}", Org::B1),
            Who::Admin,
            None,
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&b1).unwrap();
    v["total"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_is_limited_to_the_perimeter() {
    let w = world().await;
    for route in ROUTES.iter().filter(|r| r.access == Access::Ingest) {
        for who in EVERYONE {
            for e in [Org::A1, Org::A2, Org::B1, "QNOEST"] {
                let path = format!("{}?format=csv", path_for(route.path, route.subject, e));
                let (status, body) = w
                    .req(
                        "POST",
                        &path,
                        who,
                        Some(inventory(Org::A1).replace("01", "77")),
                    )
                    .await;
                let want = match who {
                    Who::Nobody => StatusCode::UNAUTHORIZED,
                    _ if !who.may_ingest(e) => StatusCode::FORBIDDEN,
                    _ if e == "QNOEST" => StatusCode::NOT_FOUND,
                    _ => StatusCode::OK,
                };
                assert_eq!(status, want, "{who:?} POST {path}: {body}");
                check_no_leak(who, &path, &body);
            }
        }
    }
    // an upload naming another establishment's serial number claims
    // nothing: the machine stays where it is, and stays invisible
    // B1 holds its own two machines and those of the admin's upload above
    // (the same bytes sent for another establishment are that
    // establishment's machines, not "already ingested")
    let before = b1_total(&w).await;
    assert_eq!(before, 4);
    let b1_host = w.host_of(Org::B1);
    let steal = format!(
        "\"Computer Name\",\"Serial Number\",\"Operating System\",\"OS Version\",\"Build Number\",\"IP Addresses\",\"Installed KBs\",\"Last Hardware Scan\"\n\
         \"host-qesta1-99\",\"SN{}01\",\"Microsoft Windows 10 Enterprise\",\"10.0.19045.3803\",\"19045\",\"10.1.9.9\",\"\",\"2/1/2024 10:00:00 AM\"\n",
        Org::B1
    );
    for who in [Who::Officer, Who::Ingest] {
        // a different name and address each time (the address is a key too)
        let (n, ip) = if who == Who::Officer {
            ("98", "10.1.9.8")
        } else {
            ("97", "10.1.9.7")
        };
        let body = steal.replace("99", n).replace("10.1.9.9", ip);
        let (s, b) = w
            .req(
                "POST",
                &format!("/api/v1/ingest/{}?format=csv", Org::A1),
                who,
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        check_no_leak(who, "a colliding upload", &b);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["hosts_new"], 1, "a new machine of A1, not B1's: {v}");
        let (s, _) = w
            .req(
                "GET",
                &format!("/api/v1/hosts/{b1_host}"),
                Who::Officer,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        b1_total(&w).await,
        before,
        "B1 kept its machines, no more, no fewer"
    );
    let (_, b1) = w
        .req(
            "GET",
            &format!("/api/v1/hosts?establishment={}&per_page=100", Org::B1),
            Who::Admin,
            None,
        )
        .await;
    let b1: serde_json::Value = serde_json::from_str(&b1).unwrap();
    assert!(
        b1["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == b1_host.as_str())
    );

    // every ingest is in the audit log
    let (s, audit) = w
        .req(
            "GET",
            "/api/v1/audit?action=ingest&per_page=1000",
            Who::Admin,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert!(v["total"].as_u64().unwrap() >= 3 + 3, "{v}");
}

/// An account the administration routes act on.
const MATRIX_USER: &str = "matrix-officer";

/// A body that would make an administration route do its job.
fn admin_body(route: &vigie_web::RouteSpec) -> (&'static str, String) {
    const JSON: &str = "application/json";
    const FORM: &str = "application/x-www-form-urlencoded";
    let (ct, body) = match route.id {
        RouteId::ApiUserCreate => (
            JSON,
            r#"{"username": "matrix-new-api", "role": "national-admin", "password": "matrix passphrase"}"#,
        ),
        RouteId::UserCreate => (
            FORM,
            "username=matrix-new-page&role=national-admin&password=matrix+passphrase&password2=matrix+passphrase",
        ),
        RouteId::ApiUserPassword => (JSON, r#"{"password": "another matrix passphrase"}"#),
        RouteId::UserPassword => (
            FORM,
            "password=another+matrix+passphrase&password2=another+matrix+passphrase",
        ),
        RouteId::ApiTokenCreate => (JSON, r#"{"name": "matrix-api", "role": "national-admin"}"#),
        RouteId::TokenCreate => (FORM, "name=matrix-page&role=national-admin&expires_days=30"),
        _ if route.kind == Kind::Api => (JSON, ""),
        _ => (FORM, ""),
    };
    (ct, body.to_string())
}

/// What the store holds about accounts and tokens, but for the times of
/// use (the callers' own tokens are used by the test).
async fn accounts(store: &dyn Store) -> (Vec<vigie_store::UserRecord>, Vec<(i64, bool)>) {
    let users = store.users().await.unwrap();
    let tokens = store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.id, t.revoked_at.is_some()))
        .collect();
    (users, tokens)
}

/// What the administration routes act on in the matrix: the officer
/// `MATRIX_USER` (created here) and the ingest caller's token, whose id is
/// returned.
async fn matrix_subjects(w: &World) -> String {
    w.store
        .create_user(&NewUser {
            username: MATRIX_USER.into(),
            password_hash: vigie_auth::hash_password("matrix officer passphrase").unwrap(),
            role: "establishment-officer".into(),
            region: None,
            establishment: Some(EstablishmentCode::new(Org::A1).unwrap()),
            created_at: jiff::Timestamp::now(),
        })
        .await
        .unwrap();
    w.store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.name == "ingest")
        .unwrap()
        .id
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administration_changes_are_refused_to_everyone_else() {
    let w = world().await;
    // the ingest caller's token is the one the routes act on
    let ingest_token = matrix_subjects(&w).await;
    let routes: Vec<&vigie_web::RouteSpec> = ROUTES
        .iter()
        .filter(|r| r.access == Access::Admin && r.method != "GET")
        .collect();
    assert!(
        routes.len() >= 12,
        "{} administration changes",
        routes.len()
    );
    let cases = |route: &vigie_web::RouteSpec| -> Vec<(String, bool)> {
        match route.subject {
            Subject::None => vec![(route.path.to_string(), true)],
            Subject::User => vec![
                (path_for(route.path, route.subject, MATRIX_USER), true),
                (path_for(route.path, route.subject, "no-such-user"), false),
            ],
            Subject::Token => vec![
                (path_for(route.path, route.subject, &ingest_token), true),
                (path_for(route.path, route.subject, "999999"), false),
            ],
            other => panic!("{}: add cases for {other:?} to this test", route.path),
        }
    };
    let before = accounts(w.store.as_ref()).await;
    for route in &routes {
        let (ct, body) = admin_body(route);
        for who in EVERYONE.into_iter().filter(|w| *w != Who::Admin) {
            // the same answer whether the account or token exists or not
            let mut answers = std::collections::BTreeSet::new();
            for (path, _) in cases(route) {
                let (status, text) = w
                    .send("POST", &path, who, Some(ct), Some(body.clone()))
                    .await;
                let want = match (who, route.kind) {
                    (Who::Nobody, Kind::Api) => StatusCode::UNAUTHORIZED,
                    (Who::Nobody, _) => StatusCode::SEE_OTHER,
                    _ => StatusCode::FORBIDDEN,
                };
                assert_eq!(status, want, "{who:?} POST {path}: {text}");
                check_no_leak(who, &path, &text);
                for secret in [MATRIX_USER, "matrix passphrase", "vgt_"] {
                    assert!(!text.contains(secret), "{who:?} POST {path}: {text}");
                }
                answers.insert((status, text));
            }
            assert_eq!(answers.len(), 1, "{who:?} {}: {answers:#?}", route.path);
        }
    }
    assert_eq!(
        accounts(w.store.as_ref()).await,
        before,
        "nobody but an administrator changed anything"
    );
    // the administrator's requests do what they say; what does not exist
    // is not found
    for route in &routes {
        let (ct, body) = admin_body(route);
        for (path, exists) in cases(route) {
            let (status, text) = w
                .send("POST", &path, Who::Admin, Some(ct), Some(body.clone()))
                .await;
            let want = if exists {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            };
            assert_eq!(status, want, "Admin POST {path}: {text}");
        }
    }
    let (users, tokens) = accounts(w.store.as_ref()).await;
    for name in ["matrix-new-api", "matrix-new-page"] {
        assert!(users.iter().any(|u| u.username == name), "{name}");
    }
    assert_eq!(tokens.len(), before.1.len() + 2);
    assert!(
        tokens
            .iter()
            .any(|(id, revoked)| id.to_string() == ingest_token && *revoked)
    );
    let officer = users.iter().find(|u| u.username == MATRIX_USER).unwrap();
    assert!(!officer.is_disabled(), "disabled, then enabled again");
    let old = before.0.iter().find(|u| u.username == MATRIX_USER).unwrap();
    assert_ne!(officer.password_hash, old.password_hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_is_what_the_server_answers() {
    let w = world().await;
    // a token the routes may act on (not the administrator's own)
    let ingest_token = matrix_subjects(&w).await;
    // every route id, not only the table's rows: an id without its row
    // (a handler the router does not serve) fails here
    let mut pages_and_reports = 0;
    for id in RouteId::ALL {
        let route = ROUTES
            .iter()
            .find(|r| r.id == *id)
            .unwrap_or_else(|| panic!("{id:?} has no row in ROUTES"));
        // a subject that exists and that the administrator reads: a routed
        // path never answers 404 (nor 405)
        let subject = match route.subject {
            Subject::None => String::new(),
            Subject::Region => Org::REG_A.to_string(),
            Subject::Establishment => Org::A1.to_string(),
            Subject::Host => w.host_of(Org::A1),
            Subject::User => MATRIX_USER.to_string(),
            Subject::Token => ingest_token.clone(),
            Subject::Target => panic!("{}: add a target to this test", route.path),
        };
        let path = path_for(route.path, route.subject, &subject);
        let (status, body) = w.req(route.method, &path, Who::Admin, None).await;
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && status != StatusCode::NOT_FOUND,
            "{id:?}: {} {path} is in the table but not routed: {status} {body}",
            route.method,
        );
        if route.method == "GET" && route.kind == Kind::Page {
            assert_eq!(status, StatusCode::OK, "{id:?}: GET {path}: {body}");
            pages_and_reports += 1;
        }
    }
    assert!(pages_and_reports >= 13, "{pages_and_reports} pages");
    // the printable reports the pages link to are served
    for (page, report) in [
        (
            format!("/establishments/{}", Org::A1),
            format!("/reports/establishments/{}", Org::A1),
        ),
        (
            format!("/regions/{}", Org::REG_A),
            format!("/reports/regions/{}", Org::REG_A),
        ),
    ] {
        let (s, html) = w.req("GET", &page, Who::Analyst, None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains(&format!("href=\"{report}\"")),
            "{page} links to {report}"
        );
        let (s, html) = w.req("GET", &report, Who::Analyst, None).await;
        assert_eq!(s, StatusCode::OK, "{report}: {html}");
        assert!(html.contains("Security posture report"), "{report}");
    }
    // and nothing else is
    let (s, _) = w
        .req("GET", "/api/v1/secret-admin-thing", Who::Admin, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// `n` machines of one establishment in one inventory, numbered in the
/// order they are written (names, serials and addresses all distinct).
fn fleet(est: &str, batch: u32, n: u32) -> String {
    let l = est.to_lowercase();
    let mut csv = String::from(
        "\"Computer Name\",\"Serial Number\",\"Operating System\",\"OS Version\",\"Build Number\",\"IP Addresses\",\"Installed KBs\",\"Last Hardware Scan\"\n",
    );
    for i in 0..n {
        csv.push_str(&format!(
            "\"host-{l}-b{batch}-{i:03}\",\"SN{est}B{batch}N{i:03}\",\"Microsoft Windows 10 Enterprise\",\"10.0.19045.3803\",\"19045\",\"10.{batch}.{}.{}\",\"KB5034122\",\"2/1/2024 10:00:00 AM\"\n",
            i / 200,
            i % 200 + 1
        ));
    }
    csv
}

/// Regression (independent security testing): machine ids counted up
/// across the whole sector, so an establishment officer who uploaded twice
/// learnt from the gap between their ids how many machines the others
/// created in between. The ids the officer sees now are opaque: not
/// numbers, and in no relation to the order in which machines were made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_ids_reveal_nothing_of_other_establishments() {
    let w = world().await;
    const N: u32 = 150;
    // the officer of A1 uploads, then another establishment's machines
    // are created, then the officer uploads again
    for (who, est, batch) in [
        (Who::Officer, Org::A1, 1),
        (Who::Admin, Org::A2, 2),
        (Who::Officer, Org::A1, 3),
    ] {
        let (s, b) = w
            .req(
                "POST",
                &format!("/api/v1/ingest/{est}?format=csv"),
                who,
                Some(fleet(est, batch, N)),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{who:?} {est}: {b}");
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["hosts_new"], N, "{v}");
    }
    let (s, body) = w
        .req("GET", "/api/v1/hosts?per_page=1000", Who::Officer, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    check_no_leak(Who::Officer, "the officer's machines", &body);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let seen: Vec<(String, String)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["hostname"].as_str().unwrap().to_string(),
                h["id"].as_str().unwrap().to_string(),
            )
        })
        .filter(|(name, _)| name.contains("-b1-") || name.contains("-b3-"))
        .collect();
    assert_eq!(seen.len(), 2 * N as usize);
    // opaque: fixed length, never a number
    for (name, id) in &seen {
        assert_eq!(id.len(), vigie_auth::HOST_ID_LEN, "{name}: {id}");
        assert!(id.parse::<i128>().is_err(), "{name}: {id} is a number");
        assert!(id.bytes().all(|b| !b.is_ascii_uppercase()), "{id}");
    }
    let distinct: std::collections::BTreeSet<&str> = seen.iter().map(|(_, i)| i.as_str()).collect();
    assert_eq!(distinct.len(), seen.len(), "one id per machine");
    // the truth the server keeps: its numbers show the other
    // establishment's machines between the officer's two uploads (what
    // the old ids told anyone)...
    let ids = w.host_ids().await;
    let mut by_creation: Vec<(i64, &str, &str)> = seen
        .iter()
        .map(|(name, id)| (ids.decode(id).unwrap(), name.as_str(), id.as_str()))
        .collect();
    by_creation.sort();
    let last_first = by_creation
        .iter()
        .filter(|(_, n, _)| n.contains("-b1-"))
        .map(|(i, _, _)| *i)
        .max()
        .unwrap();
    let first_second = by_creation
        .iter()
        .filter(|(_, n, _)| n.contains("-b3-"))
        .map(|(i, _, _)| *i)
        .min()
        .unwrap();
    assert!(
        first_second - last_first > i64::from(N),
        "the scenario has A2's machines in between: {last_first} .. {first_second}"
    );
    // ...and the opaque ids do not: in creation order they rise and fall
    // like a random sequence (about half the neighbours in order; 299
    // pairs, a standard deviation of about 5)
    let rises = by_creation.windows(2).filter(|p| p[0].2 < p[1].2).count();
    let pairs = by_creation.len() - 1;
    assert!(
        (pairs * 35 / 100..=pairs * 65 / 100).contains(&rises),
        "{rises} of {pairs} neighbours in creation order are in id order"
    );
    // the two uploads are mixed in id order: no boundary splits them
    let mut sorted: Vec<&(i64, &str, &str)> = by_creation.iter().collect();
    sorted.sort_by_key(|(_, _, id)| *id);
    let changes = sorted
        .windows(2)
        .filter(|p| p[0].1.contains("-b1-") != p[1].1.contains("-b1-"))
        .count();
    assert!(
        changes > 50,
        "the two uploads interleave in id order: {changes}"
    );
    // no id is the number behind it
    for (number, _, id) in &by_creation {
        assert_ne!(*id, number.to_string());
    }
    // the same machine has the same id for everyone who reads it, and in
    // the CSV export
    let (_, admin) = w
        .req(
            "GET",
            &format!("/api/v1/hosts?establishment={}&per_page=1000", Org::A1),
            Who::Admin,
            None,
        )
        .await;
    let admin: serde_json::Value = serde_json::from_str(&admin).unwrap();
    let (_, csv) = w
        .req(
            "GET",
            "/api/v1/hosts?per_page=1000&format=csv",
            Who::Officer,
            None,
        )
        .await;
    for (name, id) in &seen {
        assert!(
            admin["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["hostname"] == name.as_str() && h["id"] == id.as_str()),
            "{name} {id}"
        );
        assert!(
            csv.contains(&format!("{id},{name},")),
            "{id},{name} in the CSV"
        );
    }
    // and the officer reaches each machine by it, on the API and the page
    for (_, id) in seen.iter().take(3) {
        let (s, b) = w
            .req("GET", &format!("/api/v1/hosts/{id}"), Who::Officer, None)
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let one: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(one["id"], id.as_str());
        let (s, page) = w
            .req("GET", &format!("/hosts/{id}"), Who::Officer, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains(&format!("/api/v1/hosts/{id}")));
        assert!(!page.contains(&format!("/hosts/{}", ids.decode(id).unwrap())));
    }
}
