//! Node instances: the deployment's instances of each node template, generated the way the
//! reference's `rel_graph` does (containment trees multiplied out, scaling groups as virtual
//! containers, other relationships connected all-to-all or all-to-one).

use std::collections::{HashMap, HashSet};

use crate::json::{Map, Value as J};

use crate::diag::{Kind, Problem};
use crate::templates::is_contained_in;

/// Random 6-character instance id suffixes from `[a-z0-9]`, as the reference makes them.
struct IdGenerator {
    state: u64,
}

impl IdGenerator {
    fn new() -> IdGenerator {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64);
        IdGenerator { state: seed | 1 }
    }

    fn next(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..6)
            .map(|_| {
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                ALPHABET[(self.state % ALPHABET.len() as u64) as usize] as char
            })
            .collect()
    }
}

/// What instance generation reads of a plan node, read once while the node is at hand: on
/// large plans each lookup in a node's map is likely a cache miss.
pub struct NodeFacts<'a> {
    name: &'a str,
    host_id: Option<&'a str>,
    /// `capabilities.scalable.properties.current_instances` (at least 0; 1 when unset).
    count: i64,
    relationships: Vec<RelationshipFacts<'a>>,
}

/// What instance generation reads of one of a node's relationships.
struct RelationshipFacts<'a> {
    contained_in: bool,
    kind: &'a J,
    target: &'a str,
    connection_type: &'a str,
}

impl NodeFacts<'_> {
    /// The facts of a plan node (after its plan-time functions are evaluated).
    pub fn of(node: &J) -> NodeFacts<'_> {
        static NULL: J = J::Null;
        NodeFacts {
            name: node.get("name").and_then(J::as_str).unwrap_or_default(),
            host_id: node.get("host_id").and_then(J::as_str),
            count: node
                .get("capabilities")
                .and_then(|c| c.get("scalable"))
                .and_then(|s| s.get("properties"))
                .and_then(|p| p.get("current_instances"))
                .and_then(J::as_i64)
                .unwrap_or(1)
                .max(0),
            relationships: node
                .get("relationships")
                .and_then(J::as_array)
                .into_iter()
                .flatten()
                .map(|relationship| RelationshipFacts {
                    contained_in: is_contained_in(relationship.get("type_hierarchy")),
                    kind: relationship.get("type").unwrap_or(&NULL),
                    target: relationship
                        .get("target_id")
                        .and_then(J::as_str)
                        .unwrap_or_default(),
                    connection_type: relationship
                        .get("properties")
                        .and_then(|p| p.get("connection_type"))
                        .and_then(J::as_str)
                        .unwrap_or(""),
                })
                .collect(),
        }
    }
}

/// An entry of the containment forest: a node template or a scaling group.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Item {
    Node(usize),
    Group(usize),
}

/// A generated instance of an item (groups get instances too; they are not emitted).
struct Virtual {
    id: String,
    item: Item,
    parent: Option<usize>,
    host: Option<String>,
}

