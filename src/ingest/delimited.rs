//! Reading CSV and TSV files: a header line naming the columns, then one facility per record,
//! its point from a longitude and a latitude column or from one column holding `"lng,lat"`.
//!
//! Built for what offices export: Excel's "CSV UTF-8" (a BOM, CRLF line ends, quoted fields with
//! line breaks inside) and plain "CSV" on Chinese Windows (GBK, no BOM), Amap's `location` column
//! (`"121.4236,31.2203"`), WKT `POINT (x y)` columns. The file is read as bytes and each field
//! decoded on its own, which is safe for GBK because its two-byte characters never contain the
//! bytes of `,`, `"`, tab or a line end. Coordinate columns are found by common names when not
//! configured. A record with no usable point is a per-feature reason, never a file error; the
//! attributes are text (numbers too: callers parse what they need).

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use encoding_rs::Encoding;

use super::Error;
use super::formats::{Column, FeatureNames, Prop, ReadOptions};
use super::text;

/// Longitude column names, compared case-insensitively.
const LON_NAMES: &[&str] = &[
    "lon",
    "lng",
    "long",
    "longitude",
    "x",
    "point_x",
    "经度",
    "东经",
    "x坐标",
];
/// Latitude column names, compared case-insensitively.
const LAT_NAMES: &[&str] = &["lat", "latitude", "y", "point_y", "纬度", "北纬", "y坐标"];
/// Names of one column holding both coordinates.
const LOCATION_NAMES: &[&str] = &[
    "location",
    "lnglat",
    "lng_lat",
    "lonlat",
    "lon_lat",
    "latlng",
    "coordinates",
    "coords",
    "coordinate",
    "坐标",
    "经纬度",
    "位置",
    "geometry",
    "wkt",
    "the_geom",
];

/// Where a record's point comes from.
enum PointSource {
    LonLat { lon: usize, lat: usize },
    Location(usize),
}

/// A CSV or TSV file opened for reading, its header read and its columns found.
pub struct DelimitedFile {
    path: PathBuf,
    file: BufReader<File>,
    /// Where the records start (after a BOM).
    start: u64,
    delimiter: u8,
    encoding: &'static Encoding,
    n_header_fields: usize,
    point: PointSource,
    /// For each wanted column (in the order asked), its index in the header, if present.
    column_idx: Vec<Option<usize>>,
    names: FeatureNames,
}

