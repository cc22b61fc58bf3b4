//! A throwaway envoy for the agent's integration tests: a data directory and a state
//! root in a temporary directory (the binary is pointed at them with the test-only
//! `VIGO_DATA_DIR` / `VIGO_STATE_ROOT`), optionally holding a signed, cached bundle and
//! the pinned key that verifies it.

#![allow(dead_code)] // each test binary uses its own part

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use prost::Message;
use vigo_agent::enroll::{SERVER_PUB, pin_server_key};
use vigo_agent::state::StateStore;
use vigo_proto::v1::{PolicyBundle, SignedBundle};

/// The data directory and state root of one envoy.
pub struct Envoy {
    /// Holds both directories; removed on drop.
    pub tmp: tempfile::TempDir,
    /// Replaces `/etc/vigo-envoy`.
    pub data: PathBuf,
    /// Replaces `/var/lib/vigo`.
    pub root: PathBuf,
}

impl Envoy {
    /// Empty directories.
    pub fn new() -> Envoy {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("etc");
        let root = tmp.path().join("var");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        Envoy { tmp, data, root }
    }

    /// With a cached empty bundle (valid for an hour) signed by [`server_key`], pinned.
    pub fn with_cached_bundle() -> Envoy {
        let e = Envoy::new();
        e.cache(&vigo_core::signing::sign(&empty_bundle(), &server_key()));
        e
    }

    /// Caches `signed` as if the server had sent it, and pins [`server_key`].
    pub fn cache(&self, signed: &SignedBundle) {
        let store = StateStore::open(&self.root.join("state")).unwrap();
        store.put_bundle(&signed.encode_to_vec(), now()).unwrap();
        pin_server_key(&self.data.join(SERVER_PUB), &server_key().verifying_key()).unwrap();
    }

    /// A path in the temporary directory (outside data dir and state root).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// `vigo` pointed at these directories, without colour, snapshots in the temp dir.
    pub fn vigo(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vigo"));
        cmd.env("VIGO_DATA_DIR", &self.data)
            .env("VIGO_STATE_ROOT", &self.root)
            .env("NO_COLOR", "1")
            .env_remove("JOURNAL_STREAM")
            .env_remove("INVOCATION_ID")
            .arg("--snapshot-dir")
            .arg(self.path("snapshots"))
            .arg("--executors-dir")
            .arg(self.path("executors"));
        cmd
    }

    /// Starts `vigo ARGS` with stdout discarded and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.vigo()
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The convergence lock file.
    pub fn lock_path(&self) -> PathBuf {
        vigo_agent::preempt::lock_path(&self.root)
    }

    /// The preempt sentinel.
    pub fn sentinel(&self) -> PathBuf {
        vigo_agent::preempt::sentinel_path(&self.root)
    }

    /// The lock file, opened on its own (a `flock` on it is another process's).
    fn open_lock(&self) -> File {
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.lock_path())
            .unwrap()
    }

    /// Takes the convergence lock as another process would; released on drop.
    pub fn hold_lock(&self) -> File {
        let f = self.open_lock();
        f.try_lock().expect("the convergence lock is free");
        f
    }

    /// Whether nothing holds the convergence lock.
    pub fn lock_is_free(&self) -> bool {
        self.open_lock().try_lock().is_ok()
    }

    /// The PID the sentinel names, if it names one.
    pub fn sentinel_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.sentinel()).ok()?;
        vigo_agent::preempt::Owner::parse(&text).map(|o| o.pid)
    }
}

/// The bundle-signing key the cached bundles are signed with.
pub fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// A bundle with nothing to apply, issued now, valid for an hour.
pub fn empty_bundle() -> PolicyBundle {
    PolicyBundle {
        version: "20260101T000000Z".into(),
        match_pattern: "*".into(),
        max_age_secs: 3_600,
        issued_at_unix: now(),
        ..Default::default()
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    vigo_agent::clock::now_unix()
}

/// A PID that ran a process and now runs none (a reaped child).
pub fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Polls `cond` until it holds, failing the test after `limit` with `what`.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to exit within `limit` and returns its output (read as it comes, so
/// a chatty child never blocks on a full pipe); kills it by its PID and fails the test
/// when it does not exit in time.
pub fn finish(child: std::process::Child, limit: Duration) -> std::process::Output {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => {
            waiter.join().unwrap();
            out.unwrap()
        }
        Err(_) => {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let out = rx.recv().unwrap().unwrap();
            waiter.join().unwrap();
            panic!(
                "still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Sends `signal` to `child` by its own PID.
pub fn signal(child: &std::process::Child, signal: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, signal).unwrap();
}

/// The text of a path that must exist.
pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
