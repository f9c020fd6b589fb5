//! The execution state machine: `step(event, now) -> commands`.
//!
//! Shaped after kube-rs' `watcher` and mini-redis' `frame`: all decisions live here, the
//! runtime only performs commands and feeds back what happened, and time is an argument.
//! The graph is immutable and stored once; the mutable part (`Progress`) is small, serde, and
//! is what the runtime persists. Ordering is deterministic: ready tasks are dispatched lowest
//! id first, retries by due time then id.
//!
//! # Durability contract (what the runtime commits, and when)
//! 1. At creation: the `Graph` and the initial `Progress`, with the execution record.
//! 2. After every `step`: the new `Progress`, or better `take_delta()` (O(changes)), together with
//!    the effects of the `SetInstanceState` and `Emit` commands of that step, in ONE atomic
//!    batch. Only after that batch is committed may it act on `RunTask` (dispatch),
//!    `Abort`, `ScheduleWake` and `Finished`. Hence a task is durably `Sent` before it is
//!    dispatched, and a state change or event is never visible without the progress that
//!    produced it (and vice versa).
//! 3. A task result is fed to `step` and committed like any other event. A result that
//!    arrives for a task not `Sent` (duplicate, stale after resume) is ignored.
//! 4. After a crash: load the graph and the last committed `Progress`, call
//!    `Execution::resume`, then `step(Event::Resumed, now)`. Tasks that were `Sent` are
//!    dispatched again (`RunTask.redelivery = true`, same attempt number); tasks that had
//!    succeeded, failed or been ignored are never dispatched again. An operation is thus run
//!    at most once when it completed before the crash and at least once when it was in
//!    flight. `Resumed` also repeats the `ScheduleWake` of the earliest pending retry
//!    (wake-ups need not be persisted). Declaring an operation idempotent changes nothing here: the rule is the same
//!    for all, and `redelivery` lets a non-idempotent executor check before acting again.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{Graph, OperationTask, TaskId, TaskKind};

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

/// A running execution: the graph, its progress and indexes derived from both.
#[derive(Debug, Clone)]
pub struct Execution {
    graph: Graph,
    settings: Settings,
    progress: Progress,
    dependents: Vec<Vec<TaskId>>,
    /// Unfinished dependencies per task.
    waiting_on: Vec<u32>,
    /// Ready tasks without an effect outside the state (set-state, events, markers).
    ready: BTreeSet<TaskId>,
    /// Ready operations waiting for a dispatch slot.
    ready_ops: BTreeSet<TaskId>,
    retries: BTreeSet<(Millis, TaskId)>,
    in_flight: BTreeSet<TaskId>,
    done: usize,
    dirty: Vec<TaskId>,
}

impl Execution {
    pub fn new(graph: Graph, settings: Settings) -> Execution {
        let progress = Progress {
            status: Status::Pending,
            tasks: vec![TaskState::Pending; graph.len()],
            first_error_at: None,
            error: None,
        };
        Execution::resume(graph, settings, progress)
    }

