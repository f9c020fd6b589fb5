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

pub async fn handle_provider_context(
    State(app): State<App>,
    Extension(_caller): Extension<Caller>,
) -> Response {
    let engine = &app.settings.engine;
    super::respond(
        StatusCode::OK,
        json!({
            "name": "provider",
            "context": {
                "cloudify": {
                    "workflows": {
                        "task_retries": engine.default_max_retries,
                        "task_retry_interval": engine.default_retry_interval_ms / 1000,
                    },
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
        item(
            "task_retries",
            json!(app.settings.engine.default_max_retries),
            "workflow",
        ),
        item(
            "task_retry_interval",
            json!(app.settings.engine.default_retry_interval_ms as f64 / 1000.0),
            "workflow",
        ),
        item(
            "max_in_flight",
            json!(app.settings.engine.max_in_flight),
            "workflow",
        ),
    ];
    let total = items.len();
    Ok(super::respond(
        StatusCode::OK,
        json!({"items": items, "metadata": {"pagination": {"total": total, "size": total, "offset": 0}}}),
    ))
}

fn single_item_list(item: Value) -> Response {
    super::respond(
        StatusCode::OK,
        json!({"items": [item], "metadata": {"pagination": {"total": 1, "size": 1000, "offset": 0}}}),
    )
}

/// Stratus is an all-in-one manager: one manager, one "broker", one database node, on the
/// same host. `cfy profiles use` asks for these to tell a cluster from a single manager.
pub async fn handle_managers(Extension(_caller): Extension<Caller>) -> Response {
    single_item_list(json!({
        "id": 1, "hostname": "stratus", "private_ip": "127.0.0.1", "public_ip": "127.0.0.1",
        "version": COMPATIBLE_VERSION, "edition": "community", "distribution": "stratus",
        "distro_release": env!("CARGO_PKG_VERSION"), "fs_sync_node_id": "", "networks": {"default": "127.0.0.1"},
        "node_id": "stratus", "last_seen": null, "status_report": null,
    }))
}

pub async fn handle_brokers(Extension(_caller): Extension<Caller>) -> Response {
    single_item_list(
        json!({"name": "stratus", "host": "127.0.0.1", "management_host": "127.0.0.1",
                            "port": null, "networks": {"default": "127.0.0.1"}, "node_id": "stratus", "is_external": false}),
    )
}

pub async fn handle_db_nodes(Extension(_caller): Extension<Caller>) -> Response {
    single_item_list(
        json!({"name": "stratus", "host": "127.0.0.1", "node_id": "stratus", "is_external": false}),
    )
}

/// Maintenance mode is never on in Stratus.
pub async fn handle_maintenance(Extension(_caller): Extension<Caller>) -> Response {
    super::respond(
        StatusCode::OK,
        json!({"status": "deactivated", "activated_at": "", "activation_requested_at": "",
               "remaining_executions": null, "requested_by": ""}),
    )
}
