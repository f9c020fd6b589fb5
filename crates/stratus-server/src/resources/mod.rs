//! One module per Cloudify resource. This module holds what they share: id rules, visibility
//! and ownership fields, tenant scoping of reads, and rendering of stored bodies.
//!
//! Stored bodies are in Cloudify's wire shape already, plus private fields whose names start
//! with `_` (password hashes, sealed secret values, plugin YAML) that rendering removes.

pub mod blueprints;
pub mod deployments;
pub mod events;
pub mod executions;
pub mod manager;
pub mod nodes;
pub mod plugins;
pub mod secrets;
pub mod snapshots;
pub mod tenants;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::query::{ListParams, Render};
use crate::state::Row;

/// Cloudify's rule for resource ids: letters, digits, `-`, `.`, `_`; at most 256 characters.
pub fn validate_id(what: &str, id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 256 {
        return Err(ApiError::bad_parameters(format!(
            "the {what} id must be 1 to 256 characters long"
        )));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(ApiError::bad_parameters(format!(
            "the {what} id '{id}' contains illegal character '{bad}'; only letters, digits and the characters \"-\", \".\" and \"_\" are allowed"
        )));
    }
    if id == "." || id == ".." {
        return Err(ApiError::bad_parameters(format!(
            "the {what} id may not be '{id}'"
        )));
    }
    Ok(())
}

/// `private`, `tenant` (the default) or `global`.
pub fn visibility(requested: Option<&str>) -> ApiResult<String> {
    match requested.unwrap_or("tenant") {
        v @ ("private" | "tenant" | "global") => Ok(v.to_string()),
        other => Err(ApiError::bad_parameters(format!(
            "invalid visibility '{other}': must be one of private, tenant, global"
        ))),
    }
}

/// The ownership fields every tenant resource carries.
pub fn ownership(caller: &Caller, visibility: &str, now: &str) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "tenant_name": caller.tenant,
        "created_by": caller.username,
        "created_at": now,
        "visibility": visibility,
        "private_resource": visibility == "private",
        "resource_availability": visibility,
    }) else {
        unreachable!("json! of an object literal is an object")
    };
    map
}

/// The stored body without its private (`_`-prefixed) fields.
pub fn render(row: &Row) -> Value {
    row.public_body()
}

fn readable(caller: &Caller, row: &Row) -> bool {
    row.str_field("visibility") != "private"
        || caller.sys_admin
        || row.str_field("created_by") == caller.username
}

/// The rows of `kind` the caller may list: its tenant's, global ones from other tenants, and
/// with `_all_tenants` those of every tenant it belongs to.
pub fn visible_rows(app: &App, caller: &Caller, kind: &str, all_tenants: bool) -> Vec<Arc<Row>> {
    app.shared.read(|tables| {
        let table = tables.table(kind);
        if all_tenants {
            return table
                .rows()
                .filter(|row| {
                    (row.tenant == caller.tenant
                        || row.str_field("visibility") == "global"
                        || caller.may_see_tenant(app, &row.tenant))
                        && readable(caller, row)
                })
                .cloned()
                .collect();
        }
        let own = table
            .tenant_rows(&caller.tenant)
            .into_iter()
            .flat_map(|rows| rows.values());
        let others = table
            .global_rows()
            .filter(|row| row.tenant != caller.tenant);
        own.chain(others)
            .filter(|row| readable(caller, row))
            .cloned()
            .collect()
    })
}

/// A plain page (no filters, ranges or sort) straight from the tenant index: costs the page,
/// not the table. `None` when the fast path does not apply.
fn plain_page(
    app: &App,
    caller: &Caller,
    kind: &str,
    params: &ListParams,
) -> Option<(Vec<Arc<Row>>, u64)> {
    if !params.is_plain() || params.all_tenants {
        return None;
    }
    app.shared.read(|tables| {
        let table = tables.table(kind);
        if table.has_private_rows() && !caller.sys_admin {
            return None;
        }
        let own = table.tenant_rows(&caller.tenant);
        let own_len = own.map_or(0, |rows| rows.len());
        let others: Vec<&Arc<Row>> = table
            .global_rows()
            .filter(|row| row.tenant != caller.tenant)
            .collect();
        let total = own_len + others.len();
        let start = (params.offset as usize).min(total);
        let end = start.saturating_add(params.size as usize).min(total);
        let page = (start..end)
            .filter_map(|i| match own {
                Some(rows) if i < own_len => rows.get_index(i).map(|(_, row)| row.clone()),
                _ => others.get(i - own_len).map(|row| (*row).clone()),
            })
            .collect();
        Some((page, total as u64))
    })
}

/// One row by id: the caller's tenant first, then a global one from any tenant.
pub fn find(app: &App, caller: &Caller, kind: &str, id: &str) -> Option<Arc<Row>> {
    app.shared.read(|tables| {
        let own = tables.get(kind, &caller.tenant, id).cloned();
        own.or_else(|| {
            tables
                .table(kind)
                .rows()
                .find(|row| row.id == id && row.str_field("visibility") == "global")
                .cloned()
        })
        .filter(|row| readable(caller, row))
    })
}

pub fn find_or_404(
    app: &App,
    caller: &Caller,
    kind: &str,
    what: &str,
    id: &str,
) -> ApiResult<Arc<Row>> {
    find(app, caller, kind, id).ok_or_else(|| {
        ApiError::not_found(format!("Requested `{what}` with ID `{id}` was not found"))
    })
}

pub fn respond(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// A single item, honouring `_include`.
pub fn respond_item(value: Value, pairs: &[(String, String)]) -> ApiResult<Response> {
    let params = ListParams::parse(pairs, &[])?;
    Ok(respond(
        StatusCode::OK,
        crate::query::project(value, &params.include),
    ))
}

/// The standard list handler body: visible rows of `kind`, filtered, sorted and paged.
pub fn list(
    app: &App,
    caller: &Caller,
    kind: &str,
    pairs: &[(String, String)],
    reserved: &[&str],
) -> ApiResult<Response> {
    let params = ListParams::parse(pairs, reserved)?;
    if let Some((page, total)) = plain_page(app, caller, kind, &params) {
        return Ok(crate::query::render_page(
            &page,
            total,
            &params,
            Render::Stored,
        ));
    }
    let rows = visible_rows(app, caller, kind, params.all_tenants);
    Ok(crate::query::page(rows, &params, Render::Stored))
}

/// The object fields of a JSON value, or an empty map.
pub fn object_of(value: &Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// `GET /KIND/{id}`: one visible row, rendered, honouring `_include`.
pub fn get_item(
    app: &App,
    caller: &Caller,
    kind: &str,
    what: &str,
    id: &str,
    query: Option<&str>,
) -> ApiResult<Response> {
    let row = find_or_404(app, caller, kind, what, id)?;
    respond_item(render(&row), &crate::query::pairs(query))
}

/// A stored blob; `missing` is the not-found message.
pub async fn stored_blob(app: &App, key: String, missing: String) -> ApiResult<Vec<u8>> {
    app.shared
        .blocking(move |store| store.blob(&key))
        .await?
        .ok_or_else(|| ApiError::not_found(missing))
}
