//! Search routes: `GET /search` (GeoJSON FeatureCollection of ranked facilities),
//! `GET /search/suggest` (completions for a search box) and `GET /features/{id}` (one facility
//! as a GeoJSON Feature).
//!
//! Statuses: 200; 400 for a bad parameter (the message names it and the allowed range) or a
//! malformed id; 404 for an unknown id.
//!
//! `/features/{id}` takes the numeric `id` or `source:source_id` (`osm:5551873822`, `教育局:12`,
//! percent-encoded in the URL), any of the ids a merged facility is listed under.
//!
//! Facility properties: `id`, `source_id`, `name` (empty for an unnamed facility), `name_en`,
//! `category`, `category_label_zh`, `category_label_en`, `color`, `group`, `address`,
//! `subdistrict`, `label`/`label_en` (what to show for an unnamed facility: 公园, 体育场地, …),
//! `source`, `provider`, `updated` (the source's as-of date), `source_ids` (every
//! `source:source_id` it is listed under), `status` (`existing`, `under_construction`,
//! `planned`, `closed`), `floor_area_m2`, `functions` (a list), `year`, `serves` (the categories
//! its functions add besides its own), and `links` (`amap`,
//! `baidu`, `tencent`, `apple`, `osm`: URLs that open the facility in each map app, with the
//! coordinates converted to the app's datum). Search results add `distance_m` (straight-line
//! ground distance from `near`, haversine, metres; walking routes are longer), `walk_minutes`
//! (that distance at the configured walking speed), `relevance` (0 to 1; null without `q`) and
//! `name_match` (`exact`, `prefix` or `none`).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::error::ApiError;
use super::respond;
use crate::dataset::{Dataset, Facility};
use crate::navigation::{self, NavTarget};
use crate::search::{self, NameMatch, SearchHit, SuggestionKind};
use crate::state::AppState;

type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn pairs(query: Pairs) -> Result<Vec<(String, String)>, ApiError> {
    query
        .map(|Query(pairs)| pairs)
        .map_err(|e| ApiError::BadRequest(format!("malformed query string: {}", e.body_text())))
}

/// `GET /search?q=&near=lon,lat&radius=&bbox=&category=&status=&limit=&offset=`; `status`
/// defaults to `existing`.
pub async fn get_search(
    State(state): State<Arc<AppState>>,
    query: Pairs,
) -> Result<Response, ApiError> {
    let pairs = pairs(query)?;
    let snapshot = state.snapshot.load_full();
    let limits = &state.config.search;
    let query = search::parse_search(&pairs, &snapshot.dataset.taxonomy, limits)?;
    let index = snapshot.search.clone();
    let request = query.clone();
    let results = tokio::task::spawn_blocking(move || index.search(&request)).await?;
    let dataset = &snapshot.dataset;
    let taxonomy = &dataset.taxonomy;
    let config = &state.config.search;
    let features: Vec<Value> = results
        .hits
        .iter()
        .map(|hit| {
            let facility = dataset.facility(hit.facility_idx);
            let mut feature = facility_feature(dataset, facility, &config.link_source);
            add_hit_properties(&mut feature, hit, config.walk_speed_m_per_s);
            feature
        })
        .collect();
    let categories: Vec<&str> = query
        .categories
        .iter()
        .map(|&c| taxonomy.category(c).id.as_str())
        .collect();
    Ok(respond::json(&json!({
        "type": "FeatureCollection",
        "features": features,
        "total": results.total,
        "offset": query.offset,
        "limit": query.limit,
        "query": {
            "q": query.text,
            "terms": results.terms,
            "near": query.near.map(|(lon, lat)| [lon, lat]),
            "radius_m": query.radius_m,
            "bbox": query.bbox,
            "category": categories,
            "status": query.statuses.list(),
        },
        "walk_speed_m_per_s": config.walk_speed_m_per_s,
        "data_version": snapshot.version,
    })))
}

/// `GET /search/suggest?q=&limit=`.
pub async fn get_suggest(
    State(state): State<Arc<AppState>>,
    query: Pairs,
) -> Result<Response, ApiError> {
    let pairs = pairs(query)?;
    let snapshot = state.snapshot.load_full();
    let limits = &state.config.search;
    let query = search::parse_suggest(&pairs, limits)?;
    let taxonomy = &snapshot.dataset.taxonomy;
    let suggestions: Vec<Value> = snapshot
        .search
        .suggest(&query)
        .into_iter()
        .map(|s| {
            json!({
                "text": s.text,
                "kind": match s.kind {
                    SuggestionKind::Category => "category",
                    SuggestionKind::Name => "name",
                },
                "category": s.category.map(|c| taxonomy.category(c).id.as_str()),
                "n_facilities": s.n_facilities,
            })
        })
        .collect();
    Ok(respond::json(
        &json!({ "q": query.text, "suggestions": suggestions }),
    ))
}

