//! Executions: start, get, list, and the cancel / force-cancel / kill / resume actions.
//!
//! An execution started here is stored `pending` (or `queued` behind a running one) and then
//! handed to the runner (`crate::runner`), which drives it to its end. System workflows that
//! Stratus performs inline (`upload_blueprint`, `create_deployment_environment`) are recorded
//! as `terminated` in the same batch as their effect.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};
use stratus_store::Write;

use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Fields};
use crate::query::{pairs, ListParams};
use crate::state::{kind, Tables};

/// Statuses after which an execution never changes again (unless resumed).
pub const ENDED: [&str; 3] = ["terminated", "failed", "cancelled"];

pub struct NewExecution<'a> {
    pub workflow_id: &'a str,
    pub blueprint_id: Option<&'a str>,
    pub deployment_id: Option<&'a str>,
    pub status: &'a str,
    pub parameters: Value,
    pub system: bool,
}

/// A random UUID v4 in its usual text form.
pub fn uuid() -> String {
    let mut b = crypto::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn status_display(status: &str) -> &str {
    match status {
        "terminated" => "completed",
        other => other,
    }
}

pub fn set_status(body: &mut Map<String, Value>, status: &str, now: &str) {
    body.insert("status".into(), json!(status));
    body.insert("status_display".into(), json!(status_display(status)));
    if ENDED.contains(&status) {
        body.insert("ended_at".into(), json!(now));
    } else {
        body.insert("ended_at".into(), Value::Null);
    }
}

pub fn new_body(caller: &Caller, new: &NewExecution, now: &str) -> Value {
    let mut body = super::ownership(caller, "tenant", now);
    body.insert("id".into(), json!(uuid()));
    body.insert("workflow_id".into(), json!(new.workflow_id));
    body.insert("blueprint_id".into(), json!(new.blueprint_id));
    body.insert("deployment_id".into(), json!(new.deployment_id));
    body.insert("deployment_display_name".into(), json!(new.deployment_id));
    body.insert("parameters".into(), new.parameters.clone());
    body.insert("is_system_workflow".into(), json!(new.system));
    body.insert("is_dry_run".into(), json!(false));
    body.insert("error".into(), json!(""));
    body.insert(
        "started_at".into(),
        if new.status == "pending" || new.status == "queued" {
            Value::Null
        } else {
            json!(now)
        },
    );
    body.insert("scheduled_for".into(), Value::Null);
    body.insert("total_operations".into(), json!(0));
    body.insert("finished_operations".into(), json!(0));
    body.insert("allow_custom_parameters".into(), json!(false));
    body.insert("resume".into(), json!(false));
    set_status(&mut body, new.status, now);
    Value::Object(body)
}

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(query.as_deref());
    let include_system = crate::query::flag(&pairs, "_include_system_workflows")?
        || crate::query::flag(&pairs, "include_system_workflows")?;
    let params = ListParams::parse(&pairs, &["include_system_workflows"])?;
    let mut rows = super::visible_rows(&app, &caller, kind::EXECUTIONS, params.all_tenants);
    // Like the reference, system workflows are hidden only when nothing asks for them:
    // an explicit id, workflow_id or is_system_workflow filter shows them (ONAP's
    // deployment-handler polls `workflow_id=create_deployment_environment`).
    let explicit = ["id", "workflow_id", "is_system_workflow"]
        .iter()
        .any(|field| params.filters.contains_key(*field));
    if !include_system && !explicit {
        rows.retain(|row| row.field("is_system_workflow") != Some(&Value::Bool(true)));
    }
    Ok(crate::query::page(
        rows,
        &params,
        crate::query::Render::Stored,
    ))
}

pub async fn handle_get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    super::get_item(
        &app,
        &caller,
        kind::EXECUTIONS,
        "Execution",
        &id,
        query.as_deref(),
    )
}

