//! The script plugin's executor: `script_runner.tasks.run` as a subprocess.
//!
//! The reference copies the script to a temporary file, makes it executable and runs it through
//! `/bin/sh -c` with the operation inputs in the environment and a ctx proxy of its own. Here
//! the script runs in place from the unpacked blueprint (its interpreter chosen from the
//! shebang, `bash` without one, `python3` for `.py`), in its own process group so a timeout or
//! a cancelled operation kills everything it started, with `CTX_SOCKET_URL` pointing at the
//! shared proxy. Output is streamed line by line to a `LogSink` while the script runs. The
//! outcome follows `script_runner`: a second result request is non-recoverable, a non-zero
//! exit is a recoverable `ProcessException` unless the script asked to retry or abort, and
//! runtime-property changes are returned as patches whatever the outcome (the reference saves
//! them in a `finally`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::context::{OperationContext, OperationEffects};
use crate::proxy::{CtxProxy, ProxyError};
use crate::request::resolve_in_blueprint;
use crate::LogSink;

mod ctx_command;
mod inputs;
mod invocation;
mod output;
mod process;

pub use ctx_command::CtxCommand;
pub use inputs::env_value;
use invocation::source_to_file;
use process::run_file;

/// Why a script could not be prepared or started (the operation fails non-recoverably).
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("Either script_path or script_source must be provided")]
    MissingScript,
    #[error("Only provide script_path or script_source, not both")]
    BothScripts,
    #[error("invalid script input {name}: {reason}")]
    InvalidInput { name: String, reason: String },
    #[error("script {path}: {reason}")]
    Unsupported { path: String, reason: String },
    #[error("script {path}: {reason}")]
    NotFound { path: String, reason: String },
    #[error("prepare the ctx command: {0}")]
    CtxCommand(#[source] std::io::Error),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
}

/// Where the script comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptSource {
    /// `script_path`: relative to the blueprint directory.
    Path(String),
    /// `script_source`: the script's text.
    Source(String),
}

/// The `process` input of `script_runner.tasks.run`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessConfig {
    pub cwd: Option<PathBuf>,
    /// Extra environment (rendered like inputs; wins over them).
    pub env: Map<String, Value>,
    /// Appended to the command line, joined with spaces and interpreted by the shell.
    pub args: Vec<String>,
    /// Run as `COMMAND_PREFIX SCRIPT ARGS` through `/bin/sh -c`.
    pub command_prefix: Option<String>,
    /// `true`: run as Python; `false`: never as Python, even for `.py`.
    pub eval_python: Option<bool>,
    pub log_stdout: bool,
    pub log_stderr: bool,
    pub stderr_to_stdout: bool,
}

impl Default for ProcessConfig {
    fn default() -> ProcessConfig {
        ProcessConfig {
            cwd: None,
            env: Map::new(),
            args: Vec::new(),
            command_prefix: None,
            eval_python: None,
            log_stdout: true,
            log_stderr: true,
            stderr_to_stdout: false,
        }
    }
}

/// One script operation, as dispatched by the runtime.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptSpec {
    pub script: ScriptSource,
    pub process: ProcessConfig,
    /// The operation inputs that become environment variables (all inputs but
    /// `script_path`, `script_source`, `process`, `ssl_cert_content`).
    pub env_inputs: Map<String, Value>,
    pub timeout: Option<Duration>,
    /// Cloudify's `timeout_recoverable`: whether a timeout may be retried.
    pub timeout_recoverable: bool,
}

/// How the operation ended, in the runtime's terms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OperationResult {
    Succeeded {
        returns: Option<Value>,
    },
    /// The script asked to be run again (`ctx retry_operation`): recoverable, after `interval`
    /// or the runtime's retry interval.
    Retry {
        message: Option<String>,
        interval: Option<Duration>,
    },
    Failed {
        message: String,
        recoverable: bool,
    },
}

/// Everything the runtime needs after a script operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScriptOutcome {
    pub result: OperationResult,
    /// Runtime-property patches (apply them whatever the result), returns, logs.
    pub effects: OperationEffects,
    /// The exit code; a signal `N` is `-N`, as Python's `Popen.returncode`. `None` if the
    /// script did not start.
    pub exit_code: Option<i32>,
    pub duration: Duration,
}

fn failed(message: String, recoverable: bool) -> OperationResult {
    OperationResult::Failed {
        message,
        recoverable,
    }
}

/// Runs one script operation to its end. Dropping the future kills the script's process group.
pub async fn run_script(
    spec: &ScriptSpec,
    ctx: OperationContext,
    proxy: &CtxProxy,
    ctx_command: &CtxCommand,
    sink: Arc<dyn LogSink>,
) -> ScriptOutcome {
    let started = Instant::now();
    let not_started = |result: OperationResult| ScriptOutcome {
        result,
        effects: OperationEffects::default(),
        exit_code: None,
        duration: started.elapsed(),
    };
    let (script_path, scratch) = match &spec.script {
        ScriptSource::Path(path) => {
            if let Some((scheme, _)) = path.split_once("://") {
                return not_started(failed(
                    format!("script {path}: {scheme}:// script paths are not supported; ship the script in the blueprint archive"),
                    false,
                ));
            }
            match resolve_in_blueprint(ctx.blueprint_dir.as_deref(), path) {
                Ok(resolved) => (resolved, None),
                Err(error) => {
                    return not_started(failed(format!("{}: {}", error.kind, error.message), false))
                }
            }
        }
        ScriptSource::Source(source) => match source_to_file(source, &spec.process) {
            Ok((directory, path)) => (path, Some(directory)),
            Err(error) => return not_started(failed(error.to_string(), false)),
        },
    };
    let outcome = run_file(spec, &script_path, ctx, proxy, ctx_command, sink, started).await;
    if let Some(directory) = scratch {
        let _ = std::fs::remove_dir_all(directory);
    }
    outcome
}
