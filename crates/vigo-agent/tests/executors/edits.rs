//! file_line, blockinfile, replace, json_file, ini, host.

use serde_json::json;

use crate::support::{VIGO, apply, lifecycle, rejects, sandbox, sh};

#[test]
fn line_and_block_edits() {
    let root = sandbox();
    sh(
        &root,
        "printf 'Port 22\\n#PermitRootLogin yes\\n' > /etc/sshd_config_test",
    );
    lifecycle(
        &root,
        "file_line",
        &json!({"target_path": "/etc/sshd_config_test", "line": "PermitRootLogin no", "match_pattern": "^#?PermitRootLogin", "state": "present"}),
        "cat /etc/sshd_config_test",
        "Port 22\nPermitRootLogin no",
        "sed -i 's/PermitRootLogin no/PermitRootLogin yes/' /etc/sshd_config_test",
        "updated",
    );
    lifecycle(
        &root,
        "blockinfile",
        &json!({"target_path": "/etc/security/limits.conf", "label": "nofile", "block_content": "* soft nofile 65536\n", "state": "present"}),
        "sed -n '/BEGIN nofile/,/END nofile/p' /etc/security/limits.conf",
        "# BEGIN nofile - managed by vigo\n* soft nofile 65536\n# END nofile - managed by vigo",
        "sed -i 's/65536/1024/' /etc/security/limits.conf",
        "updated",
    );
    sh(
        &root,
        "printf 'listen_addresses = localhost\\n' > /etc/pg_test.conf",
    );
    lifecycle(
        &root,
        "replace",
        &json!({"target_path": "/etc/pg_test.conf", "match_pattern": "^listen_addresses = .*$", "replacement": "listen_addresses = '*'"}),
        "cat /etc/pg_test.conf",
        "listen_addresses = '*'",
        "echo 'listen_addresses = localhost' > /etc/pg_test.conf",
        "updated",
    );
    rejects(
        &root,
        "replace",
        &json!({"target_path": "/etc/pg_test.conf", "match_pattern": "(", "replacement": "x"}),
        "replace \"r\": attribute `match_pattern`: invalid regular expression: regex parse error:\n    (\n    ^\nerror: unclosed group",
    );
}

#[test]
fn structured_edits() {
    let root = sandbox();
    lifecycle(
        &root,
        "json_file",
        &json!({"target_path": "/etc/app.json", "key": "log.level", "value": "\"info\"", "state": "present"}),
        "cat /etc/app.json",
        "{\n  \"log\": {\n    \"level\": \"info\"\n  }\n}",
        "echo '{\"log\": {\"level\": \"debug\"}}' > /etc/app.json",
        "updated",
    );
    lifecycle(
        &root,
        "ini",
        &json!({"target_path": "/etc/app.ini", "section": "server", "key": "port", "value": "8080", "state": "present"}),
        "cat /etc/app.ini",
        "[server]\nport = 8080",
        "sed -i 's/8080/9090/' /etc/app.ini",
        "updated",
    );
    lifecycle(
        &root,
        "host",
        &json!({"hostname": "db.internal", "ip": "10.0.0.5", "aliases": "db", "state": "present"}),
        "getent hosts db.internal",
        "10.0.0.5        db.internal db",
        "sed -i 's/10.0.0.5/10.0.0.9/' /etc/hosts",
        "updated",
    );
    rejects(
        &root,
        "host",
        &json!({"hostname": "x", "ip": "300.1.1.1", "state": "present"}),
        "host \"r\": attribute `ip`: \"300.1.1.1\" is not an IPv4 or IPv6 address",
    );
    rejects(
        &root,
        "json_file",
        &json!({"target_path": "/etc/a.json", "key": "a", "value": "bare", "state": "present"}),
        "json_file \"r\": attribute `value`: expected a JSON literal (quote strings: '\"bare\"'): expected value at line 1 column 1",
    );
}

/// One resource of every edit type, with the content its file starts from.
fn every_edit_type(path: &str) -> Vec<(&'static str, &'static str, serde_json::Value)> {
    vec![
        (
            "file_line",
            "password=old\n",
            json!({"target_path": path, "line": "password=new", "match_pattern": "^password=", "state": "present"}),
        ),
        (
            "blockinfile",
            "password=old\n",
            json!({"target_path": path, "block_content": "extra", "state": "present"}),
        ),
        (
            "replace",
            "password=old\n",
            json!({"target_path": path, "match_pattern": "old", "replacement": "new"}),
        ),
        (
            "ini",
            "password = old\n",
            json!({"target_path": path, "key": "password", "value": "new", "state": "present"}),
        ),
        (
            "json_file",
            "{\"password\": \"old\"}\n",
            json!({"target_path": path, "key": "password", "value": "\"new\"", "state": "present"}),
        ),
        (
            "host",
            "127.0.0.1 localhost\n",
            json!({"target_path": path, "hostname": "db", "ip": "10.0.0.5", "state": "present"}),
        ),
    ]
}

