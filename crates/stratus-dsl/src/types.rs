//! Type definitions: data types, node types and relationship types, with `derived_from`
//! inheritance (property schemas merged down, interfaces merged operation by operation) and
//! cycle detection.

use std::collections::HashMap;

use crate::json::{Map, Value as J};

use crate::diag::{Problem, Problems};
use crate::functions::is_function;
use crate::interfaces::{merge_type_interfaces, parse_type_interfaces};
use crate::props::{self, is_primitive, DataTypes, Schema};
use crate::schema::{self, allowed_keys, gate, get, optional_map};
use crate::version::DslVersion;
use crate::yaml::{Node, Span};

/// The definitions of one type section, by name, in document order.
pub struct Definitions<'a> {
    pub entries: Vec<(&'a str, &'a Node, Span)>,
}

impl<'a> Definitions<'a> {
    pub fn collect(section: Option<&'a Node>, problems: &mut Problems) -> Definitions<'a> {
        let entries = optional_map(section, problems)
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or_default(), v, k.span))
            .collect();
        Definitions { entries }
    }

    fn find(&self, name: &str) -> Option<&(&'a str, &'a Node, Span)> {
        self.entries.iter().find(|(n, _, _)| *n == name)
    }
}

/// Resolves definitions parents-first. `parse_one` gets the already-parsed parent.
fn resolve_all<'a>(
    definitions: &Definitions<'a>,
    descriptor: &str,
    problems: &mut Problems,
    mut parse_one: impl FnMut(&'a str, &'a Node, Option<&J>, &mut Problems) -> Option<J>,
) -> Map {
    #[derive(PartialEq)]
    enum State {
        Visiting,
        Done,
    }
    let mut state: HashMap<&str, State> = HashMap::new();
    let mut parsed: HashMap<&str, J> = HashMap::new();
    for (name, _, _) in &definitions.entries {
        let mut stack: Vec<&str> = vec![name];
        while let Some(&current) = stack.last() {
            if state.get(current) == Some(&State::Done) {
                stack.pop();
                continue;
            }
            let Some(&(_, node, span)) = definitions.find(current) else {
                stack.pop();
                continue;
            };
            let parent = node.get("derived_from").and_then(Node::as_str);
            if let Some(parent) = parent {
                if definitions.find(parent).is_some() && state.get(parent) != Some(&State::Done) {
                    if state.get(parent) == Some(&State::Visiting) || parent == current {
                        let mut cycle: Vec<&str> =
                            stack[stack.iter().position(|n| *n == parent).unwrap_or(0)..].to_vec();
                        cycle.push(parent);
                        // Reported at the first `derived_from` of the cycle.
                        let span = definitions
                            .find(cycle[0])
                            .and_then(|(_, n, _)| n.get("derived_from"))
                            .map_or(span, |n| n.span);
                        problems.push(Problem::logic(
                            100,
                            span,
                            format!(
                                "Parsing failed. Circular dependency detected: {}",
                                cycle.join(" --> ")
                            ),
                        ));
                        for n in &stack {
                            state.insert(n, State::Done);
                        }
                        stack.clear();
                        break;
                    }
                    state.insert(current, State::Visiting);
                    stack.push(parent);
                    continue;
                }
                if definitions.find(parent).is_none() {
                    let parent_span = node.get("derived_from").map_or(span, |n| n.span);
                    problems.push(Problem::logic(
                        103,
                        parent_span,
                        format!("Missing definition for {descriptor} '{parent}' which is declared as derived by {descriptor} '{current}'"),
                    ));
                    state.insert(current, State::Done);
                    stack.pop();
                    continue;
                }
            }
            let parent_value = parent.and_then(|p| parsed.get(p));
            if parent.is_some() && parent_value.is_none() {
                // The parent failed: skip, its problem is already reported.
                state.insert(current, State::Done);
                stack.pop();
                continue;
            }
            if let Some(value) = parse_one(current, node, parent_value, problems) {
                parsed.insert(current, value);
            }
            state.insert(current, State::Done);
            stack.pop();
        }
    }
    let mut result = Map::new();
    for (name, _, _) in &definitions.entries {
        if let Some(value) = parsed.remove(name) {
            result.insert(*name, value);
        }
    }
    result
}

