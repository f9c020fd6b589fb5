//! The smaller top-level sections: plugins, workflows, inputs, outputs, capabilities, policy
//! types and triggers, groups, policies (scaling groups) and the 1_4+ label sections.

use crate::json::{Map, Value as J};

use crate::diag::{Problem, Problems};
use crate::interfaces::has_scheme;
use crate::props::DataTypes;
use crate::schema::{self, allowed_keys, gate, get, optional_map};
use crate::templates::parse_scalable;
use crate::types::{parse_property_schema, SchemaOptions};
use crate::version::DslVersion;
use crate::yaml::{Node, Span, Value};

const PLUGIN_KEYS: &[&str] = &[
    "source",
    "executor",
    "install",
    "install_arguments",
    "package_name",
    "package_version",
    "supported_platform",
    "distribution",
    "distribution_version",
    "distribution_release",
    "properties_description",
    "properties",
];

pub fn parse_plugins(section: Option<&Node>, version: &DslVersion, problems: &mut Problems) -> Map {
    let mut plugins = Map::new();
    for (key, plugin) in optional_map(section, problems) {
        let name = key.as_str().unwrap_or_default();
        let Some(entries) = schema::map(plugin, problems) else {
            continue;
        };
        allowed_keys(entries, PLUGIN_KEYS, problems);
        let mut result = Map::new();
        let executor = schema::string(get(entries, "executor"), problems);
        match executor {
            None => problems.push(Problem::format(1, key.span, "'executor' key is required but it is currently missing")),
            Some(executor) if executor != "central_deployment_agent" && executor != "host_agent" => problems.push(Problem::logic(
                18,
                get(entries, "executor").map_or(plugin.span, |n| n.span),
                format!("Plugin '{name}' has an illegal 'executor' value '{executor}'; value must be either 'central_deployment_agent' or 'host_agent'"),
            )),
            _ => {}
        }
        let install = schema::boolean(get(entries, "install"), problems).unwrap_or(true);
        for field in PLUGIN_KEYS {
            let value = get(entries, field);
            let gate_version = match *field {
                "install_arguments" => Some((1, 1)),
                "package_name"
                | "package_version"
                | "supported_platform"
                | "distribution"
                | "distribution_version"
                | "distribution_release" => Some((1, 2)),
                "properties_description" | "properties" => Some((1, 5)),
                _ => None,
            };
            if let (Some(value), Some((major, minor))) =
                (value.filter(|v| !v.is_null()), gate_version)
            {
                gate(
                    version,
                    field,
                    schema::key_span(entries, field).unwrap_or(value.span),
                    major,
                    minor,
                    problems,
                );
            }
            let json = match *field {
                "install" => J::Bool(install),
                "executor" => executor.map_or(J::Null, |e| J::String(e.into())),
                "properties" => {
                    let mut properties = Map::new();
                    for (property_key, property) in optional_map(value, problems) {
                        let property_entries = optional_map(Some(property), problems);
                        allowed_keys(
                            property_entries,
                            &["description", "type", "display_label", "value"],
                            problems,
                        );
                        let mut out = Map::new();
                        for (k, v) in property_entries {
                            out.insert(k.as_str().unwrap_or_default().to_string(), v.to_json());
                        }
                        properties.insert(
                            property_key.as_str().unwrap_or_default().to_string(),
                            J::Object(out),
                        );
                    }
                    J::Object(properties)
                }
                _ => match value {
                    None => J::Null,
                    Some(v) if v.is_null() => J::Null,
                    Some(v) => match &v.value {
                        Value::Str(s) => J::String(s.clone()),
                        _ => {
                            problems.push(schema::expected(v, "string"));
                            J::Null
                        }
                    },
                },
            };
            result.insert(*field, json);
        }
        if install && result["source"].is_null() && result["package_name"].is_null() {
            problems.push(Problem::logic(
                50,
                plugin.span,
                format!("Plugin '{name}' needs to be installed, but does not declare a source or package_name property"),
            ));
        }
        result.insert("name", J::String(name.into()));
        plugins.insert(name, J::Object(result));
    }
    plugins
}

