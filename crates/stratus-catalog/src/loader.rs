//! The production [`ImportLoader`]: plugin imports, URLs and files next to the blueprint.
//!
//! Every import the parser meets comes through here, so this is where an import string becomes
//! a canonical location (the parser's identity for a document) and where failures are explained
//! to the user: the import, the document that wrote it, and everything that was tried.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stratus_dsl::{ImportError, ImportLoader, LoadedImport};

use crate::catalog::Catalog;
use crate::resolver::{ImportResolver, ResolverConfig};
use crate::version::{compare, VersionSpec};

/// Somewhere plugin packages come from: the built-in catalog, later uploaded plugins.
pub trait PluginSource: Send + Sync {
    /// Shown in errors, e.g. "built-in catalog".
    fn describe(&self) -> String;
    /// Every version of plugin `name` this source holds.
    fn versions(&self, name: &str) -> Vec<String>;
    /// The plugin.yaml text of one version.
    fn text(&self, name: &str, version: &str) -> Option<Arc<str>>;
}

/// The built-in catalog's plugin packages.
pub struct CatalogPlugins(pub &'static Catalog);

impl PluginSource for CatalogPlugins {
    fn describe(&self) -> String {
        "built-in catalog".to_string()
    }

    fn versions(&self, name: &str) -> Vec<String> {
        self.0
            .plugin_versions(name)
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    fn text(&self, name: &str, version: &str) -> Option<Arc<str>> {
        self.0
            .plugin(name, &format!("=={version}"))
            .filter(|(v, _)| *v == version)
            .map(|(_, text)| Arc::from(text))
    }
}

/// Loads imports for the parser. See the module docs.
pub struct Loader {
    resolver: ImportResolver,
    /// Searched together; the newest matching version wins, the earlier source on a tie.
    plugin_sources: Vec<Box<dyn PluginSource>>,
    blueprint_root: Option<PathBuf>,
}

impl Loader {
    /// A loader over `resolver` with the built-in catalog's plugins.
    pub fn new(resolver: ImportResolver) -> Self {
        Loader {
            resolver,
            plugin_sources: vec![Box::new(CatalogPlugins(Catalog::builtin()))],
            blueprint_root: None,
        }
    }

    /// Built-in catalog only, no rules, no network.
    pub fn offline() -> Self {
        Loader::new(ImportResolver::new(
            ResolverConfig::default(),
            Catalog::builtin(),
            None,
        ))
    }

    /// Adds a plugin source consulted before the built-in catalog (wins ties).
    pub fn with_plugin_source(mut self, source: Box<dyn PluginSource>) -> Self {
        self.plugin_sources.insert(0, source);
        self
    }

    /// The main blueprint's directory: relative imports fall back to it, and
    /// `resource_exists` looks there.
    pub fn with_blueprint_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.blueprint_root = Some(root.into());
        self
    }

    fn load_plugin(&self, import: &str, importer: &str) -> Result<LoadedImport, ImportError> {
        let rest = &import["plugin:".len()..];
        let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
        let spec_text = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == "version")
            .map(|(_, value)| percent_decode(value))
            .unwrap_or_default();
        let spec = VersionSpec::parse(&spec_text);
        let mut best: Option<(String, &dyn PluginSource)> = None;
        let mut tried = Vec::new();
        for source in &self.plugin_sources {
            let versions = source.versions(name);
            tried.push(format!(
                "{}: {}",
                source.describe(),
                if versions.is_empty() {
                    "no versions".to_string()
                } else {
                    versions.join(", ")
                }
            ));
            for version in versions.into_iter().filter(|v| spec.matches(v)) {
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| compare(&version, b).is_gt())
                {
                    best = Some((version, source.as_ref()));
                }
            }
        }
        let wanted = if spec_text.trim().is_empty() {
            "any version".to_string()
        } else {
            format!("version {spec_text}")
        };
        let not_found = || {
            ImportError {
            message: format!(
                "cannot import '{import}' (imported by {importer}): no plugin '{name}' with {wanted}; available: {}",
                tried.join("; ")
            ),
        }
        };
        let (version, source) = best.ok_or_else(not_found)?;
        let text = source.text(name, &version).ok_or_else(not_found)?;
        Ok(LoadedImport {
            location: format!("plugin:{name}@{version}"),
            text,
        })
    }

    fn load_url(
        &self,
        url: &str,
        import: &str,
        importer: &str,
    ) -> Result<LoadedImport, ImportError> {
        let location = normalize_url(url);
        let resolved = self.resolver.resolve(&location).map_err(|e| ImportError {
            message: format!("import '{import}' (imported by {importer}): {e}"),
        })?;
        Ok(LoadedImport {
            location,
            text: Arc::from(resolved.text.as_ref()),
        })
    }

    fn load_path(&self, import: &str, importer: &str) -> Result<LoadedImport, ImportError> {
        let mut candidates = Vec::new();
        if Path::new(import).is_absolute() {
            candidates.push(PathBuf::from(import));
        } else {
            let importer_dir = Path::new(importer).parent().unwrap_or(Path::new(""));
            candidates.push(importer_dir.join(import));
            if let Some(root) = &self.blueprint_root {
                let in_root = root.join(import);
                if !candidates.contains(&in_root) {
                    candidates.push(in_root);
                }
            }
        }
        let mut failures = Vec::new();
        for candidate in &candidates {
            let read = std::fs::canonicalize(candidate).and_then(|canonical| {
                std::fs::read_to_string(&canonical).map(|text| (canonical, text))
            });
            match read {
                Ok((canonical, text)) => {
                    return Ok(LoadedImport {
                        location: canonical.to_string_lossy().into_owned(),
                        text: Arc::from(text),
                    });
                }
                Err(e) => failures.push(format!("{}: {e}", candidate.display())),
            }
        }
        // Last, as the reference does: a manager resource of that name.
        if let Some(loaded) = self.load_resource(import) {
            return Ok(loaded);
        }
        Err(ImportError {
            message: format!(
                "cannot import '{import}' (imported by {importer}); tried {}; no built-in manager resource of that name",
                failures.join("; ")
            ),
        })
    }

    fn load_resource(&self, name: &str) -> Option<LoadedImport> {
        let (canonical, text) = self.resolver.catalog().resource(name)?;
        Some(LoadedImport {
            location: format!("resource:{canonical}"),
            text: Arc::from(text),
        })
    }
}

