//! Blobs (put, replace, delete) and bodies: Unicode and large payloads round-trip through
//! records, events and blobs.

use serde_json::json;
use stratus_store::{Event, EventQuery, Store, Write};

use crate::{append, apply, event, get, ids, insert, put};

// ---------------------------------------------------------------------------------------------
// Blobs

pub(super) fn blobs_are_put_replaced_and_deleted(store: &dyn Store) {
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

pub(super) fn unicode_and_large_bodies_round_trip(store: &dyn Store) {
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
