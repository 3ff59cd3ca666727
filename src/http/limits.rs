//! Request-level limits and the one error shape, as middleware:
//!
//! - [`json_errors`]: every 4xx/5xx answer that is not already JSON (axum's 405 and extractor
//!   rejections, tower-http's timeouts, `ServeDir`'s 416, …) becomes the one-line
//!   `{"error", "status"}` body, keeping headers such as `Allow`, `Retry-After` and
//!   `Content-Range`.
//! - [`check_request`]: a request target longer than `server.max_uri_bytes` is 414; a body is
//!   read in full before routing, within `server.body_read_timeout_s` (else 408, connection
//!   closed) and `server.max_body_bytes` (else 413), so no route, admin included, waits on a slow
//!   body.
//! - [`track_in_flight`]: counts requests being answered, so background work can yield to them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};

use super::error::ApiError;
use crate::config::ServerConfig;

/// The request limits of `[server]`.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    pub max_uri_bytes: usize,
    pub max_body_bytes: usize,
    pub body_read_timeout: Duration,
    pub request_timeout: Duration,
}

impl From<&ServerConfig> for RequestLimits {
    fn from(config: &ServerConfig) -> RequestLimits {
        RequestLimits {
            max_uri_bytes: config.max_uri_bytes,
            max_body_bytes: config.max_body_bytes,
            body_read_timeout: config.body_read_timeout(),
            request_timeout: config.request_timeout(),
        }
    }
}

/// Headers of an error answer that say something to the client, kept when its body is replaced.
const KEPT_HEADERS: [header::HeaderName; 5] = [
    header::ALLOW,
    header::RETRY_AFTER,
    header::CONTENT_RANGE,
    header::WWW_AUTHENTICATE,
    header::CONNECTION,
];

/// Middleware: error answers that are not JSON get the `{"error", "status"}` body.
pub async fn json_errors(
    State(limits): State<Arc<RequestLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    // The URI shares the request's buffer: cloning it copies no text.
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    // Rejection texts are short; anything longer is not a message worth repeating.
    let text = match Limited::new(body, 1024).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let message = describe(status, &method, uri.path(), &parts.headers, &text, &limits);
    let mut answer = ApiError::Status(status, message).into_response();
    for name in KEPT_HEADERS {
        for value in parts.headers.get_all(&name) {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    answer
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// A one-line message for an error answer whose body said `text` (often nothing).
fn describe(
    status: StatusCode,
    method: &Method,
    path: &str,
    headers: &axum::http::HeaderMap,
    text: &str,
    limits: &RequestLimits,
) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let shown_path: String = path.chars().take(200).collect();
    match status {
        // axum adds `Allow` after the route's layers have run.
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "method {method} is not allowed on `{shown_path}`; the Allow header lists those it takes"
        ),
        StatusCode::REQUEST_TIMEOUT => format!(
            "the request body did not arrive within {} s",
            limits.body_read_timeout.as_secs_f64()
        ),
        StatusCode::SERVICE_UNAVAILABLE if text.is_empty() => format!(
            "no answer within {} s; retry later",
            limits.request_timeout.as_secs_f64()
        ),
        StatusCode::RANGE_NOT_SATISFIABLE => {
            let range = headers
                .get(header::CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("the requested byte range cannot be served (file: {range})")
        }
        _ if !text.is_empty() => text,
        _ => status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase(),
    }
}

/// Middleware: refuses overlong targets (414) and reads the whole body within the time and size
/// limits before the request goes on.
pub async fn check_request(
    State(limits): State<Arc<RequestLimits>>,
    request: Request,
    next: Next,
) -> Response {
    let target_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target_len > limits.max_uri_bytes {
        return ApiError::Status(
            StatusCode::URI_TOO_LONG,
            format!(
                "the request target is {target_len} bytes; at most {} are accepted",
                limits.max_uri_bytes
            ),
        )
        .into_response();
    }
    if axum::body::HttpBody::size_hint(request.body()).exact() == Some(0) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(limits.body_read_timeout, read_body(body, &limits)).await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(BodyError::TooLarge { drained })) => {
            let error = ApiError::PayloadTooLarge(format!(
                "request body is larger than {} bytes",
                limits.max_body_bytes
            ));
            // A body read to its end leaves the connection usable.
            return if drained {
                error.into_response()
            } else {
                close(error)
            };
        }
        Ok(Err(BodyError::Read(e))) => {
            return close(ApiError::BadRequest(format!(
                "cannot read the request body: {e}"
            )));
        }
        Err(_) => {
            return close(ApiError::Status(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} s",
                    limits.body_read_timeout.as_secs_f64()
                ),
            ));
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

enum BodyError {
    /// Over `max_body_bytes`; `drained` when the rest was read (and dropped) to its end.
    TooLarge {
        drained: bool,
    },
    Read(axum::Error),
}

/// Reads `body` whole, up to `max_body_bytes`. Past the limit it reads on (discarding, up to
/// 16 times the limit) so that the client, still sending, can read the 413 rather than a reset.
async fn read_body(body: Body, limits: &RequestLimits) -> Result<Bytes, BodyError> {
    let mut body = body;
    let mut kept = Vec::new();
    let mut n_read = 0usize;
    let drain_limit = limits.max_body_bytes.saturating_mul(16);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        n_read += data.len();
        if n_read > drain_limit {
            return Err(BodyError::TooLarge { drained: false });
        }
        if n_read <= limits.max_body_bytes {
            kept.extend_from_slice(&data);
        }
    }
    if n_read > limits.max_body_bytes {
        return Err(BodyError::TooLarge { drained: true });
    }
    Ok(Bytes::from(kept))
}

/// An error answer after which the connection closes (the rest of the body is not read).
fn close(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware: counts the request in `in_flight` while it is answered.
pub async fn track_in_flight(
    State(in_flight): State<Arc<AtomicUsize>>,
    request: Request,
    next: Next,
) -> Response {
    in_flight.fetch_add(1, Ordering::Relaxed);
    let _guard = InFlightGuard(in_flight);
    next.run(request).await
}
