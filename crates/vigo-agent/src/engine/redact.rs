//! Taint: what of a resource derives from a secret, and how its results are redacted.
//!
//! The planner marks an attribute *sensitive* when its rendered value derives from a
//! secret (a marker was substituted into it, or a template read a secret-bearing value);
//! `sensitive: true` on a resource marks all of it (like Puppet's `Sensitive` or Ansible's
//! `no_log`). Everything the engine says about a sensitive resource passes through
//! [`Sensitive`] before it reaches any sink — trace, logs, `--json`, the report, the
//! server:
//!
//! - a difference in a sensitive attribute shows [`REDACTED`] for both sides (only
//!   `absent` stays visible: it says nothing of a value);
//! - a program's output (`ExecError::Output`) is withheld;
//! - every other message has each sensitive value, each secret value the resource used,
//!   and each line of those, replaced by [`REDACTED`];
//! - the snapshot store keeps no content of the files it writes.

use std::collections::BTreeSet;

use vigo_core::secret::REDACTED;
use vigo_exec::contract::{Drift, ExecError};

/// Shortest line of a multi-line sensitive value that is redacted on its own: shorter
/// lines (`}`, `[db]`) say nothing about a secret and would garble every message.
const MIN_LINE: usize = 4;
/// Shortest value redacted from free text (a difference in a sensitive attribute is
/// redacted whatever its length).
const MIN_VALUE: usize = 3;

/// What of one resource derives from a secret. Holds values in memory only; its `Debug`
/// never prints them.
#[derive(Clone, Default)]
pub struct Sensitive {
    /// The whole resource is sensitive (`sensitive: true`).
    all: bool,
    /// Top-level attributes whose rendered value derives from a secret.
    attributes: BTreeSet<String>,
    /// The sensitive values (rendered attributes and raw secrets), longest first.
    values: Vec<String>,
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sensitive")
            .field("all", &self.all)
            .field("attributes", &self.attributes)
            .field("values", &self.values.len())
            .finish()
    }
}

impl Sensitive {
    /// Marks the whole resource sensitive.
    pub fn mark_all(&mut self) {
        self.all = true;
    }

    /// Marks `attribute` sensitive, remembering its rendered value for redaction.
    pub fn mark(&mut self, attribute: &str, value: &str) {
        self.attributes.insert(attribute.to_owned());
        self.remember(value);
    }

    /// Remembers a value (a raw secret the resource reads) to redact from messages.
    pub fn remember(&mut self, value: &str) {
        let mut add = |v: &str| {
            if v.trim().len() >= MIN_VALUE && !self.values.iter().any(|x| x == v) {
                self.values.push(v.to_owned());
            }
        };
        add(value);
        if value.contains('\n') {
            for line in value.lines().map(str::trim).filter(|l| l.len() >= MIN_LINE) {
                add(line);
            }
        }
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }

    /// Nothing of the resource is sensitive.
    pub fn is_empty(&self) -> bool {
        !self.all && self.attributes.is_empty() && self.values.is_empty()
    }

    /// Whether `attribute`'s value derives from a secret.
    pub fn covers(&self, attribute: &str) -> bool {
        self.all || self.attributes.contains(attribute)
    }

    /// `text` with every sensitive value replaced by [`REDACTED`].
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for v in &self.values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), REDACTED);
            }
        }
        out
    }

    /// The one-line description of `drift`, sensitive attributes redacted.
    pub fn summary(&self, drift: &Drift) -> String {
        if self.is_empty() {
            return drift.summary();
        }
        match drift {
            Drift::InSync => String::new(),
            Drift::Skipped(reason) => self.text(reason),
            Drift::Change { differences, .. } => differences
                .iter()
                .map(|d| {
                    let side = |v: &str| {
                        if !self.covers(&d.attribute) {
                            self.text(v)
                        } else if v == "absent" {
                            v.to_owned()
                        } else {
                            REDACTED.to_owned()
                        }
                    };
                    format!(
                        "{} {} → {}",
                        d.attribute,
                        side(&d.current),
                        side(&d.desired)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    /// The message of an executor error, redacted: a program's output is withheld.
    pub fn error(&self, e: &ExecError) -> String {
        if self.is_empty() {
            return e.to_string();
        }
        match e {
            ExecError::Output { summary, output } if !output.is_empty() => format!(
                "{} (output hidden: the resource uses a secret)",
                self.text(summary)
            ),
            other => self.text(&other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use vigo_exec::contract::{ChangeKind, Difference};

    use super::*;

    fn sensitive() -> Sensitive {
        let mut s = Sensitive::default();
        s.mark("content", "[db]\npassword = hunter2%21\nhost = db1\n");
        s.remember("hunter2!");
        s
    }

    #[test]
    fn differences_of_sensitive_attributes_show_no_value() {
        let drift = Drift::change(
            ChangeKind::Update,
            vec![
                Difference::new("content", "sha256:ab12", "sha256:cd34"),
                Difference::new("mode", "0644", "0600"),
            ],
        );
        assert_eq!(
            sensitive().summary(&drift),
            "content [sensitive] → [sensitive]; mode 0644 → 0600"
        );
        let create = Drift::change(
            ChangeKind::Create,
            vec![Difference::new("content", "absent", "sha256:cd34")],
        );
        assert_eq!(sensitive().summary(&create), "content absent → [sensitive]");
    }

    #[test]
    fn messages_lose_every_sensitive_value_and_line() {
        let s = sensitive();
        assert_eq!(
            s.text("bad line `password = hunter2%21` (raw hunter2!)"),
            "bad line `[sensitive]` (raw [sensitive])"
        );
        let e = ExecError::Output {
            summary: "command failed (exit code 1)".into(),
            output: "; stderr: auth failed for hunter2!".into(),
        };
        assert_eq!(
            s.error(&e),
            "command failed (exit code 1) (output hidden: the resource uses a secret)"
        );
        assert_eq!(
            Sensitive::default().error(&e),
            "command failed (exit code 1); stderr: auth failed for hunter2!"
        );
    }

    #[test]
    fn debug_never_prints_values() {
        assert!(!format!("{:?}", sensitive()).contains("hunter2"));
    }
}
