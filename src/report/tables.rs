//! The report's sections as tables: a [`Report`] → [`Table`]s (a title, column headings in the
//! report's language, rows of text and numbers), and tables → an XLSX workbook with one sheet
//! per table (`rust_xlsxwriter`), numbers written as numbers.
//!
//! The same tables are the CSV downloads (written by the HTTP layer's CSV writer) and the
//! tables on the page, so a figure reads the same everywhere.

use super::{Lang, Report};

/// The tables, by id (the `{table}` of `/report/tables/{table}.csv`), in page order.
pub const TABLE_IDS: [&str; 6] = [
    "stock",
    "coverage",
    "blind_spots",
    "service_load",
    "overloaded",
    "freshness",
];

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    Empty,
}

impl Value {
    fn opt_number<T: Into<f64>>(v: Option<T>) -> Value {
        v.map_or(Value::Empty, |v| Value::Number(v.into()))
    }

    fn opt_text(v: Option<&str>) -> Value {
        v.map_or(Value::Empty, |v| Value::Text(v.to_owned()))
    }
}

/// How the page shows a column's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    /// A whole number, with thousands separators.
    Int,
    /// A share as a percentage with one decimal.
    Percent,
    /// Three significant digits.
    Sig3,
    Fixed2,
    Fixed5,
    /// Yes or no.
    Bool,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Int => "int",
            Format::Percent => "pct",
            Format::Sig3 => "sig3",
            Format::Fixed2 => "f2",
            Format::Fixed5 => "f5",
            Format::Bool => "bool",
        }
    }
}

/// One column: its heading in the report's language, the field of the section's rows it shows
/// (`/report.json`), and how the page formats it.
#[derive(Debug, Clone)]
pub struct Column {
    pub heading: String,
    pub key: &'static str,
    pub format: Format,
}

