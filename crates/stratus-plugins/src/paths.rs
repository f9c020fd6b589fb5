//! Cloudify's `PathDictAccess`: `a.b[2].c` paths into runtime properties and node
//! properties, read and written the way the reference does (missing intermediate
//! dictionaries are created on set; list indexes must exist).

use serde_json::{Map, Value};

use crate::context::{type_name, PathSegment};
use crate::request::CtxError;

/// `PathDictAccess.get`: `a.b` walks dictionaries, `a[0]` indexes a list.
pub(crate) fn path_get(root: &Map<String, Value>, path: &str) -> Result<Value, CtxError> {
    let illegal = || CtxError::runtime(format!("illegal path: {path}"));
    let mut current: Option<&Value> = None;
    for segment in path.split('.') {
        let (name, index) = match split_index(segment) {
            Some((name, index)) => (name, Some(index)),
            None => (segment, None),
        };
        let child = match current {
            None => root.get(name),
            Some(value) => member(value, name)?,
        }
        .ok_or_else(illegal)?;
        current = Some(match index {
            None => child,
            Some(index) => match child {
                Value::Array(items) => items
                    .get(index)
                    .ok_or_else(|| CtxError::new("IndexError", "list index out of range"))?,
                _ => return Err(illegal()),
            },
        });
    }
    Ok(current.cloned().unwrap_or(Value::Null))
}

/// `name in value` then `value[name]` in Python: `None` when absent, the child when present,
/// Python's error when `value` is not a dictionary.
fn member<'a>(value: &'a Value, name: &str) -> Result<Option<&'a Value>, CtxError> {
    match value {
        Value::Object(map) => Ok(map.get(name)),
        Value::Array(items) => {
            if items.iter().any(|item| item.as_str() == Some(name)) {
                Err(CtxError::type_error(
                    "list indices must be integers or slices, not str",
                ))
            } else {
                Ok(None)
            }
        }
        Value::String(text) => {
            if text.contains(name) {
                Err(CtxError::type_error(
                    "string indices must be integers, not 'str'",
                ))
            } else {
                Ok(None)
            }
        }
        other => Err(CtxError::type_error(format!(
            "argument of type '{}' is not iterable",
            type_name(other)
        ))),
    }
}

/// `PathDictAccess.set`: missing intermediate keys become `{}`, list indexes must exist, the
/// last segment is a literal key. Returns the resolved path for the patch.
pub(crate) fn path_set(
    root: &mut Map<String, Value>,
    path: &str,
    value: Value,
) -> Result<Vec<PathSegment>, CtxError> {
    let illegal = || CtxError::runtime(format!("illegal path: {path}"));
    let segments: Vec<&str> = path.split('.').collect();
    let Some((last, parents)) = segments.split_last() else {
        return Err(illegal());
    };
    let mut resolved = Vec::with_capacity(segments.len());
    let mut current: &mut Map<String, Value> = root;
    for segment in parents {
        let child: &mut Value = match split_index(segment) {
            Some((name, index)) => {
                let list = match current.get_mut(name) {
                    Some(Value::Array(items)) => items,
                    _ => return Err(illegal()),
                };
                resolved.push(PathSegment::Key(name.to_owned()));
                resolved.push(PathSegment::Index(index));
                list.get_mut(index)
                    .ok_or_else(|| CtxError::new("IndexError", "list index out of range"))?
            }
            None => {
                resolved.push(PathSegment::Key((*segment).to_owned()));
                current
                    .entry((*segment).to_owned())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
        };
        current = match child {
            Value::Object(map) => map,
            Value::Array(_) => {
                return Err(CtxError::type_error(
                    "list indices must be integers or slices, not str",
                ))
            }
            Value::String(_) => {
                return Err(CtxError::type_error(
                    "'str' object does not support item assignment",
                ))
            }
            other => {
                return Err(CtxError::type_error(format!(
                    "argument of type '{}' is not iterable",
                    type_name(other)
                )))
            }
        };
    }
    resolved.push(PathSegment::Key((*last).to_owned()));
    current.insert((*last).to_owned(), value);
    Ok(resolved)
}

/// `re.match(r"(.+)\[(\d+)\]", segment)`: the longest prefix followed by `[digits]`.
fn split_index(segment: &str) -> Option<(&str, usize)> {
    let bytes = segment.as_bytes();
    for open in (1..bytes.len()).rev() {
        if bytes[open] != b'[' {
            continue;
        }
        let digits = bytes[open + 1..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        if digits > 0 && bytes.get(open + 1 + digits) == Some(&b']') {
            let index = segment[open + 1..open + 1 + digits].parse().ok()?;
            return Some((&segment[..open], index));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::split_index;

    #[test]
    fn index_segments_follow_the_reference_regex() {
        assert_eq!(split_index("a[0]"), Some(("a", 0)));
        assert_eq!(split_index("a[0][12]"), Some(("a[0]", 12)));
        assert_eq!(split_index("[0]"), None);
        assert_eq!(split_index("a[x]"), None);
    }
}
