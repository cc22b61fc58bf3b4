//! Reading a `stacks/` directory from disk, refusing what must never reach a published
//! bundle. A tree is operator input that the server signs and stores forever, so:
//!
//! - **Symlinks stay inside the tree.** A symlink the reader would follow (to a
//!   directory, a `.vgo` file or a template) is resolved, and refused when its target
//!   lies outside the tree's root, naming the path in the tree and where it points. A
//!   symlink to another place inside the tree is followed (a stack may link one shared
//!   crate into several directories); one that leads to a directory above itself is a
//!   loop and refused. A dangling one is an error too. The root itself may be a symlink
//!   (`/srv/vigo/stacks -> /git/stacks`): the tree is where it resolves to.
//! - **Private paths are never opened.** The caller names paths to refuse
//!   ([`ReadOptions::refuse_under`]: the server's keys, secrets and database). A file or
//!   directory that resolves under one, or a file that is the same inode as one of their
//!   files (a hard link), is refused before anything is read from it.
//! - **Only regular files are read.** A fifo, socket or device where a `.vgo` file or a
//!   template is expected is refused (opening a fifo would block the publish). Files are
//!   opened with `O_NOFOLLOW | O_NONBLOCK` and checked again on the open descriptor
//!   (its inode, and where `/proc/self/fd` says it is), so a file or directory swapped
//!   for a symlink or a fifo between the check and the open is refused.
//! - **Everything is bounded**: [`MAX_FILE_BYTES`] per file, [`MAX_TREE_BYTES`] for the
//!   whole tree, [`MAX_ENTRIES`] directory entries and [`MAX_DEPTH`] levels.
//!
//! Hidden entries (a name starting with `.`) are skipped without being looked at;
//! entries that are neither directories nor files the loader reads (`README.md`) are
//! not opened.

use std::collections::{BTreeMap, HashSet};
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Largest file the loader accepts (a guard against accidents, not a language limit).
pub const MAX_FILE_BYTES: u64 = 8 << 20;
/// Largest tree: the sum of every file read.
pub const MAX_TREE_BYTES: u64 = 64 << 20;
/// Most directory entries looked at in one tree (hidden ones not counted).
pub const MAX_ENTRIES: usize = 100_000;
/// Deepest directory nesting below the root.
pub const MAX_DEPTH: usize = 32;
/// Most files remembered per private directory for the hard-link check.
const MAX_PRIVATE_FILES: usize = 100_000;

/// Why a directory could not be read into a tree. `path` is always the path inside the
/// tree (`templates/x.tmpl`, `.` for the root), `target` where a link leads.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not UTF-8 text.
    #[error("{0}: not UTF-8 text")]
    NotText(String),
    /// A file or directory name is not UTF-8 (shown with replacement characters).
    #[error("{0}: the name is not UTF-8: rename it")]
    BadName(String),
    /// A file is larger than [`MAX_FILE_BYTES`].
    #[error("{0}: larger than {MAX_FILE_BYTES} bytes")]
    TooLarge(String),
    /// A symlink leads out of the tree.
    #[error(
        "{path}: a symlink to {}, outside the stacks tree: refused (a symlink may only \
         point inside the tree; copy the file in instead)",
        target.display()
    )]
    OutsideTree {
        /// The symlink, in the tree.
        path: String,
        /// Where it resolves to.
        target: PathBuf,
    },
    /// A symlink leads nowhere.
    #[error("{path}: a symlink that leads nowhere ({source})")]
    BrokenLink {
        /// The symlink, in the tree.
        path: String,
        /// Why it could not be resolved.
        #[source]
        source: std::io::Error,
    },
    /// A path resolves to (or is a hard link of) something the server keeps private.
    #[error(
        "{path}: leads to {}, which the server keeps private (keys, secrets, database): refused",
        target.display()
    )]
    Private {
        /// The path, in the tree.
        path: String,
        /// The private path it reaches.
        target: PathBuf,
    },
    /// A symlink leads to a directory that contains it.
    #[error("{path}: a symlink to {}, a directory above it: refused (it would loop)", target.display())]
    Loop {
        /// The symlink, in the tree.
        path: String,
        /// The directory it leads back to.
        target: PathBuf,
    },
    /// A fifo, socket or device where a file is read.
    #[error("{path}: a {kind}, not a regular file: refused")]
    Special {
        /// The path, in the tree.
        path: String,
        /// `fifo`, `socket`, `block device` or `character device`.
        kind: &'static str,
    },
    /// A file changed between its check and its open.
    #[error("{0}: changed while it was read; read the tree again")]
    Changed(String),
    /// Directories nested deeper than [`MAX_DEPTH`].
    #[error("{0}: nested deeper than {MAX_DEPTH} directories")]
    TooDeep(String),
    /// More than [`MAX_ENTRIES`] entries.
    #[error("more than {MAX_ENTRIES} files and directories in the tree")]
    TooManyEntries,
    /// More than [`MAX_TREE_BYTES`] in all.
    #[error("more than {MAX_TREE_BYTES} bytes of files in the tree")]
    TreeTooLarge,
}

