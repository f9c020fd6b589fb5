//! ONAP's pgaas and sshkeyshare plugins run by a real `stratus serve`: the corpus blueprints
//! `k8s-pgaas-initdb` (a keypair and a cluster taken under control), `k8s-holmes-rules` (a
//! database and a component whose environment holds its credentials) and `k8s-holmes-engine`
//! (the same database, referenced), installed and uninstalled through the REST API against a
//! real PostgreSQL (`tools/postgres/start`: `STRATUS_TEST_POSTGRES_URL`) and the test
//! kube-apiserver (`KUBECONFIG`). Without them that test prints SKIPPED and passes, unless
//! `STRATUS_REQUIRE_POSTGRES=1` / `STRATUS_REQUIRE_KUBE=1`.
//!
//! The first test needs neither: a cluster taken under control without an initial password
//! touches no server, and a database on an unknown cluster fails before connecting.

mod k8s_support;
mod process;

use k8s_support::*;
use process::send;
use serde_json::{json, Value};

fn corpus(name: &str) -> String {
    std::fs::read_to_string(format!("{CORPUS}/{name}.yaml")).unwrap()
}

fn instance(manager: &Manager, deployment: &str, node: &str) -> Value {
    manager
        .instances(deployment)
        .into_iter()
        .find(|i| i["node_id"] == json!(node))
        .unwrap_or_else(|| panic!("no instance of {node} in {deployment}"))
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

const UNKNOWN_CLUSTER: &str = r#"tosca_definitions_version: cloudify_dsl_1_3
imports:
  - https://www.getcloudify.org/spec/cloudify/4.5.5/types.yaml
  - https://nexus.onap.org/service/local/repositories/raw/content/org.onap.ccsdk.platform.plugins/type_files/pgaas/1.1.0/pgaas_types.yaml
node_templates:
  db:
    type: dcae.nodes.pgaas.database
    properties:
      writerfqdn: other.example.test
      name: holmes
    interfaces:
      cloudify.interfaces.lifecycle:
        create:
          max_retries: 0
"#;

#[test]
fn cluster_files_go_where_configured_and_unknown_clusters_fail_clearly() {
    let manager = plain_manager(|c, dir| {
        c.arg("--pgaas-dir").arg(dir.join("clusters"));
    });
    let clusters = manager.data_dir().parent().unwrap().join("clusters");
    let (_, status) = send(manager.port(), "GET", "/api/v3.1/status", "", b"");
    let note = json_of(&status)["services"]["Stratus REST Service"]["extra_info"]["pgaas"].clone();
    assert_eq!(
        note,
        json!(format!("cluster information in {}", clusters.display())),
        "{status}"
    );

    manager.upload("initdb", &corpus("k8s-pgaas-initdb"));
    let fqdn = "PG.example.test:5432";
    let (status, body) =
        manager.create_deployment("initdb", "initdb", json!({"k8s_pgaas_instance_fqdn": fqdn}));
    assert_eq!(status, 201, "{body}");
    let (status, error) = manager.run("initdb", "install", json!({}));
    assert_eq!(status, "terminated", "{error}");
    let keypair = instance(&manager, "initdb", "sharedsshkey_pgrs")["runtime_properties"].clone();
    let public = keypair["public"].as_str().unwrap();
    assert!(public.starts_with("ssh-ed25519 "), "{public}");
    let cluster = instance(&manager, "initdb", "pgaas_cluster")["runtime_properties"].clone();
    assert_eq!(cluster["public"], keypair["public"]);
    assert_eq!(cluster["base64private"], keypair["base64private"]);
    let postgres = cluster["postgrespswd"].as_str().unwrap();
    assert!(postgres.len() == 64 && postgres.bytes().all(|b| b.is_ascii_hexdigit()));
    let file = clusters.join("pg.example.test:5432");
    let stored: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        stored,
        json!({"ro": fqdn, "pubkey": public, "data": keypair["base64private"], "hash": "sha256"})
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&clusters), 0o700);
    assert!(!manager.data_dir().join("pgaas").exists());

    // holmes-rules is no longer refused for pgaas (only, without a cluster, for k8splugin).
    manager.upload("rules", &corpus("k8s-holmes-rules"));
    let (status, body) =
        manager.create_deployment("rules", "rules", json!({"pgaas_cluster_name": fqdn}));
    assert!(status == 201 || !body.contains("pgaas"), "{status} {body}");

    // A database on a cluster this manager does not know: a clear, final failure.
    manager.upload("unknown", UNKNOWN_CLUSTER);
    let (status, body) = manager.create_deployment("unknown", "unknown", json!({}));
    assert_eq!(status, 201, "{body}");
    let (status, error) = manager.run("unknown", "install", json!({}));
    assert_eq!(status, "failed");
    assert!(error.contains("Cluster must be deployed"), "{error}");
    assert!(
        error.contains("valid PostgreSQL cluster domains found on this manager")
            && error.contains("pg.example.test:5432"),
        "{error}"
    );

    let (status, error) = manager.run("initdb", "uninstall", json!({}));
    assert_eq!(status, "terminated", "{error}");
    assert!(!file.exists(), "the cluster file goes with the cluster");
}

