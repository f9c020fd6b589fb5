//! The script plugin as a runner executor: `stratus-plugins` runs the script with its ctx
//! proxy; this adapts jobs and reports. One proxy and one `ctx` command serve every script.

use std::sync::Arc;

use serde_json::Value;
use stratus_plugins::{
    CtxCommand, CtxProxy, Entity, InstanceInfo, NodeInfo, OperationContext, OperationInfo,
    OperationResult, ScriptSpec, Subject,
};

use super::executors::{map_of, BoxFuture, Executor, Job, Outcome, Report, Side};

pub struct ScriptExecutor {
    proxy: Arc<CtxProxy>,
    ctx: Arc<CtxCommand>,
}

impl ScriptExecutor {
    /// Starts the ctx proxy; `ctx_executable` is the binary that answers as `ctx`.
    pub async fn start(ctx_executable: &std::path::Path) -> Result<ScriptExecutor, String> {
        let proxy = CtxProxy::start()
            .await
            .map_err(|e| format!("start the ctx proxy: {e}"))?;
        let ctx =
            CtxCommand::new(ctx_executable).map_err(|e| format!("prepare the ctx command: {e}"))?;
        Ok(ScriptExecutor {
            proxy: Arc::new(proxy),
            ctx: Arc::new(ctx),
        })
    }
}

fn entity(side: &Side) -> Entity {
    let node = &side.node;
    let instance = &side.instance;
    Entity {
        node: NodeInfo {
            name: node
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            type_name: node
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            type_hierarchy: node
                .get("type_hierarchy")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            number_of_instances: node.get("number_of_instances").and_then(Value::as_u64),
            properties: map_of(node, "properties"),
        },
        instance: InstanceInfo {
            id: instance
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            runtime_properties: map_of(instance, "runtime_properties"),
            host_ip: map_of(instance, "runtime_properties")
                .get("ip")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or_else(|| {
                    map_of(node, "properties")
                        .get("ip")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                }),
            index: instance.get("index").and_then(Value::as_u64),
        },
    }
}

impl Executor for ScriptExecutor {
    fn check(
        &self,
        plugin_name: &str,
        executor: Option<&str>,
        implementation: &str,
    ) -> Result<(), String> {
        stratus_plugins::can_execute(plugin_name, executor, implementation)
            .map_err(|e| e.to_string())
    }

    fn run(&self, job: Job) -> BoxFuture {
        let (proxy, ctx_command) = (self.proxy.clone(), self.ctx.clone());
        Box::pin(async move {
            let mut spec = match ScriptSpec::from_inputs(&job.task.inputs) {
                Ok(spec) => spec,
                Err(error) => return Report::failed(error.to_string(), false),
            };
            if let Some(ms) = job.task.timeout_ms.filter(|ms| *ms > 0) {
                spec.timeout = Some(std::time::Duration::from_millis(ms));
                spec.timeout_recoverable = job.task.timeout_recoverable.unwrap_or(false);
            }
            let own = entity(&job.own);
            let subject = match (&job.related, &job.task.related) {
                (Some(other), Some(related)) => {
                    let other = entity(other);
                    match related.side {
                        stratus_engine::Side::Source => Subject::RelationshipInstance {
                            source: own,
                            target: other,
                        },
                        stratus_engine::Side::Target => Subject::RelationshipInstance {
                            source: other,
                            target: own,
                        },
                    }
                }
                _ => Subject::NodeInstance(own),
            };
            let context = OperationContext {
                tenant: job.tenant.clone(),
                deployment_id: job.deployment_id.clone(),
                blueprint_id: job.blueprint_id.clone(),
                execution_id: job.execution_id.clone(),
                workflow_id: job.workflow_id.clone(),
                operation: OperationInfo {
                    name: job.task.operation.clone(),
                    retry_number: job.attempt.saturating_sub(1),
                    max_retries: job.max_retries,
                },
                subject,
                blueprint_dir: Some(job.blueprint_dir.clone()),
            };
            let log = job.log.clone();
            let sink: Arc<dyn stratus_plugins::LogSink> =
                Arc::new(move |line: stratus_plugins::LogLine| {
                    log(line.level.as_str(), line.event_message());
                });
            let outcome =
                stratus_plugins::run_script(&spec, context, &proxy, &ctx_command, sink).await;
            let patches = outcome.effects.patches.into_iter().collect();
            let outcome = match outcome.result {
                OperationResult::Succeeded { returns } => Outcome::Succeeded {
                    result: returns.unwrap_or(Value::Null),
                },
                OperationResult::Retry { message, interval } => Outcome::RetryRequested {
                    message: message.unwrap_or_else(|| "retry requested".into()),
                    retry_after_ms: interval.map(|d| d.as_millis() as u64),
                },
                OperationResult::Failed {
                    message,
                    recoverable,
                } => Outcome::Failed {
                    error: message,
                    recoverable,
                    retry_after_ms: None,
                },
            };
            Report { outcome, patches }
        })
    }
}
