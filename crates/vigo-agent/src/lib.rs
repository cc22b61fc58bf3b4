//! The `vigo` agent: command line, settings, state store, engine, gRPC client,
//! convergence cycle, daemon loop, enrollment, certificate renewal and key re-pinning.
//!
//! The binary in `main.rs` is a thin edge over this library so integration tests and
//! benchmarks can drive the same code.

pub mod apply_cmd;
pub mod bootstrap_cmd;
pub mod cli;
pub mod client;
pub mod clock;
pub mod converge;
pub mod daemon;
pub mod engine;
pub mod enroll;
pub mod harden;
pub mod identity;
pub mod leftovers;
pub mod logging;
pub mod pipeline;
pub mod preempt;
pub mod register_cmd;
pub mod renew;
pub mod repin;
pub mod reports;
pub mod resource_cmd;
pub mod run_cmd;
pub mod service_unit;
pub mod settings;
pub mod snapshots_cmd;
pub mod state;
pub mod status_cmd;
pub mod tasks;
pub mod traits_cmd;
