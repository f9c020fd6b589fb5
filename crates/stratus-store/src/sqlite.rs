//! The embedded backend: one SQLite file beside the manager, for a single machine.
//!
//! Shaped for durability first: WAL with `synchronous=FULL`, so a committed batch survives a
//! power cut, and one writer connection behind a mutex, so batches never interleave and event
//! ids follow commit order. Reads go through a second, read-only connection, so listing
//! events does not wait behind a write (WAL lets a reader see the last commit while a writer
//! works). An exclusive `flock` on `<path>.lock`, held for the life of the store, keeps a
//! second Stratus (or a second store in this process) off the same file: SQLite's own locks
//! would let two writers take turns and each trust its in-memory state.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{
    params, params_from_iter, Connection, OpenFlags, OptionalExtension, Transaction,
    TransactionBehavior,
};

use crate::common::{self, Failure};
use crate::migrate;
use crate::{Event, EventPage, EventQuery, RawRecord, Record, Store, StoreError, Write};

/// How long a statement waits for a lock held by another connection (a checkpoint, the reader).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    /// Held, never read: the `flock` lasts as long as this handle is open.
    _lock: File,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    /// Fails with [`StoreError::Locked`] while another store holds the same file, and with
    /// [`StoreError::TooNew`] if a newer Stratus migrated it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let fail = |error: &dyn std::fmt::Display| {
            StoreError::Backend(format!("open sqlite database {}: {error}", path.display()))
        };
        let lock = lock_file(path)?;
        let mut writer = Connection::open(path).map_err(|error| fail(&error))?;
        writer
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|error| fail(&error))?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|error| fail(&error))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(fail(&format!("journal_mode is {mode}, not wal")));
        }
        writer
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|error| fail(&error))?;
        migrate_sqlite(&mut writer).map_err(|failure| match failure {
            Failure::Store(error) => error,
            Failure::Backend(error) => fail(&format!("migrate: {error}")),
        })?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|error| fail(&error))?;
        reader
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|error| fail(&error))?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            _lock: lock,
        })
    }

    fn backend(&self, action: &str, error: impl std::fmt::Display) -> StoreError {
        StoreError::Backend(format!(
            "{action} in sqlite database {}: {error}",
            self.path.display()
        ))
    }

    fn database(&self) -> String {
        format!("sqlite database {}", self.path.display())
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock rolled its transaction back on unwind; the
        // connection is still sound.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Takes the exclusive lock on `<path>.lock`, creating the file if needed.
fn lock_file(path: &Path) -> Result<File, StoreError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|error| {
            StoreError::Backend(format!(
                "open sqlite database {}: create lock file {}: {error}",
                path.display(),
                lock_path.display()
            ))
        })?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(file),
        Err(fs4::TryLockError::WouldBlock) => Err(StoreError::Locked(format!(
            "sqlite database {} is locked through {}",
            path.display(),
            lock_path.display()
        ))),
        Err(fs4::TryLockError::Error(error)) => Err(StoreError::Backend(format!(
            "open sqlite database {}: lock {}: {error}",
            path.display(),
            lock_path.display()
        ))),
    }
}

fn migrate_sqlite(connection: &mut Connection) -> Result<(), Failure<rusqlite::Error>> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute_batch(migrate::META_TABLE)?;
    let found: Option<i64> = transaction
        .query_row("SELECT schema_version FROM meta", [], |row| row.get(0))
        .optional()?;
    let steps = migrate::pending(migrate::SQLITE, found.unwrap_or(0)).map_err(Failure::Store)?;
    let Some(last) = steps.last() else {
        return Ok(());
    };
    for step in steps {
        transaction.execute_batch(step.sql)?;
    }
    transaction.execute("DELETE FROM meta", [])?;
    transaction.execute(
        "INSERT INTO meta (schema_version) VALUES (?1)",
        [last.version],
    )?;
    transaction.commit()?;
    Ok(())
}

