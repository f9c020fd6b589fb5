//! `stratus blueprint validate|plan`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use clap::Subcommand;
use serde_json::{Map, Value};
use stratus_catalog::{Catalog, ImportResolver, Loader};
use stratus_dsl::{Diagnostic, DocumentCache};

use crate::config::Config;

#[derive(Subcommand)]
pub enum BlueprintCommand {
    /// Check a blueprint. Without --inputs it is checked as an upload would check it; with
    /// them, also as deployment creation would. Exit 0 when valid, 1 when not.
    Validate {
        file: PathBuf,
        /// Deployment inputs: a JSON or YAML file, or inline JSON.
        #[arg(long)]
        inputs: Option<String>,
        /// Print diagnostics as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the deployment plan as JSON.
    Plan {
        file: PathBuf,
        #[arg(long)]
        inputs: Option<String>,
    },
}

pub fn run(command: BlueprintCommand, config: &Config) -> Result<ExitCode> {
    match command {
        BlueprintCommand::Validate { file, inputs, json } => {
            let inputs = inputs.as_deref().map(read_inputs).transpose()?;
            match build(&file, inputs.as_ref(), config)? {
                Ok(_) => {
                    if !json {
                        eprintln!("{}: valid", file.display());
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(diagnostics) => {
                    report(&diagnostics, json);
                    Ok(ExitCode::from(1))
                }
            }
        }
        BlueprintCommand::Plan { file, inputs } => {
            let inputs = read_inputs(inputs.as_deref().unwrap_or("{}"))?;
            match build(&file, Some(&inputs), config)? {
                Ok(Some(plan)) => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&stratus_dsl::sorted(&plan))?
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Ok(None) => Ok(ExitCode::SUCCESS),
                Err(diagnostics) => {
                    report(&diagnostics, false);
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// Parses (and with inputs, plans) a blueprint file.
pub fn build(
    file: &Path,
    inputs: Option<&Map<String, Value>>,
    config: &Config,
) -> Result<Result<Option<Value>, Vec<Diagnostic>>> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("read blueprint {}", file.display()))?;
    let location = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let root = location.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolver = ImportResolver::new(config.resolver.clone(), Catalog::builtin(), None);
    let loader = Loader::new(resolver).with_blueprint_root(root);
    let cache = DocumentCache::new();
    let blueprint = match stratus_dsl::parse(&text, &location.to_string_lossy(), &loader, &cache) {
        Ok(blueprint) => blueprint,
        Err(diagnostics) => return Ok(Err(diagnostics)),
    };
    let Some(inputs) = inputs else {
        return Ok(Ok(None));
    };
    Ok(stratus_dsl::prepare_owned(blueprint, inputs, None).map(|plan| Some(plan.into_value())))
}

fn report(diagnostics: &[Diagnostic], json: bool) {
    for diagnostic in diagnostics {
        if json {
            let line = serde_json::json!({
                "file": diagnostic.file, "line": diagnostic.line, "column": diagnostic.column,
                "code": diagnostic.code, "type": diagnostic.kind.reference_name(),
                "message": diagnostic.message, "hint": diagnostic.hint,
            });
            println!("{line}");
        } else {
            eprintln!("{diagnostic}");
        }
    }
    if !json {
        eprintln!(
            "{} problem{} found",
            diagnostics.len(),
            if diagnostics.len() == 1 { "" } else { "s" }
        );
    }
}

/// `--inputs`: inline JSON, or a JSON/YAML file.
pub fn read_inputs(argument: &str) -> Result<Map<String, Value>> {
    let trimmed = argument.trim_start();
    let value: Value = if trimmed.starts_with('{') {
        serde_json::from_str(argument).context("parse --inputs as JSON")?
    } else {
        let text = std::fs::read_to_string(argument)
            .with_context(|| format!("read inputs file {argument}"))?;
        match serde_json::from_str(&text) {
            Ok(value) => value,
            Err(_) => stratus_dsl::yaml::load(&text, 0)
                .map_err(|err| {
                    anyhow::anyhow!("{argument}:{}:{}: {}", err.line, err.column, err.message)
                })?
                .to_json()
                .to_serde(),
        }
    };
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => bail!("--inputs must be a mapping of input names to values, not {other}"),
    }
}
