//! What a collector reads through: the filesystem root and a few read helpers.

use std::path::{Path, PathBuf};

/// A collector failed; the reason appears under `_errors`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TraitError(pub String);

impl TraitError {
    /// An error from any displayable cause.
    pub fn new(msg: impl std::fmt::Display) -> Self {
        TraitError(msg.to_string())
    }
}

/// Where collectors read from. Production uses `/`; tests use fixture trees.
#[derive(Debug, Clone)]
pub struct Ctx {
    root: PathBuf,
}

impl Default for Ctx {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/"),
        }
    }
}

impl Ctx {
    /// Reads relative to `root` (absolute paths are re-rooted under it).
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` (absolute, as on a live system) under the root.
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    /// A file's content as text.
    pub fn read(&self, path: &str) -> Result<String, TraitError> {
        std::fs::read_to_string(self.path(path)).map_err(|e| TraitError(format!("{path}: {e}")))
    }

    /// A file's content, trimmed, or `None` when unreadable or empty.
    pub fn read_opt(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(path))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }
}
