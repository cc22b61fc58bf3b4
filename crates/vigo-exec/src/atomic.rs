//! The one atomic file writer every executor uses, and the one place that decides which
//! file a path really names.
//!
//! Invariant: a reader — or a crash, or `kill -9` of the agent — sees a managed file
//! either entirely old or entirely new, never a mix. [`write_file`] writes a temporary
//! file in the same directory (same filesystem, so `rename(2)` is atomic), sets its
//! mode and owner, `fsync`s it, renames it over the target and `fsync`s the directory.
//! When a [`SnapshotStore`] is given, the previous content is snapshotted first.
//!
//! Many independent files are written with one flush instead of one each: [`stage_file`]
//! writes a temporary file and returns a [`PendingWrite`]; [`commit`] flushes a batch of
//! them with one `syncfs(2)` per filesystem, then renames each into place and `fsync`s
//! each directory once. The invariant holds the same way: no rename before the data it
//! names is on disk.
//!
//! Permissions never widen: a rewrite keeps the mode, owner and group of the file it
//! replaces (of a symbolic link's target, when it replaces a link) unless the caller sets
//! them; a new file gets the caller's mode, or 0600 when the caller gives none. Errors
//! name the file being written and, when it is missing, its directory — never the
//! temporary file.
//!
//! [`resolve`] is how the partial-file executors find the file they edit: a symbolic
//! link is followed to its final target (as Ansible's `lineinfile` does), so the target
//! is edited in place and keeps its mode and owner, or refused with [`Links::Refuse`].

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::snapshot::{SnapshotError, SnapshotStore};

/// Mode and owner to give a written file; `None` keeps the existing file's value (or, for
/// a new file, 0600 and the agent's own uid/gid).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileMeta {
    /// Permission bits (`0o7777` mask).
    pub mode: Option<u32>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Group gid.
    pub gid: Option<u32>,
}

/// The mode of a file written without one and with nothing to keep: private.
pub const DEFAULT_NEW_MODE: u32 = 0o600;

/// How many symbolic links [`resolve`] follows before giving up (the kernel's own limit).
const MAX_LINKS: usize = 40;

/// Failures of atomic file operations; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An OS error while writing or renaming.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved (the file being written, never a temporary file).
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The path has no parent directory or file name.
    #[error("{0} is not a file path")]
    NotAFilePath(PathBuf),
    /// The file would be created, but its directory does not exist.
    #[error(
        "cannot create {path}: directory {dir} does not exist (create it first, e.g. with a `directory` resource in depends_on)"
    )]
    MissingDirectory {
        /// The file that would be created.
        path: PathBuf,
        /// The first missing directory on the way to it.
        dir: PathBuf,
    },
    /// What the path names is not a regular file (a directory, a device, a socket …).
    #[error("{path} is {kind}, not a regular file")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is instead ("a directory", …).
        kind: &'static str,
    },
    /// A directory on the way to the file is something else.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// The path is a symbolic link and the resource said not to follow links.
    #[error(
        "{path} is a symbolic link to {target}; refusing to edit through it (`follow: false`): edit the target, or set `follow: true`"
    )]
    SymlinkRefused {
        /// The link.
        path: PathBuf,
        /// What it points to, as written in the link.
        target: PathBuf,
    },
    /// Following the path's symbolic links never reached a file.
    #[error("{path}: more than {MAX_LINKS} symbolic links to follow (a loop?)")]
    LinkLoop {
        /// The path.
        path: PathBuf,
    },
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

/// Whether [`resolve`] follows a symbolic link or refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Follow links to their final target (the default of the edit types, `follow: true`).
    Follow,
    /// Refuse a path that is a symbolic link (`follow: false`).
    Refuse,
}

/// The file a path names, found by [`resolve`].
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The file to read and write: the path itself, or the final target of its links.
    pub path: PathBuf,
    /// The regular file's metadata; `None` when nothing exists there yet.
    pub existing: Option<Metadata>,
}