/// Node instances: every node multiplied down its `contained_in` chain and its scaling
/// groups (a group is a virtual container of its members, itself contained where its members'
/// `contained_in` points), then connected by the other relationships: `all_to_all`, or
/// `all_to_one` (the smallest id); inside a shared scaling group, only within the same group
/// instance.
///
/// `nodes` are the facts of the plan's nodes, in order; `scaling_groups` is the plan's.
pub fn node_instances(
    nodes: &[NodeFacts],
    scaling_groups: Option<&Map>,
) -> Result<Vec<J>, Problem> {
    let by_name: HashMap<&str, usize> =
        nodes.iter().enumerate().map(|(i, n)| (n.name, i)).collect();
    let groups: Vec<(&crate::json::Str, &J)> = scaling_groups.into_iter().flatten().collect();
    let group_index: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.as_str(), i))
        .collect();

    // contained_in of each node: (target node, relationship index).
    let mut contained: Vec<Option<(usize, usize)>> = vec![None; nodes.len()];
    for (index, node) in nodes.iter().enumerate() {
        let relationships = node.relationships.iter();
        if let Some((rel_index, relationship)) =
            relationships.enumerate().find(|(_, r)| r.contained_in)
        {
            if let Some(&parent) = by_name.get(relationship.target) {
                contained[index] = Some((parent, rel_index));
            }
        }
    }
    // Group membership.
    let mut node_group: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut group_group: Vec<Option<usize>> = vec![None; groups.len()];
    for (g, (_, group)) in groups.iter().enumerate() {
        for member in group
            .get("members")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .filter_map(J::as_str)
        {
            if let Some(&n) = by_name.get(member) {
                node_group[n] = Some(g);
            } else if let Some(&inner) = group_index.get(member) {
                group_group[inner] = Some(g);
            }
        }
    }
    // Parents in the containment forest.
    let mut group_parent: Vec<Option<Item>> =
        group_group.iter().map(|g| g.map(Item::Group)).collect();
    let mut node_parent: Vec<Option<Item>> = vec![None; nodes.len()];
    for n in 0..nodes.len() {
        match (node_group[n], contained[n]) {
            (Some(g), container) => {
                node_parent[n] = Some(Item::Group(g));
                if let Some((target, _)) = container {
                    let mut top = g;
                    let mut steps = 0;
                    while let Some(outer) = group_group[top] {
                        top = outer;
                        steps += 1;
                        if steps > groups.len() {
                            break;
                        }
                    }
                    if group_parent[top].is_none() {
                        group_parent[top] = Some(Item::Node(target));
                    }
                }
            }
            (None, Some((target, _))) => node_parent[n] = Some(Item::Node(target)),
            (None, None) => {}
        }
    }
    let parent_of = |item: Item| match item {
        Item::Node(n) => node_parent[n],
        Item::Group(g) => group_parent[g],
    };
    let mut children: HashMap<Item, Vec<Item>> = HashMap::new();
    let mut roots = Vec::new();
    let items: Vec<Item> = (0..nodes.len())
        .map(Item::Node)
        .chain((0..groups.len()).map(Item::Group))
        .collect();
    for &item in &items {
        match parent_of(item) {
            Some(parent) => children.entry(parent).or_default().push(item),
            None => roots.push(item),
        }
    }
    let count_of = |item: Item| -> i64 {
        match item {
            Item::Node(n) => nodes[n].count,
            Item::Group(g) => groups[g]
                .1
                .get("properties")
                .and_then(|p| p.get("current_instances"))
                .and_then(J::as_i64)
                .unwrap_or(1)
                .max(0),
        }
    };
    let item_name = |item: Item| -> &str {
        match item {
            Item::Node(n) => nodes[n].name,
            Item::Group(g) => groups[g].0.as_str(),
        }
    };

    let mut ids = IdGenerator::new();
    let mut used: HashSet<String> = HashSet::with_capacity(nodes.len());
    let mut virtuals: Vec<Virtual> = Vec::with_capacity(nodes.len() + groups.len());
    let mut stack: Vec<(Item, Option<usize>, Option<String>)> =
        roots.iter().rev().map(|&r| (r, None, None)).collect();
    let mut depth_guard = 0usize;
    while let Some((item, parent, host)) = stack.pop() {
        depth_guard += 1;
        if depth_guard > 10_000_000 {
            return Err(Problem::uncoded(
                Kind::Value,
                None,
                "too many node instances (more than 10,000,000)",
            ));
        }
        let name = item_name(item);
        let mut created = Vec::new();
        for _ in 0..count_of(item) {
            let id = loop {
                let id = format!("{name}_{}", ids.next());
                if used.insert(id.clone()) {
                    break id;
                }
            };
            let mut current_host = host.clone();
            if let Item::Node(n) = item {
                let node_host = nodes[n].host_id;
                if current_host.is_none() && node_host == Some(name) {
                    current_host = Some(id.clone());
                }
            }
            virtuals.push(Virtual {
                id,
                item,
                parent,
                host: current_host.clone(),
            });
            created.push((virtuals.len() - 1, current_host));
        }
        for (instance, current_host) in created.into_iter().rev() {
            for &child in children.get(&item).into_iter().flatten().rev() {
                stack.push((child, Some(instance), current_host.clone()));
            }
        }
    }

    // Emit node instances.
    let mut output: Vec<Built> = Vec::with_capacity(virtuals.len());
    // Position in `output` of each virtual instance that is a node instance.
    let mut position_of: Vec<Option<usize>> = vec![None; virtuals.len()];
    for (v, instance) in virtuals.iter().enumerate() {
        let Item::Node(n) = instance.item else {
            continue;
        };
        let node = &nodes[n];
        let name = node.name;
        let name = J::from(name);
        let mut fields = Map::of([
            ("name", name.clone()),
            ("node_id", name),
            ("id", J::from(instance.id.as_str())),
        ]);
        fields.reserve(3);
        match (&instance.host, node.host_id) {
            (Some(h), _) => {
                fields.insert("host_id", J::from(h.clone()));
            }
            (None, Some(h)) => {
                fields.insert("host_id", J::String(h.into()));
            }
            _ => {}
        }
        let mut relationships = Vec::new();
        // Nearest non-group ancestor, and the group instances on the way to it.
        let mut scaling_groups = Vec::new();
        let mut ancestor = instance.parent;
        while let Some(a) = ancestor {
            if let Item::Group(g) = virtuals[a].item {
                scaling_groups
                    .push(crate::json::object! {"name" => groups[g].0, "id" => &virtuals[a].id});
                ancestor = virtuals[a].parent;
            } else {
                break;
            }
        }
        if let (Some(a), Some((_, rel_index))) = (ancestor, contained[n]) {
            relationships.push((
                rel_index,
                relationship_instance(&node.relationships[rel_index], &virtuals[a].id),
            ));
        }
        if !scaling_groups.is_empty() {
            fields.insert("scaling_groups", J::from(scaling_groups));
        }
        position_of[v] = Some(output.len());
        output.push((fields, n, relationships));
    }

    // The group instance of `group` above virtual instance `v`, if any.
    let group_instance = |mut v: usize, group: usize| -> Option<usize> {
        loop {
            let parent = virtuals[v].parent?;
            if virtuals[parent].item == Item::Group(group) {
                return Some(parent);
            }
            v = parent;
        }
    };
    // The groups above a node in the plan's containment forest, nearest first.
    let containing_groups = |n: usize| -> Vec<usize> {
        let mut result = Vec::new();
        let mut current = Item::Node(n);
        let mut steps = 0;
        while let Some(parent) = parent_of(current) {
            if let Item::Group(g) = parent {
                result.push(g);
            }
            current = parent;
            steps += 1;
            if steps > items.len() {
                break;
            }
        }
        result
    };
    let mut virtuals_by_node: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (v, instance) in virtuals.iter().enumerate() {
        if let Item::Node(n) = instance.item {
            virtuals_by_node[n].push(v);
        }
    }
    for (source_index, node) in nodes.iter().enumerate() {
        let source = node.name;
        for (index, relationship) in node.relationships.iter().enumerate() {
            if relationship.contained_in {
                continue;
            }
            let target = relationship.target;
            let Some(&target_index) = by_name.get(target) else {
                continue;
            };
            let connection = relationship.connection_type;
            if connection != "all_to_all" && connection != "all_to_one" {
                return Err(Problem::uncoded(
                    Kind::IllegalConnectionType,
                    None,
                    format!("Illegal connection_type '{connection}' of relationship from '{source}' to '{target}': use all_to_all or all_to_one"),
                ));
            }
            let target_groups = containing_groups(target_index);
            let shared = containing_groups(source_index)
                .into_iter()
                .find(|g| target_groups.contains(g));
            if connection == "all_to_one" && shared.is_some() {
                return Err(Problem::uncoded(
                    Kind::Value,
                    None,
                    format!(
                        "'all_to_one' connection type is not supported within groups, but the source node '{source}' and target node '{target}' are both in group '{}'",
                        shared.map(|g| groups[g].0.clone()).unwrap_or_default()
                    ),
                ));
            }
            let mut targets: Vec<usize> = virtuals_by_node[target_index].clone();
            if connection == "all_to_one" {
                targets.sort_by(|a, b| virtuals[*a].id.cmp(&virtuals[*b].id));
                targets.truncate(1);
            }
            for &v in &virtuals_by_node[source_index] {
                let key = shared.and_then(|g| group_instance(v, g));
                let Some(position) = position_of[v] else {
                    continue;
                };
                for &t in &targets {
                    if shared.is_some() && shared.and_then(|g| group_instance(t, g)) != key {
                        continue;
                    }
                    let target_id = virtuals[t].id.clone();
                    let relationships = &mut output[position].2;
                    // One edge per (source, target) instance pair, as in the reference's graph:
                    // a later relationship to the same target replaces an earlier one.
                    relationships.retain(|(_, r)| {
                        r.get("target_id").and_then(J::as_str) != Some(target_id.as_str())
                    });
                    relationships.push((index, relationship_instance(relationship, &target_id)));
                }
            }
        }
    }
    Ok(output
        .into_iter()
        .map(|(mut instance, _, mut relationships)| {
            relationships.sort_by_key(|(i, _)| *i);
            instance.insert(
                "relationships",
                J::Array(relationships.into_iter().map(|(_, r)| r).collect()),
            );
            J::Object(instance)
        })
        .collect())
}

/// A generated instance: its fields, its node's index, its relationships with their indexes.
type Built = (Map, usize, Vec<(usize, J)>);

fn relationship_instance(relationship: &RelationshipFacts, target_instance: &str) -> J {
    J::Object(Map::of([
        ("type", relationship.kind.clone()),
        ("target_name", J::from(relationship.target)),
        ("target_id", J::from(target_instance)),
    ]))
}