/// What, beyond the rules every read follows, a read refuses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    private: Vec<PathBuf>,
}

impl ReadOptions {
    /// The default rules only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses `path` (a file, or a directory and everything under it): nothing that
    /// resolves there is opened, nor a hard link of a file there. Paths that do not
    /// exist yet are refused by name.
    #[must_use]
    pub fn refuse_under(mut self, path: impl Into<PathBuf>) -> Self {
        self.private.push(path.into());
        self
    }

    /// The refused paths.
    pub fn refused(&self) -> &[PathBuf] {
        &self.private
    }
}

/// The private paths, resolved: their canonical names and the inodes of their files.
struct Private {
    roots: Vec<PathBuf>,
    inodes: HashSet<(u64, u64)>,
}

impl Private {
    fn resolve(options: &ReadOptions) -> Private {
        let mut private = Private {
            roots: Vec::new(),
            inodes: HashSet::new(),
        };
        for path in &options.private {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            private.collect_inodes(&canonical, 0);
            private.roots.push(canonical);
        }
        private
    }

    /// Remembers the inodes of the files at and under `path` (bounded).
    fn collect_inodes(&mut self, path: &Path, depth: usize) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.is_file() {
            self.inodes.insert((meta.dev(), meta.ino()));
            return;
        }
        if !meta.is_dir() || depth > MAX_DEPTH {
            return;
        }
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            if self.inodes.len() >= MAX_PRIVATE_FILES {
                return;
            }
            self.collect_inodes(&entry.path(), depth + 1);
        }
    }

    /// The private root `path` (canonical) is at or under.
    fn root_of(&self, path: &Path) -> Option<&Path> {
        self.roots
            .iter()
            .find(|r| path.starts_with(r))
            .map(PathBuf::as_path)
    }

    /// Whether `meta` is one of the private files (a hard link of it, say).
    fn holds(&self, meta: &Metadata) -> bool {
        self.inodes.contains(&(meta.dev(), meta.ino()))
    }
}

/// Reads the tree at `root` into `path → text`.
pub(super) fn read_tree(
    root: &Path,
    options: &ReadOptions,
) -> Result<BTreeMap<String, String>, ReadError> {
    let canonical = std::fs::canonicalize(root).map_err(|source| ReadError::Io {
        path: root.display().to_string(),
        source,
    })?;
    let private = Private::resolve(options);
    if let Some(p) = private.root_of(&canonical) {
        return Err(ReadError::Private {
            path: ".".to_owned(),
            target: p.to_path_buf(),
        });
    }
    let mut walk = Walk {
        root: canonical.clone(),
        private,
        files: BTreeMap::new(),
        entries: 0,
        bytes: 0,
        ancestors: Vec::new(),
    };
    walk.dir(&canonical, "", 0)?;
    Ok(walk.files)
}

/// One read in progress.
struct Walk {
    /// The tree's canonical root.
    root: PathBuf,
    private: Private,
    files: BTreeMap<String, String>,
    entries: usize,
    bytes: u64,
    /// `(dev, inode)` of the directories from the root down to the one being read.
    ancestors: Vec<(u64, u64)>,
}

