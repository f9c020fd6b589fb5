//! ONAP's k8splugin (package `k8splugin`) as a runner executor: `stratus-k8s` runs the
//! operations against the Kubernetes API server; this adapts jobs and reports.
//!
//! Found once at start (`discover`): credentials (`STRATUS_KUBECONFIG`, then the ONAP,
//! Cloudify, `KUBECONFIG`, service-account and `/secret` places), the plugin settings file
//! (`STRATUS_K8S_PLUGIN_CONFIG`, else `/opt/onap/k8s-plugin.json` when present, else none:
//! k8splugin's defaults) and the Consul address (`STRATUS_ONAP_CONFIG`, else
//! `/opt/onap/config.txt`; else the file's `consul_host`). With a Consul address, each
//! operation also reads the Consul key `k8s-plugin` over the defaults and the file (see
//! `stratus_k8s::SettingsSource`). Without credentials the executor stays registered but
//! refuses every operation at deployment creation, saying what was looked for.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use stratus_k8s::{ops, Plugin, PluginSettings, Request, SettingsSource, Sources};

use super::executors::{map_of, BoxFuture, Executor, Job, Report};

/// The package name the k8splugin type files declare.
pub const PACKAGE: &str = "k8splugin";

pub struct KubernetesExecutor {
    plugin: Result<Arc<Plugin>, String>,
    describe: String,
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl KubernetesExecutor {
    /// Finds credentials, settings and Consul once.
    pub async fn discover() -> KubernetesExecutor {
        let sources = Sources::standard(env_path("STRATUS_KUBECONFIG"));
        let settings_file = env_path("STRATUS_K8S_PLUGIN_CONFIG").or_else(|| {
            let onap = PathBuf::from("/opt/onap/k8s-plugin.json");
            onap.is_file().then_some(onap)
        });
        let config_txt =
            env_path("STRATUS_ONAP_CONFIG").unwrap_or_else(|| "/opt/onap/config.txt".into());
        KubernetesExecutor::start(&sources, settings_file.as_deref(), &config_txt).await
    }

    pub async fn start(
        sources: &Sources,
        settings_file: Option<&std::path::Path>,
        config_txt: &std::path::Path,
    ) -> KubernetesExecutor {
        let unavailable = |reason: String| KubernetesExecutor {
            describe: format!("unavailable: {reason}"),
            plugin: Err(reason),
        };
        let settings = match settings_file {
            Some(path) => match PluginSettings::read(path) {
                Ok(settings) => settings,
                Err(e) => return unavailable(format!("k8splugin settings: {e}")),
            },
            None => match PluginSettings::from_value(Value::Null) {
                Ok(settings) => settings,
                Err(e) => return unavailable(format!("k8splugin settings: {e}")),
            },
        };
        let consul = match stratus_k8s::settings::read_consul_address(config_txt) {
            Ok(address) => address.or_else(|| settings.consul_host.clone()),
            Err(e) => return unavailable(e.to_string()),
        };
        let credentials = match stratus_k8s::credentials::find(sources).await {
            Ok(credentials) => credentials,
            Err(e) => return unavailable(format!("Kubernetes: {e}")),
        };
        let client = match credentials.client() {
            Ok(client) => client,
            Err(e) => return unavailable(e.to_string()),
        };
        let namespace = settings.namespace.clone();
        let source = SettingsSource::new(settings, settings_file, consul);
        let describe = match source.consul() {
            Some(_) => format!(
                "{}; settings: {}; namespace {namespace} unless the Consul key says otherwise",
                credentials.describe(),
                source.describe()
            ),
            None => format!(
                "{}; settings: {}; namespace {namespace}",
                credentials.describe(),
                source.describe()
            ),
        };
        KubernetesExecutor {
            plugin: Ok(Arc::new(Plugin::new(client, source))),
            describe,
        }
    }

    /// Where the credentials came from (for `/status`), or why there are none.
    pub fn describe(&self) -> String {
        self.describe.clone()
    }

    pub fn is_available(&self) -> bool {
        self.plugin.is_ok()
    }
}

impl Executor for KubernetesExecutor {
    fn check(
        &self,
        _plugin_name: &str,
        _executor: Option<&str>,
        implementation: &str,
    ) -> Result<(), String> {
        if let Err(reason) = &self.plugin {
            return Err(format!("k8splugin cannot run here: {reason}"));
        }
        if ops::supports(implementation) {
            Ok(())
        } else {
            Err(format!(
                "k8splugin operation '{}' is not implemented by Stratus (implemented: {})",
                ops::task_name(implementation),
                ops::OPERATIONS[..12].join(", ")
            ))
        }
    }

    fn run(&self, job: Job) -> BoxFuture {
        let plugin = self.plugin.clone();
        Box::pin(async move {
            let plugin = match plugin {
                Ok(plugin) => plugin,
                Err(reason) => {
                    return Report::failed(format!("k8splugin cannot run here: {reason}"), false)
                }
            };
            let request = Request {
                implementation: job.task.implementation.clone(),
                inputs: job.task.inputs.clone(),
                properties: map_of(&job.own.node, "properties"),
                runtime_properties: map_of(&job.own.instance, "runtime_properties"),
                tenant: job.tenant.clone(),
                deployment_id: job.deployment_id.clone(),
                node_id: job.task.node_id.clone(),
                instance_id: job.task.node_instance_id.clone(),
            };
            let log = job.log.clone();
            let log = move |level: &str, message: String| log(level, message);
            let outcome = plugin.run(&request, &log).await;
            let recoverable = outcome.recoverable();
            Report::settled(
                &job.task.node_instance_id,
                outcome.result.map_err(|error| error.to_string()),
                recoverable,
                outcome.set,
            )
        })
    }
}
