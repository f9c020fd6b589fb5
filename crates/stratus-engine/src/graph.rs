//! The task graph: a flat list of tasks, each with the tasks it waits for.
//!
//! The reference nests subgraphs; here a subgraph is two `Marker` tasks (its start and its
//! end) so that "instance A waits for instance B" is one edge however long B's sequence is,
//! and the graph stays a plain DAG of ids that serializes compactly and walks in O(edges).
//! Task ids are positions, assigned in construction order, which is deterministic.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub type TaskId = u32;

/// Which side of a relationship an operation runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Source,
    Target,
}

/// The other instance of a relationship operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Related {
    pub node_instance_id: String,
    pub node_id: String,
    /// `Source`: the task runs on the relationship's source (its `related` is the target).
    pub side: Side,
}

/// Everything an executor needs to run one operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationTask {
    pub node_instance_id: String,
    pub node_id: String,
    pub host_id: Option<String>,
    /// The interface operation name, e.g. `cloudify.interfaces.lifecycle.create`.
    pub operation: String,
    pub plugin: String,
    /// The plugin task, e.g. `script_runner.tasks.run`.
    pub implementation: String,
    pub executor: Option<String>,
    /// Operation inputs merged with the workflow's kwargs.
    pub inputs: Map<String, Value>,
    pub has_intrinsic_functions: bool,
    /// From the operation; `None` means the manager default (see `Settings`).
    pub max_retries: Option<i64>,
    /// Milliseconds; `None` means the manager default.
    pub retry_interval_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub timeout_recoverable: Option<bool>,
    pub related: Option<Related>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TaskKind {
    Operation(Box<OperationTask>),
    /// A node instance state change, committed by the runtime with the step's state.
    SetState {
        instance: String,
        state: String,
    },
    /// A workflow_node event for the events log.
    Event {
        instance: Option<String>,
        message: String,
    },
    /// A subgraph boundary or barrier: no effect, completes as soon as it is ready.
    Marker {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub kind: TaskKind,
    /// Tasks that must end (succeed, or fail with the failure ignored) before this one starts.
    pub deps: Vec<TaskId>,
    /// A failure of this task is reported and then treated as success (uninstall
    /// `ignore_failure`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_failure: bool,
}

impl Task {
    pub fn operation(&self) -> Option<&OperationTask> {
        match &self.kind {
            TaskKind::Operation(op) => Some(op),
            _ => None,
        }
    }

    /// A stable, human-readable key: `INSTANCE OPERATION [source|target:OTHER]`,
    /// `INSTANCE set_state:STATE`, `event:…`, `marker:…` (the oracle's format).
    pub fn key(&self) -> String {
        match &self.kind {
            TaskKind::Operation(op) => match &op.related {
                None => format!("{} {}", op.node_instance_id, op.operation),
                Some(r) => format!(
                    "{} {} {}:{}",
                    op.node_instance_id,
                    op.operation,
                    match r.side {
                        Side::Source => "source",
                        Side::Target => "target",
                    },
                    r.node_instance_id
                ),
            },
            TaskKind::SetState { instance, state } => format!("{instance} set_state:{state}"),
            TaskKind::Event { instance, message } => {
                format!("event:{} {message}", instance.as_deref().unwrap_or("-"))
            }
            TaskKind::Marker { name } => format!("marker:{name}"),
        }
    }
}

/// A workflow's tasks. Immutable once built; the execution state refers to tasks by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    pub workflow: String,
    pub tasks: Vec<Task>,
}

impl Graph {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    pub fn task(&self, id: TaskId) -> &Task {
        &self.tasks[id as usize]
    }

    /// Dependents of every task (the reverse edges), deduplicated.
    pub fn dependents(&self) -> Vec<Vec<TaskId>> {
        let mut out = vec![Vec::new(); self.tasks.len()];
        for (id, task) in self.tasks.iter().enumerate() {
            for &dep in &task.deps {
                out[dep as usize].push(id as TaskId);
            }
        }
        out
    }

