//! The map page: `GET /` (the page), `GET /assets/{file}` (its scripts and styles, built into the
//! binary, and `config.json`, what the page needs to know about this server) and
//! `GET /assets/{package}/{path}` (the files of the npm packages listed in `web/embed.txt`,
//! MapLibre GL JS among them, built into the binary by `build.rs`; MapLibre GL JS from
//! `web.maplibre_dist` instead when that is set).
//!
//! Statuses: 200; 304 (ETag or modification time matches); 404 (no such file; when MapLibre GL JS
//! is missing the message says what is missing and how to add it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeDir;

use super::error::ApiError;
use super::params::{Params, Query, RouteParams};
use crate::state::AppState;

/// The npm packages' files `build.rs` embedded (`web/embed.txt`), their versions, and why they
/// are missing when the build could not install them.
mod deps {
    include!(concat!(env!("OUT_DIR"), "/web_deps.rs"));
}

const MAPLIBRE_PACKAGE: &str = "maplibre-gl";
/// The npm package giving the page the pmtiles:// protocol, to read a static facility archive.
const PMTILES_PACKAGE: &str = "pmtiles";

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

/// Where the page's MapLibre GL JS comes from.
pub enum MaplibreAssets {
    /// Built into the binary.
    Embedded { version: &'static str },
    /// A `dist` folder named by `web.maplibre_dist`, found there.
    Directory { dist: PathBuf, version: String },
    /// Not available; the message says what is missing and how to add it.
    Missing { hint: String },
}

impl MaplibreAssets {
    /// The configured folder when `web.maplibre_dist` is set (relative to the config file's
    /// directory; it needs the ES module build, `maplibre-gl.mjs`), else the built-in copy.
    pub fn find(config: &crate::config::Config) -> MaplibreAssets {
        if !config.web.maplibre_dist.as_os_str().is_empty() {
            let dist = config.resolve(&config.web.maplibre_dist);
            if dist.join("maplibre-gl.mjs").is_file() {
                let version = package_version(&dist).unwrap_or_else(|| "unknown".into());
                return MaplibreAssets::Directory { dist, version };
            }
            return MaplibreAssets::Missing {
                hint: format!(
                    "MapLibre GL JS is not in `{}` (`[web] maplibre_dist`, which needs its \
                     maplibre-gl.mjs): point the key at a MapLibre GL JS 6 `dist` folder, or remove \
                     it to use the copy built into the server",
                    dist.display()
                ),
            };
        }
        match embedded_version(MAPLIBRE_PACKAGE) {
            Some(version) => MaplibreAssets::Embedded { version },
            None => MaplibreAssets::Missing {
                hint: format!(
                    "this lifecircle binary was built without MapLibre GL JS: {}",
                    built_without_maplibre().unwrap_or_default()
                ),
            },
        }
    }

    pub fn version(&self) -> Option<&str> {
        match self {
            MaplibreAssets::Embedded { version } => Some(version),
            MaplibreAssets::Directory { version, .. } => Some(version),
            MaplibreAssets::Missing { .. } => None,
        }
    }

    /// What is missing and how to add it; `None` when MapLibre GL JS is there.
    pub fn missing(&self) -> Option<&str> {
        match self {
            MaplibreAssets::Missing { hint } => Some(hint),
            _ => None,
        }
    }
}

/// Why this binary has no built-in MapLibre GL JS (the build's message), or `None` when it has.
pub fn built_without_maplibre() -> Option<&'static str> {
    match embedded_version(MAPLIBRE_PACKAGE) {
        Some(_) => None,
        None => Some(deps::WEB_DEPS_MISSING.unwrap_or("web/embed.txt lists none of its files")),
    }
}

/// The embedded version of an npm package, when `build.rs` embedded it.
fn embedded_version(package: &str) -> Option<&'static str> {
    deps::WEB_DEP_VERSIONS
        .iter()
        .find(|(name, _)| *name == package)
        .map(|(_, version)| *version)
}

fn package_version(dist: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dist.parent()?.join("package.json")).ok()?;
    let package: serde_json::Value = serde_json::from_str(&text).ok()?;
    package["version"].as_str().map(str::to_owned)
}

/// `GET /?lang=zh|en` (the page reads `lang` itself).
pub struct PageParams;

impl RouteParams for PageParams {
    const ACCEPTED: &'static [&'static str] = &["lang"];
    fn from_params(_: Params) -> Result<Self, ApiError> {
        Ok(PageParams)
    }
}

/// `?v=`: a cache-busting version a page may add to an asset's URL; the answer is the same.
pub struct AssetParams;

impl RouteParams for AssetParams {
    const ACCEPTED: &'static [&'static str] = &["v"];
    fn from_params(_: Params) -> Result<Self, ApiError> {
        Ok(AssetParams)
    }
}

/// `GET /`
pub async fn get_page(
    State(state): State<Arc<AppState>>,
    _: Query<PageParams>,
    headers: HeaderMap,
) -> Response {
    let mut response = built_in(INDEX_HTML, "text/html; charset=utf-8", &ETAGS[0], &headers);
    let policy = content_security_policy(
        &state.config.web.basemap_style_url,
        &state.config.web.facilities_pmtiles_url,
    );
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&policy).expect("the policy is plain ASCII"),
    );
    response
}

