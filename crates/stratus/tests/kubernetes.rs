//! k8splugin operations run by a real `stratus serve` against a real kube-apiserver
//! (`../shared/k8s/test-cluster up`, which prints `export KUBECONFIG=…`): corpus DCAE
//! blueprints installed through the REST API, every stored object checked against what
//! k8splugin created, `scale` and `update_image`, `heal`, uninstall leaving nothing behind,
//! and the bad cases (an object of another owner, RBAC refusal, the API server gone
//! mid-install and back).
//!
//! There is no kubelet: `kube_support::FakeKubelet` plays it, marking Deployments available
//! through the `status` subresource. There is no Consul server on these machines: the Consul KV calls are
//! tested against a loopback HTTP server in `crates/stratus-k8s/tests/consul.rs`.
//! Without a reachable cluster every test prints a loud SKIPPED note and passes, unless
//! `STRATUS_REQUIRE_KUBE=1` (CI), where it fails.

mod kube_support;
mod process;

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kube_support::*;
use process::{command, send, serve};
use serde_json::{json, Value};

/// Checks the objects of one started k8splugin node instance against what k8splugin created.
fn check_component(cluster: &Cluster, manager: &Manager, deployment: &str, instance: &Value) {
    let ns = &manager.namespace;
    let props = &instance["runtime_properties"];
    let node = manager.node(deployment, instance["node_id"].as_str().unwrap());
    let properties = &node["properties"];
    let description = &props["k8s_deployment"];
    assert_eq!(description["namespace"], json!(ns), "{props}");
    let name = description["deployment"]
        .as_str()
        .expect("k8s_deployment.deployment");
    let component = name.strip_prefix("dep-").expect("dep- prefix");
    let stored = cluster
        .get(&format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}"))
        .expect("Deployment stored");
    let labels = &stored["spec"]["template"]["metadata"]["labels"];
    assert_eq!(labels["app"], json!(component));
    assert_eq!(labels["k8sdeployment"], json!(name));
    assert_eq!(labels["cfydeployment"], json!(deployment));
    assert_eq!(labels["cfynode"], instance["node_id"]);
    assert_eq!(labels["cfynodeinstance"], instance["id"]);
    let pod = &stored["spec"]["template"]["spec"];
    assert_eq!(pod["hostname"], json!(component));
    assert_eq!(
        pod["imagePullSecrets"],
        json!([{"name": "onap-docker-registry-key"}])
    );
    let main = &pod["containers"][0];
    assert_eq!(main["name"], json!(component));
    assert_eq!(main["image"], properties["image"], "image");
    let replicas = properties
        .get("replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    assert_eq!(stored["spec"]["replicas"], json!(replicas));
    assert_eq!(props["replicas"], json!(replicas));
    let env = main["env"].as_array().unwrap();
    assert_eq!(
        env.last().unwrap(),
        &json!({"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}})
    );
    for key in [
        "CONSUL_HOST",
        "CONFIG_BINDING_SERVICE",
        "DCAE_CA_CERTPATH",
        "CBS_CONFIG_URL",
    ] {
        assert!(
            env.iter().any(|e| e["name"] == json!(key)),
            "{key} in {env:?}"
        );
    }
    let cbs = env
        .iter()
        .find(|e| e["name"] == json!("CBS_CONFIG_URL"))
        .unwrap();
    assert_eq!(
        cbs["value"],
        json!(format!(
            "https://config-binding-service:10443/service_component_all/{component}"
        ))
    );
    if let Some(check) = properties.pointer("/docker_config/healthcheck") {
        let probe = &main["readinessProbe"];
        assert_eq!(probe["failureThreshold"], 1);
        assert_eq!(probe["initialDelaySeconds"], 5);
        match check["type"].as_str() {
            Some("http") | Some("https") => {
                assert_eq!(probe["httpGet"]["path"], check["endpoint"]);
                assert_eq!(probe["httpGet"]["port"], main["ports"][0]["containerPort"]);
            }
            _ => assert_eq!(probe["exec"]["command"][0], check["script"]),
        }
    } else {
        assert!(main.get("readinessProbe").is_none());
    }
    let containers: Vec<&str> = pod["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let logs = properties.pointer("/log_info/log_directory").is_some();
    assert_eq!(containers.contains(&"filebeat"), logs, "{containers:?}");
    let tls = properties.pointer("/tls_info/use_tls") == Some(&json!(true));
    let inits: Vec<&str> = pod["initContainers"]
        .as_array()
        .map(|a| a.iter().map(|c| c["name"].as_str().unwrap()).collect())
        .unwrap_or_default();
    assert_eq!(inits.contains(&"init-tls"), tls, "{inits:?}");
    // Services: a ClusterIP for all container ports, a NodePort for those with a host port.
    let container_ports: Vec<i64> = main["ports"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["containerPort"].as_i64().unwrap())
                .collect()
        })
        .unwrap_or_default();
    let services: Vec<String> = description["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    if container_ports.is_empty() {
        assert!(services.is_empty());
    } else {
        assert_eq!(services[0], component);
        let service = cluster
            .get(&format!("/api/v1/namespaces/{ns}/services/{component}"))
            .expect("ClusterIP Service");
        assert_eq!(service["spec"]["type"], "ClusterIP");
        assert_eq!(service["spec"]["selector"], json!({"app": component}));
        assert_eq!(
            service["metadata"]["labels"]["cfynodeinstance"],
            instance["id"]
        );
        let ports: Vec<i64> = service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["port"].as_i64().unwrap())
            .collect();
        assert_eq!(ports, container_ports);
        if services.len() > 1 {
            assert_eq!(services[1], format!("x{component}"));
            let exposed = cluster
                .get(&format!("/api/v1/namespaces/{ns}/services/x{component}"))
                .expect("NodePort Service");
            assert_eq!(exposed["spec"]["type"], "NodePort");
            for port in exposed["spec"]["ports"].as_array().unwrap() {
                assert!(port["nodePort"].as_i64().unwrap() > 0);
                assert!(port["name"].as_str().unwrap().starts_with("xport-t-"));
            }
        }
    }
}

#[test]
fn corpus_blueprints_install_check_and_uninstall() {
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-corpus");
    let manager = manager(&cluster, &namespace, &cluster.kubeconfig.clone(), json!({}));
    let kubelet = FakeKubelet::start(&cluster, &namespace);
    let _ = &kubelet;
    let mut installed = 0;
    for name in [
        "k8s-ves",
        "k8s-hv-ves",
        "k8s-prh",
        "k8s-tca",
        "k8s-heartbeat",
        // k8s-holmes-rules needs a pgaas cluster (a PostgreSQL server): tests/pgaas.rs.
    ] {
        let yaml = std::fs::read_to_string(format!("{CORPUS}/{name}.yaml")).unwrap();
        manager.upload(name, &yaml);
        let deployment = format!("{name}-d");
        let (status, body) = manager.create_deployment(&deployment, name, json!({}));
        // Every plugin these blueprints use runs here: none is refused at creation.
        assert_eq!(status, 201, "{name}: {body}");
        let (status, error) = manager.run(&deployment, "install", json!({}));
        assert_eq!(status, "terminated", "install {name}: {error}");
        installed += 1;
        let instances = manager.instances(&deployment);
        let mut checked = 0;
        for instance in &instances {
            if instance["runtime_properties"]
                .get("k8s_deployment")
                .is_some()
            {
                check_component(&cluster, &manager, &deployment, instance);
                checked += 1;
            }
        }
        assert!(checked > 0, "{name}: no component started");
        // Re-running start adopts what is there.
        let (status, error) = manager.run(
            &deployment,
            "execute_operation",
            json!({"operation": "cloudify.interfaces.lifecycle.start"}),
        );
        assert_eq!(status, "terminated", "start again {name}: {error}");
        let (status, error) = manager.run(&deployment, "uninstall", json!({}));
        assert_eq!(status, "terminated", "uninstall {name}: {error}");
        for kind in ["deployments", "services", "configmaps"] {
            let left: Vec<String> = cluster.names(&namespace, kind);
            assert!(
                left.is_empty(),
                "{name}: {kind} left after uninstall: {left:?}"
            );
        }
    }
    assert_eq!(installed, 5);
}

/// A blueprint of one service component with short retries, for the update and bad cases.
fn component_blueprint() -> String {
    r#"tosca_definitions_version: cloudify_dsl_1_3
imports:
  - http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml
  - https://nexus.onap.org/service/local/repositories/raw/content/org.onap.dcaegen2.platform.plugins/R6/k8splugin/1.7.2/k8splugin_types.yaml
node_templates:
  comp:
    type: dcae.nodes.ContainerizedServiceComponent
    properties:
      service_component_type: dcae-test_comp
      image: nginx:1.19
      replicas: 1
      application_config: {greeting: hello}
      docker_config:
        healthcheck: {type: http, endpoint: /health, interval: 10s, timeout: 2s}
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          max_retries: 3
          retry_interval: 1
        start:
          max_retries: 3
          retry_interval: 1
          inputs:
            ports: ['80:0']
            max_wait: 20
"#
    .to_string()
}

#[test]
fn scale_update_image_and_heal_change_the_deployment() {
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-update");
    let manager = manager(&cluster, &namespace, &cluster.kubeconfig.clone(), json!({}));
    let _kubelet = FakeKubelet::start(&cluster, &namespace);
    manager.upload("comp", &component_blueprint());
    assert_eq!(manager.create_deployment("c1", "comp", json!({})).0, 201);
    assert_eq!(manager.run("c1", "install", json!({})).0, "terminated");
    let instance = manager.instances("c1").remove(0);
    let name = instance["runtime_properties"]["k8s_deployment"]["deployment"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
    let map = cluster
        .get(&format!(
            "/api/v1/namespaces/{namespace}/configmaps/{}-application-config-configmap",
            &name[4..]
        ))
        .expect("ConfigMap");
    assert_eq!(
        map["data"]["application_config.yaml"],
        json!("{\"greeting\":\"hello\"}")
    );
    let instance_id = instance["id"].as_str().unwrap();
    let (status, error) = manager.run("c1", "execute_operation", json!({"operation": "dcae.interfaces.update.scale", "operation_kwargs": {"replicas": 3}, "node_instance_ids": [instance_id]}));
    assert_eq!(status, "terminated", "{error}");
    assert_eq!(cluster.get(&path).unwrap()["spec"]["replicas"], 3);
    let (status, error) = manager.run("c1", "execute_operation", json!({"operation": "dcae.interfaces.update.update_image", "operation_kwargs": {"image": "nginx:1.20"}, "node_instance_ids": [instance_id]}));
    assert_eq!(status, "terminated", "{error}");
    assert_eq!(
        cluster.get(&path).unwrap()["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.20"
    );
    let props = &manager.instances("c1")[0]["runtime_properties"];
    assert_eq!(
        (props["replicas"].clone(), props["image"].clone()),
        (json!(3), json!("nginx:1.20"))
    );
    // Heal: the Deployment is deleted behind the manager's back; heal recreates it.
    let uid = cluster.get(&path).unwrap()["metadata"]["uid"].clone();
    cluster.request("DELETE", &path, None);
    let (status, error) = manager.run("c1", "heal", json!({"node_instance_id": instance_id}));
    assert_eq!(status, "terminated", "heal: {error}");
    let healed = cluster.get(&path).expect("heal recreated the Deployment");
    assert_ne!(healed["metadata"]["uid"], uid);
    assert_eq!(manager.run("c1", "uninstall", json!({})).0, "terminated");
    for kind in ["deployments", "services", "configmaps"] {
        assert!(cluster.names(&namespace, kind).is_empty(), "{kind} left");
    }
}

#[test]
fn an_object_of_another_owner_is_a_clear_failure_and_left_alone() {
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-conflict");
    let manager = manager(&cluster, &namespace, &cluster.kubeconfig.clone(), json!({}));
    let _kubelet = FakeKubelet::start(&cluster, &namespace);
    manager.upload("comp", &component_blueprint());
    assert_eq!(manager.create_deployment("c1", "comp", json!({})).0, 201);
    // Install once to learn the (deterministic) component name, then uninstall.
    assert_eq!(manager.run("c1", "install", json!({})).0, "terminated");
    let name = manager.instances("c1")[0]["runtime_properties"]["service_component_name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(manager.run("c1", "uninstall", json!({})).0, "terminated");
    // Someone else's Service takes the name.
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"team": "other"}},
        "spec": {"ports": [{"port": 80}], "selector": {"app": "other"}}});
    let (status, body) = cluster.request(
        "POST",
        &format!("/api/v1/namespaces/{namespace}/services"),
        Some(("application/json", &service)),
    );
    assert_eq!(status, 201, "{body}");
    let (status, error) = manager.run("c1", "install", json!({}));
    assert_eq!(status, "failed");
    assert!(
        error.contains("already exists with other content") && error.contains(&name),
        "{error}"
    );
    // The foreign Service is untouched by the install and by the uninstall.
    manager.run("c1", "uninstall", json!({}));
    let kept = cluster
        .get(&format!("/api/v1/namespaces/{namespace}/services/{name}"))
        .expect("foreign Service kept");
    assert_eq!(kept["spec"]["selector"], json!({"app": "other"}));
}

