//! Preemption and the convergence lock with the real binary on temporary state roots:
//! a `vigo run` killed by SIGKILL while it waits leaves its sentinel behind, and the next
//! `vigo --once` and daemon cycle still converge (the stale sentinel is removed and
//! named); `vigo apply` and `vigo resource` take the lock under the state root; SIGTERM
//! stops `vigo apply` after the current resource with the lock released; a temporary file
//! a killed write left is removed by the next run.

mod envoy;

use std::io::BufRead;
use std::time::Duration;

use envoy::{Envoy, dead_pid, finish, read, signal, wait_for};
use nix::sys::signal::Signal;

const LIMIT: Duration = Duration::from_secs(60);

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A running `vigo` whose stderr lines are read as they come.
struct Watched {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Watched {
    fn spawn(e: &Envoy, args: &[&str]) -> Watched {
        let mut child = e.spawn(args);
        let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Watched {
            child,
            lines: rx,
            reader,
        }
    }

    /// The lines up to and including the first containing `wanted`; kills the process
    /// (by its PID) and fails when none comes within [`LIMIT`].
    fn until(&mut self, wanted: &str) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        while !seen.last().is_some_and(|l| l.contains(wanted)) {
            match self.lines.recv_timeout(LIMIT) {
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("no line with `{wanted}`; stderr:\n{}", seen.join("\n"));
                }
            }
        }
        seen
    }

    /// SIGTERM, then its exit status.
    fn terminate(self) -> std::process::ExitStatus {
        signal(&self.child, Signal::SIGTERM);
        let out = finish(self.child, LIMIT);
        self.reader.join().unwrap();
        out.status
    }
}

/// `vigo ARGS` once it raised its sentinel and waits for the convergence lock, which the
/// test holds (returned; released on drop).
fn waiting(e: &Envoy, args: &[&str]) -> (std::fs::File, std::process::Child) {
    let held = e.hold_lock();
    let mut child = e.spawn(args);
    let pid = child.id();
    wait_for(LIMIT, "its sentinel under the state root", || {
        e.sentinel_pid() == Some(pid)
    });
    assert!(child.try_wait().unwrap().is_none(), "it waits for the lock");
    (held, child)
}

/// A `vigo run` [`waiting`] for the lock.
fn waiting_run(e: &Envoy) -> (std::fs::File, std::process::Child) {
    waiting(e, &["run", "--dry-run"])
}

/// A [`waiting_run`] killed with SIGKILL; returns its (dead, reaped) PID.
fn killed_waiting_run(e: &Envoy) -> u32 {
    let (held, mut run) = waiting_run(e);
    let pid = run.id();
    run.kill().unwrap();
    run.wait().unwrap();
    drop(held);
    assert_eq!(e.sentinel_pid(), Some(pid), "SIGKILL left the sentinel");
    pid
}

#[test]
fn once_converges_after_a_run_killed_while_waiting_left_its_sentinel() {
    let e = Envoy::with_cached_bundle();
    let pid = killed_waiting_run(&e);
    let once = finish(e.spawn(&["--once"]), LIMIT);
    let text = stderr(&once);
    assert_eq!(once.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "removed the stale preempt sentinel {}: left by vigo run (PID {pid}); PID {pid} is no longer running",
            e.sentinel().display()
        )),
        "{text}"
    );
    assert!(
        text.contains("converged offline 20260101T000000Z"),
        "{text}"
    );
    assert!(!e.sentinel().exists());
}

#[test]
fn the_daemon_converges_past_a_stale_sentinel_and_stops_on_sigterm() {
    let e = Envoy::with_cached_bundle();
    let pid = killed_waiting_run(&e);
    let mut daemon = Watched::spawn(&e, &[]);
    let seen = daemon.until("converged offline 20260101T000000Z");
    assert!(
        seen.iter()
            .any(|l| l.contains(&format!("left by vigo run (PID {pid})"))),
        "{seen:?}"
    );
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM stops the daemon cleanly");
    assert!(e.lock_is_free());
}

#[test]
fn a_live_manual_run_makes_the_daemon_say_why_it_waits() {
    let e = Envoy::with_cached_bundle();
    let (held, mut run) = waiting_run(&e);
    let pid = run.id();
    let mut once = Watched::spawn(&e, &["--once"]);
    let seen = once.until("not converging now");
    assert_eq!(
        seen.last().unwrap(),
        &format!(
            "vigo: not converging now: vigo run (PID {pid}) has asked for the machine; looking again every 5s"
        )
    );
    let status = once.terminate();
    assert_eq!(status.code(), Some(1), "--once stopped before its cycle");
    run.kill().unwrap();
    run.wait().unwrap();
    drop(held);
}

