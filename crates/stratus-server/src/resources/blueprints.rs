//! Blueprints: upload (a raw archive body, or multipart `params` + `blueprint_archive` as
//! `cfy` 7 sends it), get, list, delete, archive download.
//!
//! Upload is synchronous: the archive is unpacked with limits, written under the data
//! directory, parsed with the built-in catalog and uploaded plugins, and only a valid
//! blueprint is committed — its record, its archive and a finished `upload_blueprint`
//! execution in one batch. An invalid one gets `invalid_blueprint_error` listing every
//! problem, and nothing is stored.

use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Map, Value};
use stratus_archive::{ArchiveError, Limits};
use stratus_store::Write;

use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use crate::query::{flag, pairs};
use crate::state::kind;

use super::{events, executions};

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    super::list(
        &app,
        &caller,
        kind::BLUEPRINTS,
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
    super::get_item(
        &app,
        &caller,
        kind::BLUEPRINTS,
        "Blueprint",
        &id,
        query.as_deref(),
    )
}

/// Where a blueprint's files are unpacked (a cache of its stored archive).
pub fn directory(app: &App, tenant: &str, id: &str) -> PathBuf {
    app.settings
        .data_dir
        .join("blueprints")
        .join(tenant)
        .join(id)
}

pub fn blob_key(tenant: &str, id: &str) -> String {
    format!("blueprint/{tenant}/{id}")
}

pub fn archive_error(error: ArchiveError) -> ApiError {
    match error {
        ArchiveError::TooLarge { .. }
        | ArchiveError::EntryTooLarge { .. }
        | ArchiveError::Bomb { .. }
        | ArchiveError::TooManyEntries { .. } => {
            ApiError::too_large(format!("blueprint archive refused: {error}"))
        }
        other => ApiError::bad_parameters(format!("blueprint archive refused: {other}")),
    }
}

/// Upload parameters: the query string, overridden by a multipart `params` part.
struct Upload {
    archive: Bytes,
    application_file_name: String,
    visibility: String,
    labels: Value,
}

async fn read_upload(
    headers: &HeaderMap,
    query: &[(String, String)],
    body: Bytes,
) -> ApiResult<Upload> {
    let mut params: Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let archive = if content_type.starts_with("multipart/form-data") {
        let (form_params, archive) = crate::multipart::blueprint_parts(content_type, body).await?;
        params.extend(form_params);
        archive
    } else {
        Some(body)
    };
    if params
        .get("blueprint_archive_url")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::bad_parameters(
            "uploading a blueprint from a URL is not supported: Stratus does not fetch from the network; upload the archive itself",
        ));
    }
    let archive = archive
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::bad_parameters("missing blueprint archive in the request body"))?;
    let text = |name: &str| -> ApiResult<Option<String>> {
        match params.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ApiError::bad_parameters(format!(
                "{name} must be a string, got {}",
                crate::extract::type_name(other)
            ))),
        }
    };
    let application_file_name = text("application_file_name")?
        .map(|name| percent_decode(&name))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "blueprint.yaml".to_string());
    let visibility = super::visibility(text("visibility")?.as_deref())?;
    let labels = params
        .get("labels")
        .cloned()
        .filter(Value::is_array)
        .unwrap_or(json!([]));
    Ok(Upload {
        archive,
        application_file_name,
        visibility,
        labels,
    })
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| text.to_string())
}

/// Unpacks `archive` into the blueprint's directory and parses its main file.
/// Returns the plan; on any failure the directory is removed.
pub fn unpack_and_parse(
    app: &App,
    tenant: &str,
    id: &str,
    archive: &[u8],
    main_file: &str,
) -> ApiResult<Value> {
    let unpacked = stratus_archive::unpack(archive, &Limits::default()).map_err(archive_error)?;
    if unpacked.file(main_file).is_none() {
        let mut names: Vec<&str> = unpacked.files.keys().map(String::as_str).take(20).collect();
        names.sort();
        return Err(ApiError::invalid_blueprint(format!(
            "the archive has no main blueprint file '{main_file}' in its top-level directory; it holds: {}",
            names.join(", ")
        )));
    }
    let dir = directory(app, tenant, id);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| {
            ApiError::internal(format!("remove stale directory {}: {e}", dir.display()))
        })?;
    }
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| ApiError::internal(format!("create {}: {e}", parent.display())))?;
    }
    unpacked.write_to(&dir).map_err(|e| {
        ApiError::internal(format!("write blueprint files to {}: {e}", dir.display()))
    })?;
    let parsed = parse_in(app, tenant, &dir, main_file);
    if parsed.is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    parsed.map(|blueprint| blueprint.plan.into_value())
}

