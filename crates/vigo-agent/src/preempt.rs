//! Preemption: a manual `vigo run` (or `vigo apply`, `vigo resource`) takes priority over
//! the daemon's convergence, and only one convergence runs on a machine at a time.
//!
//! Two files under the state root (`/var/lib/vigo`, the one root every converging
//! command derives them from):
//!
//! - `converge.lock` — an exclusive `flock` held for the whole of a convergence. The
//!   kernel releases it when its holder dies, however it dies. The holder writes its
//!   [`Owner`] into the file, so a process that finds it busy can say who holds it.
//! - `preempt` — the sentinel, written atomically, naming its [`Owner`]: PID, process
//!   start time (`/proc/PID/stat`, so a reused PID is told apart) and boot id. A manual
//!   run raises it, then waits up to [`RUN_WAIT`] for the lock; the daemon checks it
//!   between resources ([`ConvergenceGuard::preempted`]), stops its cycle and releases the
//!   lock, and does not start a cycle while a live manual run has it raised
//!   ([`try_acquire_for_daemon`] says why: [`Wait`]). The manual run converges, removes
//!   the sentinel and releases the lock when its guard drops.
//!
//! A sentinel whose owner is gone — killed by SIGKILL or the OOM killer, or a reboot —
//! is stale: whoever finds it removes it and says so, so it never stops the daemon. A
//! sentinel with no readable owner (written by an older agent) is stale when nothing
//! holds the lock.

use std::fmt;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vigo_exec::atomic::{FileMeta, running_process_start, stage_file};

/// How long a manual run waits for a busy daemon to yield.
pub const RUN_WAIT: Duration = Duration::from_secs(120);
/// The convergence lock's file name under the state root.
pub const LOCK_FILE: &str = "converge.lock";
/// The preempt sentinel's file name under the state root.
pub const SENTINEL_FILE: &str = "preempt";
/// How often a waiting manual run tries the lock again.
const POLL: Duration = Duration::from_millis(25);
/// Where the kernel keeps the id of the current boot.
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The convergence lock under `root`.
pub fn lock_path(root: &Path) -> PathBuf {
    root.join(LOCK_FILE)
}

/// The preempt sentinel under `root`.
pub fn sentinel_path(root: &Path) -> PathBuf {
    root.join(SENTINEL_FILE)
}

/// Errors taking the convergence lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The lock or sentinel file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The sentinel could not be written.
    #[error("raising the preempt sentinel: {source}")]
    Sentinel {
        /// Why the atomic write failed.
        #[source]
        source: vigo_exec::atomic::FileError,
    },
    /// The lock stayed busy for the whole wait.
    #[error("the convergence lock {path} is still busy after {}s ({holder}); try again later", waited.as_secs())]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// Who holds it, as far as can be told.
        holder: Wait,
    },
    /// SIGTERM or SIGINT arrived while waiting; nothing ran.
    #[error("stopped by a signal while waiting for {path}; nothing was changed")]
    Interrupted {
        /// The lock file.
        path: PathBuf,
    },
}

/// The command that holds or asks for the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The daemon (`vigo`, `vigo daemon`, `vigo --once`).
    Daemon,
    /// `vigo run`.
    Run,
    /// `vigo apply`.
    Apply,
    /// `vigo resource`.
    Resource,
}

impl Role {
    const ALL: [Role; 4] = [Role::Daemon, Role::Run, Role::Apply, Role::Resource];

    /// How the command is named in messages and in the owner files.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Daemon => "the daemon",
            Role::Run => "vigo run",
            Role::Apply => "vigo apply",
            Role::Resource => "vigo resource",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A process holding or asking for the machine, identified across PID reuse and reboots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Its PID.
    pub pid: u32,
    /// Its start time in clock ticks since boot (`/proc/PID/stat` field 22), when known.
    pub start: Option<u64>,
    /// The boot it ran in (`/proc/sys/kernel/random/boot_id`), when known.
    pub boot: Option<String>,
    /// What it is, when known.
    pub role: Option<Role>,
}

impl Owner {
    /// This process, acting as `role`.
    pub fn current(role: Role) -> Self {
        let pid = std::process::id();
        Owner {
            pid,
            start: running_process_start(pid),
            boot: current_boot(),
            role: Some(role),
        }
    }

