//! Reading GeoPackages: one feature table (the configured `layer`, else the only one listed in
//! `gpkg_contents`), its geometry blobs (GeoPackage header + WKB, decoded by geozero) and the
//! columns asked for, opened read-only.
//!
//! The table's spatial reference must be longitude/latitude on WGS84 (EPSG:4326, or CGCS2000,
//! EPSG:4490); any other is an error naming it with the `ogr2ogr` fix. Features are named by
//! their `fid` in messages, as GIS tools show them.

use std::path::{Path, PathBuf};

use geozero::ToGeo;
use geozero::wkb::GpkgWkb;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::Error;
use super::formats::{self, Column, FeatureNames, Prop, ReadOptions};

/// A GeoPackage feature table opened for reading.
pub struct GpkgFile {
    path: PathBuf,
    connection: Connection,
    /// `SELECT fid, geometry, wanted columns… FROM table`, identifiers quoted.
    query: String,
    /// For each wanted column (in the order asked), its position after fid and geometry.
    column_slot: Vec<Option<usize>>,
    names: FeatureNames,
}

impl GpkgFile {
    pub fn open(
        path: &Path,
        options: &ReadOptions,
        columns: &[Column<'_>],
    ) -> Result<GpkgFile, Error> {
        let unreadable = |message: String| Error::Unreadable {
            path: path.to_owned(),
            format: "GeoPackage",
            message,
        };
        if !path.exists() {
            return Err(Error::Open {
                path: path.to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection =
            Connection::open_with_flags(path, flags).map_err(|e| unreadable(e.to_string()))?;
        let sql_error = |e: rusqlite::Error| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                unreadable("not an SQLite database".into())
            }
            rusqlite::Error::SqliteFailure(_, Some(message))
                if message.contains("no such table") =>
            {
                unreadable(format!("{message}: not a GeoPackage"))
            }
            other => unreadable(other.to_string()),
        };

        let tables: Vec<String> = connection
            .prepare("SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY table_name")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| row.get(0))?
                    .collect::<Result<Vec<String>, _>>()
            })
            .map_err(sql_error)?;
        let table = match (&options.layer, tables.as_slice()) {
            (Some(layer), _) => tables
                .iter()
                .find(|t| *t == layer)
                .or_else(|| tables.iter().find(|t| t.eq_ignore_ascii_case(layer)))
                .cloned()
                .ok_or_else(|| {
                    unreadable(format!(
                        "has no feature table `{layer}`; its feature tables: {}",
                        tables.join(", ")
                    ))
                })?,
            (None, [only]) => only.clone(),
            (None, []) => return Err(unreadable("holds no feature table".into())),
            (None, several) => {
                return Err(unreadable(format!(
                    "holds several feature tables ({}); name one with `layer`",
                    several.join(", ")
                )));
            }
        };

