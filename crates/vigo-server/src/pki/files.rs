//! Private files: directories created 0700, files written atomically with mode 0600
//! (temporary file in the same directory, fsync, rename, fsync of the directory), and
//! the mode check that refuses key material readable by anyone but the owner.
//!
//! Used for every key the server keeps: the CA and server keys, the bundle-signing key,
//! the secrets master key and the secret files.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` and its missing parents with mode 0700 (existing ones are left as
/// they are).
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `bytes` to `path` atomically with mode 0600, replacing any old file. The
/// parent directory is created 0700 when missing.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temp(path, bytes)?;
    let renamed = std::fs::rename(&tmp, path);
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed?;
    sync_parent(path)
}

/// Like [`write_private`], but never replaces an existing file: returns
/// `Ok(false)` (and writes nothing) when `path` already exists.
pub fn create_private(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    let tmp = write_temp(path, bytes)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_parent(path).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// The permission bits of `path` when group or others have any access to it (mode
/// wider than 0600), `None` when only the owner has.
pub fn wider_than_owner(path: &Path) -> io::Result<Option<u32>> {
    let mode = std::fs::metadata(path)?.mode() & 0o7777;
    Ok((mode & 0o077 != 0).then_some(mode))
}

/// Writes a fresh 0600 temporary file beside `path` and returns its name.
fn write_temp(path: &Path, bytes: &[u8]) -> io::Result<PathBuf> {
    let parent = parent_of(path);
    ensure_private_dir(parent)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        hex::encode(suffix)
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    File::open(parent_of(path))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn writes_are_private_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a/b/key");
        write_private(&f, b"one").unwrap();
        write_private(&f, b"two").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        assert_eq!(mode(&f), 0o600);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        assert_eq!(wider_than_owner(&f).unwrap(), None);
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn create_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        assert!(create_private(&f, b"first").unwrap());
        assert!(!create_private(&f, b"second").unwrap());
        assert_eq!(std::fs::read(&f).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn wide_modes_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        write_private(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(wider_than_owner(&f).unwrap(), Some(0o640));
    }
}
