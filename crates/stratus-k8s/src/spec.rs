//! What k8splugin created, as plain data: the Deployment `dep-<name>`, the ClusterIP Service
//! `<name>`, the NodePort Service `x<name>` and the application-config ConfigMap, built from a
//! `Component` without any I/O (so every shape is unit-tested).
//!
//! Followed from k8splugin 1.7 (ONAP Frankfurt, `k8sclient.deploy`): labels `app`,
//! `k8sdeployment`, `cfydeployment`, `cfynode`, `cfynodeinstance` on the pods and Services;
//! `POD_IP` from `status.podIP` in every container; probes from `docker_config.healthcheck`
//! (readiness) and `livehealthcheck` (liveness) on the first container port; ports
//! `cport[/proto]:hport` (a ClusterIP port `port-t-CPORT` each, a NodePort port
//! `xport-t-CPORT` for each non-zero host port); the filebeat sidecar for `log_info`; the
//! `init-tls` init container for `tls_info.use_tls`. Deliberate differences, each needed for
//! idempotence: host-path volumes are named from a hash of their paths (k8splugin used random
//! UUIDs), and the ownership labels are also on the Deployment's and ConfigMap's metadata and
//! on `ContainerizedApplication` objects, so a re-run can tell its own objects from others'.
//! The application configuration is a ConfigMap `<name>-application-config-configmap`
//! (key `application_config.yaml`, JSON text) mounted read-only at `/app-config`. MSB
//! registrations (`msb`) become the `msb.onap.org/service-info` annotation of the ClusterIP
//! Service.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::msb;
use crate::settings::PluginSettings;
use crate::Error;

/// Ownership labels: which Cloudify node instance an object belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    pub deployment_id: String,
    pub node_id: String,
    pub instance_id: String,
}

