//! `replace`: a regular-expression substitution over a file.

use super::{Attr, FOLLOW, Kind, Required, TARGET_PATH, TypeDef};

/// The `replace` type.
pub const TYPE: TypeDef = TypeDef {
    name: "replace",
    doc: "A regular-expression substitution over a file (or a region of it), with `$1`-style references to the pattern's groups; the file is written only when the result differs.",
    example: r#"- name: pg-listen
  type: replace
  target_path: /etc/postgresql/15/main/postgresql.conf
  region_start: "^# CONNECTIONS AND AUTHENTICATION"
  region_end: "^# RESOURCE USAGE"
  match_pattern: "^#?listen_addresses = '([^']*)'"
  replacement: "listen_addresses = '*'  # was ${1}""#,
    attrs: &[
        TARGET_PATH,
        Attr::new("match_pattern", Kind::Str, "regex; `^`/`$` match at every line; not empty")
            .required(Required::Yes)
            .example("\"^port=(\\\\d+)$\""),
        Attr::new("replacement", Kind::Str, "text with `$1`, `${1}`, `${name}`, `$$`; every group it names must exist")
            .required(Required::Yes)
            .example("\"port=8080\""),
        Attr::new("occurrences", Kind::Enum(&["all", "first"]), "which matches to replace (with `first`, write the pattern so it also matches the replaced text)")
            .default("all")
            .example("first"),
        Attr::new("region_start", Kind::Str, "regex: only the lines after the first line matching it").example("\"^\\\\[main\\\\]\""),
        Attr::new("region_end", Kind::Str, "regex: only the lines up to the next line matching it").example("\"^\\\\[\""),
        FOLLOW,
    ],
    revertible: true,
    ..super::FILE_TYPE
};
