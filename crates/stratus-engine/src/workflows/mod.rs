//! The built-in workflows as graph builders: `(deployment, parameters) -> Graph`.
//!
//! One function per reference workflow (`cloudify/plugins/workflows.py`), each a pure function
//! of the deployment it is given. A reference workflow that runs several graphs one after the
//! other (reinstall = uninstall then install; restart = stop then start) becomes one graph
//! with a barrier marker between the halves, so one execution state covers it and resume
//! needs no extra bookkeeping.

mod lifecycle;
mod scale;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::graph::{Builder, Graph, OperationTask, Related, Side, Step, Subgraph, TaskKind};
use crate::model::{Deployment, InstanceRelationship, NodeInstance, Operation};
use lifecycle::Processor;
pub use scale::{plan_scale, ScaleParams, ScalePlan};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkflowError {
    #[error("no node instance with id `{0}` was found")]
    UnknownInstance(String),
    #[error("no scalable entity named `{0}` was found")]
    UnknownEntity(String),
    #[error("duplicate definition of `{input}` in operation `{operation}` inputs and in kwargs; to allow redefinition, pass allow_kwargs_override")]
    KwargsOverride { operation: String, input: String },
    #[error("{0}")]
    Invalid(String),
}

/// Which node instances a workflow acts on (`_filter_node_instances`): all filters that are
/// given must match; empty filters match everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    pub node_ids: Vec<String>,
    pub node_instance_ids: Vec<String>,
    pub type_names: Vec<String>,
}

impl Filter {
    fn select(&self, deployment: &Deployment) -> HashSet<String> {
        deployment
            .instances
            .iter()
            .filter(|instance| {
                let node = deployment.node_of(instance);
                (self.node_ids.is_empty() || self.node_ids.contains(&node.id))
                    && (self.type_names.is_empty()
                        || self
                            .type_names
                            .iter()
                            .any(|t| node.type_hierarchy.contains(t)))
                    && (self.node_instance_ids.is_empty()
                        || self.node_instance_ids.contains(&instance.id))
            })
            .map(|i| i.id.clone())
            .collect()
    }
}

/// `execute_operation`'s parameters (also used by start / stop / restart).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecuteOperation {
    pub operation: String,
    pub operation_kwargs: Map<String, Value>,
    pub allow_kwargs_override: bool,
    pub run_by_dependency_order: bool,
    #[serde(flatten)]
    pub filter: Filter,
}

/// A built-in workflow with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Workflow {
    Install(Filter),
    Uninstall {
        filter: Filter,
        ignore_failure: bool,
    },
    Reinstall {
        filter: Filter,
        ignore_failure: bool,
    },
    Start {
        operation_parms: Map<String, Value>,
        run_by_dependency_order: bool,
        filter: Filter,
    },
    Stop {
        operation_parms: Map<String, Value>,
        run_by_dependency_order: bool,
        filter: Filter,
    },
    Restart {
        stop_parms: Map<String, Value>,
        start_parms: Map<String, Value>,
        run_by_dependency_order: bool,
        filter: Filter,
    },
    ExecuteOperation(ExecuteOperation),
    /// Reinstalls the contained subgraph of the failing instance's host (or of the instance
    /// itself when it has no host), as the reference heal does when no instance of that
    /// subgraph defines `cloudify.interfaces.lifecycle.heal` or passes `check_status`.
    /// Not modelled yet: the status check and the preheal/heal/postheal path.
    Heal {
        node_instance_id: String,
        ignore_failure: bool,
    },
}

fn flag(params: &Map<String, Value>, key: &str, default: bool) -> Result<bool, WorkflowError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(other) => Err(WorkflowError::Invalid(format!(
            "parameter `{key}` must be a boolean, got {other}"
        ))),
    }
}

fn object(params: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, WorkflowError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(other) => Err(WorkflowError::Invalid(format!(
            "parameter `{key}` must be a dict, got {other}"
        ))),
    }
}

fn strings(params: &Map<String, Value>, key: &str) -> Result<Vec<String>, WorkflowError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    WorkflowError::Invalid(format!("parameter `{key}` must be a list of strings"))
                })
            })
            .collect(),
        Some(other) => Err(WorkflowError::Invalid(format!(
            "parameter `{key}` must be a list, got {other}"
        ))),
    }
}

