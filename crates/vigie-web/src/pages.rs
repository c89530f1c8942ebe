//! Server-rendered pages. They work without JavaScript; charts are SVG
//! drawn on the server (crate `vigie-charts`), each with a title, a
//! description and the same numbers in a table.

use crate::api::{PostureItem, posture_items, trend_items};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::scope::{region_visible, visible_establishment, visible_region};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use vigie_charts as charts;
use vigie_core::{Day, RuleId};
use vigie_store::{GroupBy, HostFilter, Scope, Step, WatchGroup};

/// The rules shown as headline figures, in order, with their labels.
pub const HEADLINE: &[(&str, &str)] = &[
    ("os-eol", "End-of-life OS"),
    ("ms17-010-missing", "MS17-010 missing"),
    ("smbv1-enabled", "SMBv1 enabled"),
    ("kev-software", "Known exploited software"),
    ("patch-age", "Patches older than 60 days"),
];

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

fn today() -> Day {
    Day::of_timestamp(jiff::Timestamp::now())
}

pub struct UserBox {
    pub name: String,
    pub perimeter: String,
    pub csrf: String,
    pub admin: bool,
}

pub(crate) fn user_box(c: &Caller) -> UserBox {
    UserBox {
        name: c.name.clone(),
        perimeter: c.grant.perimeter_label(),
        csrf: c.csrf.clone().unwrap_or_default(),
        admin: c.grant.is_admin(),
    }
}

/// What the footer says of the figures' time: when the page was computed,
/// and when every machine was last brought up to date (a day-old
/// assessment means changes since are not shown yet).
pub(crate) async fn generated(st: &AppState) -> String {
    let now = jiff::Timestamp::now();
    let figures = figures_time(st, now).await;
    let today = vigie_core::Day::of_timestamp(now);
    // figures shown for a past day (a demo, an archive) say so first, and
    // every page shows it as a banner
    let figures = match st.cfg.as_of.filter(|d| *d < today) {
        Some(d) => format!(
            "Data as of {d}: the figures are those of {d}, not of today ({today}) · {figures}"
        ),
        None => figures,
    };
    let mut stale: Vec<String> = st
        .kb
        .iter()
        .filter(|s| s.is_stale(today, None))
        .map(|s| {
            format!(
                "{} ({} days old)",
                s.name,
                s.age_days(today).unwrap_or_default()
            )
        })
        .collect();
    // the Windows build history first: it is what turns a fleet red
    stale.sort_by_key(|s| !s.starts_with("windows-builds"));
    match stale.len() {
        0 => figures,
        n => {
            let mut shown = stale[..n.min(3)].join(", ");
            if n > 3 {
                shown.push_str(&format!(" and {} more", n - 3));
            }
            format!(
                "{figures} · WARNING: knowledge base out of date: {shown} (see Knowledge base; vigie kb update)"
            )
        }
    }
}

async fn figures_time(st: &AppState, now: jiff::Timestamp) -> String {
    let page = vigie_core::rfc3339(now.as_second());
    match st.store.last_assessment().await {
        Ok(Some(at)) if now.duration_since(at) > vigie_store::ASSESSMENT_STALE => format!(
            "page computed {page} · WARNING: machines not brought up to date since {} (run vigie assess, or vigie serve, which does it daily)",
            vigie_core::rfc3339(at.as_second())
        ),
        Ok(Some(at)) => format!(
            "page computed {page} · machines brought up to date {}",
            vigie_core::rfc3339(at.as_second())
        ),
        Ok(None) => format!(
            "page computed {page} · WARNING: machines never brought up to date (run vigie assess)"
        ),
        Err(e) => {
            tracing::warn!("last assessment unknown: {e}");
            format!("page computed {page}")
        }
    }
}

fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginTpl<'a> {
    csrf: &'a str,
    next: &'a str,
    failed: bool,
}

pub fn login_html(csrf: &str, next: Option<&str>, failed: bool) -> Response {
    render(&LoginTpl {
        csrf,
        next: next.unwrap_or("/"),
        failed,
    })
}

#[derive(Template)]
#[template(path = "plain.html")]
struct PlainTpl<'a> {
    title: &'a str,
    message: &'a str,
}

pub fn plain_page(title: &str, message: &str) -> Response {
    render(&PlainTpl { title, message })
}

