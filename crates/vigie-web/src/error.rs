//! One error format for the whole API:
//! `{"error": {"code": "forbidden", "message": "…"}}`, with a stable,
//! machine-readable `code`. Pages render the same errors as HTML.

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
    /// The request's body did not arrive in time.
    RequestTimeout,
    /// The database stayed busy longer than a writer waits: retry later.
    Busy,
    Internal,
}

impl ErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden | ErrorCode::CsrfFailed => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
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
