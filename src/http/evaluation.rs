//! Evaluation routes: `GET /evaluation/diff?baseline=NAME` (JSON) and
//! `GET /evaluation/diff.csv?baseline=NAME` (one row per change; UTF-8 with BOM): the
//! facilities added, removed, moved and changed in category or status since a configured
//! baseline, counted per subdistrict and category, with the coverage change from the baseline
//! to now (JSON). `GET /evaluation/baselines` lists the baselines.
//!
//! Statuses: 200; 400 for a missing or unknown baseline (the message lists the configured ones)
//! or an unknown parameter; 503 with `Retry-After` at the limit of concurrent computations.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::error::ApiError;
use super::params::{NoParams, Params, Query, RouteParams};
use super::respond;
use crate::analysis_cache::AnalysisKey;
use crate::coverage::stats;
use crate::evaluation::{self, ChangeKind, Diff};
use crate::snapshot::Snapshot;
use crate::state::AppState;

/// `/evaluation/diff`'s and `/evaluation/diff.csv`'s parameters.
pub struct DiffParams(Params);

impl RouteParams for DiffParams {
    const ACCEPTED: &'static [&'static str] = &["baseline"];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        Ok(DiffParams(params))
    }
}

/// `GET /evaluation/baselines`.
pub async fn get_baselines(State(state): State<Arc<AppState>>, _: Query<NoParams>) -> Response {
    let snapshot = state.snapshot.load_full();
    let list: Vec<Value> = snapshot
        .baselines
        .iter()
        .map(|b| {
            json!({
                "name": b.name,
                "as_of": b.as_of,
                "n_facilities": b.facilities.len(),
                "diff": format!("/evaluation/diff?baseline={}", b.name),
            })
        })
        .collect();
    respond::json(&json!({ "baselines": list, "moved_distance_m": snapshot.moved_distance_m }))
}

/// The baseline named by `?baseline=` (its index).
fn baseline_index(snapshot: &Snapshot, params: &Params) -> Result<usize, ApiError> {
    let names: Vec<&str> = snapshot.baselines.iter().map(|b| b.name.as_str()).collect();
    let listed = if names.is_empty() {
        "none is configured (add [[baselines]] to the configuration)".to_owned()
    } else {
        format!("configured: {}", names.join(", "))
    };
    let name = params.one("baseline")?.ok_or_else(|| {
        ApiError::BadRequest(format!("parameter `baseline` is required; {listed}"))
    })?;
    names
        .iter()
        .position(|n| *n == name)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown baseline `{name}`; {listed}")))
}

/// The snapshot in service, the baseline the request names (its index) and the diff between
/// them.
async fn requested_diff(
    state: &Arc<AppState>,
    params: &Params,
) -> Result<(Arc<Snapshot>, usize, Arc<Diff>), ApiError> {
    let snapshot = state.snapshot.load_full();
    let baseline = baseline_index(&snapshot, params)?;
    let diff = compute(state, &snapshot, baseline).await?;
    Ok((snapshot, baseline, diff))
}

/// The diff against baseline `baseline` (its index), computed on first use (shared with the
/// report).
pub(super) async fn compute(
    state: &Arc<AppState>,
    snapshot: &Arc<Snapshot>,
    baseline: usize,
) -> Result<Arc<Diff>, ApiError> {
    let snapshot = snapshot.clone();
    let key = AnalysisKey::new(&snapshot, "/evaluation/diff", baseline);
    (state.analyses)
        .get_or_compute(key, move |_| {
            Ok::<_, ApiError>(evaluation::diff(
                &snapshot.baselines[baseline],
                &snapshot.dataset,
                snapshot.moved_distance_m,
            ))
        })
        .await
        .map_err(ApiError::from)
}

fn area_name(snapshot: &Snapshot, area: Option<u16>) -> Option<&str> {
    area.and_then(|a| snapshot.dataset.areas.get(a as usize))
        .map(|a| a.name.as_str())
}