    /// Rebuilds an execution from its graph and persisted progress (indexes are derived).
    pub fn resume(graph: Graph, settings: Settings, progress: Progress) -> Execution {
        let dependents = graph.dependents();
        let mut waiting_on = vec![0u32; graph.len()];
        let mut ready = BTreeSet::new();
        let mut ready_ops = BTreeSet::new();
        let mut retries = BTreeSet::new();
        let mut in_flight = BTreeSet::new();
        let mut done = 0;
        for (id, task) in graph.tasks.iter().enumerate() {
            waiting_on[id] = task
                .deps
                .iter()
                .filter(|&&d| !progress.tasks[d as usize].is_done())
                .count() as u32;
        }
        for (id, state) in progress.tasks.iter().enumerate() {
            let id = id as TaskId;
            match *state {
                TaskState::Pending if waiting_on[id as usize] == 0 => {
                    if graph.task(id).operation().is_some() {
                        ready_ops.insert(id);
                    } else {
                        ready.insert(id);
                    }
                }
                TaskState::Sent { .. } => {
                    in_flight.insert(id);
                }
                TaskState::Waiting { at, .. } => {
                    retries.insert((at, id));
                }
                s if s.is_done() => done += 1,
                _ => {}
            }
        }
        Execution {
            graph,
            settings,
            progress,
            dependents,
            waiting_on,
            ready,
            ready_ops,
            retries,
            in_flight,
            done,
            dirty: Vec::new(),
        }
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    pub fn status(&self) -> Status {
        self.progress.status
    }

    pub fn in_flight(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.in_flight.iter().copied()
    }

    /// What changed since the last call (for incremental persistence; see the contract).
    pub fn take_delta(&mut self) -> ProgressDelta {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        ProgressDelta {
            status: self.progress.status,
            first_error_at: self.progress.first_error_at,
            error: self.progress.error.clone(),
            tasks: dirty
                .into_iter()
                .map(|id| (id, self.progress.tasks[id as usize]))
                .collect(),
        }
    }

    fn set(&mut self, id: TaskId, state: TaskState) {
        self.progress.tasks[id as usize] = state;
        self.dirty.push(id);
    }

    fn emit(
        &self,
        out: &mut Vec<Command>,
        event_type: &str,
        task: Option<TaskId>,
        message: String,
        now: Millis,
    ) {
        let (instance, operation) = match task.map(|t| &self.graph.task(t).kind) {
            Some(TaskKind::Operation(op)) => (
                Some(op.node_instance_id.clone()),
                Some(op.operation.clone()),
            ),
            Some(TaskKind::Event { instance, .. }) => (instance.clone(), None),
            Some(TaskKind::SetState { instance, .. }) => (Some(instance.clone()), None),
            _ => (None, None),
        };
        out.push(Command::Emit(EmittedEvent {
            event_type: event_type.to_string(),
            task,
            node_instance_id: instance,
            operation,
            message,
            at: now,
        }));
    }

    fn describe(&self, id: TaskId) -> String {
        match &self.graph.task(id).kind {
            TaskKind::Operation(op) => format!("{} on {}", op.operation, op.node_instance_id),
            other => format!("{other:?}"),
        }
    }

    fn retry_policy(&self, op: &OperationTask) -> (i64, u64) {
        (
            op.max_retries.unwrap_or(self.settings.default_max_retries),
            op.retry_interval_ms
                .unwrap_or(self.settings.default_retry_interval_ms),
        )
    }

    /// Advances the execution by one event. Never panics on any event sequence.
    pub fn step(&mut self, event: Event, now: Millis) -> Vec<Command> {
        let mut out = Vec::new();
        if self.progress.status.is_final() && !matches!(event, Event::Resumed { .. }) {
            return out;
        }
        match event {
            Event::Started => {
                if self.progress.status != Status::Pending {
                    return out;
                }
                self.progress.status = Status::Started;
                self.emit(
                    &mut out,
                    "workflow_started",
                    None,
                    format!("Starting '{}' workflow execution", self.graph.workflow),
                    now,
                );
            }
            Event::TaskStarted { id } => {
                if matches!(self.state(id), Some(TaskState::Sent { .. })) {
                    self.emit(
                        &mut out,
                        "task_started",
                        Some(id),
                        format!("Task started '{}'", self.describe(id)),
                        now,
                    );
                }
                return out;
            }
            Event::TaskSucceeded { id, .. } => {
                if !matches!(self.state(id), Some(TaskState::Sent { .. })) {
                    return out;
                }
                self.in_flight.remove(&id);
                self.emit(
                    &mut out,
                    "task_succeeded",
                    Some(id),
                    format!("Task succeeded '{}'", self.describe(id)),
                    now,
                );
                self.complete(id, TaskState::Succeeded);
            }
            Event::TaskFailed {
                id,
                error,
                recoverable,
                retry_after_ms,
            } => {
                let Some(TaskState::Sent { attempt }) = self.state(id) else {
                    return out;
                };
                self.in_flight.remove(&id);
                self.fail_or_retry(
                    id,
                    attempt,
                    error,
                    recoverable,
                    retry_after_ms,
                    false,
                    now,
                    &mut out,
                );
            }
            Event::TaskRetryRequested {
                id,
                message,
                retry_after_ms,
            } => {
                let Some(TaskState::Sent { attempt }) = self.state(id) else {
                    return out;
                };
                self.in_flight.remove(&id);
                self.fail_or_retry(
                    id,
                    attempt,
                    message,
                    true,
                    retry_after_ms,
                    true,
                    now,
                    &mut out,
                );
            }
            Event::CancelRequested(kind) => match kind {
                CancelKind::Cancel => {
                    if self.progress.status == Status::Started
                        || self.progress.status == Status::Pending
                    {
                        self.progress.status = Status::Cancelling;
                    }
                }
                CancelKind::ForceCancel | CancelKind::Kill => {
                    if kind == CancelKind::Kill && !self.in_flight.is_empty() {
                        out.push(Command::Abort {
                            ids: self.in_flight.iter().copied().collect(),
                        });
                    }
                    self.finish(Status::Cancelled, now, &mut out);
                    return out;
                }
            },
            Event::Tick => {}
            Event::Resumed { force } => {
                if self.progress.status == Status::Terminated {
                    return out;
                }
                if force {
                    let failed: Vec<TaskId> = (0..self.graph.len() as TaskId)
                        .filter(|&i| self.progress.tasks[i as usize] == TaskState::Failed)
                        .collect();
                    for id in failed {
                        self.set(id, TaskState::Pending);
                        if self.waiting_on[id as usize] == 0 {
                            self.make_ready(id);
                        }
                    }
                }
                if self.progress.status.is_final() && (!force && self.progress.error.is_some()) {
                    // A failed execution resumes only with force (failed tasks stay failed).
                    return out;
                }
                self.progress.status = Status::Started;
                self.progress.error = None;
                self.progress.first_error_at = None;
                self.emit(
                    &mut out,
                    "workflow_started",
                    None,
                    format!("Resuming '{}' workflow execution", self.graph.workflow),
                    now,
                );
                let sent: Vec<(TaskId, u32)> = self
                    .in_flight
                    .iter()
                    .filter_map(|&id| match self.progress.tasks[id as usize] {
                        TaskState::Sent { attempt } => Some((id, attempt)),
                        _ => None,
                    })
                    .collect();
                for (id, attempt) in sent {
                    self.run_command(id, attempt, true, now, &mut out);
                }
                // Wake-ups are not persisted: ask again for the earliest pending retry.
                if let Some(&(at, _)) = self.retries.iter().next() {
                    out.push(Command::ScheduleWake { at });
                }
            }
        }
        self.advance(now, &mut out);
        out
    }

    fn state(&self, id: TaskId) -> Option<TaskState> {
        self.progress.tasks.get(id as usize).copied()
    }

    #[allow(clippy::too_many_arguments)]
    fn fail_or_retry(
        &mut self,
        id: TaskId,
        attempt: u32,
        error: String,
        recoverable: bool,
        retry_after_ms: Option<u64>,
        requested: bool,
        now: Millis,
        out: &mut Vec<Command>,
    ) {
        let Some(op) = self.graph.task(id).operation() else {
            return;
        };
        let (max_retries, interval) = self.retry_policy(op);
        let retries_done = i64::from(attempt) - 1;
        let may_retry = recoverable && (max_retries < 0 || retries_done < max_retries);
        if may_retry && self.progress.status == Status::Started {
            let at = now.saturating_add(retry_after_ms.unwrap_or(interval));
            let kind = if requested {
                "task_rescheduled"
            } else {
                "task_failed"
            };
            self.emit(
                out,
                kind,
                Some(id),
                format!(
                    "Task {} '{}' [retry {}/{}]: {error}",
                    if requested { "rescheduled" } else { "failed" },
                    self.describe(id),
                    attempt,
                    max_retries
                ),
                now,
            );
            self.set(id, TaskState::Waiting { attempt, at });
            self.retries.insert((at, id));
            out.push(Command::ScheduleWake { at });
            return;
        }
        self.emit(
            out,
            "task_failed",
            Some(id),
            format!("Task failed '{}': {error}", self.describe(id)),
            now,
        );
        if self.graph.task(id).ignore_failure {
            self.emit(
                out,
                "task_ignored",
                Some(id),
                format!("Ignoring task {} failure", self.describe(id)),
                now,
            );
            self.complete(id, TaskState::Ignored);
        } else {
            self.set(id, TaskState::Failed);
            if self.progress.error.is_none() {
                self.progress.error = Some(format!("{}: {error}", self.describe(id)));
                self.progress.first_error_at = Some(now);
                out.push(Command::ScheduleWake {
                    at: now.saturating_add(self.settings.wait_after_fail_ms),
                });
            }
        }
    }

    fn make_ready(&mut self, id: TaskId) {
        if self.graph.task(id).operation().is_some() {
            self.ready_ops.insert(id);
        } else {
            self.ready.insert(id);
        }
    }

    /// Marks a task done and releases its dependents.
    fn complete(&mut self, id: TaskId, state: TaskState) {
        self.set(id, state);
        self.done += 1;
        for i in 0..self.dependents[id as usize].len() {
            let dependent = self.dependents[id as usize][i];
            let waiting = &mut self.waiting_on[dependent as usize];
            *waiting = waiting.saturating_sub(1);
            if *waiting == 0 && self.progress.tasks[dependent as usize] == TaskState::Pending {
                self.make_ready(dependent);
            }
        }
    }

    fn run_command(
        &self,
        id: TaskId,
        attempt: u32,
        redelivery: bool,
        now: Millis,
        out: &mut Vec<Command>,
    ) {
        let Some(op) = self.graph.task(id).operation() else {
            return;
        };
        let (max_retries, retry_interval_ms) = self.retry_policy(op);
        self.emit(
            out,
            "sending_task",
            Some(id),
            format!("Sending task '{}'", self.describe(id)),
            now,
        );
        out.push(Command::RunTask {
            id,
            attempt,
            max_retries,
            retry_interval_ms,
            redelivery,
            task: Box::new(op.clone()),
        });
    }

    /// Moves due retries to ready, runs instant tasks, dispatches operations within the
    /// concurrency limit, and decides whether the execution has ended.
    fn advance(&mut self, now: Millis, out: &mut Vec<Command>) {
        let active = self.progress.status == Status::Started;
        if active {
            while let Some(&(at, id)) = self.retries.iter().next() {
                if at > now {
                    break;
                }
                self.retries.remove(&(at, id));
                if let TaskState::Waiting { attempt, .. } = self.progress.tasks[id as usize] {
                    self.set(
                        id,
                        TaskState::Sent {
                            attempt: attempt + 1,
                        },
                    );
                    self.in_flight.insert(id);
                    self.run_command(id, attempt + 1, false, now, out);
                }
            }
            let limit = if self.settings.max_in_flight == 0 {
                usize::MAX
            } else {
                self.settings.max_in_flight
            };
            // Instant tasks first (they may release more instant tasks), lowest id first.
            while let Some(id) = self.ready.pop_first() {
                if self.progress.tasks[id as usize] != TaskState::Pending {
                    continue;
                }
                match &self.graph.task(id).kind {
                    TaskKind::SetState { instance, state } => {
                        out.push(Command::SetInstanceState {
                            instance: instance.clone(),
                            state: state.clone(),
                        });
                        self.complete(id, TaskState::Succeeded);
                    }
                    TaskKind::Event { message, .. } => {
                        let message = message.clone();
                        self.emit(out, "workflow_node_event", Some(id), message, now);
                        self.complete(id, TaskState::Succeeded);
                    }
                    TaskKind::Marker { .. } => self.complete(id, TaskState::Succeeded),
                    TaskKind::Operation(_) => {
                        self.ready_ops.insert(id);
                    }
                }
            }
            // Then operations, lowest id first, while slots are free.
            while self.in_flight.len() < limit {
                let Some(id) = self.ready_ops.pop_first() else {
                    break;
                };
                if self.progress.tasks[id as usize] != TaskState::Pending {
                    continue;
                }
                self.set(id, TaskState::Sent { attempt: 1 });
                self.in_flight.insert(id);
                self.run_command(id, 1, false, now, out);
            }
        }
        // Termination.
        match self.progress.status {
            Status::Cancelling if self.in_flight.is_empty() => {
                self.finish(Status::Cancelled, now, out)
            }
            Status::Started => {
                if self.done == self.graph.len() {
                    self.finish(Status::Terminated, now, out);
                } else if let Some(first) = self.progress.first_error_at {
                    let idle = self.in_flight.is_empty()
                        && self.retries.is_empty()
                        && self.ready.is_empty()
                        && self.ready_ops.is_empty();
                    if idle || now >= first.saturating_add(self.settings.wait_after_fail_ms) {
                        self.finish(Status::Failed, now, out);
                    }
                } else if self.in_flight.is_empty()
                    && self.retries.is_empty()
                    && self.ready.is_empty()
                    && self.ready_ops.is_empty()
                {
                    // Unreachable for a valid (acyclic) graph: nothing runs and nothing can.
                    self.progress.error = Some("no task can run: dependency cycle".into());
                    self.finish(Status::Failed, now, out);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, status: Status, now: Millis, out: &mut Vec<Command>) {
        self.progress.status = status;
        let (kind, message) = match status {
            Status::Terminated => (
                "workflow_succeeded",
                format!("'{}' workflow execution succeeded", self.graph.workflow),
            ),
            Status::Cancelled => (
                "workflow_cancelled",
                format!("'{}' workflow execution cancelled", self.graph.workflow),
            ),
            _ => (
                "workflow_failed",
                format!(
                    "'{}' workflow execution failed: {}",
                    self.graph.workflow,
                    self.progress.error.as_deref().unwrap_or("")
                ),
            ),
        };
        self.emit(out, kind, None, message, now);
        out.push(Command::Finished(status));
    }
}