/// A stack whose one host `h1` gets the resources in `crate_yaml`.
fn stack(e: &Envoy, crate_yaml: &str) -> std::path::PathBuf {
    let dir = e.path("stacks");
    std::fs::create_dir_all(dir.join("configcrates")).unwrap();
    std::fs::write(
        dir.join("envoys.vgo"),
        "envoys:\n  - match: \"h1\"\n    configcrates: [local]\n",
    )
    .unwrap();
    std::fs::write(dir.join("configcrates/local.vgo"), crate_yaml).unwrap();
    dir
}

fn motd_stack(e: &Envoy) -> std::path::PathBuf {
    let target = e.path("out/motd");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    stack(
        e,
        &format!(
            "configcrate: local\nresources:\n  - name: motd\n    type: file\n    target_path: {}\n    content: hi\n    state: present\n",
            target.display()
        ),
    )
}

/// Runs `args` while the test holds the lock under the state root: the command must wait
/// (its sentinel there, its file not written), then converge once the lock is free.
fn waits_for_the_state_roots_lock(e: &Envoy, args: &[&str]) {
    let target = e.path("out/motd");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let (held, child) = waiting(e, args);
    assert!(
        !target.exists(),
        "nothing is written while the lock is held"
    );
    drop(held);
    let out = finish(child, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(read(&target), "hi");
    assert!(!e.sentinel().exists(), "the sentinel is lowered");
    assert!(e.lock_is_free());
}

#[test]
fn resource_takes_the_lock_under_the_state_root() {
    let e = Envoy::new();
    let target = e.path("out/motd");
    waits_for_the_state_roots_lock(
        &e,
        &[
            "resource",
            "file",
            "motd",
            &format!("target_path={}", target.display()),
            "content=hi",
            "state=present",
        ],
    );
}

#[test]
fn apply_takes_the_lock_under_the_state_root() {
    let e = Envoy::new();
    let stacks = motd_stack(&e);
    waits_for_the_state_roots_lock(&e, &["apply", stacks.to_str().unwrap(), "--hostname", "h1"]);
    assert!(
        e.root.join("apply-cache").is_dir(),
        "the bundle cache lives under the state root too"
    );
}

#[test]
fn sigterm_stops_apply_after_the_current_resource_with_the_lock_released() {
    let e = Envoy::new();
    let (started, second) = (e.path("started"), e.path("second"));
    let stacks = stack(
        &e,
        &format!(
            "configcrate: local\nresources:\n  - name: first\n    type: exec\n    command: 'sh -c \"touch {} && sleep 2\"'\n  - name: second\n    type: exec\n    command: 'touch {}'\n    depends_on: first\n",
            started.display(),
            second.display()
        ),
    );
    let child = e.spawn(&["apply", stacks.to_str().unwrap(), "--hostname", "h1"]);
    wait_for(LIMIT, "the first resource to start", || started.exists());
    signal(&child, Signal::SIGTERM);
    let out = finish(child, LIMIT);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("vigo: SIGTERM: stopping after the current resource"),
        "{text}"
    );
    assert!(
        text.contains("updated  exec[first]"),
        "the current resource finished: {text}"
    );
    assert!(
        text.contains("vigo: warning: stopped by a signal after 1 resource; the rest did not run"),
        "{text}"
    );
    assert!(!second.exists(), "nothing ran after the signal");
    assert!(e.lock_is_free(), "the lock is released");
    assert!(!e.sentinel().exists(), "the sentinel is lowered");
}

#[test]
fn a_temp_file_left_by_a_killed_write_is_removed_by_the_next_run() {
    let e = Envoy::new();
    let dir = e.path("out");
    std::fs::create_dir_all(&dir).unwrap();
    let dead = dead_pid();
    let plant = |path: std::path::PathBuf| {
        std::fs::write(&path, "half-writ").unwrap();
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3_600))
            .unwrap();
        path
    };
    let stale = plant(dir.join(format!(".motd.vigo-tmp.{dead}.0")));
    let stale_sentinel_tmp = plant(e.root.join(format!(".preempt.vigo-tmp.{dead}.3")));
    let not_ours = plant(dir.join(format!("motd.vigo-tmp.{dead}.0")));
    let args = |dry: bool| {
        let mut a = vec![
            "resource".to_owned(),
            "file".into(),
            "motd".into(),
            format!("target_path={}", dir.join("motd").display()),
            "content=hi".into(),
            "state=present".into(),
        ];
        if dry {
            a.push("--dry-run".into());
        }
        a
    };

    let preview = e.vigo().args(args(true)).output().unwrap();
    assert_eq!(preview.status.code(), Some(0), "{}", stderr(&preview));
    assert!(stale.exists(), "a dry-run removes nothing");

    let out = e.vigo().args(args(false)).output().unwrap();
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!stale.exists() && !stale_sentinel_tmp.exists(), "{text}");
    assert!(
        text.contains(&format!(
            "vigo: warning: removed {}: a temporary file left by an interrupted write",
            stale.display()
        )),
        "{text}"
    );
    assert!(
        not_ours.exists(),
        "a file of another shape is not the agent's"
    );
    assert_eq!(read(&dir.join("motd")), "hi");
}
