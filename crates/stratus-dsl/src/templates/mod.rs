//! Node templates: properties checked against their type's schema, interfaces merged with
//! the type's, relationships checked and merged with their relationship types, operations
//! resolved to plugins, and the plugins each node needs.

use std::collections::{HashMap, HashSet};

use crate::json::{Map, Value as J};

use crate::diag::{Problem, Problems};
use crate::interfaces::{
    merge_template_interfaces, parse_template_interfaces, process_interfaces, Resolvers,
};
use crate::node_plugins::NodeUses;
use crate::props::{self, DataTypes};
use crate::schema::{self, allowed_keys, gate, get, optional_map};
use crate::version::DslVersion;
use crate::yaml::{Node, Span, Value};

mod memo;
mod relationships;
mod scalable;

use memo::InterfaceMemo;
use relationships::parse_relationship;
use scalable::default_scalable;
pub use scalable::parse_scalable;

pub struct Catalogs<'a> {
    pub node_types: &'a Map,
    pub relationships: &'a Map,
    pub data_types: &'a DataTypes,
    pub plugins: &'a Map,
    pub version: &'a DslVersion,
    pub resource_exists: &'a (dyn Fn(&str) -> bool + Sync),
}

pub const CONTAINED_IN: &str = "cloudify.relationships.contained_in";

/// Whether a relationship's `type_hierarchy` includes [`CONTAINED_IN`].
pub fn is_contained_in(type_hierarchy: Option<&J>) -> bool {
    type_hierarchy
        .and_then(J::as_array)
        .is_some_and(|h| h.iter().any(|t| t.as_str() == Some(CONTAINED_IN)))
}
const HOST_TYPE: &str = "cloudify.nodes.Compute";

/// One parsed node template.
struct ParsedNode {
    node: Map,
    /// Whether the node's operation inputs hold no function call (see [`crate::Plan`]).
    inert: bool,
    /// The node it is contained in.
    container: Option<String>,
    uses: NodeUses,
    /// Script-plugin operations whose interface inputs are kept as written, by `NODE` and
    /// `NODE#INDEX` (see [`ParsedTemplates::script_operations`]).
    script_operations: Vec<(String, Vec<String>)>,
}

/// The node templates, parsed.
pub struct ParsedTemplates<'d> {
    /// The nodes, in document order.
    pub nodes: Vec<J>,
    /// For each node, whether its operation inputs hold no function call (see
    /// [`crate::Plan`]).
    pub inert: Vec<bool>,
    /// The nodes' names.
    pub names: Vec<&'d str>,
    /// For each node (key `NODE`) and each of its relationships (key `NODE#INDEX`), the
    /// operations whose inputs the script plugin copied, so their `interfaces` entries keep
    /// the inputs as written (the reference aliases the others).
    pub script_operations: HashMap<String, Vec<String>>,
}

/// Parses every node template.
pub fn parse_node_templates<'d>(
    section: Option<&'d Node>,
    catalogs: &Catalogs,
    problems: &mut Problems,
) -> ParsedTemplates<'d> {
    let entries = optional_map(section, problems);
    let names: HashSet<&str> = entries.iter().filter_map(|(k, _)| k.as_str()).collect();
    let count = entries.len();
    let mut nodes: Vec<Map> = Vec::with_capacity(count);
    let mut contained_in: Vec<Option<String>> = Vec::with_capacity(count);
    let mut uses: Vec<NodeUses> = Vec::with_capacity(count);
    // What the passes below read of each node (name, type, relationship targets), taken
    // while the node is fresh: on large blueprints, going back to the nodes' maps costs a
    // cache miss per lookup.
    let mut node_names: Vec<&str> = Vec::with_capacity(count);
    let mut node_types: Vec<&str> = Vec::with_capacity(count);
    let mut node_targets: Vec<Vec<&str>> = Vec::with_capacity(count);
    let mut inert: Vec<bool> = Vec::with_capacity(count);
    let mut script_operations = HashMap::new();
    for (key, template, parsed) in parse_each(entries, &names, catalogs, problems) {
        let name = key.as_str().unwrap_or_default();
        node_names.push(name);
        node_types.push(
            template
                .get("type")
                .and_then(Node::as_str)
                .unwrap_or_default(),
        );
        // A relationship is only kept when its target names a template.
        node_targets.push(
            parsed
                .node
                .get("relationships")
                .and_then(J::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("target_id").and_then(J::as_str))
                .filter_map(|t| names.get(t).copied())
                .collect(),
        );
        nodes.push(parsed.node);
        inert.push(parsed.inert);
        contained_in.push(parsed.container);
        uses.push(parsed.uses);
        script_operations.extend(parsed.script_operations);
    }
    let by_name: HashMap<&str, usize> = node_names
        .iter()
        .enumerate()
        .map(|(index, name)| (*name, index))
        .collect();
    let targets: Vec<Vec<usize>> = node_targets
        .iter()
        .map(|targets| {
            targets
                .iter()
                .filter_map(|t| by_name.get(t).copied())
                .collect()
        })
        .collect();
    crate::node_plugins::check_relationship_cycles(&node_names, &targets, section, problems);
    // host_id: a host type hosts itself; anything contained in a hosted node shares its host.
    let host_types: Vec<String> = catalogs
        .node_types
        .iter()
        .filter(|(_, t)| {
            t.get("type_hierarchy")
                .and_then(J::as_array)
                .is_some_and(|h| {
                    h.iter()
                        .any(|x| x.as_str().is_some_and(|s| s.contains(HOST_TYPE)))
                })
        })
        .map(|(name, _)| name.to_string())
        .collect();
    let facts = NodeFacts {
        names: &node_names,
        types: &node_types,
        by_name: &by_name,
    };
    let host_ids: Vec<Option<String>> = (0..nodes.len())
        .map(|index| resolve_host(index, &facts, &contained_in, &host_types, 0))
        .collect();
    for (node, host) in nodes.iter_mut().zip(&host_ids) {
        if let Some(host) = host {
            node.insert("host_id", J::from(host.clone()));
        }
    }
    crate::node_plugins::assign_plugins(
        &mut nodes,
        &facts,
        &host_ids,
        &uses,
        &host_types,
        catalogs.plugins,
        problems,
    );
    ParsedTemplates {
        nodes: nodes.into_iter().map(J::Object).collect(),
        inert,
        names: node_names,
        script_operations,
    }
}

