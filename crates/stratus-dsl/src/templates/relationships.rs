//! A node template's relationships: checked against their relationship types, properties
//! merged, source and target interfaces resolved.

use std::collections::HashSet;

use crate::json::{Map, Value as J};

use super::memo::InterfaceMemo;
use super::Catalogs;
use crate::diag::{Problem, Problems};
use crate::interfaces::{
    merge_template_interfaces, parse_template_interfaces, process_interfaces, Resolvers,
};
use crate::node_plugins::Uses;
use crate::props;
use crate::schema::{self, allowed_keys, get};
use crate::yaml::Node;

/// A parsed relationship of a node template.
pub(super) struct ParsedRelationship {
    pub map: Map,
    /// Whether no input of its source and target operations holds a function call.
    pub inert: bool,
    pub source_uses: Uses,
    pub target_uses: Uses,
    /// `SIDE:INTERFACE.OPERATION` of the operations whose inputs the script plugin copied.
    pub script_copied: Vec<String>,
}

pub(super) fn parse_relationship(
    source: &str,
    item: &Node,
    names: &HashSet<&str>,
    catalogs: &Catalogs,
    memo: &mut InterfaceMemo,
    problems: &mut Problems,
) -> Option<ParsedRelationship> {
    let entries = schema::map(item, problems)?;
    allowed_keys(
        entries,
        &[
            "type",
            "target",
            "properties",
            "source_interfaces",
            "target_interfaces",
        ],
        problems,
    );
    let Some(type_node) = get(entries, "type").filter(|n| !n.is_null()) else {
        problems.push(Problem::format(
            1,
            item.span,
            "'type' key is required but it is currently missing",
        ));
        return None;
    };
    let Some(target_node) = get(entries, "target").filter(|n| !n.is_null()) else {
        problems.push(Problem::format(
            1,
            item.span,
            "'target' key is required but it is currently missing",
        ));
        return None;
    };
    let type_name = schema::string(Some(type_node), problems)?;
    let target = schema::string(Some(target_node), problems)?;
    let Some(relationship_type) = catalogs.relationships.get(type_name) else {
        problems.push(Problem::logic(
            26,
            type_node.span,
            format!("A relationship instance under node '{source}' declares an undefined relationship type '{type_name}'"),
        ));
        return None;
    };
    if !names.contains(target) {
        problems.push(Problem::logic(
            25,
            target_node.span,
            format!("A relationship instance under node '{source}' of type '{type_name}' declares an undefined target node '{target}'"),
        ));
        return None;
    }
    if target == source {
        problems.push(Problem::logic(
            23,
            target_node.span,
            format!("A relationship instance under node '{source}' of type '{type_name}' illegally declares the source node as the target node"),
        ));
        return None;
    }
    let properties_node = get(entries, "properties");
    let instance_properties = match properties_node.map(Node::to_json) {
        None | Some(J::Null) => Map::new(),
        Some(J::Object(map)) => map,
        Some(_) => {
            problems.push(schema::expected(properties_node?, "dict"));
            Map::new()
        }
    };
    let empty = Map::new();
    let context = props::Context {
        undefined: "'{0}' node relationship '{1}' property is not part of the derived relationship type properties schema",
        missing: "'{0}' node relationship does not provide a value for mandatory '{1}' property which is part of its relationship type schema",
        node_name: source,
        span: properties_node.map_or(item.span, |n| n.span),
        raise_on_missing: true,
        source: properties_node,
        owner: item.span,
    };
    let schema_properties = relationship_type
        .get("properties")
        .and_then(J::as_object)
        .unwrap_or(&empty);
    let properties = problems
        .check(props::merge_instance(
            instance_properties,
            schema_properties,
            catalogs.data_types,
            &context,
        ))
        .unwrap_or_default();
    let mut copied_all = Vec::new();
    let mut sides = Vec::with_capacity(2);
    for side in ["source_interfaces", "target_interfaces"] {
        let written = get(entries, side);
        let own = written.is_some_and(|n| !n.is_null());
        let resolved = memo.resolve((!own).then_some((type_name, side)), problems, |problems| {
            let instance =
                parse_template_interfaces(written, catalogs.data_types, catalogs.version, problems);
            let no_interfaces = Map::new();
            let type_side = relationship_type
                .get(side)
                .and_then(J::as_object)
                .unwrap_or(&no_interfaces);
            let merged = merge_template_interfaces(type_side, &instance, item.span, problems);
            let (operations, copied) = process_interfaces(
                &merged,
                &Resolvers {
                    plugins: catalogs.plugins,
                    resource_exists: catalogs.resource_exists,
                },
                19,
                &|| {
                    format!(
                        "in relationship of type '{type_name}' in node '{}'",
                        if side == "source_interfaces" {
                            source
                        } else {
                            target
                        }
                    )
                },
                item.span,
                written,
                problems,
            );
            (merged, operations, copied)
        });
        copied_all.extend(
            resolved
                .copied
                .iter()
                .map(|(i, o)| format!("{side}:{i}.{o}")),
        );
        sides.push(resolved);
    }
    let (Some(target_side), Some(source_side)) = (sides.pop(), sides.pop()) else {
        return None;
    };
    let result = Map::of([
        ("type", J::from(type_name)),
        ("target_id", J::from(target)),
        ("properties", J::Object(properties)),
        ("source_interfaces", source_side.interfaces),
        ("source_operations", source_side.operations),
        ("target_interfaces", target_side.interfaces),
        ("target_operations", target_side.operations),
        (
            "type_hierarchy",
            relationship_type
                .get("type_hierarchy")
                .cloned()
                .unwrap_or(J::from(vec![])),
        ),
    ]);
    Some(ParsedRelationship {
        map: result,
        inert: source_side.inert && target_side.inert,
        source_uses: source_side.uses,
        target_uses: target_side.uses,
        script_copied: copied_all,
    })
}