impl Owner {
    pub fn labels(&self) -> Map<String, Value> {
        let mut labels = Map::new();
        labels.insert(
            "cfydeployment".into(),
            json!(truncate(&self.deployment_id, 63)),
        );
        labels.insert("cfynode".into(), json!(truncate(&self.node_id, 63)));
        labels.insert(
            "cfynodeinstance".into(),
            json!(truncate(&self.instance_id, 63)),
        );
        labels
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// One `ports` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub container: u16,
    pub protocol: &'static str,
    pub host: u16,
}

/// Parses `cport[/proto]:hport` entries (k8splugin's `parse_ports`); a bad entry is an error.
pub fn parse_ports(entries: &[Value]) -> Result<Vec<Port>, Error> {
    let mut ports = Vec::new();
    for entry in entries {
        let text = match entry {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        let bad = || Error::Input(format!("Bad port specification: {text}"));
        let (container, host) = text.split_once(':').ok_or_else(bad)?;
        let (container, protocol) = match container.split_once('/') {
            None => (container, "TCP"),
            Some((port, proto)) => match proto.to_ascii_uppercase().as_str() {
                "TCP" => (port, "TCP"),
                "UDP" => (port, "UDP"),
                _ => return Err(bad()),
            },
        };
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        let (Some(container), Some(host)) = (number(container), number(host)) else {
            return Err(bad());
        };
        ports.push(Port {
            container,
            protocol,
            host,
        });
    }
    Ok(ports)
}

/// An interval: seconds as a number or `N[s|m|h]` (k8splugin's `_parse_interval`).
pub fn parse_interval(value: &Value) -> Result<i64, Error> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    let digits: String = text.chars().take_while(|c| c.is_ascii_digit()).collect();
    let factor = match &text[digits.len()..] {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    match digits.parse::<i64>() {
        Ok(n) if factor > 0 => Ok(n * factor),
        _ => Err(Error::Input(format!("Bad interval specification: {text}"))),
    }
}

/// The service component name k8splugin generated: `s<32 hex>-<type>` (at most 63
/// characters, `_` → `-`, other characters outside `[A-Za-z0-9-]` dropped). The hex comes
/// from a hash of `seed` (the node instance) instead of a random UUID, so a re-run of
/// `create` names the same component.
pub fn service_component_name(component_type: &str, seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    let sct: String = component_type
        .replace('_', "-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    truncate(&format!("s{hex}-{sct}"), 63)
}

/// A deterministic pseudo-random string (for DMaaP subscriber credentials).
pub fn derived_string(seed: &str, length: usize) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    digest
        .iter()
        .map(|b| (b'a' + b % 26) as char)
        .take(length)
        .collect()
}

pub fn deployment_name(component: &str) -> String {
    format!("dep-{component}")
}

pub fn exposed_service_name(component: &str) -> String {
    truncate(&format!("x{component}"), 63)
}

/// The ConfigMap holding a component's application configuration.
pub fn config_map_name(component: &str) -> String {
    let base: String = component
        .to_ascii_lowercase()
        .replace('_', "-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    format!("{base}-application-config-configmap")
}

/// Everything a Deployment is built from.
#[derive(Debug, Clone, Default)]
pub struct Component {
    pub name: String,
    pub image: String,
    pub replicas: i64,
    pub always_pull: bool,
    /// Environment in order (`POD_IP` is appended).
    pub env: Vec<(String, String)>,
    pub ports: Vec<Port>,
    /// `docker_config` volume entries (`{host: {path}, container: {bind, mode}}`).
    pub volumes: Vec<Value>,
    pub readiness: Option<Value>,
    pub liveness: Option<Value>,
    pub resources: Option<Value>,
    pub log_info: Option<Value>,
    pub tls_info: Option<Value>,
    pub labels: Map<String, Value>,
    /// The application-config ConfigMap to mount, if `create` made one.
    pub config_map: Option<String>,
    /// MSB registrations: the `msb.onap.org/service-info` annotation of the ClusterIP Service.
    pub msb: Vec<msb::Registration>,
}

/// The objects of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct Objects {
    pub deployment: Value,
    /// ClusterIP first, then NodePort, when there are ports.
    pub services: Vec<Value>,
}

fn probe(check: &Value, port: Option<u16>, use_tls: bool) -> Result<Option<Value>, Error> {
    let kind = check.get("type").and_then(Value::as_str).unwrap_or("");
    let period = parse_interval(check.get("interval").unwrap_or(&json!(15)))?;
    let timeout = parse_interval(check.get("timeout").unwrap_or(&json!(1)))?;
    let mut probe = json!({
        "failureThreshold": 1,
        "initialDelaySeconds": 5,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
    });
    match kind {
        "http" | "https" => {
            let Some(port) = port else {
                return Err(Error::Input(
                    "an http(s) health check needs a container port in `ports`".into(),
                ));
            };
            let scheme = if use_tls {
                "HTTPS".into()
            } else {
                kind.to_ascii_uppercase()
            };
            probe["httpGet"] = json!({
                "path": check.get("endpoint").and_then(Value::as_str).unwrap_or("/"),
                "port": port,
                "scheme": scheme,
            });
        }
        "script" | "docker" => {
            let script = check
                .get("script")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Input(format!("a '{kind}' health check needs `script`")))?;
            probe["exec"] = json!({ "command": [script] });
        }
        _ => return Ok(None),
    }
    Ok(Some(probe))
}

fn env_list(env: &[(String, String)]) -> Vec<Value> {
    let mut list: Vec<Value> = env
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    list.push(json!({"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}));
    list
}

fn container(name: &str, image: &str, always_pull: bool, env: &[(String, String)]) -> Value {
    json!({
        "name": name,
        "image": image,
        "imagePullPolicy": if always_pull { "Always" } else { "IfNotPresent" },
        "env": env_list(env),
    })
}

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The Deployment and Services k8splugin's `deploy` created for `component`.
pub fn build(
    component: &Component,
    namespace: &str,
    settings: &PluginSettings,
) -> Result<Objects, Error> {
    let name = &component.name;
    let deployment_name = deployment_name(name);
    let mut volumes: Vec<Value> = Vec::new();
    let mut mounts: Vec<Value> = Vec::new();
    for volume in &component.volumes {
        let host = volume.pointer("/host/path").and_then(Value::as_str);
        let bind = volume.pointer("/container/bind").and_then(Value::as_str);
        let (Some(host), Some(bind)) = (host, bind) else {
            return Err(Error::Input(format!(
                "a volume needs host.path and container.bind: {volume}"
            )));
        };
        let read_only = volume.pointer("/container/mode").and_then(Value::as_str) == Some("ro");
        let digest = Sha256::digest(format!("{host}\n{bind}").as_bytes());
        let volume_name = format!(
            "vol-{}",
            digest[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        volumes.push(json!({"name": volume_name, "hostPath": {"path": host}}));
        mounts.push(json!({"name": volume_name, "mountPath": bind, "readOnly": read_only}));
    }
    let mut containers = Vec::new();
    let mut init_containers = Vec::new();
    if let Some(log_dir) = component
        .log_info
        .as_ref()
        .and_then(|l| str_of(l, "log_directory"))
    {
        let fb = &settings.filebeat;
        volumes.push(json!({"name": "component-log", "emptyDir": {}}));
        mounts.push(json!({"name": "component-log", "mountPath": log_dir}));
        let sidecar_path = component
            .log_info
            .as_ref()
            .and_then(|l| str_of(l, "alternate_fb_path"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}/{}", fb.log_path, name));
        volumes.push(json!({"name": "filebeat-data", "emptyDir": {}}));
        volumes.push(json!({"name": "filebeat-conf", "configMap": {"name": fb.config_map}}));
        let mut sidecar = container("filebeat", &fb.image, false, &[]);
        sidecar["volumeMounts"] = json!([
            {"name": "component-log", "mountPath": sidecar_path},
            {"name": "filebeat-data", "mountPath": fb.data_path},
            {"name": "filebeat-conf", "mountPath": fb.config_path, "subPath": fb.config_subpath},
        ]);
        containers.push(sidecar);
    }
    let mut use_tls = false;
    if let Some(tls) = &component.tls_info {
        let wanted = tls.get("use_tls").and_then(Value::as_bool).unwrap_or(false);
        if let (true, Some(cert_dir)) = (wanted, str_of(tls, "cert_directory")) {
            use_tls = true;
            volumes.push(json!({"name": "tls-info", "emptyDir": {}}));
            mounts.push(json!({"name": "tls-info", "mountPath": cert_dir}));
            let mut init = container("init-tls", &settings.tls.image, false, &[]);
            init["volumeMounts"] =
                json!([{"name": "tls-info", "mountPath": settings.tls.cert_path}]);
            init_containers.push(init);
        }
    }
    if let Some(config_map) = &component.config_map {
        volumes.push(json!({"name": "app-config", "configMap": {"name": config_map}}));
        mounts.push(json!({"name": "app-config", "mountPath": "/app-config", "readOnly": true}));
    }
    let first_port = component.ports.first().map(|p| p.container);
    let mut main = container(
        name,
        &component.image,
        component.always_pull,
        &component.env,
    );
    if !component.ports.is_empty() {
        main["ports"] = Value::Array(
            component
                .ports
                .iter()
                .map(|p| json!({"containerPort": p.container, "protocol": p.protocol}))
                .collect(),
        );
    }
    if !mounts.is_empty() {
        main["volumeMounts"] = Value::Array(mounts);
    }
    if let Some(check) = &component.readiness {
        if let Some(probe) = probe(check, first_port, use_tls)? {
            main["readinessProbe"] = probe;
        }
    }
    if let Some(check) = &component.liveness {
        if let Some(probe) = probe(check, first_port, use_tls)? {
            main["livenessProbe"] = probe;
        }
    }
    if let Some(resources) = component
        .resources
        .as_ref()
        .filter(|r| r.as_object().is_some_and(|m| !m.is_empty()))
    {
        let mut kept = Map::new();
        for key in ["limits", "requests"] {
            if let Some(value) = resources.get(key).filter(|v| !v.is_null()) {
                kept.insert(key.into(), value.clone());
            }
        }
        main["resources"] = Value::Object(kept);
    }
    containers.insert(0, main);

    let mut labels = component.labels.clone();
    labels.insert("app".into(), json!(name));
    labels.insert("k8sdeployment".into(), json!(deployment_name));
    let mut pod_spec = json!({"hostname": name, "containers": containers});
    if !init_containers.is_empty() {
        pod_spec["initContainers"] = Value::Array(init_containers);
    }
    if !volumes.is_empty() {
        pod_spec["volumes"] = Value::Array(volumes);
    }
    if !settings.image_pull_secrets.is_empty() {
        pod_spec["imagePullSecrets"] = settings
            .image_pull_secrets
            .iter()
            .map(|s| json!({"name": s}))
            .collect();
    }
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": deployment_name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": component.replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    });
    let mut services = Vec::new();
    if !component.ports.is_empty() {
        let mut internal = Vec::new();
        let mut exposed = Vec::new();
        for port in &component.ports {
            let proto = port.protocol[..1].to_ascii_lowercase();
            internal.push(json!({"name": format!("port-{proto}-{}", port.container), "port": port.container, "protocol": port.protocol}));
            if port.host != 0 {
                exposed.push(json!({"name": format!("xport-{proto}-{}", port.container), "port": port.container, "protocol": port.protocol, "nodePort": port.host}));
            }
        }
        let service = |service_name: String, ports: Vec<Value>, kind: &str| {
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service_name, "namespace": namespace, "labels": labels},
                "spec": {"ports": ports, "selector": {"app": name}, "type": kind},
            })
        };
        let mut cluster_ip = service(name.clone(), internal, "ClusterIP");
        // k8splugin annotated the ClusterIP Service only, never the NodePort one.
        let annotations = msb::annotations(&component.msb);
        if !annotations.is_empty() {
            cluster_ip["metadata"]["annotations"] = Value::Object(annotations);
        }
        services.push(cluster_ip);
        if !exposed.is_empty() {
            services.push(service(exposed_service_name(name), exposed, "NodePort"));
        }
    }
    Ok(Objects {
        deployment,
        services,
    })
}

/// The application-config ConfigMap of a component.
pub fn config_map(
    name: &str,
    namespace: &str,
    labels: &Map<String, Value>,
    config: &Value,
) -> Value {
    let mut labels = labels.clone();
    labels.insert("app".into(), json!(truncate(&name.replace('_', "-"), 63)));
    let text = match config {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": config_map_name(name), "namespace": namespace, "labels": labels},
        "data": {"application_config.yaml": text},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PluginSettings {
        PluginSettings::from_value(json!({"image_pull_secrets": ["regcred"]})).unwrap()
    }

    fn owner() -> Owner {
        Owner {
            deployment_id: "dep1".into(),
            node_id: "ves".into(),
            instance_id: "ves_abc123".into(),
        }
    }

    #[test]
    fn ports_parse_like_k8splugin() {
        let ports =
            parse_ports(&[json!("8080:30417"), json!(" 8443/udp:0 "), json!("9/TCP:1")]).unwrap();
        assert_eq!(
            ports[0],
            Port {
                container: 8080,
                protocol: "TCP",
                host: 30417
            }
        );
        assert_eq!(
            ports[1],
            Port {
                container: 8443,
                protocol: "UDP",
                host: 0
            }
        );
        assert_eq!(ports[2].protocol, "TCP");
        for bad in ["8080", "x:1", "1/sctp:2", "70000:1", ":1", "1:"] {
            assert!(parse_ports(&[json!(bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn intervals_parse_like_k8splugin() {
        assert_eq!(parse_interval(&json!("15s")).unwrap(), 15);
        assert_eq!(parse_interval(&json!("2m")).unwrap(), 120);
        assert_eq!(parse_interval(&json!("1h")).unwrap(), 3600);
        assert_eq!(parse_interval(&json!(7)).unwrap(), 7);
        assert_eq!(parse_interval(&json!("30")).unwrap(), 30);
        assert!(parse_interval(&json!("1d")).is_err());
        assert!(parse_interval(&json!("s")).is_err());
    }

    #[test]
    fn names_are_dns_labels_and_stable() {
        let a = service_component_name("dcae_ves_collector", "t/d/i1");
        assert_eq!(a, service_component_name("dcae_ves_collector", "t/d/i1"));
        assert_ne!(a, service_component_name("dcae_ves_collector", "t/d/i2"));
        assert!(
            a.starts_with('s') && a.ends_with("-dcae-ves-collector"),
            "{a}"
        );
        assert_eq!(a.len(), 1 + 32 + 1 + "dcae-ves-collector".len());
        let long = service_component_name(&"x".repeat(80), "s");
        assert_eq!(long.len(), 63);
        assert_eq!(exposed_service_name(&"y".repeat(63)).len(), 63);
        assert_eq!(
            config_map_name("Holmes_Rules"),
            "holmes-rules-application-config-configmap"
        );
    }

    #[test]
    fn a_full_component() {
        let component = Component {
            name: "dcae-ves-collector".into(),
            image: "ves:1.5".into(),
            replicas: 2,
            always_pull: true,
            env: vec![("CONSUL_HOST".into(), "consul".into())],
            ports: parse_ports(&[json!("8080:30417"), json!("8443:0")]).unwrap(),
            volumes: vec![
                json!({"host": {"path": "/var/log"}, "container": {"bind": "/logs", "mode": "ro"}}),
            ],
            readiness: Some(
                json!({"type": "http", "endpoint": "/healthcheck", "interval": "15s", "timeout": "1s"}),
            ),
            liveness: Some(json!({"type": "script", "script": "/opt/alive.sh", "interval": "1m"})),
            resources: Some(json!({"limits": {"cpu": "1", "memory": "1Gi"}})),
            log_info: Some(json!({"log_directory": "/opt/app/logs"})),
            tls_info: Some(json!({"use_tls": true, "cert_directory": "/opt/certs"})),
            labels: owner().labels(),
            config_map: Some("dcae-ves-collector-application-config-configmap".into()),
            msb: vec![],
        };
        let objects = build(&component, "onap", &settings()).unwrap();
        let d = &objects.deployment;
        assert_eq!(d["metadata"]["name"], "dep-dcae-ves-collector");
        assert_eq!(d["spec"]["replicas"], 2);
        let labels = &d["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["app"], "dcae-ves-collector");
        assert_eq!(labels["k8sdeployment"], "dep-dcae-ves-collector");
        assert_eq!(labels["cfynodeinstance"], "ves_abc123");
        assert_eq!(d["spec"]["selector"]["matchLabels"], *labels);
        let pod = &d["spec"]["template"]["spec"];
        assert_eq!(pod["hostname"], "dcae-ves-collector");
        assert_eq!(pod["imagePullSecrets"], json!([{"name": "regcred"}]));
        let main = &pod["containers"][0];
        assert_eq!(main["imagePullPolicy"], "Always");
        assert_eq!(
            main["env"][1],
            json!({"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
        );
        assert_eq!(
            main["ports"],
            json!([{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 8443, "protocol": "TCP"}])
        );
        assert_eq!(
            main["readinessProbe"]["httpGet"],
            json!({"path": "/healthcheck", "port": 8080, "scheme": "HTTPS"})
        );
        assert_eq!(main["readinessProbe"]["periodSeconds"], 15);
        assert_eq!(
            main["livenessProbe"]["exec"]["command"],
            json!(["/opt/alive.sh"])
        );
        assert_eq!(main["livenessProbe"]["periodSeconds"], 60);
        assert_eq!(
            main["resources"],
            json!({"limits": {"cpu": "1", "memory": "1Gi"}})
        );
        let mounts: Vec<&str> = main["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["mountPath"].as_str().unwrap())
            .collect();
        assert_eq!(
            mounts,
            ["/logs", "/opt/app/logs", "/opt/certs", "/app-config"]
        );
        let sidecar = &pod["containers"][1];
        assert_eq!(sidecar["name"], "filebeat");
        assert_eq!(sidecar["image"], "docker.elastic.co/beats/filebeat:5.5.0");
        assert_eq!(
            sidecar["volumeMounts"][0]["mountPath"],
            "/var/log/onap/dcae-ves-collector"
        );
        assert_eq!(sidecar["volumeMounts"][2]["subPath"], "filebeat.yml");
        assert_eq!(pod["initContainers"][0]["name"], "init-tls");
        assert_eq!(
            pod["initContainers"][0]["volumeMounts"][0]["mountPath"],
            "/opt/tls/shared"
        );
        assert_eq!(objects.services.len(), 2);
        let cluster_ip = &objects.services[0];
        assert_eq!(cluster_ip["metadata"]["name"], "dcae-ves-collector");
        assert_eq!(cluster_ip["spec"]["type"], "ClusterIP");
        assert_eq!(
            cluster_ip["spec"]["selector"],
            json!({"app": "dcae-ves-collector"})
        );
        assert_eq!(cluster_ip["spec"]["ports"][1]["name"], "port-t-8443");
        let node_port = &objects.services[1];
        assert_eq!(node_port["metadata"]["name"], "xdcae-ves-collector");
        assert_eq!(
            node_port["spec"]["ports"],
            json!([{"name": "xport-t-8080", "port": 8080, "protocol": "TCP", "nodePort": 30417}])
        );
        // Deterministic: building twice gives the same objects (volume names included).
        assert_eq!(objects, build(&component, "onap", &settings()).unwrap());
    }

    #[test]
    fn msb_registrations_annotate_the_cluster_ip_service_only() {
        let (registration, _) = msb::registration(
            "dcae-ves-collector",
            Some(&json!({"port": "8080", "url_path": "/api/ves"})),
            &[8080],
        );
        let component = Component {
            name: "dcae-ves-collector".into(),
            image: "ves:1.5".into(),
            replicas: 1,
            ports: parse_ports(&[json!("8080:30417")]).unwrap(),
            msb: registration.into_iter().collect(),
            ..Component::default()
        };
        let objects = build(&component, "onap", &settings()).unwrap();
        let cluster_ip = &objects.services[0]["metadata"];
        assert_eq!(
            cluster_ip["annotations"],
            json!({"msb.onap.org/service-info": "[{\"serviceName\": \"dcae-ves-collector\", \"port\": \"8080\", \"version\": \"v1\", \"url\": \"/api/ves\", \"protocol\": \"REST\", \"enable_ssl\": false, \"visualRange\": \"1\"}]"})
        );
        assert_eq!(objects.services[1]["spec"]["type"], "NodePort");
        assert!(objects.services[1]["metadata"].get("annotations").is_none());
        // Without registrations no annotations key at all (unchanged objects for the others).
        let plain = Component {
            msb: vec![],
            ..component
        };
        let objects = build(&plain, "onap", &settings()).unwrap();
        assert!(objects.services[0]["metadata"].get("annotations").is_none());
    }

    #[test]
    fn a_bare_component_has_no_services_or_extras() {
        let component = Component {
            name: "c".into(),
            image: "i".into(),
            replicas: 1,
            tls_info: Some(json!({"use_tls": false, "cert_directory": "/x"})),
            log_info: Some(json!({})),
            ..Component::default()
        };
        let objects = build(
            &component,
            "ns",
            &PluginSettings::from_value(Value::Null).unwrap(),
        )
        .unwrap();
        assert!(objects.services.is_empty());
        let pod = &objects.deployment["spec"]["template"]["spec"];
        assert_eq!(pod["containers"].as_array().unwrap().len(), 1);
        assert!(pod.get("initContainers").is_none() && pod.get("volumes").is_none());
        assert!(pod.get("imagePullSecrets").is_none());
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn http_checks_need_a_port() {
        let component = Component {
            name: "c".into(),
            readiness: Some(json!({"type": "http", "endpoint": "/h"})),
            ..Component::default()
        };
        assert!(build(&component, "ns", &settings()).is_err());
    }

    #[test]
    fn config_maps_carry_the_application_config() {
        let map = config_map("s1-x", "ns", &owner().labels(), &json!({"a": 1}));
        assert_eq!(map["metadata"]["name"], "s1-x-application-config-configmap");
        assert_eq!(map["data"]["application_config.yaml"], "{\"a\":1}");
        assert_eq!(map["metadata"]["labels"]["cfydeployment"], "dep1");
    }
}
