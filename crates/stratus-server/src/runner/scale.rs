//! The `scale` workflow's bookkeeping around the engine's plan: new node instances and the
//! changed relationships of related ones are stored (with the graph) before the graph runs;
//! removed instances are deleted, and node instance counts updated, when it ends.

use serde_json::{json, Map, Value};
use stratus_engine::{Deployment, ScaleParams, ScalePlan};
use stratus_store::Write;

use crate::error::{ApiError, ApiResult};
use crate::state::{kind, Tables};

fn strings(params: &Map<String, Value>, key: &str) -> Vec<String> {
    match params.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn flag(params: &Map<String, Value>, key: &str, default: bool) -> bool {
    match params.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => crate::query::parse_bool(s).unwrap_or(default),
        _ => default,
    }
}

/// Plans the scale from the execution's parameters (Cloudify's names: `scalable_entity_name`,
/// `delta`, `scale_compute`, `ignore_failure`, `include_instances`, `exclude_instances`).
pub fn plan(
    deployment: &Deployment,
    params: &Map<String, Value>,
    deployment_body: &Value,
) -> ApiResult<ScalePlan> {
    let bad = |message: String| ApiError::bad_parameters(format!("workflow scale: {message}"));
    let entity = params
        .get("scalable_entity_name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("scalable_entity_name is required".into()))?
        .to_string();
    let delta = match params.get("delta") {
        None => 1,
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| bad("delta must be an integer".into()))?,
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| bad(format!("delta must be an integer, got '{s}'")))?,
        Some(other) => return Err(bad(format!("delta must be an integer, got {other}"))),
    };
    let group_members = deployment_body
        .get("scaling_groups")
        .and_then(|groups| groups.get(&entity))
        .and_then(|group| group.get("members"))
        .and_then(Value::as_array)
        .map(|members| {
            members
                .iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect()
        });
    let params = ScaleParams {
        scalable_entity_name: entity,
        delta,
        scale_compute: flag(params, "scale_compute", false),
        ignore_failure: flag(params, "ignore_failure", false),
        include_instances: strings(params, "include_instances"),
        exclude_instances: strings(params, "exclude_instances"),
        group_members,
    };
    let mut new_id = |node: &str| {
        let suffix: String = crate::crypto::random_bytes::<4>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{node}_{}", &suffix[..6])
    };
    stratus_engine::plan_scale(deployment, &params, &mut new_id).map_err(|e| bad(e.to_string()))
}

fn relationships(instance: &stratus_engine::NodeInstance) -> Value {
    Value::Array(
        instance
            .relationships
            .iter()
            .map(|r| json!({"type": r.type_name, "target_id": r.target_id, "target_name": r.target_name}))
            .collect(),
    )
}

/// The records to store before the graph runs: added instances, related instances' new
/// relationships, the nodes' planned instance counts.
pub fn records(tables: &Tables, tenant: &str, deployment_id: &str, plan: &ScalePlan) -> Vec<Write> {
    let mut writes = Vec::new();
    let template = tables
        .table(kind::NODE_INSTANCES)
        .tenant_rows(tenant)
        .into_iter()
        .flat_map(|rows| rows.values())
        .find(|row| row.str_field("deployment_id") == deployment_id)
        .map(|row| row.body());
    for id in &plan.added {
        let Some(instance) = plan.deployment.instance(id) else {
            continue;
        };
        let mut body = template
            .as_ref()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (key, value) in [
            ("id", json!(instance.id)),
            ("node_id", json!(instance.node_id)),
            ("deployment_id", json!(deployment_id)),
            ("host_id", json!(instance.host_id)),
            ("state", json!("uninitialized")),
            ("runtime_properties", json!({})),
            ("system_properties", json!({})),
            ("relationships", relationships(instance)),
            ("index", json!(instance.index)),
            ("version", json!(1)),
        ] {
            body.insert(key.into(), value);
        }
        writes.push(Write::Insert {
            kind: kind::NODE_INSTANCES.into(),
            tenant: tenant.into(),
            id: id.clone(),
            body: Value::Object(body),
        });
    }
    for id in &plan.related {
        let (Some(instance), Some(row)) = (
            plan.deployment.instance(id),
            tables.get(kind::NODE_INSTANCES, tenant, id),
        ) else {
            continue;
        };
        let mut body = row.body();
        if let Value::Object(map) = &mut body {
            map.insert("relationships".into(), relationships(instance));
            map.insert("version".into(), json!(row.version + 1));
        }
        writes.push(Write::Put {
            kind: kind::NODE_INSTANCES.into(),
            tenant: tenant.into(),
            id: id.clone(),
            body,
            expected_version: Some(row.version),
        });
    }
    for node in &plan.deployment.nodes {
        let count = plan
            .deployment
            .instances
            .iter()
            .filter(|i| i.node_id == node.id)
            .count()
            - plan
                .removed
                .iter()
                .filter(|r| {
                    plan.deployment
                        .instance(r)
                        .is_some_and(|i| i.node_id == node.id)
                })
                .count();
        let key = crate::resources::nodes::node_key(deployment_id, &node.id);
        let Some(row) = tables.get(kind::NODES, tenant, &key) else {
            continue;
        };
        if row
            .field("planned_number_of_instances")
            .and_then(Value::as_u64)
            == Some(count as u64)
        {
            continue;
        }
        let mut body = row.body();
        if let Value::Object(map) = &mut body {
            for field in [
                "number_of_instances",
                "planned_number_of_instances",
                "actual_number_of_instances",
                "actual_planned_number_of_instances",
            ] {
                map.insert(field.into(), json!(count));
            }
        }
        writes.push(Write::Put {
            kind: kind::NODES.into(),
            tenant: tenant.into(),
            id: key,
            body,
            expected_version: Some(row.version),
        });
    }
    writes
}

/// When a scale ends: the instances it scaled in (recorded in the execution's
/// `_scale_removed`) are removed. Runs in the batch that also stores their `deleted` state,
/// after it.
pub fn finish(tables: &Tables, tenant: &str, _deployment_id: &str, execution: &str) -> Vec<Write> {
    let removed: Vec<String> = tables
        .get(kind::EXECUTIONS, tenant, execution)
        .and_then(|row| row.lookup("_scale_removed"))
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    removed
        .into_iter()
        .filter(|id| tables.get(kind::NODE_INSTANCES, tenant, id).is_some())
        .map(|id| Write::Delete {
            kind: kind::NODE_INSTANCES.into(),
            tenant: tenant.into(),
            id,
        })
        .collect()
}
