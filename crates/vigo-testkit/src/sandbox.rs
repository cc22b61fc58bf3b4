//! Disposable Debian roots: an overlay of a cached base, private namespaces, a chroot.
//!
//! Each `SandboxRoot` is an overlayfs (the base as read-only lower layer, a fresh upper
//! directory) mounted inside a new mount namespace owned by one long-lived init process,
//! which also owns new PID, UTS and IPC namespaces. Nothing is mounted in the host's
//! namespace: when the init dies, every mount dies with it. Inside: `/proc` (with
//! `/proc/sys` read-only), read-only `/sys`, a tmpfs `/dev` whose nodes are created with
//! `mknod` (host device nodes are never bound in: a `chown` inside would change the
//! host's), a private devpts, tmpfs `/run` and `/dev/shm`, the host's `resolv.conf`.
//! Commands run as root through `nsenter` + `chroot`, with a clean environment. apt
//! reaches the mirror through the host network.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use vigo_exec::command::CommandSpec;

use crate::Error;
use crate::base::{BaseKind, base_root};
use crate::footprint::Footprint;
use crate::output::{Output, clean_env_argv, run};

/// How to build a [`SandboxRoot`].
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    base: BaseKind,
    binaries: Vec<(PathBuf, PathBuf)>,
    hostname: String,
    timeout: Duration,
    netns: Option<String>,
    env: Vec<String>,
}

/// A disposable Debian root; torn down on drop.
#[derive(Debug)]
pub struct SandboxRoot {
    dir: Option<tempfile::TempDir>,
    merged: PathBuf,
    upper: PathBuf,
    launcher: Option<Child>,
    init: i32,
    timeout: Duration,
    footprint: Footprint,
    in_netns: bool,
    env: Vec<String>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl SandboxBuilder {
    /// Use this base (default: [`BaseKind::Minimal`]).
    pub fn base(mut self, base: BaseKind) -> Self {
        self.base = base;
        self
    }

    /// Bind `host` read-only at `inside` (e.g. the agent binary at
    /// `/usr/local/sbin/vigo`; host and base are both bookworm, so it runs).
    pub fn with_binary(mut self, host: impl Into<PathBuf>, inside: impl Into<PathBuf>) -> Self {
        self.binaries.push((host.into(), inside.into()));
        self
    }

    /// The sandbox's hostname (default `sandbox`).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = name.to_owned();
        self
    }

    /// Run inside this network namespace (`/run/netns/<name>`, e.g. one member of a
    /// [`crate::NetnsStar`]) instead of the host's network.
    pub fn network_namespace(mut self, path: impl Into<String>) -> Self {
        self.netns = Some(path.into());
        self
    }

    /// Adds `key=value` to the (otherwise clean) environment of every command run in the
    /// sandbox, e.g. [`crate::TestClock::agent_env`].
    pub fn env(mut self, (key, value): (&str, &str)) -> Self {
        self.env.push(format!("{key}={value}"));
        self
    }

    /// Default time limit of each `run` (default 10 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Creates the sandbox (building the base first if it is not cached).
    pub fn build(self) -> Result<SandboxRoot, Error> {
        let lower = base_root(self.base)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!(
                "vigo-sandbox-{}-{}-",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ))
            .tempdir()
            .map_err(Error::io("creating the sandbox dir", std::env::temp_dir()))?;
        let (upper, work, merged) = (
            dir.path().join("upper"),
            dir.path().join("work"),
            dir.path().join("merged"),
        );
        for d in [&upper, &work, &merged] {
            std::fs::create_dir(d).map_err(Error::io("creating", d))?;
        }
        let script = init_script(
            &lower,
            &upper,
            &work,
            &merged,
            &self.binaries,
            &self.hostname,
        )?;
        let mut launcher = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={ns}")).args(["--", "unshare"]);
                c
            }
            None => Command::new("unshare"),
        };
        let mut launcher = launcher
            .args([
                "--mount",
                "--pid",
                "--uts",
                "--ipc",
                "--fork",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                &script,
            ])
            // Like systemd-nspawn's `container=systemd-nspawn`: PID 1's environment tells
            // software (and `when: is_container`) it runs in a container.
            .env("container", "vigo-sandbox")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(Error::io("starting unshare for", dir.path()))?;
        let mut footprint = Footprint {
            paths: vec![dir.path().to_path_buf()],
            ..Footprint::default()
        };
        footprint.pids.push(launcher.id() as i32);
        let ready = wait_ready(&mut launcher, Duration::from_secs(60));
        let init = ready.and_then(|()| init_pid(launcher.id() as i32));
        let init = match init {
            Ok(pid) => pid,
            Err(e) => {
                let _ = launcher.kill();
                let stderr = launcher
                    .wait_with_output()
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .unwrap_or_default();
                return Err(Error::Other(format!(
                    "the sandbox did not start: {e}; {}",
                    stderr.trim()
                )));
            }
        };
        footprint.pids.push(init);
        Ok(SandboxRoot {
            dir: Some(dir),
            merged,
            upper,
            launcher: Some(launcher),
            init,
            timeout: self.timeout,
            footprint,
            in_netns: self.netns.is_some(),
            env: self.env,
        })
    }
}

