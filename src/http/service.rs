//! Service load routes (2SFCA, see `service_load`):
//! - `GET /service-load/{category}?scenario=&below=&top=`: the settings used, the
//!   population-weighted mean accessibility and the share of residents below a level for the
//!   district and per subdistrict, and the most overloaded facilities;
//! - `GET /service-load/{category}/facilities?scenario=`: every facility's capacity, residents
//!   within its catchment (also per 100 m² of floor area), weighted demand and ratio R_j;
//! - `GET /service-load/{category}/places?scenario=`: every residential place's accessibility A_i.
//!
//! Computed on first request per data version, scenario and category, then cached.
//! Statuses: 200; 400 for an unknown category, scenario or parameter, or a bad number; 503 with
//! `Retry-After` at the limit of concurrent computations.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::coverage::scenario;
use super::error::ApiError;
use super::params::{Params, Query, RouteParams};
use super::respond::{self, PublicUrl};
use crate::analysis_cache::AnalysisKey;
use crate::attributes::Scenario;
use crate::service_load::{self, AccessSummary, FacilityLoad, ServiceLoad};
use crate::snapshot::Snapshot;
use crate::state::AppState;

/// `?below=&top=&scenario=` of `/service-load/{category}`.
pub struct SummaryParams(Params);

impl RouteParams for SummaryParams {
    const ACCEPTED: &'static [&'static str] = &["scenario", "below", "top"];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        Ok(SummaryParams(params))
    }
}

/// `?scenario=` of the facility and place listings.
pub struct ListingParams(Params);

impl RouteParams for ListingParams {
    const ACCEPTED: &'static [&'static str] = &["scenario"];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        Ok(ListingParams(params))
    }
}

/// The service load of `category` in `scenario`, computed on first use (shared with the
/// report).
pub(super) async fn load(
    state: &Arc<AppState>,
    snapshot: &Arc<Snapshot>,
    category: &str,
    scenario: Scenario,
) -> Result<Arc<ServiceLoad>, ApiError> {
    let taxonomy = &snapshot.dataset.taxonomy;
    let id = taxonomy.by_id(category).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown category `{category}`; known categories: {}",
            taxonomy.id_list()
        ))
    })?;
    let (decay, capacity, _) = state.config.service_load.for_category(category);
    let coverage = &snapshot.coverage;
    let params = service_load::Params {
        decay,
        capacity,
        threshold_m: coverage.threshold_m(id, coverage.params.default_profile),
    };
    let key = AnalysisKey::new(
        snapshot,
        "/service-load",
        (scenario, id, decay, capacity, params.threshold_m.to_bits()),
    );
    let snapshot = snapshot.clone();
    (state.analyses)
        .get_or_compute(key, move |cancel| {
            let computed = service_load::compute(
                &snapshot.dataset,
                &snapshot.coverage,
                id,
                scenario,
                params,
                cancel,
            );
            if let Ok(load) = &computed {
                tracing::info!(
                    category = snapshot.dataset.taxonomy.category(id).id,
                    scenario = scenario.as_str(),
                    facilities = load.facilities.len(),
                    elapsed_ms = load.elapsed_ms,
                    "service load computed"
                );
            }
            computed.map_err(|e| ApiError::Internal(e.to_string()))
        })
        .await
        .map_err(ApiError::from)
}

fn facility_json(snapshot: &Snapshot, load: &ServiceLoad, f: &FacilityLoad) -> Value {
    let facility = snapshot.dataset.facility(f.idx);
    let per_100m2 = (load.capacity_used == crate::config::CapacitySource::FloorArea)
        .then(|| f.residents_within / (f.capacity / 100.0));
    json!({
        "id": facility.id,
        "name": snapshot.dataset.display_name(facility),
        "lon": facility.lon,
        "lat": facility.lat,
        "capacity": f.capacity,
        "capacity_from": f.capacity_from.as_str(),
        "residents_within": f.residents_within,
        "residents_per_100m2": per_100m2,
        "weighted_demand": f.weighted_demand,
        "ratio": f.ratio,
        "load": f.ratio.map(|r| 1.0 / r),
    })
}

/// A summary; the figures below a level are null when no level is set.
fn summary_json(s: &AccessSummary, below: Option<f64>) -> Value {
    json!({
        "residents": s.residents,
        "mean_access": s.mean_access(),
        "residents_below": below.map(|_| s.residents_below),
        "share_below": below.and(s.share_below()),
    })
}

