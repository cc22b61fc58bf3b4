//! The data directory (`server.data_dir`) and what in it is private.
//!
//! - **Modes.** The data dir and the private directories the server keeps inside it
//!   (`tls/`, `secrets/`, `db/`) are 0700. At start, [`secure`] creates the data dir 0700
//!   when missing; an existing one (or a private directory inside it) whose mode is
//!   wider is tightened to 0700 with a warning, and one owned by another user, or that
//!   others may write to (a shared directory such as `/tmp`), is refused. Files the
//!   server writes are 0600 (`pki::files`); the SQLite database and its `-wal`/`-shm`
//!   files too (`store::sqlite`). Directories outside the data dir that the file names
//!   (a `key_file` in `/etc/ssl/private`, say) are created 0700 when missing and
//!   otherwise left alone: the server does not own them.
//! - **Private paths** ([`private_paths`]): keys, the secrets store and its master key,
//!   the local admin token, the SQLite directory and `server.yaml` itself. The stacks
//!   reader is told to refuse them, so a publish can never read one, not even through a
//!   hard link.
//! - **Where the stacks may be** ([`check_stacks_dir`]): `<data_dir>/stacks` must resolve
//!   to that directory itself or to a place outside the data dir; it may not be the data
//!   dir, contain it, or sit inside a private path.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use vigo_lang::source::ReadOptions;

use crate::config::ServerConfig;
use crate::pki::files;
use crate::store::StoreConfig;

/// The directory under the data dir that holds the stacks tree.
pub const STACKS_DIR: &str = "stacks";

/// Why the data dir or the stacks dir is not safe to serve from.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// A directory could not be created, read or tightened.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The directory belongs to another user.
    #[error(
        "{}: owned by uid {owner}, not by the server's uid {uid}: refused (chown it, or \
         choose another `server.data_dir`)",
        path.display()
    )]
    NotOwned {
        /// The directory.
        path: PathBuf,
        /// Its owner.
        owner: u32,
        /// The server's effective uid.
        uid: u32,
    },
    /// Others may write into the directory: a shared place, not a data dir.
    #[error(
        "{}: mode {mode:o} lets others write into it: refused (a shared directory cannot \
         hold the server's keys; choose another `server.data_dir`)",
        path.display()
    )]
    Shared {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The stacks directory resolves to a place publish must not read.
    #[error("{}: {problem}", stacks.display())]
    StacksPlacement {
        /// `<data_dir>/stacks`.
        stacks: PathBuf,
        /// Where it resolves and why that is refused.
        problem: String,
    },
}

/// A directory whose mode [`secure`] tightened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tightened {
    /// The directory.
    pub path: PathBuf,
    /// Its mode before (permission bits).
    pub was: u32,
}

/// Makes the data dir and the private directories inside it 0700: creates the data dir
/// when missing, tightens wider modes (returned, for the log), refuses directories that
/// belong to another user or that others may write to.
pub fn secure(config: &ServerConfig) -> Result<Vec<Tightened>, DataDirError> {
    let data_dir = &config.server.data_dir;
    files::ensure_private_dir(data_dir).map_err(|source| DataDirError::Io {
        what: "creating",
        path: data_dir.clone(),
        source,
    })?;
    let mut tightened = Vec::new();
    let mut dirs = vec![data_dir.clone()];
    dirs.extend(
        private_dirs(config)
            .into_iter()
            .filter(|d| d.starts_with(data_dir) && d != data_dir),
    );
    dirs.dedup();
    let uid = nix::unistd::geteuid().as_raw();
    for dir in dirs {
        // The data dir may be a symlink (`/srv/vigo -> /data/vigo`): its target is
        // checked. A private directory inside that is a symlink leads outside, to a
        // place the server does not own, and is left alone.
        let stat = if dir == *data_dir {
            std::fs::metadata(&dir)
        } else {
            std::fs::symlink_metadata(&dir)
        };
        let meta = match stat {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(DataDirError::Io {
                    what: "reading",
                    path: dir,
                    source,
                });
            }
        };
        if !meta.is_dir() {
            continue;
        }
        if meta.uid() != uid {
            return Err(DataDirError::NotOwned {
                path: dir,
                owner: meta.uid(),
                uid,
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o1002 != 0 {
            return Err(DataDirError::Shared { path: dir, mode });
        }
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| DataDirError::Io {
                    what: "tightening",
                    path: dir.clone(),
                    source,
                },
            )?;
            tightened.push(Tightened {
                path: dir,
                was: mode,
            });
        }
    }
    Ok(tightened)
}

/// The directories of [`private_paths`]: the secrets dir, the SQLite dir, and the
/// directory of each key file.
fn private_dirs(config: &ServerConfig) -> Vec<PathBuf> {
    let mut dirs = vec![config.secrets.secrets_dir.clone()];
    dirs.extend(sqlite_dir(config));
    for key in key_files(config) {
        if let Some(parent) = key.parent() {
            dirs.push(parent.to_path_buf());
        }
    }
    dirs.sort();
    dirs.dedup();
    dirs
}

