//! User and API token administration, for national administrators: the
//! pages `/admin/users` and `/admin/tokens` (plain forms, no script) and
//! their twins under `/api/v1`. The rules (usernames, roles and their
//! perimeters, passwords, token names and lifetimes) are `vigie_auth`'s,
//! the same the command line applies; every change is written to the audit
//! log with the same actions as `vigie user` and `vigie token`.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::pages::UserBox;
use crate::state::AppState;
use askama::Template;
use axum::Form;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use vigie_auth::{Grant, PrincipalKind, Role};
use vigie_core::{EstablishmentCode, RegionCode};
use vigie_store::{ApiTokenRecord, NewApiToken, NewUser, Scope, StoreError, UserRecord};

/// How long a token made on the web lives unless told otherwise, in days
/// (at most [`vigie_auth::MAX_TOKEN_DAYS`]).
pub const DEFAULT_TOKEN_DAYS: u32 = 90;

/// What the creator of a token reads once, and only once.
const SHOWN_ONCE: &str = "This is the only time the token's secret is shown: vigie keeps only \
                          its hash. Store it now (e.g. in the ingest job's secret store).";

/// A national administrator. Anyone else is refused here, before the
/// request's body is read: every caller but an administrator gets the same
/// answer whatever they send and whatever exists.
pub struct Admin(pub Caller);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Response> {
        let caller = Caller::from_request_parts(parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        caller
            .require_admin()
            .map_err(IntoResponse::into_response)?;
        Ok(Admin(caller))
    }
}

// --- what the lists show ---------------------------------------------------

/// A user as listed: never its password hash.
#[derive(Debug, Clone, Serialize)]
pub struct UserItem {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub region: Option<String>,
    pub establishment: Option<String>,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
    pub disabled_at: Option<Timestamp>,
}

impl From<UserRecord> for UserItem {
    fn from(u: UserRecord) -> Self {
        UserItem {
            id: u.id,
            disabled: u.is_disabled(),
            username: u.username,
            role: u.role,
            region: u.region.map(String::from),
            establishment: u.establishment.map(String::from),
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            disabled_at: u.disabled_at,
        }
    }
}

