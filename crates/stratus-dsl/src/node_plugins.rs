//! After every node template is parsed: the plugins each node needs (by executor, with the
//! host-agent plugins its host installs) and the check that relationships form no cycle.

use serde_json::{Map, Value as J};

use crate::diag::{Problem, Problems};
use crate::templates::index_by_name;
use crate::yaml::{Node, Span};

/// The plugins each node's operations (and relationship operations where it is source or
/// target) use, split by executor; host nodes also list the host-agent plugins of the nodes
/// they host.
pub fn assign_plugins(
    nodes: &mut [Map<String, J>],
    host_types: &[String],
    plugins: &Map<String, J>,
    problems: &mut Problems,
) {
    // (plugin, executor) of every operation, per node that runs it, in discovery order.
    let by_name = index_by_name(nodes);
    let uses = |operations: Option<&J>| -> Vec<(String, J)> {
        operations
            .and_then(J::as_object)
            .into_iter()
            .flat_map(|m| m.values())
            .filter_map(|op| {
                let plugin = op
                    .get("plugin")
                    .and_then(J::as_str)
                    .filter(|p| !p.is_empty())?;
                Some((
                    plugin.to_string(),
                    op.get("executor").cloned().unwrap_or(J::Null),
                ))
            })
            .collect()
    };
    let mut operation_lists: Vec<Vec<(String, J)>> = vec![Vec::new(); nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        operation_lists[index].extend(uses(node.get("operations")));
        for relationship in node
            .get("relationships")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            operation_lists[index].extend(uses(relationship.get("source_operations")));
            let target = relationship
                .get("target_id")
                .and_then(J::as_str)
                .unwrap_or_default();
            if let Some(&target_index) = by_name.get(target) {
                operation_lists[target_index].extend(uses(relationship.get("target_operations")));
            }
        }
    }
    for (index, node) in nodes.iter_mut().enumerate() {
        let mut used: Vec<((String, J), J)> = Vec::new();
        for key in std::mem::take(&mut operation_lists[index]) {
            let Some(plugin) = plugins.get(&key.0) else {
                continue;
            };
            if !used.iter().any(|(k, _)| *k == key) {
                let mut plugin = plugin.clone();
                if let J::Object(p) = &mut plugin {
                    p.insert("executor".into(), key.1.clone());
                }
                used.push((key, plugin));
            }
        }
        node.insert(
            "plugins".into(),
            J::Array(used.into_iter().map(|(_, p)| p).collect()),
        );
    }
    let snapshot: Vec<(Option<String>, Vec<J>)> = nodes
        .iter()
        .map(|n| {
            (
                n.get("host_id").and_then(J::as_str).map(str::to_string),
                n.get("plugins")
                    .and_then(J::as_array)
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();
    for node in nodes.iter_mut() {
        let id = node
            .get("id")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string();
        let node_type = node
            .get("type")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string();
        if host_types.contains(&node_type) {
            let mut to_install: Vec<(String, J)> = Vec::new();
            for (host, node_plugins) in &snapshot {
                if host.as_deref() == Some(id.as_str()) {
                    for plugin in node_plugins {
                        if plugin.get("executor").and_then(J::as_str) == Some("host_agent") {
                            let plugin_name = plugin
                                .get("name")
                                .and_then(J::as_str)
                                .unwrap_or_default()
                                .to_string();
                            match to_install.iter_mut().find(|(n, _)| *n == plugin_name) {
                                Some(slot) => slot.1 = plugin.clone(),
                                None => to_install.push((plugin_name, plugin.clone())),
                            }
                        }
                    }
                }
            }
            node.insert(
                "plugins_to_install".into(),
                J::Array(to_install.into_iter().map(|(_, p)| p).collect()),
            );
        }
        let mut deployment: Vec<(String, J)> = Vec::new();
        for plugin in node
            .get("plugins")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            if plugin.get("executor").and_then(J::as_str) == Some("central_deployment_agent") {
                let plugin_name = plugin
                    .get("name")
                    .and_then(J::as_str)
                    .unwrap_or_default()
                    .to_string();
                match deployment.iter_mut().find(|(n, _)| *n == plugin_name) {
                    Some(slot) => slot.1 = plugin.clone(),
                    None => deployment.push((plugin_name, plugin.clone())),
                }
            }
        }
        node.insert(
            "deployment_plugins_to_install".into(),
            J::Array(deployment.into_iter().map(|(_, p)| p).collect()),
        );
        if !node.contains_key("host_id") {
            for plugin in node
                .get("plugins")
                .and_then(J::as_array)
                .into_iter()
                .flatten()
            {
                if plugin.get("executor").and_then(J::as_str) == Some("host_agent") {
                    problems.push(Problem::uncoded(
                        crate::diag::Kind::Logic,
                        None,
                        format!(
                            "node '{id}' has no relationship which makes it contained within a host and it has a plugin '{}' with 'host_agent' as an executor. These types of plugins must be installed on a host",
                            plugin.get("name").and_then(J::as_str).unwrap_or_default()
                        ),
                    ));
                    if let Some(last) = problems.list.last_mut() {
                        last.code = Some(24);
                    }
                }
            }
        }
    }
}

/// Node templates whose relationships form a cycle cannot be ordered (code 100).
pub fn check_relationship_cycles(
    nodes: &[Map<String, J>],
    section: Option<&Node>,
    problems: &mut Problems,
) {
    let by_name = index_by_name(nodes);
    let targets = |index: usize| -> Vec<usize> {
        nodes[index]
            .get("relationships")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| r.get("target_id").and_then(J::as_str))
            .filter_map(|t| by_name.get(t).copied())
            .collect()
    };
    let name = |index: usize| {
        nodes[index]
            .get("name")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut state = vec![0u8; nodes.len()];
    for start in 0..nodes.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&(current, next)) = stack.last() {
            let children = targets(current);
            if next < children.len() {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                let child = children[next];
                if state[child] == 1 {
                    let begin = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                    let mut cycle: Vec<String> =
                        stack[begin..].iter().map(|(n, _)| name(*n)).collect();
                    cycle.push(name(child));
                    // Reported at the first relationship target of the cycle.
                    let first = cycle[0].clone();
                    let next = cycle.get(1).cloned().unwrap_or_default();
                    let span = section.and_then(|s| s.get_entry(&first)).map_or(
                        Span::default(),
                        |(k, template)| {
                            template
                                .get("relationships")
                                .and_then(Node::as_seq)
                                .into_iter()
                                .flatten()
                                .filter_map(|r| r.get("target"))
                                .find(|t| t.as_str() == Some(next.as_str()))
                                .map_or(k.span, |t| t.span)
                        },
                    );
                    problems.push(Problem::logic(
                        100,
                        span,
                        format!(
                            "Parsing failed. Circular dependency detected: {}",
                            cycle.join(" --> ")
                        ),
                    ));
                    return;
                }
                if state[child] == 0 {
                    state[child] = 1;
                    stack.push((child, 0));
                }
            } else {
                state[current] = 2;
                stack.pop();
            }
        }
    }
}
