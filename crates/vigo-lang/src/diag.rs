//! Diagnostics: one error of a stack, said the way an operator can act on it — where
//! (`file:line:column`), which crate/resource, what was expected, and a "did you mean"
//! hint when a close name exists. The loader collects all of them for the whole tree.
//!
//! Format (one line): `configcrates/nginx.vgo:12:5: configcrate "nginx" resource "site":
//! unknown attribute `mdoe` for type file; did you mean `mode`?`

use std::fmt;

use crate::yaml::Pos;

/// One problem in a stack.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// Path of the file relative to `stacks/` (`""` when the problem is not in one file).
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// What it is about: `configcrate "nginx" resource "site"`, `role "web"`, … (may be empty).
    pub context: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// A hint such as "did you mean `mode`?".
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `file:pos`.
    pub fn new(file: &str, pos: Pos, context: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_owned(),
            pos,
            context: context.to_owned(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}:{}: ", self.file, self.pos)?;
        }
        if !self.context.is_empty() {
            write!(f, "{}: ", self.context)?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "; {h}")?;
        }
        Ok(())
    }
}

/// Every problem found in a stack, sorted by file and position, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Errors(pub Vec<Diagnostic>);

impl Errors {
    /// Sorts and removes duplicates (the same problem found through several match blocks).
    pub fn normalize(&mut self) {
        self.0.sort();
        self.0.dedup();
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Adds one problem.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

pub use vigo_core::suggest::did_you_mean;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_with_position_context_and_hint() {
        let d = Diagnostic::new(
            "configcrates/nginx.vgo",
            Pos { line: 12, col: 5 },
            "configcrate \"nginx\" resource \"site\"",
            "unknown attribute `mdoe` for type file",
        )
        .with_hint(did_you_mean("mdoe", ["mode", "owner", "group"]));
        assert_eq!(
            d.to_string(),
            "configcrates/nginx.vgo:12:5: configcrate \"nginx\" resource \"site\": unknown attribute `mdoe` for type file; did you mean `mode`?"
        );
    }

    #[test]
    fn hints_only_for_close_names() {
        assert_eq!(did_you_mean("xyz", ["mode", "owner"]), None);
        assert_eq!(
            did_you_mean("ngnix", ["nginx", "ntp"]).as_deref(),
            Some("did you mean `nginx`?")
        );
        assert_eq!(did_you_mean("state", ["state"]), None, "never itself");
    }
}
