//! One error shape for the whole API: `{"error": {"code": "...", "message": "..."}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Everything a handler can answer with instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed but refused (a query that does not parse); the message says why and where.
    #[error("{0}")]
    Invalid(String),
    /// Nothing at this id.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// A webhook signature or verify token did not match.
    #[error("{0}")]
    Unauthorized(String),
    /// No valid session or token.
    #[error("{0}")]
    Unauthenticated(String),
    /// Signed in, but the role or team does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts (failed sign-ins): wait.
    #[error("{0}")]
    TooManyRequests(String),
    /// The body is over the size limit.
    #[error("body is larger than the {0}-byte limit; split the batch")]
    TooLarge(usize),
    /// The store failed; details are logged, not shown.
    #[error("internal error")]
    Store(#[from] copernic_store::StoreError),
    /// A blocking task could not finish.
    #[error("internal error")]
    Join(#[from] tokio::task::JoinError),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            // A read asking for something that does not exist is the caller's mistake.
            ApiError::Store(copernic_store::StoreError::Query(_)) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            ApiError::Store(_) | ApiError::Join(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        if status.is_server_error() {
            // The detail helps operators, not callers: log it, answer generically.
            let chain = copernic_core::error_chain(&self);
            tracing::error!(message = "request failed", error = %chain);
        }
        (
            status,
            Json(json!({"error": {"code": code, "message": match &self {
                ApiError::Store(copernic_store::StoreError::Query(m)) => m.clone(),
                other => other.to_string(),
            }}})),
        )
            .into_response()
    }
}

impl From<copernic_engage::EngageError> for ApiError {
    fn from(e: copernic_engage::EngageError) -> ApiError {
        use copernic_engage::EngageError as E;
        match e {
            E::Store(s) => ApiError::Store(s),
            E::NotFound(m) => ApiError::NotFound(m),
            E::Forbidden(m) => ApiError::Forbidden(m),
            E::Invalid(m) => ApiError::Invalid(m),
            E::Unauthenticated(m) => ApiError::Unauthenticated(m),
            E::TooMany(m) => ApiError::TooManyRequests(m),
        }
    }
}
