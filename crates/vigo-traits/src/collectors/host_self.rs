//! `host_self`: host-wide pressure signals — file descriptors, process count, a recent
//! OOM kill, root filesystem usage. Errors yield 0, never a failed collector.

use serde::{Deserialize, Serialize};

use super::pct;
use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `host_self` trait.
    #[derive(Debug, Clone, PartialEq, Serialize, Default, Deserialize)]
    pub struct HostSelf {
        /// Allocated file handles (`/proc/sys/fs/file-nr` field 1).
        pub fd_used: u64,
        /// The limit (field 3).
        pub fd_max: u64,
        /// Used, percent (two decimals).
        pub fd_pct: f64,
        /// Processes (numeric `/proc` entries).
        pub proc_count: u64,
        /// 1 when the kernel log's last 256 KiB mention an OOM kill, else 0.
        pub oom_recent: u8,
        /// Root filesystem usage, percent.
        pub fs_root_pct: f64,
    }
}

/// Collects `host_self`.
pub fn collect(ctx: &Ctx) -> Result<HostSelf, TraitError> {
    let nums: Vec<u64> = ctx
        .read_opt("/proc/sys/fs/file-nr")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let (fd_used, fd_max) = (
        nums.first().copied().unwrap_or(0),
        nums.get(2).copied().unwrap_or(0),
    );
    let proc_count = std::fs::read_dir(ctx.path("/proc"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count() as u64
        })
        .unwrap_or(0);
    let oom_recent = kern_log_tail(ctx).is_some_and(|t| {
        t.contains("Out of memory") || t.contains("oom-kill") || t.contains("oom_reaper")
    }) as u8;
    let fs_root_pct = nix::sys::statvfs::statvfs(ctx.root())
        .map(|s| {
            let f = s.fragment_size();
            let used = (s.blocks() - s.blocks_free()) * f;
            pct(used, used + s.blocks_available() * f)
        })
        .unwrap_or(0.0);
    Ok(HostSelf {
        fd_used,
        fd_max,
        fd_pct: pct(fd_used, fd_max),
        proc_count,
        oom_recent,
        fs_root_pct,
    })
}

/// The last 256 KiB of `/var/log/kern.log`, when it exists.
fn kern_log_tail(ctx: &Ctx) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(ctx.path("/var/log/kern.log")).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(256 * 1024)))
        .ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}