pub fn parse_workflows(
    section: Option<&Node>,
    plugins: &Map,
    data_types: &DataTypes,
    version: &DslVersion,
    resource_exists: &dyn Fn(&str) -> bool,
    problems: &mut Problems,
) -> (Map, Vec<J>) {
    let mut workflows = Map::new();
    let mut used_plugins: Vec<J> = Vec::new();
    for (key, workflow) in optional_map(section, problems) {
        let name = key.as_str().unwrap_or_default();
        let (mapping, parameters, is_cascading, availability) = match &workflow.value {
            Value::Str(s) => (s.to_string(), Map::new(), false, J::Null),
            Value::Map(entries) => {
                allowed_keys(
                    entries,
                    &[
                        "mapping",
                        "parameters",
                        "is_cascading",
                        "availability_rules",
                    ],
                    problems,
                );
                let Some(mapping) = schema::string(get(entries, "mapping"), problems) else {
                    problems.push(Problem::format(
                        1,
                        workflow.span,
                        "'mapping' key is required but it is currently missing",
                    ));
                    continue;
                };
                let options = SchemaOptions::inputs(name);
                let parameters = parse_property_schema(
                    get(entries, "parameters"),
                    data_types,
                    version,
                    &options,
                    problems,
                );
                let cascading =
                    schema::boolean(get(entries, "is_cascading"), problems).unwrap_or(false);
                let availability = match get(entries, "availability_rules") {
                    Some(rules) if !rules.is_null() => {
                        gate(
                            version,
                            "availability_rules",
                            schema::key_span(entries, "availability_rules").unwrap_or(rules.span),
                            1,
                            4,
                            problems,
                        );
                        rules.to_json()
                    }
                    _ => J::Null,
                };
                (mapping.to_string(), parameters, cascading, availability)
            }
            _ => {
                problems.push(schema::expected(workflow, "dict"));
                continue;
            }
        };
        let mut result = Map::new();
        let candidates: Vec<&crate::json::Str> = plugins
            .keys()
            .filter(|p| mapping.starts_with(&format!("{p}.")))
            .collect();
        let is_url = has_scheme(&mapping);
        let local = resource_exists(&mapping);
        let is_script = !is_url && !local && mapping.trim().contains('\n');
        let (plugin, operation, parameters) = if is_url || local || is_script {
            let Some(script) = plugins.keys().find(|p| p.ends_with("script")) else {
                problems.push(Problem::logic(
                    61,
                    workflow.span,
                    format!("Script plugin is not defined but it is required for mapping 'script_runner.tasks.execute_workflow' of workflow '{name}'"),
                ));
                continue;
            };
            let mut parameters = parameters;
            let property = if is_script {
                "script_source"
            } else {
                "script_path"
            };
            parameters.insert(
                property,
                crate::json::object! {"default" => mapping.as_str(), "description" => "Workflow script executed by the script plugin"},
            );
            (
                script.clone(),
                "script_runner.tasks.execute_workflow".to_string(),
                parameters,
            )
        } else if candidates.len() > 1 {
            problems.push(Problem::logic(
                91,
                workflow.span,
                format!("Ambiguous operation mapping. [operation={name}, plugins={candidates:?}]"),
            ));
            continue;
        } else if let Some(plugin) = candidates.first() {
            (
                (*plugin).clone(),
                mapping[plugin.len() + 1..].to_string(),
                parameters,
            )
        } else {
            problems.push(Problem::logic(
                21,
                workflow.span,
                format!("Could not extract plugin or a script resource is not found from workflow mapping/script-path '{mapping}', which is declared for workflow '{name}'."),
            ));
            continue;
        };
        if !used_plugins
            .iter()
            .any(|p| p.get("name").and_then(J::as_str) == Some(plugin.as_str()))
        {
            if let Some(p) = plugins.get(&plugin) {
                used_plugins.push(p.clone());
            }
        }
        result.insert("plugin", J::String(plugin));
        result.insert("operation", J::from(operation));
        result.insert("parameters", J::Object(parameters));
        result.insert("is_cascading", J::Bool(is_cascading));
        result.insert("availability_rules", availability);
        workflows.insert(name, J::Object(result));
    }
    (workflows, used_plugins)
}

