//! Configuration: TOML text → validated [`Config`].
//!
//! The default configuration is the repository's `lifecircle.toml`, embedded in the binary. A user
//! file is merged over it key by key (tables merge, arrays and values replace), so a file only
//! needs the keys it changes. Unknown keys are an error naming the key. Nothing else in the crate
//! parses TOML.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The embedded default configuration.
pub const DEFAULT_TOML: &str = include_str!("../lifecircle.toml");

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin} is not valid TOML: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("{origin}: invalid category taxonomy: {source}")]
    Taxonomy {
        origin: String,
        source: crate::taxonomy::Error,
    },
}

/// The whole configuration, validated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub data: DataConfig,
    pub area: AreaConfig,
    pub tiles: TilesConfig,
    pub cache: CacheConfig,
    pub web: WebConfig,
    pub feedback: FeedbackConfig,
    pub admin: AdminConfig,
    pub coverage: CoverageConfig,
    pub search: SearchConfig,
    pub groups: Vec<crate::taxonomy::GroupConfig>,
    pub taxonomy: crate::taxonomy::TaxonomyOptions,
    pub categories: Vec<crate::taxonomy::CategoryConfig>,
    /// Classification rules; an override file's entries are added after the default's.
    #[serde(default)]
    pub category_rules: Vec<crate::taxonomy::RuleConfig>,
    /// `[evaluation]`: settings of the baseline diff.
    #[serde(default)]
    pub evaluation: EvaluationConfig,
    /// `[[baselines]]`: named sets of facility files (the data a plan started from), loaded
    /// beside the current data for `/evaluation/diff`. An override file that names its own
    /// facilities and no baselines drops the default's.
    #[serde(default)]
    pub baselines: Vec<BaselineConfig>,
    /// `[service_load]`: two-step floating catchment (2SFCA) settings.
    #[serde(default)]
    pub service_load: ServiceLoadConfig,
    /// `[report]`: what the evaluation report (`/report`) lists.
    #[serde(default)]
    pub report: ReportConfig,
    /// `[basemap]`: the basemap's street classes.
    pub basemap: BasemapConfig,
    /// Where relative paths are resolved from.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Where the configuration came from, for messages.
    #[serde(skip)]
    pub origin: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Base URL clients should use; empty means "from the request's Host header".
    pub public_url: String,
    pub max_body_bytes: usize,
    /// Peers (addresses or CIDR ranges) whose `Forwarded` / `X-Forwarded-*` headers are believed.
    pub trusted_proxies: Vec<String>,
    /// Seconds a client has to send a complete request head.
    pub header_read_timeout_s: f64,
    /// Seconds a client has to send a complete request body.
    pub body_read_timeout_s: f64,
    /// Seconds an idle keep-alive connection stays open between requests.
    pub keep_alive_timeout_s: f64,
    /// Seconds a public route has to answer (admin routes are exempt) before 503.
    pub request_timeout_s: f64,
    /// Seconds in-flight requests get to finish after a shutdown signal.
    pub shutdown_grace_s: f64,
    /// Connections served at once; beyond it a new connection gets 503 and is closed.
    pub max_connections: usize,
    /// Longest request target (path and query) accepted, in bytes; longer is 414.
    pub max_uri_bytes: usize,
    /// Statistics, blind-spot and site-suggestion computations run at once; beyond it 503.
    pub max_concurrent_analyses: usize,
    /// Tile renders on a cache miss run at once, and how many more may wait for a turn.
    pub max_concurrent_renders: usize,
    pub max_queued_renders: usize,
    /// IANA name of the time zone people read times in (exports, the report).
    pub time_zone: String,
    /// `time_zone`, resolved when the configuration is loaded.
    #[serde(skip, default = "crate::time::LocalTime::utc")]
    pub local_time: crate::time::LocalTime,
}

impl ServerConfig {
    /// The trusted proxy ranges (a bare address is a one-address range).
    pub fn trusted_proxy_nets(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.trusted_proxies
            .iter()
            .map(|text| {
                let text = text.trim();
                text.parse::<ipnet::IpNet>()
                    .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "server.trusted_proxies: `{text}` is neither an IP address nor a CIDR range (e.g. \"10.0.0.0/8\", \"::1\")"
                        )
                    })
            })
            .collect()
    }

    fn validate(&self) -> Result<(), String> {
        self.trusted_proxy_nets()?;
        for (key, value) in [
            ("header_read_timeout_s", self.header_read_timeout_s),
            ("body_read_timeout_s", self.body_read_timeout_s),
            ("keep_alive_timeout_s", self.keep_alive_timeout_s),
            ("request_timeout_s", self.request_timeout_s),
            ("shutdown_grace_s", self.shutdown_grace_s),
        ] {
            if !(value.is_finite() && (0.01..=3600.0).contains(&value)) {
                return Err(format!(
                    "server.{key} must be from 0.01 to 3600 seconds, not {value}"
                ));
            }
        }
        for (key, value, min) in [
            ("max_connections", self.max_connections, 1),
            ("max_uri_bytes", self.max_uri_bytes, 256),
            ("max_concurrent_analyses", self.max_concurrent_analyses, 1),
            ("max_concurrent_renders", self.max_concurrent_renders, 1),
        ] {
            if value < min {
                return Err(format!("server.{key} must be at least {min}, not {value}"));
            }
        }
        // The `http` crate refuses longer targets before the server sees them.
        if self.max_uri_bytes > 65_000 {
            return Err(format!(
                "server.max_uri_bytes must be at most 65000, not {}",
                self.max_uri_bytes
            ));
        }
        Ok(())
    }

    fn secs(value: f64) -> std::time::Duration {
        std::time::Duration::from_secs_f64(value)
    }

    pub fn header_read_timeout(&self) -> std::time::Duration {
        Self::secs(self.header_read_timeout_s)
    }

    pub fn body_read_timeout(&self) -> std::time::Duration {
        Self::secs(self.body_read_timeout_s)
    }

    pub fn keep_alive_timeout(&self) -> std::time::Duration {
        Self::secs(self.keep_alive_timeout_s)
    }

    pub fn request_timeout(&self) -> std::time::Duration {
        Self::secs(self.request_timeout_s)
    }

    pub fn shutdown_grace(&self) -> std::time::Duration {
        Self::secs(self.shutdown_grace_s)
    }
}

/// `[data]`: where the data comes from, and the guards against bad data replacing good data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The single-file form: one facilities file read with `fields` (ids as they always were).
    /// Excludes `sources`; an override giving `sources` drops the default's `facilities`.
    #[serde(default)]
    pub facilities: Option<PathBuf>,
    /// The several-sources form: `[[data.sources]]`.
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    /// Context layers: a path, a table with file options and a field map, or `""` (none).
    #[serde(default)]
    pub roads: LayerConfig,
    #[serde(default)]
    pub subdistricts: LayerConfig,
    #[serde(default)]
    pub residents: LayerConfig,
    pub attribution: String,
    /// The field map of the single-file form.
    pub fields: FieldMap,
    /// Sources whose as-of date is older than this many days are flagged stale in `/catalog`.
    pub stale_after_days: u32,
    /// Facilities of different sources with equal normalised names closer than this (ground
    /// metres) are one facility.
    pub dedupe_distance_m: f64,
    /// A start or reload is refused when more than this share of facility rows is skipped…
    pub max_skipped_share: f64,
    /// …or when the facility count falls by more than this share against the serving data.
    pub max_facility_drop: f64,
}

