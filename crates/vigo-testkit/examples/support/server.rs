//! A `vigosrv` for the examples (demo, agent benchmark): started on loopback with a copy of
//! a stacks tree, driven with curl as the local admin, stopped by its own PID.

use std::path::Path;

/// A `vigosrv` on loopback, stopped (by its own PID) on drop.
pub struct Server {
    child: std::process::Child,
    dir: tempfile::TempDir,
    api: u16,
    /// The gRPC port.
    pub grpc: u16,
}

impl Server {
    /// Starts `vigosrv` with a copy of `stacks` in a fresh data dir; waits until healthy.
    pub fn start(vigosrv: &str, stacks: &Path) -> Result<Server, String> {
        let dir = tempfile::Builder::new()
            .prefix("vigo-demo-server-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = || -> Result<u16, String> {
            let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            Ok(l.local_addr().map_err(|e| e.to_string())?.port())
        };
        let (api, grpc) = (port()?, port()?);
        std::fs::write(
            dir.path().join("server.yaml"),
            format!(
                "server:\n  grpc_listen: \"127.0.0.1:{grpc}\"\n  api_listen: \"127.0.0.1:{api}\"\n  hostname: localhost\n"
            ),
        )
        .map_err(|e| e.to_string())?;
        copy_host_tree(stacks, &dir.path().join("stacks")).map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
        let child = std::process::Command::new(vigosrv)
            .arg("--config")
            .arg(dir.path().join("server.yaml"))
            .arg("serve")
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {vigosrv}: {e}"))?;
        let server = Server {
            child,
            dir,
            api,
            grpc,
        };
        for _ in 0..300 {
            if server.curl("GET", "/api/v1/health", None).0 == 200 {
                return Ok(server);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(format!(
            "vigosrv did not become healthy: {}",
            std::fs::read_to_string(server.dir.path().join("server.log")).unwrap_or_default()
        ))
    }

    /// The REST base URL.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.api)
    }

    /// A REST call as the local admin: (status, body).
    pub fn curl(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let token =
            std::fs::read_to_string(self.dir.path().join("local-admin.token")).unwrap_or_default();
        let mut cmd = std::process::Command::new("curl");
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
        .arg(self.dir.path().join("tls/ca"))
        .args(["-H", &format!("Authorization: Bearer {}", token.trim())]);
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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a host directory tree.
pub fn copy_host_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_host_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
