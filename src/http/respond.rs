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

/// Answers with a cached tile: 304 when the client's ETag matches, 204 when the tile is empty,
/// otherwise the gzip bytes (if the client accepts gzip) or the raw bytes.
pub fn tile(tile: &CachedTile, content_type: &'static str, request: &HeaderMap) -> Response {
    let use_gzip = tile.gzip.is_some() && accepts_gzip(request);
    let etag = if use_gzip {
        format!("{}-gz\"", tile.etag.trim_end_matches('"'))
    } else {
        tile.etag.clone()
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(TILE_CACHE_CONTROL),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if tile.is_empty() {
        return (StatusCode::NO_CONTENT, headers).into_response();
    }
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex ETag is a valid header"),
    );
    if if_none_match(request, &[&tile.etag, &etag]) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let body = if use_gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        tile.gzip.clone().expect("checked above")
    } else {
        tile.raw.clone()
    };
    (StatusCode::OK, headers, body).into_response()
}

/// JSON with a short cache lifetime (it describes the current data version).
pub fn json<T: serde::Serialize>(value: &T) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        axum::Json(value),
    )
        .into_response()
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

fn if_none_match(headers: &HeaderMap, etags: &[&str]) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
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
