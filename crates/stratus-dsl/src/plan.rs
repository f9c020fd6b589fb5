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
///
/// With no secret store, a blueprint that uses `get_secret` cannot be planned (as in the
/// reference); see [`prepare_with_secrets`].
pub fn prepare(blueprint: &Blueprint, inputs: &Map<String, J>) -> Result<J, Vec<Diagnostic>> {
    prepare_with_secrets(blueprint, inputs, None)
}

/// [`prepare`], checking that every secret `get_secret` names exists (`secret_exists`).
pub fn prepare_with_secrets(
    blueprint: &Blueprint,
    inputs: &Map<String, J>,
    secret_exists: Option<&dyn Fn(&str) -> bool>,
) -> Result<J, Vec<Diagnostic>> {
    let locate = |p: Problem| vec![p.locate(&blueprint.files)];
    check_secrets(&blueprint.plan, secret_exists)
        .map_err(|mut problem| {
            // Point at the first get_secret call.
            problem.span = blueprint
                .function_spans
                .iter()
                .filter(|(call, _)| call.starts_with("{\"get_secret\""))
                .map(|(_, span)| *span)
                .min_by_key(|span| (span.file, span.line, span.column));
            problem
        })
        .map_err(locate)?;
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
    let idds = inter_deployment_functions(map);
    map.insert("inter_deployment_functions".into(), J::Array(idds));
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

/// An entry of the containment forest: a node template or a scaling group.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Item {
    Node(usize),
    Group(usize),
}

/// A generated instance of an item (groups get instances too; they are not emitted).
struct Virtual {
    id: String,
    item: Item,
    parent: Option<usize>,
    host: Option<String>,
}

