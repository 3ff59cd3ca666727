//! Facility tile routes: `GET /tiles/{source}.json` (TileJSON) and
//! `GET /tiles/{source}/{z}/{x}/{y}.mvt|.pbf`.
//!
//! Statuses: 200 (tile), 204 (empty tile in range), 304 (ETag matches), 400 (malformed address
//! or filter), 404 (unknown source or no such tile).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::error::ApiError;
use super::respond::{self, PublicUrl};
use crate::attributes::StatusSet;
use crate::geom::TileKey;
use crate::snapshot::Snapshot;
use crate::state::{AppState, FACILITIES_SOURCE, VectorTileSet};
use crate::tiles::basemap::{BASEMAP_LAYERS, BASEMAP_SOURCE};
use crate::tiles::{CategoryFilter, Datum, profile};

pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

#[derive(Debug, Deserialize)]
pub struct TileQuery {
    /// Comma-separated category ids to keep (facilities only).
    categories: Option<String>,
    /// Datum of the positions: `wgs84` (default) or `gcj02`, to overlay Amap or Tencent basemaps
    /// (facilities only).
    crs: Option<String>,
    /// Comma-separated statuses to show (facilities only): default `existing`; `all`, or e.g.
    /// `existing,under_construction,planned` for the planner's view.
    status: Option<String>,
}

/// Parses `z`, `x` and `y.ext` of a tile path; `extensions` lists the accepted extensions.
pub fn parse_tile_address(
    z: &str,
    x: &str,
    y_ext: &str,
    extensions: &[&str],
) -> Result<TileKey, ApiError> {
    let (y, ext) = y_ext.rsplit_once('.').ok_or_else(|| {
        ApiError::BadRequest(format!(
            "tile address `{z}/{x}/{y_ext}` lacks an extension; use .{}",
            extensions.join(" or .")
        ))
    })?;
    if !extensions.contains(&ext) {
        return Err(ApiError::BadRequest(format!(
            "unsupported tile format `.{ext}`; use .{}",
            extensions.join(" or .")
        )));
    }
    let number = |name: &str, text: &str| {
        text.parse::<u32>().map_err(|_| {
            ApiError::BadRequest(format!(
                "tile {name} `{text}` is not a non-negative integer"
            ))
        })
    };
    Ok(TileKey::new(
        number("z", z)?,
        number("x", x)?,
        number("y", y)?,
    )?)
}

/// Parses a tile source id with its query into the tile set it names.
fn parse_source(
    source: &str,
    snapshot: &Snapshot,
    query: &TileQuery,
) -> Result<VectorTileSet, ApiError> {
    match source {
        FACILITIES_SOURCE => Ok(VectorTileSet::Facilities {
            filter: parse_filter(snapshot, query)?,
            datum: parse_datum(query)?,
            statuses: parse_statuses(query.status.as_deref())?,
        }),
        BASEMAP_SOURCE
            if query.categories.is_some() || query.crs.is_some() || query.status.is_some() =>
        {
            Err(ApiError::BadRequest(format!(
                "`categories`, `crs` and `status` apply to {FACILITIES_SOURCE} tiles; {BASEMAP_SOURCE} takes none of them"
            )))
        }
        BASEMAP_SOURCE => Ok(VectorTileSet::Basemap),
        _ => Err(ApiError::NotFound(format!(
            "unknown tile source `{source}`; available: {FACILITIES_SOURCE}, {BASEMAP_SOURCE}"
        ))),
    }
}

/// `?status=`: which statuses to show (default: existing only).
pub fn parse_statuses(text: Option<&str>) -> Result<StatusSet, ApiError> {
    match text {
        None => Ok(StatusSet::EXISTING),
        Some(text) => StatusSet::parse_list(text)
            .map_err(|message| ApiError::BadRequest(format!("parameter `status`: {message}"))),
    }
}

fn parse_datum(query: &TileQuery) -> Result<Datum, ApiError> {
    match query.crs.as_deref() {
        None => Ok(Datum::Wgs84),
        Some(text) => Datum::parse(text).ok_or_else(|| {
            let known: Vec<&str> = Datum::ALL.iter().map(|d| d.as_str()).collect();
            ApiError::BadRequest(format!(
                "unknown crs `{text}`; use one of: {}",
                known.join(", ")
            ))
        }),
    }
}

fn parse_filter(snapshot: &Snapshot, query: &TileQuery) -> Result<CategoryFilter, ApiError> {
    match query.categories.as_deref() {
        None => Ok(CategoryFilter::all()),
        Some(list) => {
            let ids = snapshot
                .dataset
                .taxonomy
                .parse_list(list)
                .map_err(ApiError::BadRequest)?;
            if ids.is_empty() {
                return Err(ApiError::BadRequest(
                    "`categories` is empty; name at least one category".into(),
                ));
            }
            Ok(CategoryFilter::only(ids))
        }
    }
}