/// Names of the facility attributes in the source file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub category: String,
    pub address: String,
    pub subdistrict: String,
    /// Optional attributes (see `crate::attributes`); "" switches one off.
    #[serde(default = "default_floor_area")]
    pub floor_area: String,
    #[serde(default = "default_functions")]
    pub functions: String,
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default = "default_year")]
    pub year: String,
}

fn default_floor_area() -> String {
    "floor_area".into()
}
fn default_functions() -> String {
    "functions".into()
}
fn default_status() -> String {
    "status".into()
}
fn default_year() -> String {
    "year".into()
}

impl FieldMap {
    /// How to read `file` with this field map (the single-file form as a source).
    pub fn file_options(&self, file: &Path) -> FileOptions {
        let mapped = [
            ("id", &self.id),
            ("name", &self.name),
            ("name_en", &self.name_en),
            ("category", &self.category),
            ("address", &self.address),
            ("subdistrict", &self.subdistrict),
            ("floor_area", &self.floor_area),
            ("functions", &self.functions),
            ("status", &self.status),
            ("year", &self.year),
        ];
        FileOptions {
            file: file.to_owned(),
            fields: mapped
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).clone()))
                .collect(),
            ..FileOptions::default()
        }
    }
}

/// How to read one file: shared by `[[data.sources]]` and the context layers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    /// The file; empty: the layer is switched off.
    #[serde(default)]
    pub file: PathBuf,
    /// Overrides the format guessed from the extension.
    #[serde(default)]
    pub format: Option<crate::ingest::formats::Format>,
    /// The datum the coordinates are in; converted to WGS84 at ingest.
    #[serde(default)]
    pub datum: crate::geom::datum::Datum,
    /// Text encoding of CSV/TSV and Shapefile `.dbf` files (`utf-8`, `gbk`, …).
    #[serde(default)]
    pub encoding: Option<String>,
    /// CSV/TSV: longitude and latitude columns, or one `"lng,lat"` column.
    #[serde(default)]
    pub lon: Option<String>,
    #[serde(default)]
    pub lat: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    /// GeoPackage: the table to read.
    #[serde(default)]
    pub layer: Option<String>,
    /// Logical field → column of this file.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

impl FileOptions {
    /// The file's read options for `ingest::formats`.
    pub fn read_options(&self) -> crate::ingest::formats::ReadOptions {
        crate::ingest::formats::ReadOptions {
            format: self.format,
            encoding: self.encoding.clone(),
            lon_column: self.lon.clone(),
            lat_column: self.lat.clone(),
            location_column: self.location.clone(),
            layer: self.layer.clone(),
        }
    }

    /// The column holding `field`: as mapped, else `default`.
    pub fn column<'a>(&'a self, field: &str, default: &'a str) -> &'a str {
        self.fields.get(field).map_or(default, String::as_str)
    }
}

/// A context layer (`data.roads`, `data.subdistricts`, `data.residents`): `"path"` (the old
/// form), `{ file = "path", datum = …, fields = { … } }`, or `""` (switched off).
#[derive(Debug, Clone, Default)]
pub struct LayerConfig(pub FileOptions);

impl LayerConfig {
    /// The file options, or `None` when the layer is switched off.
    pub fn file(&self) -> Option<&FileOptions> {
        (!self.0.file.as_os_str().is_empty()).then_some(&self.0)
    }
}

impl<'de> Deserialize<'de> for LayerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = LayerConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a file path, \"\" (no layer), or a table with `file`")
            }
            fn visit_str<E: serde::de::Error>(self, path: &str) -> Result<LayerConfig, E> {
                Ok(LayerConfig(FileOptions {
                    file: PathBuf::from(path),
                    ..FileOptions::default()
                }))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<LayerConfig, A::Error> {
                FileOptions::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(LayerConfig)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `[report]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Blind spots listed per category, largest first.
    #[serde(default = "default_report_blind_spots")]
    pub blind_spots: usize,
    /// Most overloaded facilities listed per category.
    #[serde(default = "default_report_overloaded")]
    pub overloaded: usize,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            blind_spots: default_report_blind_spots(),
            overloaded: default_report_overloaded(),
        }
    }
}

fn default_report_blind_spots() -> usize {
    3
}

fn default_report_overloaded() -> usize {
    5
}

/// `[evaluation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationConfig {
    /// A facility found in a baseline and now farther apart than this (ground metres) is
    /// listed as moved.
    #[serde(default = "default_moved_distance_m")]
    pub moved_distance_m: f64,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            moved_distance_m: default_moved_distance_m(),
        }
    }
}

fn default_moved_distance_m() -> f64 {
    30.0
}

/// Distance decay of the 2SFCA ([`crate::service_load`]): how much a place at distance `d`
/// within the threshold `d0` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decay {
    /// W = 1.
    None,
    /// W = 1 − d/d0.
    Linear,
    /// W = (e^(−½(d/d0)²) − e^(−½)) / (1 − e^(−½)).
    #[default]
    Gaussian,
}

/// What a facility's supply S_j is in the 2SFCA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacitySource {
    /// The facility's floor area (m²); see `crate::service_load` for facilities without one.
    #[default]
    FloorArea,
    /// 1 per facility.
    Count,
}

/// `[service_load]`, with per-category overrides in `[service_load.categories.ID]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLoadConfig {
    #[serde(default)]
    pub decay: Decay,
    #[serde(default)]
    pub capacity: CapacitySource,
    /// Accessibility A_i below which residents count as under-served (`share_below`); none:
    /// not reported unless a request gives `?below=`.
    #[serde(default)]
    pub below: Option<f64>,
    /// How many of the most overloaded facilities an answer lists.
    #[serde(default = "default_top_overloaded")]
    pub top_overloaded: usize,
    #[serde(default)]
    pub categories: std::collections::BTreeMap<String, ServiceLoadCategoryConfig>,
}

impl Default for ServiceLoadConfig {
    fn default() -> Self {
        ServiceLoadConfig {
            decay: Decay::default(),
            capacity: CapacitySource::default(),
            below: None,
            top_overloaded: default_top_overloaded(),
            categories: Default::default(),
        }
    }
}

fn default_top_overloaded() -> usize {
    10
}

/// `[service_load.categories.ID]`: overrides for one category.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLoadCategoryConfig {
    pub decay: Option<Decay>,
    pub capacity: Option<CapacitySource>,
    pub below: Option<f64>,
}

impl ServiceLoadConfig {
    /// `(decay, capacity, below)` of the category `id`.
    pub fn for_category(&self, id: &str) -> (Decay, CapacitySource, Option<f64>) {
        let own = self.categories.get(id);
        (
            own.and_then(|c| c.decay).unwrap_or(self.decay),
            own.and_then(|c| c.capacity).unwrap_or(self.capacity),
            own.and_then(|c| c.below).or(self.below),
        )
    }
}

