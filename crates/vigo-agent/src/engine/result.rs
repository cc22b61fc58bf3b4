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

impl RunReport {
    /// Count of results with `action`.
    pub fn count(&self, action: Action) -> usize {
        self.results.iter().filter(|r| r.action == action).count()
    }

    /// Whether any resource failed (error or blocked).
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| matches!(r.action, Action::Error | Action::Blocked))
    }
}
