//! The executor contract: what every resource type implements and what the engine may
//! rely on.
//!
//! An [`Executor`] turns a resource's attributes into a [`Prepared`] resource once
//! (typed, validated — bad input fails here with an [`AttrError`] naming the attribute).
//! Then the engine calls [`Prepared::check`], which only *reads* the system and returns
//! the [`Drift`]; and, only when there is drift and the run is not a dry-run,
//! [`Prepared::apply`], which changes the system. Because dry-run is the engine never
//! calling `apply`, no executor can change anything in a preview, and a dry-run reports
//! exactly the change the real run would make.

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::atomic::PendingWrite;
use crate::attrs::AttrError;
use crate::command::CommandError;
use crate::snapshot::SnapshotStore;
use crate::stat_cache::ContentCache;

/// One resource as the engine hands it to an executor: templates already rendered,
/// secret markers already resolved (in memory only).
#[derive(Debug, Clone, Copy)]
pub struct ResourceDecl<'a> {
    /// The resource type (`file`, `package`, …).
    pub type_name: &'a str,
    /// The resource's name, unique in its configcrate.
    pub name: &'a str,
    /// All attributes, including the engine's own (`when`, `notify`, …), which executors
    /// ignore.
    pub attributes: &'a Map<String, Value>,
}

/// The kind of change a resource needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The thing does not exist and will be created.
    Create,
    /// The thing exists and will be modified.
    Update,
    /// The thing exists and will be removed.
    Delete,
}

/// One attribute that differs between the system and the desired state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// What differs (`content`, `mode`, `owner`, …).
    pub attribute: String,
    /// What the system has now (`"absent"` when nothing).
    pub current: String,
    /// What the resource wants.
    pub desired: String,
}

impl Difference {
    /// A difference of `attribute` from `current` to `desired`.
    pub fn new(attribute: &str, current: impl fmt::Display, desired: impl fmt::Display) -> Self {
        Self {
            attribute: attribute.to_owned(),
            current: current.to_string(),
            desired: desired.to_string(),
        }
    }
}

/// What `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The system already matches: nothing to do.
    InSync,
    /// A guard of the resource itself (e.g. `exec`'s `onlyif`) says not to act now; the
    /// engine reports `skipped` with the reason and does not call `apply`.
    Skipped(String),
    /// The system differs; `apply` would make this change.
    Change {
        /// Create, update or delete.
        kind: ChangeKind,
        /// What differs, for the trace and the report.
        differences: Vec<Difference>,
    },
}

impl Drift {
    /// A change of `kind` with these differences.
    pub fn change(kind: ChangeKind, differences: Vec<Difference>) -> Self {
        Drift::Change { kind, differences }
    }

    /// One line describing the differences: `mode 0600 → 0644; content sha256:ab12… → …`.
    pub fn summary(&self) -> String {
        match self {
            Drift::InSync => String::new(),
            Drift::Skipped(reason) => reason.clone(),
            Drift::Change { differences, .. } => differences
                .iter()
                .map(|d| format!("{} {} → {}", d.attribute, d.current, d.desired))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

/// What an executor needs from the engine while it runs.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Where files are snapshotted before they change (`None` disables snapshots).
    pub snapshots: Option<&'a SnapshotStore>,
    /// The resource's time limit; commands an executor runs share it.
    pub timeout: Duration,
}

/// Why a check or an apply failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The resource could not be brought to its state.
    #[error("{0}")]
    Failed(String),
    /// An infrastructure problem outside the resource (broken repository, full disk): the
    /// result is `blocked`, which maps to *diverged*.
    #[error("blocked: {0}")]
    Blocked(String),
    /// A program ran and failed; `output` is what it printed (already bounded). The engine
    /// shows the output only for resources that derive nothing from a secret.
    #[error("{summary}{output}")]
    Output {
        /// What failed (`command failed (exit code 4)`), without the program's output.
        summary: String,
        /// The program's output as it should follow the summary (`; stderr: …`), or empty.
        output: String,
    },
    /// A program could not be started.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::atomic::FileError),
}

impl ExecError {
    /// A failure with a message.
    pub fn failed(message: impl Into<String>) -> Self {
        ExecError::Failed(message.into())
    }
}

/// A resource type.
pub trait Executor: Send + Sync {
    /// The `type:` name this executor handles.
    fn type_name(&self) -> &str;

    /// Parses and validates the attributes into a ready-to-run resource.
    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError>;
}

/// A resource whose attributes have been validated.
pub trait Prepared: Send + Sync {
    /// Reads the system and says what differs. Must not change anything.
    fn check(&self, ctx: &Ctx<'_>) -> Result<Drift, ExecError>;

    /// Makes the change `check` reported. Called only by the engine, never in dry-run.
    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError>;

    /// [`Self::check`], with the run's record of verified file contents, which a check
    /// may trust instead of reading a file and feeds with what it reads (see
    /// [`crate::stat_cache`]). The default ignores it.
    fn check_cached(&self, ctx: &Ctx<'_>, _cache: &ContentCache) -> Result<Drift, ExecError> {
        self.check(ctx)
    }

    /// [`Self::apply`], except that a file write may be left [`Staged::Pending`] for the
    /// engine to commit together with other independent writes
    /// ([`crate::atomic::commit`]): the resource's change is complete once that write is
    /// committed. The default applies at once.
    fn stage(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<Staged, ExecError> {
        self.apply(drift, ctx).map(|()| Staged::Done)
    }
}

/// What [`Prepared::stage`] did.
#[derive(Debug)]
pub enum Staged {
    /// The change is made.
    Done,
    /// The new content is written beside its file; committing the write completes the
    /// change (dropping it leaves the file as it was).
    Pending(PendingWrite),
}
