//! Records: insert, get, load, versioned put, delete, `DeleteWhere`, and batches that fail
//! as a whole.

use serde_json::{json, Value};
use stratus_store::{Record, Store, StoreError, Write};

use crate::{all_events, append, apply, delete, delete_where, event, get, ids, insert, put};

pub(super) fn insert_get_and_load_in_insertion_order(store: &dyn Store) {
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

pub(super) fn insert_of_an_existing_record_conflicts(store: &dyn Store) {
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

pub(super) fn put_counts_versions_and_checks_the_expected_one(store: &dyn Store) {
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

pub(super) fn delete_of_a_missing_record_is_not_found(store: &dyn Store) {
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

pub(super) fn a_failing_write_undoes_its_whole_batch(store: &dyn Store) {
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

pub(super) fn delete_where_matches_a_typed_top_level_field(store: &dyn Store) {
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
