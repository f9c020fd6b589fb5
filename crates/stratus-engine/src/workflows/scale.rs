//! `scale` / `scale_entity`: which instances a deployment modification adds or removes, and the
//! install or uninstall graph over them with the instances they relate to as intact stubs.
//!
//! The reference delegates the choice to the manager's deployment modification; here it is a
//! pure function with the id source passed in, so the same inputs always give the same ids.
//! Rules (documented where they simplify the manager's): a unit is one instance of the scaled
//! node (the node's host when `scale_compute` and it is hosted, or each member of a scaling
//! group) with every node contained in it, per-container counts taken from the nodes'
//! `number_of_instances`; a new instance's relationships point at the new instances of the
//! same unit when the target node is in the unit, otherwise at every existing instance of the
//! target node (`all_to_all`), and existing instances whose node relates to a scaled node gain
//! relationships to the new instances. Scale in removes the units named by
//! `include_instances`, then the last ones in deployment order, never those in
//! `exclude_instances`.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::lifecycle::Processor;
use super::WorkflowError;
use crate::graph::{Builder, Graph};
use crate::model::{Deployment, InstanceRelationship, NodeInstance};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScaleParams {
    pub scalable_entity_name: String,
    pub delta: i64,
    pub scale_compute: bool,
    pub ignore_failure: bool,
    pub include_instances: Vec<String>,
    pub exclude_instances: Vec<String>,
    /// Member node ids when `scalable_entity_name` is a scaling group (from the deployment's
    /// `scaling_groups`); `None` for a node.
    pub group_members: Option<Vec<String>>,
}

/// The outcome: the deployment as it must be stored before the graph runs, and the graph.
#[derive(Debug, Clone)]
pub struct ScalePlan {
    pub deployment: Deployment,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub related: Vec<String>,
    pub graph: Graph,
}

/// Plans a scale. `new_id(node_id)` supplies each new instance id (e.g. `NODE_` + a suffix
/// from a seeded generator); it is called in a deterministic order.
pub fn plan_scale(
    deployment: &Deployment,
    params: &ScaleParams,
    new_id: &mut dyn FnMut(&str) -> String,
) -> Result<ScalePlan, WorkflowError> {
    let scaled_nodes: Vec<String> = match &params.group_members {
        Some(members) => members.clone(),
        None => {
            let node = deployment
                .node(&params.scalable_entity_name)
                .ok_or_else(|| WorkflowError::UnknownEntity(params.scalable_entity_name.clone()))?;
            let host = node
                .host_id
                .as_deref()
                .filter(|_| params.scale_compute)
                .and_then(|h| deployment.node(h));
            vec![host.unwrap_or(node).id.clone()]
        }
    };
    for node in &scaled_nodes {
        if deployment.node(node).is_none() {
            return Err(WorkflowError::UnknownEntity(node.clone()));
        }
    }
    if params.delta > 0
        && !(params.include_instances.is_empty() && params.exclude_instances.is_empty())
    {
        return Err(WorkflowError::Invalid(
            "Instances cannot be included or excluded when scaling up.".into(),
        ));
    }
    let prefix = format!("{}_", params.scalable_entity_name);
    if params.delta >= 0 {
        scale_out(deployment, params, &scaled_nodes, new_id, &prefix)
    } else {
        scale_in(deployment, params, &scaled_nodes, &prefix)
    }
}

/// Children nodes contained in each node.
fn contained_nodes(deployment: &Deployment) -> HashMap<&str, Vec<&str>> {
    let mut out: HashMap<&str, Vec<&str>> = HashMap::new();
    for node in &deployment.nodes {
        for rel in &node.relationships {
            if rel.is_contained_in() {
                out.entry(rel.target_node.as_str())
                    .or_default()
                    .push(&node.id);
            }
        }
    }
    out
}

