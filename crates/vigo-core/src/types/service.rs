//! `service`: a systemd unit running or stopped, enabled or not.

use serde_json::Value;

use super::{Attr, Kind, Required, TypeDef};

/// The `service` type.
pub const TYPE: TypeDef = TypeDef {
    name: "service",
    doc: "A systemd unit running or stopped, enabled or not; `restarted` and `reloaded` always act, so they must be notify targets (`when: \"changed\"`).",
    example: r#"- name: nginx-reload
  type: service
  service: nginx
  state: reloaded
  when: "changed""#,
    attrs: &[
        Attr::new("service", Kind::Str, "systemd unit")
            .check(check_unit)
            .required(Required::Yes)
            .example("nginx"),
        Attr::new(
            "state",
            Kind::Enum(&["running", "stopped", "restarted", "reloaded"]),
            "what the unit should be or do",
        )
        .required(Required::Yes)
        .example("running"),
        Attr::new("enabled", Kind::Bool, "started at boot")
            .default("leave as is")
            .example("true"),
        Attr::new(
            "restart_command",
            Kind::Str,
            "instead of `systemctl restart`",
        )
        .example("\"nginx -s reload\""),
        Attr::new("reload_command", Kind::Str, "instead of `systemctl reload`")
            .example("\"nginx -s reload\""),
    ],
    primary: "service",
    notify_states: &["restarted", "reloaded"],
    ..super::BASE
};

/// Whether `unit` is a systemd unit name.
pub fn valid_unit(unit: &str) -> bool {
    !unit.is_empty()
        && !unit.starts_with('-')
        && unit
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@' | ':' | '\\'))
}

fn check_unit(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(unit) if !valid_unit(unit) => Err(format!("\"{unit}\" is not a systemd unit name")),
        _ => Ok(()),
    }
}
