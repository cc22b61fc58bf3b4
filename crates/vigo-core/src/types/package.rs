//! `package`: packages installed, at a version, latest, or removed.

use super::{Attr, Kind, Required, TypeDef};

/// The `package` type.
pub const TYPE: TypeDef = TypeDef {
    name: "package",
    doc: "Packages installed (at a version), upgraded to the latest, or removed. APT and DNF are detected; unreachable mirrors, bad signatures or a full disk give `blocked`.",
    example: r#"- name: web-packages
  type: package
  package: [nginx, curl]
  state: present"#,
    attrs: &[
        Attr::new("package", Kind::List, "a name, a comma list or a YAML list (one package-manager call); `\"*\"` with `latest` upgrades everything")
            .required(Required::Yes)
            .example("[nginx, curl]"),
        Attr::new(
            "state",
            Kind::Enum(&["present", "installed", "latest", "absent", "removed"]),
            "installed, upgraded, or removed (`installed` and `removed` are other words for `present` and `absent`)",
        )
            .required(Required::Yes)
            .example("present"),
        Attr::new("version", Kind::Str, "exact version (one name)").example("\"1.22.1-9\""),
        Attr::new("allow_downgrade", Kind::Bool, "allow installing an older version")
            .default("false")
            .example("true"),
        Attr::new("purge", Kind::Bool, "with `absent`: remove configuration too (apt)")
            .default("false")
            .example("true"),
        Attr::new("update_cache", Kind::Bool, "`apt-get update` / `dnf makecache` before changing anything")
            .default("false")
            .example("true"),
        Attr::new("lock_version", Kind::Bool, "hold at that version (`apt-mark hold`, `dnf versionlock`)")
            .default("false")
            .example("true"),
        Attr::new("post_cleanup", Kind::Bool, "autoremove afterwards")
            .default("false")
            .example("true"),
        Attr::new("flags", Kind::Str, "extra flags for the package manager").example("--no-install-recommends"),
    ],
    primary: "package",
    writes_path: None,
    notify_states: &[],
    revertible: false,
};