pub fn parse_inputs(
    section: Option<&Node>,
    data_types: &DataTypes,
    version: &DslVersion,
    problems: &mut Problems,
) -> Map {
    let options = SchemaOptions::inputs("inputs");
    let inputs = parse_property_schema(section, data_types, version, &options, problems);
    for (key, input) in optional_map(section, problems) {
        let name = key.as_str().unwrap_or_default();
        let required = input.get("required").map_or(Some(true), |n| match n.value {
            Value::Bool(b) => Some(b),
            _ => None,
        });
        let hidden = matches!(
            input.get("hidden").map(|n| &n.value),
            Some(Value::Bool(true))
        );
        if required == Some(true) && hidden && input.get("default").is_none() {
            problems.push(Problem::logic(215, key.span, format!("Input is both hidden and required thus it should have a default value: '{name}'.")));
        }
        if let Some(display) = input.get("display").filter(|n| !n.is_null()) {
            let type_name = input.get("type").and_then(Node::as_str).unwrap_or("None");
            if display.as_map().is_some_and(|m| !m.is_empty()) && type_name != "textarea" {
                problems.push(Problem::new(
                    crate::diag::Kind::InputType,
                    216,
                    display.span,
                    format!("`display` property defined for unsupported input type ({type_name}) for input `{name}`."),
                ));
            }
        }
        if let Some((item_key, item_type)) = input
            .get_entry("item_type")
            .and_then(|(k, v)| Some((k, v.as_str()?)))
        {
            let type_name = input.get("type").and_then(Node::as_str).unwrap_or("None");
            if type_name != "list" {
                problems.push(Problem::logic(
                    218,
                    item_key.span,
                    format!("Property item_type defined for unsupported type: '{type_name}'"),
                ));
            } else if !crate::props::is_primitive(item_type) {
                problems.push(Problem::logic(
                    217,
                    item_key.span,
                    format!("Illegal item_type '{item_type}'"),
                ));
            }
        }
        if let Some(constraints) = input.get("constraints").filter(|n| !n.is_null()) {
            crate::constraints::check_definitions(name, constraints, version, problems);
        }
    }
    inputs
}

/// Outputs and capabilities: `{name: {value, description?}}`.
pub fn parse_values(section: Option<&Node>, problems: &mut Problems) -> Map {
    let mut result = Map::new();
    for (key, entry) in optional_map(section, problems) {
        let Some(entries) = schema::map(entry, problems) else {
            continue;
        };
        allowed_keys(entries, &["description", "value"], problems);
        let Some(value) = get(entries, "value") else {
            problems.push(Problem::format(
                1,
                key.span,
                "'value' key is required but it is currently missing",
            ));
            continue;
        };
        let mut out = Map::new();
        if let Some(description) = schema::string(get(entries, "description"), problems) {
            out.insert("description", J::String(description.into()));
        }
        out.insert("value", value.to_json());
        result.insert(key.as_str().unwrap_or_default().to_string(), J::Object(out));
    }
    result
}

pub fn parse_policy_types(
    section: Option<&Node>,
    key_name: &str,
    data_types: &DataTypes,
    version: &DslVersion,
    problems: &mut Problems,
) -> Map {
    let mut result = Map::new();
    for (key, entry) in optional_map(section, problems) {
        let Some(entries) = schema::map(entry, problems) else {
            continue;
        };
        allowed_keys(entries, &[key_name, "source"], problems);
        let mut out = Map::new();
        let options = SchemaOptions {
            keep_initial_default: false,
            owner: key.as_str().unwrap_or_default().into(),
            input_style: false,
        };
        let properties = parse_property_schema(
            get(entries, key_name),
            data_types,
            version,
            &options,
            problems,
        );
        out.insert(key_name, J::Object(properties));
        match schema::string(get(entries, "source"), problems) {
            Some(source) => {
                out.insert("source", J::String(source.into()));
            }
            None => problems.push(Problem::format(
                1,
                entry.span,
                "'source' key is required but it is currently missing",
            )),
        }
        result.insert(key.as_str().unwrap_or_default().to_string(), J::Object(out));
    }
    result
}

