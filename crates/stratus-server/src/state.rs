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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

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
    pub const SNAPSHOTS: &str = "snapshots";
    pub const ALL: [&str; 11] = [
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
        SNAPSHOTS,
    ];
}

/// One committed record, kept compact: the stored JSON text plus its top-level scalar fields
/// (ids, states, visibility — what filters, sorts and handlers look at) with interned keys.
/// Containers (properties, workflows, runtime properties) are parsed from the text on demand,
/// so memory stays near the size of the JSON itself. `wire` caches a rendered form for kinds
/// whose API shape differs from the stored one.
#[derive(Debug)]
pub struct Row {
    pub tenant: String,
    pub id: String,
    pub version: i64,
    raw: Box<str>,
    scalars: Box<[(Arc<str>, Value)]>,
    /// Names of the top-level fields that hold a list or a dict.
    containers: Box<[Arc<str>]>,
    has_private: bool,
    wire: OnceLock<Arc<[u8]>>,
}

/// Field names repeat across every row of a kind: keep one copy of each.
fn intern(key: &str) -> Arc<str> {
    static KEYS: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = keys.get(key) {
        return existing.clone();
    }
    let key: Arc<str> = Arc::from(key);
    keys.insert(key.clone());
    key
}

impl Row {
    pub fn new(tenant: String, id: String, version: i64, body: &Value) -> Self {
        let raw = serde_json::to_string(body).unwrap_or_else(|_| "null".into());
        let (scalars, containers, has_private) = match body {
            Value::Object(map) => (
                map.iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_array())
                    .map(|(k, v)| (intern(k), v.clone()))
                    .collect(),
                map.iter()
                    .filter(|(_, v)| v.is_object() || v.is_array())
                    .map(|(k, _)| intern(k))
                    .collect(),
                map.keys().any(|k| k.starts_with('_')),
            ),
            _ => (Box::default(), Box::default(), false),
        };
        Row {
            tenant,
            id,
            version,
            raw: raw.into_boxed_str(),
            scalars,
            containers,
            has_private,
            wire: OnceLock::new(),
        }
    }

    /// A row from its stored text (at load time).
    pub fn from_text(record: stratus_store::RawRecord) -> Result<Self, String> {
        let body: Value = serde_json::from_str(&record.text).map_err(|e| {
            format!(
                "stored record {}/{} is not JSON: {e}",
                record.tenant, record.id
            )
        })?;
        let mut row = Row::new(record.tenant, record.id, record.version, &body);
        row.raw = record.text.into_boxed_str();
        Ok(row)
    }

    /// A row not (yet) in a table, for rendering a body just written.
    pub fn detached(id: String, body: Value) -> Self {
        Row::new(String::new(), id, 0, &body)
    }

    /// The whole body, parsed from the stored text.
    pub fn body(&self) -> Value {
        serde_json::from_str(&self.raw).unwrap_or(Value::Null)
    }

    /// The stored JSON text.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether the body has private (`_`-prefixed) fields that rendering removes.
    pub fn has_private_fields(&self) -> bool {
        self.has_private
    }

    /// A top-level scalar field (string, number, boolean or null), without parsing.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.scalars
            .iter()
            .find(|(key, _)| &**key == name)
            .map(|(_, value)| value)
    }

    /// The public fields named in `fields`, in that order; parses the body only when one of
    /// them holds a list or a dict.
    pub fn project(&self, fields: &[String]) -> Value {
        let public = |name: &str| !name.starts_with('_');
        if fields
            .iter()
            .any(|f| self.containers.iter().any(|c| **c == **f))
        {
            let body = self.body();
            return Value::Object(
                fields
                    .iter()
                    .filter(|f| public(f))
                    .filter_map(|f| body.get(f).map(|v| (f.clone(), v.clone())))
                    .collect(),
            );
        }
        Value::Object(
            fields
                .iter()
                .filter(|f| public(f))
                .filter_map(|f| self.field(f).map(|v| (f.clone(), v.clone())))
                .collect(),
        )
    }

    /// Any top-level field: scalars directly; a container is parsed alone, the rest of the
    /// body only scanned.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        match self.field(name) {
            Some(value) => Some(value.clone()),
            None => crate::json_field::top_level(&self.raw, name),
        }
    }

    pub fn str_field(&self, field: &str) -> &str {
        self.field(field).and_then(Value::as_str).unwrap_or("")
    }

    /// The body without its private (`_`-prefixed) fields: what the API shows.
    pub fn public_body(&self) -> Value {
        match self.body() {
            Value::Object(map) if self.has_private => Value::Object(
                map.into_iter()
                    .filter(|(k, _)| !k.starts_with('_'))
                    .collect(),
            ),
            other => other,
        }
    }

    /// The body rendered once by `render` and kept.
    pub fn wire_bytes(&self, render: impl FnOnce(&Row) -> Value) -> Arc<[u8]> {
        self.wire
            .get_or_init(|| {
                let value = render(self);
                Arc::from(serde_json::to_vec(&value).unwrap_or_default())
            })
            .clone()
    }
}

