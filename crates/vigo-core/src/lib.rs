//! The shared vocabulary of Vigo: resources, actions, bundles, canonical encoding and
//! ed25519 signing, key-rotation announcements, certificate renewal timing, guardrails,
//! secret markers, the patterns of the partial-file types, the cron schedule grammar, the
//! clock offset file of test builds.
//! Agent, server and CLI all speak these types.

pub mod action;
pub mod bundle;
pub mod cron;
pub mod docgen;
pub mod duration;
pub mod error;
pub mod guardrails;
pub mod log_level;
pub mod pattern;
pub mod renewal;
pub mod rotation;
pub mod secret;
pub mod signing;
pub mod suggest;
pub mod task;
pub mod test_clock;
pub mod types;

pub use action::Action;
pub use bundle::{Bundle, BundleCrate, BundleResource};
