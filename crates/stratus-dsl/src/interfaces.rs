//! Interfaces and operations: parsing, the reference's merge rules (type over parent type,
//! node template over node type, relationship instance over relationship type) and turning
//! an operation's `implementation` into a plugin task or a script-plugin task.

use crate::json::{Map, Str, Value as J};

use crate::diag::{Problem, Problems};
use crate::props::{flatten, DataTypes};
use crate::schema::{self, allowed_keys, gate, get, optional_map};
use crate::types::{parse_property_schema, SchemaOptions};
use crate::version::DslVersion;
use crate::yaml::{Node, Span, Value};

const OPERATION_KEYS: &[&str] = &[
    "implementation",
    "inputs",
    "executor",
    "max_retries",
    "retry_interval",
    "timeout",
    "timeout_recoverable",
];

pub fn operation_mapping(implementation: &str, inputs: J) -> Map {
    Map::of([
        ("implementation", J::from(implementation)),
        ("inputs", inputs),
        ("executor", J::Null),
        ("max_retries", J::Null),
        ("retry_interval", J::Null),
        ("timeout", J::Null),
        ("timeout_recoverable", J::Null),
    ])
}

/// An operation with no implementation; one value shared by all of them.
fn no_op() -> Map {
    static NO_OP: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
    NO_OP
        .get_or_init(|| operation_mapping("", J::Object(Map::new())))
        .clone()
}

/// Parses one operation definition (string or mapping) into the reference's operation dict.
/// `type_inputs` selects input schemas (node types) or plain values (node templates).
fn parse_operation(
    node: &Node,
    type_inputs: bool,
    data_types: &DataTypes,
    version: &DslVersion,
    name: &dyn Fn() -> String,
    problems: &mut Problems,
) -> Option<Map> {
    match &node.value {
        Value::Str(s) => Some(operation_mapping(s, J::Object(Map::new()))),
        Value::Null => Some(no_op()),
        Value::Map(entries) => {
            schema::map(node, problems)?;
            allowed_keys(entries, OPERATION_KEYS, problems);
            let implementation =
                schema::string(get(entries, "implementation"), problems).unwrap_or("");
            let inputs = if type_inputs {
                let name = name();
                let options = SchemaOptions::inputs(&name);
                J::Object(parse_property_schema(
                    get(entries, "inputs"),
                    data_types,
                    version,
                    &options,
                    problems,
                ))
            } else {
                match get(entries, "inputs") {
                    None => J::Object(Map::new()),
                    Some(inputs) if inputs.is_null() => J::Object(Map::new()),
                    Some(inputs) if inputs.as_map().is_some() => inputs.to_json(),
                    Some(inputs) => {
                        problems.push(schema::expected(inputs, "dict"));
                        J::Object(Map::new())
                    }
                }
            };
            let mut op = operation_mapping(implementation, inputs);
            if let Some(executor) = schema::string(get(entries, "executor"), problems) {
                if executor != "central_deployment_agent" && executor != "host_agent" {
                    problems.push(Problem::logic(
                        28,
                        get(entries, "executor").map_or(node.span, |n| n.span),
                        format!("Operation '{}' has an illegal executor value '{executor}'. valid values are [central_deployment_agent,host_agent]", name()),
                    ));
                }
                op.insert("executor", J::String(executor.into()));
            }
            if let Some(retries) = get(entries, "max_retries").filter(|n| !n.is_null()) {
                gate(
                    version,
                    "max_retries",
                    schema::key_span(entries, "max_retries").unwrap_or(retries.span),
                    1,
                    1,
                    problems,
                );
                match retries.value {
                    Value::Int(i) if i >= -1 => {
                        op.insert("max_retries", J::from(i));
                    }
                    Value::Int(i) => problems.push(Problem::uncoded(
                        crate::diag::Kind::Value,
                        Some(retries.span),
                        format!("'max_retries' value must be either -1 to specify unlimited retries or a non negative number but got {i}."),
                    )),
                    _ => problems.push(schema::expected(retries, "integer")),
                }
            }
            for key in ["retry_interval", "timeout"] {
                if let Some(value) = get(entries, key).filter(|n| !n.is_null()) {
                    if key == "retry_interval" {
                        gate(
                            version,
                            key,
                            schema::key_span(entries, key).unwrap_or(value.span),
                            1,
                            1,
                            problems,
                        );
                    }
                    match value.value {
                        Value::Int(_) | Value::Float(_) => {
                            let json = value.to_json();
                            if json.as_f64().is_some_and(|f| f < 0.0) {
                                problems.push(Problem::uncoded(
                                    crate::diag::Kind::Value,
                                    Some(value.span),
                                    format!("'{key}' value must be a non-negative number but got {json}."),
                                ));
                            }
                            op.insert(key, json);
                        }
                        _ => problems.push(schema::expected(value, "float")),
                    }
                }
            }
            if let Some(recoverable) =
                schema::boolean(get(entries, "timeout_recoverable"), problems)
            {
                op.insert("timeout_recoverable", J::Bool(recoverable));
            }
            Some(op)
        }
        _ => {
            problems.push(schema::expected(node, "dict"));
            None
        }
    }
}

