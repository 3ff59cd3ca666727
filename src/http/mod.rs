//! HTTP surface: the only module that knows axum, status codes and the wire format.
//!
//! [`router`] wires every route of the contract in `DESIGN.md` to a thin handler (parse, take one
//! snapshot, call one stage, shape the answer) and wraps them in the cross-cutting layers: the
//! client behind trusted proxies, CORS on every answer, one JSON shape for every error, the
//! target, body and time limits, tracing, panic → 500, gzip for JSON, request metrics.
//! [`server::serve`] runs it over TCP with the connection limits.

mod admin;
mod cached_tiles;
mod coverage;
mod csv_table;
mod error;
mod evaluation;
mod feedback;
mod json_body;
mod limits;
mod maps;
mod meta;
pub mod params;
pub mod proxy;
mod report;
mod respond;
mod search;
pub mod server;
mod service;
mod tiles;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::routing::get;
use axum::{Extension, Router, middleware};
use tower::{Layer, ServiceBuilder};
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
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            HeaderName::from_static("x-data-version"),
            HeaderName::from_static("x-map-bounds"),
        ])
        .max_age(Duration::from_secs(3600));
    let server = &state.config.server;
    let limits = Arc::new(limits::RequestLimits::from(server));
    let trusted = Arc::new(proxy::TrustedProxies::new(
        server
            .trusted_proxy_nets()
            .expect("validated with the configuration"),
    ));
    // Public routes answer within `request_timeout_s` or give up with 503 (dropping the handler,
    // which cancels its work); admin work (a reload of city-scale data takes longer) is exempt.
    let public = Router::new()
        .route("/", get(web::get_page))
        .route("/assets/{file}", get(web::get_asset))
        .route("/assets/{package}/{*path}", get(web::get_package_asset))
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
        .route("/evaluation/baselines", get(evaluation::get_baselines))
        .route("/evaluation/diff", get(evaluation::get_diff))
        .route("/evaluation/diff.csv", get(evaluation::get_diff_csv))
        .route("/service-load/{category}", get(service::get_summary))
        .route(
            "/service-load/{category}/facilities",
            get(service::get_facilities),
        )
        .route("/service-load/{category}/places", get(service::get_places))
        .route("/report", get(report::get_page))
        .route("/report.json", get(report::get_json))
        .route("/report.xlsx", get(report::get_workbook))
        .route("/report/tables/{file}", get(report::get_table))
        .route(
            "/service-load/{category}/legend",
            get(maps::get_access_legend),
        )
        .route(
            "/service-load/{category}/legend.png",
            get(maps::get_access_legend_png),
        )
        .route(
            "/service-load/{category}/{z}/{x}/{y}",
            get(maps::get_access_tile),
        )
        .route("/report/map.png", get(maps::get_small_map))
        .route("/health", get(meta::get_health))
        .route("/ready", get(meta::get_ready))
        .route("/metrics", get(meta::get_metrics))
        .merge(feedback::routes(&state))
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ));
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
        // Fields are recorded by reference: nothing is formatted unless the span is shown.
        let client = request
            .extensions()
            .get::<proxy::ClientInfo>()
            .map(|c| tracing::field::display(c.addr));
        tracing::info_span!(
            "request",
            method = %request.method(),
            uri = %request.uri().path(),
            client,
        )
    });
    // The metrics need the matched route, so they are a route layer; the rest wrap the routed
    // application once, as one stack (outermost first). Applied per route instead, every layer
    // would box the route again, and each request would clone all those boxes layer by layer.
    let cached_tiles = cached_tiles::CachedTilesLayer::new(state.clone(), metrics.clone(), &cors);
    let routes = Router::new()
        .merge(public)
        .merge(admin::routes(&state))
        .layer(Extension(metrics.clone()))
        .layer(middleware::from_fn_with_state(
            metrics,
            meta::record_request,
        ))
        .with_state(state.clone());
    let stack = ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(trusted, proxy::client_info))
        .layer(cors)
        .layer(middleware::from_fn_with_state(
            limits.clone(),
            limits::json_errors,
        ))
        .layer(middleware::from_fn_with_state(
            state.requests_in_flight.clone(),
            limits::track_in_flight,
        ))
        .layer(trace)
        .layer(middleware::from_fn_with_state(
            limits,
            limits::check_request,
        ))
        .layer(CatchPanicLayer::custom(
            |_panic: Box<dyn std::any::Any + Send>| {
                axum::response::IntoResponse::into_response(ApiError::Internal(
                    "request handler panicked".into(),
                ))
            },
        ))
        .layer(CompressionLayer::new())
        .service(routes);
    // Cached tiles are answered in front of the stack, as the stack would answer them.
    match cached_tiles {
        Some(cached_tiles) => Router::new().fallback_service(cached_tiles.layer(stack)),
        None => Router::new().fallback_service(stack),
    }
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no route for `{}`; see /catalog for what this server offers",
        uri.path()
    ))
}
