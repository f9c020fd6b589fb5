//! The tree builder: turns parser events (from the fast path or yaml-rust2) into [`Node`]s
//! with PyYAML's semantics: implicit scalar resolution, `<<` merge keys, anchors and aliases,
//! a repeated key keeping its first position and last value, non-ASCII strings rejected.
//!
//! The items of open sequences and the entries of open mappings sit on two flat stacks; a
//! collection takes its own off them at its end, in one allocation of the right size (a
//! mapping is reworked only when it has a repeated key or a `<<` key).

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, MarkedEventReceiver};
use yaml_rust2::scanner::Marker;

use super::fast::{Ev, Mark, Sink};
use super::scalars::resolve_scalar;
use super::{LoadError, Node, Span, Value};

/// An open collection: its anchor, where it starts, and where its items (or entries) start
/// on their stack.
struct Frame {
    map: bool,
    /// A mapping's last entry has its key and awaits its value.
    has_key: bool,
    anchor: usize,
    span: Span,
    start: usize,
}

/// The value of an entry whose value has not come yet.
const PENDING: Node = Node {
    span: Span {
        file: 0,
        line: 0,
        column: 0,
    },
    value: Value::Null,
};

pub(super) struct Builder {
    file: u32,
    frames: Vec<Frame>,
    /// The finished items of the open sequences, innermost last.
    items: Vec<Node>,
    /// The entries of the open mappings, innermost last.
    entries: Vec<(Node, Node)>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    error: Option<LoadError>,
}

impl Builder {
    pub(super) fn new(file: u32) -> Builder {
        Builder {
            file,
            frames: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            anchors: Vec::new(),
            root: None,
            error: None,
        }
    }

    /// The document once all its events are in (an empty one is an empty mapping).
    pub(super) fn finish(self) -> Result<Node, LoadError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        Ok(self.root.unwrap_or(Node::new(
            Value::Map(Vec::new()),
            Span {
                file: self.file,
                line: 1,
                column: 1,
            },
        )))
    }

    fn span(&self, mark: &Mark) -> Span {
        Span {
            file: self.file,
            line: mark.line as u32,
            column: mark.col as u32 + 1,
        }
    }

    fn fail(&mut self, span: Span, code: i32, message: String) {
        if self.error.is_none() {
            self.error = Some(LoadError {
                line: span.line,
                column: span.column,
                message,
                code,
            });
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
    }

    #[inline(always)]
    fn push_value(&mut self, node: Node) {
        match self.frames.last_mut() {
            None => self.root = Some(node),
            Some(frame) if !frame.map => self.items.push(node),
            Some(frame) => {
                if frame.has_key {
                    if let Some(entry) = self.entries.last_mut() {
                        entry.1 = node;
                    }
                } else {
                    self.entries.push((node, PENDING));
                }
                frame.has_key = !frame.has_key;
            }
        }
    }

    /// A mapping from its entries in document order: a repeated key keeps its first position
    /// and its last value; `<<` values are merged in (`finish_map`).
    fn mapping(&mut self, pairs: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
        if !needs_rework(&pairs) {
            return pairs;
        }
        let mut entries: Vec<(Node, Node)> = Vec::with_capacity(pairs.len());
        let mut merges: Vec<Node> = Vec::new();
        // Position of each key in `entries`, once the mapping is too big for a linear search.
        let mut index: HashMap<KeyId, usize> = HashMap::new();
        for (k, node) in pairs {
            if k.as_str() == Some("<<") {
                merges.push(node);
                continue;
            }
            match find_key(&entries, &index, &k.value) {
                Some(position) => entries[position].1 = node,
                None => {
                    if !index.is_empty() {
                        index.insert(KeyId::of(&k.value), entries.len());
                    }
                    entries.push((k, node));
                    if index.is_empty() && entries.len() > INDEXED {
                        for (position, (key, _)) in entries.iter().enumerate() {
                            index.entry(KeyId::of(&key.value)).or_insert(position);
                        }
                    }
                }
            }
        }
        self.finish_map(entries, merges)
    }

    fn finish_map(&mut self, entries: Vec<(Node, Node)>, merges: Vec<Node>) -> Vec<(Node, Node)> {
        if merges.is_empty() {
            return entries;
        }
        let mut merged: Vec<(Node, Node)> = Vec::new();
        for merge in merges {
            match merge.value {
                Value::Map(sources) => merged.extend(sources),
                Value::Seq(items) => {
                    // PyYAML 6 (the reference's) merges the list in order, so a later mapping
                    // overrides an earlier one.
                    let mut from_list: Vec<(Node, Node)> = Vec::new();
                    for item in items {
                        match item.value {
                            Value::Map(sources) => from_list.extend(sources),
                            _ => self.fail(
                                item.span,
                                -1,
                                "expected a mapping for merging, but found a non-mapping in the merge list".into(),
                            ),
                        }
                    }
                    merged.extend(from_list);
                }
                _ => self.fail(
                    merge.span,
                    -1,
                    format!(
                        "expected a mapping or list of mappings for merging, but found {}",
                        merge.type_name()
                    ),
                ),
            }
        }
        let mut result: Vec<(Node, Node)> = Vec::with_capacity(merged.len() + entries.len());
        for (k, v) in merged.into_iter().chain(entries) {
            insert(&mut result, k, v);
        }
        result
    }
}

