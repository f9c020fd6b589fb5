//! [`Deployment::from_texts`]: the same model as [`Deployment::from_json`], read straight from
//! the stored JSON text of node and node-instance bodies. A node body is mostly operations
//! (each under its short and long name, plus each relationship's source and target
//! operations); reading them into typed fields instead of `serde_json` maps is what makes
//! starting an execution of a large deployment cheap. The checks and the defaults are those
//! of `from_json` (shared: `model::operation`, `model::install_method`); a body that is not
//! even the right JSON shape is an error naming the record.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::model::{
    install_method, operation, Deployment, InstanceRelationship, ModelError, Node, NodeInstance,
    Operation, Relationship,
};

/// An operation's fields, as stored; checked by `model::operation`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct OperationText {
    operation: Option<Value>,
    plugin: Option<Value>,
    executor: Option<Value>,
    inputs: Option<Value>,
    has_intrinsic_functions: Option<Value>,
    max_retries: Option<Value>,
    retry_interval: Option<Value>,
    timeout: Option<Value>,
    timeout_recoverable: Option<Value>,
}

impl OperationText {
    fn get(&self, key: &str) -> Option<&Value> {
        match key {
            "operation" => self.operation.as_ref(),
            "plugin" => self.plugin.as_ref(),
            "executor" => self.executor.as_ref(),
            "inputs" => self.inputs.as_ref(),
            "has_intrinsic_functions" => self.has_intrinsic_functions.as_ref(),
            "max_retries" => self.max_retries.as_ref(),
            "retry_interval" => self.retry_interval.as_ref(),
            "timeout" => self.timeout.as_ref(),
            "timeout_recoverable" => self.timeout_recoverable.as_ref(),
            _ => None,
        }
    }
}

/// The two properties the model reads (`agent_config.install_method`, `install_agent`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct PropertiesText {
    agent_config: Option<Value>,
    install_agent: Option<Value>,
}

#[derive(Deserialize)]
struct RelationshipText {
    #[serde(rename = "type")]
    type_name: String,
    target_id: String,
    #[serde(default)]
    type_hierarchy: Option<Vec<String>>,
    #[serde(default)]
    properties: Option<Map<String, Value>>,
    #[serde(default)]
    source_operations: Option<HashMap<String, OperationText>>,
    #[serde(default)]
    target_operations: Option<HashMap<String, OperationText>>,
}

#[derive(Deserialize)]
struct NodeText {
    id: String,
    #[serde(default)]
    type_hierarchy: Option<Vec<String>>,
    #[serde(default)]
    host_id: Option<String>,
    #[serde(default)]
    operations: Option<HashMap<String, OperationText>>,
    #[serde(default)]
    properties: Option<PropertiesText>,
    #[serde(default)]
    relationships: Option<Vec<RelationshipText>>,
    #[serde(default)]
    number_of_instances: Option<Value>,
    #[serde(default)]
    instances: Option<Value>,
    #[serde(default)]
    plugins: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct InstanceRelationshipText {
    #[serde(rename = "type")]
    type_name: String,
    target_id: String,
    target_name: String,
}

#[derive(Deserialize)]
struct InstanceText {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    node_id: Option<String>,
    #[serde(default)]
    host_id: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    relationships: Option<Vec<InstanceRelationshipText>>,
    #[serde(default)]
    index: Option<Value>,
}

fn shape_error(kind: &str, error: serde_json::Error) -> ModelError {
    ModelError::Field {
        record: kind.to_string(),
        field: String::new(),
        problem: format!("is not a {kind} body: {error}"),
    }
}

fn operations(
    record: &str,
    field: &str,
    texts: Option<HashMap<String, OperationText>>,
) -> Result<HashMap<String, Operation>, ModelError> {
    let mut out = HashMap::new();
    for (name, text) in texts.into_iter().flatten() {
        let parsed = operation(record, field, &name, &|k| text.get(k))?;
        out.insert(name, parsed);
    }
    Ok(out)
}

fn node(text: &str) -> Result<Node, ModelError> {
    let body: NodeText = serde_json::from_str(text).map_err(|e| shape_error("node", e))?;
    let record = format!("node {}", body.id);
    let mut relationships = Vec::new();
    for (i, rel) in body.relationships.into_iter().flatten().enumerate() {
        let rel_record = format!("{record} relationships[{i}]");
        relationships.push(Relationship {
            type_name: rel.type_name,
            target_node: rel.target_id,
            type_hierarchy: rel.type_hierarchy.unwrap_or_default(),
            properties: rel.properties.unwrap_or_default(),
            source_operations: operations(&rel_record, "source_operations", rel.source_operations)?,
            target_operations: operations(&rel_record, "target_operations", rel.target_operations)?,
        });
    }
    let number_of_instances = body
        .number_of_instances
        .as_ref()
        .and_then(Value::as_i64)
        .or_else(|| {
            body.instances
                .as_ref()
                .and_then(|i| i.get("deploy"))
                .and_then(Value::as_i64)
        })
        .unwrap_or(1);
    let properties = body.properties.map(|p| {
        let mut map = Map::new();
        if let Some(value) = p.agent_config {
            map.insert("agent_config".into(), value);
        }
        if let Some(value) = p.install_agent {
            map.insert("install_agent".into(), value);
        }
        map
    });
    Ok(Node {
        operations: operations(&record, "operations", body.operations)?,
        id: body.id,
        type_hierarchy: body.type_hierarchy.unwrap_or_default(),
        host_id: body.host_id,
        relationships,
        install_method: install_method(properties.as_ref()),
        number_of_instances,
        plugins: body.plugins.unwrap_or_default(),
    })
}

fn instance(text: &str) -> Result<NodeInstance, ModelError> {
    let body: InstanceText =
        serde_json::from_str(text).map_err(|e| shape_error("node instance", e))?;
    let node_id = match body.node_id.or(body.name) {
        Some(id) => id,
        None => {
            return Err(ModelError::Field {
                record: format!("node instance {}", body.id),
                field: "name".into(),
                problem: "is missing".into(),
            })
        }
    };
    Ok(NodeInstance {
        id: body.id,
        node_id,
        host_id: body.host_id,
        state: body.state.unwrap_or_else(|| "uninitialized".into()),
        relationships: body
            .relationships
            .into_iter()
            .flatten()
            .map(|r| InstanceRelationship {
                type_name: r.type_name,
                target_id: r.target_id,
                target_name: r.target_name,
            })
            .collect(),
        index: body.index.as_ref().and_then(Value::as_i64).unwrap_or(0),
    })
}

/// Below this many bodies per thread, one thread reads them all.
const BODIES_PER_THREAD: usize = 128;

/// Every text read with `read`, in order, on up to as many threads as there are cores: a
/// large deployment's node bodies are megabytes of JSON, read at every execution's start.
/// The error is the one of the first text (in order) that fails, as if read one by one.
fn read_all<T: Send>(
    texts: &[&str],
    read: fn(&str) -> Result<T, ModelError>,
) -> Result<Vec<T>, ModelError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(texts.len() / BODIES_PER_THREAD)
        .max(1);
    if threads == 1 {
        return texts.iter().map(|t| read(t)).collect();
    }
    let chunk = texts.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = texts
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|t| read(t)).collect::<Vec<_>>()))
            .collect();
        let mut all = Vec::with_capacity(texts.len());
        for part in parts {
            let part = part
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            for item in part {
                all.push(item?);
            }
        }
        Ok(all)
    })
}

