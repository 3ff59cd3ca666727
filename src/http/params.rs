//! The one rule for query parameters, on every route: a request's query string + the names its
//! route accepts → [`Params`], or the one JSON error.
//!
//! - A name the route does not accept is a 400 naming it and the names the route takes.
//! - A list parameter (`category` and its synonym `categories`, and the admin filters) takes a
//!   comma list, repetition, or both: `?categories=a,b`, `?category=a&category=b` and
//!   `?categories=a&categories=b` mean the same. An empty list is the same as leaving it out.
//! - Any other parameter given twice is a 400 (which of the two was meant is not guessed).
//!
//! Handlers take [`Query<T>`] for a typed [`RouteParams`] struct, or call [`Params::parse`] with
//! their accepted names; both go through [`Params::parse`].

use axum::extract::FromRequestParts;
use axum::http::Uri;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::taxonomy::{CategoryId, Taxonomy};

/// The names of the category list parameter: `category` and its synonym `categories`.
pub const CATEGORY_PARAMS: [&str; 2] = ["category", "categories"];

/// A request's query parameters, checked against the names its route accepts.
#[derive(Debug)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes the query of `uri`; any name not in `accepted` is a 400 naming it and `accepted`.
    pub fn parse(uri: &Uri, accepted: &[&str]) -> Result<Params, ApiError> {
        let axum::extract::Query(pairs) =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri).map_err(|e| {
                ApiError::BadRequest(format!("malformed query string: {}", e.body_text()))
            })?;
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, _)| !accepted.contains(&name.as_str()))
        {
            let takes = if accepted.is_empty() {
                "takes no query parameters".to_owned()
            } else {
                format!("takes: {}", accepted.join(", "))
            };
            return Err(ApiError::BadRequest(format!(
                "unknown parameter `{}`; {} {takes}",
                shorten(name),
                uri.path()
            )));
        }
        Ok(Params { pairs })
    }

    /// The value of a parameter given at most once; given twice is a 400.
    pub fn one(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(n, _)| n == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(ApiError::BadRequest(format!(
                "parameter `{name}` is given more than once; give it once (only list \
                 parameters such as `categories` may repeat)"
            )));
        }
        Ok(first)
    }

    /// A required parameter: present (once) and not empty.
    pub fn required(&self, name: &str, what: &str) -> Result<&str, ApiError> {
        self.one(name)?
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ApiError::BadRequest(format!("parameter `{name}` is required: {what}")))
    }

    /// A number, `default` when absent (required when `default` is `None`).
    pub fn number<T: std::str::FromStr>(
        &self,
        name: &str,
        default: Option<T>,
        what: &str,
    ) -> Result<T, ApiError> {
        let text = match (self.one(name)?, default) {
            (Some(text), _) => text,
            (None, Some(default)) => return Ok(default),
            (None, None) => self.required(name, what)?,
        };
        text.trim().parse().map_err(|_| {
            ApiError::BadRequest(format!(
                "parameter `{name}` must be {what}, not `{}`",
                shorten(text)
            ))
        })
    }

    /// A list parameter under any of `names`: every comma-separated item of every value, in
    /// order, trimmed, empty items dropped; `None` when no item is given.
    pub fn list(&self, names: &[&str]) -> Option<Vec<&str>> {
        let items: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .collect();
        (!items.is_empty()).then_some(items)
    }

    /// The category list (`category` / `categories`) as the taxonomy's ids, sorted and without
    /// repeats; `None` when not given (all categories). An unknown id is a 400 naming it.
    pub fn categories(&self, taxonomy: &Taxonomy) -> Result<Option<Vec<CategoryId>>, ApiError> {
        self.list(&CATEGORY_PARAMS)
            .map(|items| {
                taxonomy
                    .parse_list(&items.join(","))
                    .map_err(ApiError::BadRequest)
            })
            .transpose()
    }
}

/// What one route accepts, as a typed value.
pub trait RouteParams: Sized {
    /// The parameter names the route accepts.
    const ACCEPTED: &'static [&'static str];
    fn from_params(params: Params) -> Result<Self, ApiError>;
}

/// Extracts a route's typed parameters by the one rule.
pub struct Query<T>(pub T);

impl<T: RouteParams, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let params = Params::parse(&parts.uri, T::ACCEPTED)?;
        T::from_params(params).map(Query)
    }
}

/// A route that takes no query parameters.
pub struct NoParams;

impl RouteParams for NoParams {
    const ACCEPTED: &'static [&'static str] = &[];
    fn from_params(_: Params) -> Result<Self, ApiError> {
        Ok(NoParams)
    }
}

/// At most 40 characters of a user-given name or value, escaped, for an error message.
fn shorten(text: &str) -> String {
    text.chars().take(40).flat_map(char::escape_debug).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str, accepted: &[&str]) -> Result<Params, ApiError> {
        Params::parse(&format!("/r?{query}").parse().unwrap(), accepted)
    }

    #[test]
    fn lists_take_commas_and_repetition_alike() {
        let forms = [
            "categories=park,school",
            "category=park&category=school",
            "categories=park&categories=school",
            "category=park&categories=+school+,",
        ];
        for form in forms {
            let params = parse(form, &CATEGORY_PARAMS).unwrap();
            assert_eq!(
                params.list(&CATEGORY_PARAMS),
                Some(vec!["park", "school"]),
                "{form}"
            );
        }
        let empty = parse("categories=&category=,", &CATEGORY_PARAMS).unwrap();
        assert_eq!(empty.list(&CATEGORY_PARAMS), None);
    }

    #[test]
    fn unknown_names_are_named_with_the_accepted_ones() {
        let err = parse("categories=park&colour=red", &["categories", "crs"]).unwrap_err();
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_string(),
            "unknown parameter `colour`; /r takes: categories, crs"
        );
        let none = parse("x=1", &[]).unwrap_err();
        assert_eq!(
            none.to_string(),
            "unknown parameter `x`; /r takes no query parameters"
        );
        assert!(parse("", &[]).is_ok());
    }

    #[test]
    fn a_single_parameter_given_twice_is_refused() {
        let params = parse("limit=1&limit=2", &["limit"]).unwrap();
        assert!(
            params
                .one("limit")
                .unwrap_err()
                .to_string()
                .contains("more than once")
        );
        let params = parse("limit=x", &["limit"]).unwrap();
        let err = params
            .number::<u32>("limit", Some(3), "an integer")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameter `limit` must be an integer, not `x`"
        );
    }
}