fn apply_write(
    transaction: &Transaction<'_>,
    write: &Write,
    database: &str,
) -> Result<i64, Failure<rusqlite::Error>> {
    match write {
        Write::Insert {
            kind,
            tenant,
            id,
            body,
        } => {
            let body = common::encode_body(body).map_err(Failure::Store)?;
            let inserted = transaction.prepare_cached("INSERT INTO records (kind, tenant, id, version, body) VALUES (?1, ?2, ?3, 1, ?4) \
                 ON CONFLICT (kind, tenant, id) DO NOTHING")?.execute(
                params![kind, tenant, id, body],
            )?;
            if inserted == 0 {
                return Err(Failure::Store(StoreError::Conflict {
                    kind: kind.clone(),
                    tenant: tenant.clone(),
                    id: id.clone(),
                }));
            }
            Ok(1)
        }
        Write::Put {
            kind,
            tenant,
            id,
            body,
            expected_version,
        } => {
            let body = common::encode_body(body).map_err(Failure::Store)?;
            // The usual case, a put at the version last read, is one statement; the version
            // is read only to say why one did not match.
            if let Some(expected) = expected_version {
                let updated = transaction
                    .prepare_cached(
                        "UPDATE records SET version = ?4 + 1, body = ?5 \
                         WHERE kind = ?1 AND tenant = ?2 AND id = ?3 AND version = ?4",
                    )?
                    .execute(params![kind, tenant, id, expected, body])?;
                if updated == 1 {
                    return Ok(expected + 1);
                }
            }
            let current: Option<i64> = transaction
                .prepare_cached(
                    "SELECT version FROM records WHERE kind = ?1 AND tenant = ?2 AND id = ?3",
                )?
                .query_row(params![kind, tenant, id], |row| row.get(0))
                .optional()?;
            common::check_expected(kind, tenant, id, current, *expected_version)?;
            match current {
                Some(version) => {
                    transaction.prepare_cached("UPDATE records SET version = ?4, body = ?5 WHERE kind = ?1 AND tenant = ?2 AND id = ?3")?.execute(
                        params![kind, tenant, id, version + 1, body],
                    )?;
                    Ok(version + 1)
                }
                None => {
                    transaction.prepare_cached("INSERT INTO records (kind, tenant, id, version, body) VALUES (?1, ?2, ?3, 1, ?4)")?.execute(
                        params![kind, tenant, id, body],
                    )?;
                    Ok(1)
                }
            }
        }
        Write::Delete { kind, tenant, id } => {
            let deleted = transaction
                .prepare_cached("DELETE FROM records WHERE kind = ?1 AND tenant = ?2 AND id = ?3")?
                .execute(params![kind, tenant, id])?;
            if deleted == 0 {
                return Err(Failure::Store(StoreError::NotFound {
                    kind: kind.clone(),
                    tenant: tenant.clone(),
                    id: id.clone(),
                }));
            }
            Ok(0)
        }
        Write::DeleteWhere {
            kind,
            tenant,
            field,
            value,
        } => {
            let needle = common::delete_where_needle(value).unwrap_or_default();
            let mut select = transaction.prepare(
                "SELECT seq, id, body FROM records WHERE kind = ?1 AND tenant = ?2 AND instr(body, ?3) > 0",
            )?;
            let candidates = select
                .query_map(params![kind, tenant, needle], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut doomed = Vec::new();
            for (seq, id, text) in candidates {
                let what = format!("record {kind}/{tenant}/{id}");
                let body = common::decode_body(&text, &what, database).map_err(Failure::Store)?;
                if common::delete_where_matches(&body, field, value) {
                    doomed.push(seq);
                }
            }
            let mut delete = transaction.prepare("DELETE FROM records WHERE seq = ?1")?;
            for seq in doomed {
                delete.execute([seq])?;
            }
            Ok(0)
        }
        Write::AppendEvent(event) => {
            append_events(transaction, &[event])?;
            Ok(transaction.last_insert_rowid())
        }
        Write::DeleteEvents {
            tenant,
            deployment_id,
        } => {
            transaction
                .prepare_cached("DELETE FROM events WHERE tenant = ?1 AND deployment_id = ?2")?
                .execute(params![tenant, deployment_id])?;
            Ok(0)
        }
        Write::PutBlob { key, bytes } => {
            transaction.prepare_cached("INSERT INTO blobs (key, bytes) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET bytes = excluded.bytes")?.execute(
                params![key, bytes],
            )?;
            Ok(0)
        }
        Write::DeleteBlob { key } => {
            transaction
                .prepare_cached("DELETE FROM blobs WHERE key = ?1")?
                .execute([key])?;
            Ok(0)
        }
    }
}

/// Events appended by one `INSERT` (several rows share one statement's overhead); runs of
/// other lengths are split into these sizes, largest first.
const EVENT_ROWS: [usize; 4] = [64, 16, 4, 1];

/// The `INSERT` of `rows` events (one of [`EVENT_ROWS`]).
fn insert_events_sql(rows: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        EVENT_ROWS
            .iter()
            .map(|&rows| {
                let values: Vec<String> = (0..rows)
                    .map(|row| {
                        let slots: Vec<String> =
                            (1..=7).map(|column| format!("?{}", row * 7 + column)).collect();
                        format!("({})", slots.join(", "))
                    })
                    .collect();
                format!(
                    "INSERT INTO events (tenant, deployment_id, execution_id, timestamp, kind, event_type, body) VALUES {}",
                    values.join(", ")
                )
            })
            .collect()
    });
    let index = EVENT_ROWS.iter().position(|&r| r == rows).unwrap_or(0);
    &all[index]
}

