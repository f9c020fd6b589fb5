//! The static checks of function calls when a blueprint is parsed: argument shapes (the
//! reference's `parse_args`) and references to inputs, nodes and DSL versions.

use crate::json::Value as J;

use super::evaluate::get_property;
use super::{is_function, Context, Environment, Scope};
use crate::diag::{Kind, Problem};
use crate::props::python_repr;

pub(super) fn value_error(context: &Context, message: String) -> Problem {
    Problem::uncoded(Kind::Value, Some(context.span), message)
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
