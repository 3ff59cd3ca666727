//! Reading Shapefiles: the `.shp` geometry (points, multipoints, polylines, polygons; Z and M
//! dropped) with the `.dbf` attributes beside it, decoded in the encoding the `.cpg` names, the
//! configured one, or else the one detected from the `.dbf` bytes (UTF-8, else GBK).
//!
//! The `.prj` must describe longitude/latitude on WGS84 (or CGCS2000, which agrees with it to
//! centimetres); a projected one is an error with the `ogr2ogr` fix. A file without `.prj` whose
//! extent is not longitude/latitude is refused the same way, since it can only be projected.
//! Records marked deleted in the `.dbf` are passed over with their shapes.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use dbase::encoding::EncodingRs;
use dbase::{FieldIterator, FieldValue, ReadableRecord};
use encoding_rs::Encoding;

use super::Error;
use super::formats::{Column, FeatureNames, Prop, ReadOptions};
use super::text;

/// A Shapefile opened for reading, its `.dbf` checked and its columns found.
pub struct ShapefileFile {
    path: PathBuf,
    shapes: shapefile::ShapeReader<BufReader<File>>,
    records: dbase::Reader<BufReader<File>>,
    /// For each wanted column (in the order asked), its index among the `.dbf` fields.
    column_idx: Vec<Option<usize>>,
    /// Indices of the records marked deleted, ascending.
    deleted: Vec<usize>,
    names: FeatureNames,
}

/// One `.dbf` record: every field's value, or `None` where it could not be read.
struct Row(Vec<Option<FieldValue>>);

impl ReadableRecord for Row {
    fn read_using<Source, MemoSource>(
        fields: &mut FieldIterator<Source, MemoSource>,
    ) -> Result<Self, dbase::FieldError>
    where
        Source: Read + Seek,
        MemoSource: Read + Seek,
    {
        Ok(Row(fields
            .map(|field| field.ok().map(|f| f.value))
            .collect()))
    }
}

impl ShapefileFile {
    pub fn open(
        path: &Path,
        options: &ReadOptions,
        columns: &[Column<'_>],
    ) -> Result<ShapefileFile, Error> {
        let unreadable = |message: String| Error::Unreadable {
            path: path.to_owned(),
            format: "Shapefile",
            message,
        };
        check_prj(path)?;
        let shapes = shapefile::ShapeReader::from_path(path)
            .map_err(|e| unreadable(describe_shapefile_error(path, &e)))?;
        let bbox = &shapes.header().bbox;
        let has_prj = path.with_extension("prj").exists();
        let lon_lat = (-180.0..=180.0).contains(&bbox.min.x)
            && (-180.0..=180.0).contains(&bbox.max.x)
            && (-90.0..=90.0).contains(&bbox.min.y)
            && (-90.0..=90.0).contains(&bbox.max.y);
        if !has_prj && !lon_lat {
            return Err(Error::Crs {
                path: path.to_owned(),
                found: format!(
                    "projected coordinates (no .prj; x {:.0}..{:.0}, y {:.0}..{:.0})",
                    bbox.min.x, bbox.max.x, bbox.min.y, bbox.max.y
                ),
            });
        }

        let dbf_path = path.with_extension("dbf");
        let dbf = File::open(&dbf_path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => unreadable(format!(
                "its attributes file {} is missing; a Shapefile is several files side by side (.shp, .shx, .dbf, .prj, .cpg): copy them all",
                dbf_path.display()
            )),
            _ => Error::Open {
                path: dbf_path.clone(),
                source,
            },
        })?;
        let encoding = match &options.encoding {
            Some(name) => named_encoding(path, name)?,
            None => match cpg_encoding(path)? {
                Some(encoding) => encoding,
                None => encoding_rs::UTF_8,
            },
        };
        let detect = options.encoding.is_none() && !path.with_extension("cpg").exists();
        let mut dbf = BufReader::new(dbf);
        let scan = scan_dbf(&mut dbf, detect).map_err(|message| Error::Unreadable {
            path: dbf_path.clone(),
            format: "dBase (.dbf)",
            message,
        })?;
        let encoding = scan.detected.unwrap_or(encoding);
        dbf.seek(SeekFrom::Start(0)).map_err(|source| Error::Open {
            path: dbf_path.clone(),
            source,
        })?;
        let records = dbase::ReaderBuilder::new()
            .with_encoding(EncodingRs::from(encoding))
            .build(dbf)
            .map_err(|e| Error::Unreadable {
                path: dbf_path.clone(),
                format: "dBase (.dbf)",
                message: e.to_string(),
            })?;
        let field_names: Vec<&str> = records.fields().iter().map(|f| f.name()).collect();
        let mut column_idx = Vec::with_capacity(columns.len());
        for col in columns {
            let idx = field_names.iter().position(|n| *n == col.name).or_else(|| {
                field_names
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(col.name))
            });
            if idx.is_none() && col.required {
                return Err(Error::MissingColumn {
                    path: path.to_owned(),
                    column: col.name.to_owned(),
                    available: field_names.join(", "),
                });
            }
            column_idx.push(idx);
        }
        Ok(ShapefileFile {
            path: path.to_owned(),
            shapes,
            records,
            column_idx,
            deleted: scan.deleted,
            names: FeatureNames::shifted("feature", 0),
        })
    }

    pub fn names(&self) -> &FeatureNames {
        &self.names
    }

    pub fn for_each(
        self,
        mut visit: impl FnMut(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>),
    ) -> Result<(), Error> {
        let ShapefileFile {
            path,
            mut shapes,
            mut records,
            column_idx,
            deleted,
            names,
        } = self;
        let mut rows = records.iter_records_as::<Row>();
        let mut deleted = deleted.into_iter().peekable();
        let mut feature_idx = 0usize;
        for (record_idx, shape) in shapes.iter_shapes().enumerate() {
            if deleted.next_if_eq(&record_idx).is_some() {
                continue;
            }
            let shape = shape.map_err(|e| Error::Corrupt {
                path: path.clone(),
                feature_idx: record_idx,
                message: e.to_string(),
            })?;
            let props = match rows.next() {
                Some(Ok(Row(values))) => column_idx
                    .iter()
                    .map(|idx| values.get((*idx)?).cloned().flatten().and_then(field_prop))
                    .collect(),
                Some(Err(e)) => {
                    return Err(Error::Corrupt {
                        path: path.with_extension("dbf"),
                        feature_idx: record_idx,
                        message: e.to_string(),
                    });
                }
                None => {
                    return Err(Error::Corrupt {
                        path: path.with_extension("dbf"),
                        feature_idx: record_idx,
                        message: "the .dbf has fewer records than the .shp has shapes".into(),
                    });
                }
            };
            names.record(feature_idx, record_idx as u64);
            visit(feature_idx, convert(shape), props);
            feature_idx += 1;
        }
        Ok(())
    }
}

