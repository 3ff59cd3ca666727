//! Descriptive routes: `/catalog`, `/styles/{name}.json`, `/health` (liveness), `/ready`
//! (readiness: data loaded, its version, precompute state, last reload), `/metrics`.
//!
//! `/catalog` also says where the data came from: per category its sources with counts and
//! as-of dates, `newest_as_of` and `stale` (older than `data.stale_after_days`; null when no
//! source has a date), and under `data` every source and every counted skip reason.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::params::{NoParams, Query};
use super::respond::{self, PublicUrl};
use crate::state::{AppState, FACILITIES_SOURCE};
use crate::tiles::basemap::BASEMAP_SOURCE;

/// The bundled MapLibre style; `{base_url}` is replaced per request.
const LIFECIRCLE_STYLE: &str = include_str!("../../styles/lifecircle.json");

pub async fn get_catalog(
    State(state): State<Arc<AppState>>,
    _: Query<NoParams>,
    public_url: PublicUrl,
) -> Response {
    let snapshot = state.snapshot.load_full();
    let dataset = &snapshot.dataset;
    let taxonomy = &dataset.taxonomy;
    let base = &public_url.0;
    let today = state.config.server.local_time.today_days();
    let stale_after_days = i64::from(state.config.data.stale_after_days);
    let categories: Vec<_> = taxonomy
        .categories()
        .map(|(id, c)| {
            let counts = dataset.source_counts(id);
            let sources: Vec<_> = dataset
                .sources
                .iter()
                .zip(counts)
                .filter(|(_, n)| **n > 0)
                .map(|(s, n)| {
                    serde_json::json!({
                        "source": s.name,
                        "provider": s.provider,
                        "n_facilities": n,
                        "as_of": s.as_of.as_ref().map(|d| d.text.as_str()),
                    })
                })
                .collect();
            let newest = dataset
                .sources
                .iter()
                .zip(counts)
                .filter(|(_, n)| **n > 0)
                .filter_map(|(s, _)| s.as_of.as_ref())
                .max_by_key(|d| d.days);
            let stale = newest.map(|d| today - d.days > stale_after_days);
            serde_json::json!({
                "id": c.id,
                "label_zh": c.label_zh,
                "label_en": c.label_en,
                "color": c.color,
                "group": taxonomy.group(c.group).id,
                "walk_min": c.walk_min,
                "essential": c.essential,
                "keywords": c.keywords,
                "n_facilities": dataset.facilities_of(id).len(),
                "sources": sources,
                "newest_as_of": newest.map(|d| d.text.as_str()),
                "stale": stale,
            })
        })
        .collect();
    let groups: Vec<_> = taxonomy
        .groups()
        .map(|(_, g)| serde_json::json!({ "id": g.id, "label_zh": g.label_zh, "label_en": g.label_en }))
        .collect();
    respond::json(&serde_json::json!({
        "data_version": snapshot.version,
        "tiles": {
            FACILITIES_SOURCE: {
                "name": "Public-service facilities",
                "content_type": super::tiles::MVT_CONTENT_TYPE,
                "tilejson": format!("{base}/tiles/{FACILITIES_SOURCE}.json"),
                "tiles": format!("{base}/tiles/{FACILITIES_SOURCE}/{{z}}/{{x}}/{{y}}.mvt"),
            },
            BASEMAP_SOURCE: {
                "name": "Basemap from the data: subdistricts and streets",
                "content_type": super::tiles::MVT_CONTENT_TYPE,
                "tilejson": format!("{base}/tiles/{BASEMAP_SOURCE}.json"),
                "tiles": format!("{base}/tiles/{BASEMAP_SOURCE}/{{z}}/{{x}}/{{y}}.mvt"),
            },
        },
        "categories": categories,
        "groups": groups,
        "data": data_entry(&snapshot, stale_after_days),
        "styles": { "lifecircle": { "url": format!("{base}/styles/lifecircle.json") } },
        "coverage": super::coverage::catalog_entry(&snapshot, base),
        "search": {
            "search": format!("{base}/search?q={{q}}&near={{lon}},{{lat}}&radius={{metres}}&category={{ids}}"),
            "suggest": format!("{base}/search/suggest?q={{prefix}}"),
            "feature": format!("{base}/features/{{id}}"),
        },
        "service_load": service_load_entry(dataset, base),
        "evaluation": {
            "baselines": format!("{base}/evaluation/baselines"),
            "diff": format!("{base}/evaluation/diff?baseline={{name}}"),
            "report": format!("{base}/report?lang={{zh|en}}"),
            "report_json": format!("{base}/report.json"),
            "report_xlsx": format!("{base}/report.xlsx"),
            "report_table": format!("{base}/report/tables/{{table}}.{{csv|xlsx}}"),
            "small_map": format!("{base}/report/map.png?category={{id}}&layer={{coverage|access}}"),
        },
    }))
}

