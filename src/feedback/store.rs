//! The feedback store: [`NewReport`]s and [`Patch`]es in, [`Report`]s, listings and counts out,
//! kept in one SQLite database file.
//!
//! Durability: the database runs in WAL mode with `synchronous = FULL` by default, so a commit
//! returns only once the write-ahead log is synced; [`Store::insert`] answers only after the
//! commit of its report has returned. A report is one row written by one statement inside a
//! transaction, so after a crash it is there whole or not at all.
//!
//! Concurrency: one writer thread owns the write connection and takes commands from a bounded
//! channel. It commits everything queued at once in one transaction (group commit), so one sync
//! acknowledges many reports. Reads run on a second connection on tokio's blocking pool; in WAL
//! mode they never wait for the writer. Nothing here blocks the async executor.
//!
//! Schema: versioned by `PRAGMA user_version`; [`MIGRATIONS`] lists every version's SQL and
//! each runs once, in its own transaction. The file is marked with an `application_id`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use super::{
    Error, FacilityRef, Filter, Kind, Listing, NewReport, Page, Patch, Report, Stats, Status, time,
};
use crate::config::Synchronous;

/// Marks the file as a lifecircle feedback database ("LCFB").
const APPLICATION_ID: i64 = 0x4c43_4642;

/// Schema migrations; entry `n` brings the schema from version `n` to `n + 1`. Append only.
const MIGRATIONS: &[&str] = &[
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

/// Most commands committed in one transaction.
const MAX_BATCH: usize = 256;

/// Commands waiting for the writer before senders have to wait.
const QUEUE_LEN: usize = 4096;

const COLUMNS: &str = "id, created_at_ms, updated_at_ms, status, note, kind, facility_id, \
     facility_name, category, facility_lon, facility_lat, lon, lat, message, contact, client_id, \
     data_version";

/// How the store is opened.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    pub synchronous: Synchronous,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            synchronous: Synchronous::Full,
        }
    }
}

/// What [`Store::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    pub id: i64,
    /// False when a report with the same `client_id` and content was already stored; `id` is
    /// then that report's id.
    pub created: bool,
}

