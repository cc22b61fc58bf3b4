//! The one way executors run an external program.
//!
//! Every shell-out (apt-get, useradd, systemctl, an `exec` resource, a custom executor)
//! goes through [`run`]: the child gets its own process group, its output is captured,
//! and a timeout ends the whole group — `SIGTERM`, a grace period, then `SIGKILL` — so a
//! hung package manager cannot outlive its resource. Errors carry the command line.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How long a timed-out process group gets between `SIGTERM` and `SIGKILL`.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// A program to run, with everything that shapes its execution.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Program and arguments; `argv[0]` is looked up in `PATH`.
    pub argv: Vec<OsString>,
    /// Bytes written to the child's stdin (stdin is `/dev/null` when `None`).
    pub stdin: Option<Vec<u8>>,
    /// Extra environment variables, added to the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Run as this user instead of the agent's.
    pub credentials: Option<Credentials>,
    /// CPU niceness 0–19 added to the child; on Linux it also sets the I/O priority:
    /// 15 and above the idle class, below that best-effort scaled to the level.
    pub nice: i32,
    /// Wall-clock limit for the whole process group.
    pub timeout: Duration,
    /// The most bytes kept of stdout and of stderr each; the rest is read and dropped
    /// (the child never blocks on a full pipe) and the output marked truncated.
    pub max_output: usize,
}

/// The default bound on each captured stream.
pub const DEFAULT_MAX_OUTPUT: usize = 64 * 1024 * 1024;

impl CommandSpec {
    /// A command with the given argv, no stdin, a 300 s timeout.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
            env: Vec::new(),
            cwd: None,
            credentials: None,
            nice: 0,
            timeout: Duration::from_secs(300),
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }

    /// `sh -c SCRIPT`.
    pub fn shell(script: &str) -> Self {
        Self::new(["/bin/sh", "-c", script])
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the bound on each captured stream.
    pub fn max_output(mut self, bytes: usize) -> Self {
        self.max_output = bytes;
        self
    }

    /// Sets the bytes fed to stdin.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The command line as a shell-quoted string, for messages.
    pub fn display(&self) -> String {
        let words: Vec<String> = self
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        shell_words::join(words)
    }
}

/// The identity a command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (resolved before the fork: the child must not read files).
    pub groups: Vec<u32>,
}

/// What a finished (or timed-out) command produced.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Exit code; `None` when the process was ended by a signal.
    pub code: Option<i32>,
    /// The signal that ended the process, if any.
    pub signal: Option<i32>,
    /// Captured standard output.
    pub stdout: Vec<u8>,
    /// Captured standard error.
    pub stderr: Vec<u8>,
    /// Standard output went past [`CommandSpec::max_output`]; `stdout` holds its start.
    pub stdout_truncated: bool,
    /// Standard error went past [`CommandSpec::max_output`]; `stderr` holds its start.
    pub stderr_truncated: bool,
    /// The timeout expired and the process group was killed.
    pub timed_out: bool,
    /// Wall-clock duration.
    pub duration: Duration,
}

impl CommandOutput {
    /// Exit code 0 and no timeout.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }

    /// Stdout as UTF-8 (lossy).
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as UTF-8 (lossy).
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// A one-line description of how the command ended, for error messages.
    pub fn describe_exit(&self) -> String {
        if self.timed_out {
            return format!("timed out after {:.1}s", self.duration.as_secs_f64());
        }
        match (self.code, self.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "ended without a status".to_owned(),
        }
    }
}

