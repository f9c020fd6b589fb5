//! One operation's job: what an executor needs, read from the committed state, with the
//! functions left in its inputs evaluated when it runs.

use serde_json::{json, Value};

use super::actor::Context;
use super::executors::{Job, Outcome, Side, Target};
use crate::app::App;
use crate::error::ApiResult;
use crate::state::kind;

/// Everything an executor needs, read from the committed state.
pub(super) fn job(
    app: &App,
    context: &mut Context,
    attempt: u32,
    max_retries: i64,
    task: stratus_engine::OperationTask,
    log: super::executors::LogFn,
) -> Job {
    let (context_tenant, context_deployment) =
        (context.tenant.clone(), context.deployment_id.clone());
    let side = |instance_id: &str, node_id: &str| -> Side {
        app.shared.read(|tables| Side {
            node: tables
                .get(
                    kind::NODES,
                    &context.tenant,
                    &crate::resources::nodes::node_key(&context.deployment_id, node_id),
                )
                .map(|row| row.body())
                .unwrap_or(Value::Null),
            instance: tables
                .get(kind::NODE_INSTANCES, &context.tenant, instance_id)
                .map(|row| row.body())
                .unwrap_or(Value::Null),
        })
    };
    let plugin_of = |node: &Value| {
        node.get("plugins")
            .and_then(Value::as_array)
            .and_then(|plugins| {
                plugins
                    .iter()
                    .find(|p| p.get("name").and_then(Value::as_str) == Some(task.plugin.as_str()))
            })
            .cloned()
            .unwrap_or(Value::Null)
    };
    // The node's plugin entry says which executor runs the operation; only executors that
    // read node and instance bodies get them.
    let node_plugins = context
        .plugins
        .entry(task.node_id.clone())
        .or_insert_with(|| {
            app.shared.read(|tables| {
                tables
                    .get(
                        kind::NODES,
                        &context_tenant,
                        &crate::resources::nodes::node_key(&context_deployment, &task.node_id),
                    )
                    .and_then(|row| row.lookup("plugins"))
                    .map(|plugins| json!({ "plugins": plugins }))
                    .unwrap_or(Value::Null)
            })
        })
        .clone();
    let plugin = plugin_of(&node_plugins);
    let (wants_context, wants_targets) = app
        .runner
        .executors
        .find(&plugin, &task)
        .map(|executor| (executor.needs_context(), executor.needs_targets()))
        .unwrap_or((false, false));
    let (own, related) = if wants_context || wants_targets {
        (
            side(&task.node_instance_id, &task.node_id),
            task.related
                .as_ref()
                .map(|r| side(&r.node_instance_id, &r.node_id)),
        )
    } else {
        (Side::default(), None)
    };
    let targets = if wants_targets {
        relationship_targets(&own, side)
    } else {
        Vec::new()
    };
    Job {
        tenant: context.tenant.clone(),
        deployment_id: context.deployment_id.clone(),
        blueprint_id: context.blueprint_id.clone(),
        execution_id: context.id.clone(),
        workflow_id: context.workflow_id.clone(),
        attempt,
        max_retries,
        task,
        plugin,
        own,
        related,
        targets,
        blueprint_dir: context.blueprint_dir.clone(),
        log,
    }
}

/// The relationships of `own`'s instance (`{type, target_id, target_name}`) with their
/// targets; the type hierarchy comes from the node's relationship of the same type and target.
fn relationship_targets(own: &Side, side: impl Fn(&str, &str) -> Side) -> Vec<Target> {
    let list = |value: &Value| {
        value
            .get("relationships")
            .and_then(Value::as_array)
            .cloned()
    };
    let node_relationships = list(&own.node).unwrap_or_default();
    list(&own.instance)
        .unwrap_or_default()
        .iter()
        .filter_map(|relationship| {
            let text = |key: &str| relationship.get(key).and_then(Value::as_str);
            let (type_name, instance_id, node_id) =
                (text("type")?, text("target_id")?, text("target_name")?);
            let type_hierarchy = node_relationships
                .iter()
                .find(|r| {
                    r.get("type").and_then(Value::as_str) == Some(type_name)
                        && r.get("target_id").and_then(Value::as_str) == Some(node_id)
                })
                .and_then(|r| r.get("type_hierarchy"))
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_else(|| vec![type_name.to_string()]);
            Some(Target {
                type_hierarchy,
                target: side(instance_id, node_id),
            })
        })
        .collect()
}

