//! One error type for the crate. Each variant is named by the failure and says whether a retry
//! can help (`recoverable`): the runner turns that into Cloudify's recoverable /
//! non-recoverable operation errors.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// No credentials source worked; `looked` lists every place, with why it was not used.
    #[error("no Kubernetes credentials found; looked for: {}", looked.join("; "))]
    NoCredentials { looked: Vec<String> },
    /// The plugin settings file or `config.txt` could not be read.
    #[error("read {path}: {reason}")]
    Settings { path: String, reason: String },
    /// The operation's inputs or the node's properties cannot make a component.
    #[error("{0}")]
    Input(String),
    /// The API server could not be reached (connection refused, timeout, TLS): retryable.
    #[error("{verb} {object}: Kubernetes API server unreachable: {message}")]
    Unreachable {
        verb: String,
        object: String,
        message: String,
    },
    /// The API server refused the request.
    #[error("{verb} {object}: {message} (HTTP {status}, {reason})")]
    Api {
        verb: String,
        object: String,
        status: u16,
        reason: String,
        message: String,
    },
    /// An object with the name this operation creates exists with other content or another
    /// owner; adopting it would change or steal someone else's object.
    #[error("{object} already exists with other content: {difference}")]
    Conflict { object: String, difference: String },
    /// The Deployment did not become available within `max_wait`.
    #[error(
        "Deployment {deployment} did not become available within {waited_seconds} s ({state})"
    )]
    NotAvailable {
        deployment: String,
        waited_seconds: u64,
        state: String,
    },
    /// The plugin settings could not be read from Consul (unreachable: retryable; a bad value:
    /// not).
    #[error("read k8splugin settings from Consul key '{key}' at {address}: {reason}")]
    ConsulSettings {
        key: String,
        address: String,
        reason: String,
        recoverable: bool,
    },
    /// A Consul KV call failed.
    #[error("Consul {verb} {key} at {address}: {message}")]
    Consul {
        verb: String,
        key: String,
        address: String,
        message: String,
        recoverable: bool,
    },
}

impl Error {
    /// Whether running the operation again may succeed. `retry_forbidden` makes RBAC refusals
    /// (HTTP 403) retryable, for operators who fix permissions while an install waits.
    pub fn recoverable(&self, retry_forbidden: bool) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Api { status, .. } => {
                *status == 429 || *status >= 500 || (*status == 403 && retry_forbidden)
            }
            Error::Consul { recoverable, .. } | Error::ConsulSettings { recoverable, .. } => {
                *recoverable
            }
            _ => false,
        }
    }

    pub(crate) fn from_kube(verb: &str, object: &str, error: kube::Error) -> Error {
        match error {
            kube::Error::Api(status) => Error::Api {
                verb: verb.to_string(),
                object: object.to_string(),
                status: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            other => {
                // The whole chain: the top level alone ("client error (SendRequest)") hides why.
                let mut message = other.to_string();
                let mut source = std::error::Error::source(&other);
                while let Some(cause) = source {
                    message.push_str(": ");
                    message.push_str(&cause.to_string());
                    source = cause.source();
                }
                Error::Unreachable {
                    verb: verb.to_string(),
                    object: object.to_string(),
                    message,
                }
            }
        }
    }

    /// The HTTP status of an API refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}
