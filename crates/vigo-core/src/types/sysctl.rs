//! `sysctl`: a kernel parameter, live and persisted.

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