/// Parses the main file of a blueprint unpacked at `dir`.
pub fn parse_in(
    app: &App,
    tenant: &str,
    dir: &std::path::Path,
    main_file: &str,
) -> ApiResult<stratus_dsl::Blueprint> {
    let path = dir.join(main_file);
    let text = std::fs::read(&path)
        .map_err(|e| ApiError::internal(format!("read {}: {e}", path.display())))?;
    let text = String::from_utf8(text)
        .map_err(|_| ApiError::invalid_blueprint(format!("{main_file} is not UTF-8 text")))?;
    let loader = app.loader(dir.to_path_buf(), tenant);
    stratus_dsl::parse(&text, &path.to_string_lossy(), &loader, &app.documents).map_err(
        |problems| {
            let root = format!("{}/", dir.display());
            let lines: Vec<String> = problems
                .iter()
                .map(|p| p.to_string().replace(&root, ""))
                .collect();
            ApiError::invalid_blueprint(format!("Invalid blueprint: {}", lines.join("\n")))
        },
    )
}

/// Makes sure the blueprint's files are unpacked (they are a cache: a new data directory, or
/// a PostgreSQL store used from another machine, starts without them).
pub async fn ensure_unpacked(app: &App, tenant: &str, id: &str) -> ApiResult<PathBuf> {
    let dir = directory(app, tenant, id);
    if dir.is_dir() {
        return Ok(dir);
    }
    let key = blob_key(tenant, id);
    let archive =
        super::stored_blob(app, key, format!("blueprint '{id}' has no stored archive")).await?;
    let unpacked = stratus_archive::unpack(&archive, &Limits::default()).map_err(archive_error)?;
    let target = dir.clone();
    tokio::task::spawn_blocking(move || {
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        unpacked.write_to(&target)
    })
    .await
    .map_err(|e| ApiError::internal(format!("unpack task failed: {e}")))?
    .map_err(|e| ApiError::internal(format!("write blueprint files to {}: {e}", dir.display())))?;
    Ok(dir)
}

