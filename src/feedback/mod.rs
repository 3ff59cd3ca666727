//! Feedback: residents' reports about the map's data, from submission to triage.
//!
//! Takes a [`Submission`] (what a client sent, already typed), validates it against the current
//! dataset into a [`NewReport`] ([`Submission::validate`]), and keeps it in an embedded SQLite
//! database or a PostgreSQL database shared by several processes ([`Store`]), which answers only
//! once the report is durably committed. Gives the data
//! office stored [`Report`]s back: filtered and paged listings, per-facility counts of open
//! reports, [`Stats`], and status changes ([`Patch`]).
//!
//! Only this module touches SQLite (for writing) and PostgreSQL. It knows nothing about HTTP: `http::feedback` and
//! `http::admin` turn wire formats into these types and [`Error`]s into status codes. The store
//! outlives data reloads: a report keeps the facility's name, category and position as they
//! were when it was made.

mod rate_limit;
mod store;
mod validate;

pub use rate_limit::RateLimiter;
pub use store::{Inserted, Store, StoreOptions};
pub use validate::{FilterText, Limits};

use std::path::PathBuf;

/// What a report says is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// The facility has closed.
    Closed,
    /// The facility is somewhere else.
    WrongLocation,
    /// Name, category, address or other details are wrong.
    WrongInfo,
    /// A facility that exists is not on the map.
    MissingFacility,
    Suggestion,
    Other,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Closed,
        Kind::WrongLocation,
        Kind::WrongInfo,
        Kind::MissingFacility,
        Kind::Suggestion,
        Kind::Other,
    ];

    /// What a form about a facility offers, in the order the page shows them.
    pub const ABOUT_A_FACILITY: [Kind; 5] = [
        Kind::WrongInfo,
        Kind::WrongLocation,
        Kind::Closed,
        Kind::Suggestion,
        Kind::Other,
    ];

    /// What a form about a place on the map (no facility) offers, in the order shown.
    pub const ABOUT_A_PLACE: [Kind; 3] = [Kind::MissingFacility, Kind::Suggestion, Kind::Other];

    /// The identifier clients send and the store keeps.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Closed => "closed",
            Kind::WrongLocation => "wrong_location",
            Kind::WrongInfo => "wrong_info",
            Kind::MissingFacility => "missing_facility",
            Kind::Suggestion => "suggestion",
            Kind::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Does a report of this kind have to name a facility?
    fn needs_facility(self) -> bool {
        matches!(self, Kind::Closed | Kind::WrongLocation | Kind::WrongInfo)
    }
}

/// Where a report is in triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Open,
    InProgress,
    Resolved,
    Rejected,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Open,
        Status::InProgress,
        Status::Resolved,
        Status::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::Resolved => "resolved",
            Status::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A report as a client sent it, typed but not yet checked.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub facility_id: Option<u64>,
    /// `(lon, lat)`, WGS84.
    pub location: Option<(f64, f64)>,
    pub kind: String,
    pub message: String,
    pub contact: Option<String>,
    /// The client's own id for this report: sending it again returns the stored report's id
    /// instead of storing a second copy.
    pub client_id: Option<String>,
}

/// The facility a report is about, as it was in the data when the report was made.
#[derive(Debug, Clone, PartialEq)]
pub struct FacilityRef {
    pub id: u64,
    pub name: String,
    /// Category id (taxonomy), e.g. `market`.
    pub category: String,
    pub lon: f64,
    pub lat: f64,
}

/// A validated report, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReport {
    pub kind: Kind,
    pub facility: Option<FacilityRef>,
    pub location: Option<(f64, f64)>,
    /// Trimmed, non-empty, within the length limit.
    pub message: String,
    pub contact: Option<String>,
    pub client_id: Option<String>,
    /// Version of the data snapshot the report was checked against.
    pub data_version: u64,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub status: Status,
    /// Triage note of the data office; empty when none.
    pub note: String,
    pub kind: Kind,
    pub facility: Option<FacilityRef>,
    pub location: Option<(f64, f64)>,
    pub message: String,
    pub contact: Option<String>,
    pub client_id: Option<String>,
    pub data_version: u64,
}