/// `GET /features/{id}`.
pub async fn get_feature(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let dataset = &snapshot.dataset;
    let facility = match id.parse::<u64>() {
        Ok(number) => dataset
            .facility_by_id(number)
            .ok_or_else(|| ApiError::NotFound(format!("no facility with id {number}")))?,
        Err(_) if id.contains(':') => dataset.facility_by_source_key(&id).ok_or_else(|| {
            ApiError::NotFound(format!(
                "no facility with source id `{}`",
                shorten_for_message(&id)
            ))
        })?,
        Err(_) => {
            return Err(ApiError::BadRequest(format!(
                "feature id `{}` is neither an unsigned integer (a facility's `id`) nor `source:source_id` (e.g. osm:5551873822)",
                shorten_for_message(&id)
            )));
        }
    };
    Ok(respond::json(&facility_feature(
        dataset,
        facility,
        &state.config.search.link_source,
    )))
}

/// At most 40 characters of a user-given id, escaped, for an error message.
fn shorten_for_message(id: &str) -> String {
    id.chars().take(40).flat_map(char::escape_debug).collect()
}

/// A facility as a GeoJSON Feature with its category and navigation links.
fn facility_feature(dataset: &Dataset, facility: &Facility, link_source: &str) -> Value {
    let taxonomy = &dataset.taxonomy;
    let category = taxonomy.category(facility.category);
    let links = navigation::links(
        &NavTarget {
            lon: facility.lon,
            lat: facility.lat,
            name: dataset.display_name(facility),
            address: facility.address.as_deref(),
        },
        link_source,
    );
    let (label_zh, label_en) = dataset.label(facility);
    let source = dataset.source_of(facility);
    let attributes = dataset
        .index_of(facility.id)
        .and_then(|idx| dataset.attributes(idx));
    let serves: Vec<&str> = attributes.map_or(Vec::new(), |a| {
        a.serves
            .iter()
            .map(|&c| taxonomy.category(c).id.as_str())
            .collect()
    });
    json!({
        "type": "Feature",
        "id": facility.id,
        "geometry": { "type": "Point", "coordinates": [facility.lon, facility.lat] },
        "properties": {
            "id": facility.id,
            "source_id": facility.source_id,
            "name": facility.name,
            "name_en": facility.name_en,
            "category": category.id,
            "category_label_zh": category.label_zh,
            "category_label_en": category.label_en,
            "color": category.color,
            "group": taxonomy.group(category.group).id,
            "address": facility.address,
            "subdistrict": facility.subdistrict,
            "label": label_zh,
            "label_en": label_en,
            "source": source.map(|s| s.name.as_str()),
            "provider": source.map(|s| s.provider.as_str()).filter(|p| !p.is_empty()),
            "updated": source.and_then(|s| s.as_of.as_ref()).map(|d| d.text.as_str()),
            "source_ids": dataset.source_keys(facility),
            "status": attributes.map_or("existing", |a| a.status.as_str()),
            "floor_area_m2": attributes.and_then(|a| a.floor_area_m2),
            "functions": attributes.map_or(&[][..], |a| a.functions.as_slice()),
            "year": attributes.and_then(|a| a.year),
            "serves": serves,
            "links": {
                "amap": links.amap,
                "baidu": links.baidu,
                "tencent": links.tencent,
                "apple": links.apple,
                "osm": links.osm,
            },
        },
    })
}

fn add_hit_properties(feature: &mut Value, hit: &SearchHit, walk_speed_m_per_s: f64) {
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    let properties = &mut feature["properties"];
    properties["distance_m"] = json!(hit.distance_m.map(round1));
    properties["walk_minutes"] = json!(
        hit.distance_m
            .map(|d| round1(d / walk_speed_m_per_s / 60.0))
    );
    properties["relevance"] = json!(hit.relevance.map(|r| (r * 1000.0).round() / 1000.0));
    properties["name_match"] = json!(match hit.name_match {
        NameMatch::Exact => "exact",
        NameMatch::Prefix => "prefix",
        NameMatch::None => "none",
    });
}