    /// The owner file's text: one `key=value` per line.
    pub fn to_text(&self) -> String {
        let mut text = format!("pid={}\n", self.pid);
        if let Some(start) = self.start {
            text.push_str(&format!("start={start}\n"));
        }
        if let Some(boot) = &self.boot {
            text.push_str(&format!("boot={boot}\n"));
        }
        if let Some(role) = self.role {
            text.push_str(&format!("role={}\n", role.as_str()));
        }
        text
    }

    /// Reads an owner file's text; `None` without a valid `pid=` line.
    pub fn parse(text: &str) -> Option<Self> {
        let mut owner = Owner {
            pid: 0,
            start: None,
            boot: None,
            role: None,
        };
        for line in text.lines() {
            match line.split_once('=') {
                Some(("pid", v)) => owner.pid = v.trim().parse().ok()?,
                Some(("start", v)) => owner.start = v.trim().parse().ok(),
                Some(("boot", v)) => owner.boot = Some(v.trim().to_owned()),
                Some(("role", v)) => owner.role = Role::parse(v.trim()),
                _ => {}
            }
        }
        (owner.pid > 0).then_some(owner)
    }

    /// Why this owner is provably gone (`None`: it may still run).
    pub fn gone(&self) -> Option<String> {
        if let (Some(then), Some(now)) = (&self.boot, current_boot())
            && *then != now
        {
            return Some("the machine has rebooted since".to_owned());
        }
        let Some(start) = running_process_start(self.pid) else {
            return Some(format!("PID {} is no longer running", self.pid));
        };
        if self.start.is_some_and(|s| s != start) {
            return Some(format!("PID {} now belongs to another process", self.pid));
        }
        None
    }

    /// Whether `other` names the same process.
    fn same_process(&self, other: &Owner) -> bool {
        self.pid == other.pid && self.start == other.start
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.role {
            Some(role) => write!(f, "{} (PID {})", role.as_str(), self.pid),
            None => write!(f, "PID {}", self.pid),
        }
    }
}

fn current_boot() -> Option<String> {
    std::fs::read_to_string(BOOT_ID)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// Why the daemon does not converge now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// A manual run raised the sentinel (its owner, when the sentinel names one).
    ManualRun(Option<Owner>),
    /// Another convergence holds the lock (its holder, when it wrote itself there).
    LockHeld(Option<Owner>),
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wait::ManualRun(Some(owner)) => write!(f, "{owner} has asked for the machine"),
            Wait::ManualRun(None) => write!(
                f,
                "a manual run has asked for the machine (its sentinel names no owner)"
            ),
            Wait::LockHeld(Some(owner)) => write!(f, "{owner} holds the convergence lock"),
            Wait::LockHeld(None) => write!(f, "another convergence holds the convergence lock"),
        }
    }
}

/// What the preempt sentinel says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sentinel {
    Absent,
    Owned(Owner),
    /// Present but naming no owner (an older agent's empty file, or unreadable).
    Anonymous,
}

fn read_sentinel(root: &Path) -> Sentinel {
    match std::fs::read_to_string(sentinel_path(root)) {
        Ok(text) => Owner::parse(&text).map_or(Sentinel::Anonymous, Sentinel::Owned),
        Err(e) if e.kind() == ErrorKind::NotFound => Sentinel::Absent,
        Err(_) => Sentinel::Anonymous,
    }
}

/// Removes a stale sentinel and says why.
fn remove_stale_sentinel(root: &Path, why: &str) {
    let path = sentinel_path(root);
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::warn!(
            "removed the stale preempt sentinel {}: {why}",
            path.display()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(
            "the preempt sentinel {} is stale ({why}) but cannot be removed: {e}",
            path.display()
        ),
    }
}

/// The sentinel's owner when it is live; a stale one is removed on the way.
fn live_sentinel(root: &Path) -> Sentinel {
    match read_sentinel(root) {
        Sentinel::Owned(owner) => match owner.gone() {
            Some(why) => {
                remove_stale_sentinel(root, &format!("left by {owner}; {why}"));
                Sentinel::Absent
            }
            None => Sentinel::Owned(owner),
        },
        other => other,
    }
}

