//! Who is calling: a session cookie (the pages) or an API token (scripts,
//! agents), turned into a [`Caller`] with its grant. Login, logout, CSRF,
//! and the login rate limiter.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vigie_auth::{Grant, Principal, PrincipalKind};
use vigie_store::Scope;

pub const SESSION_COOKIE: &str = "vigie_session";
pub const LOGIN_CSRF_COOKIE: &str = "vigie_login_csrf";
/// A session ends after this long whatever its activity (a stolen cookie
/// cannot be kept alive for ever).
pub const ABSOLUTE_SESSION_S: i64 = 24 * 3600;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: i64,
    pub name: String,
    pub kind: PrincipalKind,
    pub grant: Grant,
    /// The session's CSRF token (cookie-authenticated callers only).
    pub csrf: Option<String>,
    pub session_hash: Option<String>,
    pub ip: Option<String>,
}

impl Caller {
    pub fn principal(&self) -> Principal {
        Principal {
            kind: self.kind,
            id: self.id,
            name: self.name.clone(),
            grant: self.grant.clone(),
        }
    }

    pub fn kind_str(&self) -> &'static str {
        match self.kind {
            PrincipalKind::User => "user",
            PrincipalKind::Token => "token",
        }
    }

    /// What the caller may read; ingest tokens read nothing.
    pub fn scope(&self) -> ApiResult<Scope> {
        self.grant
            .read_scope()
            .map(crate::scope::store_scope)
            .ok_or_else(ApiError::forbidden)
    }

    pub fn require_admin(&self) -> ApiResult<()> {
        if self.grant.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// Cookie-authenticated requests that change something must carry the
    /// session's CSRF token; API tokens are not sent by browsers on their
    /// own, so they need none.
    pub fn check_csrf(&self, provided: Option<&str>) -> ApiResult<()> {
        match (&self.csrf, self.kind) {
            (_, PrincipalKind::Token) => Ok(()),
            (Some(expected), _)
                if provided.is_some_and(|p| {
                    vigie_auth::constant_time_eq(p.as_bytes(), expected.as_bytes())
                }) =>
            {
                Ok(())
            }
            _ => Err(ApiError::new(
                crate::error::ErrorCode::CsrfFailed,
                "missing or wrong CSRF token",
            )),
        }
    }
}

fn now_ts() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client's address: the connection's peer, or, behind a trusted
/// reverse proxy (`WebConfig::trust_proxy`), the last address the proxy
/// appended to `X-Forwarded-For`.
fn client_ip_with(parts: &Parts, trust_proxy: bool) -> Option<String> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    if !trust_proxy {
        return peer;
    }
    parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .next_back()
        .map(|a| a.to_string())
        .or(peer)
}

/// The client's address, when the server knows it.
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip_with(parts, st.cfg.trust_proxy)))
    }
}

