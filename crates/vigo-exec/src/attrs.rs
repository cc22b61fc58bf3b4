//! Typed reading of a resource's attributes, once, at the edge of an executor, through
//! the type's definition ([`vigo_core::types`]).
//!
//! Attributes arrive as a JSON object (templates already rendered by the engine). Stacks
//! may write scalars natively or as strings (`true`/`"true"`, `0644`/`"0644"`,
//! `1500`/`"1500"`), so every reader accepts both. The definition's rules are checked
//! first ([`Attrs::new`]: required, required-when, mutually exclusive), allowed values and
//! boolean defaults come from it, and an executor cannot read an attribute its definition
//! lacks nor leave one unread (both are programming errors, caught in debug builds by every
//! test that prepares a resource). Every error names the resource and the attribute and
//! says what was expected; [`Attrs::finish`] rejects attributes the definition does not
//! know, with a "did you mean" hint.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};
use vigo_core::types::{self, Kind, TypeDef, value};

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
    def: &'static TypeDef,
    resource: String,
    map: &'a Map<String, Value>,
    used: BTreeSet<&'a str>,
}

impl<'a> Attrs<'a> {
    /// Starts reading the attributes of resource `name` of type `def`, after checking the
    /// definition's rules that span attributes: required, required when present, mutually
    /// exclusive.
    pub fn new(
        def: &'static TypeDef,
        name: &str,
        map: &'a Map<String, Value>,
    ) -> Result<Self, AttrError> {
        let a = Self {
            def,
            resource: format!("{} \"{name}\"", def.name),
            map,
            used: BTreeSet::new(),
        };
        let state = map.get("state").and_then(Value::as_str);
        let flag = |f: &str| types::flag_set(map, f);
        for attr in def.attrs {
            if !a.has(attr.name) && attr.required.applies(state, flag) {
                return Err(a.error(attr.name, attr.required.missing()));
            }
            if let Some(other) = attr.conflicts.iter().find(|o| a.has(attr.name) && a.has(o)) {
                return Err(a.error(
                    other,
                    format!("`{}` and `{other}` are mutually exclusive", attr.name),
                ));
            }
        }
        def.check_rules(map, |_| false)
            .map_err(|(key, message)| a.error(key, message))?;
        if a.has("revert") {
            if !def.revertible {
                return Err(a.error("revert", format!("is not supported by type {}", def.name)));
            }
            if types::flag_set(map, "revert") {
                return Err(a.error(
                    "revert",
                    "is not supported yet: this agent does not run `on_revert`",
                ));
            }
        }
        Ok(a)
    }

