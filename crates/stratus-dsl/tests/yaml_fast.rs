//! The fast YAML path against yaml-rust2: wherever the fast path handles a document, its
//! events and marks (index, line, column) must be yaml-rust2's, and `yaml::load` must give
//! the yaml-rust2-only load's result. Over every YAML file of the test data, the shared
//! corpus and type files, generated bench blueprints, a list of tricky cases, and a bounded
//! property test of generated and mutated YAML-ish text. The unbounded version is the
//! `yaml_fast` cargo-fuzz target in `fuzz/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use stratus_dsl::yaml::testing::{fast_events, load_fast, load_reference, reference_events};

mod yaml_fast_support;
use yaml_fast_support::{generated_blueprint, yamlish, SOUP};

/// Whether the fast path handled `text`; panics if it handled it differently from yaml-rust2.
fn check(text: &str) -> Result<(), &'static str> {
    let fast = fast_events(text);
    if let Ok(events) = &fast {
        match reference_events(text) {
            Ok(reference) => {
                if *events != reference {
                    let at = events
                        .iter()
                        .zip(&reference)
                        .position(|(a, b)| a != b)
                        .unwrap_or(events.len().min(reference.len()));
                    panic!(
                        "fast path events differ at #{at}\ntext: {text:?}\nfast:      {:?}\nreference: {:?}",
                        events.get(at),
                        reference.get(at)
                    );
                }
            }
            Err(err) => panic!("fast path handled text yaml-rust2 rejects ({err}): {text:?}"),
        }
    }
    // The load (whichever path) equals yaml-rust2's load, tree or error.
    let loaded = format!("{:?}", stratus_dsl::yaml::load(text, 7));
    let reference = format!("{:?}", load_reference(text, 7));
    assert_eq!(loaded, reference, "load differs for {text:?}");
    if fast.is_ok() {
        assert!(load_fast(text, 7).is_some());
    }
    fast.map(|_| ())
}

/// Asserts the fast path handles `text` (and agrees with yaml-rust2).
#[track_caller]
fn handled(text: &str) {
    if let Err(why) = check(text) {
        panic!("fast path declined ({why}): {text:?}");
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

#[test]
fn every_data_file_agrees() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    yaml_files(&shared().join("corpus"), &mut files);
    yaml_files(&shared().join("reference/typefiles"), &mut files);
    yaml_files(&manifest.join("tests/data"), &mut files);
    files.sort();
    assert!(
        files.len() > 100,
        "test data not found ({} files)",
        files.len()
    );
    let mut handled_count = 0;
    let mut declines: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        match check(&text) {
            Ok(()) => handled_count += 1,
            Err(why) => declines
                .entry(why)
                .or_default()
                .push(file.display().to_string()),
        }
    }
    // The type files the built-in catalog renders.
    let catalog = stratus_catalog::Catalog::builtin();
    let entries = catalog.entries();
    assert!(!entries.is_empty());
    for entry in &entries {
        let Some(text) = catalog.entry_text(entry) else {
            continue;
        };
        match check(text) {
            Ok(()) => handled_count += 1,
            Err(why) => declines
                .entry(why)
                .or_default()
                .push(format!("catalog: {}", entry.path)),
        }
    }
    let declined: usize = declines.values().map(Vec::len).sum();
    eprintln!("fast path: {handled_count} documents handled, {declined} declined");
    for (why, files) in &declines {
        eprintln!("  declined ({why}): {}", files.len());
        for file in files {
            eprintln!("    {file}");
        }
    }
    let onap: Vec<&String> = declines
        .values()
        .flatten()
        .filter(|f| f.contains("onap-frankfurt"))
        .collect();
    assert!(onap.is_empty(), "ONAP corpus files declined: {onap:?}");
    let catalog_declined: Vec<&String> = declines
        .values()
        .flatten()
        .filter(|f| f.starts_with("catalog: "))
        .collect();
    assert!(
        catalog_declined.is_empty(),
        "catalog documents declined: {catalog_declined:?}"
    );
}

