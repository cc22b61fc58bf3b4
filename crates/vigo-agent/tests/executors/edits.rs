//! file_line, blockinfile, replace, json_file, ini, host.

use serde_json::json;

use crate::support::{lifecycle, rejects, sandbox, sh};

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
        "replace \"r\": attribute `match_pattern`: invalid regular expression: regex parse error:\n    (?m)(\n        ^\nerror: unclosed group",
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
