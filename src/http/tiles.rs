//! Facility tile routes: `GET /tiles/{source}.json` (TileJSON, built by `tilejson_doc`) and
//! `GET /tiles/{source}/{z}/{x}/{y}.mvt|.pbf`.
//!
//! Statuses: 200 (tile), 204 (empty tile in range), 304 (ETag matches), 400 (malformed address
//! or filter), 404 (unknown source or no such tile).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;

use super::error::ApiError;
use super::params::{CATEGORY_PARAMS, Params, Query, RouteParams};
use super::respond::{self, PublicUrl};
use crate::attributes::StatusSet;
use crate::cache::CachedTile;
use crate::geom::TileKey;
use crate::snapshot::Snapshot;
use crate::state::{AppState, FACILITIES_SOURCE, VectorTileSet};
use crate::tilejson_doc::{self, TileJSON, TileSetDoc, VectorLayer};
use crate::tiles::basemap::{self, BASEMAP_SOURCE};
use crate::tiles::{CategoryFilter, Datum, profile};

pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// The parameters of facility tiles and their TileJSON.
pub struct TileQuery {
    /// `category` / `categories`: the category ids to keep (facilities only).
    params: Params,
    /// Datum of the positions: `wgs84` (default) or `gcj02`, to overlay Amap or Tencent basemaps
    /// (facilities only).
    crs: Option<String>,
    /// Comma-separated statuses to show (facilities only): default `existing`; `all`, or e.g.
    /// `existing,under_construction,planned` for the planner's view.
    status: Option<String>,
}

impl RouteParams for TileQuery {
    const ACCEPTED: &'static [&'static str] = &["category", "categories", "crs", "status"];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        let crs = params.one("crs")?.map(str::to_owned);
        // A list parameter: `status=a,b` and `status=a&status=b` alike.
        let status = params.list(&["status"]).map(|items| items.join(","));
        Ok(TileQuery {
            params,
            crs,
            status,
        })
    }
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
            if query.params.list(&CATEGORY_PARAMS).is_some()
                || query.crs.is_some()
                || query.status.is_some() =>
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
    Ok(match query.params.categories(&snapshot.dataset.taxonomy)? {
        None => CategoryFilter::all(),
        Some(ids) => CategoryFilter::only(ids),
    })
}

pub async fn get_tile(
    State(state): State<Arc<AppState>>,
    Path((source, z, x, y_ext)): Path<(String, String, String, String)>,
    Query(query): Query<TileQuery>,
    request: respond::TileRequest,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let set = parse_source(&source, &snapshot, &query)?;
    let tile = parse_tile_address(&z, &x, &y_ext, &["mvt", "pbf"])?;
    let key = set.cache_key(&snapshot, tile);
    let cached = match (state.cache.get(&key), archive_for(&state, &set, tile)) {
        (Some(hit), _) => hit,
        (None, Some(archive)) => archived_tile(&state, &archive, key, tile).await?,
        (None, None) => {
            let renderer = state.clone();
            (state.renders)
                .run(move || renderer.vector_tile(&snapshot, tile, &set))
                .await?
        }
    };
    Ok(respond::tile_for(&cached, MVT_CONTENT_TYPE, &request))
}

/// Reads a tile from an archive into the cache.
async fn archived_tile(
    state: &AppState,
    archive: &Arc<crate::archive::Archive>,
    key: crate::cache::CacheKey,
    tile: TileKey,
) -> Result<Arc<CachedTile>, ApiError> {
    let stored = archive
        .tile(tile)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let cached = match stored {
        Some(bytes) => CachedTile::from_stored(bytes).map_err(|e| {
            ApiError::Internal(format!("tile {tile} in {}: {e}", archive.path.display()))
        })?,
        None => CachedTile::new(Vec::new(), false),
    };
    let cached = Arc::new(cached);
    state.cache.insert(key, cached.clone());
    Ok(cached)
}

/// The archive that serves `tile` of `set`, if one is configured for its source and holds that
/// variant (every category, in its datum) and tile (its zooms and area); otherwise the tile is
/// rendered.
fn archive_for(
    state: &AppState,
    set: &VectorTileSet,
    tile: TileKey,
) -> Option<Arc<crate::archive::Archive>> {
    let archive = state.archives.get(set.source_id())?;
    let holds_variant = match set {
        VectorTileSet::Facilities {
            filter,
            datum,
            statuses,
        } => {
            filter.categories().is_none()
                && archive.datum() == datum.as_str()
                && *statuses == StatusSet::EXISTING
        }
        VectorTileSet::Basemap => true,
    };
    (holds_variant && archive.covers(tile)).then(|| archive.clone())
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
    let mut tilejson = match &set {
        VectorTileSet::Facilities { .. } => facility_tilejson(&state, &snapshot, tiles_url),
        VectorTileSet::Basemap => basemap_tilejson(&state, &snapshot, tiles_url),
    };
    if let Some(archive) = state.archives.get(set.source_id()) {
        // Says which tiles come from an archive: the unfiltered variant in its datum, within
        // its zooms and area; filtered variants are still rendered.
        let archive = serde_json::json!({
            "file": archive.path.file_name().map(|n| n.to_string_lossy()),
            "datum": archive.datum(),
            "minzoom": archive.minzoom,
            "maxzoom": archive.maxzoom,
            "bounds": archive.bounds,
            "category_filter": false,
        });
        tilejson_doc::with_extra(&mut tilejson, "archive", archive);
    }
    Ok(respond::json(&tilejson))
}

fn facility_tilejson(state: &AppState, snapshot: &Snapshot, tiles_url: String) -> TileJSON {
    let tiles = &state.config.tiles;
    let layers =
        profile::facility_vector_layers(&snapshot.dataset.taxonomy, tiles.minzoom, tiles.maxzoom);
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

fn basemap_tilejson(state: &AppState, snapshot: &Snapshot, tiles_url: String) -> TileJSON {
    let tiles = &state.config.tiles;
    let layers = basemap::vector_layers(tiles.minzoom, tiles.maxzoom);
    let description = "Subdistrict areas, outlines and labels and the street network of the data, for maps that need no external basemap";
    tilejson(
        state,
        snapshot,
        "lifecircle basemap",
        description,
        tiles_url,
        layers,
    )
}

fn tilejson(
    state: &AppState,
    snapshot: &Snapshot,
    name: &str,
    description: &str,
    tiles_url: String,
    vector_layers: Vec<VectorLayer>,
) -> TileJSON {
    let tiles = &state.config.tiles;
    let [lon, lat] = snapshot.dataset.center();
    TileSetDoc {
        name: name.to_owned(),
        description: description.to_owned(),
        data_version: snapshot.version,
        attribution: &state.config.data.attribution,
        tiles: vec![tiles_url],
        minzoom: tiles.minzoom,
        maxzoom: tiles.maxzoom,
        bounds: snapshot.dataset.bounds,
        center: (lon, lat, 13),
        vector_layers: Some(vector_layers),
    }
    .build()
}
