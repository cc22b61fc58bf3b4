//! `sysctl`: a kernel parameter, live and persisted.

use serde_json::Value;

use super::{Attr, Kind, Required, STATE, TypeDef};

/// The `sysctl` type.
pub const TYPE: TypeDef = TypeDef {
    name: "sysctl",
    doc: "A kernel parameter, set live and persisted in `/etc/sysctl.d/`; `absent` removes only the persisted file.",
    example: r#"- name: forwarding
  type: sysctl
  key: net.ipv4.ip_forward
  value: "1"
  state: present"#,
    attrs: &[
        Attr::new("key", Kind::Str, "the parameter")
            .check(check_key)
            .required(Required::Yes)
            .example("net.ipv4.ip_forward"),
        STATE,
        Attr::new("value", Kind::Str, "its value")
            .required(Required::WhenPresent)
            .example("\"1\""),
        Attr::new(
            "persist",
            Kind::Bool,
            "write `/etc/sysctl.d/99-vigo-<key>.conf`",
        )
        .default("true")
        .example("false"),
    ],
    primary: "key",
    ..super::BASE
};

/// Whether `key` is a sysctl key (`net.ipv4.ip_forward`, or with `/`).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('.')
        && !key.contains("..")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
}

fn check_key(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(key) if !valid_key(key) => Err(format!("\"{key}\" is not a sysctl key")),
        _ => Ok(()),
    }
}
