//! The embedded store: one SQLite file in WAL mode, a write connection for the writer thread
//! and a query-only read connection.
//!
//! The schema is versioned with `PRAGMA user_version` and the file marked with an
//! `application_id`, so a file of another application is refused rather than altered.

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use super::{
    COLUMNS, GROUP_BY_STATUS, GROUP_OPEN_BY_CATEGORY, GROUP_OPEN_BY_FACILITY, GROUP_OPEN_BY_KIND,
    Groups, Inserted, RawReport, Reads, SqlValue, StoreOptions, Writes, listing_sql, resend_of,
};
use crate::config::Synchronous;
use crate::feedback::{Error, Filter, Listing, NewReport, Page, Patch, Report, Status};

/// Marks the file as a lifecircle feedback database ("LCFB").
const APPLICATION_ID: i64 = 0x4c43_4642;

/// Schema migrations; entry `n` brings the schema from version `n` to `n + 1`. Append only, and
/// in step with `postgres::MIGRATIONS` (the same version means the same table).
pub(super) const MIGRATIONS: &[&str] = &[
    // Version 1: reports. `facility_id` holds the u64 feature id's bit pattern as an i64.
    "CREATE TABLE feedback (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at_ms  INTEGER NOT NULL,
        updated_at_ms  INTEGER NOT NULL,
        status         TEXT NOT NULL DEFAULT 'open'
                       CHECK (status IN ('open', 'in_progress', 'resolved', 'rejected')),
        note           TEXT NOT NULL DEFAULT '',
        kind           TEXT NOT NULL
                       CHECK (kind IN ('closed', 'wrong_location', 'wrong_info',
                                       'missing_facility', 'suggestion', 'other')),
        facility_id    INTEGER,
        facility_name  TEXT,
        category       TEXT,
        facility_lon   REAL,
        facility_lat   REAL,
        lon            REAL,
        lat            REAL,
        message        TEXT NOT NULL CHECK (length(message) > 0),
        contact        TEXT,
        client_id      TEXT UNIQUE,
        data_version   INTEGER NOT NULL,
        CHECK ((lon IS NULL) = (lat IS NULL)),
        CHECK ((facility_id IS NULL) = (facility_name IS NULL)
               AND (facility_id IS NULL) = (category IS NULL)
               AND (facility_id IS NULL) = (facility_lon IS NULL)
               AND (facility_id IS NULL) = (facility_lat IS NULL))
    ) STRICT;
    CREATE INDEX feedback_status_created ON feedback (status, created_at_ms);
    CREATE INDEX feedback_facility_status ON feedback (facility_id, status);
    CREATE INDEX feedback_created ON feedback (created_at_ms);",
];

/// The writer thread's connection.
pub(super) struct SqliteWriter(Connection);

/// The read connection (query only).
pub(super) struct SqliteReader(Connection);

/// Opens (creating if needed) and migrates the database at `path`: its write and read
/// connections.
pub(super) fn open(
    path: &Path,
    options: StoreOptions,
) -> Result<(SqliteWriter, SqliteReader), Error> {
    let open_error = |source| Error::Open {
        path: path.to_owned(),
        source,
    };
    let mut writer = Connection::open(path).map_err(open_error)?;
    configure(&writer, path, options).map_err(|e| match e {
        Error::Sqlite(source) => open_error(source),
        other => other,
    })?;
    migrate(&mut writer, path)?;
    let reader =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(open_error)?;
    reader
        .busy_timeout(std::time::Duration::from_secs(5))
        .and_then(|()| reader.pragma_update(None, "query_only", true))
        .map_err(open_error)?;
    Ok((SqliteWriter(writer), SqliteReader(reader)))
}

fn configure(conn: &Connection, path: &Path, options: StoreOptions) -> Result<(), Error> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::NoWal {
            path: path.to_owned(),
            mode,
        });
    }
    let synchronous = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Extra => "EXTRA",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(())
}

/// Brings the schema to the newest version, one migration per transaction. The version is read
/// inside each write transaction, so two processes opening a new file at once migrate it once.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let supported = MIGRATIONS.len() as i64;
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let application_id: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if application_id != APPLICATION_ID && (application_id != 0 || version != 0) {
            return Err(Error::NotFeedbackDatabase {
                path: path.to_owned(),
                found: application_id,
            });
        }
        if version > supported {
            return Err(Error::SchemaTooNew {
                path: path.to_owned(),
                found: version,
                supported,
            });
        }
        if version == supported {
            return Ok(());
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(path = %path.display(), version = version + 1, "feedback schema migrated");
    }
}

