//! The evaluation report's routes (see `report`):
//! - `GET /report?lang=zh|en&baseline=`: the printable page (HTML, no script);
//! - `GET /report.json`: its data;
//! - `GET /report.xlsx`: every table, one sheet each;
//! - `GET /report/tables/{table}.csv` (UTF-8 with BOM, formulas defused) and `.xlsx`: one table.
//!
//! `lang` defaults to `zh`; `baseline` to the first configured one. The figures come from the
//! analysis cache entries of the routes that serve them alone (`/coverage/stats?scenario=planned`,
//! `/coverage/gaps`, `/service-load/{category}`, `/evaluation/diff`), computed there on first use.
//! Statuses: 200; 400 for a bad `lang`, an unknown `baseline` or parameter; 404 for an unknown
//! table or file extension; 503 with `Retry-After` at the limit of concurrent computations.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::csv_table::{Cell, CsvTable};
use super::error::ApiError;
use super::params::{Params, Query, RouteParams};
use super::respond;
use crate::attributes::Scenario;
use crate::report::tables::{self, Table, Value};
use crate::report::{self, Lang, Report};
use crate::state::AppState;

const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `?lang=&baseline=` of every report route.
pub struct ReportParams {
    lang: Lang,
    baseline: Option<String>,
}

impl RouteParams for ReportParams {
    const ACCEPTED: &'static [&'static str] = &["lang", "baseline"];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        let lang = params
            .one("lang")?
            .map_or(Ok(Lang::Zh), Lang::parse)
            .map_err(|message| ApiError::BadRequest(format!("parameter `lang`: {message}")))?;
        let baseline = params.one("baseline")?.map(str::to_owned);
        Ok(ReportParams { lang, baseline })
    }
}

/// Gathers the report's inputs (from the analysis cache, computing what is missing) and
/// builds it.
async fn build(state: &Arc<AppState>, params: &ReportParams) -> Result<Report, ApiError> {
    let snapshot = state.snapshot.load_full();
    let coverage = &snapshot.coverage;
    let profile = coverage.params.default_profile;
    let dataset = &snapshot.dataset;
    let names: Vec<&str> = snapshot.baselines.iter().map(|b| b.name.as_str()).collect();
    let baseline = match &params.baseline {
        Some(name) => Some(names.iter().position(|n| n == name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "unknown baseline `{name}`; {}",
                if names.is_empty() {
                    "none is configured (add [[baselines]] to the configuration)".to_owned()
                } else {
                    format!("configured: {}", names.join(", "))
                }
            ))
        })?),
        None => (!names.is_empty()).then_some(0),
    };
    // One after another: together they would take every permit of the analysis limit.
    let planned =
        super::coverage::scenario_change(state, &snapshot, Scenario::Planned, profile).await?;
    let without_data = coverage.categories_without_data();
    let mut gaps = Vec::new();
    let mut loads = Vec::new();
    for (id, c) in dataset.taxonomy.categories() {
        if without_data.contains(&id) {
            continue;
        }
        gaps.push(
            super::coverage::category_gaps(state, &snapshot, id, profile, Scenario::Existing)
                .await?,
        );
        if !dataset
            .serving(id, Scenario::Existing.statuses())
            .is_empty()
        {
            let below = state.config.service_load.for_category(&c.id).2;
            let load = super::service::load(state, &snapshot, &c.id, Scenario::Existing).await?;
            // Built here, one after another, so that the page's A_i small maps (one request
            // each, all at once) find them ready instead of meeting the analysis limit.
            super::maps::access_map(state, &snapshot, &c.id, Scenario::Existing).await?;
            loads.push((load, below));
        }
    }
    let diff = match baseline {
        Some(b) => Some((b, super::evaluation::compute(state, &snapshot, b).await?)),
        None => None,
    };
    let inputs = report::Inputs {
        lang: params.lang,
        data_version: snapshot.version,
        dataset,
        coverage,
        profile,
        planned: &planned,
        gaps: gaps.iter().map(|g| &**g).collect(),
        loads: loads
            .iter()
            .map(|(load, below)| report::CategoryLoad {
                load,
                below: *below,
            })
            .collect(),
        baseline: diff.as_ref().map(|(b, diff)| report::BaselineDiff {
            name: &snapshot.baselines[*b].name,
            as_of: snapshot.baselines[*b].as_of.as_deref(),
            diff,
        }),
        baselines_configured: names.clone(),
        settings: report::Settings {
            blind_spots: state.config.report.blind_spots,
            overloaded: state.config.report.overloaded,
            stale_after_days: i64::from(state.config.data.stale_after_days),
            today_days: state.config.server.local_time.today_days(),
        },
    };
    Ok(report::build(&inputs))
}

