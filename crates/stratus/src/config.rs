//! The config file: YAML, read with the DSL's own loader (PyYAML semantics, positions in
//! errors): `import_resolver` (Cloudify's own section) and the server's options
//! (`data_dir`, `listen`, `database_url`, `admin_password`, `max_body_bytes`, `tls_listen`,
//! `tls_cert`, `tls_key`, `pgaas_dir`).

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use stratus_catalog::ResolverConfig;
use stratus_dsl::yaml::{self, Node, Value};

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub resolver: ResolverConfig,
    pub server: ServerConfig,
}

/// `stratus serve` options from the config file (flags and `STRATUS_*` variables win).
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    pub data_dir: Option<std::path::PathBuf>,
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub admin_password: Option<String>,
    pub max_body_bytes: Option<usize>,
    pub tls_listen: Option<String>,
    pub tls_cert: Option<std::path::PathBuf>,
    pub tls_key: Option<std::path::PathBuf>,
    pub pgaas_dir: Option<std::path::PathBuf>,
}

fn text(document: &Node, key: &str) -> Result<Option<String>> {
    match document.get(key) {
        None => Ok(None),
        Some(node) => match (&node.value, node.as_str()) {
            (Value::Null, _) => Ok(None),
            (_, Some(text)) => Ok(Some(text.to_string())),
            _ => bail!("line {}: `{key}` must be a string", node.span.line),
        },
    }
}

fn parse_server(document: &Node) -> Result<ServerConfig> {
    let max_body_bytes = match document.get("max_body_bytes") {
        None => None,
        Some(node) => match node.value {
            Value::Int(n) if n > 0 => {
                Some(usize::try_from(n).context("max_body_bytes is too large")?)
            }
            _ => bail!(
                "line {}: `max_body_bytes` must be a positive integer",
                node.span.line
            ),
        },
    };
    Ok(ServerConfig {
        data_dir: text(document, "data_dir")?.map(Into::into),
        listen: text(document, "listen")?,
        database_url: text(document, "database_url")?,
        admin_password: text(document, "admin_password")?,
        max_body_bytes,
        tls_listen: text(document, "tls_listen")?,
        tls_cert: text(document, "tls_cert")?.map(Into::into),
        tls_key: text(document, "tls_key")?.map(Into::into),
        pgaas_dir: text(document, "pgaas_dir")?.map(Into::into),
    })
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read config file {}", path.display()))?;
        let document = yaml::load(&text, 0).map_err(|err| {
            anyhow::anyhow!(
                "{}:{}:{}: {}",
                path.display(),
                err.line,
                err.column,
                err.message
            )
        })?;
        let mut config = Config {
            server: parse_server(&document)
                .with_context(|| format!("config file {}", path.display()))?,
            ..Config::default()
        };
        if let Some(resolver) = document.get("import_resolver") {
            config.resolver = parse_resolver(resolver)
                .with_context(|| format!("config file {}: import_resolver", path.display()))?;
        }
        Ok(config)
    }
}

/// `import_resolver: {parameters: {rules: [{PREFIX: REPLACEMENT}, …], fallback: BOOL}, network: BOOL}`.
fn parse_resolver(node: &Node) -> Result<ResolverConfig> {
    let mut config = ResolverConfig::default();
    if let Some(network) = node.get("network") {
        match network.value {
            Value::Bool(b) => config.allow_network = b,
            _ => bail!("line {}: `network` must be a boolean", network.span.line),
        }
    }
    let Some(parameters) = node.get("parameters") else {
        return Ok(config);
    };
    if let Some(fallback) = parameters.get("fallback") {
        match fallback.value {
            Value::Bool(b) => config.fallback = b,
            _ => bail!("line {}: `fallback` must be a boolean", fallback.span.line),
        }
    }
    if let Some(rules) = parameters.get("rules") {
        let Some(items) = rules.as_seq() else {
            bail!("line {}: `rules` must be a list", rules.span.line)
        };
        for rule in items {
            match rule.as_map() {
                Some([(prefix, replacement)]) => match (prefix.as_str(), replacement.as_str()) {
                    (Some(p), Some(r)) => config.rules.push((p.to_string(), r.to_string())),
                    _ => bail!(
                        "line {}: a rule maps a URL prefix (string) to a replacement (string)",
                        rule.span.line
                    ),
                },
                _ => bail!(
                    "line {}: each rule is a one-key mapping {{PREFIX: REPLACEMENT}}",
                    rule.span.line
                ),
            }
        }
    }
    Ok(config)
}
