//! The deployment plan (the reference's `prepare_deployment_plan`): inputs checked and
//! defaulted, plan-time functions evaluated, node instances generated.

use std::cell::Cell;
use std::collections::HashSet;

use serde_json::{Map, Value as J};

use crate::blueprint::Blueprint;
use crate::constraints;
use crate::diag::{Diagnostic, Kind, Problem};
use crate::functions::{self, Context, Environment, Scope};
use crate::props::{self, python_repr};
use crate::templates::CONTAINED_IN;
use crate::yaml::Span;

/// Applies deployment inputs to a parsed blueprint and produces the deployment plan.
pub fn prepare(blueprint: &Blueprint, inputs: &Map<String, J>) -> Result<J, Vec<Diagnostic>> {
    let locate = |p: Problem| vec![p.locate(&blueprint.files)];
    let mut plan = blueprint.plan.clone();
    let values = set_inputs(&plan, inputs).map_err(locate)?;
    plan["inputs"] = J::Object(values);
    evaluate_plan(&mut plan, blueprint).map_err(locate)?;
    let instances = node_instances(&plan).map_err(locate)?;
    let J::Object(map) = &mut plan else {
        return Ok(plan);
    };
    map.insert("node_instances".into(), J::Array(instances));
    map.insert("inter_deployment_functions".into(), J::Array(vec![]));
    strip_bookkeeping(&mut plan);
    Ok(plan)
}

/// Removes the parser's private keys.
pub fn strip_bookkeeping(plan: &mut J) {
    for node in plan
        .get_mut("nodes")
        .and_then(J::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let J::Object(n) = node {
            n.shift_remove("__script_interfaces");
        }
        for relationship in node
            .get_mut("relationships")
            .and_then(J::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let J::Object(r) = relationship {
                r.shift_remove("__script_interfaces");
            }
        }
    }
}

fn set_inputs(plan: &J, given: &Map<String, J>) -> Result<Map<String, J>, Problem> {
    let empty = Map::new();
    let definitions = plan.get("inputs").and_then(J::as_object).unwrap_or(&empty);
    let data_types = plan
        .get("data_types")
        .and_then(J::as_object)
        .cloned()
        .unwrap_or_default();
    let mut values = given.clone();
    let mut missing: Vec<String> = Vec::new();
    for (name, definition) in definitions {
        let type_name = definition.get("type").and_then(J::as_str);
        let context = props::Context {
            undefined: "Undefined property {1} in value of input {0}.",
            missing: "Value of input {0} is missing property {1}.",
            node_name: name,
            span: Span::default(),
            raise_on_missing: true,
        };
        if let Some(value) = given.get(name) {
            if !value.to_string().is_ascii() {
                return Err(Problem {
                    kind: Kind::InputType,
                    code: Some(108),
                    message: format!("Illegal characters in input: {name}. Only valid ascii chars are supported."),
                    span: None,
                    hint: None,
                });
            }
        } else if let Some(default) = definition.get("default").filter(|d| !d.is_null()) {
            values.insert(name.clone(), default.clone());
        } else {
            let parsed = props::parse_value(
                &J::Object(Map::new()),
                None,
                type_name,
                &data_types,
                &context,
                &[],
            )
            .ok();
            match parsed.filter(props::truthy) {
                Some(parsed) => {
                    values.insert(name.clone(), parsed);
                }
                None if definition
                    .get("required")
                    .and_then(J::as_bool)
                    .unwrap_or(true) =>
                {
                    missing.push(name.clone());
                    continue;
                }
                None => {
                    values.insert(name.clone(), J::Null);
                    continue;
                }
            }
        }
        let value = values[name].clone();
        constraints::validate_value(name, definition, &value, None)?;
        if let (Some("list"), Some(item_type)) =
            (type_name, definition.get("item_type").and_then(J::as_str))
        {
            for item in value.as_array().into_iter().flatten() {
                if !props::simple_type_ok(item, item_type) {
                    return Err(Problem::logic(
                        105,
                        Span::default(),
                        format!("Property type validation failed in '{name}': the defined type is '{item_type}', yet it was assigned with the value '{}'", python_repr(item)),
                    ));
                }
            }
        }
        match props::parse_value(&value, None, type_name, &data_types, &context, &[]) {
            Ok(parsed) => {
                values.insert(name.clone(), parsed);
            }
            Err(problem) => {
                return Err(Problem {
                    kind: Kind::Parsing,
                    code: Some(214),
                    message: problem.message,
                    span: None,
                    hint: None,
                });
            }
        }
    }
    if !missing.is_empty() {
        return Err(Problem::uncoded(
            Kind::MissingRequiredInput,
            None,
            format!(
                "Required inputs {} were not specified - expected inputs: {}",
                python_list(&missing),
                python_list(&definitions.keys().cloned().collect::<Vec<_>>())
            ),
        )
        .with_hint("pass them with --inputs"));
    }
    let unknown: Vec<String> = given
        .keys()
        .filter(|k| !definitions.contains_key(*k))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Problem::uncoded(
            Kind::UnknownInput,
            None,
            format!(
                "Unknown inputs {} specified - expected inputs: {}",
                python_list(&unknown),
                python_list(&definitions.keys().cloned().collect::<Vec<_>>())
            ),
        ));
    }
    // Keep the declaration order, as the reference's dict does.
    let mut ordered = Map::new();
    for (k, v) in values {
        ordered.insert(k, v);
    }
    Ok(ordered)
}