/// Whether the loader reads the file at `rel` (named `name`).
fn is_read(name: &str, rel: &str) -> bool {
    name.ends_with(".vgo") || rel.starts_with("templates/")
}

fn io(rel: &str) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
    move |source| ReadError::Io {
        path: shown(rel).to_owned(),
        source,
    }
}

/// A tree path as shown in messages: `.` for the root.
fn shown(rel: &str) -> &str {
    if rel.is_empty() { "." } else { rel }
}

impl Walk {
    /// Reads the directory at `dir` (canonical), which is `rel` in the tree.
    fn dir(&mut self, dir: &Path, rel: &str, depth: usize) -> Result<(), ReadError> {
        let meta = std::fs::metadata(dir).map_err(io(rel))?;
        self.ancestors.push((meta.dev(), meta.ino()));
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .map_err(io(rel))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(io(rel))?;
        names.sort();
        for os_name in names {
            let lossy = os_name.to_string_lossy();
            if lossy.starts_with('.') {
                continue;
            }
            self.entries += 1;
            if self.entries > MAX_ENTRIES {
                return Err(ReadError::TooManyEntries);
            }
            let child = if rel.is_empty() {
                lossy.into_owned()
            } else {
                format!("{rel}/{lossy}")
            };
            let Some(name) = os_name.to_str() else {
                return Err(ReadError::BadName(child));
            };
            self.entry(&dir.join(name), name, &child, depth)?;
        }
        self.ancestors.pop();
        Ok(())
    }

    /// One entry of a directory: `path` on disk, `rel` in the tree.
    fn entry(&mut self, path: &Path, name: &str, rel: &str, depth: usize) -> Result<(), ReadError> {
        let link = std::fs::symlink_metadata(path).map_err(io(rel))?;
        let (target, meta) = if link.is_symlink() {
            let resolved = std::fs::canonicalize(path).and_then(|t| {
                let meta = std::fs::metadata(&t)?;
                Ok((t, meta))
            });
            match resolved {
                Ok(found) => found,
                // Never followed: a dangling link with a name the loader ignores.
                Err(_) if !is_read(name, rel) => return Ok(()),
                Err(source) => {
                    return Err(ReadError::BrokenLink {
                        path: rel.to_owned(),
                        source,
                    });
                }
            }
        } else {
            (path.to_path_buf(), link)
        };
        let followed = meta.is_dir() || is_read(name, rel);
        if !followed {
            return Ok(());
        }
        if !target.starts_with(&self.root) {
            return Err(ReadError::OutsideTree {
                path: rel.to_owned(),
                target,
            });
        }
        if let Some(p) = self.private.root_of(&target) {
            return Err(ReadError::Private {
                path: rel.to_owned(),
                target: p.to_path_buf(),
            });
        }
        if meta.is_dir() {
            if self.ancestors.contains(&(meta.dev(), meta.ino())) {
                return Err(ReadError::Loop {
                    path: rel.to_owned(),
                    target,
                });
            }
            if depth + 1 > MAX_DEPTH {
                return Err(ReadError::TooDeep(rel.to_owned()));
            }
            return self.dir(&target, rel, depth + 1);
        }
        self.file(&target, rel, &meta)
    }

