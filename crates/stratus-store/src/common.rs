//! What both backends share, so that they cannot drift apart: how a body is encoded, which
//! records a `DeleteWhere` matches, how an event query becomes SQL, how a write is named in an
//! error message.
//!
//! `DeleteWhere` is decided in Rust (`serde_json` equality of the body's top-level field),
//! not by the databases' JSON functions, whose typing differs (SQLite's `json_extract` maps
//! `true` to `1` and objects to text; PostgreSQL's `jsonb` cannot hold `\u0000`). For a scalar
//! value the SQL first narrows the rows to those whose body text contains the value's JSON
//! text — every body is written by `serde_json`, which writes equal scalars identically, so
//! that narrowing never drops a match.

use serde_json::Value;

use crate::{EventQuery, StoreError, Write};

/// A write that failed either by the contract (conflict, version, …) or in the backend.
pub(crate) enum Failure<E> {
    Store(StoreError),
    Backend(E),
}

impl<E> From<E> for Failure<E> {
    fn from(error: E) -> Self {
        Failure::Backend(error)
    }
}

/// How deep arrays and objects may nest in a body: `serde_json` reads back no deeper, and a
/// row that cannot be read back would fail every `load` of its kind.
pub(crate) const MAX_BODY_DEPTH: usize = 127;

pub(crate) fn encode_body(body: &Value) -> Result<String, StoreError> {
    if nesting(body) > MAX_BODY_DEPTH {
        return Err(StoreError::Backend(format!(
            "encode body: arrays and objects nest deeper than {MAX_BODY_DEPTH} levels"
        )));
    }
    serde_json::to_string(body)
        .map_err(|error| StoreError::Backend(format!("encode body: {error}")))
}

/// Levels of arrays and objects, iteratively (a deep body must not overflow the stack here).
fn nesting(body: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(body, 0usize)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(fields) => Box::new(fields.values()),
            _ => continue,
        };
        deepest = deepest.max(depth + 1);
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    deepest
}

/// Decodes a stored body; `what` names the row for the error ("record deployments/t/d").
pub(crate) fn decode_body(
    text: &str,
    what: &dyn std::fmt::Display,
    database: &str,
) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|error| {
        StoreError::Backend(format!("decode body of {what} in {database}: {error}"))
    })
}

