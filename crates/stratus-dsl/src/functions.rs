//! Intrinsic functions: recognising them, checking their arguments when a blueprint is
//! parsed, and evaluating the ones that can be evaluated when a deployment plan is made.
//!
//! `get_input`, `get_property`, `concat`, `merge` and `string_*` are evaluated at plan time;
//! `get_attribute`, `get_secret`, `get_capability` and the other runtime functions are kept as
//! written (and mark their operation `has_intrinsic_functions`). Evaluation repeats until the
//! value stops being a function, with the reference's recursion limit of 50.

use serde_json::{Map, Value as J};

use crate::diag::{Kind, Problem};
use crate::props::{python_repr, simple_type_ok};
use crate::yaml::Span;

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

/// Where a value being evaluated lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    NodeTemplate,
    Relationship,
    Outputs,
    Policies,
    ScalingGroups,
    Capabilities,
    Labels,
    DeploymentSettings,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::NodeTemplate => "node_template",
            Scope::Relationship => "node_template_relationship",
            Scope::Outputs => "outputs",
            Scope::Policies => "policies",
            Scope::ScalingGroups => "scaling_groups",
            Scope::Capabilities => "capabilities",
            Scope::Labels => "labels",
            Scope::DeploymentSettings => "deployment_settings",
        }
    }
}

/// What an evaluation can see.
pub trait Environment {
    fn input(&self, name: &str) -> Option<J>;
    fn has_input(&self, name: &str) -> bool;
    /// The properties of a node template, if it exists.
    fn node_properties(&self, node: &str) -> Option<J>;
    fn has_node(&self, node: &str) -> bool;
    fn version_at_least(&self, major: u32, minor: u32) -> bool;
    /// Where a function call is written, for diagnostics.
    fn span_of(&self, _function: &J) -> Option<Span> {
        None
    }
}

/// The evaluation context of one value.
#[derive(Clone, Debug)]
pub struct Context {
    pub scope: Scope,
    /// The node template `SELF` refers to.
    pub self_node: Option<String>,
    pub source_node: Option<String>,
    pub target_node: Option<String>,
    pub path: String,
    pub span: Span,
}

impl Context {
    /// A context with no node: outputs, capabilities, policies, …
    pub fn new(scope: Scope, path: String) -> Context {
        Context {
            scope,
            self_node: None,
            source_node: None,
            target_node: None,
            path,
            span: Span::default(),
        }
    }

    /// The context of a node template's own values: `SELF` is the node.
    pub fn for_node(name: &str, path: String) -> Context {
        Context {
            self_node: Some(name.to_string()),
            ..Context::new(Scope::NodeTemplate, path)
        }
    }

    /// The context of a relationship's operations: `SOURCE` is the node, `TARGET` its target.
    pub fn for_relationship(source: &str, relationship: &J) -> Context {
        Context {
            source_node: Some(source.to_string()),
            target_node: relationship
                .get("target_id")
                .and_then(J::as_str)
                .map(str::to_string),
            ..Context::new(Scope::Relationship, format!("nodes.{source}.relationships"))
        }
    }
}

fn value_error(context: &Context, message: String) -> Problem {
    Problem::uncoded(Kind::Value, Some(context.span), message)
}

pub(crate) fn eval_error(context: &Context, function: &str, message: String) -> Problem {
    Problem::uncoded(
        Kind::FunctionEvaluation,
        Some(context.span),
        format!("Unable to evaluate {function} function: {message}"),
    )
}

fn legal_path_items(items: &[J]) -> bool {
    items
        .iter()
        .all(|x| is_function(x) || x.is_string() || x.is_i64() || x.is_u64())
}

fn legal_nested_path(args: &J) -> bool {
    matches!(args, J::Array(items) if items.len() >= 2 && legal_path_items(items))
}