/// Each case is a yaml-rust2 behaviour the fast path replicates (event or mark).
#[test]
fn yaml_rust2_quirks_are_replicated() {
    let cases = [
        // A block mapping starts at its first key's `:` (so does an implicit document).
        "a: b\n",
        "  a: b\n  c: d\n",
        "a   : b\n",
        "'a b': c\n\"d\": e\n",
        // Empty values sit at the next token: a key, a dedented line, the stream end (on a
        // new line unless at column 0), or at the end of input right of the collection.
        "a:\nb:\n",
        "a:\n  b:\nc: d",
        "a:\n  b:\n    c: d\n  ",
        "a:\n  b:\n    c:\n ",
        "a:\n  b:\n    c:   # x",
        "- a:\n  b:\n- c:\n",
        // A sequence at its key's column starts at its first entry's content (after the
        // `-`, its spaces and its comment) and ends at the next key.
        "k:\n- a\n-\n- # c\n  b\nz: 1",
        "k:\n-   a\n- - b\n  - c\n-\n",
        "k:\n  - a\n  -\n  - b: c\n    d: e\n  -\nz:\n- \n",
        "- \n- a\n-",
        "-\n  a\n-\n\n  - b\n",
        // Block scalars: the mark is the first content line (the next token when empty, the
        // header at the end of input), chomping and indentation indicators, folding.
        "a: |\n  x\n  y\nb: c\n",
        "a: >\n  x\n  y\n\n  z\n   more\n  w\n",
        "a: |-\n  x\n\n",
        "a: |+\n  x\n\n\nb: c",
        "a: >-\n\n  x\n",
        "a: |2\n    x\n   y\n",
        "- |1\n  x\n",
        "a: |\nb: c\n",
        "- |+\n\n",
        "- |+",
        "- |+\n",
        "a: >-\n",
        "a: |\n",
        "a: |+\n  \n",
        "a: |\n  x\n  ",
        "a: |\n  x",
        "a: >\n  x\n\n\n",
        "a: |  # comment\n  x\n",
        "a: >+\n  x\n   \n  y\n",
        "- >\n  a\n   b\n  c\n",
        // Flow collections: a mapping closed after a trailing comma ends at the comma.
        "a: {x: 1, }\n",
        "a: {x: 1,}\n",
        "a: [x, y, ]\n",
        "{a, b: , c: d}",
        "{\"a\":b, 'c' :d}",
        "a: {x: [1, {y: z}], w: {}}\n",
        "a: [x,\n  y\n]\n",
        "a: [\n  x,\n  y\n  ]\n",
        "a: {\n  x: 1,\n  y: [2,\n    3]\n}\n",
        "a: [x\n  y, z]\n",
        "a: {x:1, y:}\n",
        "a: [http://x:80/y, a:b, a#b, -a, ?b, :c]\n",
        "[a, [b, c], {d: e}]",
        "a: [x, y] # c\n",
        "a: {x\n  : y}\n",
        "a: ['x', \"y\"]\n",
        // Quoted scalars: escapes and line folding.
        "a: 'it''s'\n",
        "a: \"x\\ty\\u0041\\x42\\\"\\\\\\/\\e\\0\\N\"\n",
        "a: \"x\n  y\n\n  z\"\n",
        "a: \"x\\\n   y\"\n",
        "a: 'x  \n   y'\n",
        "a: \"  x  \"\n",
        "a: 'x\n\n\n  y'\n",
        "- \"a\n  b\"\n",
        // Plain scalars: folding, comments, indicators inside.
        "a: b\n  c\n\n  d\n",
        "- a\n  b\n- c\n",
        "a b\nc\n",
        "a: b # c\n  # d\ne: f\n",
        "a: b#c\n",
        "a: -b\n?c: :d\n",
        "a: b   \n",
        "a: b\t c\n",
        "a: b\t\n",
        // Anchors, aliases, merge keys, tags.
        "base: &b {x: 1}\nd:\n  <<: *b\n  y: 2\n",
        "a: &x\n  b: c\nd: *x\n",
        "a: &x\nb: *x\n",
        "- &x a\n- *x\n- &x b\n- *x\n",
        "a: &x [1, 2]\nb: &y\n- 3\nc: [*x, *y]\n",
        "a: !!str 12\nb: !foo bar\nc: ! x\nd: !!int '12'\ne: &t !!str 1\nf: !!str &u 2\n",
        "a: !!map\n  b: c\n",
        // Properties on an empty value: the empty scalar sits at the next token.
        "a: !!str\nb: c\n",
        "a: &x\n",
        "a: &x # c\n\nb: *x\n",
        // Compact and indentless sequences and mappings mixed.
        "- - a\n  - b\n- c\n",
        "a:\n- b: c\n  d: e\nf: g\n",
        "- a: b\n  c:\n  - d\n  e: f\n",
        "- a: |\n    x\n  b: c\n",
        "- a:\n    - b\n- c\n",
        "a:\n  -   b: c\n      d: e\n",
        // Document markers, comments, line breaks.
        "---\na: b\n...\n",
        "--- # c\na: b",
        "---\n",
        "--- \n# c\n",
        "",
        "# only a comment\n",
        "\n\n",
        "x",
        "'x'\n",
        "[x]\n...\n",
        "a: b\r\nc:\r\n  - d\r\n  - |\r\n    e\r\n    f\r\n",
        "# caf\u{e9}\na: b # \u{fc}\nc:\n- # \u{e9}\u{e9}\n  d\n",
        "a:\n  b: 1\n# \u{e9}\u{e9}\u{e9}",
        "a:\n    b: 1\n# \u{e9}\u{e9}\u{e9}",
    ];
    for case in cases {
        handled(case);
    }
}