impl DelimitedFile {
    pub fn open(
        path: &Path,
        delimiter: u8,
        options: &ReadOptions,
        columns: &[Column<'_>],
    ) -> Result<DelimitedFile, Error> {
        let open_error = |source| Error::Open {
            path: path.to_owned(),
            source,
        };
        let format = if delimiter == b'\t' { "tsv" } else { "csv" };
        let unreadable = |message: String| Error::Unreadable {
            path: path.to_owned(),
            format,
            message,
        };
        let mut file = BufReader::new(File::open(path).map_err(open_error)?);
        let mut bom = [0u8; 3];
        let n_bom = read_up_to(&mut file, &mut bom).map_err(open_error)?;
        let has_bom = n_bom == 3 && bom == [0xEF, 0xBB, 0xBF];
        if n_bom >= 2 && (bom[..2] == [0xFF, 0xFE] || bom[..2] == [0xFE, 0xFF]) {
            return Err(unreadable(
                "the file is UTF-16 (Excel's \"Unicode Text\"); save it as \"CSV UTF-8\" instead"
                    .into(),
            ));
        }
        let start = if has_bom { 3 } else { 0 };
        file.seek(SeekFrom::Start(start)).map_err(open_error)?;
        let encoding = match &options.encoding {
            Some(name) => text::encoding_for_name(name).ok_or_else(|| Error::Encoding {
                path: path.to_owned(),
                name: name.clone(),
                examples: text::EXAMPLES,
            })?,
            None if has_bom => encoding_rs::UTF_8,
            None => {
                let encoding = text::detect(&mut file).map_err(open_error)?;
                file.seek(SeekFrom::Start(start)).map_err(open_error)?;
                encoding
            }
        };

        let mut reader = csv_reader(delimiter, &mut file);
        let mut header = csv::ByteRecord::new();
        let has_header = reader
            .read_byte_record(&mut header)
            .map_err(|e| unreadable(format!("line 1: {e}")))?;
        if !has_header {
            return Err(unreadable(
                "the file is empty; the first line must name the columns".into(),
            ));
        }
        let header: Vec<String> = (0..header.len())
            .map(|idx| {
                let name = field(&header, idx).unwrap_or_default();
                text::decode(encoding, name).trim().to_owned()
            })
            .collect();
        drop(reader);
        file.seek(SeekFrom::Start(start)).map_err(open_error)?;

        let available = || header.join(", ");
        let find = |name: &str| find_column(&header, name);
        let mut column_idx = Vec::with_capacity(columns.len());
        for col in columns {
            let idx = find(col.name);
            if idx.is_none() && col.required {
                return Err(Error::MissingColumn {
                    path: path.to_owned(),
                    column: col.name.to_owned(),
                    available: available(),
                });
            }
            column_idx.push(idx);
        }
        let configured = |name: &Option<String>| -> Result<Option<usize>, Error> {
            match name {
                None => Ok(None),
                Some(name) => find(name).map(Some).ok_or_else(|| Error::MissingColumn {
                    path: path.to_owned(),
                    column: name.clone(),
                    available: available(),
                }),
            }
        };
        let lon = configured(&options.lon_column)?;
        let lat = configured(&options.lat_column)?;
        let location = configured(&options.location_column)?;
        let point = match (lon, lat, location) {
            (Some(lon), Some(lat), _) => PointSource::LonLat { lon, lat },
            (None, None, Some(location)) => PointSource::Location(location),
            (Some(_), None, _) | (None, Some(_), _) => {
                return Err(unreadable(
                    "set both lon_column and lat_column (or location_column alone)".into(),
                ));
            }
            (None, None, None) => {
                guess_point_source(&header).ok_or_else(|| Error::NoCoordinates {
                    path: path.to_owned(),
                    available: available(),
                })?
            }
        };
        Ok(DelimitedFile {
            path: path.to_owned(),
            file,
            start,
            delimiter,
            encoding,
            n_header_fields: header.len(),
            point,
            column_idx,
            // Line 1 is the header, so record 0 starts on line 2 unless fields span lines.
            names: FeatureNames::shifted("line", 2),
        })
    }

    pub fn names(&self) -> &FeatureNames {
        &self.names
    }

    pub fn for_each(
        self,
        mut visit: impl FnMut(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>),
    ) -> Result<(), Error> {
        let DelimitedFile {
            path,
            mut file,
            start,
            delimiter,
            encoding,
            n_header_fields,
            point,
            column_idx,
            names,
        } = self;
        let end = FileEnd::of(&mut file, start).map_err(|source| Error::Open {
            path: path.clone(),
            source,
        })?;
        let mut reader = csv_reader(delimiter, &mut file);
        let mut record = csv::ByteRecord::new();
        // The header again, to keep line numbers counted from the top of the file.
        let _ = reader.read_byte_record(&mut record);
        let mut feature_idx = 0usize;
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let line = e.position().map_or_else(
                        || names.describe(feature_idx),
                        |p| format!("line {}", p.line()),
                    );
                    return Err(Error::Unreadable {
                        path,
                        format: if delimiter == b'\t' { "tsv" } else { "csv" },
                        message: format!("{line}: {e}"),
                    });
                }
            }
            if is_blank(&record) {
                continue;
            }
            names.record(feature_idx, start_line(&record, reader.position(), &end));
            let geometry = if record.len() != n_header_fields {
                Err(format!(
                    "{} fields where the header has {n_header_fields}",
                    record.len()
                ))
            } else {
                read_point(&record, &point, encoding)
            };
            let props = column_idx
                .iter()
                .map(|idx| {
                    let value = field(&record, (*idx)?)?;
                    (!value.is_empty()).then(|| Prop::Text(text::decode(encoding, value)))
                })
                .collect();
            visit(feature_idx, geometry, props);
            feature_idx += 1;
        }
        Ok(())
    }
}

/// Records end at `\n` only: with CRLF endings the reader would report the line of a record
/// that follows a `\r\n` one short. The `\r` left at the end of each record's last field is
/// dropped by [`field`].
/// How the records end, to tell where the last one starts.
struct FileEnd {
    /// Bytes after the BOM.
    n_bytes: u64,
    ends_with_newline: bool,
}

impl FileEnd {
    /// Reads the last byte and goes back to `start`.
    fn of(file: &mut BufReader<File>, start: u64) -> std::io::Result<FileEnd> {
        let len = file.seek(SeekFrom::End(0))?;
        let mut last = [0u8; 1];
        let ends_with_newline = if len > start {
            file.seek(SeekFrom::End(-1))?;
            file.read_exact(&mut last)?;
            last[0] == b'\n'
        } else {
            false
        };
        file.seek(SeekFrom::Start(start))?;
        Ok(FileEnd {
            n_bytes: len - start,
            ends_with_newline,
        })
    }
}

