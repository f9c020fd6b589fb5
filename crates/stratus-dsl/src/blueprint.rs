//! The whole parse: main document → imports merged → every section checked and resolved →
//! the blueprint plan (the reference's `parse_from_path` output), or every problem found.

use crate::json::{Map, Value as J};

use crate::cache::{fingerprint, DocumentCache};
use crate::diag::{Diagnostic, Problem, Problems};
use crate::functions::{self, Context, Environment, Scope};
use crate::import::ImportLoader;
use crate::imports;
use crate::plan_tree::Plan;
use crate::schema::{self, allowed_keys, gate};
use crate::sections;
use crate::templates::{self, Catalogs};
use crate::types;
use crate::version::{self, DslVersion};
use std::collections::HashMap;

use crate::yaml::{Node, Span, Value};

const TOP_LEVEL: &[&str] = &[
    "tosca_definitions_version",
    "description",
    "imports",
    "dsl_definitions",
    "metadata",
    "inputs",
    "plugins",
    "node_types",
    "relationships",
    "node_templates",
    "policy_types",
    "policy_triggers",
    "groups",
    "policies",
    "workflows",
    "outputs",
    "data_types",
    "capabilities",
    "imported_blueprints",
    "namespaces_mapping",
    "labels",
    "blueprint_labels",
    "deployment_settings",
    "resource_tags",
];

/// A parsed blueprint: the plan before any deployment inputs are applied.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub plan: Plan,
    pub version: DslVersion,
    /// Locations of every document read, main first.
    pub files: Vec<String>,
    /// Where each function call is written (keyed by its JSON text), for diagnostics.
    pub function_spans: std::sync::Arc<FunctionSpans>,
    /// Where each input is declared.
    pub input_spans: HashMap<String, Span>,
    /// Script-plugin operations whose interface inputs are kept as written (see
    /// [`templates::ParsedTemplates::script_operations`]).
    pub script_operations: HashMap<String, Vec<String>>,
    /// Whether any document holds a `get_property` call: only then does planning need a
    /// copy of the node properties as written.
    pub reads_node_properties: bool,
}

/// Where each function call is written, keyed by the call's JSON text.
pub type FunctionSpans = HashMap<String, Span, foldhash::fast::FixedState>;

/// Records the position of every function call in a document.
fn function_spans(node: &Node, spans: &mut FunctionSpans) {
    match &node.value {
        Value::Map(entries) => {
            if entries.len() <= 2
                && entries
                    .iter()
                    .any(|(k, _)| k.as_str().is_some_and(functions::is_function_name))
            {
                let mut text = String::new();
                if json_text(node, &mut text) {
                    // Every key is a string: a call is function keys plus optionally `type`.
                    let call = entries.iter().all(|(k, _)| {
                        k.as_str()
                            .is_some_and(|k| k == "type" || functions::is_function_name(k))
                    });
                    if call {
                        spans.entry(text).or_insert(node.span);
                    }
                } else {
                    let json = node.to_json();
                    if functions::is_function(&json) {
                        spans.entry(json.to_string()).or_insert(node.span);
                    }
                }
            }
            for (_, value) in entries {
                function_spans(value, spans);
            }
        }
        Value::Seq(items) => items.iter().for_each(|item| function_spans(item, spans)),
        _ => {}
    }
}

/// Appends `node.to_json().to_string()` to `out` without building the JSON value, for nodes
/// of strings, integers, booleans, nulls, lists and string-keyed mappings. Returns false
/// (with `out` unspecified) for anything else (floats, other keys), which the caller
/// converts the long way.
fn json_text(node: &Node, out: &mut String) -> bool {
    match &node.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(_) => return false,
        Value::Str(s) => json_string(s, out),
        Value::Seq(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                if !json_text(item, out) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (index, (key, value)) in entries.iter().enumerate() {
                let Some(key) = key.as_str() else {
                    return false;
                };
                if index > 0 {
                    out.push(',');
                }
                json_string(key, out);
                out.push(':');
                if !json_text(value, out) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    true
}

/// A JSON string literal exactly as serde_json writes it.
fn json_string(s: &str, out: &mut String) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&J::from(s.to_string()).to_string());
    }
}

