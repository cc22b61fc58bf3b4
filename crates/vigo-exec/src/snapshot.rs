//! Snapshots: the previous content of every file an executor rewrites or deletes.
//!
//! Layout under the snapshot directory (`--snapshot-dir`, default
//! `/var/lib/vigo/snapshots`): one directory per file path, named by the first 16 hex
//! digits of the SHA-256 of the path, holding
//!
//! ```text
//! <key>/path                 the original absolute path (UTF-8 or raw bytes)
//! <key>/<stamp>              the content, <stamp> = nanoseconds since the epoch, 20 digits
//! <key>/<stamp>.meta.json    mode, owner, size, sha256 and time of the snapshot
//! ```
//!
//! A snapshot's id is `<key>-<stamp>`. Each file keeps its newest `retention` snapshots.
//! Snapshot files are 0600 and the directories 0700: old content may be sensitive.
//!
//! A resource whose attributes derive from a secret writes through a *sensitive* store
//! ([`SnapshotStore::sensitive`]): its snapshots keep no content, only the metadata (mode,
//! owner, size and time, no checksum), and taking one removes every earlier snapshot of
//! that path, so no clear copy of a secret — the current one or one rotated out — stays on
//! disk. `show` and `restore` of such a snapshot say why there is nothing to restore.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::atomic::{self, FileError, FileMeta};

/// Where snapshots live and how many are kept per file.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
    retention: usize,
    keep_content: bool,
}

/// What a snapshot records beside the content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Permission bits of the file when snapshotted.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Content size in bytes.
    pub size: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// When the snapshot was taken, nanoseconds since the Unix epoch.
    pub taken_at_nanos: u128,
    /// The content was kept; `false` for a file written with secret-derived content,
    /// whose snapshots hold metadata only (and an empty `sha256`).
    #[serde(default = "content_kept_default")]
    pub content_kept: bool,
}

fn content_kept_default() -> bool {
    true
}

/// One snapshot, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// `<key>-<stamp>`, what `vigo snapshots show|restore` take.
    pub id: String,
    /// The file the content came from.
    pub path: PathBuf,
    /// Mode, owner, size, checksum and time.
    pub meta: SnapshotMeta,
}

