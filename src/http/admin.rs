//! The data office's routes, all behind a bearer token (`admin.token` or
//! `LIFECIRCLE_ADMIN_TOKEN`, compared in constant time):
//!
//! - `GET /admin/feedback` — reports, newest first; filters `status`, `kind`, `category`
//!   (comma lists), `facility`, `since`/`until` (RFC 3339), `bbox` (w,s,e,n); paging `limit`,
//!   `offset`; `format` = `json` (default), `csv` or `geojson`. JSON times are UTC; CSV and
//!   GeoJSON times are local time with its offset (`server.time_zone`).
//! - `GET /admin/feedback/stats` — counts by status; open reports by kind, category, facility.
//! - `GET /admin/feedback/{id}`, `PATCH /admin/feedback/{id}` (`{"status"?, "note"?}`).
//! - `GET /admin/facilities/{id}` — a facility of the current data with its report counts.
//! - `POST /admin/reload` — re-reads the data files; 422 (old data kept) when they are unusable
//!   or fail the `[data]` guards (too many rows skipped, too many facilities lost);
//!   `?force=true` accepts data that fails the guards.
//!
//! Without a configured token every admin route answers 404 (disabled, not open). A missing or
//! wrong token gets 401 before anything else is looked at, so the answer says nothing about the
//! data. Answers are never cached (`Cache-Control: no-store`).

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::csv_table::{Cell, CsvTable};
use super::error::ApiError;
use super::json_body::JsonBody;
use super::params::{CATEGORY_PARAMS, NoParams, Params, Query, RouteParams};
use crate::feedback::{FilterText, Limits, Patch, Report, Status};
use crate::snapshot::Snapshot;
use crate::state::AppState;
use crate::time::{self, LocalTime};

/// The `/admin` routes behind the token check.
pub fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    if state.config.admin.token.is_empty() {
        tracing::info!("admin routes disabled: no admin token configured");
    }
    Router::new()
        .route("/admin/feedback", get(get_feedback_list))
        .route("/admin/feedback/stats", get(get_feedback_stats))
        .route(
            "/admin/feedback/{id}",
            get(get_feedback_report)
                .patch(patch_feedback_report)
                .layer(DefaultBodyLimit::max(state.config.server.max_body_bytes)),
        )
        .route("/admin/facilities/{id}", get(get_facility))
        .route("/admin/reload", post(post_reload))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
}

/// Lets the request through only with `Authorization: Bearer <admin token>`.
async fn require_token(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    match check_token(&state, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            if e.status() == StatusCode::UNAUTHORIZED {
                tracing::info!(
                    path = request.uri().path(),
                    "admin request without the right token"
                );
            }
            e.into_response()
        }
    }
}

/// Is the request authorised for the admin routes? `Err` is 404 when they are disabled and 401
/// for a missing or wrong token. Other routes may use this to add admin-only detail.
pub fn check_token(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = state.config.admin.token.as_bytes();
    if expected.is_empty() {
        return Err(ApiError::NotFound(
            "the admin routes are disabled: no admin token is configured (set [admin] token or LIFECIRCLE_ADMIN_TOKEN)".into(),
        ));
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().as_bytes());
    // ct_eq compares equal-length slices in constant time; a length mismatch fails at once,
    // which reveals at most the token's length.
    match given {
        Some(given) if bool::from(given.ct_eq(expected)) => Ok(()),
        _ => Err(ApiError::Unauthorized),
    }
}

/// `GET /admin/feedback`'s parameters: the list filters (`status`, `kind`, `category`) joined
/// from comma lists and repetition, the others given at most once.
struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    facility: Option<String>,
    category: Option<String>,
    since: Option<String>,
    until: Option<String>,
    bbox: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    format: Option<String>,
}

impl RouteParams for ListQuery {
    const ACCEPTED: &'static [&'static str] = &[
        "status",
        "kind",
        "facility",
        "category",
        "categories",
        "since",
        "until",
        "bbox",
        "limit",
        "offset",
        "format",
    ];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        let list = |names: &[&str]| params.list(names).map(|items| items.join(","));
        let one = |name: &str| Ok::<_, ApiError>(params.one(name)?.map(str::to_owned));
        Ok(ListQuery {
            status: list(&["status"]),
            kind: list(&["kind"]),
            category: list(&CATEGORY_PARAMS),
            facility: one("facility")?,
            since: one("since")?,
            until: one("until")?,
            bbox: one("bbox")?,
            limit: one("limit")?,
            offset: one("offset")?,
            format: one("format")?,
        })
    }
}