/// Writes `owner` as the sentinel, atomically for readers but not flushed: it means
/// nothing once its owner is gone, which a crash or power loss ensures.
fn raise_sentinel(root: &Path, owner: &Owner) -> Result<(), LockError> {
    let path = sentinel_path(root);
    let meta = FileMeta {
        mode: Some(0o644),
        uid: None,
        gid: None,
    };
    stage_file(&path, owner.to_text().as_bytes(), &meta, None)
        .and_then(|w| w.commit_volatile())
        .map_err(|source| LockError::Sentinel { source })
}

/// Removes the sentinel if it still names `owner` (another manual run may have raised
/// its own since).
fn lower_sentinel(root: &Path, owner: &Owner) {
    if let Sentinel::Owned(current) = read_sentinel(root)
        && current.same_process(owner)
    {
        let path = sentinel_path(root);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "the preempt sentinel {} stays (a daemon waits until it is stale): {e}",
                path.display()
            ),
        }
    }
}

/// An exclusive hold on the convergence lock; released on drop.
#[derive(Debug)]
pub struct ConvergenceGuard {
    _lock: File,
    root: PathBuf,
    owner: Owner,
    /// A manual run's guard removes its sentinel on drop and is never preempted.
    manual: bool,
}

impl ConvergenceGuard {
    /// For the daemon: a live manual run asked for the machine; stop between resources.
    /// A stale sentinel is removed instead.
    pub fn preempted(&self) -> bool {
        !self.manual && live_sentinel(&self.root) != Sentinel::Absent
    }

    /// The state root the lock lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Who holds this guard.
    pub fn owner(&self) -> &Owner {
        &self.owner
    }
}

impl Drop for ConvergenceGuard {
    fn drop(&mut self) {
        if self.manual {
            lower_sentinel(&self.root, &self.owner);
        }
        // The flock is released when `_lock` closes.
    }
}

fn open_lock(root: &Path) -> Result<(File, PathBuf), LockError> {
    let path = lock_path(root);
    std::fs::create_dir_all(root).map_err(|source| LockError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| LockError::Io {
            path: path.clone(),
            source,
        })?;
    Ok((file, path))
}

/// Records the holder in the (locked) lock file, for whoever finds it busy.
fn sign_lock(file: &File, owner: &Owner) {
    let text = owner.to_text();
    if let Err(e) = file
        .set_len(0)
        .and_then(|()| file.write_all_at(text.as_bytes(), 0))
    {
        tracing::warn!("the lock holder was not recorded (a waiting run cannot name it): {e}");
    }
}

/// Who holds the busy lock at `path`, when it wrote itself there and still runs.
fn lock_holder(path: &Path) -> Option<Owner> {
    let owner = Owner::parse(&std::fs::read_to_string(path).ok()?)?;
    owner.gone().is_none().then_some(owner)
}

/// For a manual command (`role`): raise the sentinel, then wait up to `wait` for the
/// lock. `stop` (SIGTERM/SIGINT) ends the wait. On timeout or stop the sentinel is
/// removed again. A sentinel that disappears while waiting (removed by another manual
/// run finishing) is raised again.
pub fn acquire_for_run(
    root: &Path,
    role: Role,
    wait: Duration,
    stop: &AtomicBool,
) -> Result<ConvergenceGuard, LockError> {
    let (file, path) = open_lock(root)?;
    let me = Owner::current(role);
    raise_sentinel(root, &me)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => {
                sign_lock(&file, &me);
                return Ok(ConvergenceGuard {
                    _lock: file,
                    root: root.to_path_buf(),
                    owner: me,
                    manual: true,
                });
            }
            Err(TryLockError::WouldBlock) => {
                if stop.load(Ordering::SeqCst) {
                    lower_sentinel(root, &me);
                    return Err(LockError::Interrupted { path });
                }
                if started.elapsed() >= wait {
                    lower_sentinel(root, &me);
                    return Err(LockError::Timeout {
                        holder: Wait::LockHeld(lock_holder(&path)),
                        path,
                        waited: started.elapsed(),
                    });
                }
                if live_sentinel(root) == Sentinel::Absent {
                    raise_sentinel(root, &me)?;
                }
                std::thread::sleep(POLL);
            }
            Err(TryLockError::Error(source)) => {
                lower_sentinel(root, &me);
                return Err(LockError::Io { path, source });
            }
        }
    }
}

