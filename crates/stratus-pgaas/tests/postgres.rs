//! The pgaas operations against a real PostgreSQL (`tools/postgres/start`, which exports
//! `STRATUS_TEST_POSTGRES_URL`; trust authentication): a cluster taken under control, a
//! database created (twice: adopted the second time), each generated role's privileges
//! checked by connecting as it, delete refused while the database is in use and then dropping
//! everything. Without the server the test prints SKIPPED and passes, unless
//! `STRATUS_REQUIRE_POSTGRES=1`.
//!
//! Trust authentication accepts any password, so logging in as a role proves only that the
//! role exists; what the roles may do is checked statement by statement.

use std::sync::Mutex;

use serde_json::{json, Map, Value};
use stratus_pgaas::ops::{generate_keypair, USES_KEYPAIR};
use stratus_pgaas::{ClusterDir, Plugin, Request, Target};

fn server() -> Option<(String, u16)> {
    let require = std::env::var("STRATUS_REQUIRE_POSTGRES").as_deref() == Ok("1");
    let Ok(url) = std::env::var("STRATUS_TEST_POSTGRES_URL") else {
        assert!(
            !require,
            "STRATUS_REQUIRE_POSTGRES=1 but STRATUS_TEST_POSTGRES_URL is not set"
        );
        eprintln!(
            "\n*** SKIPPED: set STRATUS_TEST_POSTGRES_URL (eval \"$(tools/postgres/start)\") ***\n"
        );
        return None;
    };
    let config: postgres::Config = url.parse().expect("STRATUS_TEST_POSTGRES_URL");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        _ => panic!("STRATUS_TEST_POSTGRES_URL must name a TCP host: {url}"),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Some((host, port))
}

fn connect(host: &str, port: u16, user: &str, password: &str, database: &str) -> postgres::Client {
    postgres::Config::new()
        .host(host)
        .port(port)
        .user(user)
        .password(password)
        .dbname(database)
        .connect(postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect as {user} to {database}: {e}"))
}

/// Drops what a failed run left behind.
struct Cleanup {
    host: String,
    port: u16,
    database: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let mut root = connect(&self.host, self.port, "postgres", "", "postgres");
        let db = &self.database;
        let _ = root.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\""));
        for suffix in [
            "user",
            "viewer",
            "admin",
            "common_user_role",
            "common_viewer_role",
        ] {
            let _ = root.batch_execute(&format!("DROP ROLE IF EXISTS \"{db}_{suffix}\""));
        }
        let _ = root.batch_execute("ALTER USER postgres WITH PASSWORD NULL");
    }
}

fn request(implementation: &str, properties: Value, targets: Vec<Target>) -> Request {
    Request {
        implementation: implementation.into(),
        properties: properties.as_object().cloned().unwrap(),
        runtime_properties: Map::new(),
        targets,
    }
}

fn sqlstate(result: Result<u64, postgres::Error>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e
            .as_db_error()
            .map(|db| db.code().code().to_string())
            .unwrap_or_else(|| e.to_string()),
    }
}