/// Node instances: every node multiplied down its `contained_in` chain and its scaling
/// groups (a group is a virtual container of its members, itself contained where its members'
/// `contained_in` points), then connected by the other relationships: `all_to_all`, or
/// `all_to_one` (the smallest id); inside a shared scaling group, only within the same group
/// instance.
pub fn node_instances(plan: &J) -> Result<Vec<J>, Problem> {
    let empty = Vec::new();
    let nodes: &Vec<J> = plan.get("nodes").and_then(J::as_array).unwrap_or(&empty);
    let name_of = |node: &J| {
        node.get("name")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let by_name: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (name_of(n), i))
        .collect();
    let empty_groups = Map::new();
    let groups_map = plan
        .get("scaling_groups")
        .and_then(J::as_object)
        .unwrap_or(&empty_groups);
    let groups: Vec<(&String, &J)> = groups_map.iter().collect();
    let group_index: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();

    // contained_in of each node: (target node, relationship index).
    let mut contained: Vec<Option<(usize, usize)>> = vec![None; nodes.len()];
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
                contained[index] = Some((parent, rel_index));
            }
        }
    }
    // Group membership.
    let mut node_group: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut group_group: Vec<Option<usize>> = vec![None; groups.len()];
    for (g, (_, group)) in groups.iter().enumerate() {
        for member in group
            .get("members")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .filter_map(J::as_str)
        {
            if let Some(&n) = by_name.get(member) {
                node_group[n] = Some(g);
            } else if let Some(&inner) = group_index.get(member) {
                group_group[inner] = Some(g);
            }
        }
    }
    // Parents in the containment forest.
    let mut group_parent: Vec<Option<Item>> =
        group_group.iter().map(|g| g.map(Item::Group)).collect();
    let mut node_parent: Vec<Option<Item>> = vec![None; nodes.len()];
    for n in 0..nodes.len() {
        match (node_group[n], contained[n]) {
            (Some(g), container) => {
                node_parent[n] = Some(Item::Group(g));
                if let Some((target, _)) = container {
                    let mut top = g;
                    let mut steps = 0;
                    while let Some(outer) = group_group[top] {
                        top = outer;
                        steps += 1;
                        if steps > groups.len() {
                            break;
                        }
                    }
                    if group_parent[top].is_none() {
                        group_parent[top] = Some(Item::Node(target));
                    }
                }
            }
            (None, Some((target, _))) => node_parent[n] = Some(Item::Node(target)),
            (None, None) => {}
        }
    }
    let parent_of = |item: Item| match item {
        Item::Node(n) => node_parent[n],
        Item::Group(g) => group_parent[g],
    };
    let mut children: HashMap<Item, Vec<Item>> = HashMap::new();
    let mut roots = Vec::new();
    let items: Vec<Item> = (0..nodes.len())
        .map(Item::Node)
        .chain((0..groups.len()).map(Item::Group))
        .collect();
    for &item in &items {
        match parent_of(item) {
            Some(parent) => children.entry(parent).or_default().push(item),
            None => roots.push(item),
        }
    }
    let count_of = |item: Item| -> i64 {
        let value = match item {
            Item::Node(n) => {
                nodes[n].pointer("/capabilities/scalable/properties/current_instances")
            }
            Item::Group(g) => groups[g].1.pointer("/properties/current_instances"),
        };
        value.and_then(J::as_i64).unwrap_or(1).max(0)
    };
    let item_name = |item: Item| match item {
        Item::Node(n) => name_of(&nodes[n]),
        Item::Group(g) => groups[g].0.clone(),
    };

    let mut ids = IdGenerator::new();
    let mut used: HashSet<String> = HashSet::new();
    let mut virtuals: Vec<Virtual> = Vec::new();
    let mut stack: Vec<(Item, Option<usize>, Option<String>)> =
        roots.iter().rev().map(|&r| (r, None, None)).collect();
    let mut depth_guard = 0usize;
    while let Some((item, parent, host)) = stack.pop() {
        depth_guard += 1;
        if depth_guard > 10_000_000 {
            return Err(Problem::uncoded(
                Kind::Value,
                None,
                "too many node instances (more than 10,000,000)",
            ));
        }
        let name = item_name(item);
        let mut created = Vec::new();
        for _ in 0..count_of(item) {
            let id = loop {
                let id = format!("{name}_{}", ids.next());
                if used.insert(id.clone()) {
                    break id;
                }
            };
            let mut current_host = host.clone();
            if let Item::Node(n) = item {
                let node_host = nodes[n].get("host_id").and_then(J::as_str);
                if current_host.is_none() && node_host == Some(name.as_str()) {
                    current_host = Some(id.clone());
                }
            }
            virtuals.push(Virtual {
                id,
                item,
                parent,
                host: current_host.clone(),
            });
            created.push((virtuals.len() - 1, current_host));
        }
        for (instance, current_host) in created.into_iter().rev() {
            for &child in children.get(&item).into_iter().flatten().rev() {
                stack.push((child, Some(instance), current_host.clone()));
            }
        }
    }

    // Emit node instances.
    let mut output: Vec<Built> = Vec::new();
    let mut position_of: HashMap<usize, usize> = HashMap::new();
    for (v, instance) in virtuals.iter().enumerate() {
        let Item::Node(n) = instance.item else {
            continue;
        };
        let node = &nodes[n];
        let name = name_of(node);
        let mut fields = Map::new();
        fields.insert("name".into(), J::String(name.clone()));
        fields.insert("node_id".into(), J::String(name.clone()));
        fields.insert("id".into(), J::String(instance.id.clone()));
        match (&instance.host, node.get("host_id").and_then(J::as_str)) {
            (Some(h), _) => {
                fields.insert("host_id".into(), J::String(h.clone()));
            }
            (None, Some(h)) => {
                fields.insert("host_id".into(), J::String(h.into()));
            }
            _ => {}
        }
        let mut relationships = Vec::new();
        // Nearest non-group ancestor, and the group instances on the way to it.
        let mut scaling_groups = Vec::new();
        let mut ancestor = instance.parent;
        while let Some(a) = ancestor {
            if let Item::Group(g) = virtuals[a].item {
                scaling_groups.push(serde_json::json!({"name": groups[g].0, "id": virtuals[a].id}));
                ancestor = virtuals[a].parent;
            } else {
                break;
            }
        }
        if let (Some(a), Some((_, rel_index))) = (ancestor, contained[n]) {
            relationships.push((
                rel_index,
                relationship_instance(&node["relationships"][rel_index], &virtuals[a].id),
            ));
        }
        if !scaling_groups.is_empty() {
            fields.insert("scaling_groups".into(), J::Array(scaling_groups));
        }
        position_of.insert(v, output.len());
        output.push((fields, n, relationships));
    }

    // The group instance of `group` above virtual instance `v`, if any.
    let group_instance = |mut v: usize, group: usize| -> Option<usize> {
        loop {
            let parent = virtuals[v].parent?;
            if virtuals[parent].item == Item::Group(group) {
                return Some(parent);
            }
            v = parent;
        }
    };
    // The groups above a node in the plan's containment forest, nearest first.
    let containing_groups = |n: usize| -> Vec<usize> {
        let mut result = Vec::new();
        let mut current = Item::Node(n);
        let mut steps = 0;
        while let Some(parent) = parent_of(current) {
            if let Item::Group(g) = parent {
                result.push(g);
            }
            current = parent;
            steps += 1;
            if steps > items.len() {
                break;
            }
        }
        result
    };
    let mut virtuals_by_node: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (v, instance) in virtuals.iter().enumerate() {
        if let Item::Node(n) = instance.item {
            virtuals_by_node[n].push(v);
        }
    }
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
            let Some(&target_index) = by_name.get(target) else {
                continue;
            };
            let connection = relationship
                .pointer("/properties/connection_type")
                .and_then(J::as_str)
                .unwrap_or("");
            if connection != "all_to_all" && connection != "all_to_one" {
                return Err(Problem::uncoded(
                    Kind::IllegalConnectionType,
                    None,
                    format!("Illegal connection_type '{connection}' of relationship from '{source}' to '{target}': use all_to_all or all_to_one"),
                ));
            }
            let target_groups = containing_groups(target_index);
            let shared = containing_groups(source_index)
                .into_iter()
                .find(|g| target_groups.contains(g));
            if connection == "all_to_one" && shared.is_some() {
                return Err(Problem::uncoded(
                    Kind::Value,
                    None,
                    format!(
                        "'all_to_one' connection type is not supported within groups, but the source node '{source}' and target node '{target}' are both in group '{}'",
                        shared.map(|g| groups[g].0.clone()).unwrap_or_default()
                    ),
                ));
            }
            let mut targets: Vec<usize> = virtuals_by_node[target_index].clone();
            if connection == "all_to_one" {
                targets.sort_by(|a, b| virtuals[*a].id.cmp(&virtuals[*b].id));
                targets.truncate(1);
            }
            for &v in &virtuals_by_node[source_index] {
                let key = shared.and_then(|g| group_instance(v, g));
                let Some(&position) = position_of.get(&v) else {
                    continue;
                };
                for &t in &targets {
                    if shared.is_some() && shared.and_then(|g| group_instance(t, g)) != key {
                        continue;
                    }
                    let target_id = virtuals[t].id.clone();
                    let relationships = &mut output[position].2;
                    // One edge per (source, target) instance pair, as in the reference's graph:
                    // a later relationship to the same target replaces an earlier one.
                    relationships.retain(|(_, r)| {
                        r.get("target_id").and_then(J::as_str) != Some(target_id.as_str())
                    });
                    relationships.push((index, relationship_instance(relationship, &target_id)));
                }
            }
        }
    }
    Ok(output
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

/// A generated instance: its fields, its node's index, its relationships with their indexes.
type Built = (Map<String, J>, usize, Vec<(usize, J)>);

fn relationship_instance(relationship: &J, target_instance: &str) -> J {
    serde_json::json!({
        "type": relationship.get("type").cloned().unwrap_or(J::Null),
        "target_name": relationship.get("target_id").cloned().unwrap_or(J::Null),
        "target_id": target_instance,
    })
}

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
fn inter_deployment_functions(plan: &Map<String, J>) -> Vec<J> {
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
                    target_deployment: J::Array(vec![literal, first]),
                    function_identifier: format!("{path}.get_capability"),
                });
            });
        };
    for node in plan
        .get("nodes")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
    {
        let name = node.get("name").and_then(J::as_str).unwrap_or_default();
        scan_children(
            node.get("properties"),
            &format!("nodes.{name}.properties"),
            &mut |v, p| scan(v, p, Some(name), None),
        );
        for (op_name, op) in node
            .get("operations")
            .and_then(J::as_object)
            .into_iter()
            .flatten()
        {
            scan_children(
                op.get("inputs"),
                &format!("nodes.{name}.operations.{op_name}.inputs"),
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
                    scan_children(
                        op.get("inputs"),
                        &format!("nodes.{name}.{rel_type}.{op_name}.inputs"),
                        &mut |v, p| scan(v, p, Some(name), Some((target, rel_type))),
                    );
                }
            }
        }
    }
    for key in ["outputs", "capabilities", "labels"] {
        for (entry_name, entry) in plan.get(key).and_then(J::as_object).into_iter().flatten() {
            scan_children(Some(entry), &format!("{key}.{entry_name}"), &mut |v, p| {
                scan(v, p, None, None)
            });
        }
    }
    for key in ["policies", "scaling_groups"] {
        for (entry_name, entry) in plan.get(key).and_then(J::as_object).into_iter().flatten() {
            scan_children(
                entry.get("properties"),
                &format!("{key}.{entry_name}.properties"),
                &mut |v, p| scan(v, p, None, None),
            );
        }
    }
    scan_children(
        plan.get("deployment_settings"),
        "deployment_settings",
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
            "function_identifier".into(),
            J::String(spec.function_identifier.clone()),
        );
        entry.insert("target_deployment".into(), spec.target_deployment.clone());
        let Some(node) = &spec.node else {
            entry.insert("context".into(), J::Object(Map::new()));
            result.push(J::Object(entry));
            continue;
        };
        for instance in instances
            .iter()
            .filter(|i| i.get("node_id").and_then(J::as_str) == Some(node.as_str()))
        {
            let id = instance.get("id").cloned().unwrap_or(J::Null);
            let mut context = Map::new();
            context.insert("self".into(), id.clone());
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
                context.insert("source".into(), id);
                context.insert("target".into(), target_id);
            }
            let mut item = entry.clone();
            item.insert("context".into(), J::Object(context));
            result.push(J::Object(item));
        }
    }
    result
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

/// The secrets `get_secret` names (where the name is a literal) must exist.
fn check_secrets(plan: &J, secret_exists: Option<&dyn Fn(&str) -> bool>) -> Result<(), Problem> {
    let names: Vec<String> = plan
        .pointer("/requirements/secrets")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| match s {
            J::String(name) => Some(name.clone()),
            J::Array(items) => items.first().and_then(J::as_str).map(str::to_string),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let Some(exists) = secret_exists else {
        return Err(Problem::uncoded(Kind::UnsupportedGetSecret, None, "The get_secret intrinsic function is not supported")
            .with_hint("this command has no secret store; create the deployment on a Stratus server, which resolves secrets"));
    };
    let missing: Vec<String> = names.into_iter().filter(|n| !exists(n)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Problem::uncoded(
            Kind::UnknownSecret,
            None,
            format!(
                "Required secrets: [{}] don't exist in this tenant",
                missing.join(", ")
            ),
        ))
    }
}