/// Handle to the feedback database. Dropping it lets the writer finish what is queued, then
/// waits for it.
pub struct Store {
    path: PathBuf,
    commands: Option<mpsc::Sender<Command>>,
    reader: Arc<Mutex<Connection>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

enum Command {
    Insert {
        report: NewReport,
        reply: oneshot::Sender<Result<Inserted, Error>>,
    },
    Update {
        id: i64,
        patch: Patch,
        reply: oneshot::Sender<Result<Report, Error>>,
    },
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`, then starts the writer
    /// thread. Blocking.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, Error> {
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
        let reader = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(open_error)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .and_then(|()| reader.pragma_update(None, "query_only", true))
            .map_err(open_error)?;
        let (commands, queue) = mpsc::channel(QUEUE_LEN);
        let writer = std::thread::Builder::new()
            .name("feedback-writer".into())
            .spawn(move || run_writer(writer, queue))
            .map_err(|e| Error::Storage(format!("cannot start the writer thread: {e}")))?;
        tracing::info!(path = %path.display(), synchronous = ?options.synchronous, "feedback store open");
        Ok(Store {
            path: path.to_owned(),
            commands: Some(commands),
            reader: Arc::new(Mutex::new(reader)),
            writer: Some(writer),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `report` and answers once it is committed to disk. With a `client_id` already
    /// stored, answers that report's id if the content is the same, and
    /// [`Error::ClientIdConflict`] otherwise.
    pub async fn insert(&self, report: NewReport) -> Result<Inserted, Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Insert { report, reply }).await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    /// Applies a triage change and returns the report as it now is.
    pub async fn update(&self, id: i64, patch: Patch) -> Result<Report, Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Update { id, patch, reply }).await?;
        answer.await.map_err(|_| Error::Closed)?
    }

    pub async fn get(&self, id: i64) -> Result<Report, Error> {
        self.read(move |conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM feedback WHERE id = ?1"),
                [id],
                report_from_row,
            )
            .optional()?
            .ok_or(Error::NotFound { id })
        })
        .await
    }

    /// The reports matching `filter`, newest first, one page of them, and how many match.
    pub async fn list(&self, filter: Filter, page: Page) -> Result<Listing, Error> {
        self.read(move |conn| {
            let (conditions, mut values) = where_clause(&filter);
            let tx = conn.transaction()?;
            let n_total: i64 = tx.query_row(
                &format!("SELECT COUNT(*) FROM feedback {conditions}"),
                rusqlite::params_from_iter(&values),
                |row| row.get(0),
            )?;
            values.push(Value::Integer(i64::from(page.limit)));
            values.push(Value::Integer(page.offset as i64));
            let n = values.len();
            let mut statement = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM feedback {conditions} ORDER BY id DESC LIMIT ?{} OFFSET ?{n}",
                n - 1
            ))?;
            let reports = statement
                .query_map(rusqlite::params_from_iter(&values), report_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Listing {
                n_total: n_total as u64,
                reports,
            })
        })
        .await
    }

    /// Number of reports of each status about facility `facility_id` (every status listed).
    pub async fn facility_counts(&self, facility_id: u64) -> Result<Vec<(Status, u64)>, Error> {
        self.read(move |conn| {
            let mut statement = conn.prepare(
                "SELECT status, COUNT(*) FROM feedback WHERE facility_id = ?1 GROUP BY status",
            )?;
            let rows = statement
                .query_map([facility_id as i64], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Status::ALL
                .iter()
                .map(|&status| {
                    let n = rows
                        .iter()
                        .find(|(s, _)| s == status.as_str())
                        .map_or(0, |&(_, n)| n as u64);
                    (status, n)
                })
                .collect())
        })
        .await
    }

    /// Open reports about `facility_id`.
    pub async fn open_count(&self, facility_id: u64) -> Result<u64, Error> {
        let counts = self.facility_counts(facility_id).await?;
        Ok(counts
            .iter()
            .find(|(status, _)| *status == Status::Open)
            .map_or(0, |&(_, n)| n))
    }

    pub async fn stats(&self) -> Result<Stats, Error> {
        self.read(|conn| {
            let tx = conn.transaction()?;
            let grouped = |sql: &str| -> Result<Vec<(Value, u64)>, Error> {
                let mut statement = tx.prepare(sql)?;
                let rows = statement
                    .query_map([], |row| Ok((row.get::<_, Value>(0)?, row.get::<_, i64>(1)?)))?
                    .map(|r| r.map(|(key, n)| (key, n as u64)))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            };
            let text = |value: Value| match value {
                Value::Text(text) => Ok(text),
                other => Err(corrupt("of a grouping", &format!("{other:?}"))),
            };
            let by_status = grouped("SELECT status, COUNT(*) FROM feedback GROUP BY status")?;
            let mut stats = Stats {
                n_total: by_status.iter().map(|(_, n)| n).sum(),
                ..Stats::default()
            };
            for status in Status::ALL {
                let n = by_status
                    .iter()
                    .find(|(s, _)| matches!(s, Value::Text(t) if t == status.as_str()))
                    .map_or(0, |(_, n)| *n);
                stats.by_status.push((status, n));
            }
            for (kind, n) in grouped(
                "SELECT kind, COUNT(*) FROM feedback WHERE status = 'open' GROUP BY kind ORDER BY kind",
            )? {
                let kind = text(kind)?;
                let kind = Kind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?;
                stats.open_by_kind.push((kind, n));
            }
            stats.open_by_kind.sort();
            for (category, n) in grouped(
                "SELECT category, COUNT(*) FROM feedback WHERE status = 'open' AND category IS NOT NULL
                 GROUP BY category ORDER BY category",
            )? {
                stats.open_by_category.push((text(category)?, n));
            }
            for (facility, n) in grouped(
                "SELECT facility_id, COUNT(*) AS n FROM feedback
                 WHERE status = 'open' AND facility_id IS NOT NULL
                 GROUP BY facility_id ORDER BY n DESC, facility_id",
            )? {
                let Value::Integer(facility) = facility else {
                    return Err(corrupt("facility_id", "not an integer"));
                };
                stats.open_by_facility.push((facility as u64, n));
            }
            Ok(stats)
        })
        .await
    }

    async fn send(&self, command: Command) -> Result<(), Error> {
        let commands = self.commands.as_ref().ok_or(Error::Closed)?;
        commands.send(command).await.map_err(|_| Error::Closed)
    }

    /// Runs `query` on the read connection, on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            query(&mut conn)
        })
        .await
        .map_err(|_| Error::Closed)?
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.commands = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
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

/// Brings the schema to the newest version, one migration per transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), Error> {
    let application_id: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if application_id != APPLICATION_ID && (application_id != 0 || version != 0) {
        return Err(Error::NotFeedbackDatabase {
            path: path.to_owned(),
            found: application_id,
        });
    }
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(Error::SchemaTooNew {
            path: path.to_owned(),
            found: version,
            supported,
        });
    }
    for (idx, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.pragma_update(None, "user_version", idx as i64 + 1)?;
        tx.commit()?;
        tracing::info!(path = %path.display(), version = idx + 1, "feedback schema migrated");
    }
    Ok(())
}

/// The writer thread: takes every queued command, applies them in one transaction, commits,
/// then answers each.
fn run_writer(mut conn: Connection, mut queue: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        write_batch(&mut conn, &mut batch);
    }
}

/// An answer computed inside a transaction, sent only once the transaction is committed.
enum Pending {
    Insert(
        oneshot::Sender<Result<Inserted, Error>>,
        Result<Inserted, Error>,
    ),
    Update(
        oneshot::Sender<Result<Report, Error>>,
        Result<Report, Error>,
    ),
}

impl Pending {
    fn answer(self) {
        match self {
            Pending::Insert(reply, result) => {
                let _ = reply.send(result);
            }
            Pending::Update(reply, result) => {
                let _ = reply.send(result);
            }
        }
    }

    /// Answers with `message` as a storage failure instead of what was computed.
    fn fail(self, message: &str) {
        let error = || Error::Storage(message.to_owned());
        match self {
            Pending::Insert(reply, _) => {
                let _ = reply.send(Err(error()));
            }
            Pending::Update(reply, _) => {
                let _ = reply.send(Err(error()));
            }
        }
    }
}

impl Command {
    fn unanswered(self) -> Pending {
        match self {
            Command::Insert { reply, .. } => Pending::Insert(reply, Err(Error::Closed)),
            Command::Update { reply, .. } => Pending::Update(reply, Err(Error::Closed)),
        }
    }
}

fn write_batch(conn: &mut Connection, batch: &mut Vec<Command>) {
    let n_commands = batch.len();
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, n_commands, "feedback store cannot start a transaction");
            let message = format!("cannot start a transaction: {e}");
            batch.drain(..).for_each(|c| c.unanswered().fail(&message));
            return;
        }
    };
    let now_ms = time::now_ms();
    let mut pending = Vec::with_capacity(n_commands);
    for command in batch.drain(..) {
        // Some errors (disk full, I/O) make SQLite roll the whole transaction back; what was
        // written before is then gone, and nothing more may be written outside a transaction.
        if tx.is_autocommit() {
            pending.push(command.unanswered());
            continue;
        }
        pending.push(match command {
            Command::Insert { report, reply } => {
                Pending::Insert(reply, insert(&tx, &report, now_ms))
            }
            Command::Update { id, patch, reply } => {
                Pending::Update(reply, update(&tx, id, &patch, now_ms))
            }
        });
    }
    let outcome = if tx.is_autocommit() {
        Err("the transaction was rolled back by an error".to_owned())
    } else {
        tx.commit().map_err(|e| e.to_string())
    };
    match outcome {
        Ok(()) => pending.into_iter().for_each(Pending::answer),
        Err(message) => {
            tracing::error!(error = %message, n_commands, "feedback store commit failed");
            let message = format!("commit failed: {message}");
            pending.into_iter().for_each(|p| p.fail(&message));
        }
    }
}

fn insert(conn: &Connection, report: &NewReport, now_ms: i64) -> Result<Inserted, Error> {
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
    let client_id = report.client_id.clone().unwrap_or_default();
    let existing = conn.query_row(
        &format!("SELECT {COLUMNS} FROM feedback WHERE client_id = ?1"),
        [&client_id],
        report_from_row,
    )?;
    let same = existing.kind == report.kind
        && existing.facility.as_ref().map(|f| f.id) == facility.map(|f| f.id)
        && existing.location == report.location
        && existing.message == report.message
        && existing.contact == report.contact;
    if same {
        Ok(Inserted {
            id: existing.id,
            created: false,
        })
    } else {
        Err(Error::ClientIdConflict {
            client_id,
            existing_id: existing.id,
        })
    }
}

fn update(conn: &Connection, id: i64, patch: &Patch, now_ms: i64) -> Result<Report, Error> {
    conn.prepare_cached(&format!(
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

/// `WHERE …` for `filter` and its parameters, numbered from 1. Values are always parameters.
fn where_clause(filter: &Filter) -> (String, Vec<Value>) {
    let mut params = Params::default();
    let mut conditions: Vec<String> = Vec::new();
    let text = |items: &mut dyn Iterator<Item = &str>| -> Vec<Value> {
        items.map(|s| Value::Text(s.to_owned())).collect()
    };
    if !filter.statuses.is_empty() {
        let list = params.list(text(&mut filter.statuses.iter().map(|s| s.as_str())));
        conditions.push(format!("status IN ({list})"));
    }
    if !filter.kinds.is_empty() {
        let list = params.list(text(&mut filter.kinds.iter().map(|k| k.as_str())));
        conditions.push(format!("kind IN ({list})"));
    }
    if let Some(facility_id) = filter.facility_id {
        let p = params.add(Value::Integer(facility_id as i64));
        conditions.push(format!("facility_id = {p}"));
    }
    if !filter.categories.is_empty() {
        let list = params.list(text(&mut filter.categories.iter().map(String::as_str)));
        conditions.push(format!("category IN ({list})"));
    }
    if let Some(since) = filter.since_ms {
        let p = params.add(Value::Integer(since));
        conditions.push(format!("created_at_ms >= {p}"));
    }
    if let Some(until) = filter.until_ms {
        let p = params.add(Value::Integer(until));
        conditions.push(format!("created_at_ms < {p}"));
    }
    if let Some([west, south, east, north]) = filter.bbox {
        let [w, s, e, n] = [west, south, east, north].map(|v| params.add(Value::Real(v)));
        conditions.push(format!(
            "COALESCE(lon, facility_lon) BETWEEN {w} AND {e} AND COALESCE(lat, facility_lat) BETWEEN {s} AND {n}"
        ));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (clause, params.0)
}

/// Statement parameters, collected in order.
#[derive(Default)]
struct Params(Vec<Value>);

impl Params {
    /// Adds `value` and returns its placeholder (`?N`).
    fn add(&mut self, value: Value) -> String {
        self.0.push(value);
        format!("?{}", self.0.len())
    }

    /// Adds `values` and returns their placeholders, comma-separated.
    fn list(&mut self, values: Vec<Value>) -> String {
        values
            .into_iter()
            .map(|v| self.add(v))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn corrupt(column: &str, value: &str) -> Error {
    Error::Storage(format!("unexpected value `{value}` in column {column}"))
}

fn report_from_row(row: &Row<'_>) -> rusqlite::Result<Report> {
    let bad_value = |idx: usize, value: String| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unexpected value `{value}`").into(),
        )
    };
    let status: String = row.get("status")?;
    let kind: String = row.get("kind")?;
    let facility_id: Option<i64> = row.get("facility_id")?;
    let facility = match facility_id {
        None => None,
        Some(id) => Some(FacilityRef {
            id: id as u64,
            name: row.get("facility_name")?,
            category: row.get("category")?,
            lon: row.get("facility_lon")?,
            lat: row.get("facility_lat")?,
        }),
    };
    let lon: Option<f64> = row.get("lon")?;
    let lat: Option<f64> = row.get("lat")?;
    Ok(Report {
        id: row.get("id")?,
        created_at_ms: row.get("created_at_ms")?,
        updated_at_ms: row.get("updated_at_ms")?,
        status: Status::parse(&status).ok_or_else(|| bad_value(3, status))?,
        note: row.get("note")?,
        kind: Kind::parse(&kind).ok_or_else(|| bad_value(5, kind))?,
        facility,
        location: lon.zip(lat),
        message: row.get("message")?,
        contact: row.get("contact")?,
        client_id: row.get("client_id")?,
        data_version: row.get::<_, i64>("data_version")? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(kind: Kind, facility_id: Option<u64>, message: &str) -> NewReport {
        NewReport {
            kind,
            facility: facility_id.map(|id| FacilityRef {
                id,
                name: format!("设施 {id}"),
                category: if id % 2 == 0 { "market" } else { "medical" }.into(),
                lon: 121.40 + id as f64 * 0.001,
                lat: 31.20,
            }),
            location: None,
            message: message.into(),
            contact: None,
            client_id: None,
            data_version: 1,
        }
    }

    fn open(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("feedback.sqlite"), StoreOptions::default()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reports_round_trip_verbatim_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let tricky = "Robert'); DROP TABLE feedback;-- %' OR '1'='1 \"引号\" 🙂\nline two";
        let sent = NewReport {
            location: Some((121.4, 31.2)),
            contact: Some("微信 abc".into()),
            client_id: Some("c-1".into()),
            data_version: u64::MAX,
            ..report(Kind::WrongLocation, Some(u64::MAX - 1), tricky)
        };
        let id = {
            let store = open(&dir);
            let inserted = store.insert(sent.clone()).await.unwrap();
            assert!(inserted.created);
            inserted.id
        };
        let store = open(&dir);
        let stored = store.get(id).await.unwrap();
        assert_eq!(stored.message, tricky);
        assert_eq!(stored.facility, sent.facility);
        assert_eq!(stored.location, sent.location);
        assert_eq!(stored.contact, sent.contact);
        assert_eq!(stored.data_version, u64::MAX);
        assert_eq!((stored.status, stored.note.as_str()), (Status::Open, ""));
        assert_eq!(stored.created_at_ms, stored.updated_at_ms);
        assert!(matches!(
            store.get(id + 1).await,
            Err(Error::NotFound { .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_id_is_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let sent = NewReport {
            client_id: Some("retry-me".into()),
            ..report(Kind::Closed, Some(4), "关门了")
        };
        let first = store.insert(sent.clone()).await.unwrap();
        let again = store.insert(sent.clone()).await.unwrap();
        assert_eq!(
            again,
            Inserted {
                id: first.id,
                created: false
            }
        );
        let different = NewReport {
            message: "其实没关".into(),
            ..sent
        };
        assert!(matches!(
            store.insert(different).await,
            Err(Error::ClientIdConflict { existing_id, .. }) if existing_id == first.id
        ));
        let listing = store
            .list(Filter::default(), Page::default())
            .await
            .unwrap();
        assert_eq!(listing.n_total, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reports_all_get_distinct_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(&dir));
        let tasks: Vec<_> = (0..400)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let sent = NewReport {
                        client_id: Some(format!("c{n}")),
                        ..report(Kind::Other, None, &format!("report {n}"))
                    };
                    (n, store.insert(sent).await.unwrap().id)
                })
            })
            .collect();
        let mut ids = std::collections::HashSet::new();
        for task in tasks {
            let (n, id) = task.await.unwrap();
            assert!(ids.insert(id));
            assert_eq!(store.get(id).await.unwrap().message, format!("report {n}"));
        }
        assert_eq!(store.stats().await.unwrap().n_total, 400);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn triage_changes_status_and_note() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let id = store
            .insert(report(Kind::WrongInfo, Some(3), "名字错了"))
            .await
            .unwrap()
            .id;
        let patch = |status, note: Option<&str>| Patch {
            status,
            note: note.map(Into::into),
        };
        let updated = store
            .update(id, patch(Some(Status::InProgress), Some("核实中")))
            .await
            .unwrap();
        assert_eq!(
            (updated.status, updated.note.as_str()),
            (Status::InProgress, "核实中")
        );
        let updated = store
            .update(id, patch(Some(Status::Resolved), None))
            .await
            .unwrap();
        assert_eq!(
            (updated.status, updated.note.as_str()),
            (Status::Resolved, "核实中")
        );
        assert!(updated.updated_at_ms >= updated.created_at_ms);
        let updated = store.update(id, patch(None, Some(""))).await.unwrap();
        assert_eq!(
            (updated.status, updated.note.as_str()),
            (Status::Resolved, "")
        );
        assert!(matches!(
            store
                .update(id + 100, patch(Some(Status::Open), None))
                .await,
            Err(Error::NotFound { .. })
        ));
    }

    /// Lists with `filter` and checks the messages returned, newest first.
    async fn check_list(store: &Store, filter: Filter, expected: &[&str]) {
        let listing = store
            .list(
                filter.clone(),
                Page {
                    limit: 100,
                    offset: 0,
                },
            )
            .await
            .unwrap();
        let messages: Vec<&str> = listing.reports.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(messages, expected, "{filter:?}");
        assert_eq!(listing.n_total, expected.len() as u64);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn listings_filter_and_page() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let a = store
            .insert(report(Kind::Closed, Some(2), "a"))
            .await
            .unwrap()
            .id;
        store
            .insert(report(Kind::WrongInfo, Some(3), "b"))
            .await
            .unwrap();
        store
            .insert(NewReport {
                location: Some((121.5, 31.3)),
                ..report(Kind::MissingFacility, None, "c")
            })
            .await
            .unwrap();
        store
            .insert(report(Kind::Suggestion, None, "d"))
            .await
            .unwrap();
        store
            .update(
                a,
                Patch {
                    status: Some(Status::Rejected),
                    note: None,
                },
            )
            .await
            .unwrap();

        check_list(&store, Filter::default(), &["d", "c", "b", "a"]).await;
        let filter = |f: fn(&mut Filter)| {
            let mut filter = Filter::default();
            f(&mut filter);
            filter
        };
        check_list(
            &store,
            filter(|f| f.statuses = vec![Status::Open]),
            &["d", "c", "b"],
        )
        .await;
        check_list(
            &store,
            filter(|f| f.statuses = vec![Status::Rejected, Status::Resolved]),
            &["a"],
        )
        .await;
        check_list(
            &store,
            filter(|f| f.kinds = vec![Kind::MissingFacility, Kind::Closed]),
            &["c", "a"],
        )
        .await;
        check_list(&store, filter(|f| f.facility_id = Some(3)), &["b"]).await;
        check_list(
            &store,
            filter(|f| f.categories = vec!["market".into()]),
            &["a"],
        )
        .await;
        check_list(
            &store,
            filter(|f| f.bbox = Some([121.45, 31.25, 121.55, 31.35])),
            &["c"],
        )
        .await;
        check_list(
            &store,
            filter(|f| f.bbox = Some([121.4025, 31.1, 121.41, 31.2])),
            &["b"],
        )
        .await;
        check_list(&store, filter(|f| f.since_ms = Some(i64::MAX)), &[]).await;
        check_list(&store, filter(|f| f.until_ms = Some(0)), &[]).await;
        let all = store
            .list(Filter::default(), Page::default())
            .await
            .unwrap();
        let (first, last) = (all.reports[3].created_at_ms, all.reports[0].created_at_ms);
        let mut range = Filter {
            since_ms: Some(first),
            until_ms: Some(last + 1),
            ..Filter::default()
        };
        check_list(&store, range.clone(), &["d", "c", "b", "a"]).await;
        range.statuses = vec![Status::Open];
        range.kinds = vec![Kind::WrongInfo, Kind::Suggestion];
        check_list(&store, range, &["d", "b"]).await;

        let page = store
            .list(
                Filter::default(),
                Page {
                    limit: 2,
                    offset: 1,
                },
            )
            .await
            .unwrap();
        let messages: Vec<&str> = page.reports.iter().map(|r| r.message.as_str()).collect();
        assert_eq!((page.n_total, messages), (4, vec!["c", "b"]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn counts_for_the_data_office() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        for (kind, facility) in [
            (Kind::Closed, Some(2)),
            (Kind::WrongInfo, Some(2)),
            (Kind::WrongInfo, Some(3)),
            (Kind::Suggestion, None),
        ] {
            store.insert(report(kind, facility, "x")).await.unwrap();
        }
        let resolved = store
            .insert(report(Kind::Closed, Some(3), "y"))
            .await
            .unwrap()
            .id;
        store
            .update(
                resolved,
                Patch {
                    status: Some(Status::Resolved),
                    note: None,
                },
            )
            .await
            .unwrap();

        let stats = store.stats().await.unwrap();
        assert_eq!(stats.n_total, 5);
        assert_eq!(
            stats.by_status,
            vec![
                (Status::Open, 4),
                (Status::InProgress, 0),
                (Status::Resolved, 1),
                (Status::Rejected, 0)
            ]
        );
        assert_eq!(
            stats.open_by_kind,
            vec![
                (Kind::Closed, 1),
                (Kind::WrongInfo, 2),
                (Kind::Suggestion, 1)
            ]
        );
        assert_eq!(
            stats.open_by_category,
            vec![("market".into(), 2), ("medical".into(), 1)]
        );
        assert_eq!(stats.open_by_facility, vec![(2, 2), (3, 1)]);
        assert_eq!(store.open_count(3).await.unwrap(), 1);
        assert_eq!(store.open_count(99).await.unwrap(), 0);
        assert_eq!(
            store.facility_counts(3).await.unwrap(),
            vec![
                (Status::Open, 1),
                (Status::InProgress, 0),
                (Status::Resolved, 1),
                (Status::Rejected, 0)
            ]
        );
    }

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
        for sql in [
            "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version) VALUES (0, 0, 'bogus', 'm', 1)",
            "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version, status) VALUES (0, 0, 'other', 'm', 1, 'done')",
            "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version) VALUES (0, 0, 'other', '', 1)",
            "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version, lon) VALUES (0, 0, 'other', 'm', 1, 121.0)",
            "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version, facility_id) VALUES (0, 0, 'other', 'm', 1, 5)",
            "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version) VALUES ('x', 0, 'other', 'm', 1)",
        ] {
            assert!(conn.execute(sql, []).is_err(), "{sql}");
        }
    }
}
