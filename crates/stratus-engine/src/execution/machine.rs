//! The step machine: building an execution (`new`, `resume` with derived indexes), its
//! accessors and `take_delta`, and `step`, which turns one event into commands.

use std::collections::BTreeSet;

use super::{
    CancelKind, Command, EmittedEvent, Event, Execution, Millis, Progress, ProgressDelta, Settings,
    Status, TaskState,
};
use crate::graph::{Graph, TaskId, TaskKind};

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

    pub(super) fn set(&mut self, id: TaskId, state: TaskState) {
        self.progress.tasks[id as usize] = state;
        self.dirty.push(id);
    }

    pub(super) fn emit(
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

    pub(super) fn describe(&self, id: TaskId) -> String {
        match &self.graph.task(id).kind {
            TaskKind::Operation(op) => format!("{} on {}", op.operation, op.node_instance_id),
            other => format!("{other:?}"),
        }
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
}
