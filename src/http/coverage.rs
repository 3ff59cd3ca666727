//! Coverage routes: heatmap tiles `GET /coverage/{id}/{z}/{x}/{y}.png`, isochrone bands
//! `….mvt` (`.pbf` alias), TileJSON `GET /coverage/{id}.json[?format=mvt]`, the legend
//! `GET /coverage/legend` (JSON) and `/coverage/legend.png`, statistics `GET /coverage/stats`
//! (JSON, `?format=csv`), blind spots `GET /coverage/gaps`, suggested sites
//! `GET /coverage/suggest` and one place's report `GET /coverage/at`.
//!
//! Every route takes `?profile=` (default: the configured default profile). Statuses: 200, 204
//! (tile with nothing on it), 304 (ETag matches), 400 (bad parameter, named, with the valid
//! values), 404 (unknown coverage id or no such tile), 503 with `Retry-After` (at the limit of
//! concurrent computations). Heavy work runs on the blocking pool under the limits of
//! `analysis_cache`; statistics, gaps and suggestions are cached per data version and parameters.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};

use super::csv_table::{Cell, CsvTable};
use super::error::ApiError;
use super::params::{CATEGORY_PARAMS, Params};
use super::respond::{self, PublicUrl};
use super::tiles::{MVT_CONTENT_TYPE, parse_tile_address};
use crate::analysis_cache::AnalysisKey;
use crate::attributes::Scenario;
use crate::coverage::scenario;
use crate::coverage::stats::{self, AreaStats, Share};
use crate::coverage::{self, Coverage, CoverageId, ProfileId, bands, raster};
use crate::snapshot::Snapshot;
use crate::state::{AppState, CoverageFormat};
use crate::tilejson_doc::{self, TileJSON, TileSetDoc};

const PNG_CONTENT_TYPE: &str = "image/png";

/// The walking profile a coverage request names (`?profile=`), or the default.
fn profile(params: &Params, coverage: &Coverage) -> Result<ProfileId, ApiError> {
    Ok(coverage.profile_or_default(params.one("profile")?)?)
}

/// The one category `/coverage/gaps` and `/coverage/suggest` analyse (`category` or
/// `categories`, by the list rule), as its id text.
fn one_category<'a>(params: &'a Params, what: &str) -> Result<&'a str, ApiError> {
    let mut items = params.list(&CATEGORY_PARAMS).unwrap_or_default();
    items.dedup();
    match items[..] {
        [one] => Ok(one),
        [] => Err(ApiError::BadRequest(format!(
            "parameter `category` is required: {what}"
        ))),
        _ => Err(ApiError::BadRequest(format!(
            "parameter `category` names {} categories ({}); this analysis takes one at a time: {what}",
            items.len(),
            items.join(", ")
        ))),
    }
}

/// `?scenario=existing|built|planned` (default: existing); the service-load routes take it too.
pub(super) fn scenario(params: &Params) -> Result<Scenario, ApiError> {
    params
        .one("scenario")?
        .map_or(Ok(Scenario::Existing), |text| {
            Scenario::parse(text)
                .map_err(|message| ApiError::BadRequest(format!("parameter `scenario`: {message}")))
        })
}

/// The coverage of `scenario` (built on first use, on the blocking pool).
async fn scenario_coverage(
    snapshot: &Arc<Snapshot>,
    scenario: Scenario,
) -> Result<Arc<Coverage>, ApiError> {
    if scenario == Scenario::Existing {
        return Ok(snapshot.coverage.clone());
    }
    let snapshot = snapshot.clone();
    Ok(tokio::task::spawn_blocking(move || snapshot.scenario_coverage(scenario)).await??)
}

fn colour_hex(rgba: [u8; 4]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgba[0], rgba[1], rgba[2])
}

fn colour_json(rgba: [u8; 4]) -> serde_json::Value {
    serde_json::json!({ "color": colour_hex(rgba), "rgba": rgba })
}

fn profile_json(coverage: &Coverage, profile: ProfileId) -> serde_json::Value {
    let p = coverage.profile(profile);
    serde_json::json!({
        "id": p.id,
        "label_zh": p.label_zh,
        "label_en": p.label_en,
        "speed_m_s": p.speed_m_s,
    })
}

fn share_json(share: &Share) -> serde_json::Value {
    serde_json::json!({
        "area_share": share.cells.share(),
        "population_share": share.population.share(),
        "population_within": share.population.within,
        "population_outside": share.population.outside(),
    })
}

