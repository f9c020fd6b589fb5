//! ONAP's k8splugin, natively: the operations DCAE blueprints name
//! (`k8splugin.create_for_components`, `…create_and_start_container_for_platforms`, `scale`,
//! …) run against a Kubernetes API server with kube-rs, creating the objects k8splugin
//! created (`spec`, with MSB registration annotations from `msb`), idempotently (`apply`),
//! with the plugin's settings in the shape of ONAP's `k8s-plugin.json` (`settings`) layered
//! with the Consul key `k8s-plugin` at each operation (`source`), credentials found once in
//! the original container's order (`credentials`) and the component configuration in a
//! ConfigMap and, when Consul is configured, in Consul KV (`consul`). `ops` is the operations
//! themselves (`start` and `maintenance` hold most of them).
//!
//! *Invariants:* re-running an operation that completed (or was interrupted) converges to the
//! same objects and never fails because its own objects exist; an object of the same name
//! owned by someone else, or with other content, is a `Conflict` and is never changed or
//! deleted; no message contains a token or password.

mod apply;
pub mod consul;
pub mod credentials;
mod error;
mod maintenance;
pub mod msb;
mod notify;
pub mod ops;
mod pyjson;
pub mod settings;
mod source;
pub mod spec;
mod start;

pub use apply::{difference, same_owner};
pub use credentials::{Credentials, Sources};
pub use error::Error;
pub use ops::{Log, Outcome, Plugin, Request, OPERATIONS};
pub use settings::PluginSettings;
pub use source::{Resolved, SettingsSource};
