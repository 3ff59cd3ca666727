//! The planners' evaluation report: the figures computed elsewhere (coverage today and with
//! the planned projects, blind spots, service load by 2SFCA, the diff against a baseline, the
//! sources' as-of dates) → one [`Report`] for the district and per subdistrict, in Chinese or
//! English.
//!
//! [`build`] is pure: it takes [`Inputs`] (the HTTP layer fetches each piece from the analysis
//! cache, where the routes that serve it alone put it, so the report's figures are those routes'
//! figures) and gives the model. The model is the `/report.json` contract, so it derives
//! `Serialize`; [`tables`] turns it into the downloadable tables (CSV rows, an XLSX workbook)
//! and [`html`] into the printable page, whose every number names the JSON value it shows.
//!
//! Sections, each a flat list of rows (`subdistrict: null` is the whole district):
//! stock and increment by category (from the baseline diff; without a baseline, today's stock
//! and a note saying none is configured), coverage share of residents under `existing` and
//! `planned`, blind spots (largest first, with the subdistrict holding them, the nearest named
//! residential place and a small map), service load per category (population-weighted mean
//! A_i, share of residents below the configured level), the most overloaded facilities, and
//! data freshness per category and source.

pub mod html;
pub mod tables;

use geo::Contains;
use serde::Serialize;

use crate::attributes::Status;
use crate::coverage::scenario::ScenarioChange;
use crate::coverage::stats::Gaps;
use crate::coverage::{Coverage, ProfileId};
use crate::dataset::Dataset;
use crate::evaluation::{ChangeKind, Diff};
use crate::service_load::ServiceLoad;
use crate::taxonomy::CategoryId;

/// The report's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn parse(text: &str) -> Result<Lang, String> {
        match text.trim() {
            "zh" => Ok(Lang::Zh),
            "en" => Ok(Lang::En),
            other => Err(format!("unknown language `{other}`; use zh or en")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// `zh` or `en`, whichever this language is.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// How many rows the lists hold, and the clock for data freshness.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Blind spots per category.
    pub blind_spots: usize,
    /// Most overloaded facilities per category.
    pub overloaded: usize,
    /// A category whose newest source is older than this is stale.
    pub stale_after_days: i64,
    /// Today, days since 1970-01-01.
    pub today_days: i64,
}

/// The service load of one category and the level its share below counts under.
pub struct CategoryLoad<'a> {
    pub load: &'a ServiceLoad,
    pub below: Option<f64>,
}

/// The baseline the stock is compared with.
pub struct BaselineDiff<'a> {
    pub name: &'a str,
    pub as_of: Option<&'a str>,
    pub diff: &'a Diff,
}

/// Everything the report is built from.
pub struct Inputs<'a> {
    pub lang: Lang,
    pub data_version: u64,
    pub dataset: &'a Dataset,
    /// Today's coverage (mode, thresholds, the categories without data).
    pub coverage: &'a Coverage,
    pub profile: ProfileId,
    /// `planned` beside `existing`.
    pub planned: &'a ScenarioChange,
    /// Blind spots under `existing`, one per category with data.
    pub gaps: Vec<&'a Gaps>,
    /// Service load under `existing`, one per category with a facility.
    pub loads: Vec<CategoryLoad<'a>>,
    pub baseline: Option<BaselineDiff<'a>>,
    /// The names of the configured baselines (for the note when the report compares with none).
    pub baselines_configured: Vec<&'a str>,
    pub settings: Settings,
}

