//! JSON text as Python's `json.dumps` wrote it with its defaults (`", "` and `": "`
//! separators, non-ASCII escaped as `\uXXXX`), for the places where k8splugin handed such text
//! to someone else: the MSB annotation and the policy notification's argument.

use serde_json::Value;

/// A string as Python's `json.dumps` writes it (`ensure_ascii`: non-ASCII as `\uXXXX`).
pub(crate) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value as `json.dumps` writes it (keys in the value's order, as a Python dict kept them).
pub(crate) fn dumps(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(dumps).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", string(k), dumps(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn writes_what_python_wrote() {
        // python3 -c 'import json; print(json.dumps({"policies": [{"id": "p\u00e9", "n": 1}], "updated_policies": None, "removed_policies": []}))'
        let value = json!({"policies": [{"id": "p\u{e9}", "n": 1}], "updated_policies": null, "removed_policies": []});
        assert_eq!(
            super::dumps(&value),
            r#"{"policies": [{"id": "p\u00e9", "n": 1}], "updated_policies": null, "removed_policies": []}"#
        );
    }
}
