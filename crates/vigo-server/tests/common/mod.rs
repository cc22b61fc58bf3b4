//! Helpers the real-binary tests of this crate share (`stacks_symlinks.rs`, `dos.rs`):
//! loopback ports, starting `vigosrv` on a data dir, REST calls as the local admin.

use std::path::Path;

use serde_json::Value;
use vigo_testkit::{Vigosrv, VigosrvOptions};

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    vigo_testkit::free_port().expect("a free port on 127.0.0.1")
}

/// The real `vigosrv` on `dir` (whose `server.yaml` listens on 127.0.0.1:`api` and
/// `grpc`), healthy.
pub fn start(dir: &Path, api: u16, grpc: u16) -> Vigosrv {
    Vigosrv::start(VigosrvOptions {
        binary: env!("CARGO_BIN_EXE_vigosrv").into(),
        dir: dir.to_path_buf(),
        host: "127.0.0.1".to_owned(),
        api_port: api,
        grpc_port: grpc,
        netns: None,
    })
    .expect("start vigosrv")
}

/// One REST call as the local admin: the status and the JSON answer (`Null` if none).
pub fn admin(server: &Vigosrv, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let token = server.admin_token().unwrap();
    let (code, text) = server.curl(method, path, Some(&token), body);
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}
