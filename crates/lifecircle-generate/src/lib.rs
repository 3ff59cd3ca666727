//! Deterministic synthetic sample data.
//!
//! Takes [`GenerateOptions`] (a [`Preset`] area, a seed and a facility count) and writes four
//! FlatGeobuf files (WGS84, EPSG:4326, each with a packed Hilbert R-tree index) into a directory:
//!
//! | file | geometry | columns |
//! |---|---|---|
//! | `facilities.fgb` | Point (a few parks: Polygon) | `id` ULong, `name`, `name_en`?, `category`, `address`?, `subdistrict`, `phone`? |
//! | `roads.fgb` | LineString | `highway`, `name`? |
//! | `subdistricts.fgb` | Polygon | `name`, `name_en`, `code` |
//! | `residents.fgb` | Point | `name`, `population` Int, `subdistrict` |
//!
//! (`?` = nullable: the property is absent for some features.) The same options always give
//! byte-identical files. Everything is SYNTHETIC: subdistrict outlines approximate the real
//! layout of Changning District, facilities and streets are invented (with realistic Chinese
//! names), none of it is survey data.
//!
//! Shape of the data, which the rest of the server relies on for tests and benchmarks:
//! - roads are split at every street crossing, and segments meet at bit-identical endpoints;
//! - a river band (苏州河-like; in the city preset also a 黄浦江-like one) is crossed only on a
//!   few bridges, so walking distance differs from straight-line distance near it;
//! - one elevated motorway (`highway = "motorway"`) passes over the streets, touching them only
//!   at its ramps;
//! - facility categories are mostly taxonomy ids, about 15 % raw aliases from the configuration,
//!   about 0.5 % unknown values (which ingest files under `other`);
//! - facility density is higher in the older eastern subdistricts (Changning) or toward the city
//!   centre (Shanghai preset: about 10,000 facilities in a downtown z14 tile per million).

mod evaluation;
mod layout;
mod names;
mod roads;

use flatgeobuf::{ColumnType, GeometryType};
use geo::{Coord, Geometry, LineString, Point, Polygon};
use geozero::ColumnValue;
use layout::{Axis, Frame, Layout, LayoutSpec, RegionDef, River};
use names::{Kind, NameCtx, Road};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use roads::{AxisSpacing, MotorwaySpec, Network, RoadNames, RoadSpec};
use std::collections::HashSet;

use lifecircle::fgb_write::FgbLayer;
use std::path::{Path, PathBuf};

/// Which area to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Changning District (长宁区), its ten subdistricts; about 4,000 facilities. The bundled
    /// sample.
    Changning,
    /// Central Shanghai (lon 121.20–121.75, lat 30.95–31.45) with sixteen synthetic districts,
    /// for benchmarks (typically a million facilities).
    Shanghai,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub preset: Preset,
    /// Seed of every random choice; the same options give byte-identical files.
    pub seed: u64,
    /// Number of facilities to write (at least 1). Residential compounds scale with it.
    pub n_facilities: usize,
}

impl GenerateOptions {
    /// The bundled Changning sample: seed 15, 4,000 facilities.
    pub fn changning() -> Self {
        GenerateOptions {
            preset: Preset::Changning,
            seed: 15,
            n_facilities: 4000,
        }
    }

    /// A central-Shanghai benchmark set with `n_facilities` facilities (seed 15).
    pub fn shanghai(n_facilities: usize) -> Self {
        GenerateOptions {
            preset: Preset::Shanghai,
            seed: 15,
            n_facilities,
        }
    }
}

/// What [`write_dataset`] wrote.
#[derive(Debug, Clone)]
pub struct GenerateSummary {
    pub n_facilities: usize,
    pub n_road_segments: usize,
    pub n_subdistricts: usize,
    pub n_residential: usize,
    /// The files written: facilities, roads, subdistricts, residents.
    pub files: Vec<PathBuf>,
}

