//! The operation context: what an operation may read (`OperationContext`) and what it changed
//! (`OperationEffects`).
//!
//! The two are separate types on purpose. The context is a snapshot the runtime takes before
//! dispatch; the effects are a *description* of changes, never a new copy of the state. In
//! particular runtime properties come back as a `RuntimePropertiesPatch` per node instance (the
//! keys set and deleted, with nested paths resolved as Cloudify's `PathDictAccess` does), so
//! the runtime applies them to the *latest stored* properties when the operation ends. Two
//! operations on the same instance that set different keys therefore never lose each other's
//! update, whatever order they finish in — the reference's local mode loses them because it
//! writes back whole dictionaries.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Everything a script may read through `ctx`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationContext {
    pub tenant: String,
    pub deployment_id: String,
    pub blueprint_id: String,
    pub execution_id: String,
    pub workflow_id: String,
    pub operation: OperationInfo,
    pub subject: Subject,
    /// The unpacked blueprint archive's directory: scripts and `download-resource` paths are
    /// relative to it and may not leave it.
    #[serde(default)]
    pub blueprint_dir: Option<PathBuf>,
}

/// `ctx operation …`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationInfo {
    /// The full operation name, e.g. `cloudify.interfaces.lifecycle.create`.
    pub name: String,
    /// 0 for the first attempt.
    pub retry_number: u32,
    /// Cloudify's `max_retries`; -1 means unlimited.
    pub max_retries: i64,
}

/// What the operation runs on: one node instance, the two ends of a relationship, or the
/// deployment itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
// One per running operation: boxing the entities would only complicate construction.
#[allow(clippy::large_enum_variant)]
pub enum Subject {
    NodeInstance(Entity),
    RelationshipInstance {
        source: Entity,
        target: Entity,
    },
    #[default]
    Deployment,
}

/// A node and one of its instances (`ctx node`/`ctx instance`, `ctx source …`, `ctx target …`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub node: NodeInfo,
    pub instance: InstanceInfo,
}

/// A node template as the script sees it. Cloudify's node id *is* its name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub type_hierarchy: Vec<String>,
    #[serde(default)]
    pub number_of_instances: Option<u64>,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

/// A node instance as the script sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    pub id: String,
    /// The stored runtime properties when the operation was dispatched.
    #[serde(default)]
    pub runtime_properties: Map<String, Value>,
    /// The `ip` of the instance's host (computed by the runtime, as Cloudify's `host_ip`).
    #[serde(default)]
    pub host_ip: Option<String>,
    #[serde(default)]
    pub index: Option<u64>,
}

impl OperationContext {
    /// The entities whose runtime properties this operation may change.
    pub fn entities(&self) -> Vec<&Entity> {
        match &self.subject {
            Subject::NodeInstance(entity) => vec![entity],
            Subject::RelationshipInstance { source, target } => vec![source, target],
            Subject::Deployment => Vec::new(),
        }
    }
}

/// What an operation asked for and changed, collected by the ctx proxy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationEffects {
    /// Runtime-property changes per node instance id (only instances that changed).
    pub patches: BTreeMap<String, RuntimePropertiesPatch>,
    /// `ctx returns VALUE`.
    pub returns: Option<Value>,
    /// `ctx retry_operation` / `ctx abort_operation`.
    pub stop: Option<StopRequest>,
    /// `ctx operation retry …` (the Python API's `ctx.operation.retry`).
    pub operation_retry: Option<StopRequest>,
    /// A second `returns`/`retry_operation`/`abort_operation` happened: the reference fails the
    /// operation with "ctx may only abort or return once".
    pub illegal_second_result: bool,
    /// `ctx logger …` lines, when no log sink streamed them.
    pub logs: Vec<crate::LogLine>,
}

/// A request to end the operation differently from its exit code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StopRequest {
    /// Recoverable: run the operation again after `interval` seconds (the runtime's default
    /// retry interval when `None`).
    Retry {
        message: Option<String>,
        interval: Option<f64>,
    },
    /// Non-recoverable failure.
    Abort { message: Option<String> },
}

/// One step of a resolved property path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// One change to a node instance's runtime properties.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PatchOp {
    /// Set the value at `path`, creating missing intermediate dictionaries (the last segment is
    /// always a key; list indexes must exist).
    Set {
        path: Vec<PathSegment>,
        value: Value,
    },
    /// Remove the key at `path` if present.
    Delete { path: Vec<PathSegment> },
    /// Remove every key (`ctx instance runtime-properties clear`).
    Clear,
}

/// The changes one operation made to one instance's runtime properties, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RuntimePropertiesPatch {
    pub ops: Vec<PatchOp>,
}

/// A patch step that no longer fits the latest stored properties (e.g. an intermediate
/// dictionary was replaced by a string by another operation).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("cannot apply runtime property change at {path}: {reason}")]
pub struct PatchConflict {
    pub path: String,
    pub reason: String,
}

impl RuntimePropertiesPatch {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Records a change, dropping earlier steps it makes irrelevant so the patch stays
    /// proportional to the number of distinct paths touched.
    pub fn push(&mut self, op: PatchOp) {
        match &op {
            PatchOp::Clear => self.ops.clear(),
            PatchOp::Set { path, .. } | PatchOp::Delete { path } => {
                self.ops.retain(|earlier| match earlier {
                    PatchOp::Set { path: old, .. } | PatchOp::Delete { path: old } => {
                        !old.starts_with(path)
                    }
                    PatchOp::Clear => true,
                });
            }
        }
        self.ops.push(op);
    }

