//! The one door through which the parser reaches other documents.
//!
//! The DSL crate never touches files or the network: whoever calls the parser supplies an
//! [`ImportLoader`] that turns an import string (as written in a blueprint) into text.
//! `stratus-catalog` provides the production loader (resolver rules, built-in catalog,
//! blueprint directory); tests use in-memory maps.

use std::sync::Arc;

/// A document fetched for an import.
#[derive(Debug, Clone)]
pub struct LoadedImport {
    /// Canonical location of the document (absolute path, URL or `plugin:NAME@VERSION`).
    /// Two imports that name the same document must yield the same location: the parser
    /// uses it to import each document once and as the file name in diagnostics.
    pub location: String,
    /// The YAML text.
    pub text: Arc<str>,
}

/// Why an import could not be loaded. `message` is shown to the user as is, so it names the
/// import and what was tried (resolver rules, catalog, files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub message: String,
}

/// Resolves imports. `importer` is the canonical location of the document that holds the
/// import, so relative imports can be resolved against it.
pub trait ImportLoader: Sync {
    fn load(&self, import: &str, importer: &str) -> Result<LoadedImport, ImportError>;

    /// Whether `path` (relative to the main blueprint's directory) names a file shipped with
    /// the blueprint. An operation implementation that names such a file runs through the
    /// script plugin. The default knows no resources.
    fn resource_exists(&self, _path: &str) -> bool {
        false
    }
}