impl Resolved {
    /// Succeeds when a missing file could be created (its directory exists); the error
    /// names the missing directory. An existing file always passes.
    pub fn creatable(&self) -> Result<(), FileError> {
        if self.existing.is_some() {
            return Ok(());
        }
        check_directory_of(&self.path)
    }
}

/// Finds the file `path` names: `path` itself, or — through [`Links::Follow`] — the
/// final target of its symbolic links (relative targets are relative to the link's
/// directory, as the kernel reads them). A dangling link resolves to its missing target,
/// which is then what a create makes. Fails when the path (or the target) is not a
/// regular file, when links loop, or when the link is refused.
pub fn resolve(path: &Path, links: Links) -> Result<Resolved, FileError> {
    let mut current = path.to_path_buf();
    for hops in 0..=MAX_LINKS {
        // Through a link, the file is named by its real path (what snapshots record and
        // `vigo snapshots list` finds), not by `dir/../../target`.
        let real = |p: PathBuf| if hops == 0 { p } else { real_path(p) };
        let md = match fs::symlink_metadata(&current) {
            Ok(md) => md,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Ok(Resolved {
                    path: real(current),
                    existing: None,
                });
            }
            Err(e) if e.kind() == ErrorKind::NotADirectory => {
                return Err(check_directory_of(&current)
                    .err()
                    .unwrap_or_else(|| io("stat", &current)(e)));
            }
            Err(e) => return Err(io("stat", &current)(e)),
        };
        let kind = md.file_type();
        if kind.is_file() {
            return Ok(Resolved {
                path: real(current),
                existing: Some(md),
            });
        }
        if !kind.is_symlink() {
            return Err(FileError::NotRegular {
                path: current,
                kind: if kind.is_dir() {
                    "a directory"
                } else {
                    "a special file"
                },
            });
        }
        let target = fs::read_link(&current).map_err(io("read link", &current))?;
        if links == Links::Refuse {
            return Err(FileError::SymlinkRefused {
                path: current,
                target,
            });
        }
        current = match current.parent() {
            Some(dir) if target.is_relative() => dir.join(&target),
            _ => target,
        };
    }
    Err(FileError::LinkLoop {
        path: path.to_path_buf(),
    })
}

/// `path` with its directory's symbolic links and `..` resolved, when that directory
/// exists; otherwise `path` unchanged.
fn real_path(path: PathBuf) -> PathBuf {
    match (path.parent().map(fs::canonicalize), path.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => path,
    }
}

/// The directory a file at `path` lives in (`.` for a bare name).
fn directory_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Succeeds when the directory of `path` exists; otherwise names the first missing (or
/// non-directory) component on the way to it.
pub fn check_directory_of(path: &Path) -> Result<(), FileError> {
    let dir = directory_of(path);
    match fs::metadata(dir) {
        Ok(md) if md.is_dir() => Ok(()),
        Ok(_) => Err(FileError::NotADirectory(dir.to_path_buf())),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            let missing = dir
                .ancestors()
                .filter(|a| !a.as_os_str().is_empty())
                .take_while(|a| !a.is_dir())
                .last()
                .unwrap_or(dir);
            Err(FileError::MissingDirectory {
                path: path.to_path_buf(),
                dir: missing.to_path_buf(),
            })
        }
        Err(e) => Err(io("stat", dir)(e)),
    }
}

