//! Executors: one module per resource type, the [`contract`] every type implements
//! (`check` reads the system and returns the drift; `apply` changes it, and only the
//! engine calls it, never in dry-run), the registry, snapshots and custom executor
//! scripts.
//!
//! The shared mechanisms every executor goes through live here too: [`command`] (the one
//! way to run a program), [`atomic`] (the one atomic file writer), [`snapshot`] (the
//! previous content of every changed file) and [`attrs`] (typed reading of attributes
//! with precise errors).

pub mod accounts;
pub mod atomic;
pub mod attrs;
pub mod command;
pub mod contract;
pub mod executors;
pub mod ids;
pub mod snapshot;
pub mod stat_cache;