/// Parses `text` (the main blueprint at `location`) with its imports.
pub fn parse(
    text: &str,
    location: &str,
    loader: &dyn ImportLoader,
    cache: &DocumentCache,
) -> Result<Blueprint, Vec<Diagnostic>> {
    let mut problems = Problems::default();
    let files_main = vec![location.to_string()];
    let main = match imports::load_document(text, 0) {
        Ok(main) => main,
        Err(problem) => return Err(vec![problem.locate(&files_main)]),
    };
    if main.as_map().is_none() {
        return Err(vec![schema::expected(&main, "dict").locate(&files_main)]);
    }
    let version = match version::extract(&main) {
        Ok(version) => version,
        Err(problem) => return Err(vec![problem.locate(&files_main)]),
    };
    if let Some((definitions, _)) = main
        .get_entry("dsl_definitions")
        .filter(|(_, n)| !n.is_null())
    {
        gate(
            &version,
            "dsl_definitions",
            definitions.span,
            1,
            2,
            &mut problems,
        );
    }
    let merged = imports::resolve(
        main,
        location,
        version.clone(),
        loader,
        cache,
        &mut problems,
    );
    let files = merged.files.clone();
    let walk = || {
        let mut spans = FunctionSpans::default();
        function_spans(&merged.document, &mut spans);
        spans
    };
    // A very large document's calls are collected on another thread while the sections are
    // built (only the function checks at the end read them). Measured on two cores: 4% off
    // 10,000 templates, 4% on 1,000 (where template parsing has both cores already).
    let large = merged
        .document
        .get("node_templates")
        .and_then(Node::as_map)
        .is_some_and(|templates| templates.len() >= 4096)
        && crate::parallel::two_cores();
    let (plan, script_operations, spans) = if large {
        std::thread::scope(|scope| {
            let walking = scope.spawn(walk);
            let spans = || {
                walking
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            };
            build(
                &merged.document,
                &version,
                loader,
                spans,
                cache,
                &mut problems,
            )
        })
    } else {
        build(
            &merged.document,
            &version,
            loader,
            walk,
            cache,
            &mut problems,
        )
    };
    let input_spans = merged
        .document
        .get("inputs")
        .and_then(Node::as_map)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| Some((k.as_str()?.to_string(), k.span)))
        .collect();
    if problems.is_empty() {
        // Every call written in any document is in `spans`, keyed by its JSON text.
        let reads_node_properties = spans.keys().any(|call| call.contains("\"get_property\""));
        Ok(Blueprint {
            plan,
            version,
            files,
            function_spans: std::sync::Arc::new(spans),
            input_spans,
            script_operations,
            reads_node_properties,
        })
    } else {
        Err(problems
            .list
            .into_iter()
            .map(|p| p.locate(&files))
            .collect())
    }
}

