//! Interfaces resolved once per type for the templates that add none of their own.

use std::collections::HashMap;

use crate::json::{Map, Value as J};

use crate::diag::Problems;
use crate::node_plugins::{uses_of, Uses};

/// A type's interfaces merged and resolved, as `(interfaces, operations, copied)`.
pub(super) type ResolvedInterfaces = (Map, Map, Vec<(String, String)>);

/// [`ResolvedInterfaces`] as plan values, with the plugins its operations use.
#[derive(Clone)]
pub(super) struct Resolved {
    /// The `interfaces` object.
    pub(super) interfaces: J,
    /// The `operations` object.
    pub(super) operations: J,
    /// Whether no operation input holds a function call.
    pub(super) inert: bool,
    pub(super) copied: Vec<(String, String)>,
    pub(super) uses: Uses,
}

/// Interfaces resolved for a node or relationship type where the template adds none of its
/// own: every such template of the type gets the same result, so it is resolved once per
/// parse. Only problem-free results are kept (problems name the template and point at it).
#[derive(Default)]
pub(super) struct InterfaceMemo {
    /// By type name, then side (`""`, `source_interfaces`, `target_interfaces`).
    entries: HashMap<String, Vec<(&'static str, Resolved)>>,
}

impl InterfaceMemo {
    /// `key` is `None` when the template writes interfaces of its own.
    pub(super) fn resolve(
        &mut self,
        key: Option<(&str, &'static str)>,
        problems: &mut Problems,
        resolve: impl FnOnce(&mut Problems) -> ResolvedInterfaces,
    ) -> Resolved {
        let with_uses = |(interfaces, operations, copied): ResolvedInterfaces| {
            let uses = uses_of(&operations);
            Resolved {
                inert: crate::functions::operations_inert(Some(&operations))
                    && crate::functions::interfaces_inert(Some(&interfaces)),
                interfaces: J::Object(interfaces),
                operations: J::Object(operations),
                copied,
                uses,
            }
        };
        let Some((name, side)) = key else {
            return with_uses(resolve(problems));
        };
        if let Some(found) = self
            .entries
            .get(name)
            .and_then(|sides| sides.iter().find(|(s, _)| *s == side))
        {
            return found.1.clone();
        }
        let mut found = Problems::default();
        let resolved = with_uses(resolve(&mut found));
        if found.is_empty() {
            self.entries
                .entry(name.to_string())
                .or_default()
                .push((side, resolved.clone()));
        }
        problems.list.extend(found.list);
        resolved
    }
}
