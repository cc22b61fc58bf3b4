//! Secret markers and sensitive values: the one definition shared by the server (which
//! writes markers into bundles), the language (which renders templates around them) and
//! the agent (which resolves them in memory and keeps what derives from them out of every
//! sink).
//!
//! A `secret:<path>` reference in a stack becomes the marker
//! `__VIGO_SECRET__<path>__END__` in a bundle. The agent substitutes markers only *after*
//! templates have rendered, so a secret value is data and never template code; whatever a
//! substitution produced is *sensitive* and every sink shows it as [`REDACTED`].
//!
//! ```
//! use vigo_core::secret::{self, Substituted};
//! let lookup = |path: &str| (path == "db/pw").then(|| "hunter2".to_owned());
//! let s = secret::substitute("pw=__VIGO_SECRET__db/pw__END__", &lookup).unwrap();
//! assert_eq!(s, Substituted { text: "pw=hunter2".into(), sensitive: true });
//! let plain = secret::substitute("no secret here", &lookup).unwrap();
//! assert!(!plain.sensitive);
//! ```

use std::collections::BTreeSet;

/// What starts a marker in a bundle.
pub const MARKER_START: &str = "__VIGO_SECRET__";
/// What ends a marker in a bundle.
pub const MARKER_END: &str = "__END__";
/// `exec`'s placeholder for the path of the private file holding its `secret_file`: plain
/// text for templates (never a template action), replaced by the executor when it runs.
pub const SECRET_FILE_PLACEHOLDER: &str = "{{secret_file}}";
/// How every sink (trace, logs, `--json`, results, snapshots, REST, UI) shows a value that
/// derives from a secret.
pub const REDACTED: &str = "[sensitive]";

/// Why markers could not be substituted. Names a path, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkerError {
    /// A marker start without its end.
    #[error("an unterminated secret marker")]
    Unterminated,
    /// The run has no value for this path.
    #[error("secret `{0}` was not resolved for this run")]
    Unresolved(String),
}

/// The result of [`substitute`]: the text, and whether any of it came from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Substituted {
    /// The text with every marker replaced by its value.
    pub text: String,
    /// At least one marker was replaced: the text is sensitive.
    pub sensitive: bool,
}

/// `(text before, path)` for each marker of a string, and the text after the last.
type Parts<'a> = (Vec<(&'a str, &'a str)>, &'a str);

/// Splits `s` at its markers.
fn scan(s: &str) -> Result<Parts<'_>, MarkerError> {
    let mut parts = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find(MARKER_START) {
        let after = &rest[start + MARKER_START.len()..];
        let end = after.find(MARKER_END).ok_or(MarkerError::Unterminated)?;
        parts.push((&rest[..start], &after[..end]));
        rest = &after[end + MARKER_END.len()..];
    }
    Ok((parts, rest))
}

/// Replaces every marker in `s` by `lookup(path)`, in one pass: a value is never scanned
/// again, so a secret that looks like a marker or a template stays as it is.
pub fn substitute(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Substituted, MarkerError> {
    if !s.contains(MARKER_START) {
        return Ok(Substituted {
            text: s.to_owned(),
            sensitive: false,
        });
    }
    let (parts, rest) = scan(s)?;
    let mut text = String::with_capacity(s.len());
    for (before, path) in &parts {
        text.push_str(before);
        text.push_str(&lookup(path).ok_or_else(|| MarkerError::Unresolved((*path).to_owned()))?);
    }
    text.push_str(rest);
    Ok(Substituted {
        text,
        sensitive: !parts.is_empty(),
    })
}

/// Adds the paths of every well-formed marker in `s` to `out`.
pub fn collect_paths(s: &str, out: &mut BTreeSet<String>) {
    let mut rest = s;
    while let Some(start) = rest.find(MARKER_START) {
        let after = &rest[start + MARKER_START.len()..];
        let Some(end) = after.find(MARKER_END) else {
            return;
        };
        out.insert(after[..end].to_owned());
        rest = &after[end + MARKER_END.len()..];
    }
}

/// Whether `s` holds a marker.
pub fn has_marker(s: &str) -> bool {
    s.contains(MARKER_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(path: &str) -> Option<String> {
        match path {
            "a" => Some("A".into()),
            "b/c" => Some("{{ .Vars.x }}".into()),
            "loop" => Some("__VIGO_SECRET__a__END__".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_every_marker_once_and_never_rescans_a_value() {
        let s = substitute(
            "x=__VIGO_SECRET__a__END__,y=__VIGO_SECRET__b/c__END__,z=__VIGO_SECRET__loop__END__",
            &lookup,
        )
        .unwrap();
        assert_eq!(s.text, "x=A,y={{ .Vars.x }},z=__VIGO_SECRET__a__END__");
        assert!(s.sensitive);
    }

    #[test]
    fn errors_name_the_path_never_a_value() {
        assert_eq!(
            substitute("__VIGO_SECRET__nope__END__", &lookup),
            Err(MarkerError::Unresolved("nope".into()))
        );
        assert_eq!(
            substitute("__VIGO_SECRET__a", &lookup),
            Err(MarkerError::Unterminated)
        );
    }

    #[test]
    fn collects_paths() {
        let mut out = BTreeSet::new();
        collect_paths(
            "__VIGO_SECRET__a__END__ __VIGO_SECRET__b/c__END__ __VIGO_SECRET__a__END__",
            &mut out,
        );
        assert_eq!(out.into_iter().collect::<Vec<_>>(), vec!["a", "b/c"]);
    }
}
