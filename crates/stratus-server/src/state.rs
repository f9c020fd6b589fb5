//! The committed state, in memory, and the one way to change it.
//!
//! Every resource the API serves lives here as the body the store holds, keyed by
//! `(tenant, id)` per kind, in creation order. Reads take a short read lock and never touch the
//! database. Writes go through [`Shared::write`]: under the writer lock the handler looks at
//! the state and decides a batch; the batch is committed to the store first and only then
//! applied here — so nothing a client can read was ever uncommitted, and a failed commit
//! changes nothing.
//!
//! *Invariant:* the tables equal what the store would load right now (one process owns the
//! store; the backends refuse a second one).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use indexmap::IndexMap;
use serde_json::Value;
use stratus_store::{Store, Write};

use crate::error::{ApiError, ApiResult};

/// The kinds of records the manager keeps.
pub mod kind {
    pub const BLUEPRINTS: &str = "blueprints";
    pub const DEPLOYMENTS: &str = "deployments";
    pub const EXECUTIONS: &str = "executions";
    pub const NODES: &str = "nodes";
    pub const NODE_INSTANCES: &str = "node_instances";
    pub const SECRETS: &str = "secrets";
    pub const PLUGINS: &str = "plugins";
    pub const TENANTS: &str = "tenants";
    pub const USERS: &str = "users";
    pub const TOKENS: &str = "tokens";
    pub const ALL: [&str; 10] = [
        BLUEPRINTS,
        DEPLOYMENTS,
        EXECUTIONS,
        NODES,
        NODE_INSTANCES,
        SECRETS,
        PLUGINS,
        TENANTS,
        USERS,
        TOKENS,
    ];
}

/// One committed record. `wire` caches the serialized API form for lists.
#[derive(Debug)]
pub struct Row {
    pub tenant: String,
    pub id: String,
    pub version: i64,
    pub body: Value,
    wire: OnceLock<Arc<[u8]>>,
}

impl Row {
    fn new(tenant: String, id: String, version: i64, body: Value) -> Self {
        Row {
            tenant,
            id,
            version,
            body,
            wire: OnceLock::new(),
        }
    }

    /// The body serialized once by `render` and kept.
    pub fn wire_bytes(&self, render: impl FnOnce(&Row) -> Value) -> Arc<[u8]> {
        self.wire
            .get_or_init(|| {
                let value = render(self);
                Arc::from(serde_json::to_vec(&value).unwrap_or_default())
            })
            .clone()
    }

    /// A row not (yet) in a table, for rendering a body just written.
    pub fn detached(id: String, body: Value) -> Self {
        Row::new(String::new(), id, 0, body)
    }

    pub fn str_field(&self, field: &str) -> &str {
        self.body.get(field).and_then(Value::as_str).unwrap_or("")
    }
}

/// The records of one kind in creation order.
#[derive(Debug, Default)]
pub struct Table {
    rows: IndexMap<(String, String), Arc<Row>>,
}

impl Table {
    pub fn get(&self, tenant: &str, id: &str) -> Option<&Arc<Row>> {
        self.rows.get(&(tenant.to_string(), id.to_string()))
    }
    pub fn rows(&self) -> impl Iterator<Item = &Arc<Row>> {
        self.rows.values()
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct Tables {
    tables: HashMap<&'static str, Table>,
}

static EMPTY: OnceLock<Table> = OnceLock::new();

impl Tables {
    pub fn table(&self, kind: &str) -> &Table {
        self.tables
            .get(kind)
            .unwrap_or_else(|| EMPTY.get_or_init(Table::default))
    }
    pub fn get(&self, kind: &str, tenant: &str, id: &str) -> Option<&Arc<Row>> {
        self.table(kind).get(tenant, id)
    }

    fn table_mut(&mut self, kind: &str) -> &mut Table {
        let key = kind::ALL
            .iter()
            .find(|k| **k == kind)
            .copied()
            .unwrap_or("other");
        self.tables.entry(key).or_default()
    }

    /// Applies a committed batch; `versions` is what the store returned for it.
    fn apply(&mut self, batch: Vec<Write>, versions: &[i64]) {
        for (write, version) in batch.into_iter().zip(versions.iter().copied()) {
            match write {
                Write::Insert {
                    kind,
                    tenant,
                    id,
                    body,
                }
                | Write::Put {
                    kind,
                    tenant,
                    id,
                    body,
                    ..
                } => {
                    let row = Row::new(tenant.clone(), id.clone(), version, body);
                    self.table_mut(&kind)
                        .rows
                        .insert((tenant, id), Arc::new(row));
                }
                Write::Delete { kind, tenant, id } => {
                    self.table_mut(&kind).rows.shift_remove(&(tenant, id));
                }
                Write::DeleteWhere {
                    kind,
                    tenant,
                    field,
                    value,
                } => {
                    self.table_mut(&kind).rows.retain(|(t, _), row| {
                        !(*t == tenant && row.body.get(&field) == Some(&value))
                    });
                }
                Write::AppendEvent(_)
                | Write::DeleteEvents { .. }
                | Write::PutBlob { .. }
                | Write::DeleteBlob { .. } => {}
            }
        }
    }
}

/// The state shared by every request.
pub struct Shared {
    pub store: Arc<dyn Store>,
    tables: RwLock<Tables>,
    writer: tokio::sync::Mutex<()>,
}

impl Shared {
    /// Loads every kind from the store.
    pub fn load(store: Arc<dyn Store>) -> Result<Shared, stratus_store::StoreError> {
        let mut tables = Tables::default();
        for kind in kind::ALL {
            let table = tables.table_mut(kind);
            for record in store.load(kind)? {
                let row = Row::new(
                    record.tenant.clone(),
                    record.id.clone(),
                    record.version,
                    record.body,
                );
                table.rows.insert((record.tenant, record.id), Arc::new(row));
            }
        }
        Ok(Shared {
            store,
            tables: RwLock::new(tables),
            writer: tokio::sync::Mutex::new(()),
        })
    }

    /// Runs `f` with the committed state under a read lock.
    pub fn read<T>(&self, f: impl FnOnce(&Tables) -> T) -> T {
        let tables = self.tables.read().unwrap_or_else(|e| e.into_inner());
        f(&tables)
    }

    /// Decides a batch from the current state (under the writer lock, so no other write
    /// interleaves), commits it, then applies it. Returns `f`'s value and the store's results.
    pub async fn write<T>(
        &self,
        f: impl FnOnce(&Tables) -> ApiResult<(Vec<Write>, T)>,
    ) -> ApiResult<(T, Vec<i64>)> {
        let _guard = self.writer.lock().await;
        let (batch, value) = self.read(f)?;
        if batch.is_empty() {
            return Ok((value, Vec::new()));
        }
        let versions = self.commit(batch.clone()).await?;
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        tables.apply(batch, &versions);
        Ok((value, versions))
    }

    async fn commit(&self, batch: Vec<Write>) -> ApiResult<Vec<i64>> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.apply(&batch))
            .await
            .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
            .map_err(ApiError::from)
    }

    /// Runs a blocking store call off the async workers.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, stratus_store::StoreError> + Send + 'static,
    ) -> ApiResult<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
            .map_err(ApiError::from)
    }
}