impl Writes for SqliteWriter {
    fn begin(&mut self) -> Result<(), Error> {
        Ok(self.0.execute_batch("BEGIN IMMEDIATE")?)
    }

    fn insert(&mut self, report: &NewReport, now_ms: i64) -> Result<Inserted, Error> {
        let conn = &self.0;
        let facility = report.facility.as_ref();
        let inserted: Option<i64> = conn
            .prepare_cached(
                "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, facility_id, facility_name,
                    category, facility_lon, facility_lat, lon, lat, message, contact, client_id,
                    data_version)
                 VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (client_id) DO NOTHING
                 RETURNING id",
            )?
            .query_row(
                params![
                    now_ms,
                    report.kind.as_str(),
                    facility.map(|f| f.id as i64),
                    facility.map(|f| &f.name),
                    facility.map(|f| &f.category),
                    facility.map(|f| f.lon),
                    facility.map(|f| f.lat),
                    report.location.map(|l| l.0),
                    report.location.map(|l| l.1),
                    report.message,
                    report.contact,
                    report.client_id,
                    report.data_version as i64,
                ],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(id) = inserted {
            return Ok(Inserted { id, created: true });
        }
        // Only a client_id conflict skips the insert: compare with the stored report.
        let existing = conn.query_row(
            &format!("SELECT {COLUMNS} FROM feedback WHERE client_id = ?1"),
            [report.client_id.as_deref().unwrap_or_default()],
            report_from_row,
        )?;
        resend_of(existing, report)
    }

    fn update(&mut self, id: i64, patch: &Patch, now_ms: i64) -> Result<Report, Error> {
        self.0
            .prepare_cached(&format!(
                "UPDATE feedback SET status = COALESCE(?1, status), note = COALESCE(?2, note),
                    updated_at_ms = ?3
                 WHERE id = ?4
                 RETURNING {COLUMNS}"
            ))?
            .query_row(
                params![patch.status.map(Status::as_str), patch.note, now_ms, id],
                report_from_row,
            )
            .optional()?
            .ok_or(Error::NotFound { id })
    }

    fn in_transaction(&mut self) -> bool {
        !self.0.is_autocommit()
    }

    fn commit(&mut self) -> Result<(), Error> {
        Ok(self.0.execute_batch("COMMIT")?)
    }