pub async fn css() -> Response {
    let mut r = include_str!("../static/app.css").into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

pub struct Card {
    pub label: String,
    pub value: String,
    pub detail: String,
    pub spark: String,
    pub delta: String,
    pub tone: &'static str,
}

pub struct Tile {
    pub href: String,
    pub svg: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewTpl {
    /// The wall-screen view: dark, large, refreshed every minute, no table.
    wall: bool,
    /// Public services of the perimeter, when any is watched.
    watch: Option<Card>,
    title: String,
    user: UserBox,
    crumbs: Vec<(String, String)>,
    generated: String,
    lede: String,
    cards: Vec<Card>,
    grid_title: String,
    tiles: Vec<Tile>,
    swatches: Vec<String>,
    trend: String,
    table_title: String,
    table: String,
    csv_href: String,
    json_href: String,
}

pub struct Section {
    pub title: String,
    pub note: String,
    pub html: String,
    pub exports: Vec<(String, String)>,
}

impl Section {
    fn new(title: impl Into<String>, html: String) -> Section {
        Section {
            title: title.into(),
            note: String::new(),
            html,
            exports: Vec::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "detail.html")]
struct DetailTpl {
    title: String,
    user: UserBox,
    crumbs: Vec<(String, String)>,
    generated: String,
    lede: String,
    sections: Vec<Section>,
}

fn detail(
    caller: &Caller,
    generated: String,
    title: String,
    crumbs: Vec<(String, String)>,
    lede: String,
    sections: Vec<Section>,
) -> Response {
    render(&DetailTpl {
        title,
        user: user_box(caller),
        crumbs,
        generated,
        lede,
        sections,
    })
}

/// A weighted risk (0–1) from a posture row: what a national cell ranks
/// establishments by.
pub fn risk(p: &PostureItem) -> f64 {
    let s = |id: &str| p.rules.get(id).map_or(0.0, |r| r.share);
    (3.0 * s("os-eol")
        + 3.0 * s("ms17-010-missing")
        + 2.0 * s("smbv1-enabled")
        + 2.0 * s("kev-software")
        + s("patch-age"))
        / 11.0
}

/// The page of a posture group (none for machines no establishment claims).
fn group_href(by: GroupBy, r: &PostureItem) -> Option<String> {
    if r.group == "unassigned" || r.group.is_empty() {
        return None;
    }
    let code = crate::auth::urlencode(&r.group);
    Some(match by {
        GroupBy::Region => format!("/regions/{code}"),
        _ => format!("/establishments/{code}"),
    })
}

/// Most at risk first (ties by code, so the order is stable).
fn rank_by_risk(rows: &mut [PostureItem]) {
    rows.sort_by(|a, b| risk(b).total_cmp(&risk(a)).then(a.group.cmp(&b.group)));
}

/// The larger of the critical rules' (end of life, MS17-010) shares, as
/// `which` reads them from a rule.
fn critical(p: &PostureItem, which: fn(&crate::api::RuleShare) -> f64) -> f64 {
    let s = |id: &str| p.rules.get(id).map_or(0.0, which);
    s("os-eol").max(s("ms17-010-missing"))
}

/// Share of machines with a critical finding (end of life or MS17-010).
fn critical_share(p: &PostureItem) -> f64 {
    critical(p, |r| r.share)
}

/// Share of machines whose critical findings cannot be decided.
fn critical_unknown(p: &PostureItem) -> f64 {
    critical(p, |r| r.unknown_share)
}

/// "87 %" of machines with fresh evidence, with the silent ones.
fn coverage_cell(p: &PostureItem) -> String {
    if p.hosts == 0 {
        return "–".into();
    }
    format!(
        "{} <span class=\"muted\">({} silent)</span>",
        pct(p.covered(), p.hosts),
        p.silent
    )
}

fn posture_table(rows: &[PostureItem], link: impl Fn(&PostureItem) -> Option<String>) -> String {
    let mut h = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Risk</th><th scope=\"col\" class=\"num\">Machines</th>\
         <th scope=\"col\" class=\"num\" title=\"Share of machines with fresh evidence (not silent)\">Coverage</th>",
    );
    for (_, label) in HEADLINE {
        h.push_str(&format!(
            "<th scope=\"col\" class=\"num\">{}</th>",
            esc(label)
        ));
    }
    h.push_str("</tr></thead><tbody>");
    for r in rows {
        let name = if r.name.is_empty() { &r.group } else { &r.name };
        let cell = match link(r) {
            Some(href) => format!(
                "<a href=\"{}\">{}</a> <span class=\"code\">{}</span>",
                esc(&href),
                esc(name),
                esc(&r.group)
            ),
            None => format!(
                "{} <span class=\"code\">{}</span>",
                esc(name),
                esc(&r.group)
            ),
        };
        let rk = risk(r);
        let level = crate::tiles::level(critical_share(r), critical_unknown(r));
        let shown = if level == "unknown" {
            format!(
                "<span class=\"risk\" data-level=\"unknown\" title=\"{:.0} % of machines cannot be assessed\">?</span>",
                critical_unknown(r) * 100.0
            )
        } else {
            format!(
                "<span class=\"risk\" data-level=\"{level}\">{:.0}</span>",
                rk * 100.0
            )
        };
        h.push_str(&format!(
            "<tr><th scope=\"row\">{cell}</th><td>{shown}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            r.hosts,
            coverage_cell(r)
        ));
        for (id, _) in HEADLINE {
            let (n, unknown) = r.rules.get(*id).map_or((0, 0), |x| (x.hosts, x.unknown));
            let unknown = if unknown > 0 {
                format!(
                    "<br><span class=\"unknown\">+{} unknown ({})</span>",
                    unknown,
                    pct(unknown, r.hosts)
                )
            } else {
                String::new()
            };
            h.push_str(&format!(
                "<td class=\"num\">{} <span class=\"muted\">({})</span>{unknown}</td>",
                pct(n, r.hosts),
                n
            ));
        }
        h.push_str("</tr>");
    }
    if rows.is_empty() {
        h.push_str("<tr><td colspan=\"8\">No machines recorded yet.</td></tr>");
    }
    h.push_str("</tbody></table>");
    h
}

/// Shares of the headline rules over `days`, one series per rule.
async fn trend_chart(
    st: &AppState,
    scope: &Scope,
    title: &str,
    days: i32,
) -> ApiResult<(String, Vec<(String, Vec<(i64, f64)>)>)> {
    let to = st.today();
    let from = to.add_days(-days);
    let mut series = Vec::new();
    for (id, label) in HEADLINE {
        let Ok(rule) = RuleId::new(id) else { continue };
        if !st.rules.iter().any(|r| r.id == *id) {
            continue;
        }
        let pts = trend_items(st, scope, &rule, GroupBy::Sector, from, to, Step::Day).await?;
        let points: Vec<(i64, f64)> = pts
            .iter()
            .filter(|p| p.hosts > 0)
            .map(|p| (i64::from(p.day.number()), p.share))
            .collect();
        series.push((label.to_string(), points));
    }
    let chart = charts::LineChart {
        title: title.to_string(),
        description: format!("Share of machines with each finding, per day, {from} to {to}."),
        x: charts::XAxis::dates("Day"),
        y: charts::Axis::new("Share of machines", charts::ValueFormat::Percent),
        series: series
            .iter()
            .map(|(n, p)| charts::Series::new(n.clone(), p.clone()))
            .collect(),
        width: 960,
        height: 320,
        y_min_zero: true,
        markers: Vec::new(),
    };
    Ok((chart.to_svg(), series))
}

fn sparkline(points: &[(i64, f64)], label: &str) -> String {
    charts::Sparkline {
        values: points.iter().map(|p| p.1).collect(),
        width: 200,
        height: 40,
        label: label.to_string(),
        format: charts::ValueFormat::Percent,
        color: None,
    }
    .to_svg()
}

/// `GET /`: the sector (national callers), the region (regional analysts);
/// an establishment officer goes to their establishment's page.
/// `GET /?wall=1`: the overview as a wall screen.
#[derive(Deserialize)]
pub struct OverviewQuery {
    pub wall: Option<String>,
}

/// The exposure watch in one card: how many public services of the
/// perimeter answer, and how many are down or defaced.
async fn watch_card(st: &AppState, scope: &Scope) -> ApiResult<Option<Card>> {
    let targets = st.store.watch_target_list(scope).await?;
    if targets.is_empty() {
        return Ok(None);
    }
    let (mut up, mut down, mut defaced) = (0u64, 0u64, 0u64);
    for t in &targets {
        match t.state.as_ref().map(|s| s.status.as_str()) {
            Some("down") => down += 1,
            Some("defaced") => defaced += 1,
            // never answered yet: not counted as answering
            Some("pending") | None => {}
            Some(_) => up += 1,
        }
    }
    let total = targets.len() as u64;
    let failing = down + defaced;
    let pending = total - up - failing;
    let share = failing as f64 / total as f64;
    Ok(Some(Card {
        label: "Public services answering".into(),
        value: pct(up, total),
        detail: if pending > 0 {
            format!(
                "{up} up, {down} down, {defaced} defaced, {pending} not probed yet, of {total} watched"
            )
        } else {
            format!("{up} up, {down} down, {defaced} defaced, of {total} watched")
        },
        spark: String::new(),
        delta: if failing == 0 {
            "no service down or defaced".into()
        } else {
            format!("{failing} need attention (see Exposure watch)")
        },
        tone: if defaced > 0 {
            "critical"
        } else {
            crate::tiles::risk_level(share)
        },
    }))
}

pub async fn overview(
    State(st): State<AppState>,
    caller: Caller,
    Query(view): Query<OverviewQuery>,
) -> ApiResult<Response> {
    let wall = matches!(view.wall.as_deref(), Some("1" | "true" | "yes"));
    let scope = caller.scope()?;
    let (title, by, grid_title) = match &scope {
        Scope::Establishment(e) => {
            return Ok(Redirect::to(&format!(
                "/establishments/{}",
                crate::auth::urlencode(e.as_str())
            ))
            .into_response());
        }
        Scope::National => (
            "Sector overview".to_string(),
            GroupBy::Region,
            "Regions".to_string(),
        ),
        Scope::Region(r) => (
            format!("Region {r}"),
            GroupBy::Establishment,
            "Establishments".to_string(),
        ),
    };
    let at = st.today();
    let total = posture_items(&st, &scope, GroupBy::Sector, at).await?;
    let total = total.into_iter().next();
    let (trend, series) = trend_chart(&st, &scope, "Findings over the last 90 days", 90).await?;
    let hosts = total.as_ref().map_or(0, |t| t.hosts);
    let mut cards = Vec::new();
    for (i, (id, label)) in HEADLINE.iter().enumerate() {
        let (n, unknown) = total
            .as_ref()
            .and_then(|t| t.rules.get(*id))
            .map_or((0, 0), |r| (r.hosts, r.unknown));
        let pts = series.get(i).map(|s| s.1.clone()).unwrap_or_default();
        let delta = match (pts.first(), pts.last()) {
            (Some(a), Some(b)) if pts.len() > 1 => {
                let d = (b.1 - a.1) * 100.0;
                if d.abs() < 0.05 {
                    "unchanged over 90 days".to_string()
                } else if d < 0.0 {
                    format!("▼ {:.1} points over 90 days", -d)
                } else {
                    format!("▲ {d:.1} points over 90 days")
                }
            }
            _ => "no history yet".to_string(),
        };
        let share = if hosts == 0 {
            0.0
        } else {
            n as f64 / hosts as f64
        };
        let unknown_share = if hosts == 0 {
            0.0
        } else {
            unknown as f64 / hosts as f64
        };
        cards.push(Card {
            label: label.to_string(),
            value: pct(n, hosts),
            detail: if unknown > 0 {
                format!(
                    "{n} of {hosts} machines; {unknown} more unknown ({})",
                    pct(unknown, hosts)
                )
            } else {
                format!("{n} of {hosts} machines")
            },
            spark: sparkline(&pts, &format!("{label}, last 90 days")),
            delta,
            tone: crate::tiles::level(share, unknown_share),
        });
    }
    if let Some(t) = total.as_ref().filter(|t| t.hosts > 0) {
        let covered = t.covered();
        cards.push(Card {
            label: "Coverage (fresh evidence)".into(),
            value: pct(covered, t.hosts),
            detail: format!(
                "{covered} of {} machines reported recently; {} silent",
                t.hosts, t.silent
            ),
            spark: String::new(),
            delta: "silent: no inventory for the silent rule's days (30 by default)".into(),
            tone: crate::tiles::risk_level(1.0 - t.coverage),
        });
    }
    let rows = posture_items(&st, &scope, by, at).await?;
    let mut ranked = rows;
    rank_by_risk(&mut ranked);
    let tiles = ranked
        .iter()
        .filter_map(|r| group_href(by, r).map(|href| (r, href)))
        .map(|(r, href)| {
            let name = if r.name.is_empty() {
                r.group.clone()
            } else {
                r.name.clone()
            };
            Tile {
                href,
                svg: crate::tiles::risk_tile(
                    &name,
                    &r.group,
                    critical_share(r),
                    critical_unknown(r),
                    &format!(
                        "{} machines, coverage {}",
                        r.hosts,
                        pct(r.covered(), r.hosts)
                    ),
                ),
            }
        })
        .collect();
    let table = posture_table(&ranked, |r| group_href(by, r));
    let by_s = match by {
        GroupBy::Region => "region",
        _ => "establishment",
    };
    let lede = format!(
        "{hosts} machines reported by inventories. Figures are measured, not declared: each finding carries its evidence."
    );
    let watch = watch_card(&st, &scope).await?;
    Ok(render(&OverviewTpl {
        wall,
        watch,
        title,
        user: user_box(&caller),
        crumbs: Vec::new(),
        generated: generated(&st).await,
        lede,
        cards,
        grid_title,
        tiles,
        swatches: crate::tiles::legend(),
        trend,
        table_title: format!("Ranked by risk ({by_s})"),
        table,
        csv_href: format!("/api/v1/posture?by={by_s}&format=csv"),
        json_href: format!("/api/v1/posture?by={by_s}"),
    }))
}

/// `GET /regions/{region}`.
pub async fn region(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let scope = caller.scope()?;
    let region = visible_region(st.store.as_ref(), &scope, &code).await?;
    let code = region.code.clone();
    let rs = Scope::Region(code.clone());
    let mut rows = posture_items(&st, &rs, GroupBy::Establishment, st.today()).await?;
    rank_by_risk(&mut rows);
    let (trend, _) = trend_chart(
        &st,
        &rs,
        &format!("{}: findings over 90 days", region.name),
        90,
    )
    .await?;
    let table = posture_table(&rows, |r| {
        Some(format!(
            "/establishments/{}",
            crate::auth::urlencode(&r.group)
        ))
    });
    let q = crate::auth::urlencode(code.as_str());
    let mut ranking = Section::new("Establishments ranked by risk", table);
    let report_link = format!("/reports/regions/{}", crate::auth::urlencode(code.as_str()));
    ranking.note = "Risk weighs end-of-life OS and MS17-010 (3), SMBv1 and known exploited software (2), old patches (1).".into();
    ranking.exports = vec![
        ("Printable report".into(), report_link),
        (
            "CSV".into(),
            format!("/api/v1/posture?by=establishment&region={q}&format=csv"),
        ),
        (
            "JSON".into(),
            format!("/api/v1/posture?by=establishment&region={q}"),
        ),
    ];
    Ok(detail(
        &caller,
        generated(&st).await,
        format!("{} ({})", region.name, code),
        vec![("/".into(), "Overview".into())],
        format!("{} establishments.", rows.len()),
        vec![
            Section::new("Trends", format!("<div class=\"chart\">{trend}</div>")),
            ranking,
        ],
    ))
}

/// `GET /establishments/{establishment}`.
#[derive(Deserialize)]
pub struct MachineFilter {
    pub rule: Option<String>,
}

pub async fn establishment(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(filter): Query<MachineFilter>,
) -> ApiResult<Response> {
    let rule_filter = filter
        .rule
        .as_deref()
        .filter(|r| !r.is_empty())
        .map(|r| {
            if st.rules.iter().any(|x| x.id == r) {
                RuleId::new(r).map_err(|_| ApiError::bad_request("unknown rule"))
            } else {
                Err(ApiError::bad_request("unknown rule"))
            }
        })
        .transpose()?;
    let scope = caller.scope()?;
    let e = visible_establishment(st.store.as_ref(), &scope, &code).await?;
    let code = e.code.clone();
    let es = Scope::Establishment(code.clone());
    let (trend, _) =
        trend_chart(&st, &es, &format!("{}: findings over 90 days", e.name), 90).await?;
    let posture = posture_items(&st, &es, GroupBy::Establishment, st.today()).await?;
    let machines = st.store.count_hosts(&es, &HostFilter::default()).await?;
    // worst machines, ranked by the store: most critical, then high
    // findings (only those with the rule chosen in the filter, if any)
    let worst = st
        .store
        .worst_hosts(
            &es,
            &HostFilter {
                establishment: Some(code.clone()),
                rule: rule_filter.clone(),
                limit: Some(20),
                ..HostFilter::default()
            },
        )
        .await?;
    let ids = st.host_ids().await?;
    let mut t = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Machine</th><th scope=\"col\">OS</th><th scope=\"col\">Findings</th><th scope=\"col\">Last seen</th></tr></thead><tbody>",
    );
    for h in &worst {
        let findings: Vec<String> = h
            .findings
            .iter()
            .map(|f| match f.status {
                vigie_core::FindingStatus::Unknown => format!(
                    "<span class=\"sev unknown\" title=\"cannot be decided from the evidence\">{} (unknown)</span>",
                    esc(f.rule.as_str())
                ),
                _ => format!(
                    "<span class=\"sev {}\">{}</span>",
                    esc(&format!("{:?}", f.severity).to_lowercase()),
                    esc(f.rule.as_str())
                ),
            })
            .collect();
        t.push_str(&format!(
            "<tr><th scope=\"row\"><a href=\"/hosts/{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td></tr>",
            ids.encode(h.id),
            esc(h.hostname.as_deref().unwrap_or("(no name)")),
            esc(&format!("{} {}", h.os.name.as_deref().unwrap_or(""), h.os.version.as_deref().unwrap_or(""))),
            findings.join(" "),
            esc(&h.last_seen.to_string()[..10.min(h.last_seen.to_string().len())])
        ));
    }
    if worst.is_empty() {
        t.push_str("<tr><td colspan=\"4\">No machine has an open finding.</td></tr>");
    }
    t.push_str("</tbody></table>");
    // sources and the age of their last inventory
    let sources = st
        .store
        .source_summary(
            &es,
            &HostFilter {
                establishment: Some(code.clone()),
                ..HostFilter::default()
            },
        )
        .await?;
    let now = jiff::Timestamp::now().as_second();
    let mut src = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Source</th><th scope=\"col\" class=\"num\">Machines</th><th scope=\"col\">Latest inventory</th><th scope=\"col\" class=\"num\">Age (days)</th></tr></thead><tbody>",
    );
    for sc in &sources {
        let (name, n, last) = (sc.source.as_str(), sc.hosts, sc.last_observed.as_second());
        let age = (now - last).max(0) / 86_400;
        src.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{n}</td><td>{}</td><td class=\"num{}\">{age}</td></tr>",
            esc(name),
            esc(&vigie_core::rfc3339(last)),
            if age > 30 { " stale" } else { "" }
        ));
    }
    if sources.is_empty() {
        src.push_str("<tr><td colspan=\"4\">No inventory received yet.</td></tr>");
    }
    src.push_str("</tbody></table>");
    let q = crate::auth::urlencode(code.as_str());
    let mut rules = Section::new("Posture by rule", posture_table(&posture, |_| None));
    rules.exports = vec![
        (
            "Printable report".into(),
            format!("/reports/establishments/{q}"),
        ),
        (
            "CSV".into(),
            format!("/api/v1/posture?by=establishment&establishment={q}&format=csv"),
        ),
        (
            "JSON".into(),
            format!("/api/v1/posture?by=establishment&establishment={q}"),
        ),
    ];
    let chosen = rule_filter
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let mut form = format!(
        "<form method=\"get\" class=\"filter\" action=\"/establishments/{q}\"><label for=\"rule\">Only machines with</label> \
         <select id=\"rule\" name=\"rule\"><option value=\"\">any finding</option>"
    );
    for r in st.rules.iter() {
        form.push_str(&format!(
            "<option value=\"{v}\"{sel}>{v}</option>",
            v = esc(&r.id),
            sel = if r.id == chosen { " selected" } else { "" }
        ));
    }
    form.push_str("</select> <button type=\"submit\">Filter</button></form>");
    let rule_q = if chosen.is_empty() {
        String::new()
    } else {
        format!("&rule={}", crate::auth::urlencode(&chosen))
    };
    let mut worst_s = Section::new("Worst machines", format!("{form}{t}"));
    worst_s.exports = vec![
        (
            "Machines (CSV)".into(),
            format!("/api/v1/hosts?establishment={q}&format=csv&per_page=1000{rule_q}"),
        ),
        (
            "JSON".into(),
            format!("/api/v1/hosts?establishment={q}{rule_q}"),
        ),
    ];
    let mut crumbs = vec![("/".to_string(), "Overview".to_string())];
    if region_visible(&scope, &e.region) {
        crumbs.push((
            format!("/regions/{}", crate::auth::urlencode(e.region.as_str())),
            e.region.to_string(),
        ));
    }
    Ok(detail(
        &caller,
        generated(&st).await,
        format!("{} ({})", e.name, e.code),
        crumbs,
        format!(
            "{} · region {} · {} machines",
            e.kind.as_str(),
            e.region,
            machines,
        ),
        vec![
            Section::new("Trends", format!("<div class=\"chart\">{trend}</div>")),
            rules,
            worst_s,
            Section::new("Inventory sources", src),
        ],
    ))
}

