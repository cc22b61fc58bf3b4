//! `symlink`: a symbolic or hard link, or its absence.
//!
//! ```yaml
//! - name: nginx-site
//!   type: symlink
//!   target_path: /etc/nginx/sites-enabled/app    # the link
//!   to: /etc/nginx/sites-available/app           # what it points to
//!   link_type: soft                              # or hard
//!   force: true                                  # replace a file already there
//!   state: present
//! ```
//!
//! In sync when a soft link reads back exactly `to`, or a hard link shares `to`'s inode.
//! Something else at `target_path` is replaced only with `force: true` (a directory is
//! never replaced). A link is replaced atomically: created under a temporary name beside
//! it, then renamed over.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};
use crate::ids;

/// The `symlink` executor.
#[derive(Debug, Default)]
pub struct SymlinkExecutor;

#[derive(Debug, Clone)]
struct LinkSpec {
    path: PathBuf,
    /// `None` for `state: absent`.
    to: Option<PathBuf>,
    hard: bool,
    force: bool,
    owner: Option<String>,
    group: Option<String>,
}

impl Executor for SymlinkExecutor {
    fn type_name(&self) -> &str {
        types::symlink::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::symlink::TYPE, decl.name, decl.attributes)?;
        let path = a.req_abs_path("target_path")?;
        let present = a.req_present()?;
        let to = a.opt_str("to")?.map(PathBuf::from);
        if present && to.is_none() {
            return Err(a.error("to", "is required when state is present"));
        }
        // A hard link's `to` is absolute: the definition's rule, checked by `Attrs::new`.
        let hard = a.opt_enum("link_type")?.is_some_and(|t| t == "hard");
        let force = a.flag("force")?;
        let owner = a.opt_str("owner")?;
        let group = a.opt_str("group")?;
        a.finish()?;
        Ok(Box::new(LinkSpec {
            path,
            to: if present { to } else { None },
            hard,
            force,
            owner,
            group,
        }))
    }
}

impl LinkSpec {
    fn is_right_link(&self, md: &fs::Metadata, to: &Path) -> Result<bool, ExecError> {
        if self.hard {
            return Ok(match fs::metadata(to) {
                Ok(tmd) => {
                    !md.file_type().is_symlink() && tmd.dev() == md.dev() && tmd.ino() == md.ino()
                }
                Err(_) => false,
            });
        }
        if !md.file_type().is_symlink() {
            return Ok(false);
        }
        let current = fs::read_link(&self.path)
            .map_err(|e| ExecError::failed(format!("readlink {}: {e}", self.path.display())))?;
        Ok(current == to)
    }

    fn describe(&self, md: Option<&fs::Metadata>) -> String {
        match md {
            None => "absent".to_owned(),
            Some(m) if m.file_type().is_symlink() => match fs::read_link(&self.path) {
                Ok(t) => format!("symlink to {}", t.display()),
                Err(_) => "symlink".to_owned(),
            },
            Some(m) if m.is_dir() => "directory".to_owned(),
            Some(_) => "file".to_owned(),
        }
    }

    fn ids(&self) -> Result<(Option<u32>, Option<u32>), ExecError> {
        ids::owner_group(self.owner.as_deref(), self.group.as_deref())
    }
}