/// The catalog's `service_load` entry: the 2SFCA routes as URL templates, and the categories
/// that have facilities to compute them for (the others answer with no facility).
fn service_load_entry(dataset: &crate::dataset::Dataset, base: &str) -> serde_json::Value {
    let existing = crate::attributes::Scenario::Existing.statuses();
    let categories: Vec<&str> = dataset
        .taxonomy
        .categories()
        .filter(|&(id, _)| !dataset.serving(id, existing).is_empty())
        .map(|(_, c)| c.id.as_str())
        .collect();
    serde_json::json!({
        "categories": categories,
        "summary": format!("{base}/service-load/{{category}}"),
        "facilities": format!("{base}/service-load/{{category}}/facilities"),
        "places": format!("{base}/service-load/{{category}}/places"),
        "tilejson": format!("{base}/service-load/{{category}}.json"),
        "tiles": format!("{base}/service-load/{{category}}/{{z}}/{{x}}/{{y}}.png"),
        "legend": format!("{base}/service-load/{{category}}/legend"),
    })
}

/// The catalog's `data` entry: the sources, and what ingest skipped and why.
fn data_entry(snapshot: &crate::snapshot::Snapshot, stale_after_days: i64) -> serde_json::Value {
    let dataset = &snapshot.dataset;
    let report = &snapshot.report;
    let sources: Vec<_> = dataset
        .sources
        .iter()
        .enumerate()
        .map(|(idx, s)| {
            let file = report
                .files
                .iter()
                .find(|f| f.source.as_deref() == Some(s.name.as_str()));
            serde_json::json!({
                "source": s.name,
                "provider": s.provider,
                "as_of": s.as_of.as_ref().map(|d| d.text.as_str()),
                "n_facilities": dataset
                    .taxonomy
                    .categories()
                    .map(|(id, _)| dataset.source_counts(id).get(idx).copied().unwrap_or(0))
                    .sum::<usize>(),
                "n_rows": file.map(|f| f.n_read),
                "n_unnamed": file.map(|f| f.n_unnamed),
                "n_unclassified": file.map(|f| f.n_fallback),
                "skipped": file.map(|f| &f.skipped),
            })
        })
        .collect();
    serde_json::json!({
        "sources": sources,
        "n_rows": report.n_facility_rows,
        "n_skipped": report.n_facility_skipped,
        "n_outside_area": report.n_facility_out_of_area,
        "skipped": report.facility_skips(),
        "n_merged": report.merges.len(),
        "stale_after_days": stale_after_days,
    })
}

pub async fn get_style(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    _: Query<NoParams>,
    public_url: PublicUrl,
) -> Result<Response, ApiError> {
    let name = file.strip_suffix(".json").unwrap_or(&file);
    if name != "lifecircle" {
        return Err(ApiError::NotFound(format!(
            "unknown style `{name}`; available: lifecircle"
        )));
    }
    let mut style: serde_json::Value = serde_json::from_str(LIFECIRCLE_STYLE)
        .map_err(|e| ApiError::Internal(format!("bundled style: {e}")))?;
    fill_base_url(&mut style, &public_url.0);
    state.config.basemap.roads.style(&mut style);
    let snapshot = state.snapshot.load_full();
    let [lon, lat] = snapshot.dataset.center();
    style["center"] = serde_json::json!([lon, lat]);
    style["zoom"] = serde_json::json!(12.5);
    Ok(respond::json(&style))
}

/// Replaces `{base_url}` in every string of the style.
fn fill_base_url(value: &mut serde_json::Value, base_url: &str) {
    match value {
        serde_json::Value::String(s) if s.contains("{base_url}") => {
            *s = s.replace("{base_url}", base_url)
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().for_each(|v| fill_base_url(v, base_url))
        }
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| fill_base_url(v, base_url)),
        _ => {}
    }
}

