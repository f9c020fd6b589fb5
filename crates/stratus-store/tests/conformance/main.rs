//! The one contract suite: every check runs against SQLite (always) and PostgreSQL (when
//! `STRATUS_TEST_POSTGRES_URL` names a server whose user may create databases).
//!
//! Checks of behaviour take `&dyn Store`; checks of a store's life (reopen, locks,
//! migrations, threads) take a `Harness` that can open the same database again. Each test
//! gets a database of its own (a temp dir; a fresh PostgreSQL database, dropped afterwards),
//! so the tests run in parallel.
//!
//! Without `STRATUS_TEST_POSTGRES_URL` the PostgreSQL tests print one loud note and pass,
//! unless `STRATUS_REQUIRE_POSTGRES=1` (CI), which makes them fail. To run them locally:
//! `eval "$(tools/postgres/start)"`, then `cargo test -p stratus-store`.
//!
//! This file is the harness (backends, the per-backend runner, helpers) and the
//! PostgreSQL-only tests; the checks live by area in `records`, `events`, `blobs` (with
//! bodies), `life` and `snapshots`.

mod blobs;
mod events;
mod life;
mod records;
mod snapshots;

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use serde_json::{json, Value};
use stratus_store::{
    Event, EventPage, EventQuery, NewEvent, PostgresStore, Record, SqliteStore, Store, StoreError,
    Write,
};

use blobs::{blobs_are_put_replaced_and_deleted, unicode_and_large_bodies_round_trip};
use events::{
    delete_events_removes_one_deployment_and_ids_are_never_reused,
    events_get_increasing_ids_and_every_filter_works, long_runs_of_events_keep_batch_order_and_ids,
};
use life::{
    a_newer_schema_is_refused, a_second_open_is_locked_out,
    calls_from_spawn_blocking_and_plain_threads, reopening_keeps_everything,
};
use records::{
    a_failing_write_undoes_its_whole_batch, delete_of_a_missing_record_is_not_found,
    delete_where_matches_a_typed_top_level_field, insert_get_and_load_in_insertion_order,
    insert_of_an_existing_record_conflicts, put_counts_versions_and_checks_the_expected_one,
};
use snapshots::replace_all_restores_exactly_and_atomically;

// ---------------------------------------------------------------------------------------------
// Backends

/// Opens a store on one database; `Send` so that it can open inside `spawn_blocking`.
type Opener = Box<dyn FnOnce() -> Result<Box<dyn Store>, StoreError> + Send>;

/// Opens one backend's database, again and again.
trait Harness {
    fn opener(&self) -> Opener;
    fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        (self.opener())()
    }
    /// Rewrites the stored schema version behind the store's back (no store may be open).
    fn set_schema_version(&self, version: i64);
}

struct SqliteHarness {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl SqliteHarness {
    fn new() -> SqliteHarness {
        let dir = tempfile::tempdir().expect("create temp dir");
        let path = dir.path().join("stratus.db");
        SqliteHarness { _dir: dir, path }
    }
}

impl Harness for SqliteHarness {
    fn opener(&self) -> Opener {
        let path = self.path.clone();
        Box::new(move || Ok(Box::new(SqliteStore::open(&path)?) as Box<dyn Store>))
    }

    fn set_schema_version(&self, version: i64) {
        let connection = rusqlite::Connection::open(&self.path).expect("open sqlite directly");
        let changed = connection
            .execute("UPDATE meta SET schema_version = ?1", [version])
            .expect("update meta");
        assert_eq!(changed, 1);
    }
}

fn run_sqlite_store(check: fn(&dyn Store)) {
    let harness = SqliteHarness::new();
    let store = harness.open().expect("open sqlite store");
    check(store.as_ref());
}

fn run_sqlite_life(check: fn(&dyn Harness)) {
    check(&SqliteHarness::new());
}

/// The admin URL of a PostgreSQL server to test against, if any. Without one the PostgreSQL
/// tests pass after a loud note, unless `STRATUS_REQUIRE_POSTGRES=1` (CI) makes them fail.
fn postgres_admin_url() -> Option<String> {
    match std::env::var("STRATUS_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("STRATUS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "STRATUS_REQUIRE_POSTGRES=1 but STRATUS_TEST_POSTGRES_URL is not set \
                 (start a server with: eval \"$(tools/postgres/start)\")"
            );
            static NOTE: Once = Once::new();
            NOTE.call_once(|| {
                // Written to the real stderr: the test harness captures eprintln! of passing tests.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** NOTE: STRATUS_TEST_POSTGRES_URL is not set: the PostgreSQL conformance \
                     tests did NOT run (they pass vacuously). Run them with: \
                     eval \"$(tools/postgres/start)\" ***\n"
                );
            });
            None
        }
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    format!("{}/{database}{query}", &base[..authority_end])
}