/// The plan of `document`, its script-copied operations, and where its function calls are
/// written (`spans`, asked for only when the function checks need them).
fn build(
    document: &Node,
    version: &DslVersion,
    loader: &dyn ImportLoader,
    spans: impl FnOnce() -> FunctionSpans,
    cache: &DocumentCache,
    problems: &mut Problems,
) -> (Plan, HashMap<String, Vec<String>>, FunctionSpans) {
    let Some(entries) = schema::map(document, problems) else {
        return (Plan::new(J::Null), HashMap::new(), spans());
    };
    allowed_keys(entries, TOP_LEVEL, problems);
    let section = |name: &str| schema::get(entries, name);
    // Version-gated sections are reported at their key.
    for (name, major, minor) in [
        ("description", 1, 2),
        ("data_types", 1, 2),
        ("policies", 1, 3),
    ] {
        if let Some((key, _)) = entries
            .iter()
            .find(|(k, v)| k.as_str() == Some(name) && !v.is_null())
        {
            gate(version, name, key.span, major, minor, problems);
        }
    }
    // Every operation asks whether its implementation is a file shipped with the blueprint;
    // most implementations repeat, and files do not change during a parse.
    let known =
        std::sync::Mutex::new(HashMap::<String, bool, foldhash::fast::FixedState>::default());
    let resource_exists = |path: &str| {
        let mut known = known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&exists) = known.get(path) {
            return exists;
        }
        let exists = loader.resource_exists(path);
        known.insert(path.to_string(), exists);
        exists
    };

    let data_types = types::parse_data_types(section("data_types"), version, problems);
    // Type sections resolve the same way for the same definitions: reuse earlier results.
    let data_types_text = J::Object(data_types.clone()).to_string();
    let salt = [version.raw.as_ref(), data_types_text.as_str()];
    let node_types = cache.resolve_section(
        fingerprint(
            section("node_types"),
            &[&salt[..], &["node_types"]].concat(),
        ),
        || {
            let mut found = Problems::default();
            let resolved =
                types::parse_node_types(section("node_types"), &data_types, version, &mut found);
            let clean = found.is_empty();
            problems.list.extend(found.list);
            (resolved, clean)
        },
    );
    let relationships = cache.resolve_section(
        fingerprint(
            section("relationships"),
            &[&salt[..], &["relationships"]].concat(),
        ),
        || {
            let mut found = Problems::default();
            let resolved = types::parse_relationships(
                section("relationships"),
                &data_types,
                version,
                &mut found,
            );
            let clean = found.is_empty();
            problems.list.extend(found.list);
            (resolved, clean)
        },
    );
    let plugins = sections::parse_plugins(section("plugins"), version, problems);
    let inputs = sections::parse_inputs(section("inputs"), &data_types, version, problems);
    let catalogs = Catalogs {
        node_types: &node_types,
        relationships: &relationships,
        data_types: &data_types,
        plugins: &plugins,
        version,
        resource_exists: &resource_exists,
    };
    // Relationship type operations must resolve too (code 19).
    for (name, relationship) in relationships.iter() {
        for side in ["source_interfaces", "target_interfaces"] {
            if let Some(interfaces) = relationship.get(side).and_then(J::as_object) {
                let span = section("relationships")
                    .and_then(|s| s.get_entry(name))
                    .map_or(Span::default(), |(k, _)| k.span);
                let _ = crate::interfaces::process_interfaces(
                    interfaces,
                    &crate::interfaces::Resolvers {
                        plugins: &plugins,
                        resource_exists: &resource_exists,
                    },
                    19,
                    &|| format!("Relationship '{name}'"),
                    span,
                    None,
                    problems,
                );
            }
        }
    }
    let templates::ParsedTemplates {
        nodes,
        inert,
        names: node_names,
        script_operations,
    } = templates::parse_node_templates(section("node_templates"), &catalogs, problems);
    let (workflows, workflow_plugins) = sections::parse_workflows(
        section("workflows"),
        &plugins,
        &data_types,
        version,
        &resource_exists,
        problems,
    );
    let policy_types = sections::parse_policy_types(
        section("policy_types"),
        "properties",
        &data_types,
        version,
        problems,
    );
    let policy_triggers = sections::parse_policy_types(
        section("policy_triggers"),
        "parameters",
        &data_types,
        version,
        problems,
    );
    let policy_catalogs = sections::PolicyCatalogs {
        policy_types: &policy_types,
        policy_triggers: &policy_triggers,
        data_types: &data_types,
    };
    let groups = sections::parse_groups(section("groups"), &node_names, &policy_catalogs, problems);
    let (policies, scaling_groups) =
        sections::parse_policies(section("policies"), section("groups"), &groups, problems);
    let outputs = sections::parse_values(section("outputs"), problems);
    let capabilities = sections::parse_values(section("capabilities"), problems);
    let labels = sections::parse_labels(section("labels"), false, problems);
    let blueprint_labels = sections::parse_labels(section("blueprint_labels"), true, problems);

    // Every plugin the nodes install, by name in order of first mention; the last node's
    // definition of a name wins. Copied once each.
    let mut deployment_plugins: Vec<&J> = Vec::new();
    let mut host_plugins: Vec<&J> = Vec::new();
    for node in &nodes {
        for (key, target) in [
            ("deployment_plugins_to_install", &mut deployment_plugins),
            ("plugins_to_install", &mut host_plugins),
        ] {
            let list = node.get(key);
            for plugin in list.and_then(J::as_array).into_iter().flatten() {
                let name = plugin.get("name");
                match target.iter_mut().find(|p| p.get("name") == name) {
                    Some(slot) => *slot = plugin,
                    None => target.push(plugin),
                }
            }
        }
    }
    let deployment_plugins: Vec<J> = deployment_plugins.into_iter().cloned().collect();
    let host_plugins: Vec<J> = host_plugins.into_iter().cloned().collect();

    let mut plan = Map::new();
    plan.insert(
        "description",
        section("description").map_or(J::Null, Node::to_json),
    );
    plan.insert(
        "metadata",
        section("metadata").map_or(J::Null, Node::to_json),
    );
    plan.insert("nodes", J::from(nodes));
    plan.insert("relationships", J::Object((*relationships).clone()));
    plan.insert("workflows", J::Object(workflows));
    plan.insert("policy_types", J::Object(policy_types));
    plan.insert("policy_triggers", J::Object(policy_triggers));
    plan.insert("policies", J::Object(policies));
    plan.insert("groups", J::Object(groups));
    plan.insert("scaling_groups", J::Object(scaling_groups));
    plan.insert("inputs", J::Object(inputs));
    plan.insert("outputs", J::Object(outputs));
    plan.insert("deployment_plugins_to_install", J::from(deployment_plugins));
    plan.insert("workflow_plugins_to_install", J::from(workflow_plugins));
    plan.insert("host_agent_plugins_to_install", J::from(host_plugins));
    plan.insert("version", version.to_json());
    plan.insert("capabilities", J::Object(capabilities));
    plan.insert("imported_blueprints", J::from(vec![]));
    plan.insert("namespaces_mapping", J::Object(Map::new()));
    plan.insert("data_types", J::Object(data_types));
    plan.insert("labels", J::Object(labels));
    plan.insert("blueprint_labels", J::Object(blueprint_labels));
    plan.insert(
        "resource_tags",
        section("resource_tags").map_or(J::Object(Map::new()), Node::to_json),
    );
    plan.insert(
        "deployment_settings",
        section("deployment_settings").map_or(J::Object(Map::new()), Node::to_json),
    );
    let mut plan = J::Object(plan);

    validate_input_defaults(&plan, section("inputs"), problems);
    let spans = spans();
    let requirements = validate_functions(
        &plan,
        &inert,
        version,
        &spans,
        section("node_templates").map_or(Span::default(), |n| n.span),
        problems,
    );
    if let J::Object(map) = &mut plan {
        map.insert("requirements", requirements);
    }
    (Plan::with_inert(plan, inert), script_operations, spans)
}