fn scale_out(
    deployment: &Deployment,
    params: &ScaleParams,
    scaled_nodes: &[String],
    new_id: &mut dyn FnMut(&str) -> String,
    prefix: &str,
) -> Result<ScalePlan, WorkflowError> {
    let children = contained_nodes(deployment);
    let mut instances = deployment.instances.clone();
    let mut added: Vec<String> = Vec::new();
    let mut related: HashSet<String> = HashSet::new();
    let mut next_index: HashMap<String, i64> = HashMap::new();
    for instance in &deployment.instances {
        let e = next_index.entry(instance.node_id.clone()).or_insert(0);
        *e = (*e).max(instance.index + 1);
    }
    for _ in 0..params.delta {
        // One unit: new instances per node, created parent first.
        let mut unit: Vec<(String, String, Option<String>)> = Vec::new(); // (id, node, parent)
        for root in scaled_nodes {
            let container = deployment
                .node(root)
                .and_then(|n| n.relationships.iter().find(|r| r.is_contained_in()))
                .and_then(|r| {
                    deployment
                        .instances
                        .iter()
                        .find(|i| i.node_id == r.target_node)
                        .map(|i| i.id.clone())
                });
            let mut stack = vec![(root.clone(), container)];
            while let Some((node_id, parent)) = stack.pop() {
                let id = new_id(&node_id);
                unit.push((id.clone(), node_id.clone(), parent));
                let mut kids: Vec<(String, Option<String>)> = Vec::new();
                for child in children.get(node_id.as_str()).into_iter().flatten() {
                    let count = deployment
                        .node(child)
                        .map_or(1, |n| n.number_of_instances.max(0));
                    for _ in 0..count {
                        kids.push((child.to_string(), Some(id.clone())));
                    }
                }
                kids.reverse();
                stack.extend(kids);
            }
        }
        let unit_by_node: HashMap<&str, Vec<&str>> =
            unit.iter().fold(HashMap::new(), |mut map, (id, node, _)| {
                map.entry(node.as_str()).or_default().push(id.as_str());
                map
            });
        let mut new_instances = Vec::new();
        for (id, node_id, parent) in &unit {
            let node = deployment
                .node(node_id)
                .ok_or_else(|| WorkflowError::UnknownEntity(node_id.clone()))?;
            let mut relationships = Vec::new();
            for rel in &node.relationships {
                let targets: Vec<String> = if rel.is_contained_in() {
                    parent.iter().cloned().collect()
                } else if let Some(ids) = unit_by_node.get(rel.target_node.as_str()) {
                    ids.iter().map(|s| s.to_string()).collect()
                } else {
                    let existing: Vec<String> = deployment
                        .instances
                        .iter()
                        .filter(|i| i.node_id == rel.target_node)
                        .map(|i| i.id.clone())
                        .collect();
                    related.extend(existing.iter().cloned());
                    existing
                };
                if rel.is_contained_in() {
                    if let Some(p) = parent {
                        if deployment.instance(p).is_some() {
                            related.insert(p.clone());
                        }
                    }
                }
                for target in targets {
                    relationships.push(InstanceRelationship {
                        type_name: rel.type_name.clone(),
                        target_id: target,
                        target_name: rel.target_node.clone(),
                    });
                }
            }
            let index = next_index.entry(node_id.clone()).or_insert(0);
            let host_id = if node.is_compute() {
                Some(id.clone())
            } else {
                // The host is the nearest compute up the containment chain.
                let mut current = parent.clone();
                let mut host = None;
                while let Some(p) = current {
                    let (p_node, p_parent) = unit
                        .iter()
                        .find(|(i, _, _)| *i == p)
                        .map(|(_, n, par)| (n.clone(), par.clone()))
                        .or_else(|| {
                            deployment
                                .instance(&p)
                                .map(|i| (i.node_id.clone(), i.host_id.clone().filter(|h| *h != p)))
                        })
                        .unwrap_or_default();
                    if deployment.node(&p_node).is_some_and(|n| n.is_compute()) {
                        host = Some(p);
                        break;
                    }
                    current = p_parent;
                }
                host
            };
            new_instances.push(NodeInstance {
                id: id.clone(),
                node_id: node_id.clone(),
                host_id,
                state: "uninitialized".into(),
                relationships,
                index: *index,
            });
            *index += 1;
            added.push(id.clone());
        }
        // Existing sources whose node relates (not contained) to a node of the unit.
        for instance in instances.iter_mut() {
            let node = deployment.node_of(instance);
            for rel in &node.relationships {
                if rel.is_contained_in() {
                    continue;
                }
                if let Some(ids) = unit_by_node.get(rel.target_node.as_str()) {
                    for target in ids {
                        instance.relationships.push(InstanceRelationship {
                            type_name: rel.type_name.clone(),
                            target_id: target.to_string(),
                            target_name: rel.target_node.clone(),
                        });
                    }
                    related.insert(instance.id.clone());
                }
            }
        }
        instances.extend(new_instances);
    }
    let modified = Deployment::new(deployment.nodes.clone(), instances)
        .map_err(|e| WorkflowError::Invalid(e.to_string()))?;
    let added_set: HashSet<String> = added.iter().cloned().collect();
    let mut related_ids: Vec<String> = modified
        .instances
        .iter()
        .filter(|i| related.contains(&i.id) && !added_set.contains(&i.id))
        .map(|i| i.id.clone())
        .collect();
    related_ids.dedup();
    let mut builder = Builder::default();
    {
        let processor = Processor {
            deployment: &modified,
            instances: modified
                .instances
                .iter()
                .filter(|i| added_set.contains(&i.id))
                .collect(),
            intact: modified
                .instances
                .iter()
                .filter(|i| related_ids.contains(&i.id))
                .collect(),
            ignore_failure: false,
            name_prefix: prefix.to_string(),
            state_override: None,
        };
        processor.install(&mut builder)?;
    }
    Ok(ScalePlan {
        graph: builder.finish("scale"),
        deployment: modified,
        added,
        removed: Vec::new(),
        related: related_ids,
    })
}

