//! The `stratus` command as a user runs it: exit codes, diagnostics, plans, resolver config,
//! catalog export.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn stratus(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(args)
        .output()
        .expect("run stratus")
}

fn data(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../stratus-dsl/tests/data")
        .join(path)
        .to_string_lossy()
        .into_owned()
}

fn corpus(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/onap-frankfurt")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stratus-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn validate_exit_codes() {
    assert_eq!(
        stratus(&["blueprint", "validate", &corpus("k8s-ves.yaml")])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        stratus(&["blueprint", "validate", &data("err/unknown_property.yaml")])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        stratus(&["blueprint", "validate"]).status.code(),
        Some(2),
        "missing FILE is bad usage"
    );
    assert_eq!(
        stratus(&["blueprint", "validate", "/no/such/file.yaml"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn upload_checks_skip_inputs_deployment_checks_need_them() {
    let file = corpus("k8s-sonhms.yaml");
    assert_eq!(
        stratus(&["blueprint", "validate", &file]).status.code(),
        Some(0)
    );
    let output = stratus(&["blueprint", "validate", &file, "--inputs", "{}"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("aaf_username"));
    let inputs = data("corpus/k8s-sonhms.inputs.json");
    assert_eq!(
        stratus(&["blueprint", "validate", &file, "--inputs", &inputs])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn json_diagnostics_carry_place_code_and_hint() {
    let output = stratus(&[
        "blueprint",
        "validate",
        "--json",
        &data("err/unknown_property.yaml"),
    ]);
    let line = String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let diagnostic: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(diagnostic["code"], 106);
    assert_eq!(diagnostic["line"], 15);
    assert_eq!(diagnostic["column"], 7);
    assert_eq!(diagnostic["type"], "DSLParsingLogicException");
    assert!(diagnostic["hint"]
        .as_str()
        .is_some_and(|h| h.contains("port")));
}

#[test]
fn plan_prints_the_deployment_plan() {
    let output = stratus(&["blueprint", "plan", &corpus("k8s-ves.yaml")]);
    assert_eq!(output.status.code(), Some(0));
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("plan JSON");
    let instances = plan["node_instances"].as_array().expect("node_instances");
    assert_eq!(instances.len(), 1);
    assert!(instances[0]["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("ves_") && id.len() == "ves_".len() + 6));
    assert_eq!(
        plan["nodes"][0]["type"],
        "dcae.nodes.ContainerizedPlatformComponent"
    );
}

#[test]
fn resolver_rules_from_the_config_file_and_offline_errors() {
    let dir = scratch("resolver");
    let mirror = dir.join("mirror");
    std::fs::create_dir_all(&mirror).expect("mirror dir");
    std::fs::write(
        mirror.join("extra.yaml"),
        "tosca_definitions_version: cloudify_dsl_1_3\nnode_types:\n  my.Type:\n    derived_from: cloudify.nodes.Root\n",
    )
    .expect("write type file");
    let blueprint = dir.join("blueprint.yaml");
    std::fs::write(
        &blueprint,
        "tosca_definitions_version: cloudify_dsl_1_3\nimports:\n  - https://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml\n  - https://types.example.invalid/spec/extra.yaml\nnode_templates:\n  n: {type: my.Type}\n",
    )
    .expect("write blueprint");
    let blueprint = blueprint.to_string_lossy().into_owned();

    // Offline by default: the unknown URL is an error that names it.
    let output = stratus(&["blueprint", "validate", &blueprint]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("https://types.example.invalid/spec/extra.yaml"),
        "{stderr}"
    );
    assert!(stderr.contains("error[13]"), "{stderr}");

    // A rule in Cloudify's format maps it to the mirror.
    let config = dir.join("stratus.yaml");
    std::fs::write(
        &config,
        format!(
            "import_resolver:\n  parameters:\n    fallback: false\n    rules:\n      - {{'https://types.example.invalid/spec/': 'file://{}/'}}\n",
            mirror.display()
        ),
    )
    .expect("write config");
    let output = stratus(&[
        "--config",
        &config.to_string_lossy(),
        "blueprint",
        "validate",
        &blueprint,
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A malformed config is bad usage, with the place.
    std::fs::write(
        &config,
        "import_resolver:\n  parameters:\n    rules: nope\n",
    )
    .expect("write config");
    let output = stratus(&[
        "--config",
        &config.to_string_lossy(),
        "blueprint",
        "validate",
        &blueprint,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("rules"));
}

#[test]
fn catalog_export_writes_every_file_at_its_url_path() {
    let dir = scratch("export");
    let output = stratus(&["catalog", "export", &dir.to_string_lossy()]);
    assert_eq!(output.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&stratus(&["catalog", "list"]).stdout)
        .lines()
        .count();
    assert_eq!(listed, 87);
    for path in [
        "www.getcloudify.org/spec/cloudify/4.5.5/types.yaml",
        "plugins/k8splugin/3.9.0/plugin.yaml",
    ] {
        let text =
            std::fs::read_to_string(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(text.contains("tosca_definitions_version"), "{path}");
    }
}
