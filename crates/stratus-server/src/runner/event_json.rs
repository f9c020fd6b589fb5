//! The JSON text of an event body written directly, field by field: an install writes about
//! six events per operation, and building each as a `serde_json::Value` only to encode it
//! cost more than the rest of the round's commit.

/// An object being written: `field` in order, then `finish`.
pub(super) struct ObjectText(Vec<u8>);

impl ObjectText {
    pub(super) fn new() -> ObjectText {
        ObjectText(Vec::with_capacity(512))
    }

    /// `key`: a string, or `null` for `None`.
    pub(super) fn field(&mut self, key: &str, value: Option<&str>) -> &mut ObjectText {
        self.0.push(if self.0.is_empty() { b'{' } else { b',' });
        self.string(key);
        self.0.push(b':');
        match value {
            Some(value) => self.string(value),
            None => self.0.extend_from_slice(b"null"),
        }
        self
    }

    /// A JSON string, escaped as `serde_json` escapes (quote, backslash and control
    /// characters; `\b \f \n \r \t` short, the others `\u00xx`). Runs of 16 bytes with
    /// nothing to escape are copied whole (the check has no early exit, so it vectorizes).
    fn string(&mut self, text: &str) {
        fn special(byte: u8) -> bool {
            byte < 0x20 || byte == b'"' || byte == b'\\'
        }
        let out = &mut self.0;
        out.push(b'"');
        let bytes = text.as_bytes();
        // Most strings have nothing to escape: one pass over all of them (no early exit, so it
        // vectorizes) and one copy.
        if !bytes.iter().fold(false, |any, &byte| any | special(byte)) {
            out.extend_from_slice(bytes);
            out.push(b'"');
            return;
        }
        let (mut start, mut i) = (0, 0);
        while i < bytes.len() {
            if let Some(chunk) = bytes.get(i..i + 16) {
                if !chunk.iter().fold(false, |any, &byte| any | special(byte)) {
                    i += 16;
                    continue;
                }
            }
            let byte = bytes[i];
            if special(byte) {
                out.extend_from_slice(&bytes[start..i]);
                start = i + 1;
                escape(out, byte);
            }
            i += 1;
        }
        out.extend_from_slice(&bytes[start..]);
        out.push(b'"');
    }

    /// Adds fields rendered once for many objects (what [`ObjectText::into_fields`] returned,
    /// or a literal run of `"key":value` pairs).
    pub(super) fn fields(&mut self, fields: &str) -> &mut ObjectText {
        if !fields.is_empty() {
            self.0.push(if self.0.is_empty() { b'{' } else { b',' });
            self.0.extend_from_slice(fields.as_bytes());
        }
        self
    }

    /// The fields written so far, without the braces, for [`ObjectText::fields`].
    pub(super) fn into_fields(self) -> String {
        let text = self.finish();
        text[1..text.len() - 1].to_string()
    }

    pub(super) fn finish(mut self) -> String {
        if self.0.is_empty() {
            self.0.push(b'{');
        }
        self.0.push(b'}');
        // Only `&str` pieces and ASCII punctuation were written.
        String::from_utf8(self.0).unwrap_or_default()
    }
}

fn escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x08 => b'b',
        0x0c => b'f',
        _ => {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
            return;
        }
    };
    out.push(b'\\');
    out.push(short);
}

#[cfg(test)]
mod tests {
    use super::ObjectText;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    #[test]
    fn writes_what_serde_json_writes() {
        let mut object = ObjectText::new();
        object
            .field(
                "message",
                Some("a \"quoted\"\n\u{1F600} \\ message\u{0}\u{1f}\u{7f}\t\r\u{8}\u{c}"),
            )
            .field("node_name", None)
            .field("ünïcode", Some("é"));
        let expected = json!({"message": "a \"quoted\"\n\u{1F600} \\ message\u{0}\u{1f}\u{7f}\t\r\u{8}\u{c}",
                              "node_name": null, "ünïcode": "é"});
        assert_eq!(object.finish(), expected.to_string());
        assert_eq!(ObjectText::new().finish(), "{}");
    }

    #[test]
    fn fields_rendered_once_join_like_fields_written_in_place() {
        let mut shared = ObjectText::new();
        shared.field("b", Some("two \"2\"")).field("c", None);
        let shared = shared.into_fields();
        let mut object = ObjectText::new();
        object
            .field("a", Some("1"))
            .fields(&shared)
            .fields("")
            .fields(r#""d":null"#);
        let expected = json!({"a": "1", "b": "two \"2\"", "c": null, "d": null});
        assert_eq!(object.finish(), expected.to_string());
        let mut leading = ObjectText::new();
        leading.fields(&shared);
        assert_eq!(
            leading.finish(),
            json!({"b": "two \"2\"", "c": null}).to_string()
        );
        assert_eq!(ObjectText::new().into_fields(), "");
    }

    proptest! {
        #[test]
        fn any_strings_round_trip(fields in proptest::collection::vec((".*", proptest::option::of(".*")), 0..6)) {
            let mut object = ObjectText::new();
            let mut expected = serde_json::Map::new();
            for (key, value) in &fields {
                object.field(key, value.as_deref());
                expected.insert(key.clone(), value.clone().map_or(Value::Null, Value::String));
            }
            let text = object.finish();
            let parsed: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&parsed, &expected);
            if fields.iter().map(|(k, _)| k).collect::<std::collections::HashSet<_>>().len() == fields.len() {
                // Byte for byte what serde_json writes.
                prop_assert_eq!(text, Value::Object(expected).to_string());
            }
        }
    }
}
