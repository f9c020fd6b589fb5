//! The k8splugin operations (k8splugin 1.7, ONAP Frankfurt, `tasks.py`), each a re-runnable
//! step: `create_*` names the component (deterministically) and stores its configuration
//! (ConfigMap, and Consul KV when `config.txt` names Consul); `create_and_start_*` creates
//! or adopts the Deployment and Services and waits for availability; `stop_and_remove_container`
//! and `cleanup_discovery` remove what they made; `scale`, `update_image` patch the
//! Deployment and wait; `policy_update` records the policies.
//!
//! An operation returns the runtime properties to set, whatever its result (as k8splugin's
//! updates were saved even when a later step failed). Deliberate differences from k8splugin:
//! `replicas` and `always_pull_image` are honoured for service components too (1.7 dropped
//! them on the way to `deploy`); API errors are never swallowed on uninstall (a 404 is
//! success); Deployments are deleted with background propagation (foreground deletion needs
//! the garbage collector to finish before the name can be reused); a start that times out
//! removes the Deployment and Services but leaves the configuration to `cleanup_discovery`;
//! `policy_update` cannot run the notification script in pods (that needs exec) and says so.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::Api;
use serde_json::{json, Map, Value};

use crate::apply::{self, Deleted, Ensured};
use crate::settings::PluginSettings;
use crate::spec::{self, Component, Owner};
use crate::Error;

/// The operations implemented (the last segment of the task name).
pub const OPERATIONS: [&str; 13] = [
    "create_for_components",
    "create_for_components_with_streams",
    "create_for_platforms",
    "create_and_start_container_for_components",
    "create_and_start_container_for_components_with_streams",
    "create_and_start_container_for_platforms",
    "create_and_start_container",
    "stop_and_remove_container",
    "cleanup_discovery",
    "scale",
    "update_image",
    "policy_update",
    "noop",
];

/// `k8splugin.tasks.scale` / `k8splugin.scale` → `scale`.
pub fn task_name(implementation: &str) -> &str {
    implementation.rsplit('.').next().unwrap_or(implementation)
}

pub fn supports(implementation: &str) -> bool {
    let name = task_name(implementation);
    name != "noop" && OPERATIONS.contains(&name)
}

/// One operation to run.
#[derive(Debug, Clone)]
pub struct Request {
    pub implementation: String,
    pub inputs: Map<String, Value>,
    pub properties: Map<String, Value>,
    pub runtime_properties: Map<String, Value>,
    pub tenant: String,
    pub deployment_id: String,
    pub node_id: String,
    pub instance_id: String,
}

/// What an operation did: its result and the runtime properties to set.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<(), Error>,
    pub set: Map<String, Value>,
}

pub type Log<'a> = &'a (dyn Fn(&str, String) + Send + Sync);

/// The plugin: one client, one namespace, settings read once.
#[derive(Clone)]
pub struct Plugin {
    pub(crate) client: kube::Client,
    pub(crate) settings: PluginSettings,
    pub(crate) consul: Option<String>,
}

/// k8splugin's recursive dictionary update (`utils.update_dict`).
fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Object(slot)), Value::Object(value)) => merge(slot, value),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn non_empty(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !(v.is_null() || v.as_object().is_some_and(Map::is_empty)))
}

pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn list(value: Option<&Value>) -> Vec<Value> {
    value.and_then(Value::as_array).cloned().unwrap_or_default()
}

