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

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use serde_json::{json, Value};
use stratus_store::{
    Event, EventPage, EventQuery, NewEvent, PostgresStore, RawRecord, Record, SqliteStore, Store,
    StoreError, Write,
};

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
// Records

fn insert_get_and_load_in_insertion_order(store: &dyn Store) {
    let versions = apply(
        store,
        vec![
            insert("deployments", "t2", "zeta", json!({"n": 1})),
            insert("deployments", "t1", "alpha", json!({"n": 2})),
            insert("blueprints", "t1", "alpha", json!({"other": "kind"})),
        ],
    );
    assert_eq!(versions, [1, 1, 1]);
    apply(
        store,
        vec![insert("deployments", "", "mid", json!({"n": 3}))],
    );

    let record = get(store, "deployments", "t1", "alpha").expect("alpha exists");
    assert_eq!(
        record,
        Record {
            kind: "deployments".into(),
            tenant: "t1".into(),
            id: "alpha".into(),
            version: 1,
            body: json!({"n": 2})
        }
    );
    assert_eq!(
        get(store, "blueprints", "t1", "alpha").map(|r| r.body),
        Some(json!({"other": "kind"}))
    );
    assert_eq!(
        get(store, "deployments", "t2", "alpha"),
        None,
        "the tenant is part of the key"
    );
    assert_eq!(get(store, "deployments", "t1", "nope"), None);
    assert_eq!(
        ids(&store.load("deployments").expect("load")),
        ["t2/zeta", "t1/alpha", "/mid"]
    );
    assert_eq!(ids(&store.load("blueprints").expect("load")), ["t1/alpha"]);
    assert!(store.load("nothing").expect("load").is_empty());

    // A Put keeps the record's place; a deleted and re-inserted record goes last.
    apply(
        store,
        vec![put("deployments", "t2", "zeta", json!({"n": 10}), None)],
    );
    apply(store, vec![delete("deployments", "t1", "alpha")]);
    apply(
        store,
        vec![insert("deployments", "t1", "alpha", json!({"n": 20}))],
    );
    let loaded = store.load("deployments").expect("load");
    assert_eq!(ids(&loaded), ["t2/zeta", "/mid", "t1/alpha"]);
    assert_eq!(loaded[0].version, 2);
    assert_eq!(loaded[0].body, json!({"n": 10}));
    assert_eq!(
        loaded[2].version, 1,
        "a re-inserted record starts again at version 1"
    );
    let mut streamed = Vec::new();
    store
        .load_each("deployments", &mut |raw| streamed.push(raw))
        .expect("load_each");
    let as_records: Vec<(String, String, i64, serde_json::Value)> = loaded
        .iter()
        .map(|r| (r.tenant.clone(), r.id.clone(), r.version, r.body.clone()))
        .collect();
    let from_stream: Vec<(String, String, i64, serde_json::Value)> = streamed
        .iter()
        .map(|r| {
            let body = serde_json::from_str(&r.text).expect("stored text is JSON");
            (r.tenant.clone(), r.id.clone(), r.version, body)
        })
        .collect();
    assert_eq!(from_stream, as_records, "load_each agrees with load");
    assert!(store.schema_version().expect("schema version") >= 1);
}

