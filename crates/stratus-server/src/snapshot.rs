//! Snapshots: everything the manager knows, in one file, restorable into a fresh instance.
//!
//! The file is gzip-compressed JSON lines: a header (`stratus_snapshot` format, schema
//! version, the sealing key of the instance that wrote it), then one line per record, event
//! and blob. Restoring replaces the store's whole content in one transaction and re-seals every
//! secret with the restoring instance's key, so the snapshot's key never becomes the
//! instance's own. *A snapshot holds the secret values' key: treat it as a secret.*
//! Snapshot metadata records (`snapshots`) are not part of snapshots.

use std::io::{BufRead, BufReader, Write as _};

use base64::Engine;
use serde_json::{json, Value};
use stratus_store::{Event, RawRecord, Store};

use crate::crypto::SecretBox;
use crate::state::kind;

pub const FORMAT: u64 = 1;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// What a snapshot held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub events: usize,
    pub blobs: usize,
}

fn store_error(action: &str) -> impl Fn(stratus_store::StoreError) -> String + '_ {
    move |e| format!("{action}: {e}")
}

/// Writes a snapshot of `store` (sealed with `secret_key`) and says what it holds.
pub fn create(
    store: &dyn Store,
    secret_key: &[u8; 32],
    created_at: &str,
) -> Result<(Vec<u8>, Summary), String> {
    let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut line = |value: Value| -> Result<(), String> {
        serde_json::to_writer(&mut out, &value).map_err(|e| e.to_string())?;
        out.write_all(b"\n").map_err(|e| e.to_string())
    };
    line(json!({
        "stratus_snapshot": FORMAT,
        "schema_version": store.schema_version().map_err(store_error("read schema version"))?,
        "stratus_version": env!("CARGO_PKG_VERSION"),
        "created_at": created_at,
        "secret_key": B64.encode(secret_key),
    }))?;
    let mut summary = Summary::default();
    for record_kind in store.kinds().map_err(store_error("list kinds"))? {
        if record_kind == kind::SNAPSHOTS {
            continue;
        }
        let mut failure = None;
        store
            .load_each(&record_kind, &mut |record| {
                let body: Value = serde_json::from_str(&record.text).unwrap_or(Value::Null);
                let result = line(json!({"record": {
                    "kind": record_kind, "tenant": record.tenant, "id": record.id,
                    "version": record.version, "body": body,
                }}));
                if let Err(e) = result {
                    failure.get_or_insert(e);
                }
                summary.records += 1;
            })
            .map_err(store_error("read records"))?;
        if let Some(e) = failure {
            return Err(e);
        }
    }
    let events = store
        .events(&stratus_store::EventQuery {
            size: u64::MAX,
            ..Default::default()
        })
        .map_err(store_error("read events"))?;
    for event in events.events {
        summary.events += 1;
        line(json!({"event": {
            "id": event.id, "tenant": event.tenant, "deployment_id": event.deployment_id,
            "execution_id": event.execution_id, "timestamp": event.timestamp, "kind": event.kind,
            "event_type": event.event_type, "body": event.body,
        }}))?;
    }
    for key in store.blob_keys().map_err(store_error("list blobs"))? {
        let bytes = store
            .blob(&key)
            .map_err(store_error("read blob"))?
            .unwrap_or_default();
        summary.blobs += 1;
        line(json!({"blob": {"key": key, "base64": B64.encode(bytes)}}))?;
    }
    let bytes = out.finish().map_err(|e| e.to_string())?;
    Ok((bytes, summary))
}

/// The parsed content of a snapshot, secrets already re-sealed for the restoring instance.
pub struct Contents {
    pub records: Vec<(String, RawRecord)>,
    pub events: Vec<Event>,
    pub blobs: Vec<(String, Vec<u8>)>,
    pub summary: Summary,
}

fn text(value: &Value, field: &str, line: usize) -> Result<String, String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("snapshot line {line}: `{field}` must be a string"))
}

