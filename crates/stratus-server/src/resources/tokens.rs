//! Authentication tokens. A token is `ctok-<id>-<secret>` (Cloudify 7's form); only the
//! secret's SHA-256 is stored. `POST /tokens` (Cloudify 7) and `GET /tokens` (Cloudify 4's
//! "give me a token") both create one; tokens expire after `expiration_date` when given,
//! else after ten hours as in Cloudify.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use stratus_store::Write;

use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::crypto;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Body, Fields};
use crate::state::kind;

const DEFAULT_LIFETIME_MS: i64 = 10 * 3600 * 1000;

/// The username a presented token belongs to, if it is valid and unexpired.
pub fn verify(app: &App, presented: &str) -> Option<String> {
    let rest = presented.strip_prefix("ctok-")?;
    let (id, secret) = rest.split_once('-')?;
    let digest = crypto::sha256_hex(secret.as_bytes());
    app.shared.read(|tables| {
        let row = tables.get(kind::TOKENS, "", id)?;
        let expired = row
            .field("expiration_date")
            .and_then(Value::as_str)
            .is_some_and(|expiry| *expiry <= *clock::now());
        (row.str_field("_secret_hash") == digest && !expired)
            .then(|| row.str_field("username").to_string())
    })
}

async fn create(
    app: &App,
    caller: &Caller,
    description: Option<String>,
    expiration: Option<String>,
) -> ApiResult<Value> {
    let id = crypto::random_text(9).replace(['-', '_'], "x");
    let secret = crypto::random_text(24);
    let expiration = expiration
        .unwrap_or_else(|| clock::format_millis(clock::now_millis() + DEFAULT_LIFETIME_MS));
    let body = json!({
        "id": id,
        "username": caller.username,
        "description": description,
        "expiration_date": expiration,
        "last_used": null,
        "created_at": clock::now(),
        "_secret_hash": crypto::sha256_hex(secret.as_bytes()),
    });
    app.shared
        .write(|_| {
            let write = Write::Insert {
                kind: kind::TOKENS.into(),
                tenant: String::new(),
                id: id.clone(),
                body: body.clone(),
            };
            Ok((vec![write], ()))
        })
        .await?;
    let mut wire = body;
    if let Value::Object(map) = &mut wire {
        map.remove("_secret_hash");
        map.insert("value".into(), json!(format!("ctok-{id}-{secret}")));
        map.insert(
            "role".into(),
            json!(if caller.sys_admin {
                "sys_admin"
            } else {
                "default"
            }),
        );
    }
    Ok(wire)
}

pub async fn handle_create(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> ApiResult<Response> {
    let fields = body.object()?;
    let description = fields.string("description")?;
    let expiration = fields.string("expiration_date")?;
    let token = create(&app, &caller, description, expiration).await?;
    // Cloudify answers 200 (its clients expect exactly that).
    Ok(super::respond(StatusCode::OK, token))
}

/// `GET /tokens` means "list my tokens" to Cloudify 7 clients and "give me a token" to
/// Cloudify 4 ones, and nothing tells them apart; one body serves both: the list envelope
/// (without secrets) plus `value` and `role` of a fresh token.
pub async fn handle_get_legacy(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Response> {
    let token = create(&app, &caller, None, None).await?;
    let items: Vec<Value> = app.shared.read(|tables| {
        tables
            .table(kind::TOKENS)
            .rows()
            .filter(|row| caller.sys_admin || row.str_field("username") == caller.username)
            .map(|row| super::render(row))
            .collect()
    });
    let total = items.len();
    Ok(super::respond(
        StatusCode::OK,
        json!({
            "items": items,
            "metadata": {"pagination": {"total": total, "size": total, "offset": 0}},
            "value": token["value"],
            "role": token["role"],
        }),
    ))
}

fn owned(app: &App, caller: &Caller, id: &str) -> ApiResult<crate::state::Row> {
    app.shared
        .read(|tables| tables.get(kind::TOKENS, "", id).cloned())
        .filter(|row| caller.sys_admin || row.str_field("username") == caller.username)
        .map(|row| crate::state::Row::detached(row.id.clone(), row.body()))
        .ok_or_else(|| {
            ApiError::not_found(format!("Requested `Token` with ID `{id}` was not found"))
        })
}

pub async fn handle_get(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row = owned(&app, &caller, &id)?;
    Ok(super::respond(StatusCode::OK, super::render(&row)))
}

pub async fn handle_delete(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row = owned(&app, &caller, &id)?;
    app.shared
        .write(|_| {
            let write = Write::Delete {
                kind: kind::TOKENS.into(),
                tenant: String::new(),
                id: id.clone(),
            };
            Ok((vec![write], ()))
        })
        .await?;
    Ok(super::respond(StatusCode::OK, super::render(&row)))
}
