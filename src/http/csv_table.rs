//! The one CSV writer of the server's exports (`/admin/feedback?format=csv`,
//! `/coverage/stats?format=csv`): takes a header and rows of [`Cell`]s, gives UTF-8 text that
//! opens right in spreadsheet programs.
//!
//! - A byte order mark first, so Excel reads Chinese names (街道) as UTF-8 rather than GBK.
//! - RFC 4180 quoting and CRLF line ends, by the `csv` crate.
//! - Text that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or
//!   carriage return) gets a leading `'`; numbers the server wrote itself are left as they are.

use std::borrow::Cow;

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// Text from outside (names, messages, ids): quoted as needed, formulas defused.
    Text(&'a str),
    /// A number (or other token) the server formatted itself: written as it is.
    Number(String),
    Empty,
}

/// A CSV document being written.
pub struct CsvTable {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvTable {
    pub fn new(header: &[&str]) -> CsvTable {
        let mut buffer = Vec::with_capacity(4096);
        buffer.extend_from_slice("\u{feff}".as_bytes());
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(buffer);
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(header.iter().map(|h| defuse(h).into_owned()));
        CsvTable { writer }
    }

    pub fn row(&mut self, cells: &[Cell<'_>]) {
        let record = cells.iter().map(|cell| match cell {
            Cell::Text(text) => defuse(text),
            Cell::Number(value) => Cow::Borrowed(value.as_str()),
            Cell::Empty => Cow::Borrowed(""),
        });
        let _ = self.writer.write_record(record.map(|c| c.into_owned()));
    }

    /// The document, byte order mark first.
    pub fn finish(self) -> String {
        let bytes = self.writer.into_inner().unwrap_or_default();
        // Only UTF-8 text was written.
        String::from_utf8(bytes).unwrap_or_default()
    }
}

/// A CSV answer of `rows`, the first being the header. A cell that reads as a number (`-3.5`)
/// is written as it is; any other is text, formulas defused.
pub fn response(rows: impl IntoIterator<Item = Vec<String>>) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    let mut rows = rows.into_iter();
    let header: Vec<String> = rows.next().unwrap_or_default();
    let mut table = CsvTable::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for row in rows {
        let cells: Vec<Cell<'_>> = row
            .iter()
            .map(|cell| match cell.parse::<f64>() {
                Ok(_) => Cell::Number(cell.clone()),
                Err(_) => Cell::Text(cell),
            })
            .collect();
        table.row(&cells);
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        table.finish(),
    )
        .into_response()
}

/// `text` with a leading `'` when a spreadsheet would take it for a formula.
pub fn defuse(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(cells: &[Cell<'_>]) -> String {
        let mut table = CsvTable::new(&["a", "b"]);
        table.row(cells);
        table.finish()
    }

    #[test]
    fn a_bom_crlf_quoting_and_defused_formulas() {
        let text = document(&[Cell::Text("菜场,关门了"), Cell::Number("-1.5".into())]);
        assert_eq!(text, "\u{feff}a,b\r\n\"菜场,关门了\",-1.5\r\n");
        for (cell, written) in [
            ("菜场关门了", "菜场关门了"),
            ("say \"hi\"\nbye", "\"say \"\"hi\"\"\nbye\""),
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
            ("-1 star", "'-1 star"),
            ("+86 139", "'+86 139"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "\"'\rx\""),
        ] {
            let text = document(&[Cell::Text(cell), Cell::Empty]);
            assert_eq!(text, format!("\u{feff}a,b\r\n{written},\r\n"), "{cell:?}");
            // And a CSV reader gets the defused text back.
            let mut reader =
                csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes());
            let record = reader.records().next().unwrap().unwrap();
            assert_eq!(&record[0], defuse(cell).as_ref());
        }
    }
}
