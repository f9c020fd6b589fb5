//! The deployment plan (the reference's `prepare_deployment_plan`): inputs checked and
//! defaulted, plan-time functions evaluated, node instances generated.

use std::cell::Cell;

use crate::json::{Map, Value as J};

use crate::blueprint::{Blueprint, PlanEnvironment};
use crate::constraints;
use crate::diag::{Diagnostic, Kind, Problem};
use crate::functions::{self, Context, Environment, Scope};
use crate::instances::NodeFacts;
use crate::plan_tree::Plan;
use crate::props::{self, python_repr};
use crate::yaml::Span;

/// Applies deployment inputs to a parsed blueprint and produces the deployment plan.
///
/// With no secret store, a blueprint that uses `get_secret` cannot be planned (as in the
/// reference); see [`prepare_with_secrets`].
pub fn prepare(blueprint: &Blueprint, inputs: &Inputs) -> Result<Plan, Vec<Diagnostic>> {
    prepare_with_secrets(blueprint, inputs, None)
}

/// Deployment inputs, by name.
pub type Inputs = serde_json::Map<String, serde_json::Value>;

/// [`prepare`], checking that every secret `get_secret` names exists (`secret_exists`).
pub fn prepare_with_secrets(
    blueprint: &Blueprint,
    inputs: &Inputs,
    secret_exists: Option<&dyn Fn(&str) -> bool>,
) -> Result<Plan, Vec<Diagnostic>> {
    prepare_plan(
        blueprint,
        blueprint.plan.clone(),
        &inputs.into(),
        secret_exists,
    )
}

/// [`prepare_with_secrets`] consuming the blueprint: its plan becomes the deployment plan in
/// place instead of being copied (for a caller that parsed the blueprint for this one plan).
pub fn prepare_owned(
    mut blueprint: Blueprint,
    inputs: &Inputs,
    secret_exists: Option<&dyn Fn(&str) -> bool>,
) -> Result<Plan, Vec<Diagnostic>> {
    let plan = std::mem::take(&mut blueprint.plan);
    prepare_plan(&blueprint, plan, &inputs.into(), secret_exists)
}

/// `plan` is the blueprint's plan (or a copy of it), turned into the deployment plan.
fn prepare_plan(
    blueprint: &Blueprint,
    mut deployment: Plan,
    inputs: &Map,
    secret_exists: Option<&dyn Fn(&str) -> bool>,
) -> Result<Plan, Vec<Diagnostic>> {
    let inert: Vec<bool> = (0..deployment.node_count())
        .map(|index| deployment.inert(index))
        .collect();
    // What follows neither reads an inert node's operations nor adds or removes nodes.
    let plan = deployment.tree_mut();
    let locate = |p: Problem| vec![p.locate(&blueprint.files)];
    check_secrets(plan, secret_exists)
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
    let mut current = None;
    let values = set_inputs(plan, inputs, &mut current)
        .map_err(|mut problem| {
            if problem.span.is_none() {
                problem.span =
                    current.and_then(|name: String| blueprint.input_spans.get(&name).copied());
            }
            problem
        })
        .map_err(locate)?;
    // The nodes are taken out of the plan while they are evaluated and read for instance
    // generation, and put back in their place.
    let mut nodes = plan
        .get_mut("nodes")
        .map(std::mem::take)
        .unwrap_or(J::from(Vec::new()));
    let (mentions, instances) =
        evaluate_plan(&values, &mut nodes, plan, blueprint, &inert).map_err(locate)?;
    if let J::Object(map) = plan {
        map.insert("nodes", nodes);
        map.insert("inputs", J::Object(values));
        map.insert("node_instances", J::from(instances));
        let idds = crate::dependencies::inter_deployment_functions_of(map, Some(&mentions));
        map.insert("inter_deployment_functions", J::from(idds));
    }
    Ok(deployment)
}