/// `GET /evaluation/diff?baseline=`.
pub async fn get_diff(
    State(state): State<Arc<AppState>>,
    Query(DiffParams(params)): Query<DiffParams>,
) -> Result<Response, ApiError> {
    let (snapshot, baseline, diff) = requested_diff(&state, &params).await?;
    let taxonomy = &snapshot.dataset.taxonomy;
    let category_id = |c| taxonomy.category(c).id.as_str();
    let changes: Vec<Value> = diff
        .changes
        .iter()
        .map(|c| {
            json!({
                "change": c.kind.as_str(),
                "key": c.key,
                "id": c.id,
                "name": c.name,
                "category": category_id(c.category),
                "category_before": c.category_before.map(category_id),
                "status": c.status.as_str(),
                "status_before": c.status_before.map(|s| s.as_str()),
                "lon": c.lon,
                "lat": c.lat,
                "distance_m": c.distance_m.map(|d| (d * 10.0).round() / 10.0),
                "subdistrict": area_name(&snapshot, c.area),
            })
        })
        .collect();
    let summary: Vec<Value> = diff
        .summary
        .iter()
        .map(|((area, category), counts)| {
            let mut v = json!({
                "subdistrict": area_name(&snapshot, *area),
                "category": category_id(*category),
                "stock_before": counts.stock_before,
                "stock_now": counts.stock_now,
                "increment": counts.stock_now as i64 - counts.stock_before as i64,
            });
            for (kind, n) in ChangeKind::ALL.iter().zip(counts.by_kind) {
                v[kind.as_str()] = n.into();
            }
            v
        })
        .collect();
    let mut totals = serde_json::Map::new();
    for (i, kind) in ChangeKind::ALL.iter().enumerate() {
        let n: u64 = diff.summary.values().map(|c| c.by_kind[i]).sum();
        totals.insert(kind.as_str().into(), n.into());
    }
    let coverage_change = coverage_change(&snapshot, baseline).await?;
    let b = &snapshot.baselines[baseline];
    Ok(respond::json(&json!({
        "data_version": snapshot.version,
        "baseline": { "name": b.name, "as_of": b.as_of, "n_facilities": diff.n_before },
        "n_facilities_now": diff.n_now,
        "moved_distance_m": diff.moved_distance_m,
        "matched_by": "source:source_id",
        "totals": totals,
        "summary": summary,
        "coverage": coverage_change,
        "changes": changes,
    })))
}

/// Share of residents within each category's threshold (default profile), baseline beside
/// now, per subdistrict and in total.
async fn coverage_change(snapshot: &Arc<Snapshot>, baseline: usize) -> Result<Value, ApiError> {
    let snap = snapshot.clone();
    let (before, now) = tokio::task::spawn_blocking(move || {
        let params = &snap.coverage.params;
        let then = snap.baselines[baseline].coverage(&snap.dataset, params)?;
        let profile = snap.coverage.params.default_profile;
        Ok::<_, crate::coverage::Error>((
            stats::stats(&then, &snap.dataset, profile),
            stats::stats(&snap.coverage, &snap.dataset, profile),
        ))
    })
    .await??;
    let taxonomy = &snapshot.dataset.taxonomy;
    let area = |b: &stats::AreaStats, n: &stats::AreaStats| {
        let categories: serde_json::Map<String, Value> = taxonomy
            .categories()
            .map(|(id, c)| {
                let (x, y) = (&b.categories[id.0 as usize], &n.categories[id.0 as usize]);
                (
                    c.id.clone(),
                    json!({
                        "population_share_before": x.population.share(),
                        "population_share_now": y.population.share(),
                        "area_share_before": x.cells.share(),
                        "area_share_now": y.cells.share(),
                        "population_within_before": x.population.within,
                        "population_within_now": y.population.within,
                    }),
                )
            })
            .collect();
        json!({ "name": n.name, "categories": categories })
    };
    Ok(json!({
        "profile": snapshot.coverage.profile(before.profile).id,
        "description": "the baseline's existing facilities and today's over today's streets and residents",
        "total": area(&before.total, &now.total),
        "subdistricts": before.areas.iter().zip(&now.areas).map(|(b, n)| area(b, n)).collect::<Vec<_>>(),
    }))
}

/// `GET /evaluation/diff.csv?baseline=`: one row per change.
pub async fn get_diff_csv(
    State(state): State<Arc<AppState>>,
    Query(DiffParams(params)): Query<DiffParams>,
) -> Result<Response, ApiError> {
    let (snapshot, _, diff) = requested_diff(&state, &params).await?;
    let taxonomy = &snapshot.dataset.taxonomy;
    let category_id = |c| taxonomy.category(c).id.clone();
    let header = [
        "change",
        "key",
        "id",
        "name",
        "category",
        "category_before",
        "status",
        "status_before",
        "lon",
        "lat",
        "distance_m",
        "subdistrict",
    ];
    let rows = std::iter::once(header.iter().map(|h| (*h).to_owned()).collect()).chain(
        diff.changes.iter().map(|c| {
            vec![
                c.kind.as_str().to_owned(),
                c.key.clone(),
                c.id.map_or(String::new(), |id| id.to_string()),
                c.name.clone(),
                category_id(c.category),
                c.category_before.map_or(String::new(), category_id),
                c.status.as_str().to_owned(),
                c.status_before
                    .map_or(String::new(), |s| s.as_str().to_owned()),
                format!("{:.7}", c.lon),
                format!("{:.7}", c.lat),
                c.distance_m.map_or(String::new(), |d| format!("{d:.1}")),
                area_name(&snapshot, c.area).unwrap_or("").to_owned(),
            ]
        }),
    );
    Ok(super::csv_table::response(rows))
}