fn parse_interfaces(
    section: Option<&Node>,
    type_inputs: bool,
    data_types: &DataTypes,
    version: &DslVersion,
    problems: &mut Problems,
) -> Map {
    let entries = optional_map(section, problems);
    let mut interfaces = Map::with_capacity(entries.len());
    for (key, interface) in entries {
        let interface_name = key.as_str().unwrap_or_default();
        let ops = optional_map(Some(interface), problems);
        let mut operations = Map::with_capacity(ops.len());
        for (op_key, op_node) in ops {
            let op_name = op_key.as_str().unwrap_or_default();
            let full = || format!("{interface_name}.{op_name}");
            if let Some(op) =
                parse_operation(op_node, type_inputs, data_types, version, &full, problems)
            {
                operations.insert(op_name, J::Object(op));
            }
        }
        interfaces.insert(interface_name, J::Object(operations));
    }
    interfaces
}

pub fn parse_type_interfaces(
    section: Option<&Node>,
    data_types: &DataTypes,
    version: &DslVersion,
    problems: &mut Problems,
) -> Map {
    parse_interfaces(section, true, data_types, version, problems)
}

pub fn parse_template_interfaces(
    section: Option<&Node>,
    data_types: &DataTypes,
    version: &DslVersion,
    problems: &mut Problems,
) -> Map {
    parse_interfaces(section, false, data_types, version, problems)
}

/// Type over parent type: an operation defined in the child replaces the parent's.
pub fn merge_type_interfaces(overridden: &Map, overriding: &Map) -> Map {
    let mut merged = Map::new();
    for (name, parent_ops) in overridden {
        let empty = Map::new();
        let child_ops = overriding
            .get(name)
            .and_then(J::as_object)
            .unwrap_or(&empty);
        let mut ops = Map::new();
        for (op_name, op) in parent_ops.as_object().unwrap_or(&empty) {
            ops.insert(
                op_name.clone(),
                child_ops
                    .get(op_name)
                    .cloned()
                    .unwrap_or_else(|| op.clone()),
            );
        }
        for (op_name, op) in child_ops {
            ops.insert(op_name.clone(), op.clone());
        }
        merged.insert(name.clone(), J::Object(ops));
    }
    for (name, child_ops) in overriding {
        if !overridden.contains_key(name) {
            merged.insert(name.clone(), child_ops.clone());
        }
    }
    merged
}

/// Node template over node type (and relationship instance over relationship type).
pub fn merge_template_interfaces(
    type_interfaces: &Map,
    template_interfaces: &Map,
    span: Span,
    problems: &mut Problems,
) -> Map {
    let empty = Map::new();
    let mut merged = Map::with_capacity(type_interfaces.len() + template_interfaces.len());
    let mut names: Vec<&Str> = type_interfaces.keys().collect();
    for name in template_interfaces.keys() {
        if !type_interfaces.contains_key(name) {
            names.push(name);
        }
    }
    for name in names {
        let type_ops = type_interfaces
            .get(name)
            .and_then(J::as_object)
            .unwrap_or(&empty);
        let template_ops = template_interfaces
            .get(name)
            .and_then(J::as_object)
            .unwrap_or(&empty);
        let mut ops = Map::with_capacity(type_ops.len() + template_ops.len());
        let mut op_names: Vec<&Str> = type_ops.keys().collect();
        for op_name in template_ops.keys() {
            if !type_ops.contains_key(op_name) {
                op_names.push(op_name);
            }
        }
        for op_name in op_names {
            let merged_op = merge_template_operation(
                type_ops.get(op_name).and_then(J::as_object),
                template_ops.get(op_name).and_then(J::as_object),
                span,
                problems,
            );
            ops.insert(op_name.clone(), J::Object(merged_op));
        }
        merged.insert(name.clone(), J::Object(ops));
    }
    merged
}