/// A token as listed: never its secret nor its hash.
#[derive(Debug, Clone, Serialize)]
pub struct TokenItem {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub region: Option<String>,
    pub establishment: Option<String>,
    /// active, expired or revoked.
    pub state: &'static str,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl TokenItem {
    fn new(t: ApiTokenRecord, now: Timestamp) -> TokenItem {
        TokenItem {
            id: t.id,
            state: t.state(now),
            name: t.name,
            prefix: t.prefix,
            role: t.role,
            region: t.region.map(String::from),
            establishment: t.establishment.map(String::from),
            created_by: t.created_by,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

fn perimeter_label(region: Option<&RegionCode>, est: Option<&EstablishmentCode>) -> String {
    match (region, est) {
        (Some(r), _) => format!("region {r}"),
        (None, Some(e)) => format!("establishment {e}"),
        (None, None) => "sector".into(),
    }
}

/// The accounts or tokens of a perimeter (`?region=`, `?establishment=`):
/// a region's covers its analysts and its establishments'.
enum PerimeterFilter {
    All,
    Region(RegionCode, BTreeSet<EstablishmentCode>),
    Establishment(EstablishmentCode),
}

impl PerimeterFilter {
    async fn of(st: &AppState, q: &crate::api::ListQuery) -> ApiResult<PerimeterFilter> {
        let scope = crate::scope::narrow(
            st.store.as_ref(),
            &Scope::National,
            q.region.as_deref(),
            q.establishment.as_deref(),
        )
        .await?;
        Ok(match scope {
            Scope::National => PerimeterFilter::All,
            Scope::Establishment(e) => PerimeterFilter::Establishment(e),
            Scope::Region(r) => {
                let ests = st
                    .store
                    .establishments(&Scope::Region(r.clone()))
                    .await?
                    .into_iter()
                    .map(|e| e.code)
                    .collect();
                PerimeterFilter::Region(r, ests)
            }
        })
    }

    fn covers(&self, region: Option<&RegionCode>, est: Option<&EstablishmentCode>) -> bool {
        match self {
            PerimeterFilter::All => true,
            PerimeterFilter::Establishment(e) => est == Some(e),
            PerimeterFilter::Region(r, ests) => {
                region == Some(r) || est.is_some_and(|e| ests.contains(e))
            }
        }
    }
}

// --- the changes, shared by the pages and the API --------------------------

fn bad(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(e.to_string())
}

/// A store error on a change an administrator asked for: what they named
/// wrongly is said plainly (they see the whole sector anyway).
fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownRegion(r) => bad(format!("unknown region {r}")),
        StoreError::UnknownEstablishment(c) => bad(format!("unknown establishment {c}")),
        StoreError::Invalid(m) => ApiError::bad_request(m),
        other => ApiError::internal(other),
    }
}

/// A username named in a path; one that cannot exist is not found.
fn path_username(raw: &str) -> ApiResult<String> {
    vigie_auth::normalize_username(raw).map_err(|_| ApiError::not_found())
}

fn grant_detail(g: &Grant) -> serde_json::Value {
    serde_json::json!({
        "role": g.role().as_str(),
        "region": g.region().map(|r| r.as_str()),
        "establishment": g.establishment().map(|e| e.as_str()),
    })
}

/// Audits a change that reached the store, with its outcome.
async fn audit_change<T>(
    st: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: serde_json::Value,
    result: &ApiResult<T>,
) {
    let (outcome, detail) = match result {
        Ok(_) => ("ok", detail),
        Err(e) => {
            let mut d = detail;
            if let serde_json::Value::Object(m) = &mut d {
                m.insert("error".into(), serde_json::Value::String(e.message.clone()));
            }
            ("failed", d)
        }
    };
    crate::audit(st, caller, action, target, outcome, detail).await;
}

/// The password given, checked against the policy, or a generated one
/// (returned apart, to be shown once).
fn password_or_generated(given: Option<String>) -> ApiResult<(String, Option<String>)> {
    match given.filter(|p| !p.is_empty()) {
        Some(p) => {
            vigie_auth::check_password_policy(&p).map_err(bad)?;
            Ok((p, None))
        }
        None => {
            let p = vigie_auth::generate_password().map_err(ApiError::internal)?;
            Ok((p.clone(), Some(p)))
        }
    }
}

/// argon2 is memory-hard: hashed off the async threads, a bounded number
/// at a time (the same permits as sign-ins).
async fn hash_password(st: &AppState, password: String) -> ApiResult<String> {
    let _permit = st
        .hashing
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || vigie_auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(bad)
}

/// What an administrator asks for when adding a user.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub username: String,
    pub role: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub establishment: Option<String>,
    /// Absent or empty: one is generated and returned once.
    #[serde(default)]
    pub password: Option<String>,
}

pub struct CreatedUser {
    pub user: UserRecord,
    /// The generated password, if none was given.
    pub generated: Option<String>,
}

pub async fn create_user(
    st: &AppState,
    caller: &Caller,
    req: NewUserRequest,
) -> ApiResult<CreatedUser> {
    let username = vigie_auth::normalize_username(&req.username).map_err(bad)?;
    let grant = Grant::from_input(
        &req.role,
        req.region.as_deref(),
        req.establishment.as_deref(),
    )
    .map_err(bad)?;
    grant.check_account().map_err(|e| {
        bad(format!(
            "{e}: create an API token instead (Tokens, or POST /api/v1/tokens)"
        ))
    })?;
    let (password, generated) = password_or_generated(req.password)?;
    if st.store.user_by_name(&username).await?.is_some() {
        return Err(bad(format!("user {username:?} already exists")));
    }
    let password_hash = hash_password(st, password).await?;
    let new = NewUser {
        username: username.clone(),
        password_hash,
        role: grant.role().as_str().into(),
        region: grant.region().cloned(),
        establishment: grant.establishment().cloned(),
        created_at: Timestamp::now(),
    };
    let result = st.store.create_user(&new).await.map_err(store_error);
    audit_change(
        st,
        caller,
        "user.add",
        &username,
        grant_detail(&grant),
        &result,
    )
    .await;
    Ok(CreatedUser {
        user: result?,
        generated,
    })
}