/// `current` is left naming the input a problem is about.
fn set_inputs(plan: &J, given: &Map, current: &mut Option<String>) -> Result<Map, Problem> {
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
        *current = Some(name.to_string());
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
        if given.contains_key(name) {
            // A given value is used as is. (The reference's ASCII check on input values only
            // fires on Python 2; 7.x managers, on Python 3, accept any text, as Stratus does.)
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
                    missing.push(name.to_string());
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
                python_list(
                    &definitions
                        .keys()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                )
            ),
        )
        .with_hint("pass them with --inputs"));
    }
    *current = None;
    let unknown: Vec<String> = given
        .keys()
        .filter(|k| !definitions.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    if !unknown.is_empty() {
        return Err(Problem::uncoded(
            Kind::UnknownInput,
            None,
            format!(
                "Unknown inputs {} specified - expected inputs: {}",
                python_list(&unknown),
                python_list(
                    &definitions
                        .keys()
                        .map(|k| k.to_string())
                        .collect::<Vec<_>>()
                )
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
    if functions::evaluate_owned(value, context, env)? {
        runtime.set(true);
    }
    Ok(())
}

fn evaluate_operations(
    operations: &mut Map,
    context: &Context,
    env: &dyn Environment,
) -> Result<(), Problem> {
    for operation in operations.values_mut() {
        let runtime = Cell::new(false);
        if let Some(inputs) = functions::field_mut(operation, "inputs") {
            evaluate_in_place(inputs, context, env, &runtime)?;
        }
        if runtime.get() {
            if let Some(operation) = operation.as_object_mut() {
                operation.insert("has_intrinsic_functions", J::Bool(true));
            }
        }
    }
    Ok(())
}

/// Whether `skip` lists `{prefix}{interface}.{operation}`.
fn listed(skip: &[String], prefix: &str, interface: &str, operation: &str) -> bool {
    skip.iter().any(|entry| {
        entry
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(interface))
            .and_then(|rest| rest.strip_prefix('.'))
            == Some(operation)
    })
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
            if listed(skip, prefix, interface_name, op_name) {
                continue;
            }
            if let Some(inputs) = functions::field_mut(operation, "inputs") {
                evaluate_in_place(inputs, context, env, &Cell::new(false))?;
            }
        }
    }
    Ok(())
}

/// Evaluates the plan-time functions of `nodes` (the plan's, taken out of it) and of the
/// rest of `plan` in place; returns, for each node, whether it holds a `get_capability`
/// call, and the node instances.
///
/// Each node is read for instance generation right after it is evaluated, while it is at
/// hand: on large plans, walking the nodes again costs a cache miss per lookup.
fn evaluate_plan(
    values: &Map,
    nodes: &mut J,
    plan: &mut J,
    blueprint: &Blueprint,
    inert_operation_inputs: &[bool],
) -> Result<(Vec<bool>, Vec<J>), Problem> {
    // Functions see every node's properties as they were before evaluation (whatever
    // functions those hold are evaluated in turn, so the result is the same and no node
    // waits on another): a copy of just the properties, needed only by `get_property`.
    let before = if blueprint.reads_node_properties || values.values().any(names_get_property) {
        properties_of_nodes(nodes)
    } else {
        J::Null
    };
    let env = PlanEnvironment::over(
        values,
        &before,
        &blueprint.version,
        &blueprint.function_spans,
    );
    let nodes = nodes.as_array_mut().map_or(&mut [][..], Vec::as_mut_slice);
    // Each node is evaluated on its own: large plans on two threads, the first half on this
    // one; the first problem in node order is the one reported, as on one thread.
    let evaluate_part =
        |part, first| evaluate_nodes(part, first, &env, blueprint, inert_operation_inputs);
    let (mentions, facts) = if nodes.len() >= 2 * NODES_PER_THREAD {
        let middle = nodes.len() / 2;
        let (first, second) = nodes.split_at_mut(middle);
        let (first, second) =
            crate::parallel::join(|| evaluate_part(first, 0), || evaluate_part(second, middle));
        let (mut mentions, mut facts) = first?;
        let (more_mentions, more_facts) = second?;
        mentions.extend(more_mentions);
        facts.extend(more_facts);
        (mentions, facts)
    } else {
        evaluate_part(nodes, 0)?
    };
    evaluate_sections(plan, &env)?;
    let groups = plan.get("scaling_groups").and_then(J::as_object);
    let instances = crate::instances::node_instances(&facts, groups)?;
    Ok((mentions, instances))
}

/// Evaluates `nodes` (the plan's from position `first` on) and reads what instance generation
/// needs of each; with, for each, whether it holds a `get_capability` call.
fn evaluate_nodes<'n>(
    nodes: &'n mut [J],
    first: usize,
    env: &PlanEnvironment,
    blueprint: &Blueprint,
    inert_operation_inputs: &[bool],
) -> Result<(Vec<bool>, Vec<NodeFacts<'n>>), Problem> {
    let mut mentions = Vec::with_capacity(nodes.len());
    let mut facts = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter_mut().enumerate() {
        // A node whose operation inputs hold no function call has nothing to evaluate or
        // mention there: only its properties are read.
        let inert = inert_operation_inputs
            .get(first + index)
            .copied()
            .unwrap_or(false);
        evaluate_node(node, env, blueprint, inert)?;
        let node: &'n J = node;
        mentions.push(crate::dependencies::node_mentions_capability(node, inert));
        facts.push(NodeFacts::of(node));
    }
    Ok((mentions, facts))
}

