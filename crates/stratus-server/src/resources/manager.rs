//! The manager's own endpoints: version, status (the 5.x dict form `cfy` 7 reads), provider
//! context (`cfy profiles use` reads it) and config.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::auth::Caller;
use crate::error::ApiResult;

/// The Cloudify Manager version whose REST API Stratus speaks.
pub const COMPATIBLE_VERSION: &str = "7.0.5";

pub async fn handle_version(Extension(_caller): Extension<Caller>) -> Response {
    super::respond(
        StatusCode::OK,
        json!({
            "edition": "community",
            "version": COMPATIBLE_VERSION,
            "build": null,
            "date": null,
            "commit": null,
            "distribution": "stratus",
            "distro_release": env!("CARGO_PKG_VERSION"),
        }),
    )
}

pub async fn handle_status(
    State(app): State<App>,
    Extension(_caller): Extension<Caller>,
) -> Response {
    let mut extra = Map::new();
    extra.insert("store".into(), Value::String(app.shared.store.describe()));
    for (key, value) in &app.settings.status_notes {
        extra.insert(key.clone(), Value::String(value.clone()));
    }
    let service = |name: &str, extra: Value| {
        (
            name.to_string(),
            json!({"status": "Active", "is_external": false, "extra_info": extra}),
        )
    };
    let services: Map<String, Value> = [
        service("Stratus REST Service", Value::Object(extra)),
        service("Workflow Engine", json!({})),
    ]
    .into_iter()
    .collect();
    super::respond(
        StatusCode::OK,
        json!({"status": "OK", "services": services}),
    )
}

pub async fn handle_provider_context(Extension(_caller): Extension<Caller>) -> Response {
    super::respond(
        StatusCode::OK,
        json!({
            "name": "provider",
            "context": {
                "cloudify": {
                    "workflows": {"task_retries": 60, "task_retry_interval": 15},
                }
            }
        }),
    )
}

pub async fn handle_config(
    State(app): State<App>,
    Extension(_caller): Extension<Caller>,
) -> ApiResult<Response> {
    let item = |name: &str, value: Value, scope: &str| {
        json!({"name": name, "value": value, "scope": scope, "is_editable": false,
               "updated_at": null, "updated_by": null, "schema": null})
    };
    let items = vec![
        item("max_body_bytes", json!(app.settings.max_body_bytes), "rest"),
        item("task_retries", json!(60), "workflow"),
        item("task_retry_interval", json!(15), "workflow"),
    ];
    let total = items.len();
    Ok(super::respond(
        StatusCode::OK,
        json!({"items": items, "metadata": {"pagination": {"total": total, "size": total, "offset": 0}}}),
    ))
}