/// `GET /health`: liveness. The process answers, so it is alive; the fields of the data in
/// service are kept for clients that read them here (readiness is `/ready`).
pub async fn get_health(State(state): State<Arc<AppState>>, _: Query<NoParams>) -> Response {
    let snapshot = state.snapshot.load_full();
    let loaded_at = unix_seconds(snapshot.loaded_at);
    let mut answer = serde_json::json!({
        "status": "ok",
        "data_version": snapshot.version,
        "loaded_at_unix": loaded_at,
        "n_facilities": snapshot.dataset.facilities().len(),
        "precompute": precompute_json(&state),
    });
    answer["ready"] = "/ready".into();
    no_store_json(StatusCode::OK, &answer)
}

/// `GET /ready`: 200 when data is loaded and requests are answered from it, with the data
/// version, the precompute's state and the last reload's outcome; 503 otherwise.
pub async fn get_ready(State(state): State<Arc<AppState>>, _: Query<NoParams>) -> Response {
    let snapshot = state.snapshot.load_full();
    let n_facilities = snapshot.dataset.facilities().len();
    let last_reload = state
        .last_reload
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let last_reload = last_reload.map(|outcome| {
        let mut json = serde_json::json!({
            "at_unix": unix_seconds(outcome.at),
            "elapsed_ms": outcome.elapsed_ms,
        });
        match outcome.result {
            Ok(version) => {
                json["result"] = "ok".into();
                json["data_version"] = version.into();
            }
            Err(error) => {
                json["result"] = "failed".into();
                json["error"] = error.into();
            }
        }
        json
    });
    // The first snapshot is built before the server listens, so a loaded snapshot is always
    // there; a data set without facilities is loaded but serves nothing useful.
    let ready = n_facilities > 0;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    no_store_json(
        status,
        &serde_json::json!({
            "status": if ready { "ready" } else { "not ready: the data has no facilities" },
            "ready": ready,
            "data": {
                "version": snapshot.version,
                "loaded_at_unix": unix_seconds(snapshot.loaded_at),
                "n_facilities": n_facilities,
            },
            "precompute": precompute_json(&state),
            "last_reload": last_reload,
            "requests_in_flight": state.requests_in_flight.load(Ordering::Relaxed),
        }),
    )
}

fn precompute_json(state: &AppState) -> serde_json::Value {
    let progress = &state.precompute;
    serde_json::json!({
        "state": progress.state().as_str(),
        "data_version": progress.version.load(Ordering::Relaxed),
        "done": progress.done.load(Ordering::Relaxed),
        "total": progress.total.load(Ordering::Relaxed),
        "finished": progress.finished.load(Ordering::Relaxed),
        "elapsed_ms": progress.elapsed_ms.load(Ordering::Relaxed),
    })
}

fn unix_seconds(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Health answers describe this moment: never cached.
fn no_store_json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(value),
    )
        .into_response()
}

/// Per-route request counts and latency, for `/metrics`.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    /// route → status → (count, total seconds); looked up by `&str`, so a request allocates
    /// nothing once its route has been seen.
    by_route: Mutex<BTreeMap<String, StatusTotals>>,
}

/// Per status: (count, total seconds).
type StatusTotals = BTreeMap<u16, (u64, f64)>;

impl RequestMetrics {
    pub(super) fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let mut map = self
            .by_route
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let statuses = match map.get_mut(route) {
            Some(statuses) => statuses,
            None => map.entry(route.to_owned()).or_default(),
        };
        let entry = statuses.entry(status).or_default();
        entry.0 += 1;
        entry.1 += elapsed.as_secs_f64();
    }
}

/// Middleware recording every request in [`RequestMetrics`] under its route template.
pub async fn record_request(
    State(metrics): State<Arc<RequestMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    // The route template is shared (`Arc<str>` inside), so keeping it costs no copy.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    metrics.record(route, response.status().as_u16(), started.elapsed());
    response
}

