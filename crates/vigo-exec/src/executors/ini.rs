//! `ini`: one `key = value` setting in one section of an INI-style file.
//!
//! ```yaml
//! - name: php-memory
//!   type: ini
//!   target_path: /etc/php/8.2/fpm/php.ini
//!   section: PHP               # omit for settings before the first [section]
//!   key: memory_limit
//!   value: 256M
//!   separator: " = "           # default " = "; use "=" for files without spaces
//!   create: true               # create the file (and section) when missing (default)
//!   mode: "0644"               # mode of a created file
//!   state: present
//! ```
//!
//! Comments (`;`, `#`) and layout are kept. `present` rewrites the first line setting the
//! key in that section (whatever its spacing) when its value differs, or adds the setting
//! at the end of the section (creating the section at the end of the file). `absent`
//! removes every line setting the key in that section.

use std::path::{Path, PathBuf};

use super::edit::{ContentEdit, Edited, join_lines, split_lines};
use crate::attrs::{AttrError, Attrs};
use crate::contract::{ExecError, Executor, Prepared, ResourceDecl};

/// The `ini` executor.
#[derive(Debug, Default)]
pub struct IniExecutor;

#[derive(Debug, Clone)]
struct IniSetting {
    path: PathBuf,
    section: Option<String>,
    key: String,
    /// `None` for `state: absent`.
    value: Option<String>,
    separator: String,
    create: bool,
    mode: u32,
}

impl Executor for IniExecutor {
    fn type_name(&self) -> &str {
        "ini"
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new("ini", decl.name, decl.attributes);
        let path = a.req_abs_path("target_path")?;
        let present = a.req_present()?;
        let section = a.opt_str("section")?.filter(|s| !s.is_empty());
        let key = a.req_str("key")?;
        if key.contains(['=', '\n', '[']) || key.trim() != key || key.is_empty() {
            return Err(a.error("key", format!("\"{key}\" is not a valid INI key")));
        }
        let value = a.opt_str("value")?;
        if present && value.is_none() {
            return Err(a.error("value", "is required when state is present"));
        }
        if value.as_deref().is_some_and(|v| v.contains('\n')) {
            return Err(a.error("value", "must be a single line"));
        }
        let separator = a.opt_str("separator")?.unwrap_or_else(|| " = ".to_owned());
        if separator.trim() != "=" && separator.trim() != ":" {
            return Err(a.error(
                "separator",
                format!("expected \"=\" or \":\" with optional spaces, found \"{separator}\""),
            ));
        }
        let create = a.bool_or("create", true)?;
        let mode = a.opt_mode("mode")?.unwrap_or(0o644);
        a.finish()?;
        Ok(Box::new(Edited(IniSetting {
            path,
            section,
            key,
            value: if present { value } else { None },
            separator,
            create,
            mode,
        })))
    }
}

/// `Some(name)` when the line is a section header.
fn header(line: &str) -> Option<&str> {
    let t = line.trim();
    t.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .map(str::trim)
}

impl IniSetting {
    /// Whether `line` sets this key; returns its current value.
    fn value_of<'l>(&self, line: &'l str) -> Option<&'l str> {
        let t = line.trim_start();
        if t.starts_with([';', '#']) {
            return None;
        }
        let sep = self.separator.trim();
        let (k, v) = t.split_once(sep)?;
        (k.trim() == self.key).then(|| v.trim())
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
        let text = match current {
            Some(t) => t,
            None if self.value.is_none() => return Ok(None),
            None if self.create => "",
            None => {
                return Err(ExecError::failed(format!(
                    "{} does not exist; set `create: true`",
                    self.path.display()
                )));
            }
        };
        let (lines, trailing) = split_lines(text);
        // The section's body: [from, to).
        let (from, to) = match &self.section {
            None => (
                0,
                lines
                    .iter()
                    .position(|l| header(l).is_some())
                    .unwrap_or(lines.len()),
            ),
            Some(name) => match lines.iter().position(|l| header(l) == Some(name.as_str())) {
                Some(h) => (
                    h + 1,
                    lines[h + 1..]
                        .iter()
                        .position(|l| header(l).is_some())
                        .map_or(lines.len(), |i| h + 1 + i),
                ),
                None => {
                    let Some(value) = &self.value else {
                        return Ok(Some(text.to_owned()));
                    };
                    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
                    if out.last().is_some_and(|l| !l.trim().is_empty()) {
                        out.push(String::new());
                    }
                    out.push(format!("[{name}]"));
                    out.push(format!("{}{}{value}", self.key, self.separator));
                    return Ok(Some(join_lines(&out, true)));
                }
            },
        };
        let mut out: Vec<String> = Vec::with_capacity(lines.len() + 1);
        let mut done = false;
        for (i, l) in lines.iter().enumerate() {
            let in_section = (from..to).contains(&i);
            match (in_section, self.value_of(l), &self.value) {
                (true, Some(_), None) => {}
                (true, Some(cur), Some(want)) if !done => {
                    done = true;
                    if cur == want {
                        out.push((*l).to_owned());
                    } else {
                        out.push(format!("{}{}{want}", self.key, self.separator));
                    }
                }
                _ => out.push((*l).to_owned()),
            }
        }
        if let (false, Some(want)) = (done, &self.value) {
            // After the section's last non-blank line.
            let mut at = to;
            while at > from && lines[at - 1].trim().is_empty() {
                at -= 1;
            }
            out.insert(at, format!("{}{}{want}", self.key, self.separator));
            return Ok(Some(join_lines(&out, true)));
        }
        Ok(Some(join_lines(&out, trailing)))
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
}
