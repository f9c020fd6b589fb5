//! k8splugin operations run by a real `stratus serve` against a real kube-apiserver
//! (`../shared/k8s/test-cluster up`, which prints `export KUBECONFIG=…`): corpus DCAE
//! blueprints installed through the REST API, every stored object checked against what
//! k8splugin created, `scale` and `update_image`, `heal`, uninstall leaving nothing behind,
//! and the bad cases (an object of another owner, RBAC refusal, the API server gone
//! mid-install and back).
//!
//! There is no kubelet: a thread here plays it, marking Deployments available through the
//! `status` subresource. There is no Consul server on these machines: the Consul KV calls are
//! tested against a loopback HTTP server in `crates/stratus-k8s/tests/consul.rs`.
//! Without a reachable cluster every test prints a loud SKIPPED note and passes, unless
//! `STRATUS_REQUIRE_KUBE=1` (CI), where it fails.

mod process;

use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use process::{base64_free, command, send, serve, Served};
use serde_json::{json, Value};

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/onap-frankfurt"
);

/// The test cluster: its URL and admin token, from `KUBECONFIG`.
#[derive(Clone)]
struct Cluster {
    kubeconfig: String,
    server: String,
    token: String,
}

fn cluster() -> Option<Cluster> {
    let require = std::env::var("STRATUS_REQUIRE_KUBE").as_deref() == Ok("1");
    let skip = |why: String| {
        if require {
            panic!("STRATUS_REQUIRE_KUBE=1 but the test cluster is not usable: {why}");
        }
        eprintln!("\n*** SKIPPED: Kubernetes tests need the test cluster ({why}); run `../shared/k8s/test-cluster up` and export KUBECONFIG ***\n");
        None
    };
    let Ok(kubeconfig) = std::env::var("KUBECONFIG") else {
        return skip("KUBECONFIG is not set".into());
    };
    let Ok(text) = std::fs::read_to_string(&kubeconfig) else {
        return skip(format!("cannot read {kubeconfig}"));
    };
    let find = |key: &str| {
        text.split(key)
            .nth(1)
            .and_then(|rest| rest.split([',', '}', '\n']).next())
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    let (Some(server), Some(token)) = (find("server:"), find("token:")) else {
        return skip(format!("{kubeconfig} has no server and token"));
    };
    let cluster = Cluster {
        kubeconfig,
        server,
        token,
    };
    let (status, body) = cluster.request("GET", "/readyz", None);
    if status != 200 {
        return skip(format!(
            "{} /readyz answered {status} {body}",
            cluster.server
        ));
    }
    // A server that cannot decode objects is no test cluster: kube-apiserver 1.20 built with
    // Go >= 1.18 and its vendored reflect2 1.0.1 panics on every JSON body with a map (the
    // connection is closed, status 000); the build needs reflect2 >= 1.0.2.
    let probe = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "stratus-probe", "labels": {"a": "b"}}, "data": {"a": "b"}});
    let path = "/api/v1/namespaces/default/configmaps?dryRun=All";
    match cluster.request("POST", path, Some(("application/json", &probe))) {
        (201, _) => Some(cluster),
        (status, body) => skip(format!(
            "{} cannot decode a ConfigMap (dry-run create answered {status} {body}); a kube-apiserver 1.20 built with Go >= 1.18 needs github.com/modern-go/reflect2 >= 1.0.2 vendored",
            cluster.server
        )),
    }
}