/// Why generation failed. Each message names the file and the problem (the underlying I/O
/// error is part of the message, not a separate `source`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid generator options: {0}")]
    InvalidOptions(String),
    #[error("cannot create output directory {}: {error}", path.display())]
    CreateDir {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Fgb(#[from] lifecircle::fgb_write::Error),
}

/// Largest accepted `n_facilities`.
pub const MAX_FACILITIES: usize = 20_000_000;

/// Generate the dataset described by `opts` into `out_dir` (created if missing), replacing
/// `facilities.fgb`, `roads.fgb`, `subdistricts.fgb` and `residents.fgb` there. Each file is
/// written to a temporary name first and renamed when complete.
pub fn write_dataset(opts: &GenerateOptions, out_dir: &Path) -> Result<GenerateSummary, Error> {
    if opts.n_facilities == 0 || opts.n_facilities > MAX_FACILITIES {
        return Err(Error::InvalidOptions(format!(
            "n_facilities must be between 1 and {MAX_FACILITIES}, got {}",
            opts.n_facilities
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(|error| Error::CreateDir {
        path: out_dir.to_path_buf(),
        error,
    })?;
    let spec = Spec::for_preset(opts.preset);
    let world = World::build(&spec, opts.seed);
    let meta = Meta {
        description: format!(
            "SYNTHETIC data from the lifecircle generator (preset {}, seed {}): approximate \
             subdistrict outlines, invented facilities and streets; not survey data.",
            spec.label, opts.seed
        ),
    };

    let files: Vec<PathBuf> = ["facilities", "roads", "subdistricts", "residents"]
        .iter()
        .map(|n| out_dir.join(format!("{n}.fgb")))
        .collect();
    let mut sample = evaluation::Sample::new(stream(opts.seed, 7), opts.n_facilities);
    let n_facilities = write_facilities(
        &spec,
        &world,
        opts.n_facilities,
        &files[0],
        &meta,
        &mut stream(opts.seed, 3),
        &mut sample,
    )?;
    let n_road_segments = write_roads(&world, &files[1], &meta)?;
    let n_subdistricts = write_subdistricts(&world, &files[2], &meta)?;
    let n_residents =
        ((opts.n_facilities as f64 * spec.residents_per_facility).round() as usize).max(10);
    let n_residential = write_residents(
        &spec,
        &world,
        n_residents,
        opts.n_facilities,
        &files[3],
        &meta,
        &mut stream(opts.seed, 4),
    )?;
    Ok(GenerateSummary {
        n_facilities,
        n_road_segments,
        n_subdistricts,
        n_residential,
        files,
    })
}

/// An independent random stream per part of the data, so that e.g. the facility count does not
/// change the streets.
fn stream(seed: u64, part: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(part);
    rng
}

// ---------------------------------------------------------------------------------------------
// Presets

/// A centre of facility density: Gaussian around `lon`/`lat`.
#[derive(Debug, Clone, Copy)]
struct Hotspot {
    lon: f64,
    lat: f64,
    sigma_m: f64,
    weight: f64,
}

/// Everything a preset fixes.
struct Spec {
    label: &'static str,
    frame: Frame,
    layout: LayoutSpec,
    regions: Vec<RegionDef>,
    rivers: Vec<River>,
    roads: RoadSpec,
    hotspots: Vec<Hotspot>,
    /// Share of facilities drawn around hotspots (the rest: by subdistrict density).
    facility_hot_share: f64,
    resident_hot_share: f64,
    residents_per_facility: f64,
    district_zh: &'static str,
    district_en: &'static str,
    /// Neighbourhood place words for names, besides road stems and subdistrict names.
    places: &'static [(&'static str, &'static str)],
    /// Real Changning landmarks and per-subdistrict institutions.
    landmarks: bool,
    /// Keep facility and compound names unique (apart from a few deliberate chain duplicates).
    unique_names: bool,
    /// Share of generic parks written as small polygons.
    park_polygon_p: f64,
}

impl Spec {
    fn for_preset(preset: Preset) -> Spec {
        match preset {
            Preset::Changning => changning_spec(),
            Preset::Shanghai => shanghai_spec(),
        }
    }
}

fn region(
    key: char,
    name: &str,
    name_en: &str,
    code: &str,
    short: (&str, &str),
    density: f64,
) -> RegionDef {
    RegionDef {
        key,
        name: name.into(),
        name_en: name_en.into(),
        code: code.into(),
        short_zh: short.0.into(),
        short_en: short.1.into(),
        density,
    }
}

/// Changning's subdistricts: map key, name, English name, code, short place word (Chinese,
/// English) and relative facility density (older, denser east). The codes follow the pattern of
/// the statistical division codes (district 310105 + town number); treat them as labels.
#[rustfmt::skip]
const CHANGNING_SUBDISTRICTS: [(char, &str, &str, &str, &str, &str, f64); 10] = [
    ('U', "华阳路街道",   "Huayang Road Subdistrict",   "310105001", "华阳",   "Huayang",     1.7),
    ('J', "江苏路街道",   "Jiangsu Road Subdistrict",   "310105002", "江苏",   "Jiangsu",     1.8),
    ('N', "新华路街道",   "Xinhua Road Subdistrict",    "310105004", "新华",   "Xinhua",      1.6),
    ('Z', "周家桥街道",   "Zhoujiaqiao Subdistrict",    "310105005", "周家桥", "Zhoujiaqiao", 1.1),
    ('T', "天山路街道",   "Tianshan Road Subdistrict",  "310105006", "天山",   "Tianshan",    1.4),
    ('X', "仙霞新村街道", "Xianxia Xincun Subdistrict", "310105008", "仙霞",   "Xianxia",     1.35),
    ('H', "虹桥街道",     "Hongqiao Subdistrict",       "310105009", "虹桥",   "Hongqiao",    1.3),
    ('C', "程家桥街道",   "Chengjiaqiao Subdistrict",   "310105010", "程家桥", "Chengjiaqiao", 0.6),
    ('B', "北新泾街道",   "Beixinjing Subdistrict",     "310105011", "北新泾", "Beixinjing",  0.85),
    ('W', "新泾镇",       "Xinjing Town",               "310105102", "新泾",   "Xinjing",     0.45),
];

/// Changning District. The subdistrict map is SYNTHETIC: a 12 × 6 lattice of ~950 m cells whose
/// assignment follows the real arrangement (华阳路/江苏路/新华路 in the east; 周家桥, 天山路,
/// 仙霞新村, 虹桥 in the middle; 程家桥, 北新泾, 新泾镇 in the west), not surveyed boundaries.
fn changning_spec() -> Spec {
    let frame = Frame::new(121.39, 31.215);
    let x = |lon: f64| frame.x_of_lon(lon);
    let y = |lat: f64| frame.y_of_lat(lat);
    let ll = |lon: f64, lat: f64| [x(lon), y(lat)];
    let layout = LayoutSpec {
        map: vec![
            "...BBZZZUU..",
            "WWWBBZZTUUJ.",
            "WWWBBTTTUJJJ",
            "WWWCXXTTHNNN",
            "WWCCXXHHHNN.",
            ".WCCCXHHHN..",
        ],
        west_x_m: x(121.33),
        east_x_m: x(121.45),
        south_y_m: y(31.19),
        north_y_m: y(31.24),
        corner_jitter: 0.12,
        edge_points: 2,
        edge_jitter: 0.07,
    };
    let regions = CHANGNING_SUBDISTRICTS
        .iter()
        .map(|&(key, name, name_en, code, short_zh, short_en, density)| {
            region(key, name, name_en, code, (short_zh, short_en), density)
        })
        .collect();
    // A 苏州河-like river across the north of the district, crossed on five bridges.
    let river = River::new(
        Axis::EastWest,
        vec![
            ll(121.31, 31.2300),
            ll(121.36, 31.2292),
            ll(121.39, 31.2312),
            ll(121.42, 31.2322),
            ll(121.47, 31.2305),
        ],
        vec![[110.0, 2600.0, 0.7], [45.0, 1100.0, 2.1]],
        30.0,
        5,
    );
    let roads = RoadSpec {
        x_range_m: (x(121.326), x(121.454)),
        y_range_m: (y(31.187), y(31.243)),
        // Older, denser streets in the east.
        x_spacing: AxisSpacing {
            min_m: 150.0,
            max_m: 245.0,
            dense_at_m: x(121.45),
            ramp_m: x(121.45) - x(121.33),
        },
        y_spacing: AxisSpacing {
            min_m: 180.0,
            max_m: 220.0,
            dense_at_m: 0.0,
            ramp_m: 3000.0,
        },
        main_every: 3,
        minor_drop_p: 0.06,
        diagonal_p: 0.05,
        warp_amp_m: 65.0,
        warp_wavelength_m: (2400.0, 3700.0),
        names: RoadNames::Changning,
        motorway: Some(MotorwaySpec {
            zh: "延安高架路",
            en: "Yan'an Elevated Road",
            follow_road: Some("延安西路"),
            near_y_m: y(31.206),
            x_from_m: x(121.32),
            x_to_m: x(121.46),
            offset_m: 22.0,
        }),
        min_component: 5,
    };
    let hotspots = vec![
        // 中山公园, 天山, 古北, 虹桥开发区, 新华路
        Hotspot {
            lon: 121.4175,
            lat: 31.2215,
            sigma_m: 450.0,
            weight: 0.3,
        },
        Hotspot {
            lon: 121.402,
            lat: 31.214,
            sigma_m: 400.0,
            weight: 0.2,
        },
        Hotspot {
            lon: 121.400,
            lat: 31.199,
            sigma_m: 450.0,
            weight: 0.2,
        },
        Hotspot {
            lon: 121.408,
            lat: 31.203,
            sigma_m: 350.0,
            weight: 0.15,
        },
        Hotspot {
            lon: 121.430,
            lat: 31.207,
            sigma_m: 400.0,
            weight: 0.15,
        },
    ];
    Spec {
        label: "changning",
        frame,
        layout,
        regions,
        rivers: vec![river],
        roads,
        hotspots,
        facility_hot_share: 0.2,
        resident_hot_share: 0.1,
        residents_per_facility: 0.225,
        district_zh: "长宁区",
        district_en: "Changning District",
        places: names::CHANGNING_PLACES,
        landmarks: true,
        unique_names: true,
        park_polygon_p: 0.015,
    }
}

/// Central Shanghai for benchmarks: sixteen SYNTHETIC districts (区1..区16, a jittered 4 × 4
/// lattice), a 黄浦江-like and a 苏州河-like river, facilities strongly clustered toward 人民广场.
fn shanghai_spec() -> Spec {
    let frame = Frame::new(121.475, 31.20);
    let x = |lon: f64| frame.x_of_lon(lon);
    let y = |lat: f64| frame.y_of_lat(lat);
    let layout = LayoutSpec {
        map: vec!["abcd", "efgh", "ijkl", "mnop"],
        west_x_m: x(121.20),
        east_x_m: x(121.75),
        south_y_m: y(30.95),
        north_y_m: y(31.45),
        corner_jitter: 0.1,
        edge_points: 3,
        edge_jitter: 0.05,
    };
    let regions = (0..16)
        .map(|i| {
            region(
                (b'a' + i as u8) as char,
                &format!("区{}", i + 1),
                &format!("Synthetic District {}", i + 1),
                &format!("SYN{:02}", i + 1),
                ("", ""),
                1.0,
            )
        })
        .collect();
    // (lat, lon) → [along = y, across = x]
    let huangpu: Vec<[f64; 2]> = [
        (30.94, 121.420),
        (31.00, 121.440),
        (31.07, 121.465),
        (31.17, 121.460),
        (31.19, 121.485),
        (31.21, 121.500),
        (31.235, 121.492),
        (31.248, 121.497),
        (31.26, 121.530),
        (31.30, 121.540),
        (31.38, 121.505),
        (31.46, 121.505),
    ]
    .iter()
    .map(|&(lat, lon)| [y(lat), x(lon)])
    .collect();
    // (lon, lat) → [along = x, across = y]; ends where it meets the 黄浦江.
    let suzhou: Vec<[f64; 2]> = [
        (121.19, 31.245),
        (121.26, 31.240),
        (121.33, 31.232),
        (121.37, 31.228),
        (121.40, 31.236),
        (121.43, 31.238),
        (121.45, 31.246),
        (121.47, 31.244),
        (121.4955, 31.245),
    ]
    .iter()
    .map(|&(lon, lat)| [x(lon), y(lat)])
    .collect();
    let rivers = vec![
        River::new(
            Axis::NorthSouth,
            huangpu,
            vec![[150.0, 9000.0, 0.3]],
            200.0,
            8,
        ),
        River::new(
            Axis::EastWest,
            suzhou,
            vec![[120.0, 2800.0, 1.1], [50.0, 1200.0, 0.4]],
            35.0,
            16,
        ),
    ];
    let centre_y = y(31.232);
    let roads = RoadSpec {
        x_range_m: (x(121.196), x(121.754)),
        y_range_m: (y(30.946), y(31.454)),
        x_spacing: AxisSpacing {
            min_m: 60.0,
            max_m: 150.0,
            dense_at_m: 0.0,
            ramp_m: 15_000.0,
        },
        y_spacing: AxisSpacing {
            min_m: 60.0,
            max_m: 150.0,
            dense_at_m: centre_y,
            ramp_m: 15_000.0,
        },
        main_every: 4,
        minor_drop_p: 0.06,
        diagonal_p: 0.03,
        warp_amp_m: 60.0,
        warp_wavelength_m: (4000.0, 6500.0),
        names: RoadNames::City,
        motorway: Some(MotorwaySpec {
            zh: "延安高架路",
            en: "Yan'an Elevated Road",
            follow_road: None,
            near_y_m: y(31.215),
            x_from_m: x(121.30),
            x_to_m: x(121.485),
            offset_m: 22.0,
        }),
        min_component: 5,
    };
    let h = |lon, lat, sigma_m, weight| Hotspot {
        lon,
        lat,
        sigma_m,
        weight,
    };
    let hotspots = vec![
        h(121.475, 31.232, 8000.0, 0.70), // 人民广场
        h(121.505, 31.238, 3500.0, 0.04), // 陆家嘴
        h(121.437, 31.195, 3500.0, 0.04), // 徐家汇
        h(121.514, 31.300, 3500.0, 0.04), // 五角场
        h(121.417, 31.222, 3000.0, 0.02), // 中山公园
        h(121.320, 31.195, 3500.0, 0.03), // 虹桥
        h(121.600, 31.205, 4500.0, 0.04), // 张江
        h(121.385, 31.110, 4500.0, 0.04), // 莘庄
        h(121.445, 31.400, 4000.0, 0.03), // 宝山
    ];
    Spec {
        label: "shanghai",
        frame,
        layout,
        regions,
        rivers,
        roads,
        hotspots,
        facility_hot_share: 0.85,
        resident_hot_share: 0.6,
        residents_per_facility: 0.225,
        district_zh: "上海市",
        district_en: "Shanghai",
        places: &[],
        landmarks: false,
        unique_names: false,
        park_polygon_p: 0.03,
    }
}

// ---------------------------------------------------------------------------------------------
// The generated world: subdistricts, rivers, streets and look-ups over them

/// A uniform grid of item ids over the area, for nearest-neighbour look-ups.
struct Grid {
    x0: f64,
    y0: f64,
    cell_m: f64,
    nx: usize,
    ny: usize,
    buckets: Vec<Vec<u32>>,
}

impl Grid {
    fn new(points: impl Iterator<Item = [f64; 2]>, cell_m: f64) -> Grid {
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in points {
            x0 = x0.min(p[0]);
            y0 = y0.min(p[1]);
            x1 = x1.max(p[0]);
            y1 = y1.max(p[1]);
        }
        if x0 > x1 {
            (x0, y0, x1, y1) = (0.0, 0.0, 0.0, 0.0);
        }
        let nx = ((x1 - x0) / cell_m) as usize + 1;
        let ny = ((y1 - y0) / cell_m) as usize + 1;
        Grid {
            x0,
            y0,
            cell_m,
            nx,
            ny,
            buckets: vec![Vec::new(); nx * ny],
        }
    }

    fn cell(&self, p: [f64; 2]) -> (isize, isize) {
        (
            ((p[0] - self.x0) / self.cell_m).floor() as isize,
            ((p[1] - self.y0) / self.cell_m).floor() as isize,
        )
    }

    fn insert(&mut self, p: [f64; 2], item: u32) {
        let (cx, cy) = self.cell(p);
        let cx = cx.clamp(0, self.nx as isize - 1) as usize;
        let cy = cy.clamp(0, self.ny as isize - 1) as usize;
        self.buckets[cy * self.nx + cx].push(item);
    }

    /// Items in the cells within `r` cells of `p`'s cell.
    fn near(&self, p: [f64; 2], r: isize) -> impl Iterator<Item = u32> + '_ {
        let (cx, cy) = self.cell(p);
        let xs = (cx - r).max(0)..=(cx + r).min(self.nx as isize - 1);
        let ys = (cy - r).max(0)..=(cy + r).min(self.ny as isize - 1);
        ys.flat_map(move |y| xs.clone().map(move |x| (x, y)))
            .flat_map(move |(x, y)| {
                self.buckets[y as usize * self.nx + x as usize]
                    .iter()
                    .copied()
            })
    }
}

fn dist_to_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a[0] + t * dx, a[1] + t * dy);
    ((p[0] - qx).powi(2) + (p[1] - qy).powi(2)).sqrt()
}

/// A position for a feature: metres, WGS84 and the lattice cell containing it.
#[derive(Debug, Clone, Copy)]
struct Spot {
    xy: [f64; 2],
    ll: [f64; 2],
    cell: usize,
}

struct World {
    frame: Frame,
    layout: Layout,
    rivers: Vec<River>,
    net: Network,
    /// Named street segments (not the motorway), by midpoint.
    road_grid: Grid,
    /// Named street crossings, by node.
    crossing_grid: Grid,
    fallback_road: Road,
}

impl World {
    fn build(spec: &Spec, seed: u64) -> World {
        let layout = Layout::build(
            &spec.layout,
            spec.regions.clone(),
            &spec.frame,
            &mut stream(seed, 1),
        );
        let net = roads::build(
            &spec.roads,
            &layout,
            &spec.rivers,
            &spec.frame,
            &mut stream(seed, 2),
        );
        let named: Vec<u32> = (0..net.segments.len() as u32)
            .filter(|&i| {
                let s = &net.segments[i as usize];
                s.road.is_some() && s.highway != "motorway"
            })
            .collect();
        let mid = |i: u32| {
            let s = &net.segments[i as usize];
            let (a, b) = (net.node_xy[s.a as usize], net.node_xy[s.b as usize]);
            [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0]
        };
        let mut road_grid = Grid::new(named.iter().map(|&i| mid(i)), 120.0);
        for &i in &named {
            road_grid.insert(mid(i), i);
        }
        let node_of = |c: &roads::Crossing| net.node_xy[c.node as usize];
        let mut crossing_grid = Grid::new(net.crossings.iter().map(node_of), 250.0);
        for (i, c) in net.crossings.iter().enumerate() {
            crossing_grid.insert(node_of(c), i as u32);
        }
        World {
            frame: spec.frame,
            layout,
            rivers: spec.rivers.clone(),
            net,
            road_grid,
            crossing_grid,
            fallback_road: Road {
                zh: "社区路".into(),
                en: "Community Road".into(),
                base_zh: "社区".into(),
                base_en: "Community".into(),
            },
        }
    }

    /// `xy` as a spot, if it is inside the area and clear of the rivers.
    fn spot(&self, xy: [f64; 2]) -> Option<Spot> {
        if self.rivers.iter().any(|r| r.in_band(xy, 5.0)) {
            return None;
        }
        let ll = self.frame.lonlat(xy);
        self.layout.locate(ll).map(|cell| Spot { xy, ll, cell })
    }

    fn region_of(&self, spot: &Spot) -> &RegionDef {
        &self.layout.regions[self.layout.cells[spot.cell].region]
    }

    /// Up to `k` distinct named roads nearest to `xy`, nearest first.
    fn nearest_roads(&self, xy: [f64; 2], k: usize) -> Vec<&Road> {
        for r in [1, 3, 8, 20] {
            let mut found: Vec<(f64, u32, u32)> = self
                .road_grid
                .near(xy, r)
                .filter_map(|i| {
                    let s = &self.net.segments[i as usize];
                    let (a, b) = (
                        self.net.node_xy[s.a as usize],
                        self.net.node_xy[s.b as usize],
                    );
                    s.road.map(|road| (dist_to_segment(xy, a, b), i, road))
                })
                .collect();
            if found.is_empty() {
                continue;
            }
            let closer =
                |p: &(f64, u32, u32), q: &(f64, u32, u32)| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1));
            if k == 1 {
                let nearest = found.iter().min_by(|p, q| closer(p, q));
                return nearest
                    .map(|&(_, _, road)| &self.net.roads[road as usize])
                    .into_iter()
                    .collect();
            }
            found.sort_by(closer);
            let mut out: Vec<&Road> = Vec::with_capacity(k);
            for (_, _, road) in found {
                let road = &self.net.roads[road as usize];
                if !out.iter().any(|r| r.zh == road.zh) {
                    out.push(road);
                    if out.len() == k {
                        break;
                    }
                }
            }
            return out;
        }
        vec![&self.fallback_road]
    }

    /// The named street crossing nearest to `xy` within about 500 m.
    fn nearest_crossing(&self, xy: [f64; 2]) -> Option<&roads::Crossing> {
        self.crossing_grid
            .near(xy, 2)
            .map(|i| {
                let c = &self.net.crossings[i as usize];
                let p = self.net.node_xy[c.node as usize];
                ((p[0] - xy[0]).powi(2) + (p[1] - xy[1]).powi(2), i)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, i)| &self.net.crossings[i as usize])
    }

    /// A small irregular polygon (park) around `centre`, if it fits inside the area.
    fn blob(&self, rng: &mut impl Rng, centre: [f64; 2], radius_m: f64) -> Option<Vec<[f64; 2]>> {
        let n = rng.random_range(8..13);
        let mut ring = Vec::with_capacity(n + 1);
        for k in 0..n {
            let angle = std::f64::consts::TAU * (k as f64 + rng.random_range(-0.3..0.3)) / n as f64;
            let r = radius_m * rng.random_range(0.75..1.15);
            let xy = [centre[0] + r * angle.cos(), centre[1] + r * angle.sin()];
            ring.push(self.spot(xy)?.ll);
        }
        ring.push(ring[0]);
        Some(ring)
    }
}

