//! Property schemas and values: defaults, required properties, types and data types.
//!
//! A port of the reference's `parse_value` / `merge_schema_and_instance_properties` /
//! `merge_schemas`, over JSON values. A value that is an intrinsic function is accepted for
//! any type: it is checked when it is evaluated.

use crate::json::{Map, Value as J};

use crate::diag::Problem;
use crate::functions::is_function;
use crate::yaml::{Node, Span};

pub type Schema = Map;
pub type DataTypes = Map;

pub const PRIMITIVE_TYPES: &[&str] = &[
    "string",
    "integer",
    "float",
    "boolean",
    "list",
    "dict",
    "regex",
    "textarea",
    "blueprint_id",
    "deployment_id",
    "capability_value",
    "scaling_group",
    "node_id",
    "node_type",
    "node_instance",
    "secret_key",
    "operation_name",
];

/// The object-based input types added in DSL 1_4 (`operation_name` came in 1_5).
pub const OBJECT_TYPES_1_4: &[&str] = &[
    "blueprint_id",
    "deployment_id",
    "capability_value",
    "scaling_group",
    "node_id",
    "node_type",
    "node_instance",
    "secret_key",
];

pub fn is_primitive(type_name: &str) -> bool {
    PRIMITIVE_TYPES.contains(&type_name)
}

/// Messages and place used when a property problem is reported.
pub struct Context<'a> {
    pub undefined: &'a str,
    pub missing: &'a str,
    pub node_name: &'a str,
    pub span: Span,
    pub raise_on_missing: bool,
    /// The instance values as written, to point problems at the exact key or value.
    pub source: Option<&'a Node>,
    /// Where a missing top-level property is reported (the element that lacks it).
    pub owner: Span,
}

impl Context<'_> {
    /// The position of the value at `path` (or of its key), falling back to `span`.
    fn at(&self, path: &[String], key: bool) -> Span {
        let Some(mut node) = self.source else {
            return self.span;
        };
        let mut key_span = self.span;
        for step in path {
            match node.get_entry(step) {
                Some((k, v)) => {
                    key_span = k.span;
                    node = v;
                }
                None => return self.span,
            }
        }
        if key {
            key_span
        } else {
            node.span
        }
    }

    fn missing_at(&self, path: &[String]) -> Span {
        if path.is_empty() {
            self.owner
        } else {
            self.at(path, false)
        }
    }
}

fn fill(template: &str, node_name: &str, property: &str) -> String {
    template.replace("{0}", node_name).replace("{1}", property)
}

fn describe(path: &[String], name: Option<&str>) -> String {
    let mut parts: Vec<&str> = path.iter().map(String::as_str).collect();
    if let Some(name) = name {
        parts.push(name);
    }
    parts.join(".")
}

/// `{name: default}` for every property that has a default.
pub fn flatten(schema: &Schema) -> Map {
    let mut result = Map::new();
    for (name, property) in schema {
        if let Some(default) = property.get("default") {
            result.insert(name.clone(), default.clone());
        }
    }
    result
}

/// The instance's property values (consumed) checked against `schema`, over its defaults.
pub fn merge_instance(
    mut instance: Map,
    schema: &Schema,
    data_types: &DataTypes,
    context: &Context,
) -> Result<Map, Problem> {
    // The schema's defaults are read in place: no flattened copy per template.
    merge_flattened(&mut instance, schema, None, data_types, context, &[])
}

/// Whether a value given for a property of type `type_name` is kept as it is: no type, a
/// function call, or a primitive of that type.
fn kept_as_is(value: &J, type_name: Option<&str>) -> bool {
    match type_name {
        None => true,
        Some(type_name) => {
            is_function(value) || (is_primitive(type_name) && simple_type_ok(value, type_name))
        }
    }
}

