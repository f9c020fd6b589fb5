//! A node template's (or scaling policy's) `scalable` capability properties.

use crate::json::{Map, Value as J};

use crate::diag::{Problem, Problems};
use crate::schema::{self, allowed_keys, get, optional_map};
use crate::yaml::{Node, Value};

pub(super) fn default_scalable() -> Map {
    // Built once; every template without `capabilities` gets a copy (no re-hashing).
    static DEFAULT: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
    DEFAULT
        .get_or_init(|| {
            let mut p = Map::with_capacity(5);
            p.insert("min_instances", J::from(0));
            p.insert("max_instances", J::from(-1));
            p.insert("default_instances", J::from(1));
            p.insert("current_instances", J::from(1));
            p.insert("planned_instances", J::from(1));
            p
        })
        .clone()
}

/// The `scalable` properties of a node template or scaling policy.
pub fn parse_scalable(node: Option<&Node>, problems: &mut Problems) -> Map {
    let mut result = Map::with_capacity(5);
    let entries = optional_map(node, problems);
    allowed_keys(
        entries,
        &["min_instances", "max_instances", "default_instances"],
        problems,
    );
    let read = |key: &str, problems: &mut Problems| -> Option<J> {
        let value = get(entries, key)?;
        match &value.value {
            Value::Null => None,
            Value::Int(i) => {
                if key != "max_instances" && *i < 0 {
                    problems.push(Problem::logic(
                        207,
                        value.span,
                        format!("{key} should be a non negative value."),
                    ));
                }
                if key == "max_instances" && *i != -1 && *i < 1 {
                    problems.push(Problem::logic(
                        207,
                        value.span,
                        format!("{key} should be a positive value."),
                    ));
                }
                Some(J::from(*i))
            }
            Value::Str(s) if key == "max_instances" => {
                if &**s != "UNBOUNDED" {
                    problems.push(Problem::logic(
                        208,
                        value.span,
                        format!("The only valid string for {key} is UNBOUNDED."),
                    ));
                }
                Some(J::from(-1))
            }
            Value::Map(_) => {
                let json = value.to_json();
                if !crate::functions::is_function(&json) {
                    problems.push(Problem::logic(
                        210,
                        value.span,
                        format!("{key} should be a valid intrinsic function or a value."),
                    ));
                }
                Some(json)
            }
            _ => {
                problems.push(schema::expected(value, "integer"));
                None
            }
        }
    };
    let defaults = default_scalable();
    let min = read("min_instances", problems).unwrap_or(defaults["min_instances"].clone());
    let max = read("max_instances", problems).unwrap_or(defaults["max_instances"].clone());
    let default =
        read("default_instances", problems).unwrap_or(defaults["default_instances"].clone());
    let span = node.map(|n| n.span).unwrap_or_default();
    if let (Some(d), Some(mn)) = (default.as_i64(), min.as_i64()) {
        if d < mn {
            problems.push(Problem::logic(
                207,
                span,
                format!("default_instances ({d}) cannot be smaller than min_instances ({mn})"),
            ));
        }
    }
    if let Some(mx) = max.as_i64().filter(|m| *m != -1) {
        if let Some(mn) = min.as_i64().filter(|mn| *mn > mx) {
            problems.push(Problem::logic(
                207,
                span,
                format!("min_instances ({mn}) cannot be greater than max_instances ({mx})"),
            ));
        } else if let Some(d) = default.as_i64().filter(|d| *d > mx) {
            problems.push(Problem::logic(
                207,
                span,
                format!("default_instances ({d}) cannot be greater than max_instances ({mx})"),
            ));
        }
    }
    result.insert("default_instances", default.clone());
    result.insert("min_instances", min);
    result.insert("max_instances", max);
    result.insert("current_instances", default.clone());
    result.insert("planned_instances", default);
    result
}