#[test]
fn rbac_refusal_is_a_clear_failure() {
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-rbac");
    cluster.create_namespace(&namespace);
    // A service account with no rights, and a token for it (TokenRequest).
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "nobody"}});
    cluster.request(
        "POST",
        &format!("/api/v1/namespaces/{namespace}/serviceaccounts"),
        Some(("application/json", &sa)),
    );
    let request = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}});
    let (status, body) = cluster.request(
        "POST",
        &format!("/api/v1/namespaces/{namespace}/serviceaccounts/nobody/token"),
        Some(("application/json", &request)),
    );
    assert_eq!(status, 201, "token request: {body}");
    let token = json_of(&body)["status"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let ca = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let ca = ca
        .split("certificate-authority:")
        .nth(1)
        .and_then(|r| r.split('}').next())
        .unwrap()
        .trim()
        .trim_matches('"')
        .to_string();
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster: {{server: \"{}\", certificate-authority: \"{ca}\"}}\nusers:\n- name: nobody\n  user: {{token: \"{token}\"}}\ncontexts:\n- name: t\n  context: {{cluster: t, user: nobody}}\ncurrent-context: t\n", cluster.server)).unwrap();
    let manager = manager(
        &cluster,
        &namespace,
        kubeconfig.to_str().unwrap(),
        json!({}),
    );
    manager.upload("comp", &component_blueprint());
    assert_eq!(manager.create_deployment("c1", "comp", json!({})).0, 201);
    let (status, error) = manager.run("c1", "install", json!({}));
    assert_eq!(status, "failed");
    assert!(
        error.contains("forbidden") || error.contains("Forbidden"),
        "{error}"
    );
    assert!(error.contains("ConfigMap"), "names the object: {error}");
}

