//! The client against the test cluster (`KUBECONFIG` from `../shared/k8s/test-cluster up`):
//! credentials from `KUBECONFIG` reach kube-apiserver 1.20 with the v1_30 API types, and a
//! ConfigMap round-trips through `ensure` (create, adopt, conflict) and `delete`.
//! Skipped loudly without a cluster, failing when `STRATUS_REQUIRE_KUBE=1`.

use serde_json::{json, Map, Value};
use stratus_k8s::{ops, Plugin, PluginSettings, Request, SettingsSource, Sources};

async fn plugin(namespace: &str) -> Option<Plugin> {
    let require = std::env::var("STRATUS_REQUIRE_KUBE").as_deref() == Ok("1");
    let Some(kubeconfig) = std::env::var("KUBECONFIG").ok() else {
        assert!(!require, "STRATUS_REQUIRE_KUBE=1 but KUBECONFIG is not set");
        eprintln!("\n*** SKIPPED: no KUBECONFIG (run ../shared/k8s/test-cluster up) ***\n");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut sources = Sources::none(dir.path());
    sources.kubeconfig_env = Some(kubeconfig);
    let credentials = stratus_k8s::credentials::find(&sources).await.unwrap();
    assert!(credentials.describe().starts_with("KUBECONFIG"));
    let client = credentials.client().unwrap();
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(client.clone());
    match namespaces.get_opt(namespace).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            let ns = serde_json::from_value(json!({"metadata": {"name": namespace}})).unwrap();
            namespaces.create(&Default::default(), &ns).await.unwrap();
        }
        Err(e) => {
            assert!(
                !require,
                "STRATUS_REQUIRE_KUBE=1 but the cluster is not reachable: {e}"
            );
            eprintln!("\n*** SKIPPED: the test cluster is not reachable: {e} ***\n");
            return None;
        }
    }
    // kube-apiserver 1.20 built with Go >= 1.18 and reflect2 1.0.1 panics on JSON bodies
    // with maps: such a server cannot be tested against.
    let maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(client.clone(), namespace);
    let probe = serde_json::from_value(
        json!({"metadata": {"name": "probe", "labels": {"a": "b"}}, "data": {"a": "b"}}),
    )
    .unwrap();
    let dry_run = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    if let Err(e) = maps.create(&dry_run, &probe).await {
        let why = format!("the test cluster cannot decode a ConfigMap ({e}); a kube-apiserver 1.20 built with Go >= 1.18 needs github.com/modern-go/reflect2 >= 1.0.2");
        assert!(!require, "STRATUS_REQUIRE_KUBE=1 but {why}");
        eprintln!("\n*** SKIPPED: {why} ***\n");
        return None;
    }
    let settings =
        PluginSettings::from_value(json!({"namespace": namespace, "poll_interval_ms": 100}))
            .unwrap();
    Some(Plugin::new(client, SettingsSource::fixed(settings)))
}

fn request(implementation: &str, properties: Value, runtime: Value, instance: &str) -> Request {
    let map = |v: Value| v.as_object().cloned().unwrap_or_default();
    Request {
        implementation: format!("k8splugin.{implementation}"),
        inputs: Map::new(),
        properties: map(properties),
        runtime_properties: map(runtime),
        tenant: "default_tenant".into(),
        deployment_id: "d1".into(),
        node_id: "comp".into(),
        instance_id: instance.into(),
    }
}

#[tokio::test]
async fn create_adopts_its_own_config_and_refuses_another_owners() {
    let namespace = format!("k8s-unit-{}", std::process::id());
    let Some(plugin) = plugin(&namespace).await else {
        return;
    };
    let log = |_: &str, _: String| {};
    let properties = json!({"service_component_type": "t", "service_component_name_override": "fixed-name", "application_config": {"a": 1}, "image": "i"});
    let first = plugin
        .run(
            &request(
                "create_for_components",
                properties.clone(),
                json!({}),
                "comp_1",
            ),
            &log,
        )
        .await;
    first.result.unwrap();
    assert_eq!(first.set["service_component_name"], "fixed-name");
    // Again: adopted.
    let again = plugin
        .run(
            &request(
                "create_for_components",
                properties.clone(),
                json!({}),
                "comp_1",
            ),
            &log,
        )
        .await;
    again.result.unwrap();
    // Another instance wanting the same name: a conflict, naming the object.
    let other = plugin
        .run(
            &request(
                "create_for_components",
                properties.clone(),
                json!({}),
                "comp_2",
            ),
            &log,
        )
        .await;
    let error = other.result.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("fixed-name-application-config-configmap"),
        "{error}"
    );
    assert!(!error.recoverable(true));
    // Cleanup by the other instance leaves it; by the owner removes it.
    let runtime = json!({"service_component_name": "fixed-name"});
    plugin
        .run(
            &request(
                "cleanup_discovery",
                properties.clone(),
                runtime.clone(),
                "comp_2",
            ),
            &log,
        )
        .await
        .result
        .unwrap();
    let maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(plugin_client(&plugin), &namespace);
    assert!(maps
        .get_opt("fixed-name-application-config-configmap")
        .await
        .unwrap()
        .is_some());
    plugin
        .run(
            &request("cleanup_discovery", properties, runtime, "comp_1"),
            &log,
        )
        .await
        .result
        .unwrap();
    assert!(maps
        .get_opt("fixed-name-application-config-configmap")
        .await
        .unwrap()
        .is_none());
    assert!(ops::OPERATIONS.contains(&"scale"));
}

fn plugin_client(plugin: &Plugin) -> kube::Client {
    plugin.client()
}