/// Whether this caller is the account named (an administrator must not
/// lock themselves out).
fn is_self(caller: &Caller, username: &str) -> bool {
    caller.kind == PrincipalKind::User && caller.name == username
}

pub async fn set_disabled(
    st: &AppState,
    caller: &Caller,
    raw: &str,
    disabled: bool,
) -> ApiResult<UserRecord> {
    let username = path_username(raw)?;
    let action = if disabled {
        "user.disable"
    } else {
        "user.enable"
    };
    if disabled && is_self(caller, &username) {
        crate::audit(
            st,
            caller,
            action,
            &username,
            "denied",
            serde_json::json!({"reason": "own account"}),
        )
        .await;
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "you cannot disable your own account: you would be locked out \
             (another national administrator can)",
        ));
    }
    // an unknown user is not found and changes nothing: not a change to log
    if st.store.user_by_name(&username).await?.is_none() {
        return Err(ApiError::not_found());
    }
    let result = st
        .store
        .set_user_disabled(&username, disabled, Timestamp::now())
        .await
        .map_err(store_error)
        .and_then(|u| u.ok_or_else(ApiError::not_found));
    audit_change(
        st,
        caller,
        action,
        &username,
        serde_json::json!({}),
        &result,
    )
    .await;
    result
}

/// Sets a user's password (given, or generated and returned); the user's
/// sessions end.
pub async fn set_password(
    st: &AppState,
    caller: &Caller,
    raw: &str,
    password: Option<String>,
) -> ApiResult<(String, Option<String>)> {
    let username = path_username(raw)?;
    if st.store.user_by_name(&username).await?.is_none() {
        return Err(ApiError::not_found());
    }
    let (password, generated) = password_or_generated(password)?;
    let hash = hash_password(st, password).await?;
    let result = st
        .store
        .set_user_password(&username, &hash)
        .await
        .map_err(store_error)
        .and_then(|found| {
            if found {
                Ok(())
            } else {
                Err(ApiError::not_found())
            }
        });
    audit_change(
        st,
        caller,
        "user.passwd",
        &username,
        serde_json::json!({"generated": generated.is_some()}),
        &result,
    )
    .await;
    result?;
    Ok((username, generated))
}

/// What an administrator asks for when creating a token.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub establishment: Option<String>,
    /// Default [`DEFAULT_TOKEN_DAYS`], at most [`vigie_auth::MAX_TOKEN_DAYS`].
    #[serde(default)]
    pub expires_days: Option<u32>,
}

pub struct CreatedToken {
    pub token: ApiTokenRecord,
    /// Shown once: only its SHA-256 is stored.
    pub secret: String,
}

pub async fn create_token(
    st: &AppState,
    caller: &Caller,
    req: NewTokenRequest,
) -> ApiResult<CreatedToken> {
    let name = vigie_auth::normalize_token_name(&req.name).map_err(bad)?;
    let grant = Grant::from_input(
        &req.role,
        req.region.as_deref(),
        req.establishment.as_deref(),
    )
    .map_err(bad)?;
    let days = vigie_auth::check_token_days(req.expires_days.unwrap_or(DEFAULT_TOKEN_DAYS))
        .map_err(bad)?;
    // whole seconds, as stored
    let now = Timestamp::from_second(Timestamp::now().as_second()).map_err(ApiError::internal)?;
    let expires_at = now
        .checked_add(jiff::SignedDuration::from_hours(i64::from(days) * 24))
        .map_err(ApiError::internal)?;
    let secret = vigie_auth::new_api_token().map_err(ApiError::internal)?;
    let new = NewApiToken {
        name: name.clone(),
        prefix: secret.prefix.clone(),
        token_hash: secret.hash.clone(),
        role: grant.role().as_str().into(),
        region: grant.region().cloned(),
        establishment: grant.establishment().cloned(),
        created_by: caller.principal().actor(),
        created_at: now,
        expires_at: Some(expires_at),
    };
    let result = st.store.create_token(&new).await.map_err(store_error);
    let mut detail = grant_detail(&grant);
    if let serde_json::Value::Object(m) = &mut detail {
        m.insert("name".into(), serde_json::Value::String(name));
        m.insert(
            "expires_at".into(),
            serde_json::Value::String(expires_at.to_string()),
        );
    }
    audit_change(st, caller, "token.create", &secret.prefix, detail, &result).await;
    Ok(CreatedToken {
        token: result?,
        secret: secret.secret,
    })
}

