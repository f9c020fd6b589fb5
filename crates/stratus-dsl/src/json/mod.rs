//! JSON values for blueprints and plans: `serde_json::Value`'s shape and methods, with O(1)
//! clones.
//!
//! A plan repeats most of what it holds: every template of a type gets the type's
//! `type_hierarchy`, default capabilities, no-op operations and plugin list, an operation is
//! listed under its short and its full name, and a relationship instance carries its type's
//! resolved interfaces. The reference parser (Python) aliases one dict in all those places;
//! with `serde_json::Value` each place was a deep copy, built and freed per node. Here objects
//! and arrays are reference-counted and copied on write (`Arc::make_mut`), and strings are
//! `SmolStr` (inline up to 23 bytes, else shared), so a clone is a reference-count increment
//! and editing one holder never changes another: value semantics, without the copies.
//!
//! Crossing into or out of this crate goes through `serde_json` ([`Value::to_serde`],
//! `From<serde_json::Value>`); within it, this type is the only JSON value.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;

mod map;
pub use map::Map;
pub use serde_json::Number;

/// An object value from `key => value` pairs, in order (each value through `Value::from`).
macro_rules! object {
    ($($key:expr => $value:expr),* $(,)?) => {{
        let mut map = $crate::json::Map::with_capacity([$($key),*].len());
        $(map.insert($key, $crate::json::Value::from($value));)*
        $crate::json::Value::Object(map)
    }};
}
pub(crate) use object;

/// A JSON string: inline up to 23 bytes, else shared.
pub type Str = smol_str::SmolStr;

/// A JSON value (see the module documentation).
#[derive(Clone, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Str),
    Array(Array),
    Object(Map),
}

/// A JSON array whose clones share their items until one of them is changed.
#[derive(Clone, Default)]
pub struct Array(Option<Arc<Vec<Value>>>);

static EMPTY: Vec<Value> = Vec::new();

impl Array {
    pub const fn new() -> Array {
        Array(None)
    }

    /// The items, when no other array shares them.
    pub fn unique_mut(&mut self) -> Option<&mut Vec<Value>> {
        match &mut self.0 {
            None => None,
            Some(items) => Arc::get_mut(items),
        }
    }

    /// Whether both arrays share one set of items (then they are equal).
    pub fn ptr_eq(&self, other: &Array) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Deref for Array {
    type Target = Vec<Value>;
    fn deref(&self) -> &Vec<Value> {
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl DerefMut for Array {
    fn deref_mut(&mut self) -> &mut Vec<Value> {
        Arc::make_mut(self.0.get_or_insert_with(Default::default))
    }
}

impl PartialEq for Array {
    fn eq(&self, other: &Array) -> bool {
        self.ptr_eq(other) || **self == **other
    }
}

impl fmt::Debug for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl From<Vec<Value>> for Array {
    fn from(items: Vec<Value>) -> Array {
        Array((!items.is_empty()).then(|| Arc::new(items)))
    }
}

impl FromIterator<Value> for Array {
    fn from_iter<T: IntoIterator<Item = Value>>(iter: T) -> Array {
        Array::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl IntoIterator for Array {
    type Item = Value;
    type IntoIter = std::vec::IntoIter<Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0
            .map(Arc::unwrap_or_clone)
            .unwrap_or_default()
            .into_iter()
    }
}

impl<'a> IntoIterator for &'a Array {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// What [`Value::get`] and indexing accept: an object key or an array position.
pub trait Index {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value>;
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value>;
}

impl Index for str {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        value.as_object()?.get(self)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        value.as_object_mut()?.get_mut(self)
    }
}

impl Index for String {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.as_str().index_into(value)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        self.as_str().index_into_mut(value)
    }
}

impl Index for Str {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        self.as_str().index_into(value)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        self.as_str().index_into_mut(value)
    }
}

impl Index for usize {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        value.as_array()?.get(*self)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        value.as_array_mut()?.get_mut(*self)
    }
}

impl<T: Index + ?Sized> Index for &T {
    fn index_into<'v>(&self, value: &'v Value) -> Option<&'v Value> {
        (**self).index_into(value)
    }
    fn index_into_mut<'v>(&self, value: &'v mut Value) -> Option<&'v mut Value> {
        (**self).index_into_mut(value)
    }
}