/// Draws positions: by subdistrict density (cells weighted by area × density × noise) or
/// around hotspots.
struct Sampler {
    cell_cum: Vec<f64>,
    hot: Vec<([f64; 2], f64)>,
    hot_cum: Vec<f64>,
    hot_share: f64,
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut acc = 0.0;
    weights
        .map(|w| {
            acc += w;
            acc
        })
        .collect()
}

fn pick_cum(cum: &[f64], rng: &mut impl Rng) -> usize {
    let total = cum.last().copied().unwrap_or(0.0);
    let u = rng.random::<f64>() * total;
    cum.partition_point(|&c| c <= u)
        .min(cum.len().saturating_sub(1))
}

impl Sampler {
    fn new(world: &World, hotspots: &[Hotspot], hot_share: f64, rng: &mut impl Rng) -> Sampler {
        let layout = &world.layout;
        let cell_cum =
            cumulative(layout.cells.iter().map(|c| {
                c.area_m2 * layout.regions[c.region].density * rng.random_range(0.6..1.4)
            }));
        Sampler {
            cell_cum,
            hot: hotspots
                .iter()
                .map(|h| (world.frame.xy([h.lon, h.lat]), h.sigma_m))
                .collect(),
            hot_cum: cumulative(hotspots.iter().map(|h| h.weight)),
            hot_share: if hotspots.is_empty() { 0.0 } else { hot_share },
        }
    }

