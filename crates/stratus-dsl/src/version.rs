//! `tosca_definitions_version`: which DSL features a blueprint may use.

use std::sync::Arc;

use crate::diag::Problem;
use crate::yaml::Node;

/// Every DSL version the reference parser accepts, oldest first.
pub const SUPPORTED: [&str; 6] = [
    "cloudify_dsl_1_0",
    "cloudify_dsl_1_1",
    "cloudify_dsl_1_2",
    "cloudify_dsl_1_3",
    "cloudify_dsl_1_4",
    "cloudify_dsl_1_5",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DslVersion {
    pub raw: Arc<str>,
    pub major: u32,
    pub minor: u32,
    pub micro: Option<u32>,
}

impl DslVersion {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// The plan's `version` entry.
    pub fn to_json(&self) -> crate::json::Value {
        use crate::json::{Map, Value};
        let mut numbers = vec![Value::from(self.major), Value::from(self.minor)];
        if let Some(micro) = self.micro {
            numbers.push(micro.into());
        }
        let mut version = Map::with_capacity(3);
        version.insert("raw", Value::from(&*self.raw));
        version.insert("definitions_name", Value::from("cloudify_dsl"));
        version.insert("definitions_version", Value::from(numbers));
        Value::Object(version)
    }
}

/// The name a version requirement is reported with, e.g. `cloudify_dsl_1_3`.
pub fn describe(major: u32, minor: u32) -> String {
    format!("cloudify_dsl_{major}_{minor}")
}

/// Reads the main document's version; `document` is the whole main document.
pub fn extract(document: &Node) -> Result<DslVersion, Problem> {
    let Some((_, node)) = document.get_entry("tosca_definitions_version") else {
        return Err(Problem::logic(
            27,
            document.span,
            "tosca_definitions_version field must appear in the main blueprint file",
        )
        .with_hint(
            "start the blueprint with `tosca_definitions_version: cloudify_dsl_1_3` (or 1_0 … 1_5)",
        ));
    };
    let Some(raw) = node.as_str() else {
        if node.is_null() {
            return Err(Problem::logic(
                27,
                node.span,
                "tosca_definitions_version field must appear in the main blueprint file",
            ));
        }
        return Err(Problem::format(
            1,
            node.span,
            format!(
                "Expected 'string' type but found '{}' type",
                node.type_name()
            ),
        ));
    };
    if !SUPPORTED.contains(&raw) {
        return Err(Problem::logic(
            29,
            node.span,
            format!("Unexpected tosca_definitions_version {raw}; Currently supported versions are: {SUPPORTED:?}"),
        )
        .with_hint("supported versions are cloudify_dsl_1_0 … cloudify_dsl_1_5"));
    }
    let short = &raw["cloudify_dsl_".len()..];
    let mut parts = short.split('_');
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(1);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let micro = parts.next().and_then(|p| p.parse().ok());
    Ok(DslVersion {
        raw: raw.into(),
        major,
        minor,
        micro,
    })
}
