//! One top-level field of a stored JSON object, parsed without building the rest of it.
//!
//! Rows keep their bodies as JSON text; reading one list or dict from a large body (a node's
//! `plugins`, an instance's `runtime_properties`) should not cost a parse of the whole body.
//! The other fields are only scanned (`IgnoredAny`), which allocates nothing.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

/// The value of `name` in the JSON object `text`, if `text` is an object that has it. Like
/// `serde_json::Value`, a repeated key gives its last value.
pub fn top_level(text: &str, name: &str) -> Option<Value> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    Field(name).deserialize(&mut deserializer).ok().flatten()
}

struct Field<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for Field<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Field<'_> {
    type Value = Option<Value>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(wanted) = map.next_key_seed(KeyIs(self.0))? {
            if wanted {
                found = Some(map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a key is the wanted one, compared without copying it.
struct KeyIs<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::top_level;
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
