//! [`ApiError`]: every error the HTTP surface answers with, and its status code, in one place.
//! Stage modules never choose status codes.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer. Client mistakes carry a one-line message saying what is wrong; internal
/// failures answer "internal error" and are logged.
#[derive(Debug, Clone)]
pub enum ApiError {
    BadRequest(String),
    NotFound(String),
    Unauthorized,
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    Conflict(String),
    Unprocessable(String),
    TooManyRequests,
    Unavailable(String),
    /// 503 with `Retry-After`: the server is at a concurrency limit; retrying soon may succeed.
    Busy(String),
    /// Any other status, e.g. from a layer (405, 408, 414, 416); the message says why.
    Status(StatusCode, String),
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Status(status, _) => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> &str {
        match self {
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::PayloadTooLarge(m)
            | ApiError::UnsupportedMediaType(m)
            | ApiError::Conflict(m)
            | ApiError::Unprocessable(m)
            | ApiError::Unavailable(m)
            | ApiError::Busy(m)
            | ApiError::Status(_, m) => m,
            ApiError::Unauthorized => "missing or wrong bearer token",
            ApiError::TooManyRequests => "too many requests; slow down and retry later",
            ApiError::Internal(_) => "internal error",
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let body = serde_json::json!({ "error": self.message(), "status": status.as_u16() });
        let mut response = (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(body),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if matches!(self, ApiError::Busy(_)) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<crate::geom::TileKeyError> for ApiError {
    fn from(e: crate::geom::TileKeyError) -> Self {
        ApiError::NotFound(e.to_string())
    }
}

/// A tile that could not be made. One over the size budget is a server-side data problem the
/// client cannot fix, but the answer names the tile so the operator can find it.
impl From<std::sync::Arc<crate::state::TileError>> for ApiError {
    fn from(e: std::sync::Arc<crate::state::TileError>) -> Self {
        use crate::state::TileError;
        match &*e {
            TileError::OverBudget { .. } => {
                tracing::error!(error = %e, "tile refused");
                ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            TileError::Coverage(inner) => ApiError::from(inner.clone()),
            TileError::Encode(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::search::Error> for ApiError {
    fn from(e: crate::search::Error) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Internal(format!("background task failed: {e}"))
    }
}

impl From<crate::feedback::Error> for ApiError {
    fn from(e: crate::feedback::Error) -> Self {
        use crate::feedback::Error as E;
        match e {
            E::Invalid { .. } => ApiError::BadRequest(e.to_string()),
            E::ClientIdConflict { .. } => ApiError::Conflict(e.to_string()),
            E::NotFound { .. } => ApiError::NotFound(e.to_string()),
            E::Closed => ApiError::Unavailable(
                "the feedback store is not taking reports; retry later".into(),
            ),
            E::Connect { .. } => {
                ApiError::Unavailable("the feedback database cannot be reached; retry later".into())
            }
            E::Open { .. }
            | E::NoDatabaseUrl
            | E::DatabaseUrl { .. }
            | E::NotFeedbackSchema { .. }
            | E::DatabaseSchemaTooNew { .. }
            | E::Postgres(_)
            | E::SchemaTooNew { .. }
            | E::NotFeedbackDatabase { .. }
            | E::NoWal { .. }
            | E::Sqlite(_)
            | E::Storage(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::coverage::Error> for ApiError {
    fn from(e: crate::coverage::Error) -> Self {
        use crate::coverage::Error;
        match e {
            Error::UnknownId { .. } => ApiError::NotFound(e.to_string()),
            Error::UnknownCategory { .. }
            | Error::UnknownProfile { .. }
            | Error::BadParameter { .. } => ApiError::BadRequest(e.to_string()),
            Error::GridTooLarge { .. } | Error::NoWalkableStreets | Error::Encode(_) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

/// A failed data reload: the data named in the configuration cannot be used.
impl From<crate::snapshot::Error> for ApiError {
    fn from(e: crate::snapshot::Error) -> Self {
        ApiError::Unprocessable(format!(
            "data not reloaded, the previous data stays in service: {e}"
        ))
    }
}

impl From<std::sync::Arc<crate::coverage::Error>> for ApiError {
    fn from(e: std::sync::Arc<crate::coverage::Error>) -> Self {
        ApiError::from((*e).clone())
    }
}

impl<E> From<crate::analysis_cache::Refusal<E>> for ApiError
where
    ApiError: From<E>,
{
    fn from(refusal: crate::analysis_cache::Refusal<E>) -> Self {
        use crate::analysis_cache::Refusal;
        match refusal {
            Refusal::Busy => ApiError::Busy(
                "the server is at its limit of concurrent computations; retry in a second".into(),
            ),
            Refusal::Cancelled => {
                ApiError::Unavailable("the computation was cancelled; retry later".into())
            }
            Refusal::Failed(e) => ApiError::from(e),
            Refusal::Panicked(cause) => ApiError::Internal(format!("computation failed: {cause}")),
        }
    }
}

impl<E: Clone> From<std::sync::Arc<crate::analysis_cache::Refusal<E>>> for ApiError
where
    ApiError: From<E>,
{
    fn from(refusal: std::sync::Arc<crate::analysis_cache::Refusal<E>>) -> Self {
        use crate::analysis_cache::Refusal;
        let owned: Refusal<E> = match &*refusal {
            Refusal::Busy => Refusal::Busy,
            Refusal::Cancelled => Refusal::Cancelled,
            Refusal::Failed(e) => Refusal::Failed(e.clone()),
            Refusal::Panicked(cause) => Refusal::Panicked(cause.clone()),
        };
        <ApiError as From<Refusal<E>>>::from(owned)
    }
}
