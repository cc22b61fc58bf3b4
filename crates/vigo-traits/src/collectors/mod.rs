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

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cache::Class;
use crate::ctx::Ctx;
use crate::error::TraitError;
use crate::schema::{Describe, Shape};

/// A collector: its name (the top-level trait key), doc line, class, timeout, output
/// shape and function.
#[derive(Debug, Clone, Copy)]
pub struct Collector {
    /// The trait key, e.g. `os`.
    pub name: &'static str,
    /// What it reports, in one line (for `docs/traits.md`).
    pub doc: &'static str,
    /// How often it must run.
    pub class: Class,
    /// How long it may take.
    pub timeout: Duration,
    /// The shape of its output (its fields, their types and doc lines).
    pub shape: fn() -> Shape,
    /// Produces the value: a [`Traits`] with this collector's field set.
    pub collect: fn(&Ctx) -> Result<Traits, TraitError>,
}

/// The default per-collector timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The one table of collectors: for each, its module and output type, its class and doc
/// line. From it come [`Traits`] (one typed field per collector), [`all`] and the docs.
macro_rules! collectors {
    ($($(#[doc = $doc:literal])* $name:ident: $ty:ty, $class:ident;)*) => {
        /// The traits of one run or of the cache, typed: one field per collector, `None`
        /// when it was not collected (or failed). Serialised, it is the `traits` document
        /// (`vigo traits`, the check-in), with the absent collectors left out.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct Traits {
            $(
                $(#[doc = $doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<$ty>,
            )*
        }

        impl Traits {
            /// Takes every value `fresh` has, keeping the others.
            pub fn merge(&mut self, fresh: Traits) {
                $(if fresh.$name.is_some() {
                    self.$name = fresh.$name;
                })*
            }

            /// The collectors that have a value.
            pub fn names(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $(if self.$name.is_some() {
                    out.push(stringify!($name));
                })*
                out
            }
        }

        /// Every core collector, in the order of the docs.
        pub fn all() -> Vec<Collector> {
            vec![$(Collector {
                name: stringify!($name),
                doc: concat!($($doc),*),
                class: Class::$class,
                timeout: DEFAULT_TIMEOUT,
                shape: <$ty as Describe>::shape,
                collect: |ctx| {
                    $name::collect(ctx).map(|v| Traits {
                        $name: Some(v),
                        ..Traits::default()
                    })
                },
            }),*]
        }
    };
}

collectors! {
    /// The distribution, its family and upstream, the kernel and the architecture.
    os: os::Os, Stable;
    /// CPUs, memory and disks in summary.
    hardware: hardware::Hardware, Stable;
    /// Hostname, FQDN (from `/etc/hosts`, no DNS query), addresses and interfaces.
    network: network::Network, Stable;
    /// Physical memory, from `/proc/meminfo`.
    memory: memory::Memory, Volatile;
    /// Swap totals and the swap areas.
    swap: swap::Swap, Volatile;
    /// Usage of every real (non-virtual) mounted filesystem, keyed by mountpoint.
    filesystem: filesystem::Filesystems, Volatile;
    /// Every mount, from `/proc/self/mounts`.
    mountpoints: mountpoints::Mountpoints, Volatile;
    /// Whole block devices, keyed by name (`sda`, `nvme0n1`; no loop, ram or dm devices).
    blockdevices: blockdevices::BlockDevices, Stable;
    /// Firmware and board identity, and the memory devices of SMBIOS type 17.
    dmi: dmi::Dmi, Stable;
    /// Time since boot.
    uptime: uptime::Uptime, Volatile;
    /// The local clock, for `hour_range` and schedule-aware templates.
    time: time::Time, Volatile;
    /// Load averages and scheduler counts.
    loadavg: loadavg::LoadAvg, Volatile;
    /// Who is logged in, and the accounts of `/etc/passwd` by kind.
    users: users::Users, Volatile;
    /// TCP ports in LISTEN state.
    ports: ports::Ports, Volatile;
    /// TCP listening sockets with their owning processes.
    listeners: listeners::Listeners, Stable;
    /// Process counts by state and the largest processes by resident memory.
    processes: processes::Processes, Volatile;
    /// Installed packages and versions, read from the package database (no subprocess).
    packages: packages::Packages, Stable;
    /// The agent's own footprint: memory, threads, descriptors, children.
    agent_self: agent_self::AgentSelf, Volatile;
    /// Host-wide pressure signals: descriptors, processes, a recent OOM kill, root usage.
    host_self: host_self::HostSelf, Volatile;
    /// The cloud provider and instance metadata (off-cloud: provider `none`, no request).
    cloud: cloud::Cloud, Periodic;
}

impl Traits {
    /// The `traits` document: collectors and their fields, keys sorted (the shape
    /// `vigo traits` prints and the check-in sends).
    pub fn to_json(&self) -> Value {
        // Every map of the model is keyed by `String`, so serialising cannot fail.
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(serde_json::Map::new()))
    }

    /// This machine's hostname, when the `network` collector ran and found one.
    pub fn hostname(&self) -> Option<&str> {
        self.network
            .as_ref()
            .map(|n| n.hostname.as_str())
            .filter(|h| !h.is_empty())
    }
}

/// The collector named `name`.
pub fn find(name: &str) -> Option<Collector> {
    all().into_iter().find(|c| c.name == name)
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
