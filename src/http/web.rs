//! The map page: `GET /` (the page), `GET /assets/{file}` (its scripts and styles, built into the
//! binary, and `config.json`, what the page needs to know about this server) and
//! `GET /assets/maplibre-gl/{path}` (MapLibre GL JS's `dist` files, served from
//! `web.maplibre_dist`, which `npm ci --prefix web` fills).
//!
//! Statuses: 200; 304 (ETag or modification time matches); 404 (no such file; when MapLibre GL JS
//! is not installed the message says how to install it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::error::ApiError;
use crate::state::AppState;

/// What to tell someone whose server lacks MapLibre GL JS.
pub const INSTALL_HINT: &str =
    "run `npm ci --prefix web` in the lifecircle directory, then reload the page";

/// A file of the page, built into the binary.
struct PageFile {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const INDEX_HTML: &str = include_str!("../../web/index.html");

/// The page's own scripts and styles, served under `/assets/`.
const PAGE_FILES: &[PageFile] = &[
    js("app.js", include_str!("../../web/app.js")),
    js("dom.js", include_str!("../../web/dom.js")),
    js("i18n.js", include_str!("../../web/i18n.js")),
    js("categories.js", include_str!("../../web/categories.js")),
    js("search.js", include_str!("../../web/search.js")),
    js("popup.js", include_str!("../../web/popup.js")),
    js("coverage.js", include_str!("../../web/coverage.js")),
    js("feedback.js", include_str!("../../web/feedback.js")),
    PageFile {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../web/icon.svg"),
    },
    PageFile {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../web/app.css"),
    },
];

const fn js(name: &'static str, body: &'static str) -> PageFile {
    PageFile {
        name,
        content_type: "text/javascript; charset=utf-8",
        body,
    }
}

/// ETags of the built-in files, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    std::iter::once(INDEX_HTML)
        .chain(PAGE_FILES.iter().map(|f| f.body))
        .map(|body| format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(body.as_bytes())))
        .collect()
});

/// Where MapLibre GL JS's files are, and whether they are there.
pub struct MaplibreAssets {
    pub dist: PathBuf,
    /// The installed version, from the package's `package.json`; `None` when not installed.
    pub version: Option<String>,
}

impl MaplibreAssets {
    /// Looks at the configured directory (relative to the config file's directory). The page
    /// needs the ES module build (`maplibre-gl.mjs`, MapLibre GL JS 6 and later).
    pub fn find(config: &crate::config::Config) -> MaplibreAssets {
        let dist = config.resolve(&config.web.maplibre_dist);
        let version = dist
            .join("maplibre-gl.mjs")
            .is_file()
            .then(|| package_version(&dist))
            .map(|v| v.unwrap_or_else(|| "unknown".into()));
        MaplibreAssets { dist, version }
    }
}

fn package_version(dist: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dist.parent()?.join("package.json")).ok()?;
    let package: serde_json::Value = serde_json::from_str(&text).ok()?;
    package["version"].as_str().map(str::to_owned)
}

/// `GET /`
pub async fn get_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let mut response = built_in(INDEX_HTML, "text/html; charset=utf-8", &ETAGS[0], &headers);
    let policy = content_security_policy(&state.config.web.basemap_style_url);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&policy).expect("the policy is plain ASCII"),
    );
    response
}

/// What the page may load: only this server, unless an external basemap is configured, whose
/// style, tiles, glyphs and sprites may come from anywhere.
fn content_security_policy(basemap_style_url: &str) -> String {
    let external = if basemap_style_url.trim().is_empty() {
        ""
    } else {
        " http: https:"
    };
    format!(
        "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self'; \
         img-src 'self' data: blob:{external}; connect-src 'self'{external}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )
}

/// `GET /assets/{file}`: a file of the page, or `config.json`.
pub async fn get_asset(
    State(state): State<Arc<AppState>>,
    UrlPath(file): UrlPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if file == "config.json" {
        return Ok(page_config(&state));
    }
    let (idx, page_file) = PAGE_FILES
        .iter()
        .enumerate()
        .find(|(_, f)| f.name == file)
        .ok_or_else(|| ApiError::NotFound(format!("no asset `{file}`; the map page is at /")))?;
    Ok(built_in(
        page_file.body,
        page_file.content_type,
        &ETAGS[idx + 1],
        &headers,
    ))
}

/// What the page needs to know about this server: where MapLibre GL JS is (or how to install
/// it), which basemap to draw, and what the feedback form offers and accepts (the server's
/// kinds and limits, so the page never declares them itself).
fn page_config(state: &AppState) -> Response {
    let maplibre = MaplibreAssets::find(&state.config);
    let kinds = |kinds: &[crate::feedback::Kind]| -> Vec<&'static str> {
        kinds.iter().map(|k| k.as_str()).collect()
    };
    let body = serde_json::json!({
        "maplibre": {
            "available": maplibre.version.is_some(),
            "version": maplibre.version,
            "module": "/assets/maplibre-gl/maplibre-gl.mjs",
            "css": "/assets/maplibre-gl/maplibre-gl.css",
            "install_hint": INSTALL_HINT,
        },
        "basemap_style_url": state.config.web.basemap_style_url.trim(),
        "style": "/styles/lifecircle.json",
        "feedback": {
            "kinds_about_facility": kinds(&crate::feedback::Kind::ABOUT_A_FACILITY),
            "kinds_about_place": kinds(&crate::feedback::Kind::ABOUT_A_PLACE),
            "max_message_chars": state.config.feedback.max_message_chars,
            "max_contact_chars": state.config.feedback.max_contact_chars,
        },
    });
    ([(header::CACHE_CONTROL, "no-cache")], axum::Json(body)).into_response()
}