/// The records of one kind: per tenant in creation order, plus an index of the global ones
/// (visible from every tenant) and a count of private ones, so the common list — one tenant's
/// rows, a page of them — costs only the page.
#[derive(Debug, Default)]
pub struct Table {
    tenants: BTreeMap<String, IndexMap<String, Arc<Row>>>,
    globals: IndexMap<(String, String), Arc<Row>>,
    private_count: usize,
}

impl Table {
    pub fn get(&self, tenant: &str, id: &str) -> Option<&Arc<Row>> {
        self.tenants.get(tenant)?.get(id)
    }
    /// Every row, tenant by tenant, each in creation order.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<Row>> {
        self.tenants.values().flat_map(IndexMap::values)
    }
    /// One tenant's rows in creation order.
    pub fn tenant_rows(&self, tenant: &str) -> Option<&IndexMap<String, Arc<Row>>> {
        self.tenants.get(tenant)
    }
    /// Global rows of every tenant.
    pub fn global_rows(&self) -> impl Iterator<Item = &Arc<Row>> {
        self.globals.values()
    }
    pub fn has_private_rows(&self) -> bool {
        self.private_count > 0
    }
    pub fn len(&self) -> usize {
        self.tenants.values().map(IndexMap::len).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&mut self, row: Row) {
        self.remove(&row.tenant.clone(), &row.id.clone());
        let row = Arc::new(row);
        match row.str_field("visibility") {
            "global" => {
                self.globals
                    .insert((row.tenant.clone(), row.id.clone()), row.clone());
            }
            "private" => self.private_count += 1,
            _ => {}
        }
        let rows = self.tenants.entry(row.tenant.clone()).or_default();
        // A replaced row keeps its place (remove above shifted it out; put it back there).
        rows.insert(row.id.clone(), row);
    }

    fn remove(&mut self, tenant: &str, id: &str) -> Option<Arc<Row>> {
        let rows = self.tenants.get_mut(tenant)?;
        let row = rows.shift_remove(id)?;
        self.forget(&row);
        Some(row)
    }

    fn forget(&mut self, row: &Row) {
        match row.str_field("visibility") {
            "global" => {
                self.globals
                    .shift_remove(&(row.tenant.clone(), row.id.clone()));
            }
            "private" => self.private_count -= 1,
            _ => {}
        }
    }

    fn replace(&mut self, row: Row) {
        let existing = self
            .tenants
            .get(&row.tenant)
            .and_then(|rows| rows.get(&row.id))
            .cloned();
        match existing {
            Some(old) => {
                self.forget(&old);
                let row = Arc::new(row);
                match row.str_field("visibility") {
                    "global" => {
                        self.globals
                            .insert((row.tenant.clone(), row.id.clone()), row.clone());
                    }
                    "private" => self.private_count += 1,
                    _ => {}
                }
                if let Some(slot) = self
                    .tenants
                    .get_mut(&row.tenant)
                    .and_then(|rows| rows.get_mut(&row.id))
                {
                    *slot = row;
                }
            }
            None => self.insert(row),
        }
    }

    fn retain(&mut self, tenant: &str, keep: impl Fn(&Row) -> bool) {
        let removed: Vec<Arc<Row>> = match self.tenants.get_mut(tenant) {
            Some(rows) => {
                let doomed: Vec<String> = rows
                    .values()
                    .filter(|row| !keep(row))
                    .map(|row| row.id.clone())
                    .collect();
                doomed
                    .iter()
                    .filter_map(|id| rows.shift_remove(id))
                    .collect()
            }
            None => Vec::new(),
        };
        for row in removed {
            self.forget(&row);
        }
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

    /// The rows a batch's inserts and puts will become, one slot per write (`None` for the
    /// others), built before the store says their versions: encoding a body is the costly
    /// part of applying it, and this way it runs while the store commits.
    fn rows_of(batch: &[Write]) -> Vec<Option<Row>> {
        batch
            .iter()
            .map(|write| match write {
                Write::Insert {
                    tenant, id, body, ..
                }
                | Write::Put {
                    tenant, id, body, ..
                } => Some(Row::new(tenant.clone(), id.clone(), 0, body)),
                _ => None,
            })
            .collect()
    }

    /// Applies a committed batch; `rows` is [`Tables::rows_of`] the batch and `versions` is
    /// what the store returned for it.
    fn apply(&mut self, batch: &[Write], rows: Vec<Option<Row>>, versions: &[i64]) {
        for ((write, row), version) in batch.iter().zip(rows).zip(versions.iter().copied()) {
            match write {
                Write::Insert { kind, .. } | Write::Put { kind, .. } => {
                    if let Some(mut row) = row {
                        row.version = version;
                        self.table_mut(kind).replace(row);
                    }
                }
                Write::Delete { kind, tenant, id } => {
                    self.table_mut(kind).remove(tenant, id);
                }
                Write::DeleteWhere {
                    kind,
                    tenant,
                    field,
                    value,
                } => {
                    self.table_mut(kind)
                        .retain(tenant, |row| row.lookup(field).as_ref() != Some(value));
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
            let mut bad = None;
            store.load_each(kind, &mut |record| match Row::from_text(record) {
                Ok(row) => table.insert(row),
                Err(error) => bad = bad.take().or(Some(error)),
            })?;
            if let Some(error) = bad {
                return Err(stratus_store::StoreError::Backend(error));
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
        // The store writes the batch on a blocking thread while this one builds the rows it
        // will add to the tables (shared, not cloned: an execution's round carries thousands
        // of events).
        let batch = Arc::new(batch);
        let committing = {
            let (store, batch) = (self.store.clone(), batch.clone());
            tokio::task::spawn_blocking(move || store.apply(&batch))
        };
        let rows = Tables::rows_of(&batch);
        let versions = joined(committing).await?;
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        tables.apply(&batch, rows, &versions);
        Ok((value, versions))
    }

    /// Replaces everything (a snapshot restore) and reloads the tables, under the writer
    /// lock; `keep` names kinds whose current records survive the restore.
    pub async fn replace_all(
        &self,
        mut records: Vec<(String, stratus_store::RawRecord)>,
        events: Vec<stratus_store::Event>,
        blobs: Vec<(String, Vec<u8>)>,
        keep: &[&str],
    ) -> ApiResult<()> {
        let _guard = self.writer.lock().await;
        for kind in keep {
            let kept: Vec<(String, stratus_store::RawRecord)> = self.read(|tables| {
                tables
                    .table(kind)
                    .rows()
                    .map(|row| {
                        let record = stratus_store::RawRecord {
                            tenant: row.tenant.clone(),
                            id: row.id.clone(),
                            version: row.version,
                            text: row.raw().to_string(),
                        };
                        (kind.to_string(), record)
                    })
                    .collect()
            });
            records.retain(|(k, _)| k != kind);
            records.extend(kept);
        }
        let store = self.store.clone();
        let reloaded = tokio::task::spawn_blocking(move || {
            store.replace_all(&records, &events, &blobs)?;
            Shared::load(store)
        })
        .await
        .map_err(|e| ApiError::internal(format!("restore task failed: {e}")))?
        .map_err(ApiError::from)?;
        let fresh = reloaded
            .tables
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        *self.tables.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// Runs a blocking store call off the async workers.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, stratus_store::StoreError> + Send + 'static,
    ) -> ApiResult<T> {
        let store = self.store.clone();
        joined(tokio::task::spawn_blocking(move || f(store.as_ref()))).await
    }
}

/// A blocking store task's result; a task that panicked or was cancelled is an internal error.
async fn joined<T>(
    task: tokio::task::JoinHandle<Result<T, stratus_store::StoreError>>,
) -> ApiResult<T> {
    task.await
        .map_err(|e| ApiError::internal(format!("store task failed: {e}")))?
        .map_err(ApiError::from)
}