fn validate_input_defaults(plan: &J, section: Option<&Node>, problems: &mut Problems) {
    let Some(inputs) = plan.get("inputs").and_then(J::as_object) else {
        return;
    };
    for (name, definition) in inputs {
        let Some(default) = definition.get("default") else {
            continue;
        };
        let span = section
            .and_then(|s| s.get(name))
            .map(|n| n.get("default").map_or(n.span, |d| d.span));
        if let Err(problem) = crate::constraints::validate_value(name, definition, default, span) {
            problems.push(problem);
        }
    }
}

/// What function evaluation can see: inputs and node properties, indexed once so lookups
/// stay O(1) on blueprints with thousands of nodes. Borrows the plan it was made from.
pub struct PlanEnvironment<'a> {
    inputs: &'a Map,
    plan: &'a J,
    /// The node properties by node name, gathered on first use (only `get_property` reads
    /// them, and most blueprints have none).
    properties: std::sync::OnceLock<HashMap<&'a str, &'a J>>,
    major: u32,
    minor: u32,
    spans: Option<&'a FunctionSpans>,
}

impl<'a> PlanEnvironment<'a> {
    /// The plan's own `inputs` and node properties.
    pub fn new(plan: &'a J, version: &DslVersion) -> PlanEnvironment<'a> {
        static EMPTY: std::sync::OnceLock<Map> = std::sync::OnceLock::new();
        let inputs = plan
            .get("inputs")
            .and_then(J::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        PlanEnvironment::with_inputs(inputs, plan, version, None)
    }

    /// `inputs` (deployment input values) and the node properties of `plan`; function
    /// calls are located through `spans`.
    pub fn over(
        inputs: &'a Map,
        plan: &'a J,
        version: &DslVersion,
        spans: &'a FunctionSpans,
    ) -> PlanEnvironment<'a> {
        PlanEnvironment::with_inputs(inputs, plan, version, Some(spans))
    }

    fn with_inputs(
        inputs: &'a Map,
        plan: &'a J,
        version: &DslVersion,
        spans: Option<&'a FunctionSpans>,
    ) -> PlanEnvironment<'a> {
        PlanEnvironment {
            inputs,
            plan,
            properties: std::sync::OnceLock::new(),
            major: version.major,
            minor: version.minor,
            spans,
        }
    }

