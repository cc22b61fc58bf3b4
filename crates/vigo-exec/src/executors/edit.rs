//! The shared mechanism of the executors that manage *part* of a file (`file_line`,
//! `blockinfile`, `replace`, `json_file`, `ini`, `host`): each one is a pure function from
//! the file's current content to its desired content; this module turns that into the
//! executor contract.
//!
//! Which file is edited is decided here, once for all six types: a symbolic link is
//! followed to its final target ([`atomic::resolve`]), which is read, snapshotted and
//! rewritten in place, keeping its mode, owner and group; `follow: false` refuses a link
//! instead. `check` reads the file and runs the edit in memory: equal content means in
//! sync; a file that would be created in a missing directory, a refused link or a target
//! that is not a regular file fail in `check`, so a dry-run reports exactly what the real
//! run then does. `apply` resolves and runs the same edit again on the content it reads
//! then (so a file changed in between is never clobbered with stale text) and writes
//! through the shared atomic writer, which snapshots the old content.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};
use vigo_core::pattern::{self, PatternError};

use crate::atomic::{self, FileMeta, Links, Resolved};
use crate::attrs::{AttrError, Attrs};
use crate::contract::{ChangeKind, Ctx, Difference, Drift, ExecError, Prepared};

/// A resource that manages part of one file's content.
pub(crate) trait ContentEdit: Send + Sync {
    /// The file, as the resource names it (maybe a symbolic link).
    fn path(&self) -> &Path;

    /// The desired content given the current one (`None`: the file does not exist).
    /// Returning `Ok(None)` means "leave the file missing".
    fn edit(&self, current: Option<&str>) -> Result<Option<String>, ExecError>;

    /// Mode for a file this resource creates.
    fn create_mode(&self) -> u32 {
        0o644
    }
}

/// Adapts a [`ContentEdit`] to [`Prepared`], with the resource's link policy.
pub(crate) struct Edited<T> {
    edit: T,
    links: Links,
}

impl<T: ContentEdit> Edited<T> {
    /// The prepared resource; `links` comes from [`follow`].
    pub(crate) fn new(edit: T, links: Links) -> Self {
        Self { edit, links }
    }

    /// The file really edited and its current content.
    fn current(&self) -> Result<(Resolved, Option<String>), ExecError> {
        let file = atomic::resolve(self.edit.path(), self.links)?;
        let text = match &file.existing {
            None => None,
            Some(_) => Some(read(&file.path)?),
        };
        Ok((file, text))
    }
}

/// Reads the `follow` attribute every edit type has (default `true`).
pub(crate) fn follow(a: &mut Attrs<'_>) -> Result<Links, AttrError> {
    Ok(if a.flag("follow")? {
        Links::Follow
    } else {
        Links::Refuse
    })
}

fn read(path: &Path) -> Result<String, ExecError> {
    let bytes =
        fs::read(path).map_err(|e| ExecError::failed(format!("read {}: {e}", path.display())))?;
    String::from_utf8(bytes).map_err(|_| {
        ExecError::failed(format!(
            "{} is not UTF-8 text; refusing to edit it",
            path.display()
        ))
    })
}

fn digest(text: &str) -> String {
    format!(
        "sha256:{}",
        &hex::encode(Sha256::digest(text.as_bytes()))[..12]
    )
}

impl<T: ContentEdit> Prepared for Edited<T> {
    fn check(&self, _ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let (file, current) = self.current()?;
        let desired = self.edit.edit(current.as_deref())?;
        Ok(match (current, desired) {
            (None, None) => Drift::InSync,
            (Some(c), Some(d)) if c == d => Drift::InSync,
            (None, Some(d)) => {
                file.creatable()?;
                Drift::change(
                    ChangeKind::Create,
                    vec![Difference::new("content", "absent", digest(&d))],
                )
            }
            (Some(c), Some(d)) => Drift::change(
                ChangeKind::Update,
                vec![Difference::new("content", digest(&c), digest(&d))],
            ),
            // An edit never deletes the file it edits.
            (Some(_), None) => Drift::InSync,
        })
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        if *drift == Drift::InSync {
            return Ok(());
        }
        let (file, current) = self.current()?;
        let Some(desired) = self.edit.edit(current.as_deref())? else {
            return Ok(());
        };
        if current.as_deref() == Some(desired.as_str()) {
            return Ok(());
        }
        // A rewrite keeps the file's own mode, owner and group; only a new file gets the
        // resource's mode.
        let meta = FileMeta {
            mode: current.is_none().then(|| self.edit.create_mode()),
            uid: None,
            gid: None,
        };
        atomic::write_file(&file.path, desired.as_bytes(), &meta, ctx.snapshots)?;
        Ok(())
    }
}

