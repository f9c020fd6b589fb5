//! The compiler takes shortcuts on large blueprints (mapping keys looked up by identity,
//! plain subtrees left out of function evaluation, interfaces resolved once per type); each
//! must give exactly what the long way gives. These pin the edge cases where a shortcut could
//! differ: odd mapping keys, the evaluation recursion limit, problems in shared interfaces.

use serde_json::{json, Map, Value};
use stratus_dsl::yaml::{self, Value as Y};
use stratus_dsl::{DocumentCache, ImportError, ImportLoader, LoadedImport};

struct NoImports;

impl ImportLoader for NoImports {
    fn load(&self, import: &str, _importer: &str) -> Result<LoadedImport, ImportError> {
        Err(ImportError {
            message: format!("no imports in this test ({import})"),
        })
    }
}

const HEAD: &str = "tosca_definitions_version: cloudify_dsl_1_3
plugins:
  p: {executor: central_deployment_agent, package_name: p}
inputs:
  x: {default: hello}
node_types:
  cloudify.nodes.Root: {}
  t:
    derived_from: cloudify.nodes.Root
    properties:
      a: {default: 1}
      b: {default: 2}
";

fn plan(text: &str) -> Result<Value, String> {
    let blueprint = stratus_dsl::parse(text, "case.yaml", &NoImports, &DocumentCache::new())
        .map_err(|d| format!("parse: {d:?}"))?;
    stratus_dsl::prepare(&blueprint, &Map::new())
        .map(stratus_dsl::Plan::into_value)
        .map_err(|d| format!("plan: {d:?}"))
}