/// Below this many nodes per thread, evaluating them on one thread is faster.
const NODES_PER_THREAD: usize = 256;

/// Whether `value` holds a map with a `get_property` key (an input value can hold calls).
fn names_get_property(value: &J) -> bool {
    match value {
        J::Object(map) => map.contains_key("get_property") || map.values().any(names_get_property),
        J::Array(items) => items.iter().any(names_get_property),
        _ => false,
    }
}

/// `{"nodes": [{"name", "properties"}, …]}` of the plan's `nodes`: what [`PlanEnvironment`]
/// reads.
fn properties_of_nodes(nodes: &J) -> J {
    let nodes = nodes
        .as_array()
        .into_iter()
        .flatten()
        .map(|node| {
            let mut copy = Map::new();
            for key in ["name", "properties"] {
                if let Some(value) = node.get(key) {
                    copy.insert(key, value.clone());
                }
            }
            J::Object(copy)
        })
        .collect();
    let mut out = Map::new();
    out.insert("nodes", J::Array(nodes));
    J::Object(out)
}

fn evaluate_node(
    node: &mut J,
    env: &PlanEnvironment,
    blueprint: &Blueprint,
    inert_operations: bool,
) -> Result<(), Problem> {
    let no_scripts = Vec::new();
    let name = node
        .get("name")
        .and_then(J::as_str)
        .unwrap_or_default()
        .to_string();
    let mut context = Context::for_node(&name, format!("nodes.{name}.properties"));
    let unused = Cell::new(false);
    if let Some(properties) = node.get_mut("properties") {
        evaluate_in_place(properties, &context, env, &unused)?;
    }
    if let Some(scalable) = node
        .get_mut("capabilities")
        .and_then(|c| c.get_mut("scalable"))
        .and_then(|s| s.get_mut("properties"))
    {
        evaluate_in_place(scalable, &context, env, &unused)?;
    }
    if inert_operations {
        return Ok(());
    }
    context.path = format!("nodes.{name}.operations");
    if let Some(J::Object(operations)) = node.get_mut("operations") {
        evaluate_operations(operations, &context, env)?;
    }
    let skip = blueprint
        .script_operations
        .get(&name)
        .unwrap_or(&no_scripts);
    if let Some(interfaces) = node.get_mut("interfaces") {
        evaluate_interfaces(interfaces, skip, "", &context, env)?;
    }
    for (index, relationship) in node
        .get_mut("relationships")
        .and_then(J::as_array_mut)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let context = Context::for_relationship(&name, relationship);
        let skip = if blueprint.script_operations.is_empty() {
            &no_scripts
        } else {
            blueprint
                .script_operations
                .get(&format!("{name}#{index}"))
                .unwrap_or(&no_scripts)
        };
        for (interfaces_key, operations_key, prefix) in [
            (
                "source_interfaces",
                "source_operations",
                "source_interfaces:",
            ),
            (
                "target_interfaces",
                "target_operations",
                "target_interfaces:",
            ),
        ] {
            if let Some(J::Object(operations)) = relationship.get_mut(operations_key) {
                evaluate_operations(operations, &context, env)?;
            }
            if let Some(interfaces) = relationship.get_mut(interfaces_key) {
                evaluate_interfaces(interfaces, skip, prefix, &context, env)?;
            }
        }
    }
    Ok(())
}

/// The plan-level places functions are evaluated in.
fn evaluate_sections(plan: &mut J, env: &PlanEnvironment) -> Result<(), Problem> {
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
            let context = Context::new(scope, format!("{key}.{name}"));
            match inner {
                Some(field) => {
                    if let Some(value) = entry.get_mut(field) {
                        evaluate_in_place(value, &context, env, &unused)?;
                    }
                }
                None => evaluate_in_place(entry, &context, env, &unused)?,
            }
        }
    }
    if let Some(settings) = plan.get_mut("deployment_settings") {
        evaluate_in_place(
            settings,
            &Context::new(Scope::DeploymentSettings, "deployment_settings".into()),
            env,
            &unused,
        )?;
    }
    Ok(())
}

/// The secrets `get_secret` names (where the name is a literal) must exist.
fn check_secrets(plan: &J, secret_exists: Option<&dyn Fn(&str) -> bool>) -> Result<(), Problem> {
    let names: Vec<String> = plan
        .pointer("/requirements/secrets")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| match s {
            J::String(name) => Some(name.to_string()),
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
