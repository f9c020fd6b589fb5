//! The operation inputs read as `script_runner.tasks.run`'s arguments, and the environment
//! `create_process_config` builds from them.

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::{ProcessConfig, ScriptError, ScriptSource, ScriptSpec};
use crate::pyfmt::{json_dumps, py_str};

impl ScriptSpec {
    /// Reads `script_runner.tasks.run(script_path=None, script_source=None, process=None,
    /// ssl_cert_content=None, **kwargs)`'s arguments from the operation inputs.
    pub fn from_inputs(inputs: &Map<String, Value>) -> Result<ScriptSpec, ScriptError> {
        let text = |name: &str| -> Result<Option<String>, ScriptError> {
            match inputs.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) if text.is_empty() => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(other) => Err(ScriptError::InvalidInput {
                    name: name.to_owned(),
                    reason: format!("expected a string, got {other}"),
                }),
            }
        };
        let script = match (text("script_path")?, text("script_source")?) {
            (None, None) => return Err(ScriptError::MissingScript),
            (Some(_), Some(_)) => return Err(ScriptError::BothScripts),
            (Some(path), None) => ScriptSource::Path(path),
            (None, Some(source)) => ScriptSource::Source(source),
        };
        let process = match inputs.get("process") {
            None | Some(Value::Null) => ProcessConfig::default(),
            Some(Value::Object(map)) => ProcessConfig::from_map(map)?,
            Some(other) => {
                return Err(ScriptError::InvalidInput {
                    name: "process".to_owned(),
                    reason: format!("expected a dictionary, got {other}"),
                })
            }
        };
        let env_inputs = inputs
            .iter()
            .filter(|(name, _)| {
                !matches!(
                    name.as_str(),
                    "script_path" | "script_source" | "process" | "ssl_cert_content" | "ctx"
                )
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Ok(ScriptSpec {
            script,
            process,
            env_inputs,
            timeout: None,
            timeout_recoverable: false,
        })
    }

    /// The environment variables `create_process_config` computes: inputs then `process.env`;
    /// dictionaries, lists and booleans as `json.dumps`, everything else as `str()` (so `None`
    /// is `"None"` and `1.0` is `"1.0"`).
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut merged = self.env_inputs.clone();
        for (name, value) in &self.process.env {
            merged.insert(name.clone(), value.clone());
        }
        merged
            .iter()
            .map(|(name, value)| (name.clone(), env_value(value)))
            .collect()
    }
}

/// `create_process_config`'s rendering of one environment value.
pub fn env_value(value: &Value) -> String {
    match value {
        Value::Object(_) | Value::Array(_) | Value::Bool(_) => json_dumps(value),
        other => py_str(other),
    }
}

impl ProcessConfig {
    fn from_map(map: &Map<String, Value>) -> Result<ProcessConfig, ScriptError> {
        let invalid = |name: &str, reason: &str| ScriptError::InvalidInput {
            name: format!("process.{name}"),
            reason: reason.to_owned(),
        };
        let flag = |name: &str, default: bool| match map.get(name) {
            None | Some(Value::Null) => default,
            Some(value) => crate::pyfmt::py_truthy(value),
        };
        let cwd = match map.get("cwd") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) => Some(PathBuf::from(path)),
            Some(_) => return Err(invalid("cwd", "expected a string")),
        };
        let env = match map.get("env") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(env)) => env.clone(),
            Some(_) => return Err(invalid("env", "expected a dictionary")),
        };
        let args = match map.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(py_str).collect(),
            Some(_) => return Err(invalid("args", "expected a list")),
        };
        let command_prefix = match map.get("command_prefix") {
            None | Some(Value::Null) => None,
            Some(Value::String(prefix)) if prefix.is_empty() => None,
            Some(Value::String(prefix)) => Some(prefix.clone()),
            Some(_) => return Err(invalid("command_prefix", "expected a string")),
        };
        let eval_python = match map.get("eval_python") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(flag)) => Some(*flag),
            Some(_) => return Err(invalid("eval_python", "expected a boolean")),
        };
        if let Some(kind) = map.get("ctx_proxy_type").and_then(Value::as_str) {
            if !matches!(kind, "auto" | "http" | "none") {
                return Err(invalid(
                    "ctx_proxy_type",
                    &format!("Unsupported proxy type: {kind}"),
                ));
            }
        }
        Ok(ProcessConfig {
            cwd,
            env,
            args,
            command_prefix,
            eval_python,
            log_stdout: flag("log_stdout", true),
            log_stderr: flag("log_stderr", true),
            stderr_to_stdout: flag("stderr_to_stdout", false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environment_follows_create_process_config() {
        let inputs = json!({
            "script_path": "s.sh", "process": {"env": {"EXTRA": [1, 2], "port": 9}},
            "port": 8080, "name": "web", "flag": true, "ratio": 1.0, "none": null, "map": {"a": "é"}
        });
        let spec = ScriptSpec::from_inputs(inputs.as_object().unwrap()).unwrap();
        let env: std::collections::HashMap<String, String> =
            spec.environment().into_iter().collect();
        assert_eq!(env["port"], "9");
        assert_eq!(env["name"], "web");
        assert_eq!(env["flag"], "true");
        assert_eq!(env["ratio"], "1.0");
        assert_eq!(env["none"], "None");
        assert_eq!(env["map"], r#"{"a": "\u00e9"}"#);
        assert_eq!(env["EXTRA"], "[1, 2]");
        assert!(!env.contains_key("script_path") && !env.contains_key("process"));
    }

    #[test]
    fn script_inputs_are_checked_like_the_reference() {
        assert!(matches!(
            ScriptSpec::from_inputs(&Map::new()),
            Err(ScriptError::MissingScript)
        ));
        let both = json!({"script_path": "a", "script_source": "b"});
        assert!(matches!(
            ScriptSpec::from_inputs(both.as_object().unwrap()),
            Err(ScriptError::BothScripts)
        ));
    }
}
