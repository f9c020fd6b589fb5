//! Input constraints (`equal`, `greater_than`, `in_range`, `valid_values`, `pattern`, …):
//! checked for shape when the blueprint is parsed, against defaults then, and against the
//! values given when a deployment is created.

use crate::json::Value as J;

use crate::diag::{Kind, Problem, Problems};
use crate::functions::is_function;
use crate::props::python_repr;
use crate::version::DslVersion;
use crate::yaml::{Node, Span};

const OPERATORS: &[&str] = &[
    "equal",
    "greater_than",
    "greater_or_equal",
    "less_than",
    "less_or_equal",
    "in_range",
    "valid_values",
    "length",
    "min_length",
    "max_length",
    "pattern",
    "filter_id",
    "labels",
    "tenants",
    "name_pattern",
    "deployment_id",
];

fn argument_ok(operator: &str, args: &J) -> bool {
    if is_function(args) {
        return true;
    }
    match operator {
        "in_range" => args
            .as_array()
            .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x.is_number())),
        "valid_values" | "labels" | "tenants" => args.is_array(),
        "length" | "min_length" | "max_length" => args.as_i64().is_some_and(|n| n >= 0),
        "pattern" | "filter_id" | "deployment_id" => args.is_string(),
        "name_pattern" => args.is_object(),
        "equal" => args.is_number(),
        _ => !args.is_array() && !args.is_object(),
    }
}

/// Parse-time checks of an input's `constraints:` list.
pub fn check_definitions(
    input: &str,
    constraints: &Node,
    version: &DslVersion,
    problems: &mut Problems,
) {
    let Some(items) = constraints.as_seq() else {
        problems.push(crate::schema::expected(constraints, "list"));
        return;
    };
    for item in items {
        let Some(entries) = item.as_map() else {
            problems.push(crate::schema::expected(item, "dict"));
            continue;
        };
        if entries.is_empty() {
            problems.push(Problem::logic(
                103,
                item.span,
                format!("Empty constraint operator name given. Allowed operators: {OPERATORS:?}"),
            ));
            continue;
        }
        if entries.len() > 1 && !version.at_least(1, 5) {
            problems.push(Problem::logic(
                102,
                item.span,
                format!("Constraint's additional attributes are not supported in version {}, they were added in cloudify_dsl_1_5", version.raw),
            ));
            continue;
        }
        let Some((key, args)) = entries
            .iter()
            .find(|(k, _)| k.as_str() != Some("error_message"))
        else {
            continue;
        };
        let operator = key.as_str().unwrap_or_default();
        if !OPERATORS.contains(&operator) {
            problems.push(Problem::logic(
                103,
                key.span,
                format!(
                    "No such constraint operator '{operator}'. Allowed operators: {OPERATORS:?}"
                ),
            ));
            continue;
        }
        let args = args.to_json();
        if !argument_ok(operator, &args) {
            problems.push(Problem::logic(
                212,
                key.span,
                format!("Invalid constraint operator argument \"{}\", for constraint operator \"{operator}\" in \"{input}\".", python_repr(&args)),
            ));
        }
    }
}

fn compare(a: &J, b: &J) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (J::String(x), J::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn length(value: &J) -> Option<usize> {
    match value {
        J::String(s) => Some(s.chars().count()),
        J::Array(a) => Some(a.len()),
        J::Object(o) => Some(o.len()),
        _ => None,
    }
}

fn holds(operator: &str, args: &J, value: &J) -> Result<bool, String> {
    use std::cmp::Ordering::*;
    let not_comparable = || {
        format!(
            "Value '{}' cannot be compared with {}",
            python_repr(value),
            python_repr(args)
        )
    };
    Ok(match operator {
        "equal" => value == args,
        "greater_than" => compare(value, args).ok_or_else(not_comparable)? == Greater,
        "greater_or_equal" => compare(value, args).ok_or_else(not_comparable)? != Less,
        "less_than" => compare(value, args).ok_or_else(not_comparable)? == Less,
        "less_or_equal" => compare(value, args).ok_or_else(not_comparable)? != Greater,
        "in_range" => {
            // Bounds other than a pair were reported with the definition (or are a call).
            let Some([low, high]) = args.as_array().map(Vec::as_slice) else {
                return Err(not_comparable());
            };
            compare(value, low).ok_or_else(not_comparable)? != Less
                && compare(value, high).ok_or_else(not_comparable)? != Greater
        }
        "valid_values" => args.as_array().is_some_and(|a| a.contains(value)),
        "length" | "min_length" | "max_length" => {
            let n = length(value)
                .ok_or_else(|| format!("Value of type '{}' has no length", python_repr(value)))?
                as i64;
            let limit = args.as_i64().unwrap_or_default();
            match operator {
                "length" => n == limit,
                "min_length" => n >= limit,
                _ => n <= limit,
            }
        }
        "pattern" => {
            let text = value
                .as_str()
                .ok_or_else(|| "Value must be of type string".to_string())?;
            let pattern = args.as_str().unwrap_or_default();
            match regex::Regex::new(&format!("^(?:{pattern})")) {
                Ok(re) => re.is_match(text),
                Err(_) => false,
            }
        }
        _ => true,
    })
}

/// Checks a value against an input's constraints (its definition as in the plan).
pub fn validate_value(
    input: &str,
    definition: &J,
    value: &J,
    span: Option<Span>,
) -> Result<(), Problem> {
    let type_name = definition.get("type").and_then(J::as_str);
    if let (Some("list"), Some(item_type), J::Array(items)) = (
        type_name,
        definition.get("item_type").and_then(J::as_str),
        value,
    ) {
        for item in items {
            if !crate::props::simple_type_ok(item, item_type) {
                return Err(Problem {
                    kind: Kind::Logic,
                    code: Some(105),
                    message: format!(
                        "Property type validation failed in '{input}': the defined type is '{item_type}', yet it was assigned with the value '{}'",
                        python_repr(item)
                    ),
                    span,
                    hint: None,
                });
            }
        }
    }
    let Some(constraints) = definition.get("constraints").and_then(J::as_array) else {
        return Ok(());
    };
    if constraints.is_empty() {
        return Ok(());
    }
    let item_type = definition.get("item_type").and_then(J::as_str);
    let values: Vec<&J> = match (type_name, item_type, value) {
        (Some("list"), Some(_), J::Array(items)) => items.iter().collect(),
        _ => vec![value],
    };
    for value in values {
        if is_function(value) {
            return Err(Problem {
                kind: Kind::Parsing,
                code: Some(213),
                message: format!(
                    "Input value {}, of input {input}, cannot contain an intrinsic function and also have constraints.",
                    python_repr(value)
                ),
                span,
                hint: None,
            });
        }
        for constraint in constraints {
            let Some(map) = constraint.as_object() else {
                continue;
            };
            let Some((operator, args)) = map.iter().find(|(k, _)| *k != "error_message") else {
                continue;
            };
            if matches!(
                operator.as_str(),
                "filter_id" | "labels" | "tenants" | "name_pattern" | "deployment_id"
            ) {
                continue;
            }
            let ok = holds(operator, args, value)
                .map_err(|message| Problem::uncoded(Kind::Constraint, span, message))?;
            if !ok {
                let detail = match map.get("error_message").and_then(J::as_str) {
                    Some(message) => format!("is invalid. {message}"),
                    None => format!(
                        "violates constraint {operator}({}) operator.",
                        python_repr(args)
                    ),
                };
                return Err(Problem::uncoded(
                    Kind::Constraint,
                    span,
                    format!("Value {} of input {input} {detail}", python_repr(value)),
                ));
            }
        }
    }
    Ok(())
}