/// The SQLite database's directory, when SQLite is the store.
fn sqlite_dir(config: &ServerConfig) -> Option<PathBuf> {
    match crate::serve::store_config(config) {
        StoreConfig::Sqlite { data_dir } => Some(data_dir),
        StoreConfig::Postgres { .. } => None,
    }
}

/// The files holding keys and tokens.
fn key_files(config: &ServerConfig) -> Vec<PathBuf> {
    let tls = &config.server.tls;
    let mut keys = vec![
        tls.key_file.clone(),
        config.server.signing_key_file.clone(),
        config.secrets.master_key_file(),
        config.auth.local_admin_token_file.clone(),
    ];
    keys.extend(tls.ca_key_file.clone());
    keys.extend(config.secrets.token_file.clone());
    keys
}

/// Everything the server keeps private: key files, the local admin token, the secrets
/// store, the SQLite directory, and `server.yaml` (which may hold a database password).
pub fn private_paths(config: &ServerConfig) -> Vec<PathBuf> {
    let mut paths = key_files(config);
    paths.push(config.secrets.secrets_dir.clone());
    paths.extend(sqlite_dir(config));
    paths.extend(config.source.clone());
    paths.sort();
    paths.dedup();
    paths
}

/// The private path `path` leads to — through symlinks, or as a hard link of a private
/// file — if any. For files the server hands out by path (the agent binary under
/// `<data_dir>/agent/`), so a link placed there by mistake never serves a key.
pub fn private_target(config: &ServerConfig, path: &Path) -> Option<PathBuf> {
    let resolved = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&resolved).ok()?;
    private_paths(config).into_iter().find(|private| {
        let canonical = std::fs::canonicalize(private).unwrap_or_else(|_| private.clone());
        resolved.starts_with(&canonical)
            || std::fs::metadata(&canonical)
                .is_ok_and(|m| m.is_file() && (m.dev(), m.ino()) == (meta.dev(), meta.ino()))
    })
}

/// How the server reads a stacks tree: refusing every private path.
pub fn read_options(config: &ServerConfig) -> ReadOptions {
    private_paths(config)
        .into_iter()
        .fold(ReadOptions::new(), ReadOptions::refuse_under)
}

/// `<data_dir>/stacks`.
pub fn stacks_dir(config: &ServerConfig) -> PathBuf {
    config.server.data_dir.join(STACKS_DIR)
}

