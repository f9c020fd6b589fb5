//! Snapshots over the REST API (`cfy snapshots create|list|download|upload|restore|delete`).
//! Only sys_admins may take or restore them. Files live in `DATA_DIR/snapshots/ID.snapshot`
//! (written to a temporary name, synced, then renamed); their metadata is a `snapshots`
//! record. Creating and restoring run at once and answer a finished system execution.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};
use stratus_store::Write;

use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use crate::query::{pairs, ListParams, Render};
use crate::state::kind;

use super::executions;

fn file(app: &App, id: &str) -> std::path::PathBuf {
    app.settings
        .data_dir
        .join("snapshots")
        .join(format!("{id}.snapshot"))
}

fn finished_execution(caller: &Caller, workflow: &str, id: &str, now: &str) -> Value {
    executions::new_body(
        caller,
        &executions::NewExecution {
            workflow_id: workflow,
            blueprint_id: None,
            deployment_id: None,
            status: "terminated",
            parameters: json!({"snapshot_id": id}),
            system: true,
        },
        now,
    )
}

async fn record(
    app: &App,
    caller: &Caller,
    id: &str,
    status: &str,
    execution: Option<&Value>,
) -> ApiResult<()> {
    let now = clock::now();
    let body = json!({
        "id": id, "created_at": now, "status": status, "error": "",
        "created_by": caller.username, "tenant_name": caller.tenant,
        "visibility": "private", "private_resource": true, "resource_availability": "private",
    });
    let id = id.to_string();
    app.shared
        .write(|_| {
            let mut batch = vec![Write::Put {
                kind: kind::SNAPSHOTS.into(),
                tenant: String::new(),
                id: id.clone(),
                body: body.clone(),
                expected_version: None,
            }];
            if let Some(execution) = execution {
                batch.push(Write::Insert {
                    kind: kind::EXECUTIONS.into(),
                    tenant: caller.tenant.clone(),
                    id: execution["id"].as_str().unwrap_or_default().to_string(),
                    body: execution.clone(),
                });
            }
            Ok((batch, ()))
        })
        .await?;
    Ok(())
}

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    let params = ListParams::parse(&pairs(query.as_deref()), &[])?;
    let rows = app
        .shared
        .read(|tables| tables.table(kind::SNAPSHOTS).rows().cloned().collect());
    Ok(crate::query::page(rows, &params, Render::Stored))
}

fn existing(app: &App, id: &str) -> ApiResult<std::sync::Arc<crate::state::Row>> {
    app.shared
        .read(|tables| tables.get(kind::SNAPSHOTS, "", id).cloned())
        .ok_or_else(|| {
            ApiError::not_found(format!("Requested `Snapshot` with ID `{id}` was not found"))
        })
}

pub async fn handle_get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    Ok(super::respond(
        StatusCode::OK,
        super::render(existing(&app, &id)?.as_ref()),
    ))
}

pub async fn handle_create(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    super::validate_id("snapshot", &id)?;
    if existing(&app, &id).is_ok() {
        return Err(ApiError::conflict(format!(
            "snapshot '{id}' already exists"
        )));
    }
    let now = clock::now();
    let (store, key, path, stamp) = (
        app.shared.store.clone(),
        app.settings.secret_key,
        file(&app, &id),
        now.clone(),
    );
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        let (bytes, _) = crate::snapshot::create(store.as_ref(), &key, &stamp)?;
        crate::files::write_atomic(&path, &bytes, true)
            .map_err(|e| format!("write {}: {e}", path.display()))
    })
    .await
    .map_err(|e| ApiError::internal(format!("snapshot task failed: {e}")))?
    .map_err(|e| ApiError::internal(format!("create snapshot: {e}")))?;
    let execution = finished_execution(&caller, "create_snapshot", &id, &now);
    record(&app, &caller, &id, "created", Some(&execution)).await?;
    Ok(super::respond(StatusCode::CREATED, execution))
}

pub async fn handle_delete(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    let row = existing(&app, &id)?;
    app.shared
        .write(|_| {
            Ok((
                vec![Write::Delete {
                    kind: kind::SNAPSHOTS.into(),
                    tenant: String::new(),
                    id: id.clone(),
                }],
                (),
            ))
        })
        .await?;
    let _ = std::fs::remove_file(file(&app, &id));
    Ok(super::respond(StatusCode::OK, super::render(&row)))
}

pub async fn handle_download(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    existing(&app, &id)?;
    let bytes = std::fs::read(file(&app, &id))
        .map_err(|e| ApiError::not_found(format!("snapshot '{id}' has no file: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

pub async fn handle_upload(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Body(body): Body,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    super::validate_id("snapshot", &id)?;
    if existing(&app, &id).is_ok() {
        return Err(ApiError::conflict(format!(
            "snapshot '{id}' already exists"
        )));
    }
    if body.is_empty() {
        return Err(ApiError::bad_parameters(
            "missing snapshot file in the request body",
        ));
    }
    let path = file(&app, &id);
    crate::files::write_atomic(&path, &body, true)
        .map_err(|e| ApiError::internal(format!("write {}: {e}", path.display())))?;
    record(&app, &caller, &id, "uploaded", None).await?;
    Ok(super::respond(
        StatusCode::CREATED,
        super::render(existing(&app, &id)?.as_ref()),
    ))
}

pub async fn handle_restore(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    existing(&app, &id)?;
    let bytes = std::fs::read(file(&app, &id))
        .map_err(|e| ApiError::not_found(format!("snapshot '{id}' has no file: {e}")))?;
    let schema = app.shared.blocking(|store| store.schema_version()).await?;
    let contents =
        crate::snapshot::read(&bytes, &app.secrets, schema).map_err(ApiError::bad_parameters)?;
    app.shared
        .replace_all(
            contents.records,
            contents.events,
            contents.blobs,
            &[kind::SNAPSHOTS],
        )
        .await?;
    // Unpacked blueprint files are a cache of the old state: drop them.
    let _ = std::fs::remove_dir_all(app.settings.data_dir.join("blueprints"));
    let now = clock::now();
    let execution = finished_execution(&caller, "restore_snapshot", &id, &now);
    let tenant_exists = app
        .shared
        .read(|t| t.get(kind::TENANTS, "", &caller.tenant).is_some());
    if tenant_exists {
        record(&app, &caller, &id, "created", Some(&execution)).await?;
    }
    Ok(super::respond(StatusCode::OK, execution))
}
