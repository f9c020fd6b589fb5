//! Nodes and node instances of deployments. Node ids are unique per deployment (stored
//! under `DEPLOYMENT/NODE`); node instance ids are unique per tenant. A node instance update
//! (`PATCH`) must name the version it read: a stale version is a 409, so two writers never
//! silently overwrite each other's runtime properties. *Invariant:* a node instance's body
//! carries its record version in `version` (1 on insert, +1 on every versioned put).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use stratus_store::Write;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Fields};
use crate::query::{pairs, ListParams};
use crate::state::{kind, Row};

pub fn node_key(deployment_id: &str, node_id: &str) -> String {
    format!("{deployment_id}/{node_id}")
}

fn scalable(node: &Value, key: &str, default: i64) -> Value {
    node.pointer(&format!("/capabilities/scalable/properties/{key}"))
        .cloned()
        .unwrap_or(json!(default))
}

/// The node and node instance records of a new deployment.
pub fn records(
    caller: &Caller,
    deployment_id: &str,
    blueprint_id: &str,
    visibility: &str,
    plan: &Value,
    now: &str,
) -> Vec<Write> {
    let mut writes = Vec::new();
    let ownership = super::ownership(caller, visibility, now);
    for node in plan
        .get("nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = node
            .get("name")
            .or_else(|| node.get("id"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let mut body = ownership.clone();
        let field = |k: &str, default: Value| node.get(k).cloned().unwrap_or(default);
        let planned = scalable(node, "planned_instances", 1);
        for (key, value) in [
            ("id", json!(name)),
            ("deployment_id", json!(deployment_id)),
            ("blueprint_id", json!(blueprint_id)),
            ("type", field("type", Value::Null)),
            ("type_hierarchy", field("type_hierarchy", json!([]))),
            (
                "number_of_instances",
                scalable(node, "current_instances", 1),
            ),
            ("planned_number_of_instances", planned.clone()),
            (
                "deploy_number_of_instances",
                scalable(node, "default_instances", 1),
            ),
            (
                "min_number_of_instances",
                scalable(node, "min_instances", 0),
            ),
            (
                "max_number_of_instances",
                scalable(node, "max_instances", -1),
            ),
            ("actual_number_of_instances", planned.clone()),
            ("actual_planned_number_of_instances", planned),
            ("host_id", field("host_id", Value::Null)),
            ("properties", field("properties", json!({}))),
            ("operations", field("operations", json!({}))),
            ("plugins", field("plugins", json!([]))),
            (
                "plugins_to_install",
                field("plugins_to_install", Value::Null),
            ),
            ("relationships", field("relationships", json!([]))),
            ("drifted_instances", json!(0)),
            ("unavailable_instances", json!(0)),
        ] {
            body.insert(key.into(), value);
        }
        writes.push(Write::Insert {
            kind: kind::NODES.into(),
            tenant: caller.tenant.clone(),
            id: node_key(deployment_id, name),
            body: Value::Object(body),
        });
    }
    for instance in plan
        .get("node_instances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = instance.get("id").and_then(Value::as_str).unwrap_or("");
        let mut body = ownership.clone();
        let field = |k: &str, default: Value| instance.get(k).cloned().unwrap_or(default);
        for (key, value) in [
            ("id", json!(id)),
            ("node_id", field("name", Value::Null)),
            ("deployment_id", json!(deployment_id)),
            ("host_id", field("host_id", Value::Null)),
            ("state", json!("uninitialized")),
            ("runtime_properties", json!({})),
            ("system_properties", json!({})),
            ("relationships", field("relationships", json!([]))),
            ("scaling_groups", field("scaling_groups", json!([]))),
            ("index", field("index", json!(0))),
            ("has_configuration_drift", json!(false)),
            ("is_status_check_ok", json!(false)),
            ("version", json!(1)),
        ] {
            body.insert(key.into(), value);
        }
        writes.push(Write::Insert {
            kind: kind::NODE_INSTANCES.into(),
            tenant: caller.tenant.clone(),
            id: id.to_string(),
            body: Value::Object(body),
        });
    }
    writes
}

pub async fn handle_list_nodes(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(query.as_deref());
    let params = ListParams::parse(&pairs, &["evaluate_functions"])?;
    let rows = super::visible_rows(&app, &caller, kind::NODES, params.all_tenants);
    Ok(crate::query::page(
        rows,
        &params,
        crate::query::Render::Stored,
    ))
}

pub async fn handle_get_node(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path((deployment_id, node_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let key = node_key(&deployment_id, &node_id);
    let row = super::find_or_404(&app, &caller, kind::NODES, "Node", &key)?;
    super::respond_item(super::render(&row), &pairs(query.as_deref()))
}

pub async fn handle_list_instances(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = ListParams::parse(&pairs(query.as_deref()), &[])?;
    let rows = super::visible_rows(&app, &caller, kind::NODE_INSTANCES, params.all_tenants);
    Ok(crate::query::page(
        rows,
        &params,
        crate::query::Render::Stored,
    ))
}

pub async fn handle_get_instance(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let row = super::find_or_404(&app, &caller, kind::NODE_INSTANCES, "NodeInstance", &id)?;
    super::respond_item(super::render(&row), &pairs(query.as_deref()))
}

pub async fn handle_update_instance(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let fields = body.object()?;
    let version = match fields.get("version") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| ApiError::bad_parameters("version must be an integer"))?,
        ),
        Some(other) => {
            return Err(ApiError::bad_parameters(format!(
                "version must be an integer, got {}",
                crate::extract::type_name(other)
            )))
        }
    };
    let force = fields.flag("force")?;
    let runtime_properties = fields.object("runtime_properties")?;
    let system_properties = fields.object("system_properties")?;
    let state = fields.string("state")?;
    let ((row_body, new_version), _) = app
        .shared
        .write(|tables| {
            let row = tables
                .get(kind::NODE_INSTANCES, &caller.tenant, &id)
                .ok_or_else(|| {
                    ApiError::not_found(format!(
                        "Requested `NodeInstance` with ID `{id}` was not found"
                    ))
                })?;
            if !force {
                match version {
                    Some(v) if v == row.version => {}
                    Some(v) => {
                        return Err(ApiError::conflict(format!(
                        "Node instance update conflict [current version={}, updated version={v}]",
                        row.version
                    )))
                    }
                    None if runtime_properties.is_some() => {
                        return Err(ApiError::bad_parameters(
                            "version is required when updating runtime_properties",
                        ))
                    }
                    None => {}
                }
            }
            let mut body = super::object_of(&row.body());
            if let Some(properties) = &runtime_properties {
                body.insert(
                    "runtime_properties".into(),
                    Value::Object(properties.clone()),
                );
            }
            if let Some(properties) = &system_properties {
                body.insert(
                    "system_properties".into(),
                    Value::Object(properties.clone()),
                );
            }
            if let Some(state) = &state {
                body.insert("state".into(), json!(state));
            }
            body.insert("version".into(), json!(row.version + 1));
            let body = Value::Object(body);
            let write = Write::Put {
                kind: kind::NODE_INSTANCES.into(),
                tenant: caller.tenant.clone(),
                id: id.clone(),
                body: body.clone(),
                expected_version: Some(row.version),
            };
            Ok((vec![write], (body, row.version + 1)))
        })
        .await?;
    let _ = new_version;
    Ok(super::respond(
        StatusCode::OK,
        super::render(&Row::detached(id, row_body)),
    ))
}