/// Checks a `Put`'s `expected_version` against the record's current version.
pub(crate) fn check_expected<E>(
    kind: &str,
    tenant: &str,
    id: &str,
    current: Option<i64>,
    expected: Option<i64>,
) -> Result<(), Failure<E>> {
    match (expected, current) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(Failure::Store(StoreError::NotFound {
            kind: kind.to_owned(),
            tenant: tenant.to_owned(),
            id: id.to_owned(),
        })),
        (Some(expected), Some(actual)) if expected != actual => {
            Err(Failure::Store(StoreError::VersionMismatch {
                kind: kind.to_owned(),
                id: id.to_owned(),
                expected,
                actual,
            }))
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

/// Text every matching body contains, or `None` when the value is an object or array (whose
/// keys may be written in another order).
pub(crate) fn delete_where_needle(value: &Value) -> Option<String> {
    match value {
        Value::Object(_) | Value::Array(_) => None,
        scalar => serde_json::to_string(scalar).ok(),
    }
}

/// Whether a body has `field` equal to `value` (a missing field matches nothing, not `null`).
pub(crate) fn delete_where_matches(body: &Value, field: &str, value: &Value) -> bool {
    body.as_object().and_then(|object| object.get(field)) == Some(value)
}

/// The `WHERE` clause (empty or starting with ` WHERE `) of an event query and its text
/// parameters, numbered by `placeholder(n)` from 1.
pub(crate) fn event_filter<'q>(
    query: &'q EventQuery,
    placeholder: &dyn Fn(usize) -> String,
) -> (String, Vec<&'q str>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<&'q str> = Vec::new();
    let next = |params: &mut Vec<&'q str>, value: &'q str| {
        params.push(value);
        placeholder(params.len())
    };
    if let Some(tenant) = &query.tenant {
        let slot = next(&mut params, tenant);
        clauses.push(format!("tenant = {slot}"));
    }
    for (column, values) in [
        ("deployment_id", &query.deployment_ids),
        ("execution_id", &query.execution_ids),
        ("kind", &query.kinds),
        ("event_type", &query.event_types),
    ] {
        if values.is_empty() {
            continue;
        }
        let slots: Vec<String> = values
            .iter()
            .map(|value| next(&mut params, value))
            .collect();
        clauses.push(format!("{column} IN ({})", slots.join(", ")));
    }
    if let Some(from) = &query.from {
        let slot = next(&mut params, from);
        clauses.push(format!("timestamp >= {slot}"));
    }
    if let Some(to) = &query.to {
        let slot = next(&mut params, to);
        clauses.push(format!("timestamp <= {slot}"));
    }
    if clauses.is_empty() {
        (String::new(), params)
    } else {
        (format!(" WHERE {}", clauses.join(" AND ")), params)
    }
}

/// `ORDER BY … LIMIT … OFFSET …` of an event query; numbers are clamped to SQL's `BIGINT`.
pub(crate) fn event_order_and_page(query: &EventQuery) -> String {
    let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    format!(
        " ORDER BY id {} LIMIT {} OFFSET {}",
        if query.descending { "DESC" } else { "ASC" },
        clamp(query.size),
        clamp(query.offset)
    )
}

/// Names a write for an error message, e.g. `put deployments/default_tenant/d1`.
pub(crate) fn describe_write(write: &Write) -> String {
    match write {
        Write::Insert {
            kind, tenant, id, ..
        } => format!("insert {kind}/{tenant}/{id}"),
        Write::Put {
            kind, tenant, id, ..
        } => format!("put {kind}/{tenant}/{id}"),
        Write::Delete { kind, tenant, id } => format!("delete {kind}/{tenant}/{id}"),
        Write::DeleteWhere {
            kind,
            tenant,
            field,
            ..
        } => format!("delete {kind}/{tenant}/* by {field}"),
        Write::AppendEvent(event) => {
            format!("append event to {}/{}", event.tenant, event.deployment_id)
        }
        Write::DeleteEvents {
            tenant,
            deployment_id,
        } => format!("delete events of {tenant}/{deployment_id}"),
        Write::PutBlob { key, .. } => format!("put blob {key}"),
        Write::DeleteBlob { key } => format!("delete blob {key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn needle_is_contained_in_every_matching_body() {
        for value in [
            json!("dep-1"),
            json!("quote \" and \u{e9}"),
            json!(7),
            json!(-2.5),
            json!(true),
            json!(null),
        ] {
            let body = json!({"a": 1, "field": value.clone(), "z": [value.clone()]});
            let text = encode_body(&body).ok().unwrap_or_default();
            let needle = delete_where_needle(&value)
                .unwrap_or_else(|| panic!("scalar {value} has a needle"));
            assert!(text.contains(&needle), "{text} lacks {needle}");
            assert!(delete_where_matches(&body, "field", &value));
        }
        assert_eq!(delete_where_needle(&json!({"a": 1})), None);
        assert_eq!(delete_where_needle(&json!([1])), None);
    }

    #[test]
    fn bodies_nest_only_as_deep_as_they_read_back() {
        let nested = |levels: usize| {
            (0..levels).fold(json!("leaf"), |inner, level| {
                if level % 2 == 0 {
                    json!([inner])
                } else {
                    json!({ "k": inner })
                }
            })
        };
        let deepest =
            encode_body(&nested(MAX_BODY_DEPTH)).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(
            serde_json::from_str::<Value>(&deepest).ok(),
            Some(nested(MAX_BODY_DEPTH))
        );
        assert!(encode_body(&nested(MAX_BODY_DEPTH + 1)).is_err());
        let too_deep = serde_json::to_string(&nested(MAX_BODY_DEPTH + 1)).unwrap_or_default();
        assert!(
            serde_json::from_str::<Value>(&too_deep).is_err(),
            "the limit is serde_json's"
        );
        assert_eq!(nesting(&json!(1)), 0);
        assert_eq!(nesting(&json!({"a": [1, {"b": []}], "c": 2})), 4);
    }

    #[test]
    fn matching_is_typed_and_top_level() {
        let body = json!({"n": 1, "s": "1", "b": true, "nested": {"n": 2}, "null": null});
        assert!(delete_where_matches(&body, "n", &json!(1)));
        assert!(!delete_where_matches(&body, "n", &json!("1")));
        assert!(!delete_where_matches(&body, "s", &json!(1)));
        assert!(!delete_where_matches(&body, "b", &json!(1)));
        assert!(!delete_where_matches(&body, "n", &json!(2)));
        assert!(delete_where_matches(&body, "null", &json!(null)));
        assert!(!delete_where_matches(&body, "missing", &json!(null)));
        assert!(!delete_where_matches(&json!([1]), "0", &json!(1)));
    }

    #[test]
    fn event_filter_numbers_placeholders_in_order() {
        let query = EventQuery {
            tenant: Some("t".into()),
            deployment_ids: vec!["d1".into(), "d2".into()],
            kinds: vec!["cloudify_log".into()],
            from: Some("2026".into()),
            ..EventQuery::default()
        };
        let (sql, params) = event_filter(&query, &|n| format!("${n}"));
        assert_eq!(
            sql,
            " WHERE tenant = $1 AND deployment_id IN ($2, $3) AND kind IN ($4) AND timestamp >= $5"
        );
        assert_eq!(params, ["t", "d1", "d2", "cloudify_log", "2026"]);
        assert_eq!(event_filter(&EventQuery::default(), &|_| "?".into()).0, "");
    }
}
