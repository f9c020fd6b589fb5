//! Differential test against the reference engine (cloudify-common 7.0.5 local workflows).
//! `tests/data/NAME.expected.json` holds, per blueprint, the deployment the reference used and
//! the partial order of its install and uninstall graphs (see `tests/data/README.md`). Our graph
//! over the same deployment must contain the same operation and state tasks, and its order
//! (transitive, through markers and events) must be exactly the reference's: every pair the
//! reference orders we order, and we order no pair the reference leaves unordered.
//! `NAME.workflows.json` adds other workflows (start, stop, restart, execute_operation, heal,
//! filtered install/uninstall) run on the installed deployment.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde_json::Value;
use stratus_engine::{build, Deployment, Filter, Graph, TaskKind, Workflow};

fn keyed(graph: &Graph) -> HashMap<u32, String> {
    graph
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t.kind, TaskKind::Operation(_) | TaskKind::SetState { .. }))
        .map(|(i, t)| (i as u32, t.key()))
        .collect()
}

/// Pairs (a, b) of keyed tasks with a ending before b may start.
fn order(graph: &Graph) -> BTreeSet<(String, String)> {
    let keys = keyed(graph);
    let n = graph.len();
    // Topological order, then ancestors as bitsets over keyed tasks.
    let index: HashMap<u32, usize> = keys.keys().enumerate().map(|(i, &t)| (t, i)).collect();
    let names: Vec<&String> = {
        let mut v = vec![&keys[keys.keys().next().unwrap()]; index.len()];
        for (&t, &i) in &index {
            v[i] = &keys[&t];
        }
        v
    };
    let dependents = graph.dependents();
    let mut indegree: Vec<usize> = graph.tasks.iter().map(|t| t.deps.len()).collect();
    let mut stack: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut topo = Vec::new();
    while let Some(i) = stack.pop() {
        topo.push(i);
        for &d in &dependents[i] {
            indegree[d as usize] -= 1;
            if indegree[d as usize] == 0 {
                stack.push(d as usize);
            }
        }
    }
    assert_eq!(topo.len(), n, "cycle");
    let mut ancestors: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for &t in &topo {
        let mut acc = BTreeSet::new();
        for &d in &graph.tasks[t].deps {
            acc.extend(ancestors[d as usize].iter().copied());
            if let Some(&k) = index.get(&d) {
                acc.insert(k);
            }
        }
        ancestors[t] = acc;
    }
    let mut pairs = BTreeSet::new();
    for (&t, key) in &keys {
        for &a in &ancestors[t as usize] {
            pairs.insert((names[a].clone(), key.clone()));
        }
    }
    pairs
}

fn check(name: &str, expected: &Value, graph: &Graph) -> (usize, usize) {
    let want_tasks: BTreeSet<String> = expected["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let have_tasks: BTreeSet<String> = keyed(graph).into_values().collect();
    assert_eq!(
        have_tasks.difference(&want_tasks).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{name}: tasks the reference does not have"
    );
    assert_eq!(
        want_tasks.difference(&have_tasks).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{name}: reference tasks we lack"
    );
    let want: BTreeSet<(String, String)> = expected["before"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let have = order(graph);
    let missing: Vec<_> = want.difference(&have).take(10).collect();
    let extra: Vec<_> = have.difference(&want).take(10).collect();
    assert!(
        missing.is_empty(),
        "{name}: reference orders we lack: {missing:#?}"
    );
    assert!(
        extra.is_empty(),
        "{name}: orders the reference lacks: {extra:#?}"
    );
    (want_tasks.len(), want.len())
}

#[test]
fn install_and_uninstall_orders_equal_the_reference() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut cases = 0;
    let mut scenario_count = 0;
    let mut totals = (0, 0);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let nodes = expected["deployment"]["nodes"].as_array().unwrap();
        let mut instances = expected["deployment"]["node_instances"]
            .as_array()
            .unwrap()
            .clone();
        let deployment = Deployment::from_json(nodes, &instances).unwrap();
        let install = build(&deployment, &Workflow::Install(Filter::default())).unwrap();
        let (t, p) = check(&format!("{name} install"), &expected["install"], &install);
        totals.0 += t;
        totals.1 += p;
        for instance in &mut instances {
            instance["state"] = "started".into();
        }
        let deployment = Deployment::from_json(nodes, &instances).unwrap();
        let uninstall = build(
            &deployment,
            &Workflow::Uninstall {
                filter: Filter::default(),
                ignore_failure: false,
            },
        )
        .unwrap();
        let (t, p) = check(
            &format!("{name} uninstall"),
            &expected["uninstall"],
            &uninstall,
        );
        totals.0 += t;
        totals.1 += p;
        cases += 1;
        // Other workflows, run by the reference right after an install.
        let scenarios_path = path
            .to_string_lossy()
            .replace(".expected.json", ".workflows.json");
        if let Ok(text) = std::fs::read_to_string(&scenarios_path) {
            let scenarios: Value = serde_json::from_str(&text).unwrap();
            let mut first: HashMap<String, String> = HashMap::new();
            for instance in deployment.instances.iter() {
                first
                    .entry(instance.node_id.clone())
                    .or_insert(instance.id.clone());
            }
            for scenario in scenarios.as_array().unwrap() {
                let scenario_name = scenario["name"].as_str().unwrap();
                let mut params = scenario["parameters"].as_object().unwrap().clone();
                for value in params.values_mut() {
                    if let Some(node) = value.as_str().and_then(|v| v.strip_prefix("@node:")) {
                        *value = first[node].clone().into();
                    }
                }
                let workflow =
                    Workflow::from_parameters(scenario["workflow"].as_str().unwrap(), &params)
                        .unwrap();
                let graph = build(&deployment, &workflow).unwrap();
                let (t, p) = check(
                    &format!("{name} {scenario_name}"),
                    &expected["scenarios"][scenario_name],
                    &graph,
                );
                totals.0 += t;
                totals.1 += p;
                scenario_count += 1;
            }
        }
    }
    assert!(cases >= 1);
    eprintln!(
        "{cases} blueprints, install + uninstall + {scenario_count} other workflows: {} tasks, {} ordered pairs equal",
        totals.0, totals.1
    );
}
