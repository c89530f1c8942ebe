//! The OpenAPI 3.1 document of `/api/v1`, generated from the route table,
//! so every API route is documented with who may call it. A snapshot test
//! (`tests/openapi.rs`) catches any change.

use crate::routes::{Access, Kind, ROUTES, RouteId, Subject};
use axum::Json;
use serde_json::{Value, json};

fn summary(id: RouteId) -> &'static str {
    use RouteId::*;
    match id {
        OpenApi => "This document",
        ApiMe => "The caller: name, role and perimeter",
        ApiPosture => {
            "Posture per group (sector, region or establishment) at a date: hosts and hosts with each rule"
        }
        ApiTrend => "A rule over time, per day or week",
        ApiRegions => "Regions in the caller's perimeter",
        ApiRegion => "One region, with the posture of its establishments",
        ApiEstablishments => "Establishments in the caller's perimeter",
        ApiEstablishment => "One establishment, with its posture",
        ApiHosts => "Machines with their findings and evidence",
        ApiHost => "One machine",
        ApiRules => "Posture rules in effect",
        ApiKb => "Knowledge-base sources and versions",
        ApiWatchTargets => "Watched public services and their state",
        ApiWatchEvents => "Declared state changes of watched services",
        ApiWatchUptime => "Daily availability of watched services",
        ApiIngest => "Push one inventory file (any format the CLI ingests) for an establishment",
        ApiAudit => "The audit log (national administrators)",
        ApiUsers => "User accounts: role, perimeter, state, last sign-in (never a password hash)",
        ApiUserCreate => {
            "Create a user account; without a password one is generated and returned once"
        }
        ApiUserDisable => {
            "Disable an account: its sessions end and it can no longer sign in (not your own)"
        }
        ApiUserEnable => "Let a disabled account sign in again",
        ApiUserPassword => {
            "Set an account's password (its sessions end); without one, one is generated and returned once"
        }
        ApiTokens => {
            "API tokens: prefix, name, role, perimeter, state, expiry, last use (never the secret)"
        }
        ApiTokenCreate => "Create an API token; its secret is returned once and never stored",
        ApiTokenRevoke => "Revoke an API token by id or prefix",
        _ => "",
    }
}

fn access_text(a: Access) -> &'static str {
    match a {
        Access::Public => "public",
        Access::Read => "any account or token that reads; data cut to its perimeter",
        Access::Admin => "national-admin",
        Access::Ingest => {
            "national-admin, the establishment's officer, or an ingest token of the establishment"
        }
        Access::Authenticated => "any signed-in account or token",
    }
}

fn param(name: &str, loc: &str, required: bool, desc: &str) -> Value {
    json!({"name": name, "in": loc, "required": required, "description": desc, "schema": {"type": "string"}})
}

/// The JSON body of the administration routes that take one.
fn request_schema(id: RouteId) -> Option<Value> {
    let text = |d: &str| json!({"type": "string", "description": d});
    let perimeter = |m: &mut serde_json::Map<String, Value>| {
        m.insert(
            "region".into(),
            text("the region of a regional analyst (nothing else)"),
        );
        m.insert(
            "establishment".into(),
            text("the establishment of an establishment officer or an ingest token (nothing else)"),
        );
    };
    let object = |required: &[&str], props: serde_json::Map<String, Value>| json!({"type": "object", "additionalProperties": false, "required": required, "properties": props});
    let mut props = serde_json::Map::new();
    match id {
        RouteId::ApiUserCreate => {
            props.insert(
                "username".into(),
                text("a-z, 0-9, '.', '_', '@', '-' (stored in lowercase)"),
            );
            props.insert(
                "role".into(),
                text("national-admin, national-analyst, regional-analyst or establishment-officer"),
            );
            perimeter(&mut props);
            props.insert(
                "password".into(),
                text("at least 12 characters; absent: generated and returned once"),
            );
            Some(object(&["username", "role"], props))
        }
        RouteId::ApiUserPassword => {
            props.insert(
                "password".into(),
                text("at least 12 characters; absent: generated and returned once"),
            );
            Some(object(&[], props))
        }
        RouteId::ApiTokenCreate => {
            props.insert("name".into(), text("what the token is for"));
            props.insert(
                "role".into(),
                text("ingest, establishment-officer, regional-analyst, national-analyst or national-admin"),
            );
            perimeter(&mut props);
            props.insert(
                "expires_days".into(),
                json!({"type": "integer", "minimum": 1, "maximum": vigie_auth::MAX_TOKEN_DAYS,
                       "default": crate::admin::DEFAULT_TOKEN_DAYS}),
            );
            Some(object(&["name", "role"], props))
        }
        _ => None,
    }
}