/// A database of its own for one test, dropped when the test ends.
struct PostgresHarness {
    admin_url: String,
    database: String,
    url: String,
}

impl PostgresHarness {
    fn new(admin_url: String) -> PostgresHarness {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let database = format!(
            "stratus_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = ::postgres::Client::connect(&admin_url, ::postgres::NoTls)
            .expect("connect to STRATUS_TEST_POSTGRES_URL");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .and_then(|()| admin.batch_execute(&format!("CREATE DATABASE {database}")))
            .expect("create a test database");
        let url = with_database(&admin_url, &database);
        PostgresHarness {
            admin_url,
            database,
            url,
        }
    }
}

impl Drop for PostgresHarness {
    fn drop(&mut self) {
        if let Ok(mut admin) = ::postgres::Client::connect(&self.admin_url, ::postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ));
        }
    }
}

impl Harness for PostgresHarness {
    fn opener(&self) -> Opener {
        let url = self.url.clone();
        Box::new(move || Ok(Box::new(PostgresStore::connect(&url)?) as Box<dyn Store>))
    }

    fn set_schema_version(&self, version: i64) {
        let mut client =
            ::postgres::Client::connect(&self.url, ::postgres::NoTls).expect("connect directly");
        let changed = client
            .execute("UPDATE meta SET schema_version = $1", &[&version])
            .expect("update meta");
        assert_eq!(changed, 1);
    }
}

fn run_postgres_store(check: fn(&dyn Store)) {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let harness = PostgresHarness::new(admin_url);
    let store = harness.open().expect("connect postgres store");
    check(store.as_ref());
}

fn run_postgres_life(check: fn(&dyn Harness)) {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    check(&PostgresHarness::new(admin_url));
}