/// The test PostgreSQL's host and port.
fn postgres_server() -> Option<(String, u16)> {
    let require = std::env::var("STRATUS_REQUIRE_POSTGRES").as_deref() == Ok("1");
    let Ok(url) = std::env::var("STRATUS_TEST_POSTGRES_URL") else {
        assert!(
            !require,
            "STRATUS_REQUIRE_POSTGRES=1 but STRATUS_TEST_POSTGRES_URL is not set"
        );
        eprintln!("\n*** SKIPPED: the pgaas end-to-end test needs STRATUS_TEST_POSTGRES_URL (eval \"$(tools/postgres/start)\") ***\n");
        return None;
    };
    let config: postgres::Config = url.parse().expect("STRATUS_TEST_POSTGRES_URL");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        _ => panic!("STRATUS_TEST_POSTGRES_URL must name a TCP host: {url}"),
    };
    Some((host, config.get_ports().first().copied().unwrap_or(5432)))
}

fn superuser(host: &str, port: u16) -> postgres::Client {
    postgres::Config::new()
        .host(host)
        .port(port)
        .user("postgres")
        .dbname("postgres")
        .connect(postgres::NoTls)
        .expect("connect to the test PostgreSQL")
}

/// The database and roles of `database` that exist.
fn left_in_postgres(client: &mut postgres::Client, database: &str) -> Vec<String> {
    client
        .query(
            "SELECT datname::text FROM pg_database WHERE datname = $1 UNION ALL SELECT rolname::text FROM pg_roles WHERE starts_with(rolname, $2) ORDER BY 1",
            &[&database, &format!("{database}_")],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Drops what a failed run left in the shared server.
struct Cleanup {
    host: String,
    port: u16,
    database: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let mut client = superuser(&self.host, self.port);
        let db = &self.database;
        let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\""));
        for suffix in [
            "user",
            "viewer",
            "admin",
            "common_user_role",
            "common_viewer_role",
        ] {
            let _ = client.batch_execute(&format!("DROP ROLE IF EXISTS \"{db}_{suffix}\""));
        }
        let _ = client.batch_execute("ALTER USER postgres WITH PASSWORD NULL");
    }
}

