//! `file_line`: one line of an existing file.

use super::{Attr, FOLLOW, Kind, Required, STATE, TypeDef};

/// The `file_line` type.
pub const TYPE: TypeDef = TypeDef {
    name: "file_line",
    doc: "One line of an existing file: present (replacing the lines matching `match_pattern`, else inserted at `position`) or absent.",
    example: r#"- name: jvm-heap
  type: file_line
  target_path: /etc/default/app
  match_pattern: '^(JAVA_OPTS=.*)-Xmx\d+[mg](.*)$'
  line: '${1}-Xmx2g${2}'
  backrefs: true          # JAVA_OPTS="-Xms512m -Xmx1g" → JAVA_OPTS="-Xms512m -Xmx2g"
  state: present"#,
    attrs: &[
        Attr::new("target_path", Kind::Path, "an existing file")
            .required(Required::Yes)
            .example("/etc/default/app"),
        STATE,
        Attr::new("line", Kind::Str, "the line")
            .required(Required::WhenPresent)
            .example("\"PermitRootLogin no\""),
        Attr::new("match_pattern", Kind::Str, "regex: matching lines are replaced (present) or removed (absent); not empty")
            .example("\"^#?PermitRootLogin\""),
        Attr::new("position", Kind::Str, "where a missing line goes: `end`, `begin`, `after:<regex>`, `before:<regex>` (first matching line; no match: the end)")
            .default("end")
            .example("begin"),
        Attr::new("region_start", Kind::Str, "regex: only lines after the first line matching it").example("\"^\\\\[main\\\\]\""),
        Attr::new("region_end", Kind::Str, "regex: only lines up to the next line matching it").example("\"^\\\\[\""),
        Attr::new("backrefs", Kind::Bool, "`line` uses the groups of `match_pattern` (`${1}`); each matching line is replaced by its expansion; no match: the file is left alone")
            .default("false")
            .example("false"),
        FOLLOW,
    ],
    ..super::FILE_TYPE
};
