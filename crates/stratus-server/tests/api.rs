//! The REST API end to end, in process: Cloudify shapes, errors and nothing half-written.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use support::{blueprint_archive, gzip, tar, Server, PASSWORD, SIMPLE};

fn code(body: &Value) -> &str {
    body["error_code"].as_str().unwrap_or("")
}

async fn with_deployment() -> Server {
    let server = Server::start().await;
    server
        .deploy("simple", SIMPLE, "d1", json!({"size": 3}))
        .await;
    server
}

#[tokio::test]
async fn a_deployment_has_nodes_instances_outputs_and_a_finished_system_execution() {
    let server = with_deployment().await;
    let (_, nodes) = server
        .get("/api/v3.1/nodes?deployment_id=d1&_sort=id")
        .await;
    let names: Vec<&str> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "db", "server"]);
    let (_, instances) = server
        .get("/api/v3.1/node-instances?deployment_id=d1&_size=2&_offset=0")
        .await;
    assert_eq!(
        instances["metadata"]["pagination"],
        json!({"total": 5, "size": 2, "offset": 0})
    );
    assert_eq!(instances["items"].as_array().unwrap().len(), 2);
    let (_, outputs) = server.get("/api/v3.1/deployments/d1/outputs").await;
    assert_eq!(
        outputs,
        json!({"deployment_id": "d1", "outputs": {"greeting": "hello web", "size": 5432}})
    );
    let (_, executions) =
        server.get("/api/v3.1/executions?deployment_id=d1&_include_system_workflows=true&_include=workflow_id,status").await;
    assert_eq!(
        executions["items"],
        json!([{"workflow_id": "create_deployment_environment", "status": "terminated"}])
    );
    let (_, none) = server.get("/api/v3.1/executions?deployment_id=d1").await;
    assert_eq!(
        none["items"],
        json!([]),
        "system workflows are hidden by default"
    );
    let (_, events) = server
        .get("/api/v3.1/events?deployment_id=d1&type=cloudify_event")
        .await;
    let types: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["workflow_started", "workflow_succeeded"]);
}

#[tokio::test]
async fn deployment_inputs_are_checked_with_cloudify_codes_and_nothing_is_stored() {
    let server = Server::start().await;
    server
        .upload("simple", blueprint_archive(SIMPLE, &[]))
        .await;
    let cases = [
        (
            json!({"blueprint_id": "simple"}),
            "missing_required_deployment_input_error",
        ),
        (
            json!({"blueprint_id": "simple", "inputs": {"size": 1, "colour": "red"}}),
            "unknown_deployment_input_error",
        ),
        (
            json!({"blueprint_id": "nope", "inputs": {"size": 1}}),
            "not_found_error",
        ),
        (json!({"blueprint_id": 7}), "bad_parameters_error"),
        (
            json!({"blueprint_id": "simple", "inputs": "size=1"}),
            "bad_parameters_error",
        ),
    ];
    for (body, expected) in cases {
        let (status, error) = server
            .call(Method::PUT, "/api/v3.1/deployments/d1", body.clone())
            .await;
        assert_eq!(code(&error), expected, "{body} → {error}");
        assert!(status.is_client_error());
    }
    let (_, list) = server.get("/api/v3.1/deployments").await;
    assert_eq!(list["metadata"]["pagination"]["total"], 0);
    let (_, nodes) = server.get("/api/v3.1/nodes").await;
    assert_eq!(nodes["items"], json!([]));
}

