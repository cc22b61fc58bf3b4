//! The one mechanism behind generated documentation: a document keeps hand-written prose
//! around regions between marker comments, a generator rewrites the regions from the
//! definitions (resource types, trait collectors, agent settings), and a test fails when
//! the committed file differs, saying how to regenerate it.

use std::path::Path;

/// Set to rewrite a stale document instead of failing:
/// `VIGO_REGENERATE_DOCS=1 cargo nextest run -p <crate> docs_are_current`.
pub const REGENERATE_ENV: &str = "VIGO_REGENERATE_DOCS";

/// `text` with what lies between the `begin` and `end` markers replaced by `body` (the
/// markers stay); `None` when either marker is missing or they are out of order.
pub fn splice(text: &str, begin: &str, end: &str, body: &str) -> Option<String> {
    let start = text.find(begin)? + begin.len();
    let stop = start + text[start..].find(end)?;
    Some(format!("{}{body}{}", &text[..start], &text[stop..]))
}

/// What [`check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The document holds what its generator makes.
    Current,
    /// It did not, and [`REGENERATE_ENV`] was set: it was rewritten.
    Regenerated,
}

/// Compares the document at `path` with `generate(current text)`; rewrites it when
/// [`REGENERATE_ENV`] is set. `package` names the crate whose `docs_are_current` test
/// regenerates it, for the message. An error says what is wrong and how to fix it.
pub fn check(
    path: &Path,
    package: &str,
    generate: impl FnOnce(&str) -> Result<String, String>,
) -> Result<Freshness, String> {
    let shown = path.display();
    let current = std::fs::read_to_string(path).map_err(|e| format!("reading {shown}: {e}"))?;
    let wanted = generate(&current).map_err(|e| format!("{shown}: {e}"))?;
    if current == wanted {
        return Ok(Freshness::Current);
    }
    if std::env::var_os(REGENERATE_ENV).is_some() {
        std::fs::write(path, &wanted).map_err(|e| format!("writing {shown}: {e}"))?;
        return Ok(Freshness::Regenerated);
    }
    Err(format!(
        "{shown} is stale: regenerate it with `{REGENERATE_ENV}=1 cargo nextest run -p {package} docs_are_current` and commit the result"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_between_markers_and_keeps_prose() {
        let doc = "intro\n<!-- a -->old<!-- b -->\nend\n";
        assert_eq!(
            splice(doc, "<!-- a -->", "<!-- b -->", "\nnew\n").as_deref(),
            Some("intro\n<!-- a -->\nnew\n<!-- b -->\nend\n")
        );
        assert_eq!(
            splice(doc, "<!-- b -->", "<!-- a -->", "x"),
            None,
            "out of order"
        );
        assert_eq!(
            splice(doc, "<!-- c -->", "<!-- b -->", "x"),
            None,
            "missing"
        );
    }

    #[test]
    fn a_stale_document_fails_with_the_way_to_regenerate() {
        let dir = std::env::temp_dir().join(format!("vigo-docgen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("doc.md");
        std::fs::write(&path, "old").unwrap();
        if std::env::var_os(REGENERATE_ENV).is_none() {
            let e = check(&path, "vigo-core", |_| Ok("new".into())).unwrap_err();
            assert!(
                e.contains("is stale") && e.contains("-p vigo-core docs_are_current"),
                "{e}"
            );
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                "old",
                "nothing written"
            );
        }
        assert_eq!(
            check(&path, "vigo-core", |t| Ok(t.to_owned())),
            Ok(Freshness::Current)
        );
        let e = check(&path, "vigo-core", |_| Err("no markers".into())).unwrap_err();
        assert!(e.ends_with(": no markers"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