/// Revokes a token by id or prefix (revoking a revoked token keeps its
/// first revocation time).
pub async fn revoke_token(st: &AppState, caller: &Caller, key: &str) -> ApiResult<ApiTokenRecord> {
    let key = key.trim();
    if key.is_empty() || key.len() > 64 || key.chars().any(char::is_control) {
        return Err(ApiError::not_found());
    }
    // whole seconds, as stored
    let now = Timestamp::from_second(Timestamp::now().as_second()).map_err(ApiError::internal)?;
    let result = match st.store.revoke_token(key, now).await {
        Ok(Some(t)) => Ok(t),
        Ok(None) => return Err(ApiError::not_found()),
        Err(e) => Err(store_error(e)),
    };
    let (target, detail) = match &result {
        Ok(t) => (
            t.prefix.clone(),
            serde_json::json!({"id": t.id, "name": t.name}),
        ),
        Err(_) => (key.to_string(), serde_json::json!({})),
    };
    audit_change(st, caller, "token.revoke", &target, detail, &result).await;
    result
}

// --- the API ---------------------------------------------------------------

/// A session must prove the request comes from vigie's own page (the
/// `X-CSRF-Token` header); API tokens need not.
fn check_csrf_header(caller: &Caller, headers: &HeaderMap) -> ApiResult<()> {
    caller.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))
}

/// A JSON body (an empty one reads as `{}`).
fn json_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| bad(format!("the body must be a JSON object: {e}")))
}

/// `GET /api/v1/users`.
pub async fn api_users(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Query(q): Query<crate::api::ListQuery>,
) -> ApiResult<Response> {
    let filter = PerimeterFilter::of(&st, &q).await?;
    let items: Vec<UserItem> = st
        .store
        .users()
        .await?
        .into_iter()
        .filter(|u| filter.covers(u.region.as_ref(), u.establishment.as_ref()))
        .map(UserItem::from)
        .collect();
    crate::api::list_response(&st, &caller, &q, items, "users").await
}