impl Deployment {
    /// [`Deployment::from_json`] from the bodies' JSON text.
    pub fn from_texts(nodes: &[&str], instances: &[&str]) -> Result<Deployment, ModelError> {
        let nodes = read_all(nodes, node)?;
        let instances = read_all(instances, instance)?;
        Deployment::new(nodes, instances)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Deployment, ModelError};

    #[test]
    fn bodies_of_the_wrong_shape_are_errors_naming_the_record() {
        for (nodes, instances, record) in [
            (vec!["[1]"], vec![], "node"),
            (
                vec![r#"{"id": "n", "operations": {"create": 3}}"#],
                vec![],
                "node",
            ),
            (vec![r#"{"id": "n"}"#], vec!["not json"], "node instance"),
        ] {
            match Deployment::from_texts(&nodes, &instances) {
                Err(ModelError::Field { record: r, .. }) => assert_eq!(r, record),
                other => panic!("{nodes:?} {instances:?}: {other:?}"),
            }
        }
        let error = Deployment::from_texts(
            &[r#"{"id": "n", "operations": {"create": {"max_retries": "x"}}}"#],
            &[],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "node n: `operations.create.max_retries` must be an integer"
        );
    }

    #[test]
    fn many_bodies_read_on_several_threads_keep_their_order_and_first_error() {
        let texts: Vec<String> = (0..1000).map(|i| format!(r#"{{"id": "n{i}"}}"#)).collect();
        let mut refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let ids: Vec<String> = super::read_all(&refs, super::node)
            .unwrap()
            .into_iter()
            .map(|node| node.id)
            .collect();
        assert_eq!(ids, (0..1000).map(|i| format!("n{i}")).collect::<Vec<_>>());
        // Two bad bodies, in different threads' parts: the first in order is the error.
        refs[300] = r#"{"id": "first", "operations": 1}"#;
        refs[900] = r#"{"id": "second", "operations": 1}"#;
        match super::read_all(&refs, super::node) {
            Err(ModelError::Field { problem, .. }) => {
                assert!(problem.contains("node body"), "{problem}")
            }
            other => panic!("{:?}", other.map(|nodes| nodes.len())),
        }
        refs[300] = r#"{"id": "first", "operations": {"create": {"max_retries": "x"}}}"#;
        let error = super::read_all(&refs, super::node).unwrap_err();
        assert!(error.to_string().starts_with("node first:"), "{error}");
    }
}
