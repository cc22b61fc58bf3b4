//! Network namespace pairs carry real traffic between test hosts, and disappear.

use vigo_testkit::{NetnsPair, Side};

#[test]
fn a_pair_talks_tcp_and_leaves_nothing() {
    let pair = NetnsPair::new().expect("pair");
    let (a, b) = (pair.addr(Side::A).to_owned(), pair.addr(Side::B).to_owned());
    assert!(
        pair.run_in(Side::A, &format!("ip -o addr show | grep -q '{a}/30'"))
            .unwrap()
            .success()
    );
    // A TCP listener in B, a client in A: python3 is on the host and runs in the netns.
    let server = std::process::Command::new("ip")
        .args(["netns", "exec", pair.netns(Side::B).name(), "python3", "-c"])
        .arg(format!(
            "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('{b}', 5599))\ns.listen(1)\nprint('up', flush=True)\nc,_=s.accept()\nc.sendall(b'hello from B')\nc.close()"
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = server;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "up");
    let got = pair
        .run_in(Side::A, &format!("python3 -c \"import socket; s=socket.create_connection(('{b}', 5599), 5); print(s.recv(100).decode())\""))
        .unwrap();
    assert_eq!(got.stdout.trim(), "hello from B", "{}", got.stderr);
    assert!(server.wait().unwrap().success());
    // The test addresses exist only inside the namespaces (never send traffic from the
    // host to check: only loopback and the test namespaces may be targets).
    let host_addrs = String::from_utf8(
        std::process::Command::new("ip")
            .args(["-o", "addr"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        !host_addrs.contains(&a) && !host_addrs.contains(&b),
        "a test address leaked to the host"
    );

    let footprint = pair.footprint();
    pair.close().unwrap();
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}
