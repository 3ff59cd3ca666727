//! Map routes of the evaluation (drawing in `maps`):
//! - `GET /service-load/{category}/{z}/{x}/{y}.png?scenario=`: the 2SFCA accessibility A_i as
//!   heatmap tiles; `GET /service-load/{category}.json?scenario=` their TileJSON (answered
//!   through the summary route, see `service::get_summary`); `GET
//!   /service-load/{category}/legend?scenario=` the class breaks and colours;
//! - `GET /report/map.png?category=&scenario=&subdistrict=&layer=&width=&height=`: a small map
//!   of the district or one subdistrict (streets, outlines, coverage or A_i), with its extent in
//!   `X-Map-Bounds`.
//!
//! Images are cached in the tile cache per data version and parameters and answered like
//! coverage tiles (ETag, 304, `Cache-Control`, `Vary`; PNG is not gzipped). Statuses: 200, 204
//! (a tile with nothing on it), 304, 400 naming the bad parameter or category, 404 (no such
//! tile), 503 with `Retry-After` at the limit of computations or renders.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::coverage::scenario;
use super::error::ApiError;
use super::params::{Params, Query, RouteParams};
use super::respond::{self, PublicUrl};
use super::service;
use crate::analysis_cache::AnalysisKey;
use crate::attributes::Scenario;
use crate::cache::{CacheKey, CachedTile};
use crate::geom::TileKey;
use crate::maps::access::{self, AccessMap, NO_ACCESS};
use crate::maps::small::{self, Layer, MapRequest, View};
use crate::snapshot::Snapshot;
use crate::state::AppState;
use crate::taxonomy::CategoryId;
use crate::tilejson_doc::{self, TileSetDoc};

const PNG_CONTENT_TYPE: &str = "image/png";

/// `?scenario=` of the A_i tiles, TileJSON and legend.
pub struct ScenarioParams(Params);

impl RouteParams for ScenarioParams {
    const ACCEPTED: &'static [&'static str] = &["scenario"];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        Ok(ScenarioParams(params))
    }
}

/// The parameters of `/report/map.png`.
pub struct SmallMapParams(Params);

impl RouteParams for SmallMapParams {
    const ACCEPTED: &'static [&'static str] = &[
        "category",
        "scenario",
        "subdistrict",
        "layer",
        "width",
        "height",
    ];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        Ok(SmallMapParams(params))
    }
}

fn category_id(snapshot: &Snapshot, category: &str) -> Result<CategoryId, ApiError> {
    let taxonomy = &snapshot.dataset.taxonomy;
    taxonomy.by_id(category).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown category `{category}`; known categories: {}",
            taxonomy.id_list()
        ))
    })
}

/// The A_i classes of `category` in `scenario` (breaks from `existing`), built on first use
/// (the report builds those its small maps show before it answers).
pub(super) async fn access_map(
    state: &Arc<AppState>,
    snapshot: &Arc<Snapshot>,
    category: &str,
    scenario: Scenario,
) -> Result<Arc<AccessMap>, ApiError> {
    let existing = service::load(state, snapshot, category, Scenario::Existing).await?;
    let load = match scenario {
        Scenario::Existing => existing.clone(),
        _ => service::load(state, snapshot, category, scenario).await?,
    };
    let key = AnalysisKey::new(
        snapshot,
        "/service-load/map",
        (
            scenario,
            load.category,
            load.params.decay,
            load.params.capacity,
            load.params.threshold_m.to_bits(),
        ),
    );
    let snapshot = snapshot.clone();
    (state.analyses)
        .get_or_compute(key, move |_| {
            Ok::<_, ApiError>(AccessMap::build(
                &snapshot.dataset,
                &snapshot.coverage,
                &existing,
                &load,
            ))
        })
        .await
        .map_err(ApiError::from)
}

fn colour_json(rgba: [u8; 4]) -> Value {
    json!({
        "color": format!("#{:02x}{:02x}{:02x}", rgba[0], rgba[1], rgba[2]),
        "rgba": rgba,
    })
}

/// What A_i is measured in, by the capacity used.
fn access_unit(capacity: crate::config::CapacitySource) -> &'static str {
    match capacity {
        crate::config::CapacitySource::FloorArea => "m² of floor area per resident",
        crate::config::CapacitySource::Count => "facilities per resident",
    }
}

