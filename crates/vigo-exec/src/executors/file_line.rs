//! `file_line`: one line in a file — present (replacing lines that match a pattern, or
//! inserted at a position) or absent.
//!
//! ```yaml
//! - name: sshd-no-root
//!   type: file_line
//!   target_path: /etc/ssh/sshd_config
//!   line: "PermitRootLogin no"
//!   match_pattern: "^#?PermitRootLogin"
//!   position: "after:^#?Port "      # end (default), begin, after:<regex>, before:<regex>
//!   state: present
//! ```
//!
//! - `present`: lines matching `match_pattern` are replaced by `line`; when none match
//!   and `line` is not already there, it is inserted at `position` (the first line a
//!   position regex matches; one that matches nothing falls back to the end).
//! - `backrefs: true` (present only, needs `match_pattern`): `line` may use the pattern's
//!   groups (`$1`, `${1}`, `${name}`); each matching line is replaced by `line` expanded
//!   with its own match, and when no line matches the file is left alone (nothing is
//!   inserted: there is nothing to expand the groups from). Without `backrefs`, `$` in
//!   `line` is literal text.
//! - `absent`: lines equal to `line`, or matching `match_pattern`, are removed.
//! - `region_start`/`region_end` bound the lines considered (e.g. one INI section): after
//!   the first line matching `region_start`, up to the next matching `region_end`.
//! - `follow` (default `true`): a symbolic link is followed and its target edited.
//!
//! An empty `match_pattern` would match every line and is refused. The file must exist:
//! create it with a `file` resource first (`depends_on`).

use std::path::{Path, PathBuf};

use regex::Regex;
use vigo_core::pattern::{Position, Template};

use super::edit::{
    ContentEdit, Edited, follow, join_lines, opt_regex, pattern_error, region, split_lines,
};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{ExecError, Executor, Prepared, ResourceDecl};

/// The `file_line` executor.
#[derive(Debug, Default)]
pub struct FileLineExecutor;

#[derive(Debug, Clone)]
struct FileLine {
    path: PathBuf,
    present: bool,
    line: Option<String>,
    pattern: Option<Regex>,
    /// `backrefs: true`: `line` expanded with each match.
    backrefs: Option<Template>,
    position: Position,
    region_start: Option<Regex>,
    region_end: Option<Regex>,
}

impl Executor for FileLineExecutor {
    fn type_name(&self) -> &str {
        types::file_line::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::file_line::TYPE, decl.name, decl.attributes)?;
        let path = a.req_abs_path("target_path")?;
        let present = a.req_present()?;
        let line = a.opt_str("line")?;
        if line.as_deref().is_some_and(|l| l.contains('\n')) {
            return Err(a.error(
                "line",
                "must be a single line (use `blockinfile` for several)",
            ));
        }
        let pattern = opt_regex(&mut a, "match_pattern")?;
        if present && line.is_none() {
            return Err(a.error("line", "is required when state is present"));
        }
        if !present && line.is_none() && pattern.is_none() {
            return Err(a.error("line", "state absent needs `line` or `match_pattern`"));
        }
        let position_text = a.opt_str("position")?;
        let position = match &position_text {
            None => Position::End,
            Some(p) => Position::parse(p).map_err(pattern_error(&a, "position"))?,
        };
        let backrefs = match (a.flag("backrefs")?, &pattern, &line) {
            (false, _, _) => None,
            (true, _, _) if !present => {
                return Err(a.error("backrefs", "only applies to state present"));
            }
            (true, None, _) => {
                return Err(a.error(
                    "backrefs",
                    "needs `match_pattern` (the groups `line` refers to)",
                ));
            }
            (true, Some(_), _) if position_text.is_some() => {
                return Err(a.error(
                    "position",
                    "has no effect with `backrefs: true` (a matching line is replaced, nothing is inserted)",
                ));
            }
            (true, Some(re), Some(l)) => {
                Some(Template::for_pattern(l, re).map_err(pattern_error(&a, "line"))?)
            }
            (true, Some(_), None) => None,
        };
        let region_start = opt_regex(&mut a, "region_start")?;
        let region_end = opt_regex(&mut a, "region_end")?;
        let links = follow(&mut a)?;
        a.finish()?;
        Ok(Box::new(Edited::new(
            FileLine {
                path,
                present,
                line,
                pattern,
                backrefs,
                position,
                region_start,
                region_end,
            },
            links,
        )))
    }
}

impl FileLine {
    /// With `backrefs`: each matching line in `[from, to)` becomes `line` expanded with
    /// its match; no match leaves the text alone.
    fn expand_matches(
        &self,
        template: &Template,
        lines: &[&str],
        (from, to): (usize, usize),
    ) -> Vec<String> {
        let pattern = self.pattern.as_ref().expect("backrefs needs a pattern");
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| match pattern.captures(l) {
                Some(caps) if (from..to).contains(&i) => template.expand(&caps),
                _ => (*l).to_owned(),
            })
            .collect()
    }
}

