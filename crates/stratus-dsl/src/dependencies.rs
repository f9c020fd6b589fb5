//! Inter-deployment dependencies: where a plan calls `get_capability`, as the reference's
//! `inter_deployment_functions` lists them.

use crate::json::{Map, Value as J};

use crate::functions;

/// Where a `get_capability` call was found (the reference's `IDDSpec`).
struct IddSpec {
    /// `None` for plan-level places (outputs, capabilities, …).
    node: Option<String>,
    /// For relationship operations: (target node, relationship type).
    relationship: Option<(String, String)>,
    target_deployment: J,
    function_identifier: String,
}

/// Inter-deployment dependencies: every `get_capability` in the plan, once per node instance
/// of the node it is written in, with the deployment it names (when it is a literal).
pub fn inter_deployment_functions(plan: &Map) -> Vec<J> {
    inter_deployment_functions_of(plan, None)
}

/// Whether any place of `node` the scan below reads holds a `get_capability` call; with
/// `inert_operations`, the node's operation inputs are known to hold no function call.
pub fn node_mentions_capability(node: &J, inert_operations: bool) -> bool {
    let in_operations = |operations: Option<&J>| {
        operations
            .and_then(J::as_object)
            .into_iter()
            .flat_map(|m| m.values())
            .any(|op| mentions_capability(functions::field(op, "inputs")))
    };
    mentions_capability(node.get("properties"))
        || (!inert_operations && in_operations(node.get("operations")))
        || !inert_operations
            && node
                .get("relationships")
                .and_then(J::as_array)
                .into_iter()
                .flatten()
                .any(|r| {
                    in_operations(r.get("source_operations"))
                        || in_operations(r.get("target_operations"))
                })
}

/// [`inter_deployment_functions`]; `mentions[i]`, when given, is
/// [`node_mentions_capability`] of node `i` (so nodes without any are not read again).
pub fn inter_deployment_functions_of(plan: &Map, mentions: Option<&[bool]>) -> Vec<J> {
    let mut specs: Vec<IddSpec> = Vec::new();
    let mut scan =
        |value: &J, path: &str, node: Option<&str>, relationship: Option<(&str, &str)>| {
            find_capabilities(value, path, &mut |args: &J, path: &str| {
                let first = args
                    .as_array()
                    .and_then(|a| a.first())
                    .cloned()
                    .unwrap_or(J::Null);
                let literal = if functions::is_function(&first) {
                    J::Null
                } else {
                    first.clone()
                };
                specs.push(IddSpec {
                    node: node.map(str::to_string),
                    relationship: relationship.map(|(t, r)| (t.to_string(), r.to_string())),
                    target_deployment: J::from(vec![literal, first]),
                    function_identifier: format!("{path}.get_capability"),
                });
            });
        };
    for (index, node) in plan
        .get("nodes")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if mentions.is_some_and(|m| m.get(index) == Some(&false)) {
            continue;
        }
        let name = node.get("name").and_then(J::as_str).unwrap_or_default();
        scan_place(
            node.get("properties"),
            || format!("nodes.{name}.properties"),
            &mut |v, p| scan(v, p, Some(name), None),
        );
        for (op_name, op) in node
            .get("operations")
            .and_then(J::as_object)
            .into_iter()
            .flatten()
        {
            scan_place(
                op.get("inputs"),
                || format!("nodes.{name}.operations.{op_name}.inputs"),
                &mut |v, p| scan(v, p, Some(name), None),
            );
        }
        for relationship in node
            .get("relationships")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            let rel_type = relationship
                .get("type")
                .and_then(J::as_str)
                .unwrap_or_default();
            let target = relationship
                .get("target_id")
                .and_then(J::as_str)
                .unwrap_or_default();
            for key in ["source_operations", "target_operations"] {
                for (op_name, op) in relationship
                    .get(key)
                    .and_then(J::as_object)
                    .into_iter()
                    .flatten()
                {
                    scan_place(
                        op.get("inputs"),
                        || format!("nodes.{name}.{rel_type}.{op_name}.inputs"),
                        &mut |v, p| scan(v, p, Some(name), Some((target, rel_type))),
                    );
                }
            }
        }
    }
    for key in ["outputs", "capabilities", "labels"] {
        for (entry_name, entry) in plan.get(key).and_then(J::as_object).into_iter().flatten() {
            scan_place(
                Some(entry),
                || format!("{key}.{entry_name}"),
                &mut |v, p| scan(v, p, None, None),
            );
        }
    }
    for key in ["policies", "scaling_groups"] {
        for (entry_name, entry) in plan.get(key).and_then(J::as_object).into_iter().flatten() {
            scan_place(
                entry.get("properties"),
                || format!("{key}.{entry_name}.properties"),
                &mut |v, p| scan(v, p, None, None),
            );
        }
    }
    scan_place(
        plan.get("deployment_settings"),
        || "deployment_settings".to_string(),
        &mut |v, p| scan(v, p, None, None),
    );

    let instances: Vec<&J> = plan
        .get("node_instances")
        .and_then(J::as_array)
        .map(|i| i.iter().collect())
        .unwrap_or_default();
    let mut result = Vec::new();
    for spec in specs {
        let mut entry = Map::new();
        entry.insert(
            "function_identifier",
            J::from(spec.function_identifier.clone()),
        );
        entry.insert("target_deployment", spec.target_deployment.clone());
        let Some(node) = &spec.node else {
            entry.insert("context", J::Object(Map::new()));
            result.push(J::Object(entry));
            continue;
        };
        for instance in instances
            .iter()
            .filter(|i| i.get("node_id").and_then(J::as_str) == Some(node.as_str()))
        {
            let id = instance.get("id").cloned().unwrap_or(J::Null);
            let mut context = Map::new();
            context.insert("self", id.clone());
            if let Some((target, rel_type)) = &spec.relationship {
                let target_id = instance
                    .get("relationships")
                    .and_then(J::as_array)
                    .into_iter()
                    .flatten()
                    .find(|r| {
                        r.get("target_name").and_then(J::as_str) == Some(target.as_str())
                            && r.get("type").and_then(J::as_str) == Some(rel_type.as_str())
                    })
                    .and_then(|r| r.get("target_id").cloned())
                    .unwrap_or(J::Null);
                context.insert("source", id);
                context.insert("target", target_id);
            }
            let mut item = entry.clone();
            item.insert("context", J::Object(context));
            result.push(J::Object(item));
        }
    }
    result
}

