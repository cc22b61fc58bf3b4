//! `json_file`: one key of a JSON document, set to a value or removed.
//!
//! ```yaml
//! - name: docker-log-driver
//!   type: json_file
//!   target_path: /etc/docker/daemon.json
//!   key: log-opts.max-size          # dot path; array indices allowed: servers.0.port
//!   value: '"10m"'                  # a JSON literal: '"text"', 8080, true, '[1,2]'
//!   indent: 2
//!   state: present
//! ```
//!
//! Comparison is semantic: a file whose data already has the value is left alone, however
//! it is formatted. Missing intermediate objects are created; a missing file starts as
//! `{}` (created with mode 0644). When Vigo rewrites the file, it pretty-prints it with
//! `indent` spaces (object keys come out sorted), keeping its mode and owner. A symbolic
//! link is followed and its target edited (`follow: false` refuses it).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::edit::{ContentEdit, Edited, follow};
use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::contract::{ExecError, Executor, Prepared, ResourceDecl};

/// The `json_file` executor.
#[derive(Debug, Default)]
pub struct JsonFileExecutor;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone)]
struct JsonKey {
    path: PathBuf,
    key: Vec<Step>,
    key_text: String,
    /// `None` for `state: absent`.
    value: Option<Value>,
    indent: usize,
}

impl Executor for JsonFileExecutor {
    fn type_name(&self) -> &str {
        types::json_file::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::json_file::TYPE, decl.name, decl.attributes)?;
        let path = a.req_abs_path("target_path")?;
        let present = a.req_present()?;
        let key_text = a.req_str("key")?;
        let key: Vec<Step> = key_text
            .split('.')
            .map(|part| match part.parse::<usize>() {
                Ok(i) => Ok(Step::Index(i)),
                Err(_) if !part.is_empty() => Ok(Step::Key(part.to_owned())),
                Err(_) => Err(a.error("key", format!("empty segment in dot path \"{key_text}\""))),
            })
            .collect::<Result<_, _>>()?;
        let value = match a.opt_value("value") {
            None if present => return Err(a.error("value", "is required when state is present")),
            None => None,
            Some(v) => Some(types::json_file::parse_value(v).map_err(|e| a.error("value", e))?),
        };
        if !present && matches!(key.last(), Some(Step::Index(_))) {
            return Err(a.error("key", "removing an array element by index would remove another one on the next run; set the whole array instead"));
        }
        let indent = a.opt_u32("indent")?.unwrap_or(2) as usize;
        let links = follow(&mut a)?;
        a.finish()?;
        Ok(Box::new(Edited::new(
            JsonKey {
                path,
                key,
                key_text,
                value: if present { value } else { None },
                indent,
            },
            links,
        )))
    }
}

impl JsonKey {
    /// Sets or removes the key in `doc`; errors name the path segment that does not fit.
    fn apply_to(&self, doc: &mut Value) -> Result<(), ExecError> {
        let Some((last, parents)) = self.key.split_last() else {
            return Ok(());
        };
        let mut node = doc;
        for step in parents {
            let found = describe(node);
            node = match (step, node) {
                (Step::Key(k), Value::Object(m)) => {
                    if self.value.is_none() && !m.contains_key(k) {
                        return Ok(());
                    }
                    m.entry(k.clone())
                        .or_insert_with(|| Value::Object(serde_json::Map::new()))
                }
                (Step::Index(i), Value::Array(items)) if *i < items.len() => &mut items[*i],
                (Step::Index(_), Value::Array(_)) if self.value.is_none() => return Ok(()),
                (step, _) => return Err(self.mismatch(step, found)),
            };
        }
        let found = describe(node);
        match (last, node, &self.value) {
            (Step::Key(k), Value::Object(m), Some(v)) => {
                m.insert(k.clone(), v.clone());
            }
            (Step::Key(k), Value::Object(m), None) => {
                m.remove(k);
            }
            (Step::Index(i), Value::Array(items), Some(v)) if *i < items.len() => {
                items[*i] = v.clone();
            }
            (Step::Index(i), Value::Array(items), Some(v)) if *i == items.len() => {
                items.push(v.clone());
            }
            (Step::Index(i), Value::Array(items), None) if *i < items.len() => {
                items.remove(*i);
            }
            (Step::Index(_), Value::Array(_), None) => {}
            (step, _, _) => return Err(self.mismatch(step, found)),
        }
        Ok(())
    }