/// The environment of the main container of a started component instance.
fn container_env(cluster: &Cluster, namespace: &str, instance: &Value) -> Vec<Value> {
    let name = instance["runtime_properties"]["k8s_deployment"]["deployment"]
        .as_str()
        .expect("k8s_deployment.deployment");
    let stored = cluster
        .get(&format!(
            "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        ))
        .expect("Deployment stored");
    stored["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn env_value(env: &[Value], name: &str) -> Value {
    env.iter()
        .find(|e| e["name"] == json!(name))
        .map(|e| e["value"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn holmes_rules_and_engine_install_on_a_pgaas_database_and_uninstall_cleanly() {
    let Some((pg_host, pg_port)) = postgres_server() else {
        return;
    };
    let Some(cluster) = cluster() else { return };
    let namespace = unique("e2e-pgaas");
    let database = unique("holmes").replace('-', "x");
    let _cleanup = Cleanup {
        host: pg_host.clone(),
        port: pg_port,
        database: database.clone(),
    };
    let manager = manager(&cluster, &namespace, &cluster.kubeconfig.clone(), json!({}));
    let _kubelet = FakeKubelet::start(&cluster, &namespace);
    let fqdn = format!("{pg_host}:{pg_port}");

    // The cluster, taken under control.
    manager.upload("initdb", &corpus("k8s-pgaas-initdb"));
    let (status, body) = manager.create_deployment(
        "initdb",
        "initdb",
        json!({"k8s_pgaas_instance_fqdn": fqdn, "k8s_initial_password": "initial"}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, error) = manager.run("initdb", "install", json!({}));
    assert_eq!(status, "terminated", "install initdb: {error}");
    let cluster_file = manager.data_dir().join("pgaas").join(&fqdn);
    assert!(
        cluster_file.is_file(),
        "the default directory is DATA_DIR/pgaas"
    );

    // holmes-rules: the database and the component using it.
    let inputs = json!({"pgaas_cluster_name": fqdn, "database_name": database});
    for (id, name) in [
        ("rules", "k8s-holmes-rules"),
        ("engine", "k8s-holmes-engine"),
    ] {
        manager.upload(id, &corpus(name));
        let (status, body) = manager.create_deployment(id, id, inputs.clone());
        assert_eq!(status, 201, "{name}: {body}");
    }
    let (status, error) = manager.run("rules", "install", json!({}));
    assert_eq!(status, "terminated", "install holmes-rules: {error}");
    let admin = instance(&manager, "rules", "pgaasvm")["runtime_properties"]["admin"].clone();
    assert_eq!(admin["database"], json!(database));
    assert_eq!(admin["host"], json!(pg_host));
    assert_eq!(admin["port"], json!(pg_port.to_string()));
    assert_eq!(admin["user"], json!(format!("{database}_admin")));
    let password = admin["password"].as_str().unwrap();
    assert!(password.len() == 64 && password.bytes().all(|b| b.is_ascii_hexdigit()));
    let env = container_env(
        &cluster,
        &namespace,
        &instance(&manager, "rules", "holmesrules"),
    );
    assert_eq!(env_value(&env, "URL_JDBC"), admin["host"]);
    assert_eq!(env_value(&env, "JDBC_USERNAME"), admin["user"]);
    assert_eq!(env_value(&env, "JDBC_PASSWORD"), admin["password"]);
    assert_eq!(env_value(&env, "MSB_ADDR"), json!("msb-iag.onap"));
    let mut client = superuser(&pg_host, pg_port);
    let mut expected: Vec<String> = [
        "admin",
        "common_user_role",
        "common_viewer_role",
        "user",
        "viewer",
    ]
    .iter()
    .map(|suffix| format!("{database}_{suffix}"))
    .collect();
    expected.push(database.clone());
    expected.sort();
    assert_eq!(left_in_postgres(&mut client, &database), expected);

    // holmes-engine references the same database and gets the same credentials.
    let (status, error) = manager.run("engine", "install", json!({}));
    assert_eq!(status, "terminated", "install holmes-engine: {error}");
    let engine = container_env(
        &cluster,
        &namespace,
        &instance(&manager, "engine", "holmesengine"),
    );
    assert_eq!(env_value(&engine, "JDBC_PASSWORD"), admin["password"]);
    assert_eq!(env_value(&engine, "JDBC_USERNAME"), admin["user"]);
    let (status, error) = manager.run("engine", "uninstall", json!({}));
    assert_eq!(status, "terminated", "uninstall holmes-engine: {error}");
    assert_eq!(
        left_in_postgres(&mut client, &database),
        expected,
        "a referenced database stays"
    );

    // Uninstalling holmes-rules drops the database and roles and the Kubernetes objects.
    let (status, error) = manager.run("rules", "uninstall", json!({}));
    assert_eq!(status, "terminated", "uninstall holmes-rules: {error}");
    assert!(left_in_postgres(&mut client, &database).is_empty());
    for kind in ["deployments", "services", "configmaps"] {
        let left = cluster.names(&namespace, kind);
        assert!(left.is_empty(), "{kind} left after uninstall: {left:?}");
    }

    // And the cluster's uninstall its file.
    let (status, error) = manager.run("initdb", "uninstall", json!({}));
    assert_eq!(status, "terminated", "uninstall initdb: {error}");
    assert!(!cluster_file.exists());
}
