//! [`JsonBody`]: the JSON request body extractor. Takes a request, gives a `T` read from one
//! JSON object, or an [`ApiError`] in the usual `{"error", "status"}` shape with a one-line
//! message naming the problem: 415 for a missing or wrong `Content-Type`, 413 past the body
//! limit, 400 for a body that is not UTF-8, not JSON, not an object, has trailing data, or does
//! not fit `T` (wrong type, unknown, missing or duplicate field; the message names the field's
//! path).
//!
//! [`Object`] makes a nested struct accept only a JSON object too: serde's derive would also
//! fill a struct from an array of its fields in order.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, DeserializeOwned, Deserializer, MapAccess, Visitor};

use super::error::ApiError;
use crate::state::AppState;

/// A request body parsed as JSON into `T` (which should use `#[serde(deny_unknown_fields)]`).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "expected a JSON body with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(format!(
                        "request body is larger than {} bytes",
                        state.config.server.max_body_bytes
                    ))
                } else {
                    ApiError::BadRequest(format!(
                        "cannot read the request body: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        parse(&bytes).map(JsonBody)
    }
}

/// A `T` that only a JSON object gives.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
    }
}

/// Parses `bytes` as one JSON object read into a `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::BadRequest(format!(
            "request body is not valid UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let Object(value) = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data if path != "." => {
                ApiError::BadRequest(format!("invalid JSON body: `{path}`: {inner}"))
            }
            serde_json::error::Category::Data => {
                ApiError::BadRequest(format!("invalid JSON body: {inner}"))
            }
            _ => ApiError::BadRequest(format!("request body is not valid JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::BadRequest(format!("request body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Is the content type `application/json` or `application/…+json` (parameters allowed)?
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application")
        && (subtype == "json" || subtype.len() > 5 && subtype.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        n: u32,
        inner: Option<Object<Inner>>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        x: f64,
    }

    fn check(body: &[u8], expected_fragment: &str) {
        match parse::<Body>(body) {
            Ok(value) => panic!("{body:?} parsed as {value:?}"),
            Err(e) => {
                assert_eq!(e.status(), StatusCode::BAD_REQUEST);
                let message = e.to_string();
                assert!(
                    message.contains(expected_fragment),
                    "{message:?} lacks {expected_fragment:?}"
                );
                assert!(!message.contains('\n'), "{message:?}");
            }
        }
    }

    #[test]
    fn rejections_name_the_problem() {
        assert!(parse::<Body>(br#" {"n": 1} "#).is_ok());
        check(b"{\"n\": 1", "not valid JSON");
        check(b"", "not valid JSON");
        check(b"{\"n\": 1} {}", "not valid JSON: trailing characters");
        check(b"{\"n\": \"1\"}", "`n`: invalid type: string");
        check(b"{\"n\": -1}", "`n`: invalid value");
        check(b"{\"n\": 1, \"m\": 2}", "unknown field `m`");
        check(b"{\"n\": 1, \"n\": 2}", "duplicate field `n`");
        check(b"{}", "missing field `n`");
        check(b"[1]", "invalid type: sequence, expected a JSON object");
        check(b"null", "invalid type: null, expected a JSON object");
        check(
            b"{\"n\": 1, \"inner\": [1]}",
            "`inner`: invalid type: sequence, expected a JSON object",
        );
        assert!(parse::<Body>(b"{\"n\": 1, \"inner\": null}").is_ok());
        assert!(parse::<Body>(b"{\"n\": 1, \"inner\": {\"x\": 2}}").is_ok());
        check(
            b"{\"n\": 1, \"inner\": {\"x\": 1, \"y\": 2}}",
            "`inner.y`: unknown field `y`",
        );
        check(
            b"{\"n\": 1, \"inner\": {\"x\": 1e999}}",
            "number out of range",
        );
        check(
            b"{\"n\": 1, \"s\": \"\xff\xfe\"}",
            "not valid UTF-8 (bad byte at offset 15)",
        );
    }

    #[test]
    fn json_content_types() {
        let check = |value: &'static str, expected: bool| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), expected, "{value}");
        };
        check("application/json", true);
        check("Application/JSON; charset=utf-8", true);
        check("application/feedback+json", true);
        check("application/+json", false);
        check("text/json", false);
        check("text/plain", false);
        check("application/x-www-form-urlencoded", false);
        assert!(!is_json(&HeaderMap::new()));
    }
}