    fn mismatch(&self, step: &Step, found: &str) -> ExecError {
        let wanted = match step {
            Step::Key(k) => format!("an object holding `{k}`"),
            Step::Index(i) => format!("an array with index {i}"),
        };
        ExecError::failed(format!(
            "{}: key `{}`: expected {wanted}, found {found}",
            self.path.display(),
            self.key_text
        ))
    }
}

/// What a JSON node is, for error messages.
fn describe(v: &Value) -> &'static str {
    match v {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array (index out of range)",
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
    }
}

impl ContentEdit for JsonKey {
    fn path(&self) -> &Path {
        &self.path
    }

    fn edit(&self, current: Option<&str>) -> Result<Option<String>, ExecError> {
        let Some(text) = current else {
            if self.value.is_none() {
                return Ok(None);
            }
            let mut doc = Value::Object(serde_json::Map::new());
            self.apply_to(&mut doc)?;
            return Ok(Some(self.render(&doc)?));
        };
        let original: Value = if text.trim().is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_str(text).map_err(|e| {
                ExecError::failed(format!("{} is not valid JSON: {e}", self.path.display()))
            })?
        };
        let mut doc = original.clone();
        self.apply_to(&mut doc)?;
        if doc == original {
            return Ok(Some(text.to_owned()));
        }
        Ok(Some(self.render(&doc)?))
    }
}

impl JsonKey {
    fn render(&self, doc: &Value) -> Result<String, ExecError> {
        use serde::Serialize;
        let indent = " ".repeat(self.indent);
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        doc.serialize(&mut ser)
            .map_err(|e| ExecError::failed(format!("encoding JSON: {e}")))?;
        out.push(b'\n');
        String::from_utf8(out).map_err(|e| ExecError::failed(format!("encoding JSON: {e}")))
    }
}

#[cfg(test)]
mod tests {

    use serde_json::json;

    use super::*;

    use crate::executors::edit::testing::converge;

    fn run(initial: Option<&str>, attrs: Value) -> Result<String, String> {
        converge(&JsonFileExecutor, initial, attrs).map(Option::unwrap_or_default)
    }

    #[test]
    fn sets_nested_keys_creating_parents() {
        let out = run(
            None,
            json!({"key": "log-opts.max-size", "value": "\"10m\"", "state": "present"}),
        )
        .unwrap();
        assert_eq!(
            out,
            "{\n  \"log-opts\": {\n    \"max-size\": \"10m\"\n  }\n}\n"
        );
    }

    #[test]
    fn same_data_differently_formatted_is_in_sync() {
        let text = "{\"a\":{\"b\":8080}}";
        assert_eq!(
            run(
                Some(text),
                json!({"key": "a.b", "value": 8080, "state": "present"})
            )
            .unwrap(),
            text
        );
    }

    #[test]
    fn array_indices_and_removal() {
        let text = r#"{"servers":[{"port":1},{"port":2}]}"#;
        let out = run(
            Some(text),
            json!({"key": "servers.1.port", "value": "3", "indent": 0, "state": "present"}),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v, json!({"servers": [{"port": 1}, {"port": 3}]}));
        let out = run(
            Some(text),
            json!({"key": "servers.0.port", "state": "absent"}),
        )
        .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap(),
            json!({"servers": [{}, {"port": 2}]})
        );
        assert_eq!(
            run(Some(text), json!({"key": "servers.0", "state": "absent"})).unwrap_err(),
            "json_file \"t\": attribute `key`: removing an array element by index would remove another one on the next run; set the whole array instead"
        );
    }

    #[test]
    fn clear_errors() {
        assert_eq!(
            run(
                None,
                json!({"key": "a", "value": "db.internal", "state": "present"})
            )
            .unwrap_err(),
            "json_file \"t\": attribute `value`: expected a JSON literal (quote strings: '\"db.internal\"'): expected value at line 1 column 1"
        );
        let err = run(
            Some(r#"{"a": 5}"#),
            json!({"key": "a.b", "value": "1", "state": "present"}),
        )
        .unwrap_err();
        assert!(
            err.ends_with("key `a.b`: expected an object holding `b`, found a number"),
            "{err}"
        );
        let err = run(
            Some("{not json"),
            json!({"key": "a", "value": "1", "state": "present"}),
        )
        .unwrap_err();
        assert!(err.contains("is not valid JSON"), "{err}");
    }
}
