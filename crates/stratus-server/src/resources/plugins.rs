//! Plugins: upload of an archive that carries a `plugin.yaml` (a wagon zipped with its YAML, as
//! `cfy plugins upload` sends it, or any zip/tar with the YAML in it), list, get, delete and
//! download. An uploaded plugin then serves `plugin:NAME?version=SPEC` imports in its tenant
//! (and everywhere when global), ahead of the built-in catalog on a version tie.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};
use stratus_archive::Limits;
use stratus_catalog::PluginSource;
use stratus_store::Write;

use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::{ApiError, ApiResult};
use crate::extract::Body;
use crate::query::pairs;
use crate::state::kind;

/// The plugins a blueprint in `tenant` may import, captured when its parse starts.
pub struct UploadedPlugins {
    plugins: Vec<(String, String, Arc<str>)>,
}

impl UploadedPlugins {
    pub fn new(app: &App, tenant: &str) -> UploadedPlugins {
        let plugins = app.shared.read(|tables| {
            tables
                .table(kind::PLUGINS)
                .rows()
                .filter(|row| row.tenant == tenant || row.str_field("visibility") == "global")
                .map(|row| {
                    (
                        row.str_field("package_name").to_string(),
                        row.str_field("package_version").to_string(),
                        Arc::from(row.str_field("_yaml")),
                    )
                })
                .collect()
        });
        UploadedPlugins { plugins }
    }
}

impl PluginSource for UploadedPlugins {
    fn describe(&self) -> String {
        "uploaded plugins".to_string()
    }
    fn versions(&self, name: &str) -> Vec<String> {
        self.plugins
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.clone())
            .collect()
    }
    fn text(&self, name: &str, version: &str) -> Option<Arc<str>> {
        self.plugins
            .iter()
            .find(|(n, v, _)| n == name && v == version)
            .map(|(_, _, text)| text.clone())
    }
}

fn blob_key(tenant: &str, id: &str) -> String {
    format!("plugin/{tenant}/{id}")
}

/// The plugin's name and version from its `plugin.yaml`: the first entry of `plugins:`.
fn describe_yaml(text: &str) -> ApiResult<(String, String, Value)> {
    let bad = |why: String| ApiError::bad_parameters(format!("plugin.yaml: {why}"));
    let document = stratus_dsl::yaml::load(text, 0)
        .map_err(|e| bad(format!("line {}: {}", e.line, e.message)))?;
    let plugins = document
        .get("plugins")
        .ok_or_else(|| bad("no `plugins` section".into()))?;
    let map = plugins
        .as_map()
        .ok_or_else(|| bad("`plugins` must be a dict".into()))?;
    let (key, plugin) = map
        .first()
        .ok_or_else(|| bad("`plugins` is empty".into()))?;
    let key = key.as_str().unwrap_or_default().to_string();
    let field = |name: &str| {
        plugin
            .get(name)
            .and_then(|n| n.as_str())
            .map(str::to_string)
    };
    let name = field("package_name").unwrap_or_else(|| key.clone());
    let version = field("package_version")
        .ok_or_else(|| bad(format!("plugin '{key}' has no package_version")))?;
    let executor = field("executor");
    Ok((
        name,
        version,
        json!({"plugin_key": key, "executor": executor}),
    ))
}