fn python_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

struct Snapshot<'a> {
    plan: &'a J,
    blueprint: &'a Blueprint,
}

impl Environment for Snapshot<'_> {
    fn input(&self, name: &str) -> Option<J> {
        self.plan.get("inputs")?.get(name).cloned()
    }

    fn has_input(&self, name: &str) -> bool {
        self.input(name).is_some()
    }

    fn node_properties(&self, node: &str) -> Option<J> {
        self.plan
            .get("nodes")?
            .as_array()?
            .iter()
            .find(|n| n.get("name").and_then(J::as_str) == Some(node))?
            .get("properties")
            .cloned()
    }

    fn has_node(&self, node: &str) -> bool {
        self.node_properties(node).is_some()
    }

    fn version_at_least(&self, major: u32, minor: u32) -> bool {
        self.blueprint.version.at_least(major, minor)
    }
}

fn evaluate_value(
    value: &J,
    context: &Context,
    env: &dyn Environment,
    runtime: &Cell<bool>,
) -> Result<J, Problem> {
    let (result, has_runtime) = functions::evaluate(value, context, env)?;
    if has_runtime {
        runtime.set(true);
    }
    Ok(result)
}

fn evaluate_operations(
    operations: &mut Map<String, J>,
    context: &Context,
    env: &dyn Environment,
) -> Result<(), Problem> {
    for operation in operations.values_mut() {
        let runtime = Cell::new(false);
        if let Some(inputs) = operation.get("inputs") {
            let evaluated = evaluate_value(inputs, context, env, &runtime)?;
            operation["inputs"] = evaluated;
        }
        if runtime.get() {
            operation["has_intrinsic_functions"] = J::Bool(true);
        }
    }
    Ok(())
}

fn evaluate_interfaces(
    interfaces: &mut J,
    skip: &[String],
    prefix: &str,
    context: &Context,
    env: &dyn Environment,
) -> Result<(), Problem> {
    let Some(interfaces) = interfaces.as_object_mut() else {
        return Ok(());
    };
    for (interface_name, interface) in interfaces.iter_mut() {
        let Some(operations) = interface.as_object_mut() else {
            continue;
        };
        for (op_name, operation) in operations.iter_mut() {
            if skip.contains(&format!("{prefix}{interface_name}.{op_name}")) {
                continue;
            }
            if let Some(inputs) = operation.get("inputs") {
                let evaluated = evaluate_value(inputs, context, env, &Cell::new(false))?;
                operation["inputs"] = evaluated;
            }
        }
    }
    Ok(())
}

