//! `/api/v1`: JSON for everything the pages show, CSV for every list
//! (`?format=csv`), and ingest. Every read is cut to the caller's
//! perimeter; what lies outside reads as "not found".

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::scope::{narrow, region_visible, visible_establishment, visible_region};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use vigie_core::{Day, Establishment, EstablishmentCode, RuleId};
use vigie_store::{GroupBy, HostFilter, Scope, Step, WatchGroup};

/// Query parameters shared by list endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub format: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    pub region: Option<String>,
    pub establishment: Option<String>,
    pub by: Option<String>,
    pub at: Option<String>,
    pub rule: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub step: Option<String>,
    pub hostname: Option<String>,
    pub since: Option<String>,
    pub action: Option<String>,
}

pub const MAX_PER_PAGE: u64 = 1000;
/// The last page a list may be asked for: far beyond any list, and small
/// enough that its offset is a valid database integer.
pub const MAX_PAGE: u64 = 1_000_000_000;

impl ListQuery {
    /// The caller's perimeter narrowed to the `region` or `establishment`
    /// asked for (outside it: not found).
    async fn scope(&self, st: &AppState, caller: &Caller) -> ApiResult<Scope> {
        narrow(
            st.store.as_ref(),
            &caller.scope()?,
            self.region.as_deref(),
            self.establishment.as_deref(),
        )
        .await
    }

    fn page(&self) -> ApiResult<(u64, u64)> {
        let page = self.page.unwrap_or(1);
        let per = self.per_page.unwrap_or(100);
        if !(1..=MAX_PAGE).contains(&page) || !(1..=MAX_PER_PAGE).contains(&per) {
            return Err(ApiError::bad_request(format!(
                "page is 1 to {MAX_PAGE} and per_page is 1 to {MAX_PER_PAGE}"
            )));
        }
        Ok((page, per))
    }
    fn csv(&self) -> ApiResult<bool> {
        match self.format.as_deref() {
            None | Some("json") => Ok(false),
            Some("csv") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "format {other:?}: use json or csv"
            ))),
        }
    }
    fn day(v: Option<&str>, what: &str) -> ApiResult<Option<Day>> {
        v.map(|s| {
            Day::parse(s).map_err(|_| ApiError::bad_request(format!("{what}: a day is YYYY-MM-DD")))
        })
        .transpose()
    }
}

/// A page of a list.
#[derive(Debug, Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

fn today() -> Day {
    Day::of_timestamp(jiff::Timestamp::now())
}

