//! One ctx request: Cloudify's `process_ctx_request` over a running operation's context.
//!
//! The reference walks Python objects: each argument is an attribute of the current object
//! (with `-` read as `_`), a key path into a dictionary (get, or set when one value follows),
//! or the arguments of a method (a trailing JSON object becoming keyword arguments). Scripts
//! depend on those quirks (`runtime-properties` and `runtime_properties` both work,
//! `ctx instance runtime-properties pop key` deletes), so this module models the same walk
//! over a closed set of objects instead of inventing a command grammar. Errors carry the
//! Python exception type and message the reference would send.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::context::{type_name, Entity, OperationContext, OperationEffects, Subject};
use crate::paths::path_get;
use crate::pyfmt::{list_repr, py_str};
pub(crate) use crate::resources::resolve_in_blueprint;
use crate::{LogLevel, LogSink};

mod attrs;
mod binding;
mod commands;
mod dict;
mod download;

/// A Python exception as the proxy reports it: `{"type", "message", "traceback"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct CtxError {
    pub kind: String,
    pub message: String,
}

impl CtxError {
    pub fn new(kind: &str, message: impl Into<String>) -> CtxError {
        CtxError {
            kind: kind.to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn runtime(message: impl Into<String>) -> CtxError {
        CtxError::new("RuntimeError", message)
    }

    pub(crate) fn type_error(message: impl Into<String>) -> CtxError {
        CtxError::new("TypeError", message)
    }

    pub(crate) fn non_recoverable(message: impl Into<String>) -> CtxError {
        CtxError::new("NonRecoverableError", message)
    }
}

/// A successful answer: `result` with a payload, or `stop_operation` with a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Result(Value),
    Stop(String),
}

/// The state of one running operation behind its ctx URL.
pub(crate) struct LiveOperation {
    /// Working copy: runtime properties here include the operation's own changes.
    pub ctx: OperationContext,
    pub effects: OperationEffects,
    pub sink: Option<Arc<dyn LogSink>>,
    /// The script's working directory: relative `download-resource` targets resolve here.
    pub cwd: Option<PathBuf>,
    /// Created on the first `download-resource` without a target; removed with the operation.
    pub download_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Own,
    Source,
    Target,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DictRef {
    NodeProperties(Who),
    RuntimeProperties(Who),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DictMethod {
    Get,
    Pop,
    Update,
    SetDefault,
    Clear,
    Copy,
    Keys,
    Values,
    Items,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Method {
    Log(LogLevel),
    DownloadResource,
    DownloadResourceAndRender,
    RetryOperation,
    AbortOperation,
    Returns,
    OperationRetry,
    InstanceUpdate,
    InstanceRefresh(Who),
    Dict(DictRef, DictMethod),
}

#[derive(Clone, Debug, PartialEq)]
enum Obj {
    Ctx,
    Node(Who),
    Instance(Who),
    Subject(Who),
    Operation,
    Deployment,
    Blueprint,
    Logger,
    Dict(DictRef),
    Method(Method),
    Value(Value),
}

impl Obj {
    fn python_type(&self) -> &'static str {
        match self {
            Obj::Ctx => "CloudifyContext",
            Obj::Node(_) => "NodeContext",
            Obj::Instance(_) => "NodeInstanceContext",
            Obj::Subject(_) => "RelationshipSubjectContext",
            Obj::Operation => "OperationContext",
            Obj::Deployment => "DeploymentContext",
            Obj::Blueprint => "BlueprintContext",
            Obj::Logger => "CloudifyPluginLoggerAdapter",
            Obj::Dict(_) => "dict",
            Obj::Method(_) => "method",
            Obj::Value(value) => type_name(value),
        }
    }
}

/// Python's `str()` of a request argument, for messages.
fn arg_str(value: &Value) -> String {
    py_str(value)
}

impl LiveOperation {
    pub fn new(
        ctx: OperationContext,
        sink: Option<Arc<dyn LogSink>>,
        cwd: Option<PathBuf>,
    ) -> LiveOperation {
        LiveOperation {
            ctx,
            effects: OperationEffects::default(),
            sink,
            cwd,
            download_dir: None,
        }
    }

    /// `process_ctx_request(ctx, args)` plus the proxy's wrapping of a `ScriptException`
    /// result into `stop_operation`.
    pub fn process(&mut self, args: &[Value]) -> Result<Reply, CtxError> {
        let mut current = Obj::Ctx;
        let mut index = 0;
        while index < args.len() {
            let arg = &args[index];
            if let Some(next) = self.desugared_attr(&current, arg)? {
                current = next;
            } else if let Obj::Dict(dict) = current {
                let Value::String(key) = arg else {
                    return Err(CtxError::new(
                        "AttributeError",
                        format!("'{}' object has no attribute 'split'", type_name(arg)),
                    ));
                };
                if index + 1 == args.len() {
                    current = Obj::Value(path_get(self.dict(dict)?, key)?);
                } else if index + 2 == args.len() {
                    self.dict_set(dict, key, args[index + 1].clone())?;
                    current = Obj::Value(Value::Null);
                } else {
                    return Err(CtxError::runtime("Illegal argument while accessing dict"));
                }
                break;
            } else if let Obj::Method(method) = current {
                let mut remaining = args[index..].to_vec();
                let mut kwargs = Map::new();
                if let Some(Value::Object(map)) = remaining.last() {
                    kwargs = map.clone();
                    remaining.pop();
                }
                return self.call(method, remaining, kwargs);
            } else {
                return Err(CtxError::runtime(format!(
                    "{} cannot be processed in {}",
                    arg_str(arg),
                    list_repr(args)
                )));
            }
            index += 1;
        }
        match current {
            Obj::Method(method) => self.call(method, Vec::new(), Map::new()),
            Obj::Value(value) => Ok(Reply::Result(value)),
            Obj::Dict(dict) => Ok(Reply::Result(Value::Object(self.dict(dict)?.clone()))),
            other => Err(CtxError::type_error(format!(
                "Object of type {} is not JSON serializable",
                other.python_type()
            ))),
        }
    }

    fn desugared_attr(&self, current: &Obj, arg: &Value) -> Result<Option<Obj>, CtxError> {
        let Value::String(name) = arg else {
            return Ok(None);
        };
        if let Some(found) = self.attr(current, name)? {
            return Ok(Some(found));
        }
        if name.contains('-') {
            return self.attr(current, &name.replace('-', "_"));
        }
        Ok(None)
    }

    fn entity(&self, who: Who) -> Result<&Entity, CtxError> {
        match (who, &self.ctx.subject) {
            (Who::Own, Subject::NodeInstance(entity)) => Ok(entity),
            (Who::Source, Subject::RelationshipInstance { source, .. }) => Ok(source),
            (Who::Target, Subject::RelationshipInstance { target, .. }) => Ok(target),
            _ => Err(CtxError::runtime("no such entity in this context")),
        }
    }

    fn entity_mut(&mut self, who: Who) -> Result<&mut Entity, CtxError> {
        match (who, &mut self.ctx.subject) {
            (Who::Own, Subject::NodeInstance(entity)) => Ok(entity),
            (Who::Source, Subject::RelationshipInstance { source, .. }) => Ok(source),
            (Who::Target, Subject::RelationshipInstance { target, .. }) => Ok(target),
            _ => Err(CtxError::runtime("no such entity in this context")),
        }
    }

    fn context_type(&self) -> &'static str {
        match self.ctx.subject {
            Subject::NodeInstance(_) => "node-instance",
            Subject::RelationshipInstance { .. } => "relationship-instance",
            Subject::Deployment => "deployment",
        }
    }

    fn dict(&self, dict: DictRef) -> Result<&Map<String, Value>, CtxError> {
        Ok(match dict {
            DictRef::NodeProperties(who) => &self.entity(who)?.node.properties,
            DictRef::RuntimeProperties(who) => &self.entity(who)?.instance.runtime_properties,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{InstanceInfo, NodeInfo};
    use serde_json::json;

    fn live() -> LiveOperation {
        let mut properties = Map::new();
        properties.insert("port".into(), json!(8080));
        properties.insert("nested".into(), json!({"list": [{"x": 1}]}));
        let ctx = OperationContext {
            deployment_id: "d1".into(),
            subject: Subject::NodeInstance(Entity {
                node: NodeInfo {
                    name: "web".into(),
                    type_name: "cloudify.nodes.Root".into(),
                    properties,
                    ..NodeInfo::default()
                },
                instance: InstanceInfo {
                    id: "web_abc123".into(),
                    ..InstanceInfo::default()
                },
            }),
            ..OperationContext::default()
        };
        LiveOperation::new(ctx, None, None)
    }

    fn run(live: &mut LiveOperation, args: Value) -> Result<Reply, CtxError> {
        let args = args.as_array().cloned().unwrap_or_default();
        live.process(&args)
    }

    #[test]
    fn reads_like_the_reference() {
        let mut live = live();
        assert_eq!(
            run(&mut live, json!(["node", "id"])),
            Ok(Reply::Result(json!("web")))
        );
        assert_eq!(
            run(&mut live, json!(["node", "properties", "nested.list[0].x"])),
            Ok(Reply::Result(json!(1)))
        );
        assert_eq!(
            run(&mut live, json!(["deployment", "id"])),
            Ok(Reply::Result(json!("d1")))
        );
        assert_eq!(
            run(&mut live, json!(["node", "properties", "missing"])),
            Err(CtxError::runtime("illegal path: missing"))
        );
        assert_eq!(
            run(&mut live, json!(["node", "bogus"])),
            Err(CtxError::runtime(
                "bogus cannot be processed in ['node', 'bogus']"
            ))
        );
        assert_eq!(
            run(&mut live, json!(["node"])),
            Err(CtxError::type_error(
                "Object of type NodeContext is not JSON serializable"
            ))
        );
        assert!(
            matches!(run(&mut live, json!(["source", "node", "id"])), Err(CtxError { kind, .. }) if kind == "NonRecoverableError")
        );
    }

    #[test]
    fn sets_are_recorded_as_patches() {
        let mut live = live();
        assert_eq!(
            run(
                &mut live,
                json!(["instance", "runtime-properties", "a.b", [1, 2]])
            ),
            Ok(Reply::Result(Value::Null))
        );
        assert_eq!(
            run(&mut live, json!(["instance", "runtime_properties", "a.b"])),
            Ok(Reply::Result(json!([1, 2])))
        );
        assert_eq!(
            run(
                &mut live,
                json!(["instance", "runtime_properties", "update", {"k": "v"}])
            ),
            Ok(Reply::Result(Value::Null))
        );
        assert_eq!(
            run(
                &mut live,
                json!(["instance", "runtime_properties", "pop", "k"])
            ),
            Ok(Reply::Result(json!("v")))
        );
        let patch = &live.effects.patches["web_abc123"];
        assert_eq!(patch.ops.len(), 2);
        let mut stored = Map::new();
        stored.insert("other".into(), json!(1));
        assert!(patch.apply(&mut stored).is_empty());
        assert_eq!(
            Value::Object(stored),
            json!({"other": 1, "a": {"b": [1, 2]}})
        );
    }

    #[test]
    fn result_slot_is_single_use() {
        let mut live = live();
        assert_eq!(
            run(&mut live, json!(["returns", {"a": 1}])).map_err(|e| e.message),
            Err(
                "process_execution.<locals>.returns() got an unexpected keyword argument 'a'"
                    .to_owned()
            )
        );
        assert_eq!(
            run(&mut live, json!(["returns", "x"])),
            Ok(Reply::Result(Value::Null))
        );
        assert_eq!(
            run(&mut live, json!(["abort_operation", "no"])),
            Err(CtxError::runtime("ctx may only abort or return once"))
        );
        assert!(live.effects.illegal_second_result);
    }
}
