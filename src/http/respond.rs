//! Response shaping shared by the routes: cached tiles with content negotiation, ETag and 304;
//! JSON; and the public base URL clients should use.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::proxy::ClientInfo;
use crate::cache::CachedTile;
use crate::state::AppState;

/// How long clients and proxies may reuse a tile without asking again. Tiles change only on a
/// data reload, and the ETag makes revalidation cheap.
const TILE_CACHE_CONTROL: &str = "public, max-age=300, stale-while-revalidate=3600";

/// What a tile answer reads from the request: whether gzip is accepted and the `If-None-Match`
/// values. Extracted without copying the request's header map.
#[derive(Debug, Default)]
pub struct TileRequest {
    accepts_gzip: bool,
    if_none_match: Vec<HeaderValue>,
}

impl TileRequest {
    pub fn from_headers(headers: &HeaderMap) -> TileRequest {
        TileRequest {
            accepts_gzip: accepts_gzip(headers),
            // A header value shares the request's buffer: cloning it copies no text.
            if_none_match: headers
                .get_all(header::IF_NONE_MATCH)
                .iter()
                .cloned()
                .collect(),
        }
    }
}

impl TileRequest {
    /// Is `tile` answered with its gzip bytes?
    pub fn gets_gzip(&self, tile: &CachedTile) -> bool {
        self.accepts_gzip && tile.gzip.is_some() && tile.gzip_etag_header.is_some()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TileRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(TileRequest::from_headers(&parts.headers))
    }
}

/// Answers with a cached tile: 304 when the client's ETag matches, 204 when the tile is empty,
/// otherwise the gzip bytes (if the client accepts gzip) or the raw bytes.
pub fn tile(tile: &CachedTile, content_type: &'static str, request: &HeaderMap) -> Response {
    tile_for(tile, content_type, &TileRequest::from_headers(request))
}

/// [`tile`] for a request whose headers were read into a [`TileRequest`].
pub fn tile_for(tile: &CachedTile, content_type: &'static str, request: &TileRequest) -> Response {
    // Every header value is static or made with the tile: answering a hit copies no text.
    let gzip = match (&tile.gzip, &tile.gzip_etag_header) {
        (Some(body), Some(etag)) if request.accepts_gzip => Some((body, etag)),
        _ => None,
    };
    let mut response = if tile.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let etag = gzip.map_or(&tile.etag_header, |(_, etag)| etag);
        let etag_text = etag.to_str().unwrap_or_default();
        let mut response = if if_none_match(&request.if_none_match, &[&tile.etag, etag_text]) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let body = gzip.map_or(&tile.raw, |(body, _)| body).clone();
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if gzip.is_some() {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        };
        response.headers_mut().insert(header::ETAG, etag.clone());
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(TILE_CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

/// JSON with a short cache lifetime (it describes the current data version).
pub fn json<T: serde::Serialize>(value: &T) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        axum::Json(value),
    )
        .into_response()
}

/// [`json`] for a large answer, serialised into one buffer of `capacity` bytes to begin with
/// (rather than one grown by doubling from a small start).
pub fn json_sized<T: serde::Serialize>(value: &T, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "public, max-age=60"),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            super::ApiError::Internal(format!("cannot write the JSON answer: {e}")).into_response()
        }
    }
}

/// Does `Accept-Encoding` allow gzip (present, and not with `q=0`)?
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let q_zero = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
        })
}

fn if_none_match(values: &[HeaderValue], etags: &[&str]) -> bool {
    values
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || etags.contains(&tag))
}

/// The base URL clients should use to reach this server: the configured `public_url`; or the
/// host and scheme a trusted proxy forwarded (see `proxy`); or the request's Host over http. An
/// answer built from the headers is marked so that it carries `Vary`.
pub struct PublicUrl(pub String);

impl FromRequestParts<std::sync::Arc<AppState>> for PublicUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &std::sync::Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let configured = state.config.server.public_url.trim_end_matches('/');
        if !configured.is_empty() {
            return Ok(PublicUrl(configured.to_owned()));
        }
        let client = parts.extensions.get::<ClientInfo>();
        if let Some(client) = client {
            client.mark_url_from_headers();
        }
        let forwarded_host = client.and_then(|c| c.forwarded_host.clone());
        let host = forwarded_host
            .or_else(|| {
                parts
                    .headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .filter(|h| is_plausible_host(h))
            .unwrap_or_else(|| state.config.server.listen.to_string());
        let scheme = match client.and_then(|c| c.forwarded_proto.as_deref()) {
            Some("https") => "https",
            _ => "http",
        };
        Ok(PublicUrl(format!("{scheme}://{host}")))
    }
}

/// A Host header is copied into URLs we hand out, so only host names, addresses and ports pass.
fn is_plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "gzip, deflate, br"
        )])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br;q=1.0, GZIP;q=0.5"
        )])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(!accepts_gzip(&headers(&[])));
    }

    #[test]
    fn host_header_is_sanitised() {
        assert!(is_plausible_host("127.0.0.1:8080"));
        assert!(is_plausible_host("[::1]:80"));
        assert!(!is_plausible_host("evil.com/\"><script>"));
    }
}