/// Rows as CSV: the keys of the first row are the columns; nested values
/// are written as JSON.
pub fn csv_response<T: Serialize>(rows: &[T], name: &str) -> ApiResult<Response> {
    let values: Vec<serde_json::Value> = rows
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    let mut columns: Vec<String> = Vec::new();
    for v in &values {
        if let serde_json::Value::Object(m) = v {
            for k in m.keys() {
                if !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    // identifying columns first, the rest in name order
    const FIRST: [&str; 8] = [
        "id",
        "code",
        "group",
        "name",
        "hostname",
        "target",
        "establishment",
        "region",
    ];
    columns.sort_by_key(|c| {
        (
            FIRST.iter().position(|f| f == c).unwrap_or(FIRST.len()),
            c.clone(),
        )
    });
    // every cell, whatever its type, through the one escaping function:
    // quoted when it holds a separator, neutralised when a spreadsheet
    // would run it as a formula (host names come from inventories)
    let mut body = vigie_core::csv_export::record(&columns);
    for v in &values {
        let row = columns.iter().map(|c| match v.get(c) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        });
        body.push_str(&vigie_core::csv_export::record(row));
    }
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// An export: the rows as CSV, recorded in the audit log.
async fn export<T: Serialize>(
    st: &AppState,
    caller: &Caller,
    rows: &[T],
    name: &str,
) -> ApiResult<Response> {
    let resp = csv_response(rows, name)?;
    crate::audit(
        st,
        caller,
        "export",
        name,
        "ok",
        serde_json::json!({"rows": rows.len(), "format": "csv"}),
    )
    .await;
    Ok(resp)
}

pub(crate) async fn list_response<T: Serialize>(
    st: &AppState,
    caller: &Caller,
    q: &ListQuery,
    items: Vec<T>,
    name: &str,
) -> ApiResult<Response> {
    let (page, per) = q.page()?;
    let total = items.len() as u64;
    let start = ((page - 1) * per).min(total) as usize;
    let end = (start as u64 + per).min(total) as usize;
    let mut items = items;
    let slice: Vec<T> = items.drain(start..end).collect();
    if q.csv()? {
        return export(st, caller, &slice, name).await;
    }
    Ok(Json(Paged {
        items: slice,
        page,
        per_page: per,
        total,
    })
    .into_response())
}

// ---------------------------------------------------------------------

#[derive(Serialize)]
pub struct Me {
    pub name: String,
    pub kind: &'static str,
    pub role: String,
    pub region: Option<String>,
    pub establishment: Option<String>,
}

pub async fn me(caller: Caller) -> ApiResult<Json<Me>> {
    Ok(Json(Me {
        name: caller.name.clone(),
        kind: caller.kind_str(),
        role: caller.grant.role().as_str().to_string(),
        region: caller.grant.region().map(ToString::to_string),
        establishment: caller.grant.establishment().map(ToString::to_string),
    }))
}

#[derive(Serialize, Clone)]
pub struct RuleShare {
    /// Machines with a confirmed finding.
    pub hosts: u64,
    pub share: f64,
    /// Machines whose finding needs an analyst's review (not in `hosts`).
    pub needs_review: u64,
    /// Machines for which the rule cannot be decided (not in `hosts`, and
    /// never compliant).
    pub unknown: u64,
    pub unknown_share: f64,
}

#[derive(Serialize, Clone)]
pub struct PostureItem {
    pub group: String,
    pub name: String,
    pub hosts: u64,
    /// Machines silent at the date (no report for the `silent` rule's days).
    pub silent: u64,
    /// Share of the machines with fresh evidence (not silent), 0 to 1.
    pub coverage: f64,
    pub rules: BTreeMap<String, RuleShare>,
}

impl PostureItem {
    /// Machines with fresh evidence (not silent).
    pub fn covered(&self) -> u64 {
        self.hosts.saturating_sub(self.silent)
    }
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        (n as f64 / of as f64 * 10_000.0).round() / 10_000.0
    }
}

pub fn group_by(s: Option<&str>) -> ApiResult<GroupBy> {
    match s {
        None => Ok(GroupBy::Sector),
        Some(v) => GroupBy::parse(v)
            .ok_or_else(|| ApiError::bad_request("by: use sector, region or establishment")),
    }
}

pub async fn posture_items(
    st: &AppState,
    scope: &Scope,
    by: GroupBy,
    at: Day,
) -> ApiResult<Vec<PostureItem>> {
    let key = format!("posture|{scope:?}|{by:?}|{at}");
    if let Some(crate::state::Cached::Posture(v)) = st.cache.get(&key) {
        return Ok(v.as_ref().clone());
    }
    let v = posture_uncached(st, scope, by, at).await?;
    st.cache.put(
        key,
        crate::state::Cached::Posture(std::sync::Arc::new(v.clone())),
    );
    Ok(v)
}

async fn posture_uncached(
    st: &AppState,
    scope: &Scope,
    by: GroupBy,
    at: Day,
) -> ApiResult<Vec<PostureItem>> {
    let rows = st.store.posture(scope, by, at).await?;
    Ok(rows
        .into_iter()
        .map(|r| PostureItem {
            rules: st
                .rules
                .iter()
                .map(|rule| {
                    let n = r.rules.get(&rule.id).copied().unwrap_or(0);
                    let unknown = r.unknown.get(&rule.id).copied().unwrap_or(0);
                    (
                        rule.id.clone(),
                        RuleShare {
                            hosts: n,
                            share: share(n, r.hosts),
                            needs_review: r.review.get(&rule.id).copied().unwrap_or(0),
                            unknown,
                            unknown_share: share(unknown, r.hosts),
                        },
                    )
                })
                .collect(),
            silent: r.silent(),
            coverage: share(r.covered(), r.hosts),
            group: r.group,
            name: r.name,
            hosts: r.hosts,
        })
        .collect())
}

pub async fn posture(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let scope = q.scope(&st, &caller).await?;
    let at = ListQuery::day(q.at.as_deref(), "at")?.unwrap_or_else(|| st.today());
    let items = posture_items(&st, &scope, group_by(q.by.as_deref())?, at).await?;
    if q.csv()? {
        // one row per group and rule
        let flat: Vec<serde_json::Value> = items
            .iter()
            .flat_map(|i| {
                i.rules.iter().map(move |(rule, s)| {
                    serde_json::json!({"group": i.group, "name": i.name, "hosts": i.hosts,
                        "coverage": i.coverage, "rule": rule, "with_rule": s.hosts, "share": s.share,
                        "needs_review": s.needs_review, "unknown": s.unknown})
                })
            })
            .collect();
        return export(&st, &caller, &flat, "posture").await;
    }
    list_response(&st, &caller, &q, items, "posture").await
}

#[derive(Serialize, Clone)]
pub struct TrendItem {
    pub day: Day,
    pub group: String,
    pub hosts: u64,
    pub with_rule: u64,
    pub share: f64,
    pub needs_review: u64,
    pub unknown: u64,
    pub silent: u64,
    /// Share of the machines with fresh evidence (not silent), 0 to 1.
    pub coverage: f64,
}

pub async fn trend_items(
    st: &AppState,
    scope: &Scope,
    rule: &RuleId,
    by: GroupBy,
    from: Day,
    to: Day,
    step: Step,
) -> ApiResult<Vec<TrendItem>> {
    let key = format!("trend|{scope:?}|{rule}|{by:?}|{from}|{to}|{step:?}");
    if let Some(crate::state::Cached::Trend(v)) = st.cache.get(&key) {
        return Ok(v.as_ref().clone());
    }
    let v = trend_uncached(st, scope, rule, by, from, to, step).await?;
    st.cache.put(
        key,
        crate::state::Cached::Trend(std::sync::Arc::new(v.clone())),
    );
    Ok(v)
}

async fn trend_uncached(
    st: &AppState,
    scope: &Scope,
    rule: &RuleId,
    by: GroupBy,
    from: Day,
    to: Day,
    step: Step,
) -> ApiResult<Vec<TrendItem>> {
    Ok(st
        .store
        .trend(scope, rule, by, from, to, step)
        .await?
        .into_iter()
        .map(|p| TrendItem {
            share: share(p.with_rule, p.hosts),
            coverage: share(p.covered(), p.hosts),
            unknown: p.unknown,
            silent: p.silent,
            day: p.day,
            group: p.group,
            hosts: p.hosts,
            with_rule: p.with_rule,
            needs_review: p.needs_review,
        })
        .collect())
}

pub async fn trend(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let scope = q.scope(&st, &caller).await?;
    let rule_s = q
        .rule
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("rule is required"))?;
    if !st.rules.iter().any(|r| r.id == rule_s) {
        return Err(ApiError::new(ErrorCode::NotFound, "unknown rule"));
    }
    let rule = RuleId::new(rule_s).map_err(|_| ApiError::bad_request("bad rule id"))?;
    let to = ListQuery::day(q.to.as_deref(), "to")?.unwrap_or_else(|| st.today());
    let from = ListQuery::day(q.from.as_deref(), "from")?.unwrap_or_else(|| to.add_days(-90));
    if from > to || to.days_since(from) > 3660 {
        return Err(ApiError::bad_request(
            "from must be before to, at most ten years apart",
        ));
    }
    let step = match q.step.as_deref() {
        None | Some("day") => Step::Day,
        Some("week") => Step::Week,
        Some(_) => return Err(ApiError::bad_request("step: use day or week")),
    };
    if step == Step::Day && to.days_since(from) > 732 {
        return Err(ApiError::bad_request(
            "a daily series covers at most two years: use step=week",
        ));
    }
    let items = trend_items(
        &st,
        &scope,
        &rule,
        group_by(q.by.as_deref())?,
        from,
        to,
        step,
    )
    .await?;
    list_response(&st, &caller, &q, items, "trend").await
}

#[derive(Serialize)]
pub struct RegionItem {
    pub code: String,
    pub name: String,
    pub establishments: usize,
}

pub async fn region_items(st: &AppState, scope: &Scope) -> ApiResult<Vec<RegionItem>> {
    let org = st.store.org().await?;
    let visible = st.store.establishments(scope).await?;
    Ok(org
        .regions()
        .iter()
        .filter(|r| region_visible(scope, &r.code))
        .map(|r| RegionItem {
            code: r.code.to_string(),
            name: r.name.clone(),
            establishments: visible.iter().filter(|e| e.region == r.code).count(),
        })
        .collect())
}

pub async fn regions(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let scope = q.scope(&st, &caller).await?;
    let items = region_items(&st, &scope).await?;
    list_response(&st, &caller, &q, items, "regions").await
}

#[derive(Serialize)]
pub struct RegionDetail {
    pub code: String,
    pub name: String,
    pub establishments: Vec<PostureItem>,
}

pub async fn region(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<RegionDetail>> {
    let scope = caller.scope()?;
    let r = visible_region(st.store.as_ref(), &scope, &code).await?;
    let code = r.code.clone();
    let ests = posture_items(
        &st,
        &Scope::Region(code.clone()),
        GroupBy::Establishment,
        st.today(),
    )
    .await?;
    Ok(Json(RegionDetail {
        code: code.to_string(),
        name: r.name.clone(),
        establishments: ests,
    }))
}

#[derive(Serialize)]
pub struct EstablishmentItem {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub region: String,
    pub parent: Option<String>,
}

impl From<Establishment> for EstablishmentItem {
    fn from(e: Establishment) -> Self {
        EstablishmentItem {
            code: e.code.to_string(),
            name: e.name,
            kind: e.kind.as_str().to_string(),
            region: e.region.to_string(),
            parent: e.parent,
        }
    }
}

pub async fn establishments(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let scope = q.scope(&st, &caller).await?;
    let items: Vec<EstablishmentItem> = st
        .store
        .establishments(&scope)
        .await?
        .into_iter()
        .map(EstablishmentItem::from)
        .collect();
    list_response(&st, &caller, &q, items, "establishments").await
}

#[derive(Serialize)]
pub struct EstablishmentDetail {
    pub establishment: EstablishmentItem,
    pub posture: Option<PostureItem>,
    pub hosts: u64,
}

pub async fn establishment(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<EstablishmentDetail>> {
    let scope = caller.scope()?;
    let e = visible_establishment(st.store.as_ref(), &scope, &code).await?;
    let code = e.code.clone();
    let own = Scope::Establishment(code.clone());
    let posture = posture_items(&st, &own, GroupBy::Establishment, st.today())
        .await?
        .into_iter()
        .next();
    let hosts = st.store.count_hosts(&own, &HostFilter::default()).await?;
    Ok(Json(EstablishmentDetail {
        establishment: EstablishmentItem::from(e),
        posture,
        hosts,
    }))
}

fn host_filter(q: &ListQuery, scope: &Scope) -> ApiResult<HostFilter> {
    let (page, per) = q.page()?;
    Ok(HostFilter {
        establishment: match scope {
            Scope::Establishment(e) => Some(e.clone()),
            _ => None,
        },
        region: match scope {
            Scope::Region(r) => Some(r.clone()),
            _ => None,
        },
        rule: q
            .rule
            .as_deref()
            .map(RuleId::new)
            .transpose()
            .map_err(|_| ApiError::bad_request("bad rule id"))?,
        at: ListQuery::day(q.at.as_deref(), "at")?,
        unassigned_only: false,
        hostname: q.hostname.clone().filter(|h| !h.is_empty()),
        host_id: None,
        limit: Some(per),
        offset: (page - 1) * per,
    })
}

pub async fn hosts(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let scope = q.scope(&st, &caller).await?;
    let filter = host_filter(&q, &scope)?;
    let items = st.store.hosts(&scope, &filter).await?;
    // machines leave the server by their opaque ids only
    let ids = st.host_ids().await?;
    if q.csv()? {
        let flat: Vec<serde_json::Value> = items
            .iter()
            .map(|h| {
                serde_json::json!({
                    "id": ids.encode(h.id), "hostname": h.hostname, "establishment": h.establishment,
                    "region": h.region, "os": h.os.name, "os_version": h.os.version,
                    "last_seen": h.last_seen.to_string(),
                    "findings": h.findings.iter().map(|f| f.rule.to_string()).collect::<Vec<_>>().join(" "),
                })
            })
            .collect();
        return export(&st, &caller, &flat, "hosts").await;
    }
    let total = st
        .store
        .count_hosts(
            &scope,
            &HostFilter {
                limit: None,
                offset: 0,
                ..filter.clone()
            },
        )
        .await?;
    let (page, per) = q.page()?;
    let items = items
        .iter()
        .map(|h| crate::host_json(ids, h))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(Paged {
        items,
        page,
        per_page: per,
        total,
    })
    .into_response())
}

pub async fn host(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = caller.scope()?;
    // the opaque id; a number or a malformed id is not found
    match crate::find_host(&st, &scope, &id).await? {
        Some(h) => Ok(Json(crate::host_json(st.host_ids().await?, &h)?).into_response()),
        None => Err(ApiError::not_found()),
    }
}

pub async fn rules(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    // reference data, but a narrowing outside the perimeter is refused
    // like everywhere else
    q.scope(&st, &caller).await?;
    list_response(&st, &caller, &q, st.rules.as_ref().clone(), "rules").await
}

pub async fn kb(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    q.scope(&st, &caller).await?;
    list_response(&st, &caller, &q, st.kb.as_ref().clone(), "knowledge-base").await
}

#[derive(Serialize)]
pub struct TargetItem {
    pub name: String,
    pub url: String,
    pub establishment: Option<String>,
    pub region: Option<String>,
    pub status: Option<String>,
    pub since: Option<i64>,
}

pub async fn watch_targets(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let scope = q.scope(&st, &caller).await?;
    let items: Vec<TargetItem> = st
        .store
        .watch_target_list(&scope)
        .await?
        .into_iter()
        .map(|t| TargetItem {
            name: t.name,
            url: t.url,
            establishment: t.establishment.map(|e| e.to_string()),
            region: t.region.map(|r| r.to_string()),
            status: t.state.as_ref().map(|s| s.status.clone()),
            since: t.state.map(|s| s.since),
        })
        .collect();
    list_response(&st, &caller, &q, items, "watch-targets").await
}

pub async fn watch_events(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let scope = q.scope(&st, &caller).await?;
    let since = ListQuery::day(q.since.as_deref(), "since")?
        .unwrap_or_else(|| today().add_days(-7))
        .start_second();
    let items = st.store.watch_events(&scope, since, 10_000).await?;
    list_response(&st, &caller, &q, items, "watch-events").await
}

pub async fn watch_uptime(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let scope = q.scope(&st, &caller).await?;
    let by = match q.by.as_deref() {
        None => WatchGroup::Establishment,
        Some(v) => WatchGroup::parse(v).ok_or_else(|| {
            ApiError::bad_request("by: use sector, region, establishment or target")
        })?,
    };
    let to = ListQuery::day(q.to.as_deref(), "to")?.unwrap_or_else(today);
    let from = ListQuery::day(q.from.as_deref(), "from")?.unwrap_or_else(|| to.add_days(-6));
    if from > to || to.days_since(from) > 732 {
        return Err(ApiError::bad_request(
            "from must be before to, at most two years apart",
        ));
    }
    let items = st.store.watch_uptime(&scope, by, from, to).await?;
    list_response(&st, &caller, &q, items, "watch-uptime").await
}

#[derive(Deserialize)]
pub struct IngestQuery {
    pub format: Option<String>,
    pub observed_at: Option<String>,
    pub name: Option<String>,
}

pub async fn ingest(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(q): Query<IngestQuery>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Response> {
    let code = EstablishmentCode::new(&code).map_err(|_| ApiError::not_found())?;
    if !caller.grant.may_ingest_into(&code) {
        return Err(ApiError::forbidden());
    }
    // a browser session must prove the request comes from vigie's own page
    caller.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
    // the establishment must exist (an admin may name any)
    if st
        .store
        .establishments(&Scope::Establishment(code.clone()))
        .await?
        .is_empty()
    {
        return Err(ApiError::not_found());
    }

    let format = q
        .format
        .as_deref()
        .map(|f| {
            vigie_inventory::Format::parse(f)
                .ok_or_else(|| ApiError::bad_request(format!("unknown input format {f:?}")))
        })
        .transpose()?;
    let observed_at = q
        .observed_at
        .as_deref()
        .map(|s| {
            s.parse::<jiff::Timestamp>()
                .map_err(|_| ApiError::bad_request("observed_at: an RFC 3339 time"))
        })
        .transpose()?;
    let name = q
        .name
        .clone()
        .unwrap_or_else(|| format!("http-upload-{}", code));
    // a national administrator's upload is like the CLI's; anyone else's
    // is confined to the establishment (hardware ids are global)
    let opts = vigie_ingest::IngestOptions {
        establishment: Some(code.clone()),
        observed_at,
        format,
        confine: !caller.grant.is_admin(),
        ..Default::default()
    };
    // a bounded number of uploads in memory at once; each body must arrive
    // within the configured time. The store's write turn is taken only once
    // the whole body is here, so a slow sender delays nobody else.
    let _slot = st
        .ingest_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    let body: Bytes = match tokio::time::timeout(
        st.cfg.ingest_body_timeout,
        axum::body::to_bytes(body, st.cfg.max_ingest_bytes),
    )
    .await
    {
        Err(_) => {
            return Err(ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the inventory did not arrive within {} s",
                    st.cfg.ingest_body_timeout.as_secs()
                ),
            ));
        }
        Ok(Err(_)) => {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the inventory is larger than the server accepts",
            ));
        }
        Ok(Ok(b)) => b,
    };
    if body.is_empty() {
        return Err(ApiError::bad_request("empty body: send the inventory file"));
    }
    let mut pipeline = (st.pipeline)().await.map_err(ApiError::internal)?;
    let len = body.len();
    let result = pipeline
        .ingest_reader(&name, std::io::Cursor::new(body), &opts)
        .await;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(_) => "error",
    };
    crate::audit(
        &st,
        &caller,
        "ingest",
        code.as_str(),
        outcome,
        serde_json::json!({"bytes": len, "name": name}),
    )
    .await;
    if result.is_ok() {
        st.cache.clear();
    }
    match result {
        Ok(report) => Ok(Json(report).into_response()),
        Err(e) => Err(match e {
            // a database busy beyond a writer's wait: the sender retries
            vigie_ingest::IngestError::Store {
                source: source @ vigie_store::StoreError::Busy { .. },
                ..
            } => ApiError::from(source),
            // storage details stay in the server's log
            vigie_ingest::IngestError::Store { .. } => ApiError::internal(e),
            // the rest names the line or offset: the uploader needs it
            other => ApiError::new(ErrorCode::Unprocessable, other.to_string()),
        }),
    }
}

pub async fn audit_log(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    q.scope(&st, &caller).await?;
    let since = ListQuery::day(q.since.as_deref(), "since")?
        .unwrap_or_else(|| today().add_days(-30))
        .start_second();
    let items = crate::audit_entries(&st, since, q.action.as_deref()).await?;
    list_response(&st, &caller, &q, items, "audit").await
}
