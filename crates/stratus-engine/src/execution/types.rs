//! The execution's data: settings, the events it is fed, the commands it returns, and the
//! persisted `Progress` (per-task `TaskState`s) with its incremental `ProgressDelta`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{OperationTask, TaskId};

/// Milliseconds since an epoch the runtime chooses (wall clock, for event timestamps).
pub type Millis = u64;

/// Manager defaults and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Operations in flight at once (0: unlimited).
    pub max_in_flight: usize,
    /// Retries of an operation that does not set `max_retries` (-1: forever).
    pub default_max_retries: i64,
    /// Delay before a retry when the operation does not set `retry_interval`.
    pub default_retry_interval_ms: u64,
    /// After the first unignored failure, how long independent tasks may still run before
    /// the execution ends `failed` (the reference's `wait_after_fail`).
    pub wait_after_fail_ms: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            max_in_flight: 0,
            default_max_retries: 60,
            default_retry_interval_ms: 15_000,
            wait_after_fail_ms: 600_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelKind {
    /// Stop dispatching; end `cancelled` once in-flight tasks end.
    Cancel,
    /// End `cancelled` now; in-flight tasks are abandoned.
    ForceCancel,
    /// End `cancelled` now and ask the runtime to kill in-flight tasks.
    Kill,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    Started,
    TaskStarted {
        id: TaskId,
    },
    TaskSucceeded {
        id: TaskId,
        #[serde(default)]
        result: Value,
    },
    TaskFailed {
        id: TaskId,
        error: String,
        recoverable: bool,
        /// A retry delay the failure asked for, overriding the operation's interval.
        retry_after_ms: Option<u64>,
    },
    /// `ctx.operation.retry(...)`: counts against `max_retries` like a recoverable failure.
    TaskRetryRequested {
        id: TaskId,
        message: String,
        retry_after_ms: Option<u64>,
    },
    CancelRequested(CancelKind),
    /// Time passed (due retries, the failure grace period).
    Tick,
    /// The execution is resumed after a restart or by the user; `force` re-runs failed tasks.
    Resumed {
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Started,
    Cancelling,
    Terminated,
    Failed,
    Cancelled,
}

impl Status {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Terminated | Status::Failed | Status::Cancelled
        )
    }
}

/// An entry for the events log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmittedEvent {
    /// `workflow_started`, `sending_task`, `task_started`, `task_succeeded`, `task_failed`,
    /// `task_rescheduled`, `task_ignored`, `workflow_node_event`, `workflow_succeeded`,
    /// `workflow_failed`, `workflow_cancelled`.
    pub event_type: String,
    pub task: Option<TaskId>,
    pub node_instance_id: Option<String>,
    pub operation: Option<String>,
    pub message: String,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// Dispatch an operation (after committing the step).
    RunTask {
        id: TaskId,
        /// 1 for the first try, +1 per retry.
        attempt: u32,
        /// Resolved: the operation's or the manager default (-1: forever).
        max_retries: i64,
        retry_interval_ms: u64,
        redelivery: bool,
        task: Box<OperationTask>,
    },
    SetInstanceState {
        instance: String,
        state: String,
    },
    Emit(EmittedEvent),
    /// Feed `Tick` at `at` or later (a retry is due, or the failure grace period ends).
    ScheduleWake {
        at: Millis,
    },
    /// Kill these in-flight tasks (`kill` cancel).
    Abort {
        ids: Vec<TaskId>,
    },
    Finished(Status),
}

/// Serialized compactly (`p`, `s2`, `w2@15000`, `ok`, `ig`, `f`): a progress snapshot of a
/// 1,000-node install is a few bytes per task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum TaskState {
    Pending,
    /// Durably marked before dispatch; in flight.
    Sent {
        attempt: u32,
    },
    /// Failed or asked to retry; runs again at `at`.
    Waiting {
        attempt: u32,
        at: Millis,
    },
    Succeeded,
    /// Failed with the failure ignored: counts as done for its dependents.
    Ignored,
    Failed,
}

impl From<TaskState> for String {
    fn from(state: TaskState) -> String {
        match state {
            TaskState::Pending => "p".into(),
            TaskState::Sent { attempt } => format!("s{attempt}"),
            TaskState::Waiting { attempt, at } => format!("w{attempt}@{at}"),
            TaskState::Succeeded => "ok".into(),
            TaskState::Ignored => "ig".into(),
            TaskState::Failed => "f".into(),
        }
    }
}

impl TryFrom<String> for TaskState {
    type Error = String;

    fn try_from(text: String) -> Result<TaskState, String> {
        let bad = || format!("not a task state: {text:?}");
        Ok(match text.as_str() {
            "p" => TaskState::Pending,
            "ok" => TaskState::Succeeded,
            "ig" => TaskState::Ignored,
            "f" => TaskState::Failed,
            _ if text.starts_with('s') => TaskState::Sent {
                attempt: text[1..].parse().map_err(|_| bad())?,
            },
            _ if text.starts_with('w') => {
                let (attempt, at) = text[1..].split_once('@').ok_or_else(bad)?;
                TaskState::Waiting {
                    attempt: attempt.parse().map_err(|_| bad())?,
                    at: at.parse().map_err(|_| bad())?,
                }
            }
            _ => return Err(bad()),
        })
    }
}

impl TaskState {
    pub fn is_done(self) -> bool {
        matches!(self, TaskState::Succeeded | TaskState::Ignored)
    }
}

/// The persisted part of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub status: Status,
    pub tasks: Vec<TaskState>,
    pub first_error_at: Option<Millis>,
    pub error: Option<String>,
}

/// What changed in one or more steps: apply to the last committed `Progress` to get the new
/// one. Lets the runtime commit O(changes) per step instead of a whole snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressDelta {
    pub status: Status,
    pub first_error_at: Option<Millis>,
    pub error: Option<String>,
    pub tasks: Vec<(TaskId, TaskState)>,
}

impl Progress {
    /// Applies a delta taken with `Execution::take_delta`.
    pub fn apply(&mut self, delta: &ProgressDelta) -> Result<(), String> {
        let len = self.tasks.len();
        for &(id, state) in &delta.tasks {
            let slot = self
                .tasks
                .get_mut(id as usize)
                .ok_or_else(|| format!("delta names task {id}, progress has {len}"))?;
            *slot = state;
        }
        self.status = delta.status;
        self.first_error_at = delta.first_error_at;
        self.error = delta.error.clone();
        Ok(())
    }
}
