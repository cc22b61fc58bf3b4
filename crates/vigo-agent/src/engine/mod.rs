//! The convergence engine: a [`Plan`] in, per-resource [`ResourceResult`]s out.
//!
//! Data flows one way: bundle → plan (templates rendered and `when:` evaluated against
//! fresh traits, dependencies resolved to ids) → apply (this module) → results. The engine
//! owns the properties no executor may break:
//!
//! - **Dry-run is an engine property**: in dry-run it calls `check` only and reports the
//!   action `apply` would take; no executor is ever asked to change anything.
//! - **Order** is the plan's (a topological order of the dependency graph). A failed
//!   resource skips its dependents, transitively, and nothing else.
//! - **Notify targets** (`when: "changed"`) are skipped in the normal pass and run once,
//!   after it, when at least one of their notifiers changed something.
//! - **Preemption**: between resources the engine asks whether a manual run wants the
//!   machine, and stops the pass if so.
//! - **Taint**: what a resource derives from a secret is never shown; every message about
//!   it passes through its [`Sensitive`] (see `redact`), and its files are snapshotted
//!   without content.

mod language;
mod needs;
mod plan;
mod planner;
mod redact;
mod result;
mod run;
mod trace;

pub use language::{LangEvaluator, SystemProbe};
pub use needs::{TraitNeeds, trait_needs};
pub use plan::{Plan, PlannedResource};
pub use planner::{Evaluator, PlanInput, plan};
pub use redact::Sensitive;
pub use result::{Action, ResourceResult, RunReport};
pub use run::{Options, run};
pub use trace::Trace;
