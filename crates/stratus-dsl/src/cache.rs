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

#[derive(Default)]
pub struct DocumentCache {
    entries: Mutex<Entries>,
}

impl DocumentCache {
    pub fn new() -> DocumentCache {
        DocumentCache::default()
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
