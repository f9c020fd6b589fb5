//! Script-plugin operations run by a real `stratus serve`: ctx from bash, runtime properties,
//! logs as events — and durability: an install killed with SIGKILL at random points, restarted
//! and resumed, ends with every instance started, and no operation that had completed runs
//! again.

mod process;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use process::{command, send, serve, Served};
use serde_json::Value;

/// A blueprint whose every operation is `scripts/op.sh`, which appends "INSTANCE OPERATION"
/// to `run_log` (so runs can be counted), logs, sleeps `pause` seconds and sets properties.
fn blueprint(
    dir: &std::path::Path,
    nodes: usize,
    run_log: &std::path::Path,
    pause: &str,
) -> Vec<u8> {
    let app = dir.join("bp/app");
    std::fs::create_dir_all(app.join("scripts")).unwrap();
    std::fs::write(
        app.join("scripts/op.sh"),
        format!(
            "#!/bin/bash\nset -e\nid=$(ctx instance id)\nop=$(ctx operation name)\necho \"$id $op\" >> {log}\n\
             ctx logger info \"running $op on $id\"\necho \"stdout of $op\"\nsleep {pause}\n\
             ctx instance runtime-properties \"${{op##*.}}\" @'{{\"done\": true}}'\nctx instance runtime-properties port 8080\n",
            log = run_log.display()
        ),
    )
    .unwrap();
    let mut yaml = String::from(
        "tosca_definitions_version: cloudify_dsl_1_3\nimports: [http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml]\n\
         node_types:\n  test.Scripted:\n    derived_from: cloudify.nodes.Root\n    properties:\n      colour: {default: blue}\n\
         \x20   interfaces:\n      cloudify.interfaces.lifecycle:\n",
    );
    for op in ["create", "configure", "start"] {
        yaml.push_str(&format!("        {op}: scripts/op.sh\n"));
    }
    yaml.push_str("node_templates:\n");
    for i in 0..nodes {
        yaml.push_str(&format!("  n{i}:\n    type: test.Scripted\n"));
        if i > 0 {
            yaml.push_str(&format!(
                "    relationships:\n      - {{type: cloudify.relationships.depends_on, target: n{}}}\n",
                (i * 7 + 3) % i
            ));
        }
    }
    yaml.push_str("outputs:\n  port: {value: {get_attribute: [n0, port]}}\n");
    std::fs::write(app.join("blueprint.yaml"), yaml).unwrap();
    Command::new("tar")
        .arg("-C")
        .arg(dir.join("bp"))
        .args(["-czf", "-", "app"])
        .output()
        .unwrap()
        .stdout
}

/// (node instance id, operation name).
type Op = (String, String);

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn start_server(data: &std::path::Path) -> Served {
    let mut c = command(data);
    c.args(["--admin-password", "pw"]);
    serve(c)
}

