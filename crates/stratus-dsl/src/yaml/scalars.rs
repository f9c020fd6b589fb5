//! PyYAML 1.1's scalar resolution: explicit `!!` tags, then for plain scalars the implicit
//! resolvers (null, booleans, octal/hex/binary/sexagesimal integers, floats, timestamps).

use yaml_rust2::parser::Tag;
use yaml_rust2::scanner::TScalarStyle;

use super::Value;

/// Resolves a scalar as PyYAML's SafeLoader would: explicit tags first, then (for plain
/// scalars only) the YAML 1.1 implicit resolvers.
pub(super) fn resolve_scalar(
    text: &str,
    style: TScalarStyle,
    tag: Option<&Tag>,
) -> Result<Value, String> {
    if let Some(tag) = tag {
        let name = if tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:" {
            tag.suffix.as_str()
        } else if tag.handle == "!" && tag.suffix.starts_with("tag:yaml.org,2002:") {
            &tag.suffix["tag:yaml.org,2002:".len()..]
        } else {
            return Err(format!(
                "could not determine a constructor for the tag '{}{}'",
                tag.handle, tag.suffix
            ));
        };
        return match name {
            "str" => Ok(Value::Str(text.into())),
            "int" => parse_int(text)
                .map(Value::Int)
                .ok_or_else(|| format!("invalid integer '{text}'")),
            "float" => parse_float(text)
                .or_else(|| parse_int(text).map(|i| i as f64))
                .map(Value::Float)
                .ok_or_else(|| format!("invalid float '{text}'")),
            "bool" => parse_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| format!("invalid boolean '{text}'")),
            "null" => Ok(Value::Null),
            "timestamp" | "binary" => Ok(Value::Str(text.into())),
            other => Err(format!(
                "could not determine a constructor for the tag 'tag:yaml.org,2002:{other}'"
            )),
        };
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::Str(text.into()));
    }
    Ok(resolve_plain(text))
}

/// [`resolve_all`] by the first character: null (`~`, `null`) and the booleans (`yes`, `no`,
/// `true`, `false`, `on`, `off`, in three cases) start with one of a few letters, numbers and
/// timestamps with a sign, a digit or a dot; anything else is a string.
fn resolve_plain(text: &str) -> Value {
    match text.as_bytes().first() {
        Some(b'~' | b'n' | b'N' | b'y' | b'Y' | b't' | b'T' | b'f' | b'F' | b'o' | b'O') => {
            match text {
                "~" | "null" | "Null" | "NULL" => Value::Null,
                _ => parse_bool(text).map_or_else(|| Value::Str(text.into()), Value::Bool),
            }
        }
        Some(b'+' | b'-' | b'.' | b'0'..=b'9') | None => resolve_all(text),
        Some(_) => Value::Str(text.into()),
    }
}

/// A plain scalar through every implicit resolver in PyYAML's order.
fn resolve_all(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    if let Some(b) = parse_bool(text) {
        return Value::Bool(b);
    }
    if looks_like_int(text) {
        if let Some(i) = parse_int(text) {
            return Value::Int(i);
        }
    }
    if looks_like_float(text) {
        if let Some(f) = parse_float(text) {
            return Value::Float(f);
        }
    }
    if let Some(timestamp) = timestamp(text) {
        return Value::Str(timestamp.into());
    }
    Value::Str(text.into())
}

