//! The store's contract, checked on each database: SQLite always, PostgreSQL when a server is
//! named by `LIFECIRCLE_TEST_POSTGRES_URL` (`scripts/test.sh` starts a throwaway one). Without
//! it the PostgreSQL cases are reported as ignored; `--include-ignored` without it fails them.

use std::sync::Arc;

use super::*;

/// A database a test may open, and reopen, as a [`Store`].
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A new, empty database on the test server.
    fn postgres() -> Db {
        Db::Postgres(test_postgres::fresh_database())
    }

    fn open(&self) -> Store {
        match self {
            Db::Sqlite(dir) => {
                Store::open(&dir.path().join("feedback.sqlite"), StoreOptions::default()).unwrap()
            }
            Db::Postgres(url) => Store::open_postgres(url).unwrap(),
        }
    }
}

/// One test per database for a contract check `$name(db: Db)`.
macro_rules! on_each_database {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Db::sqlite()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs PostgreSQL: set LIFECIRCLE_TEST_POSTGRES_URL and pass --include-ignored (scripts/test.sh does)"]
            async fn postgres() {
                super::$name(super::Db::postgres()).await
            }
        }
    )*};
}

on_each_database!(
    reports_round_trip_verbatim_and_survive_reopening,
    a_client_id_is_stored_once,
    concurrent_reports_all_get_distinct_ids,
    triage_changes_status_and_note,
    listings_filter_and_page,
    counts_for_the_data_office,
    two_stores_on_one_database_store_a_client_id_once,
);

/// Two stores (as two server processes would) on one database, opened at the same moment,
/// each sent the same client_ids at once: each report is stored once, and both answer its id.
async fn two_stores_on_one_database_store_a_client_id_once(db: Db) {
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| db.open());
        let b = scope.spawn(|| db.open());
        (Arc::new(a.join().unwrap()), Arc::new(b.join().unwrap()))
    });
    let mut tasks = Vec::new();
    for n in 0..100 {
        for store in [a.clone(), b.clone()] {
            tasks.push(tokio::spawn(async move {
                let sent = NewReport {
                    client_id: Some(format!("shared-{n}")),
                    ..report(Kind::Other, None, &format!("report {n}"))
                };
                (n, store.insert(sent).await.unwrap())
            }));
        }
    }
    let mut answers: std::collections::HashMap<i32, Vec<Inserted>> = Default::default();
    for task in tasks {
        let (n, inserted) = task.await.unwrap();
        answers.entry(n).or_default().push(inserted);
    }
    for (n, answers) in &answers {
        assert_eq!(answers[0].id, answers[1].id, "report {n}: {answers:?}");
        let n_created = answers.iter().filter(|a| a.created).count();
        assert_eq!(n_created, 1, "report {n}: {answers:?}");
    }
    assert_eq!(a.stats().await.unwrap().n_total, 100);
    assert_eq!(
        b.list(Filter::default(), Page::default())
            .await
            .unwrap()
            .n_total,
        100
    );
}

/// Rows both schemas refuse, as validation would: an unknown kind or status, an empty message,
/// half a location, a facility id without the facility's name.
pub(super) const ROWS_THE_SCHEMA_REFUSES: [&str; 5] = [
    "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version) VALUES (0, 0, 'bogus', 'm', 1)",
    "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version, status) VALUES (0, 0, 'other', 'm', 1, 'done')",
    "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version) VALUES (0, 0, 'other', '', 1)",
    "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version, lon) VALUES (0, 0, 'other', 'm', 1, 121.0)",
    "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version, facility_id) VALUES (0, 0, 'other', 'm', 1, 5)",
];

