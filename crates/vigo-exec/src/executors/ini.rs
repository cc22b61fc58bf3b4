//! `ini`: one `key = value` setting in one section of an INI-style file, a bare key
//! (`my.cnf`'s `skip-name-resolve`), or a whole section's removal.
//!
//! ```yaml
//! - name: php-memory
//!   type: ini
//!   target_path: /etc/php/8.2/fpm/php.ini
//!   section: PHP               # omit for settings before the first [section]
//!   key: memory_limit          # omit with state: absent to remove the whole section
//!   value: 256M
//!   separator: " = "           # default " = "; use "=" for files without spaces
//!   allow_no_value: false      # true: without `value`, the key is a bare line
//!   create: true               # create the file (and section) when missing (default)
//!   mode: "0644"               # mode of a created file
//!   state: present
//! ```
//!
//! Comments (`;`, `#`) and layout are kept; commented-out settings are never touched.
//! Section names and values are compared without their surrounding spaces (`[ PHP ]` is
//! section `PHP`); a UTF-8 byte-order mark is kept and does not hide the first section.
//! A line sets the key when its text before the separator is the key, or when it is the
//! bare key alone. `present` rewrites the first such line in the section when its value
//! differs and removes the section's later duplicates (as Ansible's `ini_file` with its
//! default `exclusive`), or adds the setting after the section's last setting (creating
//! the section at the end of the file). `absent` removes every line setting the key in
//! that section; without `key`, it removes the section: its header and every line up to
//! the next one.

use std::path::{Path, PathBuf};

use super::edit::{ContentEdit, Edited, follow, join_lines, split_lines};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{ExecError, Executor, Prepared, ResourceDecl};

/// The `ini` executor.
#[derive(Debug, Default)]
pub struct IniExecutor;

/// What the resource wants.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    /// `key{separator}value`.
    Value(String),
    /// The bare key (`allow_no_value` without a value).
    Bare,
    /// No line setting the key.
    Absent,
    /// No such section (`state: absent` without `key`).
    NoSection,
}

#[derive(Debug, Clone)]
struct IniSetting {
    path: PathBuf,
    /// Trimmed; `None` for the settings before the first section.
    section: Option<String>,
    /// The header written for a new section: `[` + `section` as given + `]`.
    new_header: String,
    key: String,
    want: Want,
    separator: String,
    create: bool,
    mode: u32,
}

const BOM: char = '\u{feff}';

impl Executor for IniExecutor {
    fn type_name(&self) -> &str {
        types::ini::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::ini::TYPE, decl.name, decl.attributes)?;
        let path = a.req_abs_path("target_path")?;
        let present = a.req_present()?;
        let section_text = a.opt_str("section")?;
        let section = section_text
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        // Section and key are checked by the definition (`Attrs::new`).
        let key = a.opt_str("key")?;
        let value = a.opt_str("value")?;
        if value.as_deref().is_some_and(|v| v.contains('\n')) {
            return Err(a.error("value", "must be a single line"));
        }
        let allow_no_value = a.flag("allow_no_value")?;
        let want = match (present, &key, value) {
            (true, None, _) => return Err(a.error("key", "is required when state is present")),
            (true, Some(_), Some(v)) => Want::Value(v.trim().to_owned()),
            (true, Some(_), None) if allow_no_value => Want::Bare,
            (true, Some(_), None) => {
                return Err(a.error(
                    "value",
                    "is required when state is present (or set `allow_no_value: true`)",
                ));
            }
            (false, Some(_), _) => Want::Absent,
            (false, None, _) if section.is_none() => {
                return Err(a.error(
                    "key",
                    "is required to remove settings before the first section (without `key`, state absent removes the whole `section`)",
                ));
            }
            (false, None, _) => Want::NoSection,
        };
        let separator = a.opt_str("separator")?.unwrap_or_else(|| " = ".to_owned());
        types::ini::parse_separator(&separator).map_err(|e| a.error("separator", e))?;
        let create = a.flag("create")?;
        let mode = a.opt_mode("mode")?.unwrap_or(0o644);
        let links = follow(&mut a)?;
        a.finish()?;
        let new_header = format!("[{}]", section_text.unwrap_or_default());
        Ok(Box::new(Edited::new(
            IniSetting {
                path,
                section,
                new_header,
                key: key.unwrap_or_default(),
                want,
                separator,
                create,
                mode,
            },
            links,
        )))
    }
}

