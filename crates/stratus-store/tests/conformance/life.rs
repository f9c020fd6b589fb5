//! A store's life: reopening, the lock against a second open, refusing a newer schema, and
//! calls from `spawn_blocking` and plain threads.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::json;
use stratus_store::{EventQuery, Store, StoreError, Write};

use crate::{all_events, append, apply, event, get, insert, put, Harness};

pub(super) fn reopening_keeps_everything(harness: &dyn Harness) {
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

pub(super) fn a_second_open_is_locked_out(harness: &dyn Harness) {
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

pub(super) fn a_newer_schema_is_refused(harness: &dyn Harness) {
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

pub(super) fn calls_from_spawn_blocking_and_plain_threads(harness: &dyn Harness) {
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
