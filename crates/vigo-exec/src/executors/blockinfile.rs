//! `blockinfile`: a block of lines between two marker lines, kept exactly as written.
//!
//! ```yaml
//! - name: limits
//!   type: blockinfile
//!   target_path: /etc/security/limits.conf
//!   label: nofile                 # markers: "# BEGIN nofile - managed by vigo" / "# END …"
//!   block_content: |
//!     *  soft  nofile  65536
//!     *  hard  nofile  65536
//!   insertbefore: "^# End of file" # or insertafter: REGEX|EOF (default), insertbefore: BOF
//!   create: false                 # create the file when missing
//!   mode: "0644"                  # mode of a created file
//!   state: present
//! ```
//!
//! `present` replaces what is between the markers where they are; a block not in the file
//! yet goes after the last line matching `insertafter`, or before the last line matching
//! `insertbefore` (as Ansible's `blockinfile`; `EOF`/`BOF` mean the end/start of the file,
//! a regex that matches nothing means the end). `absent` removes the markers and
//! everything between them. Custom `marker_begin`/`marker_end` may use `{label}`. A
//! symbolic link is followed and its target edited (`follow: false` refuses it).

use std::path::{Path, PathBuf};

use vigo_core::pattern::Position;

use super::edit::{ContentEdit, Edited, follow, join_lines, pattern_error, split_lines};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{ExecError, Executor, Prepared, ResourceDecl};

/// The `blockinfile` executor.
#[derive(Debug, Default)]
pub struct BlockInFileExecutor;

#[derive(Debug, Clone)]
struct Block {
    path: PathBuf,
    /// `None` for `state: absent`.
    content: Option<String>,
    begin: String,
    end: String,
    position: Position,
    create: bool,
    mode: u32,
}

impl Executor for BlockInFileExecutor {
    fn type_name(&self) -> &str {
        types::blockinfile::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::blockinfile::TYPE, decl.name, decl.attributes)?;
        let path = a.req_abs_path("target_path")?;
        let present = a.req_present()?;
        let content = a.opt_str("block_content")?;
        if present && content.is_none() {
            return Err(a.error("block_content", "is required when state is present"));
        }
        let label = a.opt_str("label")?.unwrap_or_else(|| "managed".to_owned());
        let begin = a
            .opt_str("marker_begin")?
            .unwrap_or_else(|| "# BEGIN {label} - managed by vigo".to_owned())
            .replace("{label}", &label);
        let end = a
            .opt_str("marker_end")?
            .unwrap_or_else(|| "# END {label} - managed by vigo".to_owned())
            .replace("{label}", &label);
        if begin == end || begin.contains('\n') || end.contains('\n') {
            return Err(a.error(
                "marker_begin",
                "the markers must be two different single lines",
            ));
        }
        let after = a.opt_str("insertafter")?;
        let before = a.opt_str("insertbefore")?;
        let key = if before.is_some() {
            "insertbefore"
        } else {
            "insertafter"
        };
        let position = Position::from_insert(after.as_deref(), before.as_deref())
            .map_err(pattern_error(&a, key))?;
        let create = a.flag("create")?;
        let mode = a.opt_mode("mode")?.unwrap_or(0o644);
        let links = follow(&mut a)?;
        a.finish()?;
        Ok(Box::new(Edited::new(
            Block {
                path,
                content: if present { content } else { None },
                begin,
                end,
                position,
                create,
                mode,
            },
            links,
        )))
    }
}

impl Block {
    /// Where a new block goes: the index of the line it is inserted before.
    fn insert_at(&self, lines: &[&str]) -> usize {
        let last = |re: &regex::Regex| lines.iter().rposition(|l| re.is_match(l));
        match &self.position {
            Position::End => lines.len(),
            Position::Begin => 0,
            Position::After(re) => last(re).map_or(lines.len(), |i| i + 1),
            Position::Before(re) => last(re).unwrap_or(lines.len()),
        }
    }
}

impl ContentEdit for Block {
    fn path(&self) -> &Path {
        &self.path
    }

    fn create_mode(&self) -> u32 {
        self.mode
    }