impl Prepared for LinkSpec {
    fn check(&self, _ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let md = ids::lstat(&self.path)?;
        let Some(to) = &self.to else {
            return Ok(match &md {
                None => Drift::InSync,
                Some(m) if m.file_type().is_symlink() || (self.force && !m.is_dir()) => {
                    Drift::change(
                        ChangeKind::Delete,
                        vec![Difference::new(
                            "state",
                            self.describe(md.as_ref()),
                            "absent",
                        )],
                    )
                }
                Some(_) => {
                    return Err(ExecError::failed(format!(
                        "{} is a {}, not a link; set `force: true` to remove it",
                        self.path.display(),
                        self.describe(md.as_ref())
                    )));
                }
            });
        };
        if self.hard && !to.exists() {
            return Err(ExecError::failed(format!(
                "hard link target {} does not exist",
                to.display()
            )));
        }
        let kind_word = if self.hard {
            "hard link to"
        } else {
            "symlink to"
        };
        let desired = format!("{kind_word} {}", to.display());
        let Some(m) = md else {
            return Ok(Drift::change(
                ChangeKind::Create,
                vec![Difference::new("link", "absent", desired)],
            ));
        };
        if self.is_right_link(&m, to)? {
            let (uid, gid) = self.ids()?;
            let diffs = ids::ownership_diffs(&m, uid, gid, "");
            return Ok(if diffs.is_empty() {
                Drift::InSync
            } else {
                Drift::change(ChangeKind::Update, diffs)
            });
        }
        let is_link = m.file_type().is_symlink();
        if m.is_dir() || (!is_link && !self.force) {
            return Err(ExecError::failed(format!(
                "{} is a {}; set `force: true` to replace it with a link{}",
                self.path.display(),
                self.describe(Some(&m)),
                if m.is_dir() {
                    " (directories are never replaced)"
                } else {
                    ""
                }
            )));
        }
        Ok(Drift::change(
            ChangeKind::Update,
            vec![Difference::new("link", self.describe(Some(&m)), desired)],
        ))
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        let Drift::Change { differences, .. } = drift else {
            return Ok(());
        };
        let Some(to) = &self.to else {
            crate::atomic::remove_file(&self.path, ctx.snapshots)?;
            return Ok(());
        };
        if differences.iter().any(|d| d.attribute == "link") {
            let dir = self.path.parent().unwrap_or(Path::new("/"));
            let tmp = dir.join(format!(
                ".{}.vigo-link.{}",
                self.path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let _ = fs::remove_file(&tmp);
            let made = if self.hard {
                fs::hard_link(to, &tmp)
            } else {
                std::os::unix::fs::symlink(to, &tmp)
            };
            made.map_err(|e| {
                ExecError::failed(format!("link {} → {}: {e}", tmp.display(), to.display()))
            })?;
            // A regular file being replaced (force) is snapshotted first.
            if let (Some(store), Ok(m)) = (ctx.snapshots, fs::symlink_metadata(&self.path))
                && m.is_file()
            {
                store
                    .take(&self.path)
                    .map_err(|e| ExecError::failed(e.to_string()))?;
            }
            if let Err(e) = fs::rename(&tmp, &self.path) {
                let _ = fs::remove_file(&tmp);
                return Err(ExecError::failed(format!(
                    "rename into {}: {e}",
                    self.path.display()
                )));
            }
        }
        let (uid, gid) = self.ids()?;
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::lchown(&self.path, uid, gid)
                .map_err(|e| ExecError::failed(format!("chown {}: {e}", self.path.display())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;

    const CTX: Ctx<'static> = Ctx {
        snapshots: None,
        timeout: Duration::from_secs(10),
    };

    fn prepare(attrs: Value) -> Result<Box<dyn Prepared>, AttrError> {
        let Value::Object(map) = attrs else {
            panic!("attributes must be an object")
        };
        SymlinkExecutor.prepare(&ResourceDecl {
            type_name: "symlink",
            name: "l",
            attributes: &map,
        })
    }

    fn converge(p: &dyn Prepared) -> Drift {
        let d = p.check(&CTX).unwrap();
        p.apply(&d, &CTX).unwrap();
        d
    }

    #[test]
    fn soft_link_create_retarget_and_idempotence() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("current");
        let p =
            prepare(json!({"target_path": link, "to": "releases/1", "state": "present"})).unwrap();
        assert!(matches!(
            converge(&*p),
            Drift::Change {
                kind: ChangeKind::Create,
                ..
            }
        ));
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("releases/1"));
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);

        let p2 =
            prepare(json!({"target_path": link, "to": "releases/2", "state": "present"})).unwrap();
        let d = converge(&*p2);
        assert_eq!(
            d.summary(),
            "link symlink to releases/1 → symlink to releases/2"
        );
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("releases/2"));
    }

    #[test]
    fn hard_link_shares_the_inode() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("data");
        fs::write(&target, "x").unwrap();
        let link = tmp.path().join("alias");
        let p = prepare(
            json!({"target_path": link, "to": target, "link_type": "hard", "state": "present"}),
        )
        .unwrap();
        converge(&*p);
        assert_eq!(
            fs::metadata(&link).unwrap().ino(),
            fs::metadata(&target).unwrap().ino()
        );
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);
    }

    #[test]
    fn a_file_in_the_way_needs_force() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("conf");
        fs::write(&link, "real file").unwrap();
        let p = prepare(json!({"target_path": link, "to": "/etc/hostname", "state": "present"}))
            .unwrap();
        let err = p.check(&CTX).unwrap_err().to_string();
        assert!(
            err.ends_with("is a file; set `force: true` to replace it with a link"),
            "{err}"
        );
        let p = prepare(json!({"target_path": link, "to": "/etc/hostname", "force": "true", "state": "present"})).unwrap();
        converge(&*p);
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn absent_removes_links_only() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("l");
        std::os::unix::fs::symlink("/nowhere", &link).unwrap();
        let p = prepare(json!({"target_path": link, "state": "absent"})).unwrap();
        converge(&*p);
        assert!(fs::symlink_metadata(&link).is_err());
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);
    }

    #[test]
    fn present_requires_to() {
        assert_eq!(
            prepare(json!({"target_path": "/x", "state": "present"}))
                .err()
                .unwrap()
                .to_string(),
            "symlink \"l\": attribute `to`: is required when state is present"
        );
    }
}
