//! Helpers the real-binary tests of this crate share (`stacks_symlinks.rs`, `dos.rs`):
//! loopback sockets, starting `vigosrv` on a data dir, REST calls as the local admin.

use std::path::Path;

use serde_json::Value;
use vigo_testkit::{Listeners, Vigosrv, VigosrvOptions};

/// Two sockets listening on 127.0.0.1 for the server the test starts next.
pub fn listeners() -> Listeners {
    Listeners::loopback().expect("listening on 127.0.0.1")
}

/// The real `vigosrv` on `dir` (whose `server.yaml` names `listeners`' ports),
/// inheriting `listeners`, healthy.
pub fn start(dir: &Path, listeners: Listeners) -> Vigosrv {
    Vigosrv::start(VigosrvOptions::loopback(
        env!("CARGO_BIN_EXE_vigosrv"),
        dir,
        listeners,
    ))
    .expect("start vigosrv")
}

/// One REST call as the local admin: the status and the JSON answer (`Null` if none).
pub fn admin(server: &Vigosrv, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let token = server.admin_token().unwrap();
    let (code, text) = server.curl(method, path, Some(&token), body);
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}
