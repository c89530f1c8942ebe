//! vigie's web server: the dashboard (server-rendered HTML that works
//! without JavaScript, SVG charts drawn on the server), the REST API
//! (`/api/v1`, with its OpenAPI document), sessions for people and API
//! tokens for scripts and agents.
//!
//! Every route is listed in [`routes::ROUTES`] with who may call it; the
//! router is built from that table and the authorization matrix test walks
//! it. Every read is cut to the caller's perimeter, and what lies outside
//! reads exactly like what does not exist.

pub mod admin;
pub mod api;
pub mod auth;
pub mod currency;
pub mod error;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod scope;
pub mod setup;
pub mod state;
pub mod tiles;

pub use auth::Caller;
pub use routes::{Access, Kind, ROUTES, RouteId, RouteSpec, Subject};
pub use state::{AppState, PipelineFactory, RuleInfo, WebConfig};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use error::ApiResult;
use std::net::SocketAddr;
use vigie_auth::HostIds;
use vigie_store::{HostFilter, HostView, Scope};

/// Security headers on every answer: no inline script anywhere, no
/// framing, no sniffing, no caching of perimeter data.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Whether the client asked for JSON rather than a page (`Accept:
/// application/json` without `text/html`, as scripts do; browsers always
/// accept HTML).
fn wants_json(req: &Request) -> bool {
    let accept = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    accept.contains("application/json") && !accept.contains("text/html")
}

/// Pages answer errors as HTML pages, the API as JSON (the same words and
/// code); a client of a page that asks for JSON gets the JSON error.
async fn html_errors(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/") || wants_json(&req);
    let resp = next.run(req).await;
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if api || !json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    // the code of the JSON error (small: its message is one sentence)
    let code = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
        .unwrap_or_else(|| "internal".to_string());
    let (title, text) = match (status.as_u16(), code.as_str()) {
        (403, "csrf_failed") => (
            "Form expired",
            "The form expired or did not come from this site: reload the page and try again.",
        ),
        (403, _) => ("Not allowed", "This account may not see this page."),
        (404, _) => ("Not found", "not found"),
        (405, _) => ("Not allowed", "This page does not take this method."),
        (413, _) => (
            "Too large",
            "The request is larger than the server accepts.",
        ),
        (429, _) => ("Too many requests", "Wait a few minutes and try again."),
        (400, _) => ("Bad request", "The request could not be understood."),
        _ => ("Error", "Something went wrong; the error was logged."),
    };
    let mut r = pages::plain_page(title, &format!("{text} (error: {code})"));
    *r.status_mut() = status;
    r
}

async fn hsts(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    resp
}

/// Small bodies everywhere but ingest.
const FORM_LIMIT: usize = 64 * 1024;

fn handler(id: RouteId, st: &AppState) -> MethodRouter<AppState> {
    use RouteId::*;
    match id {
        Health => get(|| async { "ok\n" }),
        Css => get(pages::css),
        LoginPage => get(auth::login_page),
        LoginSubmit => post(auth::login_submit),
        Logout => post(auth::logout),
        OverviewPage => get(pages::overview),
        RegionPage => get(pages::region),
        EstablishmentPage => get(pages::establishment),
        HostPage => get(pages::host),
        EstablishmentReport => get(pages::report_establishment),
        RegionReport => get(pages::report_region),
        RulesPage => get(pages::rules),
        KbPage => get(pages::kb),
        WatchPage => get(pages::watch),
        AuditPage => get(pages::audit),
        OpenApi => get(openapi::document),
        ApiMe => get(api::me),
        ApiPosture => get(api::posture),
        ApiTrend => get(api::trend),
        ApiRegions => get(api::regions),
        ApiRegion => get(api::region),
        ApiEstablishments => get(api::establishments),
        ApiEstablishment => get(api::establishment),
        ApiHosts => get(api::hosts),
        ApiHost => get(api::host),
        ApiRules => get(api::rules),
        ApiKb => get(api::kb),
        ApiWatchTargets => get(api::watch_targets),
        ApiWatchEvents => get(api::watch_events),
        ApiWatchUptime => get(api::watch_uptime),
        ApiIngest => post(api::ingest).layer(DefaultBodyLimit::max(st.cfg.max_ingest_bytes)),
        ApiAudit => get(api::audit_log),
        UsersPage => get(admin::users),
        UserCreate => post(admin::user_create),
        UserDisable => post(admin::user_disable),
        UserEnable => post(admin::user_enable),
        UserPassword => post(admin::user_password),
        TokensPage => get(admin::tokens),
        TokenCreate => post(admin::token_create),
        TokenRevoke => post(admin::token_revoke),
        ApiUsers => get(admin::api_users),
        ApiUserCreate => post(admin::api_user_create),
        ApiUserDisable => post(admin::api_user_disable),
        ApiUserEnable => post(admin::api_user_enable),
        ApiUserPassword => post(admin::api_user_password),
        ApiTokens => get(admin::api_tokens),
        ApiTokenCreate => post(admin::api_token_create),
        ApiTokenRevoke => post(admin::api_token_revoke),
    }
}

