//! ONAP's `pgaas` plugin, natively: PostgreSQL clusters taken under control and databases
//! created on them for DCAE blueprints (`dcae.nodes.pgaas.cluster`,
//! `dcae.nodes.pgaas.database`), with every password derived, never stored: the hex SHA-256 of
//! the role name, the last line of an optional per-database seed file and the cluster's key
//! (`cluster`). And the `sshkeyshare` plugin's keypair (`keypair`), whose private key seeds a
//! cluster.
//!
//! `names` checks and splits the FQDNs and database names the blueprints give; `cluster` owns
//! the cluster information files (`<dir>/<writerfqdn lowercased>`, JSON, 0600 in a 0700
//! directory) and the derivation; `sql` is what runs on the server (identifiers quoted,
//! passwords never in a message); `ops` the operations as the plugin defines them (`database` the
//! database ones). Everything
//! here blocks: the runner calls it from `spawn_blocking`.
//!
//! *Invariants:* a password appears only in runtime properties and in the SQL statement that
//! sets it, never in an error or a log line; the cluster file is written atomically (a crash
//! leaves the old content or the new); names reach SQL only quoted and only after their check;
//! creating a database adopts the roles, database and schema that already exist, so re-running
//! converges; an unreachable server is a recoverable failure, a refused statement a
//! non-recoverable one naming the statement.

mod database;
mod error;

pub mod cluster;
pub mod keypair;
pub mod names;
pub mod ops;
pub mod sql;

pub use cluster::{ClusterDir, ClusterInfo};
pub use error::Error;
pub use names::HostPort;
pub use ops::{Log, Outcome, Plugin, Request, Target, OPERATIONS};
