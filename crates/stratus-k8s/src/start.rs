//! Starting a component: `create_and_start_container_for_components[_with_streams]`,
//! `…_for_platforms` and `create_and_start_container` build the objects (`spec`), create or
//! adopt them (`apply`) and wait for availability; a start that times out removes what it
//! made. `verify` and `undeploy` are shared with the maintenance operations.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use serde_json::{json, Map, Value};

use crate::ops::{
    boolean, deleted_text, env_value, integer, list, merge, non_empty, text, verb, Log, Plugin,
    Request,
};
use crate::spec::{self, Component};
use crate::Error;
use crate::{apply, msb};

impl Plugin {
    /// The environment `_create_and_start_container` gave every component.
    pub(crate) fn environment(
        &self,
        name: &str,
        tls_info: Option<&Value>,
        envs: Option<&Value>,
    ) -> Vec<(String, String)> {
        let ca = tls_info
            .and_then(|t| text(t.get("cert_directory")))
            .map(|dir| format!("{dir}/cacert.pem"))
            .unwrap_or_else(|| self.settings.tls.component_ca_cert_path.clone());
        let mut env: Vec<(String, String)> = vec![
            ("CONSUL_HOST".into(), self.settings.consul_dns_name.clone()),
            (
                "CONFIG_BINDING_SERVICE".into(),
                "config-binding-service".into(),
            ),
            ("DCAE_CA_CERTPATH".into(), ca),
            (
                "CBS_CONFIG_URL".into(),
                format!("{}/{name}", self.settings.cbs.base_url),
            ),
        ];
        if let Some(envs) = envs.and_then(Value::as_object) {
            for (key, value) in envs {
                match env.iter_mut().find(|(k, _)| k == key) {
                    Some(slot) => slot.1 = env_value(value),
                    None => env.push((key.clone(), env_value(value))),
                }
            }
        }
        env
    }

    pub(crate) async fn start_component(
        &self,
        request: &Request,
        set: &mut Map<String, Value>,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let mut kwargs = request.runtime_properties.clone();
        merge(&mut kwargs, &request.inputs);
        let owner = Self::owner(request);
        kwargs.insert("deployment_id".into(), json!(request.deployment_id));
        kwargs.insert("labels".into(), Value::Object(owner.labels()));
        let props = &request.properties;
        if props
            .get("log_info")
            .is_some_and(|l| l.get("log_directory").is_some())
        {
            kwargs.insert("log_info".into(), props["log_info"].clone());
        }
        if let Some(tls) = props.get("tls_info") {
            kwargs.insert("tls_info".into(), tls.clone());
        }
        for key in ["replicas", "always_pull_image"] {
            if let Some(value) = props.get(key) {
                kwargs.insert(key.into(), value.clone());
            }
        }
        kwargs.insert("k8s_location".into(), json!(self.location(request)));
        let name = text(kwargs.get("service_component_name"))
            .ok_or_else(|| Error::Input("no service_component_name: did create run?".into()))?;
        let component = Component {
            image: text(kwargs.get("image"))
                .ok_or_else(|| Error::Input("property 'image' is required".into()))?,
            replicas: integer(kwargs.get("replicas"), 1)?,
            always_pull: boolean(kwargs.get("always_pull_image")),
            env: self.environment(&name, non_empty(kwargs.get("tls_info")), kwargs.get("envs")),
            ports: spec::parse_ports(&list(kwargs.get("ports")))?,
            volumes: list(kwargs.get("volumes")),
            readiness: non_empty(kwargs.get("readiness")).cloned(),
            liveness: non_empty(kwargs.get("liveness")).cloned(),
            resources: non_empty(kwargs.get("resource_config")).cloned(),
            log_info: non_empty(kwargs.get("log_info")).cloned(),
            tls_info: non_empty(kwargs.get("tls_info")).cloned(),
            labels: owner.labels(),
            config_map: text(kwargs.get("application_config_map")),
            msb: Vec::new(),
            name: name.clone(),
        };
        let max_wait = self.max_wait(kwargs.get("max_wait"))?;
        let description = self.deploy(&component, request, set, log).await?;
        set.insert("replicas".into(), json!(component.replicas));
        self.verify(&description, max_wait, true, log).await?;
        kwargs.insert("k8s_deployment".into(), description);
        kwargs.insert("replicas".into(), json!(component.replicas));
        set.extend(kwargs);
        log("info", format!("Done starting: {name}"));
        Ok(())
    }