/// `GET /coverage/{id}/{z}/{x}/{y}.png|.mvt|.pbf`
pub async fn get_tile(
    State(state): State<Arc<AppState>>,
    Path((id, z, x, y_ext)): Path<(String, String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let coverage_id = snapshot.coverage.coverage_id(&id)?;
    let tile = parse_tile_address(&z, &x, &y_ext, &["png", "mvt", "pbf"])?;
    let (format, content_type) = if y_ext.ends_with(".png") {
        (CoverageFormat::Png, PNG_CONTENT_TYPE)
    } else {
        (CoverageFormat::Mvt, MVT_CONTENT_TYPE)
    };
    let params = Params::parse(&uri, &["profile", "scenario"])?;
    let profile = profile(&params, &snapshot.coverage)?;
    let scenario = scenario(&params)?;
    let key = AppState::scenario_tile_key(&snapshot, scenario, coverage_id, profile, format, tile);
    let cached = match state.cache.get(&key) {
        Some(hit) => hit,
        None => {
            let renderer = state.clone();
            (state.renders)
                .run(move || {
                    renderer.scenario_tile(&snapshot, scenario, coverage_id, profile, format, tile)
                })
                .await?
        }
    };
    Ok(respond::tile(&cached, content_type, &headers))
}

/// `GET /coverage/{id}.json[?format=png|mvt&profile=]`: TileJSON of the heatmap (default) or of
/// the bands.
pub async fn get_tilejson(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    uri: Uri,
    public_url: PublicUrl,
) -> Result<Response, ApiError> {
    let Some(name) = file.strip_suffix(".json") else {
        return Err(ApiError::NotFound(format!(
            "no such resource `/coverage/{file}`; TileJSON is at /coverage/{{id}}.json, see /catalog"
        )));
    };
    let snapshot = state.snapshot.load_full();
    let coverage = &snapshot.coverage;
    let id = coverage.coverage_id(name)?;
    let params = Params::parse(&uri, &["profile", "format", "scenario"])?;
    let profile = profile(&params, coverage)?;
    let scenario = scenario(&params)?;
    let format = match params.one("format")?.unwrap_or("png") {
        "png" => CoverageFormat::Png,
        "mvt" | "pbf" => CoverageFormat::Mvt,
        other => {
            return Err(ApiError::BadRequest(format!(
                "parameter `format` must be png or mvt, not `{other}`"
            )));
        }
    };
    let mut document = tilejson(&state, &snapshot, id, profile, format, &public_url.0);
    if scenario != Scenario::Existing {
        for url in &mut document.tiles {
            url.push_str(&format!("&scenario={}", scenario.as_str()));
        }
        if let Some(coverage) = document.other.get_mut("coverage") {
            coverage["scenario"] = scenario.as_str().into();
        }
    }
    Ok(respond::json(&document))
}

fn tilejson(
    state: &AppState,
    snapshot: &Snapshot,
    id: CoverageId,
    profile: ProfileId,
    format: CoverageFormat,
    base: &str,
) -> TileJSON {
    let coverage = &snapshot.coverage;
    let taxonomy = coverage.taxonomy();
    let name = coverage.id_name(id);
    let walk = coverage.profile(profile);
    let (what, threshold) = match id {
        CoverageId::Category(c) => {
            let category = taxonomy.category(c);
            (
                format!(
                    "walking minutes to the nearest {} ({})",
                    category.label_en, category.label_zh
                ),
                Some(category.walk_min),
            )
        }
        CoverageId::All => (
            "number of categories within their life-circle threshold".to_owned(),
            None,
        ),
        CoverageId::Group(g) => (
            format!(
                "number of {} ({}) categories within their life-circle threshold",
                taxonomy.group(g).label_en,
                taxonomy.group(g).label_zh
            ),
            None,
        ),
    };
    let ext = format.extension();
    let tiles_url = format!(
        "{base}/coverage/{name}/{{z}}/{{x}}/{{y}}.{ext}?profile={}",
        walk.id
    );
    let tiles = &state.config.tiles;
    let bounds = if coverage.grid.n_cells() > 0 {
        coverage.shown_bounds()
    } else {
        snapshot.dataset.bounds
    };
    let [lon, lat] = snapshot.dataset.center();
    let mut document = TileSetDoc {
        name: format!(
            "lifecircle coverage: {name} ({}, {})",
            walk.label_en,
            coverage.mode.as_str()
        ),
        description: format!(
            "15-minute life circle: {what}, {} ({} m/s), {} distances on a {} m grid",
            walk.label_en,
            walk.speed_m_s,
            coverage.mode.as_str(),
            coverage.params.cell_m
        ),
        data_version: snapshot.version,
        attribution: &state.config.data.attribution,
        tiles: vec![tiles_url],
        minzoom: tiles.minzoom,
        maxzoom: tiles.maxzoom,
        bounds,
        center: (lon, lat, 13),
        vector_layers: (format == CoverageFormat::Mvt)
            .then(|| bands::vector_layers(tiles.minzoom, tiles.maxzoom)),
    }
    .build();
    tilejson_doc::with_extra(&mut document, "format", ext.into());
    let about = serde_json::json!({
        "id": name,
        "kind": if matches!(id, CoverageId::Category(_)) { "category" } else { "composite" },
        "threshold_min": threshold,
        "profile": profile_json(coverage, profile),
        "mode": coverage.mode.as_str(),
        "cell_m": coverage.params.cell_m,
        "legend": format!("{base}/coverage/legend?id={name}&profile={}", walk.id),
    });
    tilejson_doc::with_extra(&mut document, "coverage", about);
    if format == CoverageFormat::Png {
        // Not in TileJSON 3.0.0, but MapLibre reads it for raster sources.
        tilejson_doc::with_extra(&mut document, "tileSize", 256.into());
    }
    document
}

/// The `coverage` entry of `/catalog`.
pub fn catalog_entry(snapshot: &Snapshot, base: &str) -> serde_json::Value {
    let coverage = &snapshot.coverage;
    let profile = coverage.profile(coverage.params.default_profile);
    let ids: Vec<serde_json::Value> = coverage
        .ids()
        .into_iter()
        .map(|(name, id)| {
            serde_json::json!({
                "id": name,
                "kind": if matches!(id, CoverageId::Category(_)) { "category" } else { "composite" },
                "tilejson": format!("{base}/coverage/{name}.json"),
                "tilejson_mvt": format!("{base}/coverage/{name}.json?format=mvt"),
                "tiles": format!("{base}/coverage/{name}/{{z}}/{{x}}/{{y}}.png?profile={}", profile.id),
                "tiles_mvt": format!("{base}/coverage/{name}/{{z}}/{{x}}/{{y}}.mvt?profile={}", profile.id),
            })
        })
        .collect();
    serde_json::json!({
        "mode": coverage.mode.as_str(),
        "cell_m": coverage.params.cell_m,
        "default_profile": profile.id,
        "profiles": (0..coverage.params.profiles.len())
            .map(|p| profile_json(coverage, ProfileId(p as u8)))
            .collect::<Vec<_>>(),
        "legend": format!("{base}/coverage/legend"),
        "stats": format!("{base}/coverage/stats"),
        "ids": ids,
    })
}

/// `GET /coverage/legend[?id=&profile=]`
pub async fn get_legend(
    State(state): State<Arc<AppState>>,
    uri: Uri,
    public_url: PublicUrl,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let coverage = &snapshot.coverage;
    let params = Params::parse(&uri, &["id", "profile"])?;
    let profile = profile(&params, coverage)?;
    let walk = coverage.profile(profile);
    let only = params
        .one("id")?
        .map(|id| coverage.coverage_id(id))
        .transpose()?;
    let band_minutes = &coverage.params.band_minutes;
    let ramp_max = coverage.ramp_max_min();
    let steps: Vec<serde_json::Value> = raster::time_ramp(band_minutes, ramp_max)
        .into_iter()
        .enumerate()
        .map(|(minute, rgba)| {
            let mut step = colour_json(rgba);
            step["from_min"] = minute.into();
            step["to_min"] = (minute + 1).into();
            step
        })
        .collect();
    let mut far = colour_json(raster::FAR_RGBA);
    far["label"] = format!("more than {ramp_max} min").into();
    far["from_min"] = ramp_max.into();
    let unreachable = serde_json::json!({
        "label": "no facility reachable",
        "pattern": "diagonal stripes",
        "stripe_px": raster::STRIPE_PX,
        "colors": raster::UNREACHABLE_RGBA.map(colour_hex),
        "rgba": raster::UNREACHABLE_RGBA,
    });
    let composites: Vec<serde_json::Value> = coverage
        .ids()
        .into_iter()
        .filter(|(_, id)| !matches!(id, CoverageId::Category(_)))
        .filter(|(_, id)| only.is_none_or(|o| o == *id))
        .map(|(name, id)| {
            let n = coverage.composite_members(id).len() as u32;
            let steps: Vec<serde_json::Value> = raster::score_ramp(n)
                .into_iter()
                .enumerate()
                .map(|(score, rgba)| {
                    let mut step = colour_json(rgba);
                    step["score"] = score.into();
                    step
                })
                .collect();
            serde_json::json!({
                "id": name,
                "n_categories": n,
                "categories": category_ids(coverage, &coverage.composite_members(id)),
                "without_data": category_ids(coverage, &composite_without_data(coverage, id)),
                "steps": steps,
            })
        })
        .collect();
    let thresholds: Vec<serde_json::Value> = coverage
        .taxonomy()
        .categories()
        .filter(|(id, _)| only.is_none_or(|o| o == CoverageId::Category(*id)))
        .map(|(id, c)| {
            serde_json::json!({
                "category": c.id,
                "walk_min": c.walk_min,
                "walk_m": coverage.threshold_m(id, profile),
            })
        })
        .collect();
    let base = &public_url.0;
    let png_id = params.one("id")?.unwrap_or(coverage::ALL_ID);
    Ok(respond::json(&serde_json::json!({
        "mode": coverage.mode.as_str(),
        "profile": profile_json(coverage, profile),
        "cell_m": coverage.params.cell_m,
        "band_minutes": band_minutes,
        "ramp_max_min": ramp_max,
        "time": {
            "unit": "minutes",
            "note": "one colour per whole minute; the jumps mark the band limits",
            "steps": steps,
            "far": far,
            "unreachable": unreachable,
        },
        "thresholds": thresholds,
        "composites": composites,
        "alpha": raster::FAR_RGBA[3],
        "png": format!("{base}/coverage/legend.png?id={png_id}&profile={}", walk.id),
    })))
}

/// `GET /coverage/legend.png[?id=]`: the ramp of `id` (default `all`) as an image.
pub async fn get_legend_png(
    State(state): State<Arc<AppState>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let coverage = &snapshot.coverage;
    let params = Params::parse(&uri, &["id", "profile"])?;
    profile(&params, coverage)?;
    let id = coverage.coverage_id(params.one("id")?.unwrap_or(coverage::ALL_ID))?;
    let png = raster::legend_png(coverage, id)?;
    Ok((
        [
            (header::CONTENT_TYPE, PNG_CONTENT_TYPE),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        png,
    )
        .into_response())
}

/// `GET /coverage/stats[?profile=&format=json|csv]`
pub async fn get_stats(State(state): State<Arc<AppState>>, uri: Uri) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let params = Params::parse(&uri, &["profile", "format", "scenario"])?;
    let profile = profile(&params, &snapshot.coverage)?;
    let scenario = scenario(&params)?;
    let csv = match params.one("format")?.unwrap_or("json") {
        "json" => false,
        "csv" => true,
        other => {
            return Err(ApiError::BadRequest(format!(
                "parameter `format` must be json or csv, not `{other}`"
            )));
        }
    };
    if scenario != Scenario::Existing {
        return scenario_stats(&state, &snapshot, scenario, profile, csv).await;
    }
    let computed = {
        let snapshot = snapshot.clone();
        let key = AnalysisKey::new(&snapshot, "/coverage/stats", profile.0);
        (state.analyses)
            .get_or_compute(key, move |_| {
                Ok::<_, ApiError>(stats::stats(&snapshot.coverage, &snapshot.dataset, profile))
            })
            .await?
    };
    let coverage = &snapshot.coverage;
    if csv {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=60"),
            ],
            stats_csv(coverage, &computed),
        )
            .into_response());
    }
    let taxonomy = coverage.taxonomy();
    let area_json = |a: &AreaStats| {
        let categories: serde_json::Map<String, serde_json::Value> = taxonomy
            .categories()
            .map(|(id, c)| {
                let mut v = share_json(&a.categories[id.0 as usize]);
                v["walk_min"] = c.walk_min.into();
                (c.id.clone(), v)
            })
            .collect();
        let groups: serde_json::Map<String, serde_json::Value> = computed
            .group_members
            .iter()
            .map(|(g, members)| {
                let mut v = share_json(&a.groups[g.0 as usize]);
                v["n_categories"] = members.len().into();
                (taxonomy.group(*g).id.clone(), v)
            })
            .collect();
        serde_json::json!({
            "name": a.name,
            "name_en": a.name_en,
            "area_km2": a.area_km2,
            "population": a.population,
            "categories": categories,
            "composite": {
                "n_categories": a.n_composite,
                "mean_score_area": a.mean_score_cells(),
                "mean_score_population": a.mean_score_population(),
                "all": share_json(&a.all),
                "essential": share_json(&a.essential),
                "groups": groups,
            },
        })
    };
    let essential = category_ids(coverage, &computed.essential_categories);
    let essential_without_data = category_ids(coverage, &computed.essential_without_data);
    // With no essential category in the data there is nothing to count: no share, not 100 %.
    let counted = !computed.essential_categories.is_empty();
    Ok(respond::json(&serde_json::json!({
        "data_version": snapshot.version,
        "mode": coverage.mode.as_str(),
        "profile": profile_json(coverage, profile),
        "cell_m": coverage.params.cell_m,
        "area": analysis_area_json(coverage),
        "categories_without_data": category_ids(coverage, &computed.categories_without_data),
        "headline": {
            "description": "share of residents with every essential category within its walking threshold; essential categories with no facility in the data are left out and named in without_data",
            "essential_categories": essential,
            "without_data": essential_without_data,
            "population_share": computed.total.essential.population.share().filter(|_| counted),
            "area_share": computed.total.essential.cells.share().filter(|_| counted),
        },
        "total": area_json(&computed.total),
        "subdistricts": computed.areas.iter().map(area_json).collect::<Vec<_>>(),
        "outside_subdistricts": computed.outside_areas.as_ref().map(area_json),
    })))
}