/// Checks a function's arguments (the reference's `parse_args`).
pub fn check_arguments(name: &str, args: &J, context: &Context) -> Result<(), Problem> {
    let text = || python_repr(args);
    match name {
        "get_input" => {
            let ok = args.is_string()
                || is_function(args)
                || matches!(args, J::Array(items) if !items.is_empty() && legal_path_items(items));
            if !ok {
                return Err(value_error(context, format!(
                    "Illegal argument(s) passed to get_input function. Expected either a string, or a function, or a list [input_name\\function [, key1\\index1\\function [,...]]] but got {text}",
                    text = text()
                )));
            }
        }
        "get_property" | "get_attribute" if !legal_nested_path(args) => {
            {
                let what = if name == "get_property" { "property_name" } else { "attribute_name" };
                let nested = if name == "get_property" { "nested-property-1" } else { "nested-attribute-1" };
                return Err(value_error(context, format!(
                    "Illegal arguments passed to {name} function. Expected: [ node_name\\function, {what}\\function [, {nested}\\function, ... ] but got: {text}.",
                    text = text()
                )));
            }
        }
        "concat" | "merge" if !args.is_array() => {
            {
                return Err(value_error(context, format!(
                    "Illegal arguments passed to {name} function. Expected: [arg1\\function1, arg2\\function2, ...]but got: {text}.",
                    text = text()
                )));
            }
        }
        "get_secret" => {
            let ok = matches!(args, J::Array(items) if items.len() > 1) || args.is_string() || is_function(args);
            if !ok {
                return Err(Problem::uncoded(Kind::FunctionValidation, Some(context.span), format!(
                    "`get_secret` function argument should be a list with at least 2 elements, a string, or a dict (a function). Instead it is a {} with the value: {text}.",
                    python_type(args),
                    text = text()
                )));
            }
        }
        "get_capability" => match args {
            J::Array(items) if items.len() >= 2 => {
                for (index, item) in items.iter().enumerate() {
                    if !(item.is_string() || item.is_i64() || is_function(item)) {
                        return Err(value_error(context, format!(
                            "`get_capability` function arguments can't be complex values; only strings/ints/functions are accepted. Instead, the item with index {index} is {} of type {}",
                            python_repr(item),
                            python_type(item)
                        )));
                    }
                }
            }
            J::Array(items) => {
                return Err(value_error(context, format!(
                    "`get_capability` function argument should be a list with 2 elements at least - [ deployment ID, capability ID [, key/index[, key/index [...]]] ]. Instead it is: [{}]",
                    items.iter().map(python_repr).collect::<Vec<_>>().join(",")
                )))
            }
            _ => {
                return Err(value_error(context, format!(
                    "`get_capability` function argument should be a list. Instead it is a {} with the value: {text}.",
                    python_type(args),
                    text = text()
                )))
            }
        },
        "string_find" => string_arity(name, args, 2, 2, "exactly two parameters", context)?,
        "string_replace" => string_arity(name, args, 3, 4, "three or four parameters", context)?,
        "string_split" => string_arity(name, args, 2, 3, "two or three parameters", context)?,
        "string_lower" | "string_upper" => {
            let ok = args.is_string() || matches!(args, J::Object(m) if m.len() == 1);
            if !ok {
                return Err(validation_error(context, name, "should be called with exactly one parameter".into()));
            }
        }
        _ => {}
    }
    Ok(())
}

fn validation_error(context: &Context, function: &str, message: String) -> Problem {
    Problem::uncoded(
        Kind::FunctionValidation,
        Some(context.span),
        format!("Unable to validate {function} function: {message}"),
    )
}

fn string_arity(
    name: &str,
    args: &J,
    min: usize,
    max: usize,
    what: &str,
    context: &Context,
) -> Result<(), Problem> {
    match args {
        J::Array(items) if (min..=max).contains(&items.len()) => Ok(()),
        _ => Err(validation_error(
            context,
            name,
            format!("should be called with {what}"),
        )),
    }
}

pub(crate) fn python_type(value: &J) -> &'static str {
    match value {
        J::Null => "<class 'NoneType'>",
        J::Bool(_) => "<class 'bool'>",
        J::Number(n) if n.is_f64() => "<class 'float'>",
        J::Number(_) => "<class 'int'>",
        J::String(_) => "<class 'str'>",
        J::Array(_) => "<class 'list'>",
        J::Object(_) => "<class 'dict'>",
    }
}

