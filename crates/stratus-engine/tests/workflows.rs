//! Workflow builders beyond the reference-order cases: scale planning, parameter handling and
//! model errors.

mod common;

use common::*;
use serde_json::{json, Map, Value};
use stratus_engine::{
    build, plan_scale, Deployment, Event, Execution, ModelError, ScaleParams, Settings, Status,
    TaskKind, Workflow, WorkflowError,
};

fn ids() -> impl FnMut(&str) -> String {
    let mut n = 0;
    move |node: &str| {
        n += 1;
        format!("{node}_new{n}")
    }
}

fn ops_on(graph: &stratus_engine::Graph, instance: &str) -> Vec<String> {
    graph
        .tasks
        .iter()
        .filter_map(|t| t.operation())
        .filter(|op| op.node_instance_id == instance)
        .map(|op| op.operation.rsplit('.').next().unwrap().to_string())
        .collect()
}

#[test]
fn scale_out_a_node_adds_one_instance_related_to_existing_targets() {
    let deployment = reference_deployment("chain.expected.json", "started");
    let plan = plan_scale(
        &deployment,
        &ScaleParams {
            scalable_entity_name: "web".into(),
            delta: 1,
            ..Default::default()
        },
        &mut ids(),
    )
    .unwrap();
    assert_eq!(plan.added, vec!["web_new1".to_string()]);
    let new = plan.deployment.instance("web_new1").unwrap();
    assert_eq!(new.state, "uninitialized");
    let max_index = deployment
        .instances
        .iter()
        .filter(|i| i.node_id == "web")
        .map(|i| i.index)
        .max();
    assert_eq!(Some(new.index), max_index.map(|m| m + 1));
    let targets: Vec<&str> = new
        .relationships
        .iter()
        .map(|r| r.target_name.as_str())
        .collect();
    assert_eq!(targets, ["app", "db"]);
    let related_nodes: Vec<String> = plan
        .related
        .iter()
        .map(|id| plan.deployment.instance(id).unwrap().node_id.clone())
        .collect();
    assert_eq!(related_nodes, ["db", "app"]);
    // only the new instance is installed
    assert_eq!(
        ops_on(&plan.graph, "web_new1"),
        ["create", "preconfigure", "configure", "start", "establish"]
    );
    for existing in &deployment.instances {
        assert!(
            ops_on(&plan.graph, &existing.id).is_empty() || plan.related.contains(&existing.id),
            "{} touched",
            existing.id
        );
    }
    let mut sim = Sim::new(Execution::new(plan.graph.clone(), Settings::default()));
    sim.step(Event::Started);
    assert_eq!(sim.run_to_end(), Status::Terminated);
}

#[test]
fn scale_compute_adds_the_host_and_everything_contained_and_is_deterministic() {
    let deployment = reference_deployment("chain.expected.json", "started");
    let params = ScaleParams {
        scalable_entity_name: "app".into(),
        delta: 2,
        scale_compute: true,
        ..Default::default()
    };
    let a = plan_scale(&deployment, &params, &mut ids()).unwrap();
    let b = plan_scale(&deployment, &params, &mut ids()).unwrap();
    assert_eq!(a.graph, b.graph);
    assert_eq!(a.added, b.added);
    let nodes: Vec<String> = a
        .added
        .iter()
        .map(|id| a.deployment.instance(id).unwrap().node_id.clone())
        .collect();
    assert_eq!(
        nodes,
        ["host", "db", "app", "module", "host", "db", "app", "module"]
    );
    // the new app is contained in the new host, and the new module in the new app
    let app = a.deployment.instance("app_new3").unwrap();
    assert_eq!(app.host_id.as_deref(), Some("host_new1"));
    assert!(app.relationships.iter().any(|r| r.target_id == "host_new1"));
    assert!(
        app.relationships.iter().any(|r| r.target_id == "db_new2"),
        "same-unit target"
    );
    let module = a.deployment.instance("module_new4").unwrap();
    assert_eq!(module.host_id.as_deref(), Some("host_new1"));
    // existing web instances now also depend on the new apps
    for web in a.deployment.instances.iter().filter(|i| i.node_id == "web") {
        assert!(web.relationships.iter().any(|r| r.target_id == "app_new3"));
        assert!(a.related.contains(&web.id));
    }
    a.graph.validate().unwrap();
}