    /// Reads the file at `path` (no symlink in its last component), `rel` in the tree,
    /// which was `checked` a moment ago.
    fn file(&mut self, path: &Path, rel: &str, checked: &Metadata) -> Result<(), ReadError> {
        special(checked, rel)?;
        let mut file = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(io(rel))?;
        let meta = file.metadata().map_err(io(rel))?;
        special(&meta, rel)?;
        if (meta.dev(), meta.ino()) != (checked.dev(), checked.ino()) {
            return Err(ReadError::Changed(rel.to_owned()));
        }
        // Where the kernel says the open file is: a directory of the path swapped for
        // a symlink after it was checked shows here.
        if let Ok(real) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())) {
            if !real.starts_with(&self.root) {
                return Err(ReadError::OutsideTree {
                    path: rel.to_owned(),
                    target: real,
                });
            }
            if let Some(p) = self.private.root_of(&real) {
                return Err(ReadError::Private {
                    path: rel.to_owned(),
                    target: p.to_path_buf(),
                });
            }
        }
        if self.private.holds(&meta) {
            return Err(ReadError::Private {
                path: rel.to_owned(),
                target: path.to_path_buf(),
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(ReadError::TooLarge(rel.to_owned()));
        }
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io(rel))?;
        let len = bytes.len() as u64;
        if len > MAX_FILE_BYTES {
            return Err(ReadError::TooLarge(rel.to_owned()));
        }
        self.bytes += len;
        if self.bytes > MAX_TREE_BYTES {
            return Err(ReadError::TreeTooLarge);
        }
        let text = String::from_utf8(bytes).map_err(|_| ReadError::NotText(rel.to_owned()))?;
        self.files.insert(rel.to_owned(), text);
        Ok(())
    }
}

