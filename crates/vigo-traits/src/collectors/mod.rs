//! The collectors, one module each, and the table of them all.
//!
//! Every module has the same shape: a typed, serialisable output struct and
//! `collect(&Ctx) -> Result<T, TraitError>`; its class and timeout are in [`all`].

pub mod agent_self;
pub mod blockdevices;
pub mod cloud;
pub mod dmi;
pub mod filesystem;
pub mod hardware;
pub mod host_self;
pub mod listeners;
pub mod loadavg;
pub mod memory;
pub mod mountpoints;
pub mod network;
pub mod os;
pub mod packages;
pub mod ports;
pub mod processes;
pub mod rpmdb;
pub mod swap;
pub mod time;
pub mod uptime;
pub mod users;

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::cache::Class;
use crate::ctx::{Ctx, TraitError};

/// A collector: its name (the top-level trait key), class, timeout and function.
#[derive(Debug, Clone, Copy)]
pub struct Collector {
    /// The trait key, e.g. `os`.
    pub name: &'static str,
    /// How often it must run.
    pub class: Class,
    /// How long it may take.
    pub timeout: Duration,
    /// Produces the value.
    pub collect: fn(&Ctx) -> Result<Value, TraitError>,
}

/// The default per-collector timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

fn to_value<T: Serialize>(r: Result<T, TraitError>) -> Result<Value, TraitError> {
    r.and_then(|v| serde_json::to_value(v).map_err(TraitError::new))
}

macro_rules! collector {
    ($m:ident, $class:expr) => {
        Collector {
            name: stringify!($m),
            class: $class,
            timeout: DEFAULT_TIMEOUT,
            collect: |ctx| to_value($m::collect(ctx)),
        }
    };
}

/// Every core collector.
pub fn all() -> Vec<Collector> {
    vec![
        collector!(os, Class::Stable),
        collector!(hardware, Class::Stable),
        collector!(network, Class::Stable),
        collector!(memory, Class::Volatile),
        collector!(swap, Class::Volatile),
        collector!(filesystem, Class::Volatile),
        collector!(mountpoints, Class::Volatile),
        collector!(blockdevices, Class::Stable),
        collector!(dmi, Class::Stable),
        collector!(uptime, Class::Volatile),
        collector!(time, Class::Volatile),
        collector!(loadavg, Class::Volatile),
        collector!(users, Class::Volatile),
        collector!(ports, Class::Volatile),
        collector!(listeners, Class::Stable),
        collector!(processes, Class::Volatile),
        collector!(packages, Class::Stable),
        collector!(agent_self, Class::Volatile),
        collector!(host_self, Class::Volatile),
        collector!(cloud, Class::Periodic),
    ]
}

/// Parses `Key:   123 kB` lines (meminfo, status) into bytes by key.
pub(crate) fn kb_fields(text: &str) -> std::collections::HashMap<&str, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, rest) = l.split_once(':')?;
            let mut parts = rest.split_whitespace();
            let n: u64 = parts.next()?.parse().ok()?;
            let mult = if parts.next() == Some("kB") { 1024 } else { 1 };
            Some((k.trim(), n * mult))
        })
        .collect()
}

/// `part / whole` as a percentage with two decimals (0 when `whole` is 0).
pub(crate) fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 10_000.0 / whole as f64).round() / 100.0
    }
}
