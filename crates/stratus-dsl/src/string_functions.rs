//! `string_find`, `string_replace`, `string_split`, `string_lower`, `string_upper`: evaluated
//! at plan time once their arguments are plain strings (and ints), with the reference's errors.

use crate::json::Value as J;

use crate::diag::{Kind, Problem};
use crate::functions::{eval_error, is_function, python_type, Context};
use crate::props::python_repr;

fn string_argument<'a>(
    function: &str,
    argument: &str,
    value: &'a J,
    context: &Context,
) -> Result<&'a str, Problem> {
    if is_function(value) {
        return Err(eval_error(
            context,
            function,
            format!(
                "argument `{argument}` should not be a function ({})",
                python_repr(value)
            ),
        ));
    }
    value.as_str().ok_or_else(|| {
        eval_error(
            context,
            function,
            format!(
                "argument `{argument}` should be of type <class 'str'> but is {} ({})",
                python_type(value),
                python_repr(value)
            ),
        )
    })
}

fn int_argument(
    function: &str,
    argument: &str,
    value: &J,
    context: &Context,
) -> Result<i64, Problem> {
    value.as_i64().ok_or_else(|| {
        eval_error(
            context,
            function,
            format!(
                "argument `{argument}` should be of type <class 'int'> but is {} ({})",
                python_type(value),
                python_repr(value)
            ),
        )
    })
}

pub fn string_function(name: &str, args: &J, context: &Context) -> Result<J, Problem> {
    let items: Vec<J> = match args {
        J::Array(items) => items.to_vec(),
        other => vec![other.clone()],
    };
    match name {
        "string_find" => {
            let haystack = string_argument(name, "haystack", &items[0], context)?;
            let needle = string_argument(name, "needle", &items[1], context)?;
            Ok(J::from(
                haystack
                    .find(needle)
                    .map(|i| haystack[..i].chars().count() as i64)
                    .unwrap_or(-1),
            ))
        }
        "string_replace" => {
            let haystack = string_argument(name, "haystack", &items[0], context)?;
            let needle = string_argument(name, "needle", &items[1], context)?;
            let replacement = string_argument(name, "replacement", &items[2], context)?;
            match items.get(3) {
                Some(count) => {
                    let count = int_argument(name, "count", count, context)?;
                    if count < 0 {
                        Ok(J::from(haystack.replace(needle, replacement)))
                    } else {
                        Ok(J::from(haystack.replacen(
                            needle,
                            replacement,
                            count as usize,
                        )))
                    }
                }
                None => Ok(J::from(haystack.replace(needle, replacement))),
            }
        }
        "string_split" => {
            let input = string_argument(name, "input", &items[0], context)?;
            let separator = string_argument(name, "separator", &items[1], context)?;
            if separator.is_empty() {
                return Err(Problem::uncoded(
                    Kind::Value,
                    Some(context.span),
                    "empty separator",
                ));
            }
            let parts: Vec<J> = input
                .split(separator)
                .map(|p| J::from(p.to_string()))
                .collect();
            match items.get(2) {
                Some(index) => {
                    let index = int_argument(name, "index", index, context)?;
                    let position = if index < 0 {
                        parts.len() as i64 + index
                    } else {
                        index
                    };
                    parts
                        .get(position as usize)
                        .filter(|_| position >= 0)
                        .cloned()
                        .ok_or_else(|| {
                            Problem::uncoded(
                                Kind::Index,
                                Some(context.span),
                                "list index out of range",
                            )
                        })
                }
                None => Ok(J::from(parts)),
            }
        }
        "string_lower" => Ok(J::from(
            string_argument(name, "input", &items[0], context)?.to_lowercase(),
        )),
        _ => Ok(J::from(
            string_argument(name, "input", &items[0], context)?.to_uppercase(),
        )),
    }
}
