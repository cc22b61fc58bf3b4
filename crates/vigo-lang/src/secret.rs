//! Secret references: `secret:<path>` anywhere in a string value (vars, attributes,
//! `when:`), whole or mid-string; there is no escape. The server never puts a secret value
//! in a bundle: each reference becomes the marker `__VIGO_SECRET__<path>__END__`, which the
//! agent resolves in memory at apply time.
//!
//! A path is one or more segments of `[A-Za-z0-9_.-]` separated by `/`; no empty segment,
//! no `.` or `..` segment. It ends at the first character outside that set.

use serde_json::Value;

/// What starts a reference.
pub const PREFIX: &str = "secret:";
pub use vigo_core::secret::{MARKER_END, MARKER_START, SECRET_FILE_PLACEHOLDER};

use crate::template::{Template, TemplateError};

fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/')
}

/// Checks one path; the error says what is wrong.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err(
            "`secret:` must be followed by a path such as `secret:vigo/db/password`".into(),
        );
    }
    if path
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(format!(
            "bad secret path `{path}`: segments separated by single `/`, none empty, `.` or `..`"
        ));
    }
    if path.contains(MARKER_END) {
        return Err(format!(
            "bad secret path `{path}`: it may not contain `{MARKER_END}`"
        ));
    }
    Ok(())
}

/// Splits `s` at its references: `(text before, path)` pairs and the rest.
fn scan(s: &str) -> (Vec<(&str, &str)>, &str) {
    let mut refs = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(PREFIX) {
        let after = &rest[i + PREFIX.len()..];
        let end = after.find(|c: char| !path_char(c)).unwrap_or(after.len());
        // A trailing `.` or `/` is punctuation, not part of the path.
        let path = after[..end].trim_end_matches(['.', '/']);
        refs.push((&rest[..i], path));
        rest = &after[path.len()..];
    }
    (refs, rest)
}

/// The secret paths referenced in `s`, or the first malformed one.
pub fn references(s: &str) -> Result<Vec<&str>, String> {
    let (refs, _) = scan(s);
    refs.into_iter()
        .map(|(_, p)| check_path(p).map(|()| p))
        .collect()
}

/// `s` with every reference replaced by its marker (references must be valid).
pub fn to_markers(s: &str) -> String {
    if !s.contains(PREFIX) {
        return s.to_owned();
    }
    let (refs, rest) = scan(s);
    let mut out = String::with_capacity(s.len() + refs.len() * 24);
    for (before, path) in refs {
        out.push_str(before);
        out.push_str(MARKER_START);
        out.push_str(path);
        out.push_str(MARKER_END);
    }
    out.push_str(rest);
    out
}

/// Replaces references in every string of `v`.
pub fn markers_in(v: &mut Value) {
    match v {
        Value::String(s) if s.contains(PREFIX) => *s = to_markers(s),
        Value::Array(items) => items.iter_mut().for_each(markers_in),
        Value::Object(map) => map.values_mut().for_each(markers_in),
        _ => {}
    }
}

/// Checks every string of `v`; the first malformed reference.
pub fn check_value(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if s.contains(PREFIX) => references(s).map(|_| ()),
        Value::Array(items) => items.iter().try_for_each(check_value),
        Value::Object(map) => map.values().try_for_each(check_value),
        _ => Ok(()),
    }
}

/// The one way an attribute string is parsed as a template (publish, `foreach` expansion
/// and the agent's planner alike): `exec`'s [`SECRET_FILE_PLACEHOLDER`] is plain text, not a
/// template action, so it is parsed as an action that prints itself.
pub fn parse_attribute(name: &str, text: &str) -> Result<Template, TemplateError> {
    if text.contains(SECRET_FILE_PLACEHOLDER) {
        let literal = format!("{{{{\"{SECRET_FILE_PLACEHOLDER}\"}}}}");
        Template::parse(name, &text.replace(SECRET_FILE_PLACEHOLDER, &literal))
    } else {
        Template::parse(name, text)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn whole_and_mid_string() {
        assert_eq!(references("secret:vigo/db/pw"), Ok(vec!["vigo/db/pw"]));
        assert_eq!(
            to_markers("password = secret:vigo/db/pw now."),
            "password = __VIGO_SECRET__vigo/db/pw__END__ now."
        );
        assert_eq!(
            to_markers("a=secret:x b=secret:y/z"),
            "a=__VIGO_SECRET__x__END__ b=__VIGO_SECRET__y/z__END__"
        );
        assert_eq!(to_markers("no refs"), "no refs");
    }

    #[test]
    fn malformed() {
        assert_eq!(
            references("secret:").unwrap_err(),
            "`secret:` must be followed by a path such as `secret:vigo/db/password`"
        );
        assert_eq!(
            references("secret:a//b").unwrap_err(),
            "bad secret path `a//b`: segments separated by single `/`, none empty, `.` or `..`"
        );
        assert!(references("secret:../etc/shadow").is_err());
    }

    #[test]
    fn the_secret_file_placeholder_is_text_not_a_template_action() {
        let t = parse_attribute("command", "psql -f {{secret_file}} -h {{ .Vars.h }}").unwrap();
        assert_eq!(
            t.render(&json!({"Vars": {"h": "db"}})).unwrap(),
            "psql -f {{secret_file}} -h db"
        );
    }

    #[test]
    fn whole_values() {
        let mut v = json!({"a": ["secret:x"], "b": 1});
        assert_eq!(check_value(&v), Ok(()));
        markers_in(&mut v);
        assert_eq!(v, json!({"a": ["__VIGO_SECRET__x__END__"], "b": 1}));
        assert!(check_value(&json!({"a": "secret: x"})).is_err());
    }
}