/// How an unauthenticated request is answered: JSON for the API, a
/// redirect to the login page for pages.
pub struct AuthRejection {
    api: bool,
    path: String,
    error: ApiError,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if self.api || self.error.code != crate::error::ErrorCode::Unauthenticated {
            return self.error.into_response();
        }
        let next = if self.path.starts_with('/') && !self.path.starts_with("//") {
            self.path
        } else {
            "/".into()
        };
        Redirect::to(&format!("/login?next={}", urlencode(&next))).into_response()
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        let api = parts.uri.path().starts_with("/api/");
        let reject = |error: ApiError| AuthRejection {
            api,
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into()),
            error,
        };
        let ip = client_ip_with(parts, st.cfg.trust_proxy);
        let now = now_ts();
        // an API token
        if let Some(auth) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let Some(secret) = auth.strip_prefix("Bearer ").map(str::trim) else {
                return Err(reject(ApiError::unauthenticated()));
            };
            if !vigie_auth::looks_like_api_token(secret) {
                return Err(reject(ApiError::unauthenticated()));
            }
            let hash = vigie_auth::hash_token(secret);
            let token = st
                .store
                .token_by_hash(&hash)
                .await
                .map_err(|e| reject(ApiError::internal(e)))?;
            let Some(t) = token else {
                return Err(reject(ApiError::unauthenticated()));
            };
            if !t.is_active(now) {
                return Err(reject(ApiError::unauthenticated()));
            }
            let region = t.region.as_ref().map(|r| r.to_string());
            let est = t.establishment.as_ref().map(|e| e.to_string());
            let grant = Grant::from_stored(&t.role, region.as_deref(), est.as_deref())
                .map_err(|e| reject(ApiError::internal(e)))?;
            if t.last_used_at
                .is_none_or(|l| now.as_second() - l.as_second() >= 60)
            {
                // in the background: on SQLite a write waits for the
                // writer's turn, which a long ingest holds; a request
                // never waits for that
                let store = st.store.clone();
                let id = t.id;
                tokio::spawn(async move {
                    let _ = store.touch_token(id, now).await;
                });
            }
            return Ok(Caller {
                id: t.id,
                name: t.name,
                kind: PrincipalKind::Token,
                grant,
                csrf: None,
                session_hash: None,
                ip,
            });
        }
        // a session cookie
        let Some(cookie) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(reject(ApiError::unauthenticated()));
        };
        let hash = vigie_auth::hash_token(cookie);
        let session = st
            .store
            .session_by_hash(&hash)
            .await
            .map_err(|e| reject(ApiError::internal(e)))?;
        let Some(s) = session else {
            return Err(reject(ApiError::unauthenticated()));
        };
        let too_old = now.as_second() - s.created_at.as_second() > ABSOLUTE_SESSION_S;
        if !s.is_live(now) || too_old {
            let _ = st.store.delete_session(&hash).await;
            return Err(reject(ApiError::unauthenticated()));
        }
        let user = st
            .store
            .user_by_id(s.user_id)
            .await
            .map_err(|e| reject(ApiError::internal(e)))?;
        let Some(u) = user.filter(|u| !u.is_disabled()) else {
            let _ = st.store.delete_session(&hash).await;
            return Err(reject(ApiError::unauthenticated()));
        };
        let region = u.region.as_ref().map(|r| r.to_string());
        let est = u.establishment.as_ref().map(|e| e.to_string());
        let grant = Grant::from_stored(&u.role, region.as_deref(), est.as_deref())
            .map_err(|e| reject(ApiError::internal(e)))?;
        // sliding expiry, written at most once a minute
        if now.as_second() - s.last_seen_at.as_second() >= 60 {
            let ttl = i64::try_from(st.cfg.session_ttl.as_secs()).unwrap_or(28_800);
            let expires = jiff::Timestamp::from_second(now.as_second() + ttl).unwrap_or(now);
            // in the background, as for tokens above
            let store = st.store.clone();
            let h = hash.clone();
            tokio::spawn(async move {
                let _ = store.touch_session(&h, now, expires).await;
            });
        }
        Ok(Caller {
            id: u.id,
            name: u.username,
            kind: PrincipalKind::User,
            grant,
            csrf: Some(s.csrf_token),
            session_hash: Some(hash),
            ip,
        })
    }
}

/// Failed logins per user name and per address within a window.
pub struct LoginLimiter {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Most keys the limiter remembers (a flood of random names cannot grow it
/// without bound).
const LIMITER_KEYS: usize = 100_000;

impl LoginLimiter {
    pub fn new(max: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            max: max.max(1),
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Instant>>> {
        match self.seen.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Whether any of these keys is over the limit.
    pub fn blocked(&self, keys: &[String]) -> bool {
        let now = Instant::now();
        let mut map = self.lock();
        keys.iter().any(|k| {
            map.get_mut(k).is_some_and(|q| {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > self.window)
                {
                    q.pop_front();
                }
                q.len() as u32 >= self.max
            })
        })
    }

    /// Counts an attempt against every key (before the password is
    /// checked); the [`Attempt`] lets a success withdraw it.
    pub fn failed(&self, keys: &[String]) -> Attempt {
        let now = Instant::now();
        let mut map = self.lock();
        if map.len() >= LIMITER_KEYS {
            let window = self.window;
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) <= window));
            if map.len() >= LIMITER_KEYS {
                // evict the least recently tried tenth, never everything (a
                // flood of fresh names must not reset a victim's counter)
                let mut last: Vec<(Instant, String)> = map
                    .iter()
                    .filter_map(|(k, q)| q.back().map(|t| (*t, k.clone())))
                    .collect();
                last.sort();
                for (_, k) in last.into_iter().take(LIMITER_KEYS / 10) {
                    map.remove(&k);
                }
            }
        }
        for k in keys {
            map.entry(k.clone()).or_default().push_back(now);
        }
        Attempt {
            keys: keys.to_vec(),
            at: now,
        }
    }

