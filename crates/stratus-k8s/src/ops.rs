//! The k8splugin operations (k8splugin 1.7, ONAP Frankfurt, `tasks.py`), each a re-runnable
//! step: `create_*` names the component (deterministically) and stores its configuration
//! (ConfigMap, and Consul KV when `config.txt` names Consul); `create_and_start_*` creates
//! or adopts the Deployment and Services and waits for availability; `stop_and_remove_container`
//! and `cleanup_discovery` remove what they made; `scale`, `update_image` patch the
//! Deployment and wait; `policy_update` records the policies and notifies the pods.
//!
//! An operation returns the runtime properties to set, whatever its result (as k8splugin's
//! updates were saved even when a later step failed). Deliberate differences from k8splugin:
//! `replicas` and `always_pull_image` are honoured for service components too (1.7 dropped
//! them on the way to `deploy`); API errors are never swallowed on uninstall (a 404 is
//! success); Deployments are deleted with background propagation (foreground deletion needs
//! the garbage collector to finish before the name can be reused); a start that times out
//! removes the Deployment and Services but leaves the configuration to `cleanup_discovery`;
//! `policy_update` runs the notification script in the pods through exec (`notify.rs`).

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::{json, Map, Value};

use crate::apply::{self, Deleted, Ensured};
use crate::settings::PluginSettings;
use crate::source::SettingsSource;
use crate::spec::{self, Owner};
use crate::Error;

pub use crate::start::availability;

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
    /// The operation's `retry_forbidden` setting (settings may change between operations).
    pub retry_forbidden: bool,
}

impl Outcome {
    /// Whether a failure may succeed when run again.
    pub fn recoverable(&self) -> bool {
        self.result
            .as_ref()
            .err()
            .is_some_and(|e| e.recoverable(self.retry_forbidden))
    }
}

pub type Log<'a> = &'a (dyn Fn(&str, String) + Send + Sync);

/// The plugin: one client; settings from `source`, resolved for each operation into
/// `settings` (a copy of the plugin made per operation holds them).
#[derive(Clone)]
pub struct Plugin {
    pub(crate) client: kube::Client,
    pub(crate) source: SettingsSource,
    pub(crate) settings: PluginSettings,
    pub(crate) consul: Option<String>,
}

/// k8splugin's recursive dictionary update (`utils.update_dict`).
pub(crate) fn merge(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Object(slot)), Value::Object(value)) => merge(slot, value),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

pub(crate) fn non_empty(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !(v.is_null() || v.as_object().is_some_and(Map::is_empty)))
}

pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn list(value: Option<&Value>) -> Vec<Value> {
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

pub(crate) fn boolean(value: Option<&Value>) -> bool {
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
    pub fn new(client: kube::Client, source: SettingsSource) -> Plugin {
        Plugin {
            client,
            settings: source.base().clone(),
            consul: source.consul().map(str::to_string),
            source,
        }
    }

    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The settings of the defaults and file layers (an operation may add the Consul key's).
    pub fn settings(&self) -> &PluginSettings {
        &self.settings
    }

    pub fn source(&self) -> &SettingsSource {
        &self.source
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

    pub(crate) fn location(&self, request: &Request) -> String {
        text(request.properties.get("location_id"))
            .unwrap_or_else(|| self.settings.default_k8s_location.clone())
    }

    /// Runs one operation with the settings `source` gives at this moment.
    pub async fn run(&self, request: &Request, log: Log<'_>) -> Outcome {
        match self.source.resolve(log).await {
            Ok(settings) => {
                let plugin = Plugin {
                    settings,
                    ..self.clone()
                };
                plugin.dispatch(request, log).await
            }
            Err(error) => Outcome {
                result: Err(error),
                set: Map::new(),
                retry_forbidden: self.settings.retry_forbidden,
            },
        }
    }

    async fn dispatch(&self, request: &Request, log: Log<'_>) -> Outcome {
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
            "policy_update" => self.policy_update(request, &mut set, log).await,
            other => Err(Error::Input(format!(
                "k8splugin has no operation '{other}' in Stratus (supported: {})",
                OPERATIONS[..12].join(", ")
            ))),
        };
        Outcome {
            result,
            set,
            retry_forbidden: self.settings.retry_forbidden,
        }
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
}

pub(crate) fn verb(ensured: Ensured) -> &'static str {
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
}