/// Mapping keys are the same key when they print the same (Python dict semantics as the
/// reference sees them): the first position is kept, the last value wins.
#[test]
fn repeated_mapping_keys_keep_their_first_place_and_last_value() {
    let node = yaml::load(
        "{1: a, 1.0: b, .nan: c, .NaN: d, 0.0: e, -0.0: f, true: g, yes: h, ~: i, null: j, 1: k, \
         '1': l, [1, 2]: m, [1, 2]: n}",
        0,
    )
    .expect("yaml");
    let entries: Vec<(String, String)> = node
        .as_map()
        .expect("map")
        .iter()
        .map(|(k, v)| {
            (
                format!("{:?}", k.value),
                v.as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = entries.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(
        keys[..8],
        [
            "Int(1)",
            "Float(1.0)",
            "Float(NaN)",
            "Float(0.0)",
            "Float(-0.0)",
            "Bool(true)",
            "Null",
            "Str(\"1\")"
        ]
    );
    assert_eq!(values[..8], ["k", "b", "d", "e", "f", "h", "j", "l"]);
    // Collection keys carry their positions: two written apart are two keys.
    assert_eq!(values[8..], ["m", "n"]);
}

#[test]
fn repeated_keys_in_large_mappings() {
    let mut text = String::from("{");
    for i in 0..40 {
        text.push_str(&format!("k{i}: {i}, "));
    }
    text.push_str("k3: again, k39: last, 7: seven, 7: eight, k40: new}");
    let node = yaml::load(&text, 0).expect("yaml");
    let entries = node.as_map().expect("map");
    assert_eq!(entries.len(), 42);
    assert_eq!(entries[3].1.as_str(), Some("again"));
    assert_eq!(entries[39].1.as_str(), Some("last"));
    assert!(matches!(entries[40].0.value, Y::Int(7)));
    assert_eq!(entries[40].1.as_str(), Some("eight"));
    assert_eq!(entries[41].0.as_str(), Some("k40"));
}

fn nested(depth: usize) -> String {
    let mut value = String::from("leaf");
    for _ in 0..depth {
        value = format!("[{value}]");
    }
    value
}

/// Plain data beside a function is evaluated too, so its depth counts against the limit.
#[test]
fn plain_data_next_to_a_function_counts_toward_the_recursion_limit() {
    for (depth, fails) in [(48, false), (49, false), (50, true), (60, true)] {
        let text = format!(
            "{HEAD}node_templates:\n  n:\n    type: t\n    properties:\n      a: {{get_input: x}}\n      b: {}\n",
            nested(depth)
        );
        let result = plan(&text);
        match (fails, &result) {
            (false, Ok(plan)) => {
                assert_eq!(plan["nodes"][0]["properties"]["a"], json!("hello"));
            }
            (true, Err(message)) => assert!(
                message.contains("The recursion limit (50) has been reached"),
                "{depth}: {message}"
            ),
            _ => panic!("depth {depth}: {result:?}"),
        }
    }
    // Without any function nothing is evaluated, however deep.
    let text = format!(
        "{HEAD}node_templates:\n  n:\n    type: t\n    properties:\n      b: {}\n",
        nested(60)
    );
    assert!(plan(&text).is_ok());
}

/// Templates that add no interfaces share their type's resolution, but a problem in it is
/// reported for each template, at that template.
#[test]
fn problems_in_shared_type_interfaces_are_reported_per_template() {
    let text = format!(
        "{HEAD}  bad:
    derived_from: cloudify.nodes.Root
    interfaces:
      i:
        op: {{implementation: p.tasks.x, inputs: {{needed: {{type: string}}}}}}
node_templates:
  first: {{type: bad}}
  second: {{type: bad}}
  third:
    type: bad
    interfaces: {{i: {{op: {{inputs: {{needed: v}}}}}}}}
"
    );
    let problems = stratus_dsl::parse(&text, "case.yaml", &NoImports, &DocumentCache::new())
        .expect_err("missing input");
    let lines: Vec<u32> = problems
        .iter()
        .filter(|d| d.code == Some(107))
        .map(|d| d.line)
        .collect();
    assert_eq!(lines, [19, 20], "{problems:?}");
}

/// Operations shared across templates still get their own inputs evaluated.
#[test]
fn shared_operations_are_evaluated_per_node() {
    let text = format!(
        "{HEAD}  withop:
    derived_from: t
    interfaces:
      i:
        op: {{implementation: p.tasks.x, inputs: {{v: {{default: {{get_property: [SELF, a]}}}}}}}}
node_templates:
  one: {{type: withop, properties: {{a: 1}}}}
  two: {{type: withop, properties: {{a: 2}}}}
  three: {{type: withop}}
"
    );
    let plan = plan(&text).expect("plan");
    let values: Vec<Value> = plan["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["operations"]["op"]["inputs"]["v"].clone())
        .collect();
    assert_eq!(values, [json!(1), json!(2), json!(1)]);
}

/// Most nodes share their type's operations and their plugins lists with other nodes: every
/// node of a 600-template blueprint (parsed on two threads) plans as it does alone.
#[test]
fn many_templates_plan_as_each_does_alone() {
    let types = "  plain:
    derived_from: t
    interfaces:
      i: {op: {implementation: p.tasks.x, inputs: {v: {default: 1}}}}
  withop:
    derived_from: t
    interfaces:
      i:
        op: {implementation: p.tasks.x, inputs: {v: {default: {get_property: [SELF, a]}}}}
node_templates:
";
    let template = |i: usize| match i % 4 {
        0 => format!("  n{i}: {{type: plain, properties: {{a: {i}}}}}\n"),
        1 => format!("  n{i}: {{type: withop, properties: {{a: {i}}}}}\n"),
        2 => {
            format!("  n{i}: {{type: plain, interfaces: {{i: {{op: {{inputs: {{v: {i}}}}}}}}}}}\n")
        }
        _ => format!("  n{i}: {{type: t, properties: {{b: {{get_input: x}}}}}}\n"),
    };
    let all: String = (0..600).map(template).collect();
    let whole = plan(&format!("{HEAD}{types}{all}")).expect("plan");
    let nodes = whole["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), 600);
    for (i, node) in nodes.iter().enumerate() {
        let alone = plan(&format!("{HEAD}{types}{}", template(i))).expect("plan alone");
        assert_eq!(node, &alone["nodes"][0], "node n{i}");
    }
}

/// A large plan's nodes are evaluated on two threads; the problem reported is still the first
/// in node order, whichever half it is in.
#[test]
fn planning_many_nodes_reports_the_first_problem_in_node_order() {
    let text = |bad: &[usize]| {
        let templates: String = (0..600)
            .map(|i| {
                let value = if bad.contains(&i) {
                    format!("{{get_input: [d, k{i}]}}")
                } else {
                    i.to_string()
                };
                format!("  n{i}: {{type: t, properties: {{a: {value}}}}}\n")
            })
            .collect();
        let head = HEAD.replace("inputs:\n", "inputs:\n  d: {default: {k: 1}}\n");
        format!("{head}node_templates:\n{templates}")
    };
    let problem = |bad: &[usize]| plan(&text(bad)).expect_err("a missing input attribute");
    for (bad, first) in [
        (&[550, 580][..], "k550"),
        (&[10, 550], "k10"),
        (&[299, 300], "k299"),
        (&[300, 599], "k300"),
    ] {
        let found = problem(bad);
        assert!(found.contains(&format!("'{first}'")), "{bad:?}: {found}");
    }
    assert!(plan(&text(&[])).is_ok());
}

/// In a very large document, function calls are located on another thread: a bad call is
/// still reported where it is written.
#[test]
fn calls_in_very_large_documents_are_located() {
    let templates: String = (0..4200)
        .map(|i| {
            let value = if i == 4000 {
                "{get_input: missing}".to_string()
            } else {
                "{get_input: x}".to_string()
            };
            format!("  n{i}: {{type: t, properties: {{a: {value}}}}}\n")
        })
        .collect();
    let text = format!("{HEAD}node_templates:\n{templates}");
    let problems = stratus_dsl::parse(&text, "case.yaml", &NoImports, &DocumentCache::new())
        .expect_err("an unknown input");
    assert_eq!(problems.len(), 1, "{problems:?}");
    let line = HEAD.lines().count() + 2 + 4000;
    assert_eq!((problems[0].line as usize, problems[0].column), (line, 36));
    assert!(problems[0].message.contains("'missing'"), "{problems:?}");
}

/// Problems in many templates are reported in document order, each at its place (types
/// resolved once are shared only when they had no problem).
#[test]
fn many_templates_report_problems_in_document_order() {
    let all: String = (0..600)
        .map(|i| {
            if i % 50 == 7 {
                format!("  n{i}: {{type: missing{i}}}\n")
            } else {
                format!("  n{i}: {{type: t}}\n")
            }
        })
        .collect();
    let text = format!("{HEAD}node_templates:\n{all}");
    let problems = stratus_dsl::parse(&text, "case.yaml", &NoImports, &DocumentCache::new())
        .expect_err("unknown types");
    let head_lines = HEAD.lines().count() + 1;
    let expected: Vec<(usize, String)> = (0..600)
        .filter(|i| i % 50 == 7)
        .map(|i| (head_lines + i + 1, format!("missing{i}")))
        .collect();
    let found: Vec<(usize, String)> = problems
        .iter()
        .map(|d| {
            let name = expected
                .iter()
                .map(|(_, name)| name)
                .find(|name| d.message.contains(&format!("'{name}'")))
                .cloned()
                .unwrap_or_else(|| d.message.clone());
            (d.line as usize, name)
        })
        .collect();
    assert_eq!(found, expected);
}

/// Planning copies the node properties for `get_property` only when a call needs them: one
/// written in the blueprint, or one inside a given input value (evaluated after `get_input`
/// returns it, as the reference does).
#[test]
fn get_property_sees_properties_as_written_wherever_the_call_comes_from() {
    let text = "tosca_definitions_version: cloudify_dsl_1_3
inputs:
  x: {default: hello}
  y: {}
node_types:
  t:
    properties:
      a: {default: 1}
      b: {default: 2}
node_templates:
  n:
    type: t
    properties:
      a: {concat: [{get_input: x}, '!']}
  m:
    type: t
    properties:
      b: {get_input: y}
";
    let blueprint =
        stratus_dsl::parse(text, "case.yaml", &NoImports, &DocumentCache::new()).expect("parse");
    assert!(!blueprint.reads_node_properties);
    let mut inputs = Map::new();
    inputs.insert("y".into(), json!({"get_property": ["n", "a"]}));
    let plan = stratus_dsl::prepare(&blueprint, &inputs)
        .expect("plan")
        .into_value();
    // `n.a` as written, then evaluated (as the reference plans it).
    assert_eq!(plan["nodes"][1]["properties"]["b"], json!("hello!"));
    assert_eq!(plan["nodes"][0]["properties"]["a"], json!("hello!"));

    let written = format!(
        "{HEAD}node_templates:\n  n:\n    type: t\n  m:\n    type: t\n    properties:\n      b: {{get_property: [n, a]}}\n"
    );
    let blueprint = stratus_dsl::parse(&written, "case.yaml", &NoImports, &DocumentCache::new())
        .expect("parse");
    assert!(blueprint.reads_node_properties);
    let plan = stratus_dsl::prepare(&blueprint, &Map::new())
        .expect("plan")
        .into_value();
    assert_eq!(plan["nodes"][1]["properties"]["b"], json!(1));
}