fn init_script(
    lower: &Path,
    upper: &Path,
    work: &Path,
    merged: &Path,
    binaries: &[(PathBuf, PathBuf)],
    hostname: &str,
) -> Result<String, Error> {
    let q = |p: &Path| shell_quote(&p.to_string_lossy());
    let m = q(merged);
    let mut s = format!(
        "set -e
mount -t overlay overlay -o lowerdir={lower},upperdir={upper},workdir={work} {m}
mount -t proc proc {m}/proc
mount --bind {m}/proc/sys {m}/proc/sys
mount -o remount,bind,ro {m}/proc/sys
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs {m}/sys
mount -t tmpfs -o mode=755,nosuid,size=65536k tmpfs {m}/dev
mknod -m 666 {m}/dev/null c 1 3
mknod -m 666 {m}/dev/zero c 1 5
mknod -m 666 {m}/dev/full c 1 7
mknod -m 666 {m}/dev/random c 1 8
mknod -m 666 {m}/dev/urandom c 1 9
mknod -m 666 {m}/dev/tty c 5 0
ln -s /proc/self/fd {m}/dev/fd
ln -s /proc/self/fd/0 {m}/dev/stdin
ln -s /proc/self/fd/1 {m}/dev/stdout
ln -s /proc/self/fd/2 {m}/dev/stderr
mkdir {m}/dev/pts {m}/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts {m}/dev/pts
ln -s pts/ptmx {m}/dev/ptmx
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs {m}/dev/shm
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs {m}/run
if [ -f /etc/resolv.conf ]; then cat /etc/resolv.conf > {m}/etc/resolv.conf; fi
hostname {host}
",
        lower = q(lower),
        upper = q(upper),
        work = q(work),
        host = shell_quote(hostname),
    );
    for (host, inside) in binaries {
        if !host.is_file() {
            return Err(Error::Other(format!(
                "binary to bind {} does not exist",
                host.display()
            )));
        }
        if !inside.is_absolute() {
            return Err(Error::Other(format!(
                "bind target {} is not absolute",
                inside.display()
            )));
        }
        let target = merged.join(inside.strip_prefix("/").unwrap_or(inside));
        let t = q(&target);
        let dir = q(target.parent().unwrap_or(merged));
        s.push_str(&format!(
            "mkdir -p {dir}\ntouch {t}\nmount --bind {h} {t}\nmount -o remount,bind,ro {t}\n",
            h = q(host)
        ));
    }
    s.push_str("echo READY\nexec sleep infinity\n");
    Ok(s)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn wait_ready(child: &mut Child, limit: Duration) -> Result<(), Error> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Error::Other("no stdout from the sandbox init".into()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let ok = BufReader::new(stdout).read_line(&mut line).is_ok() && line.trim() == "READY";
        let _ = tx.send(ok);
    });
    match rx.recv_timeout(limit) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::Other("the init script failed".into())),
        Err(_) => Err(Error::Timeout(format!(
            "the sandbox was not ready after {limit:?}"
        ))),
    }
}

