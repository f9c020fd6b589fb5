//! The plugin's own settings, in the shape of ONAP's `k8s-plugin.json` (the value k8splugin
//! read from Consul key `k8s-plugin`, merged over its built-in defaults), and the Consul
//! address from `/opt/onap/config.txt` (`[consul] address=host:port`). Which layers an
//! operation uses — defaults, a settings file, the Consul key — is `source.rs`.
//!
//! Defaults are k8splugin's (`configure.py`). A settings file is JSON or YAML and is merged
//! *deeply* over the defaults (k8splugin merged one level deep; a deep merge accepts every file
//! it accepted). Stratus additions: `retry_forbidden` (RBAC refusals are retryable) and
//! `poll_interval_ms` (how often availability is checked).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::Error;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filebeat {
    pub log_path: String,
    pub data_path: String,
    pub config_path: String,
    pub config_subpath: String,
    pub config_map: String,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tls {
    pub cert_path: String,
    pub image: String,
    pub component_ca_cert_path: String,
    pub ca_cert_configmap: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cbs {
    pub base_url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginSettings {
    pub namespace: String,
    pub consul_dns_name: String,
    pub default_k8s_location: String,
    pub image_pull_secrets: Vec<String>,
    pub filebeat: Filebeat,
    pub tls: Tls,
    pub cbs: Cbs,
    /// Seconds `start` waits for availability when the operation gives no `max_wait`
    /// (0: forever).
    pub max_wait: u64,
    /// Stratus: treat HTTP 403 from the API server as retryable.
    pub retry_forbidden: bool,
    /// Stratus: availability polling period.
    pub poll_interval_ms: u64,
    /// `consul_host`: the Consul address (`host:port`), normally from `config.txt`.
    #[serde(default)]
    pub consul_host: Option<String>,
}

/// The Consul KV key k8splugin read its settings from (`configure._CONSUL_KEY`).
pub const CONSUL_KEY: &str = "k8s-plugin";

/// k8splugin's defaults (`configure._set_defaults`, `tasks.DEFAULT_MAX_WAIT`).
pub fn defaults() -> Value {
    json!({
        "namespace": "dcae",
        "consul_dns_name": "consul",
        "default_k8s_location": "central",
        "image_pull_secrets": [],
        "filebeat": {
            "log_path": "/var/log/onap",
            "data_path": "/usr/share/filebeat/data",
            "config_path": "/usr/share/filebeat/filebeat.yml",
            "config_subpath": "filebeat.yml",
            "config_map": "filebeat-conf",
            "image": "docker.elastic.co/beats/filebeat:5.5.0"
        },
        "tls": {
            "cert_path": "/opt/tls/shared",
            "image": "nexus3.onap.org:10001/onap/org.onap.dcaegen2.deployments.tls-init-container:1.0.0",
            "component_ca_cert_path": "/opt/dcae/cacert/cacert.pem",
            "ca_cert_configmap": "dcae-cacert-configmap"
        },
        "cbs": {"base_url": "https://config-binding-service:10443/service_component_all"},
        "max_wait": 1800,
        "retry_forbidden": false,
        "poll_interval_ms": 1000
    })
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

impl PluginSettings {
    /// The defaults with `overrides` merged over them.
    pub fn from_value(overrides: Value) -> Result<PluginSettings, String> {
        let mut value = defaults();
        if !overrides.is_null() {
            if !overrides.is_object() {
                return Err("the plugin settings must be a mapping".into());
            }
            merge(&mut value, overrides);
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// These settings with `overrides` merged deeply over them (the same rule as over the
    /// defaults).
    pub fn merged_with(&self, overrides: Value) -> Result<PluginSettings, String> {
        if !overrides.is_object() {
            return Err("the plugin settings must be a mapping".into());
        }
        let mut value = serde_json::to_value(self).map_err(|e| e.to_string())?;
        merge(&mut value, overrides);
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// Reads a JSON or YAML settings file (YAML is a superset of JSON).
    pub fn read(path: &Path) -> Result<PluginSettings, Error> {
        let failed = |reason: String| Error::Settings {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
        let value: Value = serde_yaml::from_str(&text).map_err(|e| failed(e.to_string()))?;
        PluginSettings::from_value(value).map_err(failed)
    }
}

/// The `address` of the `[consul]` section of an ONAP `config.txt` (INI), if any.
pub fn consul_address(text: &str) -> Option<String> {
    let mut in_consul = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_consul = section.trim() == "consul";
            continue;
        }
        if in_consul {
            if let Some((key, value)) = line.split_once(['=', ':']) {
                if key.trim() == "address" && !value.trim().is_empty() {
                    return Some(value.trim().to_string());
                }
            }
        }
    }
    None
}

/// The Consul address from a `config.txt` file; `None` when the file is absent or names none.
pub fn read_consul_address(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(consul_address(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Settings {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_k8splugins() {
        let settings = PluginSettings::from_value(Value::Null).unwrap();
        assert_eq!(settings.namespace, "dcae");
        assert_eq!(settings.filebeat.config_map, "filebeat-conf");
        assert_eq!(settings.max_wait, 1800);
        assert!(settings.image_pull_secrets.is_empty());
    }

    #[test]
    fn a_k8s_plugin_json_merges_deeply() {
        let settings = PluginSettings::from_value(json!({
            "namespace": "onap",
            "image_pull_secrets": ["onap-docker-registry-key"],
            "filebeat": {"image": "filebeat:7"},
            "tls": {"image": "tls-init:2"}
        }))
        .unwrap();
        assert_eq!(settings.namespace, "onap");
        assert_eq!(
            settings.image_pull_secrets,
            vec!["onap-docker-registry-key"]
        );
        assert_eq!(settings.filebeat.image, "filebeat:7");
        assert_eq!(settings.filebeat.log_path, "/var/log/onap");
        assert_eq!(settings.tls.cert_path, "/opt/tls/shared");
    }

    #[test]
    fn layers_merge_deeply_in_order() {
        let file = PluginSettings::from_value(json!({
            "namespace": "from-file",
            "poll_interval_ms": 50,
            "filebeat": {"image": "filebeat:file"}
        }))
        .unwrap();
        let settings = file
            .merged_with(json!({"namespace": "from-consul", "tls": {"image": "tls:consul"}}))
            .unwrap();
        assert_eq!(settings.namespace, "from-consul");
        assert_eq!(settings.poll_interval_ms, 50);
        assert_eq!(settings.filebeat.image, "filebeat:file");
        assert_eq!(settings.tls.image, "tls:consul");
        assert_eq!(settings.tls.cert_path, "/opt/tls/shared");
        assert!(file.merged_with(json!([1])).is_err());
        assert!(file.merged_with(json!({"max_wait": "x"})).is_err());
    }

    #[test]
    fn bad_settings_say_why() {
        assert!(PluginSettings::from_value(json!(["x"])).is_err());
        assert!(PluginSettings::from_value(json!({"max_wait": "soon"})).is_err());
    }

    #[test]
    fn yaml_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k8s-plugin.yaml");
        std::fs::write(&path, "namespace: test\nmax_wait: 5\n").unwrap();
        let settings = PluginSettings::read(&path).unwrap();
        assert_eq!(
            (settings.namespace.as_str(), settings.max_wait),
            ("test", 5)
        );
        let missing = PluginSettings::read(&dir.path().join("nope")).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
    }

    #[test]
    fn consul_address_from_config_txt() {
        assert_eq!(
            consul_address("[consul]\naddress=consul-server.onap:8500\n").as_deref(),
            Some("consul-server.onap:8500")
        );
        assert_eq!(
            consul_address("[other]\naddress=x\n[consul]\n# c\naddress = h:1\n").as_deref(),
            Some("h:1")
        );
        assert_eq!(consul_address("[other]\naddress=x\n"), None);
        assert_eq!(consul_address(""), None);
    }
}