/// The line `record` starts on, counted back from where the reader stands after it: the reader
/// says where it began looking for the record, which is before any blank lines it skipped.
fn start_line(record: &csv::ByteRecord, after: &csv::Position, end: &FileEnd) -> u64 {
    let n_newlines_inside = record.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
    let unterminated = after.byte() == end.n_bytes && !end.ends_with_newline;
    after.line() - n_newlines_inside - u64::from(!unterminated)
}

fn csv_reader<R: Read>(delimiter: u8, source: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .has_headers(false)
        .flexible(true)
        .from_reader(source)
}

/// Field `idx` of `record`, without the `\r` of a CRLF line end.
fn field(record: &csv::ByteRecord, idx: usize) -> Option<&[u8]> {
    let bytes = record.get(idx)?;
    if idx + 1 == record.len() {
        Some(bytes.strip_suffix(b"\r").unwrap_or(bytes))
    } else {
        Some(bytes)
    }
}

/// A row with nothing in it: a blank line, or Excel's `,,,,` below the data.
fn is_blank(record: &csv::ByteRecord) -> bool {
    (0..record.len()).all(|idx| field(record, idx).is_some_and(|f| f.is_empty()))
}

fn read_up_to(source: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match source.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// The header position of `name`: exactly, else ignoring case and surrounding spaces.
fn find_column(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name).or_else(|| {
        let name = name.trim();
        header.iter().position(|h| h.eq_ignore_ascii_case(name))
    })
}

fn guess_point_source(header: &[String]) -> Option<PointSource> {
    let named = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| header.iter().position(|h| h.eq_ignore_ascii_case(name)))
    };
    if let (Some(lon), Some(lat)) = (named(LON_NAMES), named(LAT_NAMES)) {
        return Some(PointSource::LonLat { lon, lat });
    }
    if let Some(location) = named(LOCATION_NAMES) {
        return Some(PointSource::Location(location));
    }
    // Prefixed or suffixed names, e.g. `gcj02_lng`/`gcj02_lat` or `lng_wgs84`: only when
    // exactly one pair exists, so two datums side by side are never guessed between.
    let affixed = |stems: &[&str]| {
        let matches: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                let h = h.to_ascii_lowercase();
                stems.iter().any(|stem| {
                    h.ends_with(&format!("_{stem}")) || h.starts_with(&format!("{stem}_"))
                })
            })
            .map(|(idx, _)| idx)
            .collect();
        (matches.len() == 1).then(|| matches[0])
    };
    let lon = affixed(&["lon", "lng", "longitude"])?;
    let lat = affixed(&["lat", "latitude"])?;
    Some(PointSource::LonLat { lon, lat })
}

fn read_point(
    record: &csv::ByteRecord,
    point: &PointSource,
    encoding: &'static Encoding,
) -> Result<geo::Geometry<f64>, String> {
    let (lon, lat) = match *point {
        PointSource::LonLat { lon, lat } => {
            let lon = text::decode(encoding, field(record, lon).unwrap_or_default());
            let lat = text::decode(encoding, field(record, lat).unwrap_or_default());
            if lon.trim().is_empty() || lat.trim().is_empty() {
                return Err("blank coordinates".into());
            }
            (
                parse_coordinate(&lon).ok_or("longitude is not a number")?,
                parse_coordinate(&lat).ok_or("latitude is not a number")?,
            )
        }
        PointSource::Location(idx) => {
            let location = text::decode(encoding, field(record, idx).unwrap_or_default());
            parse_location(&location)?
        }
    };
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(
            "coordinates out of range (longitude first: -180..180, latitude -90..90)".into(),
        );
    }
    Ok(geo::Geometry::Point(geo::Point::new(lon, lat)))
}

fn parse_coordinate(text: &str) -> Option<f64> {
    let value: f64 = text.trim().parse().ok()?;
    value.is_finite().then_some(value)
}