/// A YAML 1.1 timestamp, as the reference prints the `datetime` PyYAML makes of it
/// (`str(datetime)`): `2001-12-14 21:59:43.100000-05:00`, or `2002-12-14` for a date.
fn timestamp(text: &str) -> Option<String> {
    use std::sync::OnceLock;
    // Both patterns start with four digits and a dash: most strings are ruled out here.
    let b = text.as_bytes();
    if b.len() < 10 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    static DATE: OnceLock<regex::Regex> = OnceLock::new();
    static FULL: OnceLock<regex::Regex> = OnceLock::new();
    let date = DATE.get_or_init(|| {
        regex::Regex::new(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$").expect("date pattern")
    });
    if let Some(c) = date.captures(text) {
        return Some(format!("{}-{}-{}", &c[1], &c[2], &c[3]));
    }
    let full = FULL.get_or_init(|| {
        regex::Regex::new(
            r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?$",
        )
        .expect("timestamp pattern")
    });
    let c = full.captures(text)?;
    let number = |i: usize| {
        c.get(i)
            .map_or(0, |m| m.as_str().parse::<u32>().unwrap_or(0))
    };
    let mut out = format!(
        "{}-{:02}-{:02} {:02}:{:02}:{:02}",
        &c[1],
        number(2),
        number(3),
        number(4),
        number(5),
        number(6)
    );
    if let Some(fraction) = c.get(7).map(|m| m.as_str()).filter(|f| !f.is_empty()) {
        let mut digits: String = fraction.chars().take(6).collect();
        while digits.len() < 6 {
            digits.push('0');
        }
        if digits != "000000" {
            out.push('.');
            out.push_str(&digits);
        }
    }
    match c.get(8).map(|m| m.as_str()) {
        None => {}
        Some("Z") => out.push_str("+00:00"),
        Some(_) => {
            let sign = &c[9];
            out.push_str(&format!("{sign}{:02}:{:02}", number(10), number(11)));
        }
    }
    Some(out)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// PyYAML's int resolver: `[-+]?0b[01_]+ | [-+]?0[0-7_]+ | [-+]?(0|[1-9][0-9_]*) |
/// [-+]?0x[0-9a-fA-F_]+ | [-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`.
fn looks_like_int(text: &str) -> bool {
    let (_, body) = split_sign(text);
    let b = body.as_bytes();
    if b.is_empty() {
        return false;
    }
    if let Some(rest) = body.strip_prefix("0b") {
        return !rest.is_empty() && rest.bytes().all(|c| c == b'0' || c == b'1' || c == b'_');
    }
    if let Some(rest) = body.strip_prefix("0x") {
        return !rest.is_empty() && rest.bytes().all(|c| c.is_ascii_hexdigit() || c == b'_');
    }
    if body == "0" {
        return true;
    }
    if b[0] == b'0' {
        return body.len() > 1
            && body[1..]
                .bytes()
                .all(|c| (b'0'..=b'7').contains(&c) || c == b'_');
    }
    if !(b'1'..=b'9').contains(&b[0]) {
        return false;
    }
    let mut parts = body.split(':');
    let head = parts.next().unwrap_or("");
    if !head.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
        return false;
    }
    parts.all(sexagesimal_part)
}

fn sexagesimal_part(part: &str) -> bool {
    let b = part.as_bytes();
    match b.len() {
        1 => b[0].is_ascii_digit(),
        2 => (b'0'..=b'5').contains(&b[0]) && b[1].is_ascii_digit(),
        _ => false,
    }
}

/// `text` without its `_` digit separators.
fn without_underscores(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('_') {
        text.chars()
            .filter(|c| *c != '_')
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

fn parse_int(text: &str) -> Option<i64> {
    let cleaned = without_underscores(text);
    let (negative, body) = split_sign(&cleaned);
    let magnitude: i64 = if body == "0" {
        0
    } else if let Some(rest) = body.strip_prefix("0b") {
        i64::from_str_radix(rest, 2).ok()?
    } else if let Some(rest) = body.strip_prefix("0x") {
        i64::from_str_radix(rest, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else if body.contains(':') {
        let mut value: i64 = 0;
        for part in body.split(':') {
            value = value
                .checked_mul(60)?
                .checked_add(part.parse::<i64>().ok()?)?;
        }
        value
    } else {
        body.parse().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// PyYAML's float resolver; note that `1e5` (no dot) and `1.0e5` (unsigned exponent) are
/// strings in YAML 1.1.
fn looks_like_float(text: &str) -> bool {
    let (_, body) = split_sign(text);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let b = body.as_bytes();
    if b.is_empty() {
        return false;
    }
    if body.contains(':') {
        // [0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*
        let Some((whole, frac)) = body.split_once('.') else {
            return false;
        };
        if !frac.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
            return false;
        }
        let mut parts = whole.split(':');
        let head = parts.next().unwrap_or("");
        return !head.is_empty()
            && head.as_bytes()[0].is_ascii_digit()
            && head.bytes().all(|c| c.is_ascii_digit() || c == b'_')
            && parts.all(sexagesimal_part);
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if let Some(exp) = exponent {
        let eb = exp.as_bytes();
        if eb.len() < 2
            || !(eb[0] == b'+' || eb[0] == b'-')
            || !eb[1..].iter().all(u8::is_ascii_digit)
        {
            return false;
        }
    }
    let Some((whole, frac)) = mantissa.split_once('.') else {
        return false;
    };
    if !frac.bytes().all(|c| c.is_ascii_digit() || c == b'_') {
        return false;
    }
    if whole.is_empty() {
        // \.[0-9_]+ (no sign allowed in this branch)
        return text.starts_with('.') && !frac.is_empty();
    }
    whole.as_bytes()[0].is_ascii_digit() && whole.bytes().all(|c| c.is_ascii_digit() || c == b'_')
}

fn parse_float(text: &str) -> Option<f64> {
    let cleaned: String = text
        .chars()
        .filter(|c| *c != '_')
        .collect::<String>()
        .to_lowercase();
    let (negative, body) = split_sign(&cleaned);
    let sign = if negative { -1.0 } else { 1.0 };
    if body == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if body == ".nan" {
        return Some(f64::NAN);
    }
    if body.contains(':') {
        let mut value = 0.0;
        for part in body.split(':') {
            value = value * 60.0 + part.parse::<f64>().ok()?;
        }
        return Some(sign * value);
    }
    body.parse::<f64>().ok().map(|f| sign * f)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first-character dispatch of `resolve_plain` changes no result.
    #[test]
    fn first_character_dispatch_agrees_with_every_resolver() {
        let pieces = [
            "", "~", "n", "null", "Null", "NULL", "y", "yes", "Yes", "YES", "no", "No", "NO", "t",
            "true", "True", "TRUE", "f", "false", "False", "FALSE", "o", "on", "On", "ON", "off",
            "Off", "OFF", "0", "1", "7", "9", "_", ".", ":", "-", "+", "e", "E", "x", "b", "inf",
            "Inf", "INF", "nan", "NaN", "NAN", "2001", "-12-14", "T", " ", "Z", "a", "\u{e9}",
        ];
        let mut count = 0;
        for a in pieces {
            for b in pieces {
                for c in ["", "0", ":30", ".5", "e+3", "_1", "x"] {
                    let text = format!("{a}{b}{c}");
                    assert_eq!(
                        format!("{:?}", resolve_plain(&text)),
                        format!("{:?}", resolve_all(&text)),
                        "{text:?}"
                    );
                    count += 1;
                }
            }
        }
        assert!(count > 10_000);
    }
}
