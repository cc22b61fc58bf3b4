//! Reading one file's YAML into typed values while collecting every problem: the small
//! vocabulary (`map`, `keys`, `string`, `names`, `vars`, …) the file readers share.
//! A reader that meets a problem records a [`Diagnostic`] and goes on, so one pass
//! reports everything wrong in the tree.

use crate::diag::{Diagnostic, Errors, did_you_mean};
use crate::model::{Named, Origin, VarDef, Vars};
use crate::secret;
use crate::yaml::{Key, Kind, Node, Pos};

/// The file being read and where its problems go.
pub(crate) struct Cx<'a> {
    /// Path relative to `stacks/`.
    pub file: &'a str,
    /// Problems found so far.
    pub errors: &'a mut Errors,
}

impl Cx<'_> {
    /// Records a problem at `pos`.
    pub fn err(&mut self, pos: Pos, context: &str, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::new(self.file, pos, context, message));
    }

    /// Records a problem with a hint.
    pub fn err_hint(
        &mut self,
        pos: Pos,
        context: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.errors
            .push(Diagnostic::new(self.file, pos, context, message).with_hint(hint));
    }

    /// An origin in this file.
    pub fn origin(&self, pos: Pos) -> Origin {
        Origin::new(self.file, pos)
    }

    /// The entries of a mapping, or a problem "expected a mapping".
    pub fn map<'n>(
        &mut self,
        node: &'n Node,
        context: &str,
        what: &str,
    ) -> Option<&'n [(Key, Node)]> {
        match &node.kind {
            Kind::Map(m) => Some(m),
            Kind::Null => Some(&[]),
            _ => {
                self.err(
                    node.pos,
                    context,
                    format!("{what}: expected a mapping, found {}", node.type_word()),
                );
                None
            }
        }
    }

    /// Reports every key not in `allowed`, with a "did you mean".
    pub fn keys(&mut self, entries: &[(Key, Node)], allowed: &[&str], context: &str) {
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                self.err_hint(
                    k.pos,
                    context,
                    format!("unknown key `{}`", k.name),
                    did_you_mean(&k.name, allowed.iter().copied()),
                );
            }
        }
    }

    /// A scalar as text (numbers and booleans as written).
    pub fn string(&mut self, node: &Node, context: &str, key: &str) -> Option<String> {
        match node.scalar_text() {
            Some(s) => Some(s),
            None => {
                self.err(
                    node.pos,
                    context,
                    format!("`{key}`: expected a string, found {}", node.type_word()),
                );
                None
            }
        }
    }

    /// `true`/`false`, native or as a string.
    pub fn boolean(&mut self, node: &Node, context: &str, key: &str) -> Option<bool> {
        match &node.kind {
            Kind::Bool(b) => Some(*b),
            Kind::Str(s) if matches!(s.to_ascii_lowercase().as_str(), "true" | "yes") => Some(true),
            Kind::Str(s) if matches!(s.to_ascii_lowercase().as_str(), "false" | "no") => {
                Some(false)
            }
            _ => {
                let found = node
                    .scalar_text()
                    .map_or_else(|| node.type_word().to_owned(), |s| format!("\"{s}\""));
                self.err(
                    node.pos,
                    context,
                    format!("`{key}`: expected true or false, found {found}"),
                );
                None
            }
        }
    }

    /// One name or a list of names (`depends_on: a` or `depends_on: [a, b]`).
    pub fn names(&mut self, node: &Node, context: &str, key: &str) -> Vec<Named> {
        match &node.kind {
            Kind::Null => Vec::new(),
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| {
                    let name = self.string(i, context, key)?;
                    Some(Named { name, pos: i.pos })
                })
                .collect(),
            _ => match node.scalar_text() {
                Some(name) => vec![Named {
                    name,
                    pos: node.pos,
                }],
                None => {
                    self.err(
                        node.pos,
                        context,
                        format!(
                            "`{key}`: expected a name or a list of names, found {}",
                            node.type_word()
                        ),
                    );
                    Vec::new()
                }
            },
        }
    }

    /// A `vars:` mapping; secret references are checked here.
    pub fn vars(&mut self, node: &Node, context: &str) -> Vars {
        let mut out = Vars::new();
        let Some(entries) = self.map(node, context, "`vars`") else {
            return out;
        };
        for (k, v) in entries {
            let value = v.to_json();
            if let Err(e) = secret::check_value(&value) {
                self.err(v.pos, context, format!("var `{}`: {e}", k.name));
            }
            out.insert(
                k.name.clone(),
                VarDef {
                    value,
                    origin: self.origin(k.pos),
                },
            );
        }
        out
    }
}

/// Whether `name` is a valid crate, role or environment name: letters, digits, `_`, `-`, `.`.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}
