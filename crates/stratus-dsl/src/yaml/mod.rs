//! YAML with source positions, resolved the way PyYAML 1.1 (the reference parser's loader)
//! resolves it.
//!
//! Blueprints are written against PyYAML: `yes`/`on` are booleans, `0755` is octal, `1:30` is
//! sexagesimal, `1e5` is a string, `<<` merges mappings. yaml-rust2 gives us events with
//! positions; this module builds [`Node`] trees from them with PyYAML's implicit resolvers, so
//! every value in a blueprint can be traced back to a file, line and column.
//!
//! Events come from the hand-written fast path in `fast/` when it handles the text (it covers
//! what blueprints use and produces exactly yaml-rust2's events and marks), else from
//! yaml-rust2; either way one [`Builder`] turns them into the tree.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

mod builder;
mod fast;
mod scalars;
use builder::Builder;
use fast::{Ev, Mark, Sink};

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
    Str(crate::json::Str),
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
                // The builder keeps string keys distinct; other keys may print alike.
                let strings = entries
                    .iter()
                    .all(|(k, _)| matches!(k.value, Value::Str(_)));
                for (k, v) in entries {
                    match &k.value {
                        Value::Str(s) if strings => map.push_new(s.clone(), v.to_json()),
                        Value::Str(s) => {
                            map.insert(s.clone(), v.to_json());
                        }
                        _ => {
                            map.insert(k.key_string(), v.to_json());
                        }
                    }
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
    load_fast(text, file).unwrap_or_else(|| load_reference(text, file))
}

/// The fast path's load, or `None` when it declines the text (nothing of its work is kept).
fn load_fast(text: &str, file: u32) -> Option<Result<Node, LoadError>> {
    let mut builder = Builder::new(file);
    fast::parse(text, &mut builder).ok()?;
    Some(builder.finish())
}

/// The load through yaml-rust2's parser.
fn load_reference(text: &str, file: u32) -> Result<Node, LoadError> {
    let mut builder = Builder::new(file);
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
    builder.finish()
}

/// Hooks for the differential tests of the fast path against yaml-rust2 (not an API).
#[doc(hidden)]
pub mod testing {
    use super::*;

    /// An event with its mark: (event, index, line, column), as yaml-rust2 reports them.
    pub type MarkedEvent = (Event, usize, usize, usize);

    struct Collect(Vec<MarkedEvent>);

    impl Sink for Collect {
        fn event(&mut self, event: Ev<'_>, mark: Mark) {
            self.0
                .push((event.into_event(), mark.index, mark.line, mark.col));
        }
    }

    impl MarkedEventReceiver for Collect {
        fn on_event(&mut self, event: Event, mark: Marker) {
            self.0.push((event, mark.index(), mark.line(), mark.col()));
        }
    }

    /// The fast path's events, or why it declines the text.
    pub fn fast_events(text: &str) -> Result<Vec<MarkedEvent>, &'static str> {
        let mut sink = Collect(Vec::new());
        fast::parse(text, &mut sink).map_err(|decline| decline.0)?;
        Ok(sink.0)
    }

    /// yaml-rust2's events (as `load` asks for them), or its error.
    pub fn reference_events(text: &str) -> Result<Vec<MarkedEvent>, String> {
        let mut sink = Collect(Vec::new());
        Parser::new_from_str(text)
            .load(&mut sink, false)
            .map_err(|err| err.to_string())?;
        Ok(sink.0)
    }

    /// `load` through the fast path only (`None`: declined).
    pub fn load_fast(text: &str, file: u32) -> Option<Result<Node, LoadError>> {
        super::load_fast(text, file)
    }

    /// `load` through yaml-rust2 only.
    pub fn load_reference(text: &str, file: u32) -> Result<Node, LoadError> {
        super::load_reference(text, file)
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
