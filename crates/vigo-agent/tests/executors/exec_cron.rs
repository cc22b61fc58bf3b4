//! exec, cron, sysctl (persisted part) and a custom executor script.

use serde_json::json;

use crate::support::{apply, lifecycle, rejects, sandbox, sh};

#[test]
fn exec_guards_and_failures() {
    let root = sandbox();
    let attrs = json!({"command": "echo built > /var/tmp/built", "creates": "/var/tmp/built"});
    lifecycle(
        &root,
        "exec",
        &attrs,
        "cat /var/tmp/built",
        "built",
        "rm /var/tmp/built",
        "updated",
    );
    assert_eq!(
        apply(
            &root,
            "exec",
            "r",
            &json!({"command": "false", "onlyif": "test -e /nonexistent"}),
            false
        )
        .action,
        "skipped"
    );
    let failed = apply(
        &root,
        "exec",
        "r",
        &json!({"command": "echo oops >&2; exit 3"}),
        false,
    );
    assert_eq!(
        (failed.action.as_str(), failed.message.as_str(), failed.exit),
        (
            "error",
            "command failed (exit code 3); stderr: oops",
            Some(2)
        )
    );
    let user = apply(
        &root,
        "exec",
        "r",
        &json!({"command": "id -un > /tmp/who", "user": "nobody"}),
        false,
    );
    assert_eq!(user.action, "updated", "{user:?}");
    assert_eq!(sh(&root, "cat /tmp/who").trim(), "nobody");
    rejects(
        &root,
        "exec",
        &json!({"command": "systemctl stop vigo-envoy"}),
        "configcrate \"cli\" resource \"r\": runs a dangerous command: `systemctl stop` of a Vigo service",
    );
}

#[test]
fn cron_file_and_sysctl_persistence() {
    let root = sandbox();
    lifecycle(
        &root,
        "cron",
        &json!({"command": "/usr/local/bin/backup", "schedule": "30 2 * * *", "environment": "MAILTO=ops", "state": "present"}),
        "tail -n 2 /etc/cron.d/r; stat -c %a /etc/cron.d/r",
        "MAILTO=ops\n30 2 * * * root /usr/local/bin/backup\n644",
        "echo '* * * * * root evil' >> /etc/cron.d/r",
        "updated",
    );
    rejects(
        &root,
        "cron",
        &json!({"command": "x", "hour": "25;rm", "state": "present"}),
        "cron \"r\": attribute `hour`: hour `25;rm` is not a number: expected *, 0-23, a range a-b, a list a,b or a step */n",
    );
    // /proc/sys is read-only in a sandbox root: the live write is refused, clearly.
    let out = apply(
        &root,
        "sysctl",
        "r",
        &json!({"key": "vm.swappiness", "value": "7", "state": "present"}),
        false,
    );
    assert_eq!(out.action, "error");
    assert!(
        out.message.starts_with("setting vm.swappiness = 7: "),
        "{out:?}"
    );
}

#[test]
fn custom_executor_from_the_executors_dir() {
    let root = sandbox();
    sh(&root, "mkdir -p /etc/vigo-envoy/executors");
    root.write_file(
        "/etc/vigo-envoy/executors/motd_line.sh",
        "#!/bin/sh\nin=$(cat)\nline=$(printf '%s' \"$in\" | sed -n 's/.*\"line\":\"\\([^\"]*\\)\".*/\\1/p')\ndry=$(printf '%s' \"$in\" | sed -n 's/.*\"dry_run\":\\(true\\|false\\).*/\\1/p')\nif grep -qxF \"$line\" /etc/motd 2>/dev/null; then echo '{\"action\":\"none\"}'; exit 0; fi\n[ \"$dry\" = true ] || printf '%s\\n' \"$line\" >> /etc/motd\necho '{\"action\":\"updated\",\"changed\":true,\"error\":\"\"}'\n",
    )
    .unwrap();
    sh(
        &root,
        "chmod 755 /etc/vigo-envoy/executors/motd_line.sh; : > /etc/motd",
    );
    lifecycle(
        &root,
        "motd_line",
        &json!({"line": "Maintenance: Sundays"}),
        "cat /etc/motd",
        "Maintenance: Sundays",
        ": > /etc/motd",
        "updated",
    );
}
