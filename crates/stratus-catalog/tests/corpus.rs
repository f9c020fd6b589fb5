//! Every import of the ONAP Frankfurt corpus, followed transitively, loads offline with zero
//! configuration: the point of the built-in catalog.

use std::collections::BTreeSet;
use std::path::Path;

use stratus_catalog::Loader;
use stratus_dsl::ImportLoader;

fn imports_of(text: &str) -> Vec<String> {
    let document = stratus_dsl::yaml::load(text, 0).expect("parse YAML");
    let imports = document
        .get("imports")
        .and_then(|i| i.as_seq())
        .unwrap_or_default();
    imports
        .iter()
        .filter_map(|i| i.as_str().map(str::to_string))
        .collect()
}

#[test]
fn frankfurt_blueprints_resolve_every_import_offline() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/onap-frankfurt");
    let mut blueprints: Vec<_> = std::fs::read_dir(&corpus)
        .expect("corpus dir")
        .map(|e| e.unwrap().path())
        .collect();
    blueprints.sort();
    assert!(
        blueprints.len() >= 20,
        "corpus not found at {}",
        corpus.display()
    );
    let mut seen = BTreeSet::new();
    for blueprint in blueprints {
        let root = blueprint.parent().unwrap().to_path_buf();
        let loader = Loader::offline().with_blueprint_root(&root);
        let location = blueprint.canonicalize().unwrap().display().to_string();
        let mut queue = vec![(location, std::fs::read_to_string(&blueprint).unwrap())];
        while let Some((importer, text)) = queue.pop() {
            for import in imports_of(&text) {
                let loaded = loader
                    .load(&import, &importer)
                    .unwrap_or_else(|e| panic!("{}: {}", blueprint.display(), e.message));
                if seen.insert(loaded.location.clone()) {
                    queue.push((loaded.location, loaded.text.to_string()));
                }
            }
        }
    }
    assert!(seen
        .iter()
        .any(|l| l.ends_with("k8splugin/1.7.2/k8splugin_types.yaml")));
    assert!(seen.contains("http://www.getcloudify.org/spec/cloudify/3.4/types.yaml"));
}
