//! user and group, through the real shadow-utils.

use serde_json::json;

use crate::support::{apply, lifecycle, rejects, sandbox, sh};

#[test]
fn group_with_exact_members() {
    let root = sandbox();
    sh(&root, "useradd alice && useradd bob && useradd carol");
    lifecycle(
        &root,
        "group",
        &json!({"group": "deploy", "gid": 2001, "members": "alice,bob", "state": "present"}),
        "getent group deploy",
        "deploy:x:2001:alice,bob",
        "gpasswd -a carol deploy >/dev/null && gpasswd -d bob deploy >/dev/null",
        "updated",
    );
    assert_eq!(
        apply(
            &root,
            "group",
            "r",
            &json!({"group": "deploy", "state": "absent"}),
            false
        )
        .action,
        "deleted"
    );
    assert_eq!(sh(&root, "getent group deploy || echo gone").trim(), "gone");
    rejects(
        &root,
        "group",
        &json!({"group": "-x", "state": "present"}),
        "group \"r\": attribute `group`: \"-x\" is not a valid group name",
    );
}

#[test]
fn user_with_groups_password_and_keys() {
    let root = sandbox();
    sh(&root, "groupadd staff2 && groupadd ops");
    let attrs = json!({
        "username": "alice",
        "uid": 1500,
        "group": "staff2",
        "groups": ["ops", "adm"],
        "home": "/home/alice",
        "shell": "/bin/bash",
        "comment": "Alice Example",
        "password": "correct horse battery",
        "password_max_age": 90,
        "authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvigo alice@laptop",
        "state": "present",
    });
    lifecycle(
        &root,
        "user",
        &attrs,
        "getent passwd alice; id -nG alice | tr ' ' '\\n' | sort | tr '\\n' ' '; echo; stat -c '%a %U' /home/alice/.ssh/authorized_keys; chage -l alice | grep Maximum",
        "alice:x:1500:1000:Alice Example:/home/alice:/bin/bash\nadm ops staff2 \n600 alice\nMaximum number of days between password change\t\t: 90",
        "usermod -s /bin/sh alice && gpasswd -d alice ops >/dev/null",
        "updated",
    );
    // The stored hash is SHA-512-crypt and glibc accepts the password.
    let hash = sh(&root, "getent shadow alice | cut -d: -f2");
    assert!(hash.starts_with("$6$"), "{hash}");
    // glibc's crypt(3), through the host's openssl, derives the same string from its salt.
    let salt = hash.trim().split('$').nth(2).unwrap();
    let openssl = std::process::Command::new("openssl")
        .args(["passwd", "-6", "-salt", salt, "correct horse battery"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&openssl.stdout).trim(), hash.trim());
    // The plaintext appears in no result or trace.
    let out = root.run("vigo resource user r --attrs \"$(printf '%s' '{\"username\":\"alice\",\"password\":\"new secret pw\",\"state\":\"present\"}')\" --json").unwrap();
    assert!(
        !out.stdout.contains("new secret pw") && !out.stderr.contains("new secret pw"),
        "{}{}",
        out.stdout,
        out.stderr
    );

    assert_eq!(
        apply(
            &root,
            "user",
            "r",
            &json!({"username": "alice", "state": "absent"}),
            false
        )
        .action,
        "deleted"
    );
    assert!(!root.exists("/home/alice"), "manage_home removes the home");
    rejects(
        &root,
        "user",
        &json!({"username": "bad:name", "state": "present"}),
        "user \"r\": attribute `username`: \"bad:name\" is not a valid user name",
    );
}
