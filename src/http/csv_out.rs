//! CSV answers for spreadsheets: rows → UTF-8 bytes with a byte-order mark (so Excel reads the
//! Chinese text as UTF-8), written by the `csv` crate, with formula cells defused.

use std::borrow::Cow;

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return first),
/// prefixed with `'` so it shows as text; numbers (`-3.5`) stay as they are.
pub fn defuse(field: &str) -> Cow<'_, str> {
    let risky = field.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && field.parse::<f64>().is_err() {
        Cow::Owned(format!("'{field}"))
    } else {
        Cow::Borrowed(field)
    }
}

/// Writes `rows` (the first is the header) as a CSV answer: BOM, defused cells.
pub fn response(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Response, ApiError> {
    let mut writer = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    for row in rows {
        writer
            .write_record(row.iter().map(|f| defuse(f).into_owned()))
            .map_err(|e| ApiError::Internal(format!("writing CSV: {e}")))?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("writing CSV: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_numbers_kept() {
        assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(defuse("+86 21"), "'+86 21");
        assert_eq!(defuse("-3.5"), "-3.5");
        assert_eq!(defuse("长宁区"), "长宁区");
    }
}
