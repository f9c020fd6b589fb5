//! The workflow benchmark, through the REST API with durable state (SQLite, fsync on commit):
//! install and uninstall of a generated blueprint of N nodes with 3 operations each
//! (`stratus-builtin` no-ops: the engine, runner and store are measured, not the operations),
//! from `POST /executions` to `terminated`.
//!
//! Then script-operation throughput: N independent nodes whose create is a bash script calling
//! `ctx` once, installed with the default concurrency (`STRATUS_BENCH_SCRIPTS`, default 300).
//!
//! `cargo bench -p stratus --bench workflows`; `STRATUS_BENCH_NODES` (default "1000").

mod common;

use std::time::{Duration, Instant};

use common::{env_number, request, start, upload};

fn generated(nodes: u64) -> String {
    let mut yaml = String::from(
        "tosca_definitions_version: cloudify_dsl_1_3\nimports: [http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml]\n\
         plugins:\n  builtin: {executor: central_deployment_agent, package_name: stratus-builtin, install: false}\n\
         node_types:\n  bench.Node:\n    derived_from: cloudify.nodes.Root\n    interfaces:\n      cloudify.interfaces.lifecycle:\n\
         \x20       create: builtin.stratus.noop\n        configure: builtin.stratus.noop\n        start: builtin.stratus.noop\n\
         \x20       stop: builtin.stratus.noop\n        delete: builtin.stratus.noop\nnode_templates:\n",
    );
    for i in 0..nodes {
        yaml.push_str(&format!("  n{i}:\n    type: bench.Node\n"));
        if i > 0 {
            // A mix of chains and fan-out: every node depends on one earlier node.
            yaml.push_str(&format!(
                "    relationships:\n      - {{type: cloudify.relationships.depends_on, target: n{}}}\n",
                (i * 7919 + 13) % i
            ));
        }
    }
    yaml
}

/// N independent nodes whose one operation is a bash script calling `ctx` once.
fn scripted(nodes: u64) -> String {
    let mut yaml = String::from(
        "tosca_definitions_version: cloudify_dsl_1_3\nimports: [http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml]\n\
         node_types:\n  bench.Scripted:\n    derived_from: cloudify.nodes.Root\n    interfaces:\n      cloudify.interfaces.lifecycle:\n\
         \x20       create: scripts/op.sh\nnode_templates:\n",
    );
    for i in 0..nodes {
        yaml.push_str(&format!("  s{i}:\n    type: bench.Scripted\n"));
    }
    yaml
}

const SCRIPT: &str = "#!/bin/bash\nctx instance runtime-properties done yes\n";

fn archive(work: &std::path::Path, yaml: &str) -> Vec<u8> {
    let dir = work.join("bp/app");
    std::fs::create_dir_all(dir.join("scripts")).expect("mkdir");
    std::fs::write(dir.join("scripts/op.sh"), SCRIPT).expect("write");
    std::fs::write(dir.join("blueprint.yaml"), yaml).expect("write");
    std::process::Command::new("tar")
        .arg("-C")
        .arg(work.join("bp"))
        .args(["-czf", "-", "app"])
        .output()
        .expect("tar")
        .stdout
}

fn field(body: &str, name: &str) -> String {
    let pattern = format!("\"{name}\":\"");
    body.split_once(&pattern)
        .and_then(|(_, rest)| rest.split('"').next())
        .unwrap_or("")
        .to_string()
}

/// Starts `workflow` and returns the time until the execution is `terminated`.
fn run(port: u16, workflow: &str) -> Duration {
    let started = Instant::now();
    let body = format!("{{\"deployment_id\": \"dep\", \"workflow_id\": \"{workflow}\"}}");
    let (status, text) = request(port, "POST", "/api/v3.1/executions", Some(&body)).expect("start");
    assert_eq!(status, 201, "{text}");
    let id = field(&text, "id");
    loop {
        let (_, text) = request(
            port,
            "GET",
            &format!("/api/v3.1/executions/{id}?_include=status"),
            None,
        )
        .expect("poll");
        match field(&text, "status").as_str() {
            "terminated" => return started.elapsed(),
            "failed" | "cancelled" => panic!("{workflow} ended: {text}"),
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<u64> = std::env::var("STRATUS_BENCH_NODES")
        .unwrap_or_else(|_| "1000".into())
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    println!("stratus workflow benchmark (release, SQLite, REST API, stratus-builtin no-op operations)\n");
    println!("| nodes | operations | install | uninstall | target |");
    println!("|---|---|---|---|---|");
    for nodes in sizes.clone() {
        let work = tempfile::tempdir().expect("temp dir");
        let (server, _) = start(&work.path().join("data"));
        upload(
            server.port,
            "bench",
            &archive(work.path(), &generated(nodes)),
        );
        let (status, text) = request(
            server.port,
            "PUT",
            "/api/v3.1/deployments/dep",
            Some(r#"{"blueprint_id": "bench"}"#),
        )
        .expect("create");
        assert_eq!(status, 201, "{text}");
        let install = run(server.port, "install");
        let uninstall = run(server.port, "uninstall");
        println!(
            "| {nodes} | {} + {} | {:.3} s | {:.3} s | ≤ 0.3 s each (1,000 nodes) |",
            nodes * 3,
            nodes * 2,
            install.as_secs_f64(),
            uninstall.as_secs_f64()
        );
    }
    let scripts = env_number("STRATUS_BENCH_SCRIPTS", 300);
    let work = tempfile::tempdir().expect("temp dir");
    let (server, _) = start(&work.path().join("data"));
    upload(
        server.port,
        "scripted",
        &archive(work.path(), &scripted(scripts)),
    );
    let (status, text) = request(
        server.port,
        "PUT",
        "/api/v3.1/deployments/dep",
        Some(r#"{"blueprint_id": "scripted"}"#),
    )
    .expect("create");
    assert_eq!(status, 201, "{text}");
    let took = run(server.port, "install");
    let (_, text) = request(
        server.port,
        "GET",
        "/api/v3.1/node-instances?deployment_id=dep&_size=1000&_include=runtime_properties",
        None,
    )
    .expect("list");
    let done = text.matches("\"done\":\"yes\"").count() as u64;
    assert_eq!(done, scripts, "every script's runtime property was stored");
    println!(
        "\nscript operations through the REST API: {scripts} bash scripts each calling ctx once, install in {:.2} s = {:.0} ops/s (target ≥ 300/s); {done}/{scripts} runtime properties stored",
        took.as_secs_f64(),
        scripts as f64 / took.as_secs_f64()
    );
}
