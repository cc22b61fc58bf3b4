//! `docs/traits.md`'s tables, generated from the collector table and the output types'
//! descriptions, so the docs cannot disagree with what is collected. The generated text
//! sits between two marker comments; prose outside them is hand-written.
//!
//! A test (`docs_are_current`) fails when the committed file differs; it rewrites the file
//! with `VIGO_REGENERATE_DOCS=1`.

use std::fmt::Write;

use crate::cache::Class;
use crate::collectors::all;
use crate::schema::Shape;

/// The line that opens the generated region.
pub const BEGIN: &str = "<!-- BEGIN GENERATED: collector tables (from crates/vigo-traits; regenerate: VIGO_REGENERATE_DOCS=1 cargo nextest run -p vigo-traits docs_are_current) -->";
/// The line that closes it.
pub const END: &str = "<!-- END GENERATED: collector tables -->";

/// How often a class is re-collected, as the docs say it.
fn cadence(class: Class) -> &'static str {
    match class {
        Class::Volatile => "every check-in",
        Class::Stable => "every `--trait-refresh-cycles` check-ins (default 10)",
        Class::Periodic => "hourly",
    }
}

fn class_name(class: Class) -> &'static str {
    match class {
        Class::Volatile => "volatile",
        Class::Stable => "stable",
        Class::Periodic => "periodic",
    }
}

/// The generated region (without the markers).
pub fn generate() -> String {
    let collectors = all();
    let mut out = String::new();
    out.push_str(
        "## Classes and caching\n\n| class | re-collected | collectors |\n|---|---|---|\n",
    );
    for class in [Class::Volatile, Class::Stable, Class::Periodic] {
        let names: Vec<&str> = collectors
            .iter()
            .filter(|c| c.class == class)
            .map(|c| c.name)
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            class_name(class),
            cadence(class),
            names.join(", ")
        );
    }
    out.push_str("\n## Collectors\n\n| collector | class | what it reports |\n|---|---|---|\n");
    for c in &collectors {
        let _ = writeln!(
            out,
            "| [`{0}`](#{0}) | {1} | {2} |",
            c.name,
            class_name(c.class),
            c.doc.trim()
        );
    }
    out.push_str(
        "\nField paths follow `.Traits.<collector>.`; `<key>` stands for a name the host \
         decides (a device, a mountpoint, an interface) and `[]` for a list index. A field \
         marked *optional* is left out when the host does not say.\n",
    );
    for c in &collectors {
        let _ = write!(
            out,
            "\n### {}\n\n{} ({}).\n\n| field | type | meaning |\n|---|---|---|\n",
            c.name,
            c.doc.trim().trim_end_matches('.'),
            class_name(c.class)
        );
        rows(&mut out, "", (c.shape)());
    }
    out
}

/// One table row per field under `shape`, depth first, paths joined with `.`.
fn rows(out: &mut String, prefix: &str, shape: Shape) {
    match shape {
        Shape::Object(fields) => {
            for f in fields {
                let path = format!("{prefix}{}", f.name());
                let inner = (f.shape)();
                let optional = if f.optional { ", optional" } else { "" };
                let _ = writeln!(
                    out,
                    "| `{path}` | {}{optional} | {} |",
                    inner.type_name(),
                    f.doc().replace('|', "\\|")
                );
                rows_of(out, &path, inner);
            }
        }
        Shape::Map(inner) => {
            let dot = if prefix.is_empty() { "" } else { "." };
            rows_of(out, &format!("{prefix}{dot}<key>"), inner());
        }
        Shape::List(inner) => rows_of(out, &format!("{prefix}[]"), inner()),
        Shape::Bool | Shape::Integer | Shape::Number | Shape::Text => {}
    }
}

/// The rows of the elements of a map or list found at `path`.
fn rows_of(out: &mut String, path: &str, inner: Shape) {
    match inner {
        Shape::Object(_) => rows(out, &format!("{path}."), inner),
        Shape::Map(_) | Shape::List(_) => rows(out, path, inner),
        Shape::Bool | Shape::Integer | Shape::Number | Shape::Text => {}
    }
}

/// `text` with its generated region replaced by `generated`; `None` when the markers are
/// missing or out of order.
pub fn splice(text: &str, generated: &str) -> Option<String> {
    vigo_core::docgen::splice(text, BEGIN, END, &format!("\n\n{generated}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/traits.md");
        vigo_core::docgen::check(&path, "vigo-traits", |text| {
            splice(text, &generate()).ok_or_else(|| format!("lacks the markers\n{BEGIN}\n…\n{END}"))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn every_field_has_a_doc_line() {
        fn walk(path: &str, shape: Shape, missing: &mut Vec<String>) {
            match shape {
                Shape::Object(fields) => {
                    for f in fields {
                        let p = format!("{path}.{}", f.name());
                        if f.doc().is_empty() {
                            missing.push(p.clone());
                        }
                        walk(&p, (f.shape)(), missing);
                    }
                }
                Shape::Map(inner) | Shape::List(inner) => walk(path, inner(), missing),
                _ => {}
            }
        }
        let mut missing = Vec::new();
        for c in all() {
            assert!(!c.doc.trim().is_empty(), "{} has no doc line", c.name);
            walk(c.name, (c.shape)(), &mut missing);
        }
        assert!(
            missing.is_empty(),
            "fields without a doc comment: {missing:?}"
        );
    }

    #[test]
    fn nested_fields_get_paths() {
        let text = generate();
        assert!(
            text.contains("| `interfaces.<key>.mtu` | integer |"),
            "{text}"
        );
        assert!(text.contains("| `devices[].type` | string |"), "{text}");
        assert!(text.contains("| `<key>.used_pct` | number |"), "{text}");
        assert!(
            text.contains("| `instance_id` | string, optional |"),
            "{text}"
        );
    }
}