fn scale_in(
    deployment: &Deployment,
    params: &ScaleParams,
    scaled_nodes: &[String],
    prefix: &str,
) -> Result<ScalePlan, WorkflowError> {
    let wanted = (-params.delta) as usize;
    let mut removed: HashSet<String> = HashSet::new();
    for node in scaled_nodes {
        let candidates: Vec<&NodeInstance> = deployment
            .instances
            .iter()
            .filter(|i| &i.node_id == node)
            .collect();
        if wanted > candidates.len() {
            return Err(WorkflowError::Invalid(format!(
                "Provided delta: {} is illegal. current number of instances of entity {} is {}",
                params.delta,
                params.scalable_entity_name,
                candidates.len()
            )));
        }
        let subtree = |i: &NodeInstance| deployment.contained_subgraph(&i.id);
        let mut chosen: Vec<&NodeInstance> = candidates
            .iter()
            .copied()
            .filter(|i| {
                subtree(i)
                    .iter()
                    .any(|m| params.include_instances.contains(m))
            })
            .take(wanted)
            .collect();
        for candidate in candidates.iter().rev() {
            if chosen.len() >= wanted {
                break;
            }
            let excluded = subtree(candidate)
                .iter()
                .any(|m| params.exclude_instances.contains(m));
            if !excluded && !chosen.iter().any(|c| c.id == candidate.id) {
                chosen.push(candidate);
            }
        }
        if chosen.len() < wanted {
            return Err(WorkflowError::Invalid(
                "too many instances excluded to scale in by the requested delta".into(),
            ));
        }
        for c in chosen {
            removed.extend(subtree(c));
        }
    }
    let mut related: HashSet<String> = HashSet::new();
    for instance in &deployment.instances {
        let is_removed = removed.contains(&instance.id);
        for rel in &instance.relationships {
            if is_removed && !removed.contains(&rel.target_id) {
                related.insert(rel.target_id.clone());
            } else if !is_removed && removed.contains(&rel.target_id) {
                related.insert(instance.id.clone());
            }
        }
    }
    let mut builder = Builder::default();
    Processor {
        deployment,
        instances: deployment
            .instances
            .iter()
            .filter(|i| removed.contains(&i.id))
            .collect(),
        intact: deployment
            .instances
            .iter()
            .filter(|i| related.contains(&i.id))
            .collect(),
        ignore_failure: params.ignore_failure,
        name_prefix: prefix.to_string(),
        state_override: None,
    }
    .uninstall(&mut builder)?;
    let order = |set: &HashSet<String>| -> Vec<String> {
        deployment
            .instances
            .iter()
            .filter(|i| set.contains(&i.id))
            .map(|i| i.id.clone())
            .collect()
    };
    Ok(ScalePlan {
        graph: builder.finish("scale"),
        deployment: deployment.clone(),
        added: Vec::new(),
        removed: order(&removed),
        related: order(&related),
    })
}
