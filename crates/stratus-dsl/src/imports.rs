//! Imports: fetch every imported document (breadth first, each once) and merge them into one
//! blueprint document with Cloudify's merge and conflict rules.
//!
//! The rules (cloudify-common `dsl_parser/elements/imports.py`): type-like sections merge and
//! a name defined twice is a conflict (code 4) unless it is a `cloudify.` name or comes from
//! Cloudify's own types file, which override silently; from DSL 1_3 on, inputs, outputs,
//! node templates and capabilities merge too; `description` and `metadata` keep the first
//! value; any other section defined twice is code 3. Workflows and labels keep the first.

use std::collections::HashSet;
use std::sync::Arc;

use crate::diag::{Kind, Problem, Problems};
use crate::import::ImportLoader;
use crate::namespace;
use crate::version::DslVersion;
use crate::yaml::{self, Node, Span, Value};

const MERGE_NO_OVERRIDE: &[&str] = &[
    "interfaces",
    "node_types",
    "plugins",
    "workflows",
    "relationships",
    "policy_types",
    "groups",
    "policy_triggers",
    "data_types",
];
const MERGEABLE_FROM_1_3: &[&str] = &[
    "inputs",
    "outputs",
    "node_templates",
    "capabilities",
    "blueprint_labels",
    "labels",
    "resource_tags",
];
const DONT_OVERWRITE: &[&str] = &["description", "metadata"];
const IGNORE: &[&str] = &["dsl_definitions", "imports", "tosca_definitions_version"];
const KEEP_FIRST: &[&str] = &["blueprint_labels", "labels", "resource_tags"];

/// The outcome of resolving imports.
pub struct Merged {
    /// The combined document.
    pub document: Node,
    /// Locations of every document, indexed by `Span::file`.
    pub files: Vec<String>,
}

/// A loaded document awaiting merge.
struct Imported {
    /// The main document's import statement that (directly or not) brought this document in;
    /// problems found in the document's merge are reported there.
    origin: Option<Span>,
    location: String,
    namespace: Option<String>,
    document: Node,
    is_cloudify_types: bool,
}

/// Parses a document, turning YAML errors into problems.
pub fn load_document(text: &str, file: u32) -> Result<Node, Problem> {
    yaml::load(text, file).map_err(|err| {
        let (kind, code) = match err.code {
            108 => (Kind::InputType, Some(108)),
            -2 => (Kind::YamlScanner, None),
            -3 => (Kind::YamlComposer, None),
            code => (Kind::Format, Some(code)),
        };
        Problem {
            kind,
            code,
            message: err.message,
            span: Some(Span {
                file,
                line: err.line,
                column: err.column,
            }),
            hint: None,
        }
    })
}

