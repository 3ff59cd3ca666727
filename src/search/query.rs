//! Request parameters → validated [`SearchQuery`] / [`SuggestQuery`].
//!
//! Takes a request's values by parameter ([`SearchText`], [`SuggestText`]; the names and their
//! repetition are `http::params`' one rule, checked before) and the limits from the
//! configuration; gives a typed query or an [`Error`] that names the parameter, what was given
//! and the range allowed. Nothing here panics on any input.

use super::Error;
use super::rank::NameBonus;
use super::tokenize;
use crate::attributes::StatusSet;
use crate::geom;
use crate::taxonomy::{CategoryId, Taxonomy};

/// The configured bounds on requests: the `[search]` section itself.
pub type SearchLimits = crate::config::SearchConfig;

/// A validated search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// The keyword text as given (may be empty).
    pub text: String,
    /// Where distances are measured from, `(lon, lat)`.
    pub near: Option<(f64, f64)>,
    /// Only facilities at most this far from `near` (ground metres); needs `near`.
    pub radius_m: Option<f64>,
    /// Only facilities inside `[west, south, east, north]`.
    pub bbox: Option<[f64; 4]>,
    /// Only these categories; empty means all.
    pub categories: Vec<CategoryId>,
    pub limit: usize,
    pub offset: usize,
    /// What a name match is worth when ranking by distance.
    pub name_bonus: NameBonus,
    /// Only facilities of these statuses (default: existing).
    pub statuses: StatusSet,
}

impl SearchQuery {
    /// A query for `text` with no place, filter or paging beyond `limit`.
    pub fn text(text: &str, limit: usize) -> SearchQuery {
        SearchQuery {
            text: text.to_owned(),
            near: None,
            radius_m: None,
            bbox: None,
            categories: Vec::new(),
            limit,
            offset: 0,
            name_bonus: NameBonus::default(),
            statuses: StatusSet::EXISTING,
        }
    }
}

/// A validated suggestion request.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestQuery {
    pub text: String,
    pub limit: usize,
}

/// A search request's values by parameter, as given. Which names a route takes and that a
/// parameter comes at most once is `http::params`' rule, applied before; lists (`category` and
/// `categories`, `status`) arrive as their items joined with commas.
#[derive(Debug, Clone, Default)]
pub struct SearchText<'a> {
    pub q: Option<&'a str>,
    pub near: Option<&'a str>,
    pub radius: Option<&'a str>,
    pub bbox: Option<&'a str>,
    pub categories: Option<String>,
    pub status: Option<String>,
    pub limit: Option<&'a str>,
    pub offset: Option<&'a str>,
}

/// A suggestion request's values by parameter, as given (see [`SearchText`]).
#[derive(Debug, Clone, Default)]
pub struct SuggestText<'a> {
    pub q: Option<&'a str>,
    pub limit: Option<&'a str>,
}

/// Validates the values of `GET /search`.
pub fn parse_search(
    text: &SearchText<'_>,
    taxonomy: &Taxonomy,
    limits: &SearchLimits,
) -> Result<SearchQuery, Error> {
    let mut query = SearchQuery::text("", limits.default_limit);
    query.name_bonus = NameBonus::from_config(limits);
    if let Some(value) = text.q {
        query.text = parse_text(value, limits)?;
    }
    if let Some(value) = text.near {
        query.near = Some(parse_near(value)?);
    }
    if let Some(value) = text.bbox {
        query.bbox = Some(parse_bbox(value)?);
    }
    if let Some(value) = &text.categories {
        query.categories = taxonomy
            .parse_list(value)
            .map_err(|message| Error::UnknownCategory { message })?;
    }
    if let Some(value) = text.limit {
        query.limit = parse_count("limit", value, 1, limits.max_limit)?;
    }
    if let Some(value) = text.offset {
        query.offset = parse_count("offset", value, 0, limits.max_offset)?;
    }
    if let Some(value) = &text.status {
        query.statuses = StatusSet::parse_list(value).map_err(|message| Error::Invalid {
            name: "status",
            message,
        })?;
    }
    if let Some(value) = text.radius {
        if query.near.is_none() {
            return Err(Error::Invalid {
                name: "radius",
                message: "needs `near=lon,lat` to measure from".into(),
            });
        }
        query.radius_m = Some(parse_radius(value, limits.max_radius_m)?);
    }
    query.categories.sort();
    query.categories.dedup();
    Ok(query)
}