pub fn type_hierarchy(parent: Option<&J>, name: &str) -> J {
    let mut hierarchy: Vec<J> = parent
        .and_then(|p| p.get("type_hierarchy"))
        .and_then(J::as_array)
        .cloned()
        .unwrap_or_default();
    hierarchy.push(J::from(name.to_string()));
    J::from(hierarchy)
}

/// Options of a property-schema section.
pub struct SchemaOptions {
    /// Keep the raw default as `initial_default` (removed again once inheritance is done).
    pub keep_initial_default: bool,
    pub owner: String,
    /// Input-style schema (blueprint inputs, operation inputs, workflow parameters): more keys
    /// allowed, kept as written, and no implicit `{}` default for data-typed entries.
    pub input_style: bool,
}

impl SchemaOptions {
    pub fn properties(owner: &str) -> SchemaOptions {
        SchemaOptions {
            keep_initial_default: true,
            owner: owner.to_string(),
            input_style: false,
        }
    }

    pub fn inputs(owner: &str) -> SchemaOptions {
        SchemaOptions {
            keep_initial_default: false,
            owner: owner.to_string(),
            input_style: true,
        }
    }
}

const PROPERTY_KEYS: &[&str] = &[
    "required",
    "default",
    "description",
    "type",
    "display_label",
    "hidden",
];
const INPUT_KEYS: &[&str] = &[
    "required",
    "default",
    "description",
    "type",
    "item_type",
    "constraints",
    "display_label",
    "hidden",
    "display",
];

/// Parses a `properties:` schema (name → {type, default, required, description}).
pub fn parse_property_schema(
    section: Option<&Node>,
    data_types: &DataTypes,
    version: &DslVersion,
    options: &SchemaOptions,
    problems: &mut Problems,
) -> Schema {
    let mut schema = Schema::new();
    for (key, property) in optional_map(section, problems) {
        let name = key.as_str().unwrap_or_default();
        let Some(entries) =
            schema::map(property, problems).or_else(|| property.is_null().then_some(&[][..]))
        else {
            continue;
        };
        let entries = if property.is_null() { &[][..] } else { entries };
        allowed_keys(
            entries,
            if options.input_style {
                INPUT_KEYS
            } else {
                PROPERTY_KEYS
            },
            problems,
        );
        let mut out = Map::new();
        if options.input_style {
            for key in [
                "item_type",
                "constraints",
                "display_label",
                "hidden",
                "display",
            ] {
                if let Some(value) = get(entries, key) {
                    if key == "item_type" {
                        gate(
                            version,
                            key,
                            schema::key_span(entries, key).unwrap_or(value.span),
                            1,
                            4,
                            problems,
                        );
                    }
                    if key == "hidden" {
                        gate(
                            version,
                            key,
                            schema::key_span(entries, key).unwrap_or(value.span),
                            1,
                            3,
                            problems,
                        );
                    }
                    out.insert(key, value.to_json());
                }
            }
        }
        if let Some(label) = get(entries, "display_label") {
            gate(
                version,
                "display_label",
                schema::key_span(entries, "display_label").unwrap_or(label.span),
                1,
                3,
                problems,
            );
        }
        let type_name = schema::string(get(entries, "type"), problems);
        if let Some(type_name) = type_name {
            check_type_name(
                type_name,
                get(entries, "type").map_or(key.span, |n| n.span),
                data_types,
                version,
                problems,
            );
            out.insert("type", J::String(type_name.into()));
        }
        if let Some(description) = schema::string(get(entries, "description"), problems) {
            out.insert("description", J::String(description.into()));
        }
        if let Some(required_node) = get(entries, "required") {
            if let Some(required) = schema::boolean(Some(required_node), problems) {
                gate(
                    version,
                    "required",
                    schema::key_span(entries, "required").unwrap_or(required_node.span),
                    1,
                    2,
                    problems,
                );
                out.insert("required", J::Bool(required));
            }
        }
        let default_node = get(entries, "default");
        let raw_default = default_node.map(Node::to_json);
        let known_type = type_name.filter(|t| is_primitive(t) || data_types.contains_key(t));
        let default = match (&raw_default, known_type) {
            (Some(J::Null) | None, Some(t)) if !is_primitive(t) && !options.input_style => {
                Some(J::Object(Map::new()))
            }
            (Some(J::Null) | None, _) => None,
            (Some(value), _) => Some(value.clone()),
        };
        if let Some(default) = default {
            let context = if options.input_style {
                props::Context {
                    undefined: "Undefined property {1} in default value of input {0}.",
                    missing: "Value of input {0} is missing property {1}.",
                    node_name: name,
                    span: default_node.map_or(key.span, |n| n.span),
                    raise_on_missing: true,
                    source: default_node,
                    owner: key.span,
                }
            } else {
                props::Context {
                    undefined: "Undefined property {1} in default value of type {0}",
                    missing: "illegal state",
                    node_name: &options.owner,
                    span: default_node.map_or(key.span, |n| n.span),
                    raise_on_missing: false,
                    source: default_node,
                    owner: key.span,
                }
            };
            let path = if options.input_style {
                vec![]
            } else {
                vec![name.to_string()]
            };
            match props::parse_value(&default, None, known_type, data_types, &context, &path) {
                Ok(parsed) => {
                    out.insert("default", parsed);
                }
                Err(problem) => problems.push(problem),
            }
        } else if default_node.is_some() {
            out.insert("default", J::Null);
        }
        if options.keep_initial_default {
            out.insert("initial_default", raw_default.unwrap_or(J::Null));
        }
        schema.insert(name, J::Object(out));
    }
    schema
}

