//! The testkit's one error type: what could not be set up, and why.

/// A sandbox, container or namespace could not be created or used. Tests fail with it:
/// a sandbox that cannot be made is never a silent skip.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A host command the harness needs failed.
    #[error("{what}: `{command}` failed ({exit}): {stderr}")]
    Command {
        /// What the harness was doing.
        what: String,
        /// The command line.
        command: String,
        /// How it ended.
        exit: String,
        /// Its standard error.
        stderr: String,
    },
    /// A filesystem operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What the harness was doing.
        what: &'static str,
        /// The path involved.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Something did not become ready in time.
    #[error("{0}")]
    Timeout(String),
    /// A required host tool is missing.
    #[error("{tool} is not installed on this host ({hint})")]
    MissingTool {
        /// The tool.
        tool: &'static str,
        /// How to get it.
        hint: &'static str,
    },
    /// Anything else, with its explanation.
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<std::path::PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }
}