/// The public ids of `categories`.
fn category_ids(coverage: &Coverage, categories: &[crate::taxonomy::CategoryId]) -> Vec<String> {
    categories
        .iter()
        .map(|&c| coverage.taxonomy().category(c).id.clone())
        .collect()
}

/// The categories of composite `id` left out for having no facility in the data.
fn composite_without_data(coverage: &Coverage, id: CoverageId) -> Vec<crate::taxonomy::CategoryId> {
    let taxonomy = coverage.taxonomy();
    coverage
        .categories_without_data()
        .iter()
        .copied()
        .filter(|&c| match id {
            CoverageId::Group(g) => taxonomy.category(c).group == g,
            CoverageId::All | CoverageId::Category(_) => true,
        })
        .collect()
}

/// Where the statistics are computed: the analysis area.
fn analysis_area_json(coverage: &Coverage) -> serde_json::Value {
    let area = coverage.area();
    serde_json::json!({
        "source": area.source.describe(),
        "bbox": area.bbox,
        "grid_bounds": coverage.grid.lonlat_bounds(),
    })
}

/// The statistics as CSV (`http::csv_table`): one row per area and measure.
fn stats_csv(coverage: &Coverage, computed: &stats::Stats) -> String {
    let taxonomy = coverage.taxonomy();
    let profile = &coverage.profile(computed.profile).id;
    let mut table = CsvTable::new(&[
        "area",
        "area_en",
        "profile",
        "measure",
        "walk_min",
        "area_km2",
        "population",
        "area_share",
        "population_share",
        "population_within",
        "population_outside",
    ]);
    let opt = |v: Option<f64>| v.map_or(Cell::Empty, |v| Cell::Number(format!("{v:.6}")));
    let areas = computed
        .areas
        .iter()
        .chain(computed.outside_areas.as_ref())
        .chain(std::iter::once(&computed.total));
    for a in areas {
        let mut rows: Vec<(String, String, &Share)> = taxonomy
            .categories()
            .map(|(id, c)| {
                (
                    c.id.clone(),
                    c.walk_min.to_string(),
                    &a.categories[id.0 as usize],
                )
            })
            .collect();
        rows.push(("all".into(), String::new(), &a.all));
        rows.push(("essential".into(), String::new(), &a.essential));
        for (g, group) in taxonomy.groups() {
            rows.push((
                format!("group:{}", group.id),
                String::new(),
                &a.groups[g.0 as usize],
            ));
        }
        for (measure, walk_min, share) in rows {
            table.row(&[
                Cell::Text(&a.name),
                Cell::Text(a.name_en.as_deref().unwrap_or("")),
                Cell::Text(profile),
                Cell::Text(&measure),
                Cell::Number(walk_min),
                Cell::Number(format!("{:.4}", a.area_km2)),
                Cell::Number(a.population.to_string()),
                opt(share.cells.share()),
                opt(share.population.share()),
                Cell::Number(share.population.within.to_string()),
                Cell::Number(share.population.outside().to_string()),
            ]);
        }
    }
    table.finish()
}

