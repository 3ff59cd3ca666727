//! The feedback store: [`NewReport`]s and [`Patch`]es in, [`Report`]s, listings and counts out,
//! kept in an embedded SQLite file (`store::sqlite`, the default) or in a PostgreSQL database
//! that several server processes share (`store::postgres`).
//!
//! Durability: [`Store::insert`] answers only after the commit of its report has returned (SQLite:
//! WAL with `synchronous = FULL` by default; PostgreSQL: `synchronous_commit` at least `on`). A
//! report is one row written by one statement inside a transaction, so after a crash it is there
//! whole or not at all. A `client_id` is unique in the table itself, so a retry is recognised
//! whichever process stored the first copy.
//!
//! Concurrency: one writer thread owns the write connection and takes commands from a bounded
//! channel. It commits everything queued at once in one transaction (group commit), so one sync
//! acknowledges many reports. Reads run on a second connection on tokio's blocking pool.
//! Nothing here blocks the async executor.
//!
//! Schema: versioned, with one list of migrations per database (`MIGRATIONS` in each backend,
//! the same versions in both); append only, each runs once, in its own transaction.

mod postgres;
mod sqlite;

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use super::{
    Error, FacilityRef, Filter, Kind, Listing, NewReport, Page, Patch, Report, Stats, Status,
};
use crate::config::{FeedbackConfig, FeedbackStoreKind, Synchronous};
use crate::time;

/// Most commands committed in one transaction.
const MAX_BATCH: usize = 256;

/// Commands waiting for the writer before senders have to wait.
const QUEUE_LEN: usize = 4096;

const COLUMNS: &str = "id, created_at_ms, updated_at_ms, status, note, kind, facility_id, \
     facility_name, category, facility_lon, facility_lat, lon, lat, message, contact, client_id, \
     data_version";

/// How an SQLite store is opened.
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
    /// The database, for messages: a file path, or a PostgreSQL target without its password.
    location: String,
    commands: Option<mpsc::Sender<Command>>,
    reader: Arc<Mutex<Box<dyn Reads>>>,
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

/// The write side of one database, used by the writer thread only. A batch is
/// `begin`, commands, `commit`; a failed command leaves the transaction usable unless
/// `in_transaction` says it was lost.
trait Writes: Send + 'static {
    fn begin(&mut self) -> Result<(), Error>;
    /// Stores `report`, or finds the stored report with its `client_id`.
    fn insert(&mut self, report: &NewReport, now_ms: i64) -> Result<Inserted, Error>;
    fn update(&mut self, id: i64, patch: &Patch, now_ms: i64) -> Result<Report, Error>;
    /// False once an error has rolled the open transaction back.
    fn in_transaction(&mut self) -> bool;
    fn commit(&mut self) -> Result<(), Error>;
    /// Ends whatever is left of the transaction after a failure.
    fn rollback(&mut self);
}

/// The read side of one database; runs on the blocking pool.
trait Reads: Send {
    fn get(&mut self, id: i64) -> Result<Report, Error>;
    /// One page of the reports matching `filter`, newest first, and how many match.
    fn list(&mut self, filter: &Filter, page: Page) -> Result<Listing, Error>;
    /// `(status, n)` of the reports about `facility_id`, statuses without reports left out.
    fn facility_counts(&mut self, facility_id: u64) -> Result<Vec<(String, u64)>, Error>;
    /// The groupings [`Stats`] is made of, read in one transaction.
    fn groups(&mut self) -> Result<Groups, Error>;
}

/// Raw counts as the database groups them; [`Groups::into_stats`] checks and orders them.
#[derive(Debug, Default)]
struct Groups {
    by_status: Vec<(String, u64)>,
    open_by_kind: Vec<(String, u64)>,
    open_by_category: Vec<(String, u64)>,
    open_by_facility: Vec<(i64, u64)>,
}

/// The statements behind [`Groups`]; plain SQL both databases run as they are.
const GROUP_BY_STATUS: &str = "SELECT status, COUNT(*) FROM feedback GROUP BY status";
const GROUP_OPEN_BY_KIND: &str =
    "SELECT kind, COUNT(*) FROM feedback WHERE status = 'open' GROUP BY kind";
const GROUP_OPEN_BY_CATEGORY: &str = "SELECT category, COUNT(*) FROM feedback \
     WHERE status = 'open' AND category IS NOT NULL GROUP BY category";
