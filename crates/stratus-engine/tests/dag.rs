//! Property: random DAG-shaped deployments (contained_in, depends_on, connected_to, several
//! instances, random subsets of operations) give acyclic install and uninstall graphs that
//! never deadlock; on the happy path every operation runs exactly once, whatever order results
//! come back in and whatever the concurrency limit; and a source instance's operations start
//! only after every operation of its targets ended (install), the reverse for uninstall.

mod common;

use std::collections::HashMap;

use common::Sim;
use proptest::prelude::*;
use serde_json::{json, Value};
use stratus_engine::{build, Deployment, Event, Execution, Filter, Settings, Status, Workflow};

const LIFECYCLE: [&str; 6] = [
    "precreate",
    "create",
    "configure",
    "start",
    "stop",
    "delete",
];
const REL_OPS: [&str; 4] = ["preconfigure", "postconfigure", "establish", "unlink"];

/// A relationship: target node, kind (0 contained_in, 1 depends_on, 2 connected_to), mask of
/// source (low 4 bits) and target (high 4 bits) operations.
type RelSpec = (usize, u8, u8);

#[derive(Debug, Clone)]
struct Spec {
    /// Per node: instances, lifecycle operations mask, relationships to earlier nodes.
    nodes: Vec<(usize, u8, Vec<RelSpec>)>,
}

fn op(name: &str) -> Value {
    json!({"operation": "script_runner.tasks.run", "plugin": "script", "inputs": {"script_path": name},
           "executor": "auto", "max_retries": null, "retry_interval": null})
}

fn to_json(spec: &Spec) -> (Vec<Value>, Vec<Value>) {
    let mut nodes = Vec::new();
    let mut instance_ids: Vec<Vec<String>> = Vec::new();
    let mut instances = Vec::new();
    for (i, (count, mask, rels)) in spec.nodes.iter().enumerate() {
        let mut operations = serde_json::Map::new();
        for (b, name) in LIFECYCLE.iter().enumerate() {
            if mask & (1 << b) != 0 {
                operations.insert(format!("cloudify.interfaces.lifecycle.{name}"), op(name));
            }
        }
        let mut relationships = Vec::new();
        let mut seen_targets = Vec::new();
        let mut has_container = false;
        for (target, kind, rel_mask) in rels {
            if seen_targets.contains(target) {
                continue;
            }
            let contained = *kind == 0 && !has_container;
            has_container |= contained;
            seen_targets.push(*target);
            let mut source_ops = serde_json::Map::new();
            let mut target_ops = serde_json::Map::new();
            for (b, name) in REL_OPS.iter().enumerate() {
                let full = format!("cloudify.interfaces.relationship_lifecycle.{name}");
                if rel_mask & (1 << b) != 0 {
                    source_ops.insert(full.clone(), op(name));
                }
                if rel_mask & (1 << (b + 4)) != 0 {
                    target_ops.insert(full, op(name));
                }
            }
            let (type_name, hierarchy) = match (contained, kind) {
                (true, _) => (
                    "cloudify.relationships.contained_in",
                    vec![
                        "cloudify.relationships.depends_on",
                        "cloudify.relationships.contained_in",
                    ],
                ),
                (false, 2) => (
                    "cloudify.relationships.connected_to",
                    vec![
                        "cloudify.relationships.depends_on",
                        "cloudify.relationships.connected_to",
                    ],
                ),
                _ => (
                    "cloudify.relationships.depends_on",
                    vec!["cloudify.relationships.depends_on"],
                ),
            };
            relationships.push(json!({"type": type_name, "type_hierarchy": hierarchy, "target_id": format!("n{target}"),
                "properties": {}, "source_operations": source_ops, "target_operations": target_ops}));
        }
        nodes.push(json!({"id": format!("n{i}"), "type_hierarchy": ["cloudify.nodes.Root"], "operations": operations,
                          "relationships": relationships.clone(), "properties": {}}));
        let mut ids = Vec::new();
        for k in 0..*count {
            let id = format!("n{i}_{k}");
            let mut rel_instances = Vec::new();
            for rel in &relationships {
                let target: usize = rel["target_id"].as_str().unwrap()[1..].parse().unwrap();
                let targets = &instance_ids[target];
                if rel["type"] == "cloudify.relationships.contained_in" {
                    rel_instances.push(json!({"type": rel["type"], "target_name": rel["target_id"], "target_id": targets[k % targets.len()]}));
                } else {
                    for t in targets {
                        rel_instances.push(json!({"type": rel["type"], "target_name": rel["target_id"], "target_id": t}));
                    }
                }
            }
            instances.push(
                json!({"id": id, "node_id": format!("n{i}"), "relationships": rel_instances}),
            );
            ids.push(id);
        }
        instance_ids.push(ids);
    }
    (nodes, instances)
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..10)
        .prop_flat_map(|n| {
            let node = |i: usize| {
                let rels = if i == 0 {
                    Just(Vec::new()).boxed()
                } else {
                    proptest::collection::vec((0..i, 0u8..3, any::<u8>()), 0..3).boxed()
                };
                (1usize..4, any::<u8>(), rels)
            };
            (0..n).map(node).collect::<Vec<_>>()
        })
        .prop_map(|nodes| Spec { nodes })
}