    fn sample(&self, world: &World, rng: &mut impl Rng) -> Spot {
        for _ in 0..10_000 {
            let xy = if rng.random::<f64>() < self.hot_share {
                let (c, sigma) = self.hot[pick_cum(&self.hot_cum, rng)];
                // Box–Muller
                let r = sigma * (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
                let a = std::f64::consts::TAU * rng.random::<f64>();
                [c[0] + r * a.cos(), c[1] + r * a.sin()]
            } else {
                let b = world.layout.cells[pick_cum(&self.cell_cum, rng)].bbox_xy;
                [rng.random_range(b[0]..b[2]), rng.random_range(b[1]..b[3])]
            };
            if let Some(spot) = world.spot(xy) {
                return spot;
            }
        }
        // Unreachable for the presets; a deterministic inside point all the same.
        let b = world.layout.cells[0].bbox_xy;
        let xy = [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0];
        Spot {
            xy,
            ll: world.frame.lonlat(xy),
            cell: 0,
        }
    }

    /// A position inside region `region`, uniformly over its area.
    fn sample_in_region(&self, world: &World, region: usize, rng: &mut impl Rng) -> Spot {
        let cells: Vec<usize> = (0..world.layout.cells.len())
            .filter(|&c| world.layout.cells[c].region == region)
            .collect();
        let cum = cumulative(cells.iter().map(|&c| world.layout.cells[c].area_m2));
        for _ in 0..10_000 {
            let b = world.layout.cells[cells[pick_cum(&cum, rng)]].bbox_xy;
            let xy = [rng.random_range(b[0]..b[2]), rng.random_range(b[1]..b[3])];
            if let Some(spot) = world.spot(xy)
                && world.layout.cells[spot.cell].region == region
            {
                return spot;
            }
        }
        self.sample(world, rng)
    }
}

// ---------------------------------------------------------------------------------------------
// Writing FlatGeobuf

/// Header text shared by the four files.
struct Meta {
    description: String,
}

fn point(ll: [f64; 2]) -> Geometry<f64> {
    Geometry::Point(Point::new(ll[0], ll[1]))
}

fn line_string(coords: &[[f64; 2]]) -> LineString<f64> {
    LineString::new(coords.iter().map(|p| Coord { x: p[0], y: p[1] }).collect())
}

fn text(s: &str) -> Option<ColumnValue<'_>> {
    Some(ColumnValue::String(s))
}

