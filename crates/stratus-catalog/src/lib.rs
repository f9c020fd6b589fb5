//! Built-in type catalog and import resolver (see ARCHITECTURE.md).
//!
//! Blueprints import Cloudify's and ONAP's public type files by URL and plugin types by
//! `plugin:NAME?version=SPEC`. This crate answers those imports offline: [`Catalog`] holds the
//! project's own compact rendition of every such file, [`ImportResolver`] applies Cloudify's
//! resolver rules over files, the catalog and (only when allowed) the network, and [`Loader`]
//! is the [`stratus_dsl::ImportLoader`] the binary hands to the parser.

mod catalog;
mod compact;
mod loader;
mod render;
mod resolver;
mod value;
mod version;

pub use catalog::{Catalog, Entry, EntryKind};
pub use loader::{CatalogPlugins, Loader, PluginSource};
pub use resolver::{
    Attempt, Fetcher, ImportResolver, ResolveError, Resolved, ResolvedFrom, ResolverConfig,
};
pub use version::{compare as compare_versions, VersionSpec};

#[doc(hidden)]
pub mod testing {
    //! For this crate's integration tests: the committed catalog sources.
    pub use crate::catalog::sources;
}
