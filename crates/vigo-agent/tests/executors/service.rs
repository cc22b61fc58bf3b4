//! service: a real unit under a real systemd (booted container); restart via notify only
//! when its config changed is covered by the engine tests and `vigo apply`.

use serde_json::json;

use crate::support::{apply_in, container};

const UNIT: &str = "[Unit]\nDescription=demo\n[Service]\nExecStart=/bin/sh -c 'date +%%s%%N > /run/demo.started; exec sleep infinity'\nExecReload=/bin/sh -c 'date +%%s%%N > /run/demo.reloaded'\n[Install]\nWantedBy=multi-user.target\n";

#[test]
fn start_enable_stop_restart_a_real_unit() {
    let c = container();
    c.write_file("/etc/systemd/system/demo.service", UNIT)
        .unwrap();
    assert!(c.exec("systemctl daemon-reload").unwrap().success());
    let running = json!({"service": "demo", "state": "running", "enabled": true});

    let dry = apply_in(&c, "service", "r", &running, true);
    assert_eq!(dry.action, "updated", "{dry:?}");
    assert_eq!(
        c.exec("systemctl is-active demo").unwrap().stdout.trim(),
        "inactive",
        "dry-run started nothing"
    );
    assert_eq!(
        apply_in(&c, "service", "r", &running, false).action,
        "updated"
    );
    assert_eq!(
        c.exec("systemctl is-active demo; systemctl is-enabled demo")
            .unwrap()
            .stdout,
        "active\nenabled\n"
    );
    assert_eq!(apply_in(&c, "service", "r", &running, false).action, "none");

    // Drift: stopped behind Vigo's back.
    assert!(c.exec("systemctl stop demo").unwrap().success());
    assert_eq!(
        apply_in(&c, "service", "r", &running, false).action,
        "updated"
    );
    assert_eq!(
        c.exec("systemctl is-active demo").unwrap().stdout.trim(),
        "active"
    );

    let before = c.read_file("/run/demo.started").unwrap();
    let restarted = apply_in(
        &c,
        "service",
        "r",
        &json!({"service": "demo", "state": "restarted"}),
        false,
    );
    assert_eq!(restarted.action, "updated");
    assert_ne!(
        c.read_file("/run/demo.started").unwrap(),
        before,
        "really restarted"
    );
    assert_eq!(
        apply_in(
            &c,
            "service",
            "r",
            &json!({"service": "demo", "state": "reloaded"}),
            false
        )
        .action,
        "updated"
    );
    assert!(c.read_file("/run/demo.reloaded").is_ok());

    let stopped = json!({"service": "demo", "state": "stopped", "enabled": false});
    assert_eq!(
        apply_in(&c, "service", "r", &stopped, false).action,
        "updated"
    );
    assert_eq!(
        c.exec("systemctl is-active demo; systemctl is-enabled demo")
            .unwrap()
            .stdout,
        "inactive\ndisabled\n"
    );

    let missing = apply_in(
        &c,
        "service",
        "r",
        &json!({"service": "nope", "state": "running"}),
        false,
    );
    assert_eq!(
        (missing.action.as_str(), missing.message.as_str()),
        ("error", "unit nope not found")
    );
    let guarded = apply_in(
        &c,
        "service",
        "r",
        &json!({"service": "vigo-envoy", "state": "stopped"}),
        false,
    );
    assert_eq!(
        guarded.message,
        "configcrate \"cli\" resource \"r\": would stop or disable protected service vigo-envoy"
    );
    c.shutdown().unwrap();
}

#[test]
fn sysctl_live_and_persisted_in_a_container_network_namespace() {
    let c = container();
    // nspawn leaves /proc/sys/net writable in a private network namespace.
    let attrs = json!({"key": "net.ipv4.ip_forward", "value": "1", "state": "present"});
    assert_eq!(apply_in(&c, "sysctl", "r", &attrs, true).action, "updated");
    // Read from inside: /proc/sys/net shows the reader's network namespace.
    let forward = || {
        c.exec("cat /proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .stdout
            .trim()
            .to_owned()
    };
    assert_eq!(forward(), "0", "dry-run changed nothing");
    assert_eq!(apply_in(&c, "sysctl", "r", &attrs, false).action, "updated");
    assert_eq!(forward(), "1");
    assert_eq!(
        c.read_file("/etc/sysctl.d/99-vigo-net.ipv4.ip_forward.conf")
            .unwrap(),
        "# Managed by Vigo.\nnet.ipv4.ip_forward = 1\n"
    );
    assert_eq!(apply_in(&c, "sysctl", "r", &attrs, false).action, "none");
    c.shutdown().unwrap();
}