/// What the page may load: only this server, unless an external basemap is configured, whose
/// style, tiles, glyphs and sprites may come from anywhere, or a static PMTiles copy of the
/// facility tiles, whose host the map reads byte ranges from.
fn content_security_policy(basemap_style_url: &str, facilities_pmtiles_url: &str) -> String {
    let external = if basemap_style_url.trim().is_empty() {
        ""
    } else {
        " http: https:"
    };
    let archive = facilities_pmtiles_url.trim();
    let archive_host = if external.is_empty() && archive.contains("://") {
        // The origin: scheme and host, up to the path (validated as plain ASCII in config).
        let after_scheme = archive.find("://").map_or(0, |i| i + 3);
        let end = archive[after_scheme..]
            .find('/')
            .map_or(archive.len(), |i| after_scheme + i);
        format!(" {}", &archive[..end])
    } else {
        String::new()
    };
    format!(
        "default-src 'self'; script-src 'self'; worker-src 'self' blob:; style-src 'self'; \
         img-src 'self' data: blob:{external}; connect-src 'self'{external}{archive_host}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
    )
}

/// `GET /assets/{file}`: a file of the page, or `config.json`.
pub async fn get_asset(
    State(state): State<Arc<AppState>>,
    UrlPath(file): UrlPath<String>,
    _: Query<AssetParams>,
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

/// What the page needs to know about this server: where MapLibre GL JS is (or what is missing
/// and how to add it), which basemap to draw, and what the feedback form offers and accepts (the server's
/// kinds and limits, so the page never declares them itself).
fn page_config(state: &AppState) -> Response {
    let maplibre = MaplibreAssets::find(&state.config);
    let kinds = |kinds: &[crate::feedback::Kind]| -> Vec<&'static str> {
        kinds.iter().map(|k| k.as_str()).collect()
    };
    let body = serde_json::json!({
        "maplibre": {
            "available": maplibre.missing().is_none(),
            "version": maplibre.version(),
            "module": "/assets/maplibre-gl/maplibre-gl.mjs",
            "css": "/assets/maplibre-gl/maplibre-gl.css",
            "install_hint": maplibre.missing(),
        },
        "basemap_style_url": state.config.web.basemap_style_url.trim(),
        // A static PMTiles copy of the facility tiles to read through pmtiles:// (empty: this
        // server's tiles), and the `pmtiles` package's script that provides the protocol.
        "facilities_pmtiles_url": state.config.web.facilities_pmtiles_url.trim(),
        "pmtiles": {
            "available": embedded_version(PMTILES_PACKAGE).is_some(),
            "script": "/assets/pmtiles/pmtiles.js",
        },
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
    body: impl Into<Body>,
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
    (common, [(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

/// ETags of the embedded npm packages' files, computed on first use.
static DEP_ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    deps::WEB_DEPS
        .iter()
        .map(|(_, body)| format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(body)))
        .collect()
});

/// The content type of an npm package's file, by its extension.
fn dep_content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// `GET /assets/{package}/{*path}`: a file of an npm package the page uses (`web/embed.txt`),
/// built into the binary; MapLibre GL JS from `web.maplibre_dist` when that is set.
pub async fn get_package_asset(
    State(state): State<Arc<AppState>>,
    UrlPath((package, path)): UrlPath<(String, String)>,
    _: Query<AssetParams>,
    request: Request,
) -> Result<Response, ApiError> {
    if package == MAPLIBRE_PACKAGE {
        match MaplibreAssets::find(&state.config) {
            MaplibreAssets::Missing { hint } => return Err(ApiError::NotFound(hint)),
            MaplibreAssets::Directory { dist, version } => {
                return serve_from_directory(&dist, &version, &path, request).await;
            }
            MaplibreAssets::Embedded { .. } => {}
        }
    }
    let served = format!("{package}/{path}");
    if let Some(idx) = deps::WEB_DEPS.iter().position(|(name, _)| *name == served) {
        let body: &'static [u8] = deps::WEB_DEPS[idx].1;
        return Ok(built_in(
            body,
            dep_content_type(&path),
            &DEP_ETAGS[idx],
            request.headers(),
        ));
    }
    Err(ApiError::NotFound(match embedded_version(&package) {
        Some(version) => format!(
            "no file `{path}` in the built-in {package} {version}; web/embed.txt lists the files \
             built in"
        ),
        None => format!("no asset `{package}/{path}`; the map page is at /"),
    }))
}

/// MapLibre GL JS's files from a configured `dist` folder.
async fn serve_from_directory(
    dist: &Path,
    version: &str,
    path: &str,
    request: Request,
) -> Result<Response, ApiError> {
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
    let served = ServeDir::new(dist)
        .append_index_html_on_directories(false)
        .oneshot(Request::from_parts(parts, body))
        .await
        .map_err(|e| ApiError::Internal(format!("serving {path}: {e}")))?;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(ApiError::NotFound(format!(
            "no file `{path}` in MapLibre GL JS {version}"
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
        let own = content_security_policy("", "");
        assert!(own.contains("connect-src 'self';"), "{own}");
        assert!(!own.contains("https:"), "{own}");
        let external = content_security_policy("https://tiles.example.org/style.json", "");
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
                if let Some(rest) = line.trim_start().strip_prefix("import ")
                    && let Some(start) = rest.find("'./")
                {
                    let name = &rest[start + 3..];
                    referenced.push(&name[..name.find('\'').unwrap_or(name.len())]);
                }
            }
        }
        for name in referenced {
            if name.is_empty() || name == "config.json" || name.starts_with(MAPLIBRE_PACKAGE) {
                continue;
            }
            assert!(
                PAGE_FILES.iter().any(|f| f.name == name),
                "the page refers to /assets/{name}, which is not built in"
            );
        }
    }
}
