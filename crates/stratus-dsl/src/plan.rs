//! The deployment plan (the reference's `prepare_deployment_plan`): inputs checked and
//! defaulted, plan-time functions evaluated, node instances generated.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as J};

use crate::blueprint::{Blueprint, PlanEnvironment};
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
    let mut current = None;
    let values = set_inputs(&plan, inputs, &mut current)
        .map_err(|mut problem| {
            if problem.span.is_none() {
                problem.span =
                    current.and_then(|name: String| blueprint.input_spans.get(&name).copied());
            }
            problem
        })
        .map_err(locate)?;
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

/// `current` is left naming the input a problem is about.
fn set_inputs(
    plan: &J,
    given: &Map<String, J>,
    current: &mut Option<String>,
) -> Result<Map<String, J>, Problem> {
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
        *current = Some(name.clone());
        let type_name = definition.get("type").and_then(J::as_str);
        let context = props::Context {
            undefined: "Undefined property {1} in value of input {0}.",
            missing: "Value of input {0} is missing property {1}.",
            node_name: name,
            span: Span::default(),
            raise_on_missing: true,
            source: None,
            owner: Span::default(),
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
    *current = missing.first().cloned();
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
    *current = None;
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

fn evaluate_in_place(
    value: &mut J,
    context: &Context,
    env: &dyn Environment,
    runtime: &Cell<bool>,
) -> Result<(), Problem> {
    if functions::contains_function(value) {
        *value = evaluate_value(value, context, env, runtime)?;
    }
    Ok(())
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
        if let Some(inputs) = operation.get_mut("inputs") {
            evaluate_in_place(inputs, context, env, &runtime)?;
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
            if let Some(inputs) = operation.get_mut("inputs") {
                evaluate_in_place(inputs, context, env, &Cell::new(false))?;
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
    // Other nodes' properties are read as they were before evaluation; whatever functions
    // they hold are evaluated in turn, so the result is the same and no node waits on another.
    let env = PlanEnvironment::new(plan, &blueprint.version, blueprint.function_spans.clone());
    for index in 0..node_count {
        let node = &mut plan["nodes"][index];
        let name = node
            .get("name")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string();
        let mut context = base(Scope::NodeTemplate, format!("nodes.{name}.properties"));
        context.self_node = Some(name.clone());
        let unused = Cell::new(false);
        if let Some(properties) = node.get_mut("properties") {
            evaluate_in_place(properties, &context, &env, &unused)?;
        }
        if let Some(scalable) = node.pointer_mut("/capabilities/scalable/properties") {
            evaluate_in_place(scalable, &context, &env, &unused)?;
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
    let env = PlanEnvironment::new(plan, &blueprint.version, blueprint.function_spans.clone());
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
                    if let Some(value) = entry.get_mut(field) {
                        evaluate_in_place(value, &context, &env, &unused)?;
                    }
                }
                None => evaluate_in_place(entry, &context, &env, &unused)?,
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
    let empty = Vec::new();
    let nodes: &Vec<J> = plan.get("nodes").and_then(J::as_array).unwrap_or(&empty);
    let name_of = |node: &J| {
        node.get("name")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string()
    };
    // The contained_in relationship (with its index) of each node, and each node's children.
    let mut containers: Vec<Option<(usize, usize)>> = vec![None; nodes.len()];
    let by_name: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (name_of(n), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        let relationships = node
            .get("relationships")
            .and_then(J::as_array)
            .into_iter()
            .flatten();
        if let Some((rel_index, relationship)) =
            relationships.enumerate().find(|(_, r)| is_contained_in(r))
        {
            let target = relationship
                .get("target_id")
                .and_then(J::as_str)
                .unwrap_or_default();
            if let Some(&parent) = by_name.get(target) {
                containers[index] = Some((parent, rel_index));
                children[parent].push(index);
            }
        }
    }
    let mut generator = Generator {
        ids: IdGenerator::new(),
        used: HashSet::new(),
        instances: Vec::new(),
    };
    // Depth-first from every root, as the reference walks each contained_in tree.
    let mut stack: Vec<(usize, Option<usize>, Option<String>)> = Vec::new();
    for index in (0..nodes.len()).rev() {
        if containers[index].is_none() {
            stack.push((index, None, None));
        }
    }
    let mut visits = 0usize;
    while let Some((index, parent_instance, host)) = stack.pop() {
        visits += 1;
        if visits > 10_000_000 {
            return Err(Problem::uncoded(
                Kind::Value,
                None,
                "too many node instances (more than 10,000,000)",
            ));
        }
        let node = &nodes[index];
        let node_name = name_of(node);
        let count = node
            .pointer("/capabilities/scalable/properties/current_instances")
            .and_then(J::as_i64)
            .unwrap_or(1)
            .max(0);
        let mut created = Vec::new();
        for _ in 0..count {
            let id = generator.new_id(&node_name);
            let mut instance = Map::new();
            instance.insert("name".into(), J::String(node_name.clone()));
            instance.insert("node_id".into(), J::String(node_name.clone()));
            instance.insert("id".into(), J::String(id.clone()));
            let node_host = node.get("host_id").and_then(J::as_str);
            let mut current_host = host.clone();
            if current_host.is_none() && node_host == Some(node_name.as_str()) {
                current_host = Some(id.clone());
            }
            if let Some(h) = &current_host {
                instance.insert("host_id".into(), J::String(h.clone()));
            } else if let Some(h) = node_host {
                instance.insert("host_id".into(), J::String(h.into()));
            }
            let mut relationships = Vec::new();
            if let (Some(parent), Some((_, rel_index))) = (parent_instance, containers[index]) {
                let parent_id = generator.instances[parent]
                    .0
                    .get("id")
                    .and_then(J::as_str)
                    .unwrap_or_default()
                    .to_string();
                let relationship = &node["relationships"][rel_index];
                relationships.push((rel_index, relationship_instance(relationship, &parent_id)));
            }
            generator.instances.push((instance, index, relationships));
            created.push((generator.instances.len() - 1, current_host));
        }
        for (instance_index, current_host) in created.into_iter().rev() {
            for &child in children[index].iter().rev() {
                stack.push((child, Some(instance_index), current_host.clone()));
            }
        }
    }
    let instances = &mut generator.instances;
    let mut ids_by_node: Vec<Vec<String>> = vec![Vec::new(); nodes.len()];
    let mut positions_by_node: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (position, (instance, node_index, _)) in instances.iter().enumerate() {
        ids_by_node[*node_index].push(
            instance
                .get("id")
                .and_then(J::as_str)
                .unwrap_or_default()
                .to_string(),
        );
        positions_by_node[*node_index].push(position);
    }
    // Other relationships.
    for (source_index, node) in nodes.iter().enumerate() {
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
            let mut target_ids: Vec<String> = by_name
                .get(target)
                .map(|&t| ids_by_node[t].clone())
                .unwrap_or_default();
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
            for &position in &positions_by_node[source_index] {
                let relationships = &mut instances[position].2;
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
    Ok(generator
        .instances
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

struct Generator {
    ids: IdGenerator,
    used: HashSet<String>,
    instances: Vec<Built>,
}

impl Generator {
    fn new_id(&mut self, node: &str) -> String {
        loop {
            let id = format!("{node}_{}", self.ids.next());
            if self.used.insert(id.clone()) {
                return id;
            }
        }
    }
}

/// A generated instance: its fields, its node's index, its relationships with their indexes.
type Built = (Map<String, J>, usize, Vec<(usize, J)>);

fn relationship_instance(relationship: &J, target_instance: &str) -> J {
    serde_json::json!({
        "type": relationship.get("type").cloned().unwrap_or(J::Null),
        "target_name": relationship.get("target_id").cloned().unwrap_or(J::Null),
        "target_id": target_instance,
    })
}
