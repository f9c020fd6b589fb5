//! Node properties and runtime properties as Python dictionaries: key-path set and the
//! `dict` methods; runtime-property changes go to the working copy and the instance's patch.

use serde_json::{Map, Value};

use super::{DictMethod, DictRef, LiveOperation, Who};
use crate::context::{type_name, PatchOp, PathSegment};
use crate::paths::path_set;
use crate::pyfmt::py_str;
use crate::request::CtxError;

impl LiveOperation {
    /// Changes the working copy and records the same change in the instance's patch.
    fn runtime_change(
        &mut self,
        who: Who,
        change: impl FnOnce(&mut Map<String, Value>) -> Result<Option<PatchOp>, CtxError>,
    ) -> Result<(), CtxError> {
        let entity = self.entity_mut(who)?;
        let instance_id = entity.instance.id.clone();
        if let Some(op) = change(&mut entity.instance.runtime_properties)? {
            self.effects
                .patches
                .entry(instance_id)
                .or_default()
                .push(op);
        }
        Ok(())
    }

    pub(super) fn dict_set(
        &mut self,
        dict: DictRef,
        key: &str,
        value: Value,
    ) -> Result<(), CtxError> {
        match dict {
            DictRef::NodeProperties(_) => Err(read_only()),
            DictRef::RuntimeProperties(who) => self.runtime_change(who, |properties| {
                let path = path_set(properties, key, value.clone())?;
                Ok(Some(PatchOp::Set { path, value }))
            }),
        }
    }

    pub(super) fn call_dict(
        &mut self,
        dict: DictRef,
        method: DictMethod,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Value, CtxError> {
        let read_only_target = matches!(dict, DictRef::NodeProperties(_));
        let who = match dict {
            DictRef::NodeProperties(who) | DictRef::RuntimeProperties(who) => who,
        };
        let no_kwargs = |name: &str, kwargs: &Map<String, Value>| {
            if kwargs.is_empty() {
                Ok(())
            } else {
                Err(CtxError::type_error(format!(
                    "dict.{name}() takes no keyword arguments"
                )))
            }
        };
        match method {
            DictMethod::Get => {
                no_kwargs("get", &kwargs)?;
                let (key, default) = positional_key("get", &args)?;
                Ok(self.dict(dict)?.get(&key).cloned().unwrap_or(default))
            }
            DictMethod::Copy => {
                no_kwargs("copy", &kwargs)?;
                if !args.is_empty() {
                    return Err(CtxError::type_error(format!(
                        "dict.copy() takes no arguments ({} given)",
                        args.len()
                    )));
                }
                Ok(Value::Object(self.dict(dict)?.clone()))
            }
            DictMethod::Keys | DictMethod::Values | DictMethod::Items => {
                let kind = match method {
                    DictMethod::Keys => "dict_keys",
                    DictMethod::Values => "dict_values",
                    _ => "dict_items",
                };
                Err(CtxError::type_error(format!(
                    "Object of type {kind} is not JSON serializable"
                )))
            }
            _ if read_only_target => Err(read_only()),
            DictMethod::Pop => {
                no_kwargs("pop", &kwargs)?;
                let (key, default) = positional_key("pop", &args)?;
                let mut popped = default;
                self.runtime_change(who, |properties| {
                    Ok(properties.shift_remove(&key).map(|value| {
                        popped = value;
                        PatchOp::Delete {
                            path: vec![PathSegment::Key(key.clone())],
                        }
                    }))
                })?;
                Ok(popped)
            }
            DictMethod::SetDefault => {
                no_kwargs("setdefault", &kwargs)?;
                let (key, default) = positional_key("setdefault", &args)?;
                let mut result = default.clone();
                self.runtime_change(who, |properties| match properties.get(&key) {
                    Some(existing) => {
                        result = existing.clone();
                        Ok(None)
                    }
                    None => {
                        properties.insert(key.clone(), default.clone());
                        Ok(Some(PatchOp::Set {
                            path: vec![PathSegment::Key(key.clone())],
                            value: default,
                        }))
                    }
                })?;
                Ok(result)
            }
            DictMethod::Clear => {
                no_kwargs("clear", &kwargs)?;
                if !args.is_empty() {
                    return Err(CtxError::type_error(format!(
                        "dict.clear() takes no arguments ({} given)",
                        args.len()
                    )));
                }
                self.runtime_change(who, |properties| {
                    properties.clear();
                    Ok(Some(PatchOp::Clear))
                })?;
                Ok(Value::Null)
            }
            DictMethod::Update => {
                if args.len() > 1 {
                    return Err(CtxError::type_error(format!(
                        "update expected at most 1 argument, got {}",
                        args.len()
                    )));
                }
                let mut updates: Vec<(String, Value)> = Vec::new();
                if let Some(first) = args.first() {
                    match first {
                        Value::Array(pairs) => {
                            for (index, pair) in pairs.iter().enumerate() {
                                match pair.as_array().map(Vec::as_slice) {
                                    Some([Value::String(key), value]) => updates.push((key.clone(), value.clone())),
                                    _ => {
                                        return Err(CtxError::type_error(format!(
                                            "cannot convert dictionary update sequence element #{index} to a sequence"
                                        )))
                                    }
                                }
                            }
                        }
                        other => {
                            return Err(CtxError::type_error(format!(
                                "'{}' object is not iterable",
                                type_name(other)
                            )))
                        }
                    }
                }
                updates.extend(kwargs);
                for (key, value) in updates {
                    self.runtime_change(who, |properties| {
                        properties.insert(key.clone(), value.clone());
                        Ok(Some(PatchOp::Set {
                            path: vec![PathSegment::Key(key)],
                            value,
                        }))
                    })?;
                }
                Ok(Value::Null)
            }
        }
    }
}

fn read_only() -> CtxError {
    CtxError::non_recoverable("Cannot override read only properties")
}

fn positional_key(name: &str, args: &[Value]) -> Result<(String, Value), CtxError> {
    match args {
        [] => Err(CtxError::type_error(format!(
            "{name} expected at least 1 argument, got 0"
        ))),
        [key] | [key, _] => {
            let key = match key {
                Value::String(key) => key.clone(),
                other => py_str(other),
            };
            Ok((key, args.get(1).cloned().unwrap_or(Value::Null)))
        }
        _ => Err(CtxError::type_error(format!(
            "{name} expected at most 2 arguments, got {}",
            args.len()
        ))),
    }
}