/// `GET /hosts/{host}`.
pub async fn host(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = caller.scope()?;
    // the opaque id; a number or a malformed id is not found
    let Some(h) = crate::find_host(&st, &scope, &id).await? else {
        return Err(ApiError::not_found());
    };
    let opaque = st.host_ids().await?.encode(h.id);
    let mut info = String::from("<dl class=\"facts\">");
    let mut fact =
        |k: &str, v: String| info.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v)));
    fact(
        "Establishment",
        h.establishment
            .as_ref()
            .map_or("unassigned".into(), |e| e.to_string()),
    );
    fact(
        "Operating system",
        format!(
            "{} {} {}",
            h.os.name.as_deref().unwrap_or(""),
            h.os.version.as_deref().unwrap_or(""),
            h.os.build.map(|b| format!("build {b}")).unwrap_or_default()
        ),
    );
    fact("Machine id", opaque.clone());
    fact("First seen", h.first_seen.to_string());
    fact("Last seen", h.last_seen.to_string());
    fact("Attribution", h.attribution.clone().unwrap_or_default());
    info.push_str("</dl>");
    let mut f = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Rule</th><th scope=\"col\">Severity</th><th scope=\"col\">Status</th><th scope=\"col\">Open since</th><th scope=\"col\">Last seen</th><th scope=\"col\">Evidence</th></tr></thead><tbody>",
    );
    for x in &h.findings {
        let ev = serde_json::to_string_pretty(&x.evidence).unwrap_or_default();
        f.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td><span class=\"sev {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td><details><summary>evidence</summary><pre>{}</pre></details></td></tr>",
            esc(x.rule.as_str()),
            esc(&format!("{:?}", x.severity).to_lowercase()),
            esc(&format!("{:?}", x.severity).to_lowercase()),
            esc(
                &serde_json::to_value(x.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
            esc(&x.first_seen.to_string()),
            esc(&x.last_seen.to_string()),
            esc(&ev)
        ));
    }
    if h.findings.is_empty() {
        f.push_str("<tr><td colspan=\"6\">No open finding.</td></tr>");
    }
    f.push_str("</tbody></table>");
    let mut s = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Last report</th></tr></thead><tbody>",
    );
    for src in &h.sources {
        s.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            esc(src.kind.as_str()),
            esc(&src.last_observed.to_string())
        ));
    }
    s.push_str("</tbody></table>");
    let name = h
        .hostname
        .clone()
        .unwrap_or_else(|| format!("machine {opaque}"));
    let mut crumbs = vec![("/".to_string(), "Overview".to_string())];
    if let Some(e) = &h.establishment {
        crumbs.push((
            format!("/establishments/{}", crate::auth::urlencode(e.as_str())),
            e.to_string(),
        ));
    }
    let mut findings = Section::new("Findings", f);
    findings.exports = vec![("JSON".into(), format!("/api/v1/hosts/{opaque}"))];
    Ok(detail(
        &caller,
        generated(&st).await,
        name,
        crumbs,
        String::new(),
        vec![
            Section::new("Machine", info),
            findings,
            Section::new("Sources", s),
        ],
    ))
}

