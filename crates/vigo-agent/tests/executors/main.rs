//! Every resource type against a real Debian userland: the agent binary runs inside a
//! disposable sandbox root (services: a booted systemd container) through `vigo resource`,
//! the same engine as `vigo run`, and the results are checked with the OS's own tools.
//!
//! For each type: (1) the first apply creates the state; (2) the second reports `none`;
//! (3) after drift, a dry-run reports the action and writes nothing (the overlay's upper
//! directory is unchanged outside the agent's own `/var/lib/vigo`); (4) the real run
//! repairs it; (5) a bad attribute fails naming the resource and the attribute.

mod support;

mod accounts;
mod apply;
mod edits;
mod exec_cron;
mod files;
mod package;
mod service;