/// Mappings with more keys than this look string keys up in an index.
const INDEXED: usize = 16;

/// A mapping key's identity: two keys are the same key when they print the same (`{:?}`),
/// so floats compare by their bits (every NaN alike) and collections with their positions.
#[derive(PartialEq, Eq, Hash)]
enum KeyId {
    Null,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(crate::json::Str),
    Other(String),
}

impl KeyId {
    fn of(value: &Value) -> KeyId {
        match value {
            Value::Null => KeyId::Null,
            Value::Bool(b) => KeyId::Bool(*b),
            Value::Int(i) => KeyId::Int(*i),
            Value::Float(f) if f.is_nan() => KeyId::Float(f64::NAN.to_bits()),
            Value::Float(f) => KeyId::Float(f.to_bits()),
            Value::Str(s) => KeyId::Str(s.clone()),
            other => KeyId::Other(format!("{other:?}")),
        }
    }
}

fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        (Value::Float(x), Value::Float(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Value::Seq(_), Value::Seq(_)) | (Value::Map(_), Value::Map(_)) => {
            format!("{a:?}") == format!("{b:?}")
        }
        _ => false,
    }
}

/// Whether a mapping's entries have a `<<` key or a repeated key (without either, they are
/// the mapping as they are).
fn needs_rework(pairs: &[(Node, Node)]) -> bool {
    if pairs.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return true;
    }
    if pairs.len() <= INDEXED {
        (1..pairs.len()).any(|i| {
            pairs[..i]
                .iter()
                .any(|(k, _)| same_key(&k.value, &pairs[i].0.value))
        })
    } else {
        let mut seen = HashSet::with_capacity(pairs.len());
        !pairs.iter().all(|(k, _)| seen.insert(KeyId::of(&k.value)))
    }
}

/// The position of `key` among a mapping's entries so far.
fn find_key(
    entries: &[(Node, Node)],
    index: &std::collections::HashMap<KeyId, usize>,
    key: &Value,
) -> Option<usize> {
    if index.is_empty() {
        entries.iter().position(|(k, _)| same_key(&k.value, key))
    } else {
        index.get(&KeyId::of(key)).copied()
    }
}

fn insert(entries: &mut Vec<(Node, Node)>, key: Node, value: Node) {
    if let Some(slot) = entries.iter_mut().find(|(k, _)| k.value == key.value) {
        slot.1 = value;
    } else {
        entries.push((key, value));
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let mark = Mark {
            index: mark.index(),
            line: mark.line(),
            col: mark.col(),
        };
        self.event(Ev::from_event(event), mark);
    }
}

impl Sink for Builder {
    fn event(&mut self, event: Ev<'_>, mark: Mark) {
        if self.error.is_some() {
            return;
        }
        let span = self.span(&mark);
        match event {
            Ev::Scalar(text, style, anchor, tag) => {
                let value = match resolve_scalar(&text, style, tag.as_ref()) {
                    Ok(value) => value,
                    Err(message) => {
                        self.fail(span, -1, message);
                        return;
                    }
                };
                if let Value::Str(s) = &value {
                    if !s.is_ascii() {
                        self.fail(
                            span,
                            108,
                            format!(
                                "illegal characters in line: {}, column: {}. Only valid ascii chars are supported.",
                                span.line - 1,
                                span.column - 1
                            ),
                        );
                        return;
                    }
                }
                let node = Node::new(value, span);
                self.remember(anchor, &node);
                self.push_value(node);
            }
            Ev::Alias(anchor) => match self.anchors.iter().rev().find(|(id, _)| *id == anchor) {
                Some((_, node)) => {
                    let node = node.clone();
                    self.push_value(node);
                }
                None => self.fail(span, -3, "found undefined alias".into()),
            },
            Ev::SequenceStart(anchor, _) => self.frames.push(Frame {
                map: false,
                has_key: false,
                anchor,
                span,
                start: self.items.len(),
            }),
            Ev::MappingStart(anchor, _) => self.frames.push(Frame {
                map: true,
                has_key: false,
                anchor,
                span,
                start: self.entries.len(),
            }),
            Ev::SequenceEnd | Ev::MappingEnd => {
                let Some(frame) = self.frames.pop() else {
                    return;
                };
                let value = if frame.map {
                    let mut pairs = self.entries.split_off(frame.start);
                    if frame.has_key {
                        // A key without a value (no parser sends one) is dropped.
                        pairs.pop();
                    }
                    Value::Map(self.mapping(pairs))
                } else {
                    Value::Seq(self.items.split_off(frame.start))
                };
                let node = Node::new(value, frame.span);
                self.remember(frame.anchor, &node);
                self.push_value(node);
            }
            Ev::DocumentStart => {
                if self.root.is_some() {
                    self.fail(
                        span,
                        -1,
                        "expected a single document in the stream, but found another document"
                            .into(),
                    );
                }
            }
            Ev::StreamStart | Ev::StreamEnd | Ev::DocumentEnd => {}
        }
    }
}