/// Snapshot store failures.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Filesystem error on a snapshot path.
    #[error("snapshot store {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No snapshot has this id.
    #[error("no snapshot with id `{0}` (see `vigo snapshots list`)")]
    NotFound(String),
    /// The snapshot was taken without its content.
    #[error(
        "snapshot `{0}` holds no content: the file was written with content derived from a secret, which is never kept in a snapshot"
    )]
    Withheld(String),
    /// A metadata file could not be read.
    #[error("snapshot metadata {path} is damaged: {reason}")]
    BadMeta {
        /// The metadata file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Restoring the content failed.
    #[error(transparent)]
    Restore(#[from] FileError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl SnapshotStore {
    /// A store rooted at `dir` keeping `retention` snapshots per file (at least 1).
    pub fn new(dir: impl Into<PathBuf>, retention: usize) -> Self {
        Self {
            dir: dir.into(),
            retention: retention.max(1),
            keep_content: true,
        }
    }

    /// The same store for a resource whose content derives from a secret: snapshots keep
    /// metadata only, and taking one removes the earlier snapshots of that path.
    pub fn sensitive(&self) -> Self {
        Self {
            keep_content: false,
            ..self.clone()
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Copies the current content of `path` into the store, then prunes old snapshots.
    ///
    /// Returns `None` when `path` does not exist (nothing to keep). Only regular files are
    /// snapshotted.
    pub fn take(&self, path: &Path) -> Result<Option<SnapshotInfo>, SnapshotError> {
        let content = match fs::read(path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SnapshotError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let md = fs::metadata(path).map_err(io_err(path))?;
        let key = path_key(path);
        let key_dir = self.dir.join(&key);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&key_dir)
            .map_err(io_err(&key_dir))?;
        let path_file = key_dir.join("path");
        if !path_file.exists() {
            write_private(&path_file, path.as_os_str().as_bytes())?;
        }
        let mut taken_at_nanos = now_nanos();
        // Two snapshots in the same nanosecond would collide: move on to a free stamp.
        while key_dir.join(stamp(taken_at_nanos)).exists() {
            taken_at_nanos += 1;
        }
        let meta = SnapshotMeta {
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            size: content.len() as u64,
            sha256: if self.keep_content {
                hex::encode(Sha256::digest(&content))
            } else {
                String::new()
            },
            taken_at_nanos,
            content_kept: self.keep_content,
        };
        let s = stamp(taken_at_nanos);
        if self.keep_content {
            write_private(&key_dir.join(&s), &content)?;
        } else {
            // Earlier snapshots may hold the secret this file carried before (rotated or not).
            for old in stamps(&key_dir)? {
                remove_snapshot(&key_dir, &old)?;
            }
        }
        let meta_json = serde_json::to_vec_pretty(&meta).expect("SnapshotMeta serializes");
        write_private(&key_dir.join(format!("{s}.meta.json")), &meta_json)?;
        self.prune(&key_dir)?;
        Ok(Some(SnapshotInfo {
            id: format!("{key}-{s}"),
            path: path.to_path_buf(),
            meta,
        }))
    }

    /// Lists snapshots, newest first; only those of `path` when given.
    pub fn list(&self, path: Option<&Path>) -> Result<Vec<SnapshotInfo>, SnapshotError> {
        let keys: Vec<String> = match path {
            Some(p) => vec![path_key(p)],
            None => match fs::read_dir(&self.dir) {
                Ok(rd) => rd
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(source) => {
                    return Err(SnapshotError::Io {
                        path: self.dir.clone(),
                        source,
                    });
                }
            },
        };
        let mut all = Vec::new();
        for key in keys {
            let key_dir = self.dir.join(&key);
            if !key_dir.is_dir() {
                continue;
            }
            let original = original_path(&key_dir)?;
            for s in stamps(&key_dir)? {
                let meta = read_meta(&key_dir, &s)?;
                all.push(SnapshotInfo {
                    id: format!("{key}-{s}"),
                    path: original.clone(),
                    meta,
                });
            }
        }
        all.sort_by_key(|s| std::cmp::Reverse(s.meta.taken_at_nanos));
        Ok(all)
    }

    /// The content and description of one snapshot.
    pub fn show(&self, id: &str) -> Result<(SnapshotInfo, Vec<u8>), SnapshotError> {
        let (key_dir, s) = self.locate(id)?;
        let meta = read_meta(&key_dir, &s)?;
        if !meta.content_kept {
            return Err(SnapshotError::Withheld(id.to_owned()));
        }
        let content_path = key_dir.join(&s);
        let content = fs::read(&content_path).map_err(io_err(&content_path))?;
        let info = SnapshotInfo {
            id: id.to_owned(),
            path: original_path(&key_dir)?,
            meta,
        };
        Ok((info, content))
    }

    /// Writes a snapshot's content back to its file, atomically, with its recorded mode
    /// and owner; the file's current content is snapshotted first.
    pub fn restore(&self, id: &str) -> Result<SnapshotInfo, SnapshotError> {
        let (info, content) = self.show(id)?;
        let meta = FileMeta {
            mode: Some(info.meta.mode),
            uid: Some(info.meta.uid),
            gid: Some(info.meta.gid),
        };
        atomic::write_file(&info.path, &content, &meta, Some(self))?;
        Ok(info)
    }

    fn locate(&self, id: &str) -> Result<(PathBuf, String), SnapshotError> {
        let not_found = || SnapshotError::NotFound(id.to_owned());
        let (key, s) = id.split_once('-').ok_or_else(not_found)?;
        let valid = key.len() == 16
            && key.bytes().all(|b| b.is_ascii_hexdigit())
            && s.len() == 20
            && s.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(not_found());
        }
        let key_dir = self.dir.join(key);
        if !key_dir.join(format!("{s}.meta.json")).is_file() {
            return Err(not_found());
        }
        Ok((key_dir, s.to_owned()))
    }

    fn prune(&self, key_dir: &Path) -> Result<(), SnapshotError> {
        let all = stamps(key_dir)?;
        if all.len() <= self.retention {
            return Ok(());
        }
        for s in &all[..all.len() - self.retention] {
            remove_snapshot(key_dir, s)?;
        }
        Ok(())
    }
}

/// Removes one snapshot's content (if kept) and metadata.
fn remove_snapshot(key_dir: &Path, s: &str) -> Result<(), SnapshotError> {
    for p in [key_dir.join(s), key_dir.join(format!("{s}.meta.json"))] {
        match fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(SnapshotError::Io { path: p, source }),
        }
    }
    Ok(())
}

/// The per-file directory name: 16 hex digits of the SHA-256 of the path's bytes.
fn path_key(path: &Path) -> String {
    hex::encode(&Sha256::digest(path.as_os_str().as_bytes())[..8])
}

fn stamp(nanos: u128) -> String {
    format!("{nanos:020}")
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Snapshot stamps of one file (by their metadata, content kept or not), oldest first.
fn stamps(key_dir: &Path) -> Result<Vec<String>, SnapshotError> {
    let mut out: Vec<String> = fs::read_dir(key_dir)
        .map_err(io_err(key_dir))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let s = name.strip_suffix(".meta.json")?;
            (s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_owned())
        })
        .collect();
    out.sort();
    Ok(out)
}