/// Fetches all imports of `main` (already loaded as file 0 at `location`) and merges them.
pub fn resolve(
    main: Node,
    location: &str,
    version: DslVersion,
    loader: &dyn ImportLoader,
    cache: &crate::cache::DocumentCache,
    problems: &mut Problems,
) -> Merged {
    let mut files = vec![location.to_string()];
    let mut ordered: Vec<Imported> = vec![Imported {
        origin: None,
        location: location.to_string(),
        namespace: None,
        is_cloudify_types: false,
        document: main,
    }];
    let mut seen: HashSet<(String, Option<String>)> = HashSet::new();
    seen.insert((location.to_string(), None));
    let mut next = 0;
    while next < ordered.len() {
        let parent_namespace = ordered[next].namespace.clone();
        let parent_location = ordered[next].location.clone();
        let parent_origin = ordered[next].origin;
        let imports = import_list(&ordered[next].document, problems);
        next += 1;
        for (import, span) in imports {
            let (namespace, url) = split_namespace(&import);
            if let Some(ns) = &namespace {
                if ns.contains("--") {
                    problems.push(Problem::logic(
                        212,
                        span,
                        format!(
                            "Invalid {ns}: import's namespace cannotcontain namespace delimiter"
                        ),
                    ));
                    continue;
                }
                // Documented as 1_4+, but the reference accepts namespaces in any version.
            }
            let namespace = match (&parent_namespace, namespace) {
                (Some(parent), Some(ns)) => Some(format!("{parent}--{ns}")),
                (parent, ns) => ns.or_else(|| parent.clone()),
            };
            let loaded = match loader.load(url, &parent_location) {
                Ok(loaded) => loaded,
                Err(err) => {
                    problems.push(
                        Problem::logic(13, span, format!("Import failed: no suitable location found for import '{import}': {}", err.message))
                            .with_hint("add the type file to the catalog, upload the plugin, or add an import_resolver rule that maps this URL"),
                    );
                    continue;
                }
            };
            if seen.contains(&(loaded.location.clone(), namespace.clone())) {
                continue;
            }
            let file = files.len() as u32;
            files.push(loaded.location.clone());
            let document = match cache.load(&loaded.location, &loaded.text, file) {
                Ok(document) => document,
                Err(mut problem) => {
                    problem.message = format!(
                        "Failed to parse import '{import}' (via '{}'): {}",
                        loaded.location, problem.message
                    );
                    problems.push(problem);
                    continue;
                }
            };
            if document.as_map().is_none() {
                problems.push(Problem::format(
                    1,
                    document.span,
                    format!(
                        "Expected 'dict' type but found '{}' type",
                        document.type_name()
                    ),
                ));
                continue;
            }
            let is_cloudify_types = is_cloudify_types(&document);
            if is_cloudify_types
                && namespace.is_some()
                && parent_namespace.as_deref() != namespace.as_deref()
            {
                problems.push(Problem::logic(
                    214,
                    span,
                    format!(
                        "Invalid import namespace {}: cannot be used on Cloudify basic types.",
                        namespace.unwrap_or_default()
                    ),
                ));
                continue;
            }
            let namespace = if is_cloudify_types { None } else { namespace };
            seen.insert((loaded.location.clone(), namespace.clone()));
            ordered.push(Imported {
                origin: parent_origin.or(Some(span)),
                location: loaded.location,
                namespace,
                document,
                is_cloudify_types,
            });
        }
    }

    let mut combined: Vec<(Node, Node)> = Vec::new();
    for imported in ordered {
        let before = problems.len();
        let origin = imported.origin;
        check_version(&imported, &version, problems);
        let mut document = imported.document;
        if let Some(ns) = &imported.namespace {
            namespace::apply(&mut document, ns);
        }
        let Value::Map(entries) = document.value else {
            continue;
        };
        for (key, value) in entries {
            let Some(name) = key.as_str().map(str::to_string) else {
                combined.push((key, value));
                continue;
            };
            if IGNORE.contains(&name.as_str()) {
                // Only the main document's version is kept; anchors and imports are per file.
                if name == "tosca_definitions_version" && key.span.file == 0 {
                    combined.push((key, value));
                }
                continue;
            }
            let existing = combined.iter().position(|(k, _)| k.as_str() == Some(&name));
            match existing {
                None => combined.push((key, value)),
                Some(_) if DONT_OVERWRITE.contains(&name.as_str()) => {}
                Some(index) => {
                    let mergeable = MERGE_NO_OVERRIDE.contains(&name.as_str())
                        || (version.at_least(1, 3) && MERGEABLE_FROM_1_3.contains(&name.as_str()));
                    if mergeable {
                        merge_section(
                            &name,
                            &mut combined[index].1,
                            value,
                            imported.is_cloudify_types,
                            problems,
                        );
                    } else {
                        let message = if MERGEABLE_FROM_1_3.contains(&name.as_str()) {
                            format!("Import failed: non-mergeable field: '{name}'. {name} can be imported multiple times only from cloudify_dsl_1_3 and above.")
                        } else {
                            format!("Import failed: non-mergeable field: '{name}'")
                        };
                        problems.push(Problem::logic(3, key.span, message));
                    }
                }
            }
        }
        if let Some(origin) = origin {
            for problem in &mut problems.list[before..] {
                problem.span = Some(origin);
            }
        }
    }
    Merged {
        document: Node::new(
            Value::Map(combined),
            Span {
                file: 0,
                line: 1,
                column: 1,
            },
        ),
        files,
    }
}

/// The import statements of a document: strings, or single-key maps (1_5 plugin properties).
fn import_list(document: &Node, problems: &mut Problems) -> Vec<(String, Span)> {
    let Some(imports) = document.get("imports") else {
        return Vec::new();
    };
    if imports.is_null() {
        return Vec::new();
    }
    let Some(items) = imports.as_seq() else {
        problems.push(Problem::format(
            1,
            imports.span,
            format!(
                "Expected 'list' type but found '{}' type",
                imports.type_name()
            ),
        ));
        return Vec::new();
    };
    let mut result = Vec::new();
    let mut keys = HashSet::new();
    for item in items {
        let import = match &item.value {
            Value::Str(s) => s.to_string(),
            Value::Map(entries) if entries.len() == 1 && entries[0].0.as_str().is_some() => {
                entries[0].0.as_str().unwrap_or_default().to_string()
            }
            Value::Map(_) => {
                problems.push(Problem::format(
                    220,
                    item.span,
                    "Import with properties should be a single-entry dictionary",
                ));
                continue;
            }
            _ => {
                problems.push(Problem::format(
                    1,
                    item.span,
                    format!(
                        "Expected 'string' type but found '{}' type",
                        item.type_name()
                    ),
                ));
                continue;
            }
        };
        if !keys.insert(import.clone()) {
            problems.push(Problem::format(2, item.span, "Duplicate imports"));
            continue;
        }
        result.push((import, item.span));
    }
    result
}

