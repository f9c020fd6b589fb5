//! Idempotent create and delete: intent (the desired object) against observation (what the API
//! server has). A desired object that already exists is adopted when it belongs to the same
//! node instance (ownership labels) and holds everything we would have written (a subset
//! comparison: the server's defaults are extra fields, not differences); otherwise it is a
//! `Conflict` naming the first difference. Deletes never touch an object owned by another
//! node instance.

use std::fmt::Debug;

use kube::api::{Api, DeleteParams, PostParams};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// What `ensure` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Adopted,
}

/// What `delete` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Removed,
    Absent,
    /// Exists but belongs to someone else: left alone.
    NotOurs,
}

const OWNER_LABELS: [&str; 2] = ["cfydeployment", "cfynodeinstance"];

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(key))
        .and_then(Value::as_str)
}

/// Whether `existing` carries the ownership labels of `desired`.
pub fn same_owner(desired: &Value, existing: &Value) -> Result<(), String> {
    for key in OWNER_LABELS {
        if label(desired, key) != label(existing, key) {
            return Err(match label(existing, key) {
                None => format!("it has no '{key}' label (not created by this manager)"),
                Some(other) => format!(
                    "its '{key}' label is '{other}', not '{}'",
                    label(desired, key).unwrap_or("")
                ),
            });
        }
    }
    Ok(())
}

/// A Kubernetes quantity as a number (`500m`, `1Gi`, `2`, `1e3`).
fn quantity(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse::<f64>().ok()
}

/// Zero values: the API server omits them on storage (Go's `omitempty`: `""`, `false`, `0`,
/// empty lists and maps), so a desired zero value missing from the stored object is no
/// difference.
fn empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
    }
}

/// The first place where `existing` lacks or contradicts `desired`, if any. Quantities
/// (under `resources`) compare by value, as the server canonicalizes them.
pub fn difference(desired: &Value, existing: &Value, path: &str) -> Option<String> {
    match (desired, existing) {
        (Value::Object(want), Value::Object(have)) => want.iter().find_map(|(key, value)| {
            let here = format!("{path}.{key}");
            match have.get(key) {
                None if empty(value) => None,
                None => Some(format!("{here} is missing (want {value})")),
                Some(found) => difference(value, found, &here),
            }
        }),
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Some(format!(
                    "{path} has {} entries, want {}",
                    have.len(),
                    want.len()
                ));
            }
            want.iter()
                .zip(have)
                .enumerate()
                .find_map(|(i, (w, h))| difference(w, h, &format!("{path}[{i}]")))
        }
        (want, Value::Null) if empty(want) => None,
        (want, have) if want == have => None,
        (want, Value::String(have)) if path.contains(".resources.") => {
            let want_number = match want {
                Value::String(s) => quantity(s),
                Value::Number(n) => n.as_f64(),
                _ => None,
            };
            match (want_number, quantity(have)) {
                (Some(a), Some(b)) if (a - b).abs() <= a.abs() * 1e-9 => None,
                _ => Some(format!("{path} is {have}, want {want}")),
            }
        }
        (want, have) => Some(format!("{path} is {have}, want {want}")),
    }
}

fn describe(kind: &str, desired: &Value) -> String {
    format!(
        "{kind} {}/{}",
        desired
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or(""),
        desired
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    )
}

fn check_existing<K: Serialize>(
    kind: &str,
    desired: &Value,
    existing: &K,
) -> Result<Ensured, Error> {
    let object = describe(kind, desired);
    let existing = serde_json::to_value(existing).map_err(|e| Error::Input(e.to_string()))?;
    if existing.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(Error::Unreachable {
            verb: "create".into(),
            object,
            message: "an object of that name is still being deleted".into(),
        });
    }
    if let Err(difference) = same_owner(desired, &existing) {
        return Err(Error::Conflict { object, difference });
    }
    match difference(desired, &existing, "") {
        None => Ok(Ensured::Adopted),
        Some(difference) => Err(Error::Conflict { object, difference }),
    }
}