        let (geometry_column, srs_id): (String, i64) = connection
            .query_row(
                "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?1",
                [&table],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(sql_error)?
            .ok_or_else(|| unreadable(format!("table `{table}` has no geometry column")))?;
        check_srs(&connection, srs_id).map_err(|e| match e {
            SrsError::Sql(e) => sql_error(e),
            SrsError::NotWgs84(found) => Error::Crs {
                path: path.to_owned(),
                found,
            },
        })?;

        // Column names and the integer primary key (the feature id).
        let mut fid_column = None;
        let mut names = Vec::new();
        connection
            .prepare(&format!("PRAGMA table_info({})", quote(&table)))
            .and_then(|mut stmt| {
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let name: String = row.get(1)?;
                    let pk: i64 = row.get(5)?;
                    if pk == 1 {
                        fid_column = Some(name.clone());
                    }
                    names.push(name);
                }
                Ok(())
            })
            .map_err(sql_error)?;
        // The feature id column stays selectable: it is the natural source id (`id = "fid"`).
        let attributes: Vec<&String> = names.iter().filter(|n| **n != geometry_column).collect();
        let mut selected = Vec::new();
        let mut column_slot = Vec::with_capacity(columns.len());
        for col in columns {
            let found = attributes
                .iter()
                .find(|n| **n == col.name)
                .or_else(|| attributes.iter().find(|n| n.eq_ignore_ascii_case(col.name)));
            match found {
                Some(name) => {
                    column_slot.push(Some(selected.len()));
                    selected.push(quote(name));
                }
                None if col.required => {
                    let available: Vec<&str> = attributes.iter().map(|n| n.as_str()).collect();
                    return Err(Error::MissingColumn {
                        path: path.to_owned(),
                        column: col.name.to_owned(),
                        available: available.join(", "),
                    });
                }
                None => column_slot.push(None),
            }
        }
        let fid = fid_column
            .as_deref()
            .map_or_else(|| "rowid".to_owned(), quote);
        let mut query = format!("SELECT {fid}, {}", quote(&geometry_column));
        for column in &selected {
            query.push_str(", ");
            query.push_str(column);
        }
        query.push_str(&format!(" FROM {}", quote(&table)));
        Ok(GpkgFile {
            path: path.to_owned(),
            connection,
            query,
            column_slot,
            names: FeatureNames::shifted("fid", 1),
        })
    }

    pub fn names(&self) -> &FeatureNames {
        &self.names
    }

    pub fn for_each(
        self,
        mut visit: impl FnMut(usize, Result<geo::Geometry<f64>, String>, Vec<Option<Prop>>),
    ) -> Result<(), Error> {
        let GpkgFile {
            path,
            connection,
            query,
            column_slot,
            names,
        } = self;
        let sql_error = |e: rusqlite::Error| Error::Unreadable {
            path: path.clone(),
            format: "GeoPackage",
            message: e.to_string(),
        };
        let mut stmt = connection.prepare(&query).map_err(sql_error)?;
        let mut rows = stmt.query([]).map_err(sql_error)?;
        let mut feature_idx = 0usize;
        while let Some(row) = rows.next().map_err(sql_error)? {
            let fid: i64 = row.get(0).map_err(sql_error)?;
            names.record(feature_idx, fid.max(0) as u64);
            let geometry = match row.get_ref(1).map_err(sql_error)? {
                ValueRef::Blob(blob) => decode_geometry(blob),
                ValueRef::Null => Err("no geometry".to_owned()),
                _ => Err("invalid geometry".to_owned()),
            };
            let props = column_slot
                .iter()
                .map(|slot| {
                    let value = row.get_ref(2 + (*slot)?).ok()?;
                    match value {
                        ValueRef::Integer(i) => Some(Prop::Int(i)),
                        ValueRef::Real(f) => Some(Prop::Float(f)),
                        ValueRef::Text(t) => {
                            Some(Prop::Text(String::from_utf8_lossy(t).into_owned()))
                        }
                        ValueRef::Null | ValueRef::Blob(_) => None,
                    }
                })
                .collect();
            visit(feature_idx, geometry, props);
            feature_idx += 1;
        }
        Ok(())
    }
}

enum SrsError {
    Sql(rusqlite::Error),
    NotWgs84(String),
}

