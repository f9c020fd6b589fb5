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

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::context::{OperationContext, OperationEffects, StopRequest};
use crate::proxy::{CtxProxy, ProxyError};
use crate::pyfmt::{json_dumps, py_str};
use crate::request::resolve_in_blueprint;
use crate::{LogLevel, LogLine, LogSink, LogSource};

/// Environment variables passed through from the manager's own environment; everything else
/// (database URLs, passwords) stays out of scripts.
const INHERITED_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SHELL",
];

/// How long output is still read after the script exits (background children may hold the
/// pipes open forever).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Output kept per stream for the failure message.
const TAIL_BYTES: usize = 4096;

/// A line longer than this is logged in pieces.
const MAX_LINE_BYTES: usize = 64 * 1024;

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

impl ScriptSpec {
    /// Reads `script_runner.tasks.run(script_path=None, script_source=None, process=None,
    /// ssl_cert_content=None, **kwargs)`'s arguments from the operation inputs.
    pub fn from_inputs(inputs: &Map<String, Value>) -> Result<ScriptSpec, ScriptError> {
        let text = |name: &str| -> Result<Option<String>, ScriptError> {
            match inputs.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) if text.is_empty() => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(other) => Err(ScriptError::InvalidInput {
                    name: name.to_owned(),
                    reason: format!("expected a string, got {other}"),
                }),
            }
        };
        let script = match (text("script_path")?, text("script_source")?) {
            (None, None) => return Err(ScriptError::MissingScript),
            (Some(_), Some(_)) => return Err(ScriptError::BothScripts),
            (Some(path), None) => ScriptSource::Path(path),
            (None, Some(source)) => ScriptSource::Source(source),
        };
        let process = match inputs.get("process") {
            None | Some(Value::Null) => ProcessConfig::default(),
            Some(Value::Object(map)) => ProcessConfig::from_map(map)?,
            Some(other) => {
                return Err(ScriptError::InvalidInput {
                    name: "process".to_owned(),
                    reason: format!("expected a dictionary, got {other}"),
                })
            }
        };
        let env_inputs = inputs
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "script_path" | "script_source" | "process" | "ssl_cert_content" | "ctx"
                )
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Ok(ScriptSpec {
            script,
            process,
            env_inputs,
            timeout: None,
            timeout_recoverable: false,
        })
    }

    /// The environment variables `create_process_config` computes: inputs then `process.env`;
    /// dictionaries, lists and booleans as `json.dumps`, everything else as `str()` (so `None`
    /// is `"None"` and `1.0` is `"1.0"`).
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut merged = self.env_inputs.clone();
        for (name, value) in &self.process.env {
            merged.insert(name.clone(), value.clone());
        }
        merged
            .iter()
            .map(|(name, value)| (name.clone(), env_value(value)))
            .collect()
    }
}

/// `create_process_config`'s rendering of one environment value.
pub fn env_value(value: &Value) -> String {
    match value {
        Value::Object(_) | Value::Array(_) | Value::Bool(_) => json_dumps(value),
        other => py_str(other),
    }
}

impl ProcessConfig {
    fn from_map(map: &Map<String, Value>) -> Result<ProcessConfig, ScriptError> {
        let invalid = |name: &str, reason: &str| ScriptError::InvalidInput {
            name: format!("process.{name}"),
            reason: reason.to_owned(),
        };
        let flag = |name: &str, default: bool| match map.get(name) {
            None | Some(Value::Null) => default,
            Some(value) => crate::pyfmt::py_truthy(value),
        };
        let cwd = match map.get("cwd") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) => Some(PathBuf::from(path)),
            Some(_) => return Err(invalid("cwd", "expected a string")),
        };
        let env = match map.get("env") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(env)) => env.clone(),
            Some(_) => return Err(invalid("env", "expected a dictionary")),
        };
        let args = match map.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(py_str).collect(),
            Some(_) => return Err(invalid("args", "expected a list")),
        };
        let command_prefix = match map.get("command_prefix") {
            None | Some(Value::Null) => None,
            Some(Value::String(prefix)) if prefix.is_empty() => None,
            Some(Value::String(prefix)) => Some(prefix.clone()),
            Some(_) => return Err(invalid("command_prefix", "expected a string")),
        };
        let eval_python = match map.get("eval_python") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(flag)) => Some(*flag),
            Some(_) => return Err(invalid("eval_python", "expected a boolean")),
        };
        if let Some(kind) = map.get("ctx_proxy_type").and_then(Value::as_str) {
            if !matches!(kind, "auto" | "http" | "none") {
                return Err(invalid(
                    "ctx_proxy_type",
                    &format!("Unsupported proxy type: {kind}"),
                ));
            }
        }
        Ok(ProcessConfig {
            cwd,
            env,
            args,
            command_prefix,
            eval_python,
            log_stdout: flag("log_stdout", true),
            log_stderr: flag("log_stderr", true),
            stderr_to_stdout: flag("stderr_to_stdout", false),
        })
    }
}