/// The id of a running (not ended) execution of `deployment_id`, if any.
pub fn running(tables: &Tables, tenant: &str, deployment_id: &str) -> Option<String> {
    tables
        .table(kind::EXECUTIONS)
        .rows()
        .find(|row| {
            row.tenant == tenant
                && row.str_field("deployment_id") == deployment_id
                && !ENDED.contains(&row.str_field("status"))
                && row.str_field("status") != "queued"
        })
        .map(|row| row.id.clone())
}

/// Checks parameters against the workflow's declaration and fills in defaults.
fn parameters(
    declared: &Map<String, Value>,
    given: Map<String, Value>,
    allow_custom: bool,
) -> ApiResult<Map<String, Value>> {
    let mut out = Map::new();
    let mut missing = Vec::new();
    for (name, declaration) in declared {
        match given.get(name) {
            Some(value) => {
                out.insert(name.clone(), value.clone());
            }
            None => match declaration.get("default") {
                Some(default) => {
                    out.insert(name.clone(), default.clone());
                }
                None => missing.push(name.clone()),
            },
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "illegal_execution_parameters_error",
            format!(
                "Workflow parameters without a default value were not given: {}",
                missing.join(", ")
            ),
        ));
    }
    let custom: Vec<String> = given
        .keys()
        .filter(|k| !declared.contains_key(*k))
        .cloned()
        .collect();
    if !custom.is_empty() && !allow_custom {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "illegal_execution_parameters_error",
            format!(
                "Workflow parameters that are not declared were given: {}; set allow_custom_parameters to pass them",
                custom.join(", ")
            ),
        ));
    }
    for name in custom {
        if let Some(value) = given.get(&name) {
            out.insert(name, value.clone());
        }
    }
    Ok(out)
}

pub async fn handle_start(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> ApiResult<Response> {
    let fields = body.object()?;
    let deployment_id = fields.required_string("deployment_id")?;
    let workflow_id = fields.required_string("workflow_id")?;
    let given = fields.object("parameters")?.unwrap_or_default();
    let allow_custom = fields.flag("allow_custom_parameters")?;
    let force = fields.flag("force")?;
    let dry_run = fields.flag("dry_run")?;
    let queue = fields.flag("queue")?;
    let now = clock::now();
    let (execution, _) = app
        .shared
        .write(|tables| {
            let deployment = tables
                .get(kind::DEPLOYMENTS, &caller.tenant, &deployment_id)
                .ok_or_else(|| ApiError::not_found(format!("Requested `Deployment` with ID `{deployment_id}` was not found")))?;
            let workflows = deployment.lookup("workflows");
            let workflow = workflows
                .as_ref()
                .and_then(Value::as_array)
                .and_then(|all| all.iter().find(|w| w.get("name").and_then(Value::as_str) == Some(workflow_id.as_str())))
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "nonexistent_workflow_error",
                        format!("Workflow {workflow_id} does not exist in deployment {deployment_id}"),
                    )
                })?;
            let declared = workflow.get("parameters").and_then(Value::as_object).cloned().unwrap_or_default();
            let parameters = parameters(&declared, given.clone(), allow_custom)?;
            let status = match running(tables, &caller.tenant, &deployment_id) {
                Some(_) if force => "pending",
                Some(_) if queue => "queued",
                Some(other) => {
                    return Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "existing_running_execution_error",
                        format!("The following executions are currently running for this deployment: ['{other}']. To execute this workflow anyway, pass \"force=true\" as a query parameter to this request"),
                    ))
                }
                None => "pending",
            };
            let mut execution = new_body(
                &caller,
                &NewExecution {
                    workflow_id: &workflow_id,
                    blueprint_id: Some(deployment.str_field("blueprint_id")),
                    deployment_id: Some(&deployment_id),
                    status,
                    parameters: Value::Object(parameters),
                    system: false,
                },
                &now,
            );
            if let Value::Object(map) = &mut execution {
                map.insert("is_dry_run".into(), json!(dry_run));
                map.insert("allow_custom_parameters".into(), json!(allow_custom));
            }
            let id = execution["id"].as_str().unwrap_or_default().to_string();
            let mut deployment_body = super::object_of(&deployment.body());
            deployment_body.insert("latest_execution".into(), json!(id));
            let batch = vec![
                Write::Insert {
                    kind: kind::EXECUTIONS.into(),
                    tenant: caller.tenant.clone(),
                    id,
                    body: execution.clone(),
                },
                Write::Put {
                    kind: kind::DEPLOYMENTS.into(),
                    tenant: caller.tenant.clone(),
                    id: deployment_id.clone(),
                    body: Value::Object(deployment_body),
                    expected_version: Some(deployment.version),
                },
                super::events::execution_event(&caller.tenant, &execution, &now, "workflow_queued", &format!("'{workflow_id}' workflow execution queued")),
            ];
            Ok((batch, execution))
        })
        .await?;
    if execution["status"] == "pending" {
        let id = execution["id"].as_str().unwrap_or_default();
        crate::runner::start(&app, &caller.tenant, id);
    }
    Ok(super::respond(StatusCode::CREATED, execution))
}