#[test]
#[ignore = "needs PostgreSQL: set LIFECIRCLE_TEST_POSTGRES_URL and pass --include-ignored (scripts/test.sh does)"]
fn postgres_schema_is_versioned_and_foreign_tables_are_refused() {
    use ::postgres::{Client, NoTls};
    assert_eq!(
        postgres::MIGRATIONS.len(),
        sqlite::MIGRATIONS.len(),
        "every schema version exists for both databases"
    );
    let url = test_postgres::fresh_database();
    drop(Store::open_postgres(&url).unwrap());
    let mut client = Client::connect(&url, NoTls).unwrap();
    let version: i32 = client
        .query_one("SELECT version FROM lifecircle_feedback_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version as usize, postgres::MIGRATIONS.len());
    // Opening again migrates nothing and keeps the database usable.
    drop(Store::open_postgres(&url).unwrap());
    // The schema rejects what validation would.
    let duplicate_client_id = "INSERT INTO feedback (created_at_ms, updated_at_ms, kind, message, data_version, client_id) VALUES (0, 0, 'other', 'm', 1, 'a'), (0, 0, 'other', 'm', 1, 'a')";
    for sql in ROWS_THE_SCHEMA_REFUSES.iter().chain([&duplicate_client_id]) {
        assert!(client.batch_execute(sql).is_err(), "{sql}");
    }

    client
        .batch_execute("UPDATE lifecircle_feedback_schema SET version = 99")
        .unwrap();
    assert!(matches!(
        Store::open_postgres(&url),
        Err(Error::DatabaseSchemaTooNew { found: 99, .. })
    ));

    let other = test_postgres::fresh_database();
    Client::connect(&other, NoTls)
        .unwrap()
        .batch_execute("CREATE TABLE feedback (id INTEGER)")
        .unwrap();
    let err = Store::open_postgres(&other).err().unwrap();
    assert!(matches!(err, Error::NotFeedbackSchema { .. }), "{err}");
}

#[test]
fn an_unreachable_or_misspelt_database_is_named_without_its_password() {
    let err = Store::open_postgres("postgres://lc:s3cret@127.0.0.1:1/reports?connect_timeout=5")
        .err()
        .unwrap();
    let message = err.to_string();
    assert!(matches!(err, Error::Connect { .. }), "{message}");
    assert!(
        message.contains("postgres://lc@127.0.0.1:1/reports"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    let err = Store::open_postgres("postgres://lc@127.0.0.1:notaport/x")
        .err()
        .unwrap();
    assert!(matches!(err, Error::DatabaseUrl { .. }), "{err}");
    assert!(matches!(
        Store::open_postgres(" "),
        Err(Error::NoDatabaseUrl)
    ));
}

/// The PostgreSQL server of the tests.
pub(crate) mod test_postgres {
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The environment variable naming the test server as a URL without query (a database from
    /// which tests may create databases), e.g. `postgres://postgres@127.0.0.1:5433/postgres`.
    pub const URL_ENV: &str = "LIFECIRCLE_TEST_POSTGRES_URL";

    /// Creates a new empty database on the test server and returns its connection string.
    pub fn fresh_database() -> String {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::var(URL_ENV).unwrap_or_else(|_| {
            panic!("{URL_ENV} is not set: run scripts/test.sh, which starts a PostgreSQL server")
        });
        let name = format!(
            "lc_unit_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let config: ::postgres::Config = base.parse().expect("a valid test database URL");
        let create = format!("CREATE DATABASE {name}");
        // On a thread of its own: the client refuses to start inside the test's runtime.
        std::thread::spawn(move || {
            let mut client = config.connect(::postgres::NoTls).unwrap_or_else(|e| {
                panic!("cannot connect to the test PostgreSQL server ({URL_ENV}): {e}")
            });
            client.batch_execute(&create).unwrap();
        })
        .join()
        .unwrap();
        let (server, _) = base
            .rsplit_once('/')
            .expect("the test server as postgres://user@host:port/dbname");
        format!("{server}/{name}")
    }
}

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

async fn reports_round_trip_verbatim_and_survive_reopening(db: Db) {
    let tricky = "Robert'); DROP TABLE feedback;-- %' OR '1'='1 \"引号\" 🙂\nline two";
    let sent = NewReport {
        location: Some((121.4, 31.2)),
        contact: Some("微信 abc".into()),
        client_id: Some("c-1".into()),
        data_version: u64::MAX,
        ..report(Kind::WrongLocation, Some(u64::MAX - 1), tricky)
    };
    let id = {
        let store = db.open();
        let inserted = store.insert(sent.clone()).await.unwrap();
        assert!(inserted.created);
        inserted.id
    };
    let store = db.open();
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

async fn a_client_id_is_stored_once(db: Db) {
    let store = db.open();
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

async fn concurrent_reports_all_get_distinct_ids(db: Db) {
    let store = Arc::new(db.open());
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

async fn triage_changes_status_and_note(db: Db) {
    let store = db.open();
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

async fn listings_filter_and_page(db: Db) {
    let store = db.open();
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

async fn counts_for_the_data_office(db: Db) {
    let store = db.open();
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