/// One `#[test]` per check and backend, so a failure names both.
macro_rules! conformance {
    (store: [$($store:ident),* $(,)?], life: [$($life:ident),* $(,)?] $(,)?) => {
        mod sqlite {
            $( #[test] fn $store() { super::run_sqlite_store(super::$store) } )*
            $( #[test] fn $life() { super::run_sqlite_life(super::$life) } )*
        }
        mod postgres {
            $( #[test] fn $store() { super::run_postgres_store(super::$store) } )*
            $( #[test] fn $life() { super::run_postgres_life(super::$life) } )*
        }
    };
}

conformance! {
    store: [
        insert_get_and_load_in_insertion_order,
        insert_of_an_existing_record_conflicts,
        put_counts_versions_and_checks_the_expected_one,
        delete_of_a_missing_record_is_not_found,
        a_failing_write_undoes_its_whole_batch,
        delete_where_matches_a_typed_top_level_field,
        events_get_increasing_ids_and_every_filter_works,
        delete_events_removes_one_deployment_and_ids_are_never_reused,
        long_runs_of_events_keep_batch_order_and_ids,
        blobs_are_put_replaced_and_deleted,
        unicode_and_large_bodies_round_trip,
        replace_all_restores_exactly_and_atomically,
    ],
    life: [
        reopening_keeps_everything,
        a_second_open_is_locked_out,
        a_newer_schema_is_refused,
        calls_from_spawn_blocking_and_plain_threads,
    ],
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn insert(kind: &str, tenant: &str, id: &str, body: Value) -> Write {
    Write::Insert {
        kind: kind.into(),
        tenant: tenant.into(),
        id: id.into(),
        body,
    }
}

fn put(kind: &str, tenant: &str, id: &str, body: Value, expected_version: Option<i64>) -> Write {
    Write::Put {
        kind: kind.into(),
        tenant: tenant.into(),
        id: id.into(),
        body,
        expected_version,
    }
}

fn delete(kind: &str, tenant: &str, id: &str) -> Write {
    Write::Delete {
        kind: kind.into(),
        tenant: tenant.into(),
        id: id.into(),
    }
}

fn delete_where(kind: &str, tenant: &str, field: &str, value: Value) -> Write {
    Write::DeleteWhere {
        kind: kind.into(),
        tenant: tenant.into(),
        field: field.into(),
        value,
    }
}

/// Appends `event` (its body encoded as every writer does).
fn append(event: Event) -> Write {
    Write::AppendEvent(NewEvent::encode(event).expect("encode event"))
}

fn event(
    tenant: &str,
    deployment: &str,
    execution: &str,
    timestamp: &str,
    kind: &str,
    event_type: &str,
) -> Event {
    Event {
        id: 0,
        tenant: tenant.into(),
        deployment_id: deployment.into(),
        execution_id: execution.into(),
        timestamp: timestamp.into(),
        kind: kind.into(),
        event_type: event_type.into(),
        body: json!({"message": format!("{deployment} {execution} {event_type}")}),
    }
}

fn apply(store: &dyn Store, batch: Vec<Write>) -> Vec<i64> {
    store
        .apply(&batch)
        .unwrap_or_else(|error| panic!("apply {batch:?}: {error}"))
}

fn get(store: &dyn Store, kind: &str, tenant: &str, id: &str) -> Option<Record> {
    store.get(kind, tenant, id).expect("get")
}

fn ids(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|record| format!("{}/{}", record.tenant, record.id))
        .collect()
}

fn all_events(store: &dyn Store) -> EventPage {
    store
        .events(&EventQuery {
            size: u64::MAX,
            ..EventQuery::default()
        })
        .expect("list events")
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only

#[test]
fn postgres_messages_never_show_the_password() {
    let secret = "s3cret-Pa55word";
    // Nothing listens on port 1: the connection is refused.
    let refused = PostgresStore::connect(&format!("postgres://stratus:{secret}@127.0.0.1:1/db"));
    match refused {
        Err(StoreError::Backend(message)) => {
            assert!(!message.contains(secret), "{message}");
            assert!(
                message.contains("127.0.0.1:1/db"),
                "the message names the server: {message}"
            );
        }
        other => panic!(
            "expected a Backend error, got {:?}",
            other.map(|store| store.describe())
        ),
    }
    let bad = PostgresStore::connect(&format!(
        "postgres://stratus:{secret}@127.0.0.1:notaport/db"
    ));
    assert!(
        matches!(&bad, Err(StoreError::Backend(m)) if !m.contains(secret)),
        "{:?}",
        bad.err()
    );

    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let harness = PostgresHarness::new(admin_url);
    // The test server trusts every connection, so any password gets in.
    let Some((scheme, rest)) = harness.url.split_once("://") else {
        panic!("STRATUS_TEST_POSTGRES_URL is not a postgres:// URL")
    };
    let Some((user, server)) = rest.split_once('@') else {
        panic!("STRATUS_TEST_POSTGRES_URL names no user")
    };
    let user = user.split(':').next().unwrap_or(user);
    let url = format!("{scheme}://{user}:{secret}@{server}");
    let store = PostgresStore::connect(&url).expect("connect with a password");
    let described = store.describe();
    assert!(
        described.starts_with(&format!("postgresql {user}@")),
        "{described}"
    );
    assert!(
        described.ends_with(&format!("/{}", harness.database)),
        "{described}"
    );
    assert!(!described.contains(secret), "{described}");
    match PostgresStore::connect(&url) {
        Err(StoreError::Locked(message)) => assert!(!message.contains(secret), "{message}"),
        other => panic!(
            "expected Locked, got {:?}",
            other.map(|store| store.describe())
        ),
    }
}

#[test]
fn with_database_replaces_only_the_database() {
    assert_eq!(
        with_database("postgres://u@h:1/postgres", "x"),
        "postgres://u@h:1/x"
    );
    assert_eq!(with_database("postgres://u@h:1", "x"), "postgres://u@h:1/x");
    assert_eq!(
        with_database("postgres://u@h/p?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
}

#[test]
fn postgres_reconnects_after_the_connection_dies() {
    let Some(admin_url) = postgres_admin_url() else {
        return;
    };
    let harness = PostgresHarness::new(admin_url.clone());
    let store = harness.open().expect("connect");
    apply(
        &*store,
        vec![insert("deployments", "t", "d", json!({"kept": true}))],
    );
    let mut admin = ::postgres::Client::connect(&admin_url, ::postgres::NoTls).expect("admin");
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&harness.database],
        )
        .expect("terminate the store's session");
    assert_eq!(killed.len(), 1, "the store holds one session");
    // The call that finds the connection dead may fail; the next one reconnects.
    if let Err(error) = store.get("deployments", "t", "d") {
        assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    }
    let record = get(&*store, "deployments", "t", "d").expect("the record survived");
    assert_eq!(record.body, json!({"kept": true}));
    apply(
        &*store,
        vec![put("deployments", "t", "d", json!({"kept": 2}), Some(1))],
    );
    // The new session holds the lock again.
    assert!(matches!(harness.open(), Err(StoreError::Locked(_))));
}