/// The host PID of `unshare`'s child: PID 1 of the sandbox's PID namespace.
pub(crate) fn init_pid(launcher: i32) -> Result<i32, Error> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{launcher}/task/{launcher}/children"))
                .unwrap_or_default();
        if let Some(pid) = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
        {
            return Ok(pid);
        }
        if Instant::now() > deadline {
            return Err(Error::Timeout(format!("no child of launcher {launcher}")));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl SandboxRoot {
    /// A builder with the defaults (minimal base, hostname `sandbox`).
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            base: BaseKind::Minimal,
            binaries: Vec::new(),
            hostname: "sandbox".into(),
            timeout: Duration::from_secs(600),
            netns: None,
            env: Vec::new(),
        }
    }

    /// A sandbox with the defaults.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    fn spec(&self, argv: &[&str]) -> CommandSpec {
        let pid = self.init.to_string();
        let merged = self.merged.to_string_lossy().into_owned();
        let mut full: Vec<String> = ["nsenter", "-t", &pid, "-m", "-u", "-i", "-p"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        if self.in_netns {
            full.push("-n".to_owned());
        }
        full.extend(["--", "chroot", &merged].iter().map(|s| (*s).to_owned()));
        full.extend(clean_env_argv());
        full.extend(self.env.iter().cloned());
        full.extend(argv.iter().map(|s| (*s).to_owned()));
        CommandSpec::new(full).timeout(self.timeout)
    }

    /// Runs `sh -c cmd` as root inside the sandbox.
    pub fn run(&self, cmd: &str) -> Result<Output, Error> {
        run(&self.spec(&["/bin/sh", "-c", cmd]))
    }

    /// Runs a program with arguments inside the sandbox.
    pub fn run_argv(&self, argv: &[&str]) -> Result<Output, Error> {
        run(&self.spec(argv))
    }

    /// Runs `sh -c cmd` with `input` on stdin.
    pub fn run_with_stdin(&self, cmd: &str, input: &[u8]) -> Result<Output, Error> {
        run(&self.spec(&["/bin/sh", "-c", cmd]).stdin(input))
    }

    /// Runs `sh -c cmd` with its own time limit.
    pub fn run_timeout(&self, cmd: &str, timeout: Duration) -> Result<Output, Error> {
        run(&self.spec(&["/bin/sh", "-c", cmd]).timeout(timeout))
    }

    /// The host path through which `inside` (an absolute path in the sandbox) is seen.
    pub fn host_path(&self, inside: impl AsRef<Path>) -> PathBuf {
        let inside = inside.as_ref();
        let rel = inside.strip_prefix("/").unwrap_or(inside);
        PathBuf::from(format!("/proc/{}/root", self.init))
            .join(self.merged.strip_prefix("/").unwrap_or(&self.merged))
            .join(rel)
    }

    /// Reads a file of the sandbox.
    pub fn read_file(&self, inside: impl AsRef<Path>) -> Result<String, Error> {
        let p = self.host_path(inside);
        std::fs::read_to_string(&p).map_err(Error::io("reading", p))
    }

    /// Writes a file into the sandbox.
    pub fn write_file(
        &self,
        inside: impl AsRef<Path>,
        content: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        let p = self.host_path(inside);
        std::fs::write(&p, content).map_err(Error::io("writing", p))
    }

    /// Whether a path exists in the sandbox.
    pub fn exists(&self, inside: impl AsRef<Path>) -> bool {
        std::fs::symlink_metadata(self.host_path(inside)).is_ok()
    }

    /// The overlay's upper directory: everything the sandbox changed, on the host.
    pub fn upper_dir(&self) -> &Path {
        &self.upper
    }

    /// A digest of everything the sandbox changed (the overlay's upper directory: paths,
    /// types, modes, owners, contents, link targets), skipping the paths in `except`
    /// (absolute paths inside the sandbox). Equal digests before and after a command
    /// prove the command wrote nothing there.
    pub fn changes_digest(&self, except: &[&str]) -> Result<String, Error> {
        use std::os::unix::fs::MetadataExt;
        let mut entries = Vec::new();
        let mut stack = vec![self.upper.clone()];
        while let Some(dir) = stack.pop() {
            let rd = std::fs::read_dir(&dir).map_err(Error::io("listing", &dir))?;
            for e in rd {
                let e = e.map_err(Error::io("listing", &dir))?;
                let path = e.path();
                let inside = Path::new("/").join(path.strip_prefix(&self.upper).unwrap_or(&path));
                if except.iter().any(|x| inside.starts_with(x)) {
                    continue;
                }
                let md = std::fs::symlink_metadata(&path).map_err(Error::io("stat", &path))?;
                let body = if md.is_file() {
                    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
                        std::fs::read(&path).map_err(Error::io("reading", &path))?,
                    ))
                } else if md.file_type().is_symlink() {
                    std::fs::read_link(&path)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                if md.is_dir() {
                    stack.push(path.clone());
                }
                entries.push(format!(
                    "{} {:o} {}:{} {body}",
                    inside.display(),
                    md.mode(),
                    md.uid(),
                    md.gid()
                ));
            }
        }
        entries.sort();
        Ok(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            entries.join("\n").as_bytes(),
        )))
    }

    /// What this sandbox created on the host.
    pub fn footprint(&self) -> &Footprint {
        &self.footprint
    }

    /// Tears the sandbox down and reports anything that could not be cleaned.
    pub fn close(mut self) -> Result<(), Error> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), Error> {
        let Some(mut launcher) = self.launcher.take() else {
            return Ok(());
        };
        // Killing PID 1 of the namespace kills every process in it; the mount namespace,
        // and so every mount, goes with the last of them.
        let _ = kill(Pid::from_raw(self.init), Signal::SIGKILL);
        let waited = launcher.wait();
        let removed = self.dir.take().map(tempfile::TempDir::close);
        waited.map_err(Error::io("waiting for the sandbox", &self.merged))?;
        if let Some(r) = removed {
            r.map_err(Error::io("removing", &self.merged))?;
        }
        Ok(())
    }
}

impl Drop for SandboxRoot {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("vigo-testkit: sandbox teardown: {e}");
        }
    }
}
