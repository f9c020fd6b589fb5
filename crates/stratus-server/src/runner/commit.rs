//! Committing one round of an execution: everything the round changed — its progress delta,
//! instance states, runtime-property patches, events, the execution record — in one batch,
//! before any of its commands is acted on.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use stratus_engine::{Command, EmittedEvent, Execution, ProgressDelta, Status, TaskKind};
use stratus_store::Write;

use super::actor::Context;
use super::event_json::ObjectText;
use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::state::{kind, Tables};

pub(super) fn step_key(tenant: &str, id: &str, seq: u64) -> String {
    format!("execution/{tenant}/{id}/step/{seq:010}")
}

pub(super) fn progress_key(tenant: &str, id: &str) -> String {
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

/// An instance body being changed within one batch.
struct Pending {
    body: Map<String, Value>,
    version: i64,
}

/// The body of a task's or the workflow's event, as JSON text (`event_json`), with the fields
/// and order Cloudify's events have.
fn event_body(
    context: &Context,
    emitted: &EmittedEvent,
    at: &str,
    node_of: &dyn Fn(&str) -> Option<String>,
) -> String {
    let dry_run_message;
    let message = if context.dry_run && emitted.task.is_some() {
        dry_run_message = format!("{} (dry run)", emitted.message);
        &dry_run_message
    } else {
        &emitted.message
    };
    let node_name = emitted.node_instance_id.as_deref().and_then(node_of);
    let mut body = ObjectText::new();
    body.field("timestamp", Some(at))
        .field("reported_timestamp", Some(at))
        .fields(r#""type":"cloudify_event""#)
        .field("event_type", Some(&emitted.event_type))
        .field("message", Some(message))
        .fields(&context.event_fields)
        .field("node_instance_id", emitted.node_instance_id.as_deref())
        .field("node_name", node_name.as_deref())
        .field("operation", emitted.operation.as_deref())
        .fields(r#""source_id":null,"target_id":null,"error_causes":null"#);
    body.finish()
}

/// The fields every event of an execution has alike, rendered once.
fn event_fields(context: &Context) -> String {
    let mut fields = ObjectText::new();
    fields
        .field("blueprint_id", Some(&context.blueprint_id))
        .field("deployment_id", Some(&context.deployment_id))
        .field("execution_id", Some(&context.id))
        .field("workflow_id", Some(&context.workflow_id))
        .field("tenant_name", Some(&context.tenant));
    fields.into_fields()
}

/// What one round of stepping produced, to be committed together.
pub(super) struct Step {
    pub(super) delta: ProgressDelta,
    pub(super) commands: Vec<Command>,
    pub(super) reports: Vec<super::Report>,
    pub(super) logs: Vec<(String, String, String, String)>,
    pub(super) finished: Option<Status>,
}

/// One atomic batch: the step's progress delta, instance states, runtime-property patches,
/// events and the execution record.
pub(super) async fn commit(
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
    if context.event_fields.is_empty() {
        context.event_fields = event_fields(context);
    }
    let mut written = std::mem::take(&mut context.written);
    let ctx = &*context;
    let (fresh, _) = app
        .shared
        .write(|tables| {
            let mut batch = Vec::new();
            let mut fresh = HashMap::new();
            let mut instances: HashMap<String, Pending> = HashMap::new();
            let mut touch = |instances: &mut HashMap<String, Pending>, id: &str| -> bool {
                if instances.contains_key(id) {
                    return true;
                }
                match tables.get(kind::NODE_INSTANCES, &tenant, id) {
                    Some(row) => {
                        // The body this execution last wrote, if the row is still that version;
                        // else the row's text, parsed.
                        let body = match written.remove(id) {
                            Some((version, body)) if version == row.version => body,
                            _ => match row.body() {
                                Value::Object(body) => body,
                                _ => Map::new(),
                            },
                        };
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
                fresh.insert(id.clone(), (pending.version + 1, body.clone()));
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
            // A round's events mostly share their millisecond: each is formatted once.
            let mut formatted: Option<(u64, String)> = None;
            for command in commands {
                if let Command::Emit(emitted) = command {
                    let at = match &formatted {
                        Some((millis, text)) if *millis == emitted.at => text.clone(),
                        _ => {
                            let text = crate::clock::format_millis(emitted.at as i64);
                            formatted = Some((emitted.at, text.clone()));
                            text
                        }
                    };
                    let body = event_body(ctx, emitted, &at, &node_of);
                    batch.push(Write::AppendEvent(stratus_store::NewEvent {
                        tenant: tenant.clone(),
                        deployment_id: ctx.deployment_id.clone(),
                        execution_id: ctx.id.clone(),
                        timestamp: at,
                        kind: "cloudify_event".into(),
                        event_type: emitted.event_type.clone(),
                        body,
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
                batch.push(Write::AppendEvent(stratus_store::NewEvent {
                    tenant: tenant.clone(),
                    deployment_id: ctx.deployment_id.clone(),
                    execution_id: ctx.id.clone(),
                    timestamp: now_text.clone(),
                    kind: "cloudify_log".into(),
                    event_type: level,
                    body: body.to_string(),
                }));
            }
            // The execution record: status, counters, times.
            // Rewritten only when its status or counter moved (read from the row's scalar
            // fields, so an unchanged record costs no parse).
            if let Some(row) = tables.get(kind::EXECUTIONS, &tenant, &ctx.id) {
                let text = status_text(status);
                if row.field("status").and_then(Value::as_str) != Some(text)
                    || row.field("finished_operations").and_then(Value::as_u64) != Some(done as u64)
                    || finished.is_some()
                {
                    let mut body = match row.body() {
                        Value::Object(body) => body,
                        _ => Map::new(),
                    };
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
            Ok((batch, fresh))
        })
        .await?;
    written.extend(fresh);
    context.written = written;
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
