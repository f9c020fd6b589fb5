//! Parsed imported documents, shared across parses.
//!
//! Every DCAE blueprint imports the same large type files (Cloudify's `types.yaml`, the
//! k8splugin types); parsing them once per process instead of once per blueprint is most of
//! the difference between a 1 ms parse and a 5 ms one. Entries are keyed by location and the
//! text itself, so a changed document is never served stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::diag::Problem;
use crate::imports::load_document;
use crate::yaml::{Node, Span};

type Entries = HashMap<(String, usize), (Arc<str>, Arc<Node>)>;

/// Resolved type sections, by fingerprint of what they were resolved from.
type Resolved = HashMap<u64, Arc<crate::json::Map>>;

#[derive(Default)]
pub struct DocumentCache {
    entries: Mutex<Entries>,
    resolved: Mutex<Resolved>,
}

impl DocumentCache {
    pub fn new() -> DocumentCache {
        DocumentCache::default()
    }

    /// A type section resolved before from the same definitions (see [`fingerprint`]), or
    /// `resolve`'s result, kept when it reported no problem. Every blueprint importing
    /// Cloudify's `types.yaml` resolves the same node types; this does it once.
    pub fn resolve_section(
        &self,
        key: u64,
        resolve: impl FnOnce() -> (crate::json::Map, bool),
    ) -> Arc<crate::json::Map> {
        if let Some(found) = self.resolved.lock().ok().and_then(|r| r.get(&key).cloned()) {
            return found;
        }
        let (value, clean) = resolve();
        let value = Arc::new(value);
        if clean {
            if let Ok(mut resolved) = self.resolved.lock() {
                if resolved.len() > 4096 {
                    resolved.clear();
                }
                resolved.insert(key, value.clone());
            }
        }
        value
    }

    /// The parsed document, with every span's file set to `file`.
    pub fn load(&self, location: &str, text: &Arc<str>, file: u32) -> Result<Node, Problem> {
        let key = (location.to_string(), text.len());
        let cached = self.entries.lock().ok().and_then(|entries| {
            entries
                .get(&key)
                .filter(|(cached_text, _)| cached_text == text)
                .map(|(_, node)| node.clone())
        });
        let node = match cached {
            Some(node) => node,
            None => {
                let node = Arc::new(load_document(text, 0).map_err(|mut problem| {
                    if let Some(span) = &mut problem.span {
                        span.file = file;
                    }
                    problem
                })?);
                if let Ok(mut entries) = self.entries.lock() {
                    entries.insert(key, (text.clone(), node.clone()));
                }
                node
            }
        };
        let mut node = (*node).clone();
        if file != 0 {
            set_file(&mut node, file);
        }
        Ok(node)
    }
}

fn set_file(node: &mut Node, file: u32) {
    node.span = Span { file, ..node.span };
    match &mut node.value {
        crate::yaml::Value::Seq(items) => items.iter_mut().for_each(|item| set_file(item, file)),
        crate::yaml::Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            set_file(k, file);
            set_file(v, file);
        }),
        _ => {}
    }
}

/// A structural hash of a YAML section (positions ignored) and of the other inputs its
/// resolution depends on.
pub fn fingerprint(section: Option<&Node>, salt: &[&str]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    salt.hash(&mut hasher);
    fn walk(node: &Node, hasher: &mut std::collections::hash_map::DefaultHasher) {
        match &node.value {
            crate::yaml::Value::Null => 0u8.hash(hasher),
            crate::yaml::Value::Bool(b) => (1u8, b).hash(hasher),
            crate::yaml::Value::Int(i) => (2u8, i).hash(hasher),
            crate::yaml::Value::Float(f) => (3u8, f.to_bits()).hash(hasher),
            crate::yaml::Value::Str(s) => (4u8, &**s).hash(hasher),
            crate::yaml::Value::Seq(items) => {
                (5u8, items.len()).hash(hasher);
                items.iter().for_each(|i| walk(i, hasher));
            }
            crate::yaml::Value::Map(entries) => {
                (6u8, entries.len()).hash(hasher);
                for (k, v) in entries {
                    walk(k, hasher);
                    walk(v, hasher);
                }
            }
        }
    }
    if let Some(section) = section {
        walk(section, &mut hasher);
    }
    hasher.finish()
}
