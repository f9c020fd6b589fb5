//! One execution, driven: build or reload its graph, then step / commit / act until it ends.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use stratus_engine::{
    Command, EmittedEvent, Event, Execution, Graph, Progress, ProgressDelta, Status, TaskId,
    TaskKind, TaskState,
};
use stratus_store::Write;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::executors::{Job, Outcome, Side};
use super::Input;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::state::{kind, Tables};

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn graph_key(tenant: &str, id: &str) -> String {
    format!("execution/{tenant}/{id}/graph")
}

fn step_key(tenant: &str, id: &str, seq: u64) -> String {
    format!("execution/{tenant}/{id}/step/{seq:010}")
}

fn progress_key(tenant: &str, id: &str) -> String {
    format!("execution/{tenant}/{id}/progress")
}

fn status_text(status: Status) -> &'static str {
    match status {
        Status::Pending => "pending",
        Status::Started => "started",
        Status::Cancelling => "cancelling",
        Status::Terminated => "terminated",
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
    }
}

/// What the actor knows about its execution.
struct Context {
    tenant: String,
    id: String,
    deployment_id: String,
    blueprint_id: String,
    workflow_id: String,
    blueprint_dir: std::path::PathBuf,
    /// Steps stored so far (the next delta's number).
    seq: u64,
    /// Each node's `plugins` list, read once (every operation of the node needs it).
    plugins: HashMap<String, Value>,
    /// A dry run, as in Cloudify: operations are not run and instance states do not change;
    /// task events say "(dry run)".
    dry_run: bool,
}

pub async fn drive(
    app: App,
    tenant: String,
    id: String,
    mut inbox: mpsc::UnboundedReceiver<Input>,
    outbox: mpsc::UnboundedSender<Input>,
) {
    if let Err(error) = run(&app, &tenant, &id, &mut inbox, &outbox).await {
        tracing::error!(execution_id = %id, "execution failed to run: {}", error.message);
        let _ = fail(&app, &tenant, &id, &error.message).await;
    }
}

/// Marks an execution failed when it cannot even be driven (no deployment, bad parameters).
async fn fail(app: &App, tenant: &str, id: &str, message: &str) -> ApiResult<()> {
    let now = crate::clock::now();
    app.shared
        .write(|tables| {
            let Some(row) = tables.get(kind::EXECUTIONS, tenant, id) else {
                return Ok((Vec::new(), ()));
            };
            let mut body = row.body();
            if let Value::Object(map) = &mut body {
                crate::resources::executions::set_status(map, "failed", &now);
                map.insert("error".into(), json!(message));
            }
            let mut batch = vec![Write::Put {
                kind: kind::EXECUTIONS.into(),
                tenant: tenant.into(),
                id: id.into(),
                body: body.clone(),
                expected_version: Some(row.version),
            }];
            batch.push(crate::resources::events::execution_event(
                tenant,
                &body,
                &now,
                "workflow_failed",
                message,
            ));
            Ok((batch, ()))
        })
        .await
        .map(|_| ())
}

fn deployment_records(
    tables: &Tables,
    tenant: &str,
    deployment_id: &str,
) -> (Vec<Value>, Vec<Value>) {
    let of = |k: &str| -> Vec<Value> {
        tables
            .table(k)
            .tenant_rows(tenant)
            .into_iter()
            .flat_map(|rows| rows.values())
            .filter(|row| row.str_field("deployment_id") == deployment_id)
            .map(|row| row.body())
            .collect()
    };
    (of(kind::NODES), of(kind::NODE_INSTANCES))
}

