//! The attribute schema of the built-in resource types: one table, from type name to its
//! attributes with their kind and whether they are required. The loader checks every
//! resource against it and normalises scalars (`"true"` → `true`, `1500` → `"1500"` for a
//! string attribute), so the bundle carries typed values.
//!
//! The table follows what the agent's executors accept (an attribute they do not read
//! would fail on every envoy at apply time, so it must fail at publish instead).
//! `docs/resources.md` documents the same table.

use serde_json::Value;

use crate::yaml::{Kind as Yk, Node};

/// What an attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    /// A string; numbers and booleans are accepted and turned into their text.
    Str,
    /// An absolute path (or a template that renders to one).
    Path,
    /// `true`/`false`, also as the strings `"true"`, `"false"`, `"yes"`, `"no"`.
    Bool,
    /// A non-negative integer, also as a string of digits.
    Int,
    /// An octal file mode such as `"0644"`.
    Mode,
    /// A YAML list of strings, or one comma-separated string.
    List,
    /// Like [`AttrKind::List`], or a mapping of `KEY: VALUE`.
    Env,
    /// One of a fixed set of words.
    Enum(&'static [&'static str]),
    /// Any YAML value (a JSON literal for `json_file`).
    Any,
}

/// Whether an attribute must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// Optional.
    No,
    /// Always required.
    Yes,
    /// Required when `state` is `present` (or the type's default state).
    WhenPresent,
    /// Required when `state` is `present`, unless the named boolean attribute is true
    /// (`ini`'s `value`, not needed with `allow_no_value: true`).
    WhenPresentUnless(&'static str),
}

/// One attribute of a type.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// The attribute's name.
    pub name: &'static str,
    /// What it holds.
    pub kind: AttrKind,
    /// Whether it must be given.
    pub required: Required,
}

/// A built-in resource type.
#[derive(Debug, Clone, Copy)]
pub struct TypeSchema {
    /// The `type:` name.
    pub name: &'static str,
    /// Its attributes (engine attributes such as `when` come on top).
    pub attrs: &'static [Attr],
    /// The attribute that names a resource of this type when it has no `name:`.
    pub primary: &'static str,
    /// Whether the reference gives it `revert: true` with `on_revert` (refused at publish
    /// until the agent runs `on_revert`).
    pub revertible: bool,
}

const fn a(name: &'static str, kind: AttrKind) -> Attr {
    Attr {
        name,
        kind,
        required: Required::No,
    }
}
const fn req(name: &'static str, kind: AttrKind) -> Attr {
    Attr {
        name,
        kind,
        required: Required::Yes,
    }
}
const fn when_present(name: &'static str, kind: AttrKind) -> Attr {
    Attr {
        name,
        kind,
        required: Required::WhenPresent,
    }
}

use AttrKind::{Any, Bool, Enum, Env, Int, List, Mode, Path, Str};

const PRESENT_ABSENT: AttrKind = Enum(&["present", "absent"]);
const STATE: Attr = req("state", PRESENT_ABSENT);

