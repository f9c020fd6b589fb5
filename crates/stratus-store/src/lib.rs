//! Durable state for the manager: one [`Store`] contract, two backends (SQLite embedded,
//! PostgreSQL beyond one machine), migrations embedded and applied on open.
//!
//! The store knows nothing of Cloudify's resources. It keeps *records* — an opaque JSON body
//! under `(kind, tenant, id)` with a version counter — plus an append-only event log and
//! blobs (blueprint and plugin archives). The server owns the meaning of kinds and bodies and
//! keeps the committed state in memory for reads; the store is what makes a write count.
//!
//! Open one with [`SqliteStore::open`] (a file; `<file>.lock` beside it keeps a second
//! Stratus out) or [`PostgresStore::connect`] (a URL; an advisory lock does the same); both
//! return [`StoreError::Locked`] or [`StoreError::TooNew`] instead of sharing or guessing.
//!
//! *Invariants:*
//! - `apply` is atomic and durable: when it returns `Ok`, every write in the batch is
//!   committed (SQLite WAL with `synchronous=FULL`; PostgreSQL commit); when it returns `Err`,
//!   none is.
//! - A record's `version` starts at 1 and grows by one on every `Put`; an `expected_version`
//!   that does not match fails the whole batch with [`StoreError::VersionMismatch`].
//! - Event ids are assigned by the store, strictly increasing in commit order.
//! - Every method may be called from plain threads and from `tokio::task::spawn_blocking`;
//!   none may be called on an async worker thread.

use serde_json::Value;

mod common;
mod migrate;
mod postgres;
mod sqlite;

pub use crate::postgres::PostgresStore;
pub use crate::sqlite::SqliteStore;

/// A stored resource. `tenant` is `""` for resources that belong to no tenant (users, tenants).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: String,
    pub tenant: String,
    pub id: String,
    pub version: i64,
    pub body: Value,
}

/// A record as [`Store::load_each`] hands it over: the body is the stored JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub tenant: String,
    pub id: String,
    pub version: i64,
    pub text: String,
}

/// One write of an atomic batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Creates a record at version 1; [`StoreError::Conflict`] if `(kind, tenant, id)` exists.
    Insert {
        kind: String,
        tenant: String,
        id: String,
        body: Value,
    },
    /// Creates (version 1) or replaces (version + 1) a record. With `expected_version`, the
    /// record must exist at exactly that version, else [`StoreError::VersionMismatch`]
    /// (or [`StoreError::NotFound`] if it does not exist).
    Put {
        kind: String,
        tenant: String,
        id: String,
        body: Value,
        expected_version: Option<i64>,
    },
    /// Removes a record; [`StoreError::NotFound`] if it does not exist.
    Delete {
        kind: String,
        tenant: String,
        id: String,
    },
    /// Removes every record of `kind` in `tenant` whose body has `field` equal to `value`
    /// (e.g. all node instances of one deployment). Removing none is not an error.
    DeleteWhere {
        kind: String,
        tenant: String,
        field: String,
        value: Value,
    },
    /// Appends an event; the store assigns its id.
    AppendEvent(NewEvent),
    /// Removes every event of one deployment.
    DeleteEvents {
        tenant: String,
        deployment_id: String,
    },
    /// Stores bytes under `key`, replacing any previous value.
    PutBlob { key: String, bytes: Vec<u8> },
    /// Removes a blob; removing a missing blob is not an error.
    DeleteBlob { key: String },
}

/// An event to append: an [`Event`] without its id, its body already encoded. `body` must be
/// the JSON text of an object: the store writes it as is (events are many, and their writers
/// produce the text directly). [`NewEvent::encode`] makes one from an [`Event`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub tenant: String,
    pub deployment_id: String,
    pub execution_id: String,
    pub timestamp: String,
    pub kind: String,
    pub event_type: String,
    pub body: String,
}

impl NewEvent {
    /// The `events` columns it fills, in the backends' column order: tenant, deployment_id,
    /// execution_id, timestamp, kind, event_type, body.
    pub(crate) fn columns(&self) -> [&String; 7] {
        [
            &self.tenant,
            &self.deployment_id,
            &self.execution_id,
            &self.timestamp,
            &self.kind,
            &self.event_type,
            &self.body,
        ]
    }

