//! Ingest never panics and names the problem: truncated and garbage files, corrupted bytes,
//! a wrong CRS, a missing column, bad features inside a good file; and `lifecircle check`
//! reports the same to the data office.

use std::path::Path;

use flatgeobuf::{ColumnType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geozero::{ColumnValue, PropertyProcessor};
use lifecircle::config::Config;
use lifecircle::ingest::{self, Error};

use crate::support;

fn sample_bytes() -> Vec<u8> {
    std::fs::read(support::repo_root().join("data/changning/facilities.fgb")).unwrap()
}

fn read(path: &Path) -> Result<usize, Error> {
    let config = Config::embedded().unwrap();
    let taxonomy = config.taxonomy().unwrap();
    ingest::read_facilities(path, &config.data.fields, &taxonomy)
        .map(|(facilities, _)| facilities.len())
}

#[test]
fn truncated_and_garbage_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample_bytes();
    let path = dir.path().join("facilities.fgb");
    let mut lengths = vec![
        0,
        3,
        8,
        11,
        12,
        100,
        1000,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 1,
    ];
    // Cut inside the feature section at many places, too.
    lengths.extend((1..40).map(|i| bytes.len() * i / 40 + 7));
    for len in lengths {
        std::fs::write(&path, &bytes[..len]).unwrap();
        match read(&path) {
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains("facilities.fgb"), "{len}: {message}");
            }
            Ok(n) => panic!(
                "a file cut at {len} of {} bytes loaded {n} facilities",
                bytes.len()
            ),
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for size in [1usize, 16, 4096, 65536] {
        let garbage: Vec<u8> = (0..size)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        std::fs::write(&path, &garbage).unwrap();
        assert!(
            matches!(read(&path), Err(Error::NotFlatGeobuf { .. })),
            "{size} random bytes"
        );
        // Valid magic bytes followed by garbage.
        let mut fake = bytes[..8].to_vec();
        fake.extend_from_slice(&garbage);
        std::fs::write(&path, &fake).unwrap();
        assert!(read(&path).is_err(), "magic + {size} random bytes");
    }
    assert!(matches!(
        read(&dir.path().join("missing.fgb")),
        Err(Error::Open { .. })
    ));
}

#[test]
fn corrupted_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample_bytes();
    let path = dir.path().join("facilities.fgb");
    let mut seed = 7u64;
    for round in 0..40 {
        let mut corrupted = bytes.clone();
        for _ in 0..(1 + round % 8) {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let at = (seed >> 33) as usize % corrupted.len();
            corrupted[at] ^= (seed >> 8) as u8 | 1;
        }
        std::fs::write(&path, &corrupted).unwrap();
        // Either outcome is acceptable; a panic (which fails the test) is not.
        let _ = read(&path);
    }
}

/// Writes a small facilities file with the given CRS code and columns.
fn write_fixture(path: &Path, crs_code: i32, columns: &[&str], points: &[(f64, f64)]) {
    let options = FgbWriterOptions {
        crs: FgbCrs {
            code: crs_code,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut writer =
        FgbWriter::create_with_options("facilities", GeometryType::Point, options).unwrap();
    for column in columns {
        let ty = if *column == "id" {
            ColumnType::ULong
        } else {
            ColumnType::String
        };
        writer.add_column(column, ty, |_, _| {});
    }
    for (idx, &(x, y)) in points.iter().enumerate() {
        writer
            .add_feature_geom(geo::Geometry::Point(geo::Point::new(x, y)), |feature| {
                for (col_idx, column) in columns.iter().enumerate() {
                    let name = format!("设施{idx}");
                    let value = match *column {
                        "id" => ColumnValue::ULong(idx as u64 + 1),
                        "name" => ColumnValue::String(&name),
                        "category" => ColumnValue::String(if idx % 2 == 0 {
                            "菜场"
                        } else {
                            "殡仪服务"
                        }),
                        _ => ColumnValue::String(""),
                    };
                    feature.property(col_idx, column, &value).unwrap();
                }
            })
            .unwrap();
    }
    writer.write(std::fs::File::create(path).unwrap()).unwrap();
}

#[test]
fn wrong_crs_and_missing_columns_say_how_to_fix_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mercator.fgb");
    write_fixture(
        &path,
        3857,
        &["id", "name", "category"],
        &[(13_515_000.0, 3_658_000.0)],
    );
    let message = read(&path).unwrap_err().to_string();
    assert!(
        message.contains("EPSG:3857") && message.contains("reproject"),
        "{message}"
    );

    let path = dir.path().join("nocategory.fgb");
    write_fixture(&path, 4326, &["id", "name"], &[(121.4, 31.2)]);
    let message = read(&path).unwrap_err().to_string();
    assert!(
        message.contains("no column `category`") && message.contains("[data.fields]"),
        "{message}"
    );
}

#[test]
fn bad_features_are_skipped_or_recategorised_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("facilities.fgb");
    write_fixture(
        &path,
        4326,
        &["id", "name", "category"],
        &[
            (121.4, 31.2),
            (121.41, 31.21),
            (500.0, 31.2),
            (121.42, 31.22),
        ],
    );
    let config = Config::embedded().unwrap();
    let taxonomy = config.taxonomy().unwrap();
    let (facilities, report) =
        ingest::read_facilities(&path, &config.data.fields, &taxonomy).unwrap();
    assert_eq!(facilities.len(), 3);
    assert_eq!(report.n_read, 4);
    assert_eq!(
        report.skipped.get("coordinates outside lon/lat range"),
        Some(&1)
    );
    assert_eq!(report.unknown_categories.get("殡仪服务"), Some(&2));
    let market = taxonomy.by_id("market").unwrap();
    assert_eq!(
        facilities.iter().filter(|f| f.category == market).count(),
        1,
        "菜场 is an alias of market"
    );
}

#[test]
fn check_command_reports_and_fails_clearly() {
    let binary = env!("CARGO_BIN_EXE_lifecircle");
    let ok = std::process::Command::new(binary)
        .arg("check")
        .current_dir(support::repo_root())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.contains("facilities.fgb (facilities): 4000 features read")
            || stdout.contains("features read"),
        "{stdout}"
    );
    assert!(stdout.contains("put in the fallback category"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.fgb"), b"not a flatgeobuf").unwrap();
    std::fs::write(
        dir.path().join("lc.toml"),
        "[data]\nfacilities = \"broken.fgb\"\nroads = \"\"\n",
    )
    .unwrap();
    let config = dir.path().join("lc.toml");
    let bad = std::process::Command::new(binary)
        .args(["--config", config.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("broken.fgb") && stderr.contains("not a readable FlatGeobuf file"),
        "{stderr}"
    );

    std::fs::write(&config, "[tiles]\nmaxzom = 3\n").unwrap();
    let bad = std::process::Command::new(binary)
        .args(["--config", config.to_str().unwrap(), "check"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown field `maxzom`"));
}