fn insert_of_an_existing_record_conflicts(store: &dyn Store) {
    apply(store, vec![insert("secrets", "t", "key", json!({"v": 1}))]);
    match store.apply(&[insert("secrets", "t", "key", json!({"v": 2}))]) {
        Err(StoreError::Conflict { kind, tenant, id }) => {
            assert_eq!(
                (kind.as_str(), tenant.as_str(), id.as_str()),
                ("secrets", "t", "key")
            );
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        get(store, "secrets", "t", "key").map(|r| r.body),
        Some(json!({"v": 1}))
    );
    // Two inserts of one key in one batch conflict too.
    let twice = store.apply(&[
        insert("secrets", "t", "new", json!(1)),
        insert("secrets", "t", "new", json!(2)),
    ]);
    assert!(
        matches!(twice, Err(StoreError::Conflict { .. })),
        "{twice:?}"
    );
    assert_eq!(get(store, "secrets", "t", "new"), None);
    // Another tenant or kind is another key.
    assert_eq!(
        apply(
            store,
            vec![
                insert("secrets", "u", "key", json!(3)),
                insert("plugins", "t", "key", json!(4))
            ]
        ),
        [1, 1]
    );
}

fn put_counts_versions_and_checks_the_expected_one(store: &dyn Store) {
    assert_eq!(
        apply(
            store,
            vec![put("executions", "t", "e", json!({"s": "pending"}), None)]
        ),
        [1]
    );
    assert_eq!(
        apply(
            store,
            vec![put("executions", "t", "e", json!({"s": "started"}), None)]
        ),
        [2]
    );
    assert_eq!(
        apply(
            store,
            vec![put(
                "executions",
                "t",
                "e",
                json!({"s": "succeeded"}),
                Some(2)
            )]
        ),
        [3]
    );
    match store.apply(&[put("executions", "t", "e", json!({"s": "failed"}), Some(2))]) {
        Err(StoreError::VersionMismatch {
            kind,
            id,
            expected,
            actual,
        }) => {
            assert_eq!(
                (kind.as_str(), id.as_str(), expected, actual),
                ("executions", "e", 2, 3)
            );
        }
        other => panic!("expected VersionMismatch, got {other:?}"),
    }
    let record = get(store, "executions", "t", "e").expect("exists");
    assert_eq!(
        (record.version, record.body),
        (3, json!({"s": "succeeded"}))
    );

    match store.apply(&[put("executions", "t", "missing", json!({}), Some(1))]) {
        Err(StoreError::NotFound { kind, tenant, id }) => {
            assert_eq!(
                (kind.as_str(), tenant.as_str(), id.as_str()),
                ("executions", "t", "missing")
            );
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(get(store, "executions", "t", "missing"), None);

    // Versions follow writes inside one batch, and an Insert starts at 1.
    assert_eq!(
        apply(
            store,
            vec![
                insert("executions", "t", "f", json!(1)),
                put("executions", "t", "f", json!(2), Some(1)),
                put("executions", "t", "f", json!(3), None),
            ]
        ),
        [1, 2, 3]
    );
    assert_eq!(
        get(store, "executions", "t", "f").map(|r| (r.version, r.body)),
        Some((3, json!(3)))
    );
}

fn delete_of_a_missing_record_is_not_found(store: &dyn Store) {
    let missing = store.apply(&[delete("deployments", "t", "ghost")]);
    assert!(
        matches!(&missing, Err(StoreError::NotFound { kind, tenant, id }) if kind == "deployments" && tenant == "t" && id == "ghost"),
        "{missing:?}"
    );
    apply(store, vec![insert("deployments", "t", "d", json!({}))]);
    assert_eq!(apply(store, vec![delete("deployments", "t", "d")]), [0]);
    assert_eq!(get(store, "deployments", "t", "d"), None);
    assert!(matches!(
        store.apply(&[delete("deployments", "t", "d")]),
        Err(StoreError::NotFound { .. })
    ));
}

fn a_failing_write_undoes_its_whole_batch(store: &dyn Store) {
    apply(
        store,
        vec![
            insert("deployments", "t", "kept", json!({"v": 1})),
            Write::PutBlob {
                key: "b".into(),
                bytes: b"old".to_vec(),
            },
        ],
    );
    let before_events = all_events(store);
    let first_two = || {
        vec![
            put("deployments", "t", "kept", json!({"v": 2}), Some(1)),
            insert("deployments", "t", "new", json!({"v": 1})),
        ]
    };
    let more_first_two = || {
        vec![
            append(event(
                "t",
                "kept",
                "e1",
                "2026-01-01T00:00:00.000Z",
                "cloudify_event",
                "x",
            )),
            Write::PutBlob {
                key: "b".into(),
                bytes: b"new".to_vec(),
            },
        ]
    };
    let third_writes = [
        insert("deployments", "t", "kept", json!({})),
        put("deployments", "t", "kept", json!({}), Some(7)),
        put("deployments", "t", "absent", json!({}), Some(1)),
        delete("deployments", "t", "absent"),
    ];
    for third in third_writes {
        for mut batch in [first_two(), more_first_two()] {
            batch.push(third.clone());
            batch.push(Write::DeleteBlob { key: "b".into() });
            assert!(store.apply(&batch).is_err(), "{batch:?} must fail");
            let kept = get(store, "deployments", "t", "kept").expect("kept exists");
            assert_eq!(
                (kept.version, kept.body),
                (1, json!({"v": 1})),
                "after {third:?}"
            );
            assert_eq!(
                get(store, "deployments", "t", "new"),
                None,
                "after {third:?}"
            );
            assert_eq!(
                store.blob("b").expect("blob"),
                Some(b"old".to_vec()),
                "after {third:?}"
            );
            assert_eq!(all_events(store), before_events, "after {third:?}");
        }
    }
    // The store is still usable, and the same batch without its failing write commits.
    assert_eq!(apply(store, first_two()), [2, 1]);
}

fn delete_where_matches_a_typed_top_level_field(store: &dyn Store) {
    let node = |id: &str, tenant: &str, body: Value| insert("node_instances", tenant, id, body);
    apply(
        store,
        vec![
            node("a1", "t", json!({"deployment_id": "d1", "n": 1})),
            node(
                "a2",
                "t",
                json!({"deployment_id": "d2", "n": "1", "ref": "d1"}),
            ),
            node("a3", "t", json!({"deployment_id": "d1", "n": true})),
            node(
                "a4",
                "t",
                json!({"nested": {"deployment_id": "d1"}, "n": null}),
            ),
            node("a5", "u", json!({"deployment_id": "d1"})),
            node(
                "a6",
                "t",
                json!({"deployment_id": "d10", "obj": {"x": 1, "y": [1, 2]}}),
            ),
            node("a7", "t", json!(["deployment_id", "d1"])),
            insert("nodes", "t", "n1", json!({"deployment_id": "d1"})),
        ],
    );
    let left =
        |store: &dyn Store| -> Vec<String> { ids(&store.load("node_instances").expect("load")) };

    assert_eq!(
        apply(
            store,
            vec![delete_where(
                "node_instances",
                "t",
                "deployment_id",
                json!("d1")
            )]
        ),
        [0]
    );
    assert_eq!(left(store), ["t/a2", "t/a4", "u/a5", "t/a6", "t/a7"]);
    assert!(
        get(store, "nodes", "t", "n1").is_some(),
        "another kind is untouched"
    );

    // Typed: the string "1" is not the number 1, nor is true.
    apply(
        store,
        vec![delete_where("node_instances", "t", "n", json!(1))],
    );
    assert_eq!(left(store), ["t/a2", "t/a4", "u/a5", "t/a6", "t/a7"]);
    apply(
        store,
        vec![delete_where("node_instances", "t", "n", json!("1"))],
    );
    assert_eq!(left(store), ["t/a4", "u/a5", "t/a6", "t/a7"]);
    // null matches an explicit null only.
    apply(
        store,
        vec![delete_where(
            "node_instances",
            "t",
            "deployment_id",
            Value::Null,
        )],
    );
    assert_eq!(left(store), ["t/a4", "u/a5", "t/a6", "t/a7"]);
    apply(
        store,
        vec![delete_where("node_instances", "t", "n", Value::Null)],
    );
    assert_eq!(left(store), ["u/a5", "t/a6", "t/a7"]);
    // Objects compare by value, whatever the key order.
    apply(
        store,
        vec![delete_where(
            "node_instances",
            "t",
            "obj",
            json!({"y": [1, 2], "x": 1}),
        )],
    );
    assert_eq!(left(store), ["u/a5", "t/a7"]);
    // Removing none is not an error.
    assert_eq!(
        apply(
            store,
            vec![delete_where(
                "node_instances",
                "t",
                "deployment_id",
                json!("none")
            )]
        ),
        [0]
    );
    assert_eq!(left(store), ["u/a5", "t/a7"]);
}

// ---------------------------------------------------------------------------------------------
// Events

fn events_get_increasing_ids_and_every_filter_works(store: &dyn Store) {
    let log = [
        event(
            "t1",
            "d1",
            "e1",
            "2026-11-24T20:17:55.100Z",
            "cloudify_event",
            "workflow_started",
        ),
        event(
            "t1",
            "d1",
            "e1",
            "2026-11-24T20:17:55.200Z",
            "cloudify_log",
            "info",
        ),
        event(
            "t1",
            "d2",
            "e2",
            "2026-11-24T20:17:55.300Z",
            "cloudify_event",
            "workflow_started",
        ),
        event(
            "t2",
            "d1",
            "e3",
            "2026-11-24T20:17:55.300Z",
            "cloudify_log",
            "warning",
        ),
        event(
            "t1",
            "d1",
            "e4",
            "2026-11-24T20:18:00.000Z",
            "cloudify_event",
            "workflow_succeeded",
        ),
        event(
            "t2",
            "d3",
            "e5",
            "2026-11-25T00:00:00.000Z",
            "cloudify_log",
            "info",
        ),
        event(
            "t1",
            "d2",
            "e2",
            "2026-11-25T00:00:00.001Z",
            "cloudify_log",
            "error",
        ),
    ];
    // One event per batch, then several in one batch: ids grow either way.
    let mut stored = Vec::new();
    for entry in &log[..3] {
        let assigned = apply(
            store,
            vec![append(Event {
                id: 999,
                ..entry.clone()
            })],
        );
        stored.push(Event {
            id: assigned[0],
            ..entry.clone()
        });
    }
    let assigned = apply(store, log[3..].iter().cloned().map(append).collect());
    for (entry, id) in log[3..].iter().zip(assigned) {
        stored.push(Event {
            id,
            ..entry.clone()
        });
    }
    assert!(
        stored.windows(2).all(|pair| pair[0].id < pair[1].id),
        "ids increase: {stored:?}"
    );
    assert_eq!(
        all_events(store),
        EventPage {
            events: stored.clone(),
            total: stored.len() as u64
        }
    );

    let matches = |query: &EventQuery, event: &Event| {
        let any = |list: &Vec<String>, value: &String| list.is_empty() || list.contains(value);
        query
            .tenant
            .as_ref()
            .is_none_or(|tenant| *tenant == event.tenant)
            && any(&query.deployment_ids, &event.deployment_id)
            && any(&query.execution_ids, &event.execution_id)
            && any(&query.kinds, &event.kind)
            && any(&query.event_types, &event.event_type)
            && query
                .from
                .as_ref()
                .is_none_or(|from| event.timestamp >= *from)
            && query.to.as_ref().is_none_or(|to| event.timestamp <= *to)
    };
    let strings = |values: &[&str]| {
        values
            .iter()
            .map(|value| value.to_string())
            .collect::<Vec<_>>()
    };
    let filters = [
        EventQuery {
            tenant: Some("t1".into()),
            ..EventQuery::default()
        },
        EventQuery {
            tenant: Some("nobody".into()),
            ..EventQuery::default()
        },
        EventQuery {
            deployment_ids: strings(&["d1"]),
            ..EventQuery::default()
        },
        EventQuery {
            deployment_ids: strings(&["d2", "d3"]),
            ..EventQuery::default()
        },
        EventQuery {
            execution_ids: strings(&["e2", "e3"]),
            ..EventQuery::default()
        },
        EventQuery {
            kinds: strings(&["cloudify_log"]),
            ..EventQuery::default()
        },
        EventQuery {
            event_types: strings(&["workflow_started", "error"]),
            ..EventQuery::default()
        },
        // Inclusive bounds, equal timestamps on both sides.
        EventQuery {
            from: Some("2026-11-24T20:17:55.300Z".into()),
            ..EventQuery::default()
        },
        EventQuery {
            to: Some("2026-11-24T20:17:55.300Z".into()),
            ..EventQuery::default()
        },
        EventQuery {
            from: Some("2026-11-24T20:17:55.200Z".into()),
            to: Some("2026-11-25T00:00:00.000Z".into()),
            ..EventQuery::default()
        },
        EventQuery {
            from: Some("2027".into()),
            ..EventQuery::default()
        },
        EventQuery {
            tenant: Some("t1".into()),
            deployment_ids: strings(&["d1", "d2"]),
            kinds: strings(&["cloudify_event"]),
            to: Some("2026-11-24T23".into()),
            ..EventQuery::default()
        },
    ];
    for filter in filters {
        let expected: Vec<Event> = stored
            .iter()
            .filter(|event| matches(&filter, event))
            .cloned()
            .collect();
        for descending in [false, true] {
            let mut expected = expected.clone();
            if descending {
                expected.reverse();
            }
            let query = EventQuery {
                descending,
                size: 100,
                ..filter.clone()
            };
            let page = store.events(&query).expect("query events");
            assert_eq!(
                page,
                EventPage {
                    total: expected.len() as u64,
                    events: expected.clone()
                },
                "{query:?}"
            );
            // Pages of two cover the same list, each with the full total.
            let mut paged = Vec::new();
            for offset in (0..expected.len() as u64 + 2).step_by(2) {
                let page = store
                    .events(&EventQuery {
                        offset,
                        size: 2,
                        ..query.clone()
                    })
                    .expect("page");
                assert_eq!(
                    page.total,
                    expected.len() as u64,
                    "{query:?} offset {offset}"
                );
                assert!(page.events.len() <= 2);
                paged.extend(page.events);
            }
            assert_eq!(paged, expected, "{query:?} in pages");
        }
    }
    let counted = store
        .events(&EventQuery {
            size: 0,
            ..EventQuery::default()
        })
        .expect("count");
    assert_eq!(
        (counted.events.len(), counted.total),
        (0, stored.len() as u64)
    );
    let beyond = store
        .events(&EventQuery {
            offset: 100,
            size: 10,
            ..EventQuery::default()
        })
        .expect("beyond");
    assert_eq!(
        (beyond.events.len(), beyond.total),
        (0, stored.len() as u64)
    );
}

fn delete_events_removes_one_deployment_and_ids_are_never_reused(store: &dyn Store) {
    let first = apply(
        store,
        vec![
            append(event(
                "t",
                "keep",
                "e1",
                "2026-01-01T00:00:00.000Z",
                "cloudify_log",
                "info",
            )),
            append(event(
                "u",
                "gone",
                "e2",
                "2026-01-01T00:00:00.000Z",
                "cloudify_log",
                "info",
            )),
            append(event(
                "t",
                "gone",
                "e3",
                "2026-01-01T00:00:00.000Z",
                "cloudify_log",
                "info",
            )),
            append(event(
                "t",
                "gone",
                "e3",
                "2026-01-01T00:00:01.000Z",
                "cloudify_log",
                "info",
            )),
        ],
    );
    assert_eq!(
        apply(
            store,
            vec![Write::DeleteEvents {
                tenant: "t".into(),
                deployment_id: "gone".into()
            }]
        ),
        [0]
    );
    let left: Vec<(i64, String)> = all_events(store)
        .events
        .into_iter()
        .map(|event| {
            (
                event.id,
                format!("{}/{}", event.tenant, event.deployment_id),
            )
        })
        .collect();
    assert_eq!(
        left,
        [
            (first[0], "t/keep".to_string()),
            (first[1], "u/gone".to_string())
        ]
    );
    // The newest events were deleted; their ids are not handed out again.
    let next = apply(
        store,
        vec![append(event(
            "t",
            "gone",
            "e4",
            "2026-01-01T00:00:02.000Z",
            "cloudify_log",
            "info",
        ))],
    );
    assert!(next[0] > first[3], "{next:?} after {first:?}");
    // Deleting the events of a deployment that has none is not an error.
    assert_eq!(
        apply(
            store,
            vec![Write::DeleteEvents {
                tenant: "t".into(),
                deployment_id: "never".into()
            }]
        ),
        [0]
    );
}

// ---------------------------------------------------------------------------------------------
// Blobs

fn blobs_are_put_replaced_and_deleted(store: &dyn Store) {
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    assert_eq!(store.blob("blueprints/t/b.zip").expect("blob"), None);
    assert_eq!(
        apply(
            store,
            vec![
                Write::PutBlob {
                    key: "blueprints/t/b.zip".into(),
                    bytes: every_byte.clone()
                },
                Write::PutBlob {
                    key: "empty".into(),
                    bytes: Vec::new()
                },
            ]
        ),
        [0, 0]
    );
    assert_eq!(
        store.blob("blueprints/t/b.zip").expect("blob"),
        Some(every_byte)
    );
    assert_eq!(
        store.blob("empty").expect("blob"),
        Some(Vec::new()),
        "empty is not missing"
    );
    apply(
        store,
        vec![Write::PutBlob {
            key: "blueprints/t/b.zip".into(),
            bytes: b"v2".to_vec(),
        }],
    );
    assert_eq!(
        store.blob("blueprints/t/b.zip").expect("blob"),
        Some(b"v2".to_vec())
    );
    assert_eq!(
        apply(
            store,
            vec![Write::DeleteBlob {
                key: "blueprints/t/b.zip".into()
            }]
        ),
        [0]
    );
    assert_eq!(store.blob("blueprints/t/b.zip").expect("blob"), None);
    assert_eq!(
        apply(
            store,
            vec![Write::DeleteBlob {
                key: "blueprints/t/b.zip".into()
            }]
        ),
        [0],
        "missing is fine"
    );
    assert_eq!(store.blob("empty").expect("blob"), Some(Vec::new()));
}

// ---------------------------------------------------------------------------------------------
// Bodies

fn unicode_and_large_bodies_round_trip(store: &dyn Store) {
    let unicode = json!({
        "zebra first": "keys keep their order",
        "名前": "デプロイ 🚀 שלום e\u{301} \u{1F600}",
        "nul": "a\u{0}b",
        "controls": "\t\n\r\u{1}\u{7f}\"\\",
        "numbers": [0, -1, 1.5, 1e300, 9007199254740993i64, u64::MAX],
        "alpha": {"b": 1, "a": 2},
    });
    apply(
        store,
        vec![insert("deployments", "テナント", "dép-🚀", unicode.clone())],
    );
    let back = get(store, "deployments", "テナント", "dép-🚀").expect("unicode record");
    assert_eq!(back.body, unicode);
    assert_eq!(
        serde_json::to_string(&back.body).ok(),
        serde_json::to_string(&unicode).ok(),
        "the body reads back byte for byte, keys in their order"
    );
    assert_eq!(
        ids(&store.load("deployments").expect("load")),
        ["テナント/dép-🚀"]
    );

    let big = "x🚀".repeat(1 << 18); // 1.25 MiB of UTF-8
    let large = json!({"payload": big, "tail": "end"});
    apply(
        store,
        vec![put("deployments", "t", "large", large.clone(), None)],
    );
    assert_eq!(
        get(store, "deployments", "t", "large").map(|r| r.body),
        Some(large.clone())
    );
    let mut big_event = event(
        "t",
        "large",
        "e",
        "2026-01-01T00:00:00.000Z",
        "cloudify_log",
        "info",
    );
    big_event.body = large.clone();
    let id = apply(store, vec![append(big_event.clone())])[0];
    let page = store.events(&EventQuery {
        deployment_ids: vec!["large".into()],
        size: 1,
        ..EventQuery::default()
    });
    assert_eq!(page.expect("events").events, [Event { id, ..big_event }]);
    let bytes: Vec<u8> = (0..(1usize << 20)).map(|i| (i * 7 % 251) as u8).collect();
    apply(
        store,
        vec![Write::PutBlob {
            key: "big".into(),
            bytes: bytes.clone(),
        }],
    );
    assert_eq!(store.blob("big").expect("blob"), Some(bytes));
}

// ---------------------------------------------------------------------------------------------
// A store's life

fn reopening_keeps_everything(harness: &dyn Harness) {
    let store = harness.open().expect("open");
    apply(
        &*store,
        vec![
            insert("deployments", "t", "d1", json!({"a": 1})),
            insert("deployments", "t", "d2", json!({"a": 2})),
            append(event(
                "t",
                "d1",
                "e1",
                "2026-01-01T00:00:00.000Z",
                "cloudify_event",
                "workflow_started",
            )),
            Write::PutBlob {
                key: "k".into(),
                bytes: vec![1, 2, 3],
            },
        ],
    );
    apply(
        &*store,
        vec![put("deployments", "t", "d1", json!({"a": 10}), Some(1))],
    );
    let records = store.load("deployments").expect("load");
    let events = all_events(&*store);
    let version = store.schema_version().expect("version");
    drop(store);

    let store = harness.open().expect("reopen");
    assert_eq!(store.load("deployments").expect("load"), records);
    assert_eq!(all_events(&*store), events);
    assert_eq!(store.blob("k").expect("blob"), Some(vec![1, 2, 3]));
    assert_eq!(store.schema_version().expect("version"), version);
    // It goes on where it left off.
    assert!(matches!(
        store.apply(&[insert("deployments", "t", "d2", json!({}))]),
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        apply(
            &*store,
            vec![put("deployments", "t", "d1", json!({"a": 11}), Some(2))]
        ),
        [3]
    );
    let next = apply(
        &*store,
        vec![append(event(
            "t",
            "d1",
            "e2",
            "2026-01-01T00:00:01.000Z",
            "cloudify_log",
            "info",
        ))],
    );
    assert!(next[0] > events.events[0].id);
}

fn a_second_open_is_locked_out(harness: &dyn Harness) {
    let first = harness.open().expect("open");
    apply(
        &*first,
        vec![insert("tenants", "", "default_tenant", json!({}))],
    );
    match harness.open() {
        Err(StoreError::Locked(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("expected Locked, got {other:?}"),
        Ok(second) => panic!("a second store opened: {}", second.describe()),
    }
    // The first store is unharmed and the lock goes with it.
    assert!(get(&*first, "tenants", "", "default_tenant").is_some());
    drop(first);
    let again = harness.open().expect("open after the first store is gone");
    assert!(get(&*again, "tenants", "", "default_tenant").is_some());
}

fn a_newer_schema_is_refused(harness: &dyn Harness) {
    let store = harness.open().expect("open");
    let known = store.schema_version().expect("version");
    assert!(known >= 1);
    drop(store);
    harness.set_schema_version(known + 1);
    match harness.open() {
        Err(StoreError::TooNew { found, known: k }) => assert_eq!((found, k), (known + 1, known)),
        Err(other) => panic!("expected TooNew, got {other:?}"),
        Ok(store) => panic!("opened a newer database: {}", store.describe()),
    }
    // Refusing changed nothing: back at a known version, it opens.
    harness.set_schema_version(known);
    assert_eq!(
        harness
            .open()
            .expect("open")
            .schema_version()
            .expect("version"),
        known
    );
}

fn calls_from_spawn_blocking_and_plain_threads(harness: &dyn Harness) {
    const TASKS: usize = 6;
    const EVENTS_PER_TASK: usize = 15;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let store: Arc<dyn Store> = Arc::from(harness.open().expect("open"));

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        handles.push(runtime.spawn_blocking(move || {
            let id = format!("task-{task}");
            store
                .apply(&[insert("executions", "t", &id, json!({"task": task}))])
                .expect("insert");
            let mut assigned = Vec::new();
            for n in 0..EVENTS_PER_TASK {
                let entry = event(
                    "t",
                    &id,
                    &id,
                    &format!("2026-01-01T00:00:{n:02}.000Z"),
                    "cloudify_log",
                    "info",
                );
                let version = store.apply(&[
                    put("executions", "t", &id, json!({"n": n}), None),
                    append(entry),
                ]);
                assigned.push(version.expect("put and append")[1]);
            }
            assert!(store.get("executions", "t", &id).expect("get").is_some());
            let page = store.events(&EventQuery {
                deployment_ids: vec![id],
                size: 100,
                ..EventQuery::default()
            });
            assert_eq!(page.expect("events").total, EVENTS_PER_TASK as u64);
            assigned
        }));
    }
    let plain: Vec<_> = (0..2)
        .map(|n| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store
                    .apply(&[Write::PutBlob {
                        key: format!("plain-{n}"),
                        bytes: vec![n as u8],
                    }])
                    .expect("put blob");
                store.blob(&format!("plain-{n}")).expect("blob")
            })
        })
        .collect();
    let assigned: Vec<Vec<i64>> = runtime.block_on(async {
        let mut all = Vec::new();
        for handle in handles {
            all.push(handle.await.expect("task ran"));
        }
        all
    });
    for (n, thread) in plain.into_iter().enumerate() {
        assert_eq!(thread.join().expect("thread ran"), Some(vec![n as u8]));
    }
    let unique: BTreeSet<i64> = assigned.iter().flatten().copied().collect();
    assert_eq!(
        unique.len(),
        TASKS * EVENTS_PER_TASK,
        "every event got its own id"
    );
    for ids in &assigned {
        assert!(
            ids.windows(2).all(|pair| pair[0] < pair[1]),
            "one task's ids increase: {ids:?}"
        );
    }
    let listed: Vec<i64> = all_events(&*store)
        .events
        .iter()
        .map(|event| event.id)
        .collect();
    assert_eq!(listed, unique.iter().copied().collect::<Vec<_>>());
    assert_eq!(store.load("executions").expect("load").len(), TASKS);

    // Opening inside spawn_blocking works too, and so does dropping a store on an async
    // worker (the server may drop its last handle there); the drop releases the database.
    drop(store);
    let opener = harness.opener();
    let store: Arc<dyn Store> = runtime.block_on(async move {
        let opened = tokio::task::spawn_blocking(opener).await.expect("task ran");
        Arc::from(opened.expect("open inside spawn_blocking"))
    });
    let loaded = runtime.block_on(async {
        let store = Arc::clone(&store);
        tokio::task::spawn_blocking(move || store.load("executions"))
            .await
            .expect("task ran")
    });
    assert_eq!(loaded.expect("load").len(), TASKS);
    let dropped = runtime.block_on(async move { tokio::spawn(async move { drop(store) }).await });
    assert!(
        dropped.is_ok(),
        "dropping on an async worker panicked: {dropped:?}"
    );
    drop(runtime);
    assert_eq!(
        harness
            .open()
            .expect("open after the drop")
            .load("executions")
            .expect("load")
            .len(),
        TASKS
    );
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

// ---------------------------------------------------------------------------------------------
// Snapshots

/// Records with their kind, events, blobs: everything a store holds.
type Dump = (Vec<(String, RawRecord)>, Vec<Event>, Vec<(String, Vec<u8>)>);

/// Everything a store holds, through the public contract.
fn dump(store: &dyn Store) -> Dump {
    let mut records = Vec::new();
    for kind in store.kinds().expect("kinds") {
        store
            .load_each(&kind, &mut |record| records.push((kind.clone(), record)))
            .expect("load_each");
    }
    let events = all_events(store).events;
    let blobs = store
        .blob_keys()
        .expect("blob keys")
        .into_iter()
        .map(|key| {
            let bytes = store.blob(&key).expect("blob").expect("listed blob exists");
            (key, bytes)
        })
        .collect();
    (records, events, blobs)
}

fn replace_all_restores_exactly_and_atomically(store: &dyn Store) {
    // The source: a second database of the same backend is not available here, so the
    // snapshot is taken from this store, which is then changed and restored.
    apply(
        store,
        vec![
            insert("deployments", "t1", "d1", json!({"n": 1})),
            insert("blueprints", "t1", "b1", json!({"b": "ü"})),
            insert("users", "", "admin", json!({"u": true})),
            append(event(
                "t1",
                "d1",
                "e1",
                "2026-01-01T00:00:00.000Z",
                "cloudify_event",
                "a",
            )),
            append(event(
                "t1",
                "d1",
                "e1",
                "2026-01-01T00:00:01.000Z",
                "cloudify_log",
                "info",
            )),
            Write::PutBlob {
                key: "blueprint/t1/b1".into(),
                bytes: vec![0, 1, 2, 255],
            },
        ],
    );
    apply(
        store,
        vec![put("deployments", "t1", "d1", json!({"n": 2}), Some(1))],
    );
    let snapshot = dump(store);
    assert_eq!(snapshot.0.len(), 3);
    assert_eq!(snapshot.1.len(), 2);
    assert_eq!(snapshot.2.len(), 1);

    apply(
        store,
        vec![
            insert("deployments", "t1", "later", json!({})),
            delete("blueprints", "t1", "b1"),
            append(event(
                "t1",
                "d2",
                "e2",
                "2026-01-02T00:00:00.000Z",
                "cloudify_event",
                "b",
            )),
            Write::PutBlob {
                key: "other".into(),
                bytes: vec![9],
            },
        ],
    );
    store
        .replace_all(&snapshot.0, &snapshot.1, &snapshot.2)
        .expect("replace_all");
    assert_eq!(
        dump(store),
        snapshot,
        "a restore gives back exactly what was taken"
    );
    assert_eq!(
        get(store, "deployments", "t1", "d1").map(|r| r.version),
        Some(2),
        "versions are kept"
    );
    let max_id = snapshot.1.iter().map(|e| e.id).max().unwrap_or(0);
    let appended = apply(
        store,
        vec![append(event(
            "t1",
            "d1",
            "e3",
            "2026-01-03T00:00:00.000Z",
            "cloudify_event",
            "c",
        ))],
    );
    assert!(
        appended[0] > max_id,
        "appends continue after the restored ids"
    );

    // A restore that fails (two records with one key) changes nothing.
    let before = dump(store);
    let mut broken = snapshot.0.clone();
    broken.push(broken[0].clone());
    assert!(store.replace_all(&broken, &[], &[]).is_err());
    assert_eq!(dump(store), before);
}
