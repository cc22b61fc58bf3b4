//! `replace`: a regular-expression substitution over a file, with `$1`-style references
//! to the pattern's groups.
//!
//! ```yaml
//! - name: listen-address
//!   type: replace
//!   target_path: /etc/postgresql/15/main/postgresql.conf
//!   match_pattern: "^#?listen_addresses = '(.*)'$"
//!   replacement: "listen_addresses = '*' # was ${1}"
//!   occurrences: all             # or first
//!   region_start: "^# CONNECTIONS"
//!   region_end: "^# AUTHENTICATION"
//! ```
//!
//! The pattern runs over the file (or the region) with `^`/`$` anchoring lines. In the
//! replacement, `$1`/`${1}` is group 1, `${name}` a named group, `$$` a literal `$`; a
//! reference takes the longest run of letters, digits and `_`, so group 1 followed by
//! `_new` is `${1}_new`. A reference to a group the pattern does not have is refused
//! (publish and agent alike) instead of silently becoming empty text. There is no
//! `state`: the substitution is applied in memory and the file is written only when the
//! result differs, so a replacement that matches its own pattern is still idempotent.
//! With `occurrences: first`, write the pattern so it also matches the replaced text
//! (`^(?:port|listen)=`): otherwise every run replaces the next match. The region is the
//! lines after the first line matching `region_start` up to the next line matching
//! `region_end` (either may be omitted). `revert: true` with an `on_revert` command is
//! refused at publish: this agent does not run `on_revert` yet.

use std::path::{Path, PathBuf};

use regex::{Captures, Regex};
use vigo_core::pattern::{self, Template};

use super::edit::{
    ContentEdit, Edited, follow, join_lines, opt_regex, pattern_error, region, split_lines,
};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{ExecError, Executor, Prepared, ResourceDecl};

/// The `replace` executor.
#[derive(Debug, Default)]
pub struct ReplaceExecutor;

#[derive(Debug, Clone)]
struct Replace {
    path: PathBuf,
    pattern: Regex,
    replacement: Template,
    first_only: bool,
    region_start: Option<Regex>,
    region_end: Option<Regex>,
}

impl Executor for ReplaceExecutor {
    fn type_name(&self) -> &str {
        types::replace::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::replace::TYPE, decl.name, decl.attributes)?;
        let path = a.req_abs_path("target_path")?;
        let pattern_text = a.req_str("match_pattern")?;
        let pattern =
            pattern::compile(&pattern_text, true).map_err(pattern_error(&a, "match_pattern"))?;
        let replacement_text = a.req_str("replacement")?;
        let replacement = Template::for_pattern(&replacement_text, &pattern)
            .map_err(pattern_error(&a, "replacement"))?;
        let first_only = a.opt_enum("occurrences")?.is_some_and(|o| o == "first");
        let region_start = opt_regex(&mut a, "region_start")?;
        let region_end = opt_regex(&mut a, "region_end")?;
        let links = follow(&mut a)?;
        a.finish()?;
        Ok(Box::new(Edited::new(
            Replace {
                path,
                pattern,
                replacement,
                first_only,
                region_start,
                region_end,
            },
            links,
        )))
    }
}

impl ContentEdit for Replace {
    fn path(&self) -> &Path {
        &self.path
    }

    fn edit(&self, current: Option<&str>) -> Result<Option<String>, ExecError> {
        let Some(text) = current else {
            return Err(ExecError::failed(format!(
                "{} does not exist",
                self.path.display()
            )));
        };
        let (lines, trailing) = split_lines(text);
        let Some((from, to)) = region(&lines, self.region_start.as_ref(), self.region_end.as_ref())
        else {
            return Ok(Some(text.to_owned()));
        };
        let head = join_lines(&lines[..from], from > 0);
        let body = join_lines(&lines[from..to], to < lines.len() || trailing);
        let tail = join_lines(&lines[to..], trailing);
        let limit = if self.first_only { 1 } else { 0 };
        let body = self.pattern.replacen(&body, limit, |caps: &Captures<'_>| {
            self.replacement.expand(caps)
        });
        Ok(Some(format!("{head}{body}{tail}")))
    }
}

#[cfg(test)]
mod tests {

    use serde_json::{Value, json};

    use super::*;

    use crate::executors::edit::testing::converge;

    fn run(initial: &str, attrs: Value) -> String {
        converge(&ReplaceExecutor, Some(initial), attrs)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn replaces_all_or_first_with_backrefs() {
        let text = "port=80\nport=81\n";
        assert_eq!(
            run(
                text,
                json!({"match_pattern": "^port=(\\d+)$", "replacement": "listen=$1"})
            ),
            "listen=80\nlisten=81\n"
        );
        assert_eq!(
            run(
                text,
                json!({"match_pattern": "^(?:port|listen)=(\\d+)$", "replacement": "listen=$1", "occurrences": "first"})
            ),
            "listen=80\nport=81\n"
        );
    }

    #[test]
    fn region_limits_the_substitution() {
        let text = "[a]\nx=1\n[b]\nx=1\n[c]\nx=1\n";
        assert_eq!(
            run(
                text,
                json!({"match_pattern": "^x=1$", "replacement": "x=2", "region_start": "^\\[b\\]", "region_end": "^\\["})
            ),
            "[a]\nx=1\n[b]\nx=2\n[c]\nx=1\n"
        );
    }

    #[test]
    fn revert_is_refused_clearly() {
        let Value::Object(map) = json!({"target_path": "/f", "match_pattern": "a", "replacement": "b", "revert": true, "on_revert": "true"})
        else {
            panic!()
        };
        let err = ReplaceExecutor
            .prepare(&ResourceDecl {
                type_name: "replace",
                name: "r",
                attributes: &map,
            })
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "replace \"r\": attribute `revert`: is not supported yet: this agent does not run `on_revert`"
        );
    }

    #[test]
    fn a_group_name_starting_with_a_digit_is_refused_with_the_braced_form() {
        assert_eq!(
            converge(
                &ReplaceExecutor,
                Some("v1\n"),
                json!({"match_pattern": "v(\\d)", "replacement": "v$1_new"})
            )
            .unwrap_err(),
            "replace \"t\": attribute `replacement`: `$1_new` refers to a group named `1_new`, which the pattern does not have; write `${1}_new` for group 1 followed by \"_new\""
        );
        assert_eq!(
            run(
                "v1\n",
                json!({"match_pattern": "^v(\\d)$", "replacement": "w${1}_new"})
            ),
            "w1_new\n"
        );
    }

    #[test]
    fn a_missing_group_is_refused_instead_of_deleting_text() {
        assert_eq!(
            converge(
                &ReplaceExecutor,
                Some("keep me\n"),
                json!({"match_pattern": "(keep) me", "replacement": "$5"})
            )
            .unwrap_err(),
            "replace \"t\": attribute `replacement`: `$5` refers to group 5, but the pattern has 1 group(s) ($0 is the whole match, $1 the group)"
        );
    }

    #[test]
    fn an_empty_pattern_is_refused() {
        assert!(
            converge(
                &ReplaceExecutor,
                Some("x\n"),
                json!({"match_pattern": "", "replacement": "y"})
            )
            .unwrap_err()
            .contains("attribute `match_pattern`: is empty")
        );
    }
}
