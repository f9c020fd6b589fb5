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

mod dispatch;
mod machine;
mod types;

use std::collections::BTreeSet;

use crate::graph::{Graph, TaskId};

pub use types::{
    CancelKind, Command, EmittedEvent, Event, Millis, Progress, ProgressDelta, Settings, Status,
    TaskState,
};

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
