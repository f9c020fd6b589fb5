//! Python's text forms of JSON values: `str()`/`repr()` and `json.dumps()`.
//!
//! Scripts written for Cloudify parse what `ctx` prints and what the script plugin puts in the
//! environment, and both are Python renderings: the `ctx` client prints `str(payload)`
//! (`{'a': 1, 'b': [True, None]}`), and the script runner passes non-scalar inputs as
//! `json.dumps(value)` (`{"a": 1}` with Python's `", "`/`": "` separators and `\uXXXX` escapes).
//! Matching them byte for byte is what makes existing scripts work unchanged.

use serde_json::{Number, Value};

/// Python's `str(value)` of the value `json.loads` would produce: strings bare, everything
/// else as `repr`.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr(value)` of the value `json.loads` would produce.
pub fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(&mut out, value);
    out
}

/// Python's truthiness of a JSON-decoded value (`if not response`).
pub fn py_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

fn write_repr(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(number) => out.push_str(&number_repr(number)),
        Value::String(text) => out.push_str(&str_repr(text)),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(&str_repr(key));
                out.push_str(": ");
                write_repr(out, item);
            }
            out.push('}');
        }
    }
}

fn number_repr(number: &Number) -> String {
    if number.is_f64() {
        number
            .as_f64()
            .map(float_repr)
            .unwrap_or_else(|| number.to_string())
    } else {
        number.to_string()
    }
}

/// Python's `float.__repr__`: the shortest round-tripping digits, in positional notation when
/// the decimal exponent is in `-4..16`, else `d.ddde±XX`.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let scientific = format!("{x:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let positional = format!("{x}");
        if positional.contains('.') {
            positional
        } else {
            format!("{positional}.0")
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// Python's `repr(str)`.
pub fn str_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let code = c as u32;
                if code < 0x100 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04x}"));
                } else {
                    out.push_str(&format!("\\U{code:08x}"));
                }
            }
        }
    }
    out.push(quote);
    out
}

/// An approximation of Python's `str.isprintable` for one character: control, format,
/// separator (other than the ASCII space) and private-use characters are not printable.
fn is_printable(ch: char) -> bool {
    let code = ch as u32;
    if ch == ' ' {
        return true;
    }
    if ch.is_control() {
        return false;
    }
    !matches!(code,
        0xa0 | 0xad | 0x1680 | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064
        | 0x2066..=0x206f | 0x3000 | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff
        | 0xf0000..=0x10ffff | 0xe0000..=0xe007f)
}

/// Python's `json.dumps(value)` with default arguments.
pub fn json_dumps(value: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, value);
    out
}

fn write_json(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => {
            if number.is_f64() {
                let x = number.as_f64().unwrap_or(f64::NAN);
                out.push_str(&match float_repr(x).as_str() {
                    "nan" => "NaN".to_owned(),
                    "inf" => "Infinity".to_owned(),
                    "-inf" => "-Infinity".to_owned(),
                    other => other.to_owned(),
                });
            } else {
                out.push_str(&number.to_string());
            }
        }
        Value::String(text) => write_json_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_json(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_json_string(out, key);
                out.push_str(": ");
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            other => {
                let mut units = [0u16; 2];
                for unit in other.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Python's `repr` of a list of strings and values, as in `RuntimeError` messages that quote
/// the request's arguments (`['node', 'foo']`).
pub fn list_repr(items: &[Value]) -> String {
    py_repr(&Value::Array(items.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn str_matches_python() {
        assert_eq!(
            py_str(&json!({"a": 1, "b": [true, null]})),
            "{'a': 1, 'b': [True, None]}"
        );
        assert_eq!(py_str(&json!("bare")), "bare");
        assert_eq!(
            py_str(&json!(["it's", "say \"hi\"", "both ' \""])),
            r#"["it's", 'say "hi"', 'both \' "']"#
        );
        assert_eq!(
            py_str(&json!([1.0, 1e16, 1.5e-5, 0.0001, 123.456, -0.0])),
            "[1.0, 1e+16, 1.5e-05, 0.0001, 123.456, -0.0]"
        );
        assert_eq!(
            py_str(&json!(["tab\tnl\n\u{1}é€"])),
            "['tab\\tnl\\n\\x01é€']"
        );
    }

    #[test]
    fn json_dumps_matches_python() {
        assert_eq!(
            json_dumps(&json!({"a": [1, 2.5, true, null], "é": "x\"\u{1}"})),
            r#"{"a": [1, 2.5, true, null], "\u00e9": "x\"\u0001"}"#
        );
        assert_eq!(json_dumps(&json!("😀")), r#""\ud83d\ude00""#);
    }
}
