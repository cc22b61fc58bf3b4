//! `json_file`: one key of a JSON file.

use serde_json::Value;

use super::{Attr, FOLLOW, Kind, Required, STATE, TARGET_PATH, TypeDef};

/// The `json_file` type.
pub const TYPE: TypeDef = TypeDef {
    name: "json_file",
    doc: "One key of a JSON file, compared semantically: a file that already holds the value is never reformatted. A missing file is created (mode 0644) as `{}` plus the key.",
    example: r#"- name: app-port
  type: json_file
  target_path: /etc/app/config.json
  key: servers.0.port
  value: 8080
  state: present"#,
    attrs: &[
        TARGET_PATH,
        Attr::new(
            "key",
            Kind::Str,
            "dot path, indices allowed: `servers.0.port`",
        )
        .required(Required::Yes)
        .example("servers.0.port"),
        STATE,
        Attr::new(
            "value",
            Kind::Any,
            "a JSON literal: `'\"text\"'`, `8080`, `true`, `'[1,2]'`",
        )
        .check(check_value)
        .required(Required::WhenPresent)
        .example("8080"),
        Attr::new(
            "indent",
            Kind::Int,
            "spaces per level when the file is rewritten",
        )
        .default("2")
        .example("4"),
        FOLLOW,
    ],
    ..super::FILE_TYPE
};

/// A `value`: a string is a JSON literal (`'"text"'`, `'[1,2]'`), anything else is itself.
pub fn parse_value(v: &Value) -> Result<Value, String> {
    match v {
        Value::String(s) => serde_json::from_str(s)
            .map_err(|e| format!("expected a JSON literal (quote strings: '\"{s}\"'): {e}")),
        other => Ok(other.clone()),
    }
}

fn check_value(v: &Value) -> Result<(), String> {
    parse_value(v).map(drop)
}