/// What `/coverage/gaps` and `/coverage/suggest` take besides how many answers (`count_param`):
/// one category, a walking profile and a scenario.
fn one_category_request(
    uri: &Uri,
    coverage: &Coverage,
    count_param: &str,
) -> Result<(Params, Scenario, crate::taxonomy::CategoryId, ProfileId), ApiError> {
    let params = Params::parse(
        uri,
        &["category", "categories", "profile", count_param, "scenario"],
    )?;
    let scenario = scenario(&params)?;
    let category = coverage.category_id(one_category(
        &params,
        &format!("one of {}", coverage.taxonomy().id_list()),
    )?)?;
    let profile = profile(&params, coverage)?;
    Ok((params, scenario, category, profile))
}

/// `GET /coverage/gaps?category=&profile=&limit=`
pub async fn get_gaps(State(state): State<Arc<AppState>>, uri: Uri) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let coverage = &snapshot.coverage;
    let (params, scenario, category, profile) = one_category_request(&uri, coverage, "limit")?;
    let limit: usize = params.number("limit", Some(20), "an integer from 1 to 1000")?;
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "parameter `limit` must be from 1 to 1000, not {limit}"
        )));
    }
    let found = category_gaps(&state, &snapshot, category, profile, scenario).await?;
    let total_area_m2: f64 = found.gaps.iter().map(|g| g.area_m2).sum();
    let total_residents: u64 = found.gaps.iter().map(|g| g.residents).sum();
    let gaps: Vec<serde_json::Value> = found
        .gaps
        .iter()
        .take(limit)
        .enumerate()
        .map(|(rank, g)| {
            serde_json::json!({
                "rank": rank + 1,
                "area_m2": g.area_m2,
                "area_km2": g.area_m2 / 1e6,
                "n_cells": g.n_cells,
                "residents": g.residents,
                "centroid": [g.centroid.0, g.centroid.1],
                "bounds": g.bounds,
                "unreachable_share": g.n_unreachable_cells as f64 / g.n_cells as f64,
            })
        })
        .collect();
    Ok(respond::json(&serde_json::json!({
        "category": coverage.taxonomy().category(category).id,
        "profile": profile_json(coverage, profile),
        "mode": coverage.mode.as_str(),
        "scenario": scenario.as_str(),
        "threshold_min": found.threshold_min,
        "n_gaps": found.gaps.len(),
        "total_area_km2": total_area_m2 / 1e6,
        "total_residents": total_residents,
        "gaps": gaps,
    })))
}