fn check_type_name(
    type_name: &str,
    span: Span,
    data_types: &DataTypes,
    version: &DslVersion,
    problems: &mut Problems,
) {
    if !is_primitive(type_name) && !data_types.contains_key(type_name) {
        problems.push(
            Problem::logic(103, span, format!("Illegal type name '{type_name}'"))
                .with_hint("use string, integer, float, boolean, list, dict, regex, textarea or a declared data type"),
        );
        return;
    }
    if props::OBJECT_TYPES_1_4.contains(&type_name) {
        gate(
            version,
            &format!("type '{type_name}'"),
            span,
            1,
            4,
            problems,
        );
    } else if type_name == "operation_name" {
        gate(
            version,
            &format!("type '{type_name}'"),
            span,
            1,
            5,
            problems,
        );
    }
}

/// Removes the `initial_default` bookkeeping from a parsed type's properties.
pub fn fix_properties(value: &mut J, key: &str) {
    if let Some(J::Object(properties)) = value.get_mut(key) {
        for (_, property) in properties.iter_mut() {
            if let J::Object(p) = property {
                p.shift_remove("initial_default");
            }
        }
    }
}

pub fn parse_data_types(
    section: Option<&Node>,
    version: &DslVersion,
    problems: &mut Problems,
) -> DataTypes {
    let definitions = Definitions::collect(section, problems);
    for (name, _, span) in &definitions.entries {
        if is_primitive(name) {
            problems.push(Problem::logic(
                104,
                *span,
                format!("Can't redefine primitive type {name}"),
            ));
        }
    }
    // Data types may use each other as property types: parse in dependency order by
    // resolving referenced types first (derived_from and property types).
    let mut parsed = DataTypes::new();
    let order = data_type_order(&definitions, problems);
    for name in order {
        let Some(&(_, node, _)) = definitions.find(name) else {
            continue;
        };
        if is_primitive(name) {
            continue;
        }
        let Some(entries) = schema::map(node, problems) else {
            continue;
        };
        allowed_keys(
            entries,
            &["properties", "description", "derived_from", "version"],
            problems,
        );
        let parent_name = schema::string(get(entries, "derived_from"), problems);
        if let Some(parent_name) = parent_name {
            if definitions.find(parent_name).is_none() {
                problems.push(Problem::logic(
                    103,
                    get(entries, "derived_from").map_or(node.span, |n| n.span),
                    format!("Missing definition for data type '{parent_name}' which is declared as derived by data type '{name}'"),
                ));
                continue;
            }
        }
        let options = SchemaOptions::properties(name);
        let mut properties = parse_property_schema(
            get(entries, "properties"),
            &parsed,
            version,
            &options,
            problems,
        );
        if let Some(parent) = parent_name.and_then(|p| parsed.get(p)) {
            let empty = Schema::new();
            let parent_properties = parent
                .get("properties")
                .and_then(J::as_object)
                .unwrap_or(&empty);
            match props::merge_schemas(parent_properties, &properties, &parsed) {
                Ok(merged) => properties = merged,
                Err(problem) => problems.push(problem),
            }
        } else if parent_name.is_some() {
            continue;
        }
        let mut result = Map::new();
        result.insert("properties", J::Object(properties));
        result.insert(
            "description",
            schema::string(get(entries, "description"), problems)
                .map_or(J::Null, |s| J::String(s.into())),
        );
        result.insert(
            "derived_from",
            parent_name.map_or(J::Null, |s| J::String(s.into())),
        );
        result.insert(
            "version",
            schema::string(get(entries, "version"), problems)
                .map_or(J::Null, |s| J::String(s.into())),
        );
        let mut result = J::Object(result);
        fix_properties(&mut result, "properties");
        parsed.insert(name, result);
    }
    // Restore document order.
    let mut ordered = DataTypes::new();
    for (name, _, _) in &definitions.entries {
        if let Some(value) = parsed.shift_remove(name) {
            ordered.insert(*name, value);
        }
    }
    ordered
}