/// `"121.4236,31.2203"`, also with `;`, a full-width comma, spaces or tabs between, or as WKT
/// `POINT (121.4236 31.2203)`. Longitude first; a swapped pair is not guessed at.
fn parse_location(text: &str) -> Result<(f64, f64), String> {
    let mut text = text.trim();
    if text.is_empty() {
        return Err("blank coordinates".into());
    }
    if let Some(rest) = strip_prefix_ignore_case(text, "point") {
        text = rest
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
    }
    let parts: Vec<&str> = text
        .split(|c: char| c == ',' || c == ';' || c == '，' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .collect();
    match parts.as_slice() {
        [lon, lat] => match (parse_coordinate(lon), parse_coordinate(lat)) {
            (Some(lon), Some(lat)) => Ok((lon, lat)),
            _ => Err("location is not two numbers \"lng,lat\"".into()),
        },
        _ => Err("location is not two numbers \"lng,lat\"".into()),
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::formats::Format;
    use crate::ingest::formats::testing::{Feature, point, read_all, read_error, text, write};

    fn read(path: &Path, columns: &[&str]) -> Vec<Feature> {
        read_all(path, &ReadOptions::default(), columns).unwrap()
    }

    fn options(change: impl FnOnce(&mut ReadOptions)) -> ReadOptions {
        let mut options = ReadOptions::default();
        change(&mut options);
        options
    }

    #[test]
    fn excel_utf8_csv_with_bom_crlf_and_a_line_break_in_a_quoted_field() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "\u{feff}id,名称,经度,纬度,地址\r\n\
                   1,天山公园,121.4017,31.2139,\"天山路\r\n1号\"\r\n\
                   2,\"幼儿园, 新泾\",121.3901,31.2175,\r\n\
                   ,,,,\r\n\
                   \r\n";
        let path = write(&dir, "excel.csv", csv.as_bytes());
        let features = read(&path, &["id", "名称", "地址"]);
        assert_eq!(
            features.len(),
            2,
            "the blank rows at the end are no features"
        );
        assert_eq!(point(&features[0].geometry), (121.4017, 31.2139));
        let props = &features[0].props;
        assert_eq!(text(&props[0]), Some("1"), "the BOM is not part of `id`");
        assert_eq!(text(&props[1]), Some("天山公园"));
        assert_eq!(text(&props[2]), Some("天山路\r\n1号"));
        assert_eq!(point(&features[1].geometry), (121.3901, 31.2175));
        assert_eq!(text(&features[1].props[1]), Some("幼儿园, 新泾"));
        assert_eq!(text(&features[1].props[2]), None);
        // The second record starts on line 4: the first spans lines 2 and 3.
        assert_eq!(features[0].name, "line 2");
        assert_eq!(features[1].name, "line 4");
    }

    #[test]
    fn gbk_csv_is_detected_and_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "name,type,location\n\
                   长宁区天山社区卫生服务中心,医疗保健服务;综合医院,\"121.4236,31.2203\"\n";
        let path = write(&dir, "amap.csv", &encoding_rs::GBK.encode(csv).0);
        let features = read(&path, &["name", "type"]);
        assert_eq!(point(&features[0].geometry), (121.4236, 31.2203));
        assert_eq!(
            text(&features[0].props[0]),
            Some("长宁区天山社区卫生服务中心")
        );
        assert_eq!(text(&features[0].props[1]), Some("医疗保健服务;综合医院"));
    }

    #[test]
    fn configured_encoding_wins_and_an_unknown_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gbk = encoding_rs::GBK
            .encode("名称,lng,lat\n江苏路,121.43,31.22\n")
            .0;
        let path = write(&dir, "a.csv", &gbk);
        let cp936 = options(|o| o.encoding = Some("CP936".into()));
        let features = read_all(&path, &cp936, &["名称"]).unwrap();
        assert_eq!(text(&features[0].props[0]), Some("江苏路"));

        let unknown = options(|o| o.encoding = Some("chinese-simplified".into()));
        let message = read_error(&path, &unknown, &[]);
        assert!(message.contains("a.csv"), "{message}");
        assert!(message.contains("`chinese-simplified`"), "{message}");
        assert!(message.contains("gbk"), "{message}");
    }

    #[test]
    fn coordinate_columns_found_by_common_names() {
        let dir = tempfile::tempdir().unwrap();
        for (header, row) in [
            ("Name,LNG,LAT", "a,121.4,31.2"),
            ("name,Longitude,Latitude", "a,121.4,31.2"),
            ("name,x,y", "a,121.4,31.2"),
            ("名称,经度,纬度", "a,121.4,31.2"),
            ("name,gcj02_lng,gcj02_lat", "a,121.4,31.2"),
            ("name,坐标", "a,\"121.4,31.2\""),
            ("name,lnglat", "a,121.4;31.2"),
            ("name,location", "a,121.4 31.2"),
            ("name,location", "a,121.4，31.2"),
            ("name,wkt", "a,POINT (121.4 31.2)"),
        ] {
            let path = write(&dir, "c.csv", format!("{header}\n{row}\n").as_bytes());
            let features = read(&path, &[]);
            assert_eq!(point(&features[0].geometry), (121.4, 31.2), "{header}");
        }
    }

    #[test]
    fn two_datums_side_by_side_are_not_guessed_between() {
        let dir = tempfile::tempdir().unwrap();
        let csv = b"name,gcj02_lng,gcj02_lat,wgs84_lng,wgs84_lat\na,121.4,31.2,121.39,31.21\n";
        let path = write(&dir, "two.csv", csv);
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(message.contains("no coordinate columns"), "{message}");
        let wgs84 = options(|o| {
            o.lon_column = Some("wgs84_lng".into());
            o.lat_column = Some("wgs84_lat".into());
        });
        let features = read_all(&path, &wgs84, &[]).unwrap();
        assert_eq!(point(&features[0].geometry), (121.39, 31.21));
    }

    #[test]
    fn configured_coordinate_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "c.csv",
            b"name,a,b,lng,lat,loc\nx,121.5,31.3,0,0,\"121.6,31.4\"\n",
        );
        let ab = options(|o| {
            o.lon_column = Some("a".into());
            o.lat_column = Some("b".into());
        });
        let features = read_all(&path, &ab, &[]).unwrap();
        assert_eq!(point(&features[0].geometry), (121.5, 31.3));
        let loc = options(|o| o.location_column = Some("LOC".into()));
        let features = read_all(&path, &loc, &[]).unwrap();
        assert_eq!(point(&features[0].geometry), (121.6, 31.4));

        let typo = options(|o| {
            o.lon_column = Some("lon_gcj".into());
            o.lat_column = Some("b".into());
        });
        let message = read_error(&path, &typo, &[]);
        assert!(message.contains("`lon_gcj`"), "{message}");
        assert!(message.contains("name, a, b, lng, lat, loc"), "{message}");
        let half = options(|o| o.lon_column = Some("a".into()));
        let message = read_error(&path, &half, &[]);
        assert!(
            message.contains("set both lon_column and lat_column"),
            "{message}"
        );
    }

    #[test]
    fn no_coordinate_columns_names_the_columns_and_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "c.csv", b"name,address\nx,y\n");
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(message.contains("c.csv"), "{message}");
        assert!(message.contains("name, address"), "{message}");
        assert!(message.contains("lon_column"), "{message}");
        assert!(message.contains("location_column"), "{message}");
    }

    #[test]
    fn bad_rows_are_per_feature_reasons_with_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "name,lng,lat\n\
                   ok,121.4,31.2\n\
                   blank,,\n\
                   text,东经121,31.2\n\
                   swapped,31.2,121.4\n\
                   ragged,121.4\n\
                   \n\
                   ok2,121.5,31.3\n";
        let path = write(&dir, "bad.csv", csv.as_bytes());
        let features = read(&path, &["name"]);
        let reasons: Vec<&str> = features
            .iter()
            .map(|f| f.geometry.as_ref().err().map_or("", String::as_str))
            .collect();
        assert_eq!(reasons[0], "");
        assert_eq!(reasons[1], "blank coordinates");
        assert_eq!(reasons[2], "longitude is not a number");
        assert!(
            reasons[3].starts_with("coordinates out of range"),
            "{}",
            reasons[3]
        );
        assert_eq!(reasons[4], "2 fields where the header has 3");
        assert_eq!(reasons[5], "");
        assert_eq!(text(&features[4].props[0]), Some("ragged"));
        assert_eq!(features[4].name, "line 6");
        assert_eq!(features[5].name, "line 8", "after the blank line 7");
    }

    #[test]
    fn tsv_and_missing_required_column() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = "名称\t经度\t纬度\n\n\"a\"\t121.4\t31.2";
        let path = write(&dir, "t.tsv", tsv.as_bytes());
        let features = read(&path, &["名称"]);
        assert_eq!(text(&features[0].props[0]), Some("a"));
        assert_eq!(features[0].name, "line 3", "the last line has no line end");

        let category = [Column {
            name: "category",
            required: true,
        }];
        let message = read_error(&path, &ReadOptions::default(), &category);
        assert!(message.contains("t.tsv"), "{message}");
        assert!(message.contains("`category`"), "{message}");
        assert!(message.contains("名称, 经度, 纬度"), "{message}");

        let path = write(&dir, "t.txt", tsv.as_bytes());
        let tsv = options(|o| o.format = Some(Format::Tsv));
        assert_eq!(read_all(&path, &tsv, &[]).unwrap().len(), 1);
    }

    #[test]
    fn empty_and_utf16_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "empty.csv", b"");
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(message.contains("empty.csv"), "{message}");
        assert!(
            message.contains("the first line must name the columns"),
            "{message}"
        );
        let path = write(&dir, "u16.csv", &[0xFF, 0xFE, b'a', 0, b',', 0]);
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(
            message.contains("u16.csv") && message.contains("CSV UTF-8"),
            "{message}"
        );
    }
}
