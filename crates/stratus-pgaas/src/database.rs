//! The database operations of `dcae.nodes.pgaas.database`: `create_database` (runtime
//! properties `admin`, `user`, `viewer`, then roles, database, schema and privileges, existing
//! ones adopted) and `delete_database` (the database and its roles dropped), both on the
//! cluster the node names or runs on, whose file must exist and whose server must answer.

use serde_json::{json, Map, Value};

use crate::cluster::ClusterInfo;
use crate::names::{check_dbname, check_fqdn, HostPort};
use crate::ops::{flag, required, text, Log, Request, RUNS_ON_CLUSTER};
use crate::sql::{self, Endpoint, Names, Passwords, Session};
use crate::{Error, Plugin};

impl Plugin {
    /// Endpoint of the `postgres` user on the writer host.
    pub(crate) fn root(
        &self,
        info: &ClusterInfo,
        database: &str,
        password: String,
    ) -> Result<Endpoint, Error> {
        let writer = HostPort::parse(&info.rw)?;
        Ok(Endpoint {
            host: writer.host,
            port: writer.port,
            user: "postgres".into(),
            password,
            database: database.into(),
        })
    }

    /// The plugin's `dbgetinfo`: the database's cluster (its `writerfqdn`, else the one
    /// cluster it runs on), whose file must exist and whose server must answer.
    fn database_cluster(&self, request: &Request) -> Result<ClusterInfo, Error> {
        let mut writer = text(&request.properties, "writerfqdn")?
            .unwrap_or("")
            .to_string();
        if writer.is_empty() {
            let clusters = request.related(RUNS_ON_CLUSTER);
            let [cluster] = clusters[..] else {
                return Err(Error::Invalid(format!(
                    "Database Cluster must be specified using exactly one {RUNS_ON_CLUSTER} relationship to a dcae.nodes.pgaas.cluster node when writerfqdn is not specified (found {})",
                    clusters.len()
                )));
            };
            writer =
                required(&cluster.properties, "writerfqdn", "the pgaas cluster node")?.to_string();
        }
        let address = check_fqdn(&writer, "admin/read-write access")?;
        let info = self.clusters.read(&writer)?;
        sql::wait_for(&address.host, address.port, self.timeout)?;
        Ok(info)
    }

    /// The plugin's `onedesc`: how `role` connects to `database`.
    fn description(
        &self,
        info: &ClusterInfo,
        database: &str,
        user: &str,
        access: &str,
    ) -> Result<(Value, String), Error> {
        let address = HostPort::parse(access).map_err(|_| {
            Error::Cluster(format!(
                "the cluster information of {} holds an invalid FQDN {access:?}",
                info.rw
            ))
        })?;
        let password = self.clusters.password(info, user, &info.rw, database)?;
        let value = json!({"database": database, "host": address.host,
            "port": address.port.to_string(), "user": user, "password": password});
        Ok((value, password))
    }

    /// `create_database`: runtime properties `admin`, `user`, `viewer`, then the roles,
    /// database, schema and privileges (existing ones adopted).
    pub(crate) fn create_database(
        &self,
        request: &Request,
        log: Log<'_>,
        set: &mut Map<String, Value>,
    ) -> Result<(), Error> {
        let database = text(&request.properties, "name")?.unwrap_or("");
        check_dbname(database)?;
        let use_existing = flag(&request.properties, "use_existing")?;
        let info = self.database_cluster(request)?;
        let names = Names::of(database);
        let (admin, admin_password) = self.description(&info, database, &names.admin, &info.rw)?;
        let (user, user_password) = self.description(&info, database, &names.user, &info.rw)?;
        let (viewer, viewer_password) =
            self.description(&info, database, &names.viewer, &info.ro)?;
        set.insert("admin".into(), admin);
        set.insert("user".into(), user);
        set.insert("viewer".into(), viewer);
        let postgres = self
            .clusters
            .password(&info, "postgres", &info.rw, "postgres")?;
        let root = self.root(&info, "postgres", postgres)?;
        let mut session = Session::connect(&root, self.timeout)?;
        let databases =
            session.column("SELECT datname FROM pg_database WHERE datistemplate = false")?;
        if use_existing {
            if !databases.iter().any(|d| d == database) {
                return Err(Error::Invalid(format!(
                    "use_existing specified but database does not exist, dbname={database:?}"
                )));
            }
            log(
                "info",
                format!("using the existing database {database} on {}", info.rw),
            );
            return Ok(());
        }
        let roles = session.column("SELECT rolname FROM pg_roles")?;
        let passwords = Passwords {
            admin: &admin_password,
            user: &user_password,
            viewer: &viewer_password,
        };
        for statement in sql::create_statements(&names, &passwords, &roles, &databases) {
            log("debug", format!("executing {}", statement.shown));
            session.run(&statement)?;
        }
        drop(session);
        let mut session = Session::connect(
            &Endpoint {
                database: database.to_string(),
                ..root
            },
            self.timeout,
        )?;
        for statement in sql::grant_statements(&names) {
            log("debug", format!("executing {}", statement.shown));
            session.run(&statement)?;
        }
        log("info", format!("database {database} ready on {}", info.rw));
        Ok(())
    }

