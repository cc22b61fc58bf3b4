//! `agent_self`: the agent's own footprint (memory, threads, descriptors, children).

use serde::{Deserialize, Serialize};

use super::kb_fields;
use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `agent_self` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct AgentSelf {
        /// Resident memory (VmRSS).
        pub rss_bytes: u64,
        /// Virtual size (VmSize).
        pub vsz_bytes: u64,
        /// Threads.
        pub threads: u64,
        /// Open file descriptors.
        pub open_fds: u64,
        /// Processes whose parent is the agent.
        pub descendants: u64,
        /// Open descriptors of those processes.
        pub descendant_open_fds: u64,
        /// Seconds since the agent started.
        pub uptime_secs: u64,
        /// The agent's PID.
        pub pid: u32,
    }
}

fn count_dir(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// Collects `agent_self`.
pub fn collect(ctx: &Ctx) -> Result<AgentSelf, TraitError> {
    let pid = std::process::id();
    let status_text = ctx.read("/proc/self/status")?;
    let status = kb_fields(&status_text);
    let stat = ctx.read("/proc/self/stat")?;
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    // Field 22 (starttime, in clock ticks since boot) is index 19 after the comm.
    let start_ticks: u64 = after
        .split_whitespace()
        .nth(19)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .unwrap_or(100)
        .max(1);
    let up: f64 = ctx
        .read("/proc/uptime")?
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let uptime_secs = (up as u64).saturating_sub(start_ticks / hz);
    let (mut descendants, mut descendant_open_fds) = (0, 0);
    let children = std::fs::read_to_string(ctx.path(&format!("/proc/self/task/{pid}/children")))
        .unwrap_or_default();
    for child in children.split_whitespace() {
        descendants += 1;
        descendant_open_fds += count_dir(&ctx.path(&format!("/proc/{child}/fd")));
    }
    Ok(AgentSelf {
        rss_bytes: status.get("VmRSS").copied().unwrap_or(0),
        vsz_bytes: status.get("VmSize").copied().unwrap_or(0),
        threads: status.get("Threads").copied().unwrap_or(1),
        open_fds: count_dir(&ctx.path("/proc/self/fd")),
        descendants,
        descendant_open_fds,
        uptime_secs,
        pid,
    })
}
