//! The object graph a request walks: the attributes of `ctx`, its node, instance,
//! relationship source and target, operation, deployment, blueprint and logger.

use serde_json::Value;

use super::{DictMethod, DictRef, LiveOperation, Method, Obj, Who};
use crate::context::Subject;
use crate::request::CtxError;
use crate::LogLevel;

impl LiveOperation {
    pub(super) fn attr(&self, current: &Obj, name: &str) -> Result<Option<Obj>, CtxError> {
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
}