/// Orders data types so every type comes after the types it derives from or uses.
fn data_type_order<'a>(definitions: &Definitions<'a>, problems: &mut Problems) -> Vec<&'a str> {
    let dependencies = |node: &Node| -> Vec<String> {
        let mut deps = Vec::new();
        if let Some(parent) = node.get("derived_from").and_then(Node::as_str) {
            deps.push(parent.to_string());
        }
        if let Some(properties) = node.get("properties").and_then(Node::as_map) {
            for (_, property) in properties {
                if let Some(t) = property.get("type").and_then(Node::as_str) {
                    deps.push(t.to_string());
                }
            }
        }
        deps
    };
    let mut order: Vec<&str> = Vec::new();
    let mut state: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(
        name: &'a str,
        definitions: &Definitions<'a>,
        dependencies: &dyn Fn(&Node) -> Vec<String>,
        state: &mut HashMap<&'a str, u8>,
        order: &mut Vec<&'a str>,
        path: &mut Vec<&'a str>,
        problems: &mut Problems,
    ) {
        match state.get(name) {
            Some(2) => return,
            Some(1) => {
                let start = path.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<&str> = path[start..].to_vec();
                cycle.push(name);
                // Reported at the first reference of the cycle (derived_from or a property type).
                let next = cycle.get(1).copied().unwrap_or(name);
                let span = definitions
                    .find(cycle[0])
                    .map_or(Span::default(), |(_, node, key)| {
                        node.get("derived_from")
                            .filter(|n| n.as_str() == Some(next))
                            .or_else(|| {
                                node.get("properties")?.as_map()?.iter().find_map(|(_, p)| {
                                    p.get("type").filter(|t| t.as_str() == Some(next))
                                })
                            })
                            .map_or(*key, |n| n.span)
                    });
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
            _ => {}
        }
        let Some(&(defined_name, node, _)) = definitions.find(name) else {
            return;
        };
        state.insert(defined_name, 1);
        path.push(defined_name);
        for dependency in dependencies(node) {
            if let Some(&(dep_name, _, _)) = definitions.find(&dependency) {
                visit(
                    dep_name,
                    definitions,
                    dependencies,
                    state,
                    order,
                    path,
                    problems,
                );
            }
        }
        path.pop();
        state.insert(defined_name, 2);
        order.push(defined_name);
    }
    for (name, _, _) in &definitions.entries {
        visit(
            name,
            definitions,
            &dependencies,
            &mut state,
            &mut order,
            &mut Vec::new(),
            problems,
        );
    }
    order
}

