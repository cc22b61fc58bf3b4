//! `file`: the content, mode and owner of a file, or its absence.

use super::{Attr, Kind, STATE, TARGET_PATH, TypeDef};

/// The `file` type.
pub const TYPE: TypeDef = TypeDef {
    name: "file",
    doc: "The content, mode and owner of a file, or its absence. Drift by SHA-256 of the content.",
    example: r#"- name: motd
  type: file
  target_path: /etc/motd
  content: "Managed by Vigo on {{ .Traits.network.hostname }}\n"
  mode: "0644"
  state: present"#,
    attrs: &[
        TARGET_PATH,
        STATE,
        Attr::new("content", Kind::Str, "the content (templated)")
            .default("empty")
            .conflicts(&["source"])
            .example("\"hello\\n\""),
        Attr::new("source", Kind::Str, "a template under `stacks/templates/`, rendered into `content`")
            .example("motd.tmpl"),
        Attr::new("mode", Kind::Mode, "permissions")
            .default("new files 0644; existing kept")
            .example("\"0644\""),
        Attr::new("owner", Kind::Str, "owner, a name or a number")
            .default("new files root; existing kept")
            .example("root"),
        Attr::new("group", Kind::Str, "group, a name or a number")
            .default("new files root; existing kept")
            .example("root"),
        Attr::new("backup", Kind::Str, "`true`: `<path>.<epoch>.bak`; a suffix such as `.orig`: `<path>.orig`; only when the content changes")
            .example(".orig"),
        Attr::new("validate", Kind::Str, "command run on the candidate (`%` = its path); non-zero blocks the write")
            .example("\"visudo -cf %\""),
        Attr::new("baseindent", Kind::Int, "indent every non-empty line by N spaces").example("4"),
        Attr::new("secontext", Kind::Str, "SELinux context (`chcon`), a no-op without SELinux")
            .example("system_u:object_r:etc_t:s0"),
    ],
    ..super::FILE_TYPE
};
