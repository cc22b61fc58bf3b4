//! Templates in Go `text/template` syntax, as `.vgo` stacks write them.
//!
//! ```
//! use vigo_lang::template::Template;
//! let t = Template::parse("motd", "{{ if eq .Traits.os.family \"debian\" }}apt{{ else }}dnf{{ end }}\n").unwrap();
//! let data = serde_json::json!({"Traits": {"os": {"family": "debian"}}});
//! assert_eq!(t.render(&data).unwrap(), "apt\n");
//! ```
//!
//! Supported: text and actions with `{{-`/`-}}` trimming and `{{/* comments */}}`; fields
//! (`.Vars.port`), `.`, variables (`$x := …`, `$x = …`, `$`), literals, pipelines (`|`),
//! parentheses; `if`/`else if`/`else`, `range` (lists, maps in key order, integers; with
//! `$i, $x :=`; `else`), `with`, `define`/`template`/`block`; the functions `and`, `or`,
//! `not`, `len`, `index`, `slice`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `print`, `printf`,
//! `println`, `html`, `js`, `urlquery`.
//!
//! One deliberate difference from Go's default: a missing map key is an error naming the
//! path (Go's `missingkey=error`), because a silently empty value in a config file is a
//! worse failure than a refused run. Limits against hostile templates: nesting depth,
//! template recursion and output size.

mod eval;
mod funcs;
mod lex;
mod parse;

use std::collections::HashMap;

use serde_json::Value;

use parse::Node;

/// A parse or render error: the template, where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}:{line}:{col}: {message}")]
pub struct TemplateError {
    /// Template name (a file name under `templates/`, or the attribute it came from).
    pub name: String,
    /// 1-based line of the action.
    pub line: usize,
    /// 1-based column of the action.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

/// A parsed template, ready to render any number of times.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    root: Vec<Node>,
    defs: HashMap<String, Vec<Node>>,
}

/// The most output one render may produce.
pub const MAX_OUTPUT: usize = 16 << 20;
/// The deepest nesting of blocks and template calls.
pub const MAX_DEPTH: usize = 100;

impl Template {
    /// Parses `text`; `name` appears in errors.
    pub fn parse(name: &str, text: &str) -> Result<Self, TemplateError> {
        let (root, defs) = parse::parse(name, text)?;
        Ok(Template {
            name: name.to_owned(),
            root,
            defs,
        })
    }

    /// Renders against `data` (the value of `.` and `$`).
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        eval::render(self, data)
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every field path the template reads from `.` (e.g. `Vars.port`), for validation.
    pub fn field_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        for n in self.root.iter().chain(self.defs.values().flatten()) {
            n.collect_fields(&mut out);
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The text of one render and whether any of it derives from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The output.
    pub text: String,
    /// Some of the output derives from a secret.
    pub sensitive: bool,
}

impl Template {
    /// Renders with secret values substituted for the markers in `data` (integration shim,
    /// replaced by the engine's value-level taint tracking).
    pub fn render_with_secrets(
        &self,
        data: &Value,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Rendered, TemplateError> {
        fn subst(
            v: &mut Value,
            secret: &dyn Fn(&str) -> Option<String>,
            any: &mut bool,
        ) -> Result<(), String> {
            match v {
                Value::String(s) => {
                    let out =
                        vigo_core::secret::substitute(s, secret).map_err(|e| e.to_string())?;
                    *any |= out.sensitive;
                    *s = out.text;
                }
                Value::Array(items) => {
                    for i in items {
                        subst(i, secret, any)?;
                    }
                }
                Value::Object(m) => {
                    for i in m.values_mut() {
                        subst(i, secret, any)?;
                    }
                }
                _ => {}
            }
            Ok(())
        }
        let mut data = data.clone();
        let mut any = false;
        subst(&mut data, secret, &mut any).map_err(|message| TemplateError {
            name: self.name.clone(),
            line: 1,
            col: 1,
            message,
        })?;
        let text = self.render(&data)?;
        Ok(Rendered {
            text,
            sensitive: any,
        })
    }
}