pub fn parse_node_types(
    section: Option<&Node>,
    data_types: &DataTypes,
    version: &DslVersion,
    problems: &mut Problems,
) -> Map {
    let definitions = Definitions::collect(section, problems);
    resolve_all(
        &definitions,
        "type",
        problems,
        |name, node, parent, problems| {
            let entries = schema::map(node, problems)?;
            allowed_keys(
                entries,
                &[
                    "derived_from",
                    "interfaces",
                    "properties",
                    "runtime_properties",
                ],
                problems,
            );
            let options = SchemaOptions::properties(name);
            let mut properties = parse_property_schema(
                get(entries, "properties"),
                data_types,
                version,
                &options,
                problems,
            );
            let mut runtime_properties = Map::new();
            // Documented as 1_5, but the reference never checks the version here.
            if let Some(runtime) = get(entries, "runtime_properties") {
                runtime_properties =
                    parse_property_schema(Some(runtime), data_types, version, &options, problems);
            }
            let mut interfaces =
                parse_type_interfaces(get(entries, "interfaces"), data_types, version, problems);
            let mut result = Map::new();
            if let Some(parent) = parent {
                let empty = Schema::new();
                let parent_props = parent
                    .get("properties")
                    .and_then(J::as_object)
                    .unwrap_or(&empty);
                properties = problems
                    .check(props::merge_schemas(parent_props, &properties, data_types))
                    .unwrap_or(properties);
                let parent_runtime = parent
                    .get("runtime_properties")
                    .and_then(J::as_object)
                    .unwrap_or(&empty);
                runtime_properties = problems
                    .check(props::merge_schemas(
                        parent_runtime,
                        &runtime_properties,
                        data_types,
                    ))
                    .unwrap_or(runtime_properties);
                let parent_interfaces = parent
                    .get("interfaces")
                    .and_then(J::as_object)
                    .unwrap_or(&empty);
                interfaces = merge_type_interfaces(parent_interfaces, &interfaces);
            }
            if let Some(derived) = node.get("derived_from").and_then(Node::as_str) {
                result.insert("derived_from", J::String(derived.into()));
            }
            result.insert("interfaces", J::Object(interfaces));
            result.insert("properties", J::Object(properties));
            result.insert("runtime_properties", J::Object(runtime_properties));
            result.insert("type_hierarchy", type_hierarchy(parent, name));
            let mut result = J::Object(result);
            fix_properties(&mut result, "properties");
            fix_properties(&mut result, "runtime_properties");
            Some(result)
        },
    )
}

pub fn parse_relationships(
    section: Option<&Node>,
    data_types: &DataTypes,
    version: &DslVersion,
    problems: &mut Problems,
) -> Map {
    let definitions = Definitions::collect(section, problems);
    resolve_all(
        &definitions,
        "relationship",
        problems,
        |name, node, parent, problems| {
            let entries = schema::map(node, problems)?;
            allowed_keys(
                entries,
                &[
                    "derived_from",
                    "properties",
                    "source_interfaces",
                    "target_interfaces",
                ],
                problems,
            );
            let options = SchemaOptions::properties(name);
            let mut properties = parse_property_schema(
                get(entries, "properties"),
                data_types,
                version,
                &options,
                problems,
            );
            let mut source = parse_type_interfaces(
                get(entries, "source_interfaces"),
                data_types,
                version,
                problems,
            );
            let mut target = parse_type_interfaces(
                get(entries, "target_interfaces"),
                data_types,
                version,
                problems,
            );
            if let Some(parent) = parent {
                let empty = Schema::new();
                let parent_props = parent
                    .get("properties")
                    .and_then(J::as_object)
                    .unwrap_or(&empty);
                properties = problems
                    .check(props::merge_schemas(parent_props, &properties, data_types))
                    .unwrap_or(properties);
                let parent_source = parent
                    .get("source_interfaces")
                    .and_then(J::as_object)
                    .unwrap_or(&empty);
                let parent_target = parent
                    .get("target_interfaces")
                    .and_then(J::as_object)
                    .unwrap_or(&empty);
                source = merge_type_interfaces(parent_source, &source);
                target = merge_type_interfaces(parent_target, &target);
            }
            let mut result = Map::new();
            if let Some(derived) = node.get("derived_from").and_then(Node::as_str) {
                result.insert("derived_from", J::String(derived.into()));
            }
            result.insert("properties", J::Object(properties));
            result.insert("source_interfaces", J::Object(source));
            result.insert("target_interfaces", J::Object(target));
            result.insert("name", J::String(name.into()));
            result.insert("type_hierarchy", type_hierarchy(parent, name));
            let mut result = J::Object(result);
            fix_properties(&mut result, "properties");
            Some(result)
        },
    )
}

/// Whether a value is a plain string usable as a name (not a function).
pub fn is_plain(value: &J) -> bool {
    !is_function(value)
}
