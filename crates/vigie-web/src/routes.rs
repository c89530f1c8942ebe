//! The route table. Every route the server answers is listed here with who
//! may call it and which perimeter its path names; the router is built from
//! this table and the authorization matrix test walks it, so a new route
//! cannot escape the test. Every [`RouteId`] (and so every handler) must
//! have its row: a missing one fails the build.

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (login page, health, static files, OpenAPI).
    Public,
    /// Any signed-in user or token whose grant reads something; the data is
    /// cut to the caller's perimeter.
    Read,
    /// National administrators only.
    Admin,
    /// Pushing inventories: national admins, establishment officers and
    /// ingest tokens, for an establishment of their perimeter.
    Ingest,
    /// Any signed-in caller (their own account: `/api/v1/me`, logout).
    Authenticated,
}

/// Which perimeter a route's path or query names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    None,
    /// `{region}` in the path.
    Region,
    /// `{establishment}` in the path.
    Establishment,
    /// `{host}` in the path (a host id).
    Host,
    /// `{target}` in the path (a watched target name).
    Target,
    /// `{user}` in the path (a username; national administrators only).
    User,
    /// `{token}` in the path (an API token's id or prefix; national
    /// administrators only).
    Token,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Api,
    Page,
    Asset,
}

/// Declares [`RouteId`] and [`RouteId::ALL`] from one list, so `ALL` can
/// never miss a variant.
macro_rules! route_ids {
    ($($id:ident,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum RouteId {
            $($id,)*
        }

        impl RouteId {
            /// Every route id, in declaration order.
            pub const ALL: &'static [RouteId] = &[$(RouteId::$id,)*];
        }
    };
}

route_ids! {
    Health,
    Css,
    LoginPage,
    LoginSubmit,
    Logout,
    OverviewPage,
    RegionPage,
    EstablishmentPage,
    HostPage,
    EstablishmentReport,
    RegionReport,
    RulesPage,
    KbPage,
    WatchPage,
    AuditPage,
    OpenApi,
    ApiMe,
    ApiPosture,
    ApiTrend,
    ApiRegions,
    ApiRegion,
    ApiEstablishments,
    ApiEstablishment,
    ApiHosts,
    ApiHost,
    ApiRules,
    ApiKb,
    ApiWatchTargets,
    ApiWatchEvents,
    ApiWatchUptime,
    ApiIngest,
    ApiAudit,
    UsersPage,
    UserCreate,
    UserDisable,
    UserEnable,
    UserPassword,
    TokensPage,
    TokenCreate,
    TokenRevoke,
    ApiUsers,
    ApiUserCreate,
    ApiUserDisable,
    ApiUserEnable,
    ApiUserPassword,
    ApiTokens,
    ApiTokenCreate,
    ApiTokenRevoke,
}

#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub id: RouteId,
    pub method: &'static str,
    /// axum path syntax (`/api/v1/regions/{region}`).
    pub path: &'static str,
    pub access: Access,
    pub subject: Subject,
    pub kind: Kind,
    /// Lists that accept `?format=csv` and `?region=` / `?establishment=`.
    pub list: bool,
}

const fn r(
    id: RouteId,
    method: &'static str,
    path: &'static str,
    access: Access,
    subject: Subject,
    kind: Kind,
    list: bool,
) -> RouteSpec {
    RouteSpec {
        id,
        method,
        path,
        access,
        subject,
        kind,
        list,
    }
}

use Access::*;
use Kind::*;
use RouteId::*;
use Subject::None as NoSubject;