pub async fn handle_upload(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
    Body(body): Body,
) -> ApiResult<Response> {
    let pairs = pairs(query.as_deref());
    let param = |name: &str| {
        pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if param("plugin_archive_url").is_some() {
        return Err(ApiError::bad_parameters(
            "uploading a plugin from a URL is not supported: Stratus does not fetch from the network",
        ));
    }
    let visibility = super::visibility(param("visibility").as_deref())?;
    if body.is_empty() {
        return Err(ApiError::bad_parameters(
            "missing plugin archive in the request body",
        ));
    }
    let archive = body.to_vec();
    let unpacked = {
        let archive = archive.clone();
        tokio::task::spawn_blocking(move || {
            stratus_archive::unpack_flat(&archive, &Limits::default())
        })
        .await
        .map_err(|e| ApiError::internal(format!("plugin unpack task failed: {e}")))?
        .map_err(super::blueprints::archive_error)?
    };
    let (yaml_path, yaml) = unpacked
        .files
        .iter()
        .filter(|(path, _)| path.rsplit('/').next() == Some("plugin.yaml"))
        .min_by_key(|(path, _)| path.len())
        .ok_or_else(|| ApiError::bad_parameters("the plugin archive holds no plugin.yaml"))?;
    let yaml = String::from_utf8(yaml.clone())
        .map_err(|_| ApiError::bad_parameters(format!("{yaml_path} is not UTF-8 text")))?;
    let (name, version, extra) = describe_yaml(&yaml)?;
    let wagon = unpacked.files.keys().find(|p| p.ends_with(".wgn")).cloned();
    let id = param("id").unwrap_or_else(super::executions::uuid);
    super::validate_id("plugin", &id)?;
    let now = clock::now();
    let mut record = super::ownership(&caller, &visibility, &now);
    for (key, value) in [
        ("id", json!(id)),
        ("package_name", json!(name)),
        ("package_version", json!(version)),
        ("archive_name", json!(wagon)),
        (
            "title",
            json!(param("title").unwrap_or_else(|| name.clone())),
        ),
        ("uploaded_at", json!(now)),
        ("distribution", Value::Null),
        ("supported_platform", json!("any")),
        ("wheels", json!([])),
        ("excluded_wheels", json!([])),
        ("installation_state", json!([])),
        (
            "yaml_url_path",
            json!(format!("plugin:{name}?version={version}")),
        ),
        ("executor", extra["executor"].clone()),
        ("_yaml", json!(yaml)),
    ] {
        record.insert(key.into(), value);
    }
    let record = Value::Object(record);
    app.shared
        .write(|tables| {
            let duplicate = tables.table(kind::PLUGINS).rows().any(|row| {
                row.tenant == caller.tenant
                    && row.str_field("package_name") == name
                    && row.str_field("package_version") == version
            });
            if duplicate {
                return Err(ApiError::conflict(format!(
                    "plugin {name} {version} is already uploaded"
                )));
            }
            Ok((
                vec![
                    Write::PutBlob {
                        key: blob_key(&caller.tenant, &id),
                        bytes: archive,
                    },
                    Write::Insert {
                        kind: kind::PLUGINS.into(),
                        tenant: caller.tenant.clone(),
                        id: id.clone(),
                        body: record.clone(),
                    },
                ],
                (),
            ))
        })
        .await?;
    Ok(super::respond(
        StatusCode::CREATED,
        super::render(&crate::state::Row::detached(id, record)),
    ))
}

pub async fn handle_list(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    super::list(&app, &caller, kind::PLUGINS, &pairs(query.as_deref()), &[])
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
        kind::PLUGINS,
        "Plugin",
        &id,
        query.as_deref(),
    )
}

pub async fn handle_delete(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (body, _) = app
        .shared
        .write(|tables| {
            let row = tables
                .get(kind::PLUGINS, &caller.tenant, &id)
                .ok_or_else(|| {
                    ApiError::not_found(format!("Requested `Plugin` with ID `{id}` was not found"))
                })?;
            Ok((
                vec![
                    Write::Delete {
                        kind: kind::PLUGINS.into(),
                        tenant: caller.tenant.clone(),
                        id: id.clone(),
                    },
                    Write::DeleteBlob {
                        key: blob_key(&caller.tenant, &id),
                    },
                ],
                super::render(row),
            ))
        })
        .await?;
    Ok(super::respond(StatusCode::OK, body))
}

pub async fn handle_archive(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row = super::find_or_404(&app, &caller, kind::PLUGINS, "Plugin", &id)?;
    let key = blob_key(&row.tenant, &row.id);
    let bytes =
        super::stored_blob(&app, key, format!("plugin '{id}' has no stored archive")).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
