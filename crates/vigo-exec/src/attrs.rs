//! Typed reading of a resource's attributes, once, at the edge of an executor.
//!
//! Attributes arrive as a JSON object (templates already rendered by the engine). Stacks
//! may write scalars natively or as strings (`true`/`"true"`, `0644`/`"0644"`,
//! `1500`/`"1500"`), so every reader accepts both. Every error names the resource and
//! the attribute and says what was expected; [`Attrs::finish`] rejects attributes the
//! executor does not know, with a "did you mean" hint.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Map, Value};

/// Attributes every resource may carry, handled by the engine rather than executors.
pub const ENGINE_ATTRIBUTES: &[&str] = &[
    "name",
    "type",
    "when",
    "depends_on",
    "before",
    "notify",
    "subscribes",
    "foreach",
    "case",
    "revert",
    "on_revert",
    "timeout",
    "timeout_secs",
    "sensitive",
];

/// A bad attribute: which resource, which attribute, what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{resource}: attribute `{attribute}`: {message}")]
pub struct AttrError {
    /// `type "name"` of the resource.
    pub resource: String,
    /// The attribute.
    pub attribute: String,
    /// What was wrong and what was expected.
    pub message: String,
}

/// A reader over one resource's attributes that remembers which ones were used.
#[derive(Debug)]
pub struct Attrs<'a> {
    resource: String,
    map: &'a Map<String, Value>,
    used: BTreeSet<&'a str>,
}

impl<'a> Attrs<'a> {
    /// Starts reading the attributes of resource `type_name "name"`.
    pub fn new(type_name: &str, name: &str, map: &'a Map<String, Value>) -> Self {
        Self {
            resource: format!("{type_name} \"{name}\""),
            map,
            used: BTreeSet::new(),
        }
    }

    /// An error about `attribute` of this resource.
    pub fn error(&self, attribute: &str, message: impl Into<String>) -> AttrError {
        AttrError {
            resource: self.resource.clone(),
            attribute: attribute.to_owned(),
            message: message.into(),
        }
    }