/// The catalogs a group's policies are checked against.
pub struct PolicyCatalogs<'a> {
    pub policy_types: &'a Map,
    pub policy_triggers: &'a Map,
    pub data_types: &'a DataTypes,
}

fn parse_group_policies(
    group: &str,
    node: Option<&Node>,
    catalogs: &PolicyCatalogs,
    problems: &mut Problems,
) -> Map {
    let mut result = Map::new();
    for (key, policy) in optional_map(node, problems) {
        let name = key.as_str().unwrap_or_default();
        let Some(entries) = schema::map(policy, problems) else {
            continue;
        };
        allowed_keys(entries, &["type", "properties", "triggers"], problems);
        let Some(type_name) = schema::string(get(entries, "type"), problems) else {
            problems.push(Problem::format(
                1,
                policy.span,
                "'type' key is required but it is currently missing",
            ));
            continue;
        };
        let Some(policy_type) = catalogs.policy_types.get(type_name) else {
            problems.push(Problem::logic(41, policy.span, format!("Policy '{name}' of group '{group}' references a non existent policy type '{type_name}'")));
            continue;
        };
        let owner = format!("group '{group}', policy '{name}'");
        let merge = |value: Option<&Node>,
                     schema: Option<&J>,
                     owner: &str,
                     problems: &mut Problems|
         -> J {
            let instance = value
                .map(Node::to_json)
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            let empty = Map::new();
            let schema = schema.and_then(J::as_object).unwrap_or(&empty);
            let context = crate::props::Context {
                undefined: "{0} '{1}' property is not part of the policy type properties schema",
                missing: "{0} does not provide a value for mandatory '{1}' property which is part of its policy type schema",
                node_name: owner,
                span: value.map_or(policy.span, |n| n.span),
                raise_on_missing: true,
                source: value,
                owner: policy.span,
            };
            J::Object(
                problems
                    .check(crate::props::merge_instance(
                        instance,
                        schema,
                        catalogs.data_types,
                        &context,
                    ))
                    .unwrap_or_default(),
            )
        };
        let properties = merge(
            get(entries, "properties"),
            policy_type.get("properties"),
            &owner,
            problems,
        );
        let mut triggers = Map::new();
        for (trigger_key, trigger) in optional_map(get(entries, "triggers"), problems) {
            let trigger_name = trigger_key.as_str().unwrap_or_default();
            let Some(trigger_entries) = schema::map(trigger, problems) else {
                continue;
            };
            allowed_keys(trigger_entries, &["type", "parameters"], problems);
            let Some(trigger_type) = schema::string(get(trigger_entries, "type"), problems) else {
                problems.push(Problem::format(
                    1,
                    trigger.span,
                    "'type' key is required but it is currently missing",
                ));
                continue;
            };
            let Some(definition) = catalogs.policy_triggers.get(trigger_type) else {
                problems.push(Problem::logic(
                    42,
                    trigger.span,
                    format!("Trigger '{trigger_name}' of policy '{name}' of group '{group}' references a non existent 'policy trigger '{trigger_type}'"),
                ));
                continue;
            };
            let trigger_owner =
                format!("group '{group}', policy '{name}' trigger '{trigger_name}'");
            let parameters = merge(
                get(trigger_entries, "parameters"),
                definition.get("parameters"),
                &trigger_owner,
                problems,
            );
            triggers.insert(
                trigger_name.to_string(),
                crate::json::object! {"type" => trigger_type, "parameters" => parameters},
            );
        }
        result.insert(
            name.to_string(),
            crate::json::object! {"type" => type_name, "properties" => properties, "triggers" => triggers},
        );
    }
    result
}

