//! The built-in catalog: which document lives at which URL path, rendered on first use.
//!
//! The parser imports `types.yaml` for every blueprint, so the index is built once per process
//! (a scan of header lines only) and each document is patched and rendered at most once, then
//! served as `&'static str` from a `OnceLock`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use crate::compact::{self, DocDecl, Source};
use crate::value::Map;
use crate::version::{compare, VersionSpec};

/// The family files, embedded. Each holds one base document and patches for its relatives.
const FAMILIES: &[(&str, &str)] = &[
    ("cloudify", include_str!("../catalog/cloudify.scat")),
    (
        "clamppolicyplugin",
        include_str!("../catalog/clamppolicyplugin.scat"),
    ),
    (
        "dcaepolicyplugin",
        include_str!("../catalog/dcaepolicyplugin.scat"),
    ),
    ("dmaap", include_str!("../catalog/dmaap.scat")),
    ("dnsdesig", include_str!("../catalog/dnsdesig.scat")),
    ("dockerplugin", include_str!("../catalog/dockerplugin.scat")),
    ("helm", include_str!("../catalog/helm.scat")),
    ("k8splugin", include_str!("../catalog/k8splugin.scat")),
    ("pgaas", include_str!("../catalog/pgaas.scat")),
    (
        "relationshipplugin",
        include_str!("../catalog/relationshipplugin.scat"),
    ),
    ("sshkeyshare", include_str!("../catalog/sshkeyshare.scat")),
];

/// The catalog's source files, for tests that check what is committed.
pub fn sources() -> &'static [(&'static str, &'static str)] {
    FAMILIES
}

/// Manager resources (`resource:NAME` in the reference, also what a relative
/// `cloudify/types/types.yaml` falls back to) → (canonical name, URL path of the catalog document).
const RESOURCES: &[(&str, &str, &str)] = &[
    (
        "cloudify/types/types.yaml",
        "cloudify/types/types.yaml",
        "cloudify-dsl-1.4/types.yaml",
    ),
    (
        "cloudify/types/types_1_4.yaml",
        "cloudify/types/types.yaml",
        "cloudify-dsl-1.4/types.yaml",
    ),
    (
        "cloudify/types/types_1_3.yaml",
        "cloudify/types/types_1_3.yaml",
        "cloudify-dsl-1.3/types.yaml",
    ),
];

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A type file served at a URL path.
    TypeFile,
    /// A plugin package version, for `plugin:NAME?version=SPEC` imports.
    Plugin,
}

/// One file the catalog can produce.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    pub kind: EntryKind,
    /// URL path without scheme, or `plugins/NAME/VERSION/plugin.yaml`.
    pub path: String,
}

/// The built-in catalog. A handle: the data lives in process-wide statics.
#[derive(Debug)]
pub struct Catalog;

static CATALOG: Catalog = Catalog;

struct Doc {
    family: &'static str,
    decl: DocDecl,
    tree: OnceLock<Map>,
    text: OnceLock<String>,
}

struct Index {
    docs: Vec<Doc>,
    by_path: HashMap<&'static str, usize>,
    /// Plugin name → (version, doc), newest first.
    plugins: HashMap<&'static str, Vec<(&'static str, usize)>>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index {
            docs: Vec::new(),
            by_path: HashMap::new(),
            plugins: HashMap::new(),
        };
        for (family, text) in FAMILIES {
            // The catalog is part of the program; tests/contract.rs proves every file parses.
            let decls = compact::declarations(text)
                .unwrap_or_else(|e| panic!("catalog/{family}.scat: {e}"));
            for decl in decls {
                let position = index.docs.len();
                for path in &decl.paths {
                    index.by_path.insert(path, position);
                }
                if decl.is_plugin_version {
                    index
                        .plugins
                        .entry(family)
                        .or_default()
                        .push((decl.id, position));
                }
                index.docs.push(Doc {
                    family,
                    decl,
                    tree: OnceLock::new(),
                    text: OnceLock::new(),
                });
            }
        }
        for versions in index.plugins.values_mut() {
            versions.sort_by(|a, b| compare(b.0, a.0));
        }
        index
    })
}

impl Index {
    fn find(&self, family: &str, id: &str) -> usize {
        self.docs
            .iter()
            .position(|doc| doc.family == family && doc.decl.id == id)
            .unwrap_or_else(|| panic!("catalog/{family}.scat: no document `{id}`"))
    }