/// The daemon's answer: converge now, or why not.
#[derive(Debug)]
pub enum Turn {
    /// The lock is ours: converge.
    Go(ConvergenceGuard),
    /// Skip this cycle.
    Wait(Wait),
}

/// For the daemon: take the lock if it is free and no live manual run is pending. A stale
/// sentinel (its owner gone; or naming no owner while nothing holds the lock) is removed,
/// with a warning, and does not stop the daemon.
pub fn try_acquire_for_daemon(root: &Path) -> Result<Turn, LockError> {
    let sentinel = live_sentinel(root);
    if let Sentinel::Owned(owner) = sentinel {
        return Ok(Turn::Wait(Wait::ManualRun(Some(owner))));
    }
    let (file, path) = open_lock(root)?;
    match file.try_lock() {
        Ok(()) => {
            if sentinel == Sentinel::Anonymous {
                remove_stale_sentinel(
                    root,
                    "it names no owner and nothing holds the convergence lock",
                );
            }
            let me = Owner::current(Role::Daemon);
            sign_lock(&file, &me);
            Ok(Turn::Go(ConvergenceGuard {
                _lock: file,
                root: root.to_path_buf(),
                owner: me,
                manual: false,
            }))
        }
        Err(TryLockError::WouldBlock) if sentinel == Sentinel::Anonymous => {
            Ok(Turn::Wait(Wait::ManualRun(None)))
        }
        Err(TryLockError::WouldBlock) => Ok(Turn::Wait(Wait::LockHeld(lock_holder(&path)))),
        Err(TryLockError::Error(source)) => Err(LockError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_STOP: AtomicBool = AtomicBool::new(false);

    fn go(root: &Path) -> ConvergenceGuard {
        match try_acquire_for_daemon(root).unwrap() {
            Turn::Go(g) => g,
            Turn::Wait(why) => panic!("the daemon must converge, but waits: {why}"),
        }
    }

    fn wait(root: &Path) -> Wait {
        match try_acquire_for_daemon(root).unwrap() {
            Turn::Go(_) => panic!("the daemon must wait"),
            Turn::Wait(why) => why,
        }
    }

    /// A PID that ran a process and now runs none.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    fn plant(root: &Path, owner: &Owner) {
        std::fs::write(sentinel_path(root), owner.to_text()).unwrap();
    }

    #[test]
    fn run_preempts_a_converging_daemon() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let daemon = go(&root);
        assert!(!daemon.preempted());

        let r = root.clone();
        let run = std::thread::spawn(move || {
            acquire_for_run(&r, Role::Run, Duration::from_secs(10), &NO_STOP)
        });
        // The daemon sees the sentinel between resources, then yields.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !daemon.preempted() {
            assert!(Instant::now() < deadline, "sentinel never appeared");
            std::thread::yield_now();
        }
        drop(daemon);
        let guard = run
            .join()
            .unwrap()
            .expect("run gets the lock once the daemon yields");
        assert!(
            sentinel_path(&root).exists(),
            "sentinel stays while the run converges"
        );
        assert_eq!(
            wait(&root),
            Wait::ManualRun(Some(Owner::current(Role::Run))),
            "the daemon must not start, and says who it waits for"
        );
        drop(guard);
        assert!(!sentinel_path(&root).exists(), "run removes the sentinel");
        drop(go(&root));
    }

    #[test]
    fn run_times_out_names_the_holder_and_cleans_its_sentinel() {
        let tmp = tempfile::tempdir().unwrap();
        let _held = go(tmp.path());
        let err = acquire_for_run(
            tmp.path(),
            Role::Apply,
            Duration::from_millis(100),
            &NO_STOP,
        )
        .unwrap_err();
        assert!(
            matches!(&err, LockError::Timeout { holder: Wait::LockHeld(Some(o)), .. } if o.role == Some(Role::Daemon)),
            "{err:?}"
        );
        assert!(
            err.to_string().ends_with(&format!(
                "is still busy after 0s (the daemon (PID {}) holds the convergence lock); try again later",
                std::process::id()
            )),
            "{err}"
        );
        assert!(!sentinel_path(tmp.path()).exists());
    }

    #[test]
    fn a_signal_ends_the_wait_and_lowers_the_sentinel() {
        let tmp = tempfile::tempdir().unwrap();
        let _held = go(tmp.path());
        let stop = AtomicBool::new(true);
        let err = acquire_for_run(tmp.path(), Role::Run, RUN_WAIT, &stop).unwrap_err();
        assert!(matches!(err, LockError::Interrupted { .. }), "{err}");
        assert!(!sentinel_path(tmp.path()).exists());
    }

    #[test]
    fn idle_machine_runs_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let guard = acquire_for_run(tmp.path(), Role::Resource, RUN_WAIT, &NO_STOP).unwrap();
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(!guard.preempted(), "a manual run is never preempted");
        let text = std::fs::read_to_string(sentinel_path(tmp.path())).unwrap();
        assert_eq!(Owner::parse(&text), Some(Owner::current(Role::Resource)));
    }

    #[test]
    fn a_sentinel_left_by_a_dead_process_is_removed_and_the_daemon_converges() {
        let tmp = tempfile::tempdir().unwrap();
        let mut owner = Owner::current(Role::Run);
        owner.pid = dead_pid();
        plant(tmp.path(), &owner);
        let guard = go(tmp.path());
        assert!(
            !sentinel_path(tmp.path()).exists(),
            "stale sentinel removed"
        );
        // Raised mid-cycle by a process that is already gone: not a preemption either.
        plant(tmp.path(), &owner);
        assert!(!guard.preempted());
        assert!(!sentinel_path(tmp.path()).exists());
    }

    #[test]
    fn a_reused_pid_or_another_boot_does_not_keep_a_sentinel_alive() {
        let tmp = tempfile::tempdir().unwrap();
        let me = Owner::current(Role::Run);
        assert!(me.start.is_some() && me.boot.is_some(), "{me:?}");
        let reused = Owner {
            start: me.start.map(|s| s + 1),
            ..me.clone()
        };
        assert!(reused.gone().unwrap().contains("another process"));
        plant(tmp.path(), &reused);
        drop(go(tmp.path()));

        let rebooted = Owner {
            boot: Some("00000000-0000-0000-0000-000000000000".into()),
            ..me
        };
        assert!(rebooted.gone().unwrap().contains("rebooted"));
        plant(tmp.path(), &rebooted);
        drop(go(tmp.path()));
        assert!(me.gone().is_none(), "this process runs");
    }

    #[test]
    fn an_anonymous_sentinel_is_stale_only_when_the_lock_is_free() {
        let tmp = tempfile::tempdir().unwrap();
        let held = go(tmp.path());
        std::fs::write(sentinel_path(tmp.path()), "").unwrap();
        assert_eq!(wait(tmp.path()), Wait::ManualRun(None));
        drop(held);
        drop(go(tmp.path()));
        assert!(!sentinel_path(tmp.path()).exists());
    }

    #[test]
    fn a_busy_lock_names_its_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let (file, _) = open_lock(tmp.path()).unwrap();
        file.try_lock().unwrap();
        let me = Owner::current(Role::Apply);
        sign_lock(&file, &me);
        let why = wait(tmp.path());
        assert_eq!(why, Wait::LockHeld(Some(me)));
        assert_eq!(
            why.to_string(),
            format!(
                "vigo apply (PID {}) holds the convergence lock",
                std::process::id()
            )
        );
    }

    #[test]
    fn owner_files_round_trip_and_junk_names_no_owner() {
        let me = Owner::current(Role::Daemon);
        assert_eq!(Owner::parse(&me.to_text()), Some(me));
        assert_eq!(Owner::parse(""), None);
        assert_eq!(Owner::parse("pid=zero\n"), None);
        assert_eq!(
            Owner::parse("pid=7\nrole=someone else\n"),
            Some(Owner {
                pid: 7,
                start: None,
                boot: None,
                role: None
            })
        );
    }
}
