//! [`CliError`]: every way a command fails, each with one line of cause and, when there
//! is one, a hint line.

use std::path::PathBuf;

use crate::client::ApiError;
use crate::settings::SettingsError;

/// A failed command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A REST call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The settings file could not be read or written.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A local stacks tree has problems (each is printed before this line).
    #[error("{dir}: {count} problem{s} in the stacks tree", s = if *.count == 1 { "" } else { "s" })]
    InvalidTree {
        /// The stacks directory.
        dir: PathBuf,
        /// How many problems.
        count: usize,
    },
    /// A local stacks tree could not be read.
    #[error("cannot read the stacks tree {dir}: {detail}")]
    ReadTree {
        /// The stacks directory.
        dir: PathBuf,
        /// What went wrong, one line.
        detail: String,
        /// The reader's error, when it was the reader.
        #[source]
        source: Option<vigo_lang::source::ReadError>,
    },
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The resolver's trace does not have the API's shape (a bug: both come from this
    /// release).
    #[error("the offline trace does not have the shape of the API's trace")]
    TraceShape {
        /// What did not fit.
        #[source]
        source: serde_json::Error,
    },
    /// An argument the command line parser accepted but the command cannot use.
    #[error("{message}")]
    BadArgument {
        /// What is wrong.
        message: String,
        /// How to write it.
        hint: String,
    },
}

impl CliError {
    /// The hint line shown under the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Api(e) => e.hint(),
            CliError::Settings(_) => {
                Some("fix or remove the file; `vigocli login` writes a fresh one".into())
            }
            CliError::InvalidTree { .. } => {
                Some("fix the problems listed above and run `vigocli config validate` again".into())
            }
            CliError::ReadTree { .. } => Some(
                "pass the stacks directory (the one holding envoys.vgo and configcrates/)".into(),
            ),
            CliError::Io { .. } => None,
            CliError::TraceShape { .. } => Some(
                "report this bug; `vigocli config trace` without --stacks asks the server".into(),
            ),
            CliError::BadArgument { hint, .. } => Some(hint.clone()),
        }
    }
}