fn evaluate_plan(plan: &mut J, blueprint: &Blueprint) -> Result<(), Problem> {
    let base = |scope, path: String| Context {
        scope,
        self_node: None,
        source_node: None,
        target_node: None,
        path,
        span: Span::default(),
    };
    let node_count = plan.get("nodes").and_then(J::as_array).map_or(0, Vec::len);
    for index in 0..node_count {
        let snapshot = plan.clone();
        let env = Snapshot {
            plan: &snapshot,
            blueprint,
        };
        let node = &mut plan["nodes"][index];
        let name = node
            .get("name")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string();
        let mut context = base(Scope::NodeTemplate, format!("nodes.{name}.properties"));
        context.self_node = Some(name.clone());
        let unused = Cell::new(false);
        let properties = evaluate_value(&node["properties"], &context, &env, &unused)?;
        node["properties"] = properties;
        if let Some(scalable) = node.pointer("/capabilities/scalable/properties").cloned() {
            let evaluated = evaluate_value(&scalable, &context, &env, &unused)?;
            node["capabilities"]["scalable"]["properties"] = evaluated;
        }
        context.path = format!("nodes.{name}.operations");
        if let Some(J::Object(operations)) = node.get_mut("operations") {
            evaluate_operations(operations, &context, &env)?;
        }
        let skip: Vec<String> = node
            .get("__script_interfaces")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
        if let Some(interfaces) = node.get_mut("interfaces") {
            evaluate_interfaces(interfaces, &skip, "", &context, &env)?;
        }
        for relationship in node
            .get_mut("relationships")
            .and_then(J::as_array_mut)
            .into_iter()
            .flatten()
        {
            let mut context = base(Scope::Relationship, format!("nodes.{name}.relationships"));
            context.source_node = Some(name.clone());
            context.target_node = relationship
                .get("target_id")
                .and_then(J::as_str)
                .map(str::to_string);
            let skip: Vec<String> = relationship
                .get("__script_interfaces")
                .and_then(J::as_array)
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect();
            for (interfaces_key, operations_key) in [
                ("source_interfaces", "source_operations"),
                ("target_interfaces", "target_operations"),
            ] {
                if let Some(J::Object(operations)) = relationship.get_mut(operations_key) {
                    evaluate_operations(operations, &context, &env)?;
                }
                if let Some(interfaces) = relationship.get_mut(interfaces_key) {
                    evaluate_interfaces(
                        interfaces,
                        &skip,
                        &format!("{interfaces_key}:"),
                        &context,
                        &env,
                    )?;
                }
            }
        }
    }
    let snapshot = plan.clone();
    let env = Snapshot {
        plan: &snapshot,
        blueprint,
    };
    let unused = Cell::new(false);
    for (key, scope, inner) in [
        ("outputs", Scope::Outputs, None),
        ("capabilities", Scope::Capabilities, None),
        ("labels", Scope::Labels, None),
        ("policies", Scope::Policies, Some("properties")),
        ("scaling_groups", Scope::ScalingGroups, Some("properties")),
    ] {
        let Some(J::Object(entries)) = plan.get_mut(key) else {
            continue;
        };
        for (name, entry) in entries.iter_mut() {
            let context = base(scope, format!("{key}.{name}"));
            match inner {
                Some(field) => {
                    if let Some(value) = entry.get(field) {
                        let evaluated = evaluate_value(value, &context, &env, &unused)?;
                        entry[field] = evaluated;
                    }
                }
                None => {
                    let evaluated = evaluate_value(entry, &context, &env, &unused)?;
                    *entry = evaluated;
                }
            }
        }
    }
    if let Some(settings) = plan.get("deployment_settings").cloned() {
        let evaluated = evaluate_value(
            &settings,
            &base(Scope::DeploymentSettings, "deployment_settings".into()),
            &env,
            &unused,
        )?;
        plan["deployment_settings"] = evaluated;
    }
    Ok(())
}

/// Random 6-character instance id suffixes from `[a-z0-9]`, as the reference makes them.
struct IdGenerator {
    state: u64,
}

impl IdGenerator {
    fn new() -> IdGenerator {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        IdGenerator { state: seed | 1 }
    }

    fn next(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..6)
            .map(|_| {
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                ALPHABET[(self.state % ALPHABET.len() as u64) as usize] as char
            })
            .collect()
    }
}

fn is_contained_in(relationship: &J) -> bool {
    relationship
        .get("type_hierarchy")
        .and_then(J::as_array)
        .is_some_and(|h| h.iter().any(|t| t.as_str() == Some(CONTAINED_IN)))
}

