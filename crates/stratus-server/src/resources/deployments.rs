//! Deployments: create (inputs checked, the plan prepared, nodes and node instances stored,
//! a finished `create_deployment_environment` execution recorded — all in one batch), get,
//! list, delete, outputs and capabilities.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Map, Value};
use stratus_dsl::diag::Kind;
use stratus_dsl::Diagnostic;
use stratus_store::Write;

use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Fields};
use crate::query::{flag, pairs};
use crate::state::kind;

use super::{blueprints, events, executions, nodes};

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    super::list(
        &app,
        &caller,
        kind::DEPLOYMENTS,
        &pairs(query.as_deref()),
        &[],
    )
}

pub async fn handle_get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    // deployment-handler asks for `?include=outputs` (sic); Cloudify ignores it, so do we.
    super::get_item(
        &app,
        &caller,
        kind::DEPLOYMENTS,
        "Deployment",
        &id,
        query.as_deref(),
    )
}

/// Maps the planner's input problems to Cloudify's error codes.
fn input_error(problems: Vec<Diagnostic>) -> ApiError {
    let code = match problems.first().map(|p| &p.kind) {
        Some(Kind::MissingRequiredInput) => "missing_required_deployment_input_error",
        Some(Kind::UnknownInput) => "unknown_deployment_input_error",
        Some(Kind::UnknownSecret) => "unknown_deployment_secret_error",
        Some(Kind::UnsupportedGetSecret) => "unsupported_deployment_get_secret_error",
        Some(Kind::FunctionEvaluation) => "functions_evaluation_error",
        Some(Kind::InputType | Kind::Constraint | Kind::InputEvaluation | Kind::Parsing) => {
            "deployment_input_validation_error"
        }
        _ => "invalid_blueprint_error",
    };
    let message = problems
        .iter()
        .map(|p| p.message.clone())
        .collect::<Vec<_>>()
        .join("\n");
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn workflows(plan: &Value, now: &str) -> Value {
    let list: Vec<Value> = plan
        .get("workflows")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, workflow)| {
            json!({
                "name": name,
                "created_at": now,
                "plugin": workflow.get("plugin"),
                "operation": workflow.get("operation"),
                "parameters": workflow.get("parameters").cloned().unwrap_or(json!({})),
                "is_cascading": workflow.get("is_cascading").cloned().unwrap_or(json!(false)),
                "is_available": true,
                "availability_rules": workflow.get("availability_rules"),
            })
        })
        .collect();
    Value::Array(list)
}

