//! One ctx request: Cloudify's `process_ctx_request` over a running operation's context.
//!
//! The reference walks Python objects: each argument is an attribute of the current object
//! (with `-` read as `_`), a key path into a dictionary (get, or set when one value follows),
//! or the arguments of a method (a trailing JSON object becoming keyword arguments). Scripts
//! depend on those quirks (`runtime-properties` and `runtime_properties` both work,
//! `ctx instance runtime-properties pop key` deletes), so this module models the same walk
//! over a closed set of objects instead of inventing a command grammar. Errors carry the
//! Python exception type and message the reference would send.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::context::{
    type_name, Entity, OperationContext, OperationEffects, PatchOp, PathSegment, StopRequest,
    Subject,
};
use crate::paths::{path_get, path_set};
use crate::pyfmt::{list_repr, py_repr, py_str};
use crate::resources::has_template_markers;
pub(crate) use crate::resources::resolve_in_blueprint;
use crate::{LogLevel, LogLine, LogSink, LogSource};

/// At most this many `ctx logger` lines are kept in `OperationEffects::logs` when no sink
/// streams them.
const MAX_RECORDED_LOGS: usize = 10_000;

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

    fn attr(&self, current: &Obj, name: &str) -> Result<Option<Obj>, CtxError> {
        let found = match current {
            Obj::Ctx => match name {
                "node" | "instance" => {
                    if !matches!(self.ctx.subject, Subject::NodeInstance(_)) {
                        return Err(CtxError::non_recoverable(format!(
                            "ctx.node/ctx.instance can only be used in a node-instance context but used in a {} context.",
                            self.context_type()
                        )));
                    }
                    if name == "node" {
                        Obj::Node(Who::Own)
                    } else {
                        Obj::Instance(Who::Own)
                    }
                }
                "source" | "target" => {
                    if !matches!(self.ctx.subject, Subject::RelationshipInstance { .. }) {
                        return Err(CtxError::non_recoverable(format!(
                            "ctx.source/ctx.target can only be used in a relationship-instance context but used in a {} context.",
                            self.context_type()
                        )));
                    }
                    Obj::Subject(if name == "source" {
                        Who::Source
                    } else {
                        Who::Target
                    })
                }
                "deployment" => Obj::Deployment,
                "blueprint" => Obj::Blueprint,
                "operation" => Obj::Operation,
                "logger" => Obj::Logger,
                "type" => Obj::Value(Value::String(self.context_type().to_owned())),
                "task_type" => Obj::Value(Value::String("operation".to_owned())),
                "execution_id" => Obj::Value(Value::String(self.ctx.execution_id.clone())),
                "workflow_id" => Obj::Value(Value::String(self.ctx.workflow_id.clone())),
                "tenant_name" => Obj::Value(Value::String(self.ctx.tenant.clone())),
                "tenant" => Obj::Value(serde_json::json!({ "name": self.ctx.tenant })),
                "download_resource" => Obj::Method(Method::DownloadResource),
                "download_resource_and_render" => Obj::Method(Method::DownloadResourceAndRender),
                "retry_operation" => Obj::Method(Method::RetryOperation),
                "abort_operation" => Obj::Method(Method::AbortOperation),
                "returns" => Obj::Method(Method::Returns),
                _ => return Ok(None),
            },
            Obj::Node(who) => {
                let node = &self.entity(*who)?.node;
                match name {
                    "id" | "name" => Obj::Value(Value::String(node.name.clone())),
                    "type" => Obj::Value(Value::String(node.type_name.clone())),
                    "type_hierarchy" => Obj::Value(Value::from(node.type_hierarchy.clone())),
                    "number_of_instances" => {
                        Obj::Value(node.number_of_instances.map_or(Value::Null, Value::from))
                    }
                    "properties" => Obj::Dict(DictRef::NodeProperties(*who)),
                    _ => return Ok(None),
                }
            }
            Obj::Instance(who) => {
                let instance = &self.entity(*who)?.instance;
                match name {
                    "id" => Obj::Value(Value::String(instance.id.clone())),
                    "runtime_properties" => Obj::Dict(DictRef::RuntimeProperties(*who)),
                    "host_ip" => {
                        Obj::Value(instance.host_ip.clone().map_or(Value::Null, Value::String))
                    }
                    "index" => Obj::Value(instance.index.map_or(Value::Null, Value::from)),
                    "node" => Obj::Node(*who),
                    "update" => Obj::Method(Method::InstanceUpdate),
                    "refresh" => Obj::Method(Method::InstanceRefresh(*who)),
                    _ => return Ok(None),
                }
            }
            Obj::Subject(who) => match name {
                "node" => Obj::Node(*who),
                "instance" => Obj::Instance(*who),
                _ => return Ok(None),
            },
            Obj::Operation => match name {
                "name" => Obj::Value(Value::String(self.ctx.operation.name.clone())),
                "retry_number" => Obj::Value(Value::from(self.ctx.operation.retry_number)),
                "max_retries" => Obj::Value(Value::from(self.ctx.operation.max_retries)),
                "relationship" => Obj::Value(Value::Null),
                "retry" => Obj::Method(Method::OperationRetry),
                _ => return Ok(None),
            },
            Obj::Deployment => match name {
                "id" => Obj::Value(Value::String(self.ctx.deployment_id.clone())),
                "tenant_name" => Obj::Value(Value::String(self.ctx.tenant.clone())),
                _ => return Ok(None),
            },
            Obj::Blueprint => match name {
                "id" => Obj::Value(Value::String(self.ctx.blueprint_id.clone())),
                _ => return Ok(None),
            },
            Obj::Logger => match name {
                "debug" => Obj::Method(Method::Log(LogLevel::Debug)),
                "info" => Obj::Method(Method::Log(LogLevel::Info)),
                "warning" | "warn" => Obj::Method(Method::Log(LogLevel::Warning)),
                "error" | "exception" => Obj::Method(Method::Log(LogLevel::Error)),
                "critical" | "fatal" => Obj::Method(Method::Log(LogLevel::Critical)),
                _ => return Ok(None),
            },
            Obj::Dict(dict) => {
                let method = match name {
                    "get" => DictMethod::Get,
                    "pop" => DictMethod::Pop,
                    "update" => DictMethod::Update,
                    "setdefault" => DictMethod::SetDefault,
                    "clear" => DictMethod::Clear,
                    "copy" => DictMethod::Copy,
                    "keys" => DictMethod::Keys,
                    "values" => DictMethod::Values,
                    "items" => DictMethod::Items,
                    _ => return Ok(None),
                };
                Obj::Method(Method::Dict(*dict, method))
            }
            Obj::Method(_) | Obj::Value(_) => return Ok(None),
        };
        Ok(Some(found))
    }

    fn dict(&self, dict: DictRef) -> Result<&Map<String, Value>, CtxError> {
        Ok(match dict {
            DictRef::NodeProperties(who) => &self.entity(who)?.node.properties,
            DictRef::RuntimeProperties(who) => &self.entity(who)?.instance.runtime_properties,
        })
    }

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

    fn dict_set(&mut self, dict: DictRef, key: &str, value: Value) -> Result<(), CtxError> {
        match dict {
            DictRef::NodeProperties(_) => Err(read_only()),
            DictRef::RuntimeProperties(who) => self.runtime_change(who, |properties| {
                let path = path_set(properties, key, value.clone())?;
                Ok(Some(PatchOp::Set { path, value }))
            }),
        }
    }

    fn call(
        &mut self,
        method: Method,
        args: Vec<Value>,
        kwargs: Map<String, Value>,
    ) -> Result<Reply, CtxError> {
        let result = match method {
            Method::Log(level) => {
                let message = log_message(&args, &kwargs)?;
                self.log(level, message);
                Value::Null
            }
            Method::DownloadResource => {
                let bound = bind(
                    "CloudifyContext.download_resource",
                    true,
                    &["resource_path", "target_path"],
                    1,
                    args,
                    kwargs,
                )?;
                self.download(&bound[0], &bound[1], None)?
            }
            Method::DownloadResourceAndRender => {
                let bound = bind(
                    "CloudifyContext.download_resource_and_render",
                    true,
                    &["resource_path", "target_path", "template_variables"],
                    1,
                    args,
                    kwargs,
                )?;
                let variables = match &bound[2] {
                    Value::Null => Map::new(),
                    Value::Object(map) => map.clone(),
                    other => {
                        return Err(CtxError::type_error(format!(
                            "template_variables must be a dict, not {}",
                            type_name(other)
                        )))
                    }
                };
                if variables.contains_key("ctx") {
                    return Err(CtxError::non_recoverable(
                        "Key not allowed - a key named ctx is in template_variables",
                    ));
                }
                self.download(&bound[0], &bound[1], Some(variables))?
            }
            Method::RetryOperation => {
                let bound = bind(
                    "process_execution.<locals>.retry_operation",
                    false,
                    &["message", "retry_after"],
                    0,
                    args,
                    kwargs,
                )?;
                self.claim_result()?;
                let message = optional_message(&bound[0]);
                let request = StopRequest::Retry {
                    message: message.clone(),
                    interval: retry_interval(&bound[1]),
                };
                self.effects.stop = Some(request.clone());
                self.effects.operation_retry = Some(request);
                return Ok(Reply::Stop(message.unwrap_or_else(|| "None".to_owned())));
            }
            Method::AbortOperation => {
                let bound = bind(
                    "process_execution.<locals>.abort_operation",
                    false,
                    &["message"],
                    0,
                    args,
                    kwargs,
                )?;
                self.claim_result()?;
                let message = optional_message(&bound[0]);
                self.effects.stop = Some(StopRequest::Abort {
                    message: message.clone(),
                });
                return Ok(Reply::Stop(message.unwrap_or_else(|| "None".to_owned())));
            }
            Method::Returns => {
                let bound = bind(
                    "process_execution.<locals>.returns",
                    false,
                    &["value"],
                    1,
                    args,
                    kwargs,
                )?;
                self.claim_result()?;
                let value = bound.into_iter().next().unwrap_or(Value::Null);
                self.effects.returns = if value.is_null() { None } else { Some(value) };
                Value::Null
            }
            Method::OperationRetry => {
                let bound = bind(
                    "OperationContext.retry",
                    true,
                    &["message", "retry_after"],
                    0,
                    args,
                    kwargs,
                )?;
                self.effects.operation_retry = Some(StopRequest::Retry {
                    message: optional_message(&bound[0]),
                    interval: retry_interval(&bound[1]),
                });
                Value::Null
            }
            Method::InstanceUpdate => {
                bind(
                    "NodeInstanceContext.update",
                    true,
                    &["on_conflict"],
                    0,
                    args,
                    kwargs,
                )?;
                Value::Null
            }
            Method::InstanceRefresh(who) => {
                let bound = bind(
                    "NodeInstanceContext.refresh",
                    true,
                    &["force"],
                    0,
                    args,
                    kwargs,
                )?;
                let instance_id = self.entity(who)?.instance.id.clone();
                let dirty = self
                    .effects
                    .patches
                    .get(&instance_id)
                    .is_some_and(|patch| !patch.is_empty());
                if dirty && !crate::pyfmt::py_truthy(&bound[0]) {
                    return Err(CtxError::non_recoverable(
                        "runtime_properties are dirty: refreshing now would destroy local changes",
                    ));
                }
                Value::Null
            }
            Method::Dict(dict, method) => self.call_dict(dict, method, args, kwargs)?,
        };
        Ok(Reply::Result(result))
    }

    fn call_dict(
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

    /// The reference's single result slot: `returns`, `retry_operation` and `abort_operation`
    /// may be used once between them.
    fn claim_result(&mut self) -> Result<(), CtxError> {
        let taken = self.effects.illegal_second_result
            || self.effects.stop.is_some()
            || self.effects.returns.is_some();
        if taken {
            self.effects.illegal_second_result = true;
            return Err(CtxError::runtime("ctx may only abort or return once"));
        }
        Ok(())
    }

    pub fn log(&mut self, level: LogLevel, message: String) {
        let line = LogLine {
            source: LogSource::Ctx,
            level,
            message,
        };
        match &self.sink {
            Some(sink) => sink.log(line),
            None => {
                if self.effects.logs.len() < MAX_RECORDED_LOGS {
                    self.effects.logs.push(line);
                }
            }
        }
    }

    fn download(
        &mut self,
        resource: &Value,
        target: &Value,
        render: Option<Map<String, Value>>,
    ) -> Result<Value, CtxError> {
        let Value::String(resource_path) = resource else {
            return Err(CtxError::type_error(format!(
                "resource_path must be a string, not {}",
                type_name(resource)
            )));
        };
        let source = self.resolve_resource(resource_path)?;
        let target_path = match target {
            Value::Null => {
                let directory = self.download_directory()?;
                let base = Path::new(resource_path)
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                directory.join(format!("tmp{}-{base}", crate::proxy::random_token(4)))
            }
            Value::String(path) => {
                let path = PathBuf::from(path);
                match (&self.cwd, path.is_absolute()) {
                    (Some(cwd), false) => cwd.join(path),
                    _ => path,
                }
            }
            other => {
                return Err(CtxError::type_error(format!(
                    "target_path must be a string, not {}",
                    type_name(other)
                )))
            }
        };
        let content = std::fs::read(&source).map_err(|error| {
            CtxError::new(
                "HttpException",
                format!("{resource_path}: cannot read resource: {error}"),
            )
        })?;
        let content = match render {
            Some(variables) if has_template_markers(&content) => {
                let text = String::from_utf8_lossy(&content);
                self.render(&text, &variables)?.into_bytes()
            }
            _ => content,
        };
        std::fs::write(&target_path, content).map_err(|error| {
            CtxError::new(
                "IOError",
                format!("cannot write {}: {error}", target_path.display()),
            )
        })?;
        Ok(Value::String(target_path.to_string_lossy().into_owned()))
    }

    fn download_directory(&mut self) -> Result<PathBuf, CtxError> {
        if let Some(directory) = &self.download_dir {
            return Ok(directory.clone());
        }
        let directory =
            std::env::temp_dir().join(format!("stratus-ctx-{}", crate::proxy::random_token(8)));
        std::fs::create_dir_all(&directory).map_err(|error| {
            CtxError::new(
                "IOError",
                format!("cannot create {}: {error}", directory.display()),
            )
        })?;
        self.download_dir = Some(directory.clone());
        Ok(directory)
    }

    /// A resource path relative to the blueprint directory, refused if it leaves it (by `..`,
    /// an absolute path or a symbolic link).
    pub fn resolve_resource(&self, resource_path: &str) -> Result<PathBuf, CtxError> {
        resolve_in_blueprint(self.ctx.blueprint_dir.as_deref(), resource_path)
    }

    fn render(&self, template: &str, variables: &Map<String, Value>) -> Result<String, CtxError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find(['{']) {
            let (before, from) = rest.split_at(start);
            out.push_str(before);
            if let Some(body) = from.strip_prefix("{{") {
                let end = body.find("}}").ok_or_else(|| {
                    CtxError::new(
                        "TemplateSyntaxError",
                        "unexpected end of template, expected '}}'",
                    )
                })?;
                let expression = body[..end].trim();
                out.push_str(&self.render_expression(expression, variables));
                rest = &body[end + 2..];
            } else if let Some(body) = from.strip_prefix("{#") {
                let end = body.find("#}").ok_or_else(|| {
                    CtxError::new("TemplateSyntaxError", "Missing end of comment tag")
                })?;
                rest = &body[end + 2..];
            } else if from.starts_with("{%") {
                return Err(CtxError::new(
                    "TemplateSyntaxError",
                    "Stratus renders {{ expressions }} and {# comments #} only; {% statements %} are not supported",
                ));
            } else {
                out.push('{');
                rest = &from[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A dotted expression over the template variables and `ctx`; undefined renders as empty,
    /// as jinja2's default `Undefined` does.
    fn render_expression(&self, expression: &str, variables: &Map<String, Value>) -> String {
        let mut parts = expression.split('.').map(str::trim);
        let Some(first) = parts.next() else {
            return String::new();
        };
        let mut current = if first == "ctx" {
            Obj::Ctx
        } else {
            match variables.get(first) {
                Some(value) => Obj::Value(value.clone()),
                None => return String::new(),
            }
        };
        for part in parts {
            let next = match &current {
                Obj::Value(Value::Object(map)) => map.get(part).cloned().map(Obj::Value),
                Obj::Value(Value::Array(items)) => part
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i).cloned())
                    .map(Obj::Value),
                Obj::Dict(dict) => self
                    .dict(*dict)
                    .ok()
                    .and_then(|map| map.get(part).cloned())
                    .map(Obj::Value),
                other => self.attr(other, part).ok().flatten(),
            };
            match next {
                Some(next) => current = next,
                None => return String::new(),
            }
        }
        match current {
            Obj::Value(value) => py_str(&value),
            Obj::Dict(dict) => self
                .dict(dict)
                .map(|map| py_repr(&Value::Object(map.clone())))
                .unwrap_or_default(),
            other => format!("<{} object>", other.python_type()),
        }
    }
}

fn read_only() -> CtxError {
    CtxError::non_recoverable("Cannot override read only properties")
}

fn optional_message(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        other => Some(py_str(other)),
    }
}

/// `retry_after` as seconds; the ctx client sends it as a string unless `@`-prefixed.
fn retry_interval(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
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

/// Python's argument binding for a function whose parameters all have a default after the
/// first `required` ones; messages as CPython 3.11 writes them (`self` counted for methods).
fn bind(
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
fn log_message(args: &[Value], _kwargs: &Map<String, Value>) -> Result<String, CtxError> {
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