#[test]
fn scale_in_removes_the_last_units_honouring_hints() {
    let deployment = reference_deployment("nested.expected.json", "started");
    let hosts: Vec<String> = deployment
        .instances
        .iter()
        .filter(|i| i.node_id == "host")
        .map(|i| i.id.clone())
        .collect();
    let plan = plan_scale(
        &deployment,
        &ScaleParams {
            scalable_entity_name: "host".into(),
            delta: -1,
            ..Default::default()
        },
        &mut ids(),
    )
    .unwrap();
    // the last host goes, with its apps and modules
    assert!(plan.removed.contains(&hosts[1]));
    assert!(!plan.removed.contains(&hosts[0]));
    assert_eq!(plan.removed.len(), 1 + 2 + 2);
    let removed_ops: usize = plan
        .removed
        .iter()
        .map(|id| ops_on(&plan.graph, id).len())
        .sum();
    assert!(removed_ops > 0);
    // webs depending on removed apps are related; db targets too
    assert!(plan.related.iter().any(|id| id.starts_with("web")));
    assert!(plan.related.iter().any(|id| id.starts_with("db")));
    // exclude the last one: the first goes instead
    let plan = plan_scale(
        &deployment,
        &ScaleParams {
            scalable_entity_name: "host".into(),
            delta: -1,
            exclude_instances: vec![hosts[1].clone()],
            ..Default::default()
        },
        &mut ids(),
    )
    .unwrap();
    assert!(plan.removed.contains(&hosts[0]) && !plan.removed.contains(&hosts[1]));
    let mut sim = Sim::new(Execution::new(plan.graph, Settings::default()));
    sim.step(Event::Started);
    assert_eq!(sim.run_to_end(), Status::Terminated);
}

#[test]
fn scale_errors() {
    let deployment = reference_deployment("chain.expected.json", "started");
    let scale = |params: ScaleParams| plan_scale(&deployment, &params, &mut ids()).map(|_| ());
    assert_eq!(
        scale(ScaleParams {
            scalable_entity_name: "nope".into(),
            delta: 1,
            ..Default::default()
        }),
        Err(WorkflowError::UnknownEntity("nope".into()))
    );
    assert!(matches!(
        scale(ScaleParams { scalable_entity_name: "web".into(), delta: -3, ..Default::default() }),
        Err(WorkflowError::Invalid(m)) if m.contains("illegal")
    ));
    assert!(matches!(
        scale(ScaleParams {
            scalable_entity_name: "web".into(),
            delta: 1,
            include_instances: vec!["x".into()],
            ..Default::default()
        }),
        Err(WorkflowError::Invalid(_))
    ));
}

#[test]
fn execute_operation_kwargs_need_allow_override_to_replace_inputs() {
    let deployment = reference_deployment("chain.expected.json", "started");
    let op = deployment
        .nodes
        .iter()
        .find(|n| n.id == "web")
        .unwrap()
        .operations["cloudify.interfaces.lifecycle.configure"]
        .clone();
    let input = op
        .inputs
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| "script_path".into());
    let mut params: Map<String, Value> = serde_json::from_value(json!({
        "operation": "cloudify.interfaces.lifecycle.configure",
        "node_ids": ["web"],
        "operation_kwargs": {input.clone(): "x", "extra": 1},
    }))
    .unwrap();
    let workflow = Workflow::from_parameters("execute_operation", &params).unwrap();
    if !op.inputs.is_empty() {
        assert!(matches!(
            build(&deployment, &workflow),
            Err(WorkflowError::KwargsOverride { .. })
        ));
    }
    params.insert("allow_kwargs_override".into(), "true".into());
    let graph = build(
        &deployment,
        &Workflow::from_parameters("execute_operation", &params).unwrap(),
    )
    .unwrap();
    let ops: Vec<_> = graph.tasks.iter().filter_map(|t| t.operation()).collect();
    assert_eq!(ops.len(), 2, "one per web instance");
    for op in ops {
        assert_eq!(op.inputs[&input], "x");
        assert_eq!(op.inputs["extra"], 1);
    }
    assert!(matches!(
        Workflow::from_parameters("execute_operation", &Map::new()),
        Err(WorkflowError::Invalid(m)) if m.contains("operation")
    ));
    assert!(Workflow::from_parameters(
        "uninstall",
        &serde_json::from_value(json!({"ignore_failure": 3})).unwrap()
    )
    .is_err());
}