/// What the fast path leaves to yaml-rust2 (each must still load as yaml-rust2 loads it).
#[test]
fn declined_constructs_load_as_before() {
    let cases = [
        "? a\n: b\n",
        "%YAML 1.1\n---\na: b\n",
        "a: b\n---\nc: d\n",
        "a:\tb\n",
        "[a: b]\n",
        "&x a: b\n",
        "- &x a: b\n",
        "a: caf\u{e9}\n",
        "a: *nothing\n",
        "a: [b\n",
        "a: \"b\n",
        "a: b\n c: d\n",
        "a: 'b'c\n",
        "a: [b]#c\n",
        "a: x: y\n",
        "a: |0\n  x\n",
        "|\n  x\n",
        "a\0: b\n",
        "a: b\rc: d\n",
    ];
    for case in cases {
        assert!(check(case).is_err(), "expected a decline: {case:?}");
    }
    let long_key = format!("{}: b\n", "k".repeat(1100));
    assert!(check(&long_key).is_err());
}

/// Deep nesting is declined past a limit (no stack overflow in the fast path).
#[test]
fn deep_nesting() {
    let mut block = String::new();
    for depth in 0..150 {
        block.push_str(&" ".repeat(depth));
        block.push_str("k:\n");
    }
    let _ = check(&block);
    let flow = format!("a: {}{}\n", "[".repeat(150), "]".repeat(150));
    let _ = check(&flow);
    let flow = format!("a: {}{}\n", "[".repeat(50), "]".repeat(50));
    handled(&flow);
    let mut seq = String::new();
    for depth in 0..150 {
        seq.push_str(&" ".repeat(depth * 2));
        seq.push_str("- \n");
    }
    let _ = check(&seq);
}

#[test]
fn generated_blueprints_take_the_fast_path() {
    for n in [1, 12, 150] {
        handled(&generated_blueprint(n));
    }
}

proptest! {
    // PROPTEST_CASES=n for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    /// Generated documents, unchanged or with a few random edits: the fast path declines
    /// or agrees with yaml-rust2, and `yaml::load` always gives yaml-rust2's result.
    #[test]
    fn fast_path_agrees_on_generated_yaml(
        choices in prop::collection::vec(any::<u8>(), 0..160),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        crlf in prop::bool::weighted(0.1),
    ) {
        let text = yamlish(&choices, &edits, crlf);
        let _ = check(&text);
    }

    /// Random sequences of YAML fragments: mostly invalid or odd, so mostly declined, never
    /// handled differently.
    #[test]
    fn fast_path_agrees_on_token_soup(picks in prop::collection::vec(0..SOUP.len(), 0..40)) {
        let text: String = picks.into_iter().map(|i| SOUP[i]).collect();
        let _ = check(&text);
    }
}

/// How much of the unedited generated text the fast path handles (it should be most).
#[test]
fn fast_path_handles_most_generated_yaml() {
    let mut handled = 0;
    let total = 500;
    for seed in 0..total {
        let choices: Vec<u8> = (0..160u32)
            .map(|i| ((seed * 7919 + i * 104_729) % 251) as u8)
            .collect();
        if check(&yamlish(&choices, &[], false)).is_ok() {
            handled += 1;
        }
    }
    eprintln!("fast path handled {handled} of {total} generated documents");
    assert!(handled * 2 > total, "only {handled} of {total} handled");
}
