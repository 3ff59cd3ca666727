//! Evaluation data for the generated sample: facility attributes (floor area, functions,
//! status, year) on some facilities, a handful of planned, under-construction and closed ones,
//! and a baseline file (the data as of 2021) for `/evaluation/diff`.
//!
//! Everything here draws from its own random stream, so the other columns of the facilities
//! and the other files come out as they did before these were added.

use std::path::Path;

use flatgeobuf::{ColumnType, GeometryType};
use geo::{Centroid, Geometry};
use geozero::ColumnValue;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Error;
use lifecircle::fgb_write::FgbLayer;

/// The columns added to `facilities.fgb`.
pub(super) const COLUMNS: [(&str, ColumnType, bool); 4] = [
    ("floor_area", ColumnType::Double, true),
    ("functions", ColumnType::String, true),
    ("status", ColumnType::String, true),
    ("year", ColumnType::Int, true),
];

/// Name of the baseline file written beside the others.
pub const BASELINE_FILE: &str = "baseline_2021.fgb";

/// The attributes of one generated row (all `None` for most).
#[derive(Default)]
pub(super) struct Attrs {
    floor_area: Option<f64>,
    functions: Option<String>,
    status: Option<&'static str>,
    year: Option<i32>,
}

impl Attrs {
    /// Whether the row is under construction (在建).
    pub(super) fn is_building(&self) -> bool {
        self.status == Some("在建")
    }

    pub(super) fn values(&self) -> [Option<ColumnValue<'_>>; 4] {
        [
            self.floor_area.map(ColumnValue::Double),
            self.functions.as_deref().map(ColumnValue::String),
            self.status.map(ColumnValue::String),
            self.year.map(ColumnValue::Int),
        ]
    }
}

/// What a community service centre may hold (Shanghai's 社区综合服务设施).
const CENTRE_FUNCTIONS: [&str; 8] = [
    "助餐",
    "日间照料",
    "卫生服务站",
    "阅览室",
    "托育点",
    "健身点",
    "党群服务",
    "老年活动室",
];

/// The planning projects: (kind in the name, category, status as written).
const PROJECTS: [(&str, &str, &str); 12] = [
    ("长者照护之家", "elderly", "规划"),
    ("长者照护之家", "elderly", "规划"),
    ("综合为老服务中心", "elderly", "拟建"),
    ("社区食堂", "elderly", "在建"),
    ("标准化菜市场", "market", "规划"),
    ("菜场", "market", "在建"),
    ("幼儿园", "kindergarten", "规划"),
    ("托育点", "kindergarten", "在建"),
    ("社区卫生服务站", "medical", "规划"),
    ("社区综合服务中心", "community_service", "拟建"),
    ("口袋公园", "park", "在建"),
    ("社区文化活动中心", "culture", "规划"),
];

/// A row kept for the baseline.
struct Row {
    id: u64,
    name: String,
    subdistrict: String,
    category: String,
    functions: Option<String>,
    geom: Geometry<f64>,
}

/// Attributes, status changes and the baseline, decided row by row.
pub(super) struct Sample {
    rng: ChaCha8Rng,
    /// Rows for the baseline (only for small samples: the city-scale set has none).
    rows: Option<Vec<Row>>,
}

impl Sample {
    pub(super) fn new(rng: ChaCha8Rng, n: usize) -> Sample {
        Sample {
            rng,
            rows: (n <= 100_000).then(Vec::new),
        }
    }

    /// How many of `n` rows are planning projects: 12 for a sample of 1000 to 100,000
    /// facilities, none otherwise.
    pub(super) fn n_projects(&self, n: usize) -> usize {
        if self.rows.is_some() && n >= 1000 {
            PROJECTS.len()
        } else {
            0
        }
    }

    /// The attributes of generated row `id` of raw category `category`.
    pub(super) fn attributes(
        &mut self,
        id: u64,
        name: &str,
        category: &str,
        geom: &Geometry<f64>,
        subdistrict: &str,
    ) -> Attrs {
        let rng = &mut self.rng;
        let mut attrs = Attrs::default();
        match category {
            "community_service" => {
                let n = rng.random_range(2..=4);
                let mut functions: Vec<&str> = Vec::new();
                while functions.len() < n {
                    let f = CENTRE_FUNCTIONS[rng.random_range(0..CENTRE_FUNCTIONS.len())];
                    if !functions.contains(&f) {
                        functions.push(f);
                    }
                }
                // Real tables mix separators.
                let sep = ["、", "，", ";"][rng.random_range(0..3)];
                attrs.functions = Some(functions.join(sep));
                attrs.floor_area = Some(f64::from(rng.random_range(8..=40u32)) * 100.0);
                attrs.year = Some(rng.random_range(2008..=2023));
                attrs.status = Some("现状");
            }
            "elderly" | "medical" | "culture" | "kindergarten" if rng.random_bool(0.4) => {
                attrs.floor_area = Some(f64::from(rng.random_range(3..=30u32)) * 100.0);
                attrs.year = Some(rng.random_range(1995..=2023));
                if category == "elderly" && rng.random_bool(0.5) {
                    attrs.functions = Some("日间照料、助餐".into());
                }
            }
            _ => {}
        }
        if rng.random_bool(0.002) {
            attrs.status = Some("停业");
        }
        if let Some(rows) = &mut self.rows {
            rows.push(Row {
                id,
                name: name.to_owned(),
                subdistrict: subdistrict.to_owned(),
                category: category.to_owned(),
                functions: attrs.functions.clone(),
                geom: geom.clone(),
            });
        }
        attrs
    }