fn convert(shape: shapefile::Shape) -> Result<geo::Geometry<f64>, String> {
    if matches!(shape, shapefile::Shape::NullShape) {
        return Err("no geometry".into());
    }
    // Ring order and nesting come from the file; a malformed one is this feature's problem.
    match std::panic::catch_unwind(|| geo::Geometry::<f64>::try_from(shape)) {
        Ok(Ok(geometry)) => Ok(geometry),
        Ok(Err(_)) | Err(_) => Err("invalid geometry".into()),
    }
}

fn field_prop(value: FieldValue) -> Option<Prop> {
    const EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        FieldValue::Character(text) => text.map(Prop::Text),
        FieldValue::Memo(text) => Some(Prop::Text(text)),
        FieldValue::Numeric(number) => number.map(|n| {
            if n.fract() == 0.0 && n.abs() < EXACT_INT {
                Prop::Int(n as i64)
            } else {
                Prop::Float(n)
            }
        }),
        FieldValue::Float(number) => number.map(|n| Prop::Float(f64::from(n))),
        FieldValue::Integer(n) => Some(Prop::Int(i64::from(n))),
        FieldValue::Double(n) | FieldValue::Currency(n) => Some(Prop::Float(n)),
        FieldValue::Logical(b) => b.map(Prop::Bool),
        FieldValue::Date(date) => {
            date.map(|d| Prop::Text(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())))
        }
        FieldValue::DateTime(datetime) => {
            let d = datetime.date();
            let t = datetime.time();
            Some(Prop::Text(format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                d.year(),
                d.month(),
                d.day(),
                t.hours(),
                t.minutes(),
                t.seconds()
            )))
        }
    }
}

fn named_encoding(path: &Path, name: &str) -> Result<&'static Encoding, Error> {
    text::encoding_for_name(name).ok_or_else(|| Error::Encoding {
        path: path.to_owned(),
        name: name.trim().to_owned(),
        examples: text::EXAMPLES,
    })
}

/// The encoding the `.cpg` beside `path` names, if there is one.
fn cpg_encoding(path: &Path) -> Result<Option<&'static Encoding>, Error> {
    let cpg_path = path.with_extension("cpg");
    match std::fs::read(&cpg_path) {
        Ok(bytes) => {
            let name = String::from_utf8_lossy(&bytes);
            named_encoding(&cpg_path, &name).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Open {
            path: cpg_path,
            source,
        }),
    }
}

