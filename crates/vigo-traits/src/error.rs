//! Why a collector failed; the whole chain appears under `_errors`.

use std::sync::Arc;

/// A collector failed. [`TraitError::chain`] is what `_errors` shows.
#[derive(Debug, thiserror::Error)]
pub enum TraitError {
    /// A file or directory could not be read.
    #[error("{path}")]
    Read {
        /// What was read (as on a live system).
        path: String,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// What the kernel or a file said is not what was expected.
    #[error("{0}")]
    Malformed(String),
    /// A system call or conversion failed.
    #[error("{what}")]
    System {
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The rpm database could not be read.
    #[error("{path}")]
    Rpmdb {
        /// The database file.
        path: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A read several collectors share failed (its cause is kept once, shared).
    #[error("{what}")]
    Shared {
        /// What was read.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: Arc<TraitError>,
    },
    /// The collector's thread could not be started.
    #[error("cannot start")]
    Spawn(#[source] std::io::Error),
}

impl TraitError {
    /// A failed read of `path`.
    pub fn read(path: impl Into<String>, source: std::io::Error) -> Self {
        TraitError::Read {
            path: path.into(),
            source,
        }
    }

    /// A failed system call or conversion.
    pub fn system(
        what: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        TraitError::System {
            what,
            source: Box::new(source),
        }
    }

    /// A malformed input, said in a sentence.
    pub fn malformed(msg: impl Into<String>) -> Self {
        TraitError::Malformed(msg.into())
    }
}
