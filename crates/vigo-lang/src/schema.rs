//! Publish-time reading of the built-in resource types' attributes. The types themselves
//! — attributes with kind, default, required-when, allowed values — are defined once in
//! [`vigo_core::types`]; this module checks a YAML value against an attribute's kind and
//! normalises scalars (`"true"` → `true`, `1500` → `"1500"` for a string attribute), so the
//! bundle carries typed values. The agent's executors read the same definitions.

use serde_json::Value;
use vigo_core::types::Kind as AttrKind;

use crate::yaml::{Kind as Yk, Node};

pub use vigo_core::types::is_templated;

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
    use AttrKind::{Bool, Env, Int, List, Mode, Path, Str};

    const PRESENT_ABSENT: AttrKind = AttrKind::Enum(&["present", "absent"]);

    fn val(kind: AttrKind, text: &str) -> Result<Value, String> {
        normalise(kind, &yaml::parse(text).unwrap())
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
