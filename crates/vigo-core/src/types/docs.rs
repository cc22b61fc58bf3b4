//! The generated parts of `docs/resources.md`: each type's paragraph, attribute table and
//! example, and the table of engine attributes, between marker comments. Prose outside
//! the markers is hand-written and kept as it is.
//!
//! A region starts with `<!-- generated: type NAME -->` (or `<!-- generated: engine -->`,
//! `<!-- generated: primary -->`) and ends with `<!-- end generated -->`.

use std::fmt::Write as _;

use super::{ENGINE, TYPES, TypeDef, lookup};

/// The marker that closes a generated region.
pub const END: &str = "<!-- end generated -->";
const START: &str = "<!-- generated: ";

/// Why the generated regions of a document could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocsError {
    /// A start marker without its end marker.
    #[error("line {line}: `{marker}` has no `{END}` after it")]
    Unclosed {
        /// 1-based line of the start marker.
        line: usize,
        /// The start marker.
        marker: String,
    },
    /// A start marker naming something that is not a type.
    #[error("line {line}: `{marker}` names no built-in type, `engine` or `primary`")]
    Unknown {
        /// 1-based line of the start marker.
        line: usize,
        /// The start marker.
        marker: String,
    },
    /// A built-in type without a region.
    #[error("no `<!-- generated: type {0} -->` region for the built-in type `{0}`")]
    Missing(&'static str),
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The generated text of one type: its paragraph, attribute table and example.
pub fn type_section(t: &TypeDef) -> String {
    let mut out = format!("{}\n\n", t.doc);
    out.push_str("| attribute | kind | required | default | meaning | example |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for a in t.attrs {
        let example = if a.example.is_empty() {
            String::new()
        } else {
            format!("`{}`", a.example)
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            a.name,
            cell(&a.kind.describe()),
            cell(&a.required.describe()),
            cell(a.default),
            cell(a.doc),
            cell(&example)
        );
    }
    let _ = write!(out, "\n```yaml\n{}\n```\n", t.example);
    out
}

/// The generated table of engine attributes.
pub fn engine_section() -> String {
    let mut out = String::from("| attribute | meaning |\n|---|---|\n");
    for e in ENGINE {
        let _ = writeln!(out, "| `{}` | {} |", e.name, cell(e.doc));
    }
    out
}

/// The generated sentence naming each type's primary attribute.
pub fn primary_section() -> String {
    let mut by_attr: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut without = Vec::new();
    for t in TYPES {
        if t.primary.is_empty() {
            without.push(format!("`{}`", t.name));
        } else if let Some((_, names)) = by_attr.iter_mut().find(|(a, _)| *a == t.primary) {
            names.push(t.name);
        } else {
            by_attr.push((t.primary, vec![t.name]));
        }
    }
    let named: Vec<String> = by_attr
        .iter()
        .map(|(a, names)| format!("`{a}` ({})", names.join(", ")))
        .collect();
    format!(
        "A resource without `name:` is named by its type's main attribute: {}; {} needs a `name:`.\n",
        named.join(", "),
        without.join(", ")
    )
}

/// `doc` with every generated region replaced by the current text; fails on a broken
/// marker or a built-in type without a region.
pub fn regenerate(doc: &str) -> Result<String, DocsError> {
    let mut out = String::with_capacity(doc.len());
    let mut lines = doc.split_inclusive('\n').enumerate();
    let mut seen = Vec::new();
    while let Some((i, line)) = lines.next() {
        out.push_str(line);
        let marker = line.trim_end();
        let Some(what) = marker
            .strip_prefix(START)
            .and_then(|m| m.strip_suffix(" -->"))
        else {
            continue;
        };
        let body = match what.strip_prefix("type ").map(lookup) {
            Some(Some(t)) => {
                seen.push(t.name);
                type_section(t)
            }
            None if what == "engine" => engine_section(),
            None if what == "primary" => primary_section(),
            _ => {
                return Err(DocsError::Unknown {
                    line: i + 1,
                    marker: marker.to_owned(),
                });
            }
        };
        if !lines.any(|(_, l)| l.trim_end() == END) {
            return Err(DocsError::Unclosed {
                line: i + 1,
                marker: marker.to_owned(),
            });
        }
        out.push_str(&body);
        out.push_str(END);
        out.push('\n');
    }
    if let Some(t) = TYPES.iter().find(|t| !seen.contains(&t.name)) {
        return Err(DocsError::Missing(t.name));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/resources.md");

    /// `docs/resources.md` holds the text generated from the definitions. Regenerate with
    /// `VIGO_REGENERATE_DOCS=1 cargo nextest run -p vigo-core docs_are_current`.
    #[test]
    fn docs_are_current() {
        crate::docgen::check(std::path::Path::new(DOC), "vigo-core", |text| {
            regenerate(text).map_err(|e| e.to_string())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn regions_are_replaced_and_prose_kept() {
        let mut doc =
            String::from("intro\n<!-- generated: engine -->\nold\n<!-- end generated -->\n");
        for t in TYPES {
            doc.push_str(&format!(
                "## {0}\n<!-- generated: type {0} -->\n<!-- end generated -->\nprose {0}\n",
                t.name
            ));
        }
        let out = regenerate(&doc).unwrap();
        assert!(out.starts_with("intro\n<!-- generated: engine -->\n| attribute | meaning |"));
        assert!(!out.contains("old\n"));
        assert!(out.contains("prose file\n"));
        assert!(out.contains("| `target_path` | absolute path | yes |"));
        assert_eq!(regenerate(&out).unwrap(), out, "regenerating is stable");
    }

    #[test]
    fn broken_markers_are_errors() {
        assert_eq!(
            regenerate("<!-- generated: type nope -->\n")
                .unwrap_err()
                .to_string(),
            "line 1: `<!-- generated: type nope -->` names no built-in type, `engine` or `primary`"
        );
        assert!(matches!(
            regenerate("<!-- generated: engine -->\nx\n"),
            Err(DocsError::Unclosed { line: 1, .. })
        ));
        assert_eq!(
            regenerate("").unwrap_err(),
            DocsError::Missing("blockinfile")
        );
    }
}