pub async fn handle_create(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    super::validate_id("deployment", &id)?;
    let fields = body.object()?;
    let blueprint_id = fields.required_string("blueprint_id")?;
    let inputs = fields.object("inputs")?.unwrap_or_default();
    let visibility = super::visibility(fields.string("visibility")?.as_deref())?;
    let display_name = fields.string("display_name")?.unwrap_or_else(|| id.clone());
    let site_name = fields.string("site_name")?;
    let skip_plugins_validation = fields.flag("skip_plugins_validation")?;
    let labels = fields
        .get("labels")
        .cloned()
        .filter(Value::is_array)
        .unwrap_or(json!([]));
    if app
        .shared
        .read(|t| t.get(kind::DEPLOYMENTS, &caller.tenant, &id).is_some())
    {
        return Err(ApiError::conflict(format!(
            "deployment with id '{id}' already exists"
        )));
    }
    let blueprint =
        super::find_or_404(&app, &caller, kind::BLUEPRINTS, "Blueprint", &blueprint_id)?;
    let dir = blueprints::ensure_unpacked(&app, &blueprint.tenant, &blueprint.id).await?;
    let secret_names: std::collections::HashSet<String> =
        super::visible_rows(&app, &caller, kind::SECRETS, false)
            .iter()
            .map(|row| row.id.clone())
            .collect();
    let plan = {
        let app = app.clone();
        let tenant = blueprint.tenant.clone();
        let main = blueprint.str_field("main_file_name").to_string();
        tokio::task::spawn_blocking(move || -> ApiResult<Value> {
            let parsed = blueprints::parse_in(&app, &tenant, &dir, &main)?;
            let exists = |name: &str| secret_names.contains(name);
            stratus_dsl::prepare_owned(parsed, &inputs, Some(&exists))
                .map(stratus_dsl::Plan::into_value)
                .map_err(input_error)
        })
        .await
        .map_err(|e| ApiError::internal(format!("deployment plan task failed: {e}")))??
    };
    if !skip_plugins_validation {
        unexecutable(&app, &plan)?;
    }
    let now = clock::now();
    let execution = executions::new_body(
        &caller,
        &executions::NewExecution {
            workflow_id: "create_deployment_environment",
            blueprint_id: Some(&blueprint_id),
            deployment_id: Some(&id),
            status: "terminated",
            parameters: json!({}),
            system: true,
        },
        &now,
    );
    let execution_id = execution["id"].as_str().unwrap_or_default().to_string();
    let mut body = super::ownership(&caller, &visibility, &now);
    let field = |name: &str, default: Value| plan.get(name).cloned().unwrap_or(default);
    for (key, value) in [
        ("id", json!(id)),
        ("display_name", json!(display_name)),
        ("blueprint_id", json!(blueprint_id)),
        ("description", field("description", Value::Null)),
        ("inputs", field("inputs", json!({}))),
        ("outputs", field("outputs", json!({}))),
        ("capabilities", field("capabilities", json!({}))),
        ("groups", field("groups", json!({}))),
        ("scaling_groups", field("scaling_groups", json!({}))),
        ("policy_types", field("policy_types", json!({}))),
        ("policy_triggers", field("policy_triggers", json!({}))),
        ("workflows", workflows(&plan, &now)),
        ("updated_at", json!(now)),
        ("site_name", json!(site_name)),
        ("runtime_only_evaluation", json!(false)),
        ("labels", labels),
        ("permalink", Value::Null),
        ("latest_execution", json!(execution_id)),
        ("installation_status", json!("inactive")),
        ("deployment_status", json!("good")),
        ("sub_services_status", Value::Null),
        ("sub_environments_status", Value::Null),
        ("sub_services_count", json!(0)),
        ("sub_environments_count", json!(0)),
        ("environment_type", json!("")),
        ("deployment_groups", json!([])),
        ("resource_tags", Value::Null),
    ] {
        body.insert(key.into(), value);
    }
    let body = Value::Object(body);
    let mut batch = vec![
        Write::Insert {
            kind: kind::DEPLOYMENTS.into(),
            tenant: caller.tenant.clone(),
            id: id.clone(),
            body: body.clone(),
        },
        Write::PutBlob {
            key: plan_key(&caller.tenant, &id),
            bytes: serde_json::to_vec(&plan).unwrap_or_default(),
        },
        Write::Insert {
            kind: kind::EXECUTIONS.into(),
            tenant: caller.tenant.clone(),
            id: execution_id,
            body: execution.clone(),
        },
    ];
    batch.extend(nodes::records(
        &caller,
        &id,
        &blueprint_id,
        &visibility,
        &plan,
        &now,
    ));
    batch.extend(events::workflow_events(
        &caller.tenant,
        &execution,
        &now,
        "succeeded",
    ));
    app.shared
        .write(|tables| {
            if tables.get(kind::DEPLOYMENTS, &caller.tenant, &id).is_some() {
                return Err(ApiError::conflict(format!(
                    "deployment with id '{id}' already exists"
                )));
            }
            if tables
                .get(kind::BLUEPRINTS, &blueprint.tenant, &blueprint.id)
                .is_none()
            {
                return Err(ApiError::not_found(format!(
                    "Requested `Blueprint` with ID `{blueprint_id}` was not found"
                )));
            }
            Ok((batch, ()))
        })
        .await?;
    Ok(super::respond(StatusCode::CREATED, body))
}

