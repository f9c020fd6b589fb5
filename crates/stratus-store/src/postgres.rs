//! The PostgreSQL backend, for a manager whose state must outlive one machine.
//!
//! Shaped like the SQLite backend on purpose: one connection behind a mutex is the single
//! writer, so batches never interleave and `BIGSERIAL` event ids follow commit order. A
//! session-level advisory lock on a fixed key, taken on connect and held by that connection,
//! keeps a second Stratus off the same database ([`StoreError::Locked`]); it goes away with the
//! connection, so a crashed manager never leaves it behind.
//!
//! The sync `postgres` client runs its own small tokio runtime and blocks on it. That is fine
//! on plain threads and `spawn_blocking` threads (the contract's callers), but dropping it on
//! an async worker would panic, so [`Drop`] hands the client to a plain thread. A connection
//! that died (server restart) is reopened on the next call, lock and migrations included.
//!
//! Messages and [`Store::describe`] never carry the password: they name the server by user,
//! host, port and database, and anything the driver says is scrubbed of the password.

use std::sync::{Mutex, MutexGuard};

use postgres::config::Host;
use postgres::types::ToSql;
use postgres::{Client, Config, IsolationLevel, NoTls, Transaction};

use crate::common::{self, Failure};
use crate::migrate;
use crate::{Event, EventPage, EventQuery, RawRecord, Record, Store, StoreError, Write};

/// The advisory lock key every Stratus takes on its database ("Stratus" in ASCII).
const LOCK_KEY: i64 = 0x0053_7472_6174_7573;

pub struct PostgresStore {
    config: Config,
    /// `postgresql user@host:port/database`, for messages.
    name: String,
    /// Texts to scrub from any message (the password as written in the URL and decoded).
    secrets: Vec<String>,
    /// `None` only while dropping.
    client: Mutex<Option<Client>>,
}

type Sql = Failure<postgres::Error>;

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/database`, or the key=value
    /// form), takes the database's advisory lock and applies pending migrations. Fails with
    /// [`StoreError::Locked`] while another store holds the database and with
    /// [`StoreError::TooNew`] if a newer Stratus migrated it. No TLS.
    pub fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let mut secrets: Vec<String> = url_password(url).into_iter().collect();
        let config: Config = url.parse().map_err(|error| {
            StoreError::Backend(scrub(&format!("parse postgresql url: {error}"), &secrets))
        })?;
        if let Some(password) = config.get_password() {
            secrets.push(String::from_utf8_lossy(password).into_owned());
        }
        secrets.retain(|secret| !secret.is_empty());
        let name = describe_config(&config);
        let client = open_client(&config, &name, &secrets)?;
        Ok(PostgresStore {
            config,
            name,
            secrets,
            client: Mutex::new(Some(client)),
        })
    }

    fn backend(&self, action: &str, error: impl std::fmt::Display) -> StoreError {
        backend_error(action, &self.name, error, &self.secrets)
    }

    /// Runs `work` on the connection, reconnecting first if it was lost. A failure that
    /// lost the connection drops it, so the next call reconnects (the sync client may not
    /// notice the loss itself until its runtime runs again).
    fn with_client<T>(
        &self,
        action: &str,
        work: impl FnOnce(&mut Client) -> Result<T, Sql>,
    ) -> Result<T, StoreError> {
        let mut guard = self.lock();
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(open_client(&self.config, &self.name, &self.secrets)?);
        }
        let Some(client) = guard.as_mut() else {
            return Err(self.backend(action, "no connection"));
        };
        match work(client) {
            Ok(value) => Ok(value),
            Err(Failure::Store(error)) => Err(error),
            Err(Failure::Backend(error)) => {
                if connection_lost(&error) {
                    *guard = None;
                }
                Err(self.backend(action, error))
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Client>> {
        // A panic while holding the lock rolled its transaction back on unwind.
        self.client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        let slot = self
            .client
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(mut client) = slot.take() else {
            return;
        };
        // Unlock before closing so that the next store can take the lock at once (the server
        // notices a closed session a moment later), on a plain thread (see the module doc).
        let closing = std::thread::Builder::new()
            .name("stratus-store-close".into())
            .spawn(move || {
                let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]);
                drop(client);
            });
        if let Ok(closing) = closing {
            let _ = closing.join();
        }
    }
}

fn backend_error(
    action: &str,
    name: &str,
    error: impl std::fmt::Display,
    secrets: &[String],
) -> StoreError {
    StoreError::Backend(scrub(&format!("{action} in {name}: {error}"), secrets))
}

/// Whether an error means the session is gone (I/O, closed, or the server ending it).
fn connection_lost(error: &postgres::Error) -> bool {
    error.is_closed()
        || error.as_db_error().is_none_or(|db| {
            let class = db.code().code().get(..2);
            matches!(class, Some("08" | "57"))
        })
}

fn scrub(message: &str, secrets: &[String]) -> String {
    secrets.iter().fold(message.to_owned(), |message, secret| {
        message.replace(secret.as_str(), "***")
    })
}

/// The password of a `postgres://user:password@…` URL as written, or of `password=…`.
fn url_password(url: &str) -> Option<String> {
    if let Some(rest) = url.split_once("://").map(|(_, rest)| rest) {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let userinfo = authority.rsplit_once('@')?.0;
        return userinfo
            .split_once(':')
            .map(|(_, password)| password.to_owned());
    }
    let start = url.find("password=")? + "password=".len();
    let value = &url[start..];
    let value = value.strip_prefix('\'').map_or_else(
        || value.split_whitespace().next().unwrap_or(""),
        |quoted| quoted.split('\'').next().unwrap_or(""),
    );
    Some(value.to_owned())
}