fn deploy(server: &Served, dir: &std::path::Path, nodes: usize, pause: &str) -> std::path::PathBuf {
    let run_log = dir.join("runs.log");
    let archive = blueprint(dir, nodes, &run_log, pause);
    let (status, body) = send(
        server.port,
        "PUT",
        "/api/v3.1/blueprints/bp",
        "application/octet-stream",
        &archive,
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(
        server.port,
        "PUT",
        "/api/v3.1/deployments/dep",
        "application/json",
        br#"{"blueprint_id": "bp"}"#,
    );
    assert_eq!(status, 201, "{body}");
    run_log
}

fn start_install(server: &Served) -> String {
    let (status, body) = send(
        server.port,
        "POST",
        "/api/v3.1/executions",
        "application/json",
        br#"{"deployment_id": "dep", "workflow_id": "install"}"#,
    );
    assert_eq!(status, 201, "{body}");
    json(&body)["id"].as_str().unwrap().to_string()
}

fn status_of(server: &Served, id: &str) -> String {
    let (_, body) = send(
        server.port,
        "GET",
        &format!("/api/v3.1/executions/{id}"),
        "application/json",
        b"",
    );
    json(&body)["status"].as_str().unwrap_or("").to_string()
}

fn wait_terminated(server: &Served, id: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        match status_of(server, id).as_str() {
            "terminated" => return,
            "failed" | "cancelled" => {
                let (_, events) = send(
                    server.port,
                    "GET",
                    &format!("/api/v3.1/events?execution_id={id}&_size=1000"),
                    "application/json",
                    b"",
                );
                panic!("install ended {}: {events}", status_of(server, id));
            }
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "install did not finish in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (instance, operation) pairs with a committed `task_succeeded` event.
fn succeeded(server: &Served, id: &str) -> BTreeSet<(String, String)> {
    let (_, body) = send(
        server.port,
        "GET",
        &format!("/api/v3.1/events?execution_id={id}&event_type=task_succeeded&_size=1000"),
        "application/json",
        b"",
    );
    json(&body)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["node_instance_id"].as_str().unwrap_or("").to_string(),
                e["operation"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn runs(run_log: &std::path::Path) -> BTreeMap<(String, String), usize> {
    let mut counts = BTreeMap::new();
    for line in std::fs::read_to_string(run_log).unwrap_or_default().lines() {
        if let Some((instance, operation)) = line.split_once(' ') {
            *counts
                .entry((instance.to_string(), operation.to_string()))
                .or_insert(0) += 1;
        }
    }
    counts
}

#[test]
fn scripts_use_ctx_and_their_output_becomes_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(&dir.path().join("data"));
    let run_log = deploy(&server, dir.path(), 3, "0");
    let id = start_install(&server);
    wait_terminated(&server, &id, Duration::from_secs(60));
    let counts = runs(&run_log);
    assert_eq!(counts.len(), 9, "3 nodes × 3 operations: {counts:?}");
    assert!(counts.values().all(|n| *n == 1));
    let (_, instances) = send(
        server.port,
        "GET",
        "/api/v3.1/node-instances?deployment_id=dep",
        "application/json",
        b"",
    );
    for instance in json(&instances)["items"].as_array().unwrap() {
        assert_eq!(instance["state"], "started");
        let properties = &instance["runtime_properties"];
        assert_eq!(
            properties["port"], "8080",
            "ctx arguments are strings unless @-JSON"
        );
        for op in ["create", "configure", "start"] {
            assert_eq!(properties[op]["done"], true, "{properties}");
        }
    }
    let (_, outputs) = send(
        server.port,
        "GET",
        "/api/v3.1/deployments/dep/outputs",
        "application/json",
        b"",
    );
    assert_eq!(json(&outputs)["outputs"]["port"], "8080");
    let (_, logs) = send(
        server.port,
        "GET",
        &format!("/api/v3.1/events?execution_id={id}&type=cloudify_log&_size=1000"),
        "application/json",
        b"",
    );
    let messages: Vec<String> = json(&logs)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("running cloudify.interfaces.lifecycle.create on n0_")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m == "<out> stdout of cloudify.interfaces.lifecycle.start"),
        "{messages:?}"
    );
}

#[test]
fn an_install_killed_at_random_points_resumes_and_never_reruns_completed_operations() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let nodes = 24;
    let mut server = start_server(&data);
    let run_log = deploy(&server, dir.path(), nodes, "0.15");
    let id = start_install(&server);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed {seed}");
    // For each kill: the operations whose success was committed before it, and how often
    // each had run by then. Such an operation may never run again afterwards (ones in flight
    // at a kill may run a second time, and then complete before a later kill).
    let mut checks: Vec<(BTreeSet<Op>, BTreeMap<Op, usize>)> = Vec::new();
    for kill in 0..8 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        std::thread::sleep(Duration::from_millis(100 + (seed >> 33) % 400));
        if status_of(&server, &id) == "terminated" {
            break;
        }
        let completed = succeeded(&server, &id);
        Command::new("kill")
            .args(["-KILL", &server.child.id().to_string()])
            .status()
            .unwrap();
        let _ = server.child.wait();
        eprintln!("kill {kill}: {} operations had completed", completed.len());
        checks.push((completed, runs(&run_log)));
        server = start_server(&data);
    }
    wait_terminated(&server, &id, Duration::from_secs(120));
    let counts = runs(&run_log);
    assert_eq!(counts.len(), nodes * 3, "every operation ran: {counts:?}");
    for (kill, (completed, runs_then)) in checks.iter().enumerate() {
        for done in completed {
            assert_eq!(
                counts.get(done),
                runs_then.get(done),
                "{done:?} had completed before kill {kill} and must not run again"
            );
        }
    }
    assert!(!checks.is_empty(), "the install was killed at least once");
    let (_, instances) = send(
        server.port,
        "GET",
        "/api/v3.1/node-instances?deployment_id=dep&_size=100",
        "application/json",
        b"",
    );
    let instances = json(&instances);
    let states: Vec<&str> = instances["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap_or(""))
        .collect::<Vec<_>>();
    assert_eq!(states, vec!["started"; nodes]);
    let reruns = counts.values().filter(|n| **n > 1).count();
    eprintln!("{} operations ran twice (in flight at a kill)", reruns);
}
