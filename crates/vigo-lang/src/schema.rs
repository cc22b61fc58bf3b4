//! Publish-time reading of the built-in resource types' attributes. The types themselves
//! — attributes with kind, default, required-when, allowed values — are defined once in
//! [`vigo_core::types`]; this module checks a YAML value against an attribute's kind and
//! normalises scalars (`"true"` → `true`, `1500` → `"1500"` for a string attribute), so the
//! bundle carries typed values. The agent's executors read the same definitions.

use serde_json::Value;
use vigo_core::types::Kind as AttrKind;

use crate::yaml::{Kind as Yk, Node};

pub use vigo_core::types::is_templated;

/// Checks one attribute value against its kind (the one grammar of
/// [`vigo_core::types::value`]) and returns the normalised JSON value, or "what was
/// expected, what was found". A template, or a `secret:` marker where a path goes, is
/// judged on the agent, after rendering.
pub fn normalise(kind: AttrKind, node: &Node) -> Result<Value, String> {
    let text = match &node.kind {
        Yk::Str(s) => Some(s.as_str()),
        _ => None,
    };
    let later = text
        .is_some_and(|s| is_templated(s) || (kind == AttrKind::Path && s.starts_with("secret:")));
    if later {
        return Ok(node.to_json());
    }
    kind.normalise(&node.to_json())
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
            Err("expected a whole number from 0 to 4294967295, found \"abc\"".into())
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