/// Why a command could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The argv was empty.
    #[error("empty command line")]
    Empty,
    /// The program could not be started.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Waiting for the program failed.
    #[error("waiting for `{command}`: {source}")]
    Wait {
        /// The command line.
        command: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Runs a command to completion or until its timeout, capturing its output.
///
/// The child leads a new process group; on timeout the group gets `SIGTERM`, then
/// `SIGKILL` after [`KILL_GRACE`]. A non-zero exit is not an error: inspect the output.
pub fn run(spec: &CommandSpec) -> Result<CommandOutput, CommandError> {
    let mut cmd = command_for(spec)?;
    cmd.stdin(if spec.stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());

    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| CommandError::Spawn {
        command: spec.display(),
        source,
    })?;
    let pgid = Pid::from_raw(child.id() as i32);

    let stdin_writer = child
        .stdin
        .take()
        .zip(spec.stdin.clone())
        .map(|(mut pipe, bytes)| {
            // A child that exits without reading its stdin makes this write fail: not an error.
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })
        });
    let stdout = drain(child.stdout.take(), spec.max_output);
    let stderr = drain(child.stderr.take(), spec.max_output);

    let deadline = started + spec.timeout;
    let mut timed_out = false;
    let mut term_sent_at: Option<Instant> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(source) => {
                return Err(CommandError::Wait {
                    command: spec.display(),
                    source,
                });
            }
        }
        let now = Instant::now();
        match term_sent_at {
            None if now >= deadline => {
                timed_out = true;
                // The group may already be gone: ESRCH is fine.
                let _ = killpg(pgid, Signal::SIGTERM);
                term_sent_at = Some(now);
            }
            Some(t) if now >= t + KILL_GRACE => {
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            _ => {}
        }
        thread::sleep(poll_interval(now - started));
    };
    if timed_out {
        // Leftover members of the group (e.g. a daemonised grandchild) go too.
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    if let Some(w) = stdin_writer {
        let _ = w.join();
    }
    let (stdout, stdout_truncated) = stdout.recv().unwrap_or_default();
    let (stderr, stderr_truncated) = stderr.recv().unwrap_or_default();
    Ok(CommandOutput {
        code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        timed_out,
        duration: started.elapsed(),
    })
}

/// Starts a command detached (own session, no captured output) and returns at once: for
/// `exec` resources with `background: true`. The child is not waited for; it is reparented
/// when the agent exits.
pub fn spawn_detached(spec: &CommandSpec) -> Result<(), CommandError> {
    let mut cmd = command_for(spec)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd.spawn().map_err(|source| CommandError::Spawn {
        command: spec.display(),
        source,
    })?;
    // Reap it in the background so it never lingers as a zombie of the agent.
    thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    Ok(())
}

/// The `Command` for a spec: program and arguments, its own process group, environment,
/// working directory, identity and priority. The caller sets up stdio.
fn command_for(spec: &CommandSpec) -> Result<Command, CommandError> {
    let (program, args) = spec.argv.split_first().ok_or(CommandError::Empty)?;
    let mut cmd = Command::new(program);
    cmd.args(args).process_group(0);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    if let Some(c) = &spec.credentials {
        set_identity(&mut cmd, c);
    }
    if spec.nice != 0 {
        let nice = spec.nice.clamp(0, 19);
        // I/O priority: idle class (3) from 15 up, else best-effort (2) with level 0–7.
        let ioprio = if nice >= 15 {
            3 << 13
        } else {
            (2 << 13) | (nice * 7 / 14)
        };
        // SAFETY: nice(2) and ioprio_set(2) are plain syscalls affecting only the child.
        unsafe {
            cmd.pre_exec(move || {
                libc::nice(nice);
                libc::syscall(
                    libc::SYS_ioprio_set,
                    1, /* IOPRIO_WHO_PROCESS */
                    0,
                    ioprio,
                );
                Ok(())
            });
        }
    }
    Ok(cmd)
}