/// `GET /service-load/{category}/{z}/{x}/{y}.png?scenario=`
pub async fn get_access_tile(
    State(state): State<Arc<AppState>>,
    Path((category, z, x, y_ext)): Path<(String, String, String, String)>,
    Query(ScenarioParams(params)): Query<ScenarioParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let id = category_id(&snapshot, &category)?;
    let tile = super::tiles::parse_tile_address(&z, &x, &y_ext, &["png"])?;
    let scenario = scenario(&params)?;
    let name = &snapshot.dataset.taxonomy.category(id).id;
    let mut variant = format!("service-load/{name}.png");
    if scenario != Scenario::Existing {
        variant.push_str(&format!("?scenario={}", scenario.as_str()));
    }
    let key = CacheKey {
        version: snapshot.version,
        variant: variant.into(),
        tile,
    };
    if let Some(hit) = state.cache.get(&key) {
        return Ok(respond::tile(&hit, PNG_CONTENT_TYPE, &headers));
    }
    let map = access_map(&state, &snapshot, &category, scenario).await?;
    let renderer = state.clone();
    let cached = (state.renders)
        .run(move || {
            renderer.cache.get_or_render(key, || {
                let png = map.render_png(&snapshot.coverage, tile)?;
                Ok::<_, crate::coverage::Error>(CachedTile::new(png, false))
            })
        })
        .await?;
    Ok(respond::tile(&cached, PNG_CONTENT_TYPE, &headers))
}

/// `GET /service-load/{category}.json?scenario=`: TileJSON of the A_i heatmap.
pub fn access_tilejson(
    state: &AppState,
    category: &str,
    params: &Params,
    base: &str,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let id = category_id(&snapshot, category)?;
    let scenario = scenario(params)?;
    let c = snapshot.dataset.taxonomy.category(id);
    let (decay, capacity, _) = state.config.service_load.for_category(&c.id);
    let coverage = &snapshot.coverage;
    let query = match scenario {
        Scenario::Existing => String::new(),
        other => format!("?scenario={}", other.as_str()),
    };
    let bounds = if coverage.grid.n_cells() > 0 {
        coverage.shown_bounds()
    } else {
        snapshot.dataset.bounds
    };
    let [lon, lat] = snapshot.dataset.center();
    let tiles = &state.config.tiles;
    let mut document = TileSetDoc {
        name: format!("lifecircle service load: {} ({})", c.id, scenario.as_str()),
        description: format!(
            "2SFCA accessibility A_i of {} ({}) per residential place, {} decay, capacity {}, {} distances; classes in the legend",
            c.label_en, c.label_zh, decay.as_str(), capacity.as_str(), coverage.mode.as_str()
        ),
        data_version: snapshot.version,
        attribution: &state.config.data.attribution,
        tiles: vec![format!(
            "{base}/service-load/{}/{{z}}/{{x}}/{{y}}.png{query}",
            c.id
        )],
        minzoom: tiles.minzoom,
        maxzoom: tiles.maxzoom,
        bounds,
        center: (lon, lat, 13),
        vector_layers: None,
    }
    .build();
    tilejson_doc::with_extra(&mut document, "format", "png".into());
    // Not in TileJSON 3.0.0, but MapLibre reads it for raster sources.
    tilejson_doc::with_extra(&mut document, "tileSize", 256.into());
    let about = json!({
        "category": c.id,
        "scenario": scenario.as_str(),
        "decay": decay.as_str(),
        "capacity": capacity.as_str(),
        "mode": coverage.mode.as_str(),
        "legend": format!("{base}/service-load/{}/legend{query}", c.id),
    });
    tilejson_doc::with_extra(&mut document, "service_load", about);
    Ok(respond::json(&document))
}

/// `GET /service-load/{category}/legend?scenario=`: the classes of the A_i heatmap.
pub async fn get_access_legend(
    State(state): State<Arc<AppState>>,
    Path(category): Path<String>,
    Query(ScenarioParams(params)): Query<ScenarioParams>,
    PublicUrl(base): PublicUrl,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    category_id(&snapshot, &category)?;
    let scenario = scenario(&params)?;
    let map = access_map(&state, &snapshot, &category, scenario).await?;
    let load = service::load(&state, &snapshot, &category, scenario).await?;
    let query = match scenario {
        Scenario::Existing => String::new(),
        other => format!("?scenario={}", other.as_str()),
    };
    let mut classes = Vec::new();
    let mut no_access = colour_json(map.colour(NO_ACCESS));
    no_access["class"] = 0.into();
    no_access["label"] = "no facility within reach (A_i = 0)".into();
    for class in 1..=map.n_classes() as u8 {
        let from = (class > 1).then(|| map.breaks[usize::from(class) - 2]);
        let to = map.breaks.get(usize::from(class) - 1).copied();
        let mut entry = colour_json(map.colour(class));
        entry["class"] = class.into();
        entry["from"] = json!(from);
        entry["to"] = json!(to);
        classes.push(entry);
    }
    Ok(respond::json(&json!({
        "category": snapshot.dataset.taxonomy.category(load.category).id,
        "scenario": scenario.as_str(),
        "unit": access_unit(load.capacity_used),
        "breaks": map.breaks,
        "breaks_from": "existing",
        "method": "population-weighted quantiles of the positive A_i of the residents inside the analysis area (existing scenario), two significant digits; a class holds from ≤ A_i < to",
        "no_access": no_access,
        "classes": classes,
        "place_reach_m": access::PLACE_REACH_M,
        "png": format!("{base}/service-load/{}/legend.png{query}", snapshot.dataset.taxonomy.category(load.category).id),
        "note": "each grid cell shows the residential place nearest to its centre within place_reach_m; elsewhere nobody lives and nothing is drawn",
    })))
}

