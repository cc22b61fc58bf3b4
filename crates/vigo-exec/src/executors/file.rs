//! `file`: the content, mode and owner of one file, or its absence.
//!
//! ```yaml
//! - name: motd
//!   type: file
//!   target_path: /etc/motd
//!   content: "Managed by Vigo. Host {{ .Traits.network.hostname }}\n"
//!   mode: "0644"
//!   owner: root
//!   group: root
//!   backup: ".orig"             # or "true" for <path>.<epoch>.bak
//!   validate: "grep -q Vigo %"  # % = path of the candidate file
//!   state: present
//! ```
//!
//! Drift is detected by SHA-256 of the content, then mode and owner. `source:` names a
//! template the engine renders into `content` before the executor sees it. When `mode`,
//! `owner` or `group` is not given, an existing file keeps its own (a new file gets
//! 0644 and root); a symbolic link at the path is replaced by the file, which keeps the
//! mode and owner of the link's target unless the resource sets them. A file whose
//! directory is missing fails in `check`, naming the directory. Writes go through the
//! shared atomic writer, which snapshots the old content first.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::atomic::{self, FileMeta};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::command::{self, CommandSpec};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl, Staged,
};
use crate::ids;
use crate::stat_cache::{self, ContentCache};

/// The `file` executor.
#[derive(Debug, Default)]
pub struct FileExecutor;

/// What to do with the previous content when it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Backup {
    /// `<path>.<epoch>.bak`.
    Timestamped,
    /// `<path><suffix>`.
    Suffix(String),
}

/// A validated `file` resource.
#[derive(Debug, Clone)]
struct FileSpec {
    path: PathBuf,
    /// `None` for `state: absent`.
    content: Option<Vec<u8>>,
    mode: Option<u32>,
    owner: Option<String>,
    group: Option<String>,
    backup: Option<Backup>,
    validate: Option<String>,
    secontext: Option<String>,
}

impl Executor for FileExecutor {
    fn type_name(&self) -> &str {
        types::file::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::file::TYPE, decl.name, decl.attributes)?;
        let path = a.req_abs_path("target_path")?;
        let state = a.req_enum("state")?;
        let content = a.opt_str("content")?;
        if a.opt_str("source")?.is_some() {
            return Err(a.error(
                "source",
                "was not rendered: the engine turns `source` into `content` before the executor runs",
            ));
        }
        let baseindent = a.opt_u32("baseindent")?;
        let mode = a.opt_mode("mode")?;
        let owner = a.opt_str("owner")?;
        let group = a.opt_str("group")?;
        let backup = a.opt_str("backup")?.map(|b| match b.as_str() {
            "true" | "yes" => Backup::Timestamped,
            suffix => Backup::Suffix(suffix.to_owned()),
        });
        let backup = match backup {
            Some(Backup::Suffix(s)) if s == "false" || s == "no" || s.is_empty() => None,
            other => other,
        };
        let validate = a.opt_str("validate")?;
        let secontext = a.opt_str("secontext")?;
        if a.has("stream_edit") {
            return Err(a.error(
                "stream_edit",
                "is not supported by this agent yet; transform the content in a template instead",
            ));
        }
        a.finish()?;
        let content = if state == "present" {
            let text = content.unwrap_or_default();
            let text = match baseindent {
                Some(n) if n > 0 => indent(&text, n as usize),
                _ => text,
            };
            Some(text.into_bytes())
        } else {
            None
        };
        Ok(Box::new(FileSpec {
            path,
            content,
            mode,
            owner,
            group,
            backup,
            validate,
            secontext,
        }))
    }
}

