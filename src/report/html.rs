//! The printable report page: a [`Report`] and its [`Table`]s → one HTML document, with no
//! script and no map library: print CSS (A4, a page break before each section), a layout that
//! reads at phone widths, bar charts as inline SVG, small maps as `<img>` of
//! `/report/map.png`.
//!
//! Every figure and every text taken from the data is an element carrying `data-v`, the JSON
//! pointer of the `/report.json` value it shows, and `data-f`, how it is formatted (`int`,
//! `pct`, `sig3`, `f2`, `f5`, `text`, `bool`), so a test can check each against the JSON. All
//! text is escaped.

use std::fmt::Write;

use super::tables::{Format, Table, Value};
use super::{Lang, Report};

const CSS: &str = r#"
:root { --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --accent: #2f6fdd; --light: #a9c5f5; --warn: #d1242f; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 16px; color: var(--ink);
  font: 14px/1.5 system-ui, "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif; }
h1 { font-size: 1.6em; margin: 0.2em 0; }
h2 { font-size: 1.3em; border-bottom: 2px solid var(--accent); padding-bottom: 2px; margin-top: 1.6em; }
h3 { font-size: 1.05em; margin: 1.2em 0 0.4em; }
p.meta, p.note { color: var(--muted); margin: 0.3em 0; }
nav.links a, .downloads a { margin-right: 1em; }
.downloads { font-size: 0.9em; margin: 0.4em 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; margin: 0.4em 0 1em; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th { background: #f6f8fa; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 12px; }
figure { margin: 0; break-inside: avoid; }
figcaption { font-weight: 600; margin-bottom: 2px; }
svg { width: 100%; height: auto; font-size: 11px; }
svg .existing { fill: var(--accent); }
svg .planned { fill: var(--light); }
svg .load { fill: var(--warn); }
.maps { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px; }
.maps img { width: 100%; height: auto; border: 1px solid var(--line); background: #f6f8fa; aspect-ratio: 3 / 2; }
.legend span { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
@media (max-width: 600px) { body { padding: 8px; font-size: 13px; } .charts, .maps { grid-template-columns: 1fr; } }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav.links, .downloads { display: none; }
  section { break-before: page; }
  section:first-of-type { break-before: auto; }
  .scroll { overflow: visible; }
  /* Tables fit the paper: fixed columns, long figures and names wrap. */
  table { table-layout: fixed; }
  th, td, td.n, th.n { white-space: normal; overflow-wrap: anywhere; }
  tr, img { break-inside: avoid; }
  thead { display: table-header-group; }
}
"#;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole number with thousands separators.
fn int(v: f64) -> String {
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Three significant digits.
fn sig3(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".into();
    }
    let decimals = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

/// `v` as the page shows it in `format`.
fn formatted(format: Format, v: &Value) -> String {
    match (format, v) {
        (_, Value::Empty) => "—".into(),
        (Format::Int, Value::Number(n)) => int(*n),
        (Format::Percent, Value::Number(n)) => format!("{:.1}%", n * 100.0),
        (Format::Sig3, Value::Number(n)) => sig3(*n),
        (Format::Fixed2, Value::Number(n)) => format!("{n:.2}"),
        (Format::Fixed5, Value::Number(n)) => format!("{n:.5}"),
        (_, Value::Number(n)) => n.to_string(),
        (_, Value::Text(t)) => t.clone(),
    }
}

/// An element showing `v`, keyed to `pointer`.
fn keyed(tag: &str, pointer: &str, format: Format, v: &Value, extra: &str) -> String {
    format!(
        r#"<{tag} data-v="{}" data-f="{}"{extra}>{}</{tag}>"#,
        escape(pointer),
        format.as_str(),
        escape(&formatted(format, v)),
        tag = tag
    )
}

/// A whole number in a `<span>` keyed by its JSON pointer.
fn int_span(pointer: &str, n: f64) -> String {
    keyed("span", pointer, Format::Int, &Value::Number(n), "")
}

fn number(n: Option<f64>) -> Value {
    n.map_or(Value::Empty, Value::Number)
}

fn text(t: &str) -> Value {
    Value::Text(t.to_owned())
}

/// The page of `report`; `tables` are its tables (`tables::all`).
pub fn render(report: &Report, tables: &[Table]) -> String {
    let lang = report.lang;
    let t = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let other = match lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="{html_lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<title>{title}</title><style>{CSS}</style></head><body>
<header><h1 data-v="/title" data-f="text">{title}</h1>
<p class="meta">{version_label} {version} · {mode_label} {mode} · {population_label} {population} · {facilities_label} {facilities}</p>
<nav class="links"><a href="?lang={other_lang}" hreflang="{other_lang}">{other_name}</a><a href="/report.xlsx?lang={lang}">{workbook}</a><a href="/report.json?lang={lang}">JSON</a><a href="/">{map}</a></nav>
</header>
"#,
        html_lang = t("zh-CN", "en"),
        title = escape(&report.title),
        version_label = t("数据版本", "Data version"),
        version = keyed(
            "span",
            "/data_version",
            Format::Int,
            &Value::Number(report.data_version as f64),
            ""
        ),
        mode_label = t("步行距离", "Walking distance"),
        mode = keyed("span", "/mode", Format::Text, &text(report.mode), ""),
        population_label = t("居民", "Residents"),
        population = keyed(
            "span",
            "/population",
            Format::Int,
            &Value::Number(report.population as f64),
            ""
        ),
        facilities_label = t("设施", "Facilities"),
        facilities = keyed(
            "span",
            "/n_facilities",
            Format::Int,
            &Value::Number(report.n_facilities as f64),
            ""
        ),
        other_lang = other.0,
        other_name = other.1,
        lang = lang.as_str(),
        workbook = t("下载全部表格（Excel）", "Download every table (Excel)"),
        map = t("地图", "Map"),
    );
    overview(&mut out, report);
    let table_of = |id: &str| tables.iter().find(|t| t.id == id);

    // Coverage: bars per subdistrict, then the table.
    let _ = write!(
        out,
        r#"<section id="coverage"><h2>{}</h2><p class="note" data-v="/coverage/description" data-f="text">{}</p>
<p class="legend"><span class="k" style="background:#2f6fdd"></span>{}<span class="k" style="background:#a9c5f5"></span>{}</p><div class="charts">"#,
        t("覆盖率", "Coverage"),
        escape(&report.coverage.description),
        t("现状", "existing"),
        t("规划", "planned"),
    );
    for (ci, category) in report.categories.iter().enumerate() {
        if !category.has_data {
            continue;
        }
        let rows: Vec<usize> = (report.coverage.rows.iter().enumerate())
            .filter(|(_, r)| r.category == category.id && r.subdistrict.is_some())
            .map(|(i, _)| i)
            .collect();
        if rows.is_empty() {
            continue;
        }
        coverage_chart(&mut out, report, ci, &rows);
    }
    out.push_str("</div>");
    if let Some(table) = table_of("coverage") {
        table_html(&mut out, table, lang);
    }
    out.push_str("</section>\n");

    // Stock and increment.
    let _ = write!(
        out,
        r#"<section id="stock"><h2>{}</h2><p class="note" data-v="/stock/note" data-f="text">{}</p>"#,
        t("存量与增量", "Stock and increment"),
        escape(&report.stock.note)
    );
    if let Some(b) = &report.stock.baseline {
        let _ = write!(
            out,
            r#"<p class="meta">{} {} · {} {} · {} {}</p>"#,
            t("基期", "Baseline"),
            keyed(
                "span",
                "/stock/baseline/name",
                Format::Text,
                &text(&b.name),
                ""
            ),
            t("基期日期", "as of"),
            keyed(
                "span",
                "/stock/baseline/as_of",
                Format::Text,
                &b.as_of.as_deref().map_or(Value::Empty, text),
                ""
            ),
            t("基期设施数", "facilities then"),
            keyed(
                "span",
                "/stock/baseline/n_facilities",
                Format::Int,
                &Value::Number(b.n_facilities as f64),
                ""
            ),
        );
    }
    if let Some(table) = table_of("stock") {
        table_html(&mut out, table, lang);
    }
    out.push_str("</section>\n");

    // Blind spots with small maps.
    let _ = write!(
        out,
        r#"<section id="blind_spots"><h2>{}</h2><p class="note" data-v="/blind_spots/description" data-f="text">{}</p><div class="scroll"><table><thead><tr><th>{}</th><th class="n">{}</th><th class="n">{}</th></tr></thead><tbody>"#,
        t("盲区", "Blind spots"),
        escape(&report.blind_spots.description),
        t("类别", "Category"),
        t("盲区数", "Blind spots"),
        t("盲区内居民", "Residents in them"),
    );
    for (i, s) in report.blind_spots.categories.iter().enumerate() {
        let p = format!("/blind_spots/categories/{i}");
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            keyed(
                "span",
                &format!("{p}/label"),
                Format::Text,
                &text(&s.label),
                ""
            ),
            int_span(&format!("{p}/n_gaps"), s.n_gaps as f64),
            int_span(
                &format!("{p}/residents_in_gaps"),
                s.residents_in_gaps as f64
            ),
        );
    }
    out.push_str("</tbody></table></div>");
    if let Some(table) = table_of("blind_spots") {
        table_html(&mut out, table, lang);
    }
    out.push_str(r#"<div class="maps">"#);
    for (i, r) in report.blind_spots.rows.iter().enumerate() {
        let p = format!("/blind_spots/rows/{i}");
        let _ = write!(
            out,
            r#"<figure><figcaption>{} #{} · {}</figcaption><img src="{}" alt="{}" width="480" height="320"><p class="meta">{} {} km² · {} {}</p></figure>"#,
            keyed(
                "span",
                &format!("{p}/label"),
                Format::Text,
                &text(&r.label),
                ""
            ),
            int_span(&format!("{p}/rank"), r.rank as f64),
            keyed(
                "span",
                &format!("{p}/subdistrict_label"),
                Format::Text,
                &text(&r.subdistrict_label),
                ""
            ),
            escape(&r.map),
            escape(&format!("{} {}", r.label, r.subdistrict_label)),
            t("面积", "Area"),
            keyed(
                "span",
                &format!("{p}/area_km2"),
                Format::Fixed2,
                &Value::Number(r.area_km2),
                ""
            ),
            t("居民", "residents"),
            int_span(&format!("{p}/residents"), r.residents as f64),
        );
    }
    out.push_str("</div></section>\n");

    // Service load.
    let _ = write!(
        out,
        r#"<section id="service_load"><h2>{}</h2><p class="note" data-v="/service_load/description" data-f="text">{}</p><div class="scroll"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th></tr></thead><tbody>"#,
        t("服务效能", "Service load"),
        escape(&report.service_load.description),
        t("类别", "Category"),
        t("距离衰减", "Decay"),
        t("服务能力", "Capacity"),
        t("单位", "Unit"),
        t("低于水平", "Level"),
        t("设施数", "Facilities"),
        t("无需求的设施", "Without demand"),
    );
    for (i, c) in report.service_load.categories.iter().enumerate() {
        let p = format!("/service_load/categories/{i}");
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            keyed(
                "span",
                &format!("{p}/label"),
                Format::Text,
                &text(&c.label),
                ""
            ),
            keyed(
                "span",
                &format!("{p}/decay"),
                Format::Text,
                &text(c.decay),
                ""
            ),
            keyed(
                "span",
                &format!("{p}/capacity"),
                Format::Text,
                &text(c.capacity),
                ""
            ),
            keyed(
                "span",
                &format!("{p}/unit"),
                Format::Text,
                &text(&c.unit),
                ""
            ),
            keyed(
                "span",
                &format!("{p}/below"),
                Format::Sig3,
                &number(c.below),
                ""
            ),
            int_span(&format!("{p}/n_facilities"), c.n_facilities as f64),
            int_span(
                &format!("{p}/facilities_without_demand"),
                c.facilities_without_demand as f64
            ),
        );
    }
    out.push_str("</tbody></table></div>");
    if let Some(table) = table_of("service_load") {
        table_html(&mut out, table, lang);
    }
    out.push_str(r#"<div class="maps">"#);
    for (i, c) in report.service_load.categories.iter().enumerate() {
        let _ = write!(
            out,
            r#"<figure><figcaption>{}</figcaption><img src="{}" alt="{}" width="480" height="320"></figure>"#,
            keyed(
                "span",
                &format!("/service_load/categories/{i}/label"),
                Format::Text,
                &text(&c.label),
                ""
            ),
            escape(&c.map),
            escape(&c.label),
        );
    }
    out.push_str("</div>");
    let _ = write!(
        out,
        r#"<h3>{}</h3><p class="note" data-v="/overloaded/description" data-f="text">{}</p><div class="charts">"#,
        t("负荷最重的设施", "Most overloaded facilities"),
        escape(&report.overloaded.description),
    );
    for c in &report.service_load.categories {
        let rows: Vec<usize> = (report.overloaded.rows.iter().enumerate())
            .filter(|(_, r)| r.category == c.category)
            .map(|(i, _)| i)
            .collect();
        if !rows.is_empty() {
            overloaded_chart(&mut out, report, &c.label, &rows);
        }
    }
    out.push_str("</div>");
    if let Some(table) = table_of("overloaded") {
        table_html(&mut out, table, lang);
    }
    out.push_str("</section>\n");

    // Data freshness.
    let _ = write!(
        out,
        r#"<section id="freshness"><h2>{}</h2><p class="note">{} {} {}</p>"#,
        t("数据时效", "Data freshness"),
        t(
            "最新数据日期早于",
            "A category is stale when its newest source is older than"
        ),
        keyed(
            "span",
            "/freshness/stale_after_days",
            Format::Int,
            &Value::Number(report.freshness.stale_after_days as f64),
            ""
        ),
        t("天即为过期", "days"),
    );
    if let Some(table) = table_of("freshness") {
        table_html(&mut out, table, lang);
    }
    out.push_str("</section>\n</body></html>\n");
    out
}

/// The district's figures per category, each keyed to its section's district row.
fn overview(out: &mut String, report: &Report) {
    let lang = report.lang;
    let t = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let _ = write!(
        out,
        r#"<section id="overview"><h2>{}</h2><div class="scroll"><table><thead><tr><th>{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th><th class="n">{}</th></tr></thead><tbody>"#,
        t("全区总览", "District overview"),
        t("类别", "Category"),
        t("步行分钟", "Walking minutes"),
        t("现状存量", "Stock now"),
        t("增量", "Increment"),
        t("现状覆盖率", "Covered now"),
        t("规划覆盖率", "Covered as planned"),
        t("人均可达服务能力", "Mean accessibility"),
        t("低于水平的占比", "Share below level"),
    );
    for (ci, c) in report.categories.iter().enumerate() {
        let district = |hits: Vec<bool>| hits.iter().position(|&hit| hit);
        let stock = district(
            (report.stock.rows.iter())
                .map(|r| r.subdistrict.is_none() && r.category == c.id)
                .collect(),
        );
        let coverage = district(
            (report.coverage.rows.iter())
                .map(|r| r.subdistrict.is_none() && r.category == c.id)
                .collect(),
        );
        let load = district(
            (report.service_load.rows.iter())
                .map(|r| r.subdistrict.is_none() && r.category == c.id)
                .collect(),
        );
        let cell = |section: &str,
                    row: Option<usize>,
                    key: &str,
                    format: Format,
                    v: Option<Value>| {
            match (row, v) {
                (Some(i), Some(v)) => keyed(
                    "td",
                    &format!("/{section}/rows/{i}/{key}"),
                    format,
                    &v,
                    r#" class="n""#,
                ),
                _ => r#"<td class="n">—</td>"#.to_owned(),
            }
        };
        let s = stock.map(|i| &report.stock.rows[i]);
        let cv = coverage.map(|i| &report.coverage.rows[i]);
        let l = load.map(|i| &report.service_load.rows[i]);
        let _ = write!(
            out,
            "<tr>{}{}{}{}{}{}{}{}</tr>",
            keyed(
                "td",
                &format!("/categories/{ci}/label"),
                Format::Text,
                &text(&c.label),
                ""
            ),
            keyed(
                "td",
                &format!("/categories/{ci}/walk_min"),
                Format::Int,
                &Value::Number(f64::from(c.walk_min)),
                r#" class="n""#
            ),
            cell(
                "stock",
                stock,
                "stock_now",
                Format::Int,
                s.map(|r| Value::Number(r.stock_now as f64))
            ),
            cell(
                "stock",
                stock,
                "increment",
                Format::Int,
                s.map(|r| number(r.increment.map(|v| v as f64)))
            ),
            cell(
                "coverage",
                coverage,
                "share_existing",
                Format::Percent,
                cv.map(|r| number(r.share_existing))
            ),
            cell(
                "coverage",
                coverage,
                "share_planned",
                Format::Percent,
                cv.map(|r| number(r.share_planned))
            ),
            cell(
                "service_load",
                load,
                "mean_access",
                Format::Sig3,
                l.map(|r| number(r.mean_access))
            ),
            cell(
                "service_load",
                load,
                "share_below",
                Format::Percent,
                l.map(|r| number(r.share_below))
            ),
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

/// Bars per subdistrict: the share covered today, and with the projects behind it.
fn coverage_chart(out: &mut String, report: &Report, category: usize, rows: &[usize]) {
    let (label_w, bar_w, value_w, row_h) = (150.0, 130.0, 60.0, 18.0);
    let height = row_h * rows.len() as f64 + 4.0;
    let _ = write!(
        out,
        r#"<figure><figcaption>{}</figcaption><svg viewBox="0 0 {w} {height}" role="img">"#,
        keyed(
            "span",
            &format!("/categories/{category}/label"),
            Format::Text,
            &text(&report.categories[category].label),
            ""
        ),
        w = label_w + bar_w + value_w,
    );
    for (k, &i) in rows.iter().enumerate() {
        let r = &report.coverage.rows[i];
        let y = k as f64 * row_h + 2.0;
        let planned = r.share_planned.unwrap_or(0.0) * bar_w;
        let existing = r.share_existing.unwrap_or(0.0) * bar_w;
        let p = format!("/coverage/rows/{i}");
        let _ = write!(
            out,
            r#"<g>{name}<rect class="planned" x="{label_w}" y="{y}" width="{planned:.1}" height="{h}"/><rect class="existing" x="{label_w}" y="{y}" width="{existing:.1}" height="{h}"/>{value}</g>"#,
            name = keyed(
                "text",
                &format!("{p}/subdistrict_label"),
                Format::Text,
                &text(&r.subdistrict_label),
                &format!(r#" x="0" y="{:.1}""#, y + 12.0)
            ),
            h = row_h - 4.0,
            value = keyed(
                "text",
                &format!("{p}/share_existing"),
                Format::Percent,
                &number(r.share_existing),
                &format!(r#" x="{:.1}" y="{:.1}""#, label_w + bar_w + 4.0, y + 12.0)
            ),
        );
    }
    out.push_str("</svg></figure>");
}

/// Ranked bars of one category's most overloaded facilities.
fn overloaded_chart(out: &mut String, report: &Report, label: &str, rows: &[usize]) {
    let (label_w, bar_w, value_w, row_h) = (150.0, 110.0, 70.0, 18.0);
    let max = rows
        .iter()
        .map(|&i| report.overloaded.rows[i].load)
        .fold(0.0f64, f64::max);
    let height = row_h * rows.len() as f64 + 4.0;
    let _ = write!(
        out,
        r#"<figure><figcaption>{}</figcaption><svg viewBox="0 0 {w} {height}" role="img">"#,
        keyed(
            "span",
            &format!("/overloaded/rows/{}/label", rows[0]),
            Format::Text,
            &text(label),
            ""
        ),
        w = label_w + bar_w + value_w,
    );
    for (k, &i) in rows.iter().enumerate() {
        let r = &report.overloaded.rows[i];
        let y = k as f64 * row_h + 2.0;
        let width = if max > 0.0 { r.load / max * bar_w } else { 0.0 };
        let p = format!("/overloaded/rows/{i}");
        let name: String = r.name.chars().take(12).collect();
        let _ = write!(
            out,
            r#"<g><title data-name="">{full}</title>{name}<rect class="load" x="{label_w}" y="{y}" width="{width:.1}" height="{h}"/>{value}</g>"#,
            full = escape(&r.name),
            name = if name.chars().count() < r.name.chars().count() {
                // Shortened: the full name is in the row's title and the table.
                format!(
                    r#"<text x="0" y="{:.1}" data-name="">{}…</text>"#,
                    y + 12.0,
                    escape(&name)
                )
            } else {
                keyed(
                    "text",
                    &format!("{p}/name"),
                    Format::Text,
                    &text(&r.name),
                    &format!(r#" x="0" y="{:.1}""#, y + 12.0),
                )
            },
            h = row_h - 4.0,
            value = keyed(
                "text",
                &format!("{p}/load"),
                Format::Sig3,
                &Value::Number(r.load),
                &format!(r#" x="{:.1}" y="{:.1}""#, label_w + bar_w + 4.0, y + 12.0)
            ),
        );
    }
    out.push_str("</svg></figure>");
}

/// A table with its download links; each cell keyed to `/{table}/rows/{r}/{column}`.
fn table_html(out: &mut String, table: &Table, lang: Lang) {
    let _ = write!(
        out,
        r#"<h3>{title}</h3><p class="downloads"><a href="/report/tables/{id}.csv?lang={lang}" download>CSV</a><a href="/report/tables/{id}.xlsx?lang={lang}" download>Excel</a></p><div class="scroll"><table><thead><tr>"#,
        title = escape(&table.title),
        id = table.id,
        lang = lang.as_str(),
    );
    for c in &table.columns {
        let class = if c.format == Format::Text || c.format == Format::Bool {
            ""
        } else {
            r#" class="n""#
        };
        let _ = write!(out, "<th{class}>{}</th>", escape(&c.heading));
    }
    out.push_str("</tr></thead><tbody>");
    for (r, row) in table.rows.iter().enumerate() {
        out.push_str("<tr>");
        for (c, value) in table.columns.iter().zip(row) {
            let class = if c.format == Format::Text || c.format == Format::Bool {
                ""
            } else {
                r#" class="n""#
            };
            out.push_str(&keyed(
                "td",
                &format!("/{}/rows/{r}/{}", table.id, c.key),
                c.format,
                value,
                class,
            ));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_html_are_escaped_and_numbers_read_back() {
        assert_eq!(
            escape(r#"<b>"菜场" & 'x'</b>"#),
            "&lt;b&gt;&quot;菜场&quot; &amp; &#39;x&#39;&lt;/b&gt;"
        );
        assert_eq!(int(1234567.4), "1,234,567");
        assert_eq!(int(-1200.0), "-1,200");
        assert_eq!(int(999.0), "999");
        assert_eq!(sig3(0.000123456), "0.000123");
        assert_eq!(sig3(12.3456), "12.3");
        assert_eq!(sig3(4567.8), "4568");
        let cell = keyed("td", "/a/rows/0/name", Format::Text, &text("<x>"), "");
        assert_eq!(
            cell,
            r#"<td data-v="/a/rows/0/name" data-f="text">&lt;x&gt;</td>"#
        );
    }
}