const GROUP_OPEN_BY_FACILITY: &str = "SELECT facility_id, COUNT(*) FROM feedback \
     WHERE status = 'open' AND facility_id IS NOT NULL GROUP BY facility_id";

impl Store {
    /// Opens the store `config` chooses: the SQLite file at `config.path` (relative paths
    /// resolved by `resolve`), or the PostgreSQL database at `config.url`. Blocking.
    pub fn from_config(
        config: &FeedbackConfig,
        resolve: impl Fn(&Path) -> std::path::PathBuf,
    ) -> Result<Store, Error> {
        match config.store {
            FeedbackStoreKind::Sqlite => Store::open(
                &resolve(&config.path),
                StoreOptions {
                    synchronous: config.synchronous,
                },
            ),
            FeedbackStoreKind::Postgres => Store::open_postgres(config.url.expose()),
        }
    }

    /// Opens (creating if needed) and migrates the SQLite database at `path`, then starts the
    /// writer thread. Blocking.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store, Error> {
        let (writer, reader) = sqlite::open(path, options)?;
        tracing::info!(path = %path.display(), synchronous = ?options.synchronous, "feedback store open (SQLite)");
        Store::start(path.display().to_string(), writer, Box::new(reader))
    }

    /// Connects to the PostgreSQL database at `url` (a `postgres://` URL or a `key=value`
    /// connection string), creates or migrates the schema, then starts the writer thread.
    /// Blocking; safe to call from inside an async runtime.
    pub fn open_postgres(url: &str) -> Result<Store, Error> {
        let (target, writer, reader) = postgres::open(url)?;
        tracing::info!(database = %target, "feedback store open (PostgreSQL)");
        Store::start(target, writer, Box::new(reader))
    }

    fn start(
        location: String,
        writer: impl Writes,
        reader: Box<dyn Reads>,
    ) -> Result<Store, Error> {
        let (commands, queue) = mpsc::channel(QUEUE_LEN);
        let writer = std::thread::Builder::new()
            .name("feedback-writer".into())
            .spawn(move || run_writer(writer, queue))
            .map_err(|e| Error::Storage(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            location,
            commands: Some(commands),
            reader: Arc::new(Mutex::new(reader)),
            writer: Some(writer),
        })
    }

    /// The database, for messages: the SQLite file's path, or the PostgreSQL target (user,
    /// hosts, database; never the password).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Stores `report` and answers once it is committed. With a `client_id` already stored
    /// (by this process or another sharing the database), answers that report's id if the
    /// content is the same, and [`Error::ClientIdConflict`] otherwise.
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
        self.read(move |db| db.get(id)).await
    }

    /// The reports matching `filter`, newest first, one page of them, and how many match.
    pub async fn list(&self, filter: Filter, page: Page) -> Result<Listing, Error> {
        self.read(move |db| db.list(&filter, page)).await
    }

    /// Number of reports of each status about facility `facility_id` (every status listed).
    pub async fn facility_counts(&self, facility_id: u64) -> Result<Vec<(Status, u64)>, Error> {
        let rows = self.read(move |db| db.facility_counts(facility_id)).await?;
        Ok(Status::ALL
            .iter()
            .map(|&status| {
                let n = rows
                    .iter()
                    .find(|(s, _)| s == status.as_str())
                    .map_or(0, |&(_, n)| n);
                (status, n)
            })
            .collect())
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
        self.read(|db| db.groups()?.into_stats()).await
    }

    async fn send(&self, command: Command) -> Result<(), Error> {
        let commands = self.commands.as_ref().ok_or(Error::Closed)?;
        commands.send(command).await.map_err(|_| Error::Closed)
    }

    /// Runs `query` on the read connection, on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&mut dyn Reads) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let mut db = reader
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            query(db.as_mut())
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

impl Groups {
    fn into_stats(self) -> Result<Stats, Error> {
        let mut stats = Stats {
            n_total: self.by_status.iter().map(|(_, n)| n).sum(),
            ..Stats::default()
        };
        for status in Status::ALL {
            let n = self
                .by_status
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map_or(0, |(_, n)| *n);
            stats.by_status.push((status, n));
        }
        for (kind, n) in self.open_by_kind {
            let kind = Kind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?;
            stats.open_by_kind.push((kind, n));
        }
        stats.open_by_kind.sort();
        // Sorted here rather than in SQL: PostgreSQL orders text by the database's collation.
        stats.open_by_category = self.open_by_category;
        stats.open_by_category.sort();
        stats.open_by_facility = self
            .open_by_facility
            .into_iter()
            .map(|(facility, n)| (facility as u64, n))
            .collect();
        stats
            .open_by_facility
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(stats)
    }
}

