//! Facility tile routes: `GET /tiles/{source}.json` (TileJSON) and
//! `GET /tiles/{source}/{z}/{x}/{y}.mvt|.pbf`.
//!
//! Statuses: 200 (tile), 204 (empty tile in range), 304 (ETag matches), 400 (malformed address
//! or filter), 404 (unknown source or no such tile).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::ApiError;
use super::respond::{self, PublicUrl};
use crate::geom::TileKey;
use crate::snapshot::Snapshot;
use crate::state::{AppState, FACILITIES_SOURCE};
use crate::tiles::{CategoryFilter, profile};

pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

#[derive(Debug, Deserialize)]
pub struct TileQuery {
    categories: Option<String>,
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

fn check_source(source: &str) -> Result<(), ApiError> {
    if source == FACILITIES_SOURCE {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "unknown tile source `{source}`; available: {FACILITIES_SOURCE}"
        )))
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
    check_source(&source)?;
    let tile = parse_tile_address(&z, &x, &y_ext, &["mvt", "pbf"])?;
    let snapshot = state.snapshot.load_full();
    let filter = parse_filter(&snapshot, &query)?;
    let key = AppState::facility_tile_key(snapshot.version, tile, &filter, &snapshot);
    let cached = match state.cache.get(&key) {
        Some(hit) => hit,
        None => {
            let state = state.clone();
            tokio::task::spawn_blocking(move || state.facility_tile(&snapshot, tile, &filter))
                .await??
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
            "no such resource `/tiles/{file}`; TileJSON is at /tiles/{FACILITIES_SOURCE}.json"
        ))
    })?;
    check_source(source)?;
    let snapshot = state.snapshot.load_full();
    let filter = parse_filter(&snapshot, &query)?;
    let query_suffix = query.categories.as_ref().map(|_| {
        let ids: Vec<&str> = filter
            .categories()
            .unwrap_or_default()
            .iter()
            .map(|&c| snapshot.dataset.taxonomy.category(c).id.as_str())
            .collect();
        format!("?categories={}", ids.join(","))
    });
    let tiles_url = format!(
        "{}/tiles/{FACILITIES_SOURCE}/{{z}}/{{x}}/{{y}}.mvt{}",
        public_url.0,
        query_suffix.unwrap_or_default()
    );
    Ok(respond::json(&facility_tilejson(&state, &snapshot, tiles_url)).into_response())
}

fn facility_tilejson(
    state: &AppState,
    snapshot: &Snapshot,
    tiles_url: String,
) -> serde_json::Value {
    let tiles = &state.config.tiles;
    let dataset = &snapshot.dataset;
    let [lon, lat] = dataset.center();
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
    serde_json::json!({
        "tilejson": "3.0.0",
        "name": "lifecircle facilities",
        "description": "Public-service facilities of the 15-minute community life circle, coloured by category; clustered with counts at low zoom",
        "version": format!("1.0.{}", snapshot.version),
        "attribution": state.config.data.attribution,
        "scheme": "xyz",
        "tiles": [tiles_url],
        "minzoom": tiles.minzoom,
        "maxzoom": tiles.maxzoom,
        "bounds": dataset.bounds,
        "center": [lon, lat, 13],
        "vector_layers": [{
            "id": profile::FACILITY_LAYER,
            "description": "One point per facility; at low zoom, clusters (`cluster` = true) with `point_count` and `n_<category>` counts",
            "minzoom": tiles.minzoom,
            "maxzoom": tiles.maxzoom,
            "fields": fields,
        }],
    })
}
