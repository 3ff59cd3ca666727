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

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::error::ApiError;
use super::params::{CATEGORY_PARAMS, NoParams, Params, Query, RouteParams};
use super::respond;
use crate::dataset::{Dataset, Facility};
use crate::navigation::{LinkWriter, NavTarget};
use crate::search::{self, NameMatch, SearchHit, SuggestionKind};
use crate::state::AppState;

/// `/search`'s parameters, checked by name here and by value in `search::parse_search`.
pub struct SearchParams(Params);

impl RouteParams for SearchParams {
    const ACCEPTED: &'static [&'static str] = &[
        "q",
        "near",
        "radius",
        "bbox",
        "category",
        "categories",
        "status",
        "limit",
        "offset",
    ];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        Ok(SearchParams(params))
    }
}

/// `/search/suggest`'s parameters, checked by name here and by value in `search::parse_suggest`.
pub struct SuggestParams(Params);

impl RouteParams for SuggestParams {
    const ACCEPTED: &'static [&'static str] = &["q", "limit"];
    fn from_params(params: Params) -> Result<Self, ApiError> {
        Ok(SuggestParams(params))
    }
}

/// `GET /search?q=&near=lon,lat&radius=&bbox=&category=&status=&limit=&offset=`; `status`
/// defaults to `existing`.
pub async fn get_search(
    State(state): State<Arc<AppState>>,
    Query(SearchParams(params)): Query<SearchParams>,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let limits = &state.config.search;
    let text = search::SearchText {
        q: params.one("q")?,
        near: params.one("near")?,
        radius: params.one("radius")?,
        bbox: params.one("bbox")?,
        categories: params.list(&CATEGORY_PARAMS).map(|items| items.join(",")),
        status: params.list(&["status"]).map(|items| items.join(",")),
        limit: params.one("limit")?,
        offset: params.one("offset")?,
    };
    let query = search::parse_search(&text, &snapshot.dataset.taxonomy, limits)?;
    // A query within a radius (at most `search.max_radius_m`) reads a bounded part of the
    // index, well under a millisecond at city scale: answered in place, since a hand-off to
    // the blocking pool and back costs two thread wake-ups, which on a busy machine are most of
    // the answer's time. An unbounded one (the whole city) runs on the blocking pool.
    let results = if query.radius_m.is_some() {
        snapshot.search.search(&snapshot.dataset, &query)
    } else {
        let index = snapshot.search.clone();
        let dataset = snapshot.dataset.clone();
        let request = query.clone();
        tokio::task::spawn_blocking(move || index.search(&dataset, &request)).await?
    };
    let dataset = &snapshot.dataset;
    let taxonomy = &dataset.taxonomy;
    let config = &state.config.search;
    let walk_speed_m_s = state.config.search_walk_speed_m_s();
    // Typed, borrowing answer: serialised straight into the body, with no JSON tree per hit.
    let features: Vec<FeatureJson> = results
        .hits
        .iter()
        .map(|hit| {
            let facility = dataset.facility(hit.facility_idx);
            let mut feature = facility_feature(dataset, facility, &config.link_source);
            let found = HitJson::new(hit, walk_speed_m_s);
            let properties = &mut feature.properties;
            properties.distance_m = Some(found.distance_m);
            properties.walk_minutes = Some(found.walk_minutes);
            properties.relevance = Some(found.relevance);
            properties.name_match = Some(found.name_match);
            feature
        })
        .collect();
    let categories: Vec<&str> = query
        .categories
        .iter()
        .map(|&c| taxonomy.category(c).id.as_str())
        .collect();
    // About 1.5 KB per feature (links and all).
    let capacity = 1024 + 1600 * features.len();
    Ok(respond::json_sized(
        &SearchJson {
            data_version: snapshot.version,
            features,
            limit: query.limit,
            offset: query.offset,
            query: QueryJson {
                bbox: query.bbox,
                category: categories,
                near: query.near.map(|(lon, lat)| [lon, lat]),
                q: &query.text,
                radius_m: query.radius_m,
                status: query.statuses.list(),
                terms: &results.terms,
            },
            total: results.total,
            r#type: "FeatureCollection",
            walk_speed_m_per_s: walk_speed_m_s,
        },
        capacity,
    ))
}

// The answer types list their fields in alphabetical order: the order the JSON has always had.

#[derive(serde::Serialize)]
struct SearchJson<'a> {
    data_version: u64,
    features: Vec<FeatureJson<'a>>,
    limit: usize,
    offset: usize,
    query: QueryJson<'a>,
    total: usize,
    r#type: &'static str,
    walk_speed_m_per_s: f64,
}

#[derive(serde::Serialize)]
struct QueryJson<'a> {
    bbox: Option<[f64; 4]>,
    category: Vec<&'a str>,
    near: Option<[f64; 2]>,
    q: &'a str,
    radius_m: Option<f64>,
    status: String,
    terms: &'a [String],
}

#[derive(serde::Serialize)]
struct FeatureJson<'a> {
    geometry: PointJson,
    id: u64,
    properties: PropertiesJson<'a>,
    r#type: &'static str,
}