    /// `delete_database`: drop the database and its roles unless it was only referenced.
    pub(crate) fn delete_database(&self, request: &Request, log: Log<'_>) -> Result<(), Error> {
        let database = text(&request.properties, "name")?.unwrap_or("");
        if check_dbname(database).is_err() {
            log(
                "warning",
                format!("database name {database:?} is not valid: nothing to delete"),
            );
            return Ok(());
        }
        if flag(&request.properties, "use_existing")? {
            return Ok(());
        }
        let info = self.database_cluster(request)?;
        let postgres = self
            .clusters
            .password(&info, "postgres", &info.rw, "postgres")?;
        let mut session = Session::connect(&self.root(&info, "postgres", postgres)?, self.timeout)?;
        for statement in sql::drop_statements(&Names::of(database)) {
            log("debug", format!("executing {}", statement.shown));
            session.run(&statement)?;
        }
        log(
            "info",
            format!("database {database} and its roles dropped from {}", info.rw),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use crate::ops::tests::{props, run};
    use crate::ops::RUNS_ON_CLUSTER;
    use crate::{ClusterDir, ClusterInfo, Plugin, Target};

    #[test]
    fn databases_need_a_valid_name_and_a_known_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = Plugin::new(ClusterDir::new(dir.path().join("pgaas")));
        let cluster = |writer: Value| Target {
            type_hierarchy: vec![RUNS_ON_CLUSTER.into()],
            properties: props(json!({"writerfqdn": writer})),
            runtime_properties: Map::new(),
        };
        let cases: Vec<(Value, Vec<Target>, &str)> = vec![
            (
                json!({"writerfqdn": "pg.onap"}),
                vec![],
                "Unacceptable or missing database name",
            ),
            (
                json!({"name": "holmes-rules", "writerfqdn": "pg.onap"}),
                vec![],
                "Unacceptable or missing database name",
            ),
            (
                json!({"name": "holmes", "writerfqdn": ""}),
                vec![],
                "exactly one dcae.relationships.database_runson_pgaas_cluster",
            ),
            (
                json!({"name": "holmes"}),
                vec![cluster(json!(null))],
                "has no `writerfqdn`",
            ),
            (
                json!({"name": "holmes"}),
                vec![cluster(json!("pg"))],
                "Invalid FQDN",
            ),
            (
                json!({"name": "holmes"}),
                vec![cluster(json!("pg.onap"))],
                "No PostgreSQL clusters have been deployed",
            ),
        ];
        for (properties, targets, expected) in cases {
            let outcome = run(&plugin, "create_database", properties.clone(), targets);
            let error = outcome.result.unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{properties}: {error}"
            );
            assert!(!error.recoverable());
        }
        // Deleting with a name that cannot be a database, or a referenced one, does nothing.
        run(&plugin, "delete_database", json!({"name": "x-y"}), vec![])
            .result
            .unwrap();
        run(
            &plugin,
            "delete_database",
            json!({"name": "holmes", "use_existing": true}),
            vec![],
        )
        .result
        .unwrap();
    }

    #[test]
    fn an_unreachable_server_is_recoverable() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = Plugin::new(ClusterDir::new(dir.path().join("pgaas")));
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let writer = format!("127.0.0.1:{port}");
        plugin
            .clusters()
            .write(&ClusterInfo {
                rw: writer.clone(),
                ro: writer.clone(),
                pubkey: "k".into(),
                data: "aGVsbG8=".into(),
            })
            .unwrap();
        let outcome = run(
            &plugin,
            "create_database",
            json!({"name": "holmes", "writerfqdn": writer}),
            vec![],
        );
        let error = outcome.result.unwrap_err();
        assert!(error.recoverable(), "{error}");
        assert!(error.to_string().contains("is not ready"), "{error}");
    }
}
