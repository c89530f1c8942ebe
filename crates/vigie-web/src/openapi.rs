//! The OpenAPI 3.1 document of `/api/v1`, generated from the route table,
//! so every API route is documented with who may call it. A snapshot test
//! (`openapi_matches_its_snapshot` in `tests/session.rs`, against
//! `tests/openapi.json`) catches any change.

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
        ApiHosts => "Machines with their findings and evidence; `id` is each machine's opaque id",
        ApiHost => "One machine, by its opaque id",
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

fn param(name: &str, loc: &str, required: bool, desc: &str, schema: Value) -> Value {
    json!({"name": name, "in": loc, "required": required, "description": desc, "schema": schema})
}

/// A region or establishment code (`vigie_core::ids`).
fn code() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 32,
           "description": "letters, digits, '-', '_', '.'"})
}

fn day() -> Value {
    json!({"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn rule_id() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9._-]+$"})
}

/// A username as typed (stored in lowercase).
fn username() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": vigie_auth::MAX_USERNAME_CHARS,
           "pattern": "^[A-Za-z0-9][A-Za-z0-9._@-]*$"})
}

fn password() -> Value {
    json!({"type": "string", "minLength": vigie_auth::MIN_PASSWORD_CHARS,
           "maxLength": vigie_auth::MAX_PASSWORD_BYTES,
           "description": "at least 12 characters, at most 1024 bytes; absent: generated and returned once"})
}