pub const ROUTES: &[RouteSpec] = &[
    r(Health, "GET", "/healthz", Public, NoSubject, Asset, false),
    r(
        Css,
        "GET",
        "/static/app.css",
        Public,
        NoSubject,
        Asset,
        false,
    ),
    r(LoginPage, "GET", "/login", Public, NoSubject, Page, false),
    r(
        LoginSubmit,
        "POST",
        "/login",
        Public,
        NoSubject,
        Page,
        false,
    ),
    r(
        Logout,
        "POST",
        "/logout",
        Authenticated,
        NoSubject,
        Page,
        false,
    ),
    r(OverviewPage, "GET", "/", Read, NoSubject, Page, false),
    r(
        RegionPage,
        "GET",
        "/regions/{region}",
        Read,
        Subject::Region,
        Page,
        false,
    ),
    r(
        EstablishmentPage,
        "GET",
        "/establishments/{establishment}",
        Read,
        Subject::Establishment,
        Page,
        false,
    ),
    r(
        HostPage,
        "GET",
        "/hosts/{host}",
        Read,
        Subject::Host,
        Page,
        false,
    ),
    r(
        EstablishmentReport,
        "GET",
        "/reports/establishments/{establishment}",
        Read,
        Subject::Establishment,
        Page,
        false,
    ),
    r(
        RegionReport,
        "GET",
        "/reports/regions/{region}",
        Read,
        Subject::Region,
        Page,
        false,
    ),
    r(RulesPage, "GET", "/rules", Read, NoSubject, Page, false),
    r(KbPage, "GET", "/kb", Read, NoSubject, Page, false),
    r(WatchPage, "GET", "/watch", Read, NoSubject, Page, false),
    r(
        AuditPage,
        "GET",
        "/admin/audit",
        Admin,
        NoSubject,
        Page,
        false,
    ),
    r(
        OpenApi,
        "GET",
        "/api/v1/openapi.json",
        Public,
        NoSubject,
        Api,
        false,
    ),
    r(
        ApiMe,
        "GET",
        "/api/v1/me",
        Authenticated,
        NoSubject,
        Api,
        false,
    ),
    r(
        ApiPosture,
        "GET",
        "/api/v1/posture",
        Read,
        NoSubject,
        Api,
        true,
    ),
    r(ApiTrend, "GET", "/api/v1/trend", Read, NoSubject, Api, true),
    r(
        ApiRegions,
        "GET",
        "/api/v1/regions",
        Read,
        NoSubject,
        Api,
        true,
    ),
    r(
        ApiRegion,
        "GET",
        "/api/v1/regions/{region}",
        Read,
        Subject::Region,
        Api,
        false,
    ),
    r(
        ApiEstablishments,
        "GET",
        "/api/v1/establishments",
        Read,
        NoSubject,
        Api,
        true,
    ),
    r(
        ApiEstablishment,
        "GET",
        "/api/v1/establishments/{establishment}",
        Read,
        Subject::Establishment,
        Api,
        false,
    ),
    r(ApiHosts, "GET", "/api/v1/hosts", Read, NoSubject, Api, true),
    r(
        ApiHost,
        "GET",
        "/api/v1/hosts/{host}",
        Read,
        Subject::Host,
        Api,
        false,
    ),
    r(ApiRules, "GET", "/api/v1/rules", Read, NoSubject, Api, true),
    r(ApiKb, "GET", "/api/v1/kb", Read, NoSubject, Api, true),
    r(
        ApiWatchTargets,
        "GET",
        "/api/v1/watch/targets",
        Read,
        NoSubject,
        Api,
        true,
    ),
    r(
        ApiWatchEvents,
        "GET",
        "/api/v1/watch/events",
        Read,
        NoSubject,
        Api,
        true,
    ),
    r(
        ApiWatchUptime,
        "GET",
        "/api/v1/watch/uptime",
        Read,
        NoSubject,
        Api,
        true,
    ),
    r(
        ApiIngest,
        "POST",
        "/api/v1/ingest/{establishment}",
        Ingest,
        Subject::Establishment,
        Api,
        false,
    ),
    r(
        ApiAudit,
        "GET",
        "/api/v1/audit",
        Admin,
        NoSubject,
        Api,
        true,
    ),
    // user and token administration (crate::admin)
    r(
        UsersPage,
        "GET",
        "/admin/users",
        Admin,
        NoSubject,
        Page,
        false,
    ),
    r(
        UserCreate,
        "POST",
        "/admin/users",
        Admin,
        NoSubject,
        Page,
        false,
    ),
    r(
        UserDisable,
        "POST",
        "/admin/users/{user}/disable",
        Admin,
        Subject::User,
        Page,
        false,
    ),
    r(
        UserEnable,
        "POST",
        "/admin/users/{user}/enable",
        Admin,
        Subject::User,
        Page,
        false,
    ),
    r(
        UserPassword,
        "POST",
        "/admin/users/{user}/password",
        Admin,
        Subject::User,
        Page,
        false,
    ),
    r(
        TokensPage,
        "GET",
        "/admin/tokens",
        Admin,
        NoSubject,
        Page,
        false,
    ),
    r(
        TokenCreate,
        "POST",
        "/admin/tokens",
        Admin,
        NoSubject,
        Page,
        false,
    ),
    r(
        TokenRevoke,
        "POST",
        "/admin/tokens/{token}/revoke",
        Admin,
        Subject::Token,
        Page,
        false,
    ),
    r(
        ApiUsers,
        "GET",
        "/api/v1/users",
        Admin,
        NoSubject,
        Api,
        true,
    ),
    r(
        ApiUserCreate,
        "POST",
        "/api/v1/users",
        Admin,
        NoSubject,
        Api,
        false,
    ),
    r(
        ApiUserDisable,
        "POST",
        "/api/v1/users/{user}/disable",
        Admin,
        Subject::User,
        Api,
        false,
    ),
    r(
        ApiUserEnable,
        "POST",
        "/api/v1/users/{user}/enable",
        Admin,
        Subject::User,
        Api,
        false,
    ),
    r(
        ApiUserPassword,
        "POST",
        "/api/v1/users/{user}/password",
        Admin,
        Subject::User,
        Api,
        false,
    ),
    r(
        ApiTokens,
        "GET",
        "/api/v1/tokens",
        Admin,
        NoSubject,
        Api,
        true,
    ),
    r(
        ApiTokenCreate,
        "POST",
        "/api/v1/tokens",
        Admin,
        NoSubject,
        Api,
        false,
    ),
    r(
        ApiTokenRevoke,
        "POST",
        "/api/v1/tokens/{token}/revoke",
        Admin,
        Subject::Token,
        Api,
        false,
    ),
];

