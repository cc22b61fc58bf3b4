//! What an interrupted convergence leaves behind, cleaned up before the next one changes
//! anything.
//!
//! The atomic writer (`vigo_exec::atomic::write_file`) writes `.NAME.vigo-tmp.PID.N`
//! beside its target and renames it into place; a SIGKILL, OOM kill or power loss between
//! the two leaves that temporary file. Every converging command, holding the convergence
//! lock, removes the abandoned ones ([`vigo_exec::atomic::remove_stale_temp_files`]:
//! exactly that name shape, older than a minute, its PID running no process or a newer
//! one) from the directories the agent writes:
//!
//! - the state root (`/var/lib/vigo`: the preempt sentinel), and `apply-cache/` there for
//!   `vigo apply`;
//! - the data directory (`/etc/vigo-envoy`: the config a redirect rewrites, the pinned key
//!   a rotation replaces);
//! - the directory of every `target_path` in the plan (files, partial-file edits, cron
//!   files, `json_file`, `ini`, …).
//!
//! Nothing else is scanned: a directory the plan does not name is not the agent's to
//! clean. The snapshot directory needs no sweep (snapshots are written in place, not
//! through temporary files).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::engine::Plan;

/// The directories to sweep for a run of `plan`: the agent's own (`agent_dirs`: the state
/// root, the data directory) and the directory of every absolute `target_path`.
pub fn directories<'a>(
    agent_dirs: impl IntoIterator<Item = &'a Path>,
    plan: &Plan,
) -> BTreeSet<PathBuf> {
    let mut dirs: BTreeSet<PathBuf> = agent_dirs.into_iter().map(Path::to_path_buf).collect();
    for r in &plan.resources {
        let Some(target) = r.attributes.get("target_path").and_then(|v| v.as_str()) else {
            continue;
        };
        let target = Path::new(target);
        if target.is_absolute()
            && let Some(parent) = target.parent()
        {
            dirs.insert(parent.to_path_buf());
        }
    }
    dirs
}

/// Removes the abandoned temporary files from `dirs` (see [`directories`]), logging each
/// one (and any directory that could not be cleaned). Returns the paths removed.
pub fn sweep(dirs: &BTreeSet<PathBuf>) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for dir in dirs {
        match vigo_exec::atomic::remove_stale_temp_files(dir) {
            Ok(paths) => {
                for p in &paths {
                    tracing::warn!(
                        "removed {}: a temporary file left by an interrupted write",
                        p.display()
                    );
                }
                removed.extend(paths);
            }
            Err(e) => tracing::warn!("cannot clean up temporary files: {e}"),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::engine::PlannedResource;

    fn resource(attributes: &serde_json::Value) -> PlannedResource {
        PlannedResource {
            id: "c/x".into(),
            configcrate: "c".into(),
            type_name: "file".into(),
            name: "x".into(),
            attributes: attributes.as_object().cloned().unwrap_or_default(),
            sensitive: Default::default(),
            depends_on: Vec::new(),
            notify: Vec::new(),
            notify_target: false,
            skip: None,
            error: None,
            timeout: std::time::Duration::from_secs(1),
        }
    }

    #[test]
    fn the_state_root_and_the_plans_target_directories_are_swept() {
        let plan = Plan {
            resources: vec![
                resource(&json!({"target_path": "/etc/app/app.conf"})),
                resource(&json!({"target_path": "/etc/app/other.conf"})),
                resource(&json!({"target_path": "relative/no"})),
                resource(&json!({"target_path": 7})),
                resource(&json!({"package": "tree"})),
            ],
        };
        let agent = [Path::new("/var/lib/vigo"), Path::new("/etc/vigo-envoy")];
        let dirs: Vec<PathBuf> = directories(agent, &plan).into_iter().collect();
        assert_eq!(
            dirs,
            [
                PathBuf::from("/etc/app"),
                PathBuf::from("/etc/vigo-envoy"),
                PathBuf::from("/var/lib/vigo")
            ]
        );
    }
}
