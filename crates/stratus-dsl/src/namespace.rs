//! Namespaced imports (DSL 1_4+): `ns--path` imports a document whose names are all prefixed
//! with `ns--`, so the same file can be imported twice without conflicts.
//!
//! The reference applies the prefix while it walks the element tree; we apply it to the
//! imported document before merging: definition names, references to them (`derived_from`,
//! `type`, relationship targets, property types), operation implementations and workflow
//! mappings, and the node and input names inside intrinsic functions. `cloudify.` names are
//! never prefixed.

use crate::yaml::{Node, Value};

const DEFINITION_SECTIONS: &[&str] = &[
    "node_types",
    "relationships",
    "data_types",
    "plugins",
    "node_templates",
    "inputs",
    "outputs",
    "capabilities",
    "workflows",
    "policy_types",
    "policy_triggers",
    "groups",
    "policies",
];

pub fn prefixed(namespace: &str, name: &str) -> String {
    format!("{namespace}--{name}")
}

fn prefix_in_place(node: &mut Node, namespace: &str) {
    if let Value::Str(s) = &node.value {
        if !s.starts_with("cloudify.") && !s.is_empty() {
            node.value = Value::Str(prefixed(namespace, s).into());
        }
    }
}

fn prefix_type(node: &mut Node, namespace: &str) {
    if let Value::Str(s) = &node.value {
        if !crate::props::is_primitive(s) {
            prefix_in_place(node, namespace);
        }
    }
}

/// Applies `namespace` to an imported document.
pub fn apply(document: &mut Node, namespace: &str) {
    let Value::Map(sections) = &mut document.value else {
        return;
    };
    for (key, section) in sections.iter_mut() {
        let Some(name) = key.as_str().map(str::to_string) else {
            continue;
        };
        if !DEFINITION_SECTIONS.contains(&name.as_str()) {
            continue;
        }
        let Value::Map(entries) = &mut section.value else {
            continue;
        };
        for (entry_key, entry) in entries.iter_mut() {
            prefix_in_place(entry_key, namespace);
            match name.as_str() {
                "node_types" | "relationships" | "data_types" => type_definition(entry, namespace),
                "node_templates" => node_template(entry, namespace),
                "workflows" => workflow(entry, namespace),
                "inputs" => {
                    if let Some(t) = get_mut(entry, "type") {
                        prefix_type(t, namespace);
                    }
                }
                _ => {}
            }
        }
    }
    functions(document, namespace);
}

fn get_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut node.value {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn type_definition(definition: &mut Node, namespace: &str) {
    if let Some(parent) = get_mut(definition, "derived_from") {
        prefix_in_place(parent, namespace);
    }
    if let Some(Node {
        value: Value::Map(properties),
        ..
    }) = get_mut(definition, "properties")
    {
        for (_, property) in properties.iter_mut() {
            if let Some(t) = get_mut(property, "type") {
                prefix_type(t, namespace);
            }
        }
    }
    for interfaces in ["interfaces", "source_interfaces", "target_interfaces"] {
        if let Some(node) = get_mut(definition, interfaces) {
            operations(node, namespace);
        }
    }
}

fn node_template(template: &mut Node, namespace: &str) {
    if let Some(t) = get_mut(template, "type") {
        prefix_in_place(t, namespace);
    }
    if let Some(interfaces) = get_mut(template, "interfaces") {
        operations(interfaces, namespace);
    }
    if let Some(Node {
        value: Value::Seq(relationships),
        ..
    }) = get_mut(template, "relationships")
    {
        for relationship in relationships {
            if let Some(t) = get_mut(relationship, "type") {
                prefix_in_place(t, namespace);
            }
            if let Some(t) = get_mut(relationship, "target") {
                prefix_in_place(t, namespace);
            }
            for interfaces in ["source_interfaces", "target_interfaces"] {
                if let Some(node) = get_mut(relationship, interfaces) {
                    operations(node, namespace);
                }
            }
        }
    }
}

fn operations(interfaces: &mut Node, namespace: &str) {
    let Value::Map(interfaces) = &mut interfaces.value else {
        return;
    };
    for (_, interface) in interfaces.iter_mut() {
        let Value::Map(operations) = &mut interface.value else {
            continue;
        };
        for (_, operation) in operations.iter_mut() {
            if matches!(operation.value, Value::Str(_)) {
                prefix_in_place(operation, namespace);
            } else if let Some(implementation) = get_mut(operation, "implementation") {
                prefix_in_place(implementation, namespace);
            }
        }
    }
}

fn workflow(definition: &mut Node, namespace: &str) {
    if matches!(definition.value, Value::Str(_)) {
        prefix_in_place(definition, namespace);
    } else if let Some(mapping) = get_mut(definition, "mapping") {
        prefix_in_place(mapping, namespace);
    }
}

/// Prefixes input and node names inside intrinsic functions anywhere in the document.
fn functions(node: &mut Node, namespace: &str) {
    match &mut node.value {
        Value::Seq(items) => items.iter_mut().for_each(|item| functions(item, namespace)),
        Value::Map(entries) => {
            let is_function = entries.len() == 1;
            for (key, value) in entries.iter_mut() {
                match (is_function, key.as_str()) {
                    (true, Some("get_input")) => match &mut value.value {
                        Value::Str(_) => prefix_any(value, namespace),
                        Value::Seq(items) if !items.is_empty() => {
                            prefix_any(&mut items[0], namespace)
                        }
                        _ => {}
                    },
                    (true, Some("get_property" | "get_attribute")) => {
                        if let Value::Seq(items) = &mut value.value {
                            if let Some(first) = items.first_mut() {
                                if !matches!(first.as_str(), Some("SELF" | "SOURCE" | "TARGET")) {
                                    prefix_any(first, namespace);
                                }
                            }
                        }
                    }
                    _ => functions(value, namespace),
                }
            }
        }
        _ => {}
    }
}

fn prefix_any(node: &mut Node, namespace: &str) {
    if let Value::Str(s) = &node.value {
        node.value = Value::Str(prefixed(namespace, s).into());
    }
}
