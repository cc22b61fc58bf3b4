//! `blockinfile`: a block of lines between markers.

use super::{Attr, FOLLOW, Kind, Required, STATE, TARGET_PATH, TypeDef};

/// The `blockinfile` type.
pub const TYPE: TypeDef = TypeDef {
    name: "blockinfile",
    doc: "A block of lines between two marker lines, present or absent. An existing block is replaced where it is (`insertafter`/`insertbefore` only place a new one).",
    example: r#"- name: limits
  type: blockinfile
  target_path: /etc/security/limits.conf
  label: nofile
  insertbefore: "^# End of file"
  block_content: |
    *  soft  nofile  65536
    *  hard  nofile  65536
  state: present"#,
    attrs: &[
        TARGET_PATH,
        STATE,
        Attr::new("block_content", Kind::Str, "the lines of the block")
            .required(Required::WhenPresent)
            .example("\"a\\nb\\n\""),
        Attr::new("label", Kind::Str, "replaces `{label}` in the markers")
            .default("managed")
            .example("nofile"),
        Attr::new("marker_begin", Kind::Str, "the first line of the block")
            .default("`# BEGIN {label} - managed by vigo`")
            .example("\"# BEGIN {label}\""),
        Attr::new("marker_end", Kind::Str, "the last line of the block")
            .default("`# END {label} - managed by vigo`")
            .example("\"# END {label}\""),
        Attr::new("create", Kind::Bool, "create the file when missing")
            .default("false")
            .example("true"),
        Attr::new("mode", Kind::Mode, "mode of a file it creates")
            .default("0644")
            .example("\"0600\""),
        Attr::new(
            "insertafter",
            Kind::Str,
            "where a new block goes: after the last line matching this regex, or `EOF`",
        )
        .default("EOF")
        .example("\"^# tail\""),
        Attr::new(
            "insertbefore",
            Kind::Str,
            "before the last line matching this regex, or `BOF`; not with `insertafter`",
        )
        .example("BOF"),
        FOLLOW,
    ],
    ..super::FILE_TYPE
};
