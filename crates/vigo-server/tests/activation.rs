//! Socket activation of the real `vigosrv`: it serves on the sockets it is handed
//! (every `Vigosrv` test does), and refuses to start when a handed socket's port is not
//! the configured one, since agents are told the configured port.

use vigo_testkit::{Listeners, Vigosrv, VigosrvOptions};

#[test]
fn a_handed_socket_on_another_port_than_the_configured_one_refuses_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let handed = Listeners::loopback().unwrap();
    let configured = Listeners::loopback().unwrap();
    let handed_grpc = handed.grpc_port();
    std::fs::write(
        dir.join("server.yaml"),
        format!(
            "server:\n  grpc_listen: \"127.0.0.1:{}\"\n  api_listen: \"127.0.0.1:{}\"\n  hostname: \"127.0.0.1\"\n",
            configured.grpc_port(),
            handed.api_port()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("stacks")).unwrap();
    std::fs::write(dir.join("stacks/envoys.vgo"), "envoys: []\n").unwrap();
    let err = Vigosrv::start(VigosrvOptions::loopback(
        env!("CARGO_BIN_EXE_vigosrv"),
        dir,
        handed,
    ))
    .unwrap_err()
    .to_string();
    let want = format!(
        "socket activation: the \"grpc\" socket listens on 127.0.0.1:{} but server.grpc_listen is \
         127.0.0.1:{}: make them equal (agents are told the configured port)",
        handed_grpc,
        configured.grpc_port()
    );
    assert!(err.contains(&want), "{err}");
}