/// A built-in file with its ETag; 304 when the client has it.
fn built_in(
    body: &'static str,
    content_type: &'static str,
    etag: &str,
    request: &HeaderMap,
) -> Response {
    let etag_value = HeaderValue::from_str(etag).expect("hex ETag is a valid header");
    let matches = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim().trim_start_matches("W/") == etag || tag.trim() == "*");
    let common = [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::ETAG, etag_value),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// `GET /assets/maplibre-gl/{*path}`: MapLibre GL JS's files from `web.maplibre_dist`.
pub async fn get_maplibre_asset(
    State(state): State<Arc<AppState>>,
    UrlPath(path): UrlPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let maplibre = MaplibreAssets::find(&state.config);
    if maplibre.version.is_none() {
        return Err(ApiError::NotFound(format!(
            "MapLibre GL JS is not installed on this server: {INSTALL_HINT}"
        )));
    }
    // No file name holds a control character, and a NUL makes the file system call fail.
    if path.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "asset path {path:?} contains a control character"
        )));
    }
    // ServeDir resolves the request path inside `dist` (refusing `..`); give it the path below
    // the route's prefix, still percent-encoded as it came.
    let raw_path = request
        .uri()
        .path()
        .strip_prefix("/assets/maplibre-gl")
        .unwrap_or("/");
    let uri: Uri = raw_path
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("malformed asset path `{path}`")))?;
    let (mut parts, body) = request.into_parts();
    parts.uri = uri;
    let served = ServeDir::new(&maplibre.dist)
        .append_index_html_on_directories(false)
        .oneshot(Request::from_parts(parts, body))
        .await
        .map_err(|e| ApiError::Internal(format!("serving {path}: {e}")))?;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(ApiError::NotFound(format!(
            "no file `{path}` in MapLibre GL JS {}",
            maplibre.version.unwrap_or_default()
        )));
    }
    let mut response = served.map(Body::new);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_allows_other_hosts_only_for_an_external_basemap() {
        let own = content_security_policy("");
        assert!(own.contains("connect-src 'self';"), "{own}");
        assert!(!own.contains("https:"), "{own}");
        let external = content_security_policy("https://tiles.example.org/style.json");
        assert!(
            external.contains("connect-src 'self' http: https:;"),
            "{external}"
        );
    }

    /// Facility names are data; the page must only ever set them as text.
    #[test]
    fn the_feedback_form_takes_its_kinds_and_limits_from_the_server() {
        let script = PAGE_FILES
            .iter()
            .find(|f| f.name == "feedback.js")
            .unwrap()
            .body;
        for kind in crate::feedback::Kind::ALL {
            let literal = format!("'{}'", kind.as_str());
            assert!(!script.contains(&literal), "feedback.js declares {literal}");
        }
        let defaults = crate::config::Config::embedded().unwrap().feedback;
        for limit in [defaults.max_message_chars, defaults.max_contact_chars] {
            assert!(
                !script.contains(&limit.to_string()),
                "feedback.js declares the limit {limit}"
            );
        }
    }

    #[test]
    fn page_scripts_never_parse_strings_as_html() {
        let banned = [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "setHTML(",
            "createContextualFragment",
        ];
        for file in PAGE_FILES.iter().filter(|f| f.name.ends_with(".js")) {
            for pattern in banned {
                assert!(
                    !file.body.contains(pattern),
                    "{} uses {pattern}; build nodes with dom.js `el` and set text instead",
                    file.name
                );
            }
        }
    }

    #[test]
    fn every_page_file_is_served_and_the_page_names_only_those() {
        let mut referenced: Vec<&str> = Vec::new();
        for text in std::iter::once(INDEX_HTML).chain(PAGE_FILES.iter().map(|f| f.body)) {
            for (idx, _) in text.match_indices("/assets/") {
                let rest = &text[idx + "/assets/".len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
                    .unwrap_or(rest.len());
                referenced.push(&rest[..end]);
            }
            for line in text.lines() {
                if let Some(rest) = line.trim_start().strip_prefix("import ") {
                    if let Some(start) = rest.find("'./") {
                        let name = &rest[start + 3..];
                        referenced.push(&name[..name.find('\'').unwrap_or(name.len())]);
                    }
                }
            }
        }
        for name in referenced {
            if name.is_empty() || name == "config.json" || name.starts_with("maplibre-gl") {
                continue;
            }
            assert!(
                PAGE_FILES.iter().any(|f| f.name == name),
                "the page refers to /assets/{name}, which is not built in"
            );
        }
    }
}