fn string(params: &Map<String, Value>, key: &str) -> Result<String, WorkflowError> {
    match params.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(WorkflowError::Invalid(format!(
            "parameter `{key}` is required (a string)"
        ))),
    }
}

impl Workflow {
    /// A workflow from its Cloudify name and execution parameters (as `POST /executions`
    /// receives them; booleans may be strings). `scale` is planned with [`plan_scale`].
    /// Defaults for absent parameters are those of Cloudify's `types.yaml`.
    pub fn from_parameters(
        name: &str,
        params: &Map<String, Value>,
    ) -> Result<Workflow, WorkflowError> {
        let filter = Filter {
            node_ids: strings(params, "node_ids")?,
            node_instance_ids: strings(params, "node_instance_ids")?,
            type_names: strings(params, "type_names")?,
        };
        // Missing parameters take the defaults types.yaml declares (the runtime should pass
        // the parameters merged with the blueprint's declared defaults; those win).
        let by_order = flag(
            params,
            "run_by_dependency_order",
            matches!(name, "start" | "stop" | "restart"),
        )?;
        Ok(match name {
            "install" => Workflow::Install(filter),
            "uninstall" => Workflow::Uninstall {
                filter,
                ignore_failure: flag(params, "ignore_failure", false)?,
            },
            "reinstall" => Workflow::Reinstall {
                filter,
                ignore_failure: flag(params, "ignore_failure", false)?,
            },
            "start" => Workflow::Start {
                operation_parms: object(params, "operation_parms")?,
                run_by_dependency_order: by_order,
                filter,
            },
            "stop" => Workflow::Stop {
                operation_parms: object(params, "operation_parms")?,
                run_by_dependency_order: by_order,
                filter,
            },
            "restart" => Workflow::Restart {
                stop_parms: object(params, "stop_parms")?,
                start_parms: object(params, "start_parms")?,
                run_by_dependency_order: by_order,
                filter,
            },
            "execute_operation" => Workflow::ExecuteOperation(ExecuteOperation {
                operation: string(params, "operation")?,
                operation_kwargs: object(params, "operation_kwargs")?,
                allow_kwargs_override: flag(params, "allow_kwargs_override", false)?,
                run_by_dependency_order: by_order,
                filter,
            }),
            "heal" => Workflow::Heal {
                node_instance_id: string(params, "node_instance_id")?,
                ignore_failure: flag(params, "ignore_failure", true)?,
            },
            other => {
                return Err(WorkflowError::Invalid(format!(
                    "`{other}` is not a built-in graph workflow"
                )))
            }
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Workflow::Install(_) => "install",
            Workflow::Uninstall { .. } => "uninstall",
            Workflow::Reinstall { .. } => "reinstall",
            Workflow::Start { .. } => "start",
            Workflow::Stop { .. } => "stop",
            Workflow::Restart { .. } => "restart",
            Workflow::ExecuteOperation(_) => "execute_operation",
            Workflow::Heal { .. } => "heal",
        }
    }
}

/// Builds the task graph of a workflow over a deployment.
pub fn build(deployment: &Deployment, workflow: &Workflow) -> Result<Graph, WorkflowError> {
    let mut builder = Builder::default();
    match workflow {
        Workflow::Install(filter) => {
            Processor::new(deployment, &filter.select(deployment), false, "")
                .install(&mut builder)?;
        }
        Workflow::Uninstall {
            filter,
            ignore_failure,
        } => {
            Processor::new(deployment, &filter.select(deployment), *ignore_failure, "")
                .uninstall(&mut builder)?;
        }
        Workflow::Reinstall {
            filter,
            ignore_failure,
        } => reinstall(
            deployment,
            &filter.select(deployment),
            *ignore_failure,
            &mut builder,
        )?,
        Workflow::Start {
            operation_parms,
            run_by_dependency_order,
            filter,
        } => {
            execute_operation(
                deployment,
                &lifecycle_params("start", operation_parms, *run_by_dependency_order, filter),
                &mut builder,
            )?;
        }
        Workflow::Stop {
            operation_parms,
            run_by_dependency_order,
            filter,
        } => {
            execute_operation(
                deployment,
                &lifecycle_params("stop", operation_parms, *run_by_dependency_order, filter),
                &mut builder,
            )?;
        }
        Workflow::Restart {
            stop_parms,
            start_parms,
            run_by_dependency_order,
            filter,
        } => {
            let stop_ends = execute_operation(
                deployment,
                &lifecycle_params("stop", stop_parms, *run_by_dependency_order, filter),
                &mut builder,
            )?;
            let barrier = barrier(&mut builder, "stop_done", &stop_ends);
            let first = builder.tasks.len();
            execute_operation(
                deployment,
                &lifecycle_params("start", start_parms, *run_by_dependency_order, filter),
                &mut builder,
            )?;
            after(&mut builder, first, barrier);
        }
        Workflow::ExecuteOperation(params) => {
            execute_operation(deployment, params, &mut builder)?;
        }
        Workflow::Heal {
            node_instance_id,
            ignore_failure,
        } => {
            let failing = deployment
                .instance(node_instance_id)
                .ok_or_else(|| WorkflowError::UnknownInstance(node_instance_id.clone()))?;
            let root = failing
                .host_id
                .as_deref()
                .filter(|h| deployment.instance(h).is_some())
                .unwrap_or(&failing.id);
            let selected: HashSet<String> =
                deployment.contained_subgraph(root).into_iter().collect();
            reinstall(deployment, &selected, *ignore_failure, &mut builder)?;
        }
    }
    Ok(builder.finish(workflow.name()))
}

fn lifecycle_params(
    name: &str,
    kwargs: &Map<String, Value>,
    run_by_dependency_order: bool,
    filter: &Filter,
) -> ExecuteOperation {
    ExecuteOperation {
        operation: format!("cloudify.interfaces.lifecycle.{name}"),
        operation_kwargs: kwargs.clone(),
        allow_kwargs_override: true,
        run_by_dependency_order,
        filter: filter.clone(),
    }
}

/// A marker waiting for `ends`.
fn barrier(builder: &mut Builder, name: &str, ends: &[u32]) -> u32 {
    let id = builder.marker(name.to_string());
    for &end in ends {
        builder.depend(id, end);
    }
    id
}

/// Makes every task created from `first` on that has no dependency wait for `barrier` (the
/// second graph of a two-graph workflow starts when the first has ended).
fn after(builder: &mut Builder, first: usize, barrier: u32) {
    for id in first..builder.tasks.len() {
        if builder.tasks[id].deps.is_empty() {
            builder.depend(id as u32, barrier);
        }
    }
}

/// `reinstall_node_instances`: the uninstall graph, then the install graph built from the
/// states uninstall leaves (`deleted`).
fn reinstall(
    deployment: &Deployment,
    selected: &HashSet<String>,
    ignore_failure: bool,
    builder: &mut Builder,
) -> Result<(), WorkflowError> {
    let ends =
        Processor::new(deployment, selected, ignore_failure, "reinstall-").uninstall(builder)?;
    let barrier = barrier(builder, "uninstall_done", &ends);
    let first = builder.tasks.len();
    let mut install = Processor::new(deployment, selected, false, "reinstall-");
    install.state_override = Some("deleted");
    install.install(builder)?;
    after(builder, first, barrier);
    Ok(())
}

/// `_make_execute_operation_graph`.
fn execute_operation(
    deployment: &Deployment,
    params: &ExecuteOperation,
    builder: &mut Builder,
) -> Result<Vec<u32>, WorkflowError> {
    let selected = params.filter.select(deployment);
    let mut subgraphs = std::collections::HashMap::new();
    let mut ends = Vec::new();
    for instance in &deployment.instances {
        let chosen = selected.contains(&instance.id);
        if !chosen && !params.run_by_dependency_order {
            continue;
        }
        let subgraph = Subgraph::new(builder, &instance.id);
        ends.push(subgraph.end);
        subgraphs.insert(instance.id.as_str(), subgraph);
        if !chosen
            || !deployment
                .node_of(instance)
                .has_operation(&params.operation)
        {
            continue;
        }
        let mut message = format!("Starting operation {}", params.operation);
        if !params.operation_kwargs.is_empty() {
            message += &format!(
                " (Operation parameters: {})",
                Value::Object(params.operation_kwargs.clone())
            );
        }
        let kind = op_step(
            deployment,
            instance,
            &params.operation,
            Some(&params.operation_kwargs),
            params.allow_kwargs_override,
        )?
        .ok_or_else(|| WorkflowError::Invalid("operation vanished".into()))?;
        subgraph.sequence(
            builder,
            vec![
                Step::One(event(&instance.id, &message)),
                Step::One(kind),
                Step::One(event(
                    &instance.id,
                    &format!("Finished operation {}", params.operation),
                )),
            ],
        );
    }
    if params.run_by_dependency_order {
        for instance in &deployment.instances {
            for rel in &instance.relationships {
                let source = subgraphs[instance.id.as_str()];
                let target = subgraphs[rel.target_id.as_str()];
                builder.depend(source.start, target.end);
            }
        }
    }
    Ok(ends)
}

pub(crate) fn event(instance: &str, message: &str) -> TaskKind {
    TaskKind::Event {
        instance: Some(instance.to_string()),
        message: message.to_string(),
    }
}

pub(crate) fn set_state(instance: &str, state: &str) -> TaskKind {
    TaskKind::SetState {
        instance: instance.to_string(),
        state: state.to_string(),
    }
}

fn seconds_to_ms(seconds: Option<f64>) -> Option<u64> {
    seconds
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| (s * 1000.0).round() as u64)
}