/// A TCP relay to the API server that can be switched off and on (the API server "down").
struct Relay {
    port: u16,
    up: Arc<AtomicBool>,
}

fn relay(target: &str) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let up = Arc::new(AtomicBool::new(true));
    let (target, flag) = (target.to_string(), up.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            if !flag.load(Ordering::SeqCst) {
                drop(client);
                continue;
            }
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut client, mut server) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut server);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s2, &mut client);
            });
        }
    });
    Relay { port, up }
}

#[test]
fn api_server_down_mid_install_fails_clearly_and_resume_completes() {
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-down");
    let target = cluster
        .server
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_string();
    let relay = relay(&target);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let text = std::fs::read_to_string(&cluster.kubeconfig)
        .unwrap()
        .replace(&target, &format!("127.0.0.1:{}", relay.port));
    std::fs::write(&kubeconfig, text).unwrap();
    let manager = manager(
        &cluster,
        &namespace,
        kubeconfig.to_str().unwrap(),
        json!({}),
    );
    let _kubelet = FakeKubelet::start(&cluster, &namespace);
    manager.upload("comp", &component_blueprint());
    assert_eq!(manager.create_deployment("c1", "comp", json!({})).0, 201);
    relay.up.store(false, Ordering::SeqCst);
    let id = manager.execute("c1", "install", json!({}));
    let (status, error) = manager.wait(&id, 120);
    let events = manager.events(&id);
    assert_eq!(status, "failed", "{events}");
    assert!(error.contains("unreachable"), "{error}");
    assert!(
        events.contains("task_rescheduled") || events.contains("retry"),
        "retried first: {events}"
    );
    relay.up.store(true, Ordering::SeqCst);
    let body = json!({"action": "resume"});
    let (status, text) = send(
        manager.port(),
        "POST",
        &format!("/api/v3.1/executions/{id}"),
        "application/json",
        body.to_string().as_bytes(),
    );
    assert!(status == 200 || status == 201, "resume: {status} {text}");
    let (status, error) = manager.wait(&id, 120);
    assert_eq!(
        status,
        "terminated",
        "resumed install: {error}\n{}",
        manager.events(&id)
    );
    assert_eq!(cluster.names(&namespace, "deployments").len(), 1);
    assert_eq!(manager.run("c1", "uninstall", json!({})).0, "terminated");
}

