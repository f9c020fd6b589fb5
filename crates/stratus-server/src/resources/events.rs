//! Events and logs: written to the store's event log in the same batch as the change they
//! describe, read back with Cloudify's filters (`execution_id`, `deployment_id`,
//! `event_type`, `type=cloudify_event|cloudify_log`, `_range=@timestamp,FROM,TO`,
//! `_offset`, `_size`, `_sort`).

use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};
use stratus_store::{EventQuery, NewEvent, Write};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::query::{pairs, MAX_PAGE_SIZE};

/// A `cloudify_event` about an execution.
pub fn execution_event(
    tenant: &str,
    execution: &Value,
    now: &str,
    event_type: &str,
    message: &str,
) -> Write {
    let text = |k: &str| {
        execution
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let body = json!({
        "timestamp": now,
        "reported_timestamp": now,
        "type": "cloudify_event",
        "event_type": event_type,
        "message": message,
        "blueprint_id": execution.get("blueprint_id"),
        "deployment_id": execution.get("deployment_id"),
        "execution_id": text("id"),
        "workflow_id": text("workflow_id"),
        "tenant_name": tenant,
        "node_instance_id": null,
        "node_name": null,
        "operation": null,
        "source_id": null,
        "target_id": null,
        "error_causes": null,
    });
    Write::AppendEvent(NewEvent {
        tenant: tenant.to_string(),
        deployment_id: text("deployment_id"),
        execution_id: text("id"),
        timestamp: now.to_string(),
        kind: "cloudify_event".into(),
        event_type: event_type.into(),
        body: body.to_string(),
    })
}

/// `workflow_started` then `workflow_<outcome>` for a system workflow that ran at once.
pub fn workflow_events(tenant: &str, execution: &Value, now: &str, outcome: &str) -> Vec<Write> {
    let workflow = execution
        .get("workflow_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    vec![
        execution_event(
            tenant,
            execution,
            now,
            "workflow_started",
            &format!("Starting '{workflow}' workflow execution"),
        ),
        execution_event(
            tenant,
            execution,
            now,
            &format!("workflow_{outcome}"),
            &format!("'{workflow}' workflow execution {outcome}"),
        ),
    ]
}

fn many(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(query.as_deref());
    let number = |name: &str, default: u64| -> ApiResult<u64> {
        match pairs.iter().rev().find(|(k, _)| k == name) {
            None => Ok(default),
            Some((_, v)) => v.trim().parse().map_err(|_| {
                ApiError::bad_parameters(format!(
                    "{name} must be a non-negative integer, got '{v}'"
                ))
            }),
        }
    };
    let mut query = EventQuery {
        tenant: Some(caller.tenant.clone()),
        deployment_ids: many(&pairs, "deployment_id"),
        execution_ids: many(&pairs, "execution_id"),
        kinds: many(&pairs, "type"),
        event_types: many(&pairs, "event_type"),
        offset: number("_offset", 0)?,
        size: number("_size", MAX_PAGE_SIZE)?.min(MAX_PAGE_SIZE),
        ..EventQuery::default()
    };
    for range in many(&pairs, "_range") {
        let mut parts = range.splitn(3, ',');
        let field = parts.next().unwrap_or("");
        if !matches!(field, "@timestamp" | "timestamp" | "reported_timestamp") {
            return Err(ApiError::bad_parameters(format!(
                "events can be ranged by @timestamp only, got '{field}'"
            )));
        }
        query.from = parts.next().filter(|s| !s.is_empty()).map(normalize_time);
        query.to = parts.next().filter(|s| !s.is_empty()).map(normalize_time);
    }
    query.descending = many(&pairs, "_sort").iter().any(|s| s.starts_with('-'));
    let params = crate::query::ListParams::parse(&pairs, &[])?;
    let (offset, size) = (query.offset, query.size);
    let page = app
        .shared
        .blocking(move |store| store.events(&query))
        .await?;
    let items: Vec<Value> = page
        .events
        .into_iter()
        .map(|event| crate::query::project(event.body, &params.include))
        .collect();
    let body = json!({
        "items": items,
        "metadata": {"pagination": {"total": page.total, "size": size, "offset": offset}},
    });
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response())
}

/// Clients send ISO times with or without `Z`/fraction; stored times are
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`. Comparing as text needs the same shape.
fn normalize_time(text: &str) -> String {
    let text = text.trim().trim_end_matches('Z').replace(' ', "T");
    let text = text.split('+').next().unwrap_or("").to_string();
    let (main, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let millis: String = fraction.chars().chain("000".chars()).take(3).collect();
    if main.len() == 10 {
        return format!("{main}T00:00:00.{millis}Z");
    }
    format!("{main}.{millis}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_normalize_to_the_stored_shape() {
        assert_eq!(
            super::normalize_time("2026-11-24T20:17:55"),
            "2026-11-24T20:17:55.000Z"
        );
        assert_eq!(
            super::normalize_time("2026-11-24T20:17:55.5Z"),
            "2026-11-24T20:17:55.500Z"
        );
        assert_eq!(
            super::normalize_time("2026-11-24 20:17:55.123456+00:00"),
            "2026-11-24T20:17:55.123Z"
        );
        assert_eq!(
            super::normalize_time("2026-11-24"),
            "2026-11-24T00:00:00.000Z"
        );
    }
}
