//! One top-level field of a stored JSON object, parsed without building the rest of it.
//!
//! Rows keep their bodies as JSON text; reading one list or dict from a large body (a node's
//! `plugins`, an instance's `runtime_properties`) should not cost a parse of the whole body.
//! The other fields are only scanned (`IgnoredAny`), which allocates nothing.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The value of `name` in the JSON object `text`, if `text` is an object that has it. Like
/// `serde_json::Value`, a repeated key gives its last value.
pub fn top_level(text: &str, name: &str) -> Option<Value> {
    pick(text, &[name]).and_then(|mut fields| fields.remove(name))
}

/// The fields of the JSON object `text` named in `names` (those it has, in its order), or
/// `None` when `text` is not a JSON object.
pub fn pick(text: &str, names: &[&str]) -> Option<Map<String, Value>> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Fields(names).deserialize(&mut deserializer).ok()
}

struct Fields<'n>(&'n [&'n str]);

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = Map::new();
        while let Some(wanted) = map.next_key_seed(KeyIn(self.0))? {
            match wanted {
                Some(index) => {
                    found.insert(self.0[index].to_string(), map.next_value::<Value>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// Which of the wanted names a key is, compared without copying it.
struct KeyIn<'n>(&'n [&'n str]);

impl<'de> DeserializeSeed<'de> for KeyIn<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIn<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

#[cfg(test)]
mod tests {
    use super::{pick, top_level};
    use serde_json::json;

    #[test]
    fn finds_a_field_among_others_of_every_kind() {
        let text = r#"{"a": [1, {"x": "y"}], "b\"q": "s", "plugins": [{"name": "p"}], "n": null, "z": 1.5}"#;
        assert_eq!(top_level(text, "plugins"), Some(json!([{"name": "p"}])));
        assert_eq!(top_level(text, "b\"q"), Some(json!("s")));
        assert_eq!(top_level(text, "n"), Some(json!(null)));
        assert_eq!(top_level(text, "z"), Some(json!(1.5)));
        assert_eq!(top_level(text, "x"), None, "only top-level keys count");
    }

    #[test]
    fn agrees_with_a_full_parse() {
        let body = json!({"id": "n1", "operations": {"create": {"inputs": {"k": [1, 2]}}},
                          "plugins": [], "escaped\u{e9}": {"\u{1F600}": true}});
        let text = body.to_string();
        for (key, value) in body.as_object().unwrap() {
            assert_eq!(top_level(&text, key).as_ref(), Some(value), "{key}");
        }
    }

    #[test]
    fn picks_several_fields() {
        let text =
            r#"{"id": "n1", "interfaces": {"big": [1, 2, 3]}, "operations": {}, "type": "t"}"#;
        let picked = pick(text, &["type", "id", "missing", "operations"]).unwrap();
        assert_eq!(
            serde_json::Value::Object(picked),
            json!({"id": "n1", "operations": {}, "type": "t"})
        );
        assert_eq!(pick("3", &["id"]), None);
    }

    #[test]
    fn last_of_repeated_keys_and_non_objects() {
        assert_eq!(top_level(r#"{"k": 1, "k": 2}"#, "k"), Some(json!(2)));
        assert_eq!(top_level("[1, 2]", "k"), None);
        assert_eq!(top_level("not json", "k"), None);
        assert_eq!(
            top_level(r#"{"k": 1"#, "k"),
            None,
            "a truncated object is not read"
        );
    }
}