/// `Some(name)` (trimmed) when the line is a section header: `[name]`, maybe followed by
/// a comment.
fn header(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix('[')?;
    let (name, after) = rest.split_once(']')?;
    let after = after.trim_start();
    (after.is_empty() || after.starts_with([';', '#'])).then(|| name.trim())
}

/// Whether a line is blank or a comment.
fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with([';', '#'])
}

impl IniSetting {
    /// Whether `line` sets this key: `Some(Some(value))` for `key = value`, `Some(None)`
    /// for the bare key.
    fn value_of<'l>(&self, line: &'l str) -> Option<Option<&'l str>> {
        if is_blank_or_comment(line) || header(line).is_some() {
            return None;
        }
        let t = line.trim();
        match t.split_once(self.separator.trim()) {
            Some((k, v)) => (k.trim() == self.key).then(|| Some(v.trim())),
            None => (t == self.key).then_some(None),
        }
    }

    /// The line this resource writes.
    fn line(&self) -> String {
        match &self.want {
            Want::Value(v) => format!("{}{}{v}", self.key, self.separator),
            _ => self.key.clone(),
        }
    }

    /// Whether an existing line already says what the resource wants.
    fn satisfied_by(&self, current: Option<&str>) -> bool {
        match &self.want {
            Want::Value(v) => current == Some(v.as_str()),
            _ => current.is_none(),
        }
    }

    /// The section's body `[from, to)` and its header line, or `None` when the section
    /// is not in the file.
    fn section_bounds(&self, lines: &[&str]) -> Option<(Option<usize>, usize, usize)> {
        let next_header_from = |start: usize| {
            lines[start..]
                .iter()
                .position(|l| header(l).is_some())
                .map_or(lines.len(), |i| start + i)
        };
        match &self.section {
            None => Some((None, 0, next_header_from(0))),
            Some(name) => {
                let h = lines
                    .iter()
                    .position(|l| header(l) == Some(name.as_str()))?;
                Some((Some(h), h + 1, next_header_from(h + 1)))
            }
        }
    }
}

impl ContentEdit for IniSetting {
    fn path(&self) -> &Path {
        &self.path
    }

    fn create_mode(&self) -> u32 {
        self.mode
    }

    fn edit(&self, current: Option<&str>) -> Result<Option<String>, ExecError> {
        let adds = matches!(self.want, Want::Value(_) | Want::Bare);
        let text = match current {
            Some(t) => t,
            None if !adds => return Ok(None),
            None if self.create => "",
            None => {
                return Err(ExecError::failed(format!(
                    "{} does not exist; set `create: true`",
                    self.path.display()
                )));
            }
        };
        let (bom, body) = match text.strip_prefix(BOM) {
            Some(rest) => (BOM.to_string(), rest),
            None => (String::new(), text),
        };
        let (lines, trailing) = split_lines(body);
        let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        let Some((head, from, to)) = self.section_bounds(&lines) else {
            if !adds {
                return Ok(Some(text.to_owned()));
            }
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(self.new_header.clone());
            out.push(self.line());
            return Ok(Some(bom + &join_lines(&out, true)));
        };
        if self.want == Want::NoSection {
            let start = head.unwrap_or(from);
            out.drain(start..to);
            return Ok(Some(bom + &join_lines(&out, trailing)));
        }
        let mut found = false;
        // Backwards, so removals keep the indices of the lines still to visit.
        let setting: Vec<usize> = (from..to)
            .filter(|i| self.value_of(lines[*i]).is_some())
            .collect();
        for (n, &i) in setting.iter().enumerate().rev() {
            let keep_first = n == 0 && adds;
            if keep_first {
                found = true;
                if !self.satisfied_by(self.value_of(lines[i]).flatten()) {
                    out[i] = self.line();
                }
            } else {
                out.remove(i);
            }
        }
        if adds && !found {
            // After the section's last setting: blank lines and comments at its end belong
            // to whatever follows.
            let at = (from..to)
                .rev()
                .find(|i| !is_blank_or_comment(lines[*i]))
                .map_or(from, |i| i + 1);
            out.insert(at, self.line());
            return Ok(Some(bom + &join_lines(&out, true)));
        }
        Ok(Some(bom + &join_lines(&out, trailing)))
    }
}