#[test]
fn heal_reinstalls_the_hosts_contained_subgraph() {
    let deployment = reference_deployment("chain.expected.json", "started");
    let module = deployment
        .instances
        .iter()
        .find(|i| i.node_id == "module")
        .unwrap();
    let graph = build(
        &deployment,
        &Workflow::Heal {
            node_instance_id: module.id.clone(),
            ignore_failure: true,
        },
    )
    .unwrap();
    let healed: std::collections::BTreeSet<String> = graph
        .tasks
        .iter()
        .filter_map(|t| match &t.kind {
            TaskKind::SetState { instance, state } if state == "deleted" => {
                Some(deployment.instance(instance).unwrap().node_id.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        healed.into_iter().collect::<Vec<_>>(),
        ["app", "db", "host", "module"]
    );
    assert_eq!(
        build(
            &deployment,
            &Workflow::Heal {
                node_instance_id: "nope".into(),
                ignore_failure: true
            }
        ),
        Err(WorkflowError::UnknownInstance("nope".into()))
    );
}

#[test]
fn model_errors_name_the_record_and_field() {
    let node = json!({"id": "a", "type_hierarchy": [], "operations": {}, "relationships": []});
    let err = |nodes: Vec<Value>, instances: Vec<Value>| {
        Deployment::from_json(&nodes, &instances).unwrap_err()
    };
    assert_eq!(
        err(vec![json!({"type_hierarchy": []})], vec![]),
        ModelError::Field {
            record: "node ?".into(),
            field: "id".into(),
            problem: "is missing".into()
        }
    );
    assert_eq!(
        err(
            vec![json!({"id": "a", "operations": {"x": {"operation": 3}}})],
            vec![]
        )
        .to_string(),
        "node a: `operations.x.operation` must be a string"
    );
    assert_eq!(
        err(vec![node.clone()], vec![json!({"id": "i", "node_id": "b"})]),
        ModelError::UnknownNode {
            instance: "i".into(),
            node: "b".into()
        }
    );
    assert_eq!(
        err(
            vec![node.clone()],
            vec![json!({"id": "i", "node_id": "a",
            "relationships": [{"type": "t", "target_id": "zz", "target_name": "a"}]})]
        ),
        ModelError::UnknownTarget {
            instance: "i".into(),
            target: "zz".into()
        }
    );
    assert_eq!(
        err(vec![node.clone(), node.clone()], vec![]),
        ModelError::Duplicate {
            kind: "node",
            id: "a".into()
        }
    );
    assert!(matches!(
        err(vec![json!([1])], vec![]),
        ModelError::Field { .. }
    ));
    // the server's stored shape (node_id) and the plan's (name) both work
    let ok = Deployment::from_json(&[node], &[json!({"id": "i", "name": "a"})]).unwrap();
    assert_eq!(ok.instances[0].state, "uninitialized");
}

#[test]
fn graphs_round_trip_through_serde() {
    let graph = install_graph("nested.expected.json");
    let text = serde_json::to_string(&graph).unwrap();
    let back: stratus_engine::Graph = serde_json::from_str(&text).unwrap();
    assert_eq!(back, graph);
}
