//! `vigo apply`: a whole stack resolved locally and converged in a booted systemd container
//! — the engine's ordering, templates, notify and the service type together, and a unit
//! restarted by notify only when its config file changed.

use serde_json::Value;
use vigo_testkit::SystemdContainer;

use crate::support::{VIGO, container};

const GREETER: &str = r#"configcrate: greeter
resources:
  - name: script
    type: file
    target_path: /usr/local/bin/greeter
    state: present
    mode: "0755"
    content: |
      #!/bin/sh
      . /etc/greeter.conf
      echo "$greeting" > /run/greeter.out
      exec sleep infinity
  - name: config
    type: file
    target_path: /etc/greeter.conf
    state: present
    content: "greeting={{ .Vars.greeting }}\n"
    notify: [restart]
  - name: unit
    type: file
    target_path: /etc/systemd/system/greeter.service
    state: present
    content: |
      [Unit]
      Description={{ .Vars.description }}
      [Service]
      ExecStart=/usr/local/bin/greeter
      [Install]
      WantedBy=multi-user.target
    notify: [restart]
  - name: running
    type: service
    service: greeter
    state: running
    enabled: true
    depends_on: [script, config, unit]
  - name: restart
    type: service
    service: greeter
    state: restarted
    when: "changed"
"#;

fn envoys(greeting: &str, description: &str) -> String {
    format!(
        "envoys:\n  - match: \"app-*\"\n    configcrates: [greeter]\n    vars:\n      greeting: {greeting}\n      description: {description}\n"
    )
}

fn write_stack(c: &SystemdContainer, greeting: &str, description: &str) {
    sh(c, "mkdir -p /srv/stacks/configcrates");
    c.write_file("/srv/stacks/configcrates/greeter.vgo", GREETER)
        .unwrap();
    c.write_file("/srv/stacks/envoys.vgo", envoys(greeting, description))
        .unwrap();
}

fn sh(c: &SystemdContainer, cmd: &str) -> String {
    let out = c.exec(cmd).expect("exec in container");
    assert!(out.success(), "`{cmd}`: {}{}", out.stdout, out.stderr);
    out.stdout.trim().to_owned()
}

/// Runs `vigo apply` and returns (exit code, action per resource name, stderr).
fn apply(c: &SystemdContainer, extra: &str) -> (Option<i32>, Vec<(String, String)>, String) {
    let out = c
        .exec(&format!(
            "{VIGO} apply /srv/stacks --hostname app-01.test --json {extra}"
        ))
        .expect("exec vigo apply");
    let report: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}{}", out.stdout, out.stderr));
    let actions = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (out.code, actions, out.stderr)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn main_pid(c: &SystemdContainer) -> String {
    sh(c, "systemctl show -p MainPID --value greeter")
}

#[test]
fn apply_converges_a_stack_and_notify_restarts_only_on_config_change() {
    let c = container();
    write_stack(&c, "hello", "Greeter");

    // First apply: everything created, the unit enabled and started, the restart notified.
    let (code, actions, stderr) = apply(&c, "");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        actions,
        pairs(&[
            ("script", "created"),
            ("config", "created"),
            ("unit", "created"),
            ("running", "updated"),
            ("restart", "updated"),
        ]),
        "{stderr}"
    );
    assert!(
        stderr.contains("5 resources: 3 created, 2 updated"),
        "{stderr}"
    );
    assert_eq!(sh(&c, "systemctl is-active greeter"), "active");
    assert_eq!(sh(&c, "systemctl is-enabled greeter"), "enabled");
    assert_eq!(sh(&c, "cat /run/greeter.out"), "hello");
    let pid = main_pid(&c);

    // Second apply: nothing to do, and the service is not restarted.
    let (code, actions, stderr) = apply(&c, "");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        actions.iter().all(|(_, a)| a == "none"),
        "idempotent: {actions:?}"
    );
    assert_eq!(main_pid(&c), pid, "no restart without a change");

    // A new var value changes the config: the file is rewritten and the unit restarted.
    write_stack(&c, "bonjour", "Greeter");
    let (code, actions, stderr) = apply(&c, "");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        actions,
        pairs(&[
            ("script", "none"),
            ("config", "updated"),
            ("unit", "none"),
            ("running", "none"),
            ("restart", "updated"),
        ])
    );
    assert_ne!(main_pid(&c), pid, "restarted");
    assert_eq!(sh(&c, "cat /run/greeter.out"), "bonjour");
    let pid = main_pid(&c);

    // Drift by hand: a dry-run reports the repair and the restart and changes nothing.
    sh(&c, "echo greeting=tampered > /etc/greeter.conf");
    let (code, actions, _) = apply(&c, "--dry-run");
    assert_eq!(code, Some(0));
    assert_eq!(actions[1], ("config".into(), "updated".into()));
    assert_eq!(actions[4], ("restart".into(), "updated".into()));
    assert_eq!(sh(&c, "cat /etc/greeter.conf"), "greeting=tampered");
    assert_eq!(main_pid(&c), pid, "dry-run restarted nothing");
    let (_, actions, _) = apply(&c, "");
    assert_eq!(actions[1], ("config".into(), "updated".into()));
    assert_eq!(sh(&c, "cat /etc/greeter.conf"), "greeting=bonjour");
    assert_ne!(main_pid(&c), pid, "repaired and restarted");

    // A changed unit file: systemd re-reads it before the restart.
    write_stack(&c, "bonjour", "Greeter2");
    let (code, actions, stderr) = apply(&c, "");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(actions[2], ("unit".into(), "updated".into()));
    assert_eq!(actions[4], ("restart".into(), "updated".into()));
    assert_eq!(
        sh(&c, "systemctl show -p Description --value greeter"),
        "Greeter2"
    );
    assert_eq!(
        sh(&c, "systemctl show -p NeedDaemonReload --value greeter"),
        "no"
    );

    // --configcrate with a crate the bundle does not have is refused before any change.
    let out = c
        .exec(&format!(
            "{VIGO} apply /srv/stacks --hostname app-01.test --configcrate nope"
        ))
        .unwrap();
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains(
            "configcrate `nope` is not in the bundle for `app-01.test` (it has: greeter)"
        ),
        "{}",
        out.stderr
    );
    c.shutdown().unwrap();
}