    /// The allowed values of an enum attribute of the definition.
    fn allowed(&self, key: &str) -> &'static [&'static str] {
        match self.def.attr(key).map(|a| a.kind) {
            Some(Kind::Enum(words)) => words,
            _ => panic!(
                "{}: `{key}` is not an enum attribute of the definition",
                self.def.name
            ),
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
        debug_assert!(
            self.def.attr(key).is_some() || types::is_engine(key),
            "the `{}` executor reads `{key}`, which its definition lacks",
            self.def.name
        );
        self.used.insert(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether the attribute is present (and not null).
    pub fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// Reads `key` with one of the kind grammars of [`types::value`].
    fn read<T>(
        &mut self,
        key: &'a str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, AttrError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse(v).map(Some).map_err(|e| self.error(key, e)),
        }
    }

    /// A string; numbers and booleans are accepted and printed as YAML would.
    pub fn opt_str(&mut self, key: &'a str) -> Result<Option<String>, AttrError> {
        self.read(key, value::string)
    }

    /// A required string.
    pub fn req_str(&mut self, key: &'a str) -> Result<String, AttrError> {
        self.opt_str(key)?
            .ok_or_else(|| self.error(key, "is required"))
    }

    /// A required absolute path.
    pub fn req_abs_path(&mut self, key: &'a str) -> Result<PathBuf, AttrError> {
        self.opt_abs_path(key)?
            .ok_or_else(|| self.error(key, "is required"))
    }

    /// An optional absolute path.
    pub fn opt_abs_path(&mut self, key: &'a str) -> Result<Option<PathBuf>, AttrError> {
        Ok(self.read(key, value::path)?.map(PathBuf::from))
    }

    /// `state: present|absent`, required; `true` for present.
    pub fn req_present(&mut self) -> Result<bool, AttrError> {
        Ok(self.req_enum("state")? == "present")
    }

    /// A boolean: `true`/`false`, or the strings `"true"`, `"false"`, `"yes"`, `"no"`.
    pub fn opt_bool(&mut self, key: &'a str) -> Result<Option<bool>, AttrError> {
        self.read(key, value::boolean)
    }

    /// A boolean, or its default from the definition.
    pub fn flag(&mut self, key: &'a str) -> Result<bool, AttrError> {
        let default = self.def.attr(key).is_some_and(types::Attr::bool_default);
        Ok(self.opt_bool(key)?.unwrap_or(default))
    }

    /// A whole number from 0 to `u32::MAX` (uids, gids, ages), native or as a string.
    pub fn opt_u32(&mut self, key: &'a str) -> Result<Option<u32>, AttrError> {
        self.read(key, value::whole_number)
    }

    /// A permission mode in octal: `"0644"`, `"644"`, or a YAML integer written `0644`
    /// (which YAML 1.2 reads as decimal 644 — its digits are taken as octal).
    pub fn opt_mode(&mut self, key: &'a str) -> Result<Option<u32>, AttrError> {
        self.read(key, value::mode)
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
        self.read(key, value::list)
    }

    /// A string that must be one of the definition's allowed values.
    pub fn opt_enum(&mut self, key: &'a str) -> Result<Option<String>, AttrError> {
        let allowed = self.allowed(key);
        self.read(key, |v| value::one_of(v, allowed))
    }

    /// A required string that must be one of the definition's allowed values.
    pub fn req_enum(&mut self, key: &'a str) -> Result<String, AttrError> {
        let allowed = self.allowed(key);
        self.opt_enum(key)?
            .ok_or_else(|| self.error(key, format!("is required (one of {})", allowed.join(", "))))
    }

    /// A raw JSON value (for types that take structured data, such as `json_file`).
    pub fn opt_value(&mut self, key: &'a str) -> Option<&'a Value> {
        self.get(key)
    }

    /// Fails on any attribute neither defined nor handled by the engine. In debug builds,
    /// also asserts that the executor read every attribute of its definition.
    pub fn finish(self) -> Result<(), AttrError> {
        if let Some(unread) = self.def.attr_names().find(|n| !self.used.contains(n)) {
            debug_assert!(
                false,
                "the `{}` executor never reads `{unread}`, which its definition has",
                self.def.name
            );
        }
        for key in self.map.keys() {
            if self.used.contains(key.as_str()) || types::is_engine(key) {
                continue;
            }
            let hint = vigo_core::suggest::did_you_mean(
                key,
                self.def.attr_names().chain(types::engine::names()),
            )
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
            return Err(self.error(key, format!("unknown attribute{hint}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vigo_core::types::{directory, exec, file, ini, user};

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn scalars_native_or_as_strings() {
        let m =
            map(json!({"target_path": "/d", "state": "present", "recurse": "yes", "mode": "0644"}));
        let mut a = Attrs::new(&directory::TYPE, "x", &m).unwrap();
        assert!(a.flag("recurse").unwrap());
        assert_eq!(a.opt_mode("mode").unwrap(), Some(0o644));
        let m = map(json!({"command": "c", "nice": "7", "logoutput": false}));
        let mut a = Attrs::new(&exec::TYPE, "x", &m).unwrap();
        assert_eq!(a.opt_u32("nice").unwrap(), Some(7));
        assert!(!a.flag("logoutput").unwrap());
        assert!(!a.flag("background").unwrap(), "the definition's default");
        let m = map(json!({"username": "u", "state": "present", "uid": 7, "gid": "8"}));
        let mut a = Attrs::new(&user::TYPE, "x", &m).unwrap();
        assert_eq!(a.opt_u32("uid").unwrap(), Some(7));
        assert_eq!(a.opt_u32("gid").unwrap(), Some(8));
        assert!(a.flag("manage_home").unwrap(), "the definition's default");
        for (text, mode) in [(json!(644), 0o644), (json!("0o755"), 0o755)] {
            let m =
                map(json!({"target_path": "/f", "state": "absent", "section": "s", "mode": text}));
            assert_eq!(
                Attrs::new(&ini::TYPE, "x", &m)
                    .unwrap()
                    .opt_mode("mode")
                    .unwrap(),
                Some(mode)
            );
        }
    }

    #[test]
    fn errors_name_resource_attribute_and_expectation() {
        let m = map(
            json!({"mode": "0999", "recurse": "maybe", "uid": -1, "timeout": "soon", "target_path": "/srv/app", "state": "present"}),
        );
        let mut a = Attrs::new(&directory::TYPE, "/srv/app", &m).unwrap();
        assert_eq!(
            a.opt_mode("mode").unwrap_err().to_string(),
            "directory \"/srv/app\": attribute `mode`: expected an octal mode like \"0644\", found \"0999\""
        );
        assert_eq!(
            a.opt_bool("recurse").unwrap_err().to_string(),
            "directory \"/srv/app\": attribute `recurse`: expected true or false, found \"maybe\""
        );
        assert_eq!(
            a.opt_duration("timeout").unwrap_err().to_string(),
            "directory \"/srv/app\": attribute `timeout`: expected a duration like \"30s\", \"5m\", \"24h\" or \"1h30m\" (units ms, s, m, h, d; a bare number is seconds), found \"soon\""
        );
        let m = map(json!({"username": "u", "state": "present", "uid": -1}));
        let mut a = Attrs::new(&user::TYPE, "u", &m).unwrap();
        assert_eq!(
            a.opt_u32("uid").unwrap_err().to_string(),
            "user \"u\": attribute `uid`: expected a whole number from 0 to 4294967295, found \"-1\""
        );
    }

    #[test]
    fn the_definitions_rules_come_first() {
        let m = map(json!({"state": "gone"}));
        assert_eq!(
            Attrs::new(&file::TYPE, "f", &m).unwrap_err().to_string(),
            "file \"f\": attribute `target_path`: is required"
        );
        let m = map(json!({"target_path": "/f", "state": "gone"}));
        assert_eq!(
            Attrs::new(&file::TYPE, "f", &m)
                .unwrap()
                .req_enum("state")
                .unwrap_err()
                .to_string(),
            "file \"f\": attribute `state`: expected one of present, absent, found \"gone\""
        );
        let m = map(json!({"target_path": "/f", "state": "present", "key": "k"}));
        assert_eq!(
            Attrs::new(&ini::TYPE, "i", &m).unwrap_err().to_string(),
            "ini \"i\": attribute `value`: is required when state is present (or set `allow_no_value: true`)"
        );
        let m = map(
            json!({"target_path": "/f", "state": "present", "key": "k", "allow_no_value": "yes"}),
        );
        assert!(Attrs::new(&ini::TYPE, "i", &m).is_ok());
        let m = map(json!({"username": "u", "state": "present", "group": "g", "gid": 5}));
        assert_eq!(
            Attrs::new(&user::TYPE, "u", &m).unwrap_err().to_string(),
            "user \"u\": attribute `gid`: `group` and `gid` are mutually exclusive"
        );
    }

    #[test]
    fn unknown_attribute_with_hint_and_engine_attributes_pass() {
        let m = map(
            json!({"target_path": "/x", "state": "absent", "mdoe": "0644", "notify": ["svc"], "when": "changed"}),
        );
        let mut a = Attrs::new(&file::TYPE, "f", &m).unwrap();
        for key in file::TYPE.attr_names() {
            let _ = a.opt_str(key);
        }
        assert_eq!(
            a.finish().unwrap_err().to_string(),
            "file \"f\": attribute `mdoe`: unknown attribute (did you mean `mode`?)"
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "the `file` executor reads `colour`, which its definition lacks")]
    fn reading_an_undefined_attribute_is_a_bug() {
        let m = map(json!({"target_path": "/x", "state": "absent"}));
        let _ = Attrs::new(&file::TYPE, "f", &m).unwrap().opt_str("colour");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "the `file` executor never reads `state`, which its definition has")]
    fn leaving_a_defined_attribute_unread_is_a_bug() {
        let m = map(json!({"target_path": "/x", "state": "absent"}));
        let mut a = Attrs::new(&file::TYPE, "f", &m).unwrap();
        a.req_abs_path("target_path").unwrap();
        let _ = a.finish();
    }

    #[test]
    fn lists_from_yaml_or_commas() {
        let m = map(json!({"command": "c", "returns": "0, 2,,3", "environment": ["A=b", 1]}));
        let mut a = Attrs::new(&exec::TYPE, "n", &m).unwrap();
        assert_eq!(a.opt_list("returns").unwrap().unwrap(), vec!["0", "2", "3"]);
        assert_eq!(
            a.opt_list("environment").unwrap().unwrap(),
            vec!["A=b", "1"]
        );
    }
}