    /// A successful sign-in to `account` (one of the attempt's keys): that
    /// account's failures are forgotten. On every other key (the address)
    /// only this attempt is withdrawn: the address's earlier failures,
    /// against other accounts, still count, so one good password cannot
    /// reset the limit for guesses spread over many accounts (password
    /// spraying).
    pub fn succeeded(&self, account: &str, attempt: &Attempt) {
        let mut map = self.lock();
        map.remove(account);
        for k in attempt.keys.iter().filter(|k| k.as_str() != account) {
            let emptied = map.get_mut(k).is_some_and(|q| {
                if let Some(i) = q.iter().rposition(|t| *t == attempt.at) {
                    q.remove(i);
                }
                q.is_empty()
            });
            if emptied {
                map.remove(k);
            }
        }
    }
}

/// One counted sign-in attempt (see [`LoginLimiter::failed`]).
#[derive(Debug)]
pub struct Attempt {
    keys: Vec<String>,
    at: Instant,
}

/// A cookie; a negative `max_age` makes a browser-session cookie (the
/// server enforces the sliding and absolute expiry).
fn cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let age = if max_age < 0 {
        String::new()
    } else {
        format!("; Max-Age={max_age}")
    };
    let s = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{age}{}",
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

#[derive(Deserialize)]
pub struct LoginQuery {
    pub next: Option<String>,
    pub failed: Option<String>,
}

/// `GET /login`: the form, with a fresh pre-session CSRF token (double
/// submit: a cookie and a hidden field that must match).
pub async fn login_page(State(st): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let token = match vigie_auth::new_csrf_token() {
        Ok(t) => t,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let page = crate::pages::login_html(&token, q.next.as_deref(), q.failed.is_some());
    let mut resp = page.into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie(LOGIN_CSRF_COOKIE, &token, 1800, st.cfg.secure_cookies),
    );
    resp
}

/// Missing fields read as empty: a form without its CSRF field is refused
/// as `csrf_failed`, one without a name or password is a failed sign-in.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub csrf: String,
    pub next: Option<String>,
}

/// Where to go after signing in: a local path only. Printable ASCII only
/// (browsers drop tabs and newlines from `Location`, so `/\t/evil.example`
/// would become `//evil.example`), starting with one `/`, no backslash.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() <= 512
                && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'\\') =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// `POST /login`.
pub async fn login_submit(
    State(st): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = cookie_value(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    if expected.is_empty() || !vigie_auth::constant_time_eq(expected.as_bytes(), f.csrf.as_bytes())
    {
        return ApiError::new(
            crate::error::ErrorCode::CsrfFailed,
            "the form expired: reload the login page",
        )
        .into_response();
    }
    // an unusable name is a failed login like any other (same time spent)
    let name = vigie_auth::normalize_username(&f.username).unwrap_or_default();
    let account_key = format!("u:{}", name.to_lowercase());
    let keys: Vec<String> = std::iter::once(account_key.clone())
        .chain(ip.iter().map(|i| format!("ip:{i}")))
        .collect();
    let failed_redirect = |next: &Option<String>| {
        Redirect::to(&format!(
            "/login?failed=1&next={}",
            urlencode(&safe_next(next.as_deref()))
        ))
        .into_response()
    };
    if st.limiter.blocked(&keys) {
        crate::audit_raw(
            &st,
            "anonymous",
            "login",
            &name,
            "rate-limited",
            ip.clone(),
            serde_json::json!({}),
        )
        .await;
        return (
            StatusCode::TOO_MANY_REQUESTS,
            crate::pages::plain_page(
                "Too many attempts",
                "Too many failed sign-ins: wait a few minutes and try again.",
            ),
        )
            .into_response();
    }
    let user = if name.is_empty() {
        None
    } else {
        match st.store.user_by_name(&name).await {
            Ok(u) => u,
            Err(e) => return ApiError::internal(e).into_response(),
        }
    };
    // the attempt counts before the (slow) verification, so a burst of
    // parallel guesses cannot all pass the check; a success withdraws it
    // (and clears the account's count, never the address's)
    let attempt = st.limiter.failed(&keys);
    // password hashing is memory-hard: a bounded number at a time
    let Ok(_permit) = st.hashing.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            crate::pages::plain_page("Busy", "Too many sign-ins at once: try again in a moment."),
        )
            .into_response();
    };
    let password = f.password;
    let verified = match &user {
        Some(u) if !u.is_disabled() => {
            let hash = u.password_hash.clone();
            tokio::task::spawn_blocking(move || vigie_auth::verify_password(&password, &hash))
                .await
                .unwrap_or(false)
        }
        _ => tokio::task::spawn_blocking(move || vigie_auth::verify_dummy(&password))
            .await
            .unwrap_or(false),
    };
    let Some(user) = user.filter(|_| verified) else {
        crate::audit_raw(
            &st,
            "anonymous",
            "login",
            &name,
            "failed",
            ip.clone(),
            serde_json::json!({}),
        )
        .await;
        return failed_redirect(&f.next);
    };
    st.limiter.succeeded(&account_key, &attempt);
    let (session, hash) = match vigie_auth::new_session() {
        Ok(x) => x,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let csrf = match vigie_auth::new_csrf_token() {
        Ok(t) => t,
        Err(e) => return ApiError::internal(e).into_response(),
    };
    let now = now_ts();
    let ttl = i64::try_from(st.cfg.session_ttl.as_secs()).unwrap_or(28_800);
    let session_record = vigie_store::SessionRecord {
        id_hash: hash.clone(),
        user_id: user.id,
        csrf_token: csrf.clone(),
        created_at: now,
        expires_at: jiff::Timestamp::from_second(now.as_second() + ttl).unwrap_or(now),
        last_seen_at: now,
    };
    if let Err(e) = st.store.create_session(&session_record).await {
        return ApiError::internal(e).into_response();
    }
    let _ = st.store.record_login(user.id, now).await;
    crate::audit_raw(
        &st,
        &format!("user:{}", user.username),
        "login",
        &user.username,
        "ok",
        ip,
        serde_json::json!({}),
    )
    .await;
    let mut resp = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie(SESSION_COOKIE, &session, -1, st.cfg.secure_cookies),
    );
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie(LOGIN_CSRF_COOKIE, "", 0, st.cfg.secure_cookies),
    );
    resp
}

