//! What a fixture created on the host, so a test can prove it is all gone afterwards.

use std::path::PathBuf;

/// Everything a fixture put on the host: temporary paths, processes, network namespaces
/// and cgroup directories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Temporary directories (overlay upper/work dirs, logs).
    pub paths: Vec<PathBuf>,
    /// Host PIDs of the processes it started.
    pub pids: Vec<i32>,
    /// Names of network namespaces under `/run/netns`.
    pub netns: Vec<String>,
    /// Cgroup directories it created.
    pub cgroups: Vec<PathBuf>,
}

impl Footprint {
    /// Adds another footprint's items.
    pub fn extend(&mut self, other: &Footprint) {
        self.paths.extend(other.paths.iter().cloned());
        self.pids.extend(&other.pids);
        self.netns.extend(other.netns.iter().cloned());
        self.cgroups.extend(other.cgroups.iter().cloned());
    }

    /// What is still there, one line each (empty when the fixture cleaned up fully).
    pub fn leftovers(&self) -> Vec<String> {
        let mut left = Vec::new();
        for p in &self.paths {
            if p.exists() {
                left.push(format!("path {}", p.display()));
            }
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for p in &self.paths {
            let p = p.to_string_lossy();
            if let Some(line) = mountinfo.lines().find(|l| l.contains(p.as_ref())) {
                left.push(format!("mount {line}"));
            }
        }
        for pid in &self.pids {
            if process_alive(*pid) {
                left.push(format!("process {pid}"));
            }
        }
        for ns in &self.netns {
            if PathBuf::from("/run/netns").join(ns).exists() {
                left.push(format!("netns {ns}"));
            }
            if mountinfo
                .lines()
                .any(|l| l.contains(&format!("/run/netns/{ns} ")))
            {
                left.push(format!("netns mount /run/netns/{ns}"));
            }
        }
        for cg in &self.cgroups {
            if cg.exists() {
                left.push(format!("cgroup {}", cg.display()));
            }
        }
        left
    }
}

/// A process exists and is not a zombie waiting for its parent.
pub(crate) fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
    }
}