impl Report {
    /// Where the report points on the map: the location sent, else the facility's position.
    pub fn point(&self) -> Option<(f64, f64)> {
        self.location
            .or_else(|| self.facility.as_ref().map(|f| (f.lon, f.lat)))
    }
}

/// A triage change: at least one of the two is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub status: Option<Status>,
    /// Replaces the note; empty clears it.
    pub note: Option<String>,
}

/// Which reports a listing returns; every set condition must hold (an empty list means any).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub statuses: Vec<Status>,
    pub kinds: Vec<Kind>,
    pub facility_id: Option<u64>,
    pub categories: Vec<String>,
    /// Created at or after, unix milliseconds.
    pub since_ms: Option<i64>,
    /// Created before, unix milliseconds.
    pub until_ms: Option<i64>,
    /// `[west, south, east, north]` around [`Report::point`]; reports without a point never match.
    pub bbox: Option<[f64; 4]>,
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Page {
    pub limit: u32,
    pub offset: u64,
}

impl Page {
    pub const DEFAULT_LIMIT: u32 = 100;
    pub const MAX_LIMIT: u32 = 10_000;
}

impl Default for Page {
    fn default() -> Page {
        Page {
            limit: Page::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// A page of reports and how many match in all.
#[derive(Debug, Clone)]
pub struct Listing {
    pub n_total: u64,
    pub reports: Vec<Report>,
}

/// Counts for the data office.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub n_total: u64,
    /// Every status, zero included.
    pub by_status: Vec<(Status, u64)>,
    /// Open reports by kind (kinds with none left out).
    pub open_by_kind: Vec<(Kind, u64)>,
    /// Open reports by category at report time (reports without a facility left out).
    pub open_by_category: Vec<(String, u64)>,
    /// Open reports per facility, most first.
    pub open_by_facility: Vec<(u64, u64)>,
}

/// Why a report could not be taken, stored or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of a submission, patch or filter is not acceptable.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(
        "client_id `{client_id}` was already used for a different report (id {existing_id}); use a new client_id for a new report"
    )]
    ClientIdConflict { client_id: String, existing_id: i64 },
    #[error("no feedback report with id {id}")]
    NotFound { id: i64 },
    #[error("the feedback store is shut down")]
    Closed,
    #[error("cannot open feedback database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "feedback database {path} has schema version {found}, newer than this program understands ({supported}); use a newer lifecircle"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "{path} is an SQLite database of another application (application_id {found:#x}); point feedback.path at a new file"
    )]
    NotFeedbackDatabase { path: PathBuf, found: i64 },
    #[error(
        "{path}: could not enable write-ahead logging (journal mode is `{mode}`); keep the database on a local file system"
    )]
    NoWal { path: PathBuf, mode: String },
    #[error("feedback database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "feedback.store is \"postgres\" but no database is named: set feedback.url or the environment variable LIFECIRCLE_FEEDBACK_URL (postgres://user:password@host:5432/dbname)"
    )]
    NoDatabaseUrl,
    #[error(
        "feedback.url (or LIFECIRCLE_FEEDBACK_URL) is not a PostgreSQL connection string: {reason}; write it as postgres://user:password@host:5432/dbname"
    )]
    DatabaseUrl { reason: String },
    #[error("cannot connect to the feedback database {target}: {source}")]
    Connect {
        target: String,
        source: postgres::Error,
    },
    #[error(
        "feedback database {target} has a table `feedback` that lifecircle did not create (no lifecircle_feedback_schema table); point feedback.url at a new database, or at another schema with options=-csearch_path=NAME"
    )]
    NotFeedbackSchema { target: String },
    #[error(
        "feedback database {target} has schema version {found}, newer than this program understands ({supported}); use a newer lifecircle"
    )]
    DatabaseSchemaTooNew {
        target: String,
        found: i64,
        supported: i64,
    },
    #[error("feedback database: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("feedback database: {0}")]
    Storage(String),
}

impl Error {
    fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
