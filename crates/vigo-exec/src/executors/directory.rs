//! `directory`: a directory (created with its parents) with a mode and owner, optionally
//! applied recursively to everything inside; or its recursive removal.
//!
//! ```yaml
//! - name: app-data
//!   type: directory
//!   target_path: /srv/app/data
//!   mode: "0750"
//!   owner: www-data
//!   group: www-data
//!   recurse: true
//!   state: present
//! ```
//!
//! `mode` defaults to 0755 for a directory Vigo creates; for an existing directory it is
//! only enforced when given. With `recurse: true`, owner and group apply to every entry
//! below, and `mode` to every subdirectory (files keep their own mode: a directory mode
//! such as 0755 would make every file executable).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};
use crate::ids;

/// The `directory` executor.
#[derive(Debug, Default)]
pub struct DirectoryExecutor;

#[derive(Debug, Clone)]
struct DirSpec {
    path: PathBuf,
    present: bool,
    mode: Option<u32>,
    owner: Option<String>,
    group: Option<String>,
    recurse: bool,
}

impl Executor for DirectoryExecutor {
    fn type_name(&self) -> &str {
        types::directory::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::directory::TYPE, decl.name, decl.attributes)?;
        let path = PathBuf::from(a.req_str("target_path")?);
        if !path.is_absolute() || path == Path::new("/") {
            return Err(a.error(
                "target_path",
                format!(
                    "expected an absolute path other than /, found \"{}\"",
                    path.display()
                ),
            ));
        }
        let present = a.req_present()?;
        let mode = a.opt_mode("mode")?;
        let owner = a.opt_str("owner")?;
        let group = a.opt_str("group")?;
        let recurse = a.flag("recurse")?;
        a.finish()?;
        Ok(Box::new(DirSpec {
            path,
            present,
            mode,
            owner,
            group,
            recurse,
        }))
    }
}

impl DirSpec {
    fn ids(&self) -> Result<(Option<u32>, Option<u32>), ExecError> {
        ids::owner_group(self.owner.as_deref(), self.group.as_deref())
    }

    /// Differences of one entry from the desired mode/owner/group.
    fn entry_diffs(
        &self,
        md: &fs::Metadata,
        uid: Option<u32>,
        gid: Option<u32>,
        label: &str,
    ) -> Vec<Difference> {
        let mut diffs = Vec::new();
        let attr = |a: &str| {
            if label.is_empty() {
                a.to_owned()
            } else {
                format!("{a} of {label}")
            }
        };
        if let Some(mode) = self.mode
            && md.is_dir()
            && md.mode() & 0o7777 != mode
        {
            diffs.push(Difference::new(
                &attr("mode"),
                format!("{:04o}", md.mode() & 0o7777),
                format!("{mode:04o}"),
            ));
        }
        let suffix = if label.is_empty() {
            String::new()
        } else {
            format!(" of {label}")
        };
        diffs.extend(ids::ownership_diffs(md, uid, gid, &suffix));
        diffs
    }

    /// Sets owner/group (when they differ) and, on directories, `mode` (when given).
    fn fix(
        path: &Path,
        md: &fs::Metadata,
        uid: Option<u32>,
        gid: Option<u32>,
        mode: Option<u32>,
    ) -> Result<(), ExecError> {
        let err = |what: &str, e: std::io::Error| {
            ExecError::failed(format!("{what} {}: {e}", path.display()))
        };
        if (uid.is_some_and(|u| u != md.uid())) || (gid.is_some_and(|g| g != md.gid())) {
            std::os::unix::fs::lchown(path, uid, gid).map_err(|e| err("chown", e))?;
        }
        if let Some(mode) = mode
            && md.is_dir()
            && md.mode() & 0o7777 != mode
        {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))
                .map_err(|e| err("chmod", e))?;
        }
        Ok(())
    }
}

impl Prepared for DirSpec {
    fn check(&self, _ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let md = ids::lstat(&self.path)?;
        if !self.present {
            return Ok(match md {
                None => Drift::InSync,
                Some(md) if !md.is_dir() => {
                    return Err(ExecError::failed(format!(
                        "{} is not a directory; refusing to remove it",
                        self.path.display()
                    )));
                }
                Some(_) => Drift::change(
                    ChangeKind::Delete,
                    vec![Difference::new("state", "present", "absent")],
                ),
            });
        }
        let (uid, gid) = self.ids()?;
        let Some(md) = md else {
            return Ok(Drift::change(
                ChangeKind::Create,
                vec![Difference::new(
                    "state",
                    "absent",
                    format!("directory {:04o}", self.mode.unwrap_or(0o755)),
                )],
            ));
        };
        if !md.is_dir() {
            return Err(ExecError::failed(format!(
                "{} exists and is not a directory",
                self.path.display()
            )));
        }
        let mut diffs = self.entry_diffs(&md, uid, gid, "");
        if self.recurse {
            let mut drifted = 0usize;
            for entry in walkdir::WalkDir::new(&self.path).min_depth(1) {
                let entry = entry.map_err(|e| {
                    ExecError::failed(format!("walking {}: {e}", self.path.display()))
                })?;
                let emd = entry.metadata().map_err(|e| {
                    ExecError::failed(format!("stat {}: {e}", entry.path().display()))
                })?;
                if !self.entry_diffs(&emd, uid, gid, "x").is_empty() {
                    drifted += 1;
                }
            }
            if drifted > 0 {
                diffs.push(Difference::new(
                    "entries inside",
                    format!("{drifted} differ"),
                    "all match",
                ));
            }
        }
        Ok(if diffs.is_empty() {
            Drift::InSync
        } else {
            Drift::change(ChangeKind::Update, diffs)
        })
    }