impl ContentEdit for FileLine {
    fn path(&self) -> &Path {
        &self.path
    }

    fn edit(&self, current: Option<&str>) -> Result<Option<String>, ExecError> {
        let Some(text) = current else {
            if !self.present {
                return Ok(None);
            }
            return Err(ExecError::failed(format!(
                "{} does not exist; create it first (a `file` resource in depends_on)",
                self.path.display()
            )));
        };
        let (lines, trailing) = split_lines(text);
        let Some((from, to)) = region(&lines, self.region_start.as_ref(), self.region_end.as_ref())
        else {
            // The region does not exist: nothing to remove, nowhere to insert.
            return if self.present {
                Err(ExecError::failed(format!(
                    "region_start matches no line of {}",
                    self.path.display()
                )))
            } else {
                Ok(Some(text.to_owned()))
            };
        };
        if let Some(template) = &self.backrefs {
            let out = self.expand_matches(template, &lines, (from, to));
            return Ok(Some(join_lines(&out, trailing)));
        }
        let matches = |l: &str| {
            self.pattern.as_ref().is_some_and(|p| p.is_match(l))
                || (!self.present && self.line.as_deref() == Some(l))
        };
        let mut out: Vec<String> = Vec::with_capacity(lines.len() + 1);
        if !self.present {
            for (i, l) in lines.iter().enumerate() {
                if !((from..to).contains(&i) && matches(l)) {
                    out.push((*l).to_owned());
                }
            }
            return Ok(Some(join_lines(&out, trailing)));
        }
        let line = self.line.as_deref().unwrap_or_default();
        let mut replaced = false;
        for (i, l) in lines.iter().enumerate() {
            if (from..to).contains(&i) && matches(l) {
                out.push(line.to_owned());
                replaced = true;
            } else {
                out.push((*l).to_owned());
            }
        }
        if replaced || lines[from..to].contains(&line) {
            return Ok(Some(join_lines(&out, trailing)));
        }
        let at = match &self.position {
            Position::End => to,
            Position::Begin => from,
            Position::After(re) => lines[from..to]
                .iter()
                .position(|l| re.is_match(l))
                .map_or(to, |i| from + i + 1),
            Position::Before(re) => lines[from..to]
                .iter()
                .position(|l| re.is_match(l))
                .map_or(to, |i| from + i),
        };
        out.insert(at, line.to_owned());
        Ok(Some(join_lines(&out, true)))
    }
}

#[cfg(test)]
mod tests {

    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::contract::Ctx;
    use crate::executors::edit::testing::converge;

