//! `POST /feedback`: a resident's report, as JSON, → validated against the current data →
//! stored durably → `{"id": N}`.
//!
//! Body: `{"kind", "message", "facility_id"?, "location"?: {"lon", "lat"}, "contact"?,
//! "client_id"?}` and nothing else. Statuses: 201 (stored; the answer comes only after the
//! commit is on disk), 200 (this `client_id` was already stored with the same content: its id),
//! 400 (a body that is not JSON, or the message names the bad field), 409 (`client_id` already
//! used for a different report), 413 (body over `server.max_body_bytes`), 415 (no JSON
//! `Content-Type`), 429 (over the per-address rate limit, the address behind any trusted proxy;
//! `Retry-After` says when to retry), 503 (store unavailable).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::error::ApiError;
use super::json_body::{JsonBody, Object};
use super::params::{NoParams, Query};
use crate::feedback::{Limits, RateLimiter, Submission};
use crate::state::AppState;

/// The `/feedback` route with its layers: the rate limit, then the body size limit.
pub fn routes(state: &AppState) -> Router<Arc<AppState>> {
    let config = &state.config.feedback;
    let limiter = Arc::new(RateLimiter::new(
        config.rate_limit_per_minute,
        config.rate_limit_burst,
    ));
    Router::new().route(
        "/feedback",
        post(post_feedback)
            .layer(DefaultBodyLimit::max(state.config.server.max_body_bytes))
            .layer(middleware::from_fn_with_state(limiter, rate_limit)),
    )
}

/// The wire form of a report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    facility_id: Option<u64>,
    location: Option<Object<LocationBody>>,
    kind: String,
    message: String,
    contact: Option<String>,
    client_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationBody {
    lon: f64,
    lat: f64,
}

pub async fn post_feedback(
    State(state): State<Arc<AppState>>,
    _: Query<NoParams>,
    JsonBody(body): JsonBody<FeedbackBody>,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let submission = Submission {
        facility_id: body.facility_id,
        location: body.location.map(|Object(l)| (l.lon, l.lat)),
        kind: body.kind,
        message: body.message,
        contact: body.contact,
        client_id: body.client_id,
    };
    let report = submission.validate(
        &snapshot.dataset,
        snapshot.version,
        &Limits::from(&state.config.feedback),
    )?;
    let inserted = state.feedback.insert(report).await?;
    let status = if inserted.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({ "id": inserted.id })),
    )
        .into_response())
}

/// Answers 429 with `Retry-After` when the client's address is over its rate.
async fn rate_limit(
    State(limiter): State<Arc<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    // The client behind any trusted proxies; without connection info (a router driven
    // in-process) every request shares one bucket.
    let client = super::proxy::ClientInfo::of(&request);
    match limiter.check(client, Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let retry_after_s = wait.as_secs_f64().ceil().max(1.0) as u64;
            (
                [(header::RETRY_AFTER, retry_after_s.to_string())],
                ApiError::TooManyRequests,
            )
                .into_response()
        }
    }
}
