//! The production import loader: plugin imports, URLs through the resolver, relative files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stratus_catalog::{Catalog, Fetcher, ImportResolver, Loader, PluginSource, ResolverConfig};
use stratus_dsl::ImportLoader;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stratus-loader-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn plugin_imports_pick_the_newest_matching_version() {
    let loader = Loader::offline();
    let loaded = loader
        .load(
            "plugin:k8splugin?version=>=3.4.3,<4.0.0",
            "/bp/blueprint.yaml",
        )
        .unwrap();
    assert_eq!(loaded.location, "plugin:k8splugin@3.9.0");
    assert_eq!(
        &*loaded.text,
        Catalog::builtin().plugin("k8splugin", "==3.9.0").unwrap().1
    );
    let encoded = loader.load(
        "plugin:k8splugin?version=%3E%3D1.4.0%2C%3C1.5.0&distribution=centos",
        "/bp/b.yaml",
    );
    assert_eq!(encoded.unwrap().location, "plugin:k8splugin@1.4.13");
    assert_eq!(
        loader
            .load("plugin:dcaepolicyplugin", "/bp/b.yaml")
            .unwrap()
            .location,
        "plugin:dcaepolicyplugin@2.4.0"
    );
    assert_eq!(
        loader
            .load("plugin:k8splugin?version=1.4.13", "/b.yaml")
            .unwrap()
            .location,
        "plugin:k8splugin@1.4.13"
    );
}