/// Whether `op` equals [`no_op`]: every operation key, an empty implementation and inputs,
/// and nothing else set.
fn is_no_op(op: &Map) -> bool {
    op.len() == OPERATION_KEYS.len()
        && op.iter().all(|(key, value)| match key.as_str() {
            "implementation" => value.as_str() == Some(""),
            "inputs" => value.as_object().is_some_and(Map::is_empty),
            "executor" | "max_retries" | "retry_interval" | "timeout" | "timeout_recoverable" => {
                value.is_null()
            }
            _ => false,
        })
}

/// Flattens a type operation's input schemas into values and overlays the template's.
fn merge_inputs(schema_inputs: &Map, instance_inputs: &Map, span: Span) -> Result<Map, Problem> {
    let mut merged = flatten(schema_inputs);
    for (k, v) in instance_inputs {
        merged.insert(k.clone(), v.clone());
    }
    for (k, v) in schema_inputs {
        if let Some(type_name) = v.get("type") {
            if let Some(J::Object(value)) = merged.get_mut(k) {
                value.insert("type", type_name.clone());
            }
        }
    }
    let mut missing: Vec<&Str> = schema_inputs
        .keys()
        .filter(|k| !merged.contains_key(k))
        .collect();
    if !missing.is_empty() {
        missing.sort();
        let message = if missing.len() == 1 {
            format!("Input '{}' is missing a value", missing[0])
        } else {
            format!(
                "Inputs {} are missing a value",
                missing
                    .iter()
                    .map(|m| format!("'{m}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(Problem::logic(107, span, message));
    }
    Ok(merged)
}

fn merge_template_operation(
    type_op: Option<&Map>,
    template_op: Option<&Map>,
    span: Span,
    problems: &mut Problems,
) -> Map {
    let empty = Map::new();
    let inputs_of = |op: &Map| {
        op.get("inputs")
            .and_then(J::as_object)
            .cloned()
            .unwrap_or_default()
    };
    match (type_op, template_op) {
        (None, Some(template)) => template.clone(),
        (None, None) => no_op(),
        (Some(type_op), None) => {
            let mut op = type_op.clone();
            let inputs = J::Object(
                problems
                    .check(merge_inputs(&inputs_of(type_op), &empty, span))
                    .unwrap_or_default(),
            );
            // Most type operations declare no inputs: the type's operation is then kept
            // as it is (shared), not copied to set the same empty inputs.
            let unchanged = |old: &J| {
                old.as_object().is_some_and(Map::is_empty)
                    && inputs.as_object().is_some_and(Map::is_empty)
            };
            if !op.get("inputs").is_some_and(unchanged) {
                op.insert("inputs", inputs);
            }
            op
        }
        (Some(type_op), Some(template)) => {
            if is_no_op(template) {
                return no_op();
            }
            if is_no_op(type_op) {
                return template.clone();
            }
            let template_impl = template
                .get("implementation")
                .and_then(J::as_str)
                .unwrap_or("");
            let type_impl = type_op
                .get("implementation")
                .and_then(J::as_str)
                .unwrap_or("");
            let implementation = if template_impl.is_empty() {
                type_impl
            } else {
                template_impl
            };
            let same = implementation == type_impl;
            let inputs = if same {
                problems
                    .check(merge_inputs(
                        &inputs_of(type_op),
                        &inputs_of(template),
                        span,
                    ))
                    .unwrap_or_default()
            } else {
                inputs_of(template)
            };
            let mut op = operation_mapping(implementation, J::Object(inputs));
            for key in [
                "executor",
                "max_retries",
                "retry_interval",
                "timeout",
                "timeout_recoverable",
            ] {
                let template_value = template.get(key).cloned().unwrap_or(J::Null);
                let value = if !same || !template_value.is_null() {
                    template_value
                } else {
                    type_op.get(key).cloned().unwrap_or(J::Null)
                };
                op.insert(key, value);
            }
            op
        }
    }
}

/// What an operation's implementation resolves to.
pub struct Processed {
    pub operation: Map,
    /// The script plugin copied the inputs (the interface's inputs are then not evaluated).
    pub copied_inputs: bool,
}

/// The reference's `process_operation` for node and relationship operations.
pub fn process_operation(
    name: &str,
    op: &Map,
    plugins: &Map,
    resource_exists: &dyn Fn(&str) -> bool,
    error_code: i32,
    partial_message: &dyn Fn() -> String,
    span: Span,
) -> Result<Processed, Problem> {
    let implementation = op.get("implementation").and_then(J::as_str).unwrap_or("");
    if implementation.is_empty() {
        return Ok(Processed {
            operation: no_op_processed(),
            copied_inputs: false,
        });
    }
    let inputs = op.get("inputs").cloned().unwrap_or(J::Object(Map::new()));
    let mut inputs_types = Map::new();
    if let J::Object(map) = &inputs {
        for (k, v) in map {
            if let Some(t) = v.as_object().and_then(|o| o.get("type")) {
                inputs_types.insert(k.clone(), t.clone());
            }
        }
    }
    let mut executor = op.get("executor").cloned().unwrap_or(J::Null);
    let build = |plugin: &str, mapping: &str, inputs: J, executor: J| {
        let field = |key: &str| op.get(key).cloned().unwrap_or(J::Null);
        let mut result = Map::of([
            ("plugin", J::from(plugin)),
            ("operation", J::from(mapping)),
            ("executor", executor),
            ("inputs", inputs),
            ("has_intrinsic_functions", J::Bool(false)),
            ("max_retries", field("max_retries")),
            ("retry_interval", field("retry_interval")),
            ("timeout", field("timeout")),
            ("timeout_recoverable", field("timeout_recoverable")),
        ]);
        if !inputs_types.is_empty() {
            result.insert("inputs_types", J::Object(inputs_types.clone()));
        }
        result
    };
    let candidates: Vec<&Str> = plugins
        .keys()
        .filter(|p| {
            implementation
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        })
        .collect();
    let is_url = has_scheme(implementation);
    // A URL is run by the script plugin whether or not it also names a file.
    let local = !is_url && resource_exists(strip_namespace(implementation));
    let is_script = !is_url && !local && implementation.trim().contains('\n');
    if is_url || is_script || local {
        let inputs_map = inputs.as_object().cloned().unwrap_or_default();
        if inputs_map.contains_key("script_path") || inputs_map.contains_key("script_source") {
            return Err(Problem::logic(60, span, format!("Cannot define 'script_path' property in '{implementation}' for operation '{name}'")));
        }
        let mut inputs_map = inputs_map;
        let property = if is_script {
            "script_source"
        } else {
            "script_path"
        };
        inputs_map.insert(property, J::from(implementation));
        if executor.is_null() {
            executor = J::String("auto".into());
        }
        let Some(script_plugin) = plugins.keys().find(|p| p.ends_with("script")) else {
            return Err(Problem::logic(
                61,
                span,
                format!("Script plugin is not defined but it is required for mapping 'script_runner.tasks.run' of operation '{name}'"),
            )
            .with_hint("import Cloudify's types.yaml, which declares the `script` plugin"));
        };
        let result = build(
            script_plugin,
            "script_runner.tasks.run",
            J::Object(inputs_map),
            executor,
        );
        return Ok(Processed {
            operation: result,
            copied_inputs: true,
        });
    }
    if candidates.len() > 1 {
        return Err(Problem::logic(
            91,
            span,
            format!(
                "Ambiguous operation mapping. [operation={name}, plugins={:?}]",
                candidates.iter().map(|c| c.as_str()).collect::<Vec<_>>()
            ),
        ));
    }
    let Some(plugin) = candidates.first() else {
        return Err(Problem::logic(
            error_code,
            span,
            format!(
                "Could not extract plugin or a script resource is not found from operation mapping/script-path '{implementation}', which is declared for operation '{name}'. {}",
                partial_message()
            )
            .replace(". In", ".In")
            .replace(". in", ".in"),
        )
        .with_hint(format!(
            "declare a plugin whose name prefixes the implementation (plugins: {}), or ship the script with the blueprint",
            plugins.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    };
    if executor.is_null() {
        executor = plugins
            .get(plugin.as_str())
            .and_then(|p| p.get("executor"))
            .cloned()
            .unwrap_or(J::Null);
    }
    let mapping = &implementation[plugin.len() + 1..];
    Ok(Processed {
        operation: build(plugin, mapping, inputs, executor),
        copied_inputs: false,
    })
}

/// What an operation with no implementation resolves to; the same for every one of them.
fn no_op_processed() -> Map {
    static NO_OP: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
    NO_OP
        .get_or_init(|| {
            Map::of([
                ("plugin", J::from("")),
                ("operation", J::from("")),
                ("executor", J::Null),
                ("inputs", J::Object(Map::new())),
                ("has_intrinsic_functions", J::Bool(false)),
                ("max_retries", J::Null),
                ("retry_interval", J::Null),
                ("timeout", J::Null),
                ("timeout_recoverable", J::Null),
            ])
        })
        .clone()
}

/// `interface.operation`. Every template of a type repeats the same few names, each too
/// long to be stored inline: they are made once per thread and shared.
fn full_name(interface: &Str, operation: &Str) -> Str {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type Names = HashMap<(Str, Str), Str, foldhash::fast::FixedState>;
    thread_local! {
        static NAMES: RefCell<Names> = RefCell::new(Names::default());
    }
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        let key = (interface.clone(), operation.clone());
        if let Some(name) = names.get(&key) {
            return name.clone();
        }
        if names.len() >= 4096 {
            names.clear();
        }
        let name = Str::from(format!("{interface}.{operation}"));
        names.insert(key, name.clone());
        name
    })
}

pub fn has_scheme(text: &str) -> bool {
    // urlparse(...).scheme != '': letters, digits, + - . before a colon, starting with a letter.
    match text.find(':') {
        Some(index) if index > 0 => {
            let scheme = &text[..index];
            scheme.as_bytes()[0].is_ascii_alphabetic()
                && scheme
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.')
        }
        _ => false,
    }
}

fn strip_namespace(value: &str) -> &str {
    match value.rfind("--") {
        Some(index) => &value[index + 2..],
        None => value,
    }
}

/// Processes every operation of every interface: the `operations` dict of a node, keyed by
/// `interface.op` and, where unambiguous, by the short operation name.
/// What an operation's implementation is resolved against: the declared plugins and the
/// files shipped with the blueprint.
pub struct Resolvers<'a> {
    pub plugins: &'a Map,
    pub resource_exists: &'a dyn Fn(&str) -> bool,
}

pub fn process_interfaces(
    interfaces: &Map,
    resolvers: &Resolvers,
    error_code: i32,
    partial_message: &dyn Fn() -> String,
    span: Span,
    written: Option<&Node>,
    problems: &mut Problems,
) -> (Map, Vec<(String, String)>) {
    let count: usize = interfaces
        .values()
        .filter_map(J::as_object)
        .map(Map::len)
        .sum();
    let mut operations: Map = Map::with_capacity(2 * count);
    let mut ambiguous: Vec<Str> = Vec::new();
    let mut copied: Vec<(String, String)> = Vec::new();
    for (interface_name, interface) in interfaces {
        let Some(ops) = interface.as_object() else {
            continue;
        };
        for (op_name, op) in ops {
            let Some(op) = op.as_object() else { continue };
            let message = || format!("In interface '{interface_name}' {}", partial_message());
            let processed = match process_operation(
                op_name,
                op,
                resolvers.plugins,
                resolvers.resource_exists,
                error_code,
                &message,
                span,
            ) {
                Ok(processed) => processed,
                Err(mut problem) => {
                    // Point at the operation as written: its implementation, or for a script
                    // that also sets script_path, that input.
                    if let Some(op_node) = written
                        .and_then(|w| w.get(interface_name))
                        .and_then(|i| i.get(op_name))
                    {
                        let place = if problem.code == Some(60) {
                            op_node
                                .get("inputs")
                                .and_then(|inputs| {
                                    inputs
                                        .get_entry("script_path")
                                        .or_else(|| inputs.get_entry("script_source"))
                                })
                                .map(|(k, _)| k.span)
                        } else {
                            None
                        };
                        problem.span = Some(place.unwrap_or_else(|| {
                            op_node
                                .get("implementation")
                                .map_or(op_node.span, |n| n.span)
                        }));
                    }
                    problems.push(problem);
                    continue;
                }
            };
            if processed.copied_inputs {
                copied.push((interface_name.to_string(), op_name.to_string()));
            }
            if operations.contains_key(op_name) || ambiguous.contains(op_name) {
                operations.shift_remove(op_name);
                ambiguous.push(op_name.clone());
            } else {
                operations.insert(op_name.clone(), J::Object(processed.operation.clone()));
            }
            operations.insert(
                full_name(interface_name, op_name),
                J::Object(processed.operation),
            );
        }
    }
    (operations, copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_op_is_recognized_by_value() {
        assert!(is_no_op(&no_op()));
        assert!(is_no_op(&operation_mapping("", J::Object(Map::new()))));
        assert!(!is_no_op(&operation_mapping("p.x", J::Object(Map::new()))));
        let inputs = Map::of([("a", J::from(1))]);
        assert!(!is_no_op(&operation_mapping("", J::Object(inputs))));
        let mut with_executor = no_op();
        with_executor.insert("executor", J::from("host_agent"));
        assert!(!is_no_op(&with_executor));
        let mut extra = no_op();
        extra.insert("other", J::Null);
        assert!(!is_no_op(&extra));
        let mut missing = no_op();
        missing.shift_remove("timeout");
        assert!(!is_no_op(&missing));
    }
}
