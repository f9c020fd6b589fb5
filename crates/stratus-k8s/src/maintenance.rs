//! The k8splugin operations on a component that already runs: `stop_and_remove_container`,
//! `cleanup_discovery`, `scale`, `update_image` and `policy_update`. (Creating and starting are
//! in `ops.rs`.)

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use serde_json::{json, Map, Value};

use k8s_openapi::api::core::v1::ConfigMap;

use crate::ops::{deleted_text, env_value, integer, text, Log, Plugin, Request};
use crate::Error;
use crate::{apply, spec};

impl Plugin {
    pub(crate) async fn stop(&self, request: &Request, log: Log<'_>) -> Result<(), Error> {
        let owner = json!({"metadata": {"labels": Self::owner(request).labels()}});
        let description = match (
            request
                .runtime_properties
                .get("k8s_deployment")
                .filter(|d| d.is_object()),
            text(request.runtime_properties.get("service_component_name")),
        ) {
            (Some(description), _) => description.clone(),
            // Start may have been interrupted before recording what it made: use the names
            // it would have used (objects of other owners are left alone).
            (None, Some(name)) => json!({
                "deployment": spec::deployment_name(&name),
                "services": [name.clone(), spec::exposed_service_name(&name)],
            }),
            (None, None) => {
                log(
                    "info",
                    "No k8s deployment information, not attempting to delete k8s deployment".into(),
                );
                return Ok(());
            }
        };
        self.undeploy(&description, &owner, log).await
    }

    pub(crate) async fn cleanup_discovery(
        &self,
        request: &Request,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let Some(name) = text(request.runtime_properties.get("service_component_name")) else {
            log(
                "info",
                "No service_component_name, not attempting to delete config".into(),
            );
            return Ok(());
        };
        if let Some(consul) = &self.consul {
            crate::consul::delete(consul, &name).await?;
            log("info", format!("Removed config for {name} from Consul"));
        }
        let map_name = text(request.runtime_properties.get("application_config_map"))
            .unwrap_or_else(|| spec::config_map_name(&name));
        let owner = json!({"metadata": {"labels": Self::owner(request).labels()}});
        let namespace = &self.settings.namespace;
        let deleted = apply::delete(
            &self.api::<ConfigMap>(),
            "ConfigMap",
            namespace,
            &map_name,
            &owner,
            false,
        )
        .await?;
        log(
            "info",
            format!(
                "ConfigMap {namespace}/{map_name}: {}",
                deleted_text(deleted)
            ),
        );
        Ok(())
    }