    fn apply(&self, drift: &Drift, _ctx: &Ctx<'_>) -> Result<(), ExecError> {
        let Drift::Change { kind, .. } = drift else {
            return Ok(());
        };
        if *kind == ChangeKind::Delete {
            return fs::remove_dir_all(&self.path)
                .map_err(|e| ExecError::failed(format!("remove {}: {e}", self.path.display())));
        }
        if *kind == ChangeKind::Create {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(self.mode.unwrap_or(0o755))
                .create(&self.path)
                .map_err(|e| ExecError::failed(format!("mkdir {}: {e}", self.path.display())))?;
        }
        let (uid, gid) = self.ids()?;
        // A new directory gets its mode explicitly: mkdir's mode is filtered by the umask.
        let top_mode = if *kind == ChangeKind::Create {
            Some(self.mode.unwrap_or(0o755))
        } else {
            self.mode
        };
        let md = fs::symlink_metadata(&self.path)
            .map_err(|e| ExecError::failed(format!("stat {}: {e}", self.path.display())))?;
        Self::fix(&self.path, &md, uid, gid, top_mode)?;
        if self.recurse {
            for entry in walkdir::WalkDir::new(&self.path).min_depth(1) {
                let entry = entry.map_err(|e| {
                    ExecError::failed(format!("walking {}: {e}", self.path.display()))
                })?;
                let emd = entry.metadata().map_err(|e| {
                    ExecError::failed(format!("stat {}: {e}", entry.path().display()))
                })?;
                Self::fix(entry.path(), &emd, uid, gid, self.mode)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    fn prepare(attrs: Value) -> Result<Box<dyn Prepared>, AttrError> {
        let Value::Object(map) = attrs else {
            panic!("attributes must be an object")
        };
        DirectoryExecutor.prepare(&ResourceDecl {
            type_name: "directory",
            name: "d",
            attributes: &map,
        })
    }

    const CTX: Ctx<'static> = Ctx {
        snapshots: None,
        timeout: Duration::from_secs(10),
    };

    #[test]
    fn creates_with_parents_then_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/c");
        let p = prepare(json!({"target_path": path, "mode": "0750", "state": "present"})).unwrap();
        let drift = p.check(&CTX).unwrap();
        assert!(matches!(
            drift,
            Drift::Change {
                kind: ChangeKind::Create,
                ..
            }
        ));
        p.apply(&drift, &CTX).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o750);
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);
    }

    #[test]
    fn recurse_fixes_subdirectory_modes_but_not_file_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("tree");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::set_permissions(root.join("sub"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(root.join("sub/file"), "x").unwrap();
        fs::set_permissions(root.join("sub/file"), fs::Permissions::from_mode(0o600)).unwrap();
        let p = prepare(
            json!({"target_path": root, "mode": "0755", "recurse": "true", "state": "present"}),
        )
        .unwrap();
        let drift = p.check(&CTX).unwrap();
        assert_eq!(drift.summary(), "entries inside 1 differ → all match");
        p.apply(&drift, &CTX).unwrap();
        assert_eq!(
            fs::metadata(root.join("sub")).unwrap().mode() & 0o7777,
            0o755
        );
        assert_eq!(
            fs::metadata(root.join("sub/file")).unwrap().mode() & 0o7777,
            0o600
        );
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);
    }

    #[test]
    fn absent_removes_recursively() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("gone");
        fs::create_dir_all(root.join("x/y")).unwrap();
        let p = prepare(json!({"target_path": root, "state": "absent"})).unwrap();
        let drift = p.check(&CTX).unwrap();
        p.apply(&drift, &CTX).unwrap();
        assert!(!root.exists());
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);
    }

    #[test]
    fn refuses_root_and_files() {
        assert_eq!(
            prepare(json!({"target_path": "/", "state": "absent"}))
                .err()
                .unwrap()
                .to_string(),
            "directory \"d\": attribute `target_path`: expected an absolute path other than /, found \"/\""
        );
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("file");
        fs::write(&f, "").unwrap();
        let p = prepare(json!({"target_path": f, "state": "present"})).unwrap();
        assert!(
            p.check(&CTX)
                .unwrap_err()
                .to_string()
                .ends_with("exists and is not a directory")
        );
    }
}
