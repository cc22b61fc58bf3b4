//! The `vigo` agent: command line, and (as later issues land) settings, state store,
//! engine, gRPC client, daemon loop and enrollment.
//!
//! The binary in `main.rs` is a thin edge over this library so integration tests and
//! benchmarks can drive the same code.

pub mod apply_cmd;
pub mod cli;
pub mod engine;
pub mod harden;
pub mod identity;
pub mod preempt;
pub mod resource_cmd;
pub mod service_unit;
pub mod settings;
pub mod snapshots_cmd;
pub mod state;
pub mod status_cmd;
pub mod traits_cmd;