/// One `[[baselines]]` entry: a name and its facility files, each read like a
/// `[[data.sources]]` entry (same keys), so facilities match by `source:source_id`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineConfig {
    pub name: String,
    /// The date the baseline describes (shown in the diff), `YYYY-MM-DD`.
    #[serde(default)]
    pub as_of: Option<AsOf>,
    pub sources: Vec<SourceConfig>,
}

/// One `[[data.sources]]` entry: a facilities file and what it is.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub file: PathBuf,
    /// Short id of the source, the prefix of source ids (`osm:5551873822`, `教育局:12`);
    /// default: the file name without extension.
    #[serde(default)]
    pub name: Option<String>,
    /// Who publishes the data (区教育局, OpenStreetMap, …).
    #[serde(default)]
    pub provider: String,
    /// The date the data is current as of: `YYYY-MM-DD` (a TOML date or a string).
    #[serde(default)]
    pub as_of: Option<AsOf>,
    #[serde(default)]
    pub format: Option<crate::ingest::formats::Format>,
    #[serde(default)]
    pub datum: crate::geom::datum::Datum,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub lon: Option<String>,
    #[serde(default)]
    pub lat: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub layer: Option<String>,
    /// Field → column: `id`, `name`, `name_en`, `category`, `address`, `subdistrict`,
    /// `floor_area`, `functions`, `status`, `year`, and any field a category rule reads. A field named here must exist in the file.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
}

impl SourceConfig {
    /// The source's short id: `name`, or the file name without its extension(s).
    pub fn source_name(&self) -> String {
        if let Some(name) = self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            return name.to_owned();
        }
        let file_name = self
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        file_name
            .split('.')
            .next()
            .filter(|stem| !stem.is_empty())
            .unwrap_or(&file_name)
            .to_owned()
    }

    /// The file options of this source.
    pub fn file_options(&self) -> FileOptions {
        FileOptions {
            file: self.file.clone(),
            format: self.format,
            datum: self.datum,
            encoding: self.encoding.clone(),
            lon: self.lon.clone(),
            lat: self.lat.clone(),
            location: self.location.clone(),
            layer: self.layer.clone(),
            fields: self.fields.clone(),
        }
    }
}

/// A source's as-of date, `YYYY-MM-DD`, with its day number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsOf {
    pub text: String,
    /// Days since 1970-01-01.
    pub days: i64,
}

impl AsOf {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<AsOf> {
        let text = text.trim();
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let date: jiff::civil::Date = text.parse().ok()?;
        Some(AsOf {
            text: text.to_owned(),
            days: crate::time::days_since_epoch(date),
        })
    }
}

impl<'de> Deserialize<'de> for AsOf {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Date(toml::value::Datetime),
            Text(String),
        }
        let text = match Raw::deserialize(deserializer)? {
            Raw::Date(date) => date.to_string(),
            Raw::Text(text) => text,
        };
        AsOf::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "as_of `{text}` is not a date; write it as YYYY-MM-DD, e.g. 2024-06-30"
            ))
        })
    }
}

/// `[basemap]`: which streets the basemap tiles carry from which zoom, and how the bundled style
/// draws them (`road_classes`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasemapConfig {
    /// `[basemap.road_classes.ID]`, by class id; tables, so an override file adds or changes
    /// one class and keeps the others.
    pub road_classes: std::collections::BTreeMap<String, crate::road_classes::RoadClassConfig>,
    /// `road_classes`, checked when the configuration is loaded.
    #[serde(skip)]
    pub roads: crate::road_classes::RoadClasses,
}

/// `[area]`: the analysis area (see `area`). Both empty: the subdistricts, or the data's extent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaConfig {
    /// `[west, south, east, north]` in WGS84 degrees, or empty.
    pub bbox: Vec<f64>,
    /// A polygon file (WGS84) whose polygons together are the area, or empty.
    pub boundary: PathBuf,
}

impl AreaConfig {
    /// The configured rectangle, if any (validated by [`Config::load`]).
    pub fn bbox(&self) -> Option<[f64; 4]> {
        <[f64; 4]>::try_from(self.bbox.as_slice()).ok()
    }

    /// The configured boundary file, if any.
    pub fn boundary(&self) -> Option<&Path> {
        (!self.boundary.as_os_str().is_empty()).then_some(self.boundary.as_path())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TilesConfig {
    pub minzoom: u8,
    pub maxzoom: u8,
    pub extent: u32,
    pub buffer: u32,
    pub cluster_max_zoom: u8,
    pub cluster_cell_px: u32,
    pub max_points_per_tile: usize,
    pub cluster_fine_cell_px: u32,
    pub max_tile_bytes: usize,
    /// Tile sources served from an archive (`lifecircle export`) instead of rendered: source id
    /// (`facilities`, `basemap`) → a `.pmtiles` or `.mbtiles` file.
    #[serde(default)]
    pub archives: std::collections::BTreeMap<String, PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub max_bytes: u64,
    /// Capacity of the cache of statistics, blind spots and site suggestions.
    pub analysis_max_bytes: u64,
    pub precompute_minzoom: u8,
    pub precompute_maxzoom: u8,
    /// Threads the background precompute renders on (at low priority).
    pub precompute_threads: usize,
}

/// The map page at `/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Directory holding MapLibre GL JS's `dist` files, served under `/assets/maplibre-gl/`;
    /// empty: the copy built into the binary.
    pub maplibre_dist: PathBuf,
    /// External basemap style for the page; empty means the server's own basemap.
    pub basemap_style_url: String,
    /// A static PMTiles copy of the facility tiles the page's map reads through `pmtiles://`;
    /// empty: this server's tiles.
    #[serde(default)]
    pub facilities_pmtiles_url: String,
}

/// Residents' reports and their store (see `feedback`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackConfig {
    /// Where reports are kept: the embedded SQLite file at `path`, or the PostgreSQL database at
    /// `url` that several server processes share.
    pub store: FeedbackStoreKind,
    /// The SQLite database file.
    pub path: PathBuf,
    /// The PostgreSQL connection string (`store = "postgres"`); `LIFECIRCLE_FEEDBACK_URL`
    /// overrides it.
    pub url: DatabaseUrl,
    /// How hard each commit is pushed to disk.
    pub synchronous: Synchronous,
    pub max_message_chars: usize,
    pub max_contact_chars: usize,
    /// Sustained reports per minute from one client address.
    pub rate_limit_per_minute: u32,
    /// Reports one client address may send at once before the sustained rate applies.
    pub rate_limit_burst: u32,
}

/// Which database keeps the feedback reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackStoreKind {
    /// An SQLite file beside the server: one process.
    Sqlite,
    /// A PostgreSQL database: any number of processes writing to it at once.
    Postgres,
}

/// A database connection string; may hold a password, so `Debug` does not show it.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> DatabaseUrl {
        DatabaseUrl(url.into())
    }

    /// The connection string itself, password included: for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

/// The environment variable that, when set and not empty, replaces `feedback.url`.
pub const FEEDBACK_URL_ENV: &str = "LIFECIRCLE_FEEDBACK_URL";

