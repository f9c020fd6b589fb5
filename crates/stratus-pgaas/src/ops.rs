//! The plugin's operations, as `pgaas_plugin.py` defines them: `add_pgaas_cluster` /
//! `rm_pgaas_cluster` (`dcae.nodes.pgaas.cluster`), `create_database` / `delete_database`
//! (`dcae.nodes.pgaas.database`), and the `sshkeyshare` plugin's `generate`.
//!
//! An operation reads the node's properties, the instance's runtime properties and, for the
//! relationships the plugin follows, the targets' properties; it returns the runtime
//! properties it set (kept whatever the result, as Cloudify saves them) and its result.
//! Blocking: run it on a blocking thread.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::cluster::{ClusterDir, ClusterInfo};
use crate::names::check_fqdn;
use crate::sql::{self, Endpoint, Session};
use crate::{keypair, Error};

/// The pgaas operations implemented (the workflow function `update_database` is not).
pub const OPERATIONS: [&str; 4] = [
    "add_pgaas_cluster",
    "rm_pgaas_cluster",
    "create_database",
    "delete_database",
];

/// The sshkeyshare plugin's operation.
pub const KEYSHARE_OPERATION: &str = "generate";

/// The relationship from a cluster to the keypair that seeds it.
pub const USES_KEYPAIR: &str = "dcae.relationships.pgaas_cluster_uses_sshkeypair";
/// The relationship from a database to its cluster (when `writerfqdn` is empty).
pub const RUNS_ON_CLUSTER: &str = "dcae.relationships.database_runson_pgaas_cluster";

/// `pgaas.pgaas_plugin.create_database` → `create_database`.
pub fn task_name(implementation: &str) -> &str {
    implementation.rsplit('.').next().unwrap_or(implementation)
}

pub fn supports(implementation: &str) -> bool {
    OPERATIONS.contains(&task_name(implementation))
}

pub type Log<'a> = &'a (dyn Fn(&str, String) + Send + Sync);

/// The target of one of the instance's relationships.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The relationship's type and its ancestors.
    pub type_hierarchy: Vec<String>,
    pub properties: Map<String, Value>,
    pub runtime_properties: Map<String, Value>,
}

/// One operation to run.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub implementation: String,
    pub properties: Map<String, Value>,
    pub runtime_properties: Map<String, Value>,
    pub targets: Vec<Target>,
}

impl Request {
    /// The plugin's `find_related_nodes`: targets of relationships of `relationship` type.
    pub(crate) fn related(&self, relationship: &str) -> Vec<&Target> {
        self.targets
            .iter()
            .filter(|t| t.type_hierarchy.iter().any(|h| h == relationship))
            .collect()
    }
}

/// What an operation did: its result and the runtime properties it set.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<(), Error>,
    pub set: Map<String, Value>,
}

/// A string property: `None` when absent or null.
pub(crate) fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(Error::Invalid(format!(
            "property `{key}` must be a string, got {other}"
        ))),
    }
}

pub(crate) fn required<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    owner: &str,
) -> Result<&'a str, Error> {
    text(map, key)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::Invalid(format!("{owner} has no `{key}`")))
}

/// A boolean property (`true`/`false`, also as strings); absent is false.
pub(crate) fn flag(map: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
        Some(other) => Err(Error::Invalid(format!(
            "property `{key}` must be a boolean, got {other}"
        ))),
    }
}