/// `GET /rules`.
pub async fn rules(State(st): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.scope()?;
    let mut t = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Rule</th><th scope=\"col\">Severity</th><th scope=\"col\">Why</th><th scope=\"col\">Remediation</th><th scope=\"col\">Origin</th></tr></thead><tbody>",
    );
    for r in st.rules.iter() {
        t.push_str(&format!(
            "<tr><th scope=\"row\">{}<br><span class=\"muted\">{}</span></th><td><span class=\"sev {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.id), esc(&r.title), esc(&r.severity), esc(&r.severity), esc(&r.rationale), esc(&r.remediation), esc(&r.origin)
        ));
    }
    t.push_str("</tbody></table>");
    let mut s = Section::new("Rules in effect", t);
    s.exports = vec![
        ("CSV".into(), "/api/v1/rules?format=csv".into()),
        ("JSON".into(), "/api/v1/rules".into()),
    ];
    Ok(detail(
        &caller,
        generated(&st).await,
        "Rules".into(),
        vec![("/".into(), "Overview".into())],
        String::new(),
        vec![s],
    ))
}

/// `GET /kb`.
pub async fn kb(State(st): State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.scope()?;
    let mut t = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Version</th><th scope=\"col\">Date</th><th scope=\"col\">Describes up to</th><th scope=\"col\">Age</th><th scope=\"col\" class=\"num\">Entries</th><th scope=\"col\">Origin</th></tr></thead><tbody>",
    );
    let today = vigie_core::Day::of_timestamp(jiff::Timestamp::now());
    for s in st.kb.iter() {
        let age = match (s.age_days(today), s.max_age_days()) {
            (Some(a), Some(m)) if s.is_stale(today, None) => {
                format!("<strong>{a} days: out of date (over {m})</strong>")
            }
            (Some(a), _) => format!("{a} days"),
            (None, _) => String::new(),
        };
        t.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{age}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&s.name),
            esc(&s.version),
            s.date.map(|d| d.to_string()).unwrap_or_default(),
            s.horizon.map(|d| d.to_string()).unwrap_or_default(),
            s.entries,
            esc(&serde_json::to_value(s.origin).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
        ));
    }
    t.push_str("</tbody></table>");
    let mut s = Section::new("Sources and versions", t);
    s.exports = vec![
        ("CSV".into(), "/api/v1/kb?format=csv".into()),
        ("JSON".into(), "/api/v1/kb".into()),
    ];
    Ok(detail(
        &caller,
        generated(&st).await,
        "Knowledge base".into(),
        vec![("/".into(), "Overview".into())],
        String::new(),
        vec![s],
    ))
}

