//! k8splugin operations run by a real `stratus serve` against a real kube-apiserver
//! (`../shared/k8s/test-cluster up`, which prints `export KUBECONFIG=…`): corpus DCAE
//! blueprints installed through the REST API, every stored object checked against what
//! k8splugin created, `scale` and `update_image`, `heal`, uninstall leaving nothing behind,
//! and the bad cases (an object of another owner, RBAC refusal, the API server gone
//! mid-install and back); a platform component's MSB annotation; the plugin settings from the
//! Consul key `k8s-plugin` overriding the settings file; `policy_update` exec'ing its script in
//! the running pods.
//!
//! There is no kubelet: a thread (`k8s_support::FakeKubelet`) plays it, marking Deployments
//! available through the `status` subresource; for exec, a Node points kube-apiserver at
//! `k8s_support/kubelet_exec.py`, which answers the relayed WebSocket as a kubelet does. There is no Consul server on these machines: a
//! loopback stand-in (`k8s_support::fake_consul`) answers here, and the Consul KV calls are
//! tested in detail in `crates/stratus-k8s/tests/consul.rs`.
//! Without a reachable cluster every test prints a loud SKIPPED note and passes, unless
//! `STRATUS_REQUIRE_KUBE=1` (CI), where it fails.

mod k8s_support;
mod process;

use std::sync::atomic::Ordering;

use k8s_support::*;
use process::{command, send, serve};
use serde_json::{json, Value};

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

#[test]
fn msb_registration_annotates_the_stored_cluster_ip_service() {
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-msb");
    let manager = manager(&cluster, &namespace, &cluster.kubeconfig.clone(), json!({}));
    let _kubelet = FakeKubelet::start(&cluster, &namespace);
    manager.upload("msb", MSB_BLUEPRINT);
    // Node ports are cluster-wide: one per test process, clear of the corpus's (30xxx, 3201x).
    let node_port = 32100 + std::process::id() % 600;
    let (status, body) = manager.create_deployment("msb1", "msb", json!({"node_port": node_port}));
    assert_eq!(status, 201, "{body}");
    let id = manager.execute("msb1", "install", json!({}));
    let (status, error) = manager.wait(&id, 120);
    let events = manager.events(&id);
    assert_eq!(status, "terminated", "{error}\n{events}");
    assert!(
        events.contains("MSB registration (port 8080, url /api/msb-platform)"),
        "{events}"
    );
    let instance = manager.instances("msb1").remove(0);
    check_component(&cluster, &manager, "msb1", &instance);
    let path = format!("/api/v1/namespaces/{namespace}/services");
    let service = cluster
        .get(&format!("{path}/dcae-msb-platform"))
        .expect("ClusterIP Service");
    let annotation = service
        .pointer("/metadata/annotations/msb.onap.org~1service-info")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no MSB annotation: {}", service["metadata"]));
    assert_eq!(
        annotation,
        r#"[{"serviceName": "dcae-msb-platform", "port": "8080", "version": "v2", "url": "/api/msb-platform", "protocol": "REST", "enable_ssl": true, "visualRange": "1"}]"#
    );
    let entries: Value = serde_json::from_str(annotation).unwrap();
    assert_eq!(entries[0]["enable_ssl"], json!(true));
    // k8splugin annotated the ClusterIP Service only.
    let exposed = cluster
        .get(&format!("{path}/xdcae-msb-platform"))
        .expect("NodePort Service");
    assert_eq!(exposed["spec"]["ports"][0]["nodePort"], json!(node_port));
    assert!(
        exposed["metadata"].get("annotations").is_none(),
        "{}",
        exposed["metadata"]
    );
    // Starting again adopts the annotated Service; uninstall removes everything.
    let (status, error) = manager.run(
        "msb1",
        "execute_operation",
        json!({"operation": "cloudify.interfaces.lifecycle.start"}),
    );
    assert_eq!(status, "terminated", "start again: {error}");
    assert_eq!(manager.run("msb1", "uninstall", json!({})).0, "terminated");
    for kind in ["deployments", "services", "configmaps"] {
        assert!(cluster.names(&namespace, kind).is_empty(), "{kind} left");
    }
}