    /// Checks that every dependency names an existing task and that there is no cycle.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.tasks.len();
        let mut indegree = vec![0usize; n];
        for (id, task) in self.tasks.iter().enumerate() {
            for &dep in &task.deps {
                if dep as usize >= n {
                    return Err(format!("task {id} depends on missing task {dep}"));
                }
                indegree[id] += 1;
            }
        }
        let dependents = self.dependents();
        let mut stack: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut seen = 0;
        while let Some(i) = stack.pop() {
            seen += 1;
            for &d in &dependents[i] {
                indegree[d as usize] -= 1;
                if indegree[d as usize] == 0 {
                    stack.push(d as usize);
                }
            }
        }
        if seen == n {
            Ok(())
        } else {
            Err(format!("{} tasks are on a dependency cycle", n - seen))
        }
    }
}

/// Builds graphs; `Sequence` mirrors the reference's `TaskSequence` and `forkjoin`.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    pub tasks: Vec<Task>,
}

impl Builder {
    pub fn add(&mut self, kind: TaskKind, deps: Vec<TaskId>) -> TaskId {
        let id = self.tasks.len() as TaskId;
        self.tasks.push(Task {
            kind,
            deps,
            ignore_failure: false,
        });
        id
    }

    pub fn marker(&mut self, name: String) -> TaskId {
        self.add(TaskKind::Marker { name }, Vec::new())
    }

    /// `task` waits for `on`.
    pub fn depend(&mut self, task: TaskId, on: TaskId) {
        if task == on {
            return;
        }
        let deps = &mut self.tasks[task as usize].deps;
        if !deps.contains(&on) {
            deps.push(on);
        }
    }

    pub fn finish(self, workflow: &str) -> Graph {
        Graph {
            workflow: workflow.to_string(),
            tasks: self.tasks,
        }
    }
}

/// A subgraph: everything in it starts after `start`; `end` waits for all of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subgraph {
    pub start: TaskId,
    pub end: TaskId,
}

/// One element of a sequence: a single task, a fork-join of tasks, or an inlined
/// sequence (the reference's nested relationship subgraphs).
#[derive(Debug, Clone)]
pub(crate) enum Step {
    One(TaskKind),
    Fork(Vec<TaskKind>),
    Nested(Vec<Step>),
}

impl Step {
    /// Appends the step after `last`; returns the new tail and the ids created per step.
    pub fn append(
        self,
        builder: &mut Builder,
        last: Vec<TaskId>,
        created: &mut Vec<Vec<TaskId>>,
    ) -> Vec<TaskId> {
        match self {
            Step::One(kind) => {
                let id = builder.add(kind, last);
                created.push(vec![id]);
                vec![id]
            }
            Step::Fork(kinds) => {
                if kinds.is_empty() {
                    return last;
                }
                let ids: Vec<TaskId> = kinds
                    .into_iter()
                    .map(|kind| builder.add(kind, last.clone()))
                    .collect();
                created.push(ids.clone());
                ids
            }
            Step::Nested(steps) => steps
                .into_iter()
                .fold(last, |last, step| step.append(builder, last, created)),
        }
    }
}

impl Subgraph {
    pub fn new(builder: &mut Builder, name: &str) -> Subgraph {
        let start = builder.marker(format!("{name}:start"));
        let end = builder.add(
            TaskKind::Marker {
                name: format!("{name}:end"),
            },
            vec![start],
        );
        Subgraph { start, end }
    }

    /// Fills the subgraph with a sequence; returns the ids created per step, in order.
    pub fn sequence(&self, builder: &mut Builder, steps: Vec<Step>) -> Vec<Vec<TaskId>> {
        let mut created = Vec::new();
        let last = steps.into_iter().fold(vec![self.start], |last, step| {
            step.append(builder, last, &mut created)
        });
        for id in last {
            builder.depend(self.end, id);
        }
        created
    }
}
