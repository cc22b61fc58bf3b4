//! The text of `vigo resource --help` (the types) and `vigo resource TYPE --help` (one
//! type's attributes), generated from the definitions.

use std::fmt::Write as _;

use super::{ENGINE, Required, TYPES, TypeDef};

/// The first sentence of a paragraph.
fn summary(doc: &str) -> &str {
    doc.split_once(". ")
        .map_or(doc, |(first, _)| first)
        .trim_end_matches('.')
}

/// The list of built-in types with one line each.
pub fn types_list() -> String {
    let width = TYPES.iter().map(|t| t.name.len()).max().unwrap_or(0);
    let mut out =
        String::from("Built-in types (`vigo resource TYPE --help` for a type's attributes):\n");
    for t in TYPES {
        let _ = writeln!(out, "  {:width$}  {}", t.name, summary(t.doc));
    }
    out
}

/// One type's attributes, defaults and example.
pub fn type_help(t: &TypeDef) -> String {
    let mut out = format!("{}: {}\n\nAttributes:\n", t.name, t.doc);
    let width = t.attrs.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in t.attrs {
        let mut facts = vec![a.kind.describe()];
        match a.required {
            Required::No => {}
            Required::Yes => facts.push("required".into()),
            other => facts.push(format!("required {}", other.describe())),
        }
        if !a.default.is_empty() {
            facts.push(format!("default {}", a.default));
        }
        let _ = writeln!(out, "  {:width$}  {} ({})", a.name, a.doc, facts.join("; "));
        if !a.example.is_empty() {
            let _ = writeln!(out, "  {:width$}  e.g. {}: {}", "", a.name, a.example);
        }
    }
    let engine: Vec<&str> = ENGINE
        .iter()
        .map(|e| e.name)
        .filter(|n| !matches!(*n, "name" | "type"))
        .collect();
    let _ = write!(
        out,
        "\nEngine attributes (every type): {}\n\nExample (in a stack):\n",
        engine.join(", ")
    );
    for line in t.example.lines() {
        let _ = writeln!(out, "  {line}");
    }
    out
}