pub fn parse_groups(
    section: Option<&Node>,
    node_names: &[&str],
    catalogs: &PolicyCatalogs,
    problems: &mut Problems,
) -> Map {
    let mut result = Map::new();
    let group_names: Vec<String> = optional_map(section, problems)
        .iter()
        .filter_map(|(k, _)| k.as_str().map(str::to_string))
        .collect();
    for (key, group) in optional_map(section, problems) {
        let name = key.as_str().unwrap_or_default();
        let Some(entries) = schema::map(group, problems) else {
            continue;
        };
        allowed_keys(entries, &["members", "policies"], problems);
        if node_names.contains(&name) {
            problems.push(Problem::logic(
                211,
                key.span,
                format!("Both a group and a node template are named '{name}'"),
            ));
        }
        let mut members: Vec<J> = Vec::new();
        match get(entries, "members") {
            None => problems.push(Problem::format(
                1,
                group.span,
                "'members' key is required but it is currently missing",
            )),
            Some(members_node) => match members_node.as_seq() {
                None => problems.push(schema::expected(members_node, "list")),
                Some([]) => problems.push(Problem::format(
                    1,
                    members_node.span,
                    "At least one member should be specified",
                )),
                Some(items) => {
                    for item in items {
                        let Some(member) = schema::string(Some(item), problems) else {
                            continue;
                        };
                        if !node_names.contains(&member) && !group_names.iter().any(|n| n == member)
                        {
                            problems.push(Problem::logic(40, item.span, format!("Member '{member}' of group '{name}' does not match any defined node")));
                        }
                        if !members.iter().any(|m| m.as_str() == Some(member)) {
                            members.push(J::String(member.into()));
                        }
                    }
                }
            },
        }
        let mut out = Map::new();
        out.insert("members", J::from(members));
        out.insert(
            "policies",
            J::Object(parse_group_policies(
                name,
                get(entries, "policies"),
                catalogs,
                problems,
            )),
        );
        result.insert(name, J::Object(out));
    }
    result
}