/// What one pass over the raw `.dbf` records finds.
struct DbfScan {
    deleted: Vec<usize>,
    /// The encoding the text bytes suggest, when asked to detect.
    detected: Option<&'static Encoding>,
}

fn scan_dbf(dbf: &mut BufReader<File>, detect: bool) -> Result<DbfScan, String> {
    let mut header = [0u8; 32];
    dbf.read_exact(&mut header)
        .map_err(|_| "the file ends inside its header (truncated?)".to_owned())?;
    let n_records = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let header_len = u16::from_le_bytes([header[8], header[9]]);
    let record_len = usize::from(u16::from_le_bytes([header[10], header[11]]));
    if record_len == 0 {
        return Err("its header gives records of length 0".into());
    }
    dbf.seek(SeekFrom::Start(u64::from(header_len)))
        .map_err(|e| e.to_string())?;
    let mut probe = text::Utf8Probe::default();
    let mut deleted = Vec::new();
    let mut record = vec![0u8; record_len];
    for record_idx in 0..n_records {
        if dbf.read_exact(&mut record).is_err() {
            return Err(format!(
                "the header announces {n_records} records but the file ends at record {record_idx} (truncated?)"
            ));
        }
        if record[0] == b'*' {
            deleted.push(record_idx);
        } else if detect {
            probe.feed(&record[1..]);
        }
    }
    Ok(DbfScan {
        deleted,
        detected: detect.then(|| probe.guess()),
    })
}

/// Accepts a `.prj` for longitude/latitude on WGS84 or CGCS2000; anything else is an error
/// naming it. No `.prj` is accepted here (the extent is checked instead).
fn check_prj(path: &Path) -> Result<(), Error> {
    let prj_path = path.with_extension("prj");
    let wkt = match std::fs::read(&prj_path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Open {
                path: prj_path,
                source,
            });
        }
    };
    let upper = wkt.to_ascii_uppercase();
    let geographic = upper.starts_with("GEOGCS[") || upper.starts_with("GEOGCRS[");
    let datum_ok = [
        "WGS_1984",
        "WGS 84",
        "WGS84",
        "CGCS2000",
        "CHINA_2000",
        "CHINA 2000",
    ]
    .iter()
    .any(|name| upper.contains(name));
    if geographic && datum_ok {
        return Ok(());
    }
    // The name is the first quoted string: `PROJCS["CGCS2000_3_Degree_GK_CM_120E", …`.
    let name = wkt.split('"').nth(1).unwrap_or(&wkt);
    Err(Error::Crs {
        path: path.to_owned(),
        found: format!("{name} (its .prj)"),
    })
}

