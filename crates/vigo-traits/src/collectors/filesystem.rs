//! `filesystem`: size and usage of every real (non-virtual) mounted filesystem, by
//! mountpoint, from `statvfs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{mountpoints, pct};
use crate::ctx::Ctx;
use crate::error::TraitError;

/// Filesystem types that hold no user data.
const VIRTUAL: &[&str] = &[
    "proc",
    "sysfs",
    "devtmpfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "securityfs",
    "pstore",
    "debugfs",
    "tracefs",
    "configfs",
    "fusectl",
    "mqueue",
    "hugetlbfs",
    "bpf",
    "autofs",
    "binfmt_misc",
    "nsfs",
    "rpc_pipefs",
    "efivarfs",
    "selinuxfs",
    "overlay-proc",
];

crate::trait_struct! {
    /// One filesystem's usage.
    #[derive(Debug, Clone, PartialEq, Serialize, Default, Deserialize)]
    pub struct Usage {
        /// Mounted device.
        pub device: String,
        /// Type.
        pub fstype: String,
        /// Size.
        pub size_bytes: u64,
        /// Used.
        pub used_bytes: u64,
        /// Available to unprivileged users.
        pub available_bytes: u64,
        /// Used, percent of size.
        pub used_pct: f64,
        /// Inodes in total.
        pub inodes_total: u64,
        /// Inodes used.
        pub inodes_used: u64,
        /// Inodes used, percent.
        pub inodes_pct: f64,
    }
}

/// The `filesystem` trait: usage by mountpoint.
pub type Filesystems = BTreeMap<String, Usage>;

/// Collects `filesystem`.
pub fn collect(ctx: &Ctx) -> Result<Filesystems, TraitError> {
    let mounts = mountpoints::parse(&ctx.read("/proc/self/mounts")?);
    let mut out = BTreeMap::new();
    for m in mounts
        .into_iter()
        .filter(|m| !VIRTUAL.contains(&m.fstype.as_str()))
    {
        let Ok(s) = nix::sys::statvfs::statvfs(ctx.path(&m.mountpoint).as_path()) else {
            continue;
        };
        let frag = s.fragment_size();
        let size = s.blocks() * frag;
        let free = s.blocks_free() * frag;
        let avail = s.blocks_available() * frag;
        let used = size.saturating_sub(free);
        let (it, ifree) = (s.files(), s.files_free());
        out.insert(
            m.mountpoint,
            Usage {
                device: m.device,
                fstype: m.fstype,
                size_bytes: size,
                used_bytes: used,
                available_bytes: avail,
                // As df: used / (used + available).
                used_pct: pct(used, used + avail),
                inodes_total: it,
                inodes_used: it.saturating_sub(ifree),
                inodes_pct: pct(it.saturating_sub(ifree), it),
            },
        );
    }
    Ok(out)
}
