//! The evaluation report over HTTP: `/report.json` holds the figures of the routes it gathers
//! (`/coverage/stats`, `/coverage/stats?scenario=planned`, `/coverage/gaps`,
//! `/service-load/{category}`, `/evaluation/diff`, `/catalog`) on the bundled sample; its tables
//! as CSV (byte order mark, formulas defused) and as XLSX (read back by Python's openpyxl, Debian
//! package python3-openpyxl) hold the JSON's figures, numbers as numbers; the page escapes names
//! that look like HTML; bad parameters are named.
//!
//! The second fixture is the test street grid with facilities named like HTML and like
//! spreadsheet formulas, a source with a provider and an old as-of date, and no baseline.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::grid_world::{SIDE_M, at, write, write_streets_and_subdistricts};
use crate::support::{self, TestServer, get, get_json};

/// Per table, the `/report.json` field each column shows (the column order of the downloads).
const TABLES: [(&str, &[&str]); 6] = [
    (
        "stock",
        &[
            "subdistrict_label",
            "label",
            "stock_before",
            "stock_now",
            "increment",
            "added",
            "removed",
            "moved",
        ],
    ),
    (
        "coverage",
        &[
            "subdistrict_label",
            "label",
            "walk_min",
            "population",
            "within_existing",
            "share_existing",
            "within_planned",
            "share_planned",
            "residents_newly_covered",
        ],
    ),
    (
        "blind_spots",
        &[
            "label",
            "rank",
            "area_km2",
            "residents",
            "subdistrict_label",
            "near",
            "lon",
            "lat",
        ],
    ),
    (
        "service_load",
        &[
            "subdistrict_label",
            "label",
            "residents",
            "mean_access",
            "residents_below",
            "share_below",
        ],
    ),
    (
        "overloaded",
        &[
            "label",
            "rank",
            "id",
            "name",
            "subdistrict_label",
            "capacity",
            "capacity_from",
            "residents_within",
            "weighted_demand",
            "load",
        ],
    ),
    (
        "freshness",
        &[
            "label",
            "source",
            "provider",
            "n_facilities",
            "as_of",
            "stale",
        ],
    ),
];

fn rows<'a>(report: &'a Value, section: &str) -> &'a Vec<Value> {
    report[section]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("report section `{section}` has no rows"))
}

/// The area of a `/coverage/stats`-shaped answer a report row names (`null`: the total).
fn stats_area<'a>(stats: &'a Value, subdistrict: &Value) -> &'a Value {
    match subdistrict.as_str() {
        None => &stats["total"],
        Some(name) => stats["subdistricts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no subdistrict {name} in {stats}")),
    }
}

