//! A running `vigosrv` for the fleet tests, the demo and the benchmarks: the real binary
//! on its own data dir (`server.yaml` written by the caller), optionally inside a test
//! network namespace, driven over REST with curl (a standard client, our CA pinned).
//! Stopped by its own PID: SIGTERM and a wait (a clean shutdown flushes the fleet), and
//! killed on drop if still running.
//!
//! Ports cannot race: [`Listeners::loopback`] binds `127.0.0.1:0` twice, the caller
//! writes the ports it got into `server.yaml`, and the server inherits the listening
//! sockets by socket activation (`LISTEN_FDS`, see docs/server.md) instead of binding
//! them again, so no other process can take a port in between.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Error;
use crate::ports::Listeners;

/// How long a server may take to answer its health check after start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a clean shutdown may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Where socket activation puts the first passed descriptor (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// How the server gets its listening sockets.
#[derive(Debug)]
pub enum Listen {
    /// Inherited from the test (socket activation): the ports cannot race.
    Pass(Listeners),
    /// Bound by the server itself: only inside a private network namespace, where no
    /// other process takes ports (e.g. the fixed 8443/1530 of a container test).
    Bind {
        /// The REST port.
        api_port: u16,
        /// The gRPC port.
        grpc_port: u16,
    },
}

/// Where and how to start a server.
#[derive(Debug)]
pub struct VigosrvOptions {
    /// The `vigosrv` binary.
    pub binary: PathBuf,
    /// The data dir, holding `server.yaml` (its listeners must match `host` and ports).
    pub dir: PathBuf,
    /// The address the server listens on and clients dial (`127.0.0.1`, a hub address).
    pub host: String,
    /// The listening sockets.
    pub listen: Listen,
    /// Run inside this network namespace (`/run/netns/<name>`); `None`: the host's.
    /// Only with [`Listen::Bind`].
    pub netns: Option<String>,
    /// More environment variables for the server.
    pub env: Vec<(OsString, OsString)>,
}

impl VigosrvOptions {
    /// `binary` on `dir`, on `127.0.0.1`, inheriting `listeners`.
    pub fn loopback(
        binary: impl Into<PathBuf>,
        dir: impl Into<PathBuf>,
        listeners: Listeners,
    ) -> VigosrvOptions {
        VigosrvOptions {
            binary: binary.into(),
            dir: dir.into(),
            host: "127.0.0.1".to_owned(),
            listen: Listen::Pass(listeners),
            netns: None,
            env: Vec::new(),
        }
    }

