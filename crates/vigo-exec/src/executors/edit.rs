//! The shared mechanism of the executors that manage *part* of a file (`file_line`,
//! `blockinfile`, `replace`, `json_file`, `ini`, `host`): each one is a pure function from
//! the file's current content to its desired content; this module turns that into the
//! executor contract.
//!
//! `check` reads the file and runs the edit in memory: equal content means in sync.
//! `apply` runs the same edit again on the content it reads then (so a file changed in
//! between is never clobbered with stale text) and writes through the shared atomic
//! writer, which snapshots the old content.

use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::atomic::{self, FileMeta};
use crate::contract::{ChangeKind, Ctx, Difference, Drift, ExecError, Prepared};

/// A resource that manages part of one file's content.
pub(crate) trait ContentEdit: Send + Sync {
    /// The file.
    fn path(&self) -> &Path;

    /// The desired content given the current one (`None`: the file does not exist).
    /// Returning `Ok(None)` means "leave the file missing".
    fn edit(&self, current: Option<&str>) -> Result<Option<String>, ExecError>;

    /// Mode for a file this resource creates.
    fn create_mode(&self) -> u32 {
        0o644
    }
}

/// Adapts a [`ContentEdit`] to [`Prepared`].
pub(crate) struct Edited<T>(pub T);

fn read(path: &Path) -> Result<Option<String>, ExecError> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            ExecError::failed(format!(
                "{} is not UTF-8 text; refusing to edit it",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExecError::failed(format!("read {}: {e}", path.display()))),
    }
}

fn digest(text: &str) -> String {
    format!(
        "sha256:{}",
        &hex::encode(Sha256::digest(text.as_bytes()))[..12]
    )
}

impl<T: ContentEdit> Prepared for Edited<T> {
    fn check(&self, _ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let current = read(self.0.path())?;
        let desired = self.0.edit(current.as_deref())?;
        Ok(match (current, desired) {
            (None, None) => Drift::InSync,
            (Some(c), Some(d)) if c == d => Drift::InSync,
            (None, Some(d)) => Drift::change(
                ChangeKind::Create,
                vec![Difference::new("content", "absent", digest(&d))],
            ),
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
        let current = read(self.0.path())?;
        let Some(desired) = self.0.edit(current.as_deref())? else {
            return Ok(());
        };
        if current.as_deref() == Some(desired.as_str()) {
            return Ok(());
        }
        let meta = FileMeta {
            mode: current.is_none().then(|| self.0.create_mode()),
            uid: None,
            gid: None,
        };
        atomic::write_file(self.0.path(), desired.as_bytes(), &meta, ctx.snapshots)?;
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

/// Compiles a regex attribute, with the error naming the attribute.
pub(crate) fn compile(
    a: &crate::attrs::Attrs<'_>,
    key: &str,
    pattern: &str,
) -> Result<regex::Regex, crate::attrs::AttrError> {
    regex::Regex::new(pattern).map_err(|e| a.error(key, format!("invalid regular expression: {e}")))
}

/// Reads an optional regex attribute.
pub(crate) fn opt_regex<'a>(
    a: &mut crate::attrs::Attrs<'a>,
    key: &'a str,
) -> Result<Option<regex::Regex>, crate::attrs::AttrError> {
    let text = a.opt_str(key)?;
    text.map(|p| compile(a, key, &p)).transpose()
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
    use super::*;

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
}