fn run(deployment: &Deployment, workflow: Workflow, limit: usize, picks: &[usize]) {
    let graph = build(deployment, &workflow).unwrap();
    graph.validate().unwrap();
    let install = matches!(workflow, Workflow::Install(_));
    let ops: Vec<u32> = common::operations(&graph);
    let mut sim = Sim::new(Execution::new(
        graph.clone(),
        Settings {
            max_in_flight: limit,
            ..Settings::default()
        },
    ));
    sim.step(Event::Started);
    let mut order = Vec::new();
    let mut i = 0;
    while sim.finished.is_none() {
        assert!(!sim.queue.is_empty(), "deadlock: nothing in flight");
        let pick = picks.get(i).copied().unwrap_or(0) % sim.queue.len();
        i += 1;
        let id = sim.queue.remove(pick).unwrap();
        order.push(id);
        sim.step(Event::TaskSucceeded {
            id,
            result: Value::Null,
        });
    }
    assert_eq!(sim.finished, Some(Status::Terminated));
    assert_eq!(sim.runs.len(), ops.len());
    assert!(sim.runs.values().all(|&n| n == 1));
    assert!(limit == 0 || sim.max_outstanding <= limit);
    // Relationship order: all ops of an instance's targets (install) end before its own start.
    let position: HashMap<u32, usize> = order.iter().enumerate().map(|(p, &id)| (id, p)).collect();
    let owner = |id: u32| graph.task(id).operation().unwrap().node_instance_id.clone();
    let mut by_instance: HashMap<String, Vec<usize>> = HashMap::new();
    for &id in &ops {
        let op = graph.task(id).operation().unwrap();
        if op.related.is_none() {
            by_instance
                .entry(owner(id))
                .or_default()
                .push(position[&id]);
        }
    }
    for instance in &deployment.instances {
        for rel in &instance.relationships {
            let (first, then) = if install {
                (&rel.target_id, &instance.id)
            } else {
                (&instance.id, &rel.target_id)
            };
            if let (Some(a), Some(b)) = (by_instance.get(first), by_instance.get(then)) {
                assert!(
                    a.iter().max() < b.iter().min(),
                    "{first} must finish before {then} starts"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_deployments_complete_without_deadlock(spec in spec(), limit in 0usize..4, picks in proptest::collection::vec(any::<usize>(), 0..400)) {
        let (nodes, instances) = to_json(&spec);
        let deployment = Deployment::from_json(&nodes, &instances).unwrap();
        run(&deployment, Workflow::Install(Filter::default()), limit, &picks);
        let started: Vec<Value> = instances.iter().map(|i| { let mut i = i.clone(); i["state"] = "started".into(); i }).collect();
        let deployment = Deployment::from_json(&nodes, &started).unwrap();
        run(&deployment, Workflow::Uninstall { filter: Filter::default(), ignore_failure: false }, limit, &picks);
    }
}