/// `GET /report`.
pub async fn get_page(
    State(state): State<Arc<AppState>>,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let report = build(&state, &params).await?;
    let page = report::html::render(&report, &tables::all(&report));
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        page,
    )
        .into_response();
    // No script at all; styles inline; images (the small maps) from this server only.
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
        ),
    );
    Ok(response)
}

/// `GET /report.json`.
pub async fn get_json(
    State(state): State<Arc<AppState>>,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    Ok(respond::json(&build(&state, &params).await?))
}

/// `GET /report.xlsx`: every table.
pub async fn get_workbook(
    State(state): State<Arc<AppState>>,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let report = build(&state, &params).await?;
    xlsx_response(&tables::all(&report), "report")
}

/// `GET /report/tables/{table}.csv|.xlsx`.
pub async fn get_table(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    Query(params): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let list = tables::TABLE_IDS.join(", ");
    let (id, extension) = file.rsplit_once('.').ok_or_else(|| {
        ApiError::NotFound(format!(
            "no report table `{file}`: name a table and an extension, `{{table}}.csv` or `{{table}}.xlsx`; tables: {list}"
        ))
    })?;
    if !tables::TABLE_IDS.contains(&id) {
        return Err(ApiError::NotFound(format!(
            "no report table `{id}`; tables: {list}"
        )));
    }
    if !matches!(extension, "csv" | "xlsx") {
        return Err(ApiError::NotFound(format!(
            "no report table format `.{extension}`; use .csv or .xlsx"
        )));
    }
    let report = build(&state, &params).await?;
    let table = tables::table(&report, id)
        .ok_or_else(|| ApiError::Internal(format!("table `{id}` is listed but not built")))?;
    if extension == "xlsx" {
        return xlsx_response(std::slice::from_ref(&table), id);
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CACHE_CONTROL, "public, max-age=60".to_owned()),
            (header::CONTENT_DISPOSITION, disposition(id, "csv")),
        ],
        csv(&table),
    )
        .into_response())
}

/// A table as CSV through the server's one CSV writer; numbers in full precision.
fn csv(table: &Table) -> String {
    let headings: Vec<&str> = table.columns.iter().map(|c| c.heading.as_str()).collect();
    let mut csv = CsvTable::new(&headings);
    for row in &table.rows {
        let cells: Vec<Cell<'_>> = row
            .iter()
            .map(|v| match v {
                Value::Text(t) => Cell::Text(t),
                Value::Number(n) => Cell::Number(n.to_string()),
                Value::Empty => Cell::Empty,
            })
            .collect();
        csv.row(&cells);
    }
    csv.finish()
}

fn disposition(name: &str, extension: &str) -> String {
    format!("attachment; filename=\"lifecircle-{name}.{extension}\"")
}

fn xlsx_response(tables: &[Table], name: &str) -> Result<Response, ApiError> {
    let bytes = tables::xlsx(tables)
        .map_err(|e| ApiError::Internal(format!("writing the workbook: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, XLSX_CONTENT_TYPE.to_owned()),
            (header::CACHE_CONTROL, "public, max-age=60".to_owned()),
            (header::CONTENT_DISPOSITION, disposition(name, "xlsx")),
        ],
        bytes,
    )
        .into_response())
}
