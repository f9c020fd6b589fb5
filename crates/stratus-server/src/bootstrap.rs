//! First start and every start: the default tenant and the admin user exist, and the admin's
//! password is the one the operator supplied. Never an open server: with no password
//! supplied and no admin yet, one is generated, stored in the data directory (mode 0600) and
//! its location printed.

use std::path::Path;

use serde_json::{json, Value};
use stratus_store::Write;

use crate::app::App;
use crate::auth::{DEFAULT_TENANT, SYS_ADMIN};
use crate::clock;
use crate::crypto;
use crate::error::ApiError;
use crate::resources::{tenants, users};
use crate::state::kind;

pub const ADMIN: &str = "admin";

/// Where the admin password came from.
#[derive(Debug, Clone)]
pub enum AdminPassword {
    /// Supplied by the operator (config, `CMPASS`, `/opt/onap/cm-secrets/password`, …);
    /// the text names the source for the log.
    Given { password: String, source: String },
    /// Nothing supplied.
    None,
}

/// What bootstrap did, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminOutcome {
    Kept,
    SetFrom(String),
    Generated(std::path::PathBuf),
}

pub async fn bootstrap(
    app: &App,
    password: AdminPassword,
    data_dir: &Path,
) -> Result<AdminOutcome, ApiError> {
    let now = clock::now();
    let (outcome, _) = app
        .shared
        .write(|tables| {
            let mut batch = Vec::new();
            if tables.get(kind::TENANTS, "", DEFAULT_TENANT).is_none() {
                batch.push(Write::Insert {
                    kind: kind::TENANTS.into(),
                    tenant: String::new(),
                    id: DEFAULT_TENANT.into(),
                    body: tenants::tenant_body(DEFAULT_TENANT, &now),
                });
            }
            let admin = tables.get(kind::USERS, "", ADMIN);
            let (password, outcome) = match (&password, admin) {
                (AdminPassword::Given { password, source }, Some(row))
                    if crypto::verify_password(password, row.str_field("_password_hash")) =>
                {
                    let _ = source;
                    (None, AdminOutcome::Kept)
                }
                (AdminPassword::Given { password, source }, _) => (
                    Some(password.clone()),
                    AdminOutcome::SetFrom(source.clone()),
                ),
                (AdminPassword::None, Some(_)) => (None, AdminOutcome::Kept),
                (AdminPassword::None, None) => {
                    let generated = crypto::random_text(18);
                    let path = data_dir.join("admin-password");
                    crate::files::write_atomic(&path, format!("{generated}\n").as_bytes(), true)
                        .map_err(|e| {
                            ApiError::internal(format!(
                                "write generated admin password to {}: {e}",
                                path.display()
                            ))
                        })?;
                    (Some(generated), AdminOutcome::Generated(path))
                }
            };
            if let Some(password) = password {
                let mut body = users::user_body(ADMIN, &password, SYS_ADMIN, &now);
                if let (Some(row), Value::Object(map)) = (admin, &mut body) {
                    map.insert(
                        "created_at".into(),
                        row.field("created_at").cloned().unwrap_or(Value::Null),
                    );
                    map.insert(
                        "tenant_roles".into(),
                        row.lookup("tenant_roles").unwrap_or(json!({})),
                    );
                }
                batch.push(Write::Put {
                    kind: kind::USERS.into(),
                    tenant: String::new(),
                    id: ADMIN.into(),
                    body,
                    expected_version: admin.map(|row| row.version),
                });
            }
            Ok((batch, outcome))
        })
        .await?;
    Ok(outcome)
}
