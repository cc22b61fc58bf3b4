//! The input of the loader: a `stacks/` tree as an in-memory map from relative path to
//! text. Reading a directory is one way to build it ([`SourceTree::read_dir`]; the
//! private `read` module says what the reader refuses: symlinks out of the tree, special
//! files, private paths, oversized input); tests and the fuzzer build it directly, so
//! the loader itself never touches the file system.
//!
//! Paths use `/`, are relative to `stacks/`, and never contain `.` or `..` components.
//! Only `.vgo` files and files under `templates/` are kept; hidden entries (`.live/`,
//! `.git/`) are skipped.

mod read;

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

pub use read::{MAX_DEPTH, MAX_ENTRIES, MAX_FILE_BYTES, MAX_TREE_BYTES, ReadError, ReadOptions};

/// A `stacks/` tree in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTree {
    files: BTreeMap<String, String>,
}

impl SourceTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a file. `path` is relative to `stacks/` with `/` separators;
    /// leading `./` and `/` are dropped.
    pub fn insert(&mut self, path: &str, text: impl Into<String>) {
        let clean: Vec<&str> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        self.files.insert(clean.join("/"), text.into());
    }

    /// Builds a tree from `(path, text)` pairs.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut t = Self::new();
        for (p, text) in files {
            t.insert(p, text);
        }
        t
    }

    /// Reads the `.vgo` files and templates under `root` with the default rules: a
    /// symlink may not lead out of the tree, special files and oversized files or trees
    /// are refused ([`ReadError`] lists each refusal).
    pub fn read_dir(root: &Path) -> Result<Self, ReadError> {
        Self::read_dir_with(root, &ReadOptions::default())
    }

    /// Reads the `.vgo` files and templates under `root`, also refusing every path
    /// `options` names as private (the server's keys and database).
    pub fn read_dir_with(root: &Path, options: &ReadOptions) -> Result<Self, ReadError> {
        let files = read::read_tree(root, options)?;
        Ok(SourceTree { files })
    }

    /// Every file, by path.
    pub fn files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// One file's text.
    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(String::as_str)
    }

    /// SHA-256 over every path and text, in path order (hex): the tree's content hash.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        for (p, t) in &self.files {
            h.update((p.len() as u64).to_be_bytes());
            h.update(p.as_bytes());
            h.update((t.len() as u64).to_be_bytes());
            h.update(t.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vgo_and_templates_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("configcrates/sub")).unwrap();
        std::fs::create_dir_all(root.join("templates")).unwrap();
        std::fs::create_dir_all(root.join(".live")).unwrap();
        std::fs::write(root.join("configcrates/sub/a.vgo"), "name: a\n").unwrap();
        std::fs::write(root.join("templates/x.conf"), "{{ .Vars.x }}").unwrap();
        std::fs::write(root.join("README.md"), "doc").unwrap();
        std::fs::write(root.join(".live/b.vgo"), "name: b\n").unwrap();
        let t = SourceTree::read_dir(root).unwrap();
        let paths: Vec<&str> = t.files().map(|(p, _)| p).collect();
        assert_eq!(paths, ["configcrates/sub/a.vgo", "templates/x.conf"]);
    }

    #[test]
    fn paths_are_normalised_and_hash_follows_content() {
        let a = SourceTree::from_files([("./roles.vgo", "roles: {}\n")]);
        let b = SourceTree::from_files([("roles.vgo", "roles: {}\n")]);
        assert_eq!(a, b);
        assert_eq!(a.content_hash(), b.content_hash());
        let c = SourceTree::from_files([("roles.vgo", "roles: {}\n\n")]);
        assert_ne!(a.content_hash(), c.content_hash());
    }
}