/// Refuses a plan with an operation no executor can run — now, not half way through an
/// install (`deployment_plugin_not_found`, listing each one).
fn unexecutable(app: &App, plan: &Value) -> ApiResult<()> {
    let nodes = plan
        .get("nodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let plugins_of = |name: &str| -> Vec<Value> {
        nodes
            .iter()
            .find(|n| n.get("name").and_then(Value::as_str) == Some(name))
            .and_then(|n| n.get("plugins").and_then(Value::as_array).cloned())
            .unwrap_or_default()
    };
    let mut problems: Vec<String> = Vec::new();
    let mut check = |operations: Option<&Value>, plugins: &[Value], node: &str| {
        // The plan lists each operation twice (`create` and its full name): check full names.
        let all = operations.and_then(Value::as_object).into_iter().flatten();
        for (name, operation) in all.filter(|(name, _)| name.contains('.')) {
            let implementation = operation
                .get("operation")
                .and_then(Value::as_str)
                .unwrap_or("");
            let plugin = operation
                .get("plugin")
                .and_then(Value::as_str)
                .unwrap_or("");
            if implementation.is_empty() || plugin.is_empty() {
                continue;
            }
            let executor = operation.get("executor").and_then(Value::as_str);
            if let Err(unsupported) =
                app.runner
                    .executors
                    .check(plugin, plugins, name, node, executor, implementation)
            {
                if !problems.contains(&unsupported.message) {
                    problems.push(unsupported.message);
                }
            }
        }
    };
    for node in &nodes {
        let name = node.get("name").and_then(Value::as_str).unwrap_or("");
        let plugins = node
            .get("plugins")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        check(node.get("operations"), &plugins, name);
        for relationship in node
            .get("relationships")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            check(relationship.get("source_operations"), &plugins, name);
            let target = relationship
                .get("target_id")
                .and_then(Value::as_str)
                .unwrap_or("");
            check(
                relationship.get("target_operations"),
                &plugins_of(target),
                target,
            );
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.truncate(20);
    Err(ApiError::new(
        StatusCode::BAD_REQUEST,
        "deployment_plugin_not_found",
        format!(
            "this deployment could not be installed: {} (pass skip_plugins_validation to create it anyway)",
            problems.join("; ")
        ),
    ))
}

/// The stored deployment plan (for the workflow engine).
pub fn plan_key(tenant: &str, id: &str) -> String {
    format!("deployment-plan/{tenant}/{id}")
}

pub async fn handle_delete(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let pairs = pairs(query.as_deref());
    // Cloudify 4 clients say `ignore_live_nodes`, 7 say `force`.
    let force = flag(&pairs, "force")? || flag(&pairs, "ignore_live_nodes")?;
    let delete_logs = flag(&pairs, "delete_logs")?;
    let (body, _) = app
        .shared
        .write(|tables| {
            let row = tables
                .get(kind::DEPLOYMENTS, &caller.tenant, &id)
                .ok_or_else(|| ApiError::not_found(format!("Requested `Deployment` with ID `{id}` was not found")))?;
            if let Some(running) = executions::running(tables, &caller.tenant, &id) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "existing_running_execution_error",
                    format!("Can't delete deployment {id} - There are running or queued executions for this deployment. Running executions ids: {running}"),
                ));
            }
            let live: Vec<&str> = tables
                .table(kind::NODE_INSTANCES)
                .rows()
                .filter(|ni| ni.tenant == caller.tenant && ni.str_field("deployment_id") == id)
                .filter(|ni| !matches!(ni.str_field("state"), "uninitialized" | "deleted"))
                .map(|ni| ni.id.as_str())
                .collect();
            if !live.is_empty() && !force {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "dependent_exists_error",
                    format!("Can't delete deployment {id} - There are live nodes for this deployment. Live nodes ids: {}", live.join(",")),
                ));
            }
            let by_deployment = |kind: &str| Write::DeleteWhere {
                kind: kind.into(),
                tenant: caller.tenant.clone(),
                field: "deployment_id".into(),
                value: json!(id),
            };
            let mut batch = vec![
                by_deployment(kind::NODE_INSTANCES),
                by_deployment(kind::NODES),
                by_deployment(kind::EXECUTIONS),
                Write::Delete {
                    kind: kind::DEPLOYMENTS.into(),
                    tenant: caller.tenant.clone(),
                    id: id.clone(),
                },
                Write::DeleteBlob {
                    key: plan_key(&caller.tenant, &id),
                },
            ];
            if delete_logs {
                batch.push(Write::DeleteEvents {
                    tenant: caller.tenant.clone(),
                    deployment_id: id.clone(),
                });
            }
            Ok((batch, super::render(row)))
        })
        .await?;
    Ok(super::respond(StatusCode::OK, body))
}

async fn evaluated(app: &App, caller: &Caller, id: &str, field: &str) -> ApiResult<Value> {
    let row = super::find_or_404(app, caller, kind::DEPLOYMENTS, "Deployment", id)?;
    let definitions = row
        .lookup(field)
        .as_ref()
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let context = crate::runtime::Context::load(app, &row.tenant, id);
    let mut out = Map::new();
    for (name, definition) in definitions {
        let value = definition.get("value").cloned().unwrap_or(Value::Null);
        out.insert(name, context.evaluate(&value)?);
    }
    Ok(Value::Object(out))
}

pub async fn handle_outputs(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let outputs = evaluated(&app, &caller, &id, "outputs").await?;
    Ok(super::respond(
        StatusCode::OK,
        json!({"deployment_id": id, "outputs": outputs}),
    ))
}

pub async fn handle_capabilities(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let capabilities = evaluated(&app, &caller, &id, "capabilities").await?;
    Ok(super::respond(
        StatusCode::OK,
        json!({"deployment_id": id, "capabilities": capabilities}),
    ))
}