/// Every built-in type, sorted by name.
pub const TYPES: &[TypeSchema] = &[
    TypeSchema {
        name: "blockinfile",
        primary: "target_path",
        revertible: false,
        attrs: &[
            req("target_path", Path),
            STATE,
            when_present("block_content", Str),
            a("label", Str),
            a("marker_begin", Str),
            a("marker_end", Str),
            a("create", Bool),
            a("mode", Mode),
            a("insertafter", Str),
            a("insertbefore", Str),
            a("follow", Bool),
        ],
    },
    TypeSchema {
        name: "cron",
        primary: "",
        revertible: false,
        attrs: &[
            STATE,
            when_present("command", Str),
            a("schedule", Str),
            a("minute", Str),
            a("hour", Str),
            a("day", Str),
            a("month", Str),
            a("weekday", Str),
            a("user", Str),
            a("environment", List),
        ],
    },
    TypeSchema {
        name: "directory",
        primary: "target_path",
        revertible: false,
        attrs: &[
            req("target_path", Path),
            STATE,
            a("mode", Mode),
            a("owner", Str),
            a("group", Str),
            a("recurse", Bool),
        ],
    },
    TypeSchema {
        name: "exec",
        primary: "command",
        revertible: false,
        attrs: &[
            req("command", Str),
            a("onlyif", Str),
            a("unless", Str),
            a("creates", Path),
            a("stdin", Str),
            a("secret_file", Str),
            a("cwd", Path),
            a("user", Str),
            a("environment", Env),
            a("returns", List),
            a("logoutput", Bool),
            a("background", Bool),
            a("nice", Int),
        ],
    },
    TypeSchema {
        name: "file",
        primary: "target_path",
        revertible: false,
        attrs: &[
            req("target_path", Path),
            STATE,
            a("content", Str),
            a("source", Str),
            a("mode", Mode),
            a("owner", Str),
            a("group", Str),
            a("backup", Str),
            a("validate", Str),
            a("baseindent", Int),
            a("secontext", Str),
        ],
    },
    TypeSchema {
        name: "file_line",
        primary: "target_path",
        revertible: false,
        attrs: &[
            req("target_path", Path),
            STATE,
            when_present("line", Str),
            a("match_pattern", Str),
            a("position", Str),
            a("region_start", Str),
            a("region_end", Str),
            a("backrefs", Bool),
            a("follow", Bool),
        ],
    },
    TypeSchema {
        name: "group",
        primary: "group",
        revertible: false,
        attrs: &[
            req("group", Str),
            STATE,
            a("gid", Int),
            a("system", Bool),
            a("members", List),
        ],
    },
    TypeSchema {
        name: "host",
        primary: "hostname",
        revertible: false,
        attrs: &[
            req("hostname", Str),
            STATE,
            when_present("ip", Str),
            a("aliases", Any),
            a("target_path", Path),
            a("follow", Bool),
        ],
    },
    TypeSchema {
        name: "ini",
        primary: "target_path",
        revertible: false,
        attrs: &[
            req("target_path", Path),
            when_present("key", Str),
            STATE,
            a("section", Str),
            Attr {
                name: "value",
                kind: Str,
                required: Required::WhenPresentUnless("allow_no_value"),
            },
            a("allow_no_value", Bool),
            a("separator", Str),
            a("create", Bool),
            a("mode", Mode),
            a("follow", Bool),
        ],
    },
    TypeSchema {
        name: "json_file",
        primary: "target_path",
        revertible: false,
        attrs: &[
            req("target_path", Path),
            req("key", Str),
            STATE,
            when_present("value", Any),
            a("indent", Int),
            a("follow", Bool),
        ],
    },
    TypeSchema {
        name: "package",
        primary: "package",
        revertible: false,
        attrs: &[
            req("package", List),
            req("state", Enum(&["present", "latest", "absent"])),
            a("version", Str),
            a("allow_downgrade", Bool),
            a("purge", Bool),
            a("update_cache", Bool),
            a("lock_version", Bool),
            a("post_cleanup", Bool),
            a("flags", Str),
        ],
    },
    TypeSchema {
        name: "replace",
        primary: "target_path",
        revertible: true,
        attrs: &[
            req("target_path", Path),
            req("match_pattern", Str),
            req("replacement", Str),
            a("occurrences", Enum(&["all", "first"])),
            a("region_start", Str),
            a("region_end", Str),
            a("follow", Bool),
        ],
    },
    TypeSchema {
        name: "service",
        primary: "service",
        revertible: false,
        attrs: &[
            req("service", Str),
            req(
                "state",
                Enum(&["running", "stopped", "restarted", "reloaded"]),
            ),
            a("enabled", Bool),
            a("restart_command", Str),
            a("reload_command", Str),
        ],
    },
    TypeSchema {
        name: "symlink",
        primary: "target_path",
        revertible: false,
        attrs: &[
            req("target_path", Path),
            STATE,
            when_present("to", Str),
            a("link_type", Enum(&["soft", "hard"])),
            a("force", Bool),
            a("owner", Str),
            a("group", Str),
        ],
    },
    TypeSchema {
        name: "sysctl",
        primary: "key",
        revertible: false,
        attrs: &[
            req("key", Str),
            STATE,
            when_present("value", Str),
            a("persist", Bool),
        ],
    },
    TypeSchema {
        name: "user",
        primary: "username",
        revertible: false,
        attrs: &[
            req("username", Str),
            STATE,
            a("uid", Int),
            a("gid", Int),
            a("group", Str),
            a("groups", List),
            a("shell", Str),
            a("home", Path),
            a("comment", Str),
            a("password", Str),
            a("password_max_age", Int),
            a("authorized_keys", Str),
            a("system", Bool),
            a("manage_home", Bool),
        ],
    },
];

