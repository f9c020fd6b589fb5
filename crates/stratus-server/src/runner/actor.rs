//! One execution, driven: build or reload its graph, then step / commit / act until it ends.

use std::collections::HashMap;

use serde_json::{json, Value};
use stratus_engine::{
    Command, Event, Execution, Graph, Progress, ProgressDelta, Status, TaskId, TaskState,
};
use stratus_store::Write;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::commit::{commit, progress_key, Step};
use super::executors::Outcome;
use super::job::{job, run_job};
use super::Input;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::state::{kind, Tables};

fn graph_key(tenant: &str, id: &str) -> String {
    format!("execution/{tenant}/{id}/graph")
}

/// What the actor knows about its execution.
pub(super) struct Context {
    pub(super) tenant: String,
    pub(super) id: String,
    pub(super) deployment_id: String,
    pub(super) blueprint_id: String,
    pub(super) workflow_id: String,
    pub(super) blueprint_dir: std::path::PathBuf,
    /// Steps stored so far (the next delta's number).
    pub(super) seq: u64,
    /// Each node's `plugins` list, read once (every operation of the node needs it).
    pub(super) plugins: HashMap<String, Value>,
    /// A dry run, as in Cloudify: operations are not run and instance states do not change;
    /// task events say "(dry run)".
    pub(super) dry_run: bool,
    /// The fields every event of this execution has alike, as JSON text (`commit` fills it).
    pub(super) event_fields: String,
    /// The instance bodies this execution last wrote, with the version each was written at:
    /// the next round changes them without parsing the row again (`commit`). An entry whose
    /// version is not the row's (someone else wrote it since) is not used.
    pub(super) written: HashMap<String, (i64, serde_json::Map<String, Value>)>,
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

/// The engine's model of the deployment, read from the stored text of its node and instance
/// rows (`Deployment::from_texts`: typed fields, no `serde_json` maps for the operations).
fn deployment_model(
    tables: &Tables,
    tenant: &str,
    deployment_id: &str,
) -> Result<stratus_engine::Deployment, stratus_engine::ModelError> {
    let of = |k: &str| -> Vec<&str> {
        tables
            .table(k)
            .tenant_rows(tenant)
            .into_iter()
            .flat_map(|rows| rows.values())
            .filter(|row| row.str_field("deployment_id") == deployment_id)
            .map(|row| row.raw())
            .collect()
    };
    stratus_engine::Deployment::from_texts(&of(kind::NODES), &of(kind::NODE_INSTANCES))
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
        event_fields: String::new(),
        written: HashMap::new(),
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
            let deployment = app
                .shared
                .read(|tables| deployment_model(tables, tenant, &context.deployment_id))
                .map_err(|e| {
                    ApiError::bad_parameters(format!("deployment {}: {e}", context.deployment_id))
                })?;
            // Every node's plugins, from the same read (a resumed execution reads them per
            // node when first needed).
            context.plugins = deployment
                .nodes
                .iter()
                .map(|node| (node.id.clone(), json!({ "plugins": node.plugins })))
                .collect();
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
        let now = crate::clock::now_millis() as u64;
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
                            at.saturating_sub(crate::clock::now_millis() as u64),
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
