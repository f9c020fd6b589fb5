//! Cloudify DSL blueprints: YAML (PyYAML 1.1 semantics) with source spans, the blueprint
//! model, validation with all diagnostics at once, and the deployment plan.
//!
//! Invariant: this crate does no I/O. Imports arrive through [`ImportLoader`].

pub mod import;

pub use import::{ImportError, ImportLoader, LoadedImport};
