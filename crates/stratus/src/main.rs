//! `stratus`: the command line. Wiring only — parsing, planning and the catalog live in
//! their crates; this file turns arguments into calls and results into output and exit codes.

mod allocator;
mod blueprint_cmd;
mod catalog_cmd;
mod config;
mod data_dir;
mod serve_cmd;
mod snapshot_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc (see `allocator.rs`).
#[global_allocator]
static ALLOCATOR: allocator::Mimalloc = allocator::Mimalloc;

/// Returns the memory freed so far to the operating system now, instead of at mimalloc's next
/// purge (which waits for later allocator activity): start-up verifies the admin password with
/// Argon2 in 19 MiB that an idle server would otherwise keep.
pub(crate) fn release_free_memory() {
    // SAFETY: `mi_collect` takes no pointers and may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

#[derive(Parser)]
#[command(
    name = "stratus",
    version,
    about = "A Cloudify-compatible orchestration manager in one binary"
)]
struct Cli {
    /// Stratus config file (YAML); `import_resolver` is read from it.
    #[arg(long, global = true, env = "STRATUS_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Blueprints: validate and plan.
    #[command(subcommand)]
    Blueprint(blueprint_cmd::BlueprintCommand),
    /// The built-in type catalog.
    #[command(subcommand)]
    Catalog(catalog_cmd::CatalogCommand),
    /// Run the manager: the Cloudify REST API over the durable store.
    Serve(serve_cmd::ServeArgs),
    /// Snapshots of a stopped manager: create one, or restore one into a fresh instance.
    #[command(subcommand)]
    Snapshot(snapshot_cmd::SnapshotCommand),
}

fn main() -> ExitCode {
    // `ctx …` (this binary under the name ctx, as scripts call it) and `stratus ctx …` speak
    // the script plugin's ctx protocol; their arguments go to it untouched.
    let argv0 = std::env::args().next().unwrap_or_default();
    if std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|name| name == "ctx")
    {
        return stratus_plugins::ctx_main(std::env::args().skip(1).collect());
    }
    if std::env::args().nth(1).as_deref() == Some("ctx") {
        return stratus_plugins::ctx_main(std::env::args().skip(2).collect());
    }
    let cli = Cli::parse();
    let config = match config::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Blueprint(command) => blueprint_cmd::run(command, &config),
        Command::Catalog(command) => catalog_cmd::run(command),
        Command::Serve(args) => serve_cmd::run(args, &config),
        Command::Snapshot(command) => snapshot_cmd::run(command, &config),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
