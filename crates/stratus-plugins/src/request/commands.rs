//! Method calls: the dispatch of every ctx method (downloads in `download.rs`, dictionary
//! methods in `dict.rs`) and the commands themselves: `ctx logger`, `retry_operation`,
//! `abort_operation`, `returns` (the single result slot), `operation retry` and the
//! instance's `update`/`refresh`.

use serde_json::{Map, Value};

use super::binding::{bind, log_message};
use super::{LiveOperation, Method, Reply};
use crate::context::{type_name, StopRequest};
use crate::pyfmt::py_str;
use crate::request::CtxError;
use crate::{LogLevel, LogLine, LogSource};

/// At most this many `ctx logger` lines are kept in `OperationEffects::logs` when no sink
/// streams them.
const MAX_RECORDED_LOGS: usize = 10_000;

impl LiveOperation {
    pub(super) fn call(
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
