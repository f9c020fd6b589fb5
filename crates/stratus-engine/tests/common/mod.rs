//! Test helpers: a simulated runtime that performs commands, and graph constructors.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use serde_json::Value;
use stratus_engine::{
    build, Command, Deployment, Event, Execution, Filter, Graph, OperationTask, Progress, Status,
    Task, TaskId, TaskKind, Workflow,
};

/// Runs commands the way the runtime contract says: persist after each step, then dispatch.
pub struct Sim {
    pub exec: Execution,
    pub now: u64,
    /// Dispatched, not yet answered, in dispatch order.
    pub queue: VecDeque<TaskId>,
    pub runs: BTreeMap<TaskId, u32>,
    pub max_outstanding: usize,
    pub finished: Option<Status>,
    pub states: Vec<(String, String)>,
    pub events: Vec<String>,
    pub wake: Option<u64>,
    /// The committed progress after each step (JSON), as the runtime would persist it.
    pub persisted: String,
    pub log: Vec<Command>,
}

impl Sim {
    pub fn new(exec: Execution) -> Sim {
        let persisted = serde_json::to_string(exec.progress()).unwrap();
        Sim {
            exec,
            now: 1_000,
            queue: VecDeque::new(),
            runs: BTreeMap::new(),
            max_outstanding: 0,
            finished: None,
            states: Vec::new(),
            events: Vec::new(),
            wake: None,
            persisted,
            log: Vec::new(),
        }
    }

    pub fn step(&mut self, event: Event) {
        let commands = self.exec.step(event, self.now);
        // Commit point: the delta is applied to the persisted progress (through JSON, as a
        // store would) before any command takes effect.
        let delta: stratus_engine::ProgressDelta =
            serde_json::from_str(&serde_json::to_string(&self.exec.take_delta()).unwrap()).unwrap();
        let mut progress: Progress = serde_json::from_str(&self.persisted).unwrap();
        progress.apply(&delta).unwrap();
        self.persisted = serde_json::to_string(&progress).unwrap();
        assert_eq!(&progress, self.exec.progress(), "delta lost a change");
        for command in commands {
            self.log.push(command.clone());
            match command {
                Command::RunTask { id, .. } => {
                    *self.runs.entry(id).or_insert(0) += 1;
                    if !self.queue.contains(&id) {
                        self.queue.push_back(id);
                    }
                }
                Command::SetInstanceState { instance, state } => {
                    self.states.push((instance, state))
                }
                Command::Emit(e) => self.events.push(e.event_type),
                Command::ScheduleWake { at } => {
                    self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
                }
                Command::Abort { ids } => self.queue.retain(|q| !ids.contains(q)),
                Command::Finished(status) => self.finished = Some(status),
            }
        }
        self.max_outstanding = self.max_outstanding.max(self.queue.len());
    }

    /// Answers every dispatched task with success, oldest first, advancing time for retries.
    pub fn run_to_end(&mut self) -> Status {
        let mut guard = 0;
        while self.finished.is_none() {
            guard += 1;
            assert!(guard < 1_000_000, "no progress");
            if let Some(id) = self.queue.pop_front() {
                self.step(Event::TaskSucceeded {
                    id,
                    result: Value::Null,
                });
            } else if let Some(at) = self.wake.take() {
                self.now = self.now.max(at);
                self.step(Event::Tick);
            } else {
                panic!("stuck: nothing in flight, no wake-up, not finished");
            }
        }
        self.finished.unwrap()
    }

    pub fn resume_from(persisted: &str, graph: Graph, settings: stratus_engine::Settings) -> Sim {
        let progress: Progress = serde_json::from_str(persisted).unwrap();
        let mut sim = Sim::new(Execution::resume(graph, settings, progress));
        sim.step(Event::Resumed { force: false });
        sim
    }
}

pub fn data(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn reference_deployment(name: &str, state: &str) -> Deployment {
    let expected = data(name);
    let nodes = expected["deployment"]["nodes"].as_array().unwrap();
    let instances: Vec<Value> = expected["deployment"]["node_instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i["state"] = state.into();
            i
        })
        .collect();
    Deployment::from_json(nodes, &instances).unwrap()
}

pub fn install_graph(name: &str) -> Graph {
    build(
        &reference_deployment(name, "uninitialized"),
        &Workflow::Install(Filter::default()),
    )
    .unwrap()
}

pub fn op(name: &str, max_retries: Option<i64>, retry_interval_ms: Option<u64>) -> TaskKind {
    TaskKind::Operation(Box::new(OperationTask {
        node_instance_id: name.to_string(),
        node_id: name.to_string(),
        host_id: None,
        operation: "cloudify.interfaces.lifecycle.create".into(),
        plugin: "script".into(),
        implementation: "script_runner.tasks.run".into(),
        executor: None,
        inputs: Default::default(),
        has_intrinsic_functions: false,
        max_retries,
        retry_interval_ms,
        timeout_ms: None,
        timeout_recoverable: None,
        related: None,
    }))
}

/// A graph from (kind, deps) pairs.
pub fn graph(tasks: Vec<(TaskKind, Vec<TaskId>)>) -> Graph {
    Graph {
        workflow: "test".into(),
        tasks: tasks
            .into_iter()
            .map(|(kind, deps)| Task {
                kind,
                deps,
                ignore_failure: false,
            })
            .collect(),
    }
}

pub fn operations(graph: &Graph) -> Vec<TaskId> {
    (0..graph.len() as TaskId)
        .filter(|&i| graph.task(i).operation().is_some())
        .collect()
}