/// Splits text into lines without their terminators; remembers whether it ended with one.
pub(crate) fn split_lines(text: &str) -> (Vec<&str>, bool) {
    if text.is_empty() {
        return (Vec::new(), true);
    }
    let trailing = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    (body.split('\n').collect(), trailing)
}

/// Joins lines back, with a final newline when there are lines and `trailing` is set —
/// or when lines were added (a file Vigo appends to always ends with a newline).
pub(crate) fn join_lines<S: AsRef<str>>(lines: &[S], trailing: bool) -> String {
    let mut out = lines
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("\n");
    if trailing && !lines.is_empty() {
        out.push('\n');
    }
    out
}

/// The half-open range of line indices `[start, end)` an edit may touch, given optional
/// region regexes: after the first line matching `start` and before the next line
/// matching `end`. `None` when `start` is given and never matches.
pub(crate) fn region(
    lines: &[&str],
    start: Option<&regex::Regex>,
    end: Option<&regex::Regex>,
) -> Option<(usize, usize)> {
    let from = match start {
        None => 0,
        Some(re) => lines.iter().position(|l| re.is_match(l))? + 1,
    };
    let to = match end {
        None => lines.len(),
        Some(re) => lines[from..]
            .iter()
            .position(|l| re.is_match(l))
            .map_or(lines.len(), |i| from + i),
    };
    Some((from, to))
}

/// Turns a pattern error into an error about attribute `key`.
pub(crate) fn pattern_error<'k>(
    a: &'k Attrs<'_>,
    key: &'k str,
) -> impl FnOnce(PatternError) -> AttrError + 'k {
    move |e| a.error(key, e.to_string())
}

/// Reads an optional regex attribute (line by line; an empty pattern is refused).
pub(crate) fn opt_regex<'a>(
    a: &mut Attrs<'a>,
    key: &'a str,
) -> Result<Option<regex::Regex>, AttrError> {
    let text = a.opt_str(key)?;
    text.map(|p| pattern::compile(&p, false).map_err(pattern_error(a, key)))
        .transpose()
}