fn write_roads(world: &World, path: &Path, meta: &Meta) -> Result<usize, Error> {
    let mut layer = FgbLayer::create(
        path,
        GeometryType::LineString,
        &[
            ("highway", ColumnType::String, false),
            ("name", ColumnType::String, true),
        ],
        &meta.description,
    )?;
    for s in &world.net.segments {
        let name = s.road.map(|r| world.net.roads[r as usize].zh.as_str());
        layer.add(
            Geometry::LineString(line_string(&s.coords)),
            &[text(s.highway), name.and_then(text)],
        )?;
    }
    Ok(layer.finish()?.1)
}

fn write_subdistricts(world: &World, path: &Path, meta: &Meta) -> Result<usize, Error> {
    let mut layer = FgbLayer::create(
        path,
        GeometryType::Polygon,
        &[
            ("name", ColumnType::String, false),
            ("name_en", ColumnType::String, false),
            ("code", ColumnType::String, false),
        ],
        &meta.description,
    )?;
    for (i, r) in world.layout.regions.iter().enumerate() {
        layer.add(
            Geometry::Polygon(world.layout.outline(i)),
            &[text(&r.name), text(&r.name_en), text(&r.code)],
        )?;
    }
    Ok(layer.finish()?.1)
}

// ---------------------------------------------------------------------------------------------
// Facilities

enum Place {
    /// Anywhere, by the density model.
    Anywhere,
    /// Inside this region.
    Region(usize),
    /// At this WGS84 point (or anywhere if it falls outside the area).
    At([f64; 2]),
    /// A park polygon of this radius around a WGS84 point.
    Park([f64; 2], f64),
    /// At this network node (stations).
    Node(u32),
}

/// A fixed facility: landmarks, per-subdistrict institutions and special test cases.
struct Landmark {
    kind: Kind,
    zh: String,
    en: Option<String>,
    aliases: &'static [&'static str],
    place: Place,
}

fn landmark(
    kind: Kind,
    zh: &str,
    en: Option<&str>,
    aliases: &'static [&'static str],
    place: Place,
) -> Landmark {
    Landmark {
        kind,
        zh: zh.to_string(),
        en: en.map(str::to_string),
        aliases,
        place,
    }
}

