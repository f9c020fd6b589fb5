//! Cloudify-format YAML from a catalog tree.
//!
//! The text is read by two YAML parsers: the Stratus parser (PyYAML 1.1 rules) and anything a
//! user points at an exported catalog. A string is written plain only when every YAML version
//! reads it back as the same string; everything else is double-quoted, so the parsed tree is
//! exactly the catalog tree.

use std::fmt::Write;

use crate::value::{Map, Value};

/// Renders a document as block-style YAML.
pub fn to_yaml(document: &Map) -> String {
    let mut out = String::with_capacity(4096);
    if document.is_empty() {
        out.push_str("{}\n");
    }
    map(&mut out, document, 0);
    out
}

fn map(out: &mut String, entries: &Map, indent: usize) {
    for (key, value) in entries {
        pad(out, indent);
        string(out, key, true);
        out.push(':');
        nested(out, value, indent);
    }
}

/// Writes what follows `key:` or `-`: an inline scalar or a block on the next lines.
fn nested(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Map(entries) if !entries.is_empty() => {
            out.push('\n');
            map(out, entries, indent + 2);
        }
        Value::Seq(items) if !items.is_empty() => {
            out.push('\n');
            for item in items {
                pad(out, indent + 2);
                out.push('-');
                nested(out, item, indent + 2);
            }
        }
        scalar => {
            out.push(' ');
            inline(out, scalar);
            out.push('\n');
        }
    }
}

fn inline(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => float(out, *f),
        Value::Str(s) => string(out, s, false),
        Value::Map(_) => out.push_str("{}"),
        Value::Seq(_) => out.push_str("[]"),
    }
}

fn float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str(".nan");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { ".inf" } else { "-.inf" });
    } else {
        let text = format!("{f:?}");
        // PyYAML needs a dot in every float, exponent form included.
        match text.split_once(['e', 'E']) {
            Some((mantissa, exponent)) if !mantissa.contains('.') => {
                let _ = write!(out, "{mantissa}.0e{exponent}");
            }
            _ => out.push_str(&text),
        }
    }
}

/// Words some YAML version reads as something other than a string.
const RESERVED: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null"];

fn is_plain(s: &str, key: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '/')
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/') || (c == ':' && !key)
        })
        && !s.ends_with(':')
        && !RESERVED.iter().any(|word| s.eq_ignore_ascii_case(word))
}

fn string(out: &mut String, s: &str, key: bool) {
    if is_plain(s, key) {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_would_change_type() {
        let doc = vec![
            ("a".to_string(), Value::Str("8080".into())),
            ("b".to_string(), Value::Int(8080)),
            ("c".to_string(), Value::Str("yes".into())),
            ("d".to_string(), Value::Str("file:///opt/x.sh".into())),
            ("e".to_string(), Value::Str("".into())),
            ("f".to_string(), Value::Float(1.0)),
            (
                "g".to_string(),
                Value::Seq(vec![
                    Value::Map(vec![("k".into(), Value::Null)]),
                    Value::Str("a b".into()),
                ]),
            ),
            ("h".to_string(), Value::Map(vec![])),
        ];
        let text = to_yaml(&doc);
        assert_eq!(
            text,
            "a: \"8080\"\nb: 8080\nc: \"yes\"\nd: file:///opt/x.sh\ne: \"\"\nf: 1.0\ng:\n  -\n    k: null\n  - \"a b\"\nh: {}\n"
        );
    }
}
