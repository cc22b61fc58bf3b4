//! A booted systemd container runs real units, and leaves nothing behind.

use vigo_testkit::{Netns, SystemdContainer};

#[test]
fn systemctl_starts_a_unit_in_a_booted_container() {
    let c = SystemdContainer::boot().expect("container boots");
    c.write_file(
        "/etc/systemd/system/hello.service",
        "[Service]\nType=simple\nExecStart=/bin/sh -c 'echo started > /run/hello; exec sleep infinity'\n\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    let out = c.exec("systemctl daemon-reload && systemctl enable --now hello.service && systemctl is-active hello.service").unwrap();
    assert!(out.success(), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout.lines().last(), Some("active"));
    assert_eq!(c.read_file("/run/hello").unwrap(), "started\n");
    assert_eq!(
        c.exec("systemctl is-enabled hello.service")
            .unwrap()
            .stdout
            .trim(),
        "enabled"
    );
    assert_eq!(
        c.exec("cat /proc/1/comm").unwrap().stdout.trim(),
        "systemd",
        "systemd is PID 1 inside"
    );
    // Its own network: only loopback.
    let links = c.exec("ip -o link show | cut -d: -f2").unwrap().stdout;
    assert_eq!(
        links.split_whitespace().collect::<Vec<_>>(),
        vec!["lo"],
        "{links}"
    );
    assert!(
        !std::path::Path::new("/etc/systemd/system/hello.service").exists(),
        "host untouched"
    );

    let footprint = c.footprint().clone();
    c.shutdown().expect("clean shutdown");
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}

#[test]
fn a_container_can_join_a_test_network_namespace() {
    let ns = Netns::new("ct").expect("netns");
    let made = ns.run("ip link add vt0 type veth peer name vt1 && ip addr add 10.214.0.1/24 dev vt0 && ip link set vt0 up").unwrap();
    assert!(made.success(), "{}", made.stderr);
    let c = SystemdContainer::builder()
        .network_namespace(ns.path())
        .boot()
        .expect("container boots");
    let addrs = c.exec("ip -o addr show vt0").unwrap().stdout;
    assert!(addrs.contains("10.214.0.1/24"), "{addrs}");
    let mut footprint = c.footprint().clone();
    c.shutdown().unwrap();
    footprint.extend(&ns.footprint());
    ns.close().unwrap();
    assert_eq!(footprint.leftovers(), Vec::<String>::new());
}