/// Test support shared by the edit executors' tests.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::{Value, json};

    use crate::contract::{Ctx, Drift, Executor, ResourceDecl};

    /// Writes `initial` (when given) to a temporary file, converges `attrs` (with that file
    /// as `target_path`) through `exec`, asserts the second check is in sync, and returns
    /// the file's content afterwards (`None` when it does not exist). Errors from prepare
    /// or check come back as their messages.
    pub(crate) fn converge(
        exec: &dyn Executor,
        initial: Option<&str>,
        attrs: Value,
    ) -> Result<Option<String>, String> {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("target");
        if let Some(text) = initial {
            std::fs::write(&path, text).unwrap();
        }
        let Value::Object(mut map) = attrs else {
            panic!("attributes must be an object")
        };
        map.insert("target_path".into(), json!(path));
        let ctx = Ctx {
            snapshots: None,
            timeout: std::time::Duration::from_secs(10),
        };
        let p = exec
            .prepare(&ResourceDecl {
                type_name: exec.type_name(),
                name: "t",
                attributes: &map,
            })
            .map_err(|e| e.to_string())?;
        let d = p.check(&ctx).map_err(|e| e.to_string())?;
        p.apply(&d, &ctx).map_err(|e| e.to_string())?;
        assert_eq!(p.check(&ctx).unwrap(), Drift::InSync, "not idempotent");
        Ok(std::fs::read_to_string(&path).ok())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::contract::ResourceDecl;
    use crate::executors::Registry;
    use crate::snapshot::SnapshotStore;

    #[test]
    fn lines_round_trip() {
        for text in ["", "a", "a\n", "a\nb", "a\nb\n", "\n", "a\n\nb\n"] {
            let (lines, trailing) = split_lines(text);
            assert_eq!(join_lines(&lines, trailing), text, "{text:?}");
        }
    }

    #[test]
    fn regions() {
        let lines = ["x", "[main]", "a=1", "[other]", "b=2"];
        let start = regex::Regex::new(r"^\[main\]").unwrap();
        let end = regex::Regex::new(r"^\[").unwrap();
        assert_eq!(region(&lines, Some(&start), Some(&end)), Some((2, 3)));
        assert_eq!(region(&lines, None, None), Some((0, 5)));
        let missing = regex::Regex::new("^nope").unwrap();
        assert_eq!(region(&lines, Some(&missing), None), None);
    }

    /// One resource of every edit type with the content it starts from.
    fn every_edit_type() -> Vec<(&'static str, &'static str, Value)> {
        vec![
            (
                "file_line",
                "password=old\n",
                json!({"line": "password=new", "match_pattern": "^password=", "state": "present"}),
            ),
            (
                "blockinfile",
                "password=old\n",
                json!({"block_content": "extra", "state": "present"}),
            ),
            (
                "replace",
                "password=old\n",
                json!({"match_pattern": "old", "replacement": "new"}),
            ),
            (
                "ini",
                "password = old\n",
                json!({"key": "password", "value": "new", "state": "present"}),
            ),
            (
                "json_file",
                "{\"password\": \"old\"}",
                json!({"key": "password", "value": "\"new\"", "state": "present"}),
            ),
            (
                "host",
                "127.0.0.1 localhost\n",
                json!({"hostname": "db", "ip": "10.0.0.5", "state": "present"}),
            ),
        ]
    }

    fn prepare(type_name: &str, attrs: &Value, path: &Path) -> Box<dyn Prepared> {
        let Value::Object(mut map) = attrs.clone() else {
            panic!("attributes must be an object")
        };
        map.insert("target_path".into(), json!(path));
        Registry::builtin()
            .get(type_name)
            .unwrap()
            .prepare(&ResourceDecl {
                type_name,
                name: "t",
                attributes: &map,
            })
            .unwrap()
    }

    #[test]
    fn every_edit_type_edits_a_links_target_keeping_its_mode_owner_and_a_snapshot() {
        for (type_name, initial, attrs) in every_edit_type() {
            let tmp = tempfile::tempdir().unwrap();
            let store = SnapshotStore::new(tmp.path().join("snaps"), 5);
            let ctx = Ctx {
                snapshots: Some(&store),
                timeout: Duration::from_secs(10),
            };
            let target = tmp.path().join("secret.conf");
            fs::write(&target, initial).unwrap();
            fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
            std::os::unix::fs::chown(&target, Some(4242), Some(4243)).unwrap();
            let link = tmp.path().join("app.conf");
            symlink("secret.conf", &link).unwrap();

            let p = prepare(type_name, &attrs, &link);
            let drift = p.check(&ctx).unwrap();
            assert!(
                matches!(
                    drift,
                    Drift::Change {
                        kind: ChangeKind::Update,
                        ..
                    }
                ),
                "{type_name}: {drift:?}"
            );
            p.apply(&drift, &ctx).unwrap();

            assert!(
                fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink(),
                "{type_name}: the link stays a link"
            );
            let md = fs::metadata(&target).unwrap();
            assert_eq!(md.mode() & 0o7777, 0o600, "{type_name}: mode kept");
            assert_eq!(
                (md.uid(), md.gid()),
                (4242, 4243),
                "{type_name}: owner kept"
            );
            assert_ne!(
                fs::read_to_string(&target).unwrap(),
                initial,
                "{type_name}: target edited"
            );
            let snaps = store.list(Some(&target)).unwrap();
            assert_eq!(snaps.len(), 1, "{type_name}: the target is snapshotted");
            assert_eq!(store.show(&snaps[0].id).unwrap().1, initial.as_bytes());
            assert_eq!(
                p.check(&ctx).unwrap(),
                Drift::InSync,
                "{type_name}: idempotent"
            );
        }
    }

    #[test]
    fn follow_false_refuses_a_link_in_check_so_dry_run_says_so() {
        for (type_name, initial, attrs) in every_edit_type() {
            let tmp = tempfile::tempdir().unwrap();
            let target = tmp.path().join("t");
            fs::write(&target, initial).unwrap();
            let link = tmp.path().join("l");
            symlink(&target, &link).unwrap();
            let mut attrs = attrs.clone();
            attrs["follow"] = json!(false);
            let p = prepare(type_name, &attrs, &link);
            let ctx = Ctx {
                snapshots: None,
                timeout: Duration::from_secs(10),
            };
            let err = p.check(&ctx).unwrap_err().to_string();
            assert!(err.contains("is a symbolic link to"), "{type_name}: {err}");
            assert_eq!(fs::read_to_string(&target).unwrap(), initial);
        }
    }

    #[test]
    fn a_create_in_a_missing_directory_fails_in_check_naming_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("etc/app/new.conf");
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        };
        for (type_name, attrs) in [
            (
                "blockinfile",
                json!({"block_content": "x", "create": true, "state": "present"}),
            ),
            ("ini", json!({"key": "k", "value": "v", "state": "present"})),
            (
                "json_file",
                json!({"key": "k", "value": 1, "state": "present"}),
            ),
            (
                "host",
                json!({"hostname": "h", "ip": "10.0.0.1", "state": "present"}),
            ),
        ] {
            let p = prepare(type_name, &attrs, &path);
            let err = p.check(&ctx).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "cannot create {}: directory {} does not exist (create it first, e.g. with a `directory` resource in depends_on)",
                    path.display(),
                    tmp.path().join("etc").display()
                ),
                "{type_name}"
            );
        }
    }

    /// The errors users read from the edit types, in one reviewed snapshot.
    #[test]
    fn edit_errors_users_read() {
        let tmp = tempfile::tempdir().unwrap();
        let link = tmp.path().join("link.conf");
        symlink("real.conf", &link).unwrap();
        fs::write(tmp.path().join("real.conf"), "a\n").unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_secs(10),
        };
        let prepare_err = |type_name: &str, attrs: Value| {
            let Value::Object(map) = attrs else { panic!() };
            Registry::builtin()
                .get(type_name)
                .unwrap()
                .prepare(&ResourceDecl {
                    type_name,
                    name: "r",
                    attributes: &map,
                })
                .err()
                .map_or_else(|| "accepted".to_owned(), |e| e.to_string())
        };
        let f = "/etc/app.conf";
        let mut out = vec![
            prepare_err(
                "replace",
                json!({"target_path": f, "match_pattern": "v(\\d)", "replacement": "v$1_new"}),
            ),
            prepare_err(
                "replace",
                json!({"target_path": f, "match_pattern": "(a)(b)", "replacement": "$5"}),
            ),
            prepare_err(
                "replace",
                json!({"target_path": f, "match_pattern": "a", "replacement": "x${1"}),
            ),
            prepare_err(
                "replace",
                json!({"target_path": f, "match_pattern": "a", "replacement": "b", "revert": true}),
            ),
            prepare_err(
                "file_line",
                json!({"target_path": f, "line": "x", "match_pattern": "", "state": "present"}),
            ),
            prepare_err(
                "file_line",
                json!({"target_path": f, "line": "$1", "backrefs": true, "state": "present"}),
            ),
            prepare_err(
                "blockinfile",
                json!({"target_path": f, "block_content": "b", "insertafter": "(", "state": "present"}),
            ),
            prepare_err("ini", json!({"target_path": f, "state": "absent"})),
            prepare_err(
                "ini",
                json!({"target_path": f, "key": "k", "state": "present"}),
            ),
        ];
        let check_err = |type_name: &str, attrs: Value, path: &Path| {
            prepare(type_name, &attrs, path)
                .check(&ctx)
                .map_or_else(|e| e.to_string(), |d| format!("{d:?}"))
        };
        out.push(check_err(
            "file_line",
            json!({"line": "b", "follow": false, "state": "present"}),
            &link,
        ));
        out.push(check_err(
            "ini",
            json!({"key": "k", "value": "v", "state": "present"}),
            Path::new("/nonexistent-vigo-dir/app/app.ini"),
        ));
        out.push(check_err(
            "file_line",
            json!({"line": "b", "state": "present"}),
            tmp.path(),
        ));
        let text = out.join("\n");
        insta::with_settings!({filters => vec![(tmp.path().to_str().unwrap(), "[TMP]")]}, {
            insta::assert_snapshot!(text);
        });
    }
}