/// Below this many node templates per thread, parsing them on one thread is faster.
const TEMPLATES_PER_THREAD: usize = 256;

/// Each node template that parses, with its key, in order; large sections on two threads.
/// The result and the problems, in order, are those of parsing them one by one: each thread
/// keeps its own [`InterfaceMemo`], which only ever holds problem-free results.
fn parse_each<'e>(
    entries: &'e [(Node, Node)],
    names: &HashSet<&str>,
    catalogs: &Catalogs,
    problems: &mut Problems,
) -> Vec<(&'e Node, &'e Node, ParsedNode)> {
    let parse_part = |part: &'e [(Node, Node)], problems: &mut Problems| {
        let mut memo = InterfaceMemo::default();
        part.iter()
            .filter_map(|(key, template)| {
                let name = key.as_str().unwrap_or_default();
                let parsed = parse_node_template(
                    name, key.span, template, names, catalogs, &mut memo, problems,
                )?;
                Some((key, template, parsed))
            })
            .collect::<Vec<_>>()
    };
    if entries.len() < 2 * TEMPLATES_PER_THREAD {
        return parse_part(entries, problems);
    }
    let (first, rest) = entries.split_at(entries.len().div_ceil(2));
    let (mut parsed, (more, found)) = crate::parallel::join(
        || parse_part(first, problems),
        || {
            let mut found = Problems::default();
            (parse_part(rest, &mut found), found)
        },
    );
    parsed.extend(more);
    problems.list.extend(found.list);
    parsed
}

/// The parsed nodes' names and types (by position) and positions by name.
pub struct NodeFacts<'a> {
    pub names: &'a [&'a str],
    pub types: &'a [&'a str],
    pub by_name: &'a HashMap<&'a str, usize>,
}

fn resolve_host(
    index: usize,
    facts: &NodeFacts,
    contained_in: &[Option<String>],
    host_types: &[String],
    depth: usize,
) -> Option<String> {
    let name = facts.names[index];
    let node_type = facts.types[index];
    if host_types.iter().any(|t| t == node_type) {
        return Some(name.to_string());
    }
    if depth > facts.names.len() {
        return None;
    }
    let container = contained_in[index].as_deref()?;
    let container_index = *facts.by_name.get(container)?;
    resolve_host(container_index, facts, contained_in, host_types, depth + 1)
}