#[cfg(test)]
mod tests {

    use serde_json::{Value, json};

    use super::*;

    use crate::executors::edit::testing::converge;

    fn run(initial: Option<&str>, attrs: Value) -> String {
        converge(&IniExecutor, initial, attrs)
            .unwrap()
            .unwrap_or_default()
    }

    const PHP: &str =
        "; comment\n[PHP]\nengine = On\nmemory_limit=128M\n\n[Date]\ndate.timezone = UTC\n";

    #[test]
    fn updates_in_place_keeping_layout() {
        assert_eq!(
            run(
                Some(PHP),
                json!({"section": "PHP", "key": "memory_limit", "value": "256M", "state": "present"})
            ),
            "; comment\n[PHP]\nengine = On\nmemory_limit = 256M\n\n[Date]\ndate.timezone = UTC\n"
        );
        // Same value with other spacing: untouched.
        assert_eq!(
            run(
                Some(PHP),
                json!({"section": "PHP", "key": "memory_limit", "value": "128M", "state": "present"})
            ),
            PHP
        );
    }

    #[test]
    fn adds_to_section_or_creates_section() {
        assert_eq!(
            run(
                Some(PHP),
                json!({"section": "PHP", "key": "expose_php", "value": "Off", "state": "present"})
            ),
            "; comment\n[PHP]\nengine = On\nmemory_limit=128M\nexpose_php = Off\n\n[Date]\ndate.timezone = UTC\n"
        );
        assert_eq!(
            run(
                Some("[a]\nx = 1\n"),
                json!({"section": "b", "key": "y", "value": "2", "state": "present"})
            ),
            "[a]\nx = 1\n\n[b]\ny = 2\n"
        );
        assert_eq!(
            run(
                None,
                json!({"section": "s", "key": "k", "value": "v", "state": "present"})
            ),
            "[s]\nk = v\n"
        );
    }

    #[test]
    fn global_settings_and_removal() {
        assert_eq!(
            run(
                Some("a=1\n[s]\nb=2\n"),
                json!({"key": "a", "value": "3", "separator": "=", "state": "present"})
            ),
            "a=3\n[s]\nb=2\n"
        );
        assert_eq!(
            run(
                Some(PHP),
                json!({"section": "Date", "key": "date.timezone", "state": "absent"})
            ),
            "; comment\n[PHP]\nengine = On\nmemory_limit=128M\n\n[Date]\n"
        );
    }

    #[test]
    fn bad_key_or_separator() {
        let Value::Object(map) =
            json!({"target_path": "/f", "key": "a=b", "value": "1", "state": "present"})
        else {
            panic!()
        };
        assert_eq!(
            IniExecutor
                .prepare(&ResourceDecl {
                    type_name: "ini",
                    name: "i",
                    attributes: &map
                })
                .err()
                .unwrap()
                .to_string(),
            "ini \"i\": attribute `key`: \"a=b\" is not a valid INI key"
        );
    }

