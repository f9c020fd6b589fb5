//! Intrinsic functions: recognising them, checking their arguments when a blueprint is
//! parsed, and evaluating the ones that can be evaluated when a deployment plan is made.
//!
//! `get_input`, `get_property`, `concat`, `merge` and `string_*` are evaluated at plan time;
//! `get_attribute`, `get_secret`, `get_capability` and the other runtime functions are kept as
//! written (and mark their operation `has_intrinsic_functions`). Evaluation repeats until the
//! value stops being a function, with the reference's recursion limit of 50.

mod check;
mod context;
mod evaluate;

use serde_json::Value as J;

pub(crate) use check::python_type;
pub use check::{check_arguments, validate};
pub use context::{Context, Environment, Scope};
pub(crate) use evaluate::eval_error;
pub use evaluate::{evaluate, evaluate_owned};

pub const PLAN_TIME: &[&str] = &[
    "get_input",
    "get_property",
    "concat",
    "merge",
    "string_find",
    "string_replace",
    "string_split",
    "string_lower",
    "string_upper",
];
pub const RUNTIME: &[&str] = &[
    "get_attribute",
    "get_secret",
    "get_capability",
    "get_sys",
    "get_consumers",
    "get_attributes_list",
    "get_attributes_dict",
    "get_group_capability",
    "get_label",
    "get_environment_capability",
];

pub fn is_function_name(name: &str) -> bool {
    // Every function name starts with one of these: most keys are ruled out at once.
    let candidate = name.starts_with("get_")
        || name.starts_with("string_")
        || name == "concat"
        || name == "merge";
    candidate && (PLAN_TIME.contains(&name) || RUNTIME.contains(&name))
}

/// The function name and arguments if `value` is a function call: a mapping of one function
/// key (plus optionally `type`).
pub fn as_function(value: &J) -> Option<(&str, &J)> {
    let J::Object(map) = value else { return None };
    if map.is_empty() || map.len() > 2 {
        return None;
    }
    let mut result = None;
    for (key, args) in map {
        if key == "type" {
            continue;
        }
        if is_function_name(key) {
            result = Some((key.as_str(), args));
        } else {
            return None;
        }
    }
    result
}

pub fn is_function(value: &J) -> bool {
    as_function(value).is_some()
}

/// `value[key]` for a mapping: small mappings (operations, their inputs) are searched
/// key by key, which is cheaper than hashing the key.
pub(crate) fn field<'a>(value: &'a J, key: &str) -> Option<&'a J> {
    match value {
        J::Object(map) if map.len() <= 16 => map.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
        other => other.get(key),
    }
}

/// [`field`], mutable.
pub(crate) fn field_mut<'a>(value: &'a mut J, key: &str) -> Option<&'a mut J> {
    let J::Object(map) = value else {
        return None;
    };
    if map.len() <= 16 {
        map.iter_mut().find(|(k, _)| *k == key).map(|(_, v)| v)
    } else {
        map.get_mut(key)
    }
}

/// Whether a function call appears anywhere in `value` (no allocation).
pub fn contains_function(value: &J) -> bool {
    match value {
        J::Object(map) => is_function(value) || map.values().any(contains_function),
        J::Array(items) => items.iter().any(contains_function),
        _ => false,
    }
}