/// A directory whose `ctx` is the ctx client, put first on the scripts' `PATH`.
pub struct CtxCommand {
    directory: PathBuf,
    owned: bool,
}

impl CtxCommand {
    /// From the path of an executable that acts as `ctx` when invoked under that name (the
    /// `stratus` binary, or a dedicated `ctx`). When its file name is not `ctx`, a private
    /// directory with a `ctx` symbolic link to it is created (and removed on drop).
    pub fn new(executable: &Path) -> Result<CtxCommand, ScriptError> {
        let executable = executable.canonicalize().map_err(ScriptError::CtxCommand)?;
        if executable.file_name().is_some_and(|name| name == "ctx") {
            if let Some(parent) = executable.parent() {
                return Ok(CtxCommand {
                    directory: parent.to_path_buf(),
                    owned: false,
                });
            }
        }
        let directory =
            std::env::temp_dir().join(format!("stratus-ctx-bin-{}", crate::proxy::random_token(8)));
        std::fs::create_dir_all(&directory).map_err(ScriptError::CtxCommand)?;
        std::os::unix::fs::symlink(&executable, directory.join("ctx"))
            .map_err(ScriptError::CtxCommand)?;
        Ok(CtxCommand {
            directory,
            owned: true,
        })
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

impl Drop for CtxCommand {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}

/// Kills the script's process group if the operation is dropped before the script ends.
struct GroupGuard {
    pid: Option<i32>,
}

impl GroupGuard {
    fn kill(&mut self) {
        if let Some(pid) = self.pid.take() {
            // SAFETY: plain syscall on a process group id we created.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Output of one stream: streamed to the sink, tail kept.
#[derive(Default)]
struct Tail {
    bytes: Vec<u8>,
}

impl Tail {
    fn push(&mut self, line: &[u8]) {
        self.bytes.extend_from_slice(line);
        if self.bytes.len() > TAIL_BYTES * 2 {
            let cut = self.bytes.len() - TAIL_BYTES;
            self.bytes.drain(..cut);
        }
    }

    fn text(&self) -> String {
        let start = self.bytes.len().saturating_sub(TAIL_BYTES);
        String::from_utf8_lossy(&self.bytes[start..]).into_owned()
    }
}

async fn pump(
    mut reader: impl AsyncRead + Unpin,
    source: LogSource,
    sink: Arc<dyn LogSink>,
    tail: Arc<Mutex<Tail>>,
) {
    let mut buffer = vec![0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    let emit = |line: &[u8]| {
        let text = String::from_utf8_lossy(line);
        sink.log(LogLine {
            source,
            level: LogLevel::Info,
            message: text.trim_end_matches(['\r', '\n']).to_owned(),
        });
        if let Ok(mut tail) = tail.lock() {
            tail.push(line);
        }
    };
    loop {
        let read = match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        pending.extend_from_slice(&buffer[..read]);
        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            emit(&line);
        }
        if pending.len() > MAX_LINE_BYTES {
            let line = std::mem::take(&mut pending);
            emit(&line);
        }
    }
    if !pending.is_empty() {
        emit(&pending);
    }
}

/// How the script file is started.
enum Invocation {
    /// argv, run directly.
    Direct(Vec<String>),
    /// A `/bin/sh -c` command line.
    Shell(String),
}

fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@%".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The interpreter line of a script: `#!/usr/bin/env bash` → `["/usr/bin/env", "bash"]`
/// (Linux passes the rest of the line as one argument).
fn shebang(path: &Path) -> Option<Vec<String>> {
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(path).ok()?;
    let read = std::io::Read::read(&mut file, &mut head).ok()?;
    let head = &head[..read];
    let line = head.strip_prefix(b"#!")?;
    let end = line
        .iter()
        .position(|byte| *byte == b'\n')
        .unwrap_or(line.len());
    let line = String::from_utf8_lossy(&line[..end]).trim().to_owned();
    let mut parts = line.splitn(2, [' ', '\t']);
    let interpreter = parts.next().filter(|part| !part.is_empty())?.to_owned();
    let mut argv = vec![interpreter];
    if let Some(argument) = parts.next().map(str::trim).filter(|part| !part.is_empty()) {
        argv.push(argument.to_owned());
    }
    Some(argv)
}

fn invocation(path: &Path, process: &ProcessConfig) -> Result<Invocation, ScriptError> {
    let display = path.display().to_string();
    let extension = path
        .extension()
        .map(|ext| ext.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if process.eval_python == Some(true)
        || (extension == "py" && process.eval_python != Some(false))
    {
        // The reference evaluates Python scripts in its own interpreter, with `ctx` an object;
        // here they run under python3 and reach ctx through the ctx command.
        return Ok(Invocation::Direct(vec!["python3".to_owned(), display]));
    }
    if extension == "ps1" && process.command_prefix.is_none() {
        return Err(ScriptError::Unsupported {
            path: display,
            reason: "PowerShell scripts are not supported".to_owned(),
        });
    }
    let mut words = match &process.command_prefix {
        Some(prefix) => {
            return Ok(Invocation::Shell(join_shell(
                prefix.clone(),
                path,
                &process.args,
            )))
        }
        None => match shebang(path) {
            Some(argv) => argv,
            None => vec!["bash".to_owned()],
        },
    };
    if process.args.is_empty() {
        words.push(display);
        return Ok(Invocation::Direct(words));
    }
    let quoted: Vec<String> = words.iter().map(|word| shell_quote(word)).collect();
    Ok(Invocation::Shell(join_shell(
        quoted.join(" "),
        path,
        &process.args,
    )))
}

fn join_shell(prefix: String, path: &Path, args: &[String]) -> String {
    let mut command = format!("{prefix} {}", shell_quote(&path.to_string_lossy()));
    for arg in args {
        command.push(' ');
        command.push_str(arg);
    }
    command
}

/// Writes `script_source` to a private file: Python when `eval_python` says so, else a shell
/// script (the reference guesses with Python's parser; Stratus does not).
fn source_to_file(
    source: &str,
    process: &ProcessConfig,
) -> Result<(PathBuf, PathBuf), ScriptError> {
    let directory =
        std::env::temp_dir().join(format!("stratus-script-{}", crate::proxy::random_token(8)));
    let name = if process.eval_python == Some(true) {
        "script.py"
    } else {
        "script.sh"
    };
    let failed = |error: std::io::Error| ScriptError::NotFound {
        path: name.to_owned(),
        reason: format!("cannot write script_source: {error}"),
    };
    std::fs::create_dir_all(&directory).map_err(failed)?;
    let path = directory.join(name);
    std::fs::write(&path, dedent(source)).map_err(failed)?;
    Ok((directory, path))
}

/// `textwrap.dedent` for the common case: the smallest leading whitespace of non-blank lines.
fn dedent(source: &str) -> String {
    let indent = source
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    source
        .lines()
        .map(|line| {
            if line.trim().is_empty() {
                ""
            } else {
                &line[indent.min(line.len())..]
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if source.ends_with('\n') { "\n" } else { "" }
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

async fn run_file(
    spec: &ScriptSpec,
    script_path: &Path,
    ctx: OperationContext,
    proxy: &CtxProxy,
    ctx_command: &CtxCommand,
    sink: Arc<dyn LogSink>,
    started: Instant,
) -> ScriptOutcome {
    let not_started = |result: OperationResult, effects: OperationEffects| ScriptOutcome {
        result,
        effects,
        exit_code: None,
        duration: started.elapsed(),
    };
    let invocation = match invocation(script_path, &spec.process) {
        Ok(invocation) => invocation,
        Err(error) => {
            return not_started(
                failed(error.to_string(), false),
                OperationEffects::default(),
            )
        }
    };
    let cwd = spec.process.cwd.clone().unwrap_or_else(std::env::temp_dir);
    let (socket_url, handle) =
        match proxy.register_with(ctx, Some(Arc::clone(&sink)), Some(cwd.clone())) {
            Ok(registered) => registered,
            Err(error) => {
                return not_started(failed(error.to_string(), true), OperationEffects::default())
            }
        };

    let (mut command, display) = match &invocation {
        Invocation::Direct(argv) => {
            let mut command = Command::new(&argv[0]);
            command.args(&argv[1..]);
            (command, argv.join(" "))
        }
        Invocation::Shell(line) => {
            let mut command = Command::new("/bin/sh");
            command.arg("-c").arg(line);
            (command, line.clone())
        }
    };
    command.env_clear();
    for name in INHERITED_ENV {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let mut path_var =
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned());
    for (name, value) in spec.environment() {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            sink.log(LogLine {
                source: LogSource::Executor,
                level: LogLevel::Warning,
                message: format!("input {name:?} cannot be an environment variable; skipped"),
            });
            continue;
        }
        if name == "PATH" {
            path_var = value;
        } else {
            command.env(name, value);
        }
    }
    let ctx_dir = ctx_command.directory().to_string_lossy().into_owned();
    command.env(
        "PATH",
        if path_var.is_empty() {
            ctx_dir
        } else {
            format!("{ctx_dir}:{path_var}")
        },
    );
    command.env("CTX_SOCKET_URL", &socket_url);
    command.current_dir(&cwd);
    command.stdin(Stdio::null());
    command.stdout(if spec.process.log_stdout {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    command.stderr(if spec.process.log_stderr {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    command.process_group(0);

    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let effects = handle.finish();
            return not_started(
                failed(format!("command: {display}, cannot start: {error}"), true),
                effects,
            );
        }
    };
    let pid = child.id().unwrap_or_default();
    let mut guard = GroupGuard {
        pid: i32::try_from(pid).ok().filter(|pid| *pid > 0),
    };
    sink.log(LogLine {
        source: LogSource::Executor,
        level: LogLevel::Info,
        message: format!("Process created, PID: {pid}"),
    });

    let stdout_tail = Arc::new(Mutex::new(Tail::default()));
    let stderr_tail = if spec.process.stderr_to_stdout {
        Arc::clone(&stdout_tail)
    } else {
        Arc::new(Mutex::new(Tail::default()))
    };
    let stderr_source = if spec.process.stderr_to_stdout {
        LogSource::Stdout
    } else {
        LogSource::Stderr
    };
    let mut readers = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        readers.push(tokio::spawn(pump(
            stdout,
            LogSource::Stdout,
            Arc::clone(&sink),
            Arc::clone(&stdout_tail),
        )));
    }
    if let Some(stderr) = child.stderr.take() {
        readers.push(tokio::spawn(pump(
            stderr,
            stderr_source,
            Arc::clone(&sink),
            Arc::clone(&stderr_tail),
        )));
    }

    let waited = match spec.timeout {
        Some(limit) => tokio::time::timeout(limit, child.wait()).await.ok(),
        None => Some(child.wait().await),
    };
    let timed_out = waited.is_none();
    let status = match waited {
        Some(status) => status.ok(),
        None => {
            guard.kill();
            child.wait().await.ok()
        }
    };
    // The group stays alive after a normal exit (scripts start daemons), so only wait a moment
    // for output that background children may keep open.
    let grace = tokio::time::sleep(OUTPUT_GRACE);
    tokio::pin!(grace);
    for reader in &mut readers {
        tokio::select! {
            _ = &mut *reader => {}
            _ = &mut grace => break,
        }
    }
    for reader in readers {
        reader.abort();
    }
    guard.pid = None;

    let exit_code = status.map(|status| {
        use std::os::unix::process::ExitStatusExt;
        status
            .code()
            .unwrap_or_else(|| -status.signal().unwrap_or(0))
    });
    sink.log(LogLine {
        source: LogSource::Executor,
        level: LogLevel::Info,
        message: format!(
            "Execution done (PID={}, return_code={}): {display}",
            pid,
            exit_code.map_or("None".to_owned(), |code| code.to_string())
        ),
    });
    let effects = handle.finish();
    let stdout = stdout_tail
        .lock()
        .map(|tail| tail.text())
        .unwrap_or_default();
    let stderr = if spec.process.stderr_to_stdout {
        String::new()
    } else {
        stderr_tail
            .lock()
            .map(|tail| tail.text())
            .unwrap_or_default()
    };
    let result = decide(
        spec, &display, timed_out, exit_code, &effects, &stdout, &stderr,
    );
    ScriptOutcome {
        result,
        effects,
        exit_code,
        duration: started.elapsed(),
    }
}

/// `script_runner`'s decision, in order: timeout, a second result request, a non-zero exit
/// without a stop request, the stop request, `ctx operation retry`, success.
fn decide(
    spec: &ScriptSpec,
    command: &str,
    timed_out: bool,
    exit_code: Option<i32>,
    effects: &OperationEffects,
    stdout: &str,
    stderr: &str,
) -> OperationResult {
    if timed_out {
        let seconds = spec.timeout.map_or(0.0, |limit| limit.as_secs_f64());
        return failed(
            format!("command: {command} timed out after {seconds} seconds and was killed"),
            spec.timeout_recoverable,
        );
    }
    if effects.illegal_second_result {
        return failed("ctx may only abort or return once".to_owned(), false);
    }
    if exit_code != Some(0) && effects.stop.is_none() {
        let mut message = format!(
            "command: {command}, exit_code: {}",
            exit_code.map_or("None".to_owned(), |code| code.to_string())
        );
        if !stdout.is_empty() {
            message.push_str(&format!(", stdout: {stdout}"));
        }
        if !stderr.is_empty() {
            message.push_str(&format!(", stderr: {stderr}"));
        }
        return failed(message, true);
    }
    match (&effects.stop, &effects.operation_retry) {
        (Some(StopRequest::Abort { message }), _) => {
            failed(message.clone().unwrap_or_else(|| "None".to_owned()), false)
        }
        (Some(StopRequest::Retry { message, interval }), _)
        | (None, Some(StopRequest::Retry { message, interval })) => OperationResult::Retry {
            message: message.clone(),
            interval: interval.and_then(|seconds| Duration::try_from_secs_f64(seconds).ok()),
        },
        _ => OperationResult::Succeeded {
            returns: effects.returns.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environment_follows_create_process_config() {
        let inputs = json!({
            "script_path": "s.sh", "process": {"env": {"EXTRA": [1, 2], "port": 9}},
            "port": 8080, "name": "web", "flag": true, "ratio": 1.0, "none": null, "map": {"a": "é"}
        });
        let spec = ScriptSpec::from_inputs(inputs.as_object().unwrap()).unwrap();
        let env: std::collections::HashMap<String, String> =
            spec.environment().into_iter().collect();
        assert_eq!(env["port"], "9");
        assert_eq!(env["name"], "web");
        assert_eq!(env["flag"], "true");
        assert_eq!(env["ratio"], "1.0");
        assert_eq!(env["none"], "None");
        assert_eq!(env["map"], r#"{"a": "\u00e9"}"#);
        assert_eq!(env["EXTRA"], "[1, 2]");
        assert!(!env.contains_key("script_path") && !env.contains_key("process"));
    }

    #[test]
    fn script_inputs_are_checked_like_the_reference() {
        assert!(matches!(
            ScriptSpec::from_inputs(&Map::new()),
            Err(ScriptError::MissingScript)
        ));
        let both = json!({"script_path": "a", "script_source": "b"});
        assert!(matches!(
            ScriptSpec::from_inputs(both.as_object().unwrap()),
            Err(ScriptError::BothScripts)
        ));
    }

    #[test]
    fn dedent_strips_the_common_indent() {
        assert_eq!(dedent("  a\n    b\n\n  c\n"), "a\n  b\n\nc\n");
    }
}
