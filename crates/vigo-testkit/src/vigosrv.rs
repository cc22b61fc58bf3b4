//! A running `vigosrv` for the fleet tests, the demo and the benchmarks: the real binary
//! on its own data dir (`server.yaml` written by the caller), optionally inside a test
//! network namespace, driven over REST with curl (a standard client, our CA pinned).
//! Stopped by its own PID: SIGTERM and a wait (a clean shutdown flushes the fleet), and
//! killed on drop if still running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Error;

/// How long a server may take to answer its health check after start.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a clean shutdown may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where and how to start a server.
#[derive(Debug, Clone)]
pub struct VigosrvOptions {
    /// The `vigosrv` binary.
    pub binary: PathBuf,
    /// The data dir, holding `server.yaml` (its listeners must match `host` and ports).
    pub dir: PathBuf,
    /// The address the server listens on and clients dial (`127.0.0.1`, a hub address).
    pub host: String,
    /// The REST port.
    pub api_port: u16,
    /// The gRPC port.
    pub grpc_port: u16,
    /// Run inside this network namespace (`/run/netns/<name>`); `None`: the host's.
    pub netns: Option<String>,
}

/// A running `vigosrv`.
#[derive(Debug)]
pub struct Vigosrv {
    child: Child,
    opts: VigosrvOptions,
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
        // nsenter execs vigosrv in place: the child's PID is the server's.
        let mut cmd = netns_command(opts.netns.as_deref(), &opts.binary);
        let child = cmd
            .arg("--config")
            .arg(opts.dir.join("server.yaml"))
            .arg("serve")
            .env("RUST_LOG", "info")
            .stdout(log)
            .stderr(log_err)
            .stdin(Stdio::null())
            .spawn()
            .map_err(Error::io("starting", &opts.binary))?;
        let server = Vigosrv { child, opts };
        let deadline = Instant::now() + START_TIMEOUT;
        while server.curl("GET", "/api/v1/health", None, None).0 != 200 {
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
        format!("https://{}:{}", self.opts.host, self.opts.api_port)
    }

    /// The gRPC port.
    pub fn grpc_port(&self) -> u16 {
        self.opts.grpc_port
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.opts.dir
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.opts.dir.join("server.log")).unwrap_or_default()
    }

    /// The local admin API token the server wrote at first start.
    pub fn admin_token(&self) -> Result<String, Error> {
        let path = self.opts.dir.join("local-admin.token");
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
        let mut cmd = netns_command(self.opts.netns.as_deref(), Path::new("curl"));
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
        .arg(self.opts.dir.join("tls/ca"));
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

/// A TCP port free on 127.0.0.1 right now, for a server the test starts next.
pub fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(Error::io("binding", "127.0.0.1:0"))
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