/// Refuses anything but a regular file.
fn special(meta: &Metadata, rel: &str) -> Result<(), ReadError> {
    let t = meta.file_type();
    let kind = if t.is_file() {
        return Ok(());
    } else if t.is_fifo() {
        "fifo"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_char_device() {
        "character device"
    } else {
        "special file"
    };
    Err(ReadError::Special {
        path: rel.to_owned(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A tree with one crate and one template, in its own temp dir (`stacks/` inside,
    /// so the temp dir also holds things outside the tree).
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("stacks");
        std::fs::create_dir_all(root.join("configcrates")).unwrap();
        std::fs::create_dir_all(root.join("templates")).unwrap();
        std::fs::write(root.join("configcrates/a.vgo"), "configcrate: a\n").unwrap();
        std::fs::write(root.join("templates/site.conf"), "listen 80;\n").unwrap();
        std::fs::write(dir.path().join("ca_key"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
        (dir, root)
    }

    fn read(root: &Path) -> Result<Vec<String>, ReadError> {
        read_tree(root, &ReadOptions::default()).map(|f| f.into_keys().collect())
    }

    #[test]
    fn a_template_symlink_out_of_the_tree_is_refused_naming_path_and_target() {
        let (dir, root) = tree();
        symlink(dir.path().join("ca_key"), root.join("templates/x.tmpl")).unwrap();
        let e = read(&root).unwrap_err();
        assert!(
            matches!(&e, ReadError::OutsideTree { path, target }
                if path == "templates/x.tmpl" && *target == dir.path().join("ca_key")),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!(
                "templates/x.tmpl: a symlink to {}, outside the stacks tree: refused (a \
                 symlink may only point inside the tree; copy the file in instead)",
                dir.path().join("ca_key").display()
            )
        );
    }

    #[test]
    fn a_relative_symlink_climbing_out_is_refused_too() {
        let (_dir, root) = tree();
        symlink("../../ca_key", root.join("configcrates/b.vgo")).unwrap();
        let e = read(&root).unwrap_err();
        assert!(
            matches!(&e, ReadError::OutsideTree { path, .. } if path == "configcrates/b.vgo"),
            "{e:?}"
        );
    }

    #[test]
    fn a_directory_symlink_out_of_the_tree_is_refused() {
        let (dir, root) = tree();
        std::fs::create_dir(dir.path().join("tls")).unwrap();
        symlink(dir.path().join("tls"), root.join("configcrates/shared")).unwrap();
        let e = read(&root).unwrap_err();
        assert!(
            matches!(&e, ReadError::OutsideTree { path, .. } if path == "configcrates/shared"),
            "{e:?}"
        );
    }

    #[test]
    fn symlinks_inside_the_tree_are_followed() {
        let (_dir, root) = tree();
        symlink("../configcrates/a.vgo", root.join("templates/a-copy")).unwrap();
        std::fs::create_dir(root.join("prod")).unwrap();
        symlink("../configcrates", root.join("prod/crates")).unwrap();
        let paths = read(&root).unwrap();
        assert_eq!(
            paths,
            [
                "configcrates/a.vgo",
                "prod/crates/a.vgo",
                "templates/a-copy",
                "templates/site.conf"
            ]
        );
    }

    #[test]
    fn the_root_may_be_a_symlink() {
        let (dir, root) = tree();
        let link = dir.path().join("current");
        symlink(&root, &link).unwrap();
        assert_eq!(read(&link).unwrap().len(), 2);
    }

    #[test]
    fn a_symlink_to_a_directory_above_is_a_loop() {
        let (_dir, root) = tree();
        symlink("..", root.join("configcrates/up")).unwrap();
        let e = read(&root).unwrap_err();
        assert!(
            matches!(&e, ReadError::Loop { path, target } if path == "configcrates/up" && *target == std::fs::canonicalize(&root).unwrap()),
            "{e:?}"
        );
    }

    #[test]
    fn links_the_loader_would_not_read_are_not_followed() {
        let (dir, root) = tree();
        symlink(dir.path().join("ca_key"), root.join("README.md")).unwrap();
        symlink("/nonexistent/elsewhere", root.join("NOTES")).unwrap();
        assert_eq!(read(&root).unwrap().len(), 2);
        symlink("/nonexistent/elsewhere", root.join("templates/gone")).unwrap();
        let e = read(&root).unwrap_err();
        assert!(
            matches!(&e, ReadError::BrokenLink { path, .. } if path == "templates/gone"),
            "{e:?}"
        );
    }

    #[test]
    fn a_fifo_is_refused_without_opening_it() {
        let (_dir, root) = tree();
        let fifo = root.join("templates/pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opening a fifo for reading blocks until a writer comes: the test would hang.
        let e = read(&root).unwrap_err();
        assert!(
            matches!(&e, ReadError::Special { path, kind: "fifo" } if path == "templates/pipe"),
            "{e:?}"
        );
        // Where the loader reads nothing, it is not looked at.
        std::fs::remove_file(&fifo).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(root.join("pipe"))
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(read(&root).unwrap().len(), 2);
    }

    #[test]
    fn private_paths_and_hard_links_of_their_files_are_never_read() {
        let (dir, root) = tree();
        let tls = dir.path().join("tls");
        std::fs::create_dir(&tls).unwrap();
        std::fs::write(tls.join("key"), "secret key\n").unwrap();
        std::fs::hard_link(tls.join("key"), root.join("templates/key.tmpl")).unwrap();
        let options = ReadOptions::new().refuse_under(&tls);
        let e = read_tree(&root, &options).unwrap_err();
        assert!(
            matches!(&e, ReadError::Private { path, .. } if path == "templates/key.tmpl"),
            "{e:?}"
        );
        // Without the private list the hard link is an ordinary file.
        assert_eq!(read(&root).unwrap().len(), 3);
        // A tree inside a private directory is refused as a whole.
        let inside = tls.join("stacks");
        std::fs::create_dir(&inside).unwrap();
        let e = read_tree(&inside, &options).unwrap_err();
        assert!(
            matches!(&e, ReadError::Private { path, .. } if path == "."),
            "{e:?}"
        );
    }

    #[test]
    fn a_private_directory_inside_the_tree_is_refused() {
        let (_dir, root) = tree();
        let options = ReadOptions::new().refuse_under(root.join("configcrates"));
        let e = read_tree(&root, &options).unwrap_err();
        assert!(
            matches!(&e, ReadError::Private { path, .. } if path == "configcrates"),
            "{e:?}"
        );
    }

    #[test]
    fn sizes_and_depth_are_bounded() {
        let (_dir, root) = tree();
        let big = File::create(root.join("templates/big")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = read(&root).unwrap_err();
        assert!(
            matches!(&e, ReadError::TooLarge(p) if p == "templates/big"),
            "{e:?}"
        );
        std::fs::remove_file(root.join("templates/big")).unwrap();

        let mut deep = root.join("configcrates");
        for i in 0..=MAX_DEPTH {
            deep.push(format!("d{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        let e = read(&root).unwrap_err();
        assert!(matches!(e, ReadError::TooDeep(_)), "{e:?}");
    }
}