/// `GET /service-load/{category}/legend.png?scenario=`: the classes as an image.
pub async fn get_access_legend_png(
    State(state): State<Arc<AppState>>,
    Path(category): Path<String>,
    Query(ScenarioParams(params)): Query<ScenarioParams>,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    category_id(&snapshot, &category)?;
    let scenario = scenario(&params)?;
    let map = access_map(&state, &snapshot, &category, scenario).await?;
    let png = map
        .legend_png()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, PNG_CONTENT_TYPE),
            (axum::http::header::CACHE_CONTROL, "public, max-age=60"),
        ],
        png,
    )
        .into_response())
}

/// `GET /report/map.png`: a small map, see `maps::small`.
pub async fn get_small_map(
    State(state): State<Arc<AppState>>,
    Query(SmallMapParams(params)): Query<SmallMapParams>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let taxonomy = &snapshot.dataset.taxonomy;
    let category_text = params.required("category", &format!("one of {}", taxonomy.id_list()))?;
    let category = taxonomy.by_id(category_text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "parameter `category`: unknown category `{category_text}`; known categories: {}",
            taxonomy.id_list()
        ))
    })?;
    let scenario = scenario(&params)?;
    let layer = match params.one("layer")? {
        None => Layer::Coverage,
        Some(text) => Layer::parse(text).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "parameter `layer` must be coverage or access, not `{}`",
                text.chars().take(40).collect::<String>()
            ))
        })?,
    };
    let side = |name: &str, default: u32| -> Result<u32, ApiError> {
        let what = format!(
            "a whole number of pixels from {} to {}",
            small::MIN_SIDE_PX,
            small::MAX_SIDE_PX
        );
        let value: u32 = params.number(name, Some(default), &what)?;
        if (small::MIN_SIDE_PX..=small::MAX_SIDE_PX).contains(&value) {
            Ok(value)
        } else {
            Err(ApiError::BadRequest(format!(
                "parameter `{name}` must be {what}, not {value}"
            )))
        }
    };
    let (width, height) = (side("width", 480)?, side("height", 320)?);
    let areas = &snapshot.dataset.areas;
    let subdistrict = match params.one("subdistrict")? {
        None | Some("") => None,
        Some(name) => Some(
            areas
                .iter()
                .position(|a| a.name == name || a.name_en.as_deref() == Some(name))
                .ok_or_else(|| {
                    let known: Vec<&str> = areas.iter().map(|a| a.name.as_str()).collect();
                    ApiError::BadRequest(format!(
                        "parameter `subdistrict`: unknown subdistrict `{}`; known subdistricts: {}",
                        name.chars().take(40).collect::<String>(),
                        if known.is_empty() {
                            "none (no subdistricts configured)".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ))
                })?,
        ),
    };
    let request = MapRequest {
        category,
        layer,
        subdistrict,
        width,
        height,
    };
    let view = View::new(&snapshot.dataset, &snapshot.coverage, &request);
    // The whole image is the one "tile" of its variant; the variant names every parameter.
    let key = CacheKey {
        version: snapshot.version,
        variant: format!(
            "report/map.png?category={}&scenario={}&subdistrict={}&layer={}&width={width}&height={height}",
            taxonomy.category(category).id,
            scenario.as_str(),
            subdistrict.map_or(String::new(), |i| i.to_string()),
            layer.as_str(),
        )
        .into(),
        tile: TileKey { z: 0, x: 0, y: 0 },
    };
    let cached = match state.cache.get(&key) {
        Some(hit) => hit,
        None => {
            let access = match layer {
                Layer::Access => Some(
                    access_map(
                        &state,
                        &snapshot,
                        taxonomy.category(category).id.as_str(),
                        scenario,
                    )
                    .await?,
                ),
                Layer::Coverage => None,
            };
            let renderer = state.clone();
            (state.renders)
                .run(move || {
                    renderer
                        .cache
                        .get_or_render(key, || {
                            let coverage = snapshot.scenario_coverage(scenario)?;
                            let (png, _) = small::render(
                                &snapshot.dataset,
                                &coverage,
                                access.as_deref(),
                                &request,
                            )
                            .map_err(|e| ApiError::Internal(e.to_string()))?;
                            Ok::<_, ApiError>(CachedTile::new(png, false))
                        })
                        .map_err(|e| (*e).clone())
                })
                .await?
        }
    };
    let mut response = respond::tile(&cached, PNG_CONTENT_TYPE, &headers);
    let [w, s, e, n] = view.bounds();
    if let Ok(value) = HeaderValue::from_str(&format!("{w:.7},{s:.7},{e:.7},{n:.7}")) {
        response.headers_mut().insert("x-map-bounds", value);
    }
    Ok(response)
}
