//! Who is calling, and in which tenant.
//!
//! Every request except the health probes carries `Authorization: Basic …` or
//! `Authentication-Token: …` (Cloudify's headers). The tenant comes from the `Tenant` header
//! (default `default_tenant`). A sys_admin may act in any tenant; other users need a role in
//! it: `viewer` may only read; `user`, `operator` and `manager` may change the tenant's
//! resources. Tenants and users are managed by sys_admins only.
//!
//! Argon2 is deliberately slow, so a verified Basic credential is remembered (by its SHA-256)
//! together with the password hash it was checked against; changing the password forgets it.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::app::App;
use crate::crypto;
use crate::error::ApiError;
use crate::state::kind;

pub const DEFAULT_TENANT: &str = "default_tenant";
pub const SYS_ADMIN: &str = "sys_admin";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub username: String,
    pub sys_admin: bool,
    pub tenant: String,
    /// The caller's role in `tenant` (`sys_admin` for sys_admins).
    pub tenant_role: String,
}

impl Caller {
    pub fn require_sys_admin(&self) -> Result<(), ApiError> {
        if self.sys_admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "user '{}' is not permitted to perform this action: it needs the sys_admin role",
                self.username
            )))
        }
    }

    /// Tenants this caller may read with `_all_tenants`.
    pub fn may_see_tenant(&self, app: &App, tenant: &str) -> bool {
        self.sys_admin
            || tenant == self.tenant
            || app.shared.read(|tables| {
                tables
                    .get(kind::USERS, "", &self.username)
                    .and_then(|u| u.lookup("tenant_roles")?.get(tenant).cloned())
                    .is_some()
            })
    }
}

/// Remembered Basic credentials: digest of the header → (username, password hash).
#[derive(Default)]
pub struct CredentialCache {
    entries: Mutex<HashMap<String, (String, String)>>,
}

fn credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = headers.get("authorization") else {
        return Ok(None);
    };
    let bad = || ApiError::unauthorized("malformed Authorization header");
    let text = value.to_str().map_err(|_| bad())?;
    let encoded = text
        .strip_prefix("Basic ")
        .or_else(|| text.strip_prefix("basic "))
        .ok_or_else(bad)?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, password) = decoded.split_once(':').ok_or_else(bad)?;
    Ok(Some((user.to_string(), password.to_string())))
}

fn unauthorized() -> ApiError {
    ApiError::unauthorized("User unauthorized: wrong username, password or token")
}

/// Resolves the caller's username from Basic credentials or a token.
fn username(app: &App, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some((user, password)) = credentials(headers)? {
        let digest = crypto::sha256_hex(format!("{user}:{password}").as_bytes());
        let stored = app.shared.read(|tables| {
            tables
                .get(kind::USERS, "", &user)
                .filter(|u| u.field("active").and_then(|a| a.as_bool()) != Some(false))
                .map(|u| u.str_field("_password_hash").to_string())
        });
        let stored = stored.ok_or_else(unauthorized)?;
        let cached = app
            .credentials
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&digest)
            .is_some_and(|(u, hash)| *u == user && *hash == stored);
        if cached || crypto::verify_password(&password, &stored) {
            if !cached {
                let mut entries = app
                    .credentials
                    .entries
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                if entries.len() > 10_000 {
                    entries.clear();
                }
                entries.insert(digest, (user.clone(), stored));
            }
            return Ok(user);
        }
        return Err(unauthorized());
    }
    if let Some(token) = headers.get("authentication-token") {
        let token = token.to_str().map_err(|_| unauthorized())?;
        return crate::resources::tokens::verify(app, token).ok_or_else(unauthorized);
    }
    Err(ApiError::unauthorized(
        "User unauthorized: no Authorization or Authentication-Token header",
    ))
}

fn caller(app: &App, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let username = username(app, headers)?;
    let tenant = match headers.get("tenant") {
        Some(value) => value
            .to_str()
            .map_err(|_| ApiError::bad_parameters("malformed Tenant header"))?
            .to_string(),
        None => DEFAULT_TENANT.to_string(),
    };
    let (sys_admin, role, tenant_exists) = app.shared.read(|tables| {
        let user = tables.get(kind::USERS, "", &username);
        let sys_admin = user.is_some_and(|u| u.str_field("role") == SYS_ADMIN);
        let role = user.and_then(|u| {
            u.lookup("tenant_roles")?
                .get(&tenant)?
                .as_str()
                .map(str::to_string)
        });
        (
            sys_admin,
            role,
            tables.get(kind::TENANTS, "", &tenant).is_some(),
        )
    });
    if !tenant_exists {
        return Err(ApiError::forbidden(format!(
            "tenant '{tenant}' does not exist or user '{username}' is not associated with it"
        )));
    }
    let tenant_role = match (sys_admin, role) {
        (true, _) => SYS_ADMIN.to_string(),
        (false, Some(role)) => role,
        (false, None) => {
            return Err(ApiError::forbidden(format!(
                "user '{username}' is not associated with tenant '{tenant}'"
            )))
        }
    };
    Ok(Caller {
        username,
        sys_admin,
        tenant,
        tenant_role,
    })
}

/// The middleware: authenticates, checks the role against the method, and hands the
/// [`Caller`] to the handler.
pub async fn authenticate(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let caller = match caller(&app, request.headers()) {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let reading = matches!(*request.method(), Method::GET | Method::HEAD);
    if !reading && caller.tenant_role == "viewer" {
        return ApiError::forbidden(format!(
            "user '{}' has the viewer role in tenant '{}' and may not change anything",
            caller.username, caller.tenant
        ))
        .into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}