#[derive(Deserialize)]
pub struct LogoutForm {
    pub csrf: Option<String>,
}

/// `POST /logout`. A request without a readable form carries no CSRF
/// token: it is refused like a wrong one (`403 csrf_failed`).
pub async fn logout(
    State(st): State<AppState>,
    caller: Caller,
    form: Result<Form<LogoutForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let csrf = form.ok().and_then(|Form(f)| f.csrf);
    if let Err(e) = caller.check_csrf(csrf.as_deref()) {
        return e.into_response();
    }
    if let Some(h) = &caller.session_hash {
        let _ = st.store.delete_session(h).await;
    }
    crate::audit(
        &st,
        &caller,
        "logout",
        &caller.name,
        "ok",
        serde_json::json!({}),
    )
    .await;
    let mut resp = Redirect::to("/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        cookie(SESSION_COOKIE, "", 0, st.cfg.secure_cookies),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_a_local_path_only() {
        assert_eq!(safe_next(Some("/regions/Y56?x=1")), "/regions/Y56?x=1");
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/%09/ok-but\ttab",
            "/\\evil.example",
            "https://evil.example",
            "/a\nb",
            "relative",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn the_limiter_counts_and_forgets() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        let k = vec!["u:alice".to_string()];
        assert!(!l.blocked(&k));
        l.failed(&k);
        let last = l.failed(&k);
        assert!(l.blocked(&k));
        l.succeeded("u:alice", &last);
        assert!(!l.blocked(&k));
    }

    fn keys(user: &str) -> Vec<String> {
        vec![format!("u:{user}"), "ip:192.0.2.7".to_string()]
    }

    #[test]
    fn a_success_does_not_reset_the_address() {
        // password spraying: failures spread over several accounts from
        // one address, with a good password for another account between
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        l.failed(&keys("alice"));
        l.failed(&keys("bob"));
        let ok = l.failed(&keys("mallory"));
        l.succeeded("u:mallory", &ok);
        assert!(!l.blocked(&keys("carol")));
        l.failed(&keys("carol"));
        assert!(
            l.blocked(&keys("dave")),
            "three failures from the address, whatever the accounts"
        );
        assert!(l.blocked(&["ip:192.0.2.7".to_string()]));
        // the successful account's own failures are forgotten
        assert!(!l.blocked(&["u:mallory".to_string()]));
    }

    #[test]
    fn successes_alone_never_block_an_address() {
        // many people signing in from one address (a hospital's NAT)
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        for i in 0..10 {
            let user = format!("user{i}");
            assert!(!l.blocked(&keys(&user)));
            let a = l.failed(&keys(&user));
            l.succeeded(&format!("u:{user}"), &a);
        }
        assert!(!l.blocked(&keys("anyone")));
    }
}