/// Every route id has exactly one row in [`ROUTES`]. Checked when the
/// crate is compiled: a route id without its row does not build, so no
/// handler can exist that the router, the OpenAPI document and the
/// authorization matrix (which all walk `ROUTES`) do not know.
const _: () = {
    let mut i = 0;
    while i < RouteId::ALL.len() {
        let mut rows = 0;
        let mut j = 0;
        while j < ROUTES.len() {
            if ROUTES[j].id as usize == RouteId::ALL[i] as usize {
                rows += 1;
            }
            j += 1;
        }
        assert!(
            rows == 1,
            "a RouteId has no row, or more than one, in ROUTES: each needs exactly one"
        );
        i += 1;
    }
    assert!(ROUTES.len() == RouteId::ALL.len());
};

pub fn spec(id: RouteId) -> Option<&'static RouteSpec> {
    ROUTES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_route_id_has_one_row() {
        for id in RouteId::ALL {
            let rows = ROUTES.iter().filter(|r| r.id == *id).count();
            assert_eq!(rows, 1, "{id:?} has {rows} rows in ROUTES");
            assert!(spec(*id).is_some());
        }
        assert_eq!(ROUTES.len(), RouteId::ALL.len());
        // the printable reports, linked from the pages
        for (id, path, subject) in [
            (
                RouteId::EstablishmentReport,
                "/reports/establishments/{establishment}",
                Subject::Establishment,
            ),
            (
                RouteId::RegionReport,
                "/reports/regions/{region}",
                Subject::Region,
            ),
        ] {
            let r = spec(id).unwrap();
            assert_eq!((r.method, r.path, r.subject), ("GET", path, subject));
            assert_eq!((r.access, r.kind), (Access::Read, Kind::Page));
        }
    }

    #[test]
    fn ids_and_paths_are_unique() {
        let mut ids = HashSet::new();
        let mut paths = HashSet::new();
        for r in ROUTES {
            assert!(ids.insert(r.id), "{:?} twice", r.id);
            assert!(
                paths.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
            let placeholder = r.path.contains('{');
            assert_eq!(
                placeholder,
                r.subject != Subject::None,
                "{} names a perimeter in its path iff it has a subject",
                r.path
            );
        }
    }
}
