//! Templates in Go `text/template` syntax, as `.vgo` stacks write them.
//!
//! ```
//! use vigo_lang::template::Template;
//! let t = Template::parse("motd", "{{ if eq .Traits.os.family \"debian\" }}apt{{ else }}dnf{{ end }}\n").unwrap();
//! let data = serde_json::json!({"Traits": {"os": {"family": "debian"}}});
//! assert_eq!(t.render(&data).unwrap(), "apt\n");
//! ```
//!
//! The whole of Go's `text/template` language: text and actions with `{{-`/`-}}` trimming
//! and comments; fields, variables (`:=`, `=`), literals of every Go number form, strings
//! with escapes, characters; pipelines and parentheses; `if`/`else if`, `range` (lists,
//! maps in key order, integers; `break`, `continue`; `$i, $x :=` or `=`), `with`/`else
//! with`, `define`/`template`/`block`; every built-in function, with Go's `fmt` for
//! `print`, `printf`, `println` and for printing values. The data is JSON, which maps to
//! Go's types as `encoding/json` decodes it except that integers are `int`.
//!
//! One deliberate difference from Go's default: a field of a map that has no such key is
//! an error naming the path (Go's `missingkey=error`), because a silently empty value in a
//! config file is a worse failure than a refused run; `index` of a missing key gives no
//! value, as in Go, so a template can test for a key. Limits keep hostile templates
//! bounded: [`MAX_STEPS`], [`MAX_OUTPUT`], [`MAX_DEPTH`], and Go's bound on `printf`
//! widths. Secret values are data, never template text, and taint what derives from them
//! ([`Template::render_with_secrets`]).

mod escape;
mod exec;
mod float;
mod format;
mod funcs;
mod lex;
mod node;
mod number;
mod parse;
mod value;

use serde_json::Value;

use value::Reader;

/// What kind of failure a [`TemplateError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The template text is malformed (found when it is parsed).
    Syntax,
    /// Rendering failed on this data (a missing key, a type mismatch, …).
    Render,
    /// A limit against hostile templates was reached ([`MAX_STEPS`], [`MAX_OUTPUT`],
    /// [`MAX_DEPTH`]).
    Limit,
    /// A secret the data refers to was not resolved for this run.
    Secret,
}

/// A parse or render error: the template, where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}:{line}:{col}: {message}")]
pub struct TemplateError {
    /// Template name (a file name under `templates/`, or the attribute it came from).
    pub name: String,
    /// 1-based line of the construct at fault.
    pub line: usize,
    /// 1-based column (in characters) of the construct at fault.
    pub col: usize,
    /// What is wrong. Never contains a secret-derived value (`[sensitive]` stands in).
    pub message: String,
    /// What kind of failure this is.
    pub kind: ErrorKind,
}

/// The text of one render and whether any of it derives from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The rendered text.
    pub text: String,
    /// Whether any of `text` derives from a secret value (then every sink must show it as
    /// `[sensitive]`).
    pub sensitive: bool,
}

/// A parsed template, ready to render any number of times.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    source: String,
    trees: parse::Trees,
}

/// The most output (and the longest text any function may produce) in one render, in
/// bytes.
pub const MAX_OUTPUT: usize = 16 << 20;
/// The deepest nesting of blocks and parentheses when parsing, and of blocks and template
/// calls when rendering.
pub const MAX_DEPTH: usize = 100;
/// The most steps one render may take: a step is one node, command, function call or loop
/// iteration, or 64 bytes of text produced.
pub const MAX_STEPS: u64 = 2_000_000;

/// 1-based line and column (in characters) of byte offset `pos` in `src`.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl Template {
    /// Parses `text`; `name` appears in errors.
    pub fn parse(name: &str, text: &str) -> Result<Self, TemplateError> {
        let trees = parse::parse(name, text).map_err(|e| {
            let (line, col) = line_col(text, e.pos);
            TemplateError {
                name: name.to_owned(),
                line,
                col,
                message: e.message,
                kind: ErrorKind::Syntax,
            }
        })?;
        Ok(Template {
            name: name.to_owned(),
            source: text.to_owned(),
            trees,
        })
    }

    fn run(&self, data: &Value, reader: Reader<'_>) -> Result<Rendered, TemplateError> {
        exec::render(self, data, reader)
            .map(|o| Rendered {
                text: o.text,
                sensitive: o.sensitive,
            })
            .map_err(|e| {
                let (line, col) = line_col(&self.source, e.pos);
                TemplateError {
                    name: self.name.clone(),
                    line,
                    col,
                    message: e.message,
                    kind: e.kind,
                }
            })
    }

    /// Renders against `data` (the value of `.` and `$`). Secret markers in the data pass
    /// through as plain text.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        self.run(data, Reader { secrets: None }).map(|r| r.text)
    }

    /// Renders with secret values: any string value read from `data` that contains secret
    /// markers ([`MARKER_START`](crate::secret::MARKER_START) path
    /// [`MARKER_END`](crate::secret::MARKER_END)) is, at the moment it is read, replaced by
    /// the string with each marker substituted by `secret(path)`, and that value is
    /// *tainted*. Any value computed from a tainted value (function results, pipelines,
    /// variables holding it, …) is tainted, and so is everything written inside an `if`,
    /// `with` or `range` that decided on one; output written from a tainted value makes
    /// [`Rendered::sensitive`] true. A secret is data, never template text: one containing
    /// `{{` renders verbatim. A missing secret (`secret(path)` is `None`) is an error
    /// ``secret `PATH` was not resolved for this run``. No error message contains a tainted
    /// value.
    pub fn render_with_secrets(
        &self,
        data: &Value,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Rendered, TemplateError> {
        self.run(
            data,
            Reader {
                secrets: Some(secret),
            },
        )
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every field path the template reads from `.` or `$` (e.g. `Vars.port`), for
    /// validation.
    pub fn field_paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        for list in self.trees.values() {
            node::collect_fields(list, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    /// The names of the templates this text defines (its own name included when it has a
    /// body), sorted.
    pub fn template_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.trees.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Template `name` (this template's own name for the main text) in Go's canonical
    /// form, with text quoted: `{{if .X}}"yes"{{end}}`. For debugging and tests.
    pub fn syntax_tree(&self, name: &str) -> Option<String> {
        let list = self.trees.get(name)?;
        let mut out = String::new();
        node::write_list(&mut out, &self.source, list);
        Some(out)
    }
}