    /// Adds the variable `key=value` to the server's environment.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

/// A running `vigosrv`.
#[derive(Debug)]
pub struct Vigosrv {
    child: Child,
    dir: PathBuf,
    host: String,
    api_port: u16,
    grpc_port: u16,
    netns: Option<String>,
}

impl Vigosrv {
    /// Starts the server, logging to `<dir>/server.log`, and waits until
    /// `GET /api/v1/health` answers 200.
    pub fn start(opts: VigosrvOptions) -> Result<Vigosrv, Error> {
        let log_path = opts.dir.join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(Error::io("opening", &log_path))?;
        let log_err = log.try_clone().map_err(Error::io("opening", &log_path))?;
        let (mut cmd, api_port, grpc_port) = match &opts.listen {
            Listen::Pass(l) => {
                if opts.netns.is_some() {
                    return Err(Error::Other(
                        "sockets bound by the test live in the host's network namespace: \
                         use Listen::Bind with a netns"
                            .to_owned(),
                    ));
                }
                (
                    activated_command(&opts.binary, l),
                    l.api_port(),
                    l.grpc_port(),
                )
            }
            // nsenter execs vigosrv in place: the child's PID is the server's.
            Listen::Bind {
                api_port,
                grpc_port,
            } => (
                netns_command(opts.netns.as_deref(), &opts.binary),
                *api_port,
                *grpc_port,
            ),
        };
        let child = cmd
            .arg("--config")
            .arg(opts.dir.join("server.yaml"))
            .arg("serve")
            .env("RUST_LOG", "info")
            .envs(opts.env.iter().map(|(k, v)| (k, v)))
            .stdout(log)
            .stderr(log_err)
            .stdin(Stdio::null())
            .spawn()
            .map_err(Error::io("starting", &opts.binary))?;
        // The child holds its own copies: a stopped server's ports must refuse
        // connections, not queue them on ours.
        drop(opts.listen);
        let mut server = Vigosrv {
            child,
            dir: opts.dir,
            host: opts.host,
            api_port,
            grpc_port,
            netns: opts.netns,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while server.curl("GET", "/api/v1/health", None, None).0 != 200 {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(Error::Other(format!(
                    "vigosrv exited ({status}) before becoming healthy: {}",
                    server.log()
                )));
            }
            if Instant::now() >= deadline {
                return Err(Error::Other(format!(
                    "vigosrv did not become healthy: {}",
                    server.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// The REST base URL, `https://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}:{}", self.host, self.api_port)
    }

    /// The gRPC port.
    pub fn grpc_port(&self) -> u16 {
        self.grpc_port
    }

    /// The REST port.
    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The local admin API token the server wrote at first start.
    pub fn admin_token(&self) -> Result<String, Error> {
        let path = self.dir.join("local-admin.token");
        std::fs::read_to_string(&path)
            .map(|t| t.trim().to_owned())
            .map_err(Error::io("reading", path))
    }

    /// One REST call with curl (from the server's network namespace), trusting the
    /// server's CA: (HTTP status, body); status 0 when no answer came.
    pub fn curl(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        let mut cmd = netns_command(self.netns.as_deref(), Path::new("curl"));
        cmd.args([
            "-sS",
            "--max-time",
            "30",
            "-X",
            method,
            "-w",
            "\n%{http_code}",
        ])
        .arg("--cacert")
        .arg(self.dir.join("tls/ca"));
        if let Some(t) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        match cmd.arg(format!("{}{path}", self.url())).output() {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
                (code.trim().parse().unwrap_or(0), body.to_owned())
            }
            Err(e) => (0, e.to_string()),
        }
    }

    /// Stops the server with SIGTERM (by its own PID) and waits for it; kills it when it
    /// does not stop in time.
    pub fn stop(mut self) -> Result<(), Error> {
        self.terminate()
    }

    fn terminate(&mut self) -> Result<(), Error> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return Ok(());
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(Error::Timeout(format!(
            "vigosrv did not stop within {}s of SIGTERM; killed",
            STOP_TIMEOUT.as_secs()
        )))
    }
}

impl Drop for Vigosrv {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The binary `name` the workspace build put beside `exe` (a test's own
/// `CARGO_BIN_EXE_…`), e.g. the agent beside `vigosrv`; an error says how to build it.
pub fn binary_beside(exe: &Path, name: &str) -> Result<PathBuf, Error> {
    let p = exe.with_file_name(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(Error::Other(format!(
            "{} is missing: build it with the same CARGO_TARGET_DIR (cargo build --workspace)",
            p.display()
        )))
    }
}

/// `program` inheriting `listeners` as socket activation does (`sd_listen_fds(3)`): the
/// REST socket as descriptor 3, gRPC as 4, `LISTEN_FDNAMES=api:grpc`, and `LISTEN_PID`
/// set to the server's PID by a shell that then execs it in place (so the child's PID
/// stays the server's).
fn activated_command(program: &Path, listeners: &Listeners) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"")
        .arg(program)
        .env("LISTEN_FDS", "2")
        .env("LISTEN_FDNAMES", "api:grpc");
    let fds = listeners.raw_fds();
    // SAFETY: the closure runs between fork and exec and only calls fcntl and dup2,
    // which are async-signal-safe; it touches no memory but its two copied integers.
    unsafe {
        c.pre_exec(move || place_fds(fds));
    }
    c
}

/// Puts `fds` at `LISTEN_FDS_START..`, inheritable. Each is first copied above the
/// targets (close-on-exec) so that moving one never overwrites another.
fn place_fds(fds: [RawFd; 2]) -> std::io::Result<()> {
    let mut high = [0; 2];
    for (h, fd) in high.iter_mut().zip(fds) {
        // SAFETY: fcntl on a descriptor this process holds open.
        *h = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        if *h < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    for (target, h) in (LISTEN_FDS_START..).zip(high) {
        // SAFETY: dup2 of an open descriptor onto a free-or-replaceable number; the
        // copy at `target` is not close-on-exec, so the server inherits it.
        if unsafe { libc::dup2(h, target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// `program`, run inside the network namespace at `netns` when given.
fn netns_command(netns: Option<&str>, program: &Path) -> Command {
    match netns {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={ns}")).arg("--").arg(program);
            c
        }
        None => Command::new(program),
    }
}