    fn edit(&self, current: Option<&str>) -> Result<Option<String>, ExecError> {
        let text = match current {
            Some(t) => t,
            None if self.content.is_none() => return Ok(None),
            None if self.create => "",
            None => {
                return Err(ExecError::failed(format!(
                    "{} does not exist; set `create: true` or create it first",
                    self.path.display()
                )));
            }
        };
        let (lines, trailing) = split_lines(text);
        let begin = lines.iter().position(|l| *l == self.begin);
        let end = begin.and_then(|b| {
            lines[b + 1..]
                .iter()
                .position(|l| *l == self.end)
                .map(|i| b + 1 + i)
        });
        let mut out: Vec<&str> = Vec::with_capacity(lines.len() + 8);
        let block: Vec<&str> = self
            .content
            .as_deref()
            .map(|c| split_lines(c).0)
            .unwrap_or_default();
        match (begin, end) {
            (Some(b), Some(e)) => {
                out.extend(&lines[..b]);
                if self.content.is_some() {
                    out.push(&self.begin);
                    out.extend(&block);
                    out.push(&self.end);
                }
                out.extend(&lines[e + 1..]);
                Ok(Some(join_lines(&out, trailing || self.content.is_some())))
            }
            (Some(_), None) => Err(ExecError::failed(format!(
                "{} has the line `{}` but not `{}`; fix the file by hand",
                self.path.display(),
                self.begin,
                self.end
            ))),
            _ if self.content.is_none() => Ok(Some(text.to_owned())),
            _ => {
                let at = self.insert_at(&lines);
                out.extend(&lines[..at]);
                out.push(&self.begin);
                out.extend(&block);
                out.push(&self.end);
                out.extend(&lines[at..]);
                // A file that did not end with a newline still does not, unless the block
                // goes last.
                Ok(Some(join_lines(&out, trailing || at == lines.len())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::contract::Ctx;
    use crate::executors::edit::testing::converge;

    const CTX: Ctx<'static> = Ctx {
        snapshots: None,
        timeout: Duration::from_secs(10),
    };

    fn run(initial: Option<&str>, attrs: Value) -> Result<Option<String>, String> {
        converge(&BlockInFileExecutor, initial, attrs)
    }

    #[test]
    fn appends_then_replaces_between_markers() {
        let out = run(
            Some("keep\n"),
            json!({"block_content": "a\nb\n", "state": "present"}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            "keep\n# BEGIN managed - managed by vigo\na\nb\n# END managed - managed by vigo\n"
        );
        let out = run(
            Some(&(out + "tail\n")),
            json!({"block_content": "c", "state": "present"}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            "keep\n# BEGIN managed - managed by vigo\nc\n# END managed - managed by vigo\ntail\n"
        );
    }

    #[test]
    fn absent_removes_the_block_only() {
        let text = "x\n# BEGIN app - managed by vigo\nsecret\n# END app - managed by vigo\ny\n";
        assert_eq!(
            run(Some(text), json!({"label": "app", "state": "absent"}))
                .unwrap()
                .unwrap(),
            "x\ny\n"
        );
    }

    #[test]
    fn create_or_refuse() {
        let err = run(None, json!({"block_content": "z", "state": "present"})).unwrap_err();
        assert!(
            err.ends_with("does not exist; set `create: true` or create it first"),
            "{err}"
        );
        let out = run(
            None,
            json!({"block_content": "z", "create": "yes", "state": "present"}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            out,
            "# BEGIN managed - managed by vigo\nz\n# END managed - managed by vigo\n"
        );
        assert_eq!(
            run(None, json!({"state": "absent"})).unwrap(),
            None,
            "absent on a missing file"
        );
    }

    #[test]
    fn created_file_gets_mode() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("new");
        let Value::Object(map) = json!({"target_path": path, "block_content": "z", "create": true, "mode": "0600", "state": "present"})
        else {
            panic!()
        };
        let p = BlockInFileExecutor
            .prepare(&ResourceDecl {
                type_name: "blockinfile",
                name: "b",
                attributes: &map,
            })
            .unwrap();
        let d = p.check(&CTX).unwrap();
        p.apply(&d, &CTX).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn half_a_block_is_an_error() {
        let err = run(
            Some("# BEGIN managed - managed by vigo\nx\n"),
            json!({"block_content": "z", "state": "present"}),
        )
        .unwrap_err();
        assert!(err.ends_with("has the line `# BEGIN managed - managed by vigo` but not `# END managed - managed by vigo`; fix the file by hand"), "{err}");
    }

    fn block(b: &str) -> String {
        format!("# BEGIN managed - managed by vigo\n{b}\n# END managed - managed by vigo\n")
    }

    #[test]
    fn a_new_block_goes_after_or_before_the_last_matching_line() {
        let text = "a\nx\nb\nx\nc\n";
        let with = |extra: Value| {
            let mut attrs = json!({"block_content": "B", "state": "present"});
            attrs
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            run(Some(text), attrs).unwrap().unwrap()
        };
        assert_eq!(
            with(json!({"insertafter": "^x"})),
            format!("a\nx\nb\nx\n{}c\n", block("B"))
        );
        assert_eq!(
            with(json!({"insertbefore": "^x"})),
            format!("a\nx\nb\n{}x\nc\n", block("B"))
        );
        assert_eq!(
            with(json!({"insertbefore": "BOF"})),
            format!("{}{text}", block("B"))
        );
        assert_eq!(
            with(json!({"insertafter": "EOF"})),
            format!("{text}{}", block("B"))
        );
        assert_eq!(
            with(json!({"insertafter": "^nomatch"})),
            format!("{text}{}", block("B"))
        );
        // An existing block stays where it is.
        let placed = format!("a\n{}c\n", block("old"));
        assert_eq!(
            run(
                Some(&placed),
                json!({"block_content": "new", "insertbefore": "BOF", "state": "present"})
            )
            .unwrap()
            .unwrap(),
            format!("a\n{}c\n", block("new"))
        );
    }

    #[test]
    fn insertafter_and_insertbefore_exclude_each_other() {
        assert_eq!(
            run(Some(""), json!({"block_content": "B", "insertafter": "a", "insertbefore": "b", "state": "present"})).unwrap_err(),
            "blockinfile \"t\": attribute `insertbefore`: expected either `insertafter` or `insertbefore`, not both, found \"both\""
        );
    }
}