/// The blind spots of `category` in `scenario`, computed on first use and cached (shared by
/// `/coverage/gaps` and the report).
pub(super) async fn category_gaps(
    state: &Arc<AppState>,
    snapshot: &Arc<Snapshot>,
    category: crate::taxonomy::CategoryId,
    profile: ProfileId,
    scenario: Scenario,
) -> Result<Arc<stats::Gaps>, ApiError> {
    let snapshot = snapshot.clone();
    let key = AnalysisKey::new(
        &snapshot,
        "/coverage/gaps",
        (category.0, profile.0, scenario as u8),
    );
    Ok((state.analyses)
        .get_or_compute(key, move |_| {
            let coverage = snapshot.scenario_coverage(scenario)?;
            Ok::<_, ApiError>(stats::gaps(&coverage, &snapshot.dataset, category, profile))
        })
        .await?)
}

/// `GET /coverage/suggest?category=&k=&profile=`
pub async fn get_suggest(
    State(state): State<Arc<AppState>>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let coverage = &snapshot.coverage;
    let (params, scenario, category, profile) = one_category_request(&uri, coverage, "k")?;
    let k: usize = params.number(
        "k",
        Some(5),
        &format!("an integer from 1 to {}", stats::MAX_SUGGESTIONS),
    )?;
    let result = {
        let snapshot = snapshot.clone();
        let key = AnalysisKey::new(
            &snapshot,
            "/coverage/suggest",
            (category.0, profile.0, k, scenario as u8),
        );
        (state.analyses)
            .get_or_compute(key, move |cancel| {
                // Sites are suggested for what the scenario still leaves uncovered.
                let coverage = snapshot.scenario_coverage(scenario)?;
                stats::suggest_cancellable(
                    &coverage,
                    &snapshot.dataset,
                    category,
                    k,
                    profile,
                    cancel,
                )
                .map_err(ApiError::from)
            })
            .await?
    };
    let dataset = &snapshot.dataset;
    let suggestions: Vec<serde_json::Value> = result
        .picks
        .iter()
        .enumerate()
        .map(|(rank, s)| {
            let place = &dataset.residents[s.resident];
            serde_json::json!({
                "rank": rank + 1,
                "lon": s.lon,
                "lat": s.lat,
                "newly_covered_residents": s.newly_covered,
                "cumulative_covered_residents": s.cumulative,
                "near": place.name,
                "subdistrict": place.subdistrict,
            })
        })
        .collect();
    let covered_by_picks = result.picks.last().map_or(0, |s| s.cumulative);
    Ok(respond::json(&serde_json::json!({
        "category": coverage.taxonomy().category(category).id,
        "profile": profile_json(coverage, profile),
        "mode": coverage.mode.as_str(),
        "scenario": scenario.as_str(),
        "threshold_min": result.threshold_min,
        "population": result.population,
        "uncovered_before": result.uncovered_before,
        "uncovered_after": result.uncovered_before - covered_by_picks,
        "n_candidates": result.n_candidates,
        "reason": result.empty_reason.map(|r| r.code()),
        "message": result.empty_reason.map(|r| r.message()),
        "category_has_facilities": !dataset
            .serving(category, scenario.statuses())
            .is_empty(),
        "method": "greedy: each site is the residential place that brings the most not-yet-covered residents within the threshold",
        "suggestions": suggestions,
    })))
}