/// Whether a `get_capability` call appears anywhere in `value` (checked before any path is
/// spelled out, as almost no value has one).
fn mentions_capability(value: Option<&J>) -> bool {
    match value {
        Some(J::Object(map)) => {
            matches!(
                functions::as_function(value.unwrap_or(&J::Null)),
                Some(("get_capability", _))
            ) || map.values().any(|v| mentions_capability(Some(v)))
        }
        Some(J::Array(items)) => items.iter().any(|v| mentions_capability(Some(v))),
        _ => false,
    }
}

/// [`scan_children`] of a top-level place, whose path is spelled out only if needed.
fn scan_place(value: Option<&J>, path: impl FnOnce() -> String, visit: &mut dyn FnMut(&J, &str)) {
    if mentions_capability(value) {
        scan_children(value, &path(), visit);
    }
}

/// The reference's `scan_properties`: visit each child of a mapping or list with its path.
fn scan_children(value: Option<&J>, path: &str, visit: &mut dyn FnMut(&J, &str)) {
    match value {
        Some(J::Object(map)) => map
            .iter()
            .for_each(|(k, v)| visit(v, &format!("{path}.{k}"))),
        Some(J::Array(items)) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| visit(v, &format!("{path}[{i}]"))),
        _ => {}
    }
}

/// Calls `found` for every `get_capability` in `value` (arguments first, as the reference
/// scans a function's arguments before the function).
fn find_capabilities(value: &J, path: &str, found: &mut dyn FnMut(&J, &str)) {
    scan_children(Some(value), path, &mut |child, child_path| {
        find_capabilities(child, child_path, found)
    });
    if let Some(("get_capability", args)) = functions::as_function(value) {
        found(args, path);
    }
}