/// Evaluates the functions left in an operation's inputs (`get_attribute` with `SELF`,
/// `SOURCE`, `TARGET`, `get_secret`, `concat`) against the state when it runs.
fn evaluate_inputs(app: &App, job: &Job) -> ApiResult<serde_json::Map<String, Value>> {
    let task = &job.task;
    let mut context = crate::runtime::Context::load(app, &job.tenant, &job.deployment_id)
        .with_alias("SELF", &task.node_id, &task.node_instance_id);
    if let Some(related) = &task.related {
        let (source, target) = match related.side {
            stratus_engine::Side::Source => (
                (task.node_id.as_str(), task.node_instance_id.as_str()),
                (related.node_id.as_str(), related.node_instance_id.as_str()),
            ),
            stratus_engine::Side::Target => (
                (related.node_id.as_str(), related.node_instance_id.as_str()),
                (task.node_id.as_str(), task.node_instance_id.as_str()),
            ),
        };
        context = context
            .with_alias("SOURCE", source.0, source.1)
            .with_alias("TARGET", target.0, target.1);
    }
    let inputs = Value::Object(task.inputs.clone());
    match context.evaluate(&inputs)? {
        Value::Object(map) => Ok(map),
        _ => Ok(task.inputs.clone()),
    }
}

pub(super) async fn run_job(app: &App, mut job: Job) -> super::Report {
    if job.task.has_intrinsic_functions {
        match evaluate_inputs(app, &job) {
            Ok(inputs) => job.task.inputs = inputs,
            Err(error) => {
                return super::Report::failed(
                    format!("evaluating the operation's inputs: {}", error.message),
                    false,
                )
            }
        }
    }
    let executor = match app.runner.executors.find(&job.plugin, &job.task) {
        Ok(executor) => executor,
        Err(unsupported) => return super::Report::failed(unsupported.message, false),
    };
    let timeout = job.task.timeout_ms.filter(|t| *t > 0);
    let recoverable = job.task.timeout_recoverable.unwrap_or(false);
    let future = executor.run(job);
    match timeout {
        None => future.await,
        Some(ms) => {
            match tokio::time::timeout(std::time::Duration::from_millis(ms), future).await {
                Ok(report) => report,
                Err(_) => super::Report::of(Outcome::Failed {
                    error: format!("operation timed out after {ms} ms"),
                    recoverable,
                    retry_after_ms: None,
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relationship_targets_carry_the_nodes_type_hierarchy() {
        let own = Side {
            node: json!({"relationships": [
                {"type": "cloudify.relationships.depends_on", "target_id": "other", "type_hierarchy": ["cloudify.relationships.depends_on"]},
                {"type": "dcae.relationships.pgaas_cluster_uses_sshkeypair", "target_id": "key",
                 "type_hierarchy": ["cloudify.relationships.depends_on", "cloudify.relationships.connected_to", "dcae.relationships.pgaas_cluster_uses_sshkeypair"]}]}),
            instance: json!({"relationships": [
                {"type": "dcae.relationships.pgaas_cluster_uses_sshkeypair", "target_id": "key_1", "target_name": "key"},
                {"type": "unknown.type", "target_id": "x_1", "target_name": "x"},
                {"type": "broken"}]}),
        };
        let targets = relationship_targets(&own, |instance, node| Side {
            node: json!({"id": node}),
            instance: json!({"id": instance}),
        });
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].type_hierarchy.len(), 3);
        assert_eq!(targets[0].target.instance["id"], "key_1");
        assert_eq!(targets[0].target.node["id"], "key");
        assert_eq!(targets[1].type_hierarchy, ["unknown.type"]);
        assert!(relationship_targets(&Side::default(), |_, _| Side::default()).is_empty());
    }
}