    fn properties(&self) -> &HashMap<&'a str, &'a J> {
        static NULL: J = J::Null;
        self.properties.get_or_init(|| {
            self.plan
                .get("nodes")
                .and_then(J::as_array)
                .into_iter()
                .flatten()
                .filter_map(|n| {
                    Some((
                        n.get("name")?.as_str()?,
                        n.get("properties").unwrap_or(&NULL),
                    ))
                })
                .collect()
        })
    }
}

impl Environment for PlanEnvironment<'_> {
    fn input(&self, name: &str) -> Option<J> {
        self.inputs.get(name).cloned()
    }

    fn has_input(&self, name: &str) -> bool {
        self.inputs.contains_key(name)
    }

    fn node_properties(&self, node: &str) -> Option<J> {
        self.properties().get(node).map(|p| (*p).clone())
    }

    fn has_node(&self, node: &str) -> bool {
        self.properties().contains_key(node)
    }

    fn version_at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    fn span_of(&self, function: &J) -> Option<Span> {
        self.spans?.get(&function.to_string()).copied()
    }
}

/// Calls `visit` for every function call in the places the reference scans. Nodes marked
/// in `inert` (by position) have no call in their operation inputs: only their properties
/// are scanned.
pub fn scan_plan(plan: &J, inert: &[bool], visit: &mut dyn FnMut(&J, &Context)) {
    for (index, node) in plan
        .get("nodes")
        .and_then(J::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = node
            .get("name")
            .and_then(J::as_str)
            .unwrap_or_default()
            .to_string();
        let context = Context::for_node(&name, format!("nodes.{name}.properties"));
        scan_value(node.get("properties").unwrap_or(&J::Null), &context, visit);
        if inert.get(index).copied().unwrap_or(false) {
            continue;
        }
        for operation in node
            .get("operations")
            .and_then(J::as_object)
            .into_iter()
            .flat_map(|m| m.values())
        {
            scan_value(
                functions::field(operation, "inputs").unwrap_or(&J::Null),
                &context,
                visit,
            );
        }
        for relationship in node
            .get("relationships")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
        {
            let context = Context::for_relationship(&name, relationship);
            for key in ["source_operations", "target_operations"] {
                for operation in relationship
                    .get(key)
                    .and_then(J::as_object)
                    .into_iter()
                    .flat_map(|m| m.values())
                {
                    scan_value(
                        functions::field(operation, "inputs").unwrap_or(&J::Null),
                        &context,
                        visit,
                    );
                }
            }
        }
    }
    for (key, scope) in [
        ("outputs", Scope::Outputs),
        ("capabilities", Scope::Capabilities),
        ("labels", Scope::Labels),
    ] {
        for (name, value) in plan.get(key).and_then(J::as_object).into_iter().flatten() {
            scan_value(value, &Context::new(scope, format!("{key}.{name}")), visit);
        }
    }
    for (name, policy) in plan
        .get("policies")
        .and_then(J::as_object)
        .into_iter()
        .flatten()
    {
        scan_value(
            policy.get("properties").unwrap_or(&J::Null),
            &Context::new(Scope::Policies, format!("policies.{name}.properties")),
            visit,
        );
    }
    for (name, group) in plan
        .get("scaling_groups")
        .and_then(J::as_object)
        .into_iter()
        .flatten()
    {
        scan_value(
            group.get("properties").unwrap_or(&J::Null),
            &Context::new(
                Scope::ScalingGroups,
                format!("scaling_groups.{name}.properties"),
            ),
            visit,
        );
    }
    scan_value(
        plan.get("deployment_settings").unwrap_or(&J::Null),
        &Context::new(Scope::DeploymentSettings, "deployment_settings".into()),
        visit,
    );
}