/// The sshkeyshare plugin's `generate`; a keypair the instance already holds is kept, so a
/// re-run does not change the passwords derived from it.
pub fn generate_keypair(request: &Request, log: Log<'_>) -> Outcome {
    let held = |key: &str| {
        request
            .runtime_properties
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    let mut set = Map::new();
    if held("public") && held("base64private") {
        log(
            "info",
            "keeping the SSH keypair this instance already has".into(),
        );
        return Outcome {
            result: Ok(()),
            set,
        };
    }
    let result = keypair::generate().map(|pair| {
        log("info", format!("generated an SSH keypair: {}", pair.public));
        set.insert("public".into(), json!(pair.public));
        set.insert("base64private".into(), json!(pair.base64private));
    });
    Outcome { result, set }
}

/// The plugin, with the directory of its cluster files.
#[derive(Debug, Clone)]
pub struct Plugin {
    pub(crate) clusters: ClusterDir,
    pub(crate) timeout: Duration,
}

impl Plugin {
    pub fn new(clusters: ClusterDir) -> Plugin {
        Plugin {
            clusters,
            timeout: Duration::from_secs(10),
        }
    }

    pub fn clusters(&self) -> &ClusterDir {
        &self.clusters
    }

    pub fn run(&self, request: &Request, log: Log<'_>) -> Outcome {
        let mut set = Map::new();
        let result = match task_name(&request.implementation) {
            "add_pgaas_cluster" => self.add_cluster(request, log, &mut set),
            "rm_pgaas_cluster" => self.remove_cluster(request, log),
            "create_database" => self.create_database(request, log, &mut set),
            "delete_database" => self.delete_database(request, log),
            other => Err(Error::Invalid(format!(
                "pgaas operation '{other}' is not implemented by Stratus (implemented: {})",
                OPERATIONS.join(", ")
            ))),
        };
        Outcome { result, set }
    }

    /// `add_pgaas_cluster`: record the cluster's key (or read the existing record) and, with
    /// `initialpassword`, give the `postgres` user its derived password.
    fn add_cluster(
        &self,
        request: &Request,
        log: Log<'_>,
        set: &mut Map<String, Value>,
    ) -> Result<(), Error> {
        let properties = &request.properties;
        let writer = required(properties, "writerfqdn", "the pgaas cluster")?;
        let use_existing = flag(properties, "use_existing")?;
        let reader = text(properties, "readerfqdn")?.unwrap_or("");
        let initial_password = text(properties, "initialpassword")?.unwrap_or("");
        let keypairs = request.related(USES_KEYPAIR);
        check_fqdn(writer, "admin/read-write access")?;
        let info = if use_existing {
            if !reader.is_empty() {
                return Err(Error::Invalid(format!("Read-only FQDN must not be specified when using an existing cluster, fqdn={reader:?}")));
            }
            if !keypairs.is_empty() {
                return Err(Error::Invalid(
                    "Cluster SSH keypair must not be specified when using an existing cluster"
                        .into(),
                ));
            }
            self.clusters.read(writer)?
        } else {
            let reader = if reader.is_empty() {
                writer
            } else {
                check_fqdn(reader, "read-only access")?;
                reader
            };
            let [keypair] = keypairs[..] else {
                return Err(Error::Invalid(format!(
                    "Cluster SSH keypair must be specified using exactly one {USES_KEYPAIR} relationship to an SSH keypair node (found {})",
                    keypairs.len()
                )));
            };
            let key = |name: &str| {
                required(
                    &keypair.runtime_properties,
                    name,
                    "the SSH keypair node instance (has its create operation run?)",
                )
                .map(str::to_string)
            };
            let info = ClusterInfo {
                rw: writer.to_string(),
                ro: reader.to_string(),
                pubkey: key("public")?,
                data: key("base64private")?,
            };
            crate::cluster::decode_key(&info.data)?;
            self.clusters.write(&info)?;
            log(
                "info",
                format!(
                    "recorded the cluster information of {writer} in {}",
                    self.clusters.path().display()
                ),
            );
            if !initial_password.is_empty() {
                self.take_control(&info, initial_password, log)?;
            }
            info
        };
        let postgres = self
            .clusters
            .password(&info, "postgres", writer, "postgres")?;
        set.insert("public".into(), json!(info.pubkey));
        set.insert("base64private".into(), json!(info.data));
        set.insert("postgrespswd".into(), json!(postgres));
        Ok(())
    }

    /// Connects as `postgres` with the initial password and sets the derived one. When the
    /// initial password no longer works but the derived one does, that was done before.
    fn take_control(
        &self,
        info: &ClusterInfo,
        initial_password: &str,
        log: Log<'_>,
    ) -> Result<(), Error> {
        let derived = self
            .clusters
            .password(info, "postgres", &info.rw, "postgres")?;
        let initial = self.root(info, "postgres", initial_password.to_string())?;
        let mut session = match Session::connect(&initial, self.timeout) {
            Ok(session) => session,
            Err(first) => {
                let again = Endpoint {
                    password: derived.clone(),
                    ..initial
                };
                if Session::connect(&again, self.timeout).is_ok() {
                    log(
                        "info",
                        format!(
                            "the postgres user of {} already has its derived password",
                            info.rw
                        ),
                    );
                    return Ok(());
                }
                return Err(first);
            }
        };
        session.run(&sql::set_postgres_password(&derived))?;
        log(
            "info",
            format!(
                "took control of {}: the postgres user has its derived password",
                info.rw
            ),
        );
        Ok(())
    }

    /// `rm_pgaas_cluster`: remove the cluster file unless the cluster was only referenced.
    fn remove_cluster(&self, request: &Request, log: Log<'_>) -> Result<(), Error> {
        let properties = &request.properties;
        let writer = text(properties, "writerfqdn")?.unwrap_or("");
        if check_fqdn(writer, "admin/read-write access").is_err() {
            log(
                "warning",
                format!("writerfqdn {writer:?} is not valid: no cluster information to remove"),
            );
            return Ok(());
        }
        if flag(properties, "use_existing")? {
            return Ok(());
        }
        if self.clusters.remove(writer)? {
            log(
                "info",
                format!("removed the cluster information of {writer}"),
            );
        } else {
            log(
                "info",
                format!("no cluster information of {writer} to remove"),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn quiet() -> impl Fn(&str, String) + Send + Sync {
        |_: &str, _: String| {}
    }

    pub(crate) fn props(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn keypair_target(public: Value, private: Value) -> Target {
        Target {
            type_hierarchy: vec![
                "cloudify.relationships.depends_on".into(),
                "cloudify.relationships.connected_to".into(),
                USES_KEYPAIR.into(),
            ],
            properties: Map::new(),
            runtime_properties: props(json!({"public": public, "base64private": private})),
        }
    }

    pub(crate) fn run(
        plugin: &Plugin,
        implementation: &str,
        properties: Value,
        targets: Vec<Target>,
    ) -> Outcome {
        let request = Request {
            implementation: implementation.into(),
            properties: props(properties),
            runtime_properties: Map::new(),
            targets,
        };
        plugin.run(&request, &quiet())
    }

    #[test]
    fn a_cluster_is_recorded_from_its_keypair_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = Plugin::new(ClusterDir::new(dir.path().join("pgaas")));
        let pair = keypair::generate().unwrap();
        let properties = json!({"writerfqdn": "PG.onap:5432", "readerfqdn": "", "use_existing": false, "initialpassword": ""});
        let outcome = run(
            &plugin,
            "pgaas.pgaas_plugin.add_pgaas_cluster",
            properties.clone(),
            vec![keypair_target(
                json!(pair.public),
                json!(pair.base64private),
            )],
        );
        outcome.result.unwrap();
        assert_eq!(outcome.set["public"], json!(pair.public));
        assert_eq!(outcome.set["base64private"], json!(pair.base64private));
        let info = plugin.clusters().read("pg.onap:5432").unwrap();
        assert_eq!(info.ro, "PG.onap:5432");
        let expected = plugin
            .clusters()
            .password(&info, "postgres", "pg.onap:5432", "postgres")
            .unwrap();
        assert_eq!(outcome.set["postgrespswd"], json!(expected));
        // Referencing it: the same key, no keypair allowed.
        let existing =
            json!({"writerfqdn": "pg.onap:5432", "readerfqdn": "", "use_existing": true});
        let outcome = run(&plugin, "add_pgaas_cluster", existing.clone(), vec![]);
        outcome.result.unwrap();
        assert_eq!(outcome.set["postgrespswd"], json!(expected));
        run(&plugin, "rm_pgaas_cluster", existing, vec![])
            .result
            .unwrap();
        assert!(dir.path().join("pgaas/pg.onap:5432").exists());
        run(&plugin, "rm_pgaas_cluster", properties.clone(), vec![])
            .result
            .unwrap();
        assert!(!dir.path().join("pgaas/pg.onap:5432").exists());
        // Removing again is not an error.
        run(&plugin, "rm_pgaas_cluster", properties, vec![])
            .result
            .unwrap();
    }

    #[test]
    fn bad_cluster_input_fails_clearly_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = Plugin::new(ClusterDir::new(dir.path().join("pgaas")));
        let good = || keypair_target(json!("ssh-ed25519 AAAA x"), json!("aGVsbG8="));
        let cases: Vec<(Value, Vec<Target>, &str)> = vec![
            (json!({}), vec![good()], "has no `writerfqdn`"),
            (json!({"writerfqdn": 5}), vec![good()], "must be a string"),
            (
                json!({"writerfqdn": "pghelm"}),
                vec![good()],
                "Invalid FQDN specified for admin/read-write access",
            ),
            (
                json!({"writerfqdn": "pg.onap", "readerfqdn": "ro"}),
                vec![good()],
                "Invalid FQDN specified for read-only access",
            ),
            (
                json!({"writerfqdn": "pg.onap"}),
                vec![],
                "exactly one dcae.relationships.pgaas_cluster_uses_sshkeypair relationship",
            ),
            (
                json!({"writerfqdn": "pg.onap"}),
                vec![good(), good()],
                "(found 2)",
            ),
            (
                json!({"writerfqdn": "pg.onap"}),
                vec![keypair_target(Value::Null, json!("aGVsbG8="))],
                "has no `public`",
            ),
            (
                json!({"writerfqdn": "pg.onap"}),
                vec![keypair_target(json!("k"), json!(["x"]))],
                "must be a string",
            ),
            (
                json!({"writerfqdn": "pg.onap"}),
                vec![keypair_target(json!("k"), json!("a"))],
                "not base64",
            ),
            (
                json!({"writerfqdn": "pg.onap", "use_existing": "maybe"}),
                vec![],
                "must be a boolean",
            ),
            (
                json!({"writerfqdn": "pg.onap", "use_existing": true}),
                vec![good()],
                "must not be specified",
            ),
            (
                json!({"writerfqdn": "pg.onap", "use_existing": true, "readerfqdn": "r.onap"}),
                vec![],
                "Read-only FQDN must not be specified",
            ),
            (
                json!({"writerfqdn": "pg.onap", "use_existing": true}),
                vec![],
                "Cluster must be deployed",
            ),
        ];
        for (properties, targets, expected) in cases {
            let outcome = run(&plugin, "add_pgaas_cluster", properties.clone(), targets);
            let error = outcome.result.unwrap_err();
            assert!(
                error.to_string().contains(expected),
                "{properties}: {error}"
            );
            assert!(!error.recoverable(), "{properties}: {error}");
            assert!(outcome.set.is_empty());
        }
        assert!(!dir.path().join("pgaas/pg.onap").exists());
        let error = run(&plugin, "update_database", json!({}), vec![])
            .result
            .unwrap_err();
        assert!(error.to_string().contains("not implemented"), "{error}");
    }

    #[test]
    fn keypairs_are_generated_once() {
        let outcome = generate_keypair(&Request::default(), &quiet());
        outcome.result.unwrap();
        assert!(outcome.set["public"]
            .as_str()
            .unwrap()
            .starts_with("ssh-ed25519 "));
        let request = Request {
            runtime_properties: outcome.set.clone(),
            ..Request::default()
        };
        let again = generate_keypair(&request, &quiet());
        again.result.unwrap();
        assert!(again.set.is_empty());
    }
}