    fn tree(&'static self, position: usize) -> &'static Map {
        let doc = &self.docs[position];
        doc.tree.get_or_init(|| {
            let fail = |e: String| -> ! {
                panic!("catalog/{}.scat, document {}: {e}", doc.family, doc.decl.id)
            };
            match doc.decl.source {
                Source::Full => compact::parse_tree(doc.decl.body).unwrap_or_else(|e| fail(e)),
                Source::Same(other) => self.tree(self.find(doc.family, other)).clone(),
                Source::Patch(parent) => {
                    let mut tree = self.tree(self.find(doc.family, parent)).clone();
                    compact::apply_patch(&mut tree, doc.decl.body).unwrap_or_else(|e| fail(e));
                    tree
                }
            }
        })
    }

    fn text(&'static self, position: usize) -> &'static str {
        self.docs[position]
            .text
            .get_or_init(|| crate::render::to_yaml(self.tree(position)))
    }
}

/// `http://host/path` or `https://host/path` → `host/path`; other schemes → `None`.
pub fn url_path(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")).then_some(rest)
}

impl Catalog {
    pub fn builtin() -> &'static Catalog {
        &CATALOG
    }

    /// Rendered YAML for a URL path such as `www.getcloudify.org/spec/cloudify/4.5.5/types.yaml`.
    pub fn document(&self, url_path: &str) -> Option<&'static str> {
        let index = index();
        index
            .by_path
            .get(url_path)
            .map(|&position| index.text(position))
    }

    /// Same, from a full `http(s)://` URL (the scheme is ignored).
    pub fn document_for_url(&self, url: &str) -> Option<&'static str> {
        url_path(url).and_then(|path| self.document(path))
    }

    /// A manager resource such as `cloudify/types/types.yaml`: (canonical name, rendered YAML).
    /// Names that denote the same document share the canonical name.
    pub fn resource(&self, name: &str) -> Option<(&'static str, &'static str)> {
        let &(_, canonical, path) = RESOURCES.iter().find(|(alias, _, _)| *alias == name)?;
        Some((canonical, self.document(path)?))
    }

    /// Renders every document now, so the first blueprint parse does not pay for it (about
    /// 2 ms for the whole catalog in a release build).
    pub fn warm(&self) {
        for entry in self.entries() {
            let _ = self.entry_text(&entry);
        }
    }

    /// Newest plugin package `name` whose version satisfies `spec`: (version, plugin.yaml).
    pub fn plugin(&self, name: &str, spec: &str) -> Option<(&'static str, &'static str)> {
        let index = index();
        let spec = VersionSpec::parse(spec);
        let versions = index.plugins.get(name)?;
        let &(version, position) = versions.iter().find(|(version, _)| spec.matches(version))?;
        Some((version, index.text(position)))
    }

    /// Every version of plugin `name`, newest first.
    pub fn plugin_versions(&self, name: &str) -> Vec<&'static str> {
        index()
            .plugins
            .get(name)
            .map(|v| v.iter().map(|(version, _)| *version).collect())
            .unwrap_or_default()
    }

    /// Every file the catalog can produce.
    pub fn entries(&self) -> Vec<Entry> {
        let index = index();
        let mut entries: Vec<Entry> = index
            .by_path
            .keys()
            .map(|path| Entry {
                kind: EntryKind::TypeFile,
                path: path.to_string(),
            })
            .collect();
        for doc in index.docs.iter().filter(|doc| doc.decl.is_plugin_version) {
            let path = format!("plugins/{}/{}/plugin.yaml", doc.family, doc.decl.id);
            entries.push(Entry {
                kind: EntryKind::Plugin,
                path,
            });
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries
    }

    /// Rendered text of an entry (a type file's URL path or a plugin's `plugins/…` path).
    pub fn entry_text(&self, entry: &Entry) -> Option<&'static str> {
        match entry.kind {
            EntryKind::TypeFile => self.document(&entry.path),
            EntryKind::Plugin => {
                let mut parts = entry.path.split('/');
                let (Some("plugins"), Some(name), Some(version), Some("plugin.yaml"), None) = (
                    parts.next(),
                    parts.next(),
                    parts.next(),
                    parts.next(),
                    parts.next(),
                ) else {
                    return None;
                };
                let index = index();
                let &(_, position) = index
                    .plugins
                    .get(name)?
                    .iter()
                    .find(|(v, _)| *v == version)?;
                Some(index.text(position))
            }
        }
    }

    /// Writes every entry at its path under `dir`. Returns how many files were written.
    pub fn export(&self, dir: &Path) -> std::io::Result<usize> {
        let mut count = 0;
        for entry in self.entries() {
            let Some(text) = self.entry_text(&entry) else {
                continue;
            };
            let target = dir.join(&entry.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, text)?;
            count += 1;
        }
        Ok(count)
    }
}