fn split_namespace(import: &str) -> (Option<String>, &str) {
    match import.rfind("--") {
        Some(index) if index > 0 => (Some(import[..index].to_string()), &import[index + 2..]),
        _ => (None, import),
    }
}

/// Cloudify's own types file: it defines `cloudify.nodes.Root`.
fn is_cloudify_types(document: &Node) -> bool {
    document
        .get("node_types")
        .and_then(|types| types.get("cloudify.nodes.Root"))
        .is_some()
}

fn check_version(imported: &Imported, main: &DslVersion, problems: &mut Problems) {
    if imported.document.span.file == 0 {
        return;
    }
    let Some(node) = imported.document.get("tosca_definitions_version") else {
        return;
    };
    let Some(raw) = node.as_str() else { return };
    let Some(index) = crate::version::SUPPORTED.iter().position(|v| *v == raw) else {
        problems.push(Problem::logic(
            29,
            node.span,
            format!("Unexpected tosca_definitions_version {raw}; Currently supported versions are: {:?}", crate::version::SUPPORTED),
        ));
        return;
    };
    let main_index = crate::version::SUPPORTED
        .iter()
        .position(|v| *v == main.raw.as_ref())
        .unwrap_or(usize::MAX);
    if index > main_index {
        problems.push(Problem::logic(
            28,
            node.span,
            format!(
                "An import uses a different tosca_definitions_version than the one defined in the main blueprint's file: main blueprint's file version is '{}', import with different version is '{}', version of problematic import is '{raw}'",
                main.raw, imported.location
            ),
        ));
    }
}

fn merge_section(
    name: &str,
    into: &mut Node,
    from: Node,
    from_cloudify_types: bool,
    problems: &mut Problems,
) {
    let (Value::Map(target), Value::Map(source)) = (&mut into.value, from.value) else {
        // A section of the wrong shape is reported by the schema checks.
        return;
    };
    for (key, value) in source {
        let key_name = key
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| key.key_string());
        let existing = target.iter().position(|(k, _)| k.value == key.value);
        match existing {
            None => target.push((key, value)),
            Some(index) if from_cloudify_types || key_name.starts_with("cloudify.") => {
                target[index].1 = value
            }
            Some(index) => {
                if name == "node_templates" {
                    if let Err(problem) =
                        merge_node_template(&mut target[index].1, value, &key_name)
                    {
                        problems.push(problem);
                    }
                } else if name == "workflows" || KEEP_FIRST.contains(&name) {
                    // The first definition wins.
                } else {
                    problems.push(Problem::logic(4, key.span, format!("Import failed: Could not merge '{name}' due to conflict on '{key_name}'")));
                }
            }
        }
    }
}

/// A node template defined in two documents merges only when one side adds relationships.
fn merge_node_template(into: &mut Node, from: Node, name: &str) -> Result<(), Problem> {
    let conflict = |span| {
        Problem::logic(
            4,
            span,
            format!("Import failed: Could not merge 'node_templates' due to conflict on '{name}'"),
        )
    };
    let from_span = from.span;
    let only_relationships = |node: &Node| {
        node.as_map()
            .is_some_and(|m| m.len() == 1 && node.get("relationships").is_some())
    };
    if into.get("relationships").is_none() {
        return Err(conflict(from_span));
    }
    let from_only_relationships = only_relationships(&from);
    let into_len = into.as_map().map_or(0, <[_]>::len);
    let Value::Map(target) = &mut into.value else {
        return Err(conflict(from_span));
    };
    if into_len == 1 && (from.get("type").is_some() || from_only_relationships) {
        let Value::Map(source) = from.value else {
            return Err(conflict(from_span));
        };
        for (key, value) in source {
            match &value.value {
                Value::Seq(items) if key.as_str() == Some("relationships") => {
                    if let Some((
                        _,
                        Node {
                            value: Value::Seq(existing),
                            ..
                        },
                    )) = target
                        .iter_mut()
                        .find(|(k, _)| k.as_str() == Some("relationships"))
                    {
                        existing.extend(items.iter().cloned());
                    }
                }
                Value::Map(_) | Value::Str(_) => {
                    if let Some(slot) = target.iter_mut().find(|(k, _)| k.value == key.value) {
                        slot.1 = value;
                    } else {
                        target.push((key, value));
                    }
                }
                _ => {}
            }
        }
        return Ok(());
    }
    if from_only_relationships {
        if let (
            Some(Node {
                value: Value::Seq(items),
                ..
            }),
            Some((
                _,
                Node {
                    value: Value::Seq(existing),
                    ..
                },
            )),
        ) = (
            from.get("relationships"),
            target
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some("relationships")),
        ) {
            existing.extend(items.iter().cloned());
            return Ok(());
        }
    }
    Err(conflict(from_span))
}

/// Shared, immutable text of a document (kept so callers can cache by location).
pub type Text = Arc<str>;
