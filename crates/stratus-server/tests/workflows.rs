//! Executions run by the runner: install and uninstall end to end, states, runtime
//! properties, events, failures, cancel, queueing, and resume after a restart.

mod support;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{blueprint_archive, Server};

pub const LIFECYCLE: &str = r#"
tosca_definitions_version: cloudify_dsl_1_3
imports:
  - http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml
plugins:
  builtin:
    executor: central_deployment_agent
    package_name: stratus-builtin
    install: false
node_templates:
  host:
    type: cloudify.nodes.Root
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          implementation: builtin.stratus.set
          inputs: { ip: 10.0.0.7 }
        start: builtin.stratus.noop
        stop: builtin.stratus.noop
        delete: builtin.stratus.noop
  app:
    type: cloudify.nodes.Root
    instances: { deploy: 3 }
    relationships:
      - type: cloudify.relationships.contained_in
        target: host
    interfaces:
      cloudify.interfaces.lifecycle:
        configure:
          implementation: builtin.stratus.set
          inputs: { configured: true }
        start: builtin.stratus.noop
outputs:
  ip: { value: { get_attribute: [host, ip] } }
"#;

async fn deployed(yaml: &str) -> Server {
    let server = Server::start().await;
    server.deploy("bp", yaml, "dep", json!({})).await;
    server
}

