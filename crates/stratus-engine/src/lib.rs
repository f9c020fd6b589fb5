//! Stratus's workflow engine, the pure half: workflow graphs built from a deployment, and the
//! execution state machine that walks them. The runtime (tokio workers, executors, the
//! store) performs the commands this crate returns and feeds back what happened.
//!
//! ```text
//! nodes + node instances ──model──▶ Deployment ──workflows::build──▶ Graph
//! Graph + Settings ──Execution::new──▶ Execution ──step(event, now)──▶ Vec<Command>
//! ```
//!
//! *Invariants:*
//! - No I/O, no clock, no threads, no randomness: time arrives as `now`, new instance ids from
//!   a caller-supplied source. The same inputs give the same graph and the same commands.
//! - Graphs follow the reference (cloudify-common 7.0.5 `lifecycle.py` / `workflows.py`): the
//!   set of operation and set-state tasks and their partial order equal the reference's for
//!   install and uninstall on every blueprint in `tests/data`, and for the other workflows listed
//!   in its `*.workflows.json` (`tests/reference_order.rs`).
//! - Empty or absent operations produce no task; state changes are `SetState` tasks.
//! - `step` never panics, ignores results for tasks not in flight, and never dispatches a task
//!   that succeeded, failed or was ignored — also across `resume` (tested at every prefix of
//!   event sequences in `tests/machine.rs`).
//! - A task is dispatched only after all its dependencies succeeded (or failed ignored); on
//!   an acyclic graph with successful tasks every task runs exactly once and the execution
//!   terminates (`tests/dag.rs`).
//! - At most `Settings::max_in_flight` operations are in flight.
//! - The durability contract is in [`execution`]'s docs.

pub mod execution;
pub mod graph;
pub mod model;
mod model_text;
pub mod workflows;

pub use execution::{
    CancelKind, Command, EmittedEvent, Event, Execution, Millis, Progress, ProgressDelta, Settings,
    Status, TaskState,
};
pub use graph::{Graph, OperationTask, Related, Side, Task, TaskId, TaskKind};
pub use model::{Deployment, ModelError, Node, NodeInstance};
pub use workflows::{
    build, plan_scale, ExecuteOperation, Filter, ScaleParams, ScalePlan, Workflow, WorkflowError,
};