/// Creates `desired` or adopts an identical object of ours.
pub async fn ensure<K>(api: &Api<K>, kind: &str, desired: &Value) -> Result<Ensured, Error>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let object = describe(kind, desired);
    let name = desired
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(existing) = api
        .get_opt(name)
        .await
        .map_err(|e| Error::from_kube("read", &object, e))?
    {
        return check_existing(kind, desired, &existing);
    }
    let typed: K = serde_json::from_value(desired.clone())
        .map_err(|e| Error::Input(format!("build {object}: {e}")))?;
    match api.create(&PostParams::default(), &typed).await {
        Ok(_) => Ok(Ensured::Created),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            // Created meanwhile (a concurrent or interrupted run): judge what is there.
            let existing = api
                .get(name)
                .await
                .map_err(|e| Error::from_kube("read", &object, e))?;
            check_existing(kind, desired, &existing)
        }
        Err(e) => Err(Error::from_kube("create", &object, e)),
    }
}

/// Deletes the object `name` if it belongs to `owner` (an object carrying the owner labels).
pub async fn delete<K>(
    api: &Api<K>,
    kind: &str,
    namespace: &str,
    name: &str,
    owner: &Value,
    background: bool,
) -> Result<Deleted, Error>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let object = format!("{kind} {namespace}/{name}");
    let Some(existing) = api
        .get_opt(name)
        .await
        .map_err(|e| Error::from_kube("read", &object, e))?
    else {
        return Ok(Deleted::Absent);
    };
    let existing = serde_json::to_value(&existing).map_err(|e| Error::Input(e.to_string()))?;
    if same_owner(owner, &existing).is_err() {
        return Ok(Deleted::NotOurs);
    }
    let params = if background {
        DeleteParams::background()
    } else {
        DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(Deleted::Removed),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Deleted::Absent),
        Err(e) => Err(Error::from_kube("delete", &object, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_defaults_are_not_differences() {
        let desired = json!({"spec": {"ports": [{"port": 80}], "extra": [], "type": "ClusterIP"}});
        let existing = json!({"spec": {"ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}], "type": "ClusterIP", "clusterIP": "10.0.0.1"}});
        assert_eq!(difference(&desired, &existing, ""), None);
    }

    #[test]
    fn changed_values_are_named() {
        let desired = json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}});
        let existing = json!({"spec": {"replicas": 3, "ports": [{"port": 80}]}});
        assert_eq!(
            difference(&desired, &existing, "").unwrap(),
            ".spec.replicas is 3, want 2"
        );
        let existing = json!({"spec": {"replicas": 2, "ports": []}});
        assert!(difference(&desired, &existing, "")
            .unwrap()
            .contains("0 entries"));
    }

    #[test]
    fn quantities_compare_by_value() {
        let desired = json!({"c": {"resources": {"limits": {"cpu": "0.5", "memory": 1073741824}}}});
        let existing = json!({"c": {"resources": {"limits": {"cpu": "500m", "memory": "1Gi"}}}});
        assert_eq!(difference(&desired, &existing, ""), None);
        let existing = json!({"c": {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}});
        assert!(difference(&desired, &existing, "").is_some());
    }

    #[test]
    fn ownership_is_by_labels() {
        let ours = json!({"metadata": {"labels": {"cfydeployment": "d", "cfynodeinstance": "i"}}});
        assert!(same_owner(&ours, &ours).is_ok());
        let other = json!({"metadata": {"labels": {"cfydeployment": "d", "cfynodeinstance": "j"}}});
        assert!(same_owner(&ours, &other).unwrap_err().contains("'j'"));
        assert!(same_owner(&ours, &json!({"metadata": {}}))
            .unwrap_err()
            .contains("no 'cfydeployment'"));
    }
}