    /// `event` (its id ignored) with its body encoded; a body nested deeper than the store can
    /// read back is refused.
    pub fn encode(event: Event) -> Result<NewEvent, StoreError> {
        let body = common::encode_body(&event.body)?;
        Ok(NewEvent {
            tenant: event.tenant,
            deployment_id: event.deployment_id,
            execution_id: event.execution_id,
            timestamp: event.timestamp,
            kind: event.kind,
            event_type: event.event_type,
            body,
        })
    }
}

/// An entry of the event log (Cloudify events and logs).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Assigned by the store on append.
    pub id: i64,
    pub tenant: String,
    pub deployment_id: String,
    pub execution_id: String,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-24T20:17:55.123Z`; sorts as text.
    pub timestamp: String,
    /// `cloudify_event` or `cloudify_log`.
    pub kind: String,
    /// For events, e.g. `workflow_started`; for logs, the level (`info`, …).
    pub event_type: String,
    pub body: Value,
}

/// Which events to return. Empty lists mean "any"; `tenant: None` means every tenant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    pub tenant: Option<String>,
    pub deployment_ids: Vec<String>,
    pub execution_ids: Vec<String>,
    pub kinds: Vec<String>,
    pub event_types: Vec<String>,
    /// Inclusive bounds on `timestamp` (text comparison).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Newest first when true; by id ascending otherwise.
    pub descending: bool,
    /// How many matching events to skip, in the chosen order.
    pub offset: u64,
    /// At most this many events are returned; `0` returns none (only `total`).
    pub size: u64,
}

/// A page of events and how many match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} '{id}' already exists in tenant '{tenant}'")]
    Conflict {
        kind: String,
        tenant: String,
        id: String,
    },
    #[error("{kind} '{id}' not found in tenant '{tenant}'")]
    NotFound {
        kind: String,
        tenant: String,
        id: String,
    },
    #[error("{kind} '{id}' is at version {actual}, not {expected}")]
    VersionMismatch {
        kind: String,
        id: String,
        expected: i64,
        actual: i64,
    },
    /// The database was written by a newer Stratus (its schema version is higher than any
    /// migration this build knows).
    #[error("the database has schema version {found}; this Stratus knows up to {known}")]
    TooNew { found: i64, known: i64 },
    /// Another live Stratus holds the database.
    #[error("the database is in use by another Stratus ({0})")]
    Locked(String),
    /// The backend failed (I/O, connection, corrupt data); the message says which and why.
    #[error("{0}")]
    Backend(String),
}

/// The contract every backend meets; `tests/conformance/` checks it against each.
pub trait Store: Send + Sync {
    /// `sqlite` or `postgresql`, and where (path or host/database, never a password).
    fn describe(&self) -> String;
    /// Applies `batch` atomically and durably. Returns, for each write, the record version it
    /// produced (`Insert`/`Put`), the event id it was given (`AppendEvent`), or 0.
    fn apply(&self, batch: &[Write]) -> Result<Vec<i64>, StoreError>;
    /// One record.
    fn get(&self, kind: &str, tenant: &str, id: &str) -> Result<Option<Record>, StoreError>;
    /// Every record of `kind` in every tenant, in insertion order (for loading at start).
    fn load(&self, kind: &str) -> Result<Vec<Record>, StoreError>;
    /// [`Store::load`] one record at a time, bodies as their stored JSON text, so a large
    /// state is never held twice while it is loaded.
    fn load_each(&self, kind: &str, visit: &mut dyn FnMut(RawRecord)) -> Result<(), StoreError>;
    fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn events(&self, query: &EventQuery) -> Result<EventPage, StoreError>;
    /// Every kind that has records (for snapshots).
    fn kinds(&self) -> Result<Vec<String>, StoreError>;
    /// Every blob key, sorted (for snapshots).
    fn blob_keys(&self) -> Result<Vec<String>, StoreError>;
    /// Replaces the whole content — records (in the given order, with their versions), events
    /// (with their ids; later appends continue after the largest) and blobs — in one
    /// transaction: a snapshot restore. On error nothing changes.
    fn replace_all(
        &self,
        records: &[(String, RawRecord)],
        events: &[Event],
        blobs: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError>;
    /// The schema version after migrations (for status and snapshots).
    fn schema_version(&self) -> Result<i64, StoreError>;
}