/// What every answer starts with: the settings the figures were computed with.
fn settings_json(snapshot: &Snapshot, load: &ServiceLoad) -> serde_json::Map<String, Value> {
    let count = |from| {
        load.facilities
            .iter()
            .filter(|f| f.capacity_from == from)
            .count()
    };
    let mut map = serde_json::Map::new();
    map.insert(
        "category".into(),
        json!(snapshot.dataset.taxonomy.category(load.category).id),
    );
    map.insert("scenario".into(), json!(load.scenario.as_str()));
    map.insert("mode".into(), json!(load.mode.as_str()));
    map.insert("decay".into(), json!(load.params.decay.as_str()));
    map.insert(
        "capacity".into(),
        json!({
            "configured": load.params.capacity.as_str(),
            "used": load.capacity_used.as_str(),
            "facilities_with_floor_area": count(service_load::CapacityFrom::FloorArea),
            "facilities_with_median_floor_area": count(service_load::CapacityFrom::MedianFloorArea),
            "facilities_counted_as_one": count(service_load::CapacityFrom::Count),
        }),
    );
    map.insert("threshold_m".into(), json!(load.params.threshold_m));
    map.insert("n_facilities".into(), json!(load.facilities.len()));
    map
}

/// `GET /service-load/{category}`; `GET /service-load/{category}.json` is the TileJSON of the
/// A_i heatmap (`maps::access_tilejson`), which shares the path segment.
pub async fn get_summary(
    State(state): State<Arc<AppState>>,
    Path(category): Path<String>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (mut parts, _) = request.into_parts();
    if let Some(category) = category.strip_suffix(".json") {
        let params = Params::parse(&parts.uri, super::maps::ScenarioParams::ACCEPTED)?;
        let PublicUrl(base) = PublicUrl::from_request_parts(&mut parts, &state)
            .await
            .unwrap_or_else(|never| match never {});
        return super::maps::access_tilejson(&state, category, &params, &base);
    }
    let SummaryParams(params) =
        SummaryParams::from_params(Params::parse(&parts.uri, SummaryParams::ACCEPTED)?)?;
    let scenario = scenario(&params)?;
    let below = match params.one("below")? {
        Some(_) => Some(params.number::<f64>("below", None, "a number")?),
        None => state.config.service_load.for_category(&category).2,
    };
    let top = params.number::<usize>(
        "top",
        Some(state.config.service_load.top_overloaded),
        "a whole number",
    )?;
    let snapshot = state.snapshot.load_full();
    let load = load(&state, &snapshot, &category, scenario).await?;
    let (district, areas, outside) = load.summaries(&snapshot.dataset, below);
    let mut answer = settings_json(&snapshot, &load);
    answer.insert("below".into(), json!(below));
    answer.insert("district".into(), summary_json(&district, below));
    let subdistricts: Vec<Value> = snapshot
        .dataset
        .areas
        .iter()
        .zip(&areas)
        .map(|(area, s)| {
            let mut v = summary_json(s, below);
            v["name"] = json!(area.name);
            v["name_en"] = json!(area.name_en);
            v
        })
        .collect();
    answer.insert("subdistricts".into(), json!(subdistricts));
    answer.insert("outside_subdistricts".into(), summary_json(&outside, below));
    let overloaded: Vec<Value> = load
        .most_overloaded(top)
        .into_iter()
        .map(|f| facility_json(&snapshot, &load, f))
        .collect();
    answer.insert("most_overloaded".into(), json!(overloaded));
    answer.insert(
        "facilities_without_demand".into(),
        json!(load.facilities.iter().filter(|f| f.ratio.is_none()).count()),
    );
    answer.insert("elapsed_ms".into(), json!(load.elapsed_ms));
    Ok(respond::json(&Value::Object(answer)))
}

/// `GET /service-load/{category}/facilities`.
pub async fn get_facilities(
    State(state): State<Arc<AppState>>,
    Path(category): Path<String>,
    Query(ListingParams(params)): Query<ListingParams>,
) -> Result<Response, ApiError> {
    let scenario = scenario(&params)?;
    let snapshot = state.snapshot.load_full();
    let load = load(&state, &snapshot, &category, scenario).await?;
    let mut answer = settings_json(&snapshot, &load);
    let facilities: Vec<Value> = load
        .facilities
        .iter()
        .map(|f| facility_json(&snapshot, &load, f))
        .collect();
    answer.insert("facilities".into(), json!(facilities));
    Ok(respond::json(&Value::Object(answer)))
}

/// `GET /service-load/{category}/places`.
pub async fn get_places(
    State(state): State<Arc<AppState>>,
    Path(category): Path<String>,
    Query(ListingParams(params)): Query<ListingParams>,
) -> Result<Response, ApiError> {
    let scenario = scenario(&params)?;
    let snapshot = state.snapshot.load_full();
    let load = load(&state, &snapshot, &category, scenario).await?;
    let mut answer = settings_json(&snapshot, &load);
    let places: Vec<Value> = snapshot
        .dataset
        .residents
        .iter()
        .enumerate()
        .map(|(k, r)| {
            json!({
                "name": r.name,
                "lon": r.lon,
                "lat": r.lat,
                "population": r.population,
                "subdistrict": load.place_area[k]
                    .map(|a| snapshot.dataset.areas[a as usize].name.as_str()),
                "access": load.access[k],
            })
        })
        .collect();
    answer.insert("places".into(), json!(places));
    Ok(respond::json(&Value::Object(answer)))
}