#[test]
fn cluster_database_roles_privileges_and_delete_on_a_real_server() {
    let Some((host, port)) = server() else { return };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
        % 1_000_000_000;
    let database = format!("pgaastest{}x{stamp}", std::process::id());
    let _cleanup = Cleanup {
        host: host.clone(),
        port,
        database: database.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let plugin = Plugin::new(ClusterDir::new(dir.path().join("pgaas")));
    let lines = Mutex::new(Vec::<String>::new());
    let log =
        |level: &str, message: String| lines.lock().unwrap().push(format!("{level} {message}"));

    // The keypair, then the cluster taken under control with an initial password.
    let keypair = generate_keypair(&Request::default(), &log);
    keypair.result.unwrap();
    let writer = format!("{host}:{port}");
    let cluster = plugin.run(
        &request(
            "pgaas.pgaas_plugin.add_pgaas_cluster",
            json!({"writerfqdn": writer, "readerfqdn": "", "use_existing": false, "initialpassword": "initial"}),
            vec![Target {
                type_hierarchy: vec![USES_KEYPAIR.into()],
                properties: Map::new(),
                runtime_properties: keypair.set.clone(),
            }],
        ),
        &log,
    );
    cluster.result.unwrap();
    let postgres_password = cluster.set["postgrespswd"].as_str().unwrap().to_string();
    assert_eq!(postgres_password.len(), 64);
    let mut root = connect(&host, port, "postgres", &postgres_password, "postgres");
    let stored: Option<String> = root
        .query_one(
            "SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(stored.is_some(), "the postgres user has a password now");

    // The database, twice: the second run adopts everything.
    let create = request(
        "pgaas.pgaas_plugin.create_database",
        json!({"name": database, "writerfqdn": writer, "use_existing": false}),
        vec![],
    );
    let created = plugin.run(&create, &log);
    created.result.unwrap();
    let again = plugin.run(&create, &log);
    again.result.unwrap();
    assert_eq!(created.set, again.set);
    let info = plugin.clusters().read(&writer).unwrap();
    for (key, role) in [("admin", "admin"), ("user", "user"), ("viewer", "viewer")] {
        let user = format!("{database}_{role}");
        let expected = plugin
            .clusters()
            .password(&info, &user, &writer, &database)
            .unwrap();
        assert_eq!(
            created.set[key],
            json!({"database": database, "host": host, "port": port.to_string(), "user": user, "password": expected}),
            "{key}"
        );
    }
    let roles: Vec<String> = root
        .query(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname",
            &[&format!("{database}_")],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected_roles: Vec<String> = [
        "admin",
        "common_user_role",
        "common_viewer_role",
        "user",
        "viewer",
    ]
    .iter()
    .map(|s| format!("{database}_{s}"))
    .collect();
    assert_eq!(roles, expected_roles);
    let owner: String = root
        .query_one(
            "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
            &[&database],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, format!("{database}_admin"));

    // Each role as itself.
    let as_role = |role: &str| {
        let props = &created.set[role];
        connect(
            &host,
            port,
            props["user"].as_str().unwrap(),
            props["password"].as_str().unwrap(),
            &database,
        )
    };
    let schema = format!("\"{database}_db_common\"");
    let mut admin = as_role("admin");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {schema}.items (id serial PRIMARY KEY, v text); INSERT INTO items (v) VALUES ('from admin')"
        ))
        .unwrap();
    let mut user = as_role("user");
    assert_eq!(
        sqlstate(user.execute("INSERT INTO items (v) VALUES ('from user')", &[])),
        "ok"
    );
    assert_eq!(sqlstate(user.execute("UPDATE items SET v = v", &[])), "ok");
    assert_eq!(
        sqlstate(user.execute(&format!("CREATE TABLE {schema}.mine (id int)"), &[])),
        "42501"
    );
    let mut viewer = as_role("viewer");
    let count: i64 = viewer
        .query_one("SELECT count(*) FROM items", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        count, 2,
        "the viewer reads through the search path and default privileges"
    );
    assert_eq!(
        sqlstate(viewer.execute("INSERT INTO items (v) VALUES ('from viewer')", &[])),
        "42501"
    );
    assert_eq!(sqlstate(viewer.execute("DELETE FROM items", &[])), "42501");
    assert_eq!(
        sqlstate(viewer.execute(&format!("CREATE TABLE {schema}.mine (id int)"), &[])),
        "42501"
    );
    assert_eq!(
        sqlstate(viewer.execute("CREATE TABLE public.mine (id int)", &[])),
        "42501"
    );
    drop((user, viewer));

    // A referenced database only has to exist.
    let referenced = plugin.run(
        &request(
            "create_database",
            json!({"name": database, "writerfqdn": writer, "use_existing": true}),
            vec![],
        ),
        &log,
    );
    referenced.result.unwrap();
    assert_eq!(referenced.set, created.set);
    let missing = plugin.run(
        &request(
            "create_database",
            json!({"name": format!("{database}none"), "writerfqdn": writer, "use_existing": true}),
            vec![],
        ),
        &log,
    );
    let error = missing.result.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("use_existing specified but database does not exist"),
        "{error}"
    );

    // Delete: refused (retryably) while the admin is connected, then everything goes.
    let delete = request(
        "delete_database",
        json!({"name": database, "writerfqdn": writer, "use_existing": false}),
        vec![],
    );
    let error = plugin.run(&delete, &log).result.unwrap_err();
    assert!(error.recoverable(), "{error}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("DROP DATABASE IF EXISTS \"{database}\": ")),
        "{error}"
    );
    drop(admin);
    plugin.run(&delete, &log).result.unwrap();
    let left: i64 = root
        .query_one(
            "SELECT (SELECT count(*) FROM pg_database WHERE datname = $1) + (SELECT count(*) FROM pg_roles WHERE starts_with(rolname, $2))",
            &[&database, &format!("{database}_")],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "database and roles dropped");
    plugin.run(&delete, &log).result.unwrap();

    // The cluster file goes with the cluster.
    plugin
        .run(
            &request(
                "rm_pgaas_cluster",
                json!({"writerfqdn": writer, "use_existing": false}),
                vec![],
            ),
            &log,
        )
        .result
        .unwrap();
    assert!(plugin.clusters().known_clusters().is_empty());

    // No password in any log line.
    let lines = lines.lock().unwrap();
    assert!(
        lines.iter().any(|l| l.contains("executing CREATE USER")),
        "{lines:?}"
    );
    for secret in [
        postgres_password.as_str(),
        created.set["admin"]["password"].as_str().unwrap(),
    ] {
        assert!(lines.iter().all(|l| !l.contains(secret)), "{lines:?}");
    }
}