/// `GET /watch`.
pub async fn watch(State(st): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let scope = caller.scope()?;
    let targets = st.store.watch_target_list(&scope).await?;
    let mut t = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Service</th><th scope=\"col\">Establishment</th><th scope=\"col\">State</th><th scope=\"col\">Since</th></tr></thead><tbody>",
    );
    let mut failing = 0;
    for x in &targets {
        let status = x
            .state
            .as_ref()
            .map_or("not probed yet".to_string(), |s| s.status.clone());
        if matches!(status.as_str(), "down" | "defaced") {
            failing += 1;
        }
        t.push_str(&format!(
            "<tr><th scope=\"row\">{}<br><span class=\"muted\">{}</span></th><td>{}</td><td><span class=\"state {}\">{}</span></td><td>{}</td></tr>",
            esc(&x.name),
            esc(&x.url),
            esc(&x.establishment.as_ref().map(|e| e.to_string()).unwrap_or_default()),
            esc(&status),
            esc(&status),
            x.state.as_ref().map(|s| esc(&vigie_core::rfc3339(s.since))).unwrap_or_default()
        ));
    }
    if targets.is_empty() {
        t.push_str("<tr><td colspan=\"4\">No watched service (see <code>vigie watch add</code>).</td></tr>");
    }
    t.push_str("</tbody></table>");
    let to = today();
    let up = st
        .store
        .watch_uptime(&scope, WatchGroup::Sector, to.add_days(-29), to)
        .await?;
    let chart = charts::LineChart {
        title: "Availability of watched services, last 30 days".into(),
        description: "Share of probes that found the service available, per day.".into(),
        x: charts::XAxis::dates("Day"),
        y: charts::Axis::new("Available", charts::ValueFormat::Percent),
        series: vec![charts::Series::new(
            "Availability",
            up.iter()
                .map(|r| (i64::from(r.day.number()), r.uptime()))
                .collect(),
        )],
        width: 960,
        height: 260,
        y_min_zero: false,
        markers: Vec::new(),
    }
    .to_svg();
    let mut list = Section::new(
        format!("{} services, {failing} down or defaced", targets.len()),
        t,
    );
    list.exports = vec![
        ("CSV".into(), "/api/v1/watch/targets?format=csv".into()),
        ("JSON".into(), "/api/v1/watch/targets".into()),
    ];
    Ok(detail(
        &caller,
        generated(&st).await,
        "Exposure watch".into(),
        vec![("/".into(), "Overview".into())],
        String::new(),
        vec![
            Section::new(
                "Availability",
                format!("<div class=\"chart\">{chart}</div>"),
            ),
            list,
        ],
    ))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    pub action: Option<String>,
}