/// Makes the child run as `c`: supplementary groups, then group, then user — in that
/// order, in one `pre_exec` (std's own `uid()` drops privileges before `pre_exec` hooks
/// run, after which `setgroups` is no longer permitted).
fn set_identity(cmd: &mut Command, c: &Credentials) {
    let mut groups: Vec<libc::gid_t> = c.groups.clone();
    if !groups.contains(&c.gid) {
        groups.push(c.gid);
    }
    let (uid, gid) = (c.uid, c.gid);
    // SAFETY: setgroups/setgid/setuid are async-signal-safe syscalls run in the forked
    // child before exec, reading only the vector moved into the closure.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Polls quickly at first (most commands are short), then backs off to 20 ms.
fn poll_interval(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_millis(20) {
        Duration::from_micros(500)
    } else if elapsed < Duration::from_millis(200) {
        Duration::from_millis(2)
    } else {
        Duration::from_millis(20)
    }
}

/// Reads a pipe to its end on a thread; the receiver yields the bytes.
/// Reads `pipe` to its end on a thread, keeping at most `max` bytes (and whether more came).
fn drain<R: Read + Send + 'static>(pipe: Option<R>, max: usize) -> mpsc::Receiver<(Vec<u8>, bool)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        let mut truncated = false;
        if let Some(p) = pipe {
            let mut p = p.take(u64::try_from(max).unwrap_or(u64::MAX));
            let _ = p.read_to_end(&mut buf);
            // Keep reading (and dropping) so the child never blocks on a full pipe.
            truncated =
                std::io::copy(&mut p.into_inner(), &mut std::io::sink()).is_ok_and(|n| n > 0);
        }
        let _ = tx.send((buf, truncated));
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_bound_is_cut_and_marked_while_the_child_runs_to_its_end() {
        // 1 MiB through a 1 KiB bound: the child must not block on a full pipe.
        let out = run(
            &CommandSpec::shell("head -c 1048576 /dev/zero; echo tail >&2; exit 4")
                .max_output(1024),
        )
        .unwrap();
        assert_eq!(out.code, Some(4));
        assert_eq!(out.stdout.len(), 1024);
        assert!(out.stdout_truncated);
        assert_eq!(out.stderr_str(), "tail\n");
        assert!(!out.stderr_truncated);
    }

    #[test]
    fn captures_output_and_exit_code() {
        let out = run(&CommandSpec::shell("echo out; echo err >&2; exit 3")).unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout_str(), "out\n");
        assert_eq!(out.stderr_str(), "err\n");
        assert!(!out.success());
        assert_eq!(out.describe_exit(), "exit code 3");
    }

    #[test]
    fn feeds_stdin_and_env() {
        let spec = CommandSpec::shell("cat; printf %s \"$GREETING\"")
            .stdin("piped ")
            .env("GREETING", "hello");
        let out = run(&spec).unwrap();
        assert!(out.success());
        assert_eq!(out.stdout_str(), "piped hello");
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        // The grandchild ignores nothing but would outlive a plain kill of the shell.
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let out = run(&CommandSpec::shell(&script).timeout(Duration::from_millis(300))).unwrap();
        assert!(out.timed_out);
        assert!(!out.success());
        assert!(out.duration < Duration::from_secs(5), "{:?}", out.duration);
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild is gone (or a zombie awaiting its reaper, never running sleep).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
            let alive = state.as_deref().is_some_and(|s| !s.contains(") Z "));
            if !alive {
                break;
            }
            assert!(Instant::now() < deadline, "grandchild {pid} still running");
            thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn term_is_escalated_to_kill() {
        let spec = CommandSpec::shell("trap '' TERM; while :; do sleep 0.05; done")
            .timeout(Duration::from_millis(100));
        let out = run(&spec).unwrap();
        assert!(out.timed_out);
        assert_eq!(out.signal, Some(libc::SIGKILL));
        assert!(out.duration >= KILL_GRACE);
    }

    #[test]
    fn spawn_failure_names_the_command() {
        let err = run(&CommandSpec::new(["/nonexistent/tool", "--flag"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot start `/nonexistent/tool --flag`: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn nice_lowers_cpu_and_io_priority() {
        let mut spec = CommandSpec::shell("cat /proc/self/stat");
        spec.nice = 19;
        let out = run(&spec).unwrap();
        // Field 19 of /proc/<pid>/stat is the nice value.
        let stat = out.stdout_str();
        let after_comm = stat.rsplit_once(") ").unwrap().1;
        assert_eq!(after_comm.split(' ').nth(16), Some("19"), "{stat}");
    }

    #[test]
    fn empty_argv_is_an_error() {
        let empty: [&str; 0] = [];
        assert!(matches!(
            run(&CommandSpec::new(empty)),
            Err(CommandError::Empty)
        ));
    }
}