fn indent(text: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    text.split_inclusive('\n')
        .map(|line| {
            if line.trim().is_empty() {
                line.to_owned()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect()
}

fn sha256_short(bytes: &[u8]) -> String {
    format!("sha256:{}", &hex::encode(Sha256::digest(bytes))[..12])
}

impl FileSpec {
    fn desired_ids(&self) -> Result<(Option<u32>, Option<u32>), ExecError> {
        ids::owner_group(self.owner.as_deref(), self.group.as_deref())
    }
}

impl Prepared for FileSpec {
    fn check(&self, _ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        self.check_with(None)
    }

    fn check_cached(&self, _ctx: &Ctx<'_>, cache: &ContentCache) -> Result<Drift, ExecError> {
        self.check_with(Some(cache))
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        match self.stage(drift, ctx)? {
            Staged::Done => Ok(()),
            Staged::Pending(write) => Ok(write.commit_alone()?),
        }
    }

    fn stage(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<Staged, ExecError> {
        let Drift::Change { kind, differences } = drift else {
            return Ok(Staged::Done);
        };
        let Some(content) = &self.content else {
            atomic::remove_file(&self.path, ctx.snapshots)?;
            return Ok(Staged::Done);
        };
        let content_changes = differences
            .iter()
            .any(|d| d.attribute == "content" || d.attribute == "type");
        if let Some(cmd) = &self.validate
            && content_changes
        {
            self.run_validate(cmd, content, ctx.timeout)?;
        }
        if *kind == ChangeKind::Update
            && content_changes
            && let Some(backup) = &self.backup
        {
            self.write_backup(backup)?;
        }
        let (uid, gid) = self.desired_ids()?;
        let meta = FileMeta {
            mode: self.mode.or(if *kind == ChangeKind::Create {
                Some(0o644)
            } else {
                None
            }),
            uid,
            gid,
        };
        if !(content_changes || *kind == ChangeKind::Create) {
            self.fix_metadata(&meta)?;
        } else if self.secontext.is_none() {
            // Nothing follows the write: it may wait to be committed with others.
            let write = atomic::stage_file(&self.path, content, &meta, ctx.snapshots)?;
            return Ok(Staged::Pending(write));
        } else {
            atomic::write_file(&self.path, content, &meta, ctx.snapshots)?;
        }
        if let Some(context) = &self.secontext {
            apply_secontext(&self.path, context, ctx.timeout)?;
        }
        Ok(Staged::Done)
    }
}

impl FileSpec {
    /// The check; with `cache`, a file whose identity and times match a trusted record
    /// of the desired content is not read again, and one read and found equal is
    /// recorded.
    fn check_with(&self, cache: Option<&ContentCache>) -> Result<Drift, ExecError> {
        // Read before the lstat: a record must not be newer than what it describes.
        let taken_at = cache.map(ContentCache::now);
        let md = ids::lstat(&self.path)?;
        let Some(content) = &self.content else {
            return Ok(match md {
                None => Drift::InSync,
                Some(md) if md.is_dir() => {
                    return Err(ExecError::failed(format!(
                        "{} is a directory; a `file` resource will not remove it (use `directory`)",
                        self.path.display()
                    )));
                }
                Some(_) => Drift::change(
                    ChangeKind::Delete,
                    vec![Difference::new("state", "present", "absent")],
                ),
            });
        };
        let (uid, gid) = self.desired_ids()?;
        let Some(md) = md.filter(|m| !m.file_type().is_symlink() || self.path.is_file()) else {
            // A create the real run cannot do fails here, so a dry-run says so too.
            atomic::check_directory_of(&self.path)?;
            let mut diffs = vec![Difference::new("content", "absent", sha256_short(content))];
            diffs.push(Difference::new(
                "mode",
                "absent",
                format!("{:04o}", self.mode.unwrap_or(0o644)),
            ));
            return Ok(Drift::change(ChangeKind::Create, diffs));
        };
        if md.is_dir() {
            return Err(ExecError::failed(format!(
                "{} is a directory, not a file",
                self.path.display()
            )));
        }
        let mut diffs = Vec::new();
        let read_err =
            |e: std::io::Error| ExecError::failed(format!("read {}: {e}", self.path.display()));
        let is_link = md.file_type().is_symlink();
        // A regular file of another size differs without reading it; one of the same size
        // is compared in one read. The whole old content is read only to name it.
        let same = if is_link {
            same_content(&self.path, content).map_err(read_err)?
        } else if md.len() != content.len() as u64 {
            false
        } else if let (Some(cache), Some(taken_at)) = (cache, taken_at) {
            let want = stat_cache::digest(content);
            cache.vouches(&self.path, &md, &want) || {
                let same = same_content(&self.path, content).map_err(read_err)?;
                if same {
                    cache.record(&self.path, &md, want, taken_at);
                }
                same
            }
        } else {
            same_content(&self.path, content).map_err(read_err)?
        };
        if !same {
            let current = fs::read(&self.path).map_err(read_err)?;
            diffs.push(Difference::new(
                "content",
                sha256_short(&current),
                sha256_short(content),
            ));
        }
        let md = if is_link {
            diffs.push(Difference::new("type", "symlink", "file"));
            fs::metadata(&self.path)
                .map_err(|e| ExecError::failed(format!("stat {}: {e}", self.path.display())))?
        } else {
            md
        };
        if let Some(mode) = self.mode
            && md.mode() & 0o7777 != mode
        {
            diffs.push(Difference::new(
                "mode",
                format!("{:04o}", md.mode() & 0o7777),
                format!("{mode:04o}"),
            ));
        }
        diffs.extend(ids::ownership_diffs(&md, uid, gid, ""));
        Ok(if diffs.is_empty() {
            Drift::InSync
        } else {
            Drift::change(ChangeKind::Update, diffs)
        })
    }
}

impl FileSpec {
    fn run_validate(&self, cmd: &str, content: &[u8], timeout: Duration) -> Result<(), ExecError> {
        let dir = self.path.parent().unwrap_or(Path::new("/"));
        let candidate = tempfile::Builder::new()
            .prefix(".vigo-validate.")
            .tempfile_in(dir)
            .map_err(|e| {
                ExecError::failed(format!("validate: temp file in {}: {e}", dir.display()))
            })?;
        fs::write(candidate.path(), content).map_err(|e| {
            ExecError::failed(format!(
                "validate: write {}: {e}",
                candidate.path().display()
            ))
        })?;
        let quoted = shell_words::quote(&candidate.path().to_string_lossy()).into_owned();
        let script = cmd.replace('%', &quoted);
        let out = command::run(&CommandSpec::shell(&script).timeout(timeout))?;
        if out.success() {
            Ok(())
        } else {
            Err(ExecError::failed(format!(
                "validate command `{cmd}` rejected the new content ({}): {}",
                out.describe_exit(),
                out.stderr_str().trim()
            )))
        }
    }

    fn write_backup(&self, backup: &Backup) -> Result<(), ExecError> {
        let mut name = self.path.clone().into_os_string();
        match backup {
            Backup::Timestamped => {
                let epoch = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                name.push(format!(".{epoch}.bak"));
            }
            Backup::Suffix(s) => name.push(s),
        }
        let dest = PathBuf::from(name);
        let md = fs::metadata(&self.path)
            .map_err(|e| ExecError::failed(format!("backup: stat {}: {e}", self.path.display())))?;
        let old = fs::read(&self.path)
            .map_err(|e| ExecError::failed(format!("backup: read {}: {e}", self.path.display())))?;
        let meta = FileMeta {
            mode: Some(md.mode() & 0o7777),
            uid: Some(md.uid()),
            gid: Some(md.gid()),
        };
        atomic::write_file(&dest, &old, &meta, None)?;
        Ok(())
    }

    fn fix_metadata(&self, meta: &FileMeta) -> Result<(), ExecError> {
        let err = |what: &str, e: std::io::Error| {
            ExecError::failed(format!("{what} {}: {e}", self.path.display()))
        };
        if meta.uid.is_some() || meta.gid.is_some() {
            std::os::unix::fs::chown(&self.path, meta.uid, meta.gid)
                .map_err(|e| err("chown", e))?;
        }
        if let Some(mode) = meta.mode {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&self.path, fs::Permissions::from_mode(mode))
                .map_err(|e| err("chmod", e))?;
        }
        Ok(())
    }
}

/// Applies an SELinux context with `chcon`; a no-op where SELinux is not enabled.
fn apply_secontext(path: &Path, context: &str, timeout: Duration) -> Result<(), ExecError> {
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        return Ok(());
    }
    let out = command::run(
        &CommandSpec::new(["chcon", context, &path.to_string_lossy()]).timeout(timeout),
    )?;
    if out.success() {
        Ok(())
    } else {
        Err(ExecError::failed(format!(
            "chcon {context} {}: {}",
            path.display(),
            out.stderr_str().trim()
        )))
    }
}

/// Whether the file at `path` holds exactly `want`: one open and, for a regular file, one
/// read of up to `want.len() + 1` bytes (a short read of a regular file means its end).
fn same_content(path: &std::path::Path, want: &[u8]) -> std::io::Result<bool> {
    use std::io::Read;
    let mut f = fs::File::open(path)?;
    let mut buf = vec![0u8; want.len() + 1];
    let mut n = 0;
    loop {
        let got = f.read(&mut buf[n..])?;
        n += got;
        if got == 0 || n == buf.len() || n == want.len() {
            break;
        }
    }
    Ok(n == want.len() && buf[..n] == *want)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::snapshot::SnapshotStore;

    #[test]
    fn same_content_compares_exactly() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        fs::write(&p, "abc").unwrap();
        assert!(same_content(&p, b"abc").unwrap());
        assert!(!same_content(&p, b"abd").unwrap());
        assert!(!same_content(&p, b"ab").unwrap(), "longer on disk");
        assert!(!same_content(&p, b"abcd").unwrap(), "shorter on disk");
        fs::write(&p, "").unwrap();
        assert!(same_content(&p, b"").unwrap());
        assert!(same_content(&tmp.path().join("missing"), b"").is_err());
    }

    fn prepare(attrs: Value) -> Result<Box<dyn Prepared>, AttrError> {
        let Value::Object(map) = attrs else {
            panic!("attributes must be an object")
        };
        FileExecutor.prepare(&ResourceDecl {
            type_name: "file",
            name: "f",
            attributes: &map,
        })
    }

    fn converge(p: &dyn Prepared, ctx: &Ctx<'_>) -> Drift {
        let drift = p.check(ctx).unwrap();
        p.apply(&drift, ctx).unwrap();
        drift
    }

    #[test]
    fn create_then_no_op_then_repair_drift() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let ctx = Ctx {
            snapshots: Some(&store),
            timeout: Duration::from_secs(10),
        };
        let path = tmp.path().join("motd");
        let p = prepare(
            json!({"target_path": path, "content": "hello\n", "mode": "0640", "state": "present"}),
        )
        .unwrap();

        assert!(matches!(
            converge(&*p, &ctx),
            Drift::Change {
                kind: ChangeKind::Create,
                ..
            }
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), "hello\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o640);
        assert_eq!(
            p.check(&ctx).unwrap(),
            Drift::InSync,
            "second run is a no-op"
        );

        fs::write(&path, "tampered\n").unwrap();
        let drift = p.check(&ctx).unwrap();
        let Drift::Change {
            kind: ChangeKind::Update,
            differences,
        } = &drift
        else {
            panic!("{drift:?}")
        };
        assert_eq!(differences.len(), 1);
        assert_eq!(differences[0].attribute, "content");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "tampered\n",
            "check never writes"
        );
        p.apply(&drift, &ctx).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "hello\n");
        let snaps = store.list(Some(&path)).unwrap();
        assert_eq!(
            store.show(&snaps[0].id).unwrap().1,
            b"tampered\n",
            "old content snapshotted"
        );
    }

    #[test]
    fn mode_only_drift_keeps_content_and_inode() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        };
        let path = tmp.path().join("f");
        fs::write(&path, "x").unwrap();
        let ino = fs::metadata(&path).unwrap().ino();
        let p = prepare(
            json!({"target_path": path, "content": "x", "mode": "0600", "state": "present"}),
        )
        .unwrap();
        let drift = converge(&*p, &ctx);
        assert_eq!(drift.summary(), "mode 0644 → 0600");
        assert_eq!(fs::metadata(&path).unwrap().ino(), ino);
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
    }

    #[test]
    fn absent_removes_and_snapshots() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
        let ctx = Ctx {
            snapshots: Some(&store),
            timeout: Duration::from_secs(10),
        };
        let path = tmp.path().join("old.conf");
        fs::write(&path, "bye").unwrap();
        let p = prepare(json!({"target_path": path, "state": "absent"})).unwrap();
        assert!(matches!(
            converge(&*p, &ctx),
            Drift::Change {
                kind: ChangeKind::Delete,
                ..
            }
        ));
        assert!(!path.exists());
        assert_eq!(p.check(&ctx).unwrap(), Drift::InSync);
        assert_eq!(store.list(Some(&path)).unwrap().len(), 1);
    }

    #[test]
    fn validate_blocks_bad_content_and_leaves_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        };
        let path = tmp.path().join("app.conf");
        fs::write(&path, "good\n").unwrap();
        let p = prepare(json!({"target_path": path, "content": "bad\n", "validate": "grep -q good %", "state": "present"})).unwrap();
        let drift = p.check(&ctx).unwrap();
        let err = p.apply(&drift, &ctx).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "validate command `grep -q good %` rejected the new content (exit code 1)"
            ),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "good\n");
        let leftovers: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no candidate file left: {leftovers:?}");
    }

    #[test]
    fn backup_suffix_and_timestamped() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        };
        let path = tmp.path().join("hosts");
        fs::write(&path, "v1").unwrap();
        let p = prepare(
            json!({"target_path": path, "content": "v2", "backup": ".orig", "state": "present"}),
        )
        .unwrap();
        converge(&*p, &ctx);
        assert_eq!(
            fs::read_to_string(tmp.path().join("hosts.orig")).unwrap(),
            "v1"
        );
        let p = prepare(
            json!({"target_path": path, "content": "v3", "backup": true, "state": "present"}),
        )
        .unwrap();
        converge(&*p, &ctx);
        let bak = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with("hosts.") && n.ends_with(".bak"))
            .expect("timestamped backup");
        assert_eq!(fs::read_to_string(tmp.path().join(bak)).unwrap(), "v2");
    }

    /// A cache whose records are taken `later` than now, as if the check ran that much
    /// after the file's last change (the tests move time instead of sleeping).
    fn cache_at(later: Duration) -> ContentCache {
        ContentCache::with_clock(
            std::iter::empty(),
            Box::new(move || SystemTime::now() + later),
        )
    }

    fn in_sync_file(dir: &Path) -> (PathBuf, Box<dyn Prepared>) {
        let path = dir.join("app.conf");
        fs::write(&path, "port = 80\n").unwrap();
        let p = prepare(json!({"target_path": path, "content": "port = 80\n", "mode": "0644", "owner": "root", "state": "present"})).unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
        (path, p)
    }

    fn quiet_ctx() -> Ctx<'static> {
        Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn the_stat_cache_spares_the_read_of_an_unchanged_file_only() {
        let tmp = tempfile::tempdir().unwrap();
        let (path, p) = in_sync_file(tmp.path());
        let cache = cache_at(Duration::from_secs(10));
        assert_eq!(p.check_cached(&quiet_ctx(), &cache).unwrap(), Drift::InSync);
        assert_eq!(cache.hits(), 0, "the first check reads the file");
        assert_eq!(cache.changes().len(), 1, "and records it");
        assert_eq!(p.check_cached(&quiet_ctx(), &cache).unwrap(), Drift::InSync);
        assert_eq!(cache.hits(), 1, "the second trusts the record");
        // Another desired content is never vouched for by the record of the old one.
        let other =
            prepare(json!({"target_path": path, "content": "port = 81\n", "state": "present"}))
                .unwrap();
        assert!(matches!(
            other.check_cached(&quiet_ctx(), &cache).unwrap(),
            Drift::Change {
                kind: ChangeKind::Update,
                ..
            }
        ));
    }

    /// Every change to the file after its record was taken is seen: content of the same
    /// size with mtime set back (`utimensat`), mode, owner, and another inode renamed
    /// over it with the same size and mtime.
    #[test]
    fn every_change_behind_a_record_is_seen() {
        type Mutation = fn(&Path);
        let cases: [(&str, Mutation, &str); 4] = [
            (
                "same size, mtime restored",
                |p| {
                    let mtime = fs::metadata(p).unwrap().modified().unwrap();
                    fs::write(p, "port = 99\n").unwrap();
                    fs::File::options()
                        .write(true)
                        .open(p)
                        .unwrap()
                        .set_modified(mtime)
                        .unwrap();
                },
                "content",
            ),
            (
                "mode",
                |p| {
                    fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                        .unwrap();
                },
                "mode",
            ),
            (
                "owner",
                |p| std::os::unix::fs::chown(p, Some(1), None).unwrap(),
                "owner",
            ),
            (
                "renamed over",
                |p| {
                    let md = fs::metadata(p).unwrap();
                    let other = p.with_extension("new");
                    fs::write(&other, "port = 99\n").unwrap();
                    fs::set_permissions(&other, md.permissions()).unwrap();
                    fs::File::options()
                        .write(true)
                        .open(&other)
                        .unwrap()
                        .set_modified(md.modified().unwrap())
                        .unwrap();
                    fs::rename(&other, p).unwrap();
                },
                "content",
            ),
        ];
        for (what, mutate, attribute) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let (path, p) = in_sync_file(tmp.path());
            let cache = cache_at(Duration::from_secs(10));
            assert_eq!(p.check_cached(&quiet_ctx(), &cache).unwrap(), Drift::InSync);
            mutate(&path);
            let drift = p.check_cached(&quiet_ctx(), &cache).unwrap();
            let Drift::Change { differences, .. } = &drift else {
                panic!("{what}: not seen: {drift:?}")
            };
            assert_eq!(differences[0].attribute, attribute, "{what}: {drift:?}");
            assert_eq!(cache.hits(), 0, "{what}: the record was not trusted");
        }
    }

    /// The racy-git rule: a write in the same timestamp tick as the record leaves the
    /// stat as recorded; a record that young is never trusted, so the file is read.
    #[test]
    fn a_record_as_young_as_the_file_is_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        fs::write(&path, "new\n").unwrap();
        let md = fs::symlink_metadata(&path).unwrap();
        // The worst case: the file's stat now equals the record, which names the old
        // content (the write landed in the same tick, after the read).
        let record = |taken_after: i64| stat_cache::Record {
            stat: stat_cache::Stat::of(&md),
            digest: stat_cache::digest(b"old\n"),
            taken_at: (md.ctime() + taken_after, md.ctime_nsec()),
        };
        let wants_old =
            prepare(json!({"target_path": path, "content": "old\n", "state": "present"})).unwrap();
        let racy = ContentCache::new([(path.clone(), record(0))]);
        assert!(
            matches!(
                wants_old.check_cached(&quiet_ctx(), &racy).unwrap(),
                Drift::Change { .. }
            ),
            "a record taken in the file's own tick is read through"
        );
        // The same record 3 s after the change would be trusted: that is what the rule
        // protects against, and why young records are never stored.
        let trusted = ContentCache::new([(path.clone(), record(3))]);
        assert!(trusted.vouches(&path, &md, &stat_cache::digest(b"old\n")));
        let fresh = ContentCache::new(std::iter::empty());
        assert_eq!(
            prepare(json!({"target_path": path, "content": "new\n", "state": "present"}))
                .unwrap()
                .check_cached(&quiet_ctx(), &fresh)
                .unwrap(),
            Drift::InSync
        );
        assert!(
            fresh.changes().is_empty(),
            "a file written just now is not recorded"
        );
    }

    #[test]
    fn baseindent_prefixes_non_empty_lines() {
        assert_eq!(indent("a\n\n  b\nc", 2), "  a\n\n    b\n  c");
    }

    #[test]
    fn bad_attributes_are_named() {
        let cases = [
            (
                json!({"content": "x", "state": "present"}),
                "file \"f\": attribute `target_path`: is required",
            ),
            (
                json!({"target_path": "rel/path", "state": "present"}),
                "file \"f\": attribute `target_path`: expected an absolute path, found \"rel/path\"",
            ),
            (
                json!({"target_path": "/x", "state": "there"}),
                "file \"f\": attribute `state`: expected one of present, absent, found \"there\"",
            ),
            (
                json!({"target_path": "/x", "state": "present", "mode": "rw-r--r--"}),
                "file \"f\": attribute `mode`: expected an octal mode like \"0644\", found \"rw-r--r--\"",
            ),
            (
                json!({"target_path": "/x", "state": "present", "contnet": "x"}),
                "file \"f\": attribute `contnet`: unknown attribute (did you mean `content`?)",
            ),
        ];
        for (attrs, expected) in cases {
            assert_eq!(
                prepare(attrs).err().expect("must fail").to_string(),
                expected
            );
        }
    }

    #[test]
    fn unknown_owner_fails_at_check_with_its_name() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        };
        let p = prepare(json!({"target_path": tmp.path().join("f"), "content": "", "owner": "nobody-vigo-x", "state": "present"})).unwrap();
        assert_eq!(
            p.check(&ctx).unwrap_err().to_string(),
            "no user named `nobody-vigo-x` on this machine"
        );
    }

    #[test]
    fn a_create_in_a_missing_directory_fails_in_check_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        };
        let path = tmp.path().join("missing/app.conf");
        let p = prepare(json!({"target_path": path, "content": "x", "state": "present"})).unwrap();
        assert_eq!(
            p.check(&ctx).unwrap_err().to_string(),
            format!(
                "cannot create {}: directory {} does not exist (create it first, e.g. with a `directory` resource in depends_on)",
                path.display(),
                tmp.path().join("missing").display()
            )
        );
    }

    #[test]
    fn replacing_a_link_keeps_the_mode_of_its_target() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        };
        let target = tmp.path().join("secret");
        fs::write(&target, "password").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let p = prepare(json!({"target_path": link, "content": "x", "state": "present"})).unwrap();
        converge(&*p, &ctx);
        let md = fs::symlink_metadata(&link).unwrap();
        assert!(md.is_file());
        assert_eq!(md.mode() & 0o7777, 0o600);
    }
}