async fn get_feedback_list(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let format = query.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "csv" | "geojson") {
        return Err(ApiError::BadRequest(format!(
            "format: unknown format `{format}`; expected json, csv or geojson"
        )));
    }
    let snapshot = state.snapshot.load_full();
    let (filter, page) = FilterText {
        status: query.status.as_deref(),
        kind: query.kind.as_deref(),
        facility: query.facility.as_deref(),
        category: query.category.as_deref(),
        since: query.since.as_deref(),
        until: query.until.as_deref(),
        bbox: query.bbox.as_deref(),
        limit: query.limit.as_deref(),
        offset: query.offset.as_deref(),
    }
    .parse(&snapshot.dataset.taxonomy)?;
    let listing = state.feedback.list(filter, page).await?;
    // Exports are read by people: local time. The JSON listing stays in UTC for programs.
    let local = &state.config.server.local_time;
    let mut response = match format {
        "csv" => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"feedback.csv\"",
                ),
            ],
            reports_csv(&listing.reports, local),
        )
            .into_response(),
        "geojson" => (
            [(header::CONTENT_TYPE, "application/geo+json")],
            json!({
                "type": "FeatureCollection",
                "features": listing.reports.iter().map(|r| report_feature(r, local)).collect::<Vec<_>>(),
            })
            .to_string(),
        )
            .into_response(),
        _ => axum::Json(json!({
            "total": listing.n_total,
            "limit": page.limit,
            "offset": page.offset,
            "reports": listing.reports.iter().map(report_json).collect::<Vec<_>>(),
        }))
        .into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-total-count", HeaderValue::from(listing.n_total));
    Ok(response)
}

async fn get_feedback_report(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    _: Query<NoParams>,
) -> Result<Response, ApiError> {
    let report = state.feedback.get(report_id(id)?).await?;
    Ok(private_json(&report_json(&report)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    status: Option<String>,
    note: Option<String>,
}

async fn patch_feedback_report(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    _: Query<NoParams>,
    JsonBody(body): JsonBody<PatchBody>,
) -> Result<Response, ApiError> {
    let id = report_id(id)?;
    let patch = Patch::new(
        body.status.as_deref(),
        body.note.as_deref(),
        &Limits::from(&state.config.feedback),
    )?;
    let report = state.feedback.update(id, patch).await?;
    Ok(private_json(&report_json(&report)))
}

async fn get_feedback_stats(
    State(state): State<Arc<AppState>>,
    _: Query<NoParams>,
) -> Result<Response, ApiError> {
    let stats = state.feedback.stats().await?;
    let snapshot = state.snapshot.load_full();
    let counts = |pairs: Vec<(&str, u64)>| -> serde_json::Map<String, Value> {
        pairs
            .into_iter()
            .map(|(k, n)| (k.to_owned(), n.into()))
            .collect()
    };
    let by_facility: Vec<Value> = stats
        .open_by_facility
        .iter()
        .map(|&(facility_id, n_open)| {
            let mut item = json!({ "facility_id": facility_id, "n_open": n_open });
            if let Some(facility) = facility_json(&snapshot, facility_id) {
                item["facility"] = facility;
            }
            item
        })
        .collect();
    Ok(private_json(&json!({
        "total": stats.n_total,
        "by_status": counts(stats.by_status.iter().map(|&(s, n)| (s.as_str(), n)).collect()),
        "open": {
            "total": stats.by_status.iter().find(|(s, _)| *s == Status::Open).map_or(0, |&(_, n)| n),
            "by_kind": counts(stats.open_by_kind.iter().map(|&(k, n)| (k.as_str(), n)).collect()),
            "by_category": counts(stats.open_by_category.iter().map(|(c, n)| (c.as_str(), *n)).collect()),
            "by_facility": by_facility,
        },
    })))
}

async fn get_facility(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
    _: Query<NoParams>,
) -> Result<Response, ApiError> {
    let Path(text) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let facility_id: u64 = text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "facility id `{text}` is not a non-negative integer"
        ))
    })?;
    let snapshot = state.snapshot.load_full();
    let facility = facility_json(&snapshot, facility_id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no facility with id {facility_id} in data version {}",
            snapshot.version
        ))
    })?;
    let counts = state.feedback.facility_counts(facility_id).await?;
    let n_open = counts
        .iter()
        .find(|(s, _)| *s == Status::Open)
        .map_or(0, |&(_, n)| n);
    let by_status: serde_json::Map<String, Value> = counts
        .iter()
        .map(|&(s, n)| (s.as_str().to_owned(), n.into()))
        .collect();
    Ok(private_json(&json!({
        "facility": facility,
        "data_version": snapshot.version,
        "feedback": { "n_open": n_open, "by_status": by_status },
    })))
}

/// `POST /admin/reload?force=true|false`.
struct ReloadQuery {
    force: Option<String>,
}

impl RouteParams for ReloadQuery {
    const ACCEPTED: &'static [&'static str] = &["force"];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        Ok(ReloadQuery {
            force: params.one("force")?.map(str::to_owned),
        })
    }
}

