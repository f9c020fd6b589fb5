//! Where an operation's plugin settings come from, in order of precedence (each layer merged
//! deeply over the one before):
//!
//! 1. k8splugin's defaults (`settings::defaults`);
//! 2. the settings file, when one is configured (a Stratus addition: k8splugin had no file);
//! 3. when a Consul address is known (`config.txt`), the Consul KV key `k8s-plugin` — what
//!    k8splugin itself read (`configure.configure`), so it has the last word.
//!
//! The key is read at the start of every operation, as k8splugin did (it configured itself
//! when its module was loaded for an operation), so a changed key takes effect with the next
//! operation and no restart. The defaults and the file are read once, at start.
//!
//! Like k8splugin: a missing key means "defaults wanted" (here: defaults and file); a value
//! that is not a JSON mapping, or holds bad settings, fails the operation (not retryable). When
//! Consul cannot be reached, k8splugin failed the operation too (`NonRecoverableError` from
//! `configure`): running with fallback settings could create objects in the wrong namespace or,
//! on uninstall, miss them and report success. Stratus also fails, with a warning naming the
//! address — but as a *retryable* failure (Consul being down is transient; the crate treats
//! Consul connection failures as retryable everywhere).

use std::path::Path;

use serde_json::Value;

use crate::settings::{PluginSettings, CONSUL_KEY};
use crate::Error;

/// The settings layers of one plugin instance.
#[derive(Debug, Clone)]
pub struct SettingsSource {
    /// Defaults with the file merged over them.
    base: PluginSettings,
    file: Option<String>,
    consul: Option<String>,
}

/// The settings one operation runs with, and where they came from (for its log).
#[derive(Debug, Clone)]
pub struct Resolved {
    pub settings: PluginSettings,
    pub origin: String,
}

impl SettingsSource {
    /// `base` is the defaults with `file` (if any) merged over them; `consul` the Consul
    /// address, if any (then the `k8s-plugin` key is read at each operation).
    pub fn new(base: PluginSettings, file: Option<&Path>, consul: Option<String>) -> Self {
        SettingsSource {
            base,
            file: file.map(|p| p.display().to_string()),
            consul,
        }
    }

    /// Fixed settings (no file, no Consul): for tests and embedders.
    pub fn fixed(settings: PluginSettings) -> Self {
        SettingsSource::new(settings, None, None)
    }

    /// The Consul address (also where component configurations go).
    pub fn consul(&self) -> Option<&str> {
        self.consul.as_deref()
    }

    /// The defaults and file layers: what an operation uses when the key is absent.
    pub fn base(&self) -> &PluginSettings {
        &self.base
    }

    fn local_layers(&self) -> String {
        match &self.file {
            Some(file) => format!("k8splugin defaults + file {file}"),
            None => "k8splugin defaults".into(),
        }
    }

    /// The layers, for `/status` and the start-up line.
    pub fn describe(&self) -> String {
        match &self.consul {
            Some(address) => format!(
                "{} + Consul key '{CONSUL_KEY}' at {address} (read at each operation)",
                self.local_layers()
            ),
            None => format!("{} (no Consul in config.txt)", self.local_layers()),
        }
    }

    /// The settings for one operation. Logs where they came from (`info`), or why they could
    /// not be read (`warning`, and the error fails the operation).
    pub async fn resolve(&self, log: crate::Log<'_>) -> Result<PluginSettings, Error> {
        let resolved = self.read().await;
        match &resolved {
            Ok(resolved) => log("info", format!("k8splugin settings: {}", resolved.origin)),
            Err(error) => log(
                "warning",
                format!("k8splugin settings could not be read, so the operation does not run (not with defaults or the file either: k8splugin failed here too): {error}"),
            ),
        }
        resolved.map(|r| r.settings)
    }

    /// The layers merged, without logging.
    pub async fn read(&self) -> Result<Resolved, Error> {
        let Some(address) = &self.consul else {
            return Ok(Resolved {
                settings: self.base.clone(),
                origin: self.local_layers(),
            });
        };
        let failed = |reason: String, recoverable: bool| Error::ConsulSettings {
            key: CONSUL_KEY.into(),
            address: address.clone(),
            reason,
            recoverable,
        };
        let value = match crate::consul::get(address, CONSUL_KEY).await {
            Ok(value) => value,
            Err(error) => {
                let recoverable = error.recoverable(false);
                return Err(failed(error.to_string(), recoverable));
            }
        };
        let absent = |why: &str| Resolved {
            settings: self.base.clone(),
            origin: format!(
                "{} (Consul key '{CONSUL_KEY}' at {address} {why})",
                self.local_layers()
            ),
        };
        let Some(bytes) = value else {
            return Ok(absent("absent"));
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(absent("empty"));
        }
        let overrides: Value = serde_json::from_slice(&bytes)
            .map_err(|e| failed(format!("the value is not JSON: {e}"), false))?;
        if !overrides.is_object() {
            return Err(failed(
                format!("the value must be a JSON mapping, not {overrides}"),
                false,
            ));
        }
        let settings = self
            .base
            .merged_with(overrides)
            .map_err(|reason| failed(format!("bad settings: {reason}"), false))?;
        Ok(Resolved {
            settings,
            origin: format!(
                "{} + Consul key '{CONSUL_KEY}' at {address}",
                self.local_layers()
            ),
        })
    }
}
