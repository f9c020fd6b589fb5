//! Differential tests against the reference parser (cloudify-common 7.0.5), whose outputs are
//! committed under `crates/stratus-dsl/tests/data` (regenerate with `tools/oracle/regen`):
//!
//! - `corpus/`: the 22 ONAP Frankfurt blueprints from `../shared/corpus`, parsed with only the
//!   built-in catalog; every plan must equal the reference's.
//! - `ok/`: feature cases; plans must equal the reference's.
//! - `err/`: invalid blueprints; the reference's error code (or exception type) must be among
//!   our diagnostics, at the expected line.
//!
//! Plans are compared modulo node instance id suffixes (random in both) and `description`
//! fields below the top level (the catalog leaves out others' prose: it is not contract).
//! `known-gaps.txt` lists cases that do not pass yet, one per line with the reason; a listed
//! case that starts passing fails the test, so the list only shrinks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use stratus_catalog::Loader;
use stratus_dsl::{Diagnostic, DocumentCache};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../stratus-dsl/tests/data")
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/onap-frankfurt")
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn inputs_for(path: &Path) -> Option<Map<String, Value>> {
    path.exists()
        .then(|| read_json(path).as_object().cloned().unwrap_or_default())
}

fn run(file: &Path, inputs: Option<&Map<String, Value>>) -> Result<Option<Value>, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(file).expect("read blueprint");
    let location = std::fs::canonicalize(file).expect("canonical path");
    let loader = Loader::offline().with_blueprint_root(location.parent().expect("parent"));
    let blueprint = stratus_dsl::parse(
        &text,
        &location.to_string_lossy(),
        &loader,
        &DocumentCache::new(),
    )?;
    match inputs {
        None => Ok(None),
        // The server's path: the blueprint parsed for one plan, consumed by it.
        Some(inputs) => {
            stratus_dsl::prepare_owned(blueprint, inputs, None).map(|plan| Some(plan.into_value()))
        }
    }
}

fn strip_descriptions(value: &Value, top: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| top || k.as_str() != "description")
                .map(|(k, v)| (k.clone(), strip_descriptions(v, false)))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| strip_descriptions(v, false)).collect())
        }
        other => other.clone(),
    }
}

/// Replaces instance ids by `NODE_X` and sorts instances, so random suffixes compare equal.
fn normalize(plan: &Value) -> Value {
    let mut plan = strip_descriptions(&stratus_dsl::sorted(plan), true);
    // The reference builds group members with list(set(...)): their order is random.
    for section in ["groups", "scaling_groups"] {
        for group in plan
            .get_mut(section)
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|m| m.values_mut())
        {
            if let Some(Value::Array(members)) = group.get_mut("members") {
                members.sort_by_key(|m| m.to_string());
            }
        }
    }
    let Some(instances) = plan
        .get("node_instances")
        .and_then(Value::as_array)
        .cloned()
    else {
        return plan;
    };
    let names: BTreeMap<String, String> = instances
        .iter()
        .filter_map(|i| {
            Some((
                i.get("id")?.as_str()?.to_string(),
                format!("{}_X", i.get("node_id")?.as_str()?),
            ))
        })
        .collect();
    let rename = |v: &mut Value| {
        if let Some(new) = v.as_str().and_then(|s| names.get(s)) {
            *v = Value::String(new.clone());
        }
    };
    let mut normalized: Vec<Value> = instances
        .into_iter()
        .map(|mut instance| {
            for key in ["id", "host_id"] {
                if let Some(v) = instance.get_mut(key) {
                    rename(v);
                }
            }
            // Scaling group instance ids are random too.
            for group in instance
                .get_mut("scaling_groups")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let name = group
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                group["id"] = Value::String(format!("{name}_X"));
            }
            for relationship in instance
                .get_mut("relationships")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(v) = relationship.get_mut("target_id") {
                    rename(v);
                }
            }
            instance
        })
        .collect();
    normalized.sort_by_key(|v| v.to_string());
    plan["node_instances"] = Value::Array(normalized);
    // Inter-deployment dependencies name instances too; their order follows instance order.
    if let Some(Value::Array(idds)) = plan.get_mut("inter_deployment_functions") {
        for idd in idds.iter_mut() {
            for value in idd
                .get_mut("context")
                .and_then(Value::as_object_mut)
                .into_iter()
                .flat_map(|c| c.values_mut())
            {
                rename(value);
            }
        }
        idds.sort_by_key(|v| v.to_string());
    }
    plan
}