pub(crate) fn integer(value: Option<&Value>, default: i64) -> Result<i64, Error> {
    match value {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| Error::Input(format!("not an integer: {n}"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| Error::Input(format!("not an integer: {s}"))),
        Some(other) => Err(Error::Input(format!("not an integer: {other}"))),
    }
}

fn boolean(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

pub(crate) fn env_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl Plugin {
    pub fn new(client: kube::Client, settings: PluginSettings, consul: Option<String>) -> Plugin {
        Plugin {
            client,
            settings,
            consul,
        }
    }

    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    pub fn settings(&self) -> &PluginSettings {
        &self.settings
    }

    pub(crate) fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.settings.namespace)
    }

    pub(crate) fn owner(request: &Request) -> Owner {
        Owner {
            deployment_id: request.deployment_id.clone(),
            node_id: request.node_id.clone(),
            instance_id: request.instance_id.clone(),
        }
    }

    fn location(&self, request: &Request) -> String {
        text(request.properties.get("location_id"))
            .unwrap_or_else(|| self.settings.default_k8s_location.clone())
    }

    /// Runs one operation.
    pub async fn run(&self, request: &Request, log: Log<'_>) -> Outcome {
        let mut set = Map::new();
        let name = task_name(&request.implementation);
        let result = match name {
            "create_for_components" => self.create(request, false, false, &mut set, log).await,
            "create_for_components_with_streams" => {
                self.create(request, true, false, &mut set, log).await
            }
            "create_for_platforms" => self.create(request, false, true, &mut set, log).await,
            "create_and_start_container_for_components"
            | "create_and_start_container_for_components_with_streams" => {
                self.start_component(request, &mut set, log).await
            }
            "create_and_start_container_for_platforms" => {
                self.start_platform(request, &mut set, log).await
            }
            "create_and_start_container" => self.start_application(request, &mut set, log).await,
            "stop_and_remove_container" => self.stop(request, log).await,
            "cleanup_discovery" => self.cleanup_discovery(request, log).await,
            "scale" => self.scale(request, &mut set, log).await,
            "update_image" => self.update_image(request, &mut set, log).await,
            "policy_update" => self.policy_update(request, &mut set, log),
            other => Err(Error::Input(format!(
                "k8splugin has no operation '{other}' in Stratus (supported: {})",
                OPERATIONS[..12].join(", ")
            ))),
        };
        Outcome { result, set }
    }

    async fn create(
        &self,
        request: &Request,
        with_streams: bool,
        platform: bool,
        set: &mut Map<String, Value>,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let mut kwargs = request.properties.clone();
        merge(&mut kwargs, &request.inputs);
        let name = if platform {
            text(kwargs.get("name"))
                .ok_or_else(|| Error::Input("property 'name' is required".into()))?
        } else {
            let name = text(kwargs.get("service_component_name_override"))
                .or_else(|| text(request.runtime_properties.get("service_component_name")))
                .unwrap_or_else(|| {
                    let component_type =
                        text(kwargs.get("service_component_type")).unwrap_or_default();
                    let seed = format!(
                        "{}/{}/{}",
                        request.tenant, request.deployment_id, request.instance_id
                    );
                    spec::service_component_name(&component_type, &seed)
                });
            kwargs.insert("name".into(), json!(name));
            self.enhance_docker_params(&mut kwargs);
            if with_streams {
                Self::parse_streams(&mut kwargs, &name)?;
            }
            name
        };
        let config = kwargs
            .get("application_config")
            .cloned()
            .unwrap_or(json!({}));
        if let Some(consul) = &self.consul {
            let value = match &config {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            crate::consul::put(consul, &name, &value).await?;
            log(
                "info",
                format!("Added config for {name} to Consul at {consul}"),
            );
        }
        let owner = Self::owner(request);
        let map = spec::config_map(&name, &self.settings.namespace, &owner.labels(), &config);
        let ensured = apply::ensure(&self.api::<ConfigMap>(), "ConfigMap", &map).await?;
        let map_name = spec::config_map_name(&name);
        log("info", format!("{} ConfigMap {map_name}", verb(ensured)));
        kwargs.insert("service_component_name".into(), json!(name));
        kwargs.insert("application_config_map".into(), json!(map_name));
        set.extend(kwargs);
        log("info", format!("Done setting up: {name}"));
        Ok(())
    }

    /// `_enhance_docker_params`: probes from `docker_config`, `SERVICE_TAGS`, ports and
    /// volumes of `docker_config` before the operation's own.
    fn enhance_docker_params(&self, kwargs: &mut Map<String, Value>) {
        let docker_config = kwargs.get("docker_config").cloned().unwrap_or(json!({}));
        if let Some(check) = docker_config.get("healthcheck") {
            kwargs.insert("readiness".into(), check.clone());
        }
        if let Some(check) = docker_config.get("livehealthcheck") {
            kwargs.insert("liveness".into(), check.clone());
        }
        let mut envs = kwargs
            .get("envs")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let tags: Vec<String> = [kwargs.get("deployment_id"), kwargs.get("service_id")]
            .into_iter()
            .flatten()
            .filter(|v| !v.is_null())
            .map(env_value)
            .collect();
        envs.insert("SERVICE_TAGS".into(), json!(tags.join(",")));
        kwargs.insert("envs".into(), Value::Object(envs));
        for key in ["ports", "volumes"] {
            let mut combined = list(docker_config.get(key));
            combined.extend(list(kwargs.get(key)));
            kwargs.insert(key.into(), Value::Array(combined));
        }
    }

    /// `_parse_streams`: runtime properties keyed by stream name for the DMaaP plugin.
    fn parse_streams(kwargs: &mut Map<String, Value>, name: &str) -> Result<(), Error> {
        let stream_name = |stream: &Value| {
            text(stream.get("name"))
                .ok_or_else(|| Error::Input(format!("a stream needs a name: {stream}")))
        };
        for stream in list(kwargs.get("streams_publishes")) {
            kwargs.insert(stream_name(&stream)?, stream);
        }
        for mut stream in list(kwargs.get("streams_subscribes")) {
            let key = stream_name(&stream)?;
            if stream.get("type").and_then(Value::as_str) == Some("data_router") {
                let ports = spec::parse_ports(&list(kwargs.get("ports")))?;
                let port = ports.first().ok_or_else(|| {
                    Error::Input("a data router subscriber needs a port in `ports`".into())
                })?;
                let route = text(stream.get("route")).ok_or_else(|| {
                    Error::Input("'route' key missing from data router subscriber".into())
                })?;
                let scheme = text(stream.get("scheme")).unwrap_or_else(|| "http".into());
                stream["delivery_url"] =
                    json!(format!("{scheme}://{name}:{}/{route}", port.container));
                if text(stream.get("username")).is_none() {
                    stream["username"] =
                        json!(spec::derived_string(&format!("{name}/{key}/user"), 8));
                }
                if text(stream.get("password")).is_none() {
                    stream["password"] =
                        json!(spec::derived_string(&format!("{name}/{key}/password"), 10));
                }
            }
            kwargs.insert(key, stream);
        }
        Ok(())
    }

    /// The environment `_create_and_start_container` gave every component.
    fn environment(
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

    async fn start_component(
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

    async fn start_platform(
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
        let component = Component {
            image: text(props.get("image"))
                .ok_or_else(|| Error::Input("property 'image' is required".into()))?,
            replicas: integer(props.get("replicas"), 1)?,
            always_pull: boolean(props.get("always_pull_image")),
            env: self.environment(&name, tls_info.as_ref(), inputs.get("envs")),
            ports: spec::parse_ports(&ports)?,
            volumes: list(inputs.get("volumes")),
            readiness: non_empty(docker_config.get("healthcheck")).cloned(),
            liveness: non_empty(docker_config.get("livehealthcheck")).cloned(),
            resources: non_empty(props.get("resource_config")).cloned(),
            log_info,
            tls_info,
            labels: owner.labels(),
            config_map: text(request.runtime_properties.get("application_config_map")),
            name: name.clone(),
        };
        let max_wait = self.max_wait(inputs.get("max_wait"))?;
        let description = self.deploy(&component, request, set, log).await?;
        set.insert("replicas".into(), json!(component.replicas));
        self.verify(&description, max_wait, true, log).await
    }

    async fn start_application(
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
    async fn deploy(
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

fn verb(ensured: Ensured) -> &'static str {
    match ensured {
        Ensured::Created => "Created",
        Ensured::Adopted => "Adopted existing",
    }
}

pub(crate) fn deleted_text(deleted: Deleted) -> &'static str {
    match deleted {
        Deleted::Removed => "deleted",
        Deleted::Absent => "already absent",
        Deleted::NotOurs => "left alone (it belongs to another node instance)",
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
    fn task_names() {
        assert_eq!(task_name("k8splugin.tasks.scale"), "scale");
        assert_eq!(
            task_name("k8splugin.create_for_components"),
            "create_for_components"
        );
        assert!(supports(
            "k8splugin.create_and_start_container_for_platforms"
        ));
        assert!(!supports("k8splugin.rollback"));
        assert!(!supports("k8splugin.noop"));
    }

    #[test]
    fn merge_is_recursive() {
        let mut base = json!({"a": {"b": 1, "c": 2}, "d": [1]})
            .as_object()
            .unwrap()
            .clone();
        merge(
            &mut base,
            json!({"a": {"b": 3}, "d": [2]}).as_object().unwrap(),
        );
        assert_eq!(
            Value::Object(base),
            json!({"a": {"b": 3, "c": 2}, "d": [2]})
        );
    }

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