    pub(crate) async fn start_platform(
        &self,
        request: &Request,
        set: &mut Map<String, Value>,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let props = &request.properties;
        let inputs = &request.inputs;
        let docker_config = props.get("docker_config").cloned().unwrap_or(json!({}));
        let name = text(props.get("dns_name"))
            .or_else(|| text(props.get("name")))
            .ok_or_else(|| Error::Input("property 'name' is required".into()))?;
        let mut ports = list(inputs.get("ports"));
        let container_port = integer(props.get("container_port"), 0)?;
        if container_port != 0 {
            let host_port = integer(props.get("host_port"), 0)?;
            ports.push(json!(format!("{container_port}:{host_port}")));
        }
        if ports.is_empty() {
            log(
                "warning",
                "No port mappings defined. Will randomly assign port.".into(),
            );
        }
        let log_info = props
            .get("log_info")
            .filter(|l| l.get("log_directory").is_some())
            .cloned();
        let tls_info = non_empty(props.get("tls_info")).cloned();
        let owner = Self::owner(request);
        let ports = spec::parse_ports(&ports)?;
        let msb = self.msb_registration(&name, props.get("msb_registration"), &ports, log);
        let component = Component {
            image: text(props.get("image"))
                .ok_or_else(|| Error::Input("property 'image' is required".into()))?,
            replicas: integer(props.get("replicas"), 1)?,
            always_pull: boolean(props.get("always_pull_image")),
            env: self.environment(&name, tls_info.as_ref(), inputs.get("envs")),
            ports,
            volumes: list(inputs.get("volumes")),
            readiness: non_empty(docker_config.get("healthcheck")).cloned(),
            liveness: non_empty(docker_config.get("livehealthcheck")).cloned(),
            resources: non_empty(props.get("resource_config")).cloned(),
            log_info,
            tls_info,
            labels: owner.labels(),
            config_map: text(request.runtime_properties.get("application_config_map")),
            msb,
            name: name.clone(),
        };
        let max_wait = self.max_wait(inputs.get("max_wait"))?;
        let description = self.deploy(&component, request, set, log).await?;
        set.insert("replicas".into(), json!(component.replicas));
        self.verify(&description, max_wait, true, log).await
    }

    /// A platform component's MSB registration (`msb_registration` with a `port`), with a
    /// warning for each value sanitised and when there is no Service to carry it.
    fn msb_registration(
        &self,
        name: &str,
        property: Option<&Value>,
        ports: &[spec::Port],
        log: Log<'_>,
    ) -> Vec<msb::Registration> {
        let container_ports: Vec<u16> = ports.iter().map(|p| p.container).collect();
        let (registration, warnings) = msb::registration(name, property, &container_ports);
        for warning in warnings {
            log("warning", format!("{name}: {warning}"));
        }
        let Some(registration) = registration else {
            return Vec::new();
        };
        if ports.is_empty() {
            log(
                "warning",
                format!("{name}: msb_registration is set but the component has no ports, so there is no Service to carry the {} annotation: not registered with MSB", msb::ANNOTATION),
            );
        } else {
            log(
                "info",
                format!(
                    "{name}: MSB registration (port {}, url {}) as the {} annotation of Service {name}",
                    registration.port,
                    registration.url,
                    msb::ANNOTATION
                ),
            );
        }
        vec![registration]
    }

    pub(crate) async fn start_application(
        &self,
        request: &Request,
        set: &mut Map<String, Value>,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let props = &request.properties;
        let inputs = &request.inputs;
        let name = text(props.get("name"))
            .ok_or_else(|| Error::Input("property 'name' is required".into()))?;
        set.insert("service_component_name".into(), json!(name));
        let tls_info = non_empty(inputs.get("tls_info")).cloned();
        let component = Component {
            image: text(props.get("image"))
                .ok_or_else(|| Error::Input("property 'image' is required".into()))?,
            replicas: integer(inputs.get("replicas"), 1)?,
            always_pull: boolean(inputs.get("always_pull_image")),
            env: self.environment(&name, tls_info.as_ref(), inputs.get("envs")),
            ports: spec::parse_ports(&list(inputs.get("ports")))?,
            volumes: list(inputs.get("volumes")),
            readiness: non_empty(inputs.get("readiness")).cloned(),
            liveness: non_empty(inputs.get("liveness")).cloned(),
            resources: non_empty(inputs.get("resource_config")).cloned(),
            log_info: non_empty(inputs.get("log_info")).cloned(),
            tls_info,
            labels: Self::owner(request).labels(),
            config_map: None,
            msb: Vec::new(),
            name,
        };
        set.insert("image".into(), json!(component.image));
        self.deploy(&component, request, set, log).await?;
        set.insert("replicas".into(), json!(component.replicas));
        Ok(())
    }

    pub(crate) fn max_wait(&self, value: Option<&Value>) -> Result<u64, Error> {
        let seconds = integer(value, self.settings.max_wait as i64)?;
        Ok(seconds.max(0) as u64)
    }