pub async fn get_tile(
    State(state): State<Arc<AppState>>,
    Path((source, z, x, y_ext)): Path<(String, String, String, String)>,
    Query(query): Query<TileQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let set = parse_source(&source, &snapshot, &query)?;
    let tile = parse_tile_address(&z, &x, &y_ext, &["mvt", "pbf"])?;
    let cached = match state.cache.get(&set.cache_key(&snapshot, tile)) {
        Some(hit) => hit,
        None => {
            let renderer = state.clone();
            (state.renders)
                .run(move || renderer.vector_tile(&snapshot, tile, &set))
                .await?
        }
    };
    Ok(respond::tile(&cached, MVT_CONTENT_TYPE, &headers))
}

/// `GET /tiles/{source}.json`; the route is `/tiles/{file}` since the id and extension share a
/// path segment.
pub async fn get_tilejson(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    Query(query): Query<TileQuery>,
    public_url: PublicUrl,
) -> Result<Response, ApiError> {
    let source = file.strip_suffix(".json").ok_or_else(|| {
        ApiError::NotFound(format!(
            "no such resource `/tiles/{file}`; TileJSON is at /tiles/{{source}}.json"
        ))
    })?;
    let snapshot = state.snapshot.load_full();
    let set = parse_source(source, &snapshot, &query)?;
    let base = &public_url.0;
    let tiles_url = format!(
        "{base}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt{}",
        set.source_id(),
        set.query_string(&snapshot)
    );
    let tilejson = match &set {
        VectorTileSet::Facilities { .. } => facility_tilejson(&state, &snapshot, tiles_url),
        VectorTileSet::Basemap => basemap_tilejson(&state, &snapshot, tiles_url),
    };
    Ok(respond::json(&tilejson))
}

fn facility_tilejson(
    state: &AppState,
    snapshot: &Snapshot,
    tiles_url: String,
) -> serde_json::Value {
    let tiles = &state.config.tiles;
    let dataset = &snapshot.dataset;
    let mut fields = serde_json::Map::new();
    for (name, kind) in profile::FACILITY_FIELDS
        .iter()
        .chain(profile::CLUSTER_FIELDS)
    {
        fields.insert((*name).into(), (*kind).into());
    }
    for (_, category) in dataset.taxonomy.categories() {
        fields.insert(format!("n_{}", category.id), "Number".into());
    }
    let layers = serde_json::json!([{
        "id": profile::FACILITY_LAYER,
        "description": "One point per facility; at low zoom, clusters (`cluster` = true) with `point_count` and `n_<category>` counts",
        "minzoom": tiles.minzoom,
        "maxzoom": tiles.maxzoom,
        "fields": fields,
    }]);
    let description = "Public-service facilities of the 15-minute community life circle, coloured by category; clustered with counts at low zoom";
    tilejson(
        state,
        snapshot,
        "lifecircle facilities",
        description,
        tiles_url,
        layers,
    )
}

fn basemap_tilejson(state: &AppState, snapshot: &Snapshot, tiles_url: String) -> serde_json::Value {
    let tiles = &state.config.tiles;
    let layers: Vec<_> = BASEMAP_LAYERS
        .iter()
        .map(|(id, description, fields)| {
            let fields: serde_json::Map<_, _> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())).collect();
            serde_json::json!({ "id": id, "description": description, "minzoom": tiles.minzoom, "maxzoom": tiles.maxzoom, "fields": fields })
        })
        .collect();
    let description = "Subdistrict areas, outlines and labels and the street network of the data, for maps that need no external basemap";
    tilejson(
        state,
        snapshot,
        "lifecircle basemap",
        description,
        tiles_url,
        layers.into(),
    )
}

fn tilejson(
    state: &AppState,
    snapshot: &Snapshot,
    name: &str,
    description: &str,
    tiles_url: String,
    vector_layers: serde_json::Value,
) -> serde_json::Value {
    let tiles = &state.config.tiles;
    let [lon, lat] = snapshot.dataset.center();
    serde_json::json!({
        "tilejson": "3.0.0",
        "name": name,
        "description": description,
        "version": format!("1.0.{}", snapshot.version),
        "attribution": state.config.data.attribution,
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": tiles.minzoom,
        "maxzoom": tiles.maxzoom,
        "bounds": snapshot.dataset.bounds,
        "center": [lon, lat, 13],
        "vector_layers": vector_layers,
    })
}
