//! The deployment as the engine sees it: nodes and node instances parsed from the JSON bodies
//! Stratus stores (`stratus-server` `resources/nodes.rs`, itself the deployment plan's shape).
//!
//! Parse, then trust: every field a workflow reads is checked here once, so graph builders never
//! probe JSON. Unknown keys are ignored (bodies carry ownership, versions, …); a missing or
//! mistyped key the engine needs is an error naming the record and the key.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Why a node or node instance body could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("{record}: `{field}` {problem}")]
    Field {
        record: String,
        field: String,
        problem: String,
    },
    #[error("node instance {instance}: its node `{node}` is not in the deployment")]
    UnknownNode { instance: String, node: String },
    #[error("node instance {instance}: relationship target `{target}` is not in the deployment")]
    UnknownTarget { instance: String, target: String },
    #[error("{kind} `{id}` appears twice")]
    Duplicate { kind: &'static str, id: String },
}

/// One operation of a node or of a relationship side, as planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// The plugin's task (`script_runner.tasks.run`); empty means "no operation".
    pub implementation: String,
    pub plugin: String,
    pub executor: Option<String>,
    pub inputs: Map<String, Value>,
    pub has_intrinsic_functions: bool,
    /// `None`: the manager default. `-1`: retry forever.
    pub max_retries: Option<i64>,
    /// Seconds; `None`: the manager default.
    pub retry_interval: Option<f64>,
    /// Seconds.
    pub timeout: Option<f64>,
    pub timeout_recoverable: Option<bool>,
}

/// A node template's relationship (one per target node; the reference keys them by target).
#[derive(Debug, Clone, PartialEq)]
pub struct Relationship {
    pub type_name: String,
    pub target_node: String,
    pub type_hierarchy: Vec<String>,
    pub properties: Map<String, Value>,
    pub source_operations: HashMap<String, Operation>,
    pub target_operations: HashMap<String, Operation>,
}

impl Relationship {
    pub fn is_contained_in(&self) -> bool {
        self.type_hierarchy
            .iter()
            .any(|t| t == "cloudify.relationships.contained_in")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub type_hierarchy: Vec<String>,
    pub host_id: Option<String>,
    pub operations: HashMap<String, Operation>,
    pub relationships: Vec<Relationship>,
    /// `agent_config.install_method` (or the legacy `install_agent: false`), default `remote`.
    pub install_method: String,
    pub number_of_instances: i64,
    /// The node's `plugins` entries (`name`, `package_name`, `executor`, …) as stored. The
    /// engine does not read them; whoever runs the operations picks executors by them.
    pub plugins: Vec<Value>,
}

impl Node {
    /// The reference's `has_operation`: declared with a non-empty implementation.
    pub fn has_operation(&self, name: &str) -> bool {
        self.operations
            .get(name)
            .is_some_and(|op| !op.implementation.is_empty())
    }

    /// The node's own relationship to `target_node`. Several relationships to one target node
    /// collapse to the last, as in the reference (`CloudifyWorkflowNode._relationships`).
    pub fn relationship_to(&self, target_node: &str) -> Option<&Relationship> {
        self.relationships
            .iter()
            .rev()
            .find(|r| r.target_node == target_node)
    }