/// `GET /coverage/at?lon=&lat=&profile=`
pub async fn get_at(State(state): State<Arc<AppState>>, uri: Uri) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let params = Params::parse(&uri, &["lon", "lat", "profile", "scenario"])?;
    let scenario = scenario(&params)?;
    let lon: f64 = params.number("lon", None, "a longitude in degrees (WGS84)")?;
    let lat: f64 = params.number("lat", None, "a latitude in degrees (WGS84)")?;
    if !crate::geom::is_valid_lonlat(lon, lat) {
        return Err(ApiError::BadRequest(format!(
            "parameters `lon`, `lat` must be WGS84 degrees (lon -180 to 180, lat -90 to 90), not {lon}, {lat}"
        )));
    }
    let profile = profile(&params, &snapshot.coverage)?;
    let scenario_coverage = scenario_coverage(&snapshot, scenario).await?;
    let report = {
        let (snapshot, coverage) = (snapshot.clone(), scenario_coverage.clone());
        tokio::task::spawn_blocking(move || {
            stats::at(&coverage, &snapshot.dataset, lon, lat, profile)
        })
        .await??
    };
    let coverage = &*scenario_coverage;
    let taxonomy = coverage.taxonomy();
    let walk = coverage.profile(profile);
    let categories: Vec<serde_json::Value> = report
        .reach
        .iter()
        .map(|r| {
            let c = taxonomy.category(r.category);
            let facility = r.facility.map(|idx| {
                let f = snapshot.dataset.facility(idx);
                serde_json::json!({
                    "id": f.id,
                    "name": f.name(),
                    "name_en": f.name_en(),
                    "lon": f.lon,
                    "lat": f.lat,
                })
            });
            serde_json::json!({
                "category": c.id,
                "label_zh": c.label_zh,
                "label_en": c.label_en,
                "walk_min": c.walk_min,
                "distance_m": r.dist_m,
                "minutes": r.dist_m.map(|d| walk.minutes(d)),
                "within": r.within,
                "facility": facility,
            })
        })
        .collect();
    let groups: Vec<serde_json::Value> = report
        .groups
        .iter()
        .map(|(g, within, of)| {
            serde_json::json!({ "group": taxonomy.group(*g).id, "within": within, "of": of })
        })
        .collect();
    Ok(respond::json(&serde_json::json!({
        "lon": report.lon,
        "lat": report.lat,
        "profile": profile_json(coverage, profile),
        "mode": coverage.mode.as_str(),
        "scenario": scenario.as_str(),
        "snapped": report.snapped.map(|((lon, lat), off_m)| {
            serde_json::json!({ "lon": lon, "lat": lat, "off_network_m": off_m })
        }),
        "categories": categories,
        "score": {
            "within": report.score,
            "of": report.n_composite,
            "without_data": category_ids(coverage, coverage.categories_without_data()),
        },
        "groups": groups,
        "essential_within": report.essential_within,
    })))
}