impl Cluster {
    fn request_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<(&str, &Value)>,
    ) -> (u16, String) {
        let mut curl = Command::new("curl");
        curl.args([
            "-sk",
            "--max-time",
            "10",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
        ])
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{}{path}", self.server));
        if let Some((content_type, body)) = body {
            curl.arg("-H")
                .arg(format!("Content-Type: {content_type}"))
                .arg("--data-binary")
                .arg(body.to_string());
        }
        let output = curl.output().expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (status.trim().parse().unwrap_or(0), body.to_string())
    }

    fn request(&self, method: &str, path: &str, body: Option<(&str, &Value)>) -> (u16, String) {
        self.request_as(&self.token, method, path, body)
    }

    fn get(&self, path: &str) -> Option<Value> {
        match self.request("GET", path, None) {
            (200, body) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    fn create_namespace(&self, name: &str) {
        let (status, body) = self.request(
            "POST",
            "/api/v1/namespaces",
            Some((
                "application/json",
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            )),
        );
        assert!(
            status == 201 || status == 409,
            "create namespace {name}: {status} {body}"
        );
    }

    /// Names of the objects of `kind` (deployments, services, configmaps) in `namespace`.
    fn names(&self, namespace: &str, kind: &str) -> Vec<String> {
        let path = match kind {
            "deployments" => format!("/apis/apps/v1/namespaces/{namespace}/deployments"),
            other => format!("/api/v1/namespaces/{namespace}/{other}"),
        };
        self.get(&path)
            .and_then(|list| list["items"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|item| item.pointer("/metadata/labels/cfydeployment").is_some())
            .filter_map(|item| {
                item.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect()
    }
}

/// Plays the kubelet and controllers: every Deployment of `namespace` not in `hold` is made
/// available for its current generation and replica count.
struct FakeKubelet {
    stop: Arc<AtomicBool>,
}

impl FakeKubelet {
    fn start(cluster: &Cluster, namespace: &str) -> FakeKubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let hold = Arc::new(Mutex::new(Vec::new()));
        let (cluster, namespace, flag, held) = (
            cluster.clone(),
            namespace.to_string(),
            stop.clone(),
            hold.clone(),
        );
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let path = format!("/apis/apps/v1/namespaces/{namespace}/deployments");
                let items = cluster
                    .get(&path)
                    .and_then(|l| l["items"].as_array().cloned())
                    .unwrap_or_default();
                for item in items {
                    let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
                    if held.lock().unwrap().contains(&name) {
                        continue;
                    }
                    let generation = item["metadata"]["generation"].as_i64().unwrap_or(1);
                    let replicas = item["spec"]["replicas"].as_i64().unwrap_or(1);
                    let status = &item["status"];
                    if status["observedGeneration"].as_i64() == Some(generation)
                        && status["availableReplicas"].as_i64() == Some(replicas)
                    {
                        continue;
                    }
                    let patch = json!({"status": {"observedGeneration": generation, "replicas": replicas,
                        "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
                        "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"}]}});
                    cluster.request(
                        "PATCH",
                        &format!("{path}/{name}/status"),
                        Some(("application/merge-patch+json", &patch)),
                    );
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        FakeKubelet { stop }
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// A tar.gz of `app/blueprint.yaml` holding `yaml`.
fn archive(dir: &std::path::Path, yaml: &str) -> Vec<u8> {
    let app = dir.join("bp/app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("blueprint.yaml"), yaml).unwrap();
    let output = Command::new("tar")
        .arg("-C")
        .arg(dir.join("bp"))
        .args(["-czf", "-", "app"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(dir.join("bp")).unwrap();
    output.stdout
}

struct Manager {
    served: Served,
    _data: tempfile::TempDir,
    namespace: String,
}

/// A `stratus serve` with k8splugin settings for `namespace` and the given credentials.
fn manager(cluster: &Cluster, namespace: &str, kubeconfig: &str, extra_settings: Value) -> Manager {
    manager_with_config_txt(cluster, namespace, kubeconfig, extra_settings, None)
}

/// The same, with a `config.txt` of the given text (which may name Consul).
fn manager_with_config_txt(
    cluster: &Cluster,
    namespace: &str,
    kubeconfig: &str,
    extra_settings: Value,
    config_txt: Option<&str>,
) -> Manager {
    cluster.create_namespace(namespace);
    let data = tempfile::tempdir().unwrap();
    let mut settings = json!({"namespace": namespace, "image_pull_secrets": ["onap-docker-registry-key"],
        "poll_interval_ms": 200});
    if let (Some(settings), Some(extra)) = (settings.as_object_mut(), extra_settings.as_object()) {
        settings.extend(extra.clone());
    }
    let settings_path = data.path().join("k8s-plugin.json");
    std::fs::write(&settings_path, settings.to_string()).unwrap();
    let mut c = command(&data.path().join("state"));
    c.args(["--admin-password", "pw"])
        .env("STRATUS_KUBECONFIG", kubeconfig)
        .env("STRATUS_K8S_PLUGIN_CONFIG", &settings_path)
        .env("STRATUS_ONAP_CONFIG", data.path().join("config.txt"));
    if let Some(text) = config_txt {
        std::fs::write(data.path().join("config.txt"), text).unwrap();
    }
    Manager {
        served: serve(c),
        _data: data,
        namespace: namespace.to_string(),
    }
}

impl Manager {
    fn port(&self) -> u16 {
        self.served.port
    }

    fn upload(&self, id: &str, yaml: &str) {
        let dir = tempfile::tempdir().unwrap();
        let (status, body) = send(
            self.port(),
            "PUT",
            &format!("/api/v3.1/blueprints/{id}"),
            "application/octet-stream",
            &archive(dir.path(), yaml),
        );
        assert_eq!(status, 201, "upload {id}: {body}");
    }

    fn create_deployment(&self, id: &str, blueprint: &str, inputs: Value) -> (u16, String) {
        let body = json!({"blueprint_id": blueprint, "inputs": inputs});
        let result = send(
            self.port(),
            "PUT",
            &format!("/api/v3.1/deployments/{id}"),
            "application/json",
            body.to_string().as_bytes(),
        );
        result
    }

    fn execute(&self, deployment: &str, workflow: &str, parameters: Value) -> String {
        let body = json!({"deployment_id": deployment, "workflow_id": workflow, "parameters": parameters, "allow_custom_parameters": true});
        let (status, body) = send(
            self.port(),
            "POST",
            "/api/v3.1/executions",
            "application/json",
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 201, "{workflow} on {deployment}: {body}");
        json_of(&body)["id"].as_str().unwrap().to_string()
    }

    /// Waits for an execution to end; returns (status, error, events text).
    fn wait(&self, execution: &str, seconds: u64) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let (_, body) = send(
                self.port(),
                "GET",
                &format!("/api/v3.1/executions/{execution}"),
                "application/json",
                b"",
            );
            let record = json_of(&body);
            let status = record["status"].as_str().unwrap_or("").to_string();
            if ["terminated", "failed", "cancelled"].contains(&status.as_str()) {
                return (status, record["error"].as_str().unwrap_or("").to_string());
            }
            assert!(
                Instant::now() < deadline,
                "execution {execution} still {status} after {seconds} s"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn run(&self, deployment: &str, workflow: &str, parameters: Value) -> (String, String) {
        let id = self.execute(deployment, workflow, parameters);
        let result = self.wait(&id, 120);
        if result.0 != "terminated" {
            eprintln!(
                "{workflow} of {deployment}: {:?}\nevents: {}",
                result,
                self.events(&id)
            );
        }
        result
    }

    fn events(&self, execution: &str) -> String {
        let (_, body) = send(
            self.port(),
            "GET",
            &format!("/api/v3.1/events?execution_id={execution}&_size=1000"),
            "application/json",
            b"",
        );
        json_of(&body)["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["event_type"]
                                .as_str()
                                .unwrap_or(e["level"].as_str().unwrap_or("")),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    }

    fn instances(&self, deployment: &str) -> Vec<Value> {
        let (_, body) = send(
            self.port(),
            "GET",
            &format!("/api/v3.1/node-instances?deployment_id={deployment}"),
            "application/json",
            b"",
        );
        json_of(&body)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn node(&self, deployment: &str, node: &str) -> Value {
        let (_, body) = send(
            self.port(),
            "GET",
            &format!("/api/v3.1/nodes?deployment_id={deployment}&id={node}"),
            "application/json",
            b"",
        );
        json_of(&body)["items"][0].clone()
    }
}

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

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_micros()
    )
}

#[test]
fn corpus_blueprints_install_check_and_uninstall() {
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-corpus");
    let manager = manager(&cluster, &namespace, &cluster.kubeconfig.clone(), json!({}));
    let kubelet = FakeKubelet::start(&cluster, &namespace);
    let _ = &kubelet;
    let mut installed = 0;
    let mut refused = Vec::new();
    for name in [
        "k8s-ves",
        "k8s-hv-ves",
        "k8s-prh",
        "k8s-tca",
        "k8s-heartbeat",
        "k8s-holmes-rules",
    ] {
        let yaml = std::fs::read_to_string(format!("{CORPUS}/{name}.yaml")).unwrap();
        manager.upload(name, &yaml);
        let deployment = format!("{name}-d");
        let (status, body) = manager.create_deployment(&deployment, name, json!({}));
        if status != 201 {
            // Refused at creation: only for another plugin this manager cannot run.
            assert!(
                body.contains("deployment_plugin_not_found")
                    && !body.contains("(package 'k8splugin')"),
                "{name}: {body}"
            );
            refused.push(format!("{name}: {body}"));
            continue;
        }
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
    eprintln!("installed {installed} corpus blueprints; refused at creation: {refused:?}");
    assert!(installed >= 5, "installed {installed}; refused {refused:?}");
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

/// A platform component with `msb_registration` (no corpus blueprint sets it).
const MSB_BLUEPRINT: &str = include_str!("data/k8s-msb-platform.yaml");

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

/// A stand-in for Consul on loopback: `GET /v1/kv/k8s-plugin` answers `settings` in Consul's
/// form (a JSON list, the value in base64), other keys 404; `PUT` and `DELETE` answer `true`.
/// Returns its address and the request lines seen.
fn fake_consul(settings: Value) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = Vec::new();
            let mut buffer = [0u8; 8192];
            loop {
                let n = std::io::Read::read(&mut stream, &mut buffer).unwrap_or(0);
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let line = text.lines().next().unwrap_or("").to_string();
            let (status, body) = if line.starts_with("GET /v1/kv/k8s-plugin ") {
                let value = base64_free::encode(&settings.to_string());
                let body = json!([{"Key": "k8s-plugin", "Flags": 0, "Value": value,
                    "LockIndex": 0, "CreateIndex": 5, "ModifyIndex": 5}]);
                ("200 OK", body.to_string())
            } else if line.starts_with("GET ") {
                ("404 Not Found", String::new())
            } else {
                ("200 OK", "true".to_string())
            };
            log.lock().unwrap().push(line);
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    (address, seen)
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