/// The JSON body of the administration routes that take one.
fn request_schema(id: RouteId) -> Option<Value> {
    let text = |d: &str| json!({"type": "string", "description": d});
    let described = |mut schema: Value, d: &str| {
        schema["description"] = Value::from(d);
        schema
    };
    let perimeter = |m: &mut serde_json::Map<String, Value>| {
        m.insert(
            "region".into(),
            described(code(), "the region of a regional analyst (nothing else)"),
        );
        m.insert(
            "establishment".into(),
            described(
                code(),
                "the establishment of an establishment officer or an ingest token (nothing else)",
            ),
        );
    };
    let object = |required: &[&str], props: serde_json::Map<String, Value>| json!({"type": "object", "additionalProperties": false, "required": required, "properties": props});
    let mut props = serde_json::Map::new();
    match id {
        RouteId::ApiUserCreate => {
            props.insert(
                "username".into(),
                described(
                    username(),
                    "a-z, 0-9, '.', '_', '@', '-' (stored in lowercase)",
                ),
            );
            props.insert(
                "role".into(),
                text("national-admin, national-analyst, regional-analyst or establishment-officer"),
            );
            perimeter(&mut props);
            props.insert("password".into(), password());
            Some(object(&["username", "role"], props))
        }
        RouteId::ApiUserPassword => {
            props.insert("password".into(), password());
            Some(object(&[], props))
        }
        RouteId::ApiTokenCreate => {
            props.insert(
                "name".into(),
                json!({"type": "string", "minLength": 1, "maxLength": vigie_auth::MAX_TOKEN_NAME_BYTES,
                       "description": "what the token is for (1 to 128 bytes)"}),
            );
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
            Subject::Region => params.push(param("region", "path", true, "region code", code())),
            Subject::Establishment => params.push(param(
                "establishment",
                "path",
                true,
                "establishment code",
                code(),
            )),
            Subject::Host => params.push(param(
                "host",
                "path",
                true,
                "opaque machine id, as `id` in the machine lists: it reveals neither the order \
                 nor the number of machines; anything else (a number among them) is not found",
                json!({"type": "string", "minLength": vigie_auth::HOST_ID_LEN,
                       "maxLength": vigie_auth::HOST_ID_LEN,
                       "pattern": format!("^[a-p][a-z2-7]{{{}}}$", vigie_auth::HOST_ID_LEN - 1)}),
            )),
            Subject::Target => params.push(param(
                "target",
                "path",
                true,
                "target name",
                json!({"type": "string", "minLength": 1}),
            )),
            Subject::User => params.push(param("user", "path", true, "username", username())),
            Subject::Token => params.push(param(
                "token",
                "path",
                true,
                "token id or prefix",
                json!({"type": "string", "minLength": 1}),
            )),
            Subject::None => {}
        }
        if r.list {
            params.push(param(
                "format",
                "query",
                false,
                "json (default) or csv",
                one_of(&["json", "csv"]),
            ));
            params.push(param(
                "page",
                "query",
                false,
                "page number, from 1",
                json!({"type": "integer", "minimum": 1, "maximum": crate::api::MAX_PAGE, "default": 1}),
            ));
            params.push(param(
                "per_page",
                "query",
                false,
                "items per page, 1 to 1000 (default 100)",
                json!({"type": "integer", "minimum": 1, "maximum": crate::api::MAX_PER_PAGE, "default": 100}),
            ));
            params.push(param(
                "region",
                "query",
                false,
                "narrow to a region of the caller's perimeter",
                code(),
            ));
            params.push(param(
                "establishment",
                "query",
                false,
                "narrow to an establishment of the caller's perimeter",
                code(),
            ));
        }
        let by = || one_of(&["sector", "region", "establishment"]);
        match r.id {
            RouteId::ApiPosture => {
                params.push(param(
                    "by",
                    "query",
                    false,
                    "sector, region or establishment",
                    by(),
                ));
                params.push(param(
                    "at",
                    "query",
                    false,
                    "day, YYYY-MM-DD (default today, or the day of the server's --as-of)",
                    day(),
                ));
            }
            RouteId::ApiTrend => {
                params.push(param("rule", "query", true, "rule id", rule_id()));
                params.push(param(
                    "by",
                    "query",
                    false,
                    "sector, region or establishment",
                    by(),
                ));
                params.push(param(
                    "from",
                    "query",
                    false,
                    "first day (default: 90 days before the last); at most ten years before the last, two with step=day",
                    day(),
                ));
                params.push(param(
                    "to",
                    "query",
                    false,
                    "last day (default today, or the day of the server's --as-of)",
                    day(),
                ));
                params.push(param(
                    "step",
                    "query",
                    false,
                    "day or week",
                    one_of(&["day", "week"]),
                ));
            }
            RouteId::ApiHosts => {
                params.push(param(
                    "rule",
                    "query",
                    false,
                    "only hosts with an open finding of this rule",
                    rule_id(),
                ));
                params.push(param(
                    "hostname",
                    "query",
                    false,
                    "host name (case-insensitive)",
                    json!({"type": "string"}),
                ));
                params.push(param(
                    "at",
                    "query",
                    false,
                    "as of the end of this day",
                    day(),
                ));
            }
            RouteId::ApiWatchEvents | RouteId::ApiAudit => {
                params.push(param("since", "query", false, "first day", day()));
            }
            RouteId::ApiWatchUptime => {
                params.push(param(
                    "by",
                    "query",
                    false,
                    "sector, region, establishment or target",
                    one_of(&["sector", "region", "establishment", "target"]),
                ));
                params.push(param(
                    "from",
                    "query",
                    false,
                    "first day (default: 6 days before the last); at most two years before the last",
                    day(),
                ));
                params.push(param(
                    "to",
                    "query",
                    false,
                    "last day (default today)",
                    day(),
                ));
            }
            RouteId::ApiIngest => {
                params.push(param(
                    "format",
                    "query",
                    false,
                    "osquery, glpi-json, fusion-xml, ocs-xml, nmap or csv (default: detected)",
                    json!({"type": "string"}),
                ));
                params.push(param(
                    "observed_at",
                    "query",
                    false,
                    "RFC 3339 time when the inventory carries none",
                    json!({"type": "string", "format": "date-time"}),
                ));
                params.push(param(
                    "name",
                    "query",
                    false,
                    "a name for the file in the ingest log",
                    json!({"type": "string"}),
                ));
            }
            _ => {}
        }
        if r.method != "GET" && matches!(r.access, Access::Admin | Access::Ingest) {
            params.push(param(
                "X-CSRF-Token",
                "header",
                false,
                "the session's CSRF token (required with a session cookie, not with an API token)",
                json!({"type": "string"}),
            ));
        }
        let mut responses = serde_json::Map::new();
        responses.insert("200".into(), json!({"description": "OK"}));
        let error = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        for (code, what) in [
            (
                "400",
                "bad request: a parameter or body of the wrong type, out of range or malformed",
            ),
            ("401", "not signed in"),
            (
                "403",
                "not allowed for this account, or a missing or wrong CSRF token",
            ),
            ("404", "not found, or outside the caller's perimeter"),
        ] {
            if r.access == Access::Public && code != "400" {
                continue;
            }
            responses.insert(code.into(), error(what));
        }
        if r.method != "GET" {
            let what = if r.id == RouteId::ApiIngest {
                "inventory larger than the server accepts (--max-ingest-mib)"
            } else {
                "body larger than 64 KiB"
            };
            responses.insert("413".into(), error(what));
        }
        if r.id == RouteId::ApiIngest {
            responses.insert(
                "422".into(),
                error("the inventory could not be read; nothing was stored"),
            );
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
                        "code": {"type": "string", "enum": crate::error::ErrorCode::ALL.map(|c| c.as_str())},
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
