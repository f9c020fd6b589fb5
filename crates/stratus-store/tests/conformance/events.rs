//! Events: increasing ids, every query filter, and deleting one deployment's events.

use stratus_store::{Event, EventPage, EventQuery, Store, Write};

use crate::{all_events, append, apply, event};

pub(super) fn events_get_increasing_ids_and_every_filter_works(store: &dyn Store) {
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

pub(super) fn delete_events_removes_one_deployment_and_ids_are_never_reused(store: &dyn Store) {
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

/// Runs of events of every length around the sizes a backend may batch inserts by, between
/// other writes: each event gets the next id, in batch order, and the ids returned are the
/// ids stored. A failing write after a long run undoes the run too.
pub(super) fn long_runs_of_events_keep_batch_order_and_ids(store: &dyn Store) {
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for (run, length) in [1usize, 2, 3, 5, 17, 64, 65, 90, 150]
        .into_iter()
        .enumerate()
    {
        for n in 0..length {
            let message = format!("run {run} event {n}");
            let mut event = event(
                "t",
                "d",
                "e",
                "2026-01-01T00:00:00.000Z",
                "cloudify_log",
                "info",
            );
            event.body = serde_json::json!({ "message": message });
            batch.push(append(event));
            expected.push(Some(message));
        }
        batch.push(Write::PutBlob {
            key: format!("between/{run}"),
            bytes: vec![run as u8],
        });
        expected.push(None);
    }
    let produced = apply(store, batch);
    let ids: Vec<i64> = produced
        .iter()
        .zip(&expected)
        .filter(|(_, message)| message.is_some())
        .map(|(id, _)| *id)
        .collect();
    assert!(ids.windows(2).all(|pair| pair[1] == pair[0] + 1), "{ids:?}");
    let stored: Vec<(i64, String)> = all_events(store)
        .events
        .into_iter()
        .map(|event| {
            (
                event.id,
                event.body["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let wanted: Vec<(i64, String)> = ids
        .iter()
        .copied()
        .zip(expected.iter().flatten().cloned())
        .collect();
    assert_eq!(stored, wanted);

    let mut failing: Vec<Write> = (0..100)
        .map(|_| {
            append(event(
                "t",
                "d",
                "e2",
                "2026-01-01T00:00:01.000Z",
                "cloudify_log",
                "info",
            ))
        })
        .collect();
    failing.push(Write::Delete {
        kind: "missing".into(),
        tenant: "t".into(),
        id: "nothing".into(),
    });
    assert!(store.apply(&failing).is_err());
    assert_eq!(all_events(store).total, wanted.len() as u64);
}
