//! The evaluation context of a function: where the value lives ([`Scope`]), which nodes
//! `SELF`, `SOURCE` and `TARGET` name ([`Context`]), and what it can see ([`Environment`]).

use crate::json::Value as J;

use crate::yaml::Span;

/// Where a value being evaluated lives.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    NodeTemplate,
    Relationship,
    Outputs,
    Policies,
    ScalingGroups,
    Capabilities,
    Labels,
    DeploymentSettings,
}

impl Scope {
    pub(super) fn name(self) -> &'static str {
        match self {
            Scope::NodeTemplate => "node_template",
            Scope::Relationship => "node_template_relationship",
            Scope::Outputs => "outputs",
            Scope::Policies => "policies",
            Scope::ScalingGroups => "scaling_groups",
            Scope::Capabilities => "capabilities",
            Scope::Labels => "labels",
            Scope::DeploymentSettings => "deployment_settings",
        }
    }
}

/// What an evaluation can see.
pub trait Environment {
    fn input(&self, name: &str) -> Option<J>;
    fn has_input(&self, name: &str) -> bool;
    /// The properties of a node template, if it exists.
    fn node_properties(&self, node: &str) -> Option<J>;
    fn has_node(&self, node: &str) -> bool;
    fn version_at_least(&self, major: u32, minor: u32) -> bool;
    /// Where a function call is written, for diagnostics.
    fn span_of(&self, _function: &J) -> Option<Span> {
        None
    }
}

/// The evaluation context of one value.
#[derive(Clone, Debug)]
pub struct Context {
    pub scope: Scope,
    /// The node template `SELF` refers to.
    pub self_node: Option<String>,
    pub source_node: Option<String>,
    pub target_node: Option<String>,
    pub path: String,
    pub span: Span,
}

impl Context {
    /// A context with no node: outputs, capabilities, policies, …
    pub fn new(scope: Scope, path: String) -> Context {
        Context {
            scope,
            self_node: None,
            source_node: None,
            target_node: None,
            path,
            span: Span::default(),
        }
    }

    /// The context of a node template's own values: `SELF` is the node.
    pub fn for_node(name: &str, path: String) -> Context {
        Context {
            self_node: Some(name.to_string()),
            ..Context::new(Scope::NodeTemplate, path)
        }
    }

    /// The context of a relationship's operations: `SOURCE` is the node, `TARGET` its target.
    pub fn for_relationship(source: &str, relationship: &J) -> Context {
        Context {
            source_node: Some(source.to_string()),
            target_node: relationship
                .get("target_id")
                .and_then(J::as_str)
                .map(str::to_string),
            ..Context::new(Scope::Relationship, format!("nodes.{source}.relationships"))
        }
    }
}