    fn get(&mut self, key: &'a str) -> Option<&'a Value> {
        self.used.insert(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether the attribute is present (and not null).
    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// A string; numbers and booleans are accepted and printed as YAML would.
    pub fn opt_str(&mut self, key: &'a str) -> Result<Option<String>, AttrError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => {
                Err(self.error(key, format!("expected a string, found {}", kind(other))))
            }
        }
    }

    /// A required string.
    pub fn req_str(&mut self, key: &'a str) -> Result<String, AttrError> {
        self.opt_str(key)?
            .ok_or_else(|| self.error(key, "is required"))
    }

    /// A required absolute path.
    pub fn req_abs_path(&mut self, key: &'a str) -> Result<std::path::PathBuf, AttrError> {
        let path = std::path::PathBuf::from(self.req_str(key)?);
        if path.is_absolute() {
            Ok(path)
        } else {
            Err(self.error(
                key,
                format!("expected an absolute path, found \"{}\"", path.display()),
            ))
        }
    }

    /// `state: present|absent`, required; `true` for present.
    pub fn req_present(&mut self) -> Result<bool, AttrError> {
        Ok(self.req_enum("state", &["present", "absent"])? == "present")
    }

    /// A boolean: `true`/`false`, or the strings `"true"`, `"false"`, `"yes"`, `"no"`.
    pub fn opt_bool(&mut self, key: &'a str) -> Result<Option<bool>, AttrError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" => Ok(Some(true)),
                "false" | "no" => Ok(Some(false)),
                _ => Err(self.error(key, format!("expected true or false, found \"{s}\""))),
            },
            Some(other) => Err(self.error(
                key,
                format!("expected true or false, found {}", kind(other)),
            )),
        }
    }

    /// A boolean with a default.
    pub fn bool_or(&mut self, key: &'a str, default: bool) -> Result<bool, AttrError> {
        Ok(self.opt_bool(key)?.unwrap_or(default))
    }

    /// An integer, native or as a string.
    pub fn opt_i64(&mut self, key: &'a str) -> Result<Option<i64>, AttrError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.error(key, format!("expected an integer, found {n}"))),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.error(key, format!("expected an integer, found \"{s}\""))),
            Some(other) => {
                Err(self.error(key, format!("expected an integer, found {}", kind(other))))
            }
        }
    }

    /// A non-negative integer that fits `u32` (uids, gids).
    pub fn opt_u32(&mut self, key: &'a str) -> Result<Option<u32>, AttrError> {
        match self.opt_i64(key)? {
            None => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| {
                self.error(
                    key,
                    format!("expected a number from 0 to {}, found {n}", u32::MAX),
                )
            }),
        }
    }

    /// A permission mode in octal: `"0644"`, `"644"`, or a YAML integer written `0644`
    /// (which YAML 1.2 reads as decimal 644 — its digits are taken as octal).
    pub fn opt_mode(&mut self, key: &'a str) -> Result<Option<u32>, AttrError> {
        let digits = match self.get(key) {
            None => return Ok(None),
            Some(Value::String(s)) => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(self.error(
                    key,
                    format!(
                        "expected an octal mode like \"0644\", found {}",
                        kind(other)
                    ),
                ));
            }
        };
        let digits = digits.strip_prefix("0o").unwrap_or(&digits);
        match u32::from_str_radix(digits, 8) {
            Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(Some(m)),
            _ => Err(self.error(
                key,
                format!("expected an octal mode like \"0644\", found \"{digits}\""),
            )),
        }
    }

    /// A duration in the workspace's one grammar ([`vigo_core::duration`]).
    pub fn opt_duration(&mut self, key: &'a str) -> Result<Option<Duration>, AttrError> {
        let Some(text) = self.opt_str(key)? else {
            return Ok(None);
        };
        vigo_core::duration::parse(&text)
            .map(Some)
            .map_err(|e| self.error(key, e.to_string()))
    }

    /// A list of strings: a YAML list, or one comma-separated string.
    pub fn opt_list(&mut self, key: &'a str) -> Result<Option<Vec<String>>, AttrError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(self.error(
                        key,
                        format!("expected a list of strings, found {} in it", kind(other)),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.error(
                key,
                format!(
                    "expected a list or a comma-separated string, found {}",
                    kind(other)
                ),
            )),
        }
    }

    /// A string that must be one of `allowed`.
    pub fn opt_enum(
        &mut self,
        key: &'a str,
        allowed: &[&str],
    ) -> Result<Option<String>, AttrError> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
            Some(v) => Err(self.error(
                key,
                format!("expected one of {}, found \"{v}\"", allowed.join(", ")),
            )),
        }
    }

    /// A required string that must be one of `allowed`.
    pub fn req_enum(&mut self, key: &'a str, allowed: &[&str]) -> Result<String, AttrError> {
        self.opt_enum(key, allowed)?
            .ok_or_else(|| self.error(key, format!("is required (one of {})", allowed.join(", "))))
    }

    /// A raw JSON value (for types that take structured data, such as `json_file`).
    pub fn opt_value(&mut self, key: &'a str) -> Option<&'a Value> {
        self.get(key)
    }

    /// Fails on any attribute neither read nor handled by the engine.
    pub fn finish(self) -> Result<(), AttrError> {
        for key in self.map.keys() {
            if self.used.contains(key.as_str()) || ENGINE_ATTRIBUTES.contains(&key.as_str()) {
                continue;
            }
            let hint = vigo_core::suggest::did_you_mean(key, self.used.iter().copied())
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            return Err(self.error(key, format!("unknown attribute{hint}")));
        }
        Ok(())
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn scalars_native_or_as_strings() {
        let m = map(
            json!({"a": true, "b": "false", "c": "1500", "d": 7, "e": "0644", "f": 644, "g": "0o755"}),
        );
        let mut a = Attrs::new("file", "x", &m);
        assert_eq!(a.opt_bool("a").unwrap(), Some(true));
        assert_eq!(a.opt_bool("b").unwrap(), Some(false));
        assert_eq!(a.opt_i64("c").unwrap(), Some(1500));
        assert_eq!(a.opt_u32("d").unwrap(), Some(7));
        assert_eq!(a.opt_mode("e").unwrap(), Some(0o644));
        assert_eq!(a.opt_mode("f").unwrap(), Some(0o644));
        assert_eq!(a.opt_mode("g").unwrap(), Some(0o755));
        a.finish().unwrap();
    }

    #[test]
    fn errors_name_resource_attribute_and_expectation() {
        let m = map(json!({"mode": "0999", "recurse": "maybe", "uid": -1, "timeout": "soon"}));
        let mut a = Attrs::new("directory", "/srv/app", &m);
        assert_eq!(
            a.opt_mode("mode").unwrap_err().to_string(),
            "directory \"/srv/app\": attribute `mode`: expected an octal mode like \"0644\", found \"0999\""
        );
        assert_eq!(
            a.opt_bool("recurse").unwrap_err().to_string(),
            "directory \"/srv/app\": attribute `recurse`: expected true or false, found \"maybe\""
        );
        assert_eq!(
            a.opt_u32("uid").unwrap_err().to_string(),
            "directory \"/srv/app\": attribute `uid`: expected a number from 0 to 4294967295, found -1"
        );
        assert_eq!(
            a.opt_duration("timeout").unwrap_err().to_string(),
            "directory \"/srv/app\": attribute `timeout`: expected a duration like \"30s\", \"5m\", \"24h\" or \"1h30m\" (units ms, s, m, h, d; a bare number is seconds), found \"soon\""
        );
    }

    #[test]
    fn required_and_enum() {
        let m = map(json!({"state": "gone"}));
        let mut a = Attrs::new("file", "f", &m);
        assert_eq!(
            a.req_str("target_path").unwrap_err().to_string(),
            "file \"f\": attribute `target_path`: is required"
        );
        assert_eq!(
            a.req_enum("state", &["present", "absent"])
                .unwrap_err()
                .to_string(),
            "file \"f\": attribute `state`: expected one of present, absent, found \"gone\""
        );
    }

    #[test]
    fn unknown_attribute_with_hint_and_engine_attributes_pass() {
        let m =
            map(json!({"target_path": "/x", "mdoe": "0644", "notify": ["svc"], "when": "changed"}));
        let mut a = Attrs::new("file", "f", &m);
        a.req_str("target_path").unwrap();
        a.opt_mode("mode").unwrap();
        assert_eq!(
            a.finish().unwrap_err().to_string(),
            "file \"f\": attribute `mdoe`: unknown attribute (did you mean `mode`?)"
        );
    }

    #[test]
    fn lists_from_yaml_or_commas() {
        let m = map(json!({"a": "x, y,,z", "b": ["p", 1]}));
        let mut a = Attrs::new("t", "n", &m);
        assert_eq!(a.opt_list("a").unwrap().unwrap(), vec!["x", "y", "z"]);
        assert_eq!(a.opt_list("b").unwrap().unwrap(), vec!["p", "1"]);
    }
}
