//! `group`: a local group, or its absence.

use serde_json::Value;

use super::{Attr, Kind, Required, STATE, TypeDef, list_items};

/// The `group` type.
pub const TYPE: TypeDef = TypeDef {
    name: "group",
    doc: "A local group and its members, or its absence.",
    example: r#"- name: deploy
  type: group
  group: deploy
  members: [alice, bob]
  state: present"#,
    attrs: &[
        Attr::new("group", Kind::Str, "the group name")
            .check(check_group)
            .required(Required::Yes)
            .example("deploy"),
        STATE,
        Attr::new("gid", Kind::Int, "group id").example("1600"),
        Attr::new("system", Kind::Bool, "a system group")
            .default("false")
            .example("true"),
        Attr::new("members", Kind::List, "exact membership")
            .check(check_members)
            .default("leave as is")
            .example("[alice, bob]"),
    ],
    primary: "group",
    ..super::BASE
};

/// Whether `name` is acceptable to shadow-utils as a user or group name.
pub fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.chars().all(|c| c.is_ascii_digit())
}

/// A list of account names, each valid; `what` names them in the error (`group`, `user`).
pub(crate) fn check_names(v: &Value, what: &str) -> Result<(), String> {
    match list_items(v).and_then(|names| names.into_iter().find(|n| !valid_account_name(n))) {
        Some(bad) => Err(format!("\"{bad}\" is not a valid {what} name")),
        None => Ok(()),
    }
}

fn check_group(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(name) if !valid_account_name(name) => {
            Err(format!("\"{name}\" is not a valid group name"))
        }
        _ => Ok(()),
    }
}

fn check_members(v: &Value) -> Result<(), String> {
    check_names(v, "user")
}