/// Checks where `<data_dir>/stacks` resolves (nothing to check when it does not exist):
/// itself or outside the data dir, and neither containing nor inside a private path.
pub fn check_stacks_dir(config: &ServerConfig) -> Result<(), DataDirError> {
    let stacks = stacks_dir(config);
    let Ok(resolved) = std::fs::canonicalize(&stacks) else {
        return Ok(());
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let data_dir = canonical(&config.server.data_dir);
    let refuse = |problem: String| {
        Err(DataDirError::StacksPlacement {
            stacks: stacks.clone(),
            problem,
        })
    };
    let shown = resolved.display();
    if resolved == data_dir {
        return refuse(format!(
            "resolves to the data dir itself ({shown}), which holds the server's keys: \
             refused (keep the stacks tree in its own directory)"
        ));
    }
    if data_dir.starts_with(&resolved) {
        return refuse(format!(
            "resolves to {shown}, which contains the data dir and its keys: refused"
        ));
    }
    if resolved.starts_with(&data_dir) && resolved != data_dir.join(STACKS_DIR) {
        return refuse(format!(
            "resolves to {shown}, elsewhere inside the data dir: refused (it may only be \
             `{}` itself or a directory outside the data dir)",
            data_dir.join(STACKS_DIR).display()
        ));
    }
    for private in private_paths(config) {
        let private = canonical(&private);
        if resolved.starts_with(&private) {
            return refuse(format!(
                "resolves to {shown}, inside {}, which the server keeps private: refused",
                private.display()
            ));
        }
        if private.starts_with(&resolved) {
            return refuse(format!(
                "resolves to {shown}, which contains {}, a file the server keeps \
                 private: refused",
                private.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn config(dir: &Path) -> ServerConfig {
        ServerConfig::defaults(dir)
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn a_missing_data_dir_is_created_0700_and_wide_ones_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("srv/vigo");
        let c = config(&dir);
        assert_eq!(secure(&c).unwrap(), []);
        assert_eq!(mode(&dir), 0o700);

        std::fs::create_dir(dir.join("tls")).unwrap();
        std::fs::create_dir(dir.join("db")).unwrap();
        std::fs::create_dir(dir.join("stacks")).unwrap();
        for d in [&dir, &dir.join("tls"), &dir.join("db"), &dir.join("stacks")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let tightened = secure(&c).unwrap();
        let paths: Vec<&Path> = tightened.iter().map(|t| t.path.as_path()).collect();
        assert_eq!(paths, [dir.as_path(), &dir.join("db"), &dir.join("tls")]);
        assert!(tightened.iter().all(|t| t.was == 0o755));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("tls")), 0o700);
        assert_eq!(mode(&dir.join("db")), 0o700);
        // The stacks tree is the operator's, not private: left as it was.
        assert_eq!(mode(&dir.join("stacks")), 0o755);
    }

    #[test]
    fn a_symlinked_data_dir_is_checked_where_it_leads() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("data");
        std::fs::create_dir(&real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = tmp.path().join("vigo");
        symlink(&real, &link).unwrap();
        assert_eq!(secure(&config(&link)).unwrap().len(), 1);
        assert_eq!(mode(&real), 0o700);
    }

    #[test]
    fn a_shared_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = secure(&config(tmp.path())).unwrap_err();
        assert!(
            matches!(e, DataDirError::Shared { mode: 0o1777, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("lets others write"), "{e}");
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let theirs = tmp.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        let uid = nix::unistd::geteuid().as_raw();
        if uid != 0 {
            // Only root can give a directory away; as another user, the tempdir's
            // parent (owned by root) plays the part.
            let e = secure(&config(Path::new("/"))).unwrap_err();
            assert!(matches!(e, DataDirError::NotOwned { .. }), "{e}");
            return;
        }
        nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        let e = secure(&config(&theirs)).unwrap_err();
        assert!(
            matches!(
                e,
                DataDirError::NotOwned {
                    owner: 65534,
                    uid: 0,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn private_paths_name_keys_secrets_token_database_and_config() {
        let c = config(Path::new("/srv/vigo"));
        let paths = private_paths(&c);
        for p in [
            "/srv/vigo/tls/key",
            "/srv/vigo/tls/ca_key",
            "/srv/vigo/tls/bundle_key",
            "/srv/vigo/secrets",
            "/srv/vigo/secrets/.master.key",
            "/srv/vigo/local-admin.token",
            "/srv/vigo/db",
        ] {
            assert!(paths.contains(&PathBuf::from(p)), "{p}: {paths:?}");
        }
        assert!(
            !paths.contains(&PathBuf::from("/srv/vigo/tls/ca")),
            "public"
        );
    }

    #[test]
    fn private_target_sees_through_symlinks_and_hard_links() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join("tls")).unwrap();
        std::fs::create_dir_all(dir.join("agent")).unwrap();
        std::fs::write(dir.join("tls/ca_key"), "key").unwrap();
        std::fs::write(dir.join("vigo-build"), "ELF").unwrap();
        let c = config(dir);
        let binary = dir.join("agent/vigo");
        assert_eq!(private_target(&c, &binary), None, "missing");
        symlink(dir.join("vigo-build"), &binary).unwrap();
        assert_eq!(private_target(&c, &binary), None, "an ordinary file");
        std::fs::remove_file(&binary).unwrap();
        symlink("../tls/ca_key", &binary).unwrap();
        assert_eq!(private_target(&c, &binary), Some(dir.join("tls/ca_key")));
        std::fs::remove_file(&binary).unwrap();
        std::fs::hard_link(dir.join("tls/ca_key"), &binary).unwrap();
        assert_eq!(private_target(&c, &binary), Some(dir.join("tls/ca_key")));
    }

    #[test]
    fn the_stacks_dir_may_not_be_the_data_dir_contain_it_or_sit_in_a_private_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("vigo");
        std::fs::create_dir_all(dir.join("tls")).unwrap();
        let c = config(&dir);
        // Missing, or an ordinary directory: fine.
        check_stacks_dir(&c).unwrap();
        std::fs::create_dir(dir.join("stacks")).unwrap();
        check_stacks_dir(&c).unwrap();
        std::fs::remove_dir(dir.join("stacks")).unwrap();
        // Outside the data dir: fine.
        std::fs::create_dir(tmp.path().join("git-stacks")).unwrap();
        symlink(tmp.path().join("git-stacks"), dir.join("stacks")).unwrap();
        check_stacks_dir(&c).unwrap();

        for (target, says) in [
            (dir.clone(), "the data dir itself"),
            (tmp.path().to_path_buf(), "contains the data dir"),
            (dir.join("tls"), "elsewhere inside the data dir"),
        ] {
            std::fs::remove_file(dir.join("stacks")).unwrap();
            symlink(&target, dir.join("stacks")).unwrap();
            let e = check_stacks_dir(&c).unwrap_err();
            assert!(e.to_string().contains(says), "{target:?}: {e}");
        }

        // A secrets dir outside the data dir is private too.
        let outside = tmp.path().join("vault");
        std::fs::create_dir_all(outside.join("stacks")).unwrap();
        let mut c = c;
        c.secrets.secrets_dir = outside.clone();
        std::fs::remove_file(dir.join("stacks")).unwrap();
        symlink(outside.join("stacks"), dir.join("stacks")).unwrap();
        let e = check_stacks_dir(&c).unwrap_err();
        assert!(e.to_string().contains("keeps private"), "{e}");
    }
}
