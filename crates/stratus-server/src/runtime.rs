//! Runtime evaluation of the intrinsic functions left in a deployment's outputs and
//! capabilities, and in operation inputs when an operation runs: `get_attribute` (node
//! instance runtime properties, then node properties; `SELF`, `SOURCE`, `TARGET` in
//! operations), `get_secret`, `concat`, and the already-evaluated rest passed through.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::app::App;
use crate::error::{ApiError, ApiResult};
use crate::state::kind;

pub struct Context {
    /// Node name → (properties, runtime properties of each instance).
    nodes: HashMap<String, (Value, Vec<Value>)>,
    /// Instance id → runtime properties.
    instances: HashMap<String, Value>,
    /// `SELF` / `SOURCE` / `TARGET` → (node name, instance id), for operations.
    aliases: HashMap<String, (String, String)>,
    secrets: HashMap<String, String>,
}

impl Context {
    pub fn load(app: &App, tenant: &str, deployment_id: &str) -> Context {
        app.shared.read(|tables| {
            let mut nodes: HashMap<String, (Value, Vec<Value>)> = HashMap::new();
            let mut instances: HashMap<String, Value> = HashMap::new();
            for node in tables.table(kind::NODES).rows() {
                if node.tenant == tenant && node.str_field("deployment_id") == deployment_id {
                    let properties = node.lookup("properties").unwrap_or(Value::Null);
                    nodes.entry(node.str_field("id").to_string()).or_default().0 = properties;
                }
            }
            for instance in tables.table(kind::NODE_INSTANCES).rows() {
                if instance.tenant == tenant && instance.str_field("deployment_id") == deployment_id
                {
                    let runtime = instance.lookup("runtime_properties").unwrap_or(Value::Null);
                    instances.insert(instance.id.clone(), runtime.clone());
                    nodes
                        .entry(instance.str_field("node_id").to_string())
                        .or_default()
                        .1
                        .push(runtime);
                }
            }
            let secrets = tables
                .table(kind::SECRETS)
                .rows()
                .filter(|row| row.tenant == tenant || row.str_field("visibility") == "global")
                .filter_map(|row| {
                    Some((row.id.clone(), app.secrets.open(row.str_field("_value"))?))
                })
                .collect();
            Context {
                nodes,
                instances,
                aliases: HashMap::new(),
                secrets,
            }
        })
    }

    /// Names `SELF`, `SOURCE` or `TARGET` for `get_attribute` in an operation's inputs.
    pub fn with_alias(mut self, alias: &str, node: &str, instance: &str) -> Context {
        self.aliases
            .insert(alias.to_string(), (node.to_string(), instance.to_string()));
        self
    }

    pub fn evaluate(&self, value: &Value) -> ApiResult<Value> {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (name, arguments) = map.iter().next().expect("one entry");
                match name.as_str() {
                    "get_attribute" => self.get_attribute(&self.evaluate(arguments)?),
                    "get_secret" => {
                        let name = self.evaluate(arguments)?;
                        let name = name.as_str().unwrap_or_default();
                        self.secrets
                            .get(name)
                            .map(|v| Value::String(v.clone()))
                            .ok_or_else(|| {
                                ApiError::new(
                                    axum::http::StatusCode::BAD_REQUEST,
                                    "functions_evaluation_error",
                                    format!("get_secret: secret '{name}' does not exist"),
                                )
                            })
                    }
                    "concat" => {
                        let parts = self.evaluate(arguments)?;
                        let text: String = parts
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|part| match part {
                                Value::String(s) => s.clone(),
                                Value::Null => String::new(),
                                other => other.to_string(),
                            })
                            .collect();
                        Ok(Value::String(text))
                    }
                    _ => Ok(Value::Object(self.evaluate_map(map)?)),
                }
            }
            Value::Object(map) => Ok(Value::Object(self.evaluate_map(map)?)),
            Value::Array(items) => items
                .iter()
                .map(|v| self.evaluate(v))
                .collect::<ApiResult<Vec<_>>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    fn evaluate_map(&self, map: &Map<String, Value>) -> ApiResult<Map<String, Value>> {
        map.iter()
            .map(|(k, v)| Ok((k.clone(), self.evaluate(v)?)))
            .collect()
    }

    fn get_attribute(&self, arguments: &Value) -> ApiResult<Value> {
        let items = arguments.as_array().cloned().unwrap_or_default();
        let first = items.first().and_then(Value::as_str).unwrap_or("");
        let alias = self.aliases.get(first);
        let node = alias.map_or(first, |(node, _)| node.as_str());
        let Some((properties, instances)) = self.nodes.get(node) else {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "functions_evaluation_error",
                format!("get_attribute: node '{node}' does not exist in this deployment"),
            ));
        };
        let path = &items[1.min(items.len())..];
        let lookup = |root: &Value| {
            path.iter()
                .try_fold(root.clone(), |current, key| match key {
                    Value::String(k) => current.get(k).cloned(),
                    Value::Number(n) => current.get(n.as_u64()? as usize).cloned(),
                    _ => None,
                })
        };
        if let Some((_, instance)) = alias {
            return Ok(self
                .instances
                .get(instance)
                .and_then(lookup)
                .or_else(|| lookup(properties))
                .unwrap_or(Value::Null));
        }
        if instances.len() > 1 {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "functions_evaluation_error",
                format!(
                    "get_attribute: node '{node}' has {} instances; the attribute is ambiguous",
                    instances.len()
                ),
            ));
        }
        Ok(instances
            .first()
            .and_then(lookup)
            .or_else(|| lookup(properties))
            .unwrap_or(Value::Null))
    }
}
