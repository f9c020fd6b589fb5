//! Who runs an operation. The runner hands each `RunTask` to the executor chosen by the
//! operation's plugin; an executor returns what happened and the runtime-property changes it
//! made, as patches that the runner applies to the *latest* stored properties (so operations
//! running side by side on one instance never lose each other's updates).
//!
//! Built in: `stratus-builtin` (`noop`, `sleep`, `fail`: in-process, for tests, benchmarks and
//! placeholders). The script plugin (`script.rs`), k8splugin (`kubernetes.rs`) and pgaas with
//! sshkeyshare (`pgaas.rs`) are registered by the binary.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use stratus_engine::OperationTask;

/// A node or node instance as an operation sees it.
#[derive(Debug, Clone, Default)]
pub struct Side {
    pub node: Value,
    pub instance: Value,
}

/// One relationship of the operation's node instance and its target (for executors that
/// follow relationships, as pgaas finds a cluster's keypair).
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The relationship's type and its ancestors.
    pub type_hierarchy: Vec<String>,
    pub target: Side,
}

/// The object `key` of `value` (a node's `properties`, an instance's `runtime_properties`), or
/// an empty one.
pub fn map_of(value: &Value, key: &str) -> serde_json::Map<String, Value> {
    value
        .get(key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// Streams an operation's log lines (level, message) to its execution's events.
pub type LogFn = Arc<dyn Fn(&str, String) + Send + Sync>;

/// One operation to run.
#[derive(Clone)]
pub struct Job {
    pub tenant: String,
    pub deployment_id: String,
    pub blueprint_id: String,
    pub execution_id: String,
    pub workflow_id: String,
    pub attempt: u32,
    pub max_retries: i64,
    pub task: OperationTask,
    /// The plugin entry of the operation's node (`name`, `package_name`, `executor`, …).
    pub plugin: Value,
    /// The node and instance the operation runs on, and for relationship operations the
    /// other side.
    pub own: Side,
    pub related: Option<Side>,
    /// The own instance's relationships with their targets, only for executors that ask
    /// (`needs_targets`); empty otherwise.
    pub targets: Vec<Target>,
    /// Where the blueprint's files are unpacked (scripts, resources).
    pub blueprint_dir: std::path::PathBuf,
    pub log: LogFn,
}

/// Changes to one instance's runtime properties, applied to the latest stored ones.
pub type Patch = stratus_plugins::RuntimePropertiesPatch;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded {
        result: Value,
    },
    Failed {
        error: String,
        recoverable: bool,
        retry_after_ms: Option<u64>,
    },
    RetryRequested {
        message: String,
        retry_after_ms: Option<u64>,
    },
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub outcome: Outcome,
    /// Runtime-property changes by node instance id, applied whatever the outcome (as the
    /// reference saves them in a `finally`).
    pub patches: Vec<(String, Patch)>,
}

impl Report {
    pub fn of(outcome: Outcome) -> Report {
        Report {
            outcome,
            patches: Vec::new(),
        }
    }

    /// A failure with nothing else to report (no retry delay, no runtime-property changes).
    pub fn failed(error: impl Into<String>, recoverable: bool) -> Report {
        Report::of(Outcome::Failed {
            error: error.into(),
            recoverable,
            retry_after_ms: None,
        })
    }

    /// The report of a native plugin operation: success or a failure (`recoverable` or not),
    /// and the top-level runtime properties it set on `instance`, kept whatever the result.
    pub fn settled(
        instance: &str,
        result: Result<(), String>,
        recoverable: bool,
        set: serde_json::Map<String, Value>,
    ) -> Report {
        let ops: Vec<stratus_plugins::PatchOp> = set
            .into_iter()
            .map(|(key, value)| stratus_plugins::PatchOp::Set {
                path: vec![stratus_plugins::PathSegment::Key(key)],
                value,
            })
            .collect();
        let patches = if ops.is_empty() {
            Vec::new()
        } else {
            vec![(instance.to_string(), Patch { ops })]
        };
        let outcome = match result {
            Ok(()) => Outcome::Succeeded {
                result: Value::Null,
            },
            Err(error) => Outcome::Failed {
                error,
                recoverable,
                retry_after_ms: None,
            },
        };
        Report { outcome, patches }
    }
}

pub type BoxFuture = Pin<Box<dyn Future<Output = Report> + Send>>;

pub trait Executor: Send + Sync {
    fn run(&self, job: Job) -> BoxFuture;
    /// Whether `run` reads the node and instance bodies of the job (`own`, `related`);
    /// when not, the runner leaves them empty and saves reading them.
    fn needs_context(&self) -> bool {
        true
    }
    /// Whether `run` reads the targets of the node instance's relationships (`targets`).
    fn needs_targets(&self) -> bool {
        false
    }
    /// Whether this executor can run `implementation` of plugin `plugin_name` with `executor`
    /// (checked at deployment creation); the error says why not.
    fn check(
        &self,
        _plugin_name: &str,
        _executor: Option<&str>,
        _implementation: &str,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// Why an operation cannot run here (checked at deployment creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub message: String,
}

/// Executors by plugin package name (or plugin name when it has no package).
#[derive(Clone, Default)]
pub struct Executors {
    by_package: HashMap<String, Arc<dyn Executor>>,
}

pub const BUILTIN_PACKAGE: &str = "stratus-builtin";

impl Executors {
    pub fn with_builtins() -> Executors {
        let mut executors = Executors::default();
        executors.register(BUILTIN_PACKAGE, Arc::new(Builtin));
        executors
    }

    pub fn register(&mut self, package: &str, executor: Arc<dyn Executor>) {
        self.by_package.insert(package.to_string(), executor);
    }

    fn key(plugin: &Value, task: &OperationTask) -> String {
        plugin
            .get("package_name")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| task.plugin.clone())
    }

    pub fn find(
        &self,
        plugin: &Value,
        task: &OperationTask,
    ) -> Result<Arc<dyn Executor>, Unsupported> {
        let key = Executors::key(plugin, task);
        self.by_package.get(&key).cloned().ok_or_else(|| Unsupported {
            message: format!(
                "operation {} of node instance {} uses plugin '{}' ({}), which Stratus cannot execute; supported: {}",
                task.operation,
                task.node_instance_id,
                task.plugin,
                key,
                self.supported().join(", ")
            ),
        })
    }

    /// Whether an operation of a node with these plugins can run (for deployment creation).
    pub fn check(
        &self,
        plugin_name: &str,
        plugins: &[Value],
        operation: &str,
        node: &str,
        executor: Option<&str>,
        implementation: &str,
    ) -> Result<(), Unsupported> {
        let plugin = plugins
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(plugin_name))
            .cloned()
            .unwrap_or(Value::Null);
        let key = plugin
            .get("package_name")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
            .unwrap_or(plugin_name)
            .to_string();
        if let Some(found) = self.by_package.get(&key) {
            return found
                .check(plugin_name, executor, implementation)
                .map_err(|reason| Unsupported {
                    message: format!(
                        "node '{node}' operation '{operation}' ({implementation}): {reason}"
                    ),
                });
        }
        Err(Unsupported {
            message: format!(
                "node '{node}' operation '{operation}' uses plugin '{plugin_name}' (package '{key}'), which Stratus cannot execute; supported: {}",
                self.supported().join(", ")
            ),
        })
    }

    fn supported(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_package.keys().cloned().collect();
        names.sort();
        names
    }
}