fn original_path(key_dir: &Path) -> Result<PathBuf, SnapshotError> {
    let p = key_dir.join("path");
    let bytes = fs::read(&p).map_err(io_err(&p))?;
    Ok(PathBuf::from(std::ffi::OsStr::from_bytes(&bytes)))
}

fn read_meta(key_dir: &Path, s: &str) -> Result<SnapshotMeta, SnapshotError> {
    let p = key_dir.join(format!("{s}.meta.json"));
    let bytes = fs::read(&p).map_err(io_err(&p))?;
    serde_json::from_slice(&bytes).map_err(|e| SnapshotError::BadMeta {
        path: p,
        reason: e.to_string(),
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    let mut f: File = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_list_show_and_retention() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 3);
        let file = tmp.path().join("app.conf");
        assert!(
            store.take(&file).unwrap().is_none(),
            "a missing file has nothing to keep"
        );
        for i in 0..5 {
            fs::write(&file, format!("version {i}\n")).unwrap();
            store.take(&file).unwrap().unwrap();
        }
        let listed = store.list(Some(&file)).unwrap();
        assert_eq!(listed.len(), 3, "retention keeps the newest three");
        let (info, content) = store.show(&listed[0].id).unwrap();
        assert_eq!(content, b"version 4\n");
        assert_eq!(info.path, file);
        assert_eq!(info.meta.size, 10);
        let (_, oldest) = store.show(&listed[2].id).unwrap();
        assert_eq!(oldest, b"version 2\n");
        assert_eq!(store.list(None).unwrap().len(), 3);
    }

    #[test]
    fn restore_brings_back_content_and_mode_and_snapshots_the_current() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let file = tmp.path().join("motd");
        fs::write(&file, "old\n").unwrap();
        fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
        let snap = store.take(&file).unwrap().unwrap();
        fs::write(&file, "new\n").unwrap();
        fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();

        store.restore(&snap.id).unwrap();
        assert_eq!(fs::read_to_string(&file).unwrap(), "old\n");
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o7777, 0o640);
        let listed = store.list(Some(&file)).unwrap();
        assert_eq!(listed.len(), 2, "restore kept the content it replaced");
        assert_eq!(store.show(&listed[0].id).unwrap().1, b"new\n");
    }

    #[test]
    fn unknown_or_malformed_ids_are_not_found() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path(), 5);
        for id in [
            "",
            "abc",
            "0123456789abcdef-1",
            "../../etc-00000000000000000001",
            "0123456789abcdef-00000000000000000001",
        ] {
            let err = store.show(id).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("no snapshot with id `{id}` (see `vigo snapshots list`)")
            );
        }
    }

    #[test]
    fn a_sensitive_snapshot_keeps_no_content_and_removes_earlier_clear_copies() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let file = tmp.path().join("db.conf");
        fs::write(&file, "password=old-secret\n").unwrap();
        store.take(&file).unwrap().unwrap();
        fs::write(&file, "password=rotated-secret\n").unwrap();
        let info = store.sensitive().take(&file).unwrap().unwrap();
        assert!(!info.meta.content_kept);
        assert_eq!(info.meta.sha256, "", "not even a checksum of the secret");
        assert_eq!(info.meta.size, 24);
        let listed = store.list(Some(&file)).unwrap();
        assert_eq!(listed.len(), 1, "the clear copy taken before is gone");
        assert!(matches!(
            store.show(&info.id),
            Err(SnapshotError::Withheld(_))
        ));
        assert!(matches!(
            store.restore(&info.id),
            Err(SnapshotError::Withheld(_))
        ));
        for entry in walkdir::WalkDir::new(store.dir()) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                let bytes = fs::read(entry.path()).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains("secret"),
                    "{} holds a secret: {text}",
                    entry.path().display()
                );
            }
        }
    }

    #[test]
    fn snapshot_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let file = tmp.path().join("secret.conf");
        fs::write(&file, "password=x\n").unwrap();
        let info = store.take(&file).unwrap().unwrap();
        let (key, s) = info.id.split_once('-').unwrap();
        let content = store.dir().join(key).join(s);
        assert_eq!(fs::metadata(content).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(store.dir().join(key)).unwrap().mode() & 0o777,
            0o700
        );
    }
}