/// Accepts srs_id 0 ("undefined geographic", taken as longitude/latitude) and spatial reference
/// systems whose organisation code is EPSG 4326 or 4490.
fn check_srs(connection: &Connection, srs_id: i64) -> Result<(), SrsError> {
    if srs_id == 0 {
        return Ok(());
    }
    let found: Option<(String, String, i64)> = connection
        .query_row(
            "SELECT srs_name, organization, organization_coordsys_id FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()
        .map_err(SrsError::Sql)?;
    match found {
        Some((_, organization, code))
            if organization.eq_ignore_ascii_case("EPSG") && formats::is_geographic_wgs84(code) =>
        {
            Ok(())
        }
        Some((name, organization, code)) => Err(SrsError::NotWgs84(format!(
            "{name} ({organization}:{code}, srs_id {srs_id})"
        ))),
        None => Err(SrsError::NotWgs84(format!("srs_id {srs_id} (undefined)"))),
    }
}

fn decode_geometry(blob: &[u8]) -> Result<geo::Geometry<f64>, String> {
    // Byte 3 holds the flags; bit 4 marks an empty geometry.
    if blob.len() < 8 || &blob[..2] != b"GP" {
        return Err("invalid geometry".into());
    }
    if blob[3] & 0b0001_0000 != 0 {
        return Err("empty geometry".into());
    }
    match std::panic::catch_unwind(|| GpkgWkb(blob).to_geo()) {
        Ok(Ok(geometry)) => Ok(geometry),
        Ok(Err(_)) | Err(_) => Err("invalid geometry".into()),
    }
}

/// An SQL identifier in double quotes, inner quotes doubled.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::formats::testing::{point, read_all, read_error, text};

    /// A GeoPackage geometry blob written by hand (so the test does not share the reader's
    /// decoder): header with an envelope, then little-endian WKB.
    fn blob(srs_id: i32, wkb: &[u8], envelope: Option<[f64; 4]>) -> Vec<u8> {
        let mut out = b"GP".to_vec();
        out.push(0);
        out.push(if envelope.is_some() {
            0b0000_0011
        } else {
            0b0000_0001
        });
        out.extend_from_slice(&srs_id.to_le_bytes());
        for v in envelope.iter().flatten() {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(wkb);
        out
    }

    fn wkb_point(x: f64, y: f64) -> Vec<u8> {
        let mut out = vec![1];
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&x.to_le_bytes());
        out.extend_from_slice(&y.to_le_bytes());
        out
    }

    fn wkb_square(x: f64, y: f64, d: f64) -> Vec<u8> {
        let mut out = vec![1];
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&5u32.to_le_bytes());
        for (px, py) in [(x, y), (x + d, y), (x + d, y + d), (x, y + d), (x, y)] {
            out.extend_from_slice(&px.to_le_bytes());
            out.extend_from_slice(&py.to_le_bytes());
        }
        out
    }

    /// A GeoPackage with the required metadata tables and the feature tables named.
    fn write_gpkg(path: &Path, srs: (i64, &str, i64), tables: &[&str]) -> Connection {
        let db = Connection::open(path).unwrap();
        db.execute_batch(
            "PRAGMA application_id = 1196444487;
             CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY,
               organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL,
               definition TEXT NOT NULL, description TEXT);
             CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT NOT NULL,
               identifier TEXT, description TEXT DEFAULT '', last_change DATETIME,
               min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER);
             CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
               geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL,
               m TINYINT NOT NULL);
             INSERT INTO gpkg_contents VALUES ('notes', 'attributes', NULL, '', NULL, NULL, NULL, NULL, NULL, NULL);",
        )
        .unwrap();
        db.execute(
            "INSERT INTO gpkg_spatial_ref_sys VALUES (?1, ?2, 'EPSG', ?3, 'wkt', NULL)",
            rusqlite::params![srs.1, srs.0, srs.2],
        )
        .unwrap();
        for table in tables {
            db.execute_batch(&format!(
                "CREATE TABLE \"{table}\" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom BLOB,
                   name TEXT, \"Category\" TEXT, beds INTEGER, area REAL);
                 INSERT INTO gpkg_contents (table_name, data_type, srs_id) VALUES ('{table}', 'features', {});
                 INSERT INTO gpkg_geometry_columns VALUES ('{table}', 'geom', 'GEOMETRY', {}, 0, 0);",
                srs.0, srs.0
            ))
            .unwrap();
        }
        db
    }

    fn insert(db: &Connection, table: &str, fid: i64, geom: Option<Vec<u8>>, name: Option<&str>) {
        db.execute(
            &format!("INSERT INTO \"{table}\" (fid, geom, name, \"Category\", beds, area) VALUES (?1, ?2, ?3, 'park', 12, 3.5)"),
            rusqlite::params![fid, geom, name],
        )
        .unwrap();
    }

    const WGS84: (i64, &str, i64) = (4326, "WGS 84 geodetic", 4326);

    #[test]
    fn reads_the_only_feature_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parks.gpkg");
        let db = write_gpkg(&path, WGS84, &["parks"]);
        insert(
            &db,
            "parks",
            1,
            Some(blob(4326, &wkb_point(121.4017, 31.2139), None)),
            Some("天山公园"),
        );
        let envelope = Some([121.41, 121.42, 31.22, 31.23]);
        insert(
            &db,
            "parks",
            5,
            Some(blob(4326, &wkb_square(121.41, 31.22, 0.01), envelope)),
            None,
        );
        insert(&db, "parks", 6, None, Some("no geometry"));
        let mut empty = blob(4326, &wkb_point(f64::NAN, f64::NAN), None);
        empty[3] |= 0b0001_0000;
        insert(&db, "parks", 7, Some(empty), Some("empty"));
        insert(
            &db,
            "parks",
            8,
            Some(b"GP\0\x01garbage".to_vec()),
            Some("garbage"),
        );
        drop(db);

        let features = read_all(
            &path,
            &ReadOptions::default(),
            &["name", "category", "beds", "area", "x"],
        )
        .unwrap();
        assert_eq!(features.len(), 5);
        assert_eq!(point(&features[0].geometry), (121.4017, 31.2139));
        assert_eq!(text(&features[0].props[0]), Some("天山公园"));
        assert_eq!(
            text(&features[0].props[1]),
            Some("park"),
            "found ignoring case"
        );
        assert_eq!(features[0].props[2], Some(Prop::Int(12)));
        assert_eq!(features[0].props[3], Some(Prop::Float(3.5)));
        assert_eq!(features[0].props[4], None);
        assert!(matches!(
            features[1].geometry,
            Ok(geo::Geometry::Polygon(_))
        ));
        assert_eq!(features[1].props[0], None);
        assert_eq!(features[1].name, "fid 5");
        assert_eq!(features[2].geometry, Err("no geometry".into()));
        assert_eq!(features[3].geometry, Err("empty geometry".into()));
        assert_eq!(features[4].geometry, Err("invalid geometry".into()));
        assert_eq!(features[4].name, "fid 8");
    }

    #[test]
    fn layer_picks_the_table_and_several_tables_need_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("two.gpkg");
        let db = write_gpkg(&path, WGS84, &["schools", "clinics"]);
        insert(
            &db,
            "clinics",
            1,
            Some(blob(4326, &wkb_point(121.42, 31.22), None)),
            Some("社区卫生服务中心"),
        );
        drop(db);
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(message.contains("two.gpkg"), "{message}");
        assert!(
            message.contains("clinics, schools") && message.contains("`layer`"),
            "{message}"
        );

        let clinics = ReadOptions {
            layer: Some("clinics".into()),
            ..ReadOptions::default()
        };
        let features = read_all(&path, &clinics, &["name"]).unwrap();
        assert_eq!(text(&features[0].props[0]), Some("社区卫生服务中心"));

        let typo = ReadOptions {
            layer: Some("hospitals".into()),
            ..ReadOptions::default()
        };
        let message = read_error(&path, &typo, &[]);
        assert!(
            message.contains("`hospitals`") && message.contains("clinics, schools"),
            "{message}"
        );

        let required = [Column {
            name: "kind",
            required: true,
        }];
        let message = read_error(&path, &clinics, &required);
        assert!(message.contains("`kind`"), "{message}");
        assert!(message.contains("name, Category, beds, area"), "{message}");
    }

    #[test]
    fn a_projected_srs_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("utm.gpkg");
        drop(write_gpkg(
            &path,
            (32651, "WGS 84 / UTM zone 51N", 32651),
            &["pois"],
        ));
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(message.contains("utm.gpkg"), "{message}");
        assert!(
            message.contains("WGS 84 / UTM zone 51N (EPSG:32651"),
            "{message}"
        );
        assert!(message.contains("ogr2ogr -t_srs EPSG:4326"), "{message}");

        let path = dir.path().join("cgcs2000.gpkg");
        let db = write_gpkg(
            &path,
            (4490, "China Geodetic Coordinate System 2000", 4490),
            &["pois"],
        );
        insert(
            &db,
            "pois",
            1,
            Some(blob(4490, &wkb_point(121.42, 31.22), None)),
            None,
        );
        drop(db);
        assert_eq!(
            read_all(&path, &ReadOptions::default(), &[]).unwrap().len(),
            1
        );
    }

    #[test]
    fn files_that_are_not_geopackages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text.gpkg");
        std::fs::write(
            &path,
            "this is not a database, only a text file long enough to look at it",
        )
        .unwrap();
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(
            message.contains("text.gpkg") && message.contains("not an SQLite database"),
            "{message}"
        );

        let path = dir.path().join("plain.gpkg");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (a INTEGER);")
            .unwrap();
        let message = read_error(&path, &ReadOptions::default(), &[]);
        assert!(
            message.contains("plain.gpkg") && message.contains("not a GeoPackage"),
            "{message}"
        );

        let message = read_error(
            &dir.path().join("absent.gpkg"),
            &ReadOptions::default(),
            &[],
        );
        assert!(message.contains("absent.gpkg"), "{message}");
    }
}