/// The writer thread: takes every queued command, applies them in one transaction, commits,
/// then answers each.
fn run_writer(mut db: impl Writes, mut queue: mpsc::Receiver<Command>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        write_batch(&mut db, &mut batch);
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
    /// The order a batch writes commands in: reports by client_id (none first), then updates.
    fn insert_key(&self) -> (bool, Option<&str>) {
        match self {
            Command::Insert { report, .. } => (false, report.client_id.as_deref()),
            Command::Update { .. } => (true, None),
        }
    }

    fn unanswered(self) -> Pending {
        match self {
            Command::Insert { reply, .. } => Pending::Insert(reply, Err(Error::Closed)),
            Command::Update { reply, .. } => Pending::Update(reply, Err(Error::Closed)),
        }
    }
}

fn write_batch(db: &mut impl Writes, batch: &mut Vec<Command>) {
    let n_commands = batch.len();
    if let Err(e) = db.begin() {
        tracing::error!(error = %e, n_commands, "feedback store cannot start a transaction");
        let message = format!("cannot start a transaction: {e}");
        batch.drain(..).for_each(|c| c.unanswered().fail(&message));
        return;
    }
    // Reports go in in client_id order: two replicas whose batches hold the same client_ids
    // (a client retrying on another replica) then wait on each other's keys in one order, never
    // in a cycle, so PostgreSQL has no deadlock to break by failing one of them.
    batch.sort_by(|a, b| a.insert_key().cmp(&b.insert_key()));
    let now_ms = time::now_ms();
    let mut pending = Vec::with_capacity(n_commands);
    for command in batch.drain(..) {
        // Some errors (SQLite: disk full, I/O; PostgreSQL: a lost connection) roll the whole
        // transaction back; what was written before is then gone.
        if !db.in_transaction() {
            pending.push(command.unanswered());
            continue;
        }
        pending.push(match command {
            Command::Insert { report, reply } => Pending::Insert(reply, db.insert(&report, now_ms)),
            Command::Update { id, patch, reply } => {
                Pending::Update(reply, db.update(id, &patch, now_ms))
            }
        });
    }
    let outcome = if db.in_transaction() {
        db.commit().map_err(|e| e.to_string())
    } else {
        Err("the transaction was rolled back by an error".to_owned())
    };
    match outcome {
        Ok(()) => pending.into_iter().for_each(Pending::answer),
        Err(message) => {
            db.rollback();
            tracing::error!(error = %message, n_commands, "feedback store commit failed");
            let message = format!("commit failed: {message}");
            pending.into_iter().for_each(|p| p.fail(&message));
        }
    }
}

/// Is `existing` (stored under the same `client_id`) the report `sent` again?
fn same_content(existing: &Report, sent: &NewReport) -> bool {
    existing.kind == sent.kind
        && existing.facility.as_ref().map(|f| f.id) == sent.facility.as_ref().map(|f| f.id)
        && existing.location == sent.location
        && existing.message == sent.message
        && existing.contact == sent.contact
}

/// The answer to an insert that `ON CONFLICT (client_id) DO NOTHING` skipped: the stored report
/// under that client_id.
fn resend_of(existing: Report, sent: &NewReport) -> Result<Inserted, Error> {
    if same_content(&existing, sent) {
        Ok(Inserted {
            id: existing.id,
            created: false,
        })
    } else {
        Err(Error::ClientIdConflict {
            client_id: sent.client_id.clone().unwrap_or_default(),
            existing_id: existing.id,
        })
    }
}

/// A statement parameter of a listing, before it is bound by one database's driver.
#[derive(Debug, Clone, PartialEq)]
enum SqlValue {
    Text(String),
    Integer(i64),
    Real(f64),
}