fn scan_value(value: &J, context: &Context, visit: &mut dyn FnMut(&J, &Context)) {
    match value {
        J::Object(map) => {
            if functions::is_function(value) {
                visit(value, context);
            }
            for v in map.values() {
                scan_value(v, context, visit);
            }
        }
        J::Array(items) => items.iter().for_each(|v| scan_value(v, context, visit)),
        _ => {}
    }
}

/// Checks every function call (the reference's parse-time checks) and returns the plan's
/// `requirements`: the secrets and parent capabilities the calls name.
fn validate_functions(
    plan: &J,
    inert: &[bool],
    version: &DslVersion,
    spans: &FunctionSpans,
    span: Span,
    problems: &mut Problems,
) -> J {
    let environment = PlanEnvironment::new(plan, version);
    let mut found: Vec<Problem> = Vec::new();
    let mut secrets: Vec<J> = Vec::new();
    let mut parent_capabilities: Vec<J> = Vec::new();
    scan_plan(plan, inert, &mut |value, context| {
        let Some((name, args)) = functions::as_function(value) else {
            return;
        };
        match name {
            "get_secret" => secrets.push(args.clone()),
            "get_environment_capability" => parent_capabilities.push(args.clone()),
            _ => {}
        }
        // The check only reads the context's span when it fails: place it then.
        if functions::validate(name, args, context, &environment).is_err() {
            let mut context = context.clone();
            context.span = spans.get(&value.to_string()).copied().unwrap_or(span);
            if let Err(problem) = functions::validate(name, args, &context, &environment) {
                found.push(problem);
            }
        }
    });
    for problem in found {
        problems.push(problem);
    }
    crate::json::object! {"parent_capabilities" => parent_capabilities, "secrets" => secrets}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `json_text` writes exactly what serde_json writes for the converted value.
    #[test]
    fn json_text_matches_serde_json() {
        let text = "a: {get_input: [x, 1, -7, true, null, 'q\"uo\\\\te', \"tab\\there\\u0001\"]}\n\
                    b: {concat: [{get_attribute: [SELF, ip]}, ':', {k: [], e: {}}], type: t}\n\
                    c: [1.5, {1: one}, {? [k] : v}, 0x1F, 0o17, 017, 1:30, yes, ~, '']\n";
        let document = crate::yaml::load(text, 0).expect("yaml");
        let mut checked = 0;
        let mut fallbacks = 0;
        fn walk(node: &Node, checked: &mut usize, fallbacks: &mut usize) {
            let mut out = String::new();
            if json_text(node, &mut out) {
                assert_eq!(out, node.to_json().to_string(), "{node:?}");
                *checked += 1;
            } else {
                *fallbacks += 1;
            }
            match &node.value {
                Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                    walk(k, checked, fallbacks);
                    walk(v, checked, fallbacks);
                }),
                Value::Seq(items) => items.iter().for_each(|i| walk(i, checked, fallbacks)),
                _ => {}
            }
        }
        walk(&document, &mut checked, &mut fallbacks);
        assert!(checked > 20, "{checked}");
        assert!(fallbacks >= 3, "{fallbacks}");
    }
}
