//! HTTP surface: the only module that knows axum, status codes and the wire format.
//!
//! [`router`] wires every route of the contract in `DESIGN.md` to a thin handler (parse, take one
//! snapshot, call one stage, shape the answer) and wraps them in the cross-cutting layers:
//! CORS on every answer (errors included), gzip for JSON, panic → 500, request metrics, tracing.

mod admin;
mod coverage;
mod error;
mod feedback;
mod json_body;
mod meta;
mod respond;
mod search;
mod tiles;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, Method, StatusCode, header};
use axum::routing::get;
use axum::{Extension, Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{Any, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
pub use error::ApiError;

/// Every route of the server, with its layers.
pub fn router(state: Arc<AppState>) -> Router {
    let metrics = Arc::new(meta::RequestMetrics::default());
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PATCH,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([header::ETAG, HeaderName::from_static("x-data-version")])
        .max_age(Duration::from_secs(3600));
    // Public routes answer within 30 s or give up with 503; admin work (a reload of city-scale
    // data takes longer) is exempt.
    let public = Router::new()
        .route("/", get(web::get_page))
        .route("/assets/{file}", get(web::get_asset))
        .route("/assets/maplibre-gl/{*path}", get(web::get_maplibre_asset))
        .route("/catalog", get(meta::get_catalog))
        .route("/tiles/{file}", get(tiles::get_tilejson))
        .route("/tiles/{source}/{z}/{x}/{y}", get(tiles::get_tile))
        .route("/coverage/legend", get(coverage::get_legend))
        .route("/coverage/legend.png", get(coverage::get_legend_png))
        .route("/coverage/stats", get(coverage::get_stats))
        .route("/coverage/gaps", get(coverage::get_gaps))
        .route("/coverage/suggest", get(coverage::get_suggest))
        .route("/coverage/at", get(coverage::get_at))
        .route("/coverage/{file}", get(coverage::get_tilejson))
        .route("/coverage/{id}/{z}/{x}/{y}", get(coverage::get_tile))
        .route("/styles/{file}", get(meta::get_style))
        .route("/search", get(search::get_search))
        .route("/search/suggest", get(search::get_suggest))
        .route("/features/{id}", get(search::get_feature))
        .route("/health", get(meta::get_health))
        .route("/metrics", get(meta::get_metrics))
        .merge(feedback::routes(&state))
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ));
    Router::new()
        .merge(public)
        .merge(admin::routes(&state))
        .layer(Extension(metrics.clone()))
        .layer(middleware::from_fn_with_state(
            metrics,
            meta::record_request,
        ))
        .layer(CompressionLayer::new())
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                axum::response::IntoResponse::into_response(ApiError::Internal(
                    "request handler panicked".into(),
                ))
            },
        ))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no route for `{}`; see /catalog for what this server offers",
        uri.path()
    ))
}