#[test]
fn without_credentials_deployments_are_refused_saying_what_was_looked_for() {
    // No cluster needed: point every credentials source nowhere.
    let data = tempfile::tempdir().unwrap();
    let mut c = command(&data.path().join("state"));
    c.args(["--admin-password", "pw"])
        .env("STRATUS_KUBECONFIG", data.path().join("missing-kubeconfig"))
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST");
    let served = serve(c);
    if std::path::Path::new("/opt/onap/kube/kubeconfig").exists()
        || std::path::Path::new("/etc/cloudify/.kube/config").exists()
        || std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token").exists()
        || std::path::Path::new("/secret/token").exists()
    {
        eprintln!("*** SKIPPED: this machine has standard Kubernetes credentials ***");
        return;
    }
    let yaml = component_blueprint();
    let dir = tempfile::tempdir().unwrap();
    let (status, body) = send(
        served.port,
        "PUT",
        "/api/v3.1/blueprints/comp",
        "application/octet-stream",
        &archive(dir.path(), &yaml),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(
        served.port,
        "PUT",
        "/api/v3.1/deployments/c1",
        "application/json",
        br#"{"blueprint_id": "comp"}"#,
    );
    assert_eq!(status, 400, "{body}");
    for expected in [
        "no Kubernetes credentials found",
        "missing-kubeconfig",
        "/opt/onap/kube/kubeconfig",
        "/etc/cloudify/.kube/config",
        "KUBECONFIG",
        "/secret",
    ] {
        assert!(body.contains(expected), "{expected} in {body}");
    }
    let (_, status_body) = send(
        served.port,
        "GET",
        "/api/v3.1/status",
        "application/json",
        b"",
    );
    assert!(
        status_body.contains("no Kubernetes credentials found"),
        "{status_body}"
    );
}
