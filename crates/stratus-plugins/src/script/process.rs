//! The script's process: environment, spawning in its own process group, timeout and kill,
//! output collection, and `script_runner`'s decision on the outcome.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::invocation::{invocation, Invocation};
use super::output::{pump, Tail};
use super::{failed, CtxCommand, OperationResult, ScriptOutcome, ScriptSpec};
use crate::context::{OperationContext, OperationEffects, StopRequest};
use crate::proxy::CtxProxy;
use crate::{LogLevel, LogLine, LogSink, LogSource};

/// Environment variables passed through from the manager's own environment; everything else
/// (database URLs, passwords) stays out of scripts.
const INHERITED_ENV: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SHELL",
];

/// How long output is still read after the script exits (background children may hold the
/// pipes open forever).
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

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

pub(super) async fn run_file(
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
