//! `directory`: a directory with its mode and owner, or its absence.

use super::{Attr, Kind, Required, TypeDef};

/// The `directory` type.
pub const TYPE: TypeDef = TypeDef {
    name: "directory",
    doc: "A directory with its mode and owner (created with its parents), or its absence (removed recursively).",
    example: r#"- name: app-data
  type: directory
  target_path: /srv/app/data
  mode: "0750"
  owner: www-data
  state: present"#,
    attrs: &[
        Attr::new("target_path", Kind::Path, "the directory (not `/`)")
            .required(Required::Yes)
            .example("/srv/app"),
        Attr::new(
            "state",
            Kind::Enum(&["present", "absent"]),
            "`present` (with parents), `absent` (recursive)",
        )
        .required(Required::Yes)
        .example("present"),
        Attr::new("mode", Kind::Mode, "permissions")
            .default("new dirs 0755")
            .example("\"0750\""),
        Attr::new("owner", Kind::Str, "owner, a name or a number").example("root"),
        Attr::new("group", Kind::Str, "group, a name or a number").example("root"),
        Attr::new(
            "recurse",
            Kind::Bool,
            "owner/group to everything below, mode to subdirectories",
        )
        .default("false")
        .example("true"),
    ],
    ..super::FILE_TYPE
};