pub async fn handle_upload(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    Body(body): Body,
) -> ApiResult<Response> {
    super::validate_id("blueprint", &id)?;
    let upload = read_upload(&headers, &pairs(query.as_deref()), body).await?;
    let exists = |app: &App| {
        app.shared
            .read(|t| t.get(kind::BLUEPRINTS, &caller.tenant, &id).is_some())
    };
    if exists(&app) {
        return Err(ApiError::conflict(format!(
            "blueprint with id '{id}' already exists"
        )));
    }
    let plan = {
        let (app, tenant, id) = (app.clone(), caller.tenant.clone(), id.clone());
        let archive = upload.archive.clone();
        let main = upload.application_file_name.clone();
        tokio::task::spawn_blocking(move || unpack_and_parse(&app, &tenant, &id, &archive, &main))
            .await
            .map_err(|e| ApiError::internal(format!("blueprint parse task failed: {e}")))??
    };
    let now = clock::now();
    let execution = executions::new_body(
        &caller,
        &executions::NewExecution {
            workflow_id: "upload_blueprint",
            blueprint_id: Some(&id),
            deployment_id: None,
            status: "terminated",
            parameters: json!({"blueprint_id": id, "app_file_name": upload.application_file_name}),
            system: true,
        },
        &now,
    );
    let execution_id = execution["id"].as_str().unwrap_or_default().to_string();
    let mut body = super::ownership(&caller, &upload.visibility, &now);
    body.insert("id".into(), json!(id));
    body.insert(
        "description".into(),
        plan.get("description").cloned().unwrap_or(Value::Null),
    );
    body.insert("main_file_name".into(), json!(upload.application_file_name));
    body.insert("updated_at".into(), json!(now));
    body.insert("state".into(), json!("uploaded"));
    body.insert("error".into(), Value::Null);
    body.insert("error_traceback".into(), Value::Null);
    body.insert("is_hidden".into(), json!(false));
    body.insert("labels".into(), upload.labels.clone());
    body.insert("requirements".into(), Value::Null);
    body.insert("upload_execution".into(), execution.clone());
    body.insert("plan".into(), plan);
    let body = Value::Object(body);
    let archive = upload.archive.to_vec();
    let committed = app
        .shared
        .write(|tables| {
            if tables.get(kind::BLUEPRINTS, &caller.tenant, &id).is_some() {
                return Err(ApiError::conflict(format!(
                    "blueprint with id '{id}' already exists"
                )));
            }
            let mut batch = vec![
                Write::PutBlob {
                    key: blob_key(&caller.tenant, &id),
                    bytes: archive,
                },
                Write::Insert {
                    kind: kind::BLUEPRINTS.into(),
                    tenant: caller.tenant.clone(),
                    id: id.clone(),
                    body: body.clone(),
                },
                Write::Insert {
                    kind: kind::EXECUTIONS.into(),
                    tenant: caller.tenant.clone(),
                    id: execution_id.clone(),
                    body: execution.clone(),
                },
            ];
            batch.extend(events::workflow_events(
                &caller.tenant,
                &execution,
                &now,
                "succeeded",
            ));
            Ok((batch, ()))
        })
        .await;
    if let Err(error) = committed {
        let _ = std::fs::remove_dir_all(directory(&app, &caller.tenant, &id));
        return Err(error);
    }
    Ok(super::respond(StatusCode::CREATED, body))
}

pub async fn handle_delete(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let _force = flag(&pairs(query.as_deref()), "force")?;
    let (body, _) = app
        .shared
        .write(|tables| {
            let row = tables
                .get(kind::BLUEPRINTS, &caller.tenant, &id)
                .ok_or_else(|| ApiError::not_found(format!("Requested `Blueprint` with ID `{id}` was not found")))?;
            let users: Vec<&str> = tables
                .table(kind::DEPLOYMENTS)
                .rows()
                .filter(|d| d.str_field("blueprint_id") == id && (d.tenant == caller.tenant || row.str_field("visibility") == "global"))
                .map(|d| d.id.as_str())
                .collect();
            if !users.is_empty() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "blueprint_in_use",
                    format!("Can't delete blueprint {id} - There exist deployments for this blueprint; Deployments ids: {}", users.join(",")),
                ));
            }
            let batch = vec![
                Write::Delete {
                    kind: kind::BLUEPRINTS.into(),
                    tenant: caller.tenant.clone(),
                    id: id.clone(),
                },
                Write::DeleteBlob {
                    key: blob_key(&caller.tenant, &id),
                },
            ];
            Ok((batch, super::render(row)))
        })
        .await?;
    let _ = std::fs::remove_dir_all(directory(&app, &caller.tenant, &id));
    Ok(super::respond(StatusCode::OK, body))
}

pub async fn handle_archive(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row = super::find_or_404(&app, &caller, kind::BLUEPRINTS, "Blueprint", &id)?;
    let key = blob_key(&row.tenant, &row.id);
    let archive =
        super::stored_blob(&app, key, format!("blueprint '{id}' has no stored archive")).await?;
    let tar_gz = tokio::task::spawn_blocking(move || -> ApiResult<Vec<u8>> {
        let unpacked =
            stratus_archive::unpack(&archive, &Limits::default()).map_err(archive_error)?;
        if unpacked.format == stratus_archive::Format::TarGz {
            return Ok(archive);
        }
        stratus_archive::pack_tar_gz(&unpacked.root, &unpacked.files).map_err(archive_error)
    })
    .await
    .map_err(|e| ApiError::internal(format!("archive task failed: {e}")))??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={id}.tar.gz"),
            ),
        ],
        tar_gz,
    )
        .into_response())
}
