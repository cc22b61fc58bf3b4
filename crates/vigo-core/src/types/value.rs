//! The one grammar of each attribute kind, over the JSON value of an attribute: used by
//! vigo-lang at publish (on the YAML node turned into JSON, to normalise what the bundle
//! carries) and by vigo-exec's `Attrs` on the agent. Stacks may write scalars natively or as
//! strings (`true`/`"true"`, `0644`/`"0644"`, `1500`/`"1500"`), so every reader accepts both.
//! Every error is "expected …, found …".

use serde_json::{Map, Value};

use super::Kind;

/// A word for a value's type, for "expected X, found Y" messages.
pub fn type_word(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A scalar's text (numbers and booleans as YAML writes them).
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn scalar(v: &Value, what: &str) -> Result<String, String> {
    scalar_text(v).ok_or_else(|| format!("expected {what}, found {}", type_word(v)))
}

/// A string (a number or boolean is taken as its text).
pub fn string(v: &Value) -> Result<String, String> {
    scalar(v, "a string")
}

/// An absolute path.
pub fn path(v: &Value) -> Result<String, String> {
    let s = scalar(v, "an absolute path")?;
    if s.starts_with('/') {
        Ok(s)
    } else {
        Err(format!("expected an absolute path, found \"{s}\""))
    }
}

/// `true`/`false`, or the strings `"true"`, `"false"`, `"yes"`, `"no"`.
pub fn boolean(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" => Ok(true),
            "false" | "no" => Ok(false),
            _ => Err(format!("expected true or false, found \"{s}\"")),
        },
        other => Err(format!(
            "expected true or false, found {}",
            type_word(other)
        )),
    }
}

/// A whole number from 0 to `u32::MAX` (ids, ages, counts), native or as a string.
pub fn whole_number(v: &Value) -> Result<u32, String> {
    let s = scalar(v, "a whole number")?;
    s.trim().parse::<u32>().map_err(|_| {
        format!(
            "expected a whole number from 0 to {}, found \"{s}\"",
            u32::MAX
        )
    })
}

/// A permission mode in octal: `"0644"`, `"644"`, `"0o644"`, or a YAML integer written
/// `644` (its digits are taken as octal).
pub fn mode(v: &Value) -> Result<u32, String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "expected an octal mode like \"0644\", found {}",
                type_word(other)
            ));
        }
    };
    let digits = s.strip_prefix("0o").unwrap_or(&s);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(format!(
            "expected an octal mode like \"0644\", found \"{s}\""
        )),
    }
}

/// A list of strings: a list of scalars, or one comma-separated string.
pub fn list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(_) | Value::Array(_) => match super::list_items(v) {
            Some(items) => Ok(items),
            None => Err(format!(
                "expected a list of strings, found {} in it",
                v.as_array()
                    .and_then(|items| items.iter().find(|i| scalar_text(i).is_none()))
                    .map_or("nothing", type_word)
            )),
        },
        other => Err(format!(
            "expected a list or a comma-separated string, found {}",
            type_word(other)
        )),
    }
}

/// One of `allowed`.
pub fn one_of(v: &Value, allowed: &[&str]) -> Result<String, String> {
    let s = scalar(v, &format!("one of {}", allowed.join(", ")))?;
    if allowed.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(format!(
            "expected one of {}, found \"{s}\"",
            allowed.join(", ")
        ))
    }
}

impl Kind {
    /// Checks a value against the kind and returns it normalised for the bundle: scalars
    /// in their kind's type (`"true"` → `true`, `1500` → `"1500"` for a string), lists
    /// as lists of strings (a comma-separated string stays as written).
    pub fn normalise(self, v: &Value) -> Result<Value, String> {
        match self {
            Kind::Any => Ok(v.clone()),
            Kind::Str => string(v).map(Value::String),
            Kind::Path => path(v).map(Value::String),
            Kind::Bool => boolean(v).map(Value::Bool),
            Kind::Int => whole_number(v).map(Value::from),
            Kind::Mode => {
                mode(v).map(|_| Value::String(scalar_text(v).unwrap_or_default().trim().to_owned()))
            }
            Kind::Enum(allowed) => one_of(v, allowed).map(Value::String),
            Kind::List => match v {
                Value::String(_) => Ok(v.clone()),
                _ => list(v).map(|items| items.into_iter().map(Value::String).collect()),
            },
            Kind::Env => match v {
                Value::String(_) => Ok(v.clone()),
                Value::Object(entries) => entries
                    .iter()
                    .map(|(k, val)| {
                        scalar_text(val)
                            .map(|t| (k.clone(), Value::String(t)))
                            .ok_or_else(|| {
                                format!("expected `{k}` to be a string, found {}", type_word(val))
                            })
                    })
                    .collect::<Result<Map<_, _>, _>>()
                    .map(Value::Object),
                _ => list(v).map(|items| items.into_iter().map(Value::String).collect()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kinds_native_or_as_strings() {
        assert_eq!(Kind::Bool.normalise(&json!("Yes")), Ok(json!(true)));
        assert_eq!(
            Kind::Bool.normalise(&json!("maybe")),
            Err("expected true or false, found \"maybe\"".into())
        );
        assert_eq!(Kind::Int.normalise(&json!("1500")), Ok(json!(1500)));
        assert_eq!(
            Kind::Int.normalise(&json!(4_294_967_296_u64)),
            Err("expected a whole number from 0 to 4294967295, found \"4294967296\"".into())
        );
        assert_eq!(Kind::Mode.normalise(&json!(644)), Ok(json!("644")));
        assert_eq!(mode(&json!("0o755")), Ok(0o755));
        assert_eq!(
            Kind::Mode.normalise(&json!("0988")),
            Err("expected an octal mode like \"0644\", found \"0988\"".into())
        );
        assert_eq!(Kind::Str.normalise(&json!(8080)), Ok(json!("8080")));
        assert_eq!(
            Kind::Str.normalise(&json!([1])),
            Err("expected a string, found a list".into())
        );
        assert_eq!(
            Kind::Path.normalise(&json!("etc/motd")),
            Err("expected an absolute path, found \"etc/motd\"".into())
        );
        assert_eq!(
            Kind::List.normalise(&json!(["a", 1])),
            Ok(json!(["a", "1"]))
        );
        assert_eq!(
            list(&json!("a, b,,c")),
            Ok(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            Kind::List.normalise(&json!([["x"]])),
            Err("expected a list of strings, found a list in it".into())
        );
        assert_eq!(Kind::Env.normalise(&json!({"A": 1})), Ok(json!({"A": "1"})));
        assert_eq!(
            Kind::List.normalise(&json!({"A": 1})),
            Err("expected a list or a comma-separated string, found a mapping".into())
        );
        assert_eq!(
            Kind::Enum(&["present", "absent"]).normalise(&json!("presnt")),
            Err("expected one of present, absent, found \"presnt\"".into())
        );
    }
}