async fn load_progress(
    app: &App,
    tenant: &str,
    id: &str,
    graph: &Graph,
) -> ApiResult<(Progress, u64)> {
    let (tenant, id) = (tenant.to_string(), id.to_string());
    let len = graph.len();
    app.shared
        .blocking(move |store| {
            let mut progress = match store.blob(&progress_key(&tenant, &id))? {
                Some(bytes) => serde_json::from_slice(&bytes).ok(),
                None => None,
            }
            .unwrap_or(Progress {
                status: Status::Pending,
                tasks: vec![TaskState::Pending; len],
                first_error_at: None,
                error: None,
            });
            let prefix = format!("execution/{tenant}/{id}/step/");
            let mut seq = 0;
            for key in store
                .blob_keys()?
                .into_iter()
                .filter(|k| k.starts_with(&prefix))
            {
                if let Some(bytes) = store.blob(&key)? {
                    if let Ok(delta) = serde_json::from_slice::<ProgressDelta>(&bytes) {
                        let _ = progress.apply(&delta);
                    }
                }
                seq += 1;
            }
            Ok((progress, seq))
        })
        .await
}

async fn run(
    app: &App,
    tenant: &str,
    id: &str,
    inbox: &mut mpsc::UnboundedReceiver<Input>,
    outbox: &mpsc::UnboundedSender<Input>,
) -> ApiResult<()> {
    let row = app
        .shared
        .read(|tables| tables.get(kind::EXECUTIONS, tenant, id).cloned())
        .ok_or_else(|| ApiError::not_found(format!("execution {id} is gone")))?;
    let body = row.body();
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let resumed_by_user = body.get("resume") == Some(&Value::Bool(true));
    let mut context = Context {
        tenant: tenant.to_string(),
        id: id.to_string(),
        deployment_id: text("deployment_id"),
        blueprint_id: text("blueprint_id"),
        workflow_id: text("workflow_id"),
        blueprint_dir: std::path::PathBuf::new(),
        seq: 0,
        plugins: HashMap::new(),
        dry_run: body.get("is_dry_run") == Some(&Value::Bool(true)),
    };
    let blueprint = app
        .shared
        .read(|tables| {
            tables
                .get(kind::BLUEPRINTS, tenant, &context.blueprint_id)
                .cloned()
                .or_else(|| {
                    tables
                        .table(kind::BLUEPRINTS)
                        .global_rows()
                        .find(|row| row.id == context.blueprint_id)
                        .cloned()
                })
        })
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "blueprint {} of the execution is gone",
                context.blueprint_id
            ))
        })?;
    context.blueprint_dir =
        crate::resources::blueprints::ensure_unpacked(app, &blueprint.tenant, &blueprint.id)
            .await?;

    let stored_graph = {
        let key = graph_key(tenant, id);
        app.shared.blocking(move |store| store.blob(&key)).await?
    };
    let settings = app.runner.settings.clone();
    let (mut execution, first) = match stored_graph {
        Some(bytes) => {
            let graph: Graph = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::internal(format!("stored graph of execution {id} is unreadable: {e}"))
            })?;
            let (progress, seq) = load_progress(app, tenant, id, &graph).await?;
            context.seq = seq;
            let first = if progress.status == Status::Pending {
                Event::Started
            } else {
                // A user's resume re-runs the failed operations, as Cloudify's does (it resets
                // failed operations to pending); a restart's resume only re-sends those in flight.
                Event::Resumed {
                    force: resumed_by_user,
                }
            };
            (Execution::resume(graph, settings, progress), first)
        }
        None => {
            let parameters = body
                .get("parameters")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let (nodes, instances) = app
                .shared
                .read(|tables| deployment_records(tables, tenant, &context.deployment_id));
            let deployment =
                stratus_engine::Deployment::from_json(&nodes, &instances).map_err(|e| {
                    ApiError::bad_parameters(format!("deployment {}: {e}", context.deployment_id))
                })?;
            let (graph, mut writes) = if context.workflow_id == "scale" {
                let deployment_body = app
                    .shared
                    .read(|tables| {
                        tables
                            .get(kind::DEPLOYMENTS, tenant, &context.deployment_id)
                            .map(|row| row.body())
                    })
                    .unwrap_or(Value::Null);
                let plan = super::scale::plan(&deployment, &parameters, &deployment_body)?;
                let writes = app.shared.read(|tables| {
                    let mut writes =
                        super::scale::records(tables, tenant, &context.deployment_id, &plan);
                    // Which instances the scale removes, kept with the execution (for resume).
                    if let Some(row) = tables.get(kind::EXECUTIONS, tenant, id) {
                        let mut body = row.body();
                        if let Value::Object(map) = &mut body {
                            map.insert("_scale_removed".into(), json!(plan.removed));
                        }
                        writes.push(Write::Put {
                            kind: kind::EXECUTIONS.into(),
                            tenant: tenant.into(),
                            id: id.into(),
                            body,
                            expected_version: Some(row.version),
                        });
                    }
                    writes
                });
                (plan.graph, writes)
            } else {
                let workflow =
                    stratus_engine::Workflow::from_parameters(&context.workflow_id, &parameters)
                        .map_err(|e| {
                            ApiError::bad_parameters(format!(
                                "workflow {}: {e}",
                                context.workflow_id
                            ))
                        })?;
                let graph = stratus_engine::build(&deployment, &workflow).map_err(|e| {
                    ApiError::bad_parameters(format!("workflow {}: {e}", context.workflow_id))
                })?;
                (graph, Vec::new())
            };
            let bytes =
                serde_json::to_vec(&graph).map_err(|e| ApiError::internal(e.to_string()))?;
            writes.push(Write::PutBlob {
                key: graph_key(tenant, id),
                bytes,
            });
            // The graph and, for scale, the new and changed instance records, in one batch.
            app.shared.write(|_| Ok((writes, ()))).await?;
            (Execution::new(graph, settings), Event::Started)
        }
    };

    let mut running: HashMap<TaskId, AbortHandle> = HashMap::new();
    let mut pending = vec![Input::Engine(first)];
    loop {
        let now = now_millis();
        let mut commands = Vec::new();
        let mut reports = Vec::new();
        let mut logs = Vec::new();
        for input in pending.drain(..) {
            match input {
                Input::Log {
                    level,
                    message,
                    node_instance_id,
                    operation,
                } => logs.push((level, message, node_instance_id, operation)),
                Input::Engine(event) => commands.extend(execution.step(event, now)),
                Input::Report { id: task, report } => {
                    running.remove(&task);
                    let in_flight = matches!(
                        execution.progress().tasks.get(task as usize),
                        Some(TaskState::Sent { .. })
                    );
                    let event = match &report.outcome {
                        Outcome::Succeeded { result } => Event::TaskSucceeded {
                            id: task,
                            result: result.clone(),
                        },
                        Outcome::Failed {
                            error,
                            recoverable,
                            retry_after_ms,
                        } => Event::TaskFailed {
                            id: task,
                            error: error.clone(),
                            recoverable: *recoverable,
                            retry_after_ms: *retry_after_ms,
                        },
                        Outcome::RetryRequested {
                            message,
                            retry_after_ms,
                        } => Event::TaskRetryRequested {
                            id: task,
                            message: message.clone(),
                            retry_after_ms: *retry_after_ms,
                        },
                    };
                    commands.extend(execution.step(event, now));
                    if in_flight {
                        reports.push(report);
                    }
                }
            }
        }
        let delta = execution.take_delta();
        let finished = commands.iter().find_map(|c| match c {
            Command::Finished(status) => Some(*status),
            _ => None,
        });
        let step = Step {
            delta,
            commands,
            reports,
            logs,
            finished,
        };
        commit(app, &mut context, &execution, &step).await?;
        let commands = step.commands;
        for command in commands {
            match command {
                Command::RunTask {
                    id: task,
                    attempt,
                    max_retries,
                    task: operation,
                    ..
                } => {
                    if context.dry_run {
                        let _ = outbox.send(Input::Engine(Event::TaskStarted { id: task }));
                        let report = super::Report::of(Outcome::Succeeded {
                            result: Value::Null,
                        });
                        let _ = outbox.send(Input::Report { id: task, report });
                        continue;
                    }
                    let log_box = outbox.clone();
                    let instance = operation.node_instance_id.clone();
                    let operation_name = operation.operation.clone();
                    let log: super::executors::LogFn =
                        std::sync::Arc::new(move |level: &str, message: String| {
                            let _ = log_box.send(Input::Log {
                                level: level.to_string(),
                                message,
                                node_instance_id: instance.clone(),
                                operation: operation_name.clone(),
                            });
                        });
                    let job = job(app, &mut context, attempt, max_retries, *operation, log);
                    let outbox = outbox.clone();
                    let app = app.clone();
                    let _ = outbox.send(Input::Engine(Event::TaskStarted { id: task }));
                    let handle = tokio::spawn(async move {
                        let report = run_job(&app, job).await;
                        let _ = outbox.send(Input::Report { id: task, report });
                    });
                    running.insert(task, handle.abort_handle());
                }
                Command::ScheduleWake { at } => {
                    let outbox = outbox.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(
                            at.saturating_sub(now_millis()),
                        ))
                        .await;
                        let _ = outbox.send(Input::Engine(Event::Tick));
                    });
                }
                Command::Abort { ids } => {
                    for task in ids {
                        if let Some(handle) = running.remove(&task) {
                            handle.abort();
                        }
                    }
                }
                Command::Finished(_) => {
                    if std::env::var_os("STRATUS_DEBUG_COMMITS").is_some() {
                        eprintln!(
                            "execution {} finished after {} commits",
                            context.id, context.seq
                        );
                    }
                    for (_, handle) in running.drain() {
                        handle.abort();
                    }
                    return Ok(());
                }
                Command::SetInstanceState { .. } | Command::Emit(_) => {}
            }
        }
        match inbox.recv().await {
            Some(input) => pending.push(input),
            None => return Ok(()),
        }
        while let Ok(input) = inbox.try_recv() {
            pending.push(input);
        }
    }
}

