//! Users. Only sys_admins create, change and delete users; a user may read itself.
//! Passwords are stored as Argon2id hashes in the private `_password_hash` field.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use stratus_store::Write;

use crate::app::App;
use crate::auth::{Caller, SYS_ADMIN};
use crate::clock;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Fields};
use crate::query::{pairs, ListParams};
use crate::state::kind;

/// System roles: `sys_admin`, or `default` (rights come from tenant roles).
pub fn system_role(role: &str) -> ApiResult<&'static str> {
    match role {
        "sys_admin" => Ok(SYS_ADMIN),
        "default" | "user" => Ok("default"),
        other => Err(ApiError::bad_parameters(format!(
            "invalid role '{other}': must be sys_admin or default"
        ))),
    }
}

pub fn user_body(username: &str, password: &str, role: &str, now: &str) -> Value {
    json!({
        "username": username,
        "role": role,
        "active": true,
        "created_at": now,
        "last_login_at": null,
        "first_login_at": null,
        "is_locked": false,
        "groups": [],
        "group_system_roles": {},
        "tenant_roles": {},
        "_password_hash": crypto::hash_password(password),
    })
}

/// The wire form adds `tenants` (tenant → role) as Cloudify shows it.
fn render_user(row: &crate::state::Row) -> Value {
    let mut value = super::render(row);
    if let Value::Object(map) = &mut value {
        let tenants: serde_json::Map<String, Value> = map
            .get("tenant_roles")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(tenant, role)| {
                (
                    tenant.clone(),
                    json!({"tenant-role": role, "roles": [role]}),
                )
            })
            .collect();
        map.insert("tenants".into(), Value::Object(tenants));
    }
    value
}

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = ListParams::parse(&pairs(query.as_deref()), &[])?;
    let rows = app.shared.read(|tables| {
        tables
            .table(kind::USERS)
            .rows()
            .filter(|row| caller.sys_admin || row.id == caller.username)
            .cloned()
            .collect()
    });
    Ok(crate::query::page(
        rows,
        &params,
        crate::query::Render::With(render_user),
    ))
}

pub async fn handle_get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let row = app
        .shared
        .read(|tables| tables.get(kind::USERS, "", &name).cloned())
        .filter(|_| caller.sys_admin || caller.username == name)
        .ok_or_else(|| {
            ApiError::not_found(format!("Requested `User` with ID `{name}` was not found"))
        })?;
    super::respond_item(render_user(&row), &pairs(query.as_deref()))
}

/// `GET /user`: the caller itself.
pub async fn handle_get_self(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    handle_get(
        State(app),
        Extension(caller.clone()),
        Path(caller.username),
        RawQuery(query),
    )
    .await
}

fn check_password(password: &str) -> ApiResult<()> {
    if password.is_empty() {
        return Err(ApiError::bad_parameters("the password may not be empty"));
    }
    Ok(())
}

pub async fn handle_create(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    let fields = body.object()?;
    let username = fields.required_string("username")?;
    let password = fields.required_string("password")?;
    let role = system_role(&fields.string("role")?.unwrap_or_else(|| "default".into()))?;
    super::validate_id("user", &username)?;
    check_password(&password)?;
    let body = user_body(&username, &password, role, &clock::now());
    let (row_body, _) = app
        .shared
        .write(|tables| {
            if tables.get(kind::USERS, "", &username).is_some() {
                return Err(ApiError::conflict(format!(
                    "user '{username}' already exists"
                )));
            }
            let write = Write::Insert {
                kind: kind::USERS.into(),
                tenant: String::new(),
                id: username.clone(),
                body: body.clone(),
            };
            Ok((vec![write], body))
        })
        .await?;
    let row = crate::state::Row::detached(username, row_body);
    Ok(super::respond(StatusCode::CREATED, render_user(&row)))
}

pub async fn handle_update(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let fields = body.object()?;
    let password = fields.string("password")?;
    let role = fields
        .string("role")?
        .map(|r| system_role(&r))
        .transpose()?;
    if !caller.sys_admin && (role.is_some() || caller.username != name) {
        caller.require_sys_admin()?;
    }
    if let Some(password) = &password {
        check_password(password)?;
    }
    let new_hash = password.as_deref().map(crypto::hash_password);
    let (updated, _) = app
        .shared
        .write(|tables| {
            let row = tables.get(kind::USERS, "", &name).ok_or_else(|| {
                ApiError::not_found(format!("Requested `User` with ID `{name}` was not found"))
            })?;
            let mut body = row.body();
            if let Value::Object(map) = &mut body {
                if let Some(hash) = &new_hash {
                    map.insert("_password_hash".into(), json!(hash));
                }
                if let Some(role) = role {
                    map.insert("role".into(), json!(role));
                }
            }
            let write = Write::Put {
                kind: kind::USERS.into(),
                tenant: String::new(),
                id: name.clone(),
                body: body.clone(),
                expected_version: Some(row.version),
            };
            Ok((vec![write], body))
        })
        .await?;
    let row = crate::state::Row::detached(name, updated);
    Ok(super::respond(StatusCode::OK, render_user(&row)))
}

pub async fn handle_delete(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    if name == caller.username {
        return Err(ApiError::bad_parameters("a user cannot delete itself"));
    }
    app.shared
        .write(|tables| {
            let row = tables.get(kind::USERS, "", &name).ok_or_else(|| {
                ApiError::not_found(format!("Requested `User` with ID `{name}` was not found"))
            })?;
            let mut batch = Vec::new();
            for tenant in row
                .lookup("tenant_roles")
                .as_ref()
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let (writes, _) = super::tenants::membership(tables, tenant.0, &name, None)?;
                batch.extend(
                    writes
                        .into_iter()
                        .filter(|w| matches!(w, Write::Put { kind, .. } if kind == kind::TENANTS)),
                );
            }
            batch.push(Write::Delete {
                kind: kind::USERS.into(),
                tenant: String::new(),
                id: name.clone(),
            });
            Ok((batch, ()))
        })
        .await?;
    Ok(super::respond(StatusCode::OK, json!({"username": name})))
}