/// Mode, owner and group a rewrite of `path` keeps: those of the regular file there, or,
/// when `path` is a symbolic link, of the file it points to.
fn kept_metadata(path: &Path) -> Result<Option<Metadata>, FileError> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.is_file() => Ok(Some(md)),
        Ok(md) if md.file_type().is_symlink() => {
            Ok(fs::metadata(path).ok().filter(Metadata::is_file))
        }
        Ok(_) => Ok(None),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
        Err(source) => Err(FileError::Io {
            op: "stat",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Replaces `path` with `content` atomically (see the module doc), snapshotting the old
/// content into `snapshots` first when given. A symbolic link at `path` is replaced by
/// the file (its target is left alone; edit the target through [`resolve`] instead), and
/// the new file keeps the target's mode and owner unless `meta` sets them.
///
/// This is [`stage_file`] followed by [`PendingWrite::commit_alone`]; to write many
/// independent files with one flush, stage each and [`commit`] them together.
pub fn write_file(
    path: &Path,
    content: &[u8],
    meta: &FileMeta,
    snapshots: Option<&SnapshotStore>,
) -> Result<(), FileError> {
    stage_file(path, content, meta, snapshots)?.commit_alone()
}

/// A file written beside its target by [`stage_file`] and not yet in place: its data is
/// not yet known to be on disk and the target is untouched. [`PendingWrite::commit_alone`]
/// or [`commit`] puts it in place; dropping it removes the temporary file, leaving the
/// target as it was.
#[derive(Debug)]
pub struct PendingWrite {
    /// The file being written.
    path: PathBuf,
    /// Its temporary file beside it, holding the complete new content, mode and owner.
    tmp: PathBuf,
    /// The open temporary file (`None` once renamed into place).
    file: Option<File>,
}

impl PendingWrite {
    /// The file this write replaces or creates.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Puts this one write in place: `fsync` the file, rename it over the target,
    /// `fsync` the directory.
    pub fn commit_alone(mut self) -> Result<(), FileError> {
        let file = self.file.as_ref().expect("a pending write holds its file");
        file.sync_all().map_err(io("fsync", &self.path))?;
        self.rename_into_place()?;
        sync_dir(directory_of(&self.path))
    }

    /// Puts this write in place for readers without flushing anything: for a file that
    /// means nothing after a crash or reboot (a sentinel naming a running process), whose
    /// readers must still never see it half-written.
    pub fn commit_volatile(mut self) -> Result<(), FileError> {
        self.rename_into_place()
    }

    /// Renames the (already flushed) temporary file over the target.
    fn rename_into_place(&mut self) -> Result<(), FileError> {
        fs::rename(&self.tmp, &self.path).map_err(io("rename into place", &self.path))?;
        self.file = None;
        Ok(())
    }
}

impl Drop for PendingWrite {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// The first half of [`write_file`]: checks the directory, snapshots the old content
/// (when `snapshots` is given and a regular file is there), and writes `content` with
/// its mode and owner to a temporary file beside `path` — without flushing it and
/// without touching `path`. Errors name `path`, never the temporary file.
pub fn stage_file(
    path: &Path,
    content: &[u8],
    meta: &FileMeta,
    snapshots: Option<&SnapshotStore>,
) -> Result<PendingWrite, FileError> {
    let dir = directory_of(path);
    let name = path
        .file_name()
        .ok_or_else(|| FileError::NotAFilePath(path.to_path_buf()))?;
    check_directory_of(path)?;
    let kept = kept_metadata(path)?;
    let replaces_a_file = fs::symlink_metadata(path).is_ok_and(|md| md.is_file());
    if replaces_a_file && let Some(store) = snapshots {
        store.take(path).map_err(|e| FileError::Snapshot {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
    }
    let mode = meta
        .mode
        .or(kept.as_ref().map(|m| m.mode() & 0o7777))
        .unwrap_or(DEFAULT_NEW_MODE);
    let uid = meta.uid.or(kept.as_ref().map(MetadataExt::uid));
    let gid = meta.gid.or(kept.as_ref().map(MetadataExt::gid));

    let tmp = temp_path(dir, name);
    let file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("create a temporary file beside", path))?;
    // From here the temporary file exists: dropping `pending` on an error removes it.
    let mut pending = PendingWrite {
        path: path.to_path_buf(),
        tmp,
        file: Some(file),
    };
    let f = pending.file.as_mut().expect("just opened");
    f.write_all(content).map_err(io("write", path))?;
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(&*f, uid, gid).map_err(io("chown", path))?;
    }
    // After chown: chown clears setuid/setgid bits.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io("chmod", path))?;
    Ok(pending)
}

/// One step of [`commit`], in the order it happens (what the fault-injection tests stop
/// at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Every temporary file's data and metadata are on disk.
    Flushed,
    /// The write at this index of the batch is renamed into place.
    Renamed(usize),
    /// Every directory of the batch is flushed.
    DirectoriesFlushed,
}

/// Puts a batch of staged writes in place with one flush: `syncfs(2)` once per
/// filesystem the batch touches (every temporary file is then complete on disk), then
/// each temporary file is renamed over its target in batch order, then each directory
/// is `fsync`ed once. A crash at any point leaves each target old or new, never empty
/// or partial: no rename happens before the flush, and an unflushed rename only loses
/// the new name, not the data. Returns each write's result, in batch order; a failed
/// flush fails every write (their targets untouched), a failed directory flush the
/// writes in that directory.
pub fn commit(batch: Vec<PendingWrite>) -> Vec<Result<(), FileError>> {
    commit_until(batch, |_| true)
}

/// [`commit`], calling `go_on` after each [`Step`]; `false` stops there as a crash would,
/// leaving the temporary files of the writes not yet renamed on disk.
fn commit_until(
    mut batch: Vec<PendingWrite>,
    mut go_on: impl FnMut(Step) -> bool,
) -> Vec<Result<(), FileError>> {
    let mut results: Vec<Result<(), FileError>> = Vec::with_capacity(batch.len());
    // One flush per filesystem, through the first temporary file on it.
    let mut flushed = std::collections::HashSet::new();
    let mut flush_error = None;
    for w in &batch {
        let f = w.file.as_ref().expect("a pending write holds its file");
        let dev = match f.metadata() {
            Ok(md) => md.dev(),
            Err(e) => {
                flush_error = Some((w.path.clone(), e));
                break;
            }
        };
        if flushed.insert(dev)
            && let Err(e) = nix::unistd::syncfs(f)
        {
            flush_error = Some((w.path.clone(), std::io::Error::from(e)));
            break;
        }
    }
    if let Some((first, e)) = flush_error {
        // Nothing was renamed: every target is untouched, every temporary file goes.
        let kind = e.kind();
        let text = format!("{e} (flushing {})", first.display());
        let mut cause = Some(e);
        return batch
            .iter()
            .map(|w| {
                let source = match cause.take() {
                    Some(e) if w.path == first => e,
                    other => {
                        cause = other;
                        std::io::Error::new(kind, text.clone())
                    }
                };
                Err(FileError::Io {
                    op: "flush (syncfs) the batch writing",
                    path: w.path.clone(),
                    source,
                })
            })
            .collect();
    }
    if !go_on(Step::Flushed) {
        std::mem::forget(batch);
        return results;
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (i, w) in batch.iter_mut().enumerate() {
        let renamed = w.rename_into_place();
        if renamed.is_ok() {
            let dir = directory_of(&w.path);
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
        }
        results.push(renamed);
        if !go_on(Step::Renamed(i)) {
            std::mem::forget(batch);
            return results;
        }
    }
    for dir in &dirs {
        if let Err(e) = sync_dir_io(dir) {
            for (w, r) in batch.iter().zip(results.iter_mut()) {
                if r.is_ok() && directory_of(&w.path) == dir {
                    *r = Err(FileError::Io {
                        op: "fsync the directory of",
                        path: w.path.clone(),
                        source: std::io::Error::new(e.kind(), e.to_string()),
                    });
                }
            }
        }
    }
    go_on(Step::DirectoriesFlushed);
    results
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
    sync_dir_io(dir).map_err(io("fsync directory", dir))
}

fn sync_dir_io(dir: &Path) -> std::io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
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
    fn new_files_without_a_mode_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain");
        write_file(&file, b"x", &FileMeta::default(), None).unwrap();
        assert_eq!(mode_of(&file), 0o600);
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
    fn replacing_a_link_keeps_the_mode_of_its_target() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("secret");
        fs::write(&target, b"password").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink("secret", &link).unwrap();
        write_file(&link, b"other", &FileMeta::default(), None).unwrap();
        assert_eq!(
            mode_of(&link),
            0o600,
            "never wider than what the path named"
        );
    }

    #[test]
    fn missing_directory_is_named_never_the_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("missing-dir").join("deeper").join("f");
        let err = write_file(&file, b"x", &FileMeta::default(), None).unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(&err, FileError::MissingDirectory { dir, .. } if *dir == tmp.path().join("missing-dir")),
            "{text}"
        );
        assert!(!text.contains("vigo-tmp"), "{text}");
        assert!(
            text.starts_with(&format!("cannot create {}: directory ", file.display())),
            "{text}"
        );
    }

    #[test]
    fn resolve_follows_links_to_the_final_target() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::create_dir(dir.join("real")).unwrap();
        fs::write(dir.join("real/app.conf"), b"x").unwrap();
        fs::create_dir(dir.join("etc")).unwrap();
        std::os::unix::fs::symlink("../real/app.conf", dir.join("etc/hop")).unwrap();
        std::os::unix::fs::symlink("etc/hop", dir.join("hop")).unwrap();
        std::os::unix::fs::symlink(dir.join("hop"), dir.join("link")).unwrap();
        let r = resolve(&dir.join("link"), Links::Follow).unwrap();
        let real_dir = fs::canonicalize(dir).unwrap();
        assert_eq!(
            r.path,
            real_dir.join("real/app.conf"),
            "named by its real path"
        );
        assert!(r.existing.is_some());
        let plain = resolve(&dir.join("real/app.conf"), Links::Refuse).unwrap();
        assert_eq!(plain.path, dir.join("real/app.conf"));
    }

    #[test]
    fn resolve_of_a_dangling_link_is_its_missing_target() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("made-later", tmp.path().join("link")).unwrap();
        let r = resolve(&tmp.path().join("link"), Links::Follow).unwrap();
        assert_eq!(
            r.path,
            fs::canonicalize(tmp.path()).unwrap().join("made-later")
        );
        assert!(r.existing.is_none());
        r.creatable().unwrap();
        let gone = tmp.path().join("no/such/dir/f");
        let err = resolve(&gone, Links::Follow)
            .unwrap()
            .creatable()
            .unwrap_err();
        assert!(
            matches!(&err, FileError::MissingDirectory { dir, .. } if *dir == tmp.path().join("no")),
            "{err}"
        );
    }

    #[test]
    fn resolve_refuses_links_loops_and_non_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join("t"), b"x").unwrap();
        std::os::unix::fs::symlink("t", dir.join("link")).unwrap();
        let err = resolve(&dir.join("link"), Links::Refuse).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is a symbolic link to t; refusing to edit through it (`follow: false`): edit the target, or set `follow: true`",
                dir.join("link").display()
            )
        );
        std::os::unix::fs::symlink("b", dir.join("a")).unwrap();
        std::os::unix::fs::symlink("a", dir.join("b")).unwrap();
        assert!(matches!(
            resolve(&dir.join("a"), Links::Follow),
            Err(FileError::LinkLoop { .. })
        ));
        assert_eq!(
            resolve(dir, Links::Follow).unwrap_err().to_string(),
            format!("{} is a directory, not a regular file", dir.display())
        );
        let under_a_file = dir.join("t").join("x");
        assert_eq!(
            resolve(&under_a_file, Links::Follow)
                .unwrap_err()
                .to_string(),
            format!("{} is not a directory", dir.join("t").display())
        );
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