/// SQLite's `synchronous` setting for the feedback store (in WAL mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// The WAL is synced at every commit: an acknowledged report survives a crash and a power loss.
    Full,
    /// Like `full`, and the directory is synced too after the WAL is reset.
    Extra,
    /// The WAL is synced only at checkpoints: survives a process crash, not a power loss.
    Normal,
}

/// The token-protected `/admin` routes.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer token; empty disables the admin routes. `LIFECIRCLE_ADMIN_TOKEN` overrides it.
    pub token: String,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = if self.token.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        };
        f.debug_struct("AdminConfig")
            .field("token", &token)
            .finish()
    }
}

/// Environment variable that overrides `admin.token` (read by [`Config::load`] only).
pub const ADMIN_TOKEN_ENV: &str = "LIFECIRCLE_ADMIN_TOKEN";

/// Shortest admin token accepted.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// `[coverage]`: walking-time heatmaps and statistics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageConfig {
    pub mode: CoverageMode,
    pub cell_m: f64,
    pub padding_m: f64,
    pub exclude_highways: Vec<String>,
    pub join_tolerance_m: f64,
    pub cutoff_margin_min: u32,
    pub band_minutes: Vec<u32>,
    pub default_profile: String,
    pub precompute_maxzoom: u8,
    pub suggest_max_candidates: usize,
    pub max_grid_cells: usize,
    pub profiles: Vec<WalkProfileConfig>,
}

/// `coverage.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoverageMode {
    Auto,
    Network,
    Euclidean,
}

/// One `[[coverage.profiles]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkProfileConfig {
    pub id: String,
    pub label_zh: String,
    pub label_en: String,
    pub speed_m_s: f64,
}

/// The `[search]` section: request limits, walking speed, navigation link source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    pub default_limit: usize,
    pub max_limit: usize,
    pub max_offset: usize,
    pub max_radius_m: f64,
    pub max_query_chars: usize,
    pub max_query_terms: usize,
    pub suggest_default_limit: usize,
    pub suggest_max_limit: usize,
    /// Deprecated: search's `walk_minutes` use the default walking profile's speed
    /// ([`Config::search_walk_speed_m_s`]). Still honoured, with a warning at start, for one
    /// release.
    pub walk_speed_m_per_s: Option<f64>,
    pub link_source: String,
    /// With `near`, how many metres of distance a name match is worth (see `search::rank`).
    pub name_bonus_exact_m: f64,
    pub name_bonus_prefix_m: f64,
    pub name_bonus_contains_m: f64,
}

impl Config {
    /// The embedded default, with relative paths resolved against the current directory.
    pub fn embedded() -> Result<Config, Error> {
        Self::from_layers(None, PathBuf::from("."), "built-in configuration".into())
    }

