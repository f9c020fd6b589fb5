//! Shape checks shared by every section: expected YAML types, allowed keys, version gates.

use crate::json::{Map, Value as J};

use crate::diag::{Problem, Problems};
use crate::version::{describe, DslVersion};
use crate::yaml::{Node, Span, Value};

/// The reference's "Expected 'dict' type but found 'list' type".
pub fn expected(node: &Node, expected: &str) -> Problem {
    Problem::format(
        1,
        node.span,
        format!(
            "Expected '{expected}' type but found '{}' type",
            found_name(node)
        ),
    )
}

fn found_name(node: &Node) -> &'static str {
    match node.value {
        Value::Null => "NoneType",
        _ => node.type_name(),
    }
}

/// The entries of a mapping; `None` (with a problem recorded) when `node` is not one.
pub fn map<'a>(node: &'a Node, problems: &mut Problems) -> Option<&'a [(Node, Node)]> {
    match &node.value {
        Value::Map(entries) => {
            for (key, _) in entries {
                if key.as_str().is_none() {
                    problems.push(Problem::format(
                        1,
                        key.span,
                        format!(
                            "Dict keys must be strings but found '{}' of type '{}'",
                            key.key_string(),
                            key.type_name()
                        ),
                    ));
                    return None;
                }
            }
            Some(entries)
        }
        _ => {
            problems.push(expected(node, "dict"));
            None
        }
    }
}

/// A mapping that may be absent or null (treated as empty).
pub fn optional_map<'a>(node: Option<&'a Node>, problems: &mut Problems) -> &'a [(Node, Node)] {
    match node {
        None => &[],
        Some(node) if node.is_null() => &[],
        Some(node) => map(node, problems).unwrap_or(&[]),
    }
}

/// Records a problem for every key of `entries` not in `allowed`.
pub fn allowed_keys(entries: &[(Node, Node)], allowed: &[&str], problems: &mut Problems) -> bool {
    let mut ok = true;
    for (key, _) in entries {
        let name = key.as_str().unwrap_or_default();
        if !allowed.contains(&name) {
            problems.push(
                Problem::format(
                    1,
                    key.span,
                    format!("'{name}' is not in schema. Valid schema values: {allowed:?}"),
                )
                .with_hint(format!("valid keys here: {}", allowed.join(", "))),
            );
            ok = false;
        }
    }
    ok
}

/// A string leaf; null counts as absent.
pub fn string<'a>(node: Option<&'a Node>, problems: &mut Problems) -> Option<&'a str> {
    let node = node?;
    match &node.value {
        Value::Null => None,
        Value::Str(s) => Some(s),
        _ => {
            problems.push(expected(node, "string"));
            None
        }
    }
}

pub fn boolean(node: Option<&Node>, problems: &mut Problems) -> Option<bool> {
    let node = node?;
    match node.value {
        Value::Null => None,
        Value::Bool(b) => Some(b),
        _ => {
            problems.push(expected(node, "boolean"));
            None
        }
    }
}

/// Checks that a feature is allowed in the blueprint's DSL version (code 102).
pub fn gate(
    version: &DslVersion,
    name: &str,
    span: Span,
    major: u32,
    minor: u32,
    problems: &mut Problems,
) -> bool {
    if version.at_least(major, minor) {
        return true;
    }
    problems.push(
        Problem::logic(
            102,
            span,
            format!(
                "{name} not supported in version {}, it was added in {}",
                describe(version.major, version.minor),
                describe(major, minor)
            ),
        )
        .with_hint(format!(
            "raise tosca_definitions_version to {} or remove `{name}`",
            describe(major, minor)
        )),
    );
    false
}

pub fn get<'a>(entries: &'a [(Node, Node)], key: &str) -> Option<&'a Node> {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
}

pub fn key_span(entries: &[(Node, Node)], key: &str) -> Option<Span> {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(k, _)| k.span)
}

pub fn obj(pairs: Vec<(&str, J)>) -> J {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(k, v);
    }
    J::Object(map)
}
