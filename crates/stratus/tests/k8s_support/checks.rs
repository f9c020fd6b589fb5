//! What k8splugin created, checked on the objects the API server stored.

use serde_json::{json, Value};

use super::{Cluster, Manager};

/// Checks the objects of one started k8splugin node instance against what k8splugin created.
pub fn check_component(cluster: &Cluster, manager: &Manager, deployment: &str, instance: &Value) {
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