/// The evaluation report (`/report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub lang: Lang,
    pub title: String,
    pub data_version: u64,
    /// `network` or `euclidean`.
    pub mode: &'static str,
    /// The walking profile the thresholds are under.
    pub profile: String,
    /// The scenario coverage is compared with (`planned`).
    pub scenario: &'static str,
    /// Residents in the analysis area.
    pub population: u64,
    /// Facilities in the data (any status).
    pub n_facilities: usize,
    pub categories: Vec<CategoryInfo>,
    pub subdistricts: Vec<SubdistrictInfo>,
    pub stock: StockSection,
    pub coverage: CoverageSection,
    pub blind_spots: BlindSpotSection,
    pub service_load: ServiceLoadSection,
    pub overloaded: OverloadedSection,
    pub freshness: FreshnessSection,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryInfo {
    pub id: String,
    pub label: String,
    pub walk_min: u32,
    pub essential: bool,
    pub color: String,
    /// Whether any facility of the category is in the data.
    pub has_data: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubdistrictInfo {
    /// The name in the data (the key rows use).
    pub name: String,
    /// The name in the report's language (the English name when there is one).
    pub label: String,
    pub population: u64,
}

/// The baseline named in the stock section.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineInfo {
    pub name: String,
    pub as_of: Option<String>,
    pub n_facilities: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct StockSection {
    /// `None`: no baseline configured (or none named); only today's stock is given.
    pub baseline: Option<BaselineInfo>,
    pub note: String,
    pub rows: Vec<StockRow>,
}

/// Existing facilities of one category in one subdistrict (or the district), then and now.
#[derive(Debug, Clone, Serialize)]
pub struct StockRow {
    pub subdistrict: Option<String>,
    pub subdistrict_label: String,
    pub category: String,
    pub label: String,
    pub stock_before: Option<u64>,
    pub stock_now: u64,
    pub increment: Option<i64>,
    pub added: Option<u64>,
    pub removed: Option<u64>,
    pub moved: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoverageSection {
    pub description: String,
    pub rows: Vec<CoverageRow>,
}

/// Share of residents within a category's walking threshold, today and with the projects.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageRow {
    pub subdistrict: Option<String>,
    pub subdistrict_label: String,
    pub category: String,
    pub label: String,
    pub walk_min: u32,
    pub population: u64,
    pub within_existing: u64,
    pub share_existing: Option<f64>,
    pub within_planned: u64,
    pub share_planned: Option<f64>,
    pub residents_newly_covered: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlindSpotSection {
    pub description: String,
    pub categories: Vec<BlindSpotSummary>,
    pub rows: Vec<BlindSpotRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlindSpotSummary {
    pub category: String,
    pub label: String,
    pub n_gaps: usize,
    pub residents_in_gaps: u64,
}

/// One blind spot: a contiguous area beyond the category's walking threshold.
#[derive(Debug, Clone, Serialize)]
pub struct BlindSpotRow {
    pub category: String,
    pub label: String,
    /// 1 = the largest, as `/coverage/gaps` ranks them.
    pub rank: usize,
    pub area_km2: f64,
    pub residents: u64,
    pub lon: f64,
    pub lat: f64,
    /// The subdistrict holding its centre.
    pub subdistrict: Option<String>,
    pub subdistrict_label: String,
    /// The nearest named residential place to its centre.
    pub near: Option<String>,
    /// The small map of the category's coverage over the subdistrict (or the district).
    pub map: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceLoadSection {
    pub description: String,
    pub categories: Vec<LoadCategory>,
    pub rows: Vec<LoadRow>,
}

/// How one category's service load was computed.
#[derive(Debug, Clone, Serialize)]
pub struct LoadCategory {
    pub category: String,
    pub label: String,
    pub decay: &'static str,
    /// `floor_area` or `count`.
    pub capacity: &'static str,
    /// What A_i counts: m² of floor area or facilities, per resident.
    pub unit: String,
    pub below: Option<f64>,
    pub n_facilities: usize,
    pub facilities_without_demand: usize,
    /// The small map of A_i over the district.
    pub map: String,
}

/// Population-weighted accessibility of one category in one subdistrict (or the district).
#[derive(Debug, Clone, Serialize)]
pub struct LoadRow {
    pub subdistrict: Option<String>,
    pub subdistrict_label: String,
    pub category: String,
    pub label: String,
    pub residents: f64,
    pub mean_access: Option<f64>,
    pub residents_below: Option<f64>,
    pub share_below: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverloadedSection {
    pub description: String,
    pub rows: Vec<OverloadedRow>,
}

/// A facility with much demand per unit of capacity.
#[derive(Debug, Clone, Serialize)]
pub struct OverloadedRow {
    pub category: String,
    pub label: String,
    pub rank: usize,
    pub id: u64,
    pub name: String,
    pub subdistrict: Option<String>,
    pub subdistrict_label: String,
    pub capacity: f64,
    pub capacity_from: &'static str,
    pub residents_within: f64,
    pub weighted_demand: f64,
    /// Weighted demand per unit of capacity (1 / R_j).
    pub load: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FreshnessSection {
    pub stale_after_days: i64,
    pub rows: Vec<FreshnessRow>,
}

/// One source of one category's facilities.
#[derive(Debug, Clone, Serialize)]
pub struct FreshnessRow {
    pub category: String,
    pub label: String,
    pub source: String,
    pub provider: String,
    pub n_facilities: usize,
    pub as_of: Option<String>,
    /// The category's newest as-of date among its sources is older than `stale_after_days`;
    /// `None` when no source of the category has a date.
    pub stale: Option<bool>,
}

/// The URL of a small map (`/report/map.png`, rendered by the server).
pub fn map_url(category: &str, layer: &str, subdistrict: Option<&str>) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let mut url = format!("/report/map.png?category={category}&scenario=existing");
    if let Some(name) = subdistrict {
        url.push_str("&subdistrict=");
        url.extend(utf8_percent_encode(name, NON_ALPHANUMERIC));
    }
    url.push_str(&format!("&layer={layer}&width=480&height=320"));
    url
}

/// The report of `inputs`.
pub fn build(inputs: &Inputs<'_>) -> Report {
    let lang = inputs.lang;
    let dataset = inputs.dataset;
    let taxonomy = &dataset.taxonomy;
    let without_data = inputs.coverage.categories_without_data();
    let categories: Vec<CategoryInfo> = taxonomy
        .categories()
        .map(|(id, c)| CategoryInfo {
            id: c.id.clone(),
            label: lang.pick(&c.label_zh, &c.label_en).to_owned(),
            walk_min: c.walk_min,
            essential: c.essential,
            color: c.color.clone(),
            has_data: !without_data.contains(&id),
        })
        .collect();
    let labels: Vec<String> = categories.iter().map(|c| c.label.clone()).collect();
    let label_of = |id: CategoryId| labels[id.0 as usize].clone();
    let area_label = |idx: usize| {
        let area = &dataset.areas[idx];
        match (lang, &area.name_en) {
            (Lang::En, Some(en)) if !en.trim().is_empty() => en.clone(),
            _ => area.name.clone(),
        }
    };
    let district_label = lang.pick("全区", "District").to_owned();
    let area_index = |name: &str| dataset.areas.iter().position(|a| a.name == name);
    let label_of_name = |name: &str| area_index(name).map_or(name.to_owned(), area_label);

    let population = inputs
        .planned
        .total
        .categories
        .first()
        .map_or(0, |c| c.population);
    let subdistricts = inputs
        .planned
        .areas
        .iter()
        .map(|a| SubdistrictInfo {
            name: a.name.clone(),
            label: label_of_name(&a.name),
            population: a.categories.first().map_or(0, |c| c.population),
        })
        .collect();

    let stock = stock_section(inputs, &label_of, &area_label, &district_label);

    let mut coverage_rows = Vec::new();
    for (area, name) in std::iter::once((&inputs.planned.total, None))
        .chain(inputs.planned.areas.iter().map(|a| (a, Some(&a.name))))
    {
        for (id, c) in taxonomy.categories() {
            let x = &area.categories[id.0 as usize];
            let share =
                |within: u64| (x.population > 0).then(|| within as f64 / x.population as f64);
            coverage_rows.push(CoverageRow {
                subdistrict: name.cloned(),
                subdistrict_label: name.map_or(district_label.clone(), |n| label_of_name(n)),
                category: c.id.clone(),
                label: label_of(id),
                walk_min: c.walk_min,
                population: x.population,
                within_existing: x.population_within_existing,
                share_existing: share(x.population_within_existing),
                within_planned: x.population_within_scenario,
                share_planned: share(x.population_within_scenario),
                residents_newly_covered: x.residents_newly_covered,
            });
        }
    }

    let mut blind_summaries = Vec::new();
    let mut blind_rows = Vec::new();
    for gaps in &inputs.gaps {
        let id = taxonomy.category(gaps.category).id.clone();
        blind_summaries.push(BlindSpotSummary {
            category: id.clone(),
            label: label_of(gaps.category),
            n_gaps: gaps.gaps.len(),
            residents_in_gaps: gaps.gaps.iter().map(|g| g.residents).sum(),
        });
        for (rank, gap) in gaps
            .gaps
            .iter()
            .take(inputs.settings.blind_spots)
            .enumerate()
        {
            let point = geo::Point::new(gap.centroid.0, gap.centroid.1);
            let area = dataset
                .areas
                .iter()
                .position(|a| a.polygon.contains(&point));
            let name = area.map(|a| dataset.areas[a].name.clone());
            blind_rows.push(BlindSpotRow {
                category: id.clone(),
                label: label_of(gaps.category),
                rank: rank + 1,
                area_km2: gap.area_m2 / 1e6,
                residents: gap.residents,
                lon: gap.centroid.0,
                lat: gap.centroid.1,
                subdistrict_label: area.map_or(district_label.clone(), area_label),
                map: map_url(&id, "coverage", name.as_deref()),
                subdistrict: name,
                near: nearest_named_place(dataset, gap.centroid),
            });
        }
    }

    let mut load_categories = Vec::new();
    let mut load_rows = Vec::new();
    let mut overloaded_rows = Vec::new();
    for CategoryLoad { load, below } in &inputs.loads {
        let id = taxonomy.category(load.category).id.clone();
        let label = label_of(load.category);
        let counted = load.capacity_used == crate::config::CapacitySource::Count;
        load_categories.push(LoadCategory {
            category: id.clone(),
            label: label.clone(),
            decay: load.params.decay.as_str(),
            capacity: load.capacity_used.as_str(),
            unit: match (counted, lang) {
                (false, Lang::Zh) => "人均建筑面积（平方米）".into(),
                (false, Lang::En) => "m² of floor area per resident".into(),
                (true, Lang::Zh) => "每人设施数".into(),
                (true, Lang::En) => "facilities per resident".into(),
            },
            below: *below,
            n_facilities: load.facilities.len(),
            facilities_without_demand: load.facilities.iter().filter(|f| f.ratio.is_none()).count(),
            map: map_url(&id, "access", None),
        });
        let (district, areas, _outside) = load.summaries(dataset, *below);
        let row = |subdistrict: Option<usize>, s: &crate::service_load::AccessSummary| LoadRow {
            subdistrict: subdistrict.map(|a| dataset.areas[a].name.clone()),
            subdistrict_label: subdistrict.map_or(district_label.clone(), area_label),
            category: id.clone(),
            label: label.clone(),
            residents: s.residents,
            mean_access: s.mean_access(),
            residents_below: below.map(|_| s.residents_below),
            share_below: below.and(s.share_below()),
        };
        load_rows.push(row(None, &district));
        for (a, s) in areas.iter().enumerate() {
            if s.residents > 0.0 {
                load_rows.push(row(Some(a), s));
            }
        }
        for (rank, f) in load
            .most_overloaded(inputs.settings.overloaded)
            .into_iter()
            .enumerate()
        {
            let facility = dataset.facility(f.idx);
            let point = geo::Point::new(facility.lon, facility.lat);
            let area = dataset
                .areas
                .iter()
                .position(|a| a.polygon.contains(&point));
            overloaded_rows.push(OverloadedRow {
                category: id.clone(),
                label: label.clone(),
                rank: rank + 1,
                id: facility.id,
                name: dataset.display_name(facility).to_owned(),
                subdistrict: area.map(|a| dataset.areas[a].name.clone()),
                subdistrict_label: area.map_or(district_label.clone(), area_label),
                capacity: f.capacity,
                capacity_from: f.capacity_from.as_str(),
                residents_within: f.residents_within,
                weighted_demand: f.weighted_demand,
                load: f.weighted_demand / f.capacity,
            });
        }
    }

    Report {
        lang,
        title: lang
            .pick("社区生活圈评估报告", "Community life circle evaluation report")
            .to_owned(),
        data_version: inputs.data_version,
        mode: inputs.coverage.mode.as_str(),
        profile: inputs.coverage.profile(inputs.profile).id.clone(),
        scenario: "planned",
        population,
        n_facilities: dataset.facilities().len(),
        categories,
        subdistricts,
        stock,
        coverage: CoverageSection {
            description: lang
                .pick(
                    "步行阈值内的居民占比：现状设施（existing）与加上在建、规划项目（planned）",
                    "Share of residents within the walking threshold: today's facilities (existing) and with the projects under construction and planned (planned)",
                )
                .to_owned(),
            rows: coverage_rows,
        },
        blind_spots: BlindSpotSection {
            description: lang
                .pick(
                    "盲区：步行阈值外连成一片的区域（按面积从大到小）",
                    "Blind spots: contiguous areas beyond the walking threshold, largest first",
                )
                .to_owned(),
            categories: blind_summaries,
            rows: blind_rows,
        },
        service_load: ServiceLoadSection {
            description: lang
                .pick(
                    "服务效能（两步移动搜寻法）：居民人均可达服务能力 A_i，按人口加权",
                    "Service load (two-step floating catchment): each resident's accessible capacity A_i, population-weighted",
                )
                .to_owned(),
            categories: load_categories,
            rows: load_rows,
        },
        overloaded: OverloadedSection {
            description: lang
                .pick(
                    "负荷最重的设施：单位服务能力承担的加权需求人数",
                    "Most overloaded facilities: weighted demand per unit of capacity",
                )
                .to_owned(),
            rows: overloaded_rows,
        },
        freshness: freshness_section(inputs, &label_of),
    }
}

/// Stock and increment rows: district first, then each subdistrict; rows where every figure
/// is zero are left out.
fn stock_section(
    inputs: &Inputs<'_>,
    label_of: &dyn Fn(CategoryId) -> String,
    area_label: &dyn Fn(usize) -> String,
    district_label: &str,
) -> StockSection {
    let lang = inputs.lang;
    let dataset = inputs.dataset;
    let taxonomy = &dataset.taxonomy;
    let n_areas = dataset.areas.len();
    let n_categories = taxonomy.len();
    // [area (n_areas = outside every subdistrict)][category] → counts
    let mut counts = vec![vec![crate::evaluation::Counts::default(); n_categories]; n_areas + 1];
    let slot = |area: Option<u16>| area.map_or(n_areas, |a| a as usize);
    match &inputs.baseline {
        Some(b) => {
            for ((area, category), c) in &b.diff.summary {
                counts[slot(*area)][category.0 as usize] = c.clone();
            }
        }
        None => {
            for (idx, f) in dataset.facilities().iter().enumerate() {
                if dataset.status(idx as u32) != Status::Existing {
                    continue;
                }
                let p = geo::Point::new(f.lon, f.lat);
                let area = dataset.areas.iter().position(|a| a.polygon.contains(&p));
                counts[area.unwrap_or(n_areas)][f.category.0 as usize].stock_now += 1;
            }
        }
    }
    let with_baseline = inputs.baseline.is_some();
    let kind = |k: ChangeKind| ChangeKind::ALL.iter().position(|x| *x == k).unwrap_or(0);
    let row = |area: Option<usize>, category: CategoryId, c: &crate::evaluation::Counts| StockRow {
        subdistrict: area.map(|a| dataset.areas[a].name.clone()),
        subdistrict_label: area.map_or(district_label.to_owned(), area_label),
        category: taxonomy.category(category).id.clone(),
        label: label_of(category),
        stock_before: with_baseline.then_some(c.stock_before),
        stock_now: c.stock_now,
        increment: with_baseline.then(|| c.stock_now as i64 - c.stock_before as i64),
        added: with_baseline.then(|| c.by_kind[kind(ChangeKind::Added)]),
        removed: with_baseline.then(|| c.by_kind[kind(ChangeKind::Removed)]),
        moved: with_baseline.then(|| c.by_kind[kind(ChangeKind::Moved)]),
    };
    let mut rows = Vec::new();
    for (id, _) in taxonomy.categories() {
        let mut total = crate::evaluation::Counts::default();
        for area in &counts {
            let c = &area[id.0 as usize];
            total.stock_before += c.stock_before;
            total.stock_now += c.stock_now;
            for (t, n) in total.by_kind.iter_mut().zip(c.by_kind) {
                *t += n;
            }
        }
        rows.push(row(None, id, &total));
    }
    for (a, area) in counts.iter().take(n_areas).enumerate() {
        for (id, _) in taxonomy.categories() {
            let c = &area[id.0 as usize];
            if c.stock_before + c.stock_now + c.by_kind.iter().sum::<u64>() > 0 {
                rows.push(row(Some(a), id, c));
            }
        }
    }
    let (baseline, note) = match &inputs.baseline {
        Some(b) => (
            Some(BaselineInfo {
                name: b.name.to_owned(),
                as_of: b.as_of.map(str::to_owned),
                n_facilities: b.diff.n_before,
            }),
            lang.pick(
                "存量为现状（existing）设施数；增量与基期对比，按 source:source_id 匹配",
                "Stock counts existing facilities; the increment compares with the baseline, matched by source:source_id",
            )
            .to_owned(),
        ),
        None if inputs.baselines_configured.is_empty() => (
            None,
            lang.pick(
                "未配置基期（[[baselines]]），只列现状存量，无增量",
                "No baseline is configured ([[baselines]]): today's stock only, no increment",
            )
            .to_owned(),
        ),
        None => (
            None,
            lang.pick(
                "未选择基期，只列现状存量",
                "No baseline chosen: today's stock only",
            )
            .to_owned(),
        ),
    };
    StockSection {
        baseline,
        note,
        rows,
    }
}

/// Per category, each source with facilities of it: provider, count, as-of date, and whether the
/// category's newest date is stale (as `/catalog` says).
fn freshness_section(
    inputs: &Inputs<'_>,
    label_of: &dyn Fn(CategoryId) -> String,
) -> FreshnessSection {
    let dataset = inputs.dataset;
    let settings = inputs.settings;
    let mut rows = Vec::new();
    for (id, c) in dataset.taxonomy.categories() {
        let counts = dataset.source_counts(id);
        let used: Vec<_> = dataset
            .sources
            .iter()
            .zip(counts)
            .filter(|(_, n)| **n > 0)
            .collect();
        let newest = used
            .iter()
            .filter_map(|(s, _)| s.as_of.as_ref())
            .max_by_key(|d| d.days);
        let stale = newest.map(|d| settings.today_days - d.days > settings.stale_after_days);
        for (s, n) in used {
            rows.push(FreshnessRow {
                category: c.id.clone(),
                label: label_of(id),
                source: s.name.clone(),
                provider: s.provider.clone(),
                n_facilities: *n,
                as_of: s.as_of.as_ref().map(|d| d.text.clone()),
                stale,
            });
        }
    }
    FreshnessSection {
        stale_after_days: settings.stale_after_days,
        rows,
    }
}

/// The name of the named residential place nearest to `at` (haversine), if any.
fn nearest_named_place(dataset: &Dataset, at: (f64, f64)) -> Option<String> {
    dataset
        .residents
        .iter()
        .filter_map(|r| {
            let name = r.name.as_deref().filter(|n| !n.trim().is_empty())?;
            Some((crate::geom::haversine_m(at, (r.lon, r.lat)), name))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name.to_owned())
}
