//! What a collector reads through: the filesystem root and a few read helpers.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::collectors::ports::ListenRow;
use crate::error::TraitError;

/// Where collectors read from. Production uses `/`; tests use fixture trees.
///
/// It also carries reads that several collectors need, done once per run: the kernel walks
/// its whole TCP hash for every read of `/proc/net/tcp`, so `ports` and `listeners` share
/// one.
#[derive(Debug, Clone)]
pub struct Ctx {
    root: PathBuf,
    listen_rows: Arc<OnceLock<Result<Vec<ListenRow>, Arc<TraitError>>>>,
}

impl Default for Ctx {
    fn default() -> Self {
        Self::with_root("/")
    }
}

impl Ctx {
    /// Reads relative to `root` (absolute paths are re-rooted under it).
    pub fn with_root(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            listen_rows: Arc::default(),
        }
    }

    /// The TCP LISTEN rows of this run, read once.
    pub(crate) fn listen_rows(&self) -> Result<&[ListenRow], TraitError> {
        self.listen_rows
            .get_or_init(|| crate::collectors::ports::read_listen_rows(self).map_err(Arc::new))
            .as_deref()
            .map_err(|e| TraitError::Shared {
                what: "the LISTEN sockets",
                source: Arc::clone(e),
            })
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
        std::fs::read_to_string(self.path(path)).map_err(|e| TraitError::read(path, e))
    }

    /// A file's content, trimmed, or `None` when unreadable or empty.
    pub fn read_opt(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.path(path))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }
}