    const CTX: Ctx<'static> = Ctx {
        snapshots: None,
        timeout: Duration::from_secs(10),
    };

    fn run(initial: &str, attrs: Value) -> String {
        converge(&FileLineExecutor, Some(initial), attrs)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn appends_when_missing_and_adds_a_newline() {
        assert_eq!(
            run("a\nb", json!({"line": "c", "state": "present"})),
            "a\nb\nc\n"
        );
        assert_eq!(
            run("a\nc\n", json!({"line": "c", "state": "present"})),
            "a\nc\n"
        );
    }

    #[test]
    fn replaces_matching_lines() {
        let cfg = "Port 22\n#PermitRootLogin yes\nUsePAM yes\n";
        assert_eq!(
            run(
                cfg,
                json!({"line": "PermitRootLogin no", "match_pattern": "^#?PermitRootLogin", "state": "present"})
            ),
            "Port 22\nPermitRootLogin no\nUsePAM yes\n"
        );
    }

    #[test]
    fn positions() {
        let base = "one\ntwo\nthree\n";
        assert_eq!(
            run(
                base,
                json!({"line": "zero", "position": "begin", "state": "present"})
            ),
            "zero\none\ntwo\nthree\n"
        );
        assert_eq!(
            run(
                base,
                json!({"line": "2.5", "position": "after:^two", "state": "present"})
            ),
            "one\ntwo\n2.5\nthree\n"
        );
        assert_eq!(
            run(
                base,
                json!({"line": "1.5", "position": "before:^two", "state": "present"})
            ),
            "one\n1.5\ntwo\nthree\n"
        );
        assert_eq!(
            run(
                base,
                json!({"line": "four", "position": "after:^nomatch", "state": "present"})
            ),
            "one\ntwo\nthree\nfour\n"
        );
    }

    #[test]
    fn absent_removes_exact_lines_or_matches() {
        assert_eq!(
            run("a\nb\na\n", json!({"line": "a", "state": "absent"})),
            "b\n"
        );
        assert_eq!(
            run(
                "x=1\ny=2\nx=3\n",
                json!({"match_pattern": "^x=", "state": "absent"})
            ),
            "y=2\n"
        );
    }

    #[test]
    fn region_bounds_the_edit() {
        let ini = "[a]\nkey=1\n[b]\nkey=1\n";
        assert_eq!(
            run(
                ini,
                json!({"line": "key=2", "match_pattern": "^key=", "region_start": "^\\[b\\]", "region_end": "^\\[", "state": "present"})
            ),
            "[a]\nkey=1\n[b]\nkey=2\n"
        );
        assert_eq!(
            run(
                ini,
                json!({"line": "new=1", "region_start": "^\\[a\\]", "region_end": "^\\[", "state": "present"})
            ),
            "[a]\nkey=1\nnew=1\n[b]\nkey=1\n"
        );
    }

    #[test]
    fn missing_file_is_an_error_for_present() {
        let map = json!({"target_path": "/nonexistent/vigo/f", "line": "x", "state": "present"});
        let Value::Object(map) = map else { panic!() };
        let p = FileLineExecutor
            .prepare(&ResourceDecl {
                type_name: "file_line",
                name: "l",
                attributes: &map,
            })
            .unwrap();
        assert_eq!(
            p.check(&CTX).unwrap_err().to_string(),
            "/nonexistent/vigo/f does not exist; create it first (a `file` resource in depends_on)"
        );
    }

    #[test]
    fn bad_attributes() {
        let check = |attrs: Value, expected: &str| {
            let Value::Object(map) = attrs else { panic!() };
            let err = FileLineExecutor
                .prepare(&ResourceDecl {
                    type_name: "file_line",
                    name: "l",
                    attributes: &map,
                })
                .err()
                .unwrap();
            assert_eq!(err.to_string(), expected);
        };
        check(
            json!({"target_path": "/f", "state": "present"}),
            "file_line \"l\": attribute `line`: is required when state is present",
        );
        check(
            json!({"target_path": "/f", "line": "x", "match_pattern": "(", "state": "present"}),
            "file_line \"l\": attribute `match_pattern`: invalid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group",
        );
        check(
            json!({"target_path": "/f", "line": "x", "position": "middle", "state": "present"}),
            "file_line \"l\": attribute `position`: expected end, begin, after:<regex> or before:<regex>, found \"middle\"",
        );
        check(
            json!({"target_path": "/f", "line": "a\nb", "state": "present"}),
            "file_line \"l\": attribute `line`: must be a single line (use `blockinfile` for several)",
        );
    }

    #[test]
    fn an_empty_match_pattern_is_refused_instead_of_rewriting_every_line() {
        assert_eq!(
            converge(
                &FileLineExecutor,
                Some("a\nb\n"),
                json!({"line": "x", "match_pattern": "", "state": "present"})
            )
            .unwrap_err(),
            "file_line \"t\": attribute `match_pattern`: is empty: an empty regular expression matches everywhere (write `^` if every line is meant)"
        );
    }

    #[test]
    fn backrefs_expand_each_match_and_never_insert() {
        let jvm = "JAVA_OPTS=-Xms512m -Xmx1g\nother\n";
        let attrs = json!({"line": "${1}-Xms2g${2}", "match_pattern": "^(.*)-Xms\\d+[mg](.*)$", "backrefs": true, "state": "present"});
        assert_eq!(run(jvm, attrs.clone()), "JAVA_OPTS=-Xms2g -Xmx1g\nother\n");
        assert_eq!(
            run("nothing here\n", attrs),
            "nothing here\n",
            "no match: left alone"
        );
        assert_eq!(
            run("a\n", json!({"line": "cost $5", "state": "present"})),
            "a\ncost $5\n",
            "without backrefs `$` is literal"
        );
    }

    #[test]
    fn backrefs_need_a_pattern_with_those_groups() {
        let err = |attrs: Value| converge(&FileLineExecutor, Some("a\n"), attrs).unwrap_err();
        assert_eq!(
            err(json!({"line": "$1", "backrefs": true, "state": "present"})),
            "file_line \"t\": attribute `backrefs`: needs `match_pattern` (the groups `line` refers to)"
        );
        assert_eq!(
            err(
                json!({"line": "$2", "match_pattern": "(a)", "backrefs": true, "state": "present"})
            ),
            "file_line \"t\": attribute `line`: `$2` refers to group 2, but the pattern has 1 group(s) ($0 is the whole match, $1 the group)"
        );
        assert_eq!(
            err(json!({"match_pattern": "a", "backrefs": true, "state": "absent"})),
            "file_line \"t\": attribute `backrefs`: only applies to state present"
        );
    }
}