#[test]
fn settings_from_the_consul_key_override_the_file() {
    let Some(cluster) = cluster() else { return };
    // The file names one namespace, the Consul key another: the key wins, at each operation.
    let file_namespace = unique("e2e-file");
    let consul_namespace = unique("e2e-consul");
    cluster.create_namespace(&consul_namespace);
    let (consul, seen) = fake_consul(json!({"namespace": consul_namespace,
        "image_pull_secrets": ["onap-docker-registry-key"], "poll_interval_ms": 200}));
    let mut manager = manager_with_config_txt(
        &cluster,
        &file_namespace,
        &cluster.kubeconfig.clone(),
        json!({"image_pull_secrets": ["file-secret"]}),
        Some(&format!("[consul]\naddress={consul}\n")),
    );
    manager.namespace = consul_namespace.clone();
    let _kubelet = FakeKubelet::start(&cluster, &consul_namespace);
    manager.upload("comp", &component_blueprint());
    assert_eq!(manager.create_deployment("c1", "comp", json!({})).0, 201);
    let id = manager.execute("c1", "install", json!({}));
    let (status, error) = manager.wait(&id, 120);
    let events = manager.events(&id);
    assert_eq!(status, "terminated", "{error}\n{events}");
    assert!(
        events.contains("k8splugin settings: k8splugin defaults + file ")
            && events.contains(&format!(
                "k8s-plugin.json + Consul key 'k8s-plugin' at {consul}"
            )),
        "{events}"
    );
    let instance = manager.instances("c1").remove(0);
    check_component(&cluster, &manager, "c1", &instance);
    assert_eq!(cluster.names(&consul_namespace, "deployments").len(), 1);
    assert!(cluster.names(&file_namespace, "deployments").is_empty());
    let name = instance["runtime_properties"]["service_component_name"]
        .as_str()
        .unwrap()
        .to_string();
    {
        let seen = seen.lock().unwrap();
        // One settings read per operation (create, start), and the configuration stored.
        let reads = seen
            .iter()
            .filter(|l| l.starts_with("GET /v1/kv/k8s-plugin "))
            .count();
        assert!(reads >= 2, "{seen:?}");
        assert!(
            seen.iter()
                .any(|l| l.starts_with(&format!("PUT /v1/kv/{name} "))),
            "{seen:?}"
        );
    }
    assert_eq!(manager.run("c1", "uninstall", json!({})).0, "terminated");
    assert!(seen
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.starts_with(&format!("DELETE /v1/kv/{name} "))));
    for kind in ["deployments", "services", "configmaps"] {
        assert!(
            cluster.names(&consul_namespace, kind).is_empty(),
            "{kind} left"
        );
    }
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

/// policy_update with a docker trigger runs the script in the main container of each running
/// pod of the component, through the real API server's exec (relayed to a stand-in kubelet);
/// a pod that is not running is left alone.
#[test]
fn policy_update_runs_the_script_in_each_running_pod() {
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-policy");
    let manager = manager(&cluster, &namespace, &cluster.kubeconfig.clone(), json!({}));
    let _kubelet = FakeKubelet::start(&cluster, &namespace);
    let node = ExecNode::start(&cluster);
    let blueprint = component_blueprint().replace(
        "docker_config:\n",
        "docker_config:\n        policy: {trigger_type: docker, script_path: /opt/app/reconfigure.sh}\n",
    );
    manager.upload("policy", &blueprint);
    assert_eq!(manager.create_deployment("p1", "policy", json!({})).0, 201);
    assert_eq!(manager.run("p1", "install", json!({})).0, "terminated");
    let instance = manager.instances("p1").remove(0);
    let deployment = instance["runtime_properties"]["k8s_deployment"]["deployment"]
        .as_str()
        .unwrap()
        .to_string();
    let labels = json!({"k8sdeployment": deployment});
    node.pod(&namespace, "policy-pod-a", labels.clone(), "Running");
    node.pod(&namespace, "policy-pod-b", labels, "Pending");
    let policies = json!([{"policy_id": "p1", "config": {"threshold": 3}}]);
    let execution = manager.execute(
        "p1",
        "execute_operation",
        json!({"operation": "dcae.interfaces.policy.policy_update",
               "operation_kwargs": {"updated_policies": policies, "policies": policies},
               "node_instance_ids": [instance["id"]]}),
    );
    let (status, error) = manager.wait(&execution, 60);
    assert_eq!(status, "terminated", "policy_update: {error}");
    let events = manager.events(&execution);
    assert!(
        events.contains(
            r#"notification results: [{"pod":"policy-pod-a","output":"notified policy-pod-a: "#
        ),
        "the pod's output is logged: {events}"
    );
    let execs = node.execs();
    assert_eq!(execs.len(), 1, "one running pod, one exec: {execs:?}");
    let exec = &execs[0];
    assert_eq!(
        exec["path"],
        json!(format!("/exec/{namespace}/policy-pod-a/main")),
        "the main container of the running pod: {exec}"
    );
    let argv = exec["query"]["command"].as_array().unwrap();
    assert_eq!(argv[0], "/opt/app/reconfigure.sh");
    assert_eq!(argv[1], "policies");
    let data: Value = serde_json::from_str(argv[2].as_str().unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"policies": policies, "updated_policies": policies, "removed_policies": null})
    );
    let props = &manager.instances("p1")[0]["runtime_properties"];
    assert_eq!(props["policies"], policies);
    for pod in ["policy-pod-a", "policy-pod-b"] {
        cluster.request(
            "DELETE",
            &format!("/api/v1/namespaces/{namespace}/pods/{pod}"),
            None,
        );
    }
    assert_eq!(manager.run("p1", "uninstall", json!({})).0, "terminated");
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