// Stale temporary files: what a writer killed between create and rename leaves behind.

/// How old a temporary file must be before [`remove_stale_temp_files`] may remove it:
/// a write in progress takes milliseconds, so an older file whose writer is gone is
/// certainly abandoned.
pub const STALE_TEMP_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// The start of a *running* process, in clock ticks since boot (field 22 of
/// `/proc/PID/stat`); `None` when no such process runs (absent, a zombie, or dead).
/// Together with the PID it names a process across PID reuse.
pub fn running_process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold anything: split after
    // the last `)`. Then field 3 is the state and field 22 the start time.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    if matches!(fields.next()?, "Z" | "X" | "x") {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// When a running process started, on the wall clock (boot time + its start ticks).
fn process_started_at(pid: u32) -> Option<std::time::SystemTime> {
    use nix::unistd::{SysconfVar, sysconf};
    let ticks = running_process_start(pid)?;
    let hz = u64::try_from(sysconf(SysconfVar::CLK_TCK).ok()??).ok()?;
    let btime: u64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let since_boot = std::time::Duration::from_micros(ticks.checked_mul(1_000_000)? / hz.max(1));
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(btime) + since_boot)
}

/// The PID in a temporary name made by this writer, `.NAME.vigo-tmp.PID.N`; `None` for
/// any other name.
fn temp_file_writer(file_name: &std::ffi::OsStr) -> Option<u32> {
    use std::os::unix::ffi::OsStrExt;
    const MARK: &[u8] = b".vigo-tmp";
    let rest = file_name.as_bytes().strip_prefix(b".")?;
    let mut parts = rest.rsplitn(3, |b| *b == b'.');
    let (n, pid, stem) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !digits(n) || !digits(pid) || stem.len() <= MARK.len() || !stem.ends_with(MARK) {
        return None;
    }
    std::str::from_utf8(pid).ok()?.parse().ok()
}