    pub fn is_compute(&self) -> bool {
        self.type_hierarchy
            .iter()
            .any(|t| t == "cloudify.nodes.Compute")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRelationship {
    pub type_name: String,
    pub target_id: String,
    pub target_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInstance {
    pub id: String,
    pub node_id: String,
    pub host_id: Option<String>,
    pub state: String,
    pub relationships: Vec<InstanceRelationship>,
    pub index: i64,
}

/// Nodes and node instances of one deployment, in the order given (which fixes every
/// ordering choice the engine makes).
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub nodes: Vec<Node>,
    pub instances: Vec<NodeInstance>,
    node_index: HashMap<String, usize>,
    instance_index: HashMap<String, usize>,
}

impl Deployment {
    /// Parses node and node-instance bodies (`GET /nodes`, `GET /node-instances` items, or a
    /// deployment plan's `nodes` / `node_instances`).
    pub fn from_json(nodes: &[Value], instances: &[Value]) -> Result<Deployment, ModelError> {
        let nodes = nodes
            .iter()
            .map(parse_node)
            .collect::<Result<Vec<_>, _>>()?;
        let instances = instances
            .iter()
            .map(parse_instance)
            .collect::<Result<Vec<_>, _>>()?;
        Deployment::new(nodes, instances)
    }

    /// Checks references (every instance's node and relationship targets exist) and indexes.
    pub fn new(nodes: Vec<Node>, instances: Vec<NodeInstance>) -> Result<Deployment, ModelError> {
        let mut node_index = HashMap::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            if node_index.insert(node.id.clone(), i).is_some() {
                return Err(ModelError::Duplicate {
                    kind: "node",
                    id: node.id.clone(),
                });
            }
        }
        let mut instance_index = HashMap::with_capacity(instances.len());
        for (i, instance) in instances.iter().enumerate() {
            if instance_index.insert(instance.id.clone(), i).is_some() {
                return Err(ModelError::Duplicate {
                    kind: "node instance",
                    id: instance.id.clone(),
                });
            }
            if !node_index.contains_key(&instance.node_id) {
                return Err(ModelError::UnknownNode {
                    instance: instance.id.clone(),
                    node: instance.node_id.clone(),
                });
            }
        }
        for instance in &instances {
            for rel in &instance.relationships {
                if !instance_index.contains_key(&rel.target_id) {
                    return Err(ModelError::UnknownTarget {
                        instance: instance.id.clone(),
                        target: rel.target_id.clone(),
                    });
                }
            }
        }
        Ok(Deployment {
            nodes,
            instances,
            node_index,
            instance_index,
        })
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.node_index.get(id).map(|&i| &self.nodes[i])
    }

    pub fn instance(&self, id: &str) -> Option<&NodeInstance> {
        self.instance_index.get(id).map(|&i| &self.instances[i])
    }

    /// The node of an instance (checked to exist on construction).
    pub fn node_of(&self, instance: &NodeInstance) -> &Node {
        &self.nodes[self.node_index[&instance.node_id]]
    }

    /// The instance and every instance contained in it, directly or transitively, in
    /// deployment order.
    pub fn contained_subgraph(&self, id: &str) -> Vec<String> {
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        for instance in &self.instances {
            let node = self.node_of(instance);
            for rel in &instance.relationships {
                let contained = node
                    .relationship_to(&rel.target_name)
                    .is_some_and(Relationship::is_contained_in);
                if contained {
                    children
                        .entry(rel.target_id.as_str())
                        .or_default()
                        .push(instance.id.as_str());
                }
            }
        }
        let mut members = std::collections::HashSet::new();
        let mut stack = vec![id];
        while let Some(current) = stack.pop() {
            if members.insert(current) {
                stack.extend(children.get(current).into_iter().flatten().copied());
            }
        }
        self.instances
            .iter()
            .filter(|i| members.contains(i.id.as_str()))
            .map(|i| i.id.clone())
            .collect()
    }
}

struct Record<'a> {
    name: String,
    body: &'a Map<String, Value>,
}

impl<'a> Record<'a> {
    fn new(kind: &str, value: &'a Value) -> Result<Record<'a>, ModelError> {
        let body = value.as_object().ok_or_else(|| ModelError::Field {
            record: kind.to_string(),
            field: "".into(),
            problem: "is not an object".into(),
        })?;
        let id = body.get("id").and_then(Value::as_str).unwrap_or("?");
        Ok(Record {
            name: format!("{kind} {id}"),
            body,
        })
    }

    fn error(&self, field: &str, problem: &str) -> ModelError {
        ModelError::Field {
            record: self.name.clone(),
            field: field.to_string(),
            problem: problem.to_string(),
        }
    }

    fn string(&self, field: &str) -> Result<String, ModelError> {
        match self.body.get(field) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(self.error(field, "must be a string")),
            None => Err(self.error(field, "is missing")),
        }
    }

    fn optional_string(&self, field: &str) -> Result<Option<String>, ModelError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.error(field, "must be a string or null")),
        }
    }

    fn array(&self, field: &str) -> Result<&'a [Value], ModelError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.error(field, "must be a list")),
        }
    }

    fn object(&self, field: &str) -> Result<Option<&'a Map<String, Value>>, ModelError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(self.error(field, "must be an object")),
        }
    }

    fn strings(&self, field: &str) -> Result<Vec<String>, ModelError> {
        self.array(field)?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| self.error(field, "must be a list of strings"))
            })
            .collect()
    }
}

fn parse_operations(
    record: &Record,
    field: &str,
    map: Option<&Map<String, Value>>,
) -> Result<HashMap<String, Operation>, ModelError> {
    let mut out = HashMap::new();
    for (name, value) in map.into_iter().flatten() {
        let op = value
            .as_object()
            .ok_or_else(|| record.error(&format!("{field}.{name}"), "must be an object"))?;
        out.insert(
            name.clone(),
            operation(&record.name, field, name, &|k| op.get(k))?,
        );
    }
    Ok(out)
}

