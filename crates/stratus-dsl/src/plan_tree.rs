//! A plan (parsed or deployment) as a JSON tree in which nodes share what their type decides.
//!
//! Every template of a type that writes no interfaces of its own gets the same `interfaces`
//! and `operations`, and nodes whose operations run the same plugins get the same `plugins`
//! and `deployment_plugins_to_install`: most of a node's plan. A node keeps such fields out
//! of its map, as reference-counted parts shared with other nodes ([`NodeShared`]); its map
//! holds `null` under each of those keys, in place. Reading the plan as JSON
//! ([`Plan::into_value`], or serializing it) puts the parts there, so the result is the same
//! tree as if every node held its own copy.

use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{Map, Value as J};

/// A node's `interfaces` and `operations` (objects), as the plan writes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeOperations {
    pub interfaces: J,
    pub operations: J,
}

impl NodeOperations {
    /// Whether no operation input holds a function call.
    pub fn inert(&self) -> bool {
        crate::functions::operations_inert(self.operations.as_object())
            && crate::functions::interfaces_inert(self.interfaces.as_object())
    }
}

/// A node's `plugins` and `deployment_plugins_to_install` (arrays).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodePlugins {
    pub plugins: J,
    pub deployment_plugins_to_install: J,
}

/// The parts one node keeps out of its map.
///
/// `operations` is `Some` exactly when the node's operation inputs (its own and its
/// relationships') hold no function call: nothing is evaluated in them per node.
#[derive(Debug, Clone, Default)]
pub struct NodeShared {
    pub operations: Option<Arc<NodeOperations>>,
    pub plugins: Option<Arc<NodePlugins>>,
}

impl NodeShared {
    /// The value of the node's field `key` when it is kept here.
    pub fn get(&self, key: &str) -> Option<&J> {
        match key {
            "interfaces" => self.operations.as_ref().map(|o| &o.interfaces),
            "operations" => self.operations.as_ref().map(|o| &o.operations),
            "plugins" => self.plugins.as_ref().map(|p| &p.plugins),
            "deployment_plugins_to_install" => self
                .plugins
                .as_ref()
                .map(|p| &p.deployment_plugins_to_install),
            _ => None,
        }
    }

    fn is_empty(&self) -> bool {
        self.operations.is_none() && self.plugins.is_none()
    }
}

/// A plan and the node parts kept out of it.
///
/// Invariant: for each node `i` of `value["nodes"]`, every key [`NodeShared::get`] answers
/// for `shared[i]` is in the node's map with a `null` placeholder. The passes that evaluate,
/// check or scan operation inputs skip the operations of a node whose operations are kept
/// out ([`Plan::inert`]); nothing else in this crate reads a placeholder after the plan is
/// built. Code that edits the tree goes through [`Plan::value_mut`], which puts every part
/// back first.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    value: J,
    shared: Vec<NodeShared>,
}

impl Plan {
    /// `value` whose nodes hold all their fields; no node is known to be inert.
    pub fn new(value: J) -> Plan {
        Plan {
            value,
            shared: Vec::new(),
        }
    }

    /// `value` with, by node position, the parts kept out of its nodes (see the type's
    /// invariant).
    pub(crate) fn with_parts(value: J, shared: Vec<NodeShared>) -> Plan {
        Plan { value, shared }
    }

    /// The tree, its shared node parts left out (see the type's documentation): for reading
    /// anything but the nodes' `interfaces`, `operations`, `plugins` and
    /// `deployment_plugins_to_install`.
    pub fn value(&self) -> &J {
        &self.value
    }

    /// A top-level field.
    pub fn get(&self, key: &str) -> Option<&J> {
        self.value.get(key)
    }

    /// The tree for editing: every node holds its own parts from now on.
    pub fn value_mut(&mut self) -> &mut J {
        self.materialize();
        &mut self.value
    }

    /// How many nodes the plan has.
    pub fn node_count(&self) -> usize {
        self.value
            .get("nodes")
            .and_then(J::as_array)
            .map_or(0, Vec::len)
    }

    /// Whether node `index`'s operation inputs are known to hold no function call (its
    /// operations are then kept out of its map).
    pub fn inert(&self, index: usize) -> bool {
        self.shared
            .get(index)
            .is_some_and(|s| s.operations.is_some())
    }

    /// The parts node `index` keeps out of its map.
    pub fn shared(&self, index: usize) -> Option<&NodeShared> {
        self.shared.get(index)
    }

    /// The whole plan as one JSON tree.
    pub fn into_value(mut self) -> J {
        self.materialize();
        self.value
    }

    /// The tree without putting the parts back, for the plan-time passes, which honour the
    /// invariant: they neither read an inert node's operations nor add or remove nodes.
    pub(crate) fn tree_mut(&mut self) -> &mut J {
        &mut self.value
    }