    #[test]
    fn a_section_with_surrounding_spaces_is_found_again() {
        let once = run(
            Some("[a]\nx = 1\n"),
            json!({"section": " b ", "key": "y", "value": "2", "state": "present"}),
        );
        assert_eq!(
            once, "[a]\nx = 1\n\n[ b ]\ny = 2\n",
            "converge asserts the second run is in sync"
        );
        assert_eq!(
            run(
                Some("[ b ]\ny = 1\n"),
                json!({"section": "b", "key": "y", "value": "2", "state": "present"})
            ),
            "[ b ]\ny = 2\n"
        );
    }

    #[test]
    fn a_byte_order_mark_does_not_hide_the_first_section_and_is_kept() {
        assert_eq!(
            run(
                Some("\u{feff}[s]\nk = 1\n"),
                json!({"section": "s", "key": "k", "value": "2", "state": "present"})
            ),
            "\u{feff}[s]\nk = 2\n"
        );
    }

    #[test]
    fn absent_removes_a_bare_key_too() {
        assert_eq!(
            run(
                Some("[mysqld]\nskip-name-resolve\nport = 3306\n"),
                json!({"section": "mysqld", "key": "skip-name-resolve", "state": "absent"})
            ),
            "[mysqld]\nport = 3306\n"
        );
    }

    #[test]
    fn allow_no_value_writes_a_bare_key() {
        let attrs = json!({"section": "mysqld", "key": "skip-name-resolve", "allow_no_value": true, "state": "present"});
        assert_eq!(
            run(Some("[mysqld]\nport = 3306\n"), attrs.clone()),
            "[mysqld]\nport = 3306\nskip-name-resolve\n"
        );
        assert_eq!(
            run(Some("[mysqld]\nskip-name-resolve = 1\n"), attrs),
            "[mysqld]\nskip-name-resolve\n"
        );
        // A bare key becomes a setting when a value is wanted.
        assert_eq!(
            run(
                Some("[mysqld]\nskip-name-resolve\n"),
                json!({"section": "mysqld", "key": "skip-name-resolve", "value": "1", "state": "present"})
            ),
            "[mysqld]\nskip-name-resolve = 1\n"
        );
        assert_eq!(
            converge(
                &IniExecutor,
                Some(""),
                json!({"key": "k", "state": "present"})
            )
            .unwrap_err(),
            "ini \"t\": attribute `value`: is required when state is present (or set `allow_no_value: true`)"
        );
    }

    #[test]
    fn absent_without_key_removes_the_whole_section() {
        assert_eq!(
            run(Some(PHP), json!({"section": "PHP", "state": "absent"})),
            "; comment\n[Date]\ndate.timezone = UTC\n"
        );
        assert_eq!(
            run(Some("a=1\n"), json!({"section": "nope", "state": "absent"})),
            "a=1\n"
        );
        assert_eq!(
            converge(&IniExecutor, Some("a=1\n"), json!({"state": "absent"})).unwrap_err(),
            "ini \"t\": attribute `key`: is required to remove settings before the first section (without `key`, state absent removes the whole `section`)"
        );
    }

    #[test]
    fn duplicates_of_the_key_in_the_section_are_removed() {
        assert_eq!(
            run(
                Some("[s]\nk = 1\nj = 0\nk = 2\n[t]\nk = 3\n"),
                json!({"section": "s", "key": "k", "value": "1", "state": "present"})
            ),
            "[s]\nk = 1\nj = 0\n[t]\nk = 3\n"
        );
    }

    #[test]
    fn a_new_setting_goes_before_comments_closing_the_section() {
        assert_eq!(
            run(
                Some("[s]\na = 1\n\n# [t] settings\n[t]\n"),
                json!({"section": "s", "key": "b", "value": "2", "state": "present"})
            ),
            "[s]\na = 1\nb = 2\n\n# [t] settings\n[t]\n"
        );
        assert_eq!(
            run(
                Some("[s] ; the s section\na = 1\n"),
                json!({"section": "s", "key": "a", "value": "2", "state": "present"})
            ),
            "[s] ; the s section\na = 2\n",
            "a header with a comment is a header"
        );
    }
}
