//! The plain data tree the catalog is built from and rendered to YAML.
//!
//! Catalog documents are small and read-only, so a map is an ordered `Vec` of pairs: document
//! order survives the round trip to YAML and lookups stay cheap at these sizes.

/// An ordered mapping with string keys.
pub type Map = Vec<(String, Value)>;

/// A YAML value as the reference parser (PyYAML) sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Value>),
    Map(Map),
}

/// The value at `key`, if any.
pub fn get_mut<'a>(map: &'a mut Map, key: &str) -> Option<&'a mut Value> {
    map.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Sets `key` to `value`, in place when the key exists, else at the end.
pub fn insert(map: &mut Map, key: &str, value: Value) {
    match get_mut(map, key) {
        Some(slot) => *slot = value,
        None => map.push((key.to_string(), value)),
    }
}

/// The mapping at `key`, created empty when absent. `None` when `key` holds a non-mapping.
pub fn child_map<'a>(map: &'a mut Map, key: &str) -> Option<&'a mut Map> {
    let index = match map.iter().position(|(k, _)| k == key) {
        Some(index) => index,
        None => {
            map.push((key.to_string(), Value::Map(Vec::new())));
            map.len() - 1
        }
    };
    match &mut map[index].1 {
        Value::Map(inner) => Some(inner),
        _ => None,
    }
}