#[derive(serde::Serialize)]
struct PointJson {
    coordinates: [f64; 2],
    r#type: &'static str,
}

#[derive(serde::Serialize)]
struct PropertiesJson<'a> {
    address: Option<&'a str>,
    category: &'a str,
    category_label_en: &'a str,
    category_label_zh: &'a str,
    color: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<Option<f64>>,
    floor_area_m2: Option<f64>,
    functions: &'a [String],
    group: &'a str,
    id: u64,
    label: &'a str,
    label_en: &'a str,
    links: LinksJson<'a>,
    name: &'a str,
    name_en: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_match: Option<&'static str>,
    provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    relevance: Option<Option<f64>>,
    serves: Vec<&'a str>,
    source: Option<&'a str>,
    source_id: &'a str,
    source_ids: Vec<String>,
    status: &'static str,
    subdistrict: Option<&'a str>,
    updated: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    walk_minutes: Option<Option<f64>>,
    year: Option<i32>,
}

/// The navigation links, written into the answer as it is serialised (no text per link).
struct LinksJson<'a>(LinkWriter<'a>);

impl serde::Serialize for LinksJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        /// A `Display` serialised as a string, written through without a copy.
        struct Text<T>(T);
        impl<T: std::fmt::Display> serde::Serialize for Text<T> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(&self.0)
            }
        }
        let links = &self.0;
        let mut out = serializer.serialize_struct("LinksJson", 5)?;
        out.serialize_field("amap", &Text(links.amap()))?;
        out.serialize_field("apple", &Text(links.apple()))?;
        out.serialize_field("baidu", &Text(links.baidu()))?;
        out.serialize_field("osm", &Text(links.osm()))?;
        out.serialize_field("tencent", &Text(links.tencent()))?;
        out.end()
    }
}

/// What a search hit adds to a facility's properties (present, possibly null, in search answers
/// only).
struct HitJson {
    distance_m: Option<f64>,
    walk_minutes: Option<f64>,
    relevance: Option<f64>,
    name_match: &'static str,
}

/// `GET /search/suggest?q=&limit=`.
pub async fn get_suggest(
    State(state): State<Arc<AppState>>,
    Query(SuggestParams(params)): Query<SuggestParams>,
) -> Result<Response, ApiError> {
    let snapshot = state.snapshot.load_full();
    let limits = &state.config.search;
    let text = search::SuggestText {
        q: params.one("q")?,
        limit: params.one("limit")?,
    };
    let query = search::parse_suggest(&text, limits)?;
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
    _: Query<NoParams>,
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
fn facility_feature<'a>(
    dataset: &'a Dataset,
    facility: &'a Facility,
    link_source: &'a str,
) -> FeatureJson<'a> {
    let taxonomy = &dataset.taxonomy;
    let category = taxonomy.category(facility.category);
    let links = LinkWriter::new(
        &NavTarget {
            lon: facility.lon,
            lat: facility.lat,
            name: dataset.display_name(facility),
            address: facility.address(),
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
    FeatureJson {
        geometry: PointJson {
            coordinates: [facility.lon, facility.lat],
            r#type: "Point",
        },
        id: facility.id,
        properties: PropertiesJson {
            address: facility.address(),
            category: &category.id,
            category_label_en: &category.label_en,
            category_label_zh: &category.label_zh,
            color: &category.color,
            distance_m: None,
            floor_area_m2: attributes.and_then(|a| a.floor_area_m2),
            functions: attributes.map_or(&[][..], |a| a.functions.as_slice()),
            group: &taxonomy.group(category.group).id,
            id: facility.id,
            label: label_zh,
            label_en,
            links: LinksJson(links),
            name: facility.name(),
            name_en: facility.name_en(),
            name_match: None,
            provider: source
                .map(|s| s.provider.as_str())
                .filter(|p| !p.is_empty()),
            relevance: None,
            serves,
            source: source.map(|s| s.name.as_str()),
            source_id: facility.source_id(),
            source_ids: dataset.source_keys(facility),
            status: attributes.map_or("existing", |a| a.status.as_str()),
            subdistrict: facility.subdistrict(),
            updated: source
                .and_then(|s| s.as_of.as_ref())
                .map(|d| d.text.as_str()),
            walk_minutes: None,
            year: attributes.and_then(|a| a.year),
        },
        r#type: "Feature",
    }
}

impl HitJson {
    fn new(hit: &SearchHit, walk_speed_m_per_s: f64) -> HitJson {
        let round1 = |v: f64| (v * 10.0).round() / 10.0;
        HitJson {
            distance_m: hit.distance_m.map(round1),
            walk_minutes: hit
                .distance_m
                .map(|d| round1(d / walk_speed_m_per_s / 60.0)),
            relevance: hit.relevance.map(|r| (r * 1000.0).round() / 1000.0),
            name_match: match hit.name_match {
                NameMatch::Exact => "exact",
                NameMatch::Prefix => "prefix",
                NameMatch::None => "none",
            },
        }
    }
}
