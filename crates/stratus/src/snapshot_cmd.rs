//! `stratus snapshot create|restore FILE`: the offline side of snapshots (the REST API has the
//! online side). Works on a stopped manager's data directory or database — the directory lock
//! refuses a running one — and restores into a fresh instance.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};

use crate::config::Config;

#[derive(Args, Debug, Clone)]
pub struct Target {
    /// The data directory (default: the /cfy-persist volume when mounted, else ./stratus-data).
    #[arg(long, env = "STRATUS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL instead of the data directory's SQLite database.
    #[arg(long, env = "STRATUS_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Write everything the (stopped) manager knows to FILE.
    Create {
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Replace the manager's state with FILE's (run on a fresh, stopped instance).
    Restore {
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
}

pub fn run(command: SnapshotCommand, config: &Config) -> Result<std::process::ExitCode> {
    let (file, target, creating) = match command {
        SnapshotCommand::Create { file, target } => (file, target, true),
        SnapshotCommand::Restore { file, target } => (file, target, false),
    };
    let explicit = target.data_dir.or_else(|| config.server.data_dir.clone());
    let (path, origin) = crate::data_dir::choose(explicit);
    let data_dir = crate::data_dir::adopt(path, origin).context(
        "open the data directory (a running manager holds it: stop it, or use the REST API's /snapshots)",
    )?;
    let database_url = target
        .database_url
        .or_else(|| config.server.database_url.clone());
    let store = crate::serve_cmd::open_store(database_url.as_deref(), &data_dir.path)?;
    let key = crate::serve_cmd::secret_key(&data_dir.path)?;
    if creating {
        let now = stratus_server::clock::now();
        let (bytes, summary) = stratus_server::snapshot::create(store.as_ref(), &key, &now)
            .map_err(anyhow::Error::msg)?;
        stratus_server::files::write_atomic(&file, &bytes, true)
            .with_context(|| format!("write {}", file.display()))?;
        println!(
            "snapshot {}: {} records, {} events, {} blobs (it holds the key of the secrets: keep it safe)",
            file.display(),
            summary.records,
            summary.events,
            summary.blobs
        );
    } else {
        let bytes = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
        let schema = store.schema_version()?;
        let sealer = stratus_server::crypto::SecretBox::new(&key);
        let contents =
            stratus_server::snapshot::read(&bytes, &sealer, schema).map_err(anyhow::Error::msg)?;
        store.replace_all(&contents.records, &contents.events, &contents.blobs)?;
        let _ = std::fs::remove_dir_all(data_dir.path.join("blueprints"));
        println!(
            "restored {} into {}: {} records, {} events, {} blobs",
            file.display(),
            store.describe(),
            contents.summary.records,
            contents.summary.events,
            contents.summary.blobs
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}
