//! The built-in catalog against the reference type files it stands in for.
//!
//! Contract equality: every reference file and our rendering of it parse (yaml-rust2, with
//! PyYAML's `<<` merge keys applied) to the same tree once `description` keys are dropped.
//! Authorship: the committed catalog sources hold no verbatim runs of the reference text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use stratus_catalog::{Catalog, EntryKind};
use yaml_rust2::{Yaml, YamlLoader};

fn reference_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/typefiles")
}

fn reference_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read reference dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let root = reference_root();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    assert!(
        out.len() > 80,
        "reference type files not found under {}",
        root.display()
    );
    out
}

/// Upstream k8splugin 1.4.5 was published with unresolved merge-conflict markers; the catalog
/// carries the HEAD side (see the crate report). Other files are read as they are.
fn repair_conflicts(text: &str) -> (String, bool) {
    if !text.contains("\n<<<<<<< ") {
        return (text.to_string(), false);
    }
    let mut out = String::new();
    let mut state = 0; // 0 outside, 1 ours, 2 theirs
    for line in text.lines() {
        match state {
            _ if line.starts_with("<<<<<<< ") => state = 1,
            1 if line == "=======" => state = 2,
            2 if line.starts_with(">>>>>>> ") => state = 0,
            2 => {}
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    (out, true)
}

/// A YAML tree with mappings compared as maps.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Scalar(String),
    Seq(Vec<Tree>),
    Map(BTreeMap<String, Tree>),
}

fn scalar_key(yaml: &Yaml) -> String {
    match yaml {
        Yaml::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn normalize(yaml: &Yaml) -> Tree {
    match yaml {
        Yaml::Hash(hash) => {
            let mut map = BTreeMap::new();
            // PyYAML merge keys: explicit entries win over merged ones.
            if let Some(merged) = hash.get(&Yaml::String("<<".into())) {
                let sources = match merged {
                    Yaml::Array(items) => items.clone(),
                    other => vec![other.clone()],
                };
                for source in sources.iter().rev() {
                    if let Tree::Map(entries) = normalize(source) {
                        map.extend(entries);
                    }
                }
            }
            for (key, value) in hash {
                let key = scalar_key(key);
                if key == "<<" || key == "description" {
                    continue;
                }
                map.insert(key, normalize(value));
            }
            map.remove("description");
            Tree::Map(map)
        }
        Yaml::Array(items) => Tree::Seq(items.iter().map(normalize).collect()),
        Yaml::String(s) if matches!(s.as_str(), "Null" | "NULL") => Tree::Scalar("null".into()),
        Yaml::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "on"
                if s.chars().skip(1).all(|c| c.is_lowercase())
                    || s.chars().all(|c| c.is_uppercase()) =>
            {
                Tree::Scalar("bool:true".into())
            }
            "no" | "off"
                if s.chars().skip(1).all(|c| c.is_lowercase())
                    || s.chars().all(|c| c.is_uppercase()) =>
            {
                Tree::Scalar("bool:false".into())
            }
            _ => Tree::Scalar(format!("str:{s}")),
        },
        Yaml::Integer(i) => Tree::Scalar(format!("int:{i}")),
        Yaml::Real(r) => Tree::Scalar(format!("real:{}", r.parse::<f64>().unwrap_or(f64::NAN))),
        Yaml::Boolean(b) => Tree::Scalar(format!("bool:{b}")),
        Yaml::Null => Tree::Scalar("null".into()),
        other => Tree::Scalar(format!("{other:?}")),
    }
}

/// Through yaml-rust2 (YAML 1.2 rules). PyYAML reads plain `Null`/`NULL` and `yes`/`no`/`on`/`off`
/// spellings as null and booleans; yaml-rust2 as strings. Both sides get the same mapping, so a
/// catalog that writes a PyYAML null where upstream wrote `Null` compares equal here; the
/// stricter comparison is `parse_pyyaml`.
fn parse_yaml12(text: &str, what: &str) -> Tree {
    let docs = YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(docs.len(), 1, "{what}: expected one document");
    normalize(&docs[0])
}

/// Every mapping's keys in document order, by path: the rendering keeps upstream order too.
fn key_order(node: &stratus_dsl::yaml::Node, path: &str, out: &mut Vec<String>) {
    use stratus_dsl::yaml::Value;
    match &node.value {
        Value::Map(entries) => {
            let keys: Vec<String> = entries
                .iter()
                .map(|(k, _)| k.key_string())
                .filter(|k| k != "description")
                .collect();
            out.push(format!("{path}: {}", keys.join(", ")));
            for (key, value) in entries {
                key_order(value, &format!("{path}/{}", key.key_string()), out);
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                key_order(item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn first_order_difference(ours: &str, reference: &str) -> Option<String> {
    let mut a = Vec::new();
    let mut b = Vec::new();
    key_order(&stratus_dsl::yaml::load(ours, 0).ok()?, "", &mut a);
    key_order(&stratus_dsl::yaml::load(reference, 0).ok()?, "", &mut b);
    a.iter()
        .zip(&b)
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("ours {x}; reference {y}"))
}

/// Through the Stratus parser's loader, which resolves scalars as PyYAML (the reference) does.
fn parse_pyyaml(text: &str, what: &str) -> Tree {
    fn tree(node: &stratus_dsl::yaml::Node) -> Tree {
        use stratus_dsl::yaml::Value;
        match &node.value {
            Value::Map(entries) => Tree::Map(
                entries
                    .iter()
                    .map(|(key, value)| (key.key_string(), tree(value)))
                    .filter(|(key, _)| key != "description")
                    .collect(),
            ),
            Value::Seq(items) => Tree::Seq(items.iter().map(tree).collect()),
            Value::Str(s) => Tree::Scalar(format!("str:{s}")),
            Value::Int(i) => Tree::Scalar(format!("int:{i}")),
            Value::Float(f) => Tree::Scalar(format!("real:{f}")),
            Value::Bool(b) => Tree::Scalar(format!("bool:{b}")),
            Value::Null => Tree::Scalar("null".into()),
        }
    }
    tree(&stratus_dsl::yaml::load(text, 0).unwrap_or_else(|e| panic!("{what}: {e:?}")))
}

/// The first path at which two trees differ, with both sides.
fn first_difference(ours: &Tree, reference: &Tree, path: &str) -> Option<String> {
    match (ours, reference) {
        (Tree::Map(a), Tree::Map(b)) => {
            for key in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
                let child = format!("{path}/{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => {
                        if let Some(found) = first_difference(x, y, &child) {
                            return Some(found);
                        }
                    }
                    (x, y) => return Some(format!("{child}: ours {x:?}, reference {y:?}")),
                }
            }
            None
        }
        (Tree::Seq(a), Tree::Seq(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]"))),
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: ours {a:?}, reference {b:?}")),
    }
}

#[test]
fn entries_cover_exactly_the_reference_files() {
    let ours: BTreeSet<String> = Catalog::builtin()
        .entries()
        .into_iter()
        .map(|e| e.path)
        .collect();
    let reference: BTreeSet<String> = reference_files().into_iter().collect();
    let missing: Vec<_> = reference.difference(&ours).collect();
    let extra: Vec<_> = ours.difference(&reference).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing from catalog: {missing:#?}\nnot in reference: {extra:#?}"
    );
    for entry in Catalog::builtin().entries() {
        assert_eq!(
            entry.kind == EntryKind::Plugin,
            entry.path.starts_with("plugins/"),
            "{entry:?}"
        );
    }
}

#[test]
fn every_document_is_contract_equal_to_its_reference() {
    let catalog = Catalog::builtin();
    let mut failures = Vec::new();
    let mut repaired = Vec::new();
    for path in reference_files() {
        let raw =
            std::fs::read_to_string(reference_root().join(&path)).expect("read reference file");
        let (text, was_repaired) = repair_conflicts(&raw);
        if was_repaired {
            repaired.push(path.clone());
        }
        let reference = parse_pyyaml(&text, &format!("reference {path}"));
        let reference_12 = parse_yaml12(&text, &format!("reference {path}"));
        let entry = catalog.entries().into_iter().find(|e| e.path == path);
        let Some(rendered) = entry.as_ref().and_then(|e| catalog.entry_text(e)) else {
            failures.push(format!("{path}: not in the catalog"));
            continue;
        };
        let ours = parse_pyyaml(rendered, &format!("rendered {path}"));
        if let Some(difference) = first_difference(&ours, &reference, "") {
            failures.push(format!("{path} (PyYAML rules): {difference}"));
        }
        if let Some(difference) = first_order_difference(rendered, &text) {
            failures.push(format!("{path} (key order): {difference}"));
        }
        let ours_12 = parse_yaml12(rendered, &format!("rendered {path}"));
        if let Some(difference) = first_difference(&ours_12, &reference_12, "") {
            failures.push(format!("{path} (yaml-rust2): {difference}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} documents differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        repaired,
        vec!["plugins/k8splugin/1.4.5/plugin.yaml".to_string()],
        "upstream files with conflict markers"
    );
}

#[test]
fn type_files_are_served_by_url_and_plugins_by_spec() {
    let catalog = Catalog::builtin();
    let path = "www.getcloudify.org/spec/cloudify/4.5.5/types.yaml";
    let text = catalog.document(path).expect("4.5.5 types");
    assert!(std::ptr::eq(
        text,
        catalog
            .document_for_url(&format!("https://{path}"))
            .unwrap()
    ));
    assert!(std::ptr::eq(
        text,
        catalog.document_for_url(&format!("http://{path}")).unwrap()
    ));
    assert_eq!(catalog.document_for_url(&format!("file:///{path}")), None);
    assert_eq!(
        catalog.document("plugins/k8splugin/3.9.0/plugin.yaml"),
        None
    );
    assert_eq!(
        catalog.plugin("k8splugin", ">=3.4.3,<4.0.0").map(|p| p.0),
        Some("3.9.0")
    );
    assert_eq!(
        catalog.plugin("k8splugin", "==1.4.13").map(|p| p.0),
        Some("1.4.13")
    );
    assert_eq!(
        catalog.plugin("dockerplugin", "<2.4.0").map(|p| p.0),
        Some("2.3.0+t.0.3")
    );
    assert_eq!(catalog.plugin("k8splugin", ">=9"), None);
    assert_eq!(catalog.plugin("nosuchplugin", ""), None);
}

/// The oracle picks plugin versions from the reference directory listing; the catalog must
/// pick the same one for the same spec.
#[test]
fn plugin_choice_agrees_with_the_reference_listing() {
    let specs = [
        "",
        ">=1.4.0,<1.5.0",
        ">=3.4.3,<4.0.0",
        "==1.7.2",
        "1.4.10",
        "<2.4.0",
        ">=2.3.0",
        "!=3.9.0",
        "<1",
    ];
    let plugins_dir = reference_root().join("plugins");
    for plugin in std::fs::read_dir(&plugins_dir).unwrap() {
        let name = plugin.unwrap().file_name().to_string_lossy().into_owned();
        let versions: Vec<String> = std::fs::read_dir(plugins_dir.join(&name))
            .unwrap()
            .map(|v| v.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for spec in specs {
            let parsed = stratus_catalog::VersionSpec::parse(spec);
            let expected = versions
                .iter()
                .filter(|v| parsed.matches(v))
                .max_by(|a, b| stratus_catalog::compare_versions(a, b))
                .map(String::as_str);
            let ours = Catalog::builtin().plugin(&name, spec).map(|(v, _)| v);
            assert_eq!(ours, expected, "plugin {name} spec {spec:?}");
        }
    }
}

#[test]
fn export_writes_every_entry() {
    let dir = std::env::temp_dir().join(format!("stratus-catalog-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let count = Catalog::builtin().export(&dir).unwrap();
    assert_eq!(count, reference_files().len());
    let exported =
        std::fs::read_to_string(dir.join("plugins/k8splugin/1.4.13/plugin.yaml")).unwrap();
    assert_eq!(
        Some(exported.as_str()),
        Catalog::builtin()
            .plugin("k8splugin", "==1.4.13")
            .map(|p| p.1)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn catalog_lines() -> Vec<String> {
    stratus_catalog::testing::sources()
        .iter()
        .flat_map(|(_, text)| text.lines())
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect()
}

/// No run of 6 consecutive non-blank reference lines appears in the catalog sources.
#[test]
fn catalog_sources_hold_no_verbatim_runs() {
    let ours = catalog_lines();
    let ours_text = ours.join("\n");
    let mut copied = Vec::new();
    for path in reference_files() {
        let text = std::fs::read_to_string(reference_root().join(&path)).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        for window in lines.windows(6) {
            let run = window.join("\n");
            if ours_text.contains(&run) {
                copied.push(format!("{path}: {run}"));
                break;
            }
        }
    }
    assert!(
        copied.is_empty(),
        "verbatim runs:\n{}",
        copied.join("\n---\n")
    );
}

/// Prose (descriptions, comments) and long lines of the reference files never appear at all.
#[test]
fn catalog_sources_hold_no_reference_prose() {
    let ours: BTreeSet<String> = catalog_lines().into_iter().collect();
    let ours_text = stratus_catalog::testing::sources()
        .iter()
        .map(|(_, t)| *t)
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for path in reference_files() {
        let text = std::fs::read_to_string(reference_root().join(&path)).unwrap();
        for line in text.lines().map(str::trim) {
            let prose = line
                .strip_prefix('#')
                .map(str::trim)
                .filter(|c| c.len() >= 20 && c.contains(' '));
            let description = line
                .strip_prefix("description:")
                .map(str::trim)
                .filter(|d| d.len() >= 20);
            if let Some(sentence) = prose.or(description) {
                if ours_text.contains(sentence) {
                    found.push(format!("{path}: {sentence}"));
                }
            } else if line.len() >= 30 && ours.contains(line) {
                found.push(format!("{path}: {line}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "reference text in catalog sources:\n{}",
        found.join("\n")
    );
}