impl ImportLoader for Loader {
    fn load(&self, import: &str, importer: &str) -> Result<LoadedImport, ImportError> {
        let import = import.trim();
        if import.starts_with("plugin:") {
            return self.load_plugin(import, importer);
        }
        if let Some(name) = import.strip_prefix("resource:") {
            return self.load_resource(name).ok_or_else(|| ImportError {
                message: format!("cannot import '{import}' (imported by {importer}): no such built-in manager resource"),
            });
        }
        if has_scheme(import) || import.starts_with("file:") {
            return self.load_url(import, import, importer);
        }
        if importer.starts_with("plugin:") {
            return Err(ImportError {
                message: format!("cannot import '{import}': relative imports are not supported inside plugin {importer}"),
            });
        }
        if has_scheme(importer) {
            return self.load_url(&join_url(importer, import), import, importer);
        }
        self.load_path(import, importer)
    }

    fn resource_exists(&self, path: &str) -> bool {
        self.blueprint_root.as_ref().is_some_and(|root| {
            let relative = Path::new(path);
            relative.is_relative() && root.join(relative).is_file()
        })
    }
}

/// `scheme://…` with an RFC 3986 scheme.
fn has_scheme(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// Resolves `relative` against the document at `base` (a URL).
fn join_url(base: &str, relative: &str) -> String {
    if relative.starts_with('/') {
        let (scheme, rest) = base.split_once("://").unwrap_or(("", base));
        let host = rest.split('/').next().unwrap_or("");
        return format!("{scheme}://{host}{relative}");
    }
    let directory = &base[..base.rfind('/').map_or(0, |i| i + 1)];
    format!("{directory}{relative}")
}

/// Lower-cases scheme and host and removes `.`/`..` segments, so spellings of one URL agree.
fn normalize_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let (path, query) = path
        .split_once(['?', '#'])
        .map_or((path, ""), |(p, _)| (p, &path[p.len()..]));
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    if path.ends_with("/.") || path.ends_with("/..") {
        segments.push("");
    }
    let authority = if scheme.eq_ignore_ascii_case("file") {
        authority.to_string()
    } else {
        authority.to_lowercase()
    };
    format!(
        "{}://{}/{}{}",
        scheme.to_lowercase(),
        authority,
        segments.join("/"),
        query
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len()
                && hex(bytes[i + 1]).is_some()
                && hex(bytes[i + 2]).is_some() =>
            {
                let high = hex(bytes[i + 1]).unwrap_or(0);
                let low = hex(bytes[i + 2]).unwrap_or(0);
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
