//! Cloudify DSL blueprints: YAML (PyYAML 1.1 semantics) with source spans, the blueprint
//! model, validation with all diagnostics at once, and the deployment plan.
//!
//! Invariant: this crate does no I/O. Imports arrive through [`ImportLoader`]; everything else
//! is a pure function of its inputs (apart from random node instance id suffixes).
//!
//! ```text
//! text ──yaml──▶ Node ──imports──▶ merged Node ──blueprint──▶ Blueprint (plan JSON)
//!                                                  └──plan::prepare(inputs)──▶ deployment plan
//! ```

pub mod blueprint;
pub mod cache;
pub mod constraints;
pub mod dependencies;
pub mod diag;
pub mod functions;
pub mod import;
pub mod imports;
pub mod instances;
pub mod interfaces;
pub mod json;
pub mod namespace;
pub mod node_plugins;
mod parallel;
pub mod plan;
pub mod plan_tree;
pub mod props;
pub mod schema;
pub mod sections;
pub mod string_functions;
pub mod templates;
pub mod types;
pub mod version;
pub mod yaml;

pub use blueprint::{parse, Blueprint};
pub use cache::DocumentCache;
pub use diag::{Diagnostic, Kind};
pub use import::{ImportError, ImportLoader, LoadedImport};
pub use plan::{prepare, prepare_owned, prepare_with_secrets};
pub use plan_tree::Plan;

/// Sorts object keys recursively (the reference prints plans with `sort_keys=True`).
pub fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::with_capacity(map.len());
            for key in keys {
                out.insert(key.clone(), sorted(&map[key]));
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted).collect())
        }
        other => other.clone(),
    }
}