/// `stratus-builtin`: `noop` (succeeds), `sleep` (input `seconds`), `fail` (inputs `message`,
/// `recoverable`), `set` (sets every input as a runtime property).
struct Builtin;

impl Executor for Builtin {
    fn needs_context(&self) -> bool {
        false
    }

    fn run(&self, job: Job) -> BoxFuture {
        Box::pin(async move {
            let task = job
                .task
                .implementation
                .rsplit('.')
                .next()
                .unwrap_or("")
                .to_string();
            match task.as_str() {
                "noop" => Report::of(Outcome::Succeeded {
                    result: Value::Null,
                }),
                "sleep" => {
                    let seconds = job
                        .task
                        .inputs
                        .get("seconds")
                        .and_then(Value::as_f64)
                        .unwrap_or(1.0);
                    tokio::time::sleep(std::time::Duration::from_secs_f64(
                        seconds.clamp(0.0, 86_400.0),
                    ))
                    .await;
                    Report::of(Outcome::Succeeded {
                        result: Value::Null,
                    })
                }
                "fail" => Report::failed(
                    job.task
                        .inputs
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("failed on purpose")
                        .to_string(),
                    job.task
                        .inputs
                        .get("recoverable")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                ),
                "set" => {
                    let mut report = Report::of(Outcome::Succeeded {
                        result: Value::Null,
                    });
                    let ops = job
                        .task
                        .inputs
                        .iter()
                        .map(|(key, value)| stratus_plugins::PatchOp::Set {
                            path: vec![stratus_plugins::PathSegment::Key(key.clone())],
                            value: value.clone(),
                        })
                        .collect();
                    report
                        .patches
                        .push((job.task.node_instance_id.clone(), Patch { ops }));
                    report
                }
                other => Report::failed(
                    format!("stratus-builtin has no task '{other}' (noop, sleep, fail, set)"),
                    false,
                ),
            }
        })
    }
}