fn first_difference(ours: &Value, reference: &Value, path: &str) -> Option<String> {
    match (ours, reference) {
        (Value::Object(a), Value::Object(b)) => {
            for key in a.keys().chain(b.keys()) {
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => {
                        if let Some(d) = first_difference(x, y, &format!("{path}.{key}")) {
                            return Some(d);
                        }
                    }
                    (x, y) => return Some(format!("{path}.{key}: ours {x:?}, reference {y:?}")),
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]"))),
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: ours {a}, reference {b}")),
    }
}

fn known_gaps() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(data_dir().join("known-gaps.txt")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, reason) = l.split_once(':').unwrap_or((l, ""));
            (name.trim().to_string(), reason.trim().to_string())
        })
        .collect()
}

fn compare_plan(file: &Path, expected: &Path, inputs: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(expected)
        .map_err(|e| format!("read {}: {e}", expected.display()))?;
    // Python's json.dumps writes NaN/Infinity, which are not JSON.
    let reference: Value =
        serde_json::from_str(&text).map_err(|e| format!("reference plan is not JSON ({e})"))?;
    let inputs = inputs_for(inputs).unwrap_or_default();
    match run(file, Some(&inputs)) {
        Ok(Some(plan)) => match first_difference(&normalize(&plan), &normalize(&reference), "") {
            None => Ok(()),
            Some(difference) => Err(difference),
        },
        Ok(None) => Err("no plan".into()),
        Err(diagnostics) => Err(format!(
            "rejected: {}",
            diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

fn check_cases(cases: Vec<(String, Result<(), String>)>) {
    let gaps = known_gaps();
    let mut failures = Vec::new();
    for (name, result) in &cases {
        match (result, gaps.get(name)) {
            (Ok(()), Some(_)) => {
                failures.push(format!("{name}: passes now; remove it from known-gaps.txt"))
            }
            (Err(why), None) => failures.push(format!("{name}: {}", why.replace('\n', " "))),
            _ => {}
        }
    }
    let passed = cases.iter().filter(|(_, r)| r.is_ok()).count();
    eprintln!("{passed} of {} cases match the reference", cases.len());
    assert!(
        failures.is_empty(),
        "{} case(s) differ from the reference:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn corpus_plans_equal_the_reference() {
    let mut cases = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    for file in names
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let name = file
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        let expected = data_dir().join(format!("corpus/{name}.plan.json"));
        let inputs = data_dir().join(format!("corpus/{name}.inputs.json"));
        cases.push((
            format!("corpus/{name}"),
            compare_plan(&file, &expected, &inputs),
        ));
    }
    assert_eq!(cases.len(), 22, "the corpus has 22 blueprints");
    // The corpus is the product's reason to exist: no known gaps allowed here.
    let failures: Vec<_> = cases.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn corpus_validates_without_inputs_except_the_two_that_need_them() {
    for entry in std::fs::read_dir(corpus_dir()).expect("corpus dir") {
        let file = entry.expect("entry").path();
        let result = run(&file, None);
        assert!(result.is_ok(), "{}: {:?}", file.display(), result.err());
    }
}

fn case_files(kind: &str) -> Vec<(String, PathBuf)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data_dir().join(kind))
        .expect("data dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                format!("{kind}/{}", p.file_stem().expect("stem").to_string_lossy()),
                p,
            )
        })
        .collect()
}

#[test]
fn ok_cases_equal_the_reference() {
    let mut cases = Vec::new();
    for (name, file) in case_files("ok") {
        let expected = file.with_extension("plan.json");
        if !expected.exists() {
            continue;
        }
        cases.push((
            name,
            compare_plan(&file, &expected, &file.with_extension("inputs.json")),
        ));
    }
    assert!(
        cases.len() >= 30,
        "expected at least 30 valid feature cases, found {}",
        cases.len()
    );
    check_cases(cases);
}

#[test]
fn err_cases_report_the_reference_error_at_the_right_place() {
    let mut cases = Vec::new();
    for (name, file) in case_files("err") {
        let expect_path = file.with_extension("expect.json");
        if !expect_path.exists() {
            continue;
        }
        let expect = read_json(&expect_path);
        let inputs = inputs_for(&file.with_extension("inputs.json")).or_else(|| {
            (expect.get("phase").and_then(Value::as_str) == Some("plan")).then(Map::new)
        });
        let outcome = match run(&file, inputs.as_ref()) {
            Ok(_) => Err("accepted, but the reference rejects it".to_string()),
            Err(diagnostics) => {
                let code = expect.get("code").and_then(Value::as_i64);
                let kind = expect
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let line = expect.get("line").and_then(Value::as_u64).map(|l| l as u32);
                let same_error = |d: &&Diagnostic| match code {
                    Some(code) => d.code == Some(code as i32),
                    None => d.kind.reference_name() == kind,
                };
                let found: Vec<&Diagnostic> = diagnostics.iter().filter(same_error).collect();
                if found.is_empty() {
                    Err(format!(
                        "expected {kind} {code:?}, got {:?}",
                        diagnostics
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                    ))
                } else if line.is_some_and(|line| !found.iter().any(|d| d.line == line)) {
                    Err(format!(
                        "right error at line {}, expected line {line:?}",
                        found[0].line
                    ))
                } else {
                    Ok(())
                }
            }
        };
        cases.push((name, outcome));
    }
    let count = cases.len();
    check_cases(cases);
    assert!(
        count >= 40,
        "expected at least 40 invalid-blueprint cases, found {count}"
    );
}

/// The shared cache (parsed imports, resolved type sections) must not change any result: a
/// second parse through a warm cache plans exactly as a cold one. Planning from a borrowed
/// blueprint (`prepare`, which copies its plan) equals planning from an owned one.
#[test]
fn warm_cache_plans_equal_cold_ones() {
    let cache = DocumentCache::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        let inputs =
            inputs_for(&data_dir().join(format!("corpus/{name}.inputs.json"))).unwrap_or_default();
        let text = std::fs::read_to_string(&file).expect("read");
        let location = std::fs::canonicalize(&file).expect("canonical");
        let loader = Loader::offline().with_blueprint_root(location.parent().expect("parent"));
        let plan_with = |cache: &DocumentCache| {
            let blueprint = stratus_dsl::parse(&text, &location.to_string_lossy(), &loader, cache)
                .expect("parse");
            normalize(
                &stratus_dsl::prepare(&blueprint, &inputs)
                    .expect("plan")
                    .into_value(),
            )
        };
        let cold = plan_with(&DocumentCache::new());
        let owned = {
            let blueprint = stratus_dsl::parse(&text, &location.to_string_lossy(), &loader, &cache)
                .expect("parse");
            let plan = stratus_dsl::prepare_owned(blueprint, &inputs, None).expect("plan");
            // Serializing the plan writes what serializing its whole tree writes.
            let text = serde_json::to_string(&plan).expect("plan text");
            let value = plan.into_value();
            assert_eq!(
                text,
                serde_json::to_string(&value).expect("tree text"),
                "{name}: the plan serializes unlike its tree"
            );
            normalize(&value)
        };
        assert_eq!(
            first_difference(&owned, &cold, ""),
            None,
            "{name}: planning an owned blueprint differs"
        );
        let first = plan_with(&cache);
        let warm = plan_with(&cache);
        assert_eq!(
            first_difference(&warm, &cold, ""),
            None,
            "{name}: warm cache differs"
        );
        assert_eq!(
            first_difference(&first, &cold, ""),
            None,
            "{name}: shared cache differs"
        );
    }
}