/// `GET /admin/audit`.
pub async fn audit(
    State(st): State<AppState>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let since = today().add_days(-30).start_second();
    let entries = crate::audit_entries(&st, since, q.action.as_deref()).await?;
    let mut t = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">When</th><th scope=\"col\">Who</th><th scope=\"col\">Action</th><th scope=\"col\">On</th><th scope=\"col\">Outcome</th><th scope=\"col\">From</th></tr></thead><tbody>",
    );
    for e in entries.iter().take(1000) {
        t.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.at.to_string()),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.target),
            esc(&e.outcome),
            esc(e.ip.as_deref().unwrap_or(""))
        ));
    }
    t.push_str("</tbody></table>");
    let mut s = Section::new("Last 30 days", t);
    s.exports = vec![
        (
            "CSV".into(),
            "/api/v1/audit?format=csv&per_page=1000".into(),
        ),
        ("JSON".into(), "/api/v1/audit".into()),
    ];
    crate::audit(
        &st,
        &caller,
        "audit-read",
        "audit-log",
        "ok",
        serde_json::json!({}),
    )
    .await;
    Ok(detail(
        &caller,
        generated(&st).await,
        "Audit log".into(),
        vec![("/".into(), "Overview".into())],
        String::new(),
        vec![s],
    ))
}