/// Appends `events` in order; their ids are consecutive, the last one's is
/// `last_insert_rowid` (one writer, and AUTOINCREMENT gives each row the next id).
fn append_events(
    transaction: &Transaction<'_>,
    mut events: &[&crate::NewEvent],
) -> Result<(), rusqlite::Error> {
    for event in events {
        debug_assert!(
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&event.body).is_ok(),
            "an event body that is not a JSON object: {}",
            event.body
        );
    }
    while !events.is_empty() {
        let rows = EVENT_ROWS
            .into_iter()
            .find(|&rows| rows <= events.len())
            .unwrap_or(1);
        let (chunk, rest) = events.split_at(rows);
        let mut statement = transaction.prepare_cached(insert_events_sql(rows))?;
        for (row, event) in chunk.iter().enumerate() {
            for (column, field) in event.columns().into_iter().enumerate() {
                statement.raw_bind_parameter(row * 7 + column + 1, field.as_str())?;
            }
        }
        statement.raw_execute()?;
        events = rest;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }

    fn apply(&self, batch: &[Write]) -> Result<Vec<i64>, StoreError> {
        let mut connection = self.writer();
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|error| self.backend("begin batch", error))?;
        let database = self.database();
        let mut produced = Vec::with_capacity(batch.len());
        let mut index = 0;
        while index < batch.len() {
            // A run of appended events is inserted a few statements at a time.
            let events: Vec<&crate::NewEvent> = batch[index..]
                .iter()
                .map_while(|write| match write {
                    Write::AppendEvent(event) => Some(event),
                    _ => None,
                })
                .collect();
            if events.len() > 1 {
                append_events(&transaction, &events).map_err(|error| {
                    let action = format!(
                        "writes {} to {} of the batch (events)",
                        index + 1,
                        index + events.len()
                    );
                    self.backend(&action, error)
                })?;
                let last = transaction.last_insert_rowid();
                let first = last - events.len() as i64 + 1;
                produced.extend(first..=last);
                index += events.len();
                continue;
            }
            let write = &batch[index];
            index += 1;
            match apply_write(&transaction, write, &database) {
                Ok(value) => produced.push(value),
                Err(Failure::Store(error)) => return Err(error),
                Err(Failure::Backend(error)) => {
                    let action = format!(
                        "write {} of the batch ({})",
                        index,
                        common::describe_write(write)
                    );
                    return Err(self.backend(&action, error));
                }
            }
        }
        transaction
            .commit()
            .map_err(|error| self.backend("commit batch", error))?;
        Ok(produced)
    }

    fn get(&self, kind: &str, tenant: &str, id: &str) -> Result<Option<Record>, StoreError> {
        let connection = self.reader();
        let row: Option<(i64, String)> = connection
            .query_row(
                "SELECT version, body FROM records WHERE kind = ?1 AND tenant = ?2 AND id = ?3",
                params![kind, tenant, id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|error| self.backend(&format!("read record {kind}/{tenant}/{id}"), error))?;
        let Some((version, text)) = row else {
            return Ok(None);
        };
        let body = common::decode_body(
            &text,
            &format!("record {kind}/{tenant}/{id}"),
            &self.database(),
        )?;
        Ok(Some(Record {
            kind: kind.to_owned(),
            tenant: tenant.to_owned(),
            id: id.to_owned(),
            version,
            body,
        }))
    }

    fn load_each(&self, kind: &str, visit: &mut dyn FnMut(RawRecord)) -> Result<(), StoreError> {
        let connection = self.reader();
        let fail =
            |error: rusqlite::Error| self.backend(&format!("load records of kind {kind}"), error);
        let mut statement = connection
            .prepare("SELECT tenant, id, version, body FROM records WHERE kind = ?1 ORDER BY seq")
            .map_err(fail)?;
        let mut rows = statement.query([kind]).map_err(fail)?;
        while let Some(row) = rows.next().map_err(fail)? {
            visit(RawRecord {
                tenant: row.get(0).map_err(fail)?,
                id: row.get(1).map_err(fail)?,
                version: row.get(2).map_err(fail)?,
                text: row.get(3).map_err(fail)?,
            });
        }
        Ok(())
    }

    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        let connection = self.reader();
        let fail = |error: rusqlite::Error| self.backend("list kinds", error);
        let mut statement = connection
            .prepare("SELECT DISTINCT kind FROM records ORDER BY kind")
            .map_err(fail)?;
        let kinds = statement
            .query_map([], |row| row.get(0))
            .map_err(fail)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(fail)?;
        Ok(kinds)
    }

    fn blob_keys(&self) -> Result<Vec<String>, StoreError> {
        let connection = self.reader();
        let fail = |error: rusqlite::Error| self.backend("list blobs", error);
        let mut statement = connection
            .prepare("SELECT key FROM blobs ORDER BY key")
            .map_err(fail)?;
        let keys = statement
            .query_map([], |row| row.get(0))
            .map_err(fail)?
            .collect::<Result<Vec<String>, _>>()
            .map_err(fail)?;
        Ok(keys)
    }

    fn replace_all(
        &self,
        records: &[(String, RawRecord)],
        events: &[Event],
        blobs: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut connection = self.writer();
        let fail = |error: rusqlite::Error| self.backend("replace all content", error);
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        transaction
            .execute_batch("DELETE FROM records; DELETE FROM events; DELETE FROM blobs;")
            .map_err(fail)?;
        for (kind, record) in records {
            transaction
                .execute(
                    "INSERT INTO records (kind, tenant, id, version, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![kind, record.tenant, record.id, record.version, record.text],
                )
                .map_err(fail)?;
        }
        for event in events {
            let body = common::encode_body(&event.body)?;
            transaction
                .execute(
                    "INSERT INTO events (id, tenant, deployment_id, execution_id, timestamp, kind, event_type, body) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        event.id,
                        event.tenant,
                        event.deployment_id,
                        event.execution_id,
                        event.timestamp,
                        event.kind,
                        event.event_type,
                        body
                    ],
                )
                .map_err(fail)?;
        }
        for (key, bytes) in blobs {
            transaction
                .execute(
                    "INSERT INTO blobs (key, bytes) VALUES (?1, ?2)",
                    params![key, bytes],
                )
                .map_err(fail)?;
        }
        transaction.commit().map_err(fail)
    }

    fn load(&self, kind: &str) -> Result<Vec<Record>, StoreError> {
        let connection = self.reader();
        let fail =
            |error: rusqlite::Error| self.backend(&format!("load records of kind {kind}"), error);
        let mut statement = connection
            .prepare("SELECT tenant, id, version, body FROM records WHERE kind = ?1 ORDER BY seq")
            .map_err(fail)?;
        let mut rows = statement.query([kind]).map_err(fail)?;
        let mut records = Vec::new();
        while let Some(row) = rows.next().map_err(fail)? {
            let (tenant, id, version, text): (String, String, i64, String) = (
                row.get(0).map_err(fail)?,
                row.get(1).map_err(fail)?,
                row.get(2).map_err(fail)?,
                row.get(3).map_err(fail)?,
            );
            let body = common::decode_body(
                &text,
                &format!("record {kind}/{tenant}/{id}"),
                &self.database(),
            )?;
            records.push(Record {
                kind: kind.to_owned(),
                tenant,
                id,
                version,
                body,
            });
        }
        Ok(records)
    }

    fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.reader()
            .query_row("SELECT bytes FROM blobs WHERE key = ?1", [key], |row| {
                row.get(0)
            })
            .optional()
            .map_err(|error| self.backend(&format!("read blob {key}"), error))
    }

    fn events(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let mut connection = self.reader();
        let fail = |error: rusqlite::Error| self.backend("list events", error);
        // One read transaction, so the total and the page see the same commit.
        let transaction = connection.transaction().map_err(fail)?;
        let (filter, params) = common::event_filter(query, &|n| format!("?{n}"));
        let total: i64 = transaction
            .query_row(
                &format!("SELECT COUNT(*) FROM events{filter}"),
                params_from_iter(&params),
                |row| row.get(0),
            )
            .map_err(fail)?;
        let sql = format!(
            "SELECT id, tenant, deployment_id, execution_id, timestamp, kind, event_type, body FROM events{filter}{}",
            common::event_order_and_page(query)
        );
        let mut statement = transaction.prepare(&sql).map_err(fail)?;
        let mut rows = statement.query(params_from_iter(&params)).map_err(fail)?;
        let mut events = Vec::new();
        while let Some(row) = rows.next().map_err(fail)? {
            let id: i64 = row.get(0).map_err(fail)?;
            let text: String = row.get(7).map_err(fail)?;
            let body = common::decode_body(&text, &format!("event {id}"), &self.database())?;
            events.push(Event {
                id,
                tenant: row.get(1).map_err(fail)?,
                deployment_id: row.get(2).map_err(fail)?,
                execution_id: row.get(3).map_err(fail)?,
                timestamp: row.get(4).map_err(fail)?,
                kind: row.get(5).map_err(fail)?,
                event_type: row.get(6).map_err(fail)?,
                body,
            });
        }
        Ok(EventPage {
            events,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.reader()
            .query_row("SELECT schema_version FROM meta", [], |row| row.get(0))
            .map_err(|error| self.backend("read schema version", error))
    }
}