/// One operation from its fields (`get`), checked; errors name `record`, `field` and `name`.
pub(crate) fn operation<'v>(
    record: &str,
    field: &str,
    name: &str,
    get: &dyn Fn(&str) -> Option<&'v Value>,
) -> Result<Operation, ModelError> {
    let error = |key: &str, problem: &str| ModelError::Field {
        record: record.to_string(),
        field: format!("{field}.{name}.{key}"),
        problem: problem.to_string(),
    };
    let text = |k: &str| -> Result<Option<String>, ModelError> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(error(k, "must be a string")),
        }
    };
    let number = |k: &str| -> Result<Option<f64>, ModelError> {
        match get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(error(k, "must be a number")),
        }
    };
    let max_retries = match get("max_retries") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| error("max_retries", "must be an integer"))?,
        ),
        Some(_) => return Err(error("max_retries", "must be an integer")),
    };
    let inputs = match get("inputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(error("inputs", "must be an object")),
    };
    Ok(Operation {
        implementation: text("operation")?.unwrap_or_default(),
        plugin: text("plugin")?.unwrap_or_default(),
        executor: text("executor")?,
        inputs,
        has_intrinsic_functions: get("has_intrinsic_functions")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_retries,
        retry_interval: number("retry_interval")?,
        timeout: number("timeout")?,
        timeout_recoverable: get("timeout_recoverable").and_then(Value::as_bool),
    })
}

pub(crate) fn install_method(properties: Option<&Map<String, Value>>) -> String {
    let properties = match properties {
        Some(p) => p,
        None => return "remote".into(),
    };
    if let Some(method) = properties
        .get("agent_config")
        .and_then(|c| c.get("install_method"))
        .and_then(Value::as_str)
    {
        return method.to_string();
    }
    if properties.get("install_agent") == Some(&Value::Bool(false)) {
        return "none".into();
    }
    "remote".into()
}

fn parse_node(value: &Value) -> Result<Node, ModelError> {
    let record = Record::new("node", value)?;
    let mut relationships = Vec::new();
    for (i, rel) in record.array("relationships")?.iter().enumerate() {
        let field = format!("relationships[{i}]");
        let rel_record = Record {
            name: format!("{} {field}", record.name),
            body: rel
                .as_object()
                .ok_or_else(|| record.error(&field, "must be an object"))?,
        };
        relationships.push(Relationship {
            type_name: rel_record.string("type")?,
            target_node: rel_record.string("target_id")?,
            type_hierarchy: rel_record.strings("type_hierarchy")?,
            properties: rel_record
                .object("properties")?
                .cloned()
                .unwrap_or_default(),
            source_operations: parse_operations(
                &rel_record,
                "source_operations",
                rel_record.object("source_operations")?,
            )?,
            target_operations: parse_operations(
                &rel_record,
                "target_operations",
                rel_record.object("target_operations")?,
            )?,
        });
    }
    let number_of_instances = record
        .body
        .get("number_of_instances")
        .and_then(Value::as_i64)
        .or_else(|| {
            record
                .body
                .get("instances")
                .and_then(|i| i.get("deploy"))
                .and_then(Value::as_i64)
        })
        .unwrap_or(1);
    Ok(Node {
        id: record.string("id")?,
        type_hierarchy: record.strings("type_hierarchy")?,
        host_id: record.optional_string("host_id")?,
        operations: parse_operations(&record, "operations", record.object("operations")?)?,
        relationships,
        install_method: install_method(record.object("properties")?),
        plugins: record.array("plugins")?.to_vec(),
        number_of_instances,
    })
}

fn parse_instance(value: &Value) -> Result<NodeInstance, ModelError> {
    let record = Record::new("node instance", value)?;
    let node_id = match record.optional_string("node_id")? {
        Some(id) => id,
        None => record.string("name")?,
    };
    let mut relationships = Vec::new();
    for (i, rel) in record.array("relationships")?.iter().enumerate() {
        let field = format!("relationships[{i}]");
        let rel_record = Record {
            name: format!("{} {field}", record.name),
            body: rel
                .as_object()
                .ok_or_else(|| record.error(&field, "must be an object"))?,
        };
        relationships.push(InstanceRelationship {
            type_name: rel_record.string("type")?,
            target_id: rel_record.string("target_id")?,
            target_name: rel_record.string("target_name")?,
        });
    }
    Ok(NodeInstance {
        id: record.string("id")?,
        node_id,
        host_id: record.optional_string("host_id")?,
        state: record
            .optional_string("state")?
            .unwrap_or_else(|| "uninitialized".into()),
        relationships,
        index: record
            .body
            .get("index")
            .and_then(Value::as_i64)
            .unwrap_or(0),
    })
}