pub async fn handle_action(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let fields = body.object()?;
    let action = fields.required_string("action")?;
    let now = clock::now();
    let running = app.runner.is_running(&caller.tenant, &id);
    let (execution, _) = app
        .shared
        .write(|tables| {
            let row = tables
                .get(kind::EXECUTIONS, &caller.tenant, &id)
                .ok_or_else(|| ApiError::not_found(format!("Requested `Execution` with ID `{id}` was not found")))?;
            let status = row.str_field("status").to_string();
            let illegal = || {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "illegal_action_error",
                    format!("cannot {action} execution {id}: it is {status}"),
                )
            };
            let (new_status, event) = match action.as_str() {
                "cancel" | "force-cancel" | "kill" => {
                    if ENDED.contains(&status.as_str()) {
                        return Err(illegal());
                    }
                    // A running execution ends through its runner; one that never started
                    // (queued, or pending without a runner) ends here.
                    match (running, action.as_str()) {
                        (true, "cancel") => ("cancelling", "workflow_cancel_requested"),
                        (true, "force-cancel") => ("force_cancelling", "workflow_cancel_requested"),
                        (true, _) => ("kill_cancelling", "workflow_cancel_requested"),
                        (false, _) => ("cancelled", "workflow_cancelled"),
                    }
                }
                "resume" | "force-resume" => {
                    let resumable = matches!(status.as_str(), "cancelled" | "failed")
                        || (action == "force-resume" && status == "terminated");
                    if !resumable || row.field("is_system_workflow") == Some(&Value::Bool(true)) {
                        return Err(illegal());
                    }
                    ("pending", "workflow_queued")
                }
                other => {
                    return Err(ApiError::bad_parameters(format!(
                        "unknown action '{other}': must be one of cancel, force-cancel, kill, resume, force-resume"
                    )))
                }
            };
            let mut body = super::object_of(&row.body());
            set_status(&mut body, new_status, &now);
            if new_status == "pending" {
                body.insert("resume".into(), json!(true));
                body.insert("force_resume".into(), json!(action == "force-resume"));
            }
            let body = Value::Object(body);
            let batch = vec![
                Write::Put {
                    kind: kind::EXECUTIONS.into(),
                    tenant: caller.tenant.clone(),
                    id: id.clone(),
                    body: body.clone(),
                    expected_version: Some(row.version),
                },
                super::events::execution_event(&caller.tenant, &body, &now, event, &format!("execution {action} requested")),
            ];
            Ok((batch, body))
        })
        .await?;
    let cancel = match action.as_str() {
        "cancel" => Some(stratus_engine::CancelKind::Cancel),
        "force-cancel" => Some(stratus_engine::CancelKind::ForceCancel),
        "kill" => Some(stratus_engine::CancelKind::Kill),
        _ => None,
    };
    match (cancel, execution["status"].as_str()) {
        (Some(kind), _) if running => {
            app.runner.send(
                &caller.tenant,
                &id,
                crate::runner::Input::Engine(stratus_engine::Event::CancelRequested(kind)),
            );
        }
        (None, Some("pending")) => crate::runner::start(&app, &caller.tenant, &id),
        _ => {}
    }
    Ok(super::respond(StatusCode::OK, execution))
}
