//! ONAP's `pgaas` plugin (package `pgaas`) and the `sshkeyshare` keypair it is seeded with
//! (package `sshkeyshare`) as runner executors: `stratus-pgaas` does the work, on a blocking
//! thread (files and the sync PostgreSQL client); this adapts jobs and reports.
//!
//! The cluster files live in one directory chosen at start (`--pgaas-dir`, by default
//! `DATA_DIR/pgaas`). pgaas operations read the targets of the instance's relationships (a
//! cluster's keypair, a database's cluster), so this executor asks for them.

use std::path::PathBuf;
use std::sync::Arc;

use stratus_pgaas::ops::{self, KEYSHARE_OPERATION};
use stratus_pgaas::{ClusterDir, Plugin, Request, Target};

use super::executors::{map_of, BoxFuture, Executor, Job, Report, Side};

/// The package name pgaas_types.yaml declares.
pub const PACKAGE: &str = "pgaas";
/// The package name sshkey_types.yaml declares.
pub const KEYSHARE_PACKAGE: &str = "sshkeyshare";

fn request(job: &Job) -> Request {
    let properties = |side: &Side| map_of(&side.node, "properties");
    let runtime = |side: &Side| map_of(&side.instance, "runtime_properties");
    Request {
        implementation: job.task.implementation.clone(),
        properties: properties(&job.own),
        runtime_properties: runtime(&job.own),
        targets: job
            .targets
            .iter()
            .map(|t| Target {
                type_hierarchy: t.type_hierarchy.clone(),
                properties: properties(&t.target),
                runtime_properties: runtime(&t.target),
            })
            .collect(),
    }
}

/// Runs `work` on a blocking thread and turns its outcome into a report for the job's
/// instance.
async fn run_blocking(
    job: Job,
    work: impl FnOnce(&Request, stratus_pgaas::Log<'_>) -> stratus_pgaas::Outcome + Send + 'static,
) -> Report {
    let request = request(&job);
    let log = job.log.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let log = move |level: &str, message: String| log(level, message);
        work(&request, &log)
    })
    .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            return Report::failed(
                format!("the operation's thread ended abnormally: {e}"),
                false,
            )
        }
    };
    let recoverable = outcome
        .result
        .as_ref()
        .err()
        .is_some_and(|error| error.recoverable());
    Report::settled(
        &job.task.node_instance_id,
        outcome.result.map_err(|error| error.to_string()),
        recoverable,
        outcome.set,
    )
}

/// `pgaas.pgaas_plugin.{add_pgaas_cluster, rm_pgaas_cluster, create_database,
/// delete_database}`.
pub struct PgaasExecutor {
    plugin: Arc<Plugin>,
}

impl PgaasExecutor {
    pub fn new(cluster_dir: PathBuf) -> PgaasExecutor {
        PgaasExecutor {
            plugin: Arc::new(Plugin::new(ClusterDir::new(cluster_dir))),
        }
    }

    /// For `/status`.
    pub fn describe(&self) -> String {
        format!(
            "cluster information in {}",
            self.plugin.clusters().path().display()
        )
    }
}

impl Executor for PgaasExecutor {
    fn needs_targets(&self) -> bool {
        true
    }

    fn check(
        &self,
        _plugin_name: &str,
        _executor: Option<&str>,
        implementation: &str,
    ) -> Result<(), String> {
        if ops::supports(implementation) {
            Ok(())
        } else {
            Err(format!(
                "pgaas operation '{}' is not implemented by Stratus (implemented: {})",
                ops::task_name(implementation),
                ops::OPERATIONS.join(", ")
            ))
        }
    }

    fn run(&self, job: Job) -> BoxFuture {
        let plugin = self.plugin.clone();
        Box::pin(run_blocking(job, move |request, log| {
            plugin.run(request, log)
        }))
    }
}

/// `sshkeyshare.keyshare_plugin.generate`.
pub struct KeyshareExecutor;

impl Executor for KeyshareExecutor {
    fn check(
        &self,
        _plugin_name: &str,
        _executor: Option<&str>,
        implementation: &str,
    ) -> Result<(), String> {
        if ops::task_name(implementation) == KEYSHARE_OPERATION {
            Ok(())
        } else {
            Err(format!(
                "sshkeyshare operation '{}' is not implemented by Stratus (implemented: {KEYSHARE_OPERATION})",
                ops::task_name(implementation)
            ))
        }
    }

    fn run(&self, job: Job) -> BoxFuture {
        Box::pin(run_blocking(job, ops::generate_keypair))
    }
}
