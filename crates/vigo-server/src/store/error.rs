//! The store's error type: every variant says which operation failed and on what.

use std::fmt;

use uuid::Uuid;

use super::Backend;

/// The result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("opening the {backend} database at {location}")]
    Open {
        /// Which backend.
        backend: Backend,
        /// The file path, or the URL with its password masked.
        location: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The SQLite data directory could not be created.
    #[error("creating the data directory {path}")]
    DataDir {
        /// The directory.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Applying the embedded schema migrations failed.
    #[error("migrating the {backend} database schema")]
    Migrate {
        /// Which backend.
        backend: Backend,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed in the database or the driver.
    #[error("{op} ({target})")]
    Query {
        /// What the store was doing, e.g. "recording run".
        op: &'static str,
        /// What it was doing it to, e.g. the envoy id.
        target: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The record the operation needs does not exist.
    #[error("{what} {id} not found")]
    NotFound {
        /// The kind of record ("envoy", "api token", ...).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// A record with the same key already exists.
    #[error("{what} {id} already exists")]
    AlreadyExists {
        /// The kind of record.
        what: &'static str,
        /// The conflicting key.
        id: String,
    },
    /// `consume_token` refused the enrollment token; the reason says why.
    #[error("enrollment token rejected: {0}")]
    TokenRejected(TokenRejection),
    /// Registration without `--force` for a hostname that already has an active envoy.
    #[error(
        "hostname {hostname} is already enrolled as envoy {envoy_id} (re-register with --force to revoke it)"
    )]
    HostnameEnrolled {
        /// The hostname being registered.
        hostname: String,
        /// The active envoy that holds it.
        envoy_id: Uuid,
    },
    /// A config version that is not newer than the latest published one.
    #[error("config version {version} is not newer than the latest published version {latest}")]
    VersionNotNewer {
        /// The version being published.
        version: String,
        /// The latest version already stored.
        latest: String,
    },
    /// An argument the store cannot accept (a malformed pattern, version or JSON).
    #[error("invalid {what} `{value}`: {reason}")]
    Invalid {
        /// What the value is ("hostname pattern", "config version", ...).
        what: &'static str,
        /// The value as given (never a secret).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored row that cannot be decoded (edited by hand, or a schema mismatch).
    #[error("corrupt {what} row {id}: {detail}")]
    Corrupt {
        /// The kind of record.
        what: &'static str,
        /// Its id.
        id: String,
        /// What could not be decoded.
        detail: String,
    },
}

/// Why an enrollment token was refused. The token is left as it was in every case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRejection {
    /// No token has this hash.
    Unknown,
    /// The token was already consumed.
    AlreadyUsed {
        /// When (Unix seconds).
        used_at: i64,
        /// By which hostname.
        used_by: String,
    },
    /// The token's lifetime is over.
    Expired {
        /// When it expired (Unix seconds).
        expires_at: i64,
    },
    /// The token is scoped to hostnames matching a pattern, and this one does not.
    HostnameMismatch {
        /// The token's pattern.
        pattern: String,
        /// The hostname that tried to enroll.
        hostname: String,
    },
}

impl fmt::Display for TokenRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRejection::Unknown => f.write_str("unknown token"),
            TokenRejection::AlreadyUsed { used_at, used_by } => {
                write!(f, "already used by {used_by} at {used_at}")
            }
            TokenRejection::Expired { expires_at } => write!(f, "expired at {expires_at}"),
            TokenRejection::HostnameMismatch { pattern, hostname } => {
                write!(
                    f,
                    "hostname {hostname} does not match the token's pattern {pattern}"
                )
            }
        }
    }
}

/// Wraps a driver error with the operation and its target.
pub(crate) fn query_error(
    op: &'static str,
    target: impl fmt::Display,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query {
        op,
        target: target.to_string(),
        source,
    }
}

/// Whether a driver error is a unique-constraint violation.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Whether a driver error is a foreign-key violation.
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_foreign_key_violation())
}

/// A `Corrupt` error for a column that failed to decode.
pub(crate) fn corrupt(what: &'static str, id: &str, detail: impl fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        id: id.to_owned(),
        detail: detail.to_string(),
    }
}
