//! Trait collectors: facts about the envoy (`os`, `network`, `memory`, `packages`, …),
//! reachable in templates and `when:` as `.Traits.<collector>.<field>`.
//!
//! One module per collector under [`collectors`], all with the same shape: a typed output
//! struct, a `collect(&Ctx)` function, a class and a timeout, registered in one table
//! ([`collectors::all`]), which also gives the typed [`Traits`] (one field per collector).
//! [`schema`] describes every output type as data (fields, types, doc lines): the field
//! list `when:` and templates may read, and the tables of `docs/traits.md` ([`docs`]).
//! The [`runner`] runs them in parallel, each under its own timeout; a failed or timed-out
//! collector is reported under `_errors` with its reason and never affects the others. [`cache`] decides which collectors a check-in cycle re-runs.
//!
//! Collectors read procfs, sysfs and files natively (no subprocess where the kernel or a
//! file has the answer), relative to [`Ctx::root`] so tests can point them at fixtures.

pub mod cache;
pub mod collectors;
pub mod ctx;
pub mod docs;
pub mod error;
pub mod runner;
pub mod schema;

pub use cache::{Class, TraitCache};
pub use collectors::{Collector, Traits, all, find};
pub use ctx::Ctx;
pub use error::TraitError;
pub use runner::{Report, run};