#[test]
fn an_edit_through_a_symlink_edits_the_0600_target_and_keeps_it_private() {
    let root = sandbox();
    for (type_name, initial, attrs) in every_edit_type("/etc/app/current.conf") {
        sh(
            &root,
            "rm -rf /etc/app /srv/secrets && mkdir -p /etc/app /srv/secrets",
        );
        root.write_file("/srv/secrets/app.conf", initial).unwrap();
        sh(
            &root,
            "chown nobody:nogroup /srv/secrets/app.conf && chmod 0600 /srv/secrets/app.conf \
             && ln -s ../../srv/secrets/app.conf /etc/app/current.conf",
        );
        let out = apply(&root, type_name, "r", &attrs, false);
        assert_eq!(out.action, "updated", "{type_name}: {out:?}");
        assert_eq!(
            sh(&root, "stat -c '%F' /etc/app/current.conf").trim(),
            "symbolic link",
            "{type_name}: the link is still a link"
        );
        assert_eq!(
            sh(&root, "stat -c '%a %U:%G %F' /srv/secrets/app.conf").trim(),
            "600 nobody:nogroup regular file",
            "{type_name}: the target keeps its mode and owner"
        );
        let now = sh(&root, "cat /srv/secrets/app.conf");
        assert_ne!(now, initial, "{type_name}: the target was edited");
        let snapshots = sh(
            &root,
            &format!("{VIGO} snapshots list /srv/secrets/app.conf"),
        );
        assert!(
            snapshots.contains("0600   /srv/secrets/app.conf"),
            "{type_name}: the target is snapshotted: {snapshots}"
        );
        assert_eq!(
            apply(&root, type_name, "r", &attrs, false).action,
            "none",
            "{type_name}"
        );
    }
}

#[test]
fn follow_false_refuses_a_symlink_in_the_dry_run_and_the_real_run_alike() {
    let root = sandbox();
    sh(
        &root,
        "printf 'a=1\\n' > /srv/real.conf && ln -s /srv/real.conf /etc/link.conf",
    );
    let attrs = json!({"target_path": "/etc/link.conf", "line": "b=2", "follow": false, "state": "present"});
    let dry = apply(&root, "file_line", "r", &attrs, true);
    let real = apply(&root, "file_line", "r", &attrs, false);
    assert_eq!(dry.action, "error", "{dry:?}");
    assert_eq!(
        (real.action.as_str(), real.message.as_str()),
        ("error", dry.message.as_str())
    );
    assert_eq!(
        real.message,
        "/etc/link.conf is a symbolic link to /srv/real.conf; refusing to edit through it (`follow: false`): edit the target, or set `follow: true`"
    );
    assert_eq!(sh(&root, "cat /srv/real.conf"), "a=1\n");
}

#[test]
fn a_create_in_a_missing_directory_fails_alike_in_the_dry_run_and_the_real_run() {
    let root = sandbox();
    let cases = [
        (
            "blockinfile",
            json!({"target_path": "/etc/nothere/app.conf", "block_content": "x", "create": true, "state": "present"}),
        ),
        (
            "ini",
            json!({"target_path": "/etc/nothere/app.ini", "key": "k", "value": "v", "state": "present"}),
        ),
        (
            "json_file",
            json!({"target_path": "/etc/nothere/app.json", "key": "k", "value": 1, "state": "present"}),
        ),
        (
            "file",
            json!({"target_path": "/etc/nothere/motd", "content": "hi", "state": "present"}),
        ),
    ];
    for (type_name, attrs) in cases {
        let dry = apply(&root, type_name, "r", &attrs, true);
        let real = apply(&root, type_name, "r", &attrs, false);
        assert_eq!(
            dry.action, "error",
            "{type_name}: the dry-run must not promise a create: {dry:?}"
        );
        assert_eq!(dry.message, real.message, "{type_name}");
        assert!(
            real.message
                .contains("directory /etc/nothere does not exist"),
            "{type_name}: {real:?}"
        );
        assert!(!real.message.contains("vigo-tmp"), "{type_name}: {real:?}");
    }
}