/// Whether the temporary file described by `md`, named for `pid`, is provably abandoned:
/// older than [`STALE_TEMP_MIN_AGE`], and `pid` runs no process, or runs one that
/// started after the file was last written (the PID was reused).
fn temp_file_abandoned(pid: u32, md: &fs::Metadata, now: std::time::SystemTime) -> bool {
    let Ok(written) = md.modified() else {
        return false;
    };
    if now.duration_since(written).unwrap_or_default() < STALE_TEMP_MIN_AGE {
        return false;
    }
    if running_process_start(pid).is_none() {
        return true;
    }
    // Boot time has whole-second precision and moves with clock adjustments: allow slack.
    let slack = std::time::Duration::from_secs(2);
    process_started_at(pid).is_some_and(|started| started > written + slack)
}

/// Removes from `dir` (not recursively) the temporary files [`write_file`] made whose
/// writer is gone — a crash, `kill -9` or power loss between creating the file and
/// renaming it over the target leaves `.NAME.vigo-tmp.PID.N` behind. Only regular files
/// with exactly that name shape are considered, and only when abandoned: older than
/// [`STALE_TEMP_MIN_AGE`] and their PID runs no process or one started after the file
/// was written. Returns the paths removed; a missing `dir` has none.
pub fn remove_stale_temp_files(dir: &Path) -> Result<Vec<PathBuf>, FileError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(io("read directory", dir)(source)),
    };
    let now = std::time::SystemTime::now();
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("read directory", dir))?;
        let Some(pid) = temp_file_writer(&entry.file_name()) else {
            continue;
        };
        let path = entry.path();
        let Ok(md) = fs::symlink_metadata(&path) else {
            continue;
        };
        if !md.file_type().is_file() || !temp_file_abandoned(pid, &md, now) {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(io("remove stale temporary file", &path)(source)),
        }
    }
    if !removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod batch_tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// Three files in two directories: one replaced (snapshotted), two created.
    fn stage_three(root: &Path, store: &SnapshotStore) -> (Vec<PathBuf>, Vec<PendingWrite>) {
        fs::create_dir_all(root.join("a")).unwrap();
        fs::create_dir_all(root.join("b")).unwrap();
        let paths = vec![root.join("a/one"), root.join("a/two"), root.join("b/three")];
        fs::write(&paths[0], b"old one").unwrap();
        let writes = paths
            .iter()
            .map(|p| {
                let content = format!("new {}", p.file_name().unwrap().to_string_lossy());
                stage_file(p, content.as_bytes(), &FileMeta::default(), Some(store)).unwrap()
            })
            .collect();
        (paths, writes)
    }

    fn temp_files(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for dir in ["a", "b"] {
            for e in fs::read_dir(root.join(dir)).unwrap() {
                let p = e.unwrap().path();
                if temp_file_writer(p.file_name().unwrap()).is_some() {
                    out.push(p);
                }
            }
        }
        out
    }

    #[test]
    fn a_batch_is_flushed_once_then_renamed_then_its_directories_flushed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let (paths, writes) = stage_three(tmp.path(), &store);
        assert_eq!(
            fs::read(&paths[0]).unwrap(),
            b"old one",
            "staging leaves the target alone"
        );
        assert!(!paths[1].exists());
        let mut steps = Vec::new();
        let results = commit_until(writes, |s| {
            steps.push(s);
            true
        });
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(
            steps,
            vec![
                Step::Flushed,
                Step::Renamed(0),
                Step::Renamed(1),
                Step::Renamed(2),
                Step::DirectoriesFlushed
            ],
            "nothing is renamed before the data is on disk"
        );
        for p in &paths[1..] {
            assert_eq!(fs::metadata(p).unwrap().mode() & 0o7777, DEFAULT_NEW_MODE);
        }
        for p in &paths {
            let name = p.file_name().unwrap().to_string_lossy();
            assert_eq!(fs::read_to_string(p).unwrap(), format!("new {name}"));
        }
        assert!(temp_files(tmp.path()).is_empty());
        let snaps = store.list(Some(&paths[0])).unwrap();
        assert_eq!(store.show(&snaps[0].id).unwrap().1, b"old one");
    }

    /// Fault injection: stop the commit after each of its steps, as a crash or `kill -9`
    /// would. Every target is then entirely old (or absent) or entirely new, and what is
    /// left over is exactly the temporary files not yet renamed — which the sweep of the
    /// next run removes once their writer is gone.
    #[test]
    fn a_crash_at_any_step_leaves_each_file_old_or_new_and_only_sweepable_temps() {
        let stops = [
            Step::Flushed,
            Step::Renamed(0),
            Step::Renamed(1),
            Step::Renamed(2),
            Step::DirectoriesFlushed,
        ];
        for (n, stop) in stops.into_iter().enumerate() {
            let tmp = tempfile::tempdir().unwrap();
            let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
            let (paths, writes) = stage_three(tmp.path(), &store);
            commit_until(writes, |s| s != stop);
            let renamed = n; // Flushed: 0 renamed; Renamed(i): i + 1; the last: all 3.
            for (i, p) in paths.iter().enumerate() {
                let name = p.file_name().unwrap().to_string_lossy();
                let now = fs::read_to_string(p).ok();
                let new = format!("new {name}");
                if i < renamed.min(3) {
                    assert_eq!(now.as_deref(), Some(new.as_str()), "{stop:?}: {name}");
                } else if i == 0 {
                    assert_eq!(now.as_deref(), Some("old one"), "{stop:?}: {name}");
                } else {
                    assert_eq!(now, None, "{stop:?}: {name} not created yet");
                }
            }
            let left = temp_files(tmp.path());
            assert_eq!(left.len(), 3 - renamed.min(3), "{stop:?}: {left:?}");
            for t in &left {
                let content = fs::read_to_string(t).unwrap();
                assert!(content.starts_with("new "), "a temp file is complete");
                // The writer is gone (its process started after this file was written).
                let f = File::options().write(true).open(t).unwrap();
                f.set_modified(SystemTime::now() - Duration::from_secs(365 * 86_400))
                    .unwrap();
            }
            let mut swept = Vec::new();
            for dir in ["a", "b"] {
                swept.extend(remove_stale_temp_files(&tmp.path().join(dir)).unwrap());
            }
            swept.sort();
            let mut left = left;
            left.sort();
            assert_eq!(swept, left, "{stop:?}");
            assert!(temp_files(tmp.path()).is_empty());
        }
    }

    #[test]
    fn a_dropped_pending_write_leaves_the_target_and_no_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let (paths, writes) = stage_three(tmp.path(), &store);
        drop(writes);
        assert_eq!(fs::read(&paths[0]).unwrap(), b"old one");
        assert!(!paths[1].exists() && !paths[2].exists());
        assert!(temp_files(tmp.path()).is_empty());
    }

    #[test]
    fn a_failed_rename_fails_only_its_own_write() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let (paths, writes) = stage_three(tmp.path(), &store);
        // Something takes the second path before the commit: a directory there.
        fs::create_dir(&paths[1]).unwrap();
        let results = commit(writes);
        assert!(results[0].is_ok() && results[2].is_ok());
        let err = results[1].as_ref().unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("rename into place {}: ", paths[1].display())),
            "{err}"
        );
        assert!(
            temp_files(tmp.path()).is_empty(),
            "its temp file is removed"
        );
    }
}

