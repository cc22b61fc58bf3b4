//! Booted systemd containers: a real systemd as PID 1, for service tests.
//!
//! `systemd-nspawn -b --register=no --keep-unit --volatile=overlay` on the cached systemd
//! base: the container's changes live in a tmpfs and vanish with it. Before nspawn starts,
//! its launcher moves itself into its own cgroup (`/sys/fs/cgroup/{systemd,unified}/
//! vigo-test/<name>`), so parallel containers never share one; each container gets its own
//! network namespace (private, or one of a [`crate::Netns`]). Commands run through
//! `nsenter` into all of the container's namespaces (`machinectl` needs a systemd host).
//!
//! Teardown asks systemd to power off (`SIGRTMIN+4`, about 2 s) and *waits* for it, then
//! removes the cgroups and nspawn's runtime entries: a waiter thread left behind would die
//! with the test process and leak the container, since PID 1 here reaps no orphans.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use vigo_exec::command::CommandSpec;

use crate::Error;
use crate::base::{BaseKind, base_root};
use crate::footprint::Footprint;
use crate::output::{Output, clean_env_argv, run};

static COUNTER: AtomicU32 = AtomicU32::new(0);

const CGROUP_ROOTS: &[&str] = &["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"];

/// How to boot a [`SystemdContainer`].
#[derive(Debug, Clone, Default)]
pub struct ContainerBuilder {
    binaries: Vec<(PathBuf, PathBuf)>,
    netns_path: Option<String>,
}

/// A booted systemd container; powered off and cleaned up on drop.
#[derive(Debug)]
pub struct SystemdContainer {
    name: String,
    launcher: Option<Child>,
    leader: i32,
    logs: Option<tempfile::TempDir>,
    cgroups: Vec<PathBuf>,
    footprint: Footprint,
}

impl ContainerBuilder {
    /// Bind `host` read-only at `inside`.
    pub fn with_binary(mut self, host: impl Into<PathBuf>, inside: impl Into<PathBuf>) -> Self {
        self.binaries.push((host.into(), inside.into()));
        self
    }

    /// Join this network namespace (`/run/netns/<name>`) instead of a private one.
    pub fn network_namespace(mut self, path: impl Into<String>) -> Self {
        self.netns_path = Some(path.into());
        self
    }