static NULL: Value = Value::Null;

impl<I: Index> std::ops::Index<I> for Value {
    type Output = Value;
    /// As `serde_json`: `Null` when the key or position is absent.
    fn index(&self, index: I) -> &Value {
        index.index_into(self).unwrap_or(&NULL)
    }
}

impl Value {
    /// An object's value at `key`, or an array's item at a position.
    pub fn get<I: Index>(&self, index: I) -> Option<&Value> {
        index.index_into(self)
    }

    pub fn get_mut<I: Index>(&mut self, index: I) -> Option<&mut Value> {
        index.index_into_mut(self)
    }

    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    pub fn is_i64(&self) -> bool {
        self.as_number().is_some_and(Number::is_i64)
    }

    pub fn is_u64(&self) -> bool {
        self.as_number().is_some_and(Number::is_u64)
    }

    pub fn is_f64(&self) -> bool {
        self.as_number().is_some_and(Number::is_f64)
    }

    /// The value, leaving `Null` in its place.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// As `serde_json::Value::pointer` (RFC 6901).
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        pointer_tokens(pointer)?.try_fold(self, |target, token| match target {
            Value::Object(map) => map.get(&token),
            Value::Array(items) => parse_position(&token).and_then(|i| items.get(i)),
            _ => None,
        })
    }

    /// As `serde_json::Value::pointer_mut` (RFC 6901).
    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        pointer_tokens(pointer)?.try_fold(self, |target, token| match target {
            Value::Object(map) => map.get_mut(&token),
            Value::Array(items) => parse_position(&token).and_then(move |i| items.get_mut(i)),
            _ => None,
        })
    }

    /// The same value as a `serde_json::Value` (a deep copy).
    pub fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value as S;
        match self {
            Value::Null => S::Null,
            Value::Bool(b) => S::Bool(*b),
            Value::Number(n) => S::Number(n.clone()),
            Value::String(s) => S::String(s.to_string()),
            Value::Array(items) => S::Array(items.iter().map(Value::to_serde).collect()),
            Value::Object(map) => {
                let mut out = serde_json::Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(k.to_string(), v.to_serde());
                }
                S::Object(out)
            }
        }
    }
}

/// The reference tokens of an RFC 6901 pointer (none for `""`), unescaped.
fn pointer_tokens(pointer: &str) -> Option<impl Iterator<Item = String> + '_> {
    let rest = match pointer {
        "" => None,
        _ => Some(pointer.strip_prefix('/')?),
    };
    Some(
        rest.into_iter()
            .flat_map(|rest| rest.split('/'))
            .map(|token| token.replace("~1", "/").replace("~0", "~")),
    )
}

fn parse_position(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() != 1) {
        return None;
    }
    token.parse().ok()
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::String(Str::from(s.as_str()))
    }
}

impl From<&Str> for Value {
    fn from(s: &Str) -> Value {
        Value::String(s.clone())
    }
}

impl From<&Value> for Value {
    fn from(value: &Value) -> Value {
        value.clone()
    }
}

impl From<&serde_json::Value> for Value {
    fn from(value: &serde_json::Value) -> Value {
        use serde_json::Value as S;
        match value {
            S::Null => Value::Null,
            S::Bool(b) => Value::Bool(*b),
            S::Number(n) => Value::Number(n.clone()),
            S::String(s) => Value::String(Str::from(s.as_str())),
            S::Array(items) => Value::Array(items.iter().map(Value::from).collect()),
            S::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(k.as_str(), Value::from(v));
                }
                Value::Object(out)
            }
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Value {
        Value::from(&value)
    }
}