fn describe_config(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let host = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match config.get_ports().get(index).or(config.get_ports().first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let user = config
        .get_user()
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let database = config.get_dbname().or(config.get_user()).unwrap_or("");
    format!("postgresql {user}{}/{database}", hosts.join(","))
}

/// Connects, takes the advisory lock and migrates.
fn open_client(config: &Config, name: &str, secrets: &[String]) -> Result<Client, StoreError> {
    let fail = |error: &dyn std::fmt::Display| backend_error("connect", name, error, secrets);
    let mut client = config.connect(NoTls).map_err(|error| fail(&error))?;
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
        .and_then(|row| row.try_get(0))
        .map_err(|error| fail(&error))?;
    if !locked {
        return Err(StoreError::Locked(format!(
            "{name} is held by another session (advisory lock {LOCK_KEY})"
        )));
    }
    migrate_postgres(&mut client).map_err(|failure| match failure {
        Failure::Store(error) => error,
        Failure::Backend(error) => backend_error("migrate", name, error, secrets),
    })?;
    Ok(client)
}

fn migrate_postgres(client: &mut Client) -> Result<(), Sql> {
    let mut transaction = client.transaction()?;
    transaction.batch_execute(migrate::META_TABLE)?;
    let found: Option<i64> = transaction
        .query_opt("SELECT schema_version FROM meta", &[])?
        .map(|row| row.try_get(0))
        .transpose()?;
    let steps = migrate::pending(migrate::POSTGRES, found.unwrap_or(0)).map_err(Failure::Store)?;
    let Some(last) = steps.last() else {
        return Ok(());
    };
    for step in steps {
        transaction.batch_execute(step.sql)?;
    }
    transaction.execute("DELETE FROM meta", &[])?;
    transaction.execute(
        "INSERT INTO meta (schema_version) VALUES ($1)",
        &[&last.version],
    )?;
    transaction.commit()?;
    Ok(())
}

fn apply_write(
    transaction: &mut Transaction<'_>,
    write: &Write,
    database: &str,
) -> Result<i64, Sql> {
    match write {
        Write::Insert {
            kind,
            tenant,
            id,
            body,
        } => {
            let body = common::encode_body(body).map_err(Failure::Store)?;
            let inserted = transaction.execute(
                "INSERT INTO records (kind, tenant, id, version, body) VALUES ($1, $2, $3, 1, $4) \
                 ON CONFLICT (kind, tenant, id) DO NOTHING",
                &[kind, tenant, id, &body],
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
            let current: Option<i64> = transaction
                .query_opt(
                    "SELECT version FROM records WHERE kind = $1 AND tenant = $2 AND id = $3",
                    &[kind, tenant, id],
                )?
                .map(|row| row.try_get(0))
                .transpose()?;
            common::check_expected(kind, tenant, id, current, *expected_version)?;
            match current {
                Some(version) => {
                    let next = version + 1;
                    transaction.execute(
                        "UPDATE records SET version = $4, body = $5 \
                         WHERE kind = $1 AND tenant = $2 AND id = $3",
                        &[kind, tenant, id, &next, &body],
                    )?;
                    Ok(next)
                }
                None => {
                    transaction.execute(
                        "INSERT INTO records (kind, tenant, id, version, body) \
                         VALUES ($1, $2, $3, 1, $4)",
                        &[kind, tenant, id, &body],
                    )?;
                    Ok(1)
                }
            }
        }
        Write::Delete { kind, tenant, id } => {
            let deleted = transaction.execute(
                "DELETE FROM records WHERE kind = $1 AND tenant = $2 AND id = $3",
                &[kind, tenant, id],
            )?;
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
            let rows = transaction.query(
                "SELECT seq, id, body FROM records \
                 WHERE kind = $1 AND tenant = $2 AND strpos(body, $3) > 0",
                &[kind, tenant, &needle],
            )?;
            let mut doomed: Vec<i64> = Vec::new();
            for row in rows {
                let (seq, id, text): (i64, String, String) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                let what = format!("record {kind}/{tenant}/{id}");
                let body = common::decode_body(&text, &what, database).map_err(Failure::Store)?;
                if common::delete_where_matches(&body, field, value) {
                    doomed.push(seq);
                }
            }
            if !doomed.is_empty() {
                transaction.execute("DELETE FROM records WHERE seq = ANY($1)", &[&doomed])?;
            }
            Ok(0)
        }
        Write::AppendEvent(event) => {
            debug_assert!(
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&event.body)
                    .is_ok(),
                "an event body that is not a JSON object: {}",
                event.body
            );
            let columns = event.columns();
            let values: Vec<&(dyn postgres::types::ToSql + Sync)> =
                columns.iter().map(|column| *column as _).collect();
            let row = transaction.query_one(
                "INSERT INTO events \
                 (tenant, deployment_id, execution_id, timestamp, kind, event_type, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &values,
            )?;
            Ok(row.try_get(0)?)
        }
        Write::DeleteEvents {
            tenant,
            deployment_id,
        } => {
            transaction.execute(
                "DELETE FROM events WHERE tenant = $1 AND deployment_id = $2",
                &[tenant, deployment_id],
            )?;
            Ok(0)
        }
        Write::PutBlob { key, bytes } => {
            transaction.execute(
                "INSERT INTO blobs (key, bytes) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET bytes = EXCLUDED.bytes",
                &[key, bytes],
            )?;
            Ok(0)
        }
        Write::DeleteBlob { key } => {
            transaction.execute("DELETE FROM blobs WHERE key = $1", &[key])?;
            Ok(0)
        }
    }
}

impl Store for PostgresStore {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn apply(&self, batch: &[Write]) -> Result<Vec<i64>, StoreError> {
        let mut failed_write = None;
        let applied = self.with_client("apply batch", |client| {
            let mut transaction = client.transaction()?;
            let mut produced = Vec::with_capacity(batch.len());
            for (index, write) in batch.iter().enumerate() {
                match apply_write(&mut transaction, write, &self.name) {
                    Ok(value) => produced.push(value),
                    Err(failure) => {
                        failed_write = Some(index);
                        return Err(failure);
                    }
                }
            }
            transaction.commit()?;
            Ok(produced)
        });
        applied.map_err(|error| match (error, failed_write) {
            (StoreError::Backend(message), Some(index)) => StoreError::Backend(format!(
                "write {} of the batch ({}): {message}",
                index + 1,
                common::describe_write(&batch[index])
            )),
            (error, _) => error,
        })
    }

    fn get(&self, kind: &str, tenant: &str, id: &str) -> Result<Option<Record>, StoreError> {
        let action = format!("read record {kind}/{tenant}/{id}");
        let row = self.with_client(&action, |client| {
            let row = client.query_opt(
                "SELECT version, body FROM records WHERE kind = $1 AND tenant = $2 AND id = $3",
                &[&kind, &tenant, &id],
            )?;
            Ok(match row {
                Some(row) => Some((row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?)),
                None => None,
            })
        })?;
        let Some((version, text)) = row else {
            return Ok(None);
        };
        let body = common::decode_body(&text, &format!("record {kind}/{tenant}/{id}"), &self.name)?;
        Ok(Some(Record {
            kind: kind.to_owned(),
            tenant: tenant.to_owned(),
            id: id.to_owned(),
            version,
            body,
        }))
    }

    fn load_each(&self, kind: &str, visit: &mut dyn FnMut(RawRecord)) -> Result<(), StoreError> {
        let rows = self.with_client(&format!("load records of kind {kind}"), |client| {
            Ok(client.query(
                "SELECT tenant, id, version, body FROM records WHERE kind = $1 ORDER BY seq",
                &[&kind],
            )?)
        })?;
        let fail = |error: postgres::Error| {
            StoreError::Backend(format!(
                "load records of kind {kind} from {}: {error}",
                self.name
            ))
        };
        for row in rows {
            visit(RawRecord {
                tenant: row.try_get(0).map_err(fail)?,
                id: row.try_get(1).map_err(fail)?,
                version: row.try_get(2).map_err(fail)?,
                text: row.try_get(3).map_err(fail)?,
            });
        }
        Ok(())
    }

    fn kinds(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.with_client("list kinds", |client| {
            Ok(client.query("SELECT DISTINCT kind FROM records ORDER BY kind", &[])?)
        })?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(|e| self.backend("list kinds", e)))
            .collect()
    }

    fn blob_keys(&self) -> Result<Vec<String>, StoreError> {
        let rows = self.with_client("list blobs", |client| {
            Ok(client.query("SELECT key FROM blobs ORDER BY key", &[])?)
        })?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(|e| self.backend("list blobs", e)))
            .collect()
    }

    fn replace_all(
        &self,
        records: &[(String, RawRecord)],
        events: &[Event],
        blobs: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let bodies = events
            .iter()
            .map(|event| common::encode_body(&event.body))
            .collect::<Result<Vec<String>, StoreError>>()?;
        self.with_client("replace all content", |client| {
            let mut transaction = client.transaction()?;
            transaction.batch_execute("DELETE FROM records; DELETE FROM events; DELETE FROM blobs;")?;
            for (kind, record) in records {
                transaction.execute(
                    "INSERT INTO records (kind, tenant, id, version, body) VALUES ($1, $2, $3, $4, $5)",
                    &[kind, &record.tenant, &record.id, &record.version, &record.text],
                )?;
            }
            for (event, body) in events.iter().zip(&bodies) {
                transaction.execute(
                    "INSERT INTO events (id, tenant, deployment_id, execution_id, timestamp, kind, event_type, body) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &event.id,
                        &event.tenant,
                        &event.deployment_id,
                        &event.execution_id,
                        &event.timestamp,
                        &event.kind,
                        &event.event_type,
                        body,
                    ],
                )?;
            }
            // Later appends continue after the largest restored id.
            transaction.execute(
                "SELECT setval(pg_get_serial_sequence('events', 'id'), GREATEST((SELECT MAX(id) FROM events), 1), (SELECT MAX(id) FROM events) IS NOT NULL)",
                &[],
            )?;
            for (key, bytes) in blobs {
                transaction.execute("INSERT INTO blobs (key, bytes) VALUES ($1, $2)", &[key, bytes])?;
            }
            transaction.commit()?;
            Ok(())
        })
    }

    fn load(&self, kind: &str) -> Result<Vec<Record>, StoreError> {
        let rows = self.with_client(&format!("load records of kind {kind}"), |client| {
            let rows = client.query(
                "SELECT tenant, id, version, body FROM records WHERE kind = $1 ORDER BY seq",
                &[&kind],
            )?;
            let mut fields = Vec::with_capacity(rows.len());
            for row in rows {
                let row: (String, String, i64, String) = (
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                );
                fields.push(row);
            }
            Ok(fields)
        })?;
        rows.into_iter()
            .map(|(tenant, id, version, text)| {
                let what = format!("record {kind}/{tenant}/{id}");
                let body = common::decode_body(&text, &what, &self.name)?;
                Ok(Record {
                    kind: kind.to_owned(),
                    tenant,
                    id,
                    version,
                    body,
                })
            })
            .collect()
    }

    fn blob(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_client(&format!("read blob {key}"), |client| {
            let row = client.query_opt("SELECT bytes FROM blobs WHERE key = $1", &[&key])?;
            Ok(row.map(|row| row.try_get(0)).transpose()?)
        })
    }

    fn events(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let (filter, params) = common::event_filter(query, &|n| format!("${n}"));
        let params: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|param| param as &(dyn ToSql + Sync))
            .collect();
        let (total, rows) = self.with_client("list events", |client| {
            // One snapshot, so the total and the page agree.
            let mut transaction = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let total: i64 = transaction
                .query_one(&format!("SELECT COUNT(*) FROM events{filter}"), &params)?
                .try_get(0)?;
            let sql = format!(
                "SELECT id, tenant, deployment_id, execution_id, timestamp, kind, event_type, body \
                 FROM events{filter}{}",
                common::event_order_and_page(query)
            );
            let rows = transaction.query(&sql, &params)?;
            transaction.commit()?;
            Ok((total, rows))
        })?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let fail = |error: postgres::Error| self.backend("list events", error);
            let id: i64 = row.try_get(0).map_err(fail)?;
            let text: String = row.try_get(7).map_err(fail)?;
            let body = common::decode_body(&text, &format!("event {id}"), &self.name)?;
            events.push(Event {
                id,
                tenant: row.try_get(1).map_err(fail)?,
                deployment_id: row.try_get(2).map_err(fail)?,
                execution_id: row.try_get(3).map_err(fail)?,
                timestamp: row.try_get(4).map_err(fail)?,
                kind: row.try_get(5).map_err(fail)?,
                event_type: row.try_get(6).map_err(fail)?,
                body,
            });
        }
        Ok(EventPage {
            events,
            total: u64::try_from(total).unwrap_or(0),
        })
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.with_client("read schema version", |client| {
            Ok(client
                .query_one("SELECT schema_version FROM meta", &[])?
                .try_get(0)?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_found_and_scrubbed() {
        assert_eq!(
            url_password("postgres://u:p%40ss@h:5432/db?x=1").as_deref(),
            Some("p%40ss")
        );
        assert_eq!(url_password("postgresql://u@h/db"), None);
        assert_eq!(url_password("postgres://h/db"), None);
        assert_eq!(
            url_password("host=h password='a b' user=u").as_deref(),
            Some("a b")
        );
        assert_eq!(
            url_password("host=h password=abc user=u").as_deref(),
            Some("abc")
        );
        let secrets = ["p%40ss".to_string(), "p@ss".to_string()];
        assert_eq!(scrub("bad p@ss and p%40ss", &secrets), "bad *** and ***");
    }

    #[test]
    fn descriptions_name_the_server_not_the_password() {
        let config: Config = "postgres://stratus:hunter2@db.example:6543/manager"
            .parse()
            .expect("url");
        let described = describe_config(&config);
        assert_eq!(described, "postgresql stratus@db.example:6543/manager");
        let config: Config = "host=h1,h2 port=1,2 user=u password=hunter2"
            .parse()
            .expect("kv");
        assert_eq!(describe_config(&config), "postgresql u@h1:1,h2:2/u");
    }
}
