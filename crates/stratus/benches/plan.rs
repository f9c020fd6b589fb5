//! Parse + plan timings: `cargo bench -p stratus --bench plan`.
//!
//! Prints a table: the median over repeated runs for each corpus blueprint (imports served by
//! the built-in catalog, parsed imports cached as a running server would), and generated
//! blueprints of 100, 1,000 and 10,000 nodes (no imports) in two shapes, each with the time of
//! reading its YAML alone (the part no later stage can save). The `heavy` shape is
//! `bench/gen-blueprint`'s, the one `bench/dsl` times the reference parser on. The generated
//! files are written to `target/bench-blueprints/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use stratus_catalog::Loader;
use stratus_dsl::DocumentCache;

// The binary's allocator, so the figures are the binary's.
#[path = "../src/allocator.rs"]
mod allocator;
#[global_allocator]
static GLOBAL: allocator::Mimalloc = allocator::Mimalloc;

fn generated(nodes: usize) -> String {
    let mut text = String::from(
        "tosca_definitions_version: cloudify_dsl_1_3\n\
         plugins:\n  p:\n    executor: central_deployment_agent\n    package_name: p\n\
         inputs:\n  prefix: {type: string, default: gen}\n  replicas: {type: integer, default: 1}\n\
         node_types:\n  cloudify.nodes.Root:\n    interfaces:\n      cloudify.interfaces.lifecycle: {create: {}, configure: {}, start: {}, stop: {}, delete: {}}\n\
         \x20 gen.Base:\n    derived_from: cloudify.nodes.Root\n    properties:\n      name: {type: string}\n      replicas: {type: integer, default: 1}\n\
         \x20   interfaces:\n      cloudify.interfaces.lifecycle:\n        create: p.tasks.create\n        configure: p.tasks.configure\n        start: p.tasks.start\n\
         \x20 gen.Service:\n    derived_from: gen.Base\n    properties:\n      port: {type: integer, default: 8080}\n\
         relationships:\n  cloudify.relationships.depends_on:\n    properties: {connection_type: {default: all_to_all}}\n\
         \x20 cloudify.relationships.connected_to: {derived_from: cloudify.relationships.depends_on}\n\
         \x20 cloudify.relationships.contained_in: {derived_from: cloudify.relationships.depends_on}\n\
         node_templates:\n",
    );
    for i in 0..nodes {
        let kind = if i % 2 == 0 {
            "gen.Base"
        } else {
            "gen.Service"
        };
        text.push_str(&format!(
            "  n{i}:\n    type: {kind}\n    properties:\n      name: {{concat: [{{get_input: prefix}}, '-{i}']}}\n      replicas: {{get_input: replicas}}\n"
        ));
        if i > 0 {
            let relationship = match i % 3 {
                0 => "cloudify.relationships.depends_on",
                1 => "cloudify.relationships.connected_to",
                _ => "cloudify.relationships.contained_in",
            };
            let target = if relationship.ends_with("contained_in") {
                i - 1
            } else {
                i / 2
            };
            text.push_str(&format!(
                "    relationships:\n      - {{type: {relationship}, target: n{target}}}\n"
            ));
        }
    }
    text
}

/// The median of `runs` timed calls, after one untimed warm-up call.
fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn plan(
    text: &str,
    location: &str,
    loader: &Loader,
    cache: &DocumentCache,
    inputs: &Map<String, Value>,
) {
    // As the server does it: the blueprint parsed for this plan is consumed by it.
    let blueprint = stratus_dsl::parse(text, location, loader, cache).expect("valid blueprint");
    stratus_dsl::prepare_owned(blueprint, inputs, None).expect("plan");
}

