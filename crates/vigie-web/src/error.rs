//! One error format for the whole API:
//! `{"error": {"code": "forbidden", "message": "…"}}`, with a stable,
//! machine-readable `code`. Pages render the same errors as HTML.
//!
//! Errors that do not come from vigie's own code (the rejections of axum's
//! extractors: query strings, paths, forms and bodies, body limits, a
//! method a path does not take) are put in the same format by
//! [`uniform_errors`], a layer around every route.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadRequest,
    CsrfFailed,
    RateLimited,
    PayloadTooLarge,
    Unprocessable,
    /// The path exists, not with this method.
    MethodNotAllowed,
    /// The request's body did not arrive in time.
    RequestTimeout,
    /// The database stayed busy longer than a writer waits: retry later.
    Busy,
    Internal,
}

impl ErrorCode {
    /// Every code, for the OpenAPI document and the tests.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::BadRequest,
        ErrorCode::CsrfFailed,
        ErrorCode::RateLimited,
        ErrorCode::PayloadTooLarge,
        ErrorCode::Unprocessable,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];

    /// The code as it is written in an answer (`not_found`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unprocessable => "unprocessable",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::CsrfFailed => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: &'a ApiError,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
    pub fn not_found() -> ApiError {
        // the same words whether the thing does not exist or is outside the
        // caller's perimeter: an error must not reveal what it protects
        ApiError::new(ErrorCode::NotFound, "not found")
    }
    pub fn forbidden() -> ApiError {
        ApiError::new(ErrorCode::Forbidden, "not allowed for this account")
    }
    pub fn unauthenticated() -> ApiError {
        ApiError::new(ErrorCode::Unauthenticated, "sign in or give an API token")
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError::new(ErrorCode::Internal, "internal error")
    }
}

impl ApiError {
    /// An error answered by something other than vigie's own code (an
    /// extractor's rejection, a body limit, routing), from its status and
    /// plain-text body. A request the server could not take as it came is
    /// a `bad_request`, whatever status axum chose (415, 422).
    pub fn from_status(status: StatusCode, text: &str) -> ApiError {
        let text = text.trim();
        let said = |default: &str| {
            if text.is_empty() {
                default.to_string()
            } else {
                text.chars().take(300).collect()
            }
        };
        match status {
            StatusCode::UNAUTHORIZED => ApiError::unauthenticated(),
            StatusCode::FORBIDDEN => ApiError::forbidden(),
            // the same words as every other "not found"
            StatusCode::NOT_FOUND => ApiError::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this path does not take this method",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the request is larger than the server accepts",
            ),
            StatusCode::REQUEST_TIMEOUT => ApiError::new(
                ErrorCode::RequestTimeout,
                "the request did not arrive in time",
            ),
            StatusCode::TOO_MANY_REQUESTS => {
                ApiError::new(ErrorCode::RateLimited, "too many requests")
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                ApiError::new(ErrorCode::Busy, "the server is busy: retry later")
            }
            s if s.is_server_error() => ApiError::internal(said("error")),
            _ => ApiError::bad_request(said("the request could not be understood")),
        }
    }
}

/// The layer that keeps every error in the one format: an error answered
/// in plain text (or with no body), which is how axum's extractors reject a
/// query string, a path, a form or JSON body, or a body over the limit,
/// becomes the [`ApiError`] of its status. Answers already in JSON, and
/// the HTML pages vigie renders itself, pass unchanged.
pub async fn uniform_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !plain {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    // rejections say what was wrong in a short sentence; longer: not read
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut out = ApiError::from_status(status, &text).into_response();
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        out.headers_mut()
            .insert(axum::http::header::ALLOW, allow.clone());
    }
    out
}

impl From<vigie_store::StoreError> for ApiError {
    fn from(e: vigie_store::StoreError) -> Self {
        match e {
            vigie_store::StoreError::UnknownEstablishment(_)
            | vigie_store::StoreError::UnknownRegion(_) => ApiError::not_found(),
            vigie_store::StoreError::Invalid(m) => ApiError::bad_request(m),
            e @ vigie_store::StoreError::Busy { .. } => {
                tracing::warn!("{e}");
                ApiError::new(ErrorCode::Busy, "the database is busy: retry later")
            }
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.code.status(), Json(Envelope { error: &self })).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_written_as_serialized() {
        for c in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_value(c).ok(),
                Some(serde_json::Value::from(c.as_str()))
            );
        }
    }

    #[test]
    fn the_documented_codes_are_the_codes() {
        // docs/web.md lists every code with its status
        let doc = include_str!("../../../docs/web.md");
        for c in ErrorCode::ALL {
            let entry = format!("`{}` ({}", c.as_str(), c.status().as_u16());
            assert!(doc.contains(&entry), "docs/web.md does not list {entry}");
        }
    }

    #[test]
    fn foreign_errors_map_to_codes() {
        for (status, code) in [
            (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::BadRequest),
            (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::BadRequest),
            (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge),
            (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        ] {
            let e = ApiError::from_status(status, "Failed to deserialize");
            assert_eq!(e.code, code, "{status}");
        }
        // a server error never shows its text
        let e = ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR, "secret detail");
        assert_eq!(e.message, "internal error");
    }
}
