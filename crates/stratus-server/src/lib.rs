//! The manager service: Cloudify's REST API v3.1 over the durable store.
//!
//! `app` wires routes to `resources::*` handlers; `auth` decides who calls and in which
//! tenant; `state` holds the committed state in memory and is the only way to change it;
//! `query` implements Cloudify's list protocol; `error` is the one place failures become
//! HTTP. `bootstrap` prepares a fresh store (default tenant, admin user). The binary chooses
//! the store, the listener and the settings and calls [`serve`].

pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod extract;
pub mod files;
pub mod json_field;
pub mod multipart;
pub mod openapi;
pub mod query;
pub mod resources;
pub mod runner;
pub mod runtime;
pub mod snapshot;
pub mod state;
pub mod tls;

use std::future::Future;
use std::sync::Arc;

pub use app::{App, Settings};
pub use bootstrap::{bootstrap, AdminPassword};
use stratus_store::Store;

/// Loads the state from `store` and returns the app, ready to serve.
pub fn open(store: Arc<dyn Store>, settings: Settings) -> Result<App, stratus_store::StoreError> {
    let shared = state::Shared::load(store)?;
    Ok(App::new(shared, settings))
}

/// Serves `app` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app::router(app.clone());
    app.set_ready(true);
    let readiness = app.clone();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            readiness.set_ready(false);
        })
        .await
}