/// Validates the values of `GET /search/suggest`.
pub fn parse_suggest(text: &SuggestText<'_>, limits: &SearchLimits) -> Result<SuggestQuery, Error> {
    let mut query = SuggestQuery {
        text: String::new(),
        limit: limits.suggest_default_limit,
    };
    if let Some(value) = text.q {
        query.text = parse_text(value, limits)?;
    }
    if let Some(value) = text.limit {
        query.limit = parse_count("limit", value, 1, limits.suggest_max_limit)?;
    }
    Ok(query)
}

/// Shows a bad value in a message, shortened and with control characters escaped.
fn shown(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(40)
        .flat_map(char::escape_debug)
        .collect();
    if value.chars().count() > 40 {
        out.push('…');
    }
    out
}

fn parse_text(value: &str, limits: &SearchLimits) -> Result<String, Error> {
    let n_chars = value.chars().count();
    if n_chars > limits.max_query_chars {
        return Err(Error::Invalid {
            name: "q",
            message: format!(
                "is {n_chars} characters long; at most {} are allowed",
                limits.max_query_chars
            ),
        });
    }
    let n_terms = tokenize::tokens(value).len();
    if n_terms > limits.max_query_terms {
        return Err(Error::Invalid {
            name: "q",
            message: format!(
                "has {n_terms} terms (words or runs of Chinese characters); at most {} are allowed",
                limits.max_query_terms
            ),
        });
    }
    Ok(value.to_owned())
}

fn parse_numbers<const N: usize>(value: &str) -> Option<[f64; N]> {
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    if parts.len() != N {
        return None;
    }
    let mut out = [0.0; N];
    for (slot, part) in out.iter_mut().zip(parts) {
        let v: f64 = part.parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        *slot = v;
    }
    Some(out)
}

fn parse_near(value: &str) -> Result<(f64, f64), Error> {
    match parse_numbers::<2>(value) {
        Some([lon, lat]) if geom::is_valid_lonlat(lon, lat) => Ok((lon, lat)),
        _ => Err(Error::Invalid {
            name: "near",
            message: format!(
                "must be `lon,lat` in decimal degrees, longitude -180 to 180 and latitude -90 to 90 \
                 (e.g. near=121.4245,31.2204); got `{}`",
                shown(value)
            ),
        }),
    }
}

fn parse_bbox(value: &str) -> Result<[f64; 4], Error> {
    match parse_numbers::<4>(value) {
        Some([west, south, east, north])
            if geom::is_valid_lonlat(west, south)
                && geom::is_valid_lonlat(east, north)
                && west <= east
                && south <= north =>
        {
            Ok([west, south, east, north])
        }
        _ => Err(Error::Invalid {
            name: "bbox",
            message: format!(
                "must be `west,south,east,north` in decimal degrees, longitude -180 to 180, \
                 latitude -90 to 90, west ≤ east and south ≤ north; got `{}`",
                shown(value)
            ),
        }),
    }
}

fn parse_radius(value: &str, max_radius_m: f64) -> Result<f64, Error> {
    match value.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= max_radius_m => Ok(r),
        _ => Err(Error::Invalid {
            name: "radius",
            message: format!(
                "must be a distance in metres greater than 0 and at most {max_radius_m}; got `{}`",
                shown(value)
            ),
        }),
    }
}