/// Reads and checks a snapshot; `target` seals the secrets for the instance restoring it.
pub fn read(bytes: &[u8], target: &SecretBox, schema_version: i64) -> Result<Contents, String> {
    let reader = BufReader::new(flate2::read::GzDecoder::new(bytes));
    let mut lines = reader.lines();
    let header: Value = match lines.next() {
        Some(Ok(line)) => serde_json::from_str(&line)
            .map_err(|_| "not a Stratus snapshot (bad header)".to_string())?,
        _ => return Err("not a Stratus snapshot (no gzip-compressed header line)".into()),
    };
    match header.get("stratus_snapshot").and_then(Value::as_u64) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err(format!(
                "snapshot format {other} is not supported (this Stratus reads {FORMAT})"
            ))
        }
        None => return Err("not a Stratus snapshot (no stratus_snapshot in its header)".into()),
    }
    if header
        .get("schema_version")
        .and_then(Value::as_i64)
        .is_some_and(|v| v > schema_version)
    {
        return Err(
            "the snapshot was written by a newer Stratus (its schema version is higher)".into(),
        );
    }
    let key: [u8; 32] = B64
        .decode(text(&header, "secret_key", 1)?)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or("snapshot header: secret_key must be 32 bytes in base64")?;
    let source = SecretBox::new(&key);
    let mut contents = Contents {
        records: Vec::new(),
        events: Vec::new(),
        blobs: Vec::new(),
        summary: Summary::default(),
    };
    for (index, line) in lines.enumerate() {
        let number = index + 2;
        let line = line.map_err(|e| format!("snapshot line {number}: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|e| format!("snapshot line {number}: {e}"))?;
        if let Some(record) = value.get("record") {
            let record_kind = text(record, "kind", number)?;
            let mut body = record.get("body").cloned().unwrap_or(Value::Null);
            if record_kind == kind::SECRETS {
                reseal(&mut body, &source, target)
                    .map_err(|e| format!("snapshot line {number}: {e}"))?;
            }
            contents.records.push((
                record_kind,
                RawRecord {
                    tenant: text(record, "tenant", number)?,
                    id: text(record, "id", number)?,
                    version: record.get("version").and_then(Value::as_i64).unwrap_or(1),
                    text: body.to_string(),
                },
            ));
            contents.summary.records += 1;
        } else if let Some(event) = value.get("event") {
            contents.events.push(Event {
                id: event
                    .get("id")
                    .and_then(Value::as_i64)
                    .ok_or(format!("snapshot line {number}: event without id"))?,
                tenant: text(event, "tenant", number)?,
                deployment_id: text(event, "deployment_id", number)?,
                execution_id: text(event, "execution_id", number)?,
                timestamp: text(event, "timestamp", number)?,
                kind: text(event, "kind", number)?,
                event_type: text(event, "event_type", number)?,
                body: event.get("body").cloned().unwrap_or(Value::Null),
            });
            contents.summary.events += 1;
        } else if let Some(blob) = value.get("blob") {
            let bytes = B64
                .decode(text(blob, "base64", number)?)
                .map_err(|e| format!("snapshot line {number}: blob is not base64: {e}"))?;
            contents.blobs.push((text(blob, "key", number)?, bytes));
            contents.summary.blobs += 1;
        } else {
            return Err(format!(
                "snapshot line {number}: neither a record, an event nor a blob"
            ));
        }
    }
    Ok(contents)
}

fn reseal(body: &mut Value, source: &SecretBox, target: &SecretBox) -> Result<(), String> {
    let Some(sealed) = body.get("_value").and_then(Value::as_str) else {
        return Ok(());
    };
    let plain = source
        .open(sealed)
        .ok_or("a secret cannot be opened with the snapshot's key")?;
    if let Value::Object(map) = body {
        map.insert("_value".into(), Value::String(target.seal(&plain)));
    }
    Ok(())
}
