//! What Stratus can execute, decided before anything runs.
//!
//! The issue asks for a clear error "at deployment creation, not half way through an install":
//! the runtime checks every operation of a new deployment with `can_execute` and refuses the
//! deployment with the `Unsupported` errors. Keeping the list here, next to the executors,
//! means adding an executor and declaring it supported is one change.

use serde::{Deserialize, Serialize};

/// The executor that runs an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorKind {
    /// An operation without an implementation: completes at once.
    Noop,
    /// `script_runner.tasks.run` of the script plugin: `run_script`.
    Script,
}

/// An operation Stratus cannot execute.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("plugin '{plugin}' operation '{implementation}'{} cannot be executed by Stratus: {reason}", executor.as_deref().map(|executor| format!(" (executor {executor})")).unwrap_or_default())]
pub struct Unsupported {
    pub plugin: String,
    pub implementation: String,
    pub executor: Option<String>,
    pub reason: String,
}

/// The script plugin's name in Cloudify's types.yaml and its one operation task.
const SCRIPT_PLUGIN: &str = "script";
const SCRIPT_TASK: &str = "script_runner.tasks.run";

const SUPPORTED: &str =
    "Stratus executes empty operations and the script plugin's script_runner.tasks.run";

/// Which executor runs an operation, from the plan's `plugin`, `executor` and `operation`
/// (the implementation task) fields.
pub fn executor_for(
    plugin_name: &str,
    executor: Option<&str>,
    implementation: &str,
) -> Result<ExecutorKind, Unsupported> {
    let unsupported = |reason: String| Unsupported {
        plugin: plugin_name.to_owned(),
        implementation: implementation.to_owned(),
        executor: executor.map(str::to_owned),
        reason,
    };
    if implementation.trim().is_empty() {
        return Ok(ExecutorKind::Noop);
    }
    if plugin_name != SCRIPT_PLUGIN {
        return Err(unsupported(format!(
            "no executor for this plugin ({SUPPORTED})"
        )));
    }
    if implementation != SCRIPT_TASK {
        return Err(unsupported(format!(
            "the script plugin's only operation is {SCRIPT_TASK}"
        )));
    }
    match executor {
        // `auto` means "the host's agent if there is one": Stratus has no agents, so the
        // manager runs it, as for central_deployment_agent.
        None | Some("") | Some("central_deployment_agent") | Some("auto") => Ok(ExecutorKind::Script),
        Some("host_agent") => Err(unsupported(
            "host_agent operations run on a Cloudify agent inside the host VM; Stratus has no agents and runs scripts on the manager (central_deployment_agent)".to_owned(),
        )),
        Some(other) => Err(unsupported(format!("unknown executor '{other}'"))),
    }
}

/// `Ok` when Stratus can run the operation; the error names plugin, operation and reason.
pub fn can_execute(
    plugin_name: &str,
    executor: Option<&str>,
    implementation: &str,
) -> Result<(), Unsupported> {
    executor_for(plugin_name, executor, implementation).map(|_| ())
}

/// Runs an empty operation: it succeeds at once with no effects (Cloudify skips such
/// operations; Stratus still records them so the event log shows every step).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopExecutor;

impl NoopExecutor {
    pub fn run(&self) -> crate::ScriptOutcome {
        crate::ScriptOutcome {
            result: crate::OperationResult::Succeeded { returns: None },
            effects: crate::OperationEffects::default(),
            exit_code: None,
            duration: std::time::Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_operations() {
        assert_eq!(executor_for("", None, ""), Ok(ExecutorKind::Noop));
        assert_eq!(
            executor_for(
                "script",
                Some("central_deployment_agent"),
                "script_runner.tasks.run"
            ),
            Ok(ExecutorKind::Script)
        );
        let refused = executor_for(
            "k8s",
            Some("central_deployment_agent"),
            "k8splugin.create_and_start_container",
        );
        let Err(error) = refused else {
            panic!("k8s is not supported yet")
        };
        assert!(
            error
                .to_string()
                .contains("plugin 'k8s' operation 'k8splugin.create_and_start_container'"),
            "{error}"
        );
        assert!(can_execute("script", Some("host_agent"), "script_runner.tasks.run").is_err());
    }
}