#[tokio::test]
async fn malformed_bodies_and_unknown_ids_get_cloudify_errors() {
    let server = Server::start().await;
    let (status, error) = server
        .call_as(
            ("admin", PASSWORD, "default_tenant"),
            Method::PUT,
            "/api/v3.1/deployments/x",
            "application/json",
            b"{\"blueprint_id\": ".to_vec(),
        )
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::BAD_REQUEST, "bad_parameters_error")
    );
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    assert_eq!(error["server_traceback"], Value::Null);
    for uri in [
        "/api/v3.1/blueprints/none",
        "/api/v3.1/deployments/none",
        "/api/v3.1/executions/none",
        "/api/v3.1/node-instances/none",
        "/api/v3.1/secrets/none",
        "/api/v3.1/deployments/none/outputs",
        "/api/v3.1/no-such-endpoint",
    ] {
        let (status, error) = server.get(uri).await;
        assert_eq!(
            (status, code(&error)),
            (StatusCode::NOT_FOUND, "not_found_error"),
            "{uri}"
        );
    }
    let (status, error) = server
        .call(
            Method::PUT,
            "/api/v3.1/deployments/bad%2Fid",
            json!({"blueprint_id": "x"}),
        )
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::BAD_REQUEST, "bad_parameters_error")
    );
    let (status, error) = server.get("/api/v3.1/deployments?_offset=-1").await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::BAD_REQUEST, "bad_parameters_error")
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let server = Server::with_limit(4096).await;
    let (status, error) = server.upload("big", vec![0u8; 10_000]).await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large_error")
    );
    let (_, list) = server.get("/api/v3.1/blueprints").await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn hostile_archives_are_refused_and_leave_nothing_behind() {
    let server = Server::start().await;
    let yaml = SIMPLE.as_bytes();
    let bomb = {
        // 600 MiB of zeros in one entry: over the unpacked-size limit.
        use std::io::Write;
        let size = 600usize << 20;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder
            .write_all(&support::tar_header("app/blueprint.yaml", b'0', "", size))
            .unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..600 {
            encoder.write_all(&chunk).unwrap();
        }
        encoder.write_all(&[0u8; 1024]).unwrap();
        encoder.finish().unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        (
            "dotdot",
            gzip(&tar(&[
                ("app/blueprint.yaml", b'0', "", yaml),
                ("app/../../evil", b'0', "", b"x"),
            ])),
            StatusCode::BAD_REQUEST,
        ),
        (
            "absolute",
            gzip(&tar(&[("/etc/evil", b'0', "", b"x")])),
            StatusCode::BAD_REQUEST,
        ),
        (
            "symlink",
            gzip(&tar(&[
                ("app/blueprint.yaml", b'0', "", yaml),
                ("app/link", b'2', "../../../etc/passwd", b""),
            ])),
            StatusCode::BAD_REQUEST,
        ),
        (
            "hardlink",
            gzip(&tar(&[
                ("app/blueprint.yaml", b'0', "", yaml),
                ("app/hard", b'1', "/etc/passwd", b""),
            ])),
            StatusCode::BAD_REQUEST,
        ),
        (
            "two-tops",
            gzip(&tar(&[
                ("a/blueprint.yaml", b'0', "", yaml),
                ("b/x", b'0', "", b"x"),
            ])),
            StatusCode::BAD_REQUEST,
        ),
        (
            "garbage",
            b"this is not an archive".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "truncated",
            gzip(&tar(&[("app/blueprint.yaml", b'0', "", yaml)]))[..40].to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        ("bomb", bomb, StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (id, archive, expected) in cases {
        let (status, error) = server.upload(id, archive).await;
        assert_eq!(status, expected, "{id}: {error}");
        assert!(!error["message"].as_str().unwrap_or("").is_empty(), "{id}");
        assert!(
            !server
                .dir
                .path()
                .join("blueprints/default_tenant")
                .join(id)
                .exists(),
            "{id} left files"
        );
    }
    let (_, list) = server.get("/api/v3.1/blueprints").await;
    assert_eq!(list["items"], json!([]));
    assert!(
        !std::path::Path::new("/tmp/evil").exists() && !server.dir.path().join("evil").exists()
    );
}

#[tokio::test]
async fn an_invalid_blueprint_lists_its_problems_and_is_not_stored() {
    let server = Server::start().await;
    let yaml = "tosca_definitions_version: cloudify_dsl_1_3\nnode_templates:\n  a:\n    type: no.such.Type\n";
    let (status, error) = server.upload("bad", blueprint_archive(yaml, &[])).await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::BAD_REQUEST, "invalid_blueprint_error")
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("blueprint.yaml:4"),
        "{error}"
    );
    let (status, _) = server.get("/api/v3.1/blueprints/bad").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn duplicates_conflict() {
    let server = with_deployment().await;
    let (status, error) = server
        .upload("simple", blueprint_archive(SIMPLE, &[]))
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::CONFLICT, "conflict_error")
    );
    let (status, error) = server
        .call(
            Method::PUT,
            "/api/v3.1/deployments/d1",
            json!({"blueprint_id": "simple", "inputs": {"size": 1}}),
        )
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::CONFLICT, "conflict_error")
    );
    server
        .call(Method::PUT, "/api/v3.1/secrets/s", json!({"value": "v"}))
        .await;
    let (status, _) = server
        .call(Method::PUT, "/api/v3.1/secrets/s", json!({"value": "v"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = server
        .call(
            Method::POST,
            "/api/v3.1/tenants/default_tenant",
            Value::Null,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, error) = server
        .call(Method::DELETE, "/api/v3.1/blueprints/simple", Value::Null)
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::BAD_REQUEST, "blueprint_in_use")
    );
}

