//! `symlink`: a symbolic or hard link, or its absence.

use serde_json::{Map, Value};

use super::{Attr, Kind, Required, STATE, TypeDef};

/// The `symlink` type.
pub const TYPE: TypeDef = TypeDef {
    name: "symlink",
    doc: "A symbolic or hard link, or its absence.",
    example: r#"- name: site-enabled
  type: symlink
  target_path: /etc/nginx/sites-enabled/app
  to: /etc/nginx/sites-available/app
  state: present"#,
    attrs: &[
        Attr::new("target_path", Kind::Path, "the link")
            .required(Required::Yes)
            .example("/etc/nginx/sites-enabled/app"),
        STATE,
        Attr::new("to", Kind::Str, "what it points to")
            .required(Required::WhenPresent)
            .example("/etc/nginx/sites-available/app"),
        Attr::new(
            "link_type",
            Kind::Enum(&["soft", "hard"]),
            "`hard`: the same inode",
        )
        .default("soft")
        .example("hard"),
        Attr::new(
            "force",
            Kind::Bool,
            "replace a file in the way (never a directory)",
        )
        .default("false")
        .example("true"),
        Attr::new("owner", Kind::Str, "owner of the link itself").example("root"),
        Attr::new("group", Kind::Str, "group of the link itself").example("root"),
    ],
    rules: &[hard_link_is_absolute],
    ..super::FILE_TYPE
};

/// A hard link names its target by an absolute path.
fn hard_link_is_absolute(m: &Map<String, Value>) -> Result<(), (&'static str, String)> {
    let hard = m.get("link_type").and_then(Value::as_str) == Some("hard");
    match m.get("to").and_then(Value::as_str) {
        Some(to) if hard && !to.starts_with('/') => {
            Err(("to", "a hard link needs an absolute target path".into()))
        }
        _ => Ok(()),
    }
}