#[derive(Serialize)]
struct UserCreated {
    #[serde(flatten)]
    user: UserItem,
    /// The generated password, shown once (absent when one was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// `POST /api/v1/users`.
pub async fn api_user_create(
    State(st): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    check_csrf_header(&caller, &headers)?;
    let req: NewUserRequest = json_body(&body)?;
    let created = create_user(&st, &caller, req).await?;
    Ok(Json(UserCreated {
        user: created.user.into(),
        password: created.generated,
    })
    .into_response())
}

/// `POST /api/v1/users/{user}/disable`.
pub async fn api_user_disable(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<UserItem>> {
    check_csrf_header(&caller, &headers)?;
    Ok(Json(set_disabled(&st, &caller, &name, true).await?.into()))
}

/// `POST /api/v1/users/{user}/enable`.
pub async fn api_user_enable(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<UserItem>> {
    check_csrf_header(&caller, &headers)?;
    Ok(Json(set_disabled(&st, &caller, &name, false).await?.into()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// Absent or empty: one is generated and returned once.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Serialize)]
struct PasswordSet {
    username: String,
    password_changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

/// `POST /api/v1/users/{user}/password`.
pub async fn api_user_password(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    check_csrf_header(&caller, &headers)?;
    let req: PasswordRequest = json_body(&body)?;
    let (username, generated) = set_password(&st, &caller, &name, req.password).await?;
    Ok(Json(PasswordSet {
        username,
        password_changed: true,
        password: generated,
    })
    .into_response())
}

/// `GET /api/v1/tokens`.
pub async fn api_tokens(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Query(q): Query<crate::api::ListQuery>,
) -> ApiResult<Response> {
    let filter = PerimeterFilter::of(&st, &q).await?;
    let now = Timestamp::now();
    let items: Vec<TokenItem> = st
        .store
        .tokens()
        .await?
        .into_iter()
        .filter(|t| filter.covers(t.region.as_ref(), t.establishment.as_ref()))
        .map(|t| TokenItem::new(t, now))
        .collect();
    crate::api::list_response(&st, &caller, &q, items, "tokens").await
}

#[derive(Serialize)]
struct TokenCreated {
    #[serde(flatten)]
    token: TokenItem,
    /// Shown once: only its SHA-256 is stored.
    secret: String,
}

/// `POST /api/v1/tokens`.
pub async fn api_token_create(
    State(st): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    check_csrf_header(&caller, &headers)?;
    let req: NewTokenRequest = json_body(&body)?;
    let created = create_token(&st, &caller, req).await?;
    Ok(Json(TokenCreated {
        token: TokenItem::new(created.token, Timestamp::now()),
        secret: created.secret,
    })
    .into_response())
}

/// `POST /api/v1/tokens/{token}/revoke`.
pub async fn api_token_revoke(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<TokenItem>> {
    check_csrf_header(&caller, &headers)?;
    let t = revoke_token(&st, &caller, &key).await?;
    Ok(Json(TokenItem::new(t, Timestamp::now())))
}

// --- the pages -------------------------------------------------------------

/// A role offered by a form.
struct RoleOption {
    name: &'static str,
    selected: bool,
}

fn role_options(roles: impl Iterator<Item = Role>, chosen: &str) -> Vec<RoleOption> {
    roles
        .map(|r| RoleOption {
            name: r.as_str(),
            selected: r.as_str() == chosen,
        })
        .collect()
}

struct RegionOption {
    code: String,
    name: String,
    selected: bool,
}

async fn region_options(st: &AppState, chosen: &str) -> ApiResult<Vec<RegionOption>> {
    Ok(st
        .store
        .org()
        .await?
        .regions()
        .iter()
        .map(|r| RegionOption {
            selected: r.code.as_str().eq_ignore_ascii_case(chosen.trim()),
            code: r.code.to_string(),
            name: r.name.clone(),
        })
        .collect())
}

/// Something shown once on the answer to a form (a generated password, a
/// token's secret).
struct Secret {
    label: String,
    value: String,
    note: String,
}

/// What a form's answer says above the lists.
#[derive(Default)]
struct Outcome {
    notice: Option<String>,
    error: Option<String>,
    secret: Option<Secret>,
    status: Option<StatusCode>,
}

impl Outcome {
    fn notice(text: String) -> Outcome {
        Outcome {
            notice: Some(text),
            ..Outcome::default()
        }
    }

    /// A refusal said on the page; internal errors go to the error page.
    fn refused(e: ApiError) -> Result<Outcome, ApiError> {
        if e.code == ErrorCode::Internal {
            return Err(e);
        }
        Ok(Outcome {
            status: Some(e.code.status()),
            error: Some(e.message),
            ..Outcome::default()
        })
    }
}

/// A time to the minute, UTC: `2026-03-01 14:05`.
fn short_time(t: Option<Timestamp>) -> String {
    t.map_or_else(
        || "–".into(),
        |t| {
            let full = vigie_core::rfc3339(t.as_second());
            full.get(..16)
                .map_or(full.clone(), |m| m.replacen('T', " ", 1))
        },
    )
}

fn render(t: &impl Template, status: Option<StatusCode>) -> Response {
    match t.render() {
        Ok(html) => {
            let mut r = Html(html).into_response();
            if let Some(s) = status {
                *r.status_mut() = s;
            }
            r
        }
        Err(e) => ApiError::internal(e).into_response(),
    }
}

fn crumbs() -> Vec<(String, String)> {
    vec![("/".into(), "Overview".into())]
}

struct UserRow {
    id: i64,
    name: String,
    /// The username as a path segment.
    path: String,
    role: String,
    perimeter: String,
    disabled: Option<String>,
    created: String,
    last_login: String,
    is_me: bool,
}

/// What the add-a-user form showed, to show again after a refusal (never
/// the passwords).
#[derive(Default)]
struct UserFormValues {
    username: String,
    role: String,
    region: String,
    establishment: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersTpl {
    title: String,
    user: UserBox,
    crumbs: Vec<(String, String)>,
    generated: String,
    outcome: Outcome,
    rows: Vec<UserRow>,
    roles: Vec<RoleOption>,
    regions: Vec<RegionOption>,
    form: UserFormValues,
    min_password: usize,
}

async fn users_page(
    st: &AppState,
    caller: &Caller,
    outcome: Outcome,
    form: UserFormValues,
) -> ApiResult<Response> {
    let rows = st
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            id: u.id,
            path: crate::auth::urlencode(&u.username),
            is_me: is_self(caller, &u.username),
            perimeter: perimeter_label(u.region.as_ref(), u.establishment.as_ref()),
            disabled: u.disabled_at.map(|d| short_time(Some(d))),
            created: short_time(Some(u.created_at)),
            last_login: short_time(u.last_login_at),
            name: u.username,
            role: u.role,
        })
        .collect();
    let role = if form.role.is_empty() {
        Role::EstablishmentOfficer.as_str().to_string()
    } else {
        form.role.clone()
    };
    let status = outcome.status;
    Ok(render(
        &UsersTpl {
            title: "Users".into(),
            user: crate::pages::user_box(caller),
            crumbs: crumbs(),
            generated: crate::pages::generated(st).await,
            outcome,
            rows,
            roles: role_options(Role::ALL.into_iter().filter(|r| *r != Role::Ingest), &role),
            regions: region_options(st, &form.region).await?,
            form,
            min_password: vigie_auth::MIN_PASSWORD_CHARS,
        },
        status,
    ))
}

/// `GET /admin/users`.
pub async fn users(State(st): State<AppState>, Admin(caller): Admin) -> ApiResult<Response> {
    users_page(&st, &caller, Outcome::default(), UserFormValues::default()).await
}

/// The add-a-user form. Every field is optional here so that a missing
/// one is refused in words, after the CSRF check.
#[derive(Debug, Default, Deserialize)]
pub struct UserForm {
    pub csrf: Option<String>,
    pub username: Option<String>,
    pub role: Option<String>,
    pub region: Option<String>,
    pub establishment: Option<String>,
    pub password: Option<String>,
    pub password2: Option<String>,
}

/// A typed password must be typed twice alike; none: one is generated.
fn typed_password(password: Option<String>, again: Option<String>) -> ApiResult<Option<String>> {
    let password = password.filter(|p| !p.is_empty());
    match &password {
        Some(p) if again.as_deref() != Some(p.as_str()) => Err(bad(
            "the two passwords differ: type the same password twice, or leave both empty to generate one",
        )),
        _ => Ok(password),
    }
}

fn generated_password_secret(username: &str, password: String) -> Secret {
    Secret {
        label: format!("Password of {username}"),
        value: password,
        note: "Shown only this once: vigie keeps only its hash. Hand it over by a safe channel."
            .into(),
    }
}

/// `POST /admin/users`.
pub async fn user_create(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Form(f): Form<UserForm>,
) -> ApiResult<Response> {
    caller.check_csrf(f.csrf.as_deref())?;
    let values = UserFormValues {
        username: f.username.clone().unwrap_or_default(),
        role: f.role.clone().unwrap_or_default(),
        region: f.region.clone().unwrap_or_default(),
        establishment: f.establishment.clone().unwrap_or_default(),
    };
    let result = match typed_password(f.password, f.password2) {
        Ok(password) => {
            create_user(
                &st,
                &caller,
                NewUserRequest {
                    username: values.username.clone(),
                    role: values.role.clone(),
                    region: f.region,
                    establishment: f.establishment,
                    password,
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(created) => {
            let u = &created.user;
            let mut outcome = Outcome::notice(format!(
                "User {} created: {}, {}.",
                u.username,
                u.role,
                perimeter_label(u.region.as_ref(), u.establishment.as_ref())
            ));
            outcome.secret = created
                .generated
                .map(|p| generated_password_secret(&u.username, p));
            users_page(&st, &caller, outcome, UserFormValues::default()).await
        }
        Err(e) => users_page(&st, &caller, Outcome::refused(e)?, values).await,
    }
}

/// A form whose only field is the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

async fn user_set_disabled_form(
    st: AppState,
    caller: Caller,
    name: String,
    f: CsrfForm,
    disabled: bool,
) -> ApiResult<Response> {
    caller.check_csrf(f.csrf.as_deref())?;
    let outcome = match set_disabled(&st, &caller, &name, disabled).await {
        Ok(u) if disabled => Outcome::notice(format!(
            "User {} disabled: their sessions are ended and they can no longer sign in.",
            u.username
        )),
        Ok(u) => Outcome::notice(format!(
            "User {} enabled: they can sign in again.",
            u.username
        )),
        Err(e) if e.code == ErrorCode::NotFound => return Err(e),
        Err(e) => Outcome::refused(e)?,
    };
    users_page(&st, &caller, outcome, UserFormValues::default()).await
}

/// `POST /admin/users/{user}/disable`.
pub async fn user_disable(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    Form(f): Form<CsrfForm>,
) -> ApiResult<Response> {
    user_set_disabled_form(st, caller, name, f, true).await
}

/// `POST /admin/users/{user}/enable`.
pub async fn user_enable(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    Form(f): Form<CsrfForm>,
) -> ApiResult<Response> {
    user_set_disabled_form(st, caller, name, f, false).await
}

#[derive(Debug, Default, Deserialize)]
pub struct PasswordForm {
    pub csrf: Option<String>,
    pub password: Option<String>,
    pub password2: Option<String>,
}

/// `POST /admin/users/{user}/password`.
pub async fn user_password(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    Form(f): Form<PasswordForm>,
) -> ApiResult<Response> {
    caller.check_csrf(f.csrf.as_deref())?;
    let result = match typed_password(f.password, f.password2) {
        Ok(password) => set_password(&st, &caller, &name, password).await,
        Err(e) => Err(e),
    };
    let outcome = match result {
        Ok((username, generated)) => {
            let mut o = Outcome::notice(if is_self(&caller, &username) {
                "Your password is changed and your sessions are ended: sign in again.".into()
            } else {
                format!("Password of {username} set: their sessions are ended.")
            });
            o.secret = generated.map(|p| generated_password_secret(&username, p));
            o
        }
        Err(e) if e.code == ErrorCode::NotFound => return Err(e),
        Err(e) => Outcome::refused(e)?,
    };
    users_page(&st, &caller, outcome, UserFormValues::default()).await
}

struct TokenRow {
    id: i64,
    prefix: String,
    name: String,
    role: String,
    perimeter: String,
    state: &'static str,
    created_by: String,
    created: String,
    expires: String,
    last_used: String,
    revoked: String,
}

#[derive(Default)]
struct TokenFormValues {
    name: String,
    role: String,
    region: String,
    establishment: String,
    days: String,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensTpl {
    title: String,
    user: UserBox,
    crumbs: Vec<(String, String)>,
    generated: String,
    outcome: Outcome,
    rows: Vec<TokenRow>,
    roles: Vec<RoleOption>,
    regions: Vec<RegionOption>,
    form: TokenFormValues,
    max_days: u32,
}

async fn tokens_page(
    st: &AppState,
    caller: &Caller,
    outcome: Outcome,
    form: TokenFormValues,
) -> ApiResult<Response> {
    let now = Timestamp::now();
    let rows = st
        .store
        .tokens()
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            state: t.state(now),
            perimeter: perimeter_label(t.region.as_ref(), t.establishment.as_ref()),
            created: short_time(Some(t.created_at)),
            expires: t
                .expires_at
                .map_or_else(|| "never".into(), |e| short_time(Some(e))),
            last_used: short_time(t.last_used_at),
            revoked: short_time(t.revoked_at),
            prefix: t.prefix,
            name: t.name,
            role: t.role,
            created_by: t.created_by,
        })
        .collect();
    let role = if form.role.is_empty() {
        Role::Ingest.as_str().to_string()
    } else {
        form.role.clone()
    };
    let form = TokenFormValues {
        days: if form.days.is_empty() {
            DEFAULT_TOKEN_DAYS.to_string()
        } else {
            form.days
        },
        ..form
    };
    let status = outcome.status;
    Ok(render(
        &TokensTpl {
            title: "API tokens".into(),
            user: crate::pages::user_box(caller),
            crumbs: crumbs(),
            generated: crate::pages::generated(st).await,
            outcome,
            rows,
            roles: role_options(Role::ALL.into_iter(), &role),
            regions: region_options(st, &form.region).await?,
            form,
            max_days: vigie_auth::MAX_TOKEN_DAYS,
        },
        status,
    ))
}

/// `GET /admin/tokens`.
pub async fn tokens(State(st): State<AppState>, Admin(caller): Admin) -> ApiResult<Response> {
    tokens_page(&st, &caller, Outcome::default(), TokenFormValues::default()).await
}

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    pub csrf: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub region: Option<String>,
    pub establishment: Option<String>,
    pub expires_days: Option<String>,
}

/// `POST /admin/tokens`: the answer shows the secret, once.
pub async fn token_create(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Form(f): Form<TokenForm>,
) -> ApiResult<Response> {
    caller.check_csrf(f.csrf.as_deref())?;
    let values = TokenFormValues {
        name: f.name.clone().unwrap_or_default(),
        role: f.role.clone().unwrap_or_default(),
        region: f.region.clone().unwrap_or_default(),
        establishment: f.establishment.clone().unwrap_or_default(),
        days: f.expires_days.clone().unwrap_or_default(),
    };
    let days = match values.days.trim() {
        "" => Ok(None),
        d => d.parse::<u32>().map(Some).map_err(|_| {
            bad(format!(
                "expiry: a number of days from 1 to {}",
                vigie_auth::MAX_TOKEN_DAYS
            ))
        }),
    };
    let result = match days {
        Ok(expires_days) => {
            create_token(
                &st,
                &caller,
                NewTokenRequest {
                    name: values.name.clone(),
                    role: values.role.clone(),
                    region: f.region,
                    establishment: f.establishment,
                    expires_days,
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(created) => {
            let t = &created.token;
            let mut outcome = Outcome::notice(format!(
                "Token {} ({}) created: {}, {}, expires {}.",
                t.name,
                t.prefix,
                t.role,
                perimeter_label(t.region.as_ref(), t.establishment.as_ref()),
                short_time(t.expires_at)
            ));
            outcome.secret = Some(Secret {
                label: format!("Secret of token {}", t.name),
                value: created.secret,
                note: SHOWN_ONCE.into(),
            });
            tokens_page(&st, &caller, outcome, TokenFormValues::default()).await
        }
        Err(e) => tokens_page(&st, &caller, Outcome::refused(e)?, values).await,
    }
}

/// `POST /admin/tokens/{token}/revoke`.
pub async fn token_revoke(
    State(st): State<AppState>,
    Admin(caller): Admin,
    Path(key): Path<String>,
    Form(f): Form<CsrfForm>,
) -> ApiResult<Response> {
    caller.check_csrf(f.csrf.as_deref())?;
    let outcome = match revoke_token(&st, &caller, &key).await {
        Ok(t) => Outcome::notice(format!(
            "Token {} ({}) revoked: it no longer opens anything.",
            t.name, t.prefix
        )),
        Err(e) if e.code == ErrorCode::NotFound => return Err(e),
        Err(e) => Outcome::refused(e)?,
    };
    tokens_page(&st, &caller, outcome, TokenFormValues::default()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_passwords_must_match() {
        assert_eq!(typed_password(None, None).ok(), Some(None));
        assert_eq!(
            typed_password(Some(String::new()), Some("x".into())).ok(),
            Some(None)
        );
        assert_eq!(
            typed_password(Some("abc".into()), Some("abc".into())).ok(),
            Some(Some("abc".into()))
        );
        assert!(typed_password(Some("abc".into()), Some("abd".into())).is_err());
        assert!(typed_password(Some("abc".into()), None).is_err());
    }

    #[test]
    fn perimeter_filters() {
        let r = |s: &str| RegionCode::new(s).ok();
        let e = |s: &str| EstablishmentCode::new(s).ok();
        let (Some(y56), Some(rx1), Some(rx2)) = (r("Y56"), e("RX1"), e("RX2")) else {
            panic!("codes")
        };
        let region = PerimeterFilter::Region(y56.clone(), [rx1.clone()].into_iter().collect());
        assert!(region.covers(Some(&y56), None));
        assert!(region.covers(None, Some(&rx1)));
        assert!(!region.covers(None, Some(&rx2)));
        assert!(!region.covers(None, None));
        let est = PerimeterFilter::Establishment(rx1.clone());
        assert!(est.covers(None, Some(&rx1)));
        assert!(!est.covers(Some(&y56), None));
        assert!(PerimeterFilter::All.covers(None, None));
    }
}
