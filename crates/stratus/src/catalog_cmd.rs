//! `stratus catalog list|export`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use stratus_catalog::Catalog;

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// List every type file and plugin package the catalog holds.
    List,
    /// Write every file at its URL path under DIR (plugins under DIR/plugins/NAME/VERSION).
    Export { dir: PathBuf },
}

pub fn run(command: CatalogCommand) -> Result<ExitCode> {
    let catalog = Catalog::builtin();
    match command {
        CatalogCommand::List => {
            for entry in catalog.entries() {
                println!("{}", entry.path);
            }
        }
        CatalogCommand::Export { dir } => {
            let count = catalog
                .export(&dir)
                .with_context(|| format!("export catalog to {}", dir.display()))?;
            eprintln!("wrote {count} files under {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