/// The static checks the reference runs on every function when a blueprint is parsed.
pub fn validate(
    name: &str,
    args: &J,
    context: &Context,
    env: &dyn Environment,
) -> Result<(), Problem> {
    check_arguments(name, args, context)?;
    match name {
        "get_input" => {
            let input = match args {
                J::Array(items) => &items[0],
                other => other,
            };
            if is_function(input) {
                return Ok(());
            }
            if let Some(input) = input.as_str() {
                if !env.has_input(input) {
                    return Err(Problem::uncoded(
                        Kind::UnknownInput,
                        Some(context.span),
                        format!("get_input function references an unknown input '{input}'."),
                    )
                    .with_hint("declare it under `inputs:`"));
                }
            }
        }
        "get_property" => {
            let J::Array(items) = args else { return Ok(()) };
            if items.iter().any(is_function) {
                return Ok(());
            }
            get_property(items, context, env)?;
        }
        "get_attribute" => {
            let J::Array(items) = args else { return Ok(()) };
            let Some(node) = items[0].as_str() else {
                return Ok(());
            };
            match node {
                "SELF" if context.scope != Scope::NodeTemplate => {
                    return Err(value_error(
                        context,
                        format!(
                        "SELF can only be used in a context of node template but appears in {}.",
                        context.scope.name()
                    ),
                    ))
                }
                "SOURCE" | "TARGET" if context.scope != Scope::Relationship => {
                    return Err(value_error(
                        context,
                        format!(
                            "{node} can only be used within a relationship but is used in {}",
                            context.path
                        ),
                    ))
                }
                "SELF" | "SOURCE" | "TARGET" => {}
                other if !env.has_node(other) => {
                    return Err(Problem::uncoded(
                        Kind::Key,
                        Some(context.span),
                        format!("'Node {other} does not exist'"),
                    ))
                }
                _ => {}
            }
        }
        "concat" if !env.version_at_least(1, 1) => {
            return Err(validation_error(
                context,
                name,
                format!(
                    "Using concat requires using dsl version 1_1 or greater, but found: {} in {}.",
                    "cloudify_dsl_1_0", context.path
                ),
            ));
        }
        "merge" => {
            if !env.version_at_least(1, 3) {
                return Err(validation_error(context, name, format!(
                    "Using merge requires using dsl version 1_3 or greater, but found: older in {}.",
                    context.path
                )));
            }
            if let J::Array(items) = args {
                for item in items {
                    if !item.is_object() {
                        return Err(Problem::uncoded(
                            Kind::FunctionValidation,
                            Some(context.span),
                            format!(
                                "Encountered non-dict element for merge: {}",
                                python_repr(item)
                            ),
                        ));
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Resolves `get_property` arguments (no functions among them) to a value.
fn get_property(
    items: &[J],
    context: &Context,
    env: &dyn Environment,
) -> Result<(J, Option<String>), Problem> {
    let node_name = items[0].as_str().unwrap_or_default();
    let path = &items[1..];
    let node = match node_name {
        "SELF" => {
            if context.scope != Scope::NodeTemplate {
                return Err(value_error(
                    context,
                    format!(
                        "SELF can only be used in a context of node template but appears in {}.",
                        context.scope.name()
                    ),
                ));
            }
            context.self_node.clone()
        }
        "SOURCE" | "TARGET" => {
            if context.scope != Scope::Relationship {
                return Err(value_error(
                    context,
                    format!(
                        "{node_name} can only be used within a relationship but is used in {}",
                        context.path
                    ),
                ));
            }
            if node_name == "SOURCE" {
                context.source_node.clone()
            } else {
                context.target_node.clone()
            }
        }
        other => Some(other.to_string()),
    };
    let node = node.unwrap_or_default();
    let Some(properties) = env.node_properties(&node) else {
        return Err(Problem::uncoded(
            Kind::Key,
            Some(context.span),
            format!("'Node {node} does not exist'"),
        )
        .with_hint(
            "get_property's first argument names a node template, or SELF / SOURCE / TARGET",
        ));
    };
    let joined = path.iter().map(python_repr).collect::<Vec<_>>().join(".");
    let mut value = properties;
    for step in path {
        if is_function(&value) {
            value = J::Array(vec![value, step.clone()]);
            continue;
        }
        let next = match (&value, step) {
            (J::Object(map), J::String(key)) => map.get(key).cloned(),
            (J::Object(_), _) => None,
            (J::Array(list), J::Number(n)) => match n.as_i64() {
                Some(i) => {
                    let index = if i < 0 { list.len() as i64 + i } else { i };
                    if index < 0 || index as usize >= list.len() {
                        return Err(eval_error(context, "get_property", format!(
                            "Node template property '{node}.properties.{joined}' referenced from '{}' index is out of range. Got {i} but list size is {}.",
                            context.path,
                            list.len()
                        )));
                    }
                    list.get(index as usize).cloned()
                }
                None => None,
            },
            (J::Array(_), other) => {
                return Err(eval_error(context, "get_property", format!(
                    "Node template property '{node}.properties.{joined}' referenced from '{}' is expected {} to be an int but it is a {}.",
                    context.path,
                    python_repr(other),
                    if other.is_string() { "str" } else { "other" }
                )))
            }
            _ => None,
        };
        match next {
            Some(next) => value = next,
            None => {
                return Err(eval_error(context, "get_property", format!(
                    "Node template property '{node}.properties.{joined}' referenced from '{}' doesn't exist.",
                    context.path
                )))
            }
        }
    }
    Ok((value, Some(node)))
}

/// Evaluates every plan-time function in `value`, innermost first. Returns whether a runtime
/// function was left in place.
pub fn evaluate(value: &J, context: &Context, env: &dyn Environment) -> Result<(J, bool), Problem> {
    if !contains_function(value) {
        return Ok((value.clone(), false));
    }
    let mut runtime = false;
    let result = evaluate_depth(value.clone(), context, env, &mut runtime, 0)?;
    Ok((result, runtime))
}

/// [`evaluate`] on an owned value, in place.
pub fn evaluate_owned(
    value: &mut J,
    context: &Context,
    env: &dyn Environment,
) -> Result<bool, Problem> {
    if !contains_function(value) {
        return Ok(false);
    }
    let mut runtime = false;
    let owned = std::mem::take(value);
    *value = evaluate_depth(owned, context, env, &mut runtime, 0)?;
    Ok(runtime)
}

/// The deepest nesting below `value` is at most `budget` levels and no function is written
/// in it: evaluating it (at a depth leaving `budget` levels before the recursion limit)
/// returns it unchanged.
fn inert(value: &J, budget: usize) -> bool {
    match value {
        J::Object(map) => {
            budget > 0 && !is_function(value) && map.values().all(|v| inert(v, budget - 1))
        }
        J::Array(items) => budget > 0 && items.iter().all(|v| inert(v, budget - 1)),
        _ => true,
    }
}

/// Evaluates the children of `current` in place (the ones that can change).
fn evaluate_children(
    current: &mut J,
    context: &Context,
    env: &dyn Environment,
    runtime: &mut bool,
    depth: usize,
) -> Result<(), Problem> {
    // A child at `depth + 1` may nest `50 - (depth + 1)` more levels before the limit.
    let budget = 50usize.saturating_sub(depth + 1);
    let mut visit = |child: &mut J| -> Result<(), Problem> {
        if depth < 50 && inert(child, budget) {
            return Ok(());
        }
        let owned = std::mem::take(child);
        *child = evaluate_depth(owned, context, env, runtime, depth + 1)?;
        Ok(())
    };
    match current {
        J::Object(map) => map.values_mut().try_for_each(&mut visit),
        J::Array(items) => items.iter_mut().try_for_each(&mut visit),
        _ => Ok(()),
    }
}

#[allow(clippy::only_used_in_recursion)]
fn evaluate_depth(
    value: J,
    context: &Context,
    env: &dyn Environment,
    runtime: &mut bool,
    depth: usize,
) -> Result<J, Problem> {
    if depth > 50 {
        return Err(Problem::uncoded(
            Kind::Value,
            Some(context.span),
            format!("The recursion limit (50) has been reached while evaluating the deployment. Limit was reached with the following path - {}", context.path),
        ));
    }
    let mut current = value;
    // The context changes only when get_property moves to another node.
    let mut switched: Option<Context> = None;
    let mut scanned = false;
    loop {
        let context = switched.as_ref().unwrap_or(context);
        evaluate_children(&mut current, context, env, runtime, depth)?;
        let Some((name, args)) = as_function(&current) else {
            break;
        };
        let return_type = current.get("type").and_then(J::as_str);
        let place = |mut problem: Problem| {
            if problem.span.is_none_or(|s| s == Span::default()) {
                problem.span = env.span_of(&current).or(problem.span);
            }
            problem
        };
        check_arguments(name, args, context).map_err(place)?;
        let changed = if RUNTIME.contains(&name) {
            *runtime = true;
            false
        } else {
            let (next, new_context) =
                apply(name, args, &current, context, env, return_type).map_err(place)?;
            if let Some(node) = new_context {
                let mut moved = context.clone();
                moved.scope = Scope::NodeTemplate;
                moved.self_node = Some(node);
                switched = Some(moved);
            }
            let changed = next != current;
            current = next;
            changed
        };
        if scanned && !changed {
            break;
        }
        scanned = true;
    }
    Ok(current)
}

fn apply(
    name: &str,
    args: &J,
    raw: &J,
    context: &Context,
    env: &dyn Environment,
    return_type: Option<&str>,
) -> Result<(J, Option<String>), Problem> {
    match name {
        "get_input" => {
            let (input_name, path) = match args {
                J::Array(items) => (&items[0], &items[1..]),
                other => (other, &[][..]),
            };
            if is_function(input_name) || path.iter().any(is_function) {
                return Err(Problem::uncoded(
                    Kind::FunctionEvaluation,
                    Some(context.span),
                    format!(
                        "Unable to evaluate get_input: found an unresolved argument: {} function",
                        python_repr(args)
                    ),
                ));
            }
            let input = input_name
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| python_repr(input_name));
            let Some(mut value) = env.input(&input) else {
                return Err(Problem::uncoded(
                    Kind::UnknownInput,
                    Some(context.span),
                    format!("get_input function references an unknown input '{input}'."),
                ));
            };
            for (index, step) in path.iter().enumerate() {
                let shown = std::iter::once(input.clone())
                    .chain(path[..index].iter().map(python_repr))
                    .collect::<Vec<_>>()
                    .join(".");
                value = match (&value, step) {
                    (J::Object(map), _) => {
                        let key = step.as_str().map(str::to_string).unwrap_or_else(|| python_repr(step));
                        match map.get(&key) {
                            Some(v) => v.clone(),
                            None => {
                                return Err(Problem::uncoded(
                                    Kind::InputEvaluation,
                                    Some(context.span),
                                    format!("Input attribute '{key}' of '{shown}', doesn't exist."),
                                ))
                            }
                        }
                    }
                    (J::Array(list), J::Number(n)) if n.is_i64() => {
                        let i = n.as_i64().unwrap_or_default();
                        let index = if i < 0 { list.len() as i64 + i } else { i };
                        match list.get(index as usize).filter(|_| index >= 0) {
                            Some(v) => v.clone(),
                            None => {
                                return Err(Problem::uncoded(
                                    Kind::InputEvaluation,
                                    Some(context.span),
                                    format!("List size of '{shown}' is {} but index {i} is retrieved.", list.len()),
                                ))
                            }
                        }
                    }
                    (J::Array(_), _) => {
                        return Err(Problem::uncoded(
                            Kind::InputEvaluation,
                            Some(context.span),
                            format!(
                                "Item in index {index} in the get_input arguments list [{}] is expected to be an int but got str.",
                                std::iter::once(input.clone()).chain(path.iter().map(python_repr)).collect::<Vec<_>>().join(", ")
                            ),
                        ))
                    }
                    _ => {
                        return Err(eval_error(context, "get_input", format!(
                            "Object {shown} has no attribute {}",
                            python_repr(step)
                        )))
                    }
                };
            }
            if let Some(return_type) = return_type {
                if !simple_type_ok(&value, return_type) {
                    return Err(Problem::uncoded(
                        Kind::InputEvaluation,
                        Some(context.span),
                        format!(
                            "Value '{}' of input '{}' does not match data type declared for '{}': '{return_type}'.",
                            python_repr(&value),
                            python_repr(args),
                            context.path
                        ),
                    ));
                }
            }
            Ok((value, None))
        }
        "get_property" => {
            let J::Array(items) = args else {
                return Ok((raw.clone(), None));
            };
            if items.iter().any(is_function) {
                return Err(eval_error(
                    context,
                    "get_property",
                    format!(
                        "found an unresolved argument in path: {}, {}",
                        python_repr(&items[0]),
                        python_repr(&J::Array(items[1..].to_vec()))
                    ),
                ));
            }
            // The value is evaluated as its own node sees it (the reference has evaluated every
            // node's properties, in place, before anything reads them).
            let (value, node) = get_property(items, context, env)?;
            Ok((value, node))
        }
        "concat" => {
            let J::Array(items) = args else {
                return Ok((raw.clone(), None));
            };
            if items.iter().any(is_function) {
                return Ok((raw.clone(), None));
            }
            Ok((
                J::String(items.iter().map(python_repr).collect::<String>()),
                None,
            ))
        }
        "merge" => {
            let J::Array(items) = args else {
                return Ok((raw.clone(), None));
            };
            if items.iter().any(is_function) {
                return Ok((raw.clone(), None));
            }
            let mut merged = Map::new();
            for item in items {
                if let J::Object(map) = item {
                    for (k, v) in map {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok((J::Object(merged), None))
        }
        "string_find" | "string_replace" | "string_split" | "string_lower" | "string_upper" => {
            crate::string_functions::string_function(name, args, context).map(|v| (v, None))
        }
        _ => Ok((raw.clone(), None)),
    }
}