async fn post_reload(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ReloadQuery>,
) -> Result<Response, ApiError> {
    let force = match query.force.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "force: expected true or false, not `{}`",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let started = std::time::Instant::now();
    let version = state.reload(force).await.inspect_err(|e| {
        tracing::warn!(error = %e, "data reload failed; the previous data stays in service");
    })?;
    let snapshot = state.snapshot.load_full();
    Ok(private_json(&json!({
        "data_version": version,
        "n_facilities": snapshot.dataset.facilities().len(),
        "elapsed_ms": started.elapsed().as_millis() as u64,
    })))
}

/// JSON that no cache may keep.
fn private_json(value: &Value) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(value)).into_response()
}

fn report_id(path: Result<Path<String>, PathRejection>) -> Result<i64, ApiError> {
    let Path(text) = path.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    text.parse::<i64>()
        .ok()
        .filter(|&id| id > 0)
        .ok_or_else(|| {
            ApiError::BadRequest(format!("report id `{text}` is not a positive integer"))
        })
}

/// A facility of the current data, as the admin routes show it.
fn facility_json(snapshot: &Snapshot, facility_id: u64) -> Option<Value> {
    let dataset = &snapshot.dataset;
    let facility = dataset.facility_by_id(facility_id)?;
    let idx = dataset.index_of(facility_id)?;
    let attributes = dataset.attributes(idx);
    Some(json!({
        "id": facility.id,
        "name": facility.name(),
        "name_en": facility.name_en(),
        "category": dataset.taxonomy.category(facility.category).id,
        "address": facility.address(),
        "subdistrict": facility.subdistrict(),
        "lon": facility.lon,
        "lat": facility.lat,
        "status": dataset.status(idx).as_str(),
        "floor_area_m2": attributes.and_then(|a| a.floor_area_m2),
        "functions": attributes.map_or(&[][..], |a| a.functions.as_slice()),
        "year": attributes.and_then(|a| a.year),
    }))
}

fn report_json(report: &Report) -> Value {
    json!({
        "id": report.id,
        "created_at": time::format_rfc3339_ms(report.created_at_ms),
        "updated_at": time::format_rfc3339_ms(report.updated_at_ms),
        "status": report.status.as_str(),
        "note": report.note,
        "kind": report.kind.as_str(),
        "facility": report.facility.as_ref().map(|f| json!({
            "id": f.id,
            "name": f.name,
            "category": f.category,
            "lon": f.lon,
            "lat": f.lat,
        })),
        "location": report.location.map(|(lon, lat)| json!({ "lon": lon, "lat": lat })),
        "message": report.message,
        "contact": report.contact,
        "client_id": report.client_id,
        "data_version": report.data_version,
    })
}

/// The flat columns of a report, shared by CSV and GeoJSON properties; times in local time.
const FLAT_COLUMNS: [&str; 16] = [
    "id",
    "created_at",
    "updated_at",
    "status",
    "kind",
    "facility_id",
    "facility_name",
    "category",
    "facility_lon",
    "facility_lat",
    "lon",
    "lat",
    "message",
    "contact",
    "note",
    "client_id",
];

fn report_flat(report: &Report, local: &LocalTime) -> [Value; 16] {
    let facility = report.facility.as_ref();
    [
        report.id.into(),
        local.format_ms(report.created_at_ms).into(),
        local.format_ms(report.updated_at_ms).into(),
        report.status.as_str().into(),
        report.kind.as_str().into(),
        facility.map(|f| f.id).into(),
        facility.map(|f| f.name.clone()).into(),
        facility.map(|f| f.category.clone()).into(),
        facility.map(|f| f.lon).into(),
        facility.map(|f| f.lat).into(),
        report.location.map(|l| l.0).into(),
        report.location.map(|l| l.1).into(),
        report.message.clone().into(),
        report.contact.clone().into(),
        report.note.clone().into(),
        report.client_id.clone().into(),
    ]
}

fn report_feature(report: &Report, local: &LocalTime) -> Value {
    let properties: serde_json::Map<String, Value> = FLAT_COLUMNS
        .iter()
        .map(|c| c.to_string())
        .zip(report_flat(report, local))
        .collect();
    json!({
        "type": "Feature",
        "id": report.id,
        "geometry": report.point().map(|(lon, lat)| json!({ "type": "Point", "coordinates": [lon, lat] })),
        "properties": properties,
    })
}

/// The reports as CSV (`http::csv_table`: a byte order mark, formulas defused); the stored text
/// is unchanged.
fn reports_csv(reports: &[Report], local: &LocalTime) -> String {
    let mut table = CsvTable::new(&FLAT_COLUMNS);
    for report in reports {
        let values = report_flat(report, local);
        let cells: Vec<Cell<'_>> = values
            .iter()
            .map(|value| match value {
                Value::Null => Cell::Empty,
                Value::String(text) => Cell::Text(text),
                other => Cell::Number(other.to_string()),
            })
            .collect();
        table.row(&cells);
    }
    table.finish()
}