#[cfg(test)]
mod stale_temp_tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// A PID that ran a process and now runs none: a child that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn plant(dir: &Path, name: &str, age: Duration) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, b"half-written").unwrap();
        let f = File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
        p
    }

    #[test]
    fn the_writers_own_temp_names_are_recognised_and_nothing_else() {
        let made = temp_path(Path::new("/etc"), std::ffi::OsStr::new("motd"));
        assert_eq!(
            temp_file_writer(made.file_name().unwrap()),
            Some(std::process::id()),
            "{}",
            made.display()
        );
        for other in [
            "motd",
            ".motd",
            "motd.vigo-tmp.12.0",
            ".vigo-tmp.12.0",
            "..vigo-tmp.12",
            ".motd.vigo-tmp.12",
            ".motd.vigo-tmp.x.0",
            ".motd.vigo-tmp.12.0~",
            ".motd.tmp.12.0",
        ] {
            assert_eq!(
                temp_file_writer(std::ffi::OsStr::new(other)),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn abandoned_temp_files_go_and_live_recent_or_foreign_files_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let old = Duration::from_secs(3_600);
        let dead = dead_pid();
        let abandoned = plant(tmp.path(), &format!(".motd.vigo-tmp.{dead}.0"), old);
        // PID 1 runs and started before this file was written: it may be writing it.
        let init_started = process_started_at(1).expect("PID 1 runs");
        let up = SystemTime::now().duration_since(init_started).unwrap();
        assert!(
            up > 3 * STALE_TEMP_MIN_AGE,
            "the machine booted {up:?} ago; this test needs a few minutes of uptime"
        );
        let live = plant(tmp.path(), ".a.vigo-tmp.1.1", up / 2);
        // Our own PID, written just now: a write may be in progress.
        let ours = plant(
            tmp.path(),
            &format!(".a.vigo-tmp.{}.1", std::process::id()),
            Duration::ZERO,
        );
        let recent = plant(tmp.path(), &format!(".b.vigo-tmp.{dead}.2"), Duration::ZERO);
        let foreign = plant(tmp.path(), &format!("b.vigo-tmp.{dead}.3"), old);
        let dir = tmp.path().join(format!(".d.vigo-tmp.{dead}.4"));
        fs::create_dir(&dir).unwrap();

        let removed = remove_stale_temp_files(tmp.path()).unwrap();
        assert_eq!(removed, vec![abandoned.clone()]);
        assert!(!abandoned.exists());
        for kept in [&live, &ours, &recent, &foreign, &dir] {
            assert!(kept.exists(), "{} must stay", kept.display());
        }
        assert!(
            remove_stale_temp_files(&tmp.path().join("absent"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_reused_pid_does_not_protect_an_old_temp_file() {
        let tmp = tempfile::tempdir().unwrap();
        // This process runs, but it started long after a file written a year ago under
        // its PID: whoever wrote that file is gone.
        let me = std::process::id();
        let year = Duration::from_secs(365 * 86_400);
        let stale = plant(tmp.path(), &format!(".x.vigo-tmp.{me}.0"), year);
        assert_eq!(remove_stale_temp_files(tmp.path()).unwrap(), vec![stale]);
    }

    #[test]
    fn running_process_start_names_live_processes_only() {
        let me = running_process_start(std::process::id()).expect("this process runs");
        assert!(me > 0);
        assert_eq!(running_process_start(dead_pid()), None);
        // An unreaped child is a zombie: not running.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while running_process_start(pid).is_some() {
            assert!(std::time::Instant::now() < deadline, "child never exited");
            std::thread::yield_now();
        }
        child.wait().unwrap();
    }
}