    fn materialize(&mut self) {
        let shared = std::mem::take(&mut self.shared);
        if shared.iter().all(NodeShared::is_empty) {
            return;
        }
        let Some(nodes) = self.value.get_mut("nodes").and_then(J::as_array_mut) else {
            return;
        };
        for (node, parts) in nodes.iter_mut().zip(&shared) {
            let J::Object(map) = node else {
                continue;
            };
            for (key, value) in map.iter_mut() {
                if let Some(part) = parts.get(key) {
                    *value = part.clone();
                }
            }
        }
    }
}

impl Serialize for Plan {
    /// The JSON of [`Plan::into_value`], written without building it.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let J::Object(top) = &self.value else {
            return self.value.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(top.len()))?;
        for (key, value) in top {
            match value {
                J::Array(nodes) if key == "nodes" => map.serialize_entry(
                    key,
                    &Nodes {
                        nodes,
                        shared: &self.shared,
                    },
                )?,
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

struct Nodes<'a> {
    nodes: &'a [J],
    shared: &'a [NodeShared],
}

impl Serialize for Nodes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.nodes.len()))?;
        for (index, node) in self.nodes.iter().enumerate() {
            match (self.shared.get(index), node) {
                (Some(parts), J::Object(map)) if !parts.is_empty() => {
                    seq.serialize_element(&NodeWithParts { map, parts })?
                }
                _ => seq.serialize_element(node)?,
            }
        }
        seq.end()
    }
}

struct NodeWithParts<'a> {
    map: &'a Map<String, J>,
    parts: &'a NodeShared,
}

impl Serialize for NodeWithParts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.map.len()))?;
        for (key, value) in self.map {
            out.serialize_entry(key, self.parts.get(key).unwrap_or(value))?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> Plan {
        let operations = Arc::new(NodeOperations {
            interfaces: json!({"i": {"op": {"implementation": "p.op", "inputs": {}}}}),
            operations: json!({"op": {"operation": "op", "inputs": {}}}),
        });
        let plugins = Arc::new(NodePlugins {
            plugins: json!([{"name": "p"}]),
            deployment_plugins_to_install: json!([{"name": "p"}]),
        });
        let value = json!({
            "nodes": [
                {"name": "a", "interfaces": null, "operations": null, "relationships": [],
                 "plugins": null, "plugins_to_install": [], "deployment_plugins_to_install": null},
                {"name": "b", "interfaces": {}, "operations": {"x": {"inputs": {"k": {"get_input": "i"}}}},
                 "plugins": null, "deployment_plugins_to_install": null},
                {"name": "c", "interfaces": null, "operations": null},
            ],
            "outputs": {},
        });
        Plan::with_parts(
            value,
            vec![
                NodeShared {
                    operations: Some(operations.clone()),
                    plugins: Some(plugins.clone()),
                },
                NodeShared {
                    operations: None,
                    plugins: Some(plugins),
                },
                NodeShared {
                    operations: Some(operations),
                    plugins: None,
                },
            ],
        )
    }

    /// Parts go where the placeholders are, and serializing writes the same bytes as the
    /// materialized tree.
    #[test]
    fn parts_go_in_place_and_serialize_alike() {
        let plan = plan();
        assert!(plan.inert(0) && !plan.inert(1) && plan.inert(2) && !plan.inert(3));
        let text = serde_json::to_string(&plan).unwrap();
        let value = plan.into_value();
        assert_eq!(text, serde_json::to_string(&value).unwrap());
        let keys: Vec<&str> = value["nodes"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "name",
                "interfaces",
                "operations",
                "relationships",
                "plugins",
                "plugins_to_install",
                "deployment_plugins_to_install"
            ]
        );
        assert_eq!(value["nodes"][0]["operations"]["op"]["operation"], "op");
        assert_eq!(value["nodes"][0]["plugins"], json!([{"name": "p"}]));
        assert_eq!(
            value["nodes"][1]["operations"]["x"]["inputs"]["k"]["get_input"],
            "i"
        );
        assert_eq!(
            value["nodes"][1]["deployment_plugins_to_install"][0]["name"],
            "p"
        );
        assert_eq!(
            value["nodes"][2]["interfaces"]["i"]["op"]["implementation"],
            "p.op"
        );
    }

    /// Editing goes to a tree where every node holds its own parts, and no node is inert.
    #[test]
    fn editing_materializes_first() {
        let mut plan = plan();
        plan.value_mut()["nodes"][0]["operations"]["op"]["inputs"] = json!({"k": 1});
        assert!(!plan.inert(0));
        let value = plan.into_value();
        assert_eq!(value["nodes"][0]["operations"]["op"]["inputs"]["k"], 1);
        assert_eq!(value["nodes"][2]["operations"]["op"]["inputs"], json!({}));
    }
}