fn describe_shapefile_error(path: &Path, e: &shapefile::Error) -> String {
    match e {
        shapefile::Error::IoError(io) if io.kind() == std::io::ErrorKind::NotFound => {
            format!("cannot open {}: {io}", path.display())
        }
        shapefile::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "the .shp ends inside its header (truncated?)".into()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::formats::testing::{Feature, point, read_all, read_error, text, write};
    use dbase::{FieldName, Record, TableWriterBuilder};
    use shapefile::{Point, Polygon, PolygonRing, Polyline, Shape};

    const WGS84_PRJ: &str = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

    /// Writes `name.shp/.shx/.dbf` with `name`, `fclass` and `pop` fields in `encoding`.
    fn write_shapefile(
        dir: &tempfile::TempDir,
        name: &str,
        encoding: &'static Encoding,
        rows: &[(Shape, Option<&str>, &str, f64)],
    ) -> PathBuf {
        let path = dir.path().join(format!("{name}.shp"));
        let table = TableWriterBuilder::with_encoding(EncodingRs::from(encoding))
            .add_character_field(FieldName::try_from("name").unwrap(), 40)
            .add_character_field(FieldName::try_from("fclass").unwrap(), 20)
            .add_numeric_field(FieldName::try_from("pop").unwrap(), 12, 1);
        let mut writer = shapefile::Writer::from_path(&path, table).unwrap();
        for (shape, name, fclass, pop) in rows {
            let mut record = Record::default();
            let name = name.map(str::to_owned);
            record.insert("name".into(), FieldValue::Character(name));
            record.insert(
                "fclass".into(),
                FieldValue::Character(Some((*fclass).into())),
            );
            record.insert("pop".into(), FieldValue::Numeric(Some(*pop)));
            match shape {
                Shape::Point(p) => writer.write_shape_and_record(p, &record).unwrap(),
                Shape::Polygon(p) => writer.write_shape_and_record(p, &record).unwrap(),
                Shape::Polyline(p) => writer.write_shape_and_record(p, &record).unwrap(),
                _ => unreachable!("the fixtures hold points, polygons and polylines"),
            }
        }
        drop(writer);
        path
    }

    fn square(lon: f64, lat: f64) -> Shape {
        let d = 0.001;
        Shape::Polygon(Polygon::new(PolygonRing::Outer(vec![
            Point::new(lon, lat),
            Point::new(lon, lat + d),
            Point::new(lon + d, lat + d),
            Point::new(lon + d, lat),
            Point::new(lon, lat),
        ])))
    }

    fn rows() -> Vec<(Shape, Option<&'static str>, &'static str, f64)> {
        vec![
            (
                Shape::Point(Point::new(121.4017, 31.2139)),
                Some("天山公园"),
                "park",
                1.0,
            ),
            (
                Shape::Point(Point::new(121.4236, 31.2203)),
                None,
                "pitch",
                2.5,
            ),
            (
                Shape::Point(Point::new(121.4101, 31.2201)),
                Some("长宁区图书馆"),
                "library",
                3.0,
            ),
        ]
    }

    fn read(path: &Path) -> Vec<Feature> {
        read_all(
            path,
            &ReadOptions::default(),
            &["name", "fclass", "pop", "absent"],
        )
        .unwrap()
    }

    fn assert_rows(features: &[Feature]) {
        assert_eq!(features.len(), 3);
        assert_eq!(point(&features[0].geometry), (121.4017, 31.2139));
        assert_eq!(text(&features[0].props[0]), Some("天山公园"));
        assert_eq!(text(&features[0].props[1]), Some("park"));
        assert_eq!(features[0].props[2], Some(Prop::Int(1)));
        assert_eq!(features[0].props[3], None);
        assert_eq!(
            text(&features[1].props[0]),
            None,
            "an empty name stays empty"
        );
        assert_eq!(features[1].props[2], Some(Prop::Float(2.5)));
        assert_eq!(text(&features[2].props[0]), Some("长宁区图书馆"));
        assert_eq!(features[2].name, "feature 2");
    }

    fn dbf_contains(path: &Path, text: &str, encoding: &'static Encoding) -> bool {
        let dbf = std::fs::read(path.with_extension("dbf")).unwrap();
        let needle = encoding.encode(text).0;
        dbf.windows(needle.len()).any(|w| w == &needle[..])
    }

    #[test]
    fn gbk_dbf_named_by_its_cpg() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_shapefile(&dir, "pois", encoding_rs::GBK, &rows());
        assert!(dbf_contains(&path, "天山公园", encoding_rs::GBK));
        for cpg in ["GBK", "936", "CP936\r\n"] {
            write(&dir, "pois.cpg", cpg.as_bytes());
            assert_rows(&read(&path));
        }
        std::fs::write(path.with_extension("prj"), WGS84_PRJ).unwrap();
        assert_rows(&read(&path));
    }

    #[test]
    fn gbk_dbf_without_cpg_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_shapefile(&dir, "pois", encoding_rs::GBK, &rows());
        assert!(!path.with_extension("cpg").exists());
        assert_rows(&read(&path));
    }

    #[test]
    fn utf8_dbf_with_and_without_cpg_and_a_configured_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_shapefile(&dir, "pois", encoding_rs::UTF_8, &rows());
        assert!(dbf_contains(&path, "天山公园", encoding_rs::UTF_8));
        assert_rows(&read(&path));
        write(&dir, "pois.cpg", b"UTF-8");
        assert_rows(&read(&path));
        // A wrong .cpg is overridden by the configured encoding.
        write(&dir, "pois.cpg", b"GBK");
        let utf8 = ReadOptions {
            encoding: Some("utf-8".into()),
            ..ReadOptions::default()
        };
        let features = read_all(&path, &utf8, &["name"]).unwrap();
        assert_eq!(text(&features[0].props[0]), Some("天山公园"));
    }

    #[test]
    fn an_unknown_cpg_names_the_cpg_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_shapefile(&dir, "pois", encoding_rs::UTF_8, &rows());
        write(&dir, "pois.cpg", b"EBCDIC-XYZ");
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(message.contains("pois.cpg"), "{message}");
        assert!(
            message.contains("`EBCDIC-XYZ`") && message.contains("gbk"),
            "{message}"
        );
    }

    #[test]
    fn a_projected_prj_or_extent_is_an_error_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_shapefile(&dir, "pois", encoding_rs::UTF_8, &rows());
        let projected = r#"PROJCS["CGCS2000_3_Degree_GK_CM_120E",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],UNIT["Meter",1.0]]"#;
        write(&dir, "pois.prj", projected.as_bytes());
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(message.contains("pois.shp"), "{message}");
        assert!(
            message.contains("CGCS2000_3_Degree_GK_CM_120E"),
            "{message}"
        );
        assert!(message.contains("ogr2ogr -t_srs EPSG:4326"), "{message}");

        let xian80 = r#"GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",SPHEROID["Xian_1980",6378140.0,298.257]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        write(&dir, "pois.prj", xian80.as_bytes());
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(message.contains("GCS_Xian_1980"), "{message}");

        let cgcs2000 = r#"GEOGCS["China Geodetic Coordinate System 2000",DATUM["China_2000",SPHEROID["CGCS2000",6378137,298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4490"]]"#;
        write(&dir, "pois.prj", cgcs2000.as_bytes());
        assert_rows(&read(&path));

        std::fs::remove_file(dir.path().join("pois.prj")).unwrap();
        let metres = [(
            Shape::Point(Point::new(350_000.0, 3_455_000.0)),
            Some("x"),
            "park",
            1.0,
        )];
        let path = write_shapefile(&dir, "gk", encoding_rs::UTF_8, &metres);
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(
            message.contains("gk.shp") && message.contains("projected"),
            "{message}"
        );
        assert!(message.contains("ogr2ogr"), "{message}");
    }

    #[test]
    fn missing_dbf_and_missing_column_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_shapefile(&dir, "pois", encoding_rs::UTF_8, &rows());
        let columns = [Column {
            name: "category",
            required: true,
        }];
        let message = read_error(&path, &ReadOptions::default(), &columns);
        assert!(
            message.contains("pois.shp") && message.contains("`category`"),
            "{message}"
        );
        assert!(message.contains("name, fclass, pop"), "{message}");

        std::fs::remove_file(path.with_extension("dbf")).unwrap();
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(
            message.contains("pois.dbf") && message.contains("missing"),
            "{message}"
        );

        let garbage = write(&dir, "junk.shp", b"not a shapefile at all, not even close");
        let message = read_error(&garbage, &ReadOptions::default(), &[]);
        assert!(message.contains("junk.shp"), "{message}");
    }

    #[test]
    fn polygons_and_polylines() {
        let dir = tempfile::tempdir().unwrap();
        let parks = [(square(121.41, 31.22), Some("中山公园"), "park", 1.0)];
        let path = write_shapefile(&dir, "parks", encoding_rs::GBK, &parks);
        let features = read(&path);
        let Ok(geo::Geometry::MultiPolygon(polygons)) = &features[0].geometry else {
            panic!("expected a multipolygon, got {:?}", features[0].geometry);
        };
        assert_eq!(polygons.0.len(), 1);
        assert_eq!(polygons.0[0].exterior().0.len(), 5);
        assert_eq!(text(&features[0].props[0]), Some("中山公园"));

        let line = Polyline::new(vec![Point::new(121.40, 31.20), Point::new(121.41, 31.21)]);
        let roads = [(Shape::Polyline(line), Some("江苏路"), "footway", 0.0)];
        let path = write_shapefile(&dir, "roads", encoding_rs::UTF_8, &roads);
        let features = read(&path);
        let Ok(geo::Geometry::MultiLineString(lines)) = &features[0].geometry else {
            panic!("expected a multilinestring, got {:?}", features[0].geometry);
        };
        assert_eq!(lines.0[0].0[1], geo::coord! { x: 121.41, y: 31.21 });
    }

    #[test]
    fn deleted_records_are_passed_over_with_their_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_shapefile(&dir, "pois", encoding_rs::UTF_8, &rows());
        // Mark record 1 deleted, as dBase tools do.
        let mut dbf = std::fs::read(path.with_extension("dbf")).unwrap();
        let header_len = usize::from(u16::from_le_bytes([dbf[8], dbf[9]]));
        let record_len = usize::from(u16::from_le_bytes([dbf[10], dbf[11]]));
        dbf[header_len + record_len] = b'*';
        std::fs::write(path.with_extension("dbf"), dbf).unwrap();
        let features = read(&path);
        assert_eq!(features.len(), 2);
        assert_eq!(text(&features[1].props[0]), Some("长宁区图书馆"));
        assert_eq!(point(&features[1].geometry), (121.4101, 31.2201));
        assert_eq!(
            features[1].name, "feature 2",
            "named by its record in the file"
        );
    }
}