impl From<&serde_json::Map<String, serde_json::Value>> for Map {
    fn from(map: &serde_json::Map<String, serde_json::Value>) -> Map {
        let mut out = Map::with_capacity(map.len());
        for (k, v) in map {
            out.insert(k.as_str(), Value::from(v));
        }
        out
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

macro_rules! from_integer {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(Number::from(n))
            }
        }
    )*};
}
from_integer!(i8 i16 i32 i64 isize u8 u16 u32 u64 usize);

impl From<f64> for Value {
    /// As `serde_json`: a NaN or infinity is `Null`.
    fn from(f: f64) -> Value {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(Str::from(s))
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Str::from(s))
    }
}

impl From<Str> for Value {
    fn from(s: Str) -> Value {
        Value::String(s)
    }
}

impl From<Map> for Value {
    fn from(map: Map) -> Value {
        Value::Object(map)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(Array::from(items))
    }
}

impl From<Array> for Value {
    fn from(items: Array) -> Value {
        Value::Array(items)
    }
}

impl FromIterator<Value> for Value {
    fn from_iter<T: IntoIterator<Item = Value>>(iter: T) -> Value {
        Value::Array(iter.into_iter().collect())
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<i64> for Value {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(map) => map.serialize(serializer),
        }
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            out.serialize_entry(k.as_str(), v)?;
        }
        out.end()
    }
}

impl fmt::Display for Value {
    /// The JSON text, as `serde_json::Value` writes it (`{:#}`: pretty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        }
        .map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl fmt::Debug for Value {
    /// As `serde_json::Value`'s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_serde(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> serde_json::Value {
        serde_json::json!({
            "b": [1, -2, 3.5, "x", null, true, {"z": {}, "a": []}],
            "a": {"k": "a string longer than twenty-three bytes", "e": ""},
            "n": 18446744073709551615u64,
        })
    }

    #[test]
    fn round_trips_and_writes_as_serde_json() {
        let original = sample();
        let value = Value::from(&original);
        assert_eq!(value.to_serde(), original);
        assert_eq!(value.to_string(), original.to_string());
        assert_eq!(format!("{value:#}"), format!("{original:#}"));
        assert_eq!(format!("{value:?}"), format!("{original:?}"));
        assert_eq!(value.pointer("/b/6/z"), Some(&Value::Object(Map::new())));
        assert_eq!(value["b"][3], "x");
        assert!(value["missing"][7].is_null());
    }

    #[test]
    fn pointers_as_serde_json() {
        let original = serde_json::json!({"": 1, "a/b": [0, {"~x": 2}], "c": {"": 3}});
        let value = Value::from(&original);
        for pointer in [
            "",
            "/",
            "/a~1b",
            "/a~1b/1/~0x",
            "/a~1b/01",
            "/a~1b/2",
            "c",
            "/c/",
            "/c/d",
        ] {
            assert_eq!(
                value.pointer(pointer).map(Value::to_serde),
                original.pointer(pointer).cloned(),
                "{pointer:?}"
            );
        }
    }

    #[test]
    fn clones_are_independent_values() {
        let a = Value::from(&sample());
        let mut b = a.clone();
        b.pointer_mut("/b/6/z")
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert("new", Value::from(1));
        b.get_mut("b")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(Value::Null);
        assert_eq!(a.to_serde(), sample());
        assert_eq!(b["b"][6]["z"]["new"], 1);
        assert_eq!(b["b"].as_array().unwrap().len(), 8);
    }

    #[test]
    fn equality_as_serde_json() {
        // Numbers of different kinds differ; objects compare without order.
        assert_ne!(Value::from(1), Value::from(1.0));
        let a = Value::from(serde_json::json!({"x": 1, "y": [1]}));
        let b = Value::from(serde_json::json!({"y": [1], "x": 1}));
        assert_eq!(a, b);
        assert_eq!(Value::from(f64::NAN), Value::Null);
    }
}
