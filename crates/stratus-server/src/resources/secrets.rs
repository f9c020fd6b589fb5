//! Secrets. Values are sealed at rest (`_value`, see `crypto::SecretBox`), returned only by
//! `GET /secrets/{key}`, never listed, never logged. A hidden value (`is_hidden_value`) is
//! shown only to its creator and sys_admins. Creation answers 200, as Cloudify does (its
//! clients expect exactly that).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use stratus_store::Write;

use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Fields};
use crate::query::pairs;
use crate::state::{kind, Row};

fn secret_value(value: Option<&Value>) -> ApiResult<Option<String>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        // Cloudify 7 accepts JSON values (schema'd secrets) and stores their JSON text.
        Some(other) => Ok(Some(other.to_string())),
    }
}

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    super::list(&app, &caller, kind::SECRETS, &pairs(query.as_deref()), &[])
}

fn may_read_value(caller: &Caller, row: &Row) -> bool {
    row.field("is_hidden_value") != Some(&Value::Bool(true))
        || caller.sys_admin
        || row.str_field("created_by") == caller.username
}

pub async fn handle_get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let row = super::find_or_404(&app, &caller, kind::SECRETS, "Secret", &key)?;
    let mut value = super::render(&row);
    if may_read_value(&caller, &row) {
        let plain = app.secrets.open(row.str_field("_value")).ok_or_else(|| {
            ApiError::internal(format!(
                "secret '{key}' cannot be decrypted with this manager's key"
            ))
        })?;
        if let Value::Object(map) = &mut value {
            map.insert("value".into(), json!(plain));
        }
    }
    super::respond_item(value, &pairs(query.as_deref()))
}

pub async fn handle_create(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    super::validate_id("secret", &key)?;
    let fields = body.object()?;
    let value = secret_value(fields.get("value"))?
        .ok_or_else(|| ApiError::bad_parameters("missing required field: value"))?;
    let update_if_exists = fields.flag("update_if_exists")?;
    let hidden = fields.flag("is_hidden_value")?;
    let visibility = super::visibility(fields.string("visibility")?.as_deref())?;
    let now = clock::now();
    let sealed = app.secrets.seal(&value);
    let (body, _) = app
        .shared
        .write(|tables| {
            let existing = tables.get(kind::SECRETS, &caller.tenant, &key);
            if existing.is_some() && !update_if_exists {
                return Err(ApiError::conflict(format!("secret '{key}' already exists")));
            }
            let mut body = super::ownership(&caller, &visibility, &now);
            if let Some(existing) = existing {
                body.insert(
                    "created_at".into(),
                    existing.field("created_at").cloned().unwrap_or(Value::Null),
                );
            }
            body.insert("key".into(), json!(key));
            body.insert("updated_at".into(), json!(now));
            body.insert("is_hidden_value".into(), json!(hidden));
            body.insert("_value".into(), json!(sealed));
            let body = Value::Object(body);
            let write = Write::Put {
                kind: kind::SECRETS.into(),
                tenant: caller.tenant.clone(),
                id: key.clone(),
                body: body.clone(),
                expected_version: existing.map(|row| row.version),
            };
            Ok((vec![write], body))
        })
        .await?;
    Ok(super::respond(
        StatusCode::OK,
        super::render(&Row::detached(key, body)),
    ))
}

pub async fn handle_update(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let fields = body.object()?;
    let value = secret_value(fields.get("value"))?;
    let visibility = fields
        .string("visibility")?
        .map(|v| super::visibility(Some(&v)))
        .transpose()?;
    let hidden = fields
        .get("is_hidden_value")
        .map(|_| fields.flag("is_hidden_value"))
        .transpose()?;
    let sealed = value.as_deref().map(|v| app.secrets.seal(v));
    let (body, _) = app
        .shared
        .write(|tables| {
            let row = tables
                .get(kind::SECRETS, &caller.tenant, &key)
                .ok_or_else(|| {
                    ApiError::not_found(format!("Requested `Secret` with ID `{key}` was not found"))
                })?;
            let mut body = super::object_of(&row.body());
            if let Some(sealed) = &sealed {
                body.insert("_value".into(), json!(sealed));
            }
            if let Some(visibility) = &visibility {
                body.insert("visibility".into(), json!(visibility));
                body.insert("resource_availability".into(), json!(visibility));
                body.insert("private_resource".into(), json!(visibility == "private"));
            }
            if let Some(hidden) = hidden {
                body.insert("is_hidden_value".into(), json!(hidden));
            }
            body.insert("updated_at".into(), json!(clock::now()));
            let body = Value::Object(body);
            let write = Write::Put {
                kind: kind::SECRETS.into(),
                tenant: caller.tenant.clone(),
                id: key.clone(),
                body: body.clone(),
                expected_version: Some(row.version),
            };
            Ok((vec![write], body))
        })
        .await?;
    Ok(super::respond(
        StatusCode::OK,
        super::render(&Row::detached(key, body)),
    ))
}

pub async fn handle_delete(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> ApiResult<Response> {
    // 200 with the deleted secret (no value): Cloudify 4 clients parse a body, 7 accept both.
    let (deleted, _) = app
        .shared
        .write(|tables| {
            let row = tables
                .get(kind::SECRETS, &caller.tenant, &key)
                .ok_or_else(|| {
                    ApiError::not_found(format!("Requested `Secret` with ID `{key}` was not found"))
                })?;
            let write = Write::Delete {
                kind: kind::SECRETS.into(),
                tenant: caller.tenant.clone(),
                id: key.clone(),
            };
            Ok((vec![write], super::render(row)))
        })
        .await?;
    Ok(super::respond(StatusCode::OK, deleted))
}