    fn rollback(&mut self) {
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

impl Reads for SqliteReader {
    fn get(&mut self, id: i64) -> Result<Report, Error> {
        self.0
            .query_row(
                &format!("SELECT {COLUMNS} FROM feedback WHERE id = ?1"),
                [id],
                report_from_row,
            )
            .optional()?
            .ok_or(Error::NotFound { id })
    }

    fn list(&mut self, filter: &Filter, page: Page) -> Result<Listing, Error> {
        let (count, select, values) = listing_sql(filter, page, '?');
        let values: Vec<Value> = values.into_iter().map(value).collect();
        let tx = self.0.transaction()?;
        let n_total: i64 = tx.query_row(
            &count,
            rusqlite::params_from_iter(&values[..values.len() - 2]),
            |row| row.get(0),
        )?;
        let mut statement = tx.prepare(&select)?;
        let reports = statement
            .query_map(rusqlite::params_from_iter(&values), report_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Listing {
            n_total: n_total as u64,
            reports,
        })
    }

    fn facility_counts(&mut self, facility_id: u64) -> Result<Vec<(String, u64)>, Error> {
        let mut statement = self.0.prepare(
            "SELECT status, COUNT(*) FROM feedback WHERE facility_id = ?1 GROUP BY status",
        )?;
        let rows = statement
            .query_map([facility_id as i64], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn groups(&mut self) -> Result<Groups, Error> {
        let tx = self.0.transaction()?;
        let grouped = |sql: &str| -> Result<Vec<(Value, u64)>, Error> {
            let mut statement = tx.prepare(sql)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((row.get::<_, Value>(0)?, row.get::<_, i64>(1)?))
                })?
                .map(|r| r.map(|(key, n)| (key, n as u64)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        };
        let texts = |sql: &str| -> Result<Vec<(String, u64)>, Error> {
            grouped(sql)?
                .into_iter()
                .map(|(key, n)| match key {
                    Value::Text(text) => Ok((text, n)),
                    other => Err(super::corrupt("of a grouping", &format!("{other:?}"))),
                })
                .collect()
        };
        let open_by_facility = grouped(GROUP_OPEN_BY_FACILITY)?
            .into_iter()
            .map(|(key, n)| match key {
                Value::Integer(facility) => Ok((facility, n)),
                _ => Err(super::corrupt("facility_id", "not an integer")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Groups {
            by_status: texts(GROUP_BY_STATUS)?,
            open_by_kind: texts(GROUP_OPEN_BY_KIND)?,
            open_by_category: texts(GROUP_OPEN_BY_CATEGORY)?,
            open_by_facility,
        })
    }
}

fn value(value: SqlValue) -> Value {
    match value {
        SqlValue::Text(text) => Value::Text(text),
        SqlValue::Integer(n) => Value::Integer(n),
        SqlValue::Real(x) => Value::Real(x),
    }
}

fn report_from_row(row: &Row<'_>) -> rusqlite::Result<Report> {
    RawReport {
        id: row.get("id")?,
        created_at_ms: row.get("created_at_ms")?,
        updated_at_ms: row.get("updated_at_ms")?,
        status: row.get("status")?,
        note: row.get("note")?,
        kind: row.get("kind")?,
        facility_id: row.get("facility_id")?,
        facility_name: row.get("facility_name")?,
        category: row.get("category")?,
        facility_lon: row.get("facility_lon")?,
        facility_lat: row.get("facility_lat")?,
        lon: row.get("lon")?,
        lat: row.get("lat")?,
        message: row.get("message")?,
        contact: row.get("contact")?,
        client_id: row.get("client_id")?,
        data_version: row.get("data_version")?,
    }
    .into_report()
    .map_err(|(column, value)| {
        let idx = row.as_ref().column_index(column).unwrap_or(0);
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unexpected value `{value}` in column {column}").into(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feedback::store::Store;
    use crate::feedback::store::tests::ROWS_THE_SCHEMA_REFUSES;

    #[test]
    fn schema_is_versioned_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.sqlite");
        drop(Store::open(&path, StoreOptions::default()).unwrap());
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!((version, mode.as_str()), (MIGRATIONS.len() as i64, "wal"));
        // Opening again migrates nothing and keeps the file usable.
        drop(Store::open(&path, StoreOptions::default()).unwrap());

        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            Store::open(&path, StoreOptions::default()),
            Err(Error::SchemaTooNew { found: 99, .. })
        ));

        let other = dir.path().join("other.sqlite");
        Connection::open(&other)
            .unwrap()
            .pragma_update(None, "application_id", 7)
            .unwrap();
        assert!(matches!(
            Store::open(&other, StoreOptions::default()),
            Err(Error::NotFeedbackDatabase { found: 7, .. })
        ));

        let garbage = dir.path().join("garbage.sqlite");
        std::fs::write(&garbage, vec![0xA5; 8192]).unwrap();
        let err = Store::open(&garbage, StoreOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("garbage.sqlite"), "{err}");

        let missing_dir = dir.path().join("no/such/dir/feedback.sqlite");
        assert!(matches!(
            Store::open(&missing_dir, StoreOptions::default()),
            Err(Error::Open { .. })
        ));
    }

    #[test]
    fn commits_are_synced_as_configured() {
        let dir = tempfile::tempdir().unwrap();
        for (setting, expected) in [
            (Synchronous::Full, 2),
            (Synchronous::Extra, 3),
            (Synchronous::Normal, 1),
        ] {
            let conn = Connection::open(dir.path().join("s.sqlite")).unwrap();
            configure(
                &conn,
                dir.path(),
                StoreOptions {
                    synchronous: setting,
                },
            )
            .unwrap();
            let got: i64 = conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap();
            assert_eq!(got, expected, "{setting:?}");
        }
        assert_eq!(StoreOptions::default().synchronous, Synchronous::Full);
    }

    #[test]
    fn the_schema_rejects_what_validation_would() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedback.sqlite");
        drop(Store::open(&path, StoreOptions::default()).unwrap());
        let conn = Connection::open(&path).unwrap();
        // SQLite takes any type in any column unless the schema checks it.
        let text_time = "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version) VALUES ('x', 0, 'other', 'm', 1)";
        for sql in ROWS_THE_SCHEMA_REFUSES.iter().chain([&text_time]) {
            assert!(conn.execute(sql, []).is_err(), "{sql}");
        }
    }
}
