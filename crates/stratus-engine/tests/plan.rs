//! Graphs from Stratus's own deployment plans (`stratus_dsl::prepare`, as stored by the server):
//! the plan parses into the engine's model, and the install and uninstall graphs have the same
//! shape as those built from the reference's plan for the same blueprint (the instance ids
//! differ — they are random — so keys are compared with each instance id replaced by its node
//! and the count of ordered pairs must match).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};
use stratus_engine::{build, Deployment, Filter, Graph, TaskKind, Workflow};

fn stratus_plan(file: &Path) -> Value {
    stratus_plan_with(file, &Map::new())
}

fn stratus_plan_with(file: &Path, inputs: &Map<String, Value>) -> Value {
    let text = std::fs::read_to_string(file).unwrap();
    let loader = stratus_catalog::Loader::offline().with_blueprint_root(file.parent().unwrap());
    let cache = stratus_dsl::DocumentCache::new();
    let blueprint = stratus_dsl::parse(&text, &file.to_string_lossy(), &loader, &cache)
        .unwrap_or_else(|d| panic!("{}: {d:?}", file.display()));
    stratus_dsl::prepare(&blueprint, inputs)
        .unwrap()
        .into_value()
}

fn deployment(nodes: &[Value], instances: &[Value], state: &str) -> Deployment {
    let instances: Vec<Value> = instances
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i["state"] = state.into();
            i
        })
        .collect();
    Deployment::from_json(nodes, &instances).unwrap()
}

/// Task keys with instance ids replaced by node ids, counted.
fn shape(graph: &Graph, deployment: &Deployment) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for task in &graph.tasks {
        if !matches!(
            task.kind,
            TaskKind::Operation(_) | TaskKind::SetState { .. }
        ) {
            continue;
        }
        let key = task
            .key()
            .split(' ')
            .map(|word| {
                let (prefix, id) = word.split_once(':').unwrap_or(("", word));
                let node = deployment.instance(id).map(|i| i.node_id.clone());
                match (prefix, node) {
                    ("", Some(n)) => n,
                    (p, Some(n)) => format!("{p}:{n}"),
                    _ => word.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

#[test]
fn stratus_plans_give_the_reference_shaped_graphs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(path.with_extension("expected.json")).unwrap(),
        )
        .unwrap();
        let plan = stratus_plan(&path);
        let ours_nodes = plan["nodes"].as_array().unwrap();
        let ours_instances = plan["node_instances"].as_array().unwrap();
        let ref_nodes = expected["deployment"]["nodes"].as_array().unwrap();
        let ref_instances = expected["deployment"]["node_instances"].as_array().unwrap();
        for (workflow, state) in [
            (Workflow::Install(Filter::default()), "uninitialized"),
            (
                Workflow::Uninstall {
                    filter: Filter::default(),
                    ignore_failure: false,
                },
                "started",
            ),
        ] {
            let ours = deployment(ours_nodes, ours_instances, state);
            let theirs = deployment(ref_nodes, ref_instances, state);
            let a = build(&ours, &workflow).unwrap();
            let b = build(&theirs, &workflow).unwrap();
            assert_eq!(
                shape(&a, &ours),
                shape(&b, &theirs),
                "{}: {}",
                path.display(),
                workflow.name()
            );
            assert_eq!(a.len(), b.len(), "{}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 3);
}

/// The bodies' JSON text read by `Deployment::from_texts` (what the server does with stored
/// rows) gives the same deployment as the parsed bodies read by `from_json`.
#[test]
fn reading_the_stored_text_gives_the_same_model() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut checked = 0;
    // The engine's test blueprints and the DCAE corpus (properties, relationships of every
    // kind, k8splugin and pgaas operations with inputs).
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/onap-frankfurt");
    let inputs_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stratus-dsl/tests/data/corpus");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(&corpus).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().and_then(|e| e.to_str()) == Some("yaml"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let inputs: Map<String, Value> =
            std::fs::read_to_string(inputs_dir.join(format!("{name}.inputs.json")))
                .map(|text| serde_json::from_str(&text).unwrap())
                .unwrap_or_default();
        let plan = stratus_plan_with(&path, &inputs);
        let nodes = plan["nodes"].as_array().unwrap();
        let instances = plan["node_instances"].as_array().unwrap();
        let whole = Deployment::from_json(nodes, instances).unwrap();
        let texts = |items: &[Value]| items.iter().map(Value::to_string).collect::<Vec<_>>();
        let (node_texts, instance_texts) = (texts(nodes), texts(instances));
        let node_refs: Vec<&str> = node_texts.iter().map(String::as_str).collect();
        let instance_refs: Vec<&str> = instance_texts.iter().map(String::as_str).collect();
        let from_text = Deployment::from_texts(&node_refs, &instance_refs).unwrap();
        assert_eq!(whole, from_text, "{}: from_texts", path.display());
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} blueprints checked");
}