    /// Loads `path` merged over the embedded default, or the default alone when `path` is `None`.
    /// A non-empty `LIFECIRCLE_ADMIN_TOKEN` in the environment replaces `admin.token`, and a
    /// non-empty `LIFECIRCLE_FEEDBACK_URL` replaces `feedback.url`.
    pub fn load(path: Option<&Path>) -> Result<Config, Error> {
        let mut config = match path {
            None => Self::embedded()?,
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let base_dir = path.parent().map(Path::to_owned).unwrap_or_default();
                Self::from_layers(Some(&text), base_dir, path.display().to_string())?
            }
        };
        match std::env::var(ADMIN_TOKEN_ENV) {
            Ok(token) if !token.is_empty() => config.set_admin_token(token)?,
            Ok(_) | Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::Invalid {
                    origin: ADMIN_TOKEN_ENV.into(),
                    message: "the admin token is not valid UTF-8".into(),
                });
            }
        }
        match std::env::var(FEEDBACK_URL_ENV) {
            Ok(url) if !url.trim().is_empty() => config.feedback.url = DatabaseUrl::new(url),
            Ok(_) | Err(std::env::VarError::NotPresent) => {}
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(Error::Invalid {
                    origin: FEEDBACK_URL_ENV.into(),
                    message: "the feedback database URL is not valid UTF-8".into(),
                });
            }
        }
        Ok(config)
    }

    /// The walking speed behind search's `walk_minutes`: the default walking profile's
    /// (`coverage.default_profile`), unless the deprecated `search.walk_speed_m_per_s` is set.
    pub fn search_walk_speed_m_s(&self) -> f64 {
        self.search.walk_speed_m_per_s.unwrap_or_else(|| {
            self.coverage
                .profiles
                .iter()
                .find(|p| p.id == self.coverage.default_profile)
                .map_or(1.0, |p| p.speed_m_s)
        })
    }

    /// Warnings about deprecated keys this configuration still uses, each naming the key and
    /// what replaces it; logged at start.
    pub fn deprecations(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(speed) = self.search.walk_speed_m_per_s {
            warnings.push(format!(
                "search.walk_speed_m_per_s ({speed}) is deprecated and will be removed in the next release: \
                 search now uses the speed_m_s of the default walking profile (coverage.default_profile = \"{}\"); \
                 set it there and delete search.walk_speed_m_per_s",
                self.coverage.default_profile
            ));
        }
        warnings
    }

    /// Replaces the admin token (e.g. with one from the environment) and validates it.
    pub fn set_admin_token(&mut self, token: String) -> Result<(), Error> {
        self.admin.token = token;
        self.validate_admin_token()
    }

    /// Parses `text` merged over the embedded default; relative paths resolve against `base_dir`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Config, Error> {
        Self::from_layers(Some(text), base_dir.to_owned(), "configuration".into())
    }

    fn from_layers(user: Option<&str>, base_dir: PathBuf, origin: String) -> Result<Config, Error> {
        let mut merged: toml::Table =
            DEFAULT_TOML
                .parse()
                .map_err(|e: toml::de::Error| Error::Syntax {
                    origin: "built-in configuration".into(),
                    message: e.to_string(),
                })?;
        if let Some(text) = user {
            let overlay: toml::Table =
                text.parse().map_err(|e: toml::de::Error| Error::Syntax {
                    origin: origin.clone(),
                    message: e.message().to_owned(),
                })?;
            merge_layers(&mut merged, overlay);
        }
        let mut config: Config =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| Error::Invalid {
                    origin: origin.clone(),
                    message: e.message().to_owned(),
                })?;
        config.base_dir = base_dir;
        config.server.local_time =
            crate::time::LocalTime::new(&config.server.time_zone).map_err(|message| {
                Error::Invalid {
                    origin: origin.clone(),
                    message: format!("server.time_zone: {message}"),
                }
            })?;
        config.basemap.roads = crate::road_classes::RoadClasses::new(&config.basemap.road_classes)
            .map_err(|message| Error::Invalid {
                origin: origin.clone(),
                message,
            })?;
        config.origin = origin;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Error> {
        let invalid = |message: String| Error::Invalid {
            origin: self.origin.clone(),
            message,
        };
        if let Some(unknown) = (self.service_load.categories.keys())
            .find(|id| !self.categories.iter().any(|c| &c.id == *id))
        {
            return Err(invalid(format!(
                "[service_load.categories.{unknown}]: no category has the id `{unknown}`; use an id of [[categories]]"
            )));
        }
        let t = &self.tiles;
        if t.minzoom > t.maxzoom || t.maxzoom > crate::geom::MAX_ZOOM {
            return Err(invalid(format!(
                "tiles.minzoom ({}) must not exceed tiles.maxzoom ({}), which must be at most {}",
                t.minzoom,
                t.maxzoom,
                crate::geom::MAX_ZOOM
            )));
        }
        if !(256..=16384).contains(&t.extent) || !t.extent.is_power_of_two() {
            return Err(invalid(format!(
                "tiles.extent must be a power of two from 256 to 16384, not {}",
                t.extent
            )));
        }
        if t.buffer > t.extent / 2 {
            return Err(invalid(format!(
                "tiles.buffer ({}) must be at most half of tiles.extent",
                t.buffer
            )));
        }
        for (key, cell) in [
            ("cluster_cell_px", t.cluster_cell_px),
            ("cluster_fine_cell_px", t.cluster_fine_cell_px),
        ] {
            if !(1..=256).contains(&cell) || !cell.is_power_of_two() {
                return Err(invalid(format!(
                    "tiles.{key} must be a power of two from 1 to 256, not {cell}"
                )));
            }
        }
        for (source, path) in &t.archives {
            if !crate::archive::SOURCES.contains(&source.as_str()) {
                return Err(invalid(format!(
                    "tiles.archives.{source}: no such tile source; archives can serve: {}",
                    crate::archive::SOURCES.join(", ")
                )));
            }
            if crate::archive::ArchiveKind::of(path).is_none() {
                return Err(invalid(format!(
                    "tiles.archives.{source} = {:?}: name a .pmtiles or .mbtiles file (lifecircle export writes them)",
                    path.display().to_string()
                )));
            }
        }
        if t.max_points_per_tile == 0 || t.max_tile_bytes < 1024 {
            return Err(invalid(
                "tiles.max_points_per_tile must be positive and tiles.max_tile_bytes at least 1024"
                    .into(),
            ));
        }
        let c = &self.cache;
        if c.precompute_minzoom > c.precompute_maxzoom {
            return Err(invalid(
                "cache.precompute_minzoom must not exceed cache.precompute_maxzoom".into(),
            ));
        }
        if c.precompute_threads == 0 {
            return Err(invalid(
                "cache.precompute_threads must be at least 1".into(),
            ));
        }
        self.server.validate().map_err(invalid)?;
        let style_url = self.web.basemap_style_url.trim();
        if !(style_url.is_empty()
            || style_url.starts_with("http://")
            || style_url.starts_with("https://")
            || style_url.starts_with('/'))
        {
            return Err(invalid(format!(
                "web.basemap_style_url must be empty, an http(s) URL or a path starting with /, not `{style_url}`"
            )));
        }
        let pmtiles_url = self.web.facilities_pmtiles_url.trim();
        if !(pmtiles_url.is_empty()
            || ((pmtiles_url.starts_with("http://")
                || pmtiles_url.starts_with("https://")
                || pmtiles_url.starts_with('/'))
                && pmtiles_url
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')))
        {
            return Err(invalid(format!(
                "web.facilities_pmtiles_url must be empty, an http(s) URL or a path starting with /, without spaces, commas or semicolons, not `{pmtiles_url}`"
            )));
        }
        let f = &self.feedback;
        if f.path.as_os_str().is_empty() {
            return Err(invalid("feedback.path must not be empty".into()));
        }
        for (key, value) in [
            ("max_message_chars", f.max_message_chars),
            ("max_contact_chars", f.max_contact_chars),
        ] {
            if !(1..=100_000).contains(&value) {
                return Err(invalid(format!(
                    "feedback.{key} must be from 1 to 100000, not {value}"
                )));
            }
        }
        for (key, value) in [
            ("rate_limit_per_minute", f.rate_limit_per_minute),
            ("rate_limit_burst", f.rate_limit_burst),
        ] {
            if value == 0 {
                return Err(invalid(format!("feedback.{key} must be at least 1")));
            }
        }
        self.validate_admin_token()?;
        self.validate_data().map_err(invalid)?;
        self.validate_area().map_err(invalid)?;
        self.validate_coverage().map_err(invalid)?;
        self.validate_search().map_err(invalid)?;
        self.taxonomy()?;
        Ok(())
    }

    fn validate_admin_token(&self) -> Result<(), Error> {
        let token = &self.admin.token;
        if token.is_empty() {
            return Ok(());
        }
        let message = if token.chars().count() < MIN_ADMIN_TOKEN_CHARS {
            format!(
                "admin.token (or {ADMIN_TOKEN_ENV}) must be at least {MIN_ADMIN_TOKEN_CHARS} characters, or empty to disable the admin routes"
            )
        } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
            format!(
                "admin.token (or {ADMIN_TOKEN_ENV}) may hold only visible ASCII characters (no spaces), as it travels in an HTTP header"
            )
        } else {
            return Ok(());
        };
        Err(Error::Invalid {
            origin: self.origin.clone(),
            message,
        })
    }

    fn validate_data(&self) -> Result<(), String> {
        let d = &self.data;
        let has_file = d
            .facilities
            .as_ref()
            .is_some_and(|f| !f.as_os_str().is_empty());
        match (has_file, d.sources.is_empty()) {
            (false, true) => {
                return Err(
                    "no facilities: set data.facilities to a file, or list [[data.sources]]".into(),
                );
            }
            (true, false) => {
                return Err(
                    "give data.facilities or [[data.sources]], not both (list the file as a source instead)"
                        .into(),
                );
            }
            _ => {}
        }
        let mut names: Vec<String> = Vec::new();
        for (idx, source) in d.sources.iter().enumerate() {
            if source.file.as_os_str().is_empty() {
                return Err(format!("data.sources[{idx}].file must name a file"));
            }
            let name = source.source_name();
            if name.is_empty() || name.contains(':') || name.contains('/') {
                return Err(format!(
                    "data.sources[{idx}] name `{name}` must be non-empty without `:` or `/` (set `name`)"
                ));
            }
            if names.contains(&name) {
                return Err(format!(
                    "data.sources[{idx}] name `{name}` is used by an earlier source; give each source its own `name`"
                ));
            }
            names.push(name);
            if let Some(column) = source.fields.iter().find(|(_, c)| c.trim().is_empty()) {
                return Err(format!(
                    "data.sources[{idx}].fields.{} is empty; name a column or leave the field out",
                    column.0
                ));
            }
        }
        if !(self.evaluation.moved_distance_m.is_finite()
            && self.evaluation.moved_distance_m >= 0.0)
        {
            return Err(format!(
                "evaluation.moved_distance_m must be a distance in metres (0 or more), not {}",
                self.evaluation.moved_distance_m
            ));
        }
        let mut baseline_names: Vec<&str> = Vec::new();
        for (idx, baseline) in self.baselines.iter().enumerate() {
            let name = baseline.name.trim();
            if name.is_empty() || baseline_names.contains(&name) {
                return Err(format!(
                    "baselines[{idx}] needs a name of its own (`name = \"2021\"`), not `{name}`"
                ));
            }
            baseline_names.push(name);
            if baseline.sources.is_empty() {
                return Err(format!(
                    "baselines[{idx}] (`{name}`) lists no sources; give sources = [{{ file = \"…\", name = \"…\" }}]"
                ));
            }
            if let Some(source) = baseline
                .sources
                .iter()
                .find(|s| s.file.as_os_str().is_empty())
            {
                return Err(format!(
                    "baselines[{idx}] (`{name}`) has a source without a file ({:?})",
                    source.name
                ));
            }
        }
        for (key, layer, allowed) in [
            ("roads", &d.roads, &["highway", "name"][..]),
            ("subdistricts", &d.subdistricts, &["name", "name_en"][..]),
            (
                "residents",
                &d.residents,
                &["population", "name", "subdistrict"][..],
            ),
        ] {
            if let Some(field) = layer
                .0
                .fields
                .keys()
                .find(|f| !allowed.contains(&f.as_str()))
            {
                return Err(format!(
                    "data.{key}.fields.{field} is not a field of this layer (known: {})",
                    allowed.join(", ")
                ));
            }
        }
        for (key, value) in [
            ("max_skipped_share", d.max_skipped_share),
            ("max_facility_drop", d.max_facility_drop),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("data.{key} must be from 0 to 1, not {value}"));
            }
        }
        if !(0.0..=1000.0).contains(&d.dedupe_distance_m) {
            return Err(format!(
                "data.dedupe_distance_m must be from 0 to 1000 metres (0: no merging), not {}",
                d.dedupe_distance_m
            ));
        }
        Ok(())
    }

    fn validate_area(&self) -> Result<(), String> {
        let a = &self.area;
        if a.bbox.is_empty() {
            return Ok(());
        }
        if a.boundary().is_some() {
            return Err("give area.bbox or area.boundary, not both".into());
        }
        let valid = match a.bbox() {
            Some([w, s, e, n]) => {
                crate::geom::is_valid_lonlat(w, s)
                    && crate::geom::is_valid_lonlat(e, n)
                    && w < e
                    && s < n
            }
            None => false,
        };
        if !valid {
            return Err(format!(
                "area.bbox must be [west, south, east, north] in WGS84 degrees with west < east and south < north, not {:?}",
                a.bbox
            ));
        }
        Ok(())
    }

    fn validate_coverage(&self) -> Result<(), String> {
        let c = &self.coverage;
        if !(5.0..=500.0).contains(&c.cell_m) {
            return Err(format!(
                "coverage.cell_m must be from 5 to 500 metres, not {}",
                c.cell_m
            ));
        }
        if !(0.0..=10_000.0).contains(&c.padding_m) {
            return Err(format!(
                "coverage.padding_m must be from 0 to 10000 metres, not {}",
                c.padding_m
            ));
        }
        if !(0.0..=50.0).contains(&c.join_tolerance_m) {
            return Err(format!(
                "coverage.join_tolerance_m must be from 0 (off) to 50 metres, not {}",
                c.join_tolerance_m
            ));
        }
        if c.cutoff_margin_min > 60 {
            return Err(format!(
                "coverage.cutoff_margin_min must be at most 60 minutes, not {}",
                c.cutoff_margin_min
            ));
        }
        let ascending = c.band_minutes.windows(2).all(|w| w[0] < w[1]);
        if c.band_minutes.is_empty()
            || !ascending
            || c.band_minutes.iter().any(|&m| !(1..=120).contains(&m))
        {
            return Err(format!(
                "coverage.band_minutes must be a non-empty ascending list of minutes from 1 to 120, not {:?}",
                c.band_minutes
            ));
        }
        if c.precompute_maxzoom > crate::geom::MAX_ZOOM {
            return Err(format!(
                "coverage.precompute_maxzoom must be at most {}, not {}",
                crate::geom::MAX_ZOOM,
                c.precompute_maxzoom
            ));
        }
        if c.suggest_max_candidates == 0 || c.max_grid_cells == 0 {
            return Err(
                "coverage.suggest_max_candidates and coverage.max_grid_cells must be positive"
                    .into(),
            );
        }
        if c.profiles.is_empty() {
            return Err("coverage.profiles must define at least one walking profile".into());
        }
        for (idx, p) in c.profiles.iter().enumerate() {
            let id_ok = !p.id.is_empty()
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !id_ok {
                return Err(format!(
                    "coverage.profiles id `{}` is not a lowercase identifier (a-z, 0-9, _)",
                    p.id
                ));
            }
            if c.profiles[..idx].iter().any(|q| q.id == p.id) {
                return Err(format!("coverage.profiles id `{}` is defined twice", p.id));
            }
            if !(0.1..=5.0).contains(&p.speed_m_s) {
                return Err(format!(
                    "coverage.profiles `{}` has speed_m_s {}; expected 0.1 to 5.0 metres per second",
                    p.id, p.speed_m_s
                ));
            }
        }
        if !c.profiles.iter().any(|p| p.id == c.default_profile) {
            return Err(format!(
                "coverage.default_profile `{}` is not one of coverage.profiles ({})",
                c.default_profile,
                c.profiles
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }

    fn validate_search(&self) -> Result<(), String> {
        let s = &self.search;
        if !(1..=1000).contains(&s.max_limit) {
            return Err(format!(
                "search.max_limit must be from 1 to 1000, not {}",
                s.max_limit
            ));
        }
        if !(1..=s.max_limit).contains(&s.default_limit) {
            return Err(format!(
                "search.default_limit must be from 1 to search.max_limit ({}), not {}",
                s.max_limit, s.default_limit
            ));
        }
        if s.max_offset > 100_000 {
            return Err(format!(
                "search.max_offset must be at most 100000, not {}",
                s.max_offset
            ));
        }
        if !(s.max_radius_m.is_finite() && s.max_radius_m > 0.0 && s.max_radius_m <= 100_000.0) {
            return Err(format!(
                "search.max_radius_m must be greater than 0 and at most 100000 metres, not {}",
                s.max_radius_m
            ));
        }
        if !(1..=256).contains(&s.max_query_chars) {
            return Err(format!(
                "search.max_query_chars must be from 1 to 256, not {}",
                s.max_query_chars
            ));
        }
        if !(1..=32).contains(&s.max_query_terms) {
            return Err(format!(
                "search.max_query_terms must be from 1 to 32, not {}",
                s.max_query_terms
            ));
        }
        if !(1..=100).contains(&s.suggest_max_limit) {
            return Err(format!(
                "search.suggest_max_limit must be from 1 to 100, not {}",
                s.suggest_max_limit
            ));
        }
        if !(1..=s.suggest_max_limit).contains(&s.suggest_default_limit) {
            return Err(format!(
                "search.suggest_default_limit must be from 1 to search.suggest_max_limit ({}), not {}",
                s.suggest_max_limit, s.suggest_default_limit
            ));
        }
        if let Some(speed) = s.walk_speed_m_per_s
            && !(speed.is_finite() && (0.3..=3.0).contains(&speed))
        {
            return Err(format!(
                "search.walk_speed_m_per_s must be from 0.3 to 3.0 metres per second, not {speed}"
            ));
        }
        let bonuses = [
            ("name_bonus_exact_m", s.name_bonus_exact_m),
            ("name_bonus_prefix_m", s.name_bonus_prefix_m),
            ("name_bonus_contains_m", s.name_bonus_contains_m),
        ];
        for (key, metres) in bonuses {
            if !(metres.is_finite() && (0.0..=5000.0).contains(&metres)) {
                return Err(format!(
                    "search.{key} must be from 0 to 5000 metres, not {metres}"
                ));
            }
        }
        if !(s.name_bonus_exact_m >= s.name_bonus_prefix_m
            && s.name_bonus_prefix_m >= s.name_bonus_contains_m)
        {
            return Err(format!(
                "search name bonuses must not grow as the match weakens: name_bonus_exact_m ({}) >= name_bonus_prefix_m ({}) >= name_bonus_contains_m ({})",
                s.name_bonus_exact_m, s.name_bonus_prefix_m, s.name_bonus_contains_m
            ));
        }
        let source = s.link_source.trim();
        if source.is_empty() || source.chars().count() > 64 {
            return Err(
                "search.link_source must be a name of 1 to 64 characters, e.g. \"lifecircle\""
                    .into(),
            );
        }
        Ok(())
    }

    /// Builds the category taxonomy from the `groups`, `taxonomy` and `categories` sections.
    pub fn taxonomy(&self) -> Result<crate::taxonomy::Taxonomy, Error> {
        crate::taxonomy::Taxonomy::from_config(&self.groups, &self.categories, &self.taxonomy)
            .and_then(|taxonomy| taxonomy.with_rules(&self.category_rules))
            .map_err(|source| Error::Taxonomy {
                origin: self.origin.clone(),
                source,
            })
    }

    /// Resolves a configured path against the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// Overlays a user file on the default: tables merge key by key (see [`merge_tables`]), with two
/// exceptions that make partial overrides possible:
///
/// - `[[category_rules]]` of the overlay are added after the default's (so a file can add one
///   rule), unless the overlay sets `taxonomy.replace_default_rules = true`;
/// - an overlay giving `[[data.sources]]` drops the default's single-file `data.facilities`
///   (the two forms exclude each other).
fn merge_layers(base: &mut toml::Table, mut overlay: toml::Table) {
    if let Some(toml::Value::Array(mut added)) = overlay.remove("category_rules") {
        let replace = overlay
            .get("taxonomy")
            .and_then(|t| t.get("replace_default_rules"))
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        match base.get_mut("category_rules") {
            Some(toml::Value::Array(rules)) if !replace => rules.append(&mut added),
            _ => {
                base.insert("category_rules".into(), toml::Value::Array(added));
            }
        }
    }
    let overlay_data = overlay.get("data").and_then(toml::Value::as_table);
    if overlay_data.is_some_and(|d| d.contains_key("sources") && !d.contains_key("facilities"))
        && let Some(toml::Value::Table(data)) = base.get_mut("data")
    {
        data.remove("facilities");
    }
    // The default's baselines describe the bundled sample: data of one's own drops them.
    let overlay_data = overlay.get("data").and_then(toml::Value::as_table);
    if overlay_data.is_some_and(|d| d.contains_key("sources") || d.contains_key("facilities"))
        && !overlay.contains_key("baselines")
    {
        base.remove("baselines");
    }
    merge_tables(base, overlay);
}

/// Overlays `overlay` on `base`: tables merge recursively, everything else replaces.
fn merge_tables(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(overlay_table)) => {
                merge_tables(base_table, overlay_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(toml: &str, expected_fragment: &str) {
        let err = Config::from_toml_str(toml, Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expected_fragment),
            "error {err:?} lacks {expected_fragment:?}"
        );
    }

    #[test]
    fn embedded_default_is_valid() {
        let config = Config::embedded().unwrap();
        assert_eq!(config.server.listen.port(), 8080);
        assert!(config.taxonomy().unwrap().len() >= 14);
    }

    #[test]
    fn user_file_overrides_only_its_keys() {
        let config = Config::from_toml_str("[tiles]\nmaxzoom = 15\n", Path::new("/srv")).unwrap();
        assert_eq!(config.tiles.maxzoom, 15);
        assert_eq!(config.tiles.extent, 4096);
        assert_eq!(
            config.resolve(Path::new("data/x.fgb")),
            Path::new("/srv/data/x.fgb")
        );
    }

    #[test]
    fn bad_files_name_the_problem() {
        check_err("[tiles]\nmaxzom = 15\n", "unknown field `maxzom`");
        check_err("[tiles\n", "not valid TOML");
        check_err("[tiles]\nmaxzoom = 30\n", "tiles.maxzoom");
        check_err("[tiles]\nextent = 1000\n", "tiles.extent");
        check_err("[server]\nlisten = \"nowhere\"\n", "invalid socket address");
        check_err(
            "[web]\nbasemap_style_url = \"javascript:alert(1)\"\n",
            "web.basemap_style_url",
        );
        check_err(
            "[taxonomy]\nfallback = \"nope\"\n",
            "fallback category `nope`",
        );
        check_err("[feedback]\npath = \"\"\n", "feedback.path");
        check_err(
            "[feedback]\nsynchronous = \"off\"\n",
            "unknown variant `off`",
        );
        check_err(
            "[feedback]\nmax_message_chars = 0\n",
            "feedback.max_message_chars",
        );
        check_err(
            "[feedback]\nrate_limit_burst = 0\n",
            "feedback.rate_limit_burst",
        );
        check_err("[feedback]\nrate_limit = 5\n", "unknown field `rate_limit`");
        check_err("[admin]\ntoken = \"short\"\n", "admin.token");
        check_err("[area]\nbbox = [121.5, 31.1, 121.4, 31.3]\n", "area.bbox");
        check_err("[area]\nbbox = [121.4, 31.1]\n", "area.bbox");
        check_err("[admin]\ntoken = \"has a space in it ok\"\n", "admin.token");
    }

    #[test]
    fn feedback_and_admin_defaults() {
        let config = Config::embedded().unwrap();
        assert_eq!(config.feedback.path, Path::new("feedback.sqlite"));
        assert_eq!(config.feedback.synchronous, Synchronous::Full);
        assert_eq!(config.feedback.store, FeedbackStoreKind::Sqlite);
        assert!(config.feedback.url.is_empty());
        assert!(
            config.admin.token.is_empty(),
            "admin routes are off by default"
        );
    }

    #[test]
    fn search_walks_at_the_default_profiles_speed_and_the_old_key_warns() {
        let config = Config::embedded().unwrap();
        assert_eq!(config.search_walk_speed_m_s(), 1.0);
        assert!(config.deprecations().is_empty());
        let elderly = Config::from_toml_str(
            "[coverage]\ndefault_profile = \"elderly\"\n",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(elderly.search_walk_speed_m_s(), 0.8);
        let old =
            Config::from_toml_str("[search]\nwalk_speed_m_per_s = 1.2\n", Path::new(".")).unwrap();
        assert_eq!(old.search_walk_speed_m_s(), 1.2);
        let warnings = old.deprecations();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("search.walk_speed_m_per_s") && warnings[0].contains("speed_m_s"),
            "{warnings:?}"
        );
    }

    #[test]
    fn the_feedback_store_is_chosen_and_its_password_never_shown() {
        let config = Config::from_toml_str(
            "[feedback]\nstore = \"postgres\"\nurl = \"postgres://lc:s3cret@db:5432/lc\"\n",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(config.feedback.store, FeedbackStoreKind::Postgres);
        assert_eq!(
            config.feedback.url.expose(),
            "postgres://lc:s3cret@db:5432/lc"
        );
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let err = Config::from_toml_str("[feedback]\nstore = \"mysql\"\n", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mysql`") && err.contains("postgres"), "{err}");
    }

    #[test]
    fn admin_token_is_validated_and_never_printed() {
        let mut config = Config::embedded().unwrap();
        assert!(config.set_admin_token("too-short".into()).is_err());
        config
            .set_admin_token("a-long-enough-secret-token".into())
            .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("a-long-enough-secret-token"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn coverage_section_is_validated() {
        let config = Config::embedded().unwrap();
        assert_eq!(config.coverage.mode, CoverageMode::Auto);
        assert_eq!(config.coverage.profiles.len(), 2);
        check_err(
            "[coverage]\nmode = \"flying\"\n",
            "unknown variant `flying`",
        );
        check_err("[coverage]\ncell_m = 1.0\n", "coverage.cell_m");
        check_err(
            "[coverage]\nband_minutes = [10, 5]\n",
            "coverage.band_minutes",
        );
        check_err(
            "[coverage]\ndefault_profile = \"bike\"\n",
            "coverage.default_profile `bike`",
        );
        check_err(
            "[[coverage.profiles]]\nid = \"fast\"\nlabel_zh = \"快\"\nlabel_en = \"Fast\"\nspeed_m_s = 9.0\n",
            "speed_m_s 9",
        );
        check_err("[coverage]\ncel_m = 30.0\n", "unknown field `cel_m`");
        check_err("[search]\nmax_limit = 0\n", "search.max_limit");
        check_err("[search]\ndefault_limit = 500\n", "search.default_limit");
        check_err("[search]\nmax_radius_m = -1.0\n", "search.max_radius_m");
        check_err(
            "[search]\nname_bonus_exact_m = 9000.0\n",
            "search.name_bonus_exact_m",
        );
        check_err(
            "[search]\nname_bonus_prefix_m = 600.0\n",
            "name_bonus_exact_m (500) >= name_bonus_prefix_m (600)",
        );
        check_err(
            "[search]\nwalk_speed_m_per_s = 30.0\n",
            "search.walk_speed_m_per_s",
        );
        check_err("[search]\nlink_source = \" \"\n", "search.link_source");
        check_err("[search]\nmax_radius = 5\n", "unknown field `max_radius`");
    }

    #[test]
    fn data_layers_take_a_path_a_table_or_nothing() {
        let config = Config::embedded().unwrap();
        let roads = config.data.roads.file().unwrap();
        assert_eq!(roads.file, Path::new("data/changning/roads.fgb"));
        assert_eq!(
            config.data.facilities.as_deref(),
            Some(Path::new("data/changning/facilities.fgb"))
        );

        let config = Config::from_toml_str(
            "[data]\nroads = \"\"\n[data.residents]\nfile = \"r.shp\"\ndatum = \"gcj02\"\nfields = { population = \"人口\" }\n",
            Path::new("."),
        )
        .unwrap();
        assert!(config.data.roads.file().is_none());
        let residents = config.data.residents.file().unwrap();
        assert_eq!(residents.datum, crate::geom::datum::Datum::Gcj02);
        assert_eq!(residents.column("population", "population"), "人口");
        // The default's other layers stay.
        assert!(config.data.subdistricts.file().is_some());

        check_err(
            "[data.roads]\nfile = \"r.fgb\"\nfields = { class = \"fclass\" }\n",
            "data.roads.fields.class",
        );
        check_err("[data.roads]\nfiel = \"r.fgb\"\n", "unknown field `fiel`");
        check_err("[data]\nroads = 3\n", "a file path");
    }

    #[test]
    fn sources_replace_the_default_single_file() {
        let config = Config::from_toml_str(
            "[[data.sources]]\nfile = \"a/教育局.csv\"\nas_of = 2024-06-30\ndatum = \"bd09\"\n[data.sources.fields]\nid = \"编号\"\n\n[[data.sources]]\nfile = \"osm.fgb\"\nname = \"osm\"\nas_of = \"2025-01-02\"\n",
            Path::new("."),
        )
        .unwrap();
        assert!(config.data.facilities.is_none());
        let [bureau, osm] = &config.data.sources[..] else {
            panic!("two sources")
        };
        assert_eq!(bureau.source_name(), "教育局");
        assert_eq!(bureau.as_of.as_ref().unwrap().text, "2024-06-30");
        assert_eq!(osm.source_name(), "osm");
        assert_eq!(
            osm.as_of.as_ref().unwrap().days - bureau.as_of.as_ref().unwrap().days,
            186
        );
        check_err(
            "[data]\nfacilities = \"f.fgb\"\n[[data.sources]]\nfile = \"a.csv\"\n",
            "not both",
        );
        check_err(
            "[[data.sources]]\nfile = \"a.csv\"\n[[data.sources]]\nfile = \"b/a.fgb\"\n",
            "name `a` is used by an earlier source",
        );
        check_err(
            "[[data.sources]]\nfile = \"a.csv\"\nname = \"x:y\"\n",
            "without `:`",
        );
        check_err(
            "[[data.sources]]\nfile = \"a.csv\"\nas_of = \"2024-13-01\"\n",
            "write it as YYYY-MM-DD",
        );
        check_err(
            "[[data.sources]]\nfile = \"a.csv\"\ndatum = \"wgs\"\n",
            "unknown variant `wgs`",
        );
        check_err("[data]\nfacilities = \"\"\n", "no facilities");
        check_err(
            "[data]\nmax_skipped_share = 2.0\n",
            "data.max_skipped_share",
        );
    }

    #[test]
    fn service_load_overrides_name_real_categories_and_decays() {
        check_err(
            "[service_load.categories.hospitals]\ndecay = \"linear\"\n",
            "[service_load.categories.hospitals]: no category has the id `hospitals`",
        );
        check_err("[service_load]\ndecay = \"cubic\"\n", "cubic");
        let config = Config::from_toml_str(
            "[service_load]\ndecay = \"none\"\n[service_load.categories.elderly]\ncapacity = \"count\"\nbelow = 0.2\n",
            std::path::Path::new("."),
        )
        .unwrap();
        assert_eq!(
            config.service_load.for_category("elderly"),
            (Decay::None, CapacitySource::Count, Some(0.2))
        );
        assert_eq!(
            config.service_load.for_category("market"),
            (Decay::None, CapacitySource::FloorArea, None)
        );
    }
}