    /// Boots the container and waits until systemd reports `running` (or `degraded`).
    pub fn boot(self) -> Result<SystemdContainer, Error> {
        let root = base_root(BaseKind::Systemd)?;
        let name = format!(
            "vigo-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let logs = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir()
            .map_err(Error::io(
                "creating the container log dir",
                std::env::temp_dir(),
            ))?;
        let mut cgroups = Vec::new();
        for r in CGROUP_ROOTS {
            if Path::new(r).is_dir() {
                let dir = Path::new(r).join("vigo-test").join(&name);
                fs::create_dir_all(&dir).map_err(Error::io("creating cgroup", &dir))?;
                cgroups.push(dir);
            }
        }
        let mut footprint = Footprint {
            paths: vec![logs.path().to_path_buf()],
            cgroups: cgroups.clone(),
            ..Footprint::default()
        };
        let mut nspawn = vec![
            "exec systemd-nspawn -q -b --register=no --keep-unit --volatile=overlay --console=passive".to_owned(),
            format!("-D {}", quote(&root.to_string_lossy())),
            format!("-M {name}"),
        ];
        nspawn.push(match &self.netns_path {
            Some(p) => format!("--network-namespace-path={}", quote(p)),
            None => "--private-network".to_owned(),
        });
        for (host, inside) in &self.binaries {
            if !host.is_file() {
                return Err(Error::Other(format!(
                    "binary to bind {} does not exist",
                    host.display()
                )));
            }
            nspawn.push(format!(
                "--bind-ro={}",
                quote(&format!("{}:{}", host.display(), inside.display()))
            ));
        }
        let mut script = String::new();
        for cg in &cgroups {
            script.push_str(&format!(
                "echo $$ > {}/cgroup.procs\n",
                quote(&cg.to_string_lossy())
            ));
        }
        script.push_str(&nspawn.join(" "));
        let log = logs.path().join("console.log");
        let log_file = fs::File::create(&log).map_err(Error::io("creating", &log))?;
        let log_err = log_file.try_clone().map_err(Error::io("cloning", &log))?;
        let launcher = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(Error::io("starting systemd-nspawn for", &root))?;
        footprint.pids.push(launcher.id() as i32);
        let mut container = SystemdContainer {
            name,
            launcher: Some(launcher),
            leader: 0,
            logs: Some(logs),
            cgroups,
            footprint,
        };
        match container.wait_booted(Duration::from_secs(90)) {
            Ok(()) => Ok(container),
            Err(e) => {
                let console = fs::read_to_string(&log).unwrap_or_default();
                let _ = container.teardown();
                Err(Error::Other(format!(
                    "container {} did not boot: {e}\n{}",
                    container.name,
                    tail(&console, 20)
                )))
            }
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Every descendant of `pid`.
fn descendants(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let Ok(tasks) = fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for t in tasks.filter_map(Result::ok) {
            let children = fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                out.push(c);
                queue.push(c);
            }
        }
    }
    out
}

impl SystemdContainer {
    /// A builder with a private network and no binaries.
    pub fn builder() -> ContainerBuilder {
        ContainerBuilder::default()
    }

    /// Boots a container with the defaults.
    pub fn boot() -> Result<Self, Error> {
        Self::builder().boot()
    }

    fn wait_booted(&mut self, limit: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + limit;
        let launcher = self.launcher.as_ref().map_or(0, |c| c.id() as i32);
        while self.leader == 0 {
            if let Some(pid) = descendants(launcher).into_iter().find(|p| {
                fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "systemd")
            }) {
                self.leader = pid;
                self.footprint.pids.push(pid);
                break;
            }
            if self
                .launcher
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some())
            {
                return Err(Error::Other("systemd-nspawn exited".into()));
            }
            if Instant::now() > deadline {
                return Err(Error::Timeout("no systemd process appeared".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut last = String::new();
        while Instant::now() < deadline {
            let out = self.exec_timeout("systemctl is-system-running", Duration::from_secs(10))?;
            last = out.stdout.trim().to_owned();
            if last == "running" || last == "degraded" {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(Error::Timeout(format!(
            "systemd still `{last}` after {limit:?}"
        )))
    }

    /// The machine name (also its hostname).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Host PID of the container's systemd (PID 1 inside).
    pub fn leader(&self) -> i32 {
        self.leader
    }

    fn spec(&self, argv: &[&str], timeout: Duration) -> CommandSpec {
        let pid = self.leader.to_string();
        let mut full: Vec<String> = ["nsenter", "-t", &pid, "-a", "--"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        full.extend(clean_env_argv());
        full.extend(argv.iter().map(|s| (*s).to_owned()));
        CommandSpec::new(full).timeout(timeout)
    }

    /// Runs `sh -c cmd` as root inside the container (10 minute limit).
    pub fn exec(&self, cmd: &str) -> Result<Output, Error> {
        self.exec_timeout(cmd, Duration::from_secs(600))
    }

    /// Runs `sh -c cmd` inside the container with a time limit.
    pub fn exec_timeout(&self, cmd: &str, timeout: Duration) -> Result<Output, Error> {
        run(&self.spec(&["/bin/sh", "-c", cmd], timeout))
    }

    /// The host path through which `inside` is seen (via the container's PID 1).
    pub fn host_path(&self, inside: impl AsRef<Path>) -> PathBuf {
        let inside = inside.as_ref();
        PathBuf::from(format!("/proc/{}/root", self.leader))
            .join(inside.strip_prefix("/").unwrap_or(inside))
    }

    /// Reads a file of the container.
    pub fn read_file(&self, inside: impl AsRef<Path>) -> Result<String, Error> {
        let p = self.host_path(inside);
        fs::read_to_string(&p).map_err(Error::io("reading", p))
    }

    /// Writes a file into the container.
    pub fn write_file(
        &self,
        inside: impl AsRef<Path>,
        content: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        let p = self.host_path(inside);
        fs::write(&p, content).map_err(Error::io("writing", p))
    }

    /// What this container created on the host.
    pub fn footprint(&self) -> &Footprint {
        &self.footprint
    }

    /// Powers off, waits, and cleans up; reports what could not be cleaned.
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<(), Error> {
        let Some(mut launcher) = self.launcher.take() else {
            return Ok(());
        };
        if self.leader != 0 {
            // SIGRTMIN+4 is systemd's "power off" (nix's Signal has no realtime signals).
            // SAFETY: kill(2) with a valid signal number and the container's PID 1.
            unsafe {
                libc::kill(self.leader, libc::SIGRTMIN() + 4);
            }
        } else {
            let _ = kill(Pid::from_raw(launcher.id() as i32), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut errors = Vec::new();
        loop {
            match launcher.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(None) => {
                    errors.push("poweroff timed out; killed".to_owned());
                    // PID 1 of the container's namespace takes every process in it along.
                    if self.leader != 0 {
                        let _ = kill(Pid::from_raw(self.leader), Signal::SIGKILL);
                    }
                    let _ = killpg(Pid::from_raw(launcher.id() as i32), Signal::SIGKILL);
                    let _ = launcher.wait();
                    break;
                }
                Err(e) => {
                    errors.push(format!("waiting for systemd-nspawn: {e}"));
                    break;
                }
            }
        }
        // Anything of the container still alive (it should not be) goes with its cgroup:
        // cgroup.kill ends exactly the processes of this container's own subtree.
        for cg in self
            .cgroups
            .iter()
            .filter(|c| c.join("cgroup.kill").exists())
        {
            if has_processes(cg) {
                errors
                    .push("processes outlived the container; killed through its cgroup".to_owned());
                let _ = fs::write(cg.join("cgroup.kill"), "1");
            }
        }
        for cg in &self.cgroups {
            if let Err(e) = remove_cgroup(cg) {
                errors.push(format!("cgroup {}: {e}", cg.display()));
            }
            // The shared parent goes with the last container; while another container
            // still uses it, rmdir fails and that is fine.
            if let Some(parent) = cg.parent() {
                let _ = fs::remove_dir(parent);
            }
        }
        for leftover in [
            "/run/systemd/nspawn/propagate",
            "/run/systemd/nspawn/unix-export",
        ] {
            let p = Path::new(leftover).join(&self.name);
            if p.exists() {
                let _ = fs::remove_dir_all(&p);
            }
        }
        if let Some(logs) = self.logs.take()
            && let Err(e) = logs.close()
        {
            errors.push(format!("log dir: {e}"));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Other(errors.join("; ")))
        }
    }
}

/// Whether any process is in `dir` or below.
fn has_processes(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| !p.trim().is_empty())
        || fs::read_dir(dir).is_ok_and(|rd| {
            rd.filter_map(Result::ok)
                .any(|e| e.file_type().is_ok_and(|t| t.is_dir()) && has_processes(&e.path()))
        })
}

/// Removes a cgroup directory and the sub-cgroups nspawn created in it (deepest first).
fn remove_cgroup(dir: &Path) -> std::io::Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in fs::read_dir(dir)?.filter_map(Result::ok) {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup(&entry.path())?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            // Processes may take a moment to leave after they exited.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
}

impl Drop for SystemdContainer {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("vigo-testkit: container {} teardown: {e}", self.name);
        }
    }
}
