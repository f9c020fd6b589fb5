//! Retry and dispatch: the retry policy, failure handling (retry, ignore or fail), releasing
//! dependents, dispatching ready tasks within the concurrency limit, and termination.

use super::{Command, Execution, Millis, Status, TaskState};
use crate::graph::{OperationTask, TaskId, TaskKind};

impl Execution {
    fn retry_policy(&self, op: &OperationTask) -> (i64, u64) {
        (
            op.max_retries.unwrap_or(self.settings.default_max_retries),
            op.retry_interval_ms
                .unwrap_or(self.settings.default_retry_interval_ms),
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn fail_or_retry(
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

    pub(super) fn make_ready(&mut self, id: TaskId) {
        if self.graph.task(id).operation().is_some() {
            self.ready_ops.insert(id);
        } else {
            self.ready.insert(id);
        }
    }

    /// Marks a task done and releases its dependents.
    pub(super) fn complete(&mut self, id: TaskId, state: TaskState) {
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

    pub(super) fn run_command(
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
    pub(super) fn advance(&mut self, now: Millis, out: &mut Vec<Command>) {
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

    pub(super) fn finish(&mut self, status: Status, now: Millis, out: &mut Vec<Command>) {
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
