//! `processes`: counts by state and the largest processes by resident memory, from
//! `/proc/<pid>/stat` (one read per process).

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// One process in the top list.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Process {
        /// PID.
        pub pid: u32,
        /// Command name.
        pub comm: String,
        /// Resident memory in bytes.
        pub rss_bytes: u64,
        /// Threads.
        pub threads: u64,
    }
}

crate::trait_struct! {
    /// The `processes` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Processes {
        /// Processes in total.
        pub count: u64,
        /// Running (R).
        pub running: u64,
        /// Sleeping (S, D, I).
        pub sleeping: u64,
        /// Zombies (Z).
        pub zombie: u64,
        /// Threads in total.
        pub threads: u64,
        /// The 10 largest by resident memory.
        pub top_rss: Vec<Process>,
        /// Distinct command names, sorted (for `process_running`).
        pub names: Vec<String>,
    }
}

/// Collects `processes`.
pub fn collect(ctx: &Ctx) -> Result<Processes, TraitError> {
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let rd = std::fs::read_dir(ctx.path("/proc")).map_err(|e| TraitError::read("/proc", e))?;
    let (mut count, mut running, mut sleeping, mut zombie, mut threads) = (0, 0, 0, 0, 0);
    let mut all = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for e in rd.filter_map(Result::ok) {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        // rest[0] = state (field 3); num_threads = field 20; rss pages = field 24.
        let state = rest.first().copied().unwrap_or("");
        let nthreads: u64 = rest.get(17).and_then(|v| v.parse().ok()).unwrap_or(1);
        let rss: u64 = rest.get(21).and_then(|v| v.parse().ok()).unwrap_or(0);
        count += 1;
        threads += nthreads;
        match state {
            "R" => running += 1,
            "Z" => zombie += 1,
            _ => sleeping += 1,
        }
        names.insert(comm.clone());
        all.push(Process {
            pid,
            comm,
            rss_bytes: rss * page,
            threads: nthreads,
        });
    }
    all.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then(a.pid.cmp(&b.pid)));
    all.truncate(10);
    Ok(Processes {
        count,
        running,
        sleeping,
        zombie,
        threads,
        top_rss: all,
        names: names.into_iter().collect(),
    })
}
