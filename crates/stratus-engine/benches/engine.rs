//! Engine overhead: build the install graph of a generated deployment and run the state
//! machine to completion with instant task results (every dispatched task succeeds at once,
//! oldest first, concurrency limit 8), serializing each step's `ProgressDelta` as a runtime
//! would commit it ("run ms" includes that). Prints a table.
//!
//!     CARGO_TARGET_DIR=/work/target-engine cargo bench -p stratus-engine --bench engine
//!
//! The generated deployment: N nodes with 3 lifecycle operations each (create, configure,
//! start — and stop, delete for uninstall), one instance each, node i depends on node i/2
//! (a binary tree: depth log N, wide fan-out) and every 10th node is contained in its parent.

use std::time::Instant;

use serde_json::{json, Value};
use stratus_engine::{
    build, Command, Deployment, Event, Execution, Filter, Progress, Settings, Status, Workflow,
};

fn deployment(n: usize, state: &str) -> (Vec<Value>, Vec<Value>) {
    let op = |name: &str| {
        json!({"operation": "script_runner.tasks.run", "plugin": "script",
        "inputs": {"script_path": format!("scripts/{name}.sh")}, "executor": "auto",
        "max_retries": null, "retry_interval": null, "timeout": null})
    };
    let mut nodes = Vec::with_capacity(n);
    let mut instances = Vec::with_capacity(n);
    for i in 0..n {
        let mut relationships = Vec::new();
        let mut rel_instances = Vec::new();
        if i > 0 {
            let parent = i / 2;
            let (ty, hierarchy) = if i % 10 == 0 {
                (
                    "cloudify.relationships.contained_in",
                    json!([
                        "cloudify.relationships.depends_on",
                        "cloudify.relationships.contained_in"
                    ]),
                )
            } else {
                (
                    "cloudify.relationships.depends_on",
                    json!(["cloudify.relationships.depends_on"]),
                )
            };
            relationships.push(json!({"type": ty, "type_hierarchy": hierarchy, "target_id": format!("node{parent}"),
                "properties": {"connection_type": "all_to_all"}, "source_operations": {}, "target_operations": {}}));
            rel_instances.push(json!({"type": ty, "target_name": format!("node{parent}"), "target_id": format!("node{parent}_x")}));
        }
        nodes.push(
            json!({"id": format!("node{i}"), "type_hierarchy": ["cloudify.nodes.Root"],
            "operations": {
                "cloudify.interfaces.lifecycle.create": op("create"),
                "cloudify.interfaces.lifecycle.configure": op("configure"),
                "cloudify.interfaces.lifecycle.start": op("start"),
                "cloudify.interfaces.lifecycle.stop": op("stop"),
                "cloudify.interfaces.lifecycle.delete": op("delete"),
            },
            "relationships": relationships, "properties": {}}),
        );
        instances.push(
            json!({"id": format!("node{i}_x"), "node_id": format!("node{i}"), "state": state,
            "relationships": rel_instances}),
        );
    }
    (nodes, instances)
}

struct Row {
    parse_ms: f64,
    build_ms: f64,
    run_ms: f64,
    tasks: usize,
    operations: usize,
    snapshot_kib: usize,
    delta_kib: usize,
}

fn measure(n: usize, install: bool) -> Row {
    let (nodes, instances) = deployment(n, if install { "uninitialized" } else { "started" });
    let t = Instant::now();
    let deployment = Deployment::from_json(&nodes, &instances).unwrap();
    let parse_ms = t.elapsed().as_secs_f64() * 1e3;
    let workflow = if install {
        Workflow::Install(Filter::default())
    } else {
        Workflow::Uninstall {
            filter: Filter::default(),
            ignore_failure: false,
        }
    };
    let t = Instant::now();
    let graph = build(&deployment, &workflow).unwrap();
    let build_ms = t.elapsed().as_secs_f64() * 1e3;
    let tasks = graph.len();
    let t = Instant::now();
    let mut execution = Execution::new(
        graph,
        Settings {
            max_in_flight: 8,
            ..Settings::default()
        },
    );
    let mut queue = std::collections::VecDeque::new();
    let mut operations = 0;
    let mut commands = execution.step(Event::Started, 0);
    let mut now = 0;
    let mut delta_bytes = 0;
    let status = loop {
        // What a runtime commits per step: the delta (serialized outside the timing below is
        // not possible without distorting it, so it is included).
        delta_bytes += serde_json::to_vec(&execution.take_delta()).unwrap().len();
        let mut finished = None;
        for command in commands {
            match command {
                Command::RunTask { id, .. } => {
                    operations += 1;
                    queue.push_back(id);
                }
                Command::Finished(status) => finished = Some(status),
                _ => {}
            }
        }
        if let Some(status) = finished {
            break status;
        }
        let id = queue.pop_front().expect("stuck");
        now += 1;
        commands = execution.step(
            Event::TaskSucceeded {
                id,
                result: Value::Null,
            },
            now,
        );
    };
    let run_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(status, Status::Terminated);
    let snapshot: Progress = execution.progress().clone();
    let snapshot_kib = serde_json::to_vec(&snapshot).unwrap().len() / 1024;
    Row {
        parse_ms,
        build_ms,
        run_ms,
        tasks,
        operations,
        snapshot_kib,
        delta_kib: delta_bytes / 1024,
    }
}

fn main() {
    println!("| workflow  | nodes  | tasks   | operations | parse ms | build ms | run ms | total ms | snapshot KiB | deltas KiB (all steps) |");
    println!("|-----------|--------|---------|------------|----------|----------|--------|----------|--------------|------------------------|");
    for n in [1_000, 10_000] {
        for install in [true, false] {
            // best of 3
            let row = (0..3)
                .map(|_| measure(n, install))
                .min_by(|a, b| {
                    (a.parse_ms + a.build_ms + a.run_ms)
                        .total_cmp(&(b.parse_ms + b.build_ms + b.run_ms))
                })
                .unwrap();
            println!(
                "| {:<9} | {:>6} | {:>7} | {:>10} | {:>8.2} | {:>8.2} | {:>6.2} | {:>8.2} | {:>12} | {:>22} |",
                if install { "install" } else { "uninstall" },
                n,
                row.tasks,
                row.operations,
                row.parse_ms,
                row.build_ms,
                row.run_ms,
                row.parse_ms + row.build_ms + row.run_ms,
                row.snapshot_kib,
                row.delta_kib
            );
        }
    }
}
