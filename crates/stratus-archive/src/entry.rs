//! From the readers' flat list of entries to an [`Archive`]: one rule set for every format.
//!
//! Order of checks: duplicates and file/directory conflicts, then the top-level rule (which
//! fixes the root), then links (which must stay inside that root), then the root is stripped.
//! Links are materialized as copies of their target's bytes and charged to the budget, so an
//! [`Archive`] never holds a link and [`Archive::write_to`] never creates one.

use std::collections::{BTreeMap, BTreeSet};

use crate::budget::Budget;
use crate::path::{ancestors, is_within, parent, resolve_link, shown, top_level};
use crate::{Archive, ArchiveError, Format};

/// One archive entry with a normalized, non-empty path.
#[derive(Debug)]
pub(crate) struct RawEntry {
    pub(crate) path: String,
    pub(crate) kind: EntryKind,
}

#[derive(Debug)]
pub(crate) enum EntryKind {
    File(Vec<u8>),
    Directory,
    /// Target as written: relative to the link's directory.
    SymbolicLink(String),
    /// Target as written: relative to the archive root (tar semantics).
    HardLink(String),
}

/// What a blueprint or plugin archive must look like at the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Exactly one top-level directory; it becomes the root.
    SingleDirectory,
    /// Anything; a single top-level directory still becomes the root.
    Flat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    File,
    Directory,
    Link,
}

pub(crate) fn assemble(
    format: Format,
    entries: Vec<RawEntry>,
    layout: Layout,
    budget: &mut Budget<'_>,
) -> Result<Archive, ArchiveError> {
    let mut nodes: BTreeMap<String, Node> = BTreeMap::new();
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut links: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for RawEntry { path, kind } in entries {
        let node = match kind {
            EntryKind::File(_) => Node::File,
            EntryKind::Directory => Node::Directory,
            EntryKind::SymbolicLink(_) | EntryKind::HardLink(_) => Node::Link,
        };
        match (nodes.get(&path), node) {
            (None, _) => {}
            (Some(Node::Directory), Node::Directory) => continue,
            (Some(Node::Directory), _) | (Some(_), Node::Directory) => {
                return Err(ArchiveError::FileDirectoryConflict(shown(&path)))
            }
            (Some(_), _) => return Err(ArchiveError::DuplicateEntry(shown(&path))),
        }
        nodes.insert(path.clone(), node);
        match kind {
            EntryKind::File(data) => {
                files.insert(path, data);
            }
            EntryKind::Directory => {}
            EntryKind::SymbolicLink(target) => {
                links.insert(path, (target, false));
            }
            EntryKind::HardLink(target) => {
                links.insert(path, (target, true));
            }
        }
    }
    for path in nodes.keys() {
        for ancestor in ancestors(path) {
            if matches!(nodes.get(ancestor), Some(Node::File | Node::Link)) {
                return Err(ArchiveError::FileDirectoryConflict(shown(ancestor)));
            }
        }
    }

    let root = choose_root(&nodes, layout)?;
    materialize_links(&nodes, &links, &root, &mut files, budget)?;
    let files = if root.is_empty() {
        files
    } else {
        files
            .into_iter()
            .filter_map(|(path, data)| {
                let relative = path.strip_prefix(&root)?.strip_prefix('/')?;
                Some((relative.to_owned(), data))
            })
            .collect()
    };
    Ok(Archive {
        format,
        root,
        files,
    })
}

/// Applies the top-level rule and returns the root (`""` for a flat archive).
fn choose_root(nodes: &BTreeMap<String, Node>, layout: Layout) -> Result<String, ArchiveError> {
    let tops: BTreeSet<&str> = nodes.keys().map(|path| top_level(path)).collect();
    let mut iter = tops.iter();
    match (iter.next(), iter.next(), layout) {
        (None, _, _) => Err(ArchiveError::Empty),
        (Some(top), None, _) if matches!(nodes.get(*top), None | Some(Node::Directory)) => {
            Ok((*top).to_owned())
        }
        (Some(top), None, Layout::SingleDirectory) => {
            Err(ArchiveError::NoTopLevelDirectory(shown(top)))
        }
        (Some(_), Some(_), Layout::SingleDirectory) => Err(ArchiveError::MultipleTopLevelEntries(
            tops.iter().map(|top| shown(top)).collect(),
        )),
        (Some(_), _, Layout::Flat) => Ok(String::new()),
    }
}

/// Replaces every link by a copy of the file it leads to (following chains of links).
fn materialize_links(
    nodes: &BTreeMap<String, Node>,
    links: &BTreeMap<String, (String, bool)>,
    root: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
    budget: &mut Budget<'_>,
) -> Result<(), ArchiveError> {
    // Every link's own target must stay inside the root before any is followed, so a chain
    // can only lead to links that are themselves checked.
    let mut resolved: BTreeMap<&str, String> = BTreeMap::new();
    for (path, (target, hard)) in links {
        let base = if *hard { "" } else { parent(path) };
        match resolve_link(base, target) {
            Some(place) if is_within(&place, root) && !target.is_empty() => {
                resolved.insert(path, place);
            }
            Some(_) if target.is_empty() => return Err(broken(path, target)),
            _ => {
                return Err(ArchiveError::LinkEscapes {
                    path: shown(path),
                    target: shown(target),
                })
            }
        }
    }
    const MAX_HOPS: usize = 32;
    for (path, (target, _)) in links {
        let mut place = resolved
            .get(path.as_str())
            .ok_or_else(|| broken(path, target))?;
        let mut hops = 0;
        let data = loop {
            match nodes.get(place.as_str()) {
                Some(Node::File) => {
                    break files
                        .get(place)
                        .ok_or_else(|| broken(path, target))?
                        .clone();
                }
                Some(Node::Link) if hops < MAX_HOPS => {
                    hops += 1;
                    place = resolved
                        .get(place.as_str())
                        .ok_or_else(|| broken(path, target))?;
                }
                _ => return Err(broken(path, target)),
            }
        };
        budget.charge(data.len() as u64)?;
        files.insert(path.clone(), data);
    }
    Ok(())
}

fn broken(path: &str, target: &str) -> ArchiveError {
    ArchiveError::BrokenLink {
        path: shown(path),
        target: shown(target),
    }
}