    /// Applies the patch to `properties` (the latest stored ones). Steps that do not fit are
    /// skipped and reported; the others are applied.
    pub fn apply(&self, properties: &mut Map<String, Value>) -> Vec<PatchConflict> {
        let mut conflicts = Vec::new();
        for op in &self.ops {
            let result = match op {
                PatchOp::Clear => {
                    properties.clear();
                    Ok(())
                }
                PatchOp::Set { path, value } => apply_set(properties, path, value.clone()),
                PatchOp::Delete { path } => apply_delete(properties, path),
            };
            if let Err(reason) = result {
                let path = match op {
                    PatchOp::Set { path, .. } | PatchOp::Delete { path } => display_path(path),
                    PatchOp::Clear => String::new(),
                };
                conflicts.push(PatchConflict { path, reason });
            }
        }
        conflicts
    }
}

/// `a.b[0].c` for messages.
pub fn display_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            PathSegment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

fn apply_set(
    properties: &mut Map<String, Value>,
    path: &[PathSegment],
    value: Value,
) -> Result<(), String> {
    let Some((PathSegment::Key(last), parents)) = path.split_last() else {
        return Err("the last path segment must be a key".to_owned());
    };
    let mut root = Value::Object(std::mem::take(properties));
    let result = set_in(&mut root, parents, last, value);
    if let Value::Object(map) = root {
        *properties = map;
    }
    result
}

fn set_in(
    root: &mut Value,
    parents: &[PathSegment],
    last: &str,
    value: Value,
) -> Result<(), String> {
    let mut current = root;
    for segment in parents {
        current = match (segment, current) {
            (PathSegment::Key(key), Value::Object(map)) => map
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            (PathSegment::Index(index), Value::Array(items)) => {
                let length = items.len();
                items
                    .get_mut(*index)
                    .ok_or_else(|| format!("list index {index} out of range (length {length})"))?
            }
            (PathSegment::Key(_), other) => {
                return Err(format!("{} is not a dictionary", type_name(other)))
            }
            (PathSegment::Index(_), other) => {
                return Err(format!("{} is not a list", type_name(other)))
            }
        };
    }
    match current {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
            Ok(())
        }
        other => Err(format!("{} is not a dictionary", type_name(other))),
    }
}

fn apply_delete(properties: &mut Map<String, Value>, path: &[PathSegment]) -> Result<(), String> {
    let Some((PathSegment::Key(last), parents)) = path.split_last() else {
        return Err("the last path segment must be a key".to_owned());
    };
    let mut current: &mut Value = match parents.first() {
        None => {
            properties.shift_remove(last);
            return Ok(());
        }
        Some(PathSegment::Key(first)) => match properties.get_mut(first) {
            Some(value) => value,
            None => return Ok(()),
        },
        Some(PathSegment::Index(_)) => return Err("a list index must follow a key".to_owned()),
    };
    for segment in &parents[1..] {
        current = match (segment, current) {
            (PathSegment::Key(key), Value::Object(map)) => match map.get_mut(key) {
                Some(value) => value,
                None => return Ok(()),
            },
            (PathSegment::Index(index), Value::Array(items)) => match items.get_mut(*index) {
                Some(value) => value,
                None => return Ok(()),
            },
            (_, _) => return Ok(()),
        };
    }
    if let Value::Object(map) = current {
        map.shift_remove(last);
    }
    Ok(())
}

/// Python's type name of a JSON-decoded value, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(name: &str) -> PathSegment {
        PathSegment::Key(name.to_owned())
    }

    #[test]
    fn patches_on_disjoint_keys_commute() {
        let mut first = RuntimePropertiesPatch::default();
        first.push(PatchOp::Set {
            path: vec![key("a")],
            value: json!(1),
        });
        let mut second = RuntimePropertiesPatch::default();
        second.push(PatchOp::Set {
            path: vec![key("b"), key("c")],
            value: json!(2),
        });
        let mut one = Map::new();
        assert!(first.apply(&mut one).is_empty());
        assert!(second.apply(&mut one).is_empty());
        let mut two = Map::new();
        assert!(second.apply(&mut two).is_empty());
        assert!(first.apply(&mut two).is_empty());
        assert_eq!(Value::Object(one.clone()), json!({"a": 1, "b": {"c": 2}}));
        assert_eq!(
            Value::Object(one).to_string().len(),
            Value::Object(two).to_string().len()
        );
    }

    #[test]
    fn later_steps_replace_earlier_ones_on_the_same_path() {
        let mut patch = RuntimePropertiesPatch::default();
        patch.push(PatchOp::Set {
            path: vec![key("a"), key("b")],
            value: json!(1),
        });
        patch.push(PatchOp::Set {
            path: vec![key("a")],
            value: json!({"x": 1}),
        });
        patch.push(PatchOp::Set {
            path: vec![key("c")],
            value: json!(1),
        });
        patch.push(PatchOp::Delete {
            path: vec![key("c")],
        });
        assert_eq!(patch.ops.len(), 2);
        let mut stored = Map::new();
        stored.insert("c".into(), json!(0));
        stored.insert("other".into(), json!(true));
        assert!(patch.apply(&mut stored).is_empty());
        assert_eq!(Value::Object(stored), json!({"other": true, "a": {"x": 1}}));
    }

    #[test]
    fn a_step_that_no_longer_fits_is_reported_and_skipped() {
        let mut patch = RuntimePropertiesPatch::default();
        patch.push(PatchOp::Set {
            path: vec![key("a"), key("b")],
            value: json!(1),
        });
        patch.push(PatchOp::Set {
            path: vec![key("z")],
            value: json!(2),
        });
        let mut stored = Map::new();
        stored.insert("a".into(), json!("now a string"));
        let conflicts = patch.apply(&mut stored);
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].path, "a.b");
        assert_eq!(Value::Object(stored), json!({"a": "now a string", "z": 2}));
    }
}