/// Headline figures and remediation of a perimeter, as a table for a report.
async fn report_summary(st: &AppState, scope: &Scope) -> ApiResult<(String, u64)> {
    let at = st.today();
    let now = posture_items(st, scope, GroupBy::Sector, at)
        .await?
        .into_iter()
        .next();
    let before = posture_items(st, scope, GroupBy::Sector, at.add_days(-90))
        .await?
        .into_iter()
        .next();
    let hosts = now.as_ref().map_or(0, |p| p.hosts);
    let mut t = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Finding</th><th scope=\"col\" class=\"num\">Machines today</th>\
         <th scope=\"col\" class=\"num\">Share today</th><th scope=\"col\" class=\"num\">Share 90 days ago</th>\
         <th scope=\"col\" class=\"num\">Fixed in 90 days</th><th scope=\"col\" class=\"num\">Median days to fix</th></tr></thead><tbody>",
    );
    for (id, label) in HEADLINE {
        let Ok(rule) = RuleId::new(id) else { continue };
        let n = now
            .as_ref()
            .and_then(|p| p.rules.get(*id))
            .map_or(0, |r| r.hosts);
        let share_before = before
            .as_ref()
            .and_then(|p| p.rules.get(*id).map(|r| (r.hosts, p.hosts)));
        let rem = st
            .store
            .remediation(scope, &rule, at.add_days(-90), at)
            .await?;
        t.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td class=\"num\">{n}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(label),
            pct(n, hosts),
            share_before.map_or("–".into(), |(a, b)| pct(a, b)),
            rem.closed,
            rem.median_days.map_or("–".into(), |d| format!("{d:.0}"))
        ));
    }
    t.push_str("</tbody></table>");
    Ok((t, hosts))
}