fn operation_task(
    instance: &NodeInstance,
    name: &str,
    op: &Operation,
    kwargs: Option<&Map<String, Value>>,
    allow_kwargs_override: bool,
    related: Option<Related>,
) -> Result<TaskKind, WorkflowError> {
    let mut inputs = op.inputs.clone();
    for (key, value) in kwargs.into_iter().flatten() {
        if !allow_kwargs_override && op.inputs.contains_key(key) {
            return Err(WorkflowError::KwargsOverride {
                operation: name.to_string(),
                input: key.clone(),
            });
        }
        inputs.insert(key.clone(), value.clone());
    }
    Ok(TaskKind::Operation(Box::new(OperationTask {
        node_instance_id: instance.id.clone(),
        node_id: instance.node_id.clone(),
        host_id: instance.host_id.clone(),
        operation: name.to_string(),
        plugin: op.plugin.clone(),
        implementation: op.implementation.clone(),
        executor: op.executor.clone(),
        inputs,
        has_intrinsic_functions: op.has_intrinsic_functions,
        max_retries: op.max_retries,
        retry_interval_ms: seconds_to_ms(op.retry_interval),
        timeout_ms: seconds_to_ms(op.timeout),
        timeout_recoverable: op.timeout_recoverable,
        related,
    })))
}

