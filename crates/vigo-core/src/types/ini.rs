//! `ini`: one setting (or section) of an INI file.

use serde_json::Value;

use super::{Attr, FOLLOW, Kind, Required, STATE, TARGET_PATH, TypeDef};

/// The `ini` type.
pub const TYPE: TypeDef = TypeDef {
    name: "ini",
    doc: "One setting of an INI file, or a whole section's absence. Comments are never touched; a UTF-8 byte-order mark is kept.",
    example: r#"- name: mysql-no-dns
  type: ini
  target_path: /etc/mysql/my.cnf
  section: mysqld
  key: skip-name-resolve
  allow_no_value: true            # writes the bare line `skip-name-resolve`
  state: present
- name: drop-old-section
  type: ini
  target_path: /etc/app.ini
  section: legacy                 # no key: the [legacy] section and its lines go
  state: absent"#,
    attrs: &[
        TARGET_PATH,
        Attr::new(
            "key",
            Kind::Str,
            "the setting; without `key`, `state: absent` removes the whole section",
        )
        .check(check_key)
        .required(Required::WhenPresent)
        .example("port"),
        STATE,
        Attr::new("section", Kind::Str, "compared without surrounding spaces")
            .check(check_section)
            .default("(before the first section)")
            .example("mysqld"),
        Attr::new("value", Kind::Str, "surrounding spaces are not kept")
            .required(Required::WhenPresentUnless("allow_no_value"))
            .example("\"3306\""),
        Attr::new(
            "allow_no_value",
            Kind::Bool,
            "without `value`, the key is a bare line (`skip-name-resolve`)",
        )
        .default("false")
        .example("true"),
        Attr::new("separator", Kind::Str, "`=` or `:` with optional spaces")
            .default("\" = \"")
            .check(check_separator)
            .example("\"=\""),
        Attr::new("create", Kind::Bool, "create the file when missing")
            .default("true")
            .example("false"),
        Attr::new("mode", Kind::Mode, "mode of a file it creates")
            .default("0644")
            .example("\"0600\""),
        FOLLOW,
    ],
    ..super::FILE_TYPE
};

/// A `separator`: `=` or `:`, with optional spaces around it.
pub fn parse_separator(text: &str) -> Result<&str, String> {
    match text.trim() {
        "=" | ":" => Ok(text),
        _ => Err(format!(
            "expected \"=\" or \":\" with optional spaces, found \"{text}\""
        )),
    }
}

fn check_separator(v: &Value) -> Result<(), String> {
    v.as_str().map_or(Ok(()), |s| parse_separator(s).map(drop))
}

fn check_key(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(key) if key.contains(['=', '\n', '[']) || key.trim() != key || key.is_empty() => {
            Err(format!("\"{key}\" is not a valid INI key"))
        }
        _ => Ok(()),
    }
}

fn check_section(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(raw) if raw.contains(['[', ']', '\n', '\r']) => {
            Err(format!("\"{raw}\" is not a valid section name"))
        }
        _ => Ok(()),
    }
}
