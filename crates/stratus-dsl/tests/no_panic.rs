//! Bounded property test: the parser and planner never panic, whatever the input. (The
//! unbounded version is the `cargo fuzz` target in `fuzz/`.) Inputs are built from blueprint
//! fragments so most of them get past the YAML layer and exercise the DSL checks.

use proptest::prelude::*;
use stratus_dsl::{DocumentCache, ImportError, ImportLoader, LoadedImport};

struct NoImports;

impl ImportLoader for NoImports {
    fn load(&self, import: &str, _importer: &str) -> Result<LoadedImport, ImportError> {
        Err(ImportError {
            message: format!("no imports in this test ({import})"),
        })
    }
}

const FRAGMENTS: &[&str] = &[
    "tosca_definitions_version: cloudify_dsl_1_3\n",
    "tosca_definitions_version: cloudify_dsl_1_5\n",
    "node_types:\n  t:\n    derived_from: t\n",
    "node_types:\n  cloudify.nodes.Root: {}\n  a:\n    derived_from: cloudify.nodes.Root\n    properties:\n      p: {type: integer, default: 1}\n",
    "node_templates:\n  n:\n    type: a\n    properties: {p: {get_input: i}}\n",
    "node_templates:\n  m:\n    type: a\n    relationships: [{type: r, target: n}]\n",
    "relationships:\n  r: {}\n  cloudify.relationships.contained_in: {}\n",
    "inputs:\n  i: {type: integer, default: 2, constraints: [{greater_than: 1}]}\n",
    "outputs:\n  o: {value: {concat: [{get_property: [n, p]}, x]}}\n",
    "plugins:\n  p: {executor: central_deployment_agent, package_name: x}\n",
    "data_types:\n  d: {properties: {x: {type: d}}}\n",
    "groups:\n  g: {members: [n]}\npolicies:\n  s: {type: cloudify.policies.scaling, targets: [g]}\n",
    "workflows:\n  w: p.x.y\n",
    "imports: [x.yaml]\n",
    "dsl_definitions:\n  a: &a {x: 1}\n  b:\n    <<: *a\n",
    ": : :\n", "- [\n", "\t", "'\n", "{{{", "~\n", "0x1f: yes\n",
];

fn blueprint() -> impl Strategy<Value = String> {
    prop::collection::vec((0..FRAGMENTS.len(), any::<u8>()), 0..8).prop_map(|picks| {
        picks
            .into_iter()
            .map(|(i, noise)| {
                let fragment = FRAGMENTS[i];
                if noise % 7 == 0 && !fragment.is_empty() {
                    let cut = noise as usize % fragment.len();
                    fragment[..cut].to_string()
                } else {
                    fragment.to_string()
                }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_and_plan_never_panic(text in blueprint()) {
        if let Ok(blueprint) = stratus_dsl::parse(&text, "case.yaml", &NoImports, &DocumentCache::new()) {
            if let Ok(plan) = stratus_dsl::prepare(&blueprint, &serde_json::Map::new()) {
                let text = serde_json::to_string(&plan).expect("plan text");
                let tree = plan.into_value();
                prop_assert_eq!(text, serde_json::to_string(&tree).expect("tree text"));
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = stratus_dsl::parse(&text, "case.yaml", &NoImports, &DocumentCache::new());
    }
}
