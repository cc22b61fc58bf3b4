//! Preemption: a manual `vigo run` takes priority over the daemon's convergence.
//!
//! Two files under the runtime root (`/var/lib/vigo`):
//!
//! - `converge.lock` — an exclusive `flock` held for the whole of a convergence; only
//!   one convergence runs at a time on a machine.
//! - `preempt` — the sentinel. `vigo run` creates it, then waits up to
//!   [`RUN_WAIT`] for the lock; the daemon checks it between resources
//!   ([`ConvergenceGuard::preempted`]), stops its cycle and releases the lock, and does
//!   not start a new cycle while the sentinel exists. `vigo run` converges, removes the
//!   sentinel and releases the lock when its guard drops.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long `vigo run` waits for a busy daemon to yield.
pub const RUN_WAIT: Duration = Duration::from_secs(120);

/// Errors taking the convergence lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The lock or sentinel file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lock stayed busy for the whole wait.
    #[error("another convergence still holds {path} after {waited:?}; try again later")]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
}

/// An exclusive hold on the convergence lock; released on drop.
#[derive(Debug)]
pub struct ConvergenceGuard {
    _lock: File,
    sentinel: PathBuf,
    /// Whether this guard belongs to a manual run (it removes the sentinel on drop).
    manual: bool,
}

impl ConvergenceGuard {
    /// For the daemon: a manual run asked for the machine; stop between resources.
    pub fn preempted(&self) -> bool {
        !self.manual && self.sentinel.exists()
    }
}

impl Drop for ConvergenceGuard {
    fn drop(&mut self) {
        if self.manual {
            let _ = std::fs::remove_file(&self.sentinel);
        }
        // The flock is released when `_lock` closes.
    }
}

fn open_lock(root: &Path) -> Result<(File, PathBuf), LockError> {
    let path = root.join("converge.lock");
    std::fs::create_dir_all(root).map_err(|source| LockError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
    Ok((file, path))
}

/// For `vigo run`: raise the sentinel, then wait up to `wait` for the lock.
/// On timeout the sentinel is removed again.
pub fn acquire_for_run(root: &Path, wait: Duration) -> Result<ConvergenceGuard, LockError> {
    let (file, path) = open_lock(root)?;
    let sentinel = root.join("preempt");
    File::create(&sentinel).map_err(|source| LockError::Io {
        path: sentinel.clone(),
        source,
    })?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(ConvergenceGuard {
                    _lock: file,
                    sentinel,
                    manual: true,
                });
            }
            Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(TryLockError::WouldBlock) => {
                let _ = std::fs::remove_file(&sentinel);
                return Err(LockError::Timeout {
                    path,
                    waited: started.elapsed(),
                });
            }
            Err(TryLockError::Error(source)) => {
                let _ = std::fs::remove_file(&sentinel);
                return Err(LockError::Io { path, source });
            }
        }
    }
}

/// For the daemon: take the lock if free and no manual run is pending; `None` means
/// skip this cycle.
pub fn try_acquire_for_daemon(root: &Path) -> Result<Option<ConvergenceGuard>, LockError> {
    let sentinel = root.join("preempt");
    if sentinel.exists() {
        return Ok(None);
    }
    let (file, path) = open_lock(root)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ConvergenceGuard {
            _lock: file,
            sentinel,
            manual: false,
        })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_preempts_a_converging_daemon() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let daemon = try_acquire_for_daemon(&root)
            .unwrap()
            .expect("lock is free");
        assert!(!daemon.preempted());

        let r = root.clone();
        let run = std::thread::spawn(move || acquire_for_run(&r, Duration::from_secs(10)));
        // The daemon sees the sentinel between resources, then yields.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !daemon.preempted() {
            assert!(Instant::now() < deadline, "sentinel never appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(daemon);
        let guard = run
            .join()
            .unwrap()
            .expect("run gets the lock once the daemon yields");
        assert!(
            root.join("preempt").exists(),
            "sentinel stays while the run converges"
        );
        assert!(
            try_acquire_for_daemon(&root).unwrap().is_none(),
            "daemon must not start"
        );
        drop(guard);
        assert!(!root.join("preempt").exists(), "run removes the sentinel");
        assert!(
            try_acquire_for_daemon(&root).unwrap().is_some(),
            "daemon resumes"
        );
    }

    #[test]
    fn run_times_out_and_cleans_its_sentinel() {
        let tmp = tempfile::tempdir().unwrap();
        let _held = try_acquire_for_daemon(tmp.path()).unwrap().unwrap();
        let err = acquire_for_run(tmp.path(), Duration::from_millis(100)).unwrap_err();
        assert!(matches!(err, LockError::Timeout { .. }), "{err}");
        assert!(!tmp.path().join("preempt").exists());
    }

    #[test]
    fn idle_machine_runs_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let guard = acquire_for_run(tmp.path(), RUN_WAIT).unwrap();
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(!guard.preempted(), "a manual run is never preempted");
    }
}
