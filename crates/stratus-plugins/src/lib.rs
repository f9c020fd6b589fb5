//! Operation executors for Stratus: what runs when the workflow engine dispatches an operation.
//!
//! The runtime (`stratus-runtime`) decides *when* an operation runs; this crate decides *how*:
//! `executor_for`/`can_execute` tell, at deployment creation, whether Stratus can run an
//! operation at all; `NoopExecutor` completes empty operations; `run_script` runs the script
//! plugin's `script_runner.tasks.run` as a subprocess talking to the shared `CtxProxy` through
//! the `ctx` command (`ctx_main`). Nothing here touches the store: an operation's effects come
//! back as data (`ScriptOutcome`, `OperationEffects`) for the runtime to commit.
//!
//! *Invariants:*
//! - No SQL, no store, no REST routes; the only listener is the ctx proxy, bound to
//!   `127.0.0.1`, and a ctx URL reaches only its own operation (a 128-bit random token from the
//!   OS generator) and only while that operation runs.
//! - Runtime-property changes are returned as patches (keys set and deleted), never as whole
//!   dictionaries, so concurrent operations on one instance cannot overwrite each other's keys.
//! - A script never outlives its operation's timeout or cancellation: it runs in its own process
//!   group, killed on timeout and when the `run_script` future is dropped.
//! - Scripts and downloaded resources come from inside the blueprint directory only (`..`,
//!   absolute paths and symbolic links leaving it are refused).
//! - Scripts get the operation inputs, `CTX_SOCKET_URL`, `PATH` (with `ctx` first) and a short
//!   allow-list of the manager's environment — never its secrets.
//! - No panic on input: requests, arguments and script output are untrusted.
//! - The wire protocol, `ctx` output and error texts are the reference's (cloudify-common
//!   7.0.5); `tests/reference.rs` runs each side against the other's reference implementation.

pub mod client;
pub mod context;
mod paths;
pub mod proxy;
pub mod pyfmt;
mod request;
mod resources;
pub mod script;
pub mod support;

use serde::{Deserialize, Serialize};

pub use client::ctx_main;
pub use context::{
    Entity, InstanceInfo, NodeInfo, OperationContext, OperationEffects, OperationInfo,
    PatchConflict, PatchOp, PathSegment, RuntimePropertiesPatch, StopRequest, Subject,
};
pub use proxy::{CtxProxy, OperationHandle, ProxyError};
pub use script::{
    run_script, CtxCommand, OperationResult, ProcessConfig, ScriptError, ScriptOutcome,
    ScriptSource, ScriptSpec,
};
pub use support::{can_execute, executor_for, ExecutorKind, NoopExecutor, Unsupported};

/// Where a log line came from; the runtime turns each into a `cloudify_log` event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// `ctx logger LEVEL MESSAGE`.
    Ctx,
    /// A line of the script's standard output (the reference logs it as `<out> LINE`).
    Stdout,
    /// A line of the script's standard error (`<err> LINE`).
    Stderr,
    /// The executor itself ("Process created, PID: …").
    Executor,
}

/// Python logging levels, as Cloudify's log events name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl LogLevel {
    /// The event's `level` field.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
        }
    }
}

/// One log line of an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub source: LogSource,
    pub level: LogLevel,
    pub message: String,
}

impl LogLine {
    /// The message as the reference logs it (`<out> ` / `<err> ` before script output).
    pub fn event_message(&self) -> String {
        match self.source {
            LogSource::Stdout => format!("<out> {}", self.message),
            LogSource::Stderr => format!("<err> {}", self.message),
            LogSource::Ctx | LogSource::Executor => self.message.clone(),
        }
    }
}

/// Receives log lines as they happen (from the proxy's request handlers and the output
/// readers, so it must be cheap and must not block).
pub trait LogSink: Send + Sync {
    fn log(&self, line: LogLine);
}

impl<F: Fn(LogLine) + Send + Sync> LogSink for F {
    fn log(&self, line: LogLine) {
        self(line)
    }
}
