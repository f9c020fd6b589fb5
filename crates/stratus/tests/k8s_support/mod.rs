//! Support for `kubernetes.rs` and `pgaas.rs`: the test cluster (`cluster()`, read from `KUBECONFIG`), a
//! stand-in kubelet marking Deployments available, a `stratus serve` with k8splugin settings
//! (`Manager`), the checks of stored objects against what k8splugin created, a switchable TCP
//! relay (the API server "down") and a loopback stand-in for Consul. Each test binary uses a
//! part of it.
#![allow(dead_code, unused_imports)]

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::{command, send, serve, Served};
use serde_json::{json, Value};

mod checks;
mod exec_node;
mod stand_ins;

pub use checks::check_component;
pub use exec_node::ExecNode;
pub use stand_ins::{fake_consul, relay};

pub const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/onap-frankfurt"
);

/// The test cluster: its URL and admin token, from `KUBECONFIG`.
#[derive(Clone)]
pub struct Cluster {
    pub kubeconfig: String,
    pub server: String,
    pub token: String,
}

pub fn cluster() -> Option<Cluster> {
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
    pub fn request_as(
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

    pub fn request(&self, method: &str, path: &str, body: Option<(&str, &Value)>) -> (u16, String) {
        self.request_as(&self.token, method, path, body)
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        match self.request("GET", path, None) {
            (200, body) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    pub fn create_namespace(&self, name: &str) {
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
    pub fn names(&self, namespace: &str, kind: &str) -> Vec<String> {
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
pub struct FakeKubelet {
    pub stop: Arc<AtomicBool>,
}

impl FakeKubelet {
    pub fn start(cluster: &Cluster, namespace: &str) -> FakeKubelet {
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

pub fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// A tar.gz of `app/blueprint.yaml` holding `yaml`.
pub fn archive(dir: &std::path::Path, yaml: &str) -> Vec<u8> {
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

pub struct Manager {
    pub served: Served,
    data: tempfile::TempDir,
    pub namespace: String,
}

/// A `stratus serve` with k8splugin settings for `namespace` and the given credentials.
pub fn manager(
    cluster: &Cluster,
    namespace: &str,
    kubeconfig: &str,
    extra_settings: Value,
) -> Manager {
    manager_with_config_txt(cluster, namespace, kubeconfig, extra_settings, None)
}

/// The same, with a `config.txt` of the given text (which may name Consul).
pub fn manager_with_config_txt(
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
        data,
        namespace: namespace.to_string(),
    }
}

/// A `stratus serve` with no Kubernetes settings, `configure` adding options (given the
/// temporary directory that holds the data directory `state`).
pub fn plain_manager(configure: impl FnOnce(&mut Command, &std::path::Path)) -> Manager {
    let data = tempfile::tempdir().unwrap();
    let mut c = command(&data.path().join("state"));
    c.args(["--admin-password", "pw"])
        .env("STRATUS_ONAP_CONFIG", data.path().join("no-config.txt"));
    configure(&mut c, data.path());
    Manager {
        served: serve(c),
        data,
        namespace: String::new(),
    }
}

impl Manager {
    /// The data directory `stratus serve` was given.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data.path().join("state")
    }

    pub fn port(&self) -> u16 {
        self.served.port
    }

    pub fn upload(&self, id: &str, yaml: &str) {
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

    pub fn create_deployment(&self, id: &str, blueprint: &str, inputs: Value) -> (u16, String) {
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

    pub fn execute(&self, deployment: &str, workflow: &str, parameters: Value) -> String {
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
    pub fn wait(&self, execution: &str, seconds: u64) -> (String, String) {
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

    pub fn run(&self, deployment: &str, workflow: &str, parameters: Value) -> (String, String) {
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

    pub fn events(&self, execution: &str) -> String {
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

    pub fn instances(&self, deployment: &str) -> Vec<Value> {
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

    pub fn node(&self, deployment: &str, node: &str) -> Value {
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

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_micros()
    )
}

/// A blueprint of one service component with short retries, for the update and bad cases.
pub fn component_blueprint() -> String {
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
pub const MSB_BLUEPRINT: &str = include_str!("../data/k8s-msb-platform.yaml");