/// One downloadable table: row `r` is row `r` of the report section `id` (`/{id}/rows/{r}`).
#[derive(Debug, Clone)]
pub struct Table {
    pub id: &'static str,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

/// The table `id` of `report`, if there is one by that id.
pub fn table(report: &Report, id: &str) -> Option<Table> {
    let lang = report.lang;
    let cols = |names: &[(&str, &str, &'static str, Format)]| -> Vec<Column> {
        names
            .iter()
            .map(|&(zh, en, key, format)| Column {
                heading: lang.pick(zh, en).to_owned(),
                key,
                format,
            })
            .collect()
    };
    let text = |s: &str| Value::Text(s.to_owned());
    let num = |v: f64| Value::Number(v);
    let (title, columns, rows) = match id {
        "stock" => (
            lang.pick("存量与增量", "Stock and increment"),
            cols(&[
                ("街道", "Subdistrict", "subdistrict_label", Format::Text),
                ("类别", "Category", "label", Format::Text),
                ("基期存量", "Stock at baseline", "stock_before", Format::Int),
                ("现状存量", "Stock now", "stock_now", Format::Int),
                ("增量", "Increment", "increment", Format::Int),
                ("新增", "Added", "added", Format::Int),
                ("撤销", "Removed", "removed", Format::Int),
                ("迁移", "Moved", "moved", Format::Int),
            ]),
            report
                .stock
                .rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.subdistrict_label),
                        text(&r.label),
                        Value::opt_number(r.stock_before.map(|v| v as f64)),
                        num(r.stock_now as f64),
                        Value::opt_number(r.increment.map(|v| v as f64)),
                        Value::opt_number(r.added.map(|v| v as f64)),
                        Value::opt_number(r.removed.map(|v| v as f64)),
                        Value::opt_number(r.moved.map(|v| v as f64)),
                    ]
                })
                .collect(),
        ),
        "coverage" => (
            lang.pick("覆盖率", "Coverage"),
            cols(&[
                ("街道", "Subdistrict", "subdistrict_label", Format::Text),
                ("类别", "Category", "label", Format::Text),
                ("步行分钟", "Walking minutes", "walk_min", Format::Int),
                ("居民", "Residents", "population", Format::Int),
                (
                    "现状覆盖居民",
                    "Covered now",
                    "within_existing",
                    Format::Int,
                ),
                (
                    "现状覆盖率",
                    "Share covered now",
                    "share_existing",
                    Format::Percent,
                ),
                (
                    "规划覆盖居民",
                    "Covered as planned",
                    "within_planned",
                    Format::Int,
                ),
                (
                    "规划覆盖率",
                    "Share covered as planned",
                    "share_planned",
                    Format::Percent,
                ),
                (
                    "新增覆盖居民",
                    "Newly covered",
                    "residents_newly_covered",
                    Format::Int,
                ),
            ]),
            report
                .coverage
                .rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.subdistrict_label),
                        text(&r.label),
                        num(f64::from(r.walk_min)),
                        num(r.population as f64),
                        num(r.within_existing as f64),
                        Value::opt_number(r.share_existing),
                        num(r.within_planned as f64),
                        Value::opt_number(r.share_planned),
                        num(r.residents_newly_covered as f64),
                    ]
                })
                .collect(),
        ),
        "blind_spots" => (
            lang.pick("盲区", "Blind spots"),
            cols(&[
                ("类别", "Category", "label", Format::Text),
                ("序号", "Rank", "rank", Format::Int),
                ("面积（平方公里）", "Area (km²)", "area_km2", Format::Fixed2),
                ("居民", "Residents", "residents", Format::Int),
                ("街道", "Subdistrict", "subdistrict_label", Format::Text),
                ("附近小区", "Near", "near", Format::Text),
                ("经度", "Longitude", "lon", Format::Fixed5),
                ("纬度", "Latitude", "lat", Format::Fixed5),
            ]),
            report
                .blind_spots
                .rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.label),
                        num(r.rank as f64),
                        num(r.area_km2),
                        num(r.residents as f64),
                        text(&r.subdistrict_label),
                        Value::opt_text(r.near.as_deref()),
                        num(r.lon),
                        num(r.lat),
                    ]
                })
                .collect(),
        ),
        "service_load" => (
            lang.pick("服务效能", "Service load"),
            cols(&[
                ("街道", "Subdistrict", "subdistrict_label", Format::Text),
                ("类别", "Category", "label", Format::Text),
                ("居民", "Residents", "residents", Format::Int),
                (
                    "人均可达服务能力（加权平均）",
                    "Mean accessibility",
                    "mean_access",
                    Format::Sig3,
                ),
                (
                    "低于水平的居民",
                    "Residents below level",
                    "residents_below",
                    Format::Int,
                ),
                (
                    "低于水平的占比",
                    "Share below level",
                    "share_below",
                    Format::Percent,
                ),
            ]),
            report
                .service_load
                .rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.subdistrict_label),
                        text(&r.label),
                        num(r.residents),
                        Value::opt_number(r.mean_access),
                        Value::opt_number(r.residents_below),
                        Value::opt_number(r.share_below),
                    ]
                })
                .collect(),
        ),
        "overloaded" => (
            lang.pick("负荷最重的设施", "Most overloaded facilities"),
            cols(&[
                ("类别", "Category", "label", Format::Text),
                ("序号", "Rank", "rank", Format::Int),
                ("设施编号", "Facility id", "id", Format::Text),
                ("名称", "Name", "name", Format::Text),
                ("街道", "Subdistrict", "subdistrict_label", Format::Text),
                ("服务能力", "Capacity", "capacity", Format::Sig3),
                (
                    "服务能力来源",
                    "Capacity from",
                    "capacity_from",
                    Format::Text,
                ),
                (
                    "服务范围内居民",
                    "Residents within reach",
                    "residents_within",
                    Format::Int,
                ),
                (
                    "加权需求",
                    "Weighted demand",
                    "weighted_demand",
                    Format::Sig3,
                ),
                ("负荷", "Load", "load", Format::Sig3),
            ]),
            report
                .overloaded
                .rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.label),
                        num(r.rank as f64),
                        // Ids are 53-bit hashes: text, so a spreadsheet keeps every digit.
                        text(&r.id.to_string()),
                        text(&r.name),
                        text(&r.subdistrict_label),
                        num(r.capacity),
                        text(r.capacity_from),
                        num(r.residents_within),
                        num(r.weighted_demand),
                        num(r.load),
                    ]
                })
                .collect(),
        ),
        "freshness" => (
            lang.pick("数据时效", "Data freshness"),
            cols(&[
                ("类别", "Category", "label", Format::Text),
                ("来源", "Source", "source", Format::Text),
                ("提供方", "Provider", "provider", Format::Text),
                ("设施数", "Facilities", "n_facilities", Format::Int),
                ("数据日期", "As of", "as_of", Format::Text),
                ("过期", "Stale", "stale", Format::Bool),
            ]),
            report
                .freshness
                .rows
                .iter()
                .map(|r| {
                    vec![
                        text(&r.label),
                        text(&r.source),
                        text(&r.provider),
                        num(r.n_facilities as f64),
                        Value::opt_text(r.as_of.as_deref()),
                        r.stale.map_or(Value::Empty, |s| {
                            text(match (s, lang) {
                                (true, Lang::Zh) => "是",
                                (false, Lang::Zh) => "否",
                                (true, Lang::En) => "yes",
                                (false, Lang::En) => "no",
                            })
                        }),
                    ]
                })
                .collect(),
        ),
        _ => return None,
    };
    Some(Table {
        id: TABLE_IDS.iter().find(|t| **t == id)?,
        title: title.to_owned(),
        columns,
        rows,
    })
}

/// Every table of `report`, in page order.
pub fn all(report: &Report) -> Vec<Table> {
    TABLE_IDS
        .iter()
        .filter_map(|id| table(report, id))
        .collect()
}

/// An XLSX workbook with one sheet per table (named by its id): the headings in bold on the
/// first row, then the rows, numbers as numbers.
pub fn xlsx(tables: &[Table]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    for table in tables {
        let sheet = workbook.add_worksheet();
        sheet.set_name(table.id)?;
        for (c, heading) in table.columns.iter().enumerate() {
            let heading = &heading.heading;
            sheet.write_string_with_format(0, c as u16, heading, &bold)?;
            let widest = table
                .rows
                .iter()
                .map(|r| match &r[c] {
                    Value::Text(t) => t.chars().count(),
                    Value::Number(_) => 10,
                    Value::Empty => 0,
                })
                .chain(std::iter::once(heading.chars().count()))
                .max()
                .unwrap_or(8);
            sheet.set_column_width(c as u16, (widest.min(40) + 2) as f64)?;
        }
        for (r, row) in table.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, value) in row.iter().enumerate() {
                match value {
                    // Written as a string cell: never run as a formula, whatever it starts with.
                    Value::Text(t) => sheet.write_string(r, c as u16, t)?,
                    Value::Number(n) if n.is_finite() => sheet.write_number(r, c as u16, *n)?,
                    Value::Number(_) | Value::Empty => sheet,
                };
            }
        }
        sheet.set_freeze_panes(1, 0)?;
    }
    workbook.save_to_buffer()
}