/// Special cases every preset includes: names with ASCII and full-width letters, an apostrophe,
/// and exactly one name that looks like HTML (a page must show it as text).
fn special_landmarks() -> Vec<Landmark> {
    use Kind::*;
    vec![
        landmark(
            CommunityService,
            "<b>测试</b>便民服务点",
            None,
            &[],
            Place::Anywhere,
        ),
        landmark(
            Culture,
            "Ｋ11社区艺术空间",
            Some("K11 Community Art Space"),
            &["文化站"],
            Place::Anywhere,
        ),
        landmark(
            Bank,
            "ＡＴＭ自助银行(中山公园)",
            None,
            &["atm"],
            Place::Anywhere,
        ),
        landmark(
            Supermarket,
            "7-ELEVEn便利店(长宁路店)",
            Some("7-Eleven (Changning Road)"),
            &["便利店"],
            Place::Anywhere,
        ),
        landmark(
            Sport,
            "DECATHLON迪卡侬(长宁店)",
            Some("Decathlon (Changning)"),
            &["sports_centre"],
            Place::Anywhere,
        ),
        landmark(
            Supermarket,
            "Ole'精品超市(来福士店)",
            Some("Ole' (Raffles City)"),
            &["超市"],
            Place::Anywhere,
        ),
    ]
}

/// Changning landmarks: the real parks (as polygons), hospitals and district institutions at
/// approximate positions, each subdistrict's service centres, and a few chain shops that appear
/// under the same name in two subdistricts.
fn changning_landmarks(world: &World) -> Vec<Landmark> {
    use Kind::*;
    let mut v = Vec::new();
    for (i, r) in world.layout.regions.iter().enumerate() {
        let (s, e) = (r.name.as_str(), r.short_en.as_str());
        let mut add = |kind, zh: String, en: String, aliases| {
            v.push(landmark(kind, &zh, Some(&en), aliases, Place::Region(i)));
        };
        add(
            Medical,
            format!("{s}社区卫生服务中心"),
            format!("{e} Community Health Centre"),
            &["社区卫生服务中心"][..],
        );
        add(
            CommunityService,
            format!("{s}社区事务受理服务中心"),
            format!("{e} Community Affairs Service Centre"),
            &["社区事务受理服务中心"][..],
        );
        add(
            CommunityService,
            format!("{s}党群服务中心"),
            format!("{e} Community Party and Public Service Centre"),
            &["党群服务中心"][..],
        );
        add(
            Culture,
            format!("{s}社区文化活动中心"),
            format!("{e} Community Cultural Centre"),
            &["文化活动中心", "community_centre"][..],
        );
        add(
            Elderly,
            format!("{s}日间照料中心"),
            format!("{e} Day Care Centre for the Elderly"),
            &["日间照料中心"][..],
        );
    }
    let parks: [(&str, &str, f64, f64, f64); 5] = [
        ("中山公园", "Zhongshan Park", 121.4175, 31.2215, 240.0),
        ("天山公园", "Tianshan Park", 121.402, 31.2135, 120.0),
        ("上海动物园", "Shanghai Zoo", 121.3645, 31.1960, 380.0),
        (
            "新虹桥中心花园",
            "New Hongqiao Central Garden",
            121.4045,
            31.2055,
            180.0,
        ),
        ("华山绿地", "Huashan Green Space", 121.4405, 31.2135, 100.0),
    ];
    for (zh, en, lon, lat, r) in parks {
        v.push(landmark(
            Park,
            zh,
            Some(en),
            &["公园"],
            Place::Park([lon, lat], r),
        ));
    }
    v.push(landmark(
        Transit,
        "中山公园地铁站",
        Some("Zhongshan Park Station"),
        &["地铁站", "subway_station"],
        Place::At([121.4192, 31.2196]),
    ));
    let fixed: [(Kind, &str, &str, &'static [&'static str]); 9] = [
        (
            Medical,
            "长宁区中心医院",
            "Changning District Central Hospital",
            &["医院", "hospital"],
        ),
        (
            Medical,
            "同仁医院",
            "Tongren Hospital",
            &["医院", "hospital"],
        ),
        (
            Medical,
            "长宁区妇幼保健院",
            "Changning Maternity and Child Health Hospital",
            &["医院"],
        ),
        (
            Medical,
            "长宁区天山中医医院",
            "Tianshan Hospital of Traditional Chinese Medicine",
            &["医院", "hospital"],
        ),
        (
            Medical,
            "光华中西医结合医院",
            "Guanghua Hospital of Integrated Chinese and Western Medicine",
            &["医院"],
        ),
        (
            Culture,
            "长宁区图书馆",
            "Changning District Library",
            &["图书馆", "library"],
        ),
        (
            Culture,
            "长宁区文化艺术中心",
            "Changning Culture and Art Centre",
            &["文化活动中心"],
        ),
        (
            Sport,
            "长宁区体育中心",
            "Changning Sports Centre",
            &["体育场馆", "sports_centre"],
        ),
        (
            Education,
            "上海市延安初级中学",
            "Shanghai Yan'an Junior High School",
            &["初级中学"],
        ),
    ];
    for (kind, zh, en, aliases) in fixed {
        v.push(landmark(kind, zh, Some(en), aliases, Place::Anywhere));
    }
    // Chains listed without a branch name, so the same name appears in two subdistricts.
    let dups: [(Kind, &str, &str, &'static [&'static str]); 5] = [
        (Supermarket, "好德便利店", "Alldays", &["便利店"]),
        (Supermarket, "联华超市", "Lianhua Supermarket", &["超市"]),
        (Pharmacy, "老百姓大药房", "LBX Pharmacy", &["药店"]),
        (Market, "钱大妈", "Qiandama", &["菜场"]),
        (Bank, "邮储银行ATM", "Postal Savings Bank ATM", &["atm"]),
    ];
    let n_regions = world.layout.regions.len();
    for (k, (kind, zh, en, aliases)) in dups.into_iter().enumerate() {
        for region in [k % n_regions, (k + 5) % n_regions] {
            v.push(landmark(kind, zh, Some(en), aliases, Place::Region(region)));
        }
    }
    v
}

/// Metro stations at main-road crossings at least 900 m apart, named after a road there.
fn station_landmarks(world: &World, rng: &mut impl Rng, n: usize) -> Vec<Landmark> {
    let mut candidates: Vec<&roads::Crossing> =
        world.net.crossings.iter().filter(|c| c.main).collect();
    for i in (1..candidates.len()).rev() {
        candidates.swap(i, rng.random_range(0..=i));
    }
    // Keep clear of the 中山公园 station landmark.
    let mut chosen: Vec<[f64; 2]> = vec![world.frame.xy([121.4192, 31.2196])];
    let mut used: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for c in candidates {
        if out.len() == n {
            break;
        }
        let p = world.net.node_xy[c.node as usize];
        if chosen
            .iter()
            .any(|q| (q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2) < 900.0 * 900.0)
        {
            continue;
        }
        let road = [c.col_road, c.row_road]
            .into_iter()
            .map(|r| &world.net.roads[r as usize])
            .find(|r| !used.contains(&r.zh));
        if let Some(road) = road {
            used.insert(road.zh.clone());
            chosen.push(p);
            out.push(landmark(
                Kind::Transit,
                &format!("{}地铁站", road.zh),
                Some(&format!("{} Station", road.en)),
                &["地铁站", "subway_station"],
                Place::Node(c.node),
            ));
        }
    }
    out
}