pub async fn get_metrics(
    State(state): State<Arc<AppState>>,
    _: Query<NoParams>,
    metrics: axum::Extension<Arc<RequestMetrics>>,
) -> Response {
    use std::fmt::Write;
    let snapshot = state.snapshot.load_full();
    let (cache_bytes, cache_entries) = state.cache.usage();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    gauge(
        "lifecircle_data_version",
        "Version of the data snapshot in service.",
        "gauge",
        snapshot.version as f64,
    );
    gauge(
        "lifecircle_facilities",
        "Facilities in the data snapshot.",
        "gauge",
        snapshot.dataset.facilities().len() as f64,
    );
    gauge(
        "lifecircle_search_index_bytes",
        "Heap bytes held by the search index of the data snapshot.",
        "gauge",
        snapshot.search.stats().memory_bytes as f64,
    );
    gauge(
        "lifecircle_tile_cache_bytes",
        "Bytes held in the tile cache.",
        "gauge",
        cache_bytes as f64,
    );
    gauge(
        "lifecircle_tile_cache_entries",
        "Tiles held in the tile cache.",
        "gauge",
        cache_entries as f64,
    );
    gauge(
        "lifecircle_tile_cache_hits_total",
        "Tile cache hits.",
        "counter",
        state.cache.stats.hits.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "lifecircle_tile_cache_misses_total",
        "Tile cache misses.",
        "counter",
        state.cache.stats.misses.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "lifecircle_precompute_done",
        "Tiles precomputed so far.",
        "gauge",
        state.precompute.done.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "lifecircle_precompute_total",
        "Tiles to precompute.",
        "gauge",
        state.precompute.total.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "lifecircle_precompute_running",
        "1 while the background precompute runs.",
        "gauge",
        f64::from(u8::from(
            state.precompute.state() == crate::state::PrecomputeState::Running,
        )),
    );
    let connections = &state.connections;
    gauge(
        "lifecircle_http_connections_open",
        "Connections being served.",
        "gauge",
        connections.open.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "lifecircle_http_connections_accepted_total",
        "Connections accepted.",
        "counter",
        connections.accepted.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "lifecircle_http_connections_refused_total",
        "Connections answered 503 because server.max_connections were open.",
        "counter",
        connections.refused.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "lifecircle_http_connections_idle_closed_total",
        "Keep-alive connections closed after server.keep_alive_timeout_s idle.",
        "counter",
        connections.idle_closed.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "lifecircle_http_requests_in_flight",
        "Requests being answered.",
        "gauge",
        state.requests_in_flight.load(Ordering::Relaxed) as f64,
    );
    let (analysis_bytes, analysis_entries) = state.analyses.usage().await;
    gauge(
        "lifecircle_analysis_cache_bytes",
        "Bytes held in the cache of statistics, gaps and suggestions.",
        "gauge",
        analysis_bytes as f64,
    );
    gauge(
        "lifecircle_analysis_cache_entries",
        "Answers held in the cache of statistics, gaps and suggestions.",
        "gauge",
        analysis_entries as f64,
    );
    let _ = writeln!(
        out,
        "# HELP lifecircle_analysis_computations_total Statistics, gaps and suggestions computed (not served from the cache), by route.\n# TYPE lifecircle_analysis_computations_total counter"
    );
    for (route, n) in state.analyses.computations() {
        let _ = writeln!(
            out,
            "lifecircle_analysis_computations_total{{route=\"{route}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP lifecircle_tile_renders_total Tiles rendered (for requests and precompute), by tile set.\n# TYPE lifecircle_tile_renders_total counter"
    );
    let renders = state
        .cache
        .stats
        .renders
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    for (set, n) in renders {
        let _ = writeln!(out, "lifecircle_tile_renders_total{{set=\"{set}\"}} {n}");
    }
    match state.feedback.stats().await {
        Ok(stats) => {
            let _ = writeln!(
                out,
                "# HELP lifecircle_feedback_reports Stored feedback reports, by status.\n# TYPE lifecircle_feedback_reports gauge"
            );
            for (status, n) in &stats.by_status {
                let _ = writeln!(
                    out,
                    "lifecircle_feedback_reports{{status=\"{}\"}} {n}",
                    status.as_str()
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot count feedback reports for /metrics"),
    }
    let _ = writeln!(
        out,
        "# HELP lifecircle_http_requests_total HTTP requests by route and status.\n# TYPE lifecircle_http_requests_total counter"
    );
    let routes: Vec<((String, u16), (u64, f64))> = metrics
        .by_route
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .flat_map(|(route, statuses)| {
            statuses
                .iter()
                .map(|(&status, &totals)| ((route.clone(), status), totals))
        })
        .collect();
    for ((route, status), (count, _)) in &routes {
        let _ = writeln!(
            out,
            "lifecircle_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP lifecircle_http_request_seconds_sum Time spent answering, by route and status.\n# TYPE lifecircle_http_request_seconds_sum counter"
    );
    for ((route, status), (_, seconds)) in &routes {
        let _ = writeln!(
            out,
            "lifecircle_http_request_seconds_sum{{route=\"{route}\",status=\"{status}\"}} {seconds}"
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
