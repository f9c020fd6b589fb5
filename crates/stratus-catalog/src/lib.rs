//! Built-in type catalog and import resolver (see ARCHITECTURE.md).