/// One facility, ready to write.
struct Facility {
    geom: Geometry<f64>,
    spot: Spot,
    name: String,
    name_en: Option<String>,
    category: &'static str,
    address: Option<String>,
    phone: Option<String>,
}

/// Raw category value: mostly the taxonomy id, sometimes an alias, rarely an unknown value.
fn category_value(
    rng: &mut impl Rng,
    kind: Kind,
    aliases: &'static [&'static str],
    allow_unknown: bool,
) -> &'static str {
    let u = rng.random::<f64>();
    if allow_unknown && u < 0.005 {
        names::UNKNOWN_CATEGORIES[rng.random_range(0..names::UNKNOWN_CATEGORIES.len())]
    } else if (0.005..0.155).contains(&u) && !aliases.is_empty() {
        aliases[rng.random_range(0..aliases.len())]
    } else {
        kind.id()
    }
}

fn phone_for(rng: &mut impl Rng, kind: Kind) -> Option<String> {
    let p = match kind {
        Kind::Transit => 0.0,
        Kind::Park => 0.15,
        Kind::Other => 0.05,
        _ => 0.65,
    };
    rng.random_bool(p).then(|| names::phone(rng))
}

fn address_on(rng: &mut impl Rng, road: &Road) -> Option<String> {
    let address = names::address(rng, road);
    rng.random_bool(0.9).then_some(address)
}

/// A place word for a name at `spot`: a nearby road's stem, the subdistrict or a neighbourhood.
fn place_word<'a>(
    rng: &mut impl Rng,
    spec: &'a Spec,
    world: &'a World,
    spot: &Spot,
    road: &'a Road,
) -> (&'a str, &'a str) {
    let region = world.region_of(spot);
    let u = rng.random::<f64>();
    if u < 0.2 && !region.short_zh.is_empty() {
        (&region.short_zh, &region.short_en)
    } else if u < 0.5 && !spec.places.is_empty() {
        spec.places[rng.random_range(0..spec.places.len())]
    } else {
        (&road.base_zh, &road.base_en)
    }
}

/// Make `name` unique within `seen`: a second shop of a chain on the same road becomes
/// "罗森(虹桥路二店)", anything else gets "(二)", "(三)", …
fn disambiguate(seen: &HashSet<String>, name: String) -> String {
    if !seen.contains(&name) {
        return name;
    }
    let numeral = |k: usize| {
        names::CN_NUM
            .get(k - 1)
            .map_or_else(|| k.to_string(), |n| n.to_string())
    };
    let branch = ["店)", "店）"]
        .iter()
        .find_map(|end| name.strip_suffix(end).map(|stem| (stem, *end)));
    (2..)
        .map(|k| match branch {
            Some((stem, end)) => format!("{stem}{}{end}", numeral(k)),
            None => format!("{name}({})", numeral(k)),
        })
        .find(|n| !seen.contains(n))
        .unwrap_or(name)
}

struct FacilityMaker<'w> {
    spec: &'w Spec,
    world: &'w World,
    sampler: Sampler,
    seen: Option<HashSet<String>>,
}

impl<'w> FacilityMaker<'w> {
    fn polygon_or_point(&self, rng: &mut impl Rng, spot: Spot, radius_m: f64) -> Geometry<f64> {
        let mut r = radius_m;
        for _ in 0..5 {
            if let Some(ring) = self.world.blob(rng, spot.xy, r) {
                return Geometry::Polygon(Polygon::new(line_string(&ring), vec![]));
            }
            r *= 0.7;
        }
        point(spot.ll)
    }

    fn landmark(&mut self, rng: &mut impl Rng, lm: Landmark) -> Facility {
        let world = self.world;
        let at = |ll: [f64; 2]| world.spot(world.frame.xy(ll));
        let spot = match lm.place {
            Place::Anywhere | Place::Park(..) | Place::At(_) => None,
            Place::Region(r) => Some(self.sampler.sample_in_region(world, r, rng)),
            Place::Node(n) => {
                let xy = world.net.node_xy[n as usize];
                world.spot(xy)
            }
        };
        let spot = spot
            .or(match lm.place {
                Place::At(ll) | Place::Park(ll, _) => at(ll),
                _ => None,
            })
            .unwrap_or_else(|| self.sampler.sample(world, rng));
        let geom = match lm.place {
            Place::Park(_, radius_m) => self.polygon_or_point(rng, spot, radius_m),
            _ => point(spot.ll),
        };
        if let Some(seen) = &mut self.seen {
            seen.insert(lm.zh.clone());
        }
        Facility {
            geom,
            spot,
            name: lm.zh,
            name_en: lm.en,
            category: category_value(rng, lm.kind, lm.aliases, false),
            address: address_on(rng, world.nearest_roads(spot.xy, 1)[0]),
            phone: phone_for(rng, lm.kind),
        }
    }

    /// A bus stop: beside a named crossing near a sampled position.
    fn bus_stop_spot(&self, rng: &mut impl Rng) -> (Spot, Option<(&'w Road, &'w Road)>) {
        let world = self.world;
        let spot = self.sampler.sample(world, rng);
        let Some(c) = world.nearest_crossing(spot.xy) else {
            return (spot, None);
        };
        let node = world.net.node_xy[c.node as usize];
        let a = rng.random::<f64>() * std::f64::consts::TAU;
        let d = rng.random_range(12.0..35.0);
        let near = world
            .spot([node[0] + d * a.cos(), node[1] + d * a.sin()])
            .or_else(|| world.spot(node));
        let (row, col) = (
            &world.net.roads[c.row_road as usize],
            &world.net.roads[c.col_road as usize],
        );
        let pair = if rng.random_bool(0.5) {
            (row, col)
        } else {
            (col, row)
        };
        match near {
            Some(s) if row.zh != col.zh => (s, Some(pair)),
            _ => (spot, None),
        }
    }

