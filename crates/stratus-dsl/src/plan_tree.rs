//! A plan (parsed or deployment): a JSON tree and, by node position, whether the node's
//! operation inputs hold no function call.
//!
//! The tree shares what nodes have in common (their type's interfaces, operations and
//! plugin lists are one value held by every such node: see [`crate::json`]), so a plan of
//! many templates of few types costs little more than its per-node parts.

use serde::{Serialize, Serializer};

use crate::json::Value as J;

/// A plan and what is known of its nodes.
///
/// Invariant: `inert[i]` is true only if node `i`'s operation inputs (its own and its
/// relationships') hold no function call; the passes that evaluate, check or scan operation
/// inputs skip such a node's operations. Code that edits the tree goes through
/// [`Plan::value_mut`], which forgets what was known.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    value: J,
    inert: Vec<bool>,
}

impl Plan {
    /// `value`, no node known to be inert.
    pub fn new(value: J) -> Plan {
        Plan {
            value,
            inert: Vec::new(),
        }
    }

    /// `value` with, by node position, whether each node is inert (see the type's
    /// invariant).
    pub(crate) fn with_inert(value: J, inert: Vec<bool>) -> Plan {
        Plan { value, inert }
    }

    /// The tree.
    pub fn value(&self) -> &J {
        &self.value
    }

    /// A top-level field.
    pub fn get(&self, key: &str) -> Option<&J> {
        self.value.get(key)
    }

    /// The tree for editing: no node is known to be inert from now on.
    pub fn value_mut(&mut self) -> &mut J {
        self.inert.clear();
        &mut self.value
    }

    /// How many nodes the plan has.
    pub fn node_count(&self) -> usize {
        self.value
            .get("nodes")
            .and_then(J::as_array)
            .map_or(0, Vec::len)
    }

    /// Whether node `index`'s operation inputs are known to hold no function call.
    pub fn inert(&self, index: usize) -> bool {
        self.inert.get(index).copied().unwrap_or(false)
    }

    /// The whole plan as a `serde_json` tree.
    pub fn into_value(self) -> serde_json::Value {
        self.value.to_serde()
    }

    /// The tree, for the plan-time passes, which honour the invariant: they add no function
    /// call to an inert node's operation inputs and add or remove no nodes.
    pub(crate) fn tree_mut(&mut self) -> &mut J {
        &mut self.value
    }
}

impl Drop for Plan {
    /// A plan of 2,048 nodes or more is freed on two threads (most of a plan is its nodes).
    fn drop(&mut self) {
        let Some(J::Array(nodes)) = self.value.get_mut("nodes") else {
            return;
        };
        // Nodes another plan still holds are not freed here.
        let Some(nodes) = nodes.unique_mut() else {
            return;
        };
        if nodes.len() < 2048 {
            return;
        }
        let second = nodes.split_off(nodes.len() / 2);
        crate::parallel::join(|| nodes.clear(), move || drop(second));
    }
}

impl Serialize for Plan {
    /// The JSON of [`Plan::into_value`], written without building it.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serializing writes the same bytes as the `serde_json` tree, and editing forgets which
    /// nodes are inert.
    #[test]
    fn serializes_as_its_tree_and_editing_forgets_inert() {
        let value = J::from(serde_json::json!({
            "nodes": [{"name": "a", "operations": {"op": {"inputs": {}}}}, {"name": "b"}],
            "outputs": {"x": [1, 2.5, "s", null, true]},
        }));
        let mut plan = Plan::with_inert(value, vec![true, false]);
        assert!(plan.inert(0) && !plan.inert(1) && !plan.inert(2));
        assert_eq!(plan.node_count(), 2);
        let text = serde_json::to_string(&plan).unwrap();
        assert_eq!(
            text,
            serde_json::to_string(&plan.clone().into_value()).unwrap()
        );
        plan.value_mut()["nodes"][0]["name"].is_string();
        assert!(!plan.inert(0));
    }

    /// A large plan is freed in two halves; one whose nodes another plan shares leaves them
    /// whole.
    #[test]
    fn dropping_a_large_plan_leaves_what_is_shared() {
        let nodes: Vec<J> = (0..5000)
            .map(|i| J::from(serde_json::json!({"name": format!("n{i}")})))
            .collect();
        let plan = Plan::new(crate::json::object! {"nodes" => nodes});
        let kept = plan.clone();
        drop(plan);
        assert_eq!(kept.node_count(), 5000);
        assert_eq!(kept.value()["nodes"][4999]["name"], "n4999");
        drop(kept);
    }
}
