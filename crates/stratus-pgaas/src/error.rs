//! One error type for the plugin; whether Cloudify would retry is decided here only.

/// Why a pgaas or keypair operation failed.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The node's properties or relationships cannot work (as the plugin's
    /// `NonRecoverableError`s for bad input).
    #[error("{0}")]
    Invalid(String),
    /// The cluster information file is missing, unreadable or invalid.
    #[error("{0}")]
    Cluster(String),
    /// The server cannot be reached or refused the connection: retried.
    #[error("{0}")]
    NotReady(String),
    /// A statement failed; `retry` when the cause is passing (lost connection, object in
    /// use). `statement` never holds a password.
    #[error("{statement}: {message}")]
    Sql {
        statement: String,
        message: String,
        retry: bool,
    },
    /// Local files (the cluster directory) could not be written or removed.
    #[error("{0}")]
    Io(String),
}

impl Error {
    /// Whether Cloudify's retry rules apply (the plugin's `RecoverableError` and the
    /// exceptions it let through, such as a refused connection).
    pub fn recoverable(&self) -> bool {
        match self {
            Error::NotReady(_) => true,
            Error::Sql { retry, .. } => *retry,
            Error::Invalid(_) | Error::Cluster(_) | Error::Io(_) => false,
        }
    }
}
