//! Evaluation of plan-time functions: `get_input`, `get_property`, `concat`, `merge` and
//! `string_*`, innermost first, until the value stops changing (recursion limit 50).

use crate::json::{Map, Value as J};

use super::check::{check_arguments, value_error};
use super::{as_function, contains_function, is_function, Context, Environment, Scope, RUNTIME};
use crate::diag::{Kind, Problem};
use crate::props::{python_repr, simple_type_ok};
use crate::yaml::Span;

pub(crate) fn eval_error(context: &Context, function: &str, message: String) -> Problem {
    Problem::uncoded(
        Kind::FunctionEvaluation,
        Some(context.span),
        format!("Unable to evaluate {function} function: {message}"),
    )
}

/// Resolves `get_property` arguments (no functions among them) to a value.
pub(super) fn get_property(
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
    let joined = || path.iter().map(python_repr).collect::<Vec<_>>().join(".");
    let mut value = properties;
    for step in path {
        if is_function(&value) {
            value = J::from(vec![value, step.clone()]);
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
                            "Node template property '{node}.properties.{}' referenced from '{}' index is out of range. Got {i} but list size is {}.",
                            joined(),
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
                    "Node template property '{node}.properties.{}' referenced from '{}' is expected {} to be an int but it is a {}.",
                    joined(),
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
                    "Node template property '{node}.properties.{}' referenced from '{}' doesn't exist.",
                    joined(),
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
                        python_repr(&J::from(items[1..].to_vec()))
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
                J::from(items.iter().map(python_repr).collect::<String>()),
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