    /// Creates or adopts the Deployment and Services; records `k8s_deployment` in `set`.
    pub(crate) async fn deploy(
        &self,
        component: &Component,
        request: &Request,
        set: &mut Map<String, Value>,
        log: Log<'_>,
    ) -> Result<Value, Error> {
        let namespace = &self.settings.namespace;
        let objects = spec::build(component, namespace, &self.settings)?;
        let deployment_name = spec::deployment_name(&component.name);
        let mut description = json!({
            "namespace": namespace,
            "location": self.location(request),
            "deployment": "",
            "services": [],
        });
        let ensured =
            apply::ensure(&self.api::<Deployment>(), "Deployment", &objects.deployment).await?;
        log(
            "info",
            format!(
                "{} Deployment {namespace}/{deployment_name} (image {})",
                verb(ensured),
                component.image
            ),
        );
        description["deployment"] = json!(deployment_name);
        set.insert("k8s_deployment".into(), description.clone());
        for service in &objects.services {
            let ensured = apply::ensure(&self.api::<Service>(), "Service", service).await?;
            let service_name = service["metadata"]["name"].clone();
            log(
                "info",
                format!(
                    "{} Service {namespace}/{}",
                    verb(ensured),
                    env_value(&service_name)
                ),
            );
            if let Some(services) = description["services"].as_array_mut() {
                services.push(service_name);
            }
            set.insert("k8s_deployment".into(), description.clone());
        }
        Ok(description)
    }

    /// Waits until the Deployment is available (`availableReplicas` and `updatedReplicas`
    /// equal `replicas`, for the current generation); `max_wait` 0 waits forever. On
    /// timeout after a start, the Deployment and its Services are removed (as k8splugin did).
    pub(crate) async fn verify(
        &self,
        description: &Value,
        max_wait: u64,
        undeploy_on_timeout: bool,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let name = description["deployment"].as_str().unwrap_or("").to_string();
        log(
            "info",
            format!("Waiting up to {max_wait} secs for {name} to become ready"),
        );
        let api = self.api::<Deployment>();
        let started = Instant::now();
        let object = format!("Deployment {}/{name}", self.settings.namespace);
        loop {
            let deployment = api
                .get(&name)
                .await
                .map_err(|e| Error::from_kube("read", &object, e))?;
            let (available, state) = availability(&deployment);
            if available {
                log("info", format!("k8s deployment is ready for: {name}"));
                return Ok(());
            }
            if max_wait > 0 && started.elapsed() >= Duration::from_secs(max_wait) {
                log(
                    "error",
                    format!("k8s deployment never became ready for {name} ({state})"),
                );
                if undeploy_on_timeout {
                    self.undeploy(
                        description,
                        &json!({"metadata": {"labels": deployment.metadata.labels}}),
                        log,
                    )
                    .await?;
                }
                return Err(Error::NotAvailable {
                    deployment: object,
                    waited_seconds: max_wait,
                    state,
                });
            }
            tokio::time::sleep(Duration::from_millis(
                self.settings.poll_interval_ms.max(10),
            ))
            .await;
        }
    }

    pub(crate) async fn undeploy(
        &self,
        description: &Value,
        owner: &Value,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let namespace = &self.settings.namespace;
        for service in list(description.get("services")) {
            let name = env_value(&service);
            let deleted = apply::delete(
                &self.api::<Service>(),
                "Service",
                namespace,
                &name,
                owner,
                false,
            )
            .await?;
            log(
                "info",
                format!("Service {namespace}/{name}: {}", deleted_text(deleted)),
            );
        }
        if let Some(name) = text(description.get("deployment")) {
            let deleted = apply::delete(
                &self.api::<Deployment>(),
                "Deployment",
                namespace,
                &name,
                owner,
                true,
            )
            .await?;
            log(
                "info",
                format!("Deployment {namespace}/{name}: {}", deleted_text(deleted)),
            );
        }
        Ok(())
    }
}

/// Whether a Deployment is available, and a description of its state.
pub fn availability(deployment: &Deployment) -> (bool, String) {
    let wanted = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    let available = status.available_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let generation = deployment.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    let ok = available == wanted && updated == wanted && observed >= generation;
    (
        ok,
        format!("{available}/{wanted} available, {updated} updated, generation {observed}/{generation} observed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_needs_the_current_generation() {
        let mut deployment: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "d", "generation": 2},
            "spec": {"replicas": 2, "selector": {}, "template": {}},
            "status": {"availableReplicas": 2, "updatedReplicas": 2, "observedGeneration": 1}
        }))
        .unwrap();
        assert!(!availability(&deployment).0);
        deployment.status.as_mut().unwrap().observed_generation = Some(2);
        assert!(availability(&deployment).0);
        deployment.spec.as_mut().unwrap().replicas = Some(3);
        assert!(!availability(&deployment).0);
    }
}