/// Node instances: each node's instances multiplied down its `contained_in` chain, then
/// connected by every other relationship (`all_to_all`, or `all_to_one`: the smallest id).
pub fn node_instances(plan: &J) -> Result<Vec<J>, Problem> {
    let nodes: Vec<&J> = plan
        .get("nodes")
        .and_then(J::as_array)
        .map(|n| n.iter().collect())
        .unwrap_or_default();
    let name_of = |node: &J| {
        node.get("name")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let count_of = |node: &J| {
        node.pointer("/capabilities/scalable/properties/current_instances")
            .and_then(J::as_i64)
            .unwrap_or(1)
            .max(0) as usize
    };
    let container_of = |node: &J| -> Option<(String, J, usize)> {
        node.get("relationships")
            .and_then(J::as_array)?
            .iter()
            .enumerate()
            .find(|(_, r)| is_contained_in(r))
            .map(|(i, r)| {
                (
                    r.get("target_id")
                        .and_then(J::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    r.clone(),
                    i,
                )
            })
    };
    let mut ids = IdGenerator::new();
    let mut used: HashSet<String> = HashSet::new();
    // (instance, node name, relationships with index)
    let mut instances: Vec<Built> = Vec::new();

    #[allow(clippy::too_many_arguments)]
    fn build(
        node_name: &str,
        parent: Option<(&str, &J, usize)>,
        host: Option<String>,
        nodes: &[&J],
        instances: &mut Vec<Built>,
        ids: &mut IdGenerator,
        used: &mut HashSet<String>,
        depth: usize,
    ) {
        let Some(node) = nodes
            .iter()
            .find(|n| n.get("name").and_then(J::as_str) == Some(node_name))
        else {
            return;
        };
        if depth > nodes.len() {
            return;
        }
        let count = node
            .pointer("/capabilities/scalable/properties/current_instances")
            .and_then(J::as_i64)
            .unwrap_or(1)
            .max(0);
        for _ in 0..count {
            let mut id = format!("{node_name}_{}", ids.next());
            while used.contains(&id) {
                id = format!("{node_name}_{}", ids.next());
            }
            used.insert(id.clone());
            let mut instance = Map::new();
            instance.insert("name".into(), J::String(node_name.into()));
            instance.insert("node_id".into(), J::String(node_name.into()));
            instance.insert("id".into(), J::String(id.clone()));
            let node_host = node.get("host_id").and_then(J::as_str);
            let mut current_host = host.clone();
            if current_host.is_none() && node_host == Some(node_name) {
                current_host = Some(id.clone());
            }
            if let Some(h) = &current_host {
                instance.insert("host_id".into(), J::String(h.clone()));
            } else if let Some(h) = node_host {
                instance.insert("host_id".into(), J::String(h.into()));
            }
            let mut relationships = Vec::new();
            if let Some((parent_id, relationship, index)) = parent {
                relationships.push((index, relationship_instance(relationship, parent_id)));
            }
            instances.push((instance, node_name.to_string(), relationships));
            for child in nodes.iter() {
                let Some(rels) = child.get("relationships").and_then(J::as_array) else {
                    continue;
                };
                if let Some((child_index, rel)) =
                    rels.iter().enumerate().find(|(_, r)| is_contained_in(r))
                {
                    if rel.get("target_id").and_then(J::as_str) == Some(node_name) {
                        let child_name = child
                            .get("name")
                            .and_then(J::as_str)
                            .unwrap_or_default()
                            .to_string();
                        build(
                            &child_name,
                            Some((&id, rel, child_index)),
                            current_host.clone(),
                            nodes,
                            instances,
                            ids,
                            used,
                            depth + 1,
                        );
                    }
                }
            }
        }
    }

    for node in &nodes {
        if container_of(node).is_none() {
            build(
                &name_of(node),
                None,
                None,
                &nodes,
                &mut instances,
                &mut ids,
                &mut used,
                0,
            );
        }
    }
    let _ = count_of;
    // Other relationships.
    for node in &nodes {
        let source = name_of(node);
        for (index, relationship) in node
            .get("relationships")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if is_contained_in(relationship) {
                continue;
            }
            let target = relationship
                .get("target_id")
                .and_then(J::as_str)
                .unwrap_or_default();
            let connection = relationship
                .pointer("/properties/connection_type")
                .and_then(J::as_str)
                .unwrap_or("");
            let mut target_ids: Vec<String> = instances
                .iter()
                .filter(|(_, n, _)| n == target)
                .filter_map(|(i, _, _)| i.get("id").and_then(J::as_str).map(str::to_string))
                .collect();
            match connection {
                "all_to_all" => {}
                "all_to_one" => {
                    target_ids.sort();
                    target_ids.truncate(1);
                }
                other => {
                    return Err(Problem::uncoded(
                        Kind::IllegalConnectionType,
                        None,
                        format!("Illegal connection_type '{other}' of relationship from '{source}' to '{target}': use all_to_all or all_to_one"),
                    ))
                }
            }
            for (_, node_name, relationships) in instances.iter_mut() {
                if *node_name != source {
                    continue;
                }
                for target_id in &target_ids {
                    // One edge per (source, target) instance pair, as in the reference's graph:
                    // a later relationship to the same target replaces an earlier one.
                    relationships.retain(|(_, r)| {
                        r.get("target_id").and_then(J::as_str) != Some(target_id.as_str())
                    });
                    relationships.push((index, relationship_instance(relationship, target_id)));
                }
            }
        }
    }
    Ok(instances
        .into_iter()
        .map(|(mut instance, _, mut relationships)| {
            relationships.sort_by_key(|(i, _)| *i);
            instance.insert(
                "relationships".into(),
                J::Array(relationships.into_iter().map(|(_, r)| r).collect()),
            );
            J::Object(instance)
        })
        .collect())
}

/// A generated instance: its fields, its node, its relationships with their indexes.
type Built = (Map<String, J>, String, Vec<(usize, J)>);

fn relationship_instance(relationship: &J, target_instance: &str) -> J {
    serde_json::json!({
        "type": relationship.get("type").cloned().unwrap_or(J::Null),
        "target_name": relationship.get("target_id").cloned().unwrap_or(J::Null),
        "target_id": target_instance,
    })
}