/// `WHERE …` for `filter` and its parameters, numbered from 1 and written `{marker}N` (`?N` in
/// SQLite, `$N` in PostgreSQL). Values are always parameters.
fn where_clause(filter: &Filter, marker: char) -> (String, Vec<SqlValue>) {
    let mut params = Params {
        marker,
        values: Vec::new(),
    };
    let mut conditions: Vec<String> = Vec::new();
    let text = |items: &mut dyn Iterator<Item = &str>| -> Vec<SqlValue> {
        items.map(|s| SqlValue::Text(s.to_owned())).collect()
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
        let p = params.add(SqlValue::Integer(facility_id as i64));
        conditions.push(format!("facility_id = {p}"));
    }
    if !filter.categories.is_empty() {
        let list = params.list(text(&mut filter.categories.iter().map(String::as_str)));
        conditions.push(format!("category IN ({list})"));
    }
    if let Some(since) = filter.since_ms {
        let p = params.add(SqlValue::Integer(since));
        conditions.push(format!("created_at_ms >= {p}"));
    }
    if let Some(until) = filter.until_ms {
        let p = params.add(SqlValue::Integer(until));
        conditions.push(format!("created_at_ms < {p}"));
    }
    if let Some([west, south, east, north]) = filter.bbox {
        let [w, s, e, n] = [west, south, east, north].map(|v| params.add(SqlValue::Real(v)));
        conditions.push(format!(
            "COALESCE(lon, facility_lon) BETWEEN {w} AND {e} AND COALESCE(lat, facility_lat) BETWEEN {s} AND {n}"
        ));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (clause, params.values)
}

/// The listing statements for `filter` and `page`: the count, the page (newest first), and
/// the page's parameters (the count takes all but the last two).
fn listing_sql(filter: &Filter, page: Page, marker: char) -> (String, String, Vec<SqlValue>) {
    let (conditions, mut values) = where_clause(filter, marker);
    let count = format!("SELECT COUNT(*) FROM feedback {conditions}");
    values.push(SqlValue::Integer(i64::from(page.limit)));
    values.push(SqlValue::Integer(page.offset as i64));
    let n = values.len();
    let select = format!(
        "SELECT {COLUMNS} FROM feedback {conditions} ORDER BY id DESC LIMIT {marker}{} OFFSET {marker}{n}",
        n - 1
    );
    (count, select, values)
}

/// Statement parameters, collected in order.
struct Params {
    marker: char,
    values: Vec<SqlValue>,
}

impl Params {
    /// Adds `value` and returns its placeholder.
    fn add(&mut self, value: SqlValue) -> String {
        self.values.push(value);
        format!("{}{}", self.marker, self.values.len())
    }

    /// Adds `values` and returns their placeholders, comma-separated.
    fn list(&mut self, values: Vec<SqlValue>) -> String {
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

/// One row's columns as either database gives them, before they are checked.
struct RawReport {
    id: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
    status: String,
    note: String,
    kind: String,
    facility_id: Option<i64>,
    facility_name: Option<String>,
    category: Option<String>,
    facility_lon: Option<f64>,
    facility_lat: Option<f64>,
    lon: Option<f64>,
    lat: Option<f64>,
    message: String,
    contact: Option<String>,
    client_id: Option<String>,
    data_version: i64,
}

impl RawReport {
    /// The report, or the name and value of the first column that is out of place.
    fn into_report(self) -> Result<Report, (&'static str, String)> {
        let facility = match self.facility_id {
            None => None,
            Some(id) => Some(FacilityRef {
                id: id as u64,
                name: self.facility_name.ok_or(("facility_name", "NULL".into()))?,
                category: self.category.ok_or(("category", "NULL".into()))?,
                lon: self.facility_lon.ok_or(("facility_lon", "NULL".into()))?,
                lat: self.facility_lat.ok_or(("facility_lat", "NULL".into()))?,
            }),
        };
        Ok(Report {
            id: self.id,
            created_at_ms: self.created_at_ms,
            updated_at_ms: self.updated_at_ms,
            status: Status::parse(&self.status).ok_or(("status", self.status.clone()))?,
            note: self.note,
            kind: Kind::parse(&self.kind).ok_or(("kind", self.kind.clone()))?,
            facility,
            location: self.lon.zip(self.lat),
            message: self.message,
            contact: self.contact,
            client_id: self.client_id,
            data_version: self.data_version as u64,
        })
    }
}

#[cfg(test)]
mod tests;