    fn recorded_deployment(request: &Request) -> Result<Value, Error> {
        request
            .runtime_properties
            .get("k8s_deployment")
            .filter(|d| {
                d.get("deployment")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty())
            })
            .cloned()
            .ok_or_else(|| {
                Error::Input(
                    "no k8s_deployment runtime property: was the component started?".into(),
                )
            })
    }

    pub(crate) async fn scale(
        &self,
        request: &Request,
        set: &mut Map<String, Value>,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let replicas = integer(request.inputs.get("replicas"), 0)?;
        let name =
            text(request.runtime_properties.get("service_component_name")).unwrap_or_default();
        if replicas <= 0 {
            log(
                "info",
                format!("Ignoring request to scale {name} to zero replicas"),
            );
            return Ok(());
        }
        let description = Self::recorded_deployment(request)?;
        let deployment = env_value(&description["deployment"]);
        let current = request
            .runtime_properties
            .get("replicas")
            .cloned()
            .unwrap_or(Value::Null);
        log(
            "info",
            format!("Scaling {name} from {current} to {replicas} replica(s)"),
        );
        let object = format!("Deployment {}/{deployment}", self.settings.namespace);
        self.api::<Deployment>()
            .patch(
                &deployment,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .map_err(|e| Error::from_kube("scale", &object, e))?;
        set.insert("replicas".into(), json!(replicas));
        let max_wait = self.max_wait(request.inputs.get("max_wait"))?;
        self.verify(&description, max_wait, false, log).await?;
        log(
            "info",
            format!("Scaling complete: {name} from {current} to {replicas} replica(s)"),
        );
        Ok(())
    }

    pub(crate) async fn update_image(
        &self,
        request: &Request,
        set: &mut Map<String, Value>,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let name =
            text(request.runtime_properties.get("service_component_name")).unwrap_or_default();
        let Some(image) = text(request.inputs.get("image")) else {
            log(
                "info",
                format!("Ignoring update_image request for {name} with unusable image"),
            );
            return Ok(());
        };
        let description = Self::recorded_deployment(request)?;
        let deployment = env_value(&description["deployment"]);
        let object = format!("Deployment {}/{deployment}", self.settings.namespace);
        let api = self.api::<Deployment>();
        let current = api
            .get(&deployment)
            .await
            .map_err(|e| Error::from_kube("read", &object, e))?;
        let container = current
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|s| s.containers.first())
            .map(|c| c.name.clone())
            .ok_or_else(|| Error::Input(format!("{object} has no container")))?;
        let old = request
            .runtime_properties
            .get("image")
            .cloned()
            .unwrap_or(Value::Null);
        log(
            "info",
            format!("Updating app image for {name} from {old} to {image}"),
        );
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": container, "image": image}]}}}});
        api.patch(
            &deployment,
            &PatchParams::default(),
            &Patch::Strategic(patch),
        )
        .await
        .map_err(|e| Error::from_kube("update image of", &object, e))?;
        set.insert("image".into(), json!(image));
        let max_wait = self.max_wait(request.inputs.get("max_wait"))?;
        self.verify(&description, max_wait, false, log).await?;
        log(
            "info",
            format!("Update complete: {name} from {old} to {image}"),
        );
        Ok(())
    }

    /// Records the policies in the runtime properties and, when the component's
    /// `docker_config.policy.trigger_type` is `docker`, runs its `script_path` in each running
    /// pod (`notify`), logging every pod's output as k8splugin did.
    pub(crate) async fn policy_update(
        &self,
        request: &Request,
        set: &mut Map<String, Value>,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let name =
            text(request.runtime_properties.get("service_component_name")).unwrap_or_default();
        let mut policy_data = Map::new();
        for key in ["policies", "updated_policies", "removed_policies"] {
            let value = request.inputs.get(key).cloned().unwrap_or(Value::Null);
            if request.inputs.contains_key(key) {
                set.insert(key.into(), value.clone());
            }
            policy_data.insert(key.into(), value);
        }
        log(
            "info",
            format!(
                "policy_update for {name}-- updated_policies: {}, removed_policies: {}, policies: {}",
                policy_data["updated_policies"], policy_data["removed_policies"], policy_data["policies"]
            ),
        );
        let policy = request
            .runtime_properties
            .get("docker_config")
            .and_then(|d| d.get("policy"));
        let trigger = policy
            .and_then(|p| p.get("trigger_type"))
            .and_then(Value::as_str);
        let mut results = Vec::new();
        if trigger == Some("docker") {
            let script = policy.and_then(|p| text(p.get("script_path"))).ok_or_else(|| {
                Error::Input(format!(
                    "policy_update for {name}: docker_config.policy has trigger_type docker but no script_path"
                ))
            })?;
            let description = request.runtime_properties.get("k8s_deployment");
            let deployment = description
                .and_then(|d| text(d.get("deployment")))
                .unwrap_or_else(|| spec::deployment_name(&name));
            let namespace = description
                .and_then(|d| text(d.get("namespace")))
                .unwrap_or_else(|| self.settings.namespace.clone());
            let command = vec![
                script,
                "policies".to_string(),
                crate::pyjson::dumps(&Value::Object(policy_data)),
            ];
            results =
                crate::notify::notify(&self.client, &namespace, &deployment, &command).await?;
        }
        log(
            "info",
            format!(
                "policy_update complete for {name}--notification results: {}",
                Value::Array(results)
            ),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{json, Map, Value};

    use crate::{Plugin, PluginSettings, Request, SettingsSource};

    fn request(docker_config: Value) -> Request {
        let mut runtime_properties = Map::new();
        runtime_properties.insert("service_component_name".into(), json!("s1-comp"));
        runtime_properties.insert("docker_config".into(), docker_config);
        runtime_properties.insert(
            "k8s_deployment".into(),
            json!({"namespace": "onap", "deployment": "dep-s1-comp", "services": []}),
        );
        let mut inputs = Map::new();
        inputs.insert("updated_policies".into(), json!([{"policy_id": "p1"}]));
        inputs.insert("policies".into(), json!([{"policy_id": "p1"}]));
        Request {
            implementation: "k8splugin.policy_update".into(),
            inputs,
            properties: Map::new(),
            runtime_properties,
            tenant: "default_tenant".into(),
            deployment_id: "d".into(),
            node_id: "comp".into(),
            instance_id: "comp_1".into(),
        }
    }

    #[tokio::test]
    async fn policy_update_records_and_notifies_only_on_a_docker_trigger() {
        // An API server that is not there: listing the pods to notify fails, retryably.
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let settings = PluginSettings::from_value(json!({"namespace": "onap"})).unwrap();
        let plugin = Plugin::new(client, SettingsSource::fixed(settings));
        let logged = Arc::new(Mutex::new(Vec::new()));
        let sink = logged.clone();
        let log = move |level: &str, message: String| {
            sink.lock().unwrap().push((level.to_string(), message))
        };
        let docker =
            json!({"policy": {"trigger_type": "docker", "script_path": "/opt/app/reconfigure.sh"}});
        let outcome = plugin.run(&request(docker), &log).await;
        let error = outcome.result.unwrap_err();
        assert!(error.recoverable(false), "{error}");
        assert!(
            error
                .to_string()
                .contains("pods onap/k8sdeployment=dep-s1-comp"),
            "{error}"
        );
        // The policies are recorded whatever happened.
        assert_eq!(
            outcome.set["updated_policies"],
            json!([{"policy_id": "p1"}])
        );
        let outcome = plugin
            .run(
                &request(json!({"policy": {"trigger_type": "docker"}})),
                &log,
            )
            .await;
        assert!(outcome
            .result
            .unwrap_err()
            .to_string()
            .contains("no script_path"));
        // No docker trigger: nothing to notify, no API call.
        let outcome = plugin.run(&request(json!({})), &log).await;
        outcome.result.unwrap();
        let (level, message) = logged.lock().unwrap().last().unwrap().clone();
        assert_eq!(level, "info", "{message}");
        assert!(message.ends_with("notification results: []"), "{message}");
    }
}