pub fn build() -> Value {
    let mut paths = serde_json::Map::new();
    for r in ROUTES.iter().filter(|r| r.kind == Kind::Api) {
        let mut params = Vec::new();
        match r.subject {
            Subject::Region => params.push(param("region", "path", true, "region code")),
            Subject::Establishment => {
                params.push(param("establishment", "path", true, "establishment code"))
            }
            Subject::Host => params.push(param("host", "path", true, "host id")),
            Subject::Target => params.push(param("target", "path", true, "target name")),
            Subject::User => params.push(param("user", "path", true, "username")),
            Subject::Token => params.push(param("token", "path", true, "token id or prefix")),
            Subject::None => {}
        }
        if r.list {
            params.push(param("format", "query", false, "json (default) or csv"));
            params.push(param("page", "query", false, "page number, from 1"));
            params.push(param(
                "per_page",
                "query",
                false,
                "items per page, 1 to 1000 (default 100)",
            ));
            params.push(param(
                "region",
                "query",
                false,
                "narrow to a region of the caller's perimeter",
            ));
            params.push(param(
                "establishment",
                "query",
                false,
                "narrow to an establishment of the caller's perimeter",
            ));
        }
        match r.id {
            RouteId::ApiPosture => {
                params.push(param(
                    "by",
                    "query",
                    false,
                    "sector, region or establishment",
                ));
                params.push(param(
                    "at",
                    "query",
                    false,
                    "day, YYYY-MM-DD (default today)",
                ));
            }
            RouteId::ApiTrend => {
                params.push(param("rule", "query", true, "rule id"));
                params.push(param(
                    "by",
                    "query",
                    false,
                    "sector, region or establishment",
                ));
                params.push(param("from", "query", false, "first day"));
                params.push(param("to", "query", false, "last day"));
                params.push(param("step", "query", false, "day or week"));
            }
            RouteId::ApiHosts => {
                params.push(param(
                    "rule",
                    "query",
                    false,
                    "only hosts with an open finding of this rule",
                ));
                params.push(param(
                    "hostname",
                    "query",
                    false,
                    "host name (case-insensitive)",
                ));
                params.push(param("at", "query", false, "as of the end of this day"));
            }
            RouteId::ApiWatchEvents | RouteId::ApiAudit => {
                params.push(param("since", "query", false, "first day"));
            }
            RouteId::ApiWatchUptime => {
                params.push(param(
                    "by",
                    "query",
                    false,
                    "sector, region, establishment or target",
                ));
                params.push(param("from", "query", false, "first day"));
                params.push(param("to", "query", false, "last day"));
            }
            RouteId::ApiIngest => {
                params.push(param(
                    "format",
                    "query",
                    false,
                    "osquery, glpi-json, fusion-xml, ocs-xml, nmap or csv (default: detected)",
                ));
                params.push(param(
                    "observed_at",
                    "query",
                    false,
                    "RFC 3339 time when the inventory carries none",
                ));
                params.push(param(
                    "name",
                    "query",
                    false,
                    "a name for the file in the ingest log",
                ));
            }
            _ => {}
        }
        if r.access == Access::Admin && r.method != "GET" {
            params.push(param(
                "X-CSRF-Token",
                "header",
                false,
                "the session's CSRF token (required with a session cookie, not with an API token)",
            ));
        }
        let mut responses = serde_json::Map::new();
        responses.insert("200".into(), json!({"description": "OK"}));
        for (code, what) in [
            ("400", "bad request"),
            ("401", "not signed in"),
            ("403", "not allowed for this account"),
            ("404", "not found, or outside the caller's perimeter"),
        ] {
            if r.access == Access::Public && code != "400" {
                continue;
            }
            responses.insert(
                code.into(),
                json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
            );
        }
        if r.id == RouteId::ApiIngest {
            responses.insert(
                "413".into(),
                json!({"description": "inventory larger than the server accepts"}),
            );
            responses.insert("422".into(), json!({"description": "the inventory could not be read; nothing was stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
        }
        let mut op = json!({
            "summary": summary(r.id),
            "operationId": format!("{:?}", r.id),
            "parameters": params,
            "responses": responses,
            "x-vigie-access": access_text(r.access),
        });
        if r.access == Access::Public {
            op["security"] = json!([]);
        }
        if let Some(schema) = request_schema(r.id) {
            // a new password may be left out (one is generated)
            let required = r.id != RouteId::ApiUserPassword;
            op["requestBody"] =
                json!({"required": required, "content": {"application/json": {"schema": schema}}});
        }
        if r.id == RouteId::ApiIngest {
            op["requestBody"] = json!({"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}});
        }
        let path = r.path.to_string();
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "vigie API",
            "version": "1",
            "description": "Security observatory for the health sector. Every read is cut to the caller's perimeter; what lies outside it reads as not found.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token (vgt_…) from `vigie token create`"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                        "code": {"type": "string", "enum": ["unauthenticated", "forbidden", "not_found", "bad_request", "csrf_failed", "rate_limited", "payload_too_large", "unprocessable", "internal"]},
                        "message": {"type": "string"}
                    }}}
                }
            }
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(build())
}
