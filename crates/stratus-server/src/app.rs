//! The application: configuration, shared state, and the router that maps Cloudify's URL space
//! onto handlers.
//!
//! The same routes are served under `/api/v3.1`, `/api/v3` and `/api/v2.1` (the shapes Stratus
//! serves agree across them for the endpoints it implements). Health probes sit outside auth.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use stratus_catalog::{Catalog, ImportResolver, Loader, ResolverConfig};
use stratus_dsl::DocumentCache;

use crate::auth::CredentialCache;
use crate::crypto::SecretBox;
use crate::error::ApiError;
use crate::resources::{
    blueprints, deployments, events, executions, manager, nodes, plugins, secrets, snapshots,
    tenants, tokens, users,
};
use crate::state::Shared;

/// What the binary decides before the server starts.
pub struct Settings {
    /// Blueprint and plugin files are unpacked here (a cache of the store's archives).
    pub data_dir: PathBuf,
    pub resolver: ResolverConfig,
    /// Seals secret values at rest.
    pub secret_key: [u8; 32],
    /// Largest request body accepted (archives included).
    pub max_body_bytes: usize,
    /// Shown by `/status` (which Kubernetes credentials are in use, …).
    pub status_notes: Vec<(String, String)>,
    /// Who runs operations (built-ins, the script plugin, …).
    pub executors: crate::runner::Executors,
    /// Concurrency and retry defaults of executions.
    pub engine: stratus_engine::Settings,
}

pub struct AppInner {
    pub shared: Shared,
    pub settings: Settings,
    pub secrets: SecretBox,
    pub credentials: CredentialCache,
    pub documents: DocumentCache,
    pub started: Instant,
    pub ready: AtomicBool,
    pub runner: crate::runner::Runner,
}

/// Cheap to clone; handed to every handler.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    pub fn new(shared: Shared, settings: Settings) -> App {
        App(Arc::new(AppInner {
            runner: crate::runner::Runner::new(settings.executors.clone(), settings.engine.clone()),
            secrets: SecretBox::new(&settings.secret_key),
            shared,
            settings,
            credentials: CredentialCache::default(),
            documents: DocumentCache::new(),
            started: Instant::now(),
            ready: AtomicBool::new(false),
        }))
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// The import loader for a blueprint unpacked at `root`, with uploaded plugins first.
    pub fn loader(&self, root: PathBuf, tenant: &str) -> Loader {
        let resolver =
            ImportResolver::new(self.settings.resolver.clone(), Catalog::builtin(), None);
        Loader::new(resolver)
            .with_plugin_source(Box::new(plugins::UploadedPlugins::new(self, tenant)))
            .with_blueprint_root(root)
    }
}

async fn handle_healthz() -> &'static str {
    "ok"
}

async fn handle_readyz(axum::extract::State(app): axum::extract::State<App>) -> Response {
    if app.ready.load(Ordering::SeqCst) {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting or stopping").into_response()
    }
}

async fn handle_unknown() -> ApiError {
    ApiError::not_found("the requested URL was not found on this server")
}

/// The versioned API (mounted under each version prefix).
fn api() -> Router<App> {
    Router::new()
        .route("/version", get(manager::handle_version))
        .route("/status", get(manager::handle_status))
        .route("/provider/context", get(manager::handle_provider_context))
        .route("/config", get(manager::handle_config))
        .route("/managers", get(manager::handle_managers))
        .route("/brokers", get(manager::handle_brokers))
        .route("/db-nodes", get(manager::handle_db_nodes))
        .route("/maintenance", get(manager::handle_maintenance))
        .route("/blueprints", get(blueprints::handle_list))
        .route(
            "/blueprints/{id}",
            get(blueprints::handle_get)
                .put(blueprints::handle_upload)
                .delete(blueprints::handle_delete),
        )
        .route("/blueprints/{id}/archive", get(blueprints::handle_archive))
        .route("/deployments", get(deployments::handle_list))
        .route(
            "/deployments/{id}",
            get(deployments::handle_get)
                .put(deployments::handle_create)
                .delete(deployments::handle_delete),
        )
        .route(
            "/deployments/{id}/outputs",
            get(deployments::handle_outputs),
        )
        .route(
            "/deployments/{id}/capabilities",
            get(deployments::handle_capabilities),
        )
        .route(
            "/executions",
            get(executions::handle_list).post(executions::handle_start),
        )
        .route(
            "/executions/{id}",
            get(executions::handle_get).post(executions::handle_action),
        )
        .route("/nodes", get(nodes::handle_list_nodes))
        .route(
            "/nodes/{deployment_id}/{node_id}",
            get(nodes::handle_get_node),
        )
        .route("/node-instances", get(nodes::handle_list_instances))
        .route(
            "/node-instances/{id}",
            get(nodes::handle_get_instance).patch(nodes::handle_update_instance),
        )
        .route("/events", get(events::handle_list))
        .route("/secrets", get(secrets::handle_list))
        .route(
            "/secrets/{key}",
            get(secrets::handle_get)
                .put(secrets::handle_create)
                .patch(secrets::handle_update)
                .delete(secrets::handle_delete),
        )
        .route(
            "/plugins",
            get(plugins::handle_list).post(plugins::handle_upload),
        )
        .route(
            "/plugins/{id}",
            get(plugins::handle_get).delete(plugins::handle_delete),
        )
        .route("/plugins/{id}/archive", get(plugins::handle_archive))
        .route("/tenants", get(tenants::handle_list))
        .route(
            "/tenants/users",
            put(tenants::handle_add_user)
                .patch(tenants::handle_add_user)
                .delete(tenants::handle_remove_user),
        )
        .route(
            "/tenants/{name}",
            get(tenants::handle_get)
                .post(tenants::handle_create)
                .delete(tenants::handle_delete),
        )
        .route("/snapshots", get(snapshots::handle_list))
        .route(
            "/snapshots/{id}",
            get(snapshots::handle_get)
                .put(snapshots::handle_create)
                .delete(snapshots::handle_delete),
        )
        .route(
            "/snapshots/{id}/archive",
            get(snapshots::handle_download).put(snapshots::handle_upload),
        )
        .route(
            "/snapshots/{id}/restore",
            axum::routing::post(snapshots::handle_restore),
        )
        .route("/users", get(users::handle_list).put(users::handle_create))
        .route("/user", get(users::handle_get_self))
        .route(
            "/users/{name}",
            get(users::handle_get)
                .post(users::handle_update)
                .delete(users::handle_delete),
        )
        .route(
            "/tokens",
            get(tokens::handle_get_legacy).post(tokens::handle_create),
        )
        .route(
            "/tokens/{id}",
            get(tokens::handle_get).delete(tokens::handle_delete),
        )
        .fallback(handle_unknown)
}

/// Every route, with auth and body limits.
pub fn router(app: App) -> Router {
    let limit = app.settings.max_body_bytes;
    let authenticated = Router::new()
        .nest("/api/v3.1", api())
        .nest("/api/v3", api())
        .nest("/api/v2.1", api())
        .route("/api/version", get(manager::handle_version))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::auth::authenticate,
        ));
    Router::new()
        .route("/healthz", get(handle_healthz))
        .route("/readyz", get(handle_readyz))
        .route("/openapi.json", get(crate::openapi::handle_document))
        .merge(authenticated)
        .fallback(handle_unknown)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(app)
}