    fn generated(&mut self, rng: &mut impl Rng, kind: Kind) -> Facility {
        let world = self.world;
        let attempts = if self.seen.is_some() { 8 } else { 1 };
        let mut best = None;
        for attempt in 0..attempts {
            let (spot, pair) = if kind == Kind::Transit {
                self.bus_stop_spot(rng)
            } else {
                (self.sampler.sample(world, rng), None)
            };
            let near = world.nearest_roads(spot.xy, if attempts > 1 { 4 } else { 1 });
            let road = pair.map_or(near[attempt % near.len()], |p| p.0);
            let (place_zh, place_en) = place_word(rng, self.spec, world, &spot, road);
            let ctx = NameCtx {
                road,
                cross: pair.map(|p| p.1),
                place_zh,
                place_en,
                district_zh: self.spec.district_zh,
                district_en: self.spec.district_en,
            };
            let named = names::facility_name(rng, kind, &ctx);
            let taken = self.seen.as_ref().is_some_and(|s| s.contains(&named.zh));
            best = Some((spot, named, road));
            if !taken {
                break;
            }
        }
        let (spot, named, road) = best.expect("at least one attempt");
        let name = match &mut self.seen {
            Some(seen) => {
                let name = disambiguate(seen, named.zh);
                seen.insert(name.clone());
                name
            }
            None => named.zh,
        };
        let geom = if kind == Kind::Park && rng.random_bool(self.spec.park_polygon_p) {
            let radius_m = rng.random_range(40.0..110.0);
            self.polygon_or_point(rng, spot, radius_m)
        } else {
            point(spot.ll)
        };
        Facility {
            geom,
            spot,
            name,
            name_en: rng.random_bool(0.28).then_some(named.en),
            category: category_value(rng, kind, named.aliases, true),
            // On the road the name refers to (branch names, bus stops), else the nearest one.
            address: address_on(rng, road),
            phone: phone_for(rng, kind),
        }
    }
}

fn write_facilities(
    spec: &Spec,
    world: &World,
    n: usize,
    path: &Path,
    meta: &Meta,
    rng: &mut ChaCha8Rng,
    sample: &mut evaluation::Sample,
) -> Result<usize, Error> {
    let mut columns = vec![
        ("id", ColumnType::ULong, false),
        ("name", ColumnType::String, false),
        ("name_en", ColumnType::String, true),
        ("category", ColumnType::String, false),
        ("address", ColumnType::String, true),
        ("subdistrict", ColumnType::String, false),
        ("phone", ColumnType::String, true),
    ];
    columns.extend(evaluation::COLUMNS);
    let mut layer = FgbLayer::create(path, GeometryType::Unknown, &columns, &meta.description)?;
    let sampler = Sampler::new(world, &spec.hotspots, spec.facility_hot_share, rng);
    let mut maker = FacilityMaker {
        spec,
        world,
        sampler,
        seen: (spec.unique_names && n <= 50_000).then(HashSet::new),
    };
    let mut landmarks = special_landmarks();
    if spec.landmarks {
        landmarks.extend(changning_landmarks(world));
        landmarks.extend(station_landmarks(world, rng, 14));
    }
    let kind_cum = cumulative(names::KIND_WEIGHTS.iter().map(|(_, w)| *w));
    let mut landmarks = landmarks.into_iter();
    // The last rows are planning projects (see `evaluation`), so the count stays `n`.
    let n_generated = n - sample.n_projects(n);
    for i in 0..n_generated {
        let f = match landmarks.next() {
            Some(lm) => maker.landmark(rng, lm),
            None => {
                let kind = names::KIND_WEIGHTS[pick_cum(&kind_cum, rng)].0;
                maker.generated(rng, kind)
            }
        };
        let id = 100_001 + i as u64;
        let subdistrict = &world.region_of(&f.spot).name;
        let attrs = sample.attributes(id, &f.name, f.category, &f.geom, subdistrict);
        let [floor_area, functions, status, year] = attrs.values();
        layer.add(
            f.geom,
            &[
                Some(ColumnValue::ULong(id)),
                text(&f.name),
                f.name_en.as_deref().and_then(text),
                text(f.category),
                f.address.as_deref().and_then(text),
                text(subdistrict),
                f.phone.as_deref().and_then(text),
                floor_area,
                functions,
                status,
                year,
            ],
        )?;
    }
    // Planned and under-construction projects, after the generated facilities.
    let projects = sample.projects(n - n_generated);
    let mut written = Vec::new();
    for (k, (name, category, at, subdistrict, attrs)) in projects.iter().enumerate() {
        let id = 100_001 + (n_generated + k) as u64;
        let [floor_area, functions, status, year] = attrs.values();
        layer.add(
            point(*at),
            &[
                Some(ColumnValue::ULong(id)),
                text(name),
                None,
                text(category),
                None,
                text(subdistrict),
                None,
                floor_area,
                functions,
                status,
                year,
            ],
        )?;
        let status = if attrs.is_building() {
            "在建"
        } else {
            "规划"
        };
        written.push((id, name.as_str(), *category, *at, status));
    }
    let n_written = layer.finish()?.1;
    if let Some(dir) = path.parent() {
        sample.write_baseline(
            &dir.join(evaluation::BASELINE_FILE),
            &meta.description,
            &written,
        )?;
    }
    Ok(n_written)
}

// ---------------------------------------------------------------------------------------------
// Residential compounds

fn write_residents(
    spec: &Spec,
    world: &World,
    n: usize,
    n_facilities: usize,
    path: &Path,
    meta: &Meta,
    rng: &mut ChaCha8Rng,
) -> Result<usize, Error> {
    let mut layer = FgbLayer::create(
        path,
        GeometryType::Point,
        &[
            ("name", ColumnType::String, false),
            ("population", ColumnType::Int, false),
            ("subdistrict", ColumnType::String, false),
        ],
        &meta.description,
    )?;
    let sampler = Sampler::new(world, &spec.hotspots, spec.resident_hot_share, rng);
    let mut seen = (spec.unique_names && n_facilities <= 50_000).then(HashSet::new);
    for _ in 0..n {
        let spot = sampler.sample(world, rng);
        let region = world.region_of(&spot);
        let road = world.nearest_roads(spot.xy, 1)[0];
        let draw = |rng: &mut ChaCha8Rng| {
            let (place, _) = place_word(rng, spec, world, &spot, road);
            names::compound(rng, place)
        };
        let (mut name, mut population) = draw(rng);
        if let Some(seen) = &mut seen {
            for _ in 0..8 {
                if !seen.contains(&name) {
                    break;
                }
                (name, population) = draw(rng);
            }
            // Later phases of an estate: 天山花园二期, 三期, …
            let base = name.clone();
            let mut k = 2;
            while seen.contains(&name) {
                name = match names::CN_NUM.get(k - 1) {
                    Some(n) => format!("{base}{n}期"),
                    None => format!("{base}{k}期"),
                };
                k += 1;
            }
            seen.insert(name.clone());
        }
        layer.add(
            point(spot.ll),
            &[
                text(&name),
                Some(ColumnValue::Int(population)),
                text(&region.name),
            ],
        )?;
    }
    Ok(layer.finish()?.1)
}

#[cfg(test)]
mod tests;
