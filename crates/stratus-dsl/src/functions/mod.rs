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

use crate::json::Value as J;

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

/// Whether no operation input of a node template holds a function call: the `inputs` of its
/// `operations` and `interfaces` operations, and of its relationships' source/target
/// operations and interfaces. The passes that evaluate, check or scan those inputs have
/// nothing to do for such a node (see [`crate::Plan::inert`]).
/// The parser decides it from a node's parts: [`operations_inert`] and [`interfaces_inert`]
/// of its resolved interfaces and of each relationship's resolved source and target sides
/// (which is [`relationship_inputs_inert`]); together they are this function.
pub fn operation_inputs_inert(node: &crate::json::Map) -> bool {
    let operations = |key: &str| operations_inert(node.get(key).and_then(J::as_object));
    let interfaces = |key: &str| interfaces_inert(node.get(key).and_then(J::as_object));
    operations("operations")
        && interfaces("interfaces")
        && node
            .get("relationships")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .all(|r| r.as_object().is_none_or(relationship_inputs_inert))
}

/// [`operation_inputs_inert`] for one relationship of a node: its source and target
/// operations and interfaces.
pub fn relationship_inputs_inert(relationship: &crate::json::Map) -> bool {
    let operations = |key: &str| operations_inert(relationship.get(key).and_then(J::as_object));
    let interfaces = |key: &str| interfaces_inert(relationship.get(key).and_then(J::as_object));
    operations("source_operations")
        && operations("target_operations")
        && interfaces("source_interfaces")
        && interfaces("target_interfaces")
}

/// Whether no input of an `operations` map (operation name to operation) holds a call.
pub fn operations_inert(operations: Option<&crate::json::Map>) -> bool {
    operations
        .into_iter()
        .flat_map(|m| m.values())
        .all(|op| !field(op, "inputs").is_some_and(contains_function))
}

/// Whether no input of an `interfaces` map (interface to operations) holds a call.
pub fn interfaces_inert(interfaces: Option<&crate::json::Map>) -> bool {
    interfaces
        .into_iter()
        .flat_map(|m| m.values())
        .all(|interface| operations_inert(interface.as_object()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function call in any of the places the plan-time passes read makes a node not
    /// inert; one elsewhere (or a look-alike mapping with extra keys) does not.
    #[test]
    fn operation_inputs_inert_looks_everywhere() {
        let call = J::from(serde_json::json!({"get_input": "x"}));
        // The node with `value` at `path` (nothing changed for an empty path).
        let node = |path: &str, value: &J| {
            let mut node = J::from(serde_json::json!({
                "properties": {"p": {"get_input": "y"}},
                "operations": {"op": {"implementation": "a", "inputs": {}}},
                "interfaces": {"i": {"op": {"implementation": "a", "inputs": {}}}},
                "relationships": [{
                    "source_operations": {"op": {"inputs": {}}},
                    "target_operations": {"op": {"inputs": {}}},
                    "source_interfaces": {"i": {"op": {"inputs": {}}}},
                    "target_interfaces": {"i": {"op": {"inputs": {"a": [1, {"k": 2}]}}}},
                }],
            }));
            if !path.is_empty() {
                *node.pointer_mut(path).expect("path") = value.clone();
            }
            node.as_object().expect("object").clone()
        };
        assert!(operation_inputs_inert(&node("", &call)));
        for path in [
            "/operations/op/inputs",
            "/interfaces/i/op/inputs",
            "/relationships/0/source_operations/op/inputs",
            "/relationships/0/target_operations/op/inputs",
            "/relationships/0/source_interfaces/i/op/inputs",
            "/relationships/0/target_interfaces/i/op/inputs/a/1/k",
        ] {
            assert!(!operation_inputs_inert(&node(path, &call)), "{path}");
        }
        let look_alike = J::from(serde_json::json!({"x": {"get_input": "x", "other": 1}}));
        assert!(operation_inputs_inert(&node(
            "/operations/op/inputs",
            &look_alike
        )));
        // Not operation inputs: the passes do not read these.
        assert!(operation_inputs_inert(&node(
            "/operations/op/implementation",
            &call
        )));
    }
}
