//! The evaluation report from scratch, as `/report` computes it on a data version's first
//! request once the coverage exists: the planned scenario's comparison, every category's blind
//! spots and 2SFCA service load, the baseline diff (sample), then the report model, its page,
//! its tables and the XLSX workbook. For the bundled sample (network mode) and the generated
//! district of 100,000 residential places and 20,000 facilities (both modes).
//!
//! cargo bench --bench report
//!
//! Prints one timed run of each stage, then criterion measures the whole (`from_scratch`) and
//! the last step alone (`model_page_tables`: what a request pays once the analyses are cached).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use lifecircle::attributes::Scenario;
use lifecircle::config::{Config, CoverageMode};
use lifecircle::coverage::scenario::{self, ScenarioChange};
use lifecircle::coverage::stats::{self, Gaps};
use lifecircle::coverage::{Coverage, CoverageParams};
use lifecircle::dataset::Dataset;
use lifecircle::evaluation::{self, Baseline, Diff};
use lifecircle::report::{self, html, tables};
use lifecircle::service_load::{self, ServiceLoad};

#[path = "support/district.rs"]
mod support;

/// What the report gathers from the analysis cache.
struct Analyses {
    planned: ScenarioChange,
    gaps: Vec<Gaps>,
    loads: Vec<(ServiceLoad, Option<f64>)>,
    diff: Option<Diff>,
}

fn analyses(
    dataset: &Dataset,
    coverage: &Coverage,
    planned: &Coverage,
    baseline: Option<&Baseline>,
    config: &Config,
) -> (Analyses, [f64; 3]) {
    let profile = coverage.params.default_profile;
    let never = AtomicBool::new(false);
    let started = Instant::now();
    let change = scenario::compare(coverage, planned, dataset, profile);
    let without_data = coverage.categories_without_data();
    let with_data: Vec<_> = dataset
        .taxonomy
        .categories()
        .filter(|(id, _)| !without_data.contains(id))
        .collect();
    let gaps = with_data
        .iter()
        .map(|&(id, _)| stats::gaps(coverage, dataset, id, profile))
        .collect();
    let t_coverage = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let loads = with_data
        .iter()
        .filter(|(id, _)| {
            !dataset
                .serving(*id, Scenario::Existing.statuses())
                .is_empty()
        })
        .map(|&(id, c)| {
            let (decay, capacity, below) = config.service_load.for_category(&c.id);
            let params = service_load::Params {
                decay,
                capacity,
                threshold_m: coverage.threshold_m(id, profile),
            };
            let load =
                service_load::compute(dataset, coverage, id, Scenario::Existing, params, &never)
                    .expect("computes");
            (load, below)
        })
        .collect();
    let t_sfca = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let diff = baseline.map(|b| evaluation::diff(b, dataset, config.evaluation.moved_distance_m));
    let t_diff = started.elapsed().as_secs_f64();
    (
        Analyses {
            planned: change,
            gaps,
            loads,
            diff,
        },
        [t_coverage, t_sfca, t_diff],
    )
}

/// The model, the page, every table and the workbook; gives the page's and workbook's bytes.
fn model_page_tables(
    dataset: &Dataset,
    coverage: &Coverage,
    analyses: &Analyses,
    baseline: Option<&Baseline>,
    config: &Config,
) -> (usize, usize) {
    let inputs = report::Inputs {
        lang: report::Lang::Zh,
        data_version: 1,
        dataset,
        coverage,
        profile: coverage.params.default_profile,
        planned: &analyses.planned,
        gaps: analyses.gaps.iter().collect(),
        loads: (analyses.loads.iter())
            .map(|(load, below)| report::CategoryLoad {
                load,
                below: *below,
            })
            .collect(),
        baseline: baseline
            .zip(analyses.diff.as_ref())
            .map(|(b, diff)| report::BaselineDiff {
                name: &b.name,
                as_of: b.as_of.as_deref(),
                diff,
            }),
        baselines_configured: baseline.iter().map(|b| b.name.as_str()).collect(),
        settings: report::Settings {
            blind_spots: config.report.blind_spots,
            overloaded: config.report.overloaded,
            stale_after_days: i64::from(config.data.stale_after_days),
            today_days: 20_000,
        },
    };
    let built = report::build(&inputs);
    let all = tables::all(&built);
    let page = html::render(&built, &all);
    let workbook = tables::xlsx(&all).expect("workbook");
    (page.len(), workbook.len())
}

fn bench_case(
    c: &mut Criterion,
    label: &str,
    dataset: &Dataset,
    params: &CoverageParams,
    baseline: Option<&Baseline>,
    config: &Config,
) {
    let started = Instant::now();
    let coverage = Coverage::build(dataset, params).expect("coverage builds");
    let planned = if dataset.has_other_than_existing(Scenario::Planned.statuses()) {
        Some(
            Coverage::build_for(dataset, params, Scenario::Planned.statuses())
                .expect("planned coverage builds"),
        )
    } else {
        None
    };
    let planned = planned.as_ref().unwrap_or(&coverage);
    let t_build = started.elapsed().as_secs_f64();
    let (done, [t_coverage, t_sfca, t_diff]) =
        analyses(dataset, &coverage, planned, baseline, config);
    let started = Instant::now();
    let (page_bytes, workbook_bytes) =
        model_page_tables(dataset, &coverage, &done, baseline, config);
    let t_report = started.elapsed().as_secs_f64();
    eprintln!(
        "{label} {:?}: {} residential places, {} facilities; coverage fields (today + planned) {t_build:.2} s \
         (before the report); scenario comparison + blind spots {t_coverage:.2} s; 2SFCA of {} categories \
         {t_sfca:.2} s; diff {t_diff:.3} s; model + page ({} KB) + tables + workbook ({} KB) {:.1} ms",
        params.mode,
        dataset.residents.len(),
        dataset.facilities().len(),
        done.loads.len(),
        page_bytes / 1024,
        workbook_bytes / 1024,
        t_report * 1e3,
    );
    let mut group = c.benchmark_group(format!("report/{label}_{:?}", params.mode).to_lowercase());
    group.sample_size(10);
    group.bench_function("from_scratch", |b| {
        b.iter(|| {
            let (done, _) = analyses(dataset, &coverage, planned, baseline, config);
            model_page_tables(dataset, &coverage, &done, baseline, config)
        })
    });
    group.bench_function("model_page_tables", |b| {
        b.iter(|| model_page_tables(dataset, &coverage, &done, baseline, config))
    });
    group.finish();
}

fn report_bench(c: &mut Criterion) {
    let config = Config::embedded().unwrap();
    let snapshot = lifecircle::snapshot::build(&config, 1).expect("sample loads");
    let params = CoverageParams::from(&config.coverage);
    bench_case(
        c,
        "sample",
        &snapshot.dataset,
        &params,
        snapshot.baselines.first(),
        &config,
    );
    let district = support::district(snapshot.dataset.taxonomy.clone());
    for mode in [CoverageMode::Network, CoverageMode::Euclidean] {
        let mut params = CoverageParams::from(&config.coverage);
        params.mode = mode;
        params.cell_m = params.cell_m.max(100.0);
        bench_case(
            c,
            "district_100k_places_20k_facilities",
            &district,
            &params,
            None,
            &config,
        );
    }
}

criterion_group!(benches, report_bench);
criterion_main!(benches);
