//! Snapshots: `replace_all` restores exactly what was taken, or nothing when it fails.

use serde_json::json;
use stratus_store::{Event, RawRecord, Store, Write};

use crate::{all_events, append, apply, delete, event, get, insert, put};

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

pub(super) fn replace_all_restores_exactly_and_atomically(store: &dyn Store) {
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
