//! Executors: one module per resource type, the `Executor` contract (`check` reads the
//! system and returns the drift; `apply` changes it, and only the engine calls it, never
//! in dry-run), the registry, snapshots and custom executor scripts.
//!
//! The shared mechanisms every executor goes through live here too: [`command`] (the one
//! way to run a program), [`atomic`] (the one atomic file writer) and [`snapshot`] (the
//! previous content of every changed file).

pub mod atomic;
pub mod command;
pub mod snapshot;