#[tokio::test]
async fn node_instance_updates_need_the_current_version() {
    let server = with_deployment().await;
    let (_, list) = server.get("/api/v3.1/node-instances?node_id=db").await;
    let id = list["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list["items"][0]["version"], 1);
    let uri = format!("/api/v3.1/node-instances/{id}");
    let (status, updated) = server
        .call(
            Method::PATCH,
            &uri,
            json!({"version": 1, "runtime_properties": {"port": 6000}, "state": "started"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    let (status, error) = server
        .call(
            Method::PATCH,
            &uri,
            json!({"version": 1, "runtime_properties": {"port": 1}}),
        )
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::CONFLICT, "conflict_error")
    );
    let (_, outputs) = server.get("/api/v3.1/deployments/d1/outputs").await;
    assert_eq!(
        outputs["outputs"]["size"], 6000,
        "get_attribute reads runtime properties first"
    );
    let (status, error) = server
        .call(Method::DELETE, "/api/v3.1/deployments/d1", Value::Null)
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::BAD_REQUEST, "dependent_exists_error")
    );
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_never_listed() {
    let server = Server::start().await;
    let (status, _) = server
        .call(
            Method::PUT,
            "/api/v3.1/secrets/db_password",
            json!({"value": "hunter2-plaintext"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, got) = server.get("/api/v3.1/secrets/db_password").await;
    assert_eq!(got["value"], "hunter2-plaintext");
    let (_, list) = server.get("/api/v3.1/secrets").await;
    assert_eq!(list["items"][0]["key"], "db_password");
    assert!(!list.to_string().contains("hunter2"), "{list}");
    let server = server.restart().await;
    let database = std::fs::read(server.dir.path().join("stratus.db")).unwrap();
    let wal = std::fs::read(server.dir.path().join("stratus.db-wal")).unwrap_or_default();
    let needle = b"hunter2-plaintext";
    assert!(!database
        .windows(needle.len())
        .chain(wal.windows(needle.len()))
        .any(|w| w == needle));
    let (_, got) = server.get("/api/v3.1/secrets/db_password").await;
    assert_eq!(
        got["value"], "hunter2-plaintext",
        "readable after a restart"
    );
}

#[tokio::test]
async fn state_survives_a_restart() {
    let server = with_deployment().await;
    let server = server.restart().await;
    let (status, deployment) = server.get("/api/v3.1/deployments/d1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deployment["blueprint_id"], "simple");
    let (_, instances) = server
        .get("/api/v3.1/node-instances?deployment_id=d1")
        .await;
    assert_eq!(instances["metadata"]["pagination"]["total"], 5);
    // The unpacked files are a cache: a new deployment works after they are gone.
    std::fs::remove_dir_all(server.dir.path().join("blueprints")).unwrap();
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v3.1/deployments/d2",
            json!({"blueprint_id": "simple", "inputs": {"size": 1, "name": "héllo ☃"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, outputs) = server.get("/api/v3.1/deployments/d2/outputs").await;
    assert_eq!(
        outputs["outputs"]["greeting"], "hello héllo ☃",
        "non-ASCII inputs are accepted"
    );
}

#[tokio::test]
async fn auth_roles_and_tenants_isolate() {
    let server = with_deployment().await;
    let (status, _) = server
        .call_as(
            ("admin", "wrong", "default_tenant"),
            Method::GET,
            "/api/v3.1/blueprints",
            "",
            vec![],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let request = axum::http::Request::builder()
        .uri("/api/v3.1/blueprints")
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, body, _) = server.request(request).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthorized_error")
    );
    let request = axum::http::Request::builder()
        .uri("/healthz")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(server.request(request).await.0, StatusCode::OK);

    server
        .call(Method::POST, "/api/v3.1/tenants/other", Value::Null)
        .await;
    for (user, role) in [("olive", "user"), ("victor", "viewer")] {
        let (status, body) = server
            .call(
                Method::PUT,
                "/api/v3.1/users",
                json!({"username": user, "password": "pw", "role": "default"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = server
            .call(
                Method::PUT,
                "/api/v3.1/tenants/users",
                json!({"tenant_name": "other", "username": user, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, _) = server
        .call_as(
            ("olive", "pw", "default_tenant"),
            Method::GET,
            "/api/v3.1/blueprints",
            "",
            vec![],
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "not a member of default_tenant"
    );
    let (status, list) = server
        .call_as(
            ("olive", "pw", "other"),
            Method::GET,
            "/api/v3.1/deployments",
            "",
            vec![],
        )
        .await;
    assert_eq!(
        (status, list["items"].clone()),
        (StatusCode::OK, json!([])),
        "default_tenant's deployment is invisible"
    );
    let (status, _) = server
        .call_as(
            ("olive", "pw", "other"),
            Method::GET,
            "/api/v3.1/deployments/d1",
            "",
            vec![],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body = serde_json::to_vec(&json!({"value": "x"})).unwrap();
    let (status, _) = server
        .call_as(
            ("olive", "pw", "other"),
            Method::PUT,
            "/api/v3.1/secrets/k",
            "application/json",
            body.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .call_as(
            ("victor", "pw", "other"),
            Method::PUT,
            "/api/v3.1/secrets/k2",
            "application/json",
            body,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers read only");
    let (status, list) = server
        .call_as(
            ("victor", "pw", "other"),
            Method::GET,
            "/api/v3.1/secrets",
            "",
            vec![],
        )
        .await;
    assert_eq!(
        (status, list["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );
    let (status, _) = server
        .call_as(
            ("olive", "pw", "other"),
            Method::PUT,
            "/api/v3.1/users",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only sys_admins manage users"
    );
}

#[tokio::test]
async fn tokens_authenticate() {
    let server = Server::start().await;
    let (status, token) = server
        .call(
            Method::POST,
            "/api/v3.1/tokens",
            json!({"description": "ci"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let value = token["value"].as_str().unwrap().to_string();
    let request = |token: &str| {
        axum::http::Request::builder()
            .uri("/api/v3.1/blueprints")
            .header("authentication-token", token)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    assert_eq!(server.request(request(&value)).await.0, StatusCode::OK);
    let forged = format!("{}x", value);
    assert_eq!(
        server.request(request(&forged)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn list_protocol_sorts_filters_pages_and_projects() {
    let server = Server::start().await;
    for (key, visibility) in [("b", "tenant"), ("a", "private"), ("c", "global")] {
        server
            .call(
                Method::PUT,
                &format!("/api/v3.1/secrets/{key}"),
                json!({"value": "v", "visibility": visibility}),
            )
            .await;
    }
    let (_, list) = server
        .get("/api/v3.1/secrets?_sort=-key&_include=key")
        .await;
    assert_eq!(
        list["items"],
        json!([{"key": "c"}, {"key": "b"}, {"key": "a"}])
    );
    let (_, list) = server
        .get("/api/v3.1/secrets?visibility=global&visibility=private&_sort=key&_include=key")
        .await;
    assert_eq!(list["items"], json!([{"key": "a"}, {"key": "c"}]));
    let (_, list) = server
        .get("/api/v3.1/secrets?_size=1&_offset=1&_sort=key&_include=key")
        .await;
    assert_eq!(list["items"], json!([{"key": "b"}]));
    assert_eq!(
        list["metadata"]["pagination"],
        json!({"total": 3, "size": 1, "offset": 1})
    );
}

#[tokio::test]
async fn an_uploaded_plugin_serves_plugin_imports() {
    let server = Server::start().await;
    let plugin_yaml = b"plugins:\n  myplug:\n    executor: central_deployment_agent\n    package_name: my-plugin\n    package_version: '1.2.3'\nnode_types:\n  my.nodes.Thing:\n    derived_from: cloudify.nodes.Root\n    properties:\n      colour: { default: blue }\n";
    let archive = gzip(&tar(&[
        ("my-plugin/plugin.yaml", b'0', "", plugin_yaml),
        (
            "my-plugin/my_plugin-1.2.3-py3-none-any.wgn",
            b'0',
            "",
            b"wagon",
        ),
    ]));
    let (status, plugin) = server
        .call_as(
            ("admin", PASSWORD, "default_tenant"),
            Method::POST,
            "/api/v3.1/plugins?visibility=tenant",
            "application/octet-stream",
            archive.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    assert_eq!(
        (
            plugin["package_name"].as_str(),
            plugin["package_version"].as_str()
        ),
        (Some("my-plugin"), Some("1.2.3"))
    );
    assert!(plugin.get("_yaml").is_none(), "private fields stay private");
    let (status, _) = server
        .call_as(
            ("admin", PASSWORD, "default_tenant"),
            Method::POST,
            "/api/v3.1/plugins",
            "application/octet-stream",
            archive,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let blueprint = "tosca_definitions_version: cloudify_dsl_1_3\nimports:\n  - http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml\n  - plugin:my-plugin?version=>=1.0,<2\nnode_templates:\n  thing:\n    type: my.nodes.Thing\n";
    server
        .deploy("uses-plugin", blueprint, "p1", json!({}))
        .await;
    let (_, node) = server.get("/api/v3.1/nodes/p1/thing").await;
    assert_eq!(node["properties"]["colour"], "blue");
    let (status, error) = server
        .upload(
            "too-new",
            blueprint_archive(&blueprint.replace(">=1.0,<2", ">=2"), &[]),
        )
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::BAD_REQUEST, "invalid_blueprint_error")
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("uploaded plugins: 1.2.3"),
        "{error}"
    );
}

#[tokio::test]
async fn a_snapshot_restores_everything_into_a_fresh_instance() {
    let source = with_deployment().await;
    source
        .call(
            Method::PUT,
            "/api/v3.1/secrets/db",
            json!({"value": "s3cr3t"}),
        )
        .await;
    let (status, execution) = source
        .call(Method::PUT, "/api/v3.1/snapshots/snap1", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{execution}");
    assert_eq!(
        (
            execution["workflow_id"].as_str(),
            execution["status"].as_str()
        ),
        (Some("create_snapshot"), Some("terminated"))
    );
    let request = axum::http::Request::builder()
        .uri("/api/v3.1/snapshots/snap1/archive")
        .header(
            "authorization",
            format!("Basic {}", base64_of(&format!("admin:{PASSWORD}"))),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let (status, _, archive) = source.request(request).await;
    assert_eq!(status, StatusCode::OK);

    let target = Server::start().await;
    let (status, body) = target
        .call_as(
            ("admin", PASSWORD, "default_tenant"),
            Method::PUT,
            "/api/v3.1/snapshots/snap1/archive",
            "application/octet-stream",
            archive,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = target
        .call(Method::POST, "/api/v3.1/snapshots/snap1/restore", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, deployment) = target.get("/api/v3.1/deployments/d1").await;
    assert_eq!(deployment["blueprint_id"], "simple");
    let (_, instances) = target
        .get("/api/v3.1/node-instances?deployment_id=d1")
        .await;
    assert_eq!(instances["metadata"]["pagination"]["total"], 5);
    let (_, secret) = target.get("/api/v3.1/secrets/db").await;
    assert_eq!(
        secret["value"], "s3cr3t",
        "secrets are re-sealed with the new instance's key"
    );
    let (_, outputs) = target.get("/api/v3.1/deployments/d1/outputs").await;
    assert_eq!(outputs["outputs"]["greeting"], "hello web");
    let (status, body) = target
        .call(
            Method::PUT,
            "/api/v3.1/deployments/d2",
            json!({"blueprint_id": "simple", "inputs": {"size": 1}}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "blueprint files come back from the restored archive: {body}"
    );
    let (_, snapshots) = target.get("/api/v3.1/snapshots").await;
    assert_eq!(
        snapshots["items"][0]["id"], "snap1",
        "snapshot metadata survives its own restore"
    );
    let target = target.restart().await;
    let (_, secret) = target.get("/api/v3.1/secrets/db").await;
    assert_eq!(secret["value"], "s3cr3t", "the restore was committed");

    let (status, error) = target
        .call_as(
            ("admin", PASSWORD, "default_tenant"),
            Method::PUT,
            "/api/v3.1/snapshots/junk/archive",
            "application/octet-stream",
            b"not a snapshot".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{error}");
    let (status, error) = target
        .call(Method::POST, "/api/v3.1/snapshots/junk/restore", json!({}))
        .await;
    assert_eq!(
        (status, code(&error)),
        (StatusCode::BAD_REQUEST, "bad_parameters_error")
    );
    let (_, deployment) = target.get("/api/v3.1/deployments/d1").await;
    assert_eq!(deployment["id"], "d1", "a refused restore changes nothing");
}

fn base64_of(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
