//! A `vigosrv` for the examples (demo, agent benchmark): [`vigo_testkit::Vigosrv`] on
//! loopback with a copy of a stacks tree in a fresh data dir, driven as the local admin.

use std::path::Path;

use vigo_testkit::{Listeners, Vigosrv, VigosrvOptions};

/// A `vigosrv` on loopback and its data dir, both gone on drop.
pub struct Server {
    // Declared first: the server stops before its data dir is removed.
    srv: Vigosrv,
    _dir: tempfile::TempDir,
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
        let listeners = Listeners::loopback().map_err(|e| e.to_string())?;
        let grpc = listeners.grpc_port();
        std::fs::write(
            dir.path().join("server.yaml"),
            format!("server:\n{}  hostname: localhost\n", listeners.yaml()),
        )
        .map_err(|e| e.to_string())?;
        copy_host_tree(stacks, &dir.path().join("stacks")).map_err(|e| e.to_string())?;
        let srv = Vigosrv::start(VigosrvOptions::loopback(vigosrv, dir.path(), listeners))
            .map_err(|e| e.to_string())?;
        Ok(Server {
            srv,
            _dir: dir,
            grpc,
        })
    }

    /// The REST base URL.
    pub fn url(&self) -> String {
        self.srv.url()
    }

    /// A REST call as the local admin: (status, body).
    pub fn curl(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let token = self.srv.admin_token().unwrap_or_default();
        self.srv.curl(method, path, Some(&token), body)
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
