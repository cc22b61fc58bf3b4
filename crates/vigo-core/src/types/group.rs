//! `group`: a local group, or its absence.

use super::{Attr, Kind, Required, STATE, TypeDef};

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
            .required(Required::Yes)
            .example("deploy"),
        STATE,
        Attr::new("gid", Kind::Int, "group id").example("1600"),
        Attr::new("system", Kind::Bool, "a system group")
            .default("false")
            .example("true"),
        Attr::new("members", Kind::List, "exact membership")
            .default("leave as is")
            .example("[alice, bob]"),
    ],
    primary: "group",
    ..super::BASE
};
