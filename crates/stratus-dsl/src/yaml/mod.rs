//! YAML with source positions, resolved the way PyYAML 1.1 (the reference parser's loader)
//! resolves it.
//!
//! Blueprints are written against PyYAML: `yes`/`on` are booleans, `0755` is octal, `1:30` is
//! sexagesimal, `1e5` is a string, `<<` merges mappings. yaml-rust2 gives us events with
//! positions; this module builds [`Node`] trees from them with PyYAML's implicit resolvers, so
//! every value in a blueprint can be traced back to a file, line and column.

use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

mod scalars;
use scalars::resolve_scalar;

/// Where a node starts: index of the file in the parse's file table, 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub file: u32,
    pub line: u32,
    pub column: u32,
}

/// A YAML value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

/// A YAML value. Mappings keep document order; a repeated key keeps its first position and
/// its last value, as a Python dict built from the document would.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(value: Value, span: Span) -> Node {
        Node { span, value }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The entry of a mapping whose key is the string `key`.
    pub fn get_entry(&self, key: &str) -> Option<&(Node, Node)> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key))
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.get_entry(key).map(|(_, v)| v)
    }

    /// The user-facing name of this value's type, in the reference's words.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "NoneType",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "dict",
        }
    }

    /// The plain JSON value (positions dropped).
    pub fn to_json(&self) -> crate::json::Value {
        use crate::json::{Map, Str, Value as J};
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::from(python_float_repr(*f))),
            Value::Str(s) => J::String(Str::from(s.clone())),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = match &k.value {
                        Value::Str(s) => Str::from(s.clone()),
                        _ => Str::from(k.key_string()),
                    };
                    map.insert(key, v.to_json());
                }
                J::Object(map)
            }
        }
    }

    /// A mapping key as the string Python would print for it.
    pub fn key_string(&self) -> String {
        match &self.value {
            Value::Str(s) => s.to_string(),
            Value::Null => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => python_float_repr(*f),
            _ => self.to_json().to_string(),
        }
    }
}

fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{f:?}")
    }
}

/// Why a document could not be loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// -1: a YAML structure error (PyYAML's `ParserError`, which the reference reports as
    /// code -1); -2: a token error (PyYAML's `ScannerError`, reported without a code); -3: an
    /// undefined alias (`ComposerError`); 108: non-ASCII text.
    pub code: i32,
}

/// Loads one YAML document. An empty document is an empty mapping, as in the reference.
pub fn load(text: &str, file: u32) -> Result<Node, LoadError> {
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(err) = parser.load(&mut builder, false) {
        let marker = err.marker();
        return Err(LoadError {
            line: marker.line() as u32,
            column: marker.col() as u32 + 1,
            message: format!("Failed to parse DSL: Illegal yaml; {}", err.info()),
            code: if err.info().contains("unknown anchor") {
                -3
            } else if err.info().contains("while parsing")
                || err.info().contains("did not find expected")
            {
                -1
            } else {
                -2
            },
        });
    }
    if let Some(error) = builder.error {
        return Err(error);
    }
    Ok(builder.root.unwrap_or(Node::new(
        Value::Map(Vec::new()),
        Span {
            file,
            line: 1,
            column: 1,
        },
    )))
}

enum Frame {
    Seq {
        anchor: usize,
        span: Span,
        items: Vec<Node>,
    },
    Map {
        anchor: usize,
        span: Span,
        entries: Vec<(Node, Node)>,
        merges: Vec<Node>,
        key: Option<Node>,
        /// Position of each key in `entries`, once the mapping is too big for a linear
        /// search.
        index: std::collections::HashMap<KeyId, usize>,
    },
}

struct Builder {
    file: u32,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    error: Option<LoadError>,
}