/// `scenario` beside `existing`, computed on first use and cached (shared by
/// `/coverage/stats?scenario=` and the report).
pub(super) async fn scenario_change(
    state: &Arc<AppState>,
    snapshot: &Arc<Snapshot>,
    scenario: Scenario,
    profile: ProfileId,
) -> Result<Arc<scenario::ScenarioChange>, ApiError> {
    let snapshot = snapshot.clone();
    let key = AnalysisKey::new(
        &snapshot,
        "/coverage/stats?scenario",
        (profile.0, scenario as u8),
    );
    Ok((state.analyses)
        .get_or_compute(key, move |_| {
            let planned = snapshot.scenario_coverage(scenario)?;
            Ok::<_, ApiError>(scenario::compare(
                &snapshot.coverage,
                &planned,
                &snapshot.dataset,
                profile,
            ))
        })
        .await?)
}

/// `GET /coverage/stats?scenario=built|planned`: the scenario beside `existing`, per
/// subdistrict and category.
async fn scenario_stats(
    state: &Arc<AppState>,
    snapshot: &Arc<Snapshot>,
    scenario: Scenario,
    profile: ProfileId,
    csv: bool,
) -> Result<Response, ApiError> {
    let computed = scenario_change(state, snapshot, scenario, profile).await?;
    let coverage = &snapshot.coverage;
    let taxonomy = coverage.taxonomy();
    let cell_km2 = coverage.grid.cell_area_m2() / 1e6;
    let share = |within: u64, total: u64| (total > 0).then(|| within as f64 / total as f64);
    if csv {
        let header = [
            "area",
            "area_en",
            "category",
            "scenario",
            "profile",
            "walk_min",
            "area_km2",
            "population",
            "area_share_existing",
            "area_share_scenario",
            "population_share_existing",
            "population_share_scenario",
            "cells_newly_covered",
            "area_newly_covered_km2",
            "residents_newly_covered",
            "blind_spots",
            "blind_spots_closed",
        ];
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        let mut rows = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
        for a in computed
            .areas
            .iter()
            .chain(computed.outside_areas.as_ref())
            .chain(std::iter::once(&computed.total))
        {
            for (id, c) in taxonomy.categories() {
                let x = &a.categories[id.0 as usize];
                rows.push(vec![
                    a.name.clone(),
                    a.name_en.clone().unwrap_or_default(),
                    c.id.clone(),
                    scenario.as_str().to_owned(),
                    coverage.profile(profile).id.clone(),
                    c.walk_min.to_string(),
                    format!("{:.4}", x.n_cells as f64 * cell_km2),
                    x.population.to_string(),
                    opt(share(x.cells_within_existing, x.n_cells)),
                    opt(share(x.cells_within_scenario, x.n_cells)),
                    opt(share(x.population_within_existing, x.population)),
                    opt(share(x.population_within_scenario, x.population)),
                    x.cells_newly_covered.to_string(),
                    format!("{:.4}", x.cells_newly_covered as f64 * cell_km2),
                    x.residents_newly_covered.to_string(),
                    x.blind_spots.to_string(),
                    x.blind_spots_closed.to_string(),
                ]);
            }
        }
        return Ok(super::csv_table::response(rows));
    }
    let area_json = |a: &scenario::AreaChange| {
        let categories: serde_json::Map<String, serde_json::Value> = taxonomy
            .categories()
            .map(|(id, c)| {
                let x = &a.categories[id.0 as usize];
                let v = serde_json::json!({
                    "walk_min": c.walk_min,
                    "n_cells": x.n_cells,
                    "population": x.population,
                    "existing": {
                        "area_share": share(x.cells_within_existing, x.n_cells),
                        "population_share": share(x.population_within_existing, x.population),
                        "population_within": x.population_within_existing,
                        "cells_within": x.cells_within_existing,
                    },
                    "scenario": {
                        "area_share": share(x.cells_within_scenario, x.n_cells),
                        "population_share": share(x.population_within_scenario, x.population),
                        "population_within": x.population_within_scenario,
                        "cells_within": x.cells_within_scenario,
                    },
                    "cells_newly_covered": x.cells_newly_covered,
                    "area_newly_covered_km2": x.cells_newly_covered as f64 * cell_km2,
                    "residents_newly_covered": x.residents_newly_covered,
                    "blind_spots": x.blind_spots,
                    "blind_spots_closed": x.blind_spots_closed,
                });
                (c.id.clone(), v)
            })
            .collect();
        serde_json::json!({
            "name": a.name,
            "name_en": a.name_en,
            "categories": categories,
        })
    };
    let dataset = &snapshot.dataset;
    let added: serde_json::Map<String, serde_json::Value> = scenario
        .statuses()
        .iter()
        .filter(|s| *s != crate::attributes::Status::Existing)
        .map(|s| (s.as_str().to_owned(), dataset.status_count(s).into()))
        .collect();
    Ok(respond::json(&serde_json::json!({
        "data_version": snapshot.version,
        "scenario": scenario.as_str(),
        "compared_with": "existing",
        "facilities_added": added,
        "mode": coverage.mode.as_str(),
        "profile": profile_json(coverage, profile),
        "cell_m": coverage.params.cell_m,
        "area": analysis_area_json(coverage),
        "description": "per subdistrict and category: shares within the walking threshold today (existing) and in the scenario; cells and residents newly covered; blind spots of existing (edge-connected uncovered cells) and how many the scenario closes (none of their cells remains uncovered)",
        "total": area_json(&computed.total),
        "subdistricts": computed.areas.iter().map(area_json).collect::<Vec<_>>(),
        "outside_subdistricts": computed.outside_areas.as_ref().map(area_json),
    })))
}