/// The application, built from the route table.
pub fn router(st: AppState) -> Router {
    let mut app: Router<AppState> = Router::new();
    // routes sharing a path (GET and POST /login) are merged by axum
    for spec in ROUTES {
        app = app.route(spec.path, handler(spec.id, &st));
    }
    let mut app = app
        .fallback(|| async { error::ApiError::not_found().into_response() })
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        // extractors' rejections in the one error format, then as pages
        // where a page was asked for
        .layer(axum::middleware::from_fn(error::uniform_errors))
        .layer(axum::middleware::from_fn(html_errors))
        .layer(axum::middleware::from_fn(security_headers));
    if st.cfg.secure_cookies {
        app = app.layer(axum::middleware::from_fn(hsts));
    }
    app.with_state(st)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    st: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(st).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Why the opaque machine id codec could not be had.
#[derive(Debug, thiserror::Error)]
pub enum HostIdsError {
    #[error("the host id secret could not be read or stored: {0}")]
    Store(#[from] vigie_store::StoreError),
    #[error("no host id secret could be generated: {0}")]
    Random(#[from] vigie_auth::AuthError),
    #[error("the stored host id secret is unusable: {0}")]
    Secret(#[from] vigie_auth::HostIdError),
}

impl From<HostIdsError> for error::ApiError {
    fn from(e: HostIdsError) -> Self {
        match e {
            // a busy database is still 503
            HostIdsError::Store(s) => s.into(),
            other => error::ApiError::internal(other),
        }
    }
}

/// The installation's codec of opaque machine ids (docs/web.md, "Machine
/// ids"): its secret is read from the store, or generated at random and
/// stored by the first process that needs it, so the command line, the
/// server and every other process show the same ids.
pub async fn load_host_ids(store: &dyn vigie_store::Store) -> Result<HostIds, HostIdsError> {
    let candidate = vigie_auth::new_host_id_secret()?;
    let secret = store
        .installation_secret(vigie_auth::HOST_ID_SECRET, &candidate)
        .await?;
    Ok(HostIds::from_secret(&secret)?)
}

/// A machine as the API shows it: the store's view with its opaque id.
pub fn host_json(ids: &HostIds, h: &HostView) -> ApiResult<serde_json::Value> {
    let mut v = serde_json::to_value(h).map_err(error::ApiError::internal)?;
    if let Some(m) = v.as_object_mut() {
        m.insert("id".into(), serde_json::Value::String(ids.encode(h.id)));
    }
    Ok(v)
}

/// One host by its opaque id, if the scope may read it. An id that is
/// malformed (a number among them) or names no machine is `None`, exactly
/// like a machine outside the scope.
pub async fn find_host(st: &AppState, scope: &Scope, opaque: &str) -> ApiResult<Option<HostView>> {
    let Ok(id) = st.host_ids().await?.decode(opaque) else {
        return Ok(None);
    };
    let filter = HostFilter {
        host_id: Some(id),
        limit: Some(1),
        ..HostFilter::default()
    };
    Ok(st.store.hosts(scope, &filter).await?.into_iter().next())
}

/// Appends to the audit log; a failure to write it is logged, not hidden.
pub async fn audit(
    st: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    outcome: &str,
    detail: serde_json::Value,
) {
    audit_raw(
        st,
        &caller.principal().actor(),
        action,
        target,
        outcome,
        caller.ip.clone(),
        detail,
    )
    .await;
}

pub async fn audit_raw(
    st: &AppState,
    actor: &str,
    action: &str,
    target: &str,
    outcome: &str,
    ip: Option<String>,
    detail: serde_json::Value,
) {
    let entry = vigie_store::NewAuditEntry {
        at: jiff::Timestamp::now(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        outcome: outcome.to_string(),
        ip,
        detail,
    };
    if let Err(e) = st.store.append_audit(&entry).await {
        tracing::error!("audit log write failed: {e}");
    }
}

pub async fn audit_entries(
    st: &AppState,
    since: i64,
    action: Option<&str>,
) -> ApiResult<Vec<vigie_store::AuditEntry>> {
    let filter = vigie_store::AuditFilter {
        since: jiff::Timestamp::from_second(since).ok(),
        action: action.map(str::to_string),
        limit: 10_000,
        ..vigie_store::AuditFilter::default()
    };
    Ok(st.store.audit(&filter).await?)
}