impl Builder {
    fn span(&self, mark: &Marker) -> Span {
        Span {
            file: self.file,
            line: mark.line() as u32,
            column: mark.col() as u32 + 1,
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

    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                merges,
                key,
                index,
                ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if k.as_str() == Some("<<") {
                        merges.push(node);
                    } else {
                        match find_key(entries, index, &k.value) {
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
                }
            },
        }
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
    Str(Arc<str>),
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
        if self.error.is_some() {
            return;
        }
        let span = self.span(&mark);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
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
            Event::Alias(anchor) => match self.anchors.iter().rev().find(|(id, _)| *id == anchor) {
                Some((_, node)) => {
                    let node = node.clone();
                    self.push_value(node);
                }
                None => self.fail(span, -3, "found undefined alias".into()),
            },
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                anchor,
                span,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                anchor,
                span,
                entries: Vec::new(),
                merges: Vec::new(),
                key: None,
                index: std::collections::HashMap::new(),
            }),
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    anchor,
                    span,
                    items,
                }) = self.stack.pop()
                {
                    let node = Node::new(Value::Seq(items), span);
                    self.remember(anchor, &node);
                    self.push_value(node);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    anchor,
                    span,
                    entries,
                    merges,
                    ..
                }) = self.stack.pop()
                {
                    let entries = self.finish_map(entries, merges);
                    let node = Node::new(Value::Map(entries), span);
                    self.remember(anchor, &node);
                    self.push_value(node);
                }
            }
            Event::DocumentStart => {
                if self.root.is_some() {
                    self.fail(
                        span,
                        -1,
                        "expected a single document in the stream, but found another document"
                            .into(),
                    );
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(text: &str) -> Value {
        load(&format!("k: {text}"), 0)
            .unwrap()
            .get("k")
            .unwrap()
            .value
            .clone()
    }

    #[test]
    fn yaml_1_1_scalars() {
        assert_eq!(scalar("yes"), Value::Bool(true));
        assert_eq!(scalar("Off"), Value::Bool(false));
        assert_eq!(scalar("0755"), Value::Int(493));
        assert_eq!(scalar("0x1f"), Value::Int(31));
        assert_eq!(scalar("1_000"), Value::Int(1000));
        assert_eq!(scalar("1:30"), Value::Int(90));
        assert_eq!(scalar("-0b101"), Value::Int(-5));
        assert_eq!(scalar("1.5"), Value::Float(1.5));
        assert_eq!(scalar("1.0e+3"), Value::Float(1000.0));
        assert_eq!(scalar("1e5"), Value::Str("1e5".into()));
        assert_eq!(scalar("1.0e5"), Value::Str("1.0e5".into()));
        assert_eq!(scalar("~"), Value::Null);
        assert_eq!(scalar("'yes'"), Value::Str("yes".into()));
        assert_eq!(scalar("!!str 12"), Value::Str("12".into()));
        assert_eq!(scalar("08"), Value::Str("08".into()));
        assert_eq!(scalar(".5"), Value::Float(0.5));
        assert!(matches!(scalar("-.inf"), Value::Float(f) if f == f64::NEG_INFINITY));
        assert_eq!(scalar("1:30.5"), Value::Float(90.5));
        assert_eq!(scalar("y"), Value::Str("y".into()));
        assert_eq!(scalar("2002-12-14"), Value::Str("2002-12-14".into()));
        assert_eq!(
            scalar("2001-12-15T02:59:43.1Z"),
            Value::Str("2001-12-15 02:59:43.100000+00:00".into())
        );
        assert_eq!(
            scalar("2001-12-14 21:59:43.10 -5"),
            Value::Str("2001-12-14 21:59:43.100000-05:00".into())
        );
        assert_eq!(
            scalar("2001-1-2 3:04:05"),
            Value::Str("2001-01-02 03:04:05".into())
        );
    }

    #[test]
    fn merge_keys_and_anchors() {
        let doc = load("base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n", 0).unwrap();
        let d = doc.get("d").unwrap().to_json();
        assert_eq!(d.to_serde(), serde_json::json!({"x": 1, "y": 3}));
    }

    #[test]
    fn positions_and_errors() {
        let doc = load("a:\n  b: [1, 2]\n", 3).unwrap();
        let b = doc.get("a").unwrap().get("b").unwrap();
        assert_eq!(
            b.span,
            Span {
                file: 3,
                line: 2,
                column: 6
            }
        );
        let err = load("a: [1, 2\n", 0).unwrap_err();
        assert_eq!(err.code, -1);
        let err = load("a: caf\u{e9}\n", 0).unwrap_err();
        assert_eq!(err.code, 108);
        assert_eq!(load("", 0).unwrap().value, Value::Map(vec![]));
    }
}