/// Everything an executor needs, read from the committed state.
fn job(
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
    let wants_context = app
        .runner
        .executors
        .find(&plugin, &task)
        .map(|executor| executor.needs_context())
        .unwrap_or(false);
    let (own, related) = if wants_context {
        (
            side(&task.node_instance_id, &task.node_id),
            task.related
                .as_ref()
                .map(|r| side(&r.node_instance_id, &r.node_id)),
        )
    } else {
        (Side::default(), None)
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
        blueprint_dir: context.blueprint_dir.clone(),
        log,
    }
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

async fn run_job(app: &App, mut job: Job) -> super::Report {
    if job.task.has_intrinsic_functions {
        match evaluate_inputs(app, &job) {
            Ok(inputs) => job.task.inputs = inputs,
            Err(error) => {
                return super::Report::of(Outcome::Failed {
                    error: format!("evaluating the operation's inputs: {}", error.message),
                    recoverable: false,
                    retry_after_ms: None,
                })
            }
        }
    }
    let executor = match app.runner.executors.find(&job.plugin, &job.task) {
        Ok(executor) => executor,
        Err(unsupported) => {
            return super::Report::of(Outcome::Failed {
                error: unsupported.message,
                recoverable: false,
                retry_after_ms: None,
            })
        }
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

/// An instance body being changed within one batch.
struct Pending {
    body: Map<String, Value>,
    version: i64,
}

fn event_body(
    context: &Context,
    emitted: &EmittedEvent,
    node_of: &dyn Fn(&str) -> Option<String>,
) -> Value {
    let message = if context.dry_run && emitted.task.is_some() {
        format!("{} (dry run)", emitted.message)
    } else {
        emitted.message.clone()
    };
    let at = crate::clock::format_millis(emitted.at as i64);
    json!({
        "timestamp": at,
        "reported_timestamp": at,
        "type": "cloudify_event",
        "event_type": emitted.event_type,
        "message": message,
        "blueprint_id": context.blueprint_id,
        "deployment_id": context.deployment_id,
        "execution_id": context.id,
        "workflow_id": context.workflow_id,
        "tenant_name": context.tenant,
        "node_instance_id": emitted.node_instance_id,
        "node_name": emitted.node_instance_id.as_deref().and_then(node_of),
        "operation": emitted.operation,
        "source_id": null,
        "target_id": null,
        "error_causes": null,
    })
}

/// One atomic batch: the step's progress delta, instance states, runtime-property patches,
/// events and the execution record.
/// What one round of stepping produced, to be committed together.
struct Step {
    delta: ProgressDelta,
    commands: Vec<Command>,
    reports: Vec<super::Report>,
    logs: Vec<(String, String, String, String)>,
    finished: Option<Status>,
}

async fn commit(
    app: &App,
    context: &mut Context,
    execution: &Execution,
    step: &Step,
) -> ApiResult<()> {
    let Step {
        delta,
        commands,
        reports,
        logs,
        finished,
    } = step;
    let finished = *finished;
    let delta_bytes = serde_json::to_vec(delta).map_err(|e| ApiError::internal(e.to_string()))?;
    let progress_bytes = finished
        .map(|_| serde_json::to_vec(execution.progress()))
        .transpose()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let (total, done) = operation_counts(execution);
    let status = execution.status();
    let seq = context.seq;
    let now_text = crate::clock::now();
    let tenant = context.tenant.clone();
    let ctx = &*context;
    app.shared
        .write(|tables| {
            let mut batch = Vec::new();
            let mut instances: HashMap<String, Pending> = HashMap::new();
            let touch = |instances: &mut HashMap<String, Pending>, id: &str| -> bool {
                if instances.contains_key(id) {
                    return true;
                }
                match tables.get(kind::NODE_INSTANCES, &tenant, id) {
                    Some(row) => {
                        let body = row.body().as_object().cloned().unwrap_or_default();
                        instances.insert(
                            id.to_string(),
                            Pending {
                                body,
                                version: row.version,
                            },
                        );
                        true
                    }
                    None => false,
                }
            };
            for command in commands.iter().filter(|_| !ctx.dry_run) {
                if let Command::SetInstanceState { instance, state } = command {
                    if touch(&mut instances, instance) {
                        if let Some(pending) = instances.get_mut(instance) {
                            pending.body.insert("state".into(), json!(state));
                        }
                    }
                }
            }
            let mut log_events: Vec<(String, String, String, String)> = logs.clone();
            for report in reports {
                for (instance, patch) in &report.patches {
                    if touch(&mut instances, instance) {
                        if let Some(pending) = instances.get_mut(instance) {
                            let properties = pending
                                .body
                                .entry("runtime_properties")
                                .or_insert_with(|| json!({}));
                            if let Value::Object(properties) = properties {
                                for conflict in patch.apply(properties) {
                                    log_events.push(("warning".into(), conflict.to_string(), instance.clone(), String::new()));
                                }
                            }
                        }
                    }
                }
            }
            for (id, pending) in instances {
                let mut body = pending.body;
                body.insert("version".into(), json!(pending.version + 1));
                batch.push(Write::Put {
                    kind: kind::NODE_INSTANCES.into(),
                    tenant: tenant.clone(),
                    id,
                    body: Value::Object(body),
                    expected_version: Some(pending.version),
                });
            }
            let node_of = |instance: &str| {
                tables
                    .get(kind::NODE_INSTANCES, &tenant, instance)
                    .map(|row| row.str_field("node_id").to_string())
            };
            for command in commands {
                if let Command::Emit(emitted) = command {
                    batch.push(Write::AppendEvent(stratus_store::Event {
                        id: 0,
                        tenant: tenant.clone(),
                        deployment_id: ctx.deployment_id.clone(),
                        execution_id: ctx.id.clone(),
                        timestamp: crate::clock::format_millis(emitted.at as i64),
                        kind: "cloudify_event".into(),
                        event_type: emitted.event_type.clone(),
                        body: event_body(ctx, emitted, &node_of),
                    }));
                }
            }
            for (level, message, instance, operation) in log_events {
                let body = json!({
                    "timestamp": now_text, "reported_timestamp": now_text, "type": "cloudify_log",
                    "level": level, "message": message, "logger": "ctx",
                    "blueprint_id": ctx.blueprint_id, "deployment_id": ctx.deployment_id,
                    "execution_id": ctx.id, "workflow_id": ctx.workflow_id, "tenant_name": tenant,
                    "node_instance_id": instance, "node_name": node_of(&instance), "operation": operation,
                });
                batch.push(Write::AppendEvent(stratus_store::Event {
                    id: 0,
                    tenant: tenant.clone(),
                    deployment_id: ctx.deployment_id.clone(),
                    execution_id: ctx.id.clone(),
                    timestamp: now_text.clone(),
                    kind: "cloudify_log".into(),
                    event_type: level,
                    body,
                }));
            }
            // The execution record: status, counters, times.
            if let Some(row) = tables.get(kind::EXECUTIONS, &tenant, &ctx.id) {
                let mut body = row.body().as_object().cloned().unwrap_or_default();
                let text = status_text(status);
                if body.get("status").and_then(Value::as_str) != Some(text)
                    || body.get("finished_operations") != Some(&json!(done))
                    || finished.is_some()
                {
                    crate::resources::executions::set_status(&mut body, text, &now_text);
                    if body.get("started_at").is_none_or(Value::is_null) {
                        body.insert("started_at".into(), json!(now_text));
                    }
                    body.insert("total_operations".into(), json!(total));
                    body.insert("finished_operations".into(), json!(done));
                    if let Some(error) = &execution.progress().error {
                        body.insert("error".into(), json!(error));
                    }
                    batch.push(Write::Put {
                        kind: kind::EXECUTIONS.into(),
                        tenant: tenant.clone(),
                        id: ctx.id.clone(),
                        body: Value::Object(body),
                        expected_version: Some(row.version),
                    });
                }
            }
            match progress_bytes.clone() {
                // Finished: one compact progress replaces the deltas.
                Some(bytes) => {
                    batch.push(Write::PutBlob {
                        key: progress_key(&tenant, &ctx.id),
                        bytes,
                    });
                    for old in 0..seq {
                        batch.push(Write::DeleteBlob {
                            key: step_key(&tenant, &ctx.id, old),
                        });
                    }
                    if finished == Some(Status::Terminated) && !ctx.dry_run {
                        if ctx.workflow_id == "scale" {
                            batch.extend(super::scale::finish(tables, &tenant, &ctx.deployment_id, &ctx.id));
                        }
                        if let Some(write) = installation_status(tables, ctx) {
                            batch.push(write);
                        }
                    }
                }
                None => batch.push(Write::PutBlob {
                    key: step_key(&tenant, &ctx.id, seq),
                    bytes: delta_bytes.clone(),
                }),
            }
            Ok((batch, ()))
        })
        .await?;
    context.seq += 1;
    Ok(())
}

fn operation_counts(execution: &Execution) -> (usize, usize) {
    let graph = execution.graph();
    let mut total = 0;
    let mut done = 0;
    for (index, task) in graph.tasks.iter().enumerate() {
        if matches!(task.kind, TaskKind::Operation(_)) {
            total += 1;
            if execution
                .progress()
                .tasks
                .get(index)
                .is_some_and(|s| s.is_done())
            {
                done += 1;
            }
        }
    }
    (total, done)
}

/// `installation_status` follows install and uninstall, as in Cloudify.
fn installation_status(tables: &Tables, context: &Context) -> Option<Write> {
    let value = match context.workflow_id.as_str() {
        "install" => "active",
        "uninstall" => "inactive",
        _ => return None,
    };
    let row = tables.get(kind::DEPLOYMENTS, &context.tenant, &context.deployment_id)?;
    let mut body = row.body();
    if let Value::Object(map) = &mut body {
        map.insert("installation_status".into(), json!(value));
    }
    Some(Write::Put {
        kind: kind::DEPLOYMENTS.into(),
        tenant: context.tenant.clone(),
        id: context.deployment_id.clone(),
        body,
        expected_version: Some(row.version),
    })
}
