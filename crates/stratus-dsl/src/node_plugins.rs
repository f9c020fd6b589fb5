//! After every node template is parsed: the plugins each node needs (by executor, with the
//! host-agent plugins its host installs) and the check that relationships form no cycle.

use std::collections::HashMap;

use crate::json::{Map, Str, Value as J};

use crate::diag::{Problem, Problems};
use crate::templates::NodeFacts;
use crate::yaml::{Node, Span};

/// The `(plugin, executor)` of each operation of an `operations` map that runs a plugin, in
/// order. Shared by every template whose operations come from the same resolution.
pub type Uses = std::sync::Arc<[(Str, J)]>;

/// The plugin uses a node template brings: its own operations' and its relationships'
/// source operations' (`own`, in order), and each relationship's target operations', which
/// its target runs (`targets`: target name and uses, in order).
pub struct NodeUses {
    pub own: Vec<Uses>,
    pub targets: Vec<(Str, Uses)>,
}

pub fn uses_of(operations: &Map) -> Uses {
    operations
        .values()
        .filter_map(|op| {
            let plugin = match op.get("plugin") {
                Some(J::String(plugin)) if !plugin.is_empty() => plugin.clone(),
                _ => return None,
            };
            Some((plugin, op.get("executor").cloned().unwrap_or(J::Null)))
        })
        .collect()
}

/// The plugins each node's operations (and relationship operations where it is source or
/// target) use, split by executor; host nodes also list the host-agent plugins of the nodes
/// they host. `uses[i]` is what node `i` brings. Each node's map gets its `plugins`,
/// `plugins_to_install` (hosts) and `deployment_plugins_to_install`.
pub fn assign_plugins(
    nodes: &mut [Map],
    facts: &NodeFacts,
    host_ids: &[Option<String>],
    uses: &[NodeUses],
    host_types: &[String],
    plugins: &Map,
    problems: &mut Problems,
) {
    let by_name = facts.by_name;
    // (plugin, executor) of every operation, per node that runs it, in discovery order.
    let mut operation_lists: Vec<Vec<&(Str, J)>> = vec![Vec::new(); nodes.len()];
    for (index, node_uses) in uses.iter().enumerate().take(nodes.len()) {
        for own in &node_uses.own {
            operation_lists[index].extend(own.iter());
        }
        for (target, target_uses) in &node_uses.targets {
            if let Some(&target_index) = by_name.get(target.as_str()) {
                operation_lists[target_index].extend(target_uses.iter());
            }
        }
    }
    let by_executor = |list: &[J], executor: &str, into: &mut Vec<(String, J)>| {
        for plugin in list {
            if plugin.get("executor").and_then(J::as_str) == Some(executor) {
                let plugin_name = plugin.get("name").and_then(J::as_str).unwrap_or_default();
                match into.iter_mut().find(|(n, _)| n == plugin_name) {
                    Some(slot) => slot.1 = plugin.clone(),
                    None => into.push((plugin_name.to_string(), plugin.clone())),
                }
            }
        }
    };
    // Nodes whose operations use the same distinct (plugin, executor) entries, in the same
    // order, share one `plugins` and `deployment_plugins_to_install`.
    let mut memo: HashMap<Vec<(&str, String)>, NodePlugins> = HashMap::new();
    let lists: Vec<NodePlugins> = operation_lists
        .iter()
        .map(|keys| {
            let mut used: Vec<&(Str, J)> = Vec::new();
            for &key in keys {
                if plugins.contains_key(&key.0) && !used.contains(&key) {
                    used.push(key);
                }
            }
            let identity: Vec<(&str, String)> = used
                .iter()
                .map(|(plugin, executor)| {
                    let executor = match executor {
                        J::String(s) => format!("\"{s}"),
                        other => other.to_string(),
                    };
                    (plugin.as_str(), executor)
                })
                .collect();
            memo.entry(identity)
                .or_insert_with(|| {
                    let list: Vec<J> = used
                        .iter()
                        .filter_map(|(name, executor)| {
                            let mut plugin = plugins.get(name)?.clone();
                            if let J::Object(p) = &mut plugin {
                                p.insert("executor", executor.clone());
                            }
                            Some(plugin)
                        })
                        .collect();
                    let mut deployment: Vec<(String, J)> = Vec::new();
                    by_executor(&list, "central_deployment_agent", &mut deployment);
                    NodePlugins {
                        plugins: J::from(list),
                        deployment_plugins_to_install: J::Array(
                            deployment.into_iter().map(|(_, p)| p).collect(),
                        ),
                    }
                })
                .clone()
        })
        .collect();
    let list_of =
        |index: usize| -> &[J] { lists[index].plugins.as_array().map_or(&[], Vec::as_slice) };
    // The nodes each host hosts, in document order.
    let mut hosted: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, host) in host_ids.iter().enumerate() {
        if let Some(host) = host {
            hosted.entry(host.as_str()).or_default().push(index);
        }
    }
    let mut to_install: Vec<Option<Vec<J>>> = Vec::with_capacity(nodes.len());
    for index in 0..nodes.len() {
        // A node's id is its name.
        let id = facts.names[index];
        let node_type = facts.types[index];
        to_install.push(host_types.iter().any(|t| t == node_type).then(|| {
            let mut to_install: Vec<(String, J)> = Vec::new();
            for &hosted_index in hosted.get(id).into_iter().flatten() {
                by_executor(list_of(hosted_index), "host_agent", &mut to_install);
            }
            to_install.into_iter().map(|(_, p)| p).collect()
        }));
    }
    for (index, (((node, to_install), host), id)) in nodes
        .iter_mut()
        .zip(to_install)
        .zip(host_ids)
        .zip(facts.names)
        .enumerate()
    {
        if host.is_none() {
            for plugin in list_of(index) {
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
        node.insert("plugins", lists[index].plugins.clone());
        if let Some(to_install) = to_install {
            node.insert("plugins_to_install", J::from(to_install));
        }
        node.insert(
            "deployment_plugins_to_install",
            lists[index].deployment_plugins_to_install.clone(),
        );
    }
}

/// A node's `plugins` and `deployment_plugins_to_install` (arrays), shared by the nodes
/// whose operations use the same plugin entries.
#[derive(Clone)]
struct NodePlugins {
    plugins: J,
    deployment_plugins_to_install: J,
}

/// Node templates whose relationships form a cycle cannot be ordered (code 100).
pub fn check_relationship_cycles(
    names: &[&str],
    targets: &[Vec<usize>],
    section: Option<&Node>,
    problems: &mut Problems,
) {
    let name = |index: usize| names[index].to_string();
    let mut state = vec![0u8; names.len()];
    for start in 0..names.len() {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&(current, next)) = stack.last() {
            let children = &targets[current];
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