async fn start(server: &Server, workflow: &str, parameters: Value) -> String {
    let (status, execution) = server
        .call(
            Method::POST,
            "/api/v3.1/executions",
            json!({"deployment_id": "dep", "workflow_id": workflow, "parameters": parameters}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{execution}");
    execution["id"].as_str().unwrap().to_string()
}

async fn wait_for(server: &Server, id: &str, wanted: &[&str]) -> Value {
    for _ in 0..400 {
        let (_, execution) = server.get(&format!("/api/v3.1/executions/{id}")).await;
        if wanted.contains(&execution["status"].as_str().unwrap_or("")) {
            return execution;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("execution {id} did not reach {wanted:?}");
}

async fn states(server: &Server) -> Vec<String> {
    let (_, list) = server
        .get("/api/v3.1/node-instances?deployment_id=dep&_sort=id")
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_and_uninstall_run_to_the_end() {
    let server = deployed(LIFECYCLE).await;
    let id = start(&server, "install", json!({})).await;
    let execution = wait_for(&server, &id, &["terminated", "failed"]).await;
    assert_eq!(execution["status"], "terminated", "{execution}");
    assert_eq!(
        execution["total_operations"],
        execution["finished_operations"]
    );
    assert_eq!(states(&server).await, vec!["started"; 4]);
    let (_, outputs) = server.get("/api/v3.1/deployments/dep/outputs").await;
    assert_eq!(
        outputs["outputs"]["ip"], "10.0.0.7",
        "runtime properties feed get_attribute"
    );
    let (_, apps) = server.get("/api/v3.1/node-instances?node_id=app").await;
    for app in apps["items"].as_array().unwrap() {
        assert_eq!(app["runtime_properties"]["configured"], true);
        assert!(app["version"].as_i64().unwrap() > 1);
    }
    let (_, deployment) = server.get("/api/v3.1/deployments/dep").await;
    assert_eq!(deployment["installation_status"], "active");
    let (_, events) = server
        .get(&format!("/api/v3.1/events?execution_id={id}&_size=1000"))
        .await;
    let types: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    let started = types
        .iter()
        .position(|t| *t == "workflow_started")
        .expect("workflow_started");
    let first_task = types
        .iter()
        .position(|t| *t == "task_succeeded")
        .expect("task_succeeded");
    assert!(started < first_task, "{types:?}");
    assert_eq!(types.last(), Some(&"workflow_succeeded"));
    assert!(types.contains(&"task_succeeded"), "{types:?}");

    let id = start(&server, "uninstall", json!({})).await;
    let execution = wait_for(&server, &id, &["terminated", "failed"]).await;
    assert_eq!(execution["status"], "terminated", "{execution}");
    assert_eq!(states(&server).await, vec!["deleted"; 4]);
    let (_, deployment) = server.get("/api/v3.1/deployments/dep").await;
    assert_eq!(deployment["installation_status"], "inactive");
    let (status, _) = server
        .call(Method::DELETE, "/api/v3.1/deployments/dep", Value::Null)
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an uninstalled deployment can be deleted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_operation_fails_the_execution_and_a_resume_runs_it_again() {
    let yaml = LIFECYCLE.replace(
        "start: builtin.stratus.noop\n        stop:",
        "start:\n          implementation: builtin.stratus.fail\n          inputs: { message: boom }\n        stop:",
    );
    let server = deployed(&yaml).await;
    let id = start(&server, "install", json!({})).await;
    let execution = wait_for(&server, &id, &["terminated", "failed"]).await;
    assert_eq!(execution["status"], "failed");
    assert!(
        execution["error"].as_str().unwrap().contains("boom"),
        "{execution}"
    );
    let (_, events) = server
        .get(&format!(
            "/api/v3.1/events?execution_id={id}&event_type=task_failed"
        ))
        .await;
    assert!(!events["items"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_execution_and_queued_ones_follow() {
    let yaml = LIFECYCLE.replace(
        "start: builtin.stratus.noop\n        stop:",
        "start:\n          implementation: builtin.stratus.sleep\n          inputs: { seconds: 30 }\n        stop:",
    );
    let server = deployed(&yaml).await;
    let first = start(&server, "install", json!({})).await;
    let (_, queued) = server
        .call(
            Method::POST,
            "/api/v3.1/executions",
            json!({"deployment_id": "dep", "workflow_id": "install", "queue": true}),
        )
        .await;
    assert_eq!(queued["status"], "queued");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, cancelling) = server
        .call(
            Method::POST,
            &format!("/api/v3.1/executions/{first}"),
            json!({"action": "kill"}),
        )
        .await;
    assert_eq!(cancelling["status"], "kill_cancelling", "{cancelling}");
    let execution = wait_for(&server, &first, &["cancelled"]).await;
    assert_eq!(execution["status"], "cancelled");
    let queued_id = queued["id"].as_str().unwrap();
    let next = wait_for(&server, queued_id, &["started", "pending"]).await;
    assert_ne!(
        next["status"], "queued",
        "the queued execution starts when the first ends"
    );
    server
        .call(
            Method::POST,
            &format!("/api/v3.1/executions/{queued_id}"),
            json!({"action": "force-cancel"}),
        )
        .await;
    wait_for(&server, queued_id, &["cancelled"]).await;
}

#[tokio::test]
async fn an_operation_no_executor_can_run_is_refused_at_deployment_creation() {
    let yaml = LIFECYCLE.replace(
        "package_name: stratus-builtin",
        "package_name: some-other-plugin",
    );
    let server = Server::start().await;
    let (status, body) = server.upload("bp", blueprint_archive(&yaml, &[])).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, error) = server
        .call(
            Method::PUT,
            "/api/v3.1/deployments/dep",
            json!({"blueprint_id": "bp"}),
        )
        .await;
    assert_eq!(
        (status, error["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("deployment_plugin_not_found")),
        "{error}"
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("some-other-plugin")
            && message.contains("cloudify.interfaces.lifecycle.create"),
        "{message}"
    );
    let (_, nodes) = server.get("/api/v3.1/nodes").await;
    assert_eq!(nodes["items"], json!([]), "nothing was stored");
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v3.1/deployments/dep",
            json!({"blueprint_id": "bp", "skip_plugins_validation": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_execution_at_a_time_unless_queued_or_forced_and_actions_follow_status() {
    let yaml = LIFECYCLE.replace(
        "start: builtin.stratus.noop\n        stop:",
        "start:\n          implementation: builtin.stratus.sleep\n          inputs: { seconds: 0.5 }\n        stop:",
    );
    let server = deployed(&yaml).await;
    let first = start(&server, "install", json!({})).await;
    let (status, error) = server
        .call(
            Method::POST,
            "/api/v3.1/executions",
            json!({"deployment_id": "dep", "workflow_id": "install"}),
        )
        .await;
    assert_eq!(
        (status, error["error_code"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("existing_running_execution_error")
        )
    );
    let (_, error) = server
        .call(
            Method::POST,
            "/api/v3.1/executions",
            json!({"deployment_id": "dep", "workflow_id": "nope"}),
        )
        .await;
    assert_eq!(error["error_code"], "nonexistent_workflow_error");
    let (_, error) = server
        .call(
            Method::POST,
            "/api/v3.1/executions",
            json!({"deployment_id": "dep", "workflow_id": "install", "parameters": {"bogus": 1}}),
        )
        .await;
    assert_eq!(error["error_code"], "illegal_execution_parameters_error");
    let uri = format!("/api/v3.1/executions/{first}");
    let (_, cancelling) = server
        .call(Method::POST, &uri, json!({"action": "force-cancel"}))
        .await;
    assert_eq!(cancelling["status"], "force_cancelling");
    wait_for(&server, &first, &["cancelled"]).await;
    let (status, _) = server
        .call(Method::POST, &uri, json!({"action": "cancel"}))
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an ended execution cannot be cancelled"
    );
    let (_, resumed) = server
        .call(Method::POST, &uri, json!({"action": "resume"}))
        .await;
    assert_eq!(resumed["status"], "pending");
    let done = wait_for(&server, &first, &["terminated", "failed"]).await;
    assert_eq!(
        done["status"], "terminated",
        "a resumed install finishes: {done}"
    );
    assert_eq!(states(&server).await, vec!["started"; 4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_runs_nothing_and_changes_no_state() {
    let yaml = LIFECYCLE.replace(
        "stop: builtin.stratus.noop",
        "stop:\n          implementation: builtin.stratus.fail\n          inputs: { message: must not run }",
    );
    let server = deployed(&yaml).await;
    let id = start(&server, "install", json!({})).await;
    wait_for(&server, &id, &["terminated"]).await;
    let (status, dry) = server
        .call(
            Method::POST,
            "/api/v3.1/executions",
            json!({"deployment_id": "dep", "workflow_id": "uninstall", "dry_run": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let dry_id = dry["id"].as_str().unwrap();
    let done = wait_for(&server, dry_id, &["terminated", "failed"]).await;
    assert_eq!(
        done["status"], "terminated",
        "the failing stop did not run: {done}"
    );
    assert_eq!(states(&server).await, vec!["started"; 4]);
    let (_, deployment) = server.get("/api/v3.1/deployments/dep").await;
    assert_eq!(deployment["installation_status"], "active");
    let (_, events) = server
        .get(&format!(
            "/api/v3.1/events?execution_id={dry_id}&event_type=task_succeeded"
        ))
        .await;
    let items = events["items"].as_array().unwrap();
    assert!(
        !items.is_empty()
            && items
                .iter()
                .all(|e| e["message"].as_str().unwrap().ends_with("(dry run)")),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_adds_and_removes_instances() {
    let server = deployed(LIFECYCLE).await;
    let id = start(&server, "install", json!({})).await;
    wait_for(&server, &id, &["terminated"]).await;
    let id = start(
        &server,
        "scale",
        json!({"scalable_entity_name": "app", "delta": 2}),
    )
    .await;
    let done = wait_for(&server, &id, &["terminated", "failed"]).await;
    assert_eq!(done["status"], "terminated", "{done}");
    assert_eq!(app_states(&server).await, vec!["started"; 5]);
    let (_, node) = server.get("/api/v3.1/nodes/dep/app").await;
    assert_eq!(node["planned_number_of_instances"], 5);
    let (_, added) = server
        .get("/api/v3.1/node-instances?node_id=app&_size=100")
        .await;
    for instance in added["items"].as_array().unwrap() {
        assert_eq!(
            instance["runtime_properties"]["configured"], true,
            "new instances were configured: {instance}"
        );
    }

    let id = start(
        &server,
        "scale",
        json!({"scalable_entity_name": "app", "delta": "-3"}),
    )
    .await;
    let done = wait_for(&server, &id, &["terminated", "failed"]).await;
    assert_eq!(done["status"], "terminated", "{done}");
    assert_eq!(app_states(&server).await, vec!["started"; 2]);
    let (_, node) = server.get("/api/v3.1/nodes/dep/app").await;
    assert_eq!(node["planned_number_of_instances"], 2);
    let (_, execution) = server.get(&format!("/api/v3.1/executions/{id}")).await;
    assert!(
        execution.get("_scale_removed").is_none(),
        "private fields stay private"
    );
}

async fn app_states(server: &Server) -> Vec<String> {
    let (_, list) = server
        .get("/api/v3.1/node-instances?node_id=app&_size=100")
        .await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["state"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_in_operation_inputs_are_evaluated_when_the_operation_runs() {
    let yaml = LIFECYCLE.replace(
        "        configure:\n          implementation: builtin.stratus.set\n          inputs: { configured: true }",
        "        configure:\n          implementation: builtin.stratus.set\n          inputs:\n            configured: true\n            host_ip: { get_attribute: [host, ip] }\n            password: { get_secret: db_password }\n            url: { concat: [ 'http://', { get_attribute: [host, ip] }, ':8080' ] }",
    )
    .replace(
        "        start: builtin.stratus.noop\noutputs:",
        "        start:\n          implementation: builtin.stratus.set\n          inputs: { seen: { get_attribute: [SELF, configured] } }\noutputs:",
    );
    let server = Server::start().await;
    server
        .call(
            Method::PUT,
            "/api/v3.1/secrets/db_password",
            json!({"value": "s3cr3t"}),
        )
        .await;
    server.deploy("bp", &yaml, "dep", json!({})).await;
    let id = start(&server, "install", json!({})).await;
    let done = wait_for(&server, &id, &["terminated", "failed"]).await;
    assert_eq!(done["status"], "terminated", "{done}");
    let (_, apps) = server.get("/api/v3.1/node-instances?node_id=app").await;
    for app in apps["items"].as_array().unwrap() {
        let properties = &app["runtime_properties"];
        assert_eq!(properties["host_ip"], "10.0.0.7", "{properties}");
        assert_eq!(properties["password"], "s3cr3t");
        assert_eq!(properties["url"], "http://10.0.0.7:8080");
        assert_eq!(
            properties["seen"], true,
            "SELF sees what configure stored, when start runs: {properties}"
        );
    }
}

/// An execution keeps the instance bodies it wrote to change them again without a parse;
/// a change someone else made in between (here through the REST API while an operation
/// sleeps) must not be overwritten by that kept body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_changed_during_an_execution_keeps_that_change() {
    let server = deployed(
        r#"
tosca_definitions_version: cloudify_dsl_1_3
imports:
  - http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml
plugins:
  builtin:
    executor: central_deployment_agent
    package_name: stratus-builtin
    install: false
node_templates:
  n:
    type: cloudify.nodes.Root
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          implementation: builtin.stratus.set
          inputs: { created: true }
        configure:
          implementation: builtin.stratus.sleep
          inputs: { seconds: 1.5 }
        start:
          implementation: builtin.stratus.set
          inputs: { started: true }
"#,
    )
    .await;
    let id = start(&server, "install", json!({})).await;
    let mut patched = false;
    for _ in 0..200 {
        let (_, list) = server.get("/api/v3.1/node-instances?node_id=n").await;
        let instance = &list["items"][0];
        if instance["state"] == "configuring" {
            let mut properties = instance["runtime_properties"].clone();
            properties["patched"] = json!(true);
            let (status, updated) = server
                .call(
                    Method::PATCH,
                    &format!(
                        "/api/v3.1/node-instances/{}",
                        instance["id"].as_str().unwrap()
                    ),
                    json!({"version": instance["version"], "runtime_properties": properties}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{updated}");
            patched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(patched, "the instance never showed `configuring`");
    let execution = wait_for(&server, &id, &["terminated", "failed"]).await;
    assert_eq!(execution["status"], "terminated", "{execution}");
    let (_, list) = server.get("/api/v3.1/node-instances?node_id=n").await;
    let instance = &list["items"][0];
    assert_eq!(instance["state"], "started");
    assert_eq!(
        instance["runtime_properties"],
        json!({"created": true, "patched": true, "started": true})
    );
}