/// `GET /reports/establishments/{establishment}`: a printable report for a
/// board meeting.
pub async fn report_establishment(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let scope = caller.scope()?;
    let e = visible_establishment(st.store.as_ref(), &scope, &code).await?;
    let code = e.code.clone();
    let es = Scope::Establishment(code.clone());
    let (summary, hosts) = report_summary(&st, &es).await?;
    let (trend, _) =
        trend_chart(&st, &es, &format!("{}: findings over 90 days", e.name), 90).await?;
    let services = st.store.watch_target_list(&es).await?;
    let mut w = String::from(
        "<table class=\"data\"><thead><tr><th scope=\"col\">Public service</th><th scope=\"col\">State</th></tr></thead><tbody>",
    );
    for s in &services {
        w.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            esc(&s.url),
            esc(s
                .state
                .as_ref()
                .map_or("not probed yet", |x| x.status.as_str()))
        ));
    }
    if services.is_empty() {
        w.push_str("<tr><td colspan=\"2\">No public service watched.</td></tr>");
    }
    w.push_str("</tbody></table>");
    crate::audit(
        &st,
        &caller,
        "export",
        &format!("report:{code}"),
        "ok",
        serde_json::json!({"format": "report"}),
    )
    .await;
    Ok(detail(
        &caller,
        generated(&st).await,
        format!("Security posture report: {}", e.name),
        vec![
            ("/".into(), "Overview".into()),
            (
                format!("/establishments/{}", crate::auth::urlencode(code.as_str())),
                code.to_string(),
            ),
        ],
        format!(
            "{} ({}), region {} · {hosts} machines · report of {} · measured from inventories, not declared. Print this page (Ctrl+P) for the board.",
            e.name,
            e.code,
            e.region,
            st.today()
        ),
        vec![
            Section::new("Key figures", summary),
            Section::new("Trends", format!("<div class=\"chart\">{trend}</div>")),
            Section::new("Public services", w),
        ],
    ))
}

/// `GET /reports/regions/{region}`: a printable regional report.
pub async fn report_region(
    State(st): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let scope = caller.scope()?;
    let region = visible_region(st.store.as_ref(), &scope, &code).await?;
    let code = region.code.clone();
    let rs = Scope::Region(code.clone());
    let (summary, hosts) = report_summary(&st, &rs).await?;
    let (trend, _) = trend_chart(
        &st,
        &rs,
        &format!("{}: findings over 90 days", region.name),
        90,
    )
    .await?;
    let mut rows = posture_items(&st, &rs, GroupBy::Establishment, st.today()).await?;
    rank_by_risk(&mut rows);
    rows.truncate(15);
    crate::audit(
        &st,
        &caller,
        "export",
        &format!("report:{code}"),
        "ok",
        serde_json::json!({"format": "report"}),
    )
    .await;
    Ok(detail(
        &caller,
        generated(&st).await,
        format!("Security posture report: {}", region.name),
        vec![
            ("/".into(), "Overview".into()),
            (
                format!("/regions/{}", crate::auth::urlencode(code.as_str())),
                code.to_string(),
            ),
        ],
        format!(
            "Region {} · {hosts} machines · report of {} · measured from inventories, not declared. Print this page (Ctrl+P) for the board.",
            code,
            st.today()
        ),
        vec![
            Section::new("Key figures", summary),
            Section::new("Trends", format!("<div class=\"chart\">{trend}</div>")),
            Section::new(
                "The 15 establishments most at risk",
                posture_table(&rows, |_| None),
            ),
        ],
    ))
}
