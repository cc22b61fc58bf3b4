//! The one atomic file writer every executor uses.
//!
//! Invariant: a reader — or a crash, or `kill -9` of the agent — sees a managed file
//! either entirely old or entirely new, never a mix. [`write_file`] writes a temporary
//! file in the same directory (same filesystem, so `rename(2)` is atomic), sets its
//! mode and owner, `fsync`s it, renames it over the target and `fsync`s the directory.
//! When a [`SnapshotStore`] is given, the previous content is snapshotted first.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::snapshot::{SnapshotError, SnapshotStore};

/// Mode and owner to give a written file; `None` keeps the existing file's value (or, for
/// a new file, 0644 and the agent's own uid/gid).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// Permission bits (`0o7777` mask).
    pub mode: Option<u32>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Group gid.
    pub gid: Option<u32>,
}

/// Failures of atomic file operations; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An OS error while writing or renaming.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The path has no parent directory or file name.
    #[error("{0} is not a file path")]
    NotAFilePath(PathBuf),
    /// The previous content could not be snapshotted, so nothing was changed.
    #[error("snapshot before changing {path}: {source}")]
    Snapshot {
        /// The file that was about to change.
        path: PathBuf,
        /// Why the snapshot failed.
        source: Box<SnapshotError>,
    },
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FileError + 'a {
    move |source| FileError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Replaces `path` with `content` atomically (see the module doc), snapshotting the old
/// content into `snapshots` first when given.
pub fn write_file(
    path: &Path,
    content: &[u8],
    meta: &FileMeta,
    snapshots: Option<&SnapshotStore>,
) -> Result<(), FileError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| FileError::NotAFilePath(path.to_path_buf()))?;
    let existing = match fs::symlink_metadata(path) {
        Ok(md) if md.is_file() => Some(md),
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(FileError::Io {
                op: "stat",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if existing.is_some()
        && let Some(store) = snapshots
    {
        store.take(path).map_err(|e| FileError::Snapshot {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
    }
    let mode = meta
        .mode
        .or(existing.as_ref().map(|m| m.mode() & 0o7777))
        .unwrap_or(0o644);
    let uid = meta.uid.or(existing.as_ref().map(MetadataExt::uid));
    let gid = meta.gid.or(existing.as_ref().map(MetadataExt::gid));

    let tmp = temp_path(dir, name);
    let result = (|| {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("create", &tmp))?;
        f.write_all(content).map_err(io("write", &tmp))?;
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::fchown(&f, uid, gid).map_err(io("chown", &tmp))?;
        }
        // After chown: chown clears setuid/setgid bits.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io("chmod", &tmp))?;
        f.sync_all().map_err(io("fsync", &tmp))?;
        fs::rename(&tmp, path).map_err(io("rename into place", path))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Removes `path`, snapshotting its content into `snapshots` first when given.
/// Returns whether a file was removed.
pub fn remove_file(path: &Path, snapshots: Option<&SnapshotStore>) -> Result<bool, FileError> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(FileError::Io {
                op: "stat",
                path: path.to_path_buf(),
                source,
            });
        }
        Ok(md) if md.is_file() => {
            if let Some(store) = snapshots {
                store.take(path).map_err(|e| FileError::Snapshot {
                    path: path.to_path_buf(),
                    source: Box::new(e),
                })?;
            }
        }
        Ok(_) => {}
    }
    fs::remove_file(path).map_err(io("remove", path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        sync_dir(dir)?;
    }
    Ok(true)
}

/// A fresh temporary name beside the target: `.NAME.vigo-tmp.PID.N`.
fn temp_path(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".vigo-tmp.{}.{n}", std::process::id()));
    dir.join(tmp_name)
}

fn sync_dir(dir: &Path) -> Result<(), FileError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode_of(p: &Path) -> u32 {
        fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn creates_with_mode_and_leaves_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("new.conf");
        write_file(
            &file,
            b"hello\n",
            &FileMeta {
                mode: Some(0o600),
                ..Default::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"hello\n");
        assert_eq!(mode_of(&file), 0o600);
        let names: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("new.conf")]);
    }

    #[test]
    fn new_files_default_to_0644() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain");
        write_file(&file, b"x", &FileMeta::default(), None).unwrap();
        assert_eq!(mode_of(&file), 0o644);
    }

    #[test]
    fn overwrite_preserves_mode_unless_set_and_snapshots_old_content() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let file = tmp.path().join("app.conf");
        fs::write(&file, b"old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();

        write_file(&file, b"new", &FileMeta::default(), Some(&store)).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new");
        assert_eq!(mode_of(&file), 0o640, "mode preserved");
        let snaps = store.list(Some(&file)).unwrap();
        assert_eq!(snaps.len(), 1);
        assert_eq!(store.show(&snaps[0].id).unwrap().1, b"old");
    }

    #[test]
    fn replaces_a_symlink_instead_of_writing_through_it() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("target");
        fs::write(&target, b"untouched").unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_file(&link, b"mine", &FileMeta::default(), None).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"untouched");
        assert!(fs::symlink_metadata(&link).unwrap().is_file());
    }

    #[test]
    fn failure_names_the_path_and_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("missing-dir").join("f");
        let err = write_file(&file, b"x", &FileMeta::default(), None).unwrap_err();
        assert!(err.to_string().starts_with("create "), "{err}");
        assert!(err.to_string().contains("missing-dir"), "{err}");
    }

    #[test]
    fn remove_snapshots_then_removes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let file = tmp.path().join("gone");
        fs::write(&file, b"last words").unwrap();
        assert!(remove_file(&file, Some(&store)).unwrap());
        assert!(!file.exists());
        assert!(
            !remove_file(&file, Some(&store)).unwrap(),
            "second removal is a no-op"
        );
        let snaps = store.list(Some(&file)).unwrap();
        assert_eq!(store.show(&snaps[0].id).unwrap().1, b"last words");
    }
}