#[test]
fn missing_plugin_error_names_import_importer_and_versions() {
    let error = Loader::offline()
        .load(
            "plugin:relationshipplugin?version=>=5",
            "/bp/blueprint.yaml",
        )
        .unwrap_err();
    assert!(
        error
            .message
            .contains("plugin:relationshipplugin?version=>=5"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("/bp/blueprint.yaml"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("1.0.0, 1.1.0") || error.message.contains("1.1.0, 1.0.0"),
        "{}",
        error.message
    );
}

struct Uploaded;

impl PluginSource for Uploaded {
    fn describe(&self) -> String {
        "uploaded plugins".into()
    }
    fn versions(&self, name: &str) -> Vec<String> {
        if name == "k8splugin" {
            vec!["3.9.0".into(), "4.0.0".into()]
        } else {
            Vec::new()
        }
    }
    fn text(&self, _name: &str, version: &str) -> Option<Arc<str>> {
        Some(Arc::from(format!("uploaded: {version}")))
    }
}

#[test]
fn extra_plugin_sources_join_the_search_and_win_ties() {
    let loader = Loader::offline().with_plugin_source(Box::new(Uploaded));
    let newest = loader.load("plugin:k8splugin", "/b.yaml").unwrap();
    assert_eq!(
        (newest.location.as_str(), &*newest.text),
        ("plugin:k8splugin@4.0.0", "uploaded: 4.0.0")
    );
    let tie = loader
        .load("plugin:k8splugin?version=<4", "/b.yaml")
        .unwrap();
    assert_eq!(&*tie.text, "uploaded: 3.9.0");
    let builtin = loader
        .load("plugin:k8splugin?version=<3.9", "/b.yaml")
        .unwrap();
    assert_eq!(builtin.location, "plugin:k8splugin@3.8.0");
}

#[test]
fn public_urls_load_offline_with_canonical_locations() {
    let loader = Loader::offline();
    let a = loader
        .load(
            "http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml",
            "/bp/b.yaml",
        )
        .unwrap();
    let b = loader
        .load(
            "HTTP://WWW.getcloudify.org/spec/cloudify/./x/../4.5.5/types.yaml",
            "/bp/b.yaml",
        )
        .unwrap();
    assert_eq!(
        a.location,
        "http://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml"
    );
    assert_eq!(a.location, b.location);
    assert_eq!(a.text, b.text);
}

#[test]
fn url_errors_name_import_importer_and_attempts() {
    let error = Loader::offline()
        .load("https://example.com/types.yaml", "/bp/blueprint.yaml")
        .unwrap_err();
    assert!(
        error.message.contains("https://example.com/types.yaml"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("/bp/blueprint.yaml"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("network access is disabled"),
        "{}",
        error.message
    );
}

#[test]
fn relative_imports_resolve_against_the_importer() {
    let dir = temp_dir("relative");
    write(&dir.join("bp/blueprint.yaml"), "main");
    write(&dir.join("bp/types/a.yaml"), "a");
    write(&dir.join("bp/types/b.yaml"), "b");
    write(&dir.join("shared.yaml"), "shared");
    let loader = Loader::offline().with_blueprint_root(dir.join("bp"));
    let main = dir.join("bp/blueprint.yaml").display().to_string();
    let a = loader.load("types/a.yaml", &main).unwrap();
    assert_eq!(
        a.location,
        dir.join("bp/types/a.yaml").display().to_string()
    );
    assert_eq!(&*a.text, "a");
    // From a.yaml, `b.yaml` is its sibling; another spelling of a.yaml gives the same location.
    assert_eq!(&*loader.load("b.yaml", &a.location).unwrap().text, "b");
    assert_eq!(
        loader
            .load("./types/../types/a.yaml", &main)
            .unwrap()
            .location,
        a.location
    );
    // `../` is allowed (as in the reference) and canonicalised.
    let shared = loader.load("../shared.yaml", &main).unwrap();
    assert_eq!(
        shared.location,
        dir.join("shared.yaml").display().to_string()
    );
    // A path relative to the blueprint root is found from a nested document too.
    assert_eq!(
        &*loader.load("types/b.yaml", &a.location).unwrap().text,
        "b"
    );
    assert!(loader.resource_exists("types/a.yaml"));
    assert!(!loader.resource_exists("types/missing.sh"));
}

#[test]
fn missing_file_error_lists_paths_tried() {
    let dir = temp_dir("missing");
    let loader = Loader::offline().with_blueprint_root(&dir);
    let importer = dir.join("sub/blueprint.yaml").display().to_string();
    let error = loader.load("nope.yaml", &importer).unwrap_err();
    assert!(error.message.contains("'nope.yaml'"), "{}", error.message);
    assert!(error.message.contains(&importer), "{}", error.message);
    assert!(
        error
            .message
            .contains(&dir.join("sub/nope.yaml").display().to_string()),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains(&dir.join("nope.yaml").display().to_string()),
        "{}",
        error.message
    );
}

struct Static;

impl Fetcher for Static {
    fn fetch(&self, url: &str) -> Result<String, String> {
        Ok(format!("fetched: {url}"))
    }
}

#[test]
fn relative_imports_inside_url_documents_join_the_url() {
    let config = ResolverConfig {
        allow_network: true,
        ..ResolverConfig::default()
    };
    let loader = Loader::new(ImportResolver::new(
        config,
        Catalog::builtin(),
        Some(Box::new(Static)),
    ));
    let loaded = loader
        .load(
            "../common/types.yaml",
            "https://repo.example/blueprints/x/main.yaml",
        )
        .unwrap();
    assert_eq!(
        loaded.location,
        "https://repo.example/blueprints/common/types.yaml"
    );
    assert_eq!(
        &*loaded.text,
        "fetched: https://repo.example/blueprints/common/types.yaml"
    );
}

#[test]
fn file_urls_and_rules_reach_local_mirrors() {
    let dir = temp_dir("mirror");
    write(&dir.join("mirror/spec/types.yaml"), "mirrored");
    let config = ResolverConfig {
        rules: vec![(
            "https://types.example".into(),
            format!("file://{}/mirror", dir.display()),
        )],
        fallback: false,
        allow_network: false,
    };
    let loader = Loader::new(ImportResolver::new(config, Catalog::builtin(), None));
    assert_eq!(
        &*loader
            .load("https://types.example/spec/types.yaml", "/b.yaml")
            .unwrap()
            .text,
        "mirrored"
    );
    let direct = format!("file://{}/mirror/spec/types.yaml", dir.display());
    assert_eq!(&*loader.load(&direct, "/b.yaml").unwrap().text, "mirrored");
    let short = format!("file:{}/mirror/spec/types.yaml", dir.display());
    assert_eq!(&*loader.load(&short, "/b.yaml").unwrap().text, "mirrored");
    let error = loader
        .load("https://types.example/spec/other.yaml", "/b.yaml")
        .unwrap_err();
    assert!(
        error.message.contains("mirror/spec/other.yaml"),
        "{}",
        error.message
    );
    assert!(
        error.message.contains("fallback is false"),
        "{}",
        error.message
    );
}

#[test]
fn relative_imports_inside_plugins_are_refused() {
    let error = Loader::offline()
        .load("other.yaml", "plugin:k8splugin@3.9.0")
        .unwrap_err();
    assert!(
        error.message.contains("plugin:k8splugin@3.9.0"),
        "{}",
        error.message
    );
}

#[test]
fn manager_resources_come_from_the_catalog() {
    let loader = Loader::offline();
    let dir = temp_dir("resource");
    let importer = dir.join("blueprint.yaml").display().to_string();
    let latest = loader.load("cloudify/types/types.yaml", &importer).unwrap();
    assert_eq!(latest.location, "resource:cloudify/types/types.yaml");
    assert_eq!(
        &*latest.text,
        Catalog::builtin()
            .document("cloudify-dsl-1.4/types.yaml")
            .unwrap()
    );
    let suffixed = loader
        .load("resource:cloudify/types/types_1_4.yaml", &importer)
        .unwrap();
    assert_eq!(suffixed.location, latest.location);
    let older = loader
        .load("cloudify/types/types_1_3.yaml", &importer)
        .unwrap();
    assert_eq!(
        &*older.text,
        Catalog::builtin()
            .document("cloudify-dsl-1.3/types.yaml")
            .unwrap()
    );
    // A file in the blueprint directory takes precedence over the resource.
    write(&dir.join("cloudify/types/types.yaml"), "local");
    assert_eq!(
        &*loader
            .load("cloudify/types/types.yaml", &importer)
            .unwrap()
            .text,
        "local"
    );
    assert!(loader
        .load("resource:nope.yaml", &importer)
        .unwrap_err()
        .message
        .contains("resource:nope.yaml"));
}

#[test]
fn loader_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Loader>();
}