/// Policies (only `cloudify.policies.scaling` is supported) and the scaling groups they make.
pub fn parse_policies(
    section: Option<&Node>,
    groups_section: Option<&Node>,
    groups: &Map,
    problems: &mut Problems,
) -> (Map, Map) {
    let mut policies = Map::new();
    let mut scaling_groups = Map::new();
    for (key, policy) in optional_map(section, problems) {
        let name = key.as_str().unwrap_or_default();
        let Some(entries) = schema::map(policy, problems) else {
            continue;
        };
        allowed_keys(entries, &["type", "properties", "targets"], problems);
        let policy_type = schema::string(get(entries, "type"), problems);
        match policy_type {
            None => problems.push(Problem::format(1, policy.span, "'type' key is required but it is currently missing")),
            Some(t) if t != "cloudify.policies.scaling" => problems.push(Problem::logic(
                204,
                get(entries, "type").map_or(policy.span, |n| n.span),
                format!("'{t}' policy type is not implemented. Only 'cloudify.policies.scaling' policy type is supported."),
            )),
            _ => {}
        }
        let properties = parse_scalable(
            get(entries, "properties").filter(|n| !n.is_null()),
            problems,
        );
        let mut targets = Vec::new();
        match get(entries, "targets") {
            None => problems.push(Problem::format(1, policy.span, "'targets' key is required but it is currently missing")),
            Some(node) => match node.as_seq() {
                None => problems.push(schema::expected(node, "list")),
                Some([]) => problems.push(Problem::logic(
                    206,
                    node.span,
                    format!("Policy '{name}' has no targets groups defined for it. At least one target group is required."),
                )),
                Some(items) => {
                    for item in items {
                        let Some(target) = schema::string(Some(item), problems) else { continue };
                        if !groups.contains_key(target) {
                            problems.push(Problem::logic(
                                205,
                                item.span,
                                format!(
                                    "'{target}' is not a valid policy target. Only groups are valid policy targets. Defined groups are {}.",
                                    crate::props::python_repr(&J::Object(groups.clone()))
                                ),
                            ));
                        }
                        targets.push(J::String(target.into()));
                    }
                }
            },
        }
        let mut out = Map::new();
        out.insert("type", policy_type.map_or(J::Null, |t| J::String(t.into())));
        out.insert("properties", J::Object(properties.clone()));
        out.insert("targets", J::from(targets.clone()));
        if policy_type == Some("cloudify.policies.scaling") {
            for target in &targets {
                let Some(target) = target.as_str() else {
                    continue;
                };
                let Some(group) = groups.get(target) else {
                    continue;
                };
                let mut scaling = Map::new();
                scaling.insert(
                    "members",
                    group.get("members").cloned().unwrap_or(J::from(vec![])),
                );
                scaling.insert("properties", J::Object(properties.clone()));
                scaling_groups.insert(target, J::Object(scaling));
            }
        }
        policies.insert(name, J::Object(out));
    }
    // A node or group may belong to one scaling group only (code 201).
    let mut reported: Vec<String> = Vec::new();
    for (group, definition) in &scaling_groups {
        for member in definition
            .get("members")
            .and_then(J::as_array)
            .into_iter()
            .flatten()
            .filter_map(J::as_str)
        {
            let owners: Vec<&crate::json::Str> = scaling_groups
                .iter()
                .filter(|(_, d)| {
                    d.get("members")
                        .and_then(J::as_array)
                        .is_some_and(|m| m.iter().any(|x| x.as_str() == Some(member)))
                })
                .map(|(name, _)| name)
                .collect();
            if owners.len() > 1 && !reported.iter().any(|r| r == member) {
                reported.push(member.to_string());
                let span = groups_section
                    .and_then(|s| s.get(group))
                    .and_then(|g| g.get("members"))
                    .and_then(Node::as_seq)
                    .and_then(|items| items.iter().find(|i| i.as_str() == Some(member)))
                    .map_or(Span::default(), |n| n.span);
                problems.push(Problem::logic(
                    201,
                    span,
                    format!(
                        "Nodes and groups cannot be members in multiple groups, but member '{member}' belongs to the following multiple groups: [{}]",
                        owners.iter().map(|o| format!("'{o}'")).collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
    (policies, scaling_groups)
}

/// `blueprint_labels` / `labels`: `{key: {values: [...]}}`.
pub fn parse_labels(section: Option<&Node>, blueprint: bool, problems: &mut Problems) -> Map {
    let mut result = Map::new();
    for (key, label) in optional_map(section, problems) {
        let name = key.as_str().unwrap_or_default();
        let Some(entries) = schema::map(label, problems) else {
            continue;
        };
        allowed_keys(entries, &["values"], problems);
        let Some(values) = get(entries, "values") else {
            problems.push(Problem::format(
                1,
                label.span,
                "'values' key is required but it is currently missing",
            ));
            continue;
        };
        let Some(items) = values.as_seq() else {
            problems.push(schema::expected(values, "list"));
            continue;
        };
        for item in items {
            let ok = if blueprint {
                item.as_str().is_some()
            } else {
                item.as_str().is_some() || item.as_map().is_some()
            };
            if !ok {
                let message = if blueprint {
                    format!("The blueprint label's value must be a string. Please modify the values of {name}")
                } else {
                    format!("The label's value must be a string or an intrinsic function. Please modify the values of {name}")
                };
                problems.push(Problem::new(
                    crate::diag::Kind::Parsing,
                    1,
                    item.span,
                    message,
                ));
            } else if !blueprint && item.get("get_attribute").is_some() {
                problems.push(Problem::new(
                    crate::diag::Kind::Parsing,
                    1,
                    item.span,
                    format!("The label's value cannot be a runtime property. Please remove the `get_attribute` function from the values of {name}"),
                ));
            }
        }
        let mut out = Map::new();
        out.insert("values", values.to_json());
        result.insert(name, J::Object(out));
    }
    result
}
