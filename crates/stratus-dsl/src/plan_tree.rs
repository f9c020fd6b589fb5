//! A plan (parsed or deployment) as a JSON tree in which nodes share what their type decides.
//!
//! Every template of a type that writes no interfaces of its own gets the same `interfaces`
//! and `operations`: about three quarters of a node's plan. A node whose operation inputs
//! hold no function call (nothing in them is evaluated per node) keeps those two fields out
//! of its map, as an [`Arc<NodeOperations>`] shared with the other nodes of its type. Reading
//! the plan as JSON ([`Plan::into_value`], or serializing it) puts them back in place, so the
//! result is the same tree as if every node held its own copy.

use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{Map, Value as J};

/// A node's `interfaces` and `operations`, as the plan writes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeOperations {
    pub interfaces: Map<String, J>,
    pub operations: Map<String, J>,
}

impl NodeOperations {
    /// Whether no operation input holds a function call.
    pub fn inert(&self) -> bool {
        crate::functions::operations_inert(Some(&self.operations))
            && crate::functions::interfaces_inert(Some(&self.interfaces))
    }
}

/// A plan and the node parts kept out of it.
///
/// Invariant: `shared[i]` is `Some` exactly for the nodes `i` of `value["nodes"]` whose
/// operation inputs (their own and their relationships') hold no function call, and such a
/// node's map holds neither `interfaces` nor `operations`. The passes that evaluate, check
/// or scan operation inputs skip those nodes' operations ([`Plan::inert`]). Code that edits
/// the tree goes through [`Plan::value_mut`], which puts every part back first.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    value: J,
    shared: Vec<Option<Arc<NodeOperations>>>,
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
    pub(crate) fn with_parts(value: J, shared: Vec<Option<Arc<NodeOperations>>>) -> Plan {
        Plan { value, shared }
    }

    /// The tree, its shared node parts left out (see the type's documentation): for reading
    /// anything but the nodes' `interfaces` and `operations`.
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

    /// Whether node `index`'s operation inputs are known to hold no function call (its
    /// operations are then kept out of its map).
    pub fn inert(&self, index: usize) -> bool {
        self.shared.get(index).is_some_and(Option::is_some)
    }

    /// How many nodes the plan has.
    pub fn node_count(&self) -> usize {
        self.value
            .get("nodes")
            .and_then(J::as_array)
            .map_or(0, Vec::len)
    }

    /// Node `index`'s `interfaces` and `operations` when they are kept out of its map.
    pub fn shared_operations(&self, index: usize) -> Option<&NodeOperations> {
        self.shared.get(index).and_then(Option::as_deref)
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
        if shared.iter().all(Option::is_none) {
            return;
        }
        let Some(nodes) = self.value.get_mut("nodes").and_then(J::as_array_mut) else {
            return;
        };
        for (node, parts) in nodes.iter_mut().zip(shared) {
            let (Some(parts), J::Object(map)) = (parts, node) else {
                continue;
            };
            let parts = Arc::try_unwrap(parts).unwrap_or_else(|shared| (*shared).clone());
            let at = map
                .keys()
                .position(|key| key == "relationships")
                .unwrap_or(map.len());
            map.shift_insert(at, "interfaces".into(), J::Object(parts.interfaces));
            map.shift_insert(at + 1, "operations".into(), J::Object(parts.operations));
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
    shared: &'a [Option<Arc<NodeOperations>>],
}

impl Serialize for Nodes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.nodes.len()))?;
        for (index, node) in self.nodes.iter().enumerate() {
            match (self.shared.get(index).and_then(Option::as_ref), node) {
                (Some(parts), J::Object(map)) => {
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
    parts: &'a NodeOperations,
}

impl Serialize for NodeWithParts<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.map.len() + 2))?;
        let parts = |out: &mut S::SerializeMap| -> Result<(), S::Error> {
            out.serialize_entry("interfaces", &self.parts.interfaces)?;
            out.serialize_entry("operations", &self.parts.operations)
        };
        let mut placed = false;
        for (key, value) in self.map {
            if key == "relationships" && !placed {
                parts(&mut out)?;
                placed = true;
            }
            out.serialize_entry(key, value)?;
        }
        if !placed {
            parts(&mut out)?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts() -> Arc<NodeOperations> {
        let J::Object(interfaces) = json!({"i": {"op": {"implementation": "p.op", "inputs": {}}}})
        else {
            unreachable!()
        };
        let J::Object(operations) = json!({"op": {"operation": "op", "inputs": {}}}) else {
            unreachable!()
        };
        Arc::new(NodeOperations {
            interfaces,
            operations,
        })
    }

    fn plan() -> Plan {
        let shared = parts();
        let value = json!({
            "nodes": [
                {"name": "a", "capabilities": {}, "relationships": [], "plugins": []},
                {"name": "b", "interfaces": {}, "operations": {"x": {"inputs": {"k": {"get_input": "i"}}}}, "relationships": []},
                {"name": "c"},
            ],
            "outputs": {},
        });
        Plan::with_parts(value, vec![Some(shared.clone()), None, Some(shared)])
    }

    /// Parts go back where the node map had them (before `relationships`, else at the end),
    /// and serializing writes the same bytes as the materialized tree.
    #[test]
    fn parts_go_back_in_place_and_serialize_alike() {
        let plan = plan();
        let text = serde_json::to_string(&plan).unwrap();
        let value = plan.into_value();
        assert_eq!(text, serde_json::to_string(&value).unwrap());
        let keys = |i: usize| -> Vec<&str> {
            value["nodes"][i]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect()
        };
        assert_eq!(
            keys(0),
            [
                "name",
                "capabilities",
                "interfaces",
                "operations",
                "relationships",
                "plugins"
            ]
        );
        assert_eq!(
            keys(1),
            ["name", "interfaces", "operations", "relationships"]
        );
        assert_eq!(keys(2), ["name", "interfaces", "operations"]);
        assert_eq!(value["nodes"][2]["operations"]["op"]["operation"], "op");
    }

    /// Editing goes to a tree where every node holds its own parts, and no node is inert.
    #[test]
    fn editing_materializes_first() {
        let mut plan = plan();
        assert!(plan.inert(0));
        plan.value_mut()["nodes"][0]["operations"]["op"]["inputs"] = json!({"k": 1});
        assert!(!plan.inert(0));
        let value = plan.into_value();
        assert_eq!(value["nodes"][0]["operations"]["op"]["inputs"]["k"], 1);
        assert_eq!(value["nodes"][2]["operations"]["op"]["inputs"], json!({}));
    }
}
