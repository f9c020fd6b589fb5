//! Python call semantics for method arguments: CPython's argument binding and its
//! messages, and the logger's `%` formatting.

use serde_json::{Map, Value};

use crate::pyfmt::{py_repr, py_str};
use crate::request::CtxError;

/// Python's argument binding for a function whose parameters all have a default after the
/// first `required` ones; messages as CPython 3.11 writes them (`self` counted for methods).
pub(super) fn bind(
    qualname: &str,
    is_method: bool,
    params: &[&str],
    required: usize,
    args: Vec<Value>,
    kwargs: Map<String, Value>,
) -> Result<Vec<Value>, CtxError> {
    let offset = usize::from(is_method);
    if args.len() > params.len() {
        let takes = if required == params.len() {
            format!("{}", params.len() + offset)
        } else {
            format!("from {} to {}", required + offset, params.len() + offset)
        };
        let noun = if required == params.len() && params.len() + offset == 1 {
            "argument"
        } else {
            "arguments"
        };
        let given = args.len() + offset;
        let verb = if given == 1 { "was" } else { "were" };
        return Err(CtxError::type_error(format!(
            "{qualname}() takes {takes} positional {noun} but {given} {verb} given"
        )));
    }
    let mut bound: Vec<Option<Value>> = args.into_iter().map(Some).collect();
    bound.resize(params.len(), None);
    for (key, value) in kwargs {
        let Some(position) = params.iter().position(|param| *param == key) else {
            return Err(CtxError::type_error(format!(
                "{qualname}() got an unexpected keyword argument '{key}'"
            )));
        };
        if bound[position].is_some() {
            return Err(CtxError::type_error(format!(
                "{qualname}() got multiple values for argument '{key}'"
            )));
        }
        bound[position] = Some(value);
    }
    let missing: Vec<String> = params[..required]
        .iter()
        .zip(&bound)
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    if !missing.is_empty() {
        let names = match missing.as_slice() {
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
            [] => String::new(),
        };
        let noun = if missing.len() == 1 {
            "argument"
        } else {
            "arguments"
        };
        return Err(CtxError::type_error(format!(
            "{qualname}() missing {} required positional {noun}: {names}",
            missing.len()
        )));
    }
    Ok(bound
        .into_iter()
        .map(|value| value.unwrap_or(Value::Null))
        .collect())
}

/// `logger.info(msg, *args)`: `str(msg) % args` when arguments follow.
pub(super) fn log_message(
    args: &[Value],
    _kwargs: &Map<String, Value>,
) -> Result<String, CtxError> {
    let Some((message, rest)) = args.split_first() else {
        return Err(CtxError::type_error(
            "Logger.info() missing 1 required positional argument: 'msg'",
        ));
    };
    let message = py_str(message);
    if rest.is_empty() {
        return Ok(message);
    }
    Ok(percent_format(&message, rest).unwrap_or_else(|| {
        let mut all = vec![message.clone()];
        all.extend(rest.iter().map(py_str));
        all.join(" ")
    }))
}

/// Python's `%` formatting for `%s`, `%r`, `%d`, `%i`, `%f` and `%%`; `None` when the
/// arguments do not match the conversions.
fn percent_format(format: &str, args: &[Value]) -> Option<String> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            's' => out.push_str(&py_str(args.next()?)),
            'r' => out.push_str(&py_repr(args.next()?)),
            'd' | 'i' => out.push_str(
                &args
                    .next()?
                    .as_f64()
                    .map(|n| format!("{}", n.trunc() as i64))?,
            ),
            'f' => out.push_str(&format!("{:.6}", args.next()?.as_f64()?)),
            _ => return None,
        }
    }
    if args.next().is_some() {
        return None;
    }
    Some(out)
}