/// `cargo bench -p stratus --bench plan -- [--runs N] FILE…`: time just these files and print
/// `FILE<TAB>median seconds` (used by `bench/dsl`). Inputs come from
/// `crates/stratus-dsl/tests/data/corpus/NAME.inputs.json` when present.
fn time_files(files: &[String], data: &Path, runs: Option<usize>) {
    let cache = DocumentCache::new();
    for file in files {
        let path = PathBuf::from(file);
        let text = std::fs::read_to_string(&path).expect("read blueprint");
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        let inputs: Map<String, Value> =
            std::fs::read_to_string(data.join(format!("{name}.inputs.json")))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default();
        let loader = Loader::offline().with_blueprint_root(path.parent().expect("parent"));
        let location = path.to_string_lossy().to_string();
        let first = Instant::now();
        plan(&text, &location, &loader, &cache, &inputs);
        let runs = runs.unwrap_or(if first.elapsed() > Duration::from_millis(200) {
            3
        } else {
            50
        });
        let median = time(runs, || plan(&text, &location, &loader, &cache, &inputs));
        println!("{file}\t{:.6}", median.as_secs_f64());
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("../shared/corpus/onap-frankfurt");
    let data = root.join("crates/stratus-dsl/tests/data/corpus");
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `--runs N` fixes the number of timed runs per file (for profiling).
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let files: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--runs"))
        .map(|(_, a)| a.clone())
        .collect();
    if !files.is_empty() {
        time_files(&files, &data, runs);
        return;
    }
    let cache = DocumentCache::new();
    println!("{:<34} {:>12}", "blueprint", "parse+plan");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut medians = Vec::new();
    // STRATUS_BENCH_ONLY=generated skips the corpus (for profiling the large cases).
    if std::env::var("STRATUS_BENCH_ONLY").as_deref() == Ok("generated") {
        files.clear();
    }
    for file in files {
        let name = file
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(&file).expect("read");
        let inputs_path = data.join(format!("{name}.inputs.json"));
        let inputs: Map<String, Value> = std::fs::read_to_string(&inputs_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let loader = Loader::offline().with_blueprint_root(corpus.clone());
        let location = file.to_string_lossy().to_string();
        let median = time(200, || plan(&text, &location, &loader, &cache, &inputs));
        medians.push(median);
        println!("{name:<34} {:>9.3} ms", median.as_secs_f64() * 1e3);
    }
    medians.sort();
    if !medians.is_empty() {
        println!(
            "{:<34} {:>9.3} ms",
            "corpus median",
            medians[medians.len() / 2].as_secs_f64() * 1e3
        );
    }
    let out = root.join("target/bench-blueprints");
    std::fs::create_dir_all(&out).expect("bench dir");
    let loader = Loader::offline();
    for (nodes, runs) in [(100, 20), (1000, 10), (10000, 5)] {
        // Two shapes: `light` (this file's generator: two properties and one relationship
        // per node, operations from the type) and `heavy` (`bench/gen-blueprint`, the
        // blueprints `bench/dsl` times the reference parser on: every node writes its own
        // operations with inputs, reads other nodes' properties, and relates to one to three
        // others).
        let shapes = [
            ("light", "gen", Some(generated(nodes))),
            ("heavy", "bench", heavy(&root, nodes)),
        ];
        for (shape, prefix, text) in shapes {
            let Some(text) = text else {
                println!("{shape} {nodes} nodes: skipped (bench/gen-blueprint needs python3)");
                continue;
            };
            let path = out.join(format!("{prefix}-{nodes}.yaml"));
            std::fs::write(&path, &text).expect("write generated blueprint");
            let location = path.to_string_lossy().to_string();
            let median = time(runs, || {
                plan(&text, &location, &loader, &cache, &Map::new())
            });
            // The floor under it: reading the YAML text into a tree, nothing else.
            let yaml = time(runs, || {
                stratus_dsl::yaml::load(&text, 0).expect("valid YAML");
            });
            // The same YAML through yaml-rust2 alone (what every document went through
            // before the fast path), for the smaller sizes.
            let reference = (nodes <= 1000).then(|| {
                time(runs, || {
                    stratus_dsl::yaml::testing::load_reference(&text, 0).expect("valid YAML");
                })
            });
            println!(
                "{:<34} {:>9.3} ms   (YAML alone {:.3} ms{})",
                format!("{shape} {nodes} nodes"),
                median.as_secs_f64() * 1e3,
                yaml.as_secs_f64() * 1e3,
                reference.map_or(String::new(), |r| format!(
                    "; through yaml-rust2 {:.3} ms",
                    r.as_secs_f64() * 1e3
                ))
            );
        }
    }
}

/// `bench/gen-blueprint NODES`, or `None` without python3.
fn heavy(root: &Path, nodes: usize) -> Option<String> {
    let output = std::process::Command::new("python3")
        .arg(root.join("bench/gen-blueprint"))
        .arg(nodes.to_string())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8(output.stdout).expect("generated blueprint is UTF-8"))
}