    /// The planned and under-construction facilities appended after the generated ones, near
    /// existing ones of other categories (where people live): `(name, category, lon, lat,
    /// subdistrict, attrs)`. None for the city-scale set.
    pub(super) fn projects(
        &mut self,
        n_projects: usize,
    ) -> Vec<(String, &'static str, [f64; 2], String, Attrs)> {
        let Some(rows) = &self.rows else {
            return Vec::new();
        };
        if rows.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, (kind, category, status)) in PROJECTS.iter().take(n_projects).enumerate() {
            let near = &rows[self.rng.random_range(0..rows.len())];
            let Some(c) = near.geom.centroid() else {
                continue;
            };
            // 60–150 m away, as a new site next to existing buildings.
            let (dx, dy) = (
                self.rng.random_range(60.0..150.0) * if i % 2 == 0 { 1.0 } else { -1.0 },
                self.rng.random_range(60.0..150.0),
            );
            let (m_lon, m_lat) = lifecircle::geom::metres_per_degree(c.y());
            let at = [c.x() + dx / m_lon, c.y() + dy / m_lat];
            let mut attrs = Attrs {
                status: Some(status),
                year: Some(if *status == "在建" { 2025 } else { 2027 }),
                floor_area: Some(f64::from(self.rng.random_range(5..=25u32)) * 100.0),
                ..Attrs::default()
            };
            if *category == "community_service" {
                attrs.functions = Some("助餐、日间照料、卫生服务站、阅览室".into());
            }
            let label = ["一", "二", "三", "四", "五", "六"][i % 6];
            out.push((
                format!("{}规划第{label}{kind}({status})", near.subdistrict),
                *category,
                at,
                near.subdistrict.clone(),
                attrs,
            ));
        }
        out
    }

    /// Writes the baseline: the data as of 2021. Of today's rows, about 4 % did not exist yet,
    /// 0.5 % stood elsewhere (60–200 m), 0.4 % were in another category; today's
    /// under-construction projects were planned then; and 40 facilities have closed since.
    pub(super) fn write_baseline(
        &mut self,
        path: &Path,
        description: &str,
        projects: &[(u64, &str, &'static str, [f64; 2], &'static str)],
    ) -> Result<Option<usize>, Error> {
        let Some(rows) = self.rows.take() else {
            return Ok(None);
        };
        let mut layer = FgbLayer::create(
            path,
            GeometryType::Unknown,
            &[
                ("id", ColumnType::ULong, false),
                ("name", ColumnType::String, false),
                ("category", ColumnType::String, false),
                ("status", ColumnType::String, true),
                ("functions", ColumnType::String, true),
            ],
            description,
        )?;
        let rng = &mut self.rng;
        let mut removed_left = 40;
        let mut next_removed_id = 900_001u64;
        for row in &rows {
            if rng.random_bool(0.04) {
                continue;
            }
            let mut geom = row.geom.clone();
            if let Geometry::Point(p) = &geom
                && rng.random_bool(0.005)
            {
                let (m_lon, m_lat) = lifecircle::geom::metres_per_degree(p.y());
                let d = rng.random_range(60.0..200.0);
                let angle: f64 = rng.random_range(0.0..std::f64::consts::TAU);
                geom = Geometry::Point(geo::Point::new(
                    p.x() + d * angle.cos() / m_lon,
                    p.y() + d * angle.sin() / m_lat,
                ));
            }
            let category = match row.category.as_str() {
                "supermarket" if rng.random_bool(0.01) => "market",
                "market" if rng.random_bool(0.05) => "supermarket",
                "culture" if rng.random_bool(0.02) => "community_service",
                other => other,
            };
            layer.add(
                geom.clone(),
                &[
                    Some(ColumnValue::ULong(row.id)),
                    Some(ColumnValue::String(&row.name)),
                    Some(ColumnValue::String(category)),
                    None,
                    row.functions.as_deref().map(ColumnValue::String),
                ],
            )?;
            if removed_left > 0
                && rng.random_bool(0.02)
                && let Some(c) = geom.centroid()
            {
                removed_left -= 1;
                let (m_lon, m_lat) = lifecircle::geom::metres_per_degree(c.y());
                let closed = geo::Point::new(c.x() + 90.0 / m_lon, c.y() - 70.0 / m_lat);
                let name = format!("{}旁便民服务点(已撤)", row.name);
                layer.add(
                    Geometry::Point(closed),
                    &[
                        Some(ColumnValue::ULong(next_removed_id)),
                        Some(ColumnValue::String(&name)),
                        Some(ColumnValue::String("community_service")),
                        Some(ColumnValue::String("现状")),
                        None,
                    ],
                )?;
                next_removed_id += 1;
            }
        }
        for (id, name, category, at, status) in projects {
            if *status == "在建" {
                layer.add(
                    Geometry::Point(geo::Point::new(at[0], at[1])),
                    &[
                        Some(ColumnValue::ULong(*id)),
                        Some(ColumnValue::String(name)),
                        Some(ColumnValue::String(category)),
                        Some(ColumnValue::String("规划")),
                        None,
                    ],
                )?;
            }
        }
        Ok(Some(layer.finish()?.1))
    }
}