/// Attributes every resource may carry; the engine handles them, not the executor.
pub const ENGINE_ATTRS: &[&str] = &[
    "name",
    "type",
    "when",
    "depends_on",
    "before",
    "notify",
    "subscribes",
    "foreach",
    "revert",
    "on_revert",
    "timeout",
    "timeout_secs",
    "sensitive",
];

/// The schema of a built-in type.
pub fn lookup(type_name: &str) -> Option<&'static TypeSchema> {
    TYPES.iter().find(|t| t.name == type_name)
}

impl TypeSchema {
    /// One attribute's definition.
    pub fn attr(&self, name: &str) -> Option<&'static Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }

    /// Whether the type has a `state` whose "present" value makes
    /// [`Required::WhenPresent`] attributes required.
    pub fn is_present(&self, state: Option<&str>) -> bool {
        state.is_none_or(|s| s == "present")
    }
}

/// Whether a string is (or holds) a template, checked on the agent after rendering.
pub fn is_templated(s: &str) -> bool {
    s.contains("{{")
}

/// Checks one attribute value against its kind and returns the normalised JSON value, or
/// "what was expected, what was found".
pub fn normalise(kind: AttrKind, node: &Node) -> Result<Value, String> {
    let templated = matches!(&node.kind, Yk::Str(s) if is_templated(s));
    if templated {
        return Ok(node.to_json());
    }
    match kind {
        AttrKind::Any => Ok(node.to_json()),
        AttrKind::Str => scalar(node, "a string").map(Value::String),
        AttrKind::Path => {
            let s = scalar(node, "an absolute path")?;
            if s.starts_with('/') || s.starts_with("secret:") {
                Ok(Value::String(s))
            } else {
                Err(format!("expected an absolute path, found \"{s}\""))
            }
        }
        AttrKind::Bool => match &node.kind {
            Yk::Bool(b) => Ok(Value::Bool(*b)),
            Yk::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" => Ok(Value::Bool(true)),
                "false" | "no" => Ok(Value::Bool(false)),
                _ => Err(format!("expected true or false, found \"{s}\"")),
            },
            _ => Err(format!(
                "expected true or false, found {}",
                node.type_word()
            )),
        },
        AttrKind::Int => {
            let s = scalar(node, "a whole number")?;
            match s.trim().parse::<u64>() {
                Ok(n) => Ok(Value::Number(n.into())),
                Err(_) => Err(format!("expected a whole number, found \"{s}\"")),
            }
        }
        AttrKind::Mode => {
            let s = match &node.kind {
                Yk::Str(s) => s.trim().to_owned(),
                Yk::Number(n) => n.to_string(),
                _ => {
                    return Err(format!(
                        "expected an octal mode like \"0644\", found {}",
                        node.type_word()
                    ));
                }
            };
            let digits = s.strip_prefix("0o").unwrap_or(&s);
            match u32::from_str_radix(digits, 8) {
                Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(Value::String(s)),
                _ => Err(format!(
                    "expected an octal mode like \"0644\", found \"{s}\""
                )),
            }
        }
        AttrKind::List | AttrKind::Env => match &node.kind {
            Yk::Str(s) => Ok(Value::String(s.clone())),
            Yk::Seq(items) => items
                .iter()
                .map(|i| {
                    i.scalar_text().map(Value::String).ok_or_else(|| {
                        format!("expected a list of strings, found {} in it", i.type_word())
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Yk::Map(entries) if kind == AttrKind::Env => entries
                .iter()
                .map(|(k, v)| {
                    v.scalar_text()
                        .map(|t| (k.name.clone(), Value::String(t)))
                        .ok_or_else(|| {
                            format!(
                                "expected `{}` to be a string, found {}",
                                k.name,
                                v.type_word()
                            )
                        })
                })
                .collect::<Result<serde_json::Map<_, _>, _>>()
                .map(Value::Object),
            _ => Err(format!(
                "expected a list or a comma-separated string, found {}",
                node.type_word()
            )),
        },
        AttrKind::Enum(allowed) => {
            let s = scalar(node, &format!("one of {}", allowed.join(", ")))?;
            if allowed.contains(&s.as_str()) {
                Ok(Value::String(s))
            } else {
                Err(format!(
                    "expected one of {}, found \"{s}\"",
                    allowed.join(", ")
                ))
            }
        }
    }
}

/// A scalar's text; anything else is "expected {what}, found {type}".
fn scalar(node: &Node, what: &str) -> Result<String, String> {
    node.scalar_text()
        .ok_or_else(|| format!("expected {what}, found {}", node.type_word()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn val(kind: AttrKind, text: &str) -> Result<Value, String> {
        normalise(kind, &yaml::parse(text).unwrap())
    }

    #[test]
    fn table_is_sorted_and_names_are_unique() {
        let names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
        for t in TYPES {
            let mut attrs: Vec<&str> = t.attrs.iter().map(|a| a.name).collect();
            attrs.sort_unstable();
            let n = attrs.len();
            attrs.dedup();
            assert_eq!(n, attrs.len(), "{}", t.name);
            assert!(
                t.primary.is_empty() || t.attr(t.primary).is_some(),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn scalars_native_or_as_strings() {
        assert_eq!(val(Bool, "\"true\""), Ok(Value::Bool(true)));
        assert_eq!(val(Bool, "no"), Ok(Value::Bool(false)));
        assert_eq!(
            val(Bool, "maybe"),
            Err("expected true or false, found \"maybe\"".into())
        );
        assert_eq!(val(Int, "\"1500\""), Ok(Value::from(1500)));
        assert_eq!(val(Int, "1500"), Ok(Value::from(1500)));
        assert_eq!(
            val(Int, "abc"),
            Err("expected a whole number, found \"abc\"".into())
        );
        assert_eq!(val(Mode, "0644"), Ok(Value::from("0644")));
        assert_eq!(val(Mode, "\"0644\""), Ok(Value::from("0644")));
        assert_eq!(
            val(Mode, "0988"),
            Err("expected an octal mode like \"0644\", found \"0988\"".into())
        );
        assert_eq!(val(Str, "8080"), Ok(Value::from("8080")));
        assert_eq!(
            val(Str, "[1]"),
            Err("expected a string, found a list".into())
        );
        assert_eq!(
            val(Path, "etc/motd"),
            Err("expected an absolute path, found \"etc/motd\"".into())
        );
        assert_eq!(
            val(Path, "\"{{ .Vars.dir }}/x\""),
            Ok(Value::from("{{ .Vars.dir }}/x"))
        );
        assert_eq!(val(List, "[a, 1]"), Ok(serde_json::json!(["a", "1"])));
        assert_eq!(val(Env, "{A: 1}"), Ok(serde_json::json!({"A": "1"})));
        assert_eq!(
            val(List, "{A: 1}"),
            Err("expected a list or a comma-separated string, found a mapping".into())
        );
        assert_eq!(
            val(PRESENT_ABSENT, "presnt"),
            Err("expected one of present, absent, found \"presnt\"".into())
        );
    }
}