fn parse_count(name: &'static str, value: &str, min: usize, max: usize) -> Result<usize, Error> {
    match value.trim().parse::<usize>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Error::Invalid {
            name,
            message: format!(
                "must be an integer from {min} to {max}; got `{}`",
                shown(value)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn limits() -> SearchLimits {
        Config::embedded().unwrap().search
    }

    /// `query` as `http::search` hands it over: one value per parameter, lists joined.
    fn parse(query: &str) -> Result<SearchQuery, Error> {
        let taxonomy = Config::embedded().unwrap().taxonomy().unwrap();
        let pairs: Vec<(&str, &str)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        let one = |name: &str| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let list = |names: &[&str]| {
            let items: Vec<&str> = (pairs.iter())
                .filter(|(n, _)| names.contains(n))
                .map(|(_, v)| *v)
                .collect();
            (!items.is_empty()).then(|| items.join(","))
        };
        let text = SearchText {
            q: one("q"),
            near: one("near"),
            radius: one("radius"),
            bbox: one("bbox"),
            categories: list(&["category", "categories"]),
            status: list(&["status"]),
            limit: one("limit"),
            offset: one("offset"),
        };
        parse_search(&text, &taxonomy, &limits())
    }

    fn check_err(query: &str, fragments: &[&str]) {
        let message = parse(query).unwrap_err().to_string();
        for fragment in fragments {
            assert!(
                message.contains(fragment),
                "error for {query:?} is {message:?}, lacking {fragment:?}"
            );
        }
    }

    #[test]
    fn valid_queries() {
        let q = parse("q=幼儿园&near=121.42,31.22&radius=800&category=kindergarten,education&category=park&limit=5&offset=10").unwrap();
        assert_eq!(q.text, "幼儿园");
        assert_eq!(q.near, Some((121.42, 31.22)));
        assert_eq!(q.radius_m, Some(800.0));
        assert_eq!(q.categories.len(), 3);
        assert_eq!((q.limit, q.offset), (5, 10));
        let q = parse("bbox=121.3,31.1,121.5,31.3").unwrap();
        assert_eq!(q.bbox, Some([121.3, 31.1, 121.5, 31.3]));
        assert_eq!(q.limit, limits().default_limit);
        assert!(parse("").unwrap().text.is_empty());
    }

    #[test]
    fn bad_parameters_are_named_with_their_range() {
        check_err("near=abc", &["`near`", "longitude -180 to 180", "`abc`"]);
        check_err("near=121.4", &["`near`"]);
        check_err("near=200,31", &["`near`", "latitude -90 to 90"]);
        check_err("near=121,95", &["`near`"]);
        check_err("near=NaN,31", &["`near`"]);
        check_err("near=inf,31", &["`near`"]);
        check_err(
            "near=121.4,31.2&radius=50000",
            &["`radius`", "at most 5000"],
        );
        check_err("near=121.4,31.2&radius=-1", &["`radius`", "greater than 0"]);
        check_err("near=121.4,31.2&radius=far", &["`radius`"]);
        check_err("radius=500", &["`radius`", "`near"]);
        check_err("limit=1000", &["`limit`", "from 1 to 100"]);
        check_err("limit=0", &["`limit`", "from 1 to 100"]);
        check_err("offset=-3", &["`offset`", "from 0 to"]);
        check_err("bbox=1,2,3", &["`bbox`", "west,south,east,north"]);
        check_err("bbox=121.5,31.1,121.3,31.3", &["`bbox`", "west ≤ east"]);
        check_err(
            "category=zoo",
            &["`category`", "unknown category `zoo`", "kindergarten"],
        );
        let long = "幼".repeat(65);
        check_err(
            &format!("q={long}"),
            &["`q`", "65 characters", "at most 64"],
        );
        check_err("q=a b c d e f g h i", &["`q`", "9 terms", "at most 8"]);
    }

    #[test]
    fn odd_values_are_shown_safely() {
        check_err("near=\u{0}\u{1b}[31m", &["\\0\\u{1b}[31m"]);
        let message = parse(&format!("near={}", "9".repeat(500)))
            .unwrap_err()
            .to_string();
        assert!(message.len() < 300, "{message}");
    }
}