/// A node operation task, or `None` when the operation is absent or empty (a NOP).
pub(crate) fn op_step(
    deployment: &Deployment,
    instance: &NodeInstance,
    name: &str,
    kwargs: Option<&Map<String, Value>>,
    allow_kwargs_override: bool,
) -> Result<Option<TaskKind>, WorkflowError> {
    let node = deployment.node_of(instance);
    match node.operations.get(name) {
        Some(op) if !op.implementation.is_empty() => Ok(Some(operation_task(
            instance,
            name,
            op,
            kwargs,
            allow_kwargs_override,
            None,
        )?)),
        _ => Ok(None),
    }
}

/// A relationship operation on one side (`execute_source_operation` /
/// `execute_target_operation`), or `None` when empty.
pub(crate) fn relationship_op(
    deployment: &Deployment,
    source: &NodeInstance,
    rel: &InstanceRelationship,
    side: Side,
    name: &str,
) -> Result<Option<TaskKind>, WorkflowError> {
    let Some(relationship) = deployment.node_of(source).relationship_to(&rel.target_name) else {
        return Ok(None);
    };
    let target = deployment
        .instance(&rel.target_id)
        .ok_or_else(|| WorkflowError::UnknownInstance(rel.target_id.clone()))?;
    let (operations, owner, other) = match side {
        Side::Source => (&relationship.source_operations, source, target),
        Side::Target => (&relationship.target_operations, target, source),
    };
    match operations.get(name) {
        Some(op) if !op.implementation.is_empty() => Ok(Some(operation_task(
            owner,
            name,
            op,
            None,
            false,
            Some(Related {
                node_instance_id: other.id.clone(),
                node_id: other.node_id.clone(),
                side,
            }),
        )?)),
        _ => Ok(None),
    }
}
