//! Per-resource outcomes and the run report (`--json` and `ReportResult`).

use serde::Serialize;

/// What happened to one resource: the vocabulary shared with executors, reports and the
/// server (`vigo_core::Action`).
pub use vigo_core::Action;

/// The outcome of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceResult {
    /// `configcrate/name`.
    pub id: String,
    /// The configcrate.
    pub configcrate: String,
    /// The resource type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// The resource name.
    pub name: String,
    /// What happened.
    pub action: Action,
    /// Wall-clock time spent on the resource, in microseconds.
    pub duration_micros: u64,
    /// Detail: what differed, why it was skipped, or the error. Never a secret value.
    pub message: String,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunReport {
    /// The run was a dry-run: nothing was changed.
    pub dry_run: bool,
    /// A manual run preempted this one before it finished.
    pub preempted: bool,
    /// Per-resource results, in the order they ran.
    pub results: Vec<ResourceResult>,
    /// Wall-clock time of the whole run, in microseconds.
    pub duration_micros: u64,
}

/// How the trace and the summary name `action`: `would create`, `would update` and
/// `would delete` in a dry-run, the action's own word otherwise.
pub fn verb(action: Action, dry_run: bool) -> &'static str {
    match (dry_run, action) {
        (true, Action::Created) => "would create",
        (true, Action::Updated) => "would update",
        (true, Action::Deleted) => "would delete",
        (_, a) => a.as_str(),
    }
}

impl RunReport {
    /// Count of results with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.results.iter().filter(|r| r.action == action).count()
    }

    /// The closing line of a trace: `12 resources: 2 created, 1 updated, 9 none in 41.2ms`
    /// (only the actions that occurred; "would …" in a dry-run).
    pub fn summary_line(&self) -> String {
        let mut parts = Vec::new();
        for action in [
            Action::Created,
            Action::Updated,
            Action::Deleted,
            Action::Skipped,
            Action::None,
            Action::Error,
            Action::Blocked,
        ] {
            let n = self.count(action);
            if n > 0 {
                parts.push(format!("{n} {}", verb(action, self.dry_run)));
            }
        }
        let ms = self.duration_micros as f64 / 1_000.0;
        let mut line = format!(
            "{} resource{}: {} in {ms:.1}ms",
            self.results.len(),
            if self.results.len() == 1 { "" } else { "s" },
            if parts.is_empty() {
                "nothing to do".to_owned()
            } else {
                parts.join(", ")
            }
        );
        if self.dry_run {
            line.push_str(" (dry-run: nothing changed)");
        }
        if self.preempted {
            line.push_str(" (preempted by a manual run)");
        }
        line
    }

    /// Whether any resource failed (error or blocked).
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.action, Action::Error | Action::Blocked))
    }
}