#[test]
fn report_figures_are_those_of_the_routes_they_come_from() {
    let server = support::spawn("[service_load]\nbelow = 0.05\n");
    let report = get_json(&server.url("/report.json?lang=en"));
    assert_eq!(report["lang"], "en");
    assert_eq!(report["mode"], "network");
    let n_categories = report["categories"].as_array().unwrap().len();
    let subdistricts = report["subdistricts"].as_array().unwrap();
    assert!(subdistricts.len() >= 2, "{}", report["subdistricts"]);

    // Coverage today and with the projects: /coverage/stats?scenario=planned and /coverage/stats.
    let planned = get_json(&server.url("/coverage/stats?scenario=planned"));
    let today = get_json(&server.url("/coverage/stats"));
    let coverage = rows(&report, "coverage");
    assert_eq!(coverage.len(), n_categories * (1 + subdistricts.len()));
    for row in coverage {
        let category = row["category"].as_str().unwrap();
        let c = &stats_area(&planned, &row["subdistrict"])["categories"][category];
        assert_eq!(row["population"], c["population"], "{row}");
        assert_eq!(
            row["within_existing"], c["existing"]["population_within"],
            "{row}"
        );
        assert_eq!(
            row["share_existing"], c["existing"]["population_share"],
            "{row}"
        );
        assert_eq!(
            row["within_planned"], c["scenario"]["population_within"],
            "{row}"
        );
        assert_eq!(
            row["share_planned"], c["scenario"]["population_share"],
            "{row}"
        );
        assert_eq!(
            row["residents_newly_covered"], c["residents_newly_covered"],
            "{row}"
        );
        let t = &stats_area(&today, &row["subdistrict"])["categories"][category];
        assert_eq!(row["share_existing"], t["population_share"], "{row}");
    }
    // The sample's planned projects cover somebody new.
    assert!(
        coverage
            .iter()
            .any(|r| r["residents_newly_covered"].as_u64() > Some(0))
    );

    // Blind spots: /coverage/gaps, the largest three per category.
    let summaries = report["blind_spots"]["categories"].as_array().unwrap();
    assert!(!summaries.is_empty());
    for summary in summaries {
        let category = summary["category"].as_str().unwrap();
        let gaps = get_json(&server.url(&format!("/coverage/gaps?category={category}&limit=3")));
        assert_eq!(summary["n_gaps"], gaps["n_gaps"], "{category}");
        assert_eq!(
            summary["residents_in_gaps"], gaps["total_residents"],
            "{category}"
        );
        let mine: Vec<&Value> = rows(&report, "blind_spots")
            .iter()
            .filter(|r| r["category"] == category)
            .collect();
        let theirs = gaps["gaps"].as_array().unwrap();
        assert_eq!(mine.len(), theirs.len(), "{category}");
        for (m, t) in mine.iter().zip(theirs) {
            assert_eq!(m["rank"], t["rank"]);
            assert_eq!(m["area_km2"], t["area_km2"]);
            assert_eq!(m["residents"], t["residents"]);
            assert_eq!(m["lon"], t["centroid"][0]);
            assert_eq!(m["lat"], t["centroid"][1]);
            let map = m["map"].as_str().unwrap();
            assert!(
                map.starts_with(&format!(
                    "/report/map.png?category={category}&scenario=existing"
                )),
                "{map}"
            );
        }
    }

    // Service load: /service-load/{category}.
    let loads = report["service_load"]["categories"].as_array().unwrap();
    assert!(loads.len() >= 5, "{loads:?}");
    for c in loads {
        let category = c["category"].as_str().unwrap();
        let load = get_json(&server.url(&format!("/service-load/{category}")));
        assert_eq!(c["decay"], load["decay"]);
        assert_eq!(c["capacity"], load["capacity"]["used"]);
        assert_eq!(c["below"], 0.05);
        assert_eq!(c["n_facilities"], load["n_facilities"]);
        assert_eq!(
            c["facilities_without_demand"],
            load["facilities_without_demand"]
        );
        let mine: Vec<&Value> = rows(&report, "service_load")
            .iter()
            .filter(|r| r["category"] == category)
            .collect();
        for row in &mine {
            let theirs = match row["subdistrict"].as_str() {
                None => &load["district"],
                Some(name) => load["subdistricts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["name"] == name)
                    .unwrap(),
            };
            for key in ["residents", "mean_access", "residents_below", "share_below"] {
                assert_eq!(row[key], theirs[key], "{category} {key}: {row}");
            }
        }
        assert!(mine[0]["share_below"].is_f64(), "{}", mine[0]);
        let overloaded: Vec<&Value> = rows(&report, "overloaded")
            .iter()
            .filter(|r| r["category"] == category)
            .collect();
        let theirs = load["most_overloaded"].as_array().unwrap();
        assert_eq!(overloaded.len(), theirs.len().min(5), "{category}");
        for (m, t) in overloaded.iter().zip(theirs) {
            assert_eq!(m["id"], t["id"]);
            assert_eq!(m["name"], t["name"]);
            assert_eq!(m["capacity"], t["capacity"]);
            assert_eq!(m["residents_within"], t["residents_within"]);
            assert_eq!(m["weighted_demand"], t["weighted_demand"]);
            let load_then = t["load"].as_f64().unwrap();
            let load_now = m["load"].as_f64().unwrap();
            assert!(
                (load_then - load_now).abs() <= 1e-12 * load_then.abs(),
                "{m} {t}"
            );
        }
    }

    // Stock and increment: /evaluation/diff against the sample's 2021 baseline.
    assert_eq!(report["stock"]["baseline"]["name"], "2021");
    let diff = get_json(&server.url("/evaluation/diff?baseline=2021"));
    let summary = diff["summary"].as_array().unwrap();
    let stock = rows(&report, "stock");
    assert!(stock.len() > n_categories);
    for row in stock {
        let matching = summary.iter().filter(|s| {
            s["category"] == row["category"]
                && (row["subdistrict"].is_null() || s["subdistrict"] == row["subdistrict"])
        });
        let mut sums = [0i64; 6];
        for s in matching {
            for (k, key) in [
                "stock_before",
                "stock_now",
                "increment",
                "added",
                "removed",
                "moved",
            ]
            .iter()
            .enumerate()
            {
                sums[k] += s[key].as_i64().unwrap();
            }
        }
        for (k, key) in [
            "stock_before",
            "stock_now",
            "increment",
            "added",
            "removed",
            "moved",
        ]
        .iter()
        .enumerate()
        {
            assert_eq!(row[key].as_i64(), Some(sums[k]), "{key}: {row}");
        }
    }
    let added: i64 = stock
        .iter()
        .filter(|r| r["subdistrict"].is_null())
        .map(|r| r["added"].as_i64().unwrap())
        .sum();
    assert_eq!(Some(added), diff["totals"]["added"].as_i64());

    // Data freshness: /catalog.
    let catalog = get_json(&server.url("/catalog"));
    for row in rows(&report, "freshness") {
        let c = catalog["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == row["category"])
            .unwrap();
        let source = c["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == row["source"])
            .unwrap_or_else(|| panic!("{row} not in {c}"));
        assert_eq!(row["provider"], source["provider"]);
        assert_eq!(row["n_facilities"], source["n_facilities"]);
        assert_eq!(row["as_of"], source["as_of"]);
        assert_eq!(row["stale"], c["stale"]);
    }

    // Chinese by default: other labels, the same figures.
    let zh = get_json(&server.url("/report.json"));
    assert_eq!(zh["lang"], "zh");
    assert_eq!(
        zh["subdistricts"][0]["label"],
        zh["subdistricts"][0]["name"]
    );
    assert_ne!(
        zh["categories"][0]["label"],
        report["categories"][0]["label"]
    );
    for (a, b) in rows(&zh, "coverage").iter().zip(coverage) {
        assert_eq!(a["share_existing"], b["share_existing"]);
    }
}

/// Facilities of the grid world: `(name, category, x, y)`; names like HTML and formulas.
const FACILITIES: [(&str, &str, f64, f64); 5] = [
    ("<b>华阳养老院</b> & \"东\"", "elderly", 307.3, 303.1),
    ("天山长者照护之家", "elderly", 1307.3, 1291.0),
    ("=HYPERLINK(\"http://x\",\"菜场\")", "market", 811.0, 207.0),
    ("-新泾菜场", "market", 600.0, 1380.0),
    ("'程家桥'幼儿园", "kindergarten", 900.0, 900.0),
];

const PROVIDER: &str = "区民政局 <统计科> & \"规划\"";

fn serve_grid_world(dir: &Path) -> TestServer {
    write_streets_and_subdistricts(dir);
    // A place every 109 m or so: each facility has residents within its walking threshold.
    let places: Vec<String> = (0..225)
        .map(|i| {
            let (x, y) = (
                40.0 + (i % 15) as f64 * (SIDE_M - 80.0) / 14.0,
                40.0 + (i / 15) as f64 * (SIDE_M - 80.0) / 14.0,
            );
            let (lon, lat) = at(x + 3.0, y + 5.0);
            format!(
                r#"{{"type":"Feature","properties":{{"name":"小区{i}","population":{}}},"geometry":{{"type":"Point","coordinates":[{lon},{lat}]}}}}"#,
                50 + i * 7
            )
        })
        .collect();
    write(
        &dir.join("residents.geojson"),
        &format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            places.join(",")
        ),
    );
    let mut csv = String::from("id,name,category,lon,lat\n");
    for (i, (name, category, x, y)) in FACILITIES.iter().enumerate() {
        let (lon, lat) = at(*x, *y);
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        csv.push_str(&format!("f{i},{quoted},{category},{lon},{lat}\n"));
    }
    write(&dir.join("facilities.csv"), &csv);
    let provider = toml::Value::String(PROVIDER.into()).to_string();
    let config = format!(
        "[data]\nroads = \"roads.geojson\"\nsubdistricts = \"subdistricts.geojson\"\nresidents = \"residents.geojson\"\n\n[[data.sources]]\nfile = \"facilities.csv\"\nname = \"bureau\"\nprovider = {provider}\nas_of = 2020-01-31\n\n[coverage]\nmode = \"network\"\n\n[service_load]\nbelow = 0.002\n"
    );
    support::spawn_with(&config, dir)
}

fn python_with_openpyxl() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import openpyxl"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The sheets of an XLSX workbook as openpyxl reads them.
fn read_xlsx(python: &str, bytes: &[u8]) -> Value {
    let file = tempfile::NamedTempFile::with_suffix(".xlsx").unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let out = Command::new(python)
        .arg(support::repo_root().join("tests/it/read_xlsx.py"))
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read_xlsx.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// What a CSV cell holds for a JSON value: numbers as written, text with formulas defused.
fn csv_matches(cell: &str, value: &Value, lang: &str) -> bool {
    match value {
        Value::Null => cell.is_empty(),
        Value::Number(n) => cell.parse::<f64>().ok() == n.as_f64(),
        Value::Bool(b) => {
            cell == match (lang, b) {
                ("en", true) => "yes",
                ("en", false) => "no",
                (_, true) => "是",
                (_, false) => "否",
            }
        }
        Value::String(s) => {
            if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                cell == format!("'{s}")
            } else {
                cell == s
            }
        }
        other => panic!("unexpected value {other}"),
    }
}

/// What an XLSX cell holds for a JSON value: numbers as number cells (ids, 53-bit hashes, as
/// text), text as text cells, never formulas.
fn xlsx_matches(cell: &Value, value: &Value, key: &str, lang: &str) -> bool {
    match value {
        Value::Null => cell["value"].is_null(),
        Value::Number(n) if key == "id" => cell["type"] == "s" && cell["value"] == n.to_string(),
        Value::Number(n) => cell["type"] == "n" && cell["value"].as_f64() == n.as_f64(),
        Value::Bool(_) => csv_matches(cell["value"].as_str().unwrap_or(""), value, lang),
        Value::String(s) => cell["type"] == "s" && cell["value"] == s.as_str(),
        other => panic!("unexpected value {other}"),
    }
}

#[test]
fn tables_download_as_csv_and_xlsx_with_the_json_figures() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_grid_world(dir.path());
    let enforced = std::env::var("LIFECIRCLE_JS_TESTS").as_deref() == Ok("1");
    let python = python_with_openpyxl();
    assert!(
        python.is_some() || !enforced,
        "openpyxl is missing; scripts/test.sh installs it (Debian package python3-openpyxl)"
    );
    if python.is_none() {
        eprintln!("note: XLSX read-back skipped: python3-openpyxl is missing");
    }
    for lang in ["en", "zh"] {
        let report = get_json(&server.url(&format!("/report.json?lang={lang}")));
        // No baseline here: the report says so and gives today's stock only.
        assert!(report["stock"]["baseline"].is_null());
        let note = report["stock"]["note"].as_str().unwrap();
        assert!(note.contains("[[baselines]]"), "{note}");
        assert!(
            rows(&report, "stock")
                .iter()
                .all(|r| r["increment"].is_null())
        );
        let workbook = python.map(|python| {
            let response = get(&server.url(&format!("/report.xlsx?lang={lang}")));
            assert_eq!(response.status(), 200);
            read_xlsx(python, &response.bytes().unwrap())
        });
        for (table, keys) in TABLES {
            let json_rows = rows(&report, table);
            assert!(!json_rows.is_empty(), "{table} is empty");
            let response = get(&server.url(&format!("/report/tables/{table}.csv?lang={lang}")));
            assert_eq!(response.status(), 200, "{table}.csv");
            assert_eq!(
                response.headers()["content-type"],
                "text/csv; charset=utf-8"
            );
            let text = response.text().unwrap();
            let body = text
                .strip_prefix('\u{feff}')
                .unwrap_or_else(|| panic!("{table}.csv has no byte order mark"));
            let mut reader = csv::Reader::from_reader(body.as_bytes());
            let headings: Vec<String> = reader
                .headers()
                .unwrap()
                .iter()
                .map(str::to_owned)
                .collect();
            assert_eq!(headings.len(), keys.len(), "{table}: {headings:?}");
            let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
            assert_eq!(records.len(), json_rows.len(), "{table}");
            for (record, row) in records.iter().zip(json_rows) {
                for (cell, key) in record.iter().zip(keys) {
                    assert!(
                        csv_matches(cell, &row[*key], lang),
                        "{table}.csv {key}: `{cell}` against {}",
                        row[*key]
                    );
                }
            }
            let Some(python) = python else { continue };
            let response = get(&server.url(&format!("/report/tables/{table}.xlsx?lang={lang}")));
            assert_eq!(response.status(), 200, "{table}.xlsx");
            let one = read_xlsx(python, &response.bytes().unwrap());
            let all = workbook.as_ref().unwrap();
            let in_workbook = all["sheets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == table)
                .unwrap_or_else(|| panic!("no sheet {table} in report.xlsx"));
            for sheet in [&one["sheets"][0], in_workbook] {
                assert_eq!(sheet["name"], table);
                let sheet_rows = sheet["rows"].as_array().unwrap();
                let sheet_headings: Vec<&str> = sheet_rows[0]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["value"].as_str().unwrap())
                    .collect();
                assert_eq!(sheet_headings, headings, "{table}.xlsx headings");
                assert_eq!(sheet_rows.len(), json_rows.len() + 1, "{table}.xlsx rows");
                for (cells, row) in sheet_rows[1..].iter().zip(json_rows) {
                    for (k, key) in keys.iter().enumerate() {
                        let cell = &cells[k];
                        assert!(
                            xlsx_matches(cell, &row[*key], key, lang),
                            "{table}.xlsx {key}: {cell} against {}",
                            row[*key]
                        );
                    }
                }
            }
        }
        if let Some(all) = &workbook {
            let names: Vec<&str> = all["sheets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, TABLES.map(|t| t.0));
        }
    }

    // The names that look like HTML or formulas reach the JSON as they are.
    let report = get_json(&server.url("/report.json?lang=en"));
    let names: Vec<&str> = rows(&report, "overloaded")
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&FACILITIES[0].0),
        "{names:?} in {}",
        report["service_load"]
    );
    assert!(names.contains(&FACILITIES[2].0), "{names:?}");
    let freshness = rows(&report, "freshness");
    assert!(freshness.iter().all(|r| r["provider"] == PROVIDER));
    assert!(freshness.iter().all(|r| r["as_of"] == "2020-01-31"));
    assert!(freshness.iter().all(|r| r["stale"] == true));

    // The page: escaped, every table with its downloads, no script, small maps by URL.
    let response = get(&server.url("/report?lang=en"));
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let page = response.text().unwrap();
    assert!(!page.contains("<b>华阳"), "a name was written as HTML");
    assert!(page.contains("&lt;b&gt;华阳养老院&lt;/b&gt; &amp; &quot;东&quot;"));
    assert!(page.contains("区民政局 &lt;统计科&gt; &amp; &quot;规划&quot;"));
    assert!(!page.contains("<script"));
    for (table, _) in TABLES {
        for ext in ["csv", "xlsx"] {
            let link = format!("href=\"/report/tables/{table}.{ext}?lang=en\"");
            assert!(page.contains(&link), "no {link}");
        }
    }
    assert!(page.contains("<img src=\"/report/map.png?category="));
    assert!(page.contains("@media print"));
    let zh = get(&server.url("/report")).text().unwrap();
    assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("社区生活圈评估报告"));
}

#[test]
fn bad_report_requests_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_grid_world(dir.path());
    for (path, status, named) in [
        ("/report?lang=fr", 400, "`lang`"),
        ("/report.json?lang=", 400, "`lang`"),
        ("/report.json?lang=en&lang=zh", 400, "`lang`"),
        ("/report.json?colour=red", 400, "`colour`"),
        ("/report.xlsx?baseline=2021", 400, "`2021`"),
        ("/report/tables/nope.csv", 404, "`nope`"),
        ("/report/tables/stock.pdf", 404, "`.pdf`"),
        ("/report/tables/stock", 404, "`stock`"),
        ("/report/tables/coverage.csv?lang=de", 400, "`lang`"),
    ] {
        let response = get(&server.url(path));
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(named), "{path}: {message}");
    }
}
