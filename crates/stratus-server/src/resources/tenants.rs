//! Tenants and tenant membership. Only sys_admins manage them; a user sees the tenants it
//! belongs to. A tenant's `users` field mirrors the users' `tenant_roles` and both are written
//! in one batch.

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
use crate::query::{pairs, ListParams};
use crate::state::{kind, Tables};

pub const ROLES: [&str; 4] = ["manager", "operator", "user", "viewer"];

pub fn tenant_body(name: &str, now: &str) -> Value {
    json!({"name": name, "created_at": now, "users": {}, "user_groups": {},
           "rabbitmq_username": null, "rabbitmq_password": null, "rabbitmq_vhost": null})
}

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = ListParams::parse(&pairs(query.as_deref()), &[])?;
    let rows = app.shared.read(|tables| {
        tables
            .table(kind::TENANTS)
            .rows()
            .filter(|row| caller.may_see_tenant(&app, &row.id))
            .cloned()
            .collect()
    });
    Ok(crate::query::page(
        rows,
        &params,
        crate::query::Render::Stored,
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
        .read(|tables| tables.get(kind::TENANTS, "", &name).cloned())
        .filter(|_| caller.may_see_tenant(&app, &name))
        .ok_or_else(|| {
            ApiError::not_found(format!("Requested `Tenant` with ID `{name}` was not found"))
        })?;
    super::respond_item(super::render(&row), &pairs(query.as_deref()))
}

pub async fn handle_create(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    super::validate_id("tenant", &name)?;
    let body = tenant_body(&name, &clock::now());
    let (body, _) = app
        .shared
        .write(|_| {
            let write = Write::Insert {
                kind: kind::TENANTS.into(),
                tenant: String::new(),
                id: name.clone(),
                body: body.clone(),
            };
            Ok((vec![write], body))
        })
        .await
        .map_err(|e| match e.status {
            StatusCode::CONFLICT => ApiError::conflict(format!("tenant '{name}' already exists")),
            _ => e,
        })?;
    Ok(super::respond(StatusCode::CREATED, body))
}

pub async fn handle_delete(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    if name == crate::auth::DEFAULT_TENANT {
        return Err(ApiError::bad_parameters(
            "the default tenant cannot be deleted",
        ));
    }
    app.shared
        .write(|tables| {
            let tenant = tables.get(kind::TENANTS, "", &name).ok_or_else(|| {
                ApiError::not_found(format!("Requested `Tenant` with ID `{name}` was not found"))
            })?;
            let held: usize = kind::ALL
                .iter()
                .map(|k| tables.table(k).rows().filter(|r| r.tenant == name).count())
                .sum();
            if held > 0 {
                return Err(ApiError::conflict(format!(
                    "tenant '{name}' still holds {held} resources; delete them first"
                )));
            }
            let mut batch = vec![Write::Delete {
                kind: kind::TENANTS.into(),
                tenant: String::new(),
                id: name.clone(),
            }];
            for user in tenant
                .lookup("users")
                .as_ref()
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let Some(row) = tables.get(kind::USERS, "", user.0) {
                    let mut body = row.body();
                    if let Some(roles) = body.get_mut("tenant_roles").and_then(Value::as_object_mut)
                    {
                        roles.remove(&name);
                    }
                    batch.push(put_user(user.0, body));
                }
            }
            Ok((batch, ()))
        })
        .await?;
    Ok(super::respond(StatusCode::OK, json!({"name": name})))
}

fn put_user(username: &str, body: Value) -> Write {
    Write::Put {
        kind: kind::USERS.into(),
        tenant: String::new(),
        id: username.to_string(),
        body,
        expected_version: None,
    }
}

/// The writes that give `username` `role` in `tenant` (or remove it with `None`).
pub fn membership(
    tables: &Tables,
    tenant: &str,
    username: &str,
    role: Option<&str>,
) -> ApiResult<(Vec<Write>, Value)> {
    let tenant_row = tables.get(kind::TENANTS, "", tenant).ok_or_else(|| {
        ApiError::not_found(format!(
            "Requested `Tenant` with ID `{tenant}` was not found"
        ))
    })?;
    let user_row = tables.get(kind::USERS, "", username).ok_or_else(|| {
        ApiError::not_found(format!(
            "Requested `User` with ID `{username}` was not found"
        ))
    })?;
    let mut tenant_body = tenant_row.body();
    let mut user_body = user_row.body();
    let users = tenant_body
        .as_object_mut()
        .map(|m| m.entry("users").or_insert_with(|| json!({})));
    let roles = user_body
        .as_object_mut()
        .map(|m| m.entry("tenant_roles").or_insert_with(|| json!({})));
    match role {
        Some(role) => {
            if let Some(Value::Object(users)) = users {
                users.insert(
                    username.into(),
                    json!({"tenant-role": role, "roles": [role]}),
                );
            }
            if let Some(Value::Object(roles)) = roles {
                roles.insert(tenant.into(), json!(role));
            }
        }
        None => {
            if let Some(Value::Object(users)) = users {
                users.remove(username);
            }
            if let Some(Value::Object(roles)) = roles {
                roles.remove(tenant);
            }
        }
    }
    let batch = vec![
        Write::Put {
            kind: kind::TENANTS.into(),
            tenant: String::new(),
            id: tenant.to_string(),
            body: tenant_body.clone(),
            expected_version: None,
        },
        put_user(username, user_body),
    ];
    Ok((batch, tenant_body))
}

async fn change_membership(
    app: &App,
    caller: &Caller,
    body: &Body,
    add: bool,
) -> ApiResult<Response> {
    caller.require_sys_admin()?;
    let fields = body.object()?;
    let tenant = fields.required_string("tenant_name")?;
    let username = fields.required_string("username")?;
    let role = if add {
        let role = fields.string("role")?.unwrap_or_else(|| "user".into());
        if !ROLES.contains(&role.as_str()) {
            return Err(ApiError::bad_parameters(format!(
                "invalid tenant role '{role}': must be one of {}",
                ROLES.join(", ")
            )));
        }
        Some(role)
    } else {
        None
    };
    let (tenant_body, _) = app
        .shared
        .write(|tables| membership(tables, &tenant, &username, role.as_deref()))
        .await?;
    Ok(super::respond(StatusCode::OK, tenant_body))
}

pub async fn handle_add_user(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> ApiResult<Response> {
    change_membership(&app, &caller, &body, true).await
}

pub async fn handle_remove_user(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> ApiResult<Response> {
    change_membership(&app, &caller, &body, false).await
}
