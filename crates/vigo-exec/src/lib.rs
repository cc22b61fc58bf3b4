//! Executors: one module per resource type, the `Executor` contract (`check` then
//! `apply`), the registry, snapshots and custom executor scripts.