fn parse_node_template(
    name: &str,
    key_span: Span,
    template: &Node,
    names: &HashSet<&str>,
    catalogs: &Catalogs,
    memo: &mut InterfaceMemo,
    problems: &mut Problems,
) -> Option<ParsedNode> {
    let entries = schema::map(template, problems)?;
    allowed_keys(
        entries,
        &[
            "type",
            "instances",
            "capabilities",
            "interfaces",
            "relationships",
            "properties",
        ],
        problems,
    );
    let Some(type_node) = get(entries, "type").filter(|n| !n.is_null()) else {
        problems.push(Problem::format(
            1,
            key_span,
            "'type' key is required but it is currently missing",
        ));
        return None;
    };
    let type_name = schema::string(Some(type_node), problems)?;
    let Some(node_type) = catalogs.node_types.get(type_name) else {
        problems.push(
            Problem::logic(
                7,
                type_node.span,
                format!(
                    "Could not locate node type: '{type_name}'; existing types: {:?}",
                    catalogs.node_types.keys().collect::<Vec<_>>()
                ),
            )
            .with_hint("import the type file that defines it, or fix the name"),
        );
        return None;
    };
    let properties_node = get(entries, "properties");
    let instance_properties = match properties_node {
        None => Map::new(),
        Some(node) if node.is_null() => Map::new(),
        Some(node) => match node.to_json() {
            J::Object(map) => map,
            _ => {
                problems.push(schema::expected(node, "dict"));
                Map::new()
            }
        },
    };
    let empty = Map::new();
    let schema_properties = node_type
        .get("properties")
        .and_then(J::as_object)
        .unwrap_or(&empty);
    let context = props::Context {
        undefined: "'{0}' node '{1}' property is not part of the derived type properties schema",
        missing: "'{0}' node does not provide a value for mandatory '{1}' property which is part of its type schema",
        node_name: name,
        span: properties_node.map_or(template.span, |n| n.span),
        raise_on_missing: true,
        source: properties_node,
        owner: key_span,
    };
    let properties = problems.check(props::merge_instance(
        instance_properties,
        schema_properties,
        catalogs.data_types,
        &context,
    ));

    // instances / capabilities
    let mut instances = Map::new();
    let mut deploy: Option<i64> = None;
    if let Some(instances_node) = get(entries, "instances").filter(|n| !n.is_null()) {
        if let Some(instance_entries) = schema::map(instances_node, problems) {
            allowed_keys(instance_entries, &["deploy"], problems);
            match get(instance_entries, "deploy") {
                Some(Node {
                    value: Value::Int(i),
                    span,
                }) => {
                    if *i < 0 {
                        problems.push(Problem::format(
                            1,
                            *span,
                            "deploy instances must be a non-negative number",
                        ));
                    }
                    deploy = Some(*i);
                    instances.insert("deploy", J::from(*i));
                }
                Some(other) => problems.push(schema::expected(other, "integer")),
                None => problems.push(Problem::format(
                    1,
                    instances_node.span,
                    "'deploy' key is required but it is currently missing",
                )),
            }
        }
    }
    let capabilities_node = get(entries, "capabilities").filter(|n| !n.is_null());
    let scalable = match capabilities_node {
        Some(capabilities) => {
            gate(
                catalogs.version,
                "capabilities",
                schema::key_span(entries, "capabilities").unwrap_or(capabilities.span),
                1,
                3,
                problems,
            );
            if deploy.is_some() {
                problems.push(Problem::logic(
                    209,
                    schema::key_span(entries, "capabilities").unwrap_or(capabilities.span),
                    format!("Node '{name}' defines both instances.deploy and capabilities.scalable (Note: instances.deploy is deprecated)"),
                ));
            }
            let capability_entries = optional_map(Some(capabilities), problems);
            allowed_keys(capability_entries, &["scalable"], problems);
            let scalable_node = get(capability_entries, "scalable").filter(|n| !n.is_null());
            let scalable_entries = optional_map(scalable_node, problems);
            allowed_keys(scalable_entries, &["properties"], problems);
            parse_scalable(
                get(scalable_entries, "properties").filter(|n| !n.is_null()),
                problems,
            )
        }
        None => {
            let mut p = default_scalable();
            if let Some(d) = deploy {
                for key in [
                    "default_instances",
                    "current_instances",
                    "planned_instances",
                ] {
                    p.insert(key, J::from(d));
                }
            }
            p
        }
    };

    // interfaces and operations
    let written = get(entries, "interfaces");
    let own = written.is_some_and(|n| !n.is_null());
    let resolved = memo.resolve((!own).then_some((type_name, "")), problems, |problems| {
        let template_interfaces =
            parse_template_interfaces(written, catalogs.data_types, catalogs.version, problems);
        let no_interfaces = Map::new();
        let type_interfaces = node_type
            .get("interfaces")
            .and_then(J::as_object)
            .unwrap_or(&no_interfaces);
        let interfaces = merge_template_interfaces(
            type_interfaces,
            &template_interfaces,
            template.span,
            problems,
        );
        let (operations, copied) = process_interfaces(
            &interfaces,
            &Resolvers {
                plugins: catalogs.plugins,
                resource_exists: catalogs.resource_exists,
            },
            10,
            &|| format!("in node '{name}' of type '{type_name}'"),
            written.map_or(template.span, |n| n.span),
            written,
            problems,
        );
        (interfaces, operations, copied)
    });

    // relationships
    let mut node_uses = NodeUses {
        own: vec![resolved.uses.clone()],
        targets: Vec::new(),
    };
    let mut relationships = Vec::new();
    let mut script_operations = Vec::new();
    let mut container: Option<String> = None;
    let mut contained_types: Vec<String> = Vec::new();
    let mut relationships_inert = true;
    if let Some(relationships_node) = get(entries, "relationships").filter(|n| !n.is_null()) {
        match relationships_node.as_seq() {
            None => problems.push(schema::expected(relationships_node, "list")),
            Some(items) => {
                for item in items {
                    if let Some(parsed) =
                        parse_relationship(name, item, names, catalogs, memo, problems)
                    {
                        let relationship = parsed.map;
                        relationships_inert &= parsed.inert;
                        node_uses.own.push(parsed.source_uses);
                        if let Some(J::String(target)) = relationship.get("target_id") {
                            node_uses.targets.push((target.clone(), parsed.target_uses));
                        }
                        if !parsed.script_copied.is_empty() {
                            script_operations.push((
                                format!("{name}#{}", relationships.len()),
                                parsed.script_copied,
                            ));
                        }
                        if is_contained_in(relationship.get("type_hierarchy")) {
                            contained_types.push(
                                relationship
                                    .get("type")
                                    .and_then(J::as_str)
                                    .unwrap_or_default()
                                    .to_string(),
                            );
                            if container.is_none() {
                                container = relationship
                                    .get("target_id")
                                    .and_then(J::as_str)
                                    .map(str::to_string);
                            }
                        }
                        relationships.push(J::Object(relationship));
                    }
                }
                if contained_types.len() > 1 {
                    let targets: Vec<&str> = relationships
                        .iter()
                        .filter(|r| is_contained_in(r.get("type_hierarchy")))
                        .filter_map(|r| r.get("target_id").and_then(J::as_str))
                        .collect();
                    let second = items
                        .iter()
                        .filter(|item| {
                            item.get("type")
                                .and_then(Node::as_str)
                                .is_some_and(|t| contained_types.iter().any(|c| c == t))
                        })
                        .nth(1)
                        .map_or(relationships_node.span, |item| item.span);
                    problems.push(Problem::logic(
                        112,
                        second,
                        format!(
                            "Node '{name}' has more than one relationship that is derived from '{CONTAINED_IN}' relationship. Found: {contained_types:?} for targets: {targets:?}"
                        ),
                    ));
                }
            }
        }
    }

    let inert = resolved.inert && relationships_inert;
    let name_value = J::from(name);
    let mut node = Map::of([
        ("name", name_value.clone()),
        ("id", name_value),
        ("type", J::from(type_name)),
        (
            "type_hierarchy",
            node_type
                .get("type_hierarchy")
                .cloned()
                .unwrap_or(J::from(vec![])),
        ),
        ("properties", J::Object(properties.unwrap_or_default())),
        ("instances", J::Object(instances)),
        ("capabilities", capabilities_of(scalable)),
        ("interfaces", resolved.interfaces),
        ("operations", resolved.operations),
        ("relationships", J::from(relationships)),
    ]);
    // host_id, plugins, plugins_to_install and deployment_plugins_to_install follow.
    node.reserve(4);
    if !resolved.copied.is_empty() {
        let own = resolved
            .copied
            .into_iter()
            .map(|(i, o)| format!("{i}.{o}"))
            .collect();
        script_operations.push((name.to_string(), own));
    }
    Some(ParsedNode {
        node,
        inert,
        container,
        uses: node_uses,
        script_operations,
    })
}

/// `{"scalable": {"properties": scalable}}`; the default one is shared.
fn capabilities_of(scalable: Map) -> J {
    static DEFAULT: std::sync::OnceLock<J> = std::sync::OnceLock::new();
    let build = |scalable: Map| {
        J::Object(Map::of([(
            "scalable",
            J::Object(Map::of([("properties", J::Object(scalable))])),
        )]))
    };
    let default = DEFAULT.get_or_init(|| build(default_scalable()));
    let is_default = default
        .get("scalable")
        .and_then(|s| s.get("properties"))
        .and_then(J::as_object)
        .is_some_and(|d| d.ptr_eq(&scalable));
    if is_default {
        default.clone()
    } else {
        build(scalable)
    }
}

/// Node position by name.
pub fn index_by_name(nodes: &[Map]) -> HashMap<String, usize> {
    nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| Some((n.get("name")?.as_str()?.to_string(), i)))
        .collect()
}