/// `instance`'s values are taken out of it as they are merged.
fn merge_flattened(
    instance: &mut Map,
    schema: &Schema,
    flattened: Option<&Map>,
    data_types: &DataTypes,
    context: &Context,
    path: &[String],
) -> Result<Map, Problem> {
    // `flattened` (defaults over derived values) or, when `None`, the schema's own defaults:
    // what [`flatten`] would give for `schema`.
    fn default_of<'a>(
        flattened: Option<&'a Map>,
        key: &str,
        property: Option<&'a J>,
    ) -> Option<&'a J> {
        match flattened {
            Some(flattened) => flattened.get(key),
            None => property.and_then(|p| p.get("default")),
        }
    }
    for key in instance.keys() {
        if !schema.contains_key(key) {
            let mut key_path = path.to_vec();
            key_path.push(key.to_string());
            return Err(Problem::logic(
                106,
                context.at(&key_path, true),
                fill(
                    context.undefined,
                    context.node_name,
                    &describe(path, Some(key)),
                ),
            )
            .with_hint(format!(
                "declared properties: {}",
                schema.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    // The instance's values over the flattened defaults (only ever looked up by key).
    let external = instance.get("use_external_resource").or_else(|| {
        default_of(
            flattened,
            "use_external_resource",
            schema.get("use_external_resource"),
        )
    });
    let use_external = external.is_some_and(truthy);
    if use_external && external.is_some_and(is_function) {
        return Err(Problem::logic(
            219,
            context.span,
            "Only boolean values are allowed for `use_external_resource` property, don't use intrinsic functions.",
        ));
    }
    let mut result = Map::with_capacity(schema.len());
    for (key, property) in schema {
        let default = default_of(flattened, key, Some(property));
        let given = instance.swap_remove(key.as_str());
        let Some(value) = given.as_ref().or(default) else {
            let required = property
                .get("required")
                .and_then(J::as_bool)
                .unwrap_or(true)
                && !use_external;
            if required && context.raise_on_missing {
                return Err(Problem::logic(
                    107,
                    context.missing_at(path),
                    fill(
                        context.missing,
                        context.node_name,
                        &describe(path, Some(key)),
                    ),
                ));
            }
            continue;
        };
        let type_name = property.get("type").and_then(J::as_str);
        let parsed = if kept_as_is(value, type_name) {
            match given {
                Some(given) => given,
                None => default.cloned().unwrap_or_default(),
            }
        } else {
            let mut property_path = path.to_vec();
            property_path.push(key.to_string());
            parse_value(
                value,
                default,
                type_name,
                data_types,
                context,
                &property_path,
            )?
        };
        result.push_new(key.clone(), parsed);
    }
    Ok(result)
}

pub fn truthy(value: &J) -> bool {
    match value {
        J::Null => false,
        J::Bool(b) => *b,
        J::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        J::String(s) => !s.is_empty(),
        J::Array(a) => !a.is_empty(),
        J::Object(o) => !o.is_empty(),
    }
}

/// Python's `str()` of a JSON value, for messages.
pub fn python_repr(value: &J) -> String {
    match value {
        J::Null => "None".into(),
        J::Bool(true) => "True".into(),
        J::Bool(false) => "False".into(),
        J::String(s) => s.to_string(),
        J::Number(n) => n.to_string(),
        J::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(python_inner_repr)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        J::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("'{k}': {}", python_inner_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_inner_repr(value: &J) -> String {
    match value {
        J::String(s) => format!("'{s}'"),
        other => python_repr(other),
    }
}

pub fn simple_type_ok(value: &J, type_name: &str) -> bool {
    match type_name {
        "integer" => value.is_i64() || value.is_u64(),
        "float" => value.is_number(),
        "boolean" => value.is_boolean(),
        "list" => value.is_array(),
        "dict" => value.is_object(),
        "regex" => value.as_str().is_some_and(regex_compiles),
        _ => true,
    }
}

fn regex_compiles(pattern: &str) -> bool {
    // A light check for balanced groups and classes; Python's `re` would reject these too.
    let mut depth = 0i32;
    let mut in_class = false;
    let mut escaped = false;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && !in_class && !escaped
}

pub fn parse_value(
    value: &J,
    derived: Option<&J>,
    type_name: Option<&str>,
    data_types: &DataTypes,
    context: &Context,
    path: &[String],
) -> Result<J, Problem> {
    let type_name = match type_name {
        Some(type_name) if !kept_as_is(value, Some(type_name)) => type_name,
        _ => return Ok(value.clone()),
    };
    // A primitive not of its type is reported below.
    if !is_primitive(type_name) {
        let Some(data_type) = data_types.get(type_name) else {
            return Err(Problem::uncoded(
                crate::diag::Kind::Value,
                Some(context.span),
                format!(
                    "Unexpected type defined in property schema for property '{}' - unknown type is '{type_name}'",
                    describe(path, None)
                ),
            ));
        };
        if let J::Object(instance) = value {
            let empty = Map::new();
            let schema = data_type
                .get("properties")
                .and_then(J::as_object)
                .unwrap_or(&empty);
            let mut flattened = flatten(schema);
            if let Some(J::Object(derived)) = derived {
                for (k, v) in derived {
                    flattened.insert(k.clone(), v.clone());
                }
            }
            return merge_flattened(
                &mut instance.clone(),
                schema,
                Some(&flattened),
                data_types,
                context,
                path,
            )
            .map(J::Object);
        }
    }
    let message = if path.is_empty() {
        format!(
            "Property type validation failed in '{}': the defined type is '{type_name}', yet it was assigned with the value '{}'",
            context.node_name,
            python_repr(value)
        )
    } else {
        format!(
            "Property type validation failed in '{}': property '{}' type is '{type_name}', yet it was assigned with the value '{}'",
            context.node_name,
            describe(path, None),
            python_repr(value)
        )
    };
    Err(Problem::logic(105, context.at(path, false), message))
}

/// Merges a derived type's property schemas over its parent's.
pub fn merge_schemas(
    overridden: &Schema,
    overriding: &Schema,
    data_types: &DataTypes,
) -> Result<Schema, Problem> {
    let mut merged = overriding.clone();
    for (key, parent_property) in overridden {
        let Some(child_property) = overriding.get(key) else {
            merged.insert(key.clone(), parent_property.clone());
            continue;
        };
        let child_type = child_property.get("type").and_then(J::as_str);
        let parent_type = parent_property.get("type").and_then(J::as_str);
        let parent_default = parent_property.get("default").filter(|d| !d.is_null());
        if let (Some(child_type), Some(parent_default)) = (child_type, parent_default) {
            if Some(child_type) == parent_type
                && data_types.contains_key(child_type)
                && !is_primitive(child_type)
            {
                let initial = child_property
                    .get("initial_default")
                    .filter(|d| !d.is_null())
                    .cloned()
                    .unwrap_or(J::Object(Map::new()));
                let context = Context {
                    undefined: "illegal state",
                    missing: "illegal state",
                    node_name: "illegal state",
                    span: Span::default(),
                    raise_on_missing: false,
                    source: None,
                    owner: Span::default(),
                };
                let default = parse_value(
                    &initial,
                    Some(parent_default),
                    Some(child_type),
                    data_types,
                    &context,
                    &[],
                )?;
                if truthy(&default) {
                    if let Some(J::Object(property)) = merged.get_mut(key) {
                        property.insert("default", default);
                    }
                }
            }
        }
    }
    Ok(merged)
}
