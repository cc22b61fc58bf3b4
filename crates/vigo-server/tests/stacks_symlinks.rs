//! The server's secrets never reach a publish, seen from the real `vigosrv` binary (on
//! loopback, driven over REST with curl):
//!
//! - a `templates/` symlink to the CA's private key is refused at publish, naming the
//!   path in the tree and where it points, and nothing is stored: the live version and
//!   the history stay as they were, and the key's bytes are nowhere in the database;
//! - a fifo where a template is expected is refused at once (it would hang a publish);
//! - a stacks dir that resolves to the data dir refuses the start;
//! - the files the server writes at start have private modes, checked with `stat`:
//!   the data dir, `tls/`, `secrets/` and `db/` 0700; keys, the local admin token, the
//!   master key and the SQLite database with its `-wal` and `-shm` 0600; a data dir
//!   created 0755 is tightened to 0700 and the log says so.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use common::{listeners, start};
use vigo_testkit::Listeners;
use vigo_testkit::Vigosrv;

/// A data dir with `server.yaml` on loopback ports and a valid stack using a template.
fn data_dir(dir: &Path) -> Listeners {
    let listeners = listeners();
    std::fs::write(
        dir.join("server.yaml"),
        format!("server:\n{}  hostname: \"127.0.0.1\"\n", listeners.yaml()),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("stacks/configcrates")).unwrap();
    std::fs::create_dir_all(dir.join("stacks/templates")).unwrap();
    std::fs::write(
        dir.join("stacks/envoys.vgo"),
        "envoys:\n  - match: \"web-*\"\n    configcrates: [site]\n",
    )
    .unwrap();
    std::fs::write(dir.join("stacks/templates/site.conf.tmpl"), "listen 80;\n").unwrap();
    write_crate(dir, "site.conf.tmpl");
    listeners
}

fn write_crate(dir: &Path, template: &str) {
    std::fs::write(
        dir.join("stacks/configcrates/site.vgo"),
        format!(
            "configcrate: site\nresources:\n  - name: conf\n    type: file\n    target_path: /etc/site.conf\n    source: {template}\n    state: present\n"
        ),
    )
    .unwrap();
}

fn admin(server: &Vigosrv, method: &str, path: &str) -> (u16, serde_json::Value) {
    common::admin(server, method, path, None)
}

/// Publishes, expecting a refusal (422) whose errors name `path`; the errors as text.
fn refused(server: &Vigosrv, path: &str) -> String {
    let (code, body) = admin(server, "POST", "/api/v1/config/publish");
    assert_eq!(code, 422, "{body}");
    let errors = body["errors"].to_string();
    assert!(errors.contains(path), "names {path}: {body}");
    errors
}

/// Every file under `dir`, read whole (the database and its WAL included).
fn every_byte_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                todo.push(p);
            } else if meta.is_file() {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `stat -c %a PATH`: the mode in octal, as the OS's own tool shows it.
fn stat_mode(path: &Path) -> String {
    let out = std::process::Command::new("stat")
        .args(["-c", "%a"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "stat {}", path.display());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_symlink_to_the_ca_key_is_refused_at_publish_and_nothing_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = start(dir, data_dir(dir));
    let (_, live) = admin(&server, "GET", "/api/v1/config/version");
    let first = live["version"]
        .as_str()
        .expect("published at start")
        .to_owned();

    // The attack: a template that is the CA's private key.
    let ca_key = dir.join("tls/ca_key");
    let key_text = std::fs::read_to_string(&ca_key).unwrap();
    let key_body = key_text.lines().nth(1).expect("a PEM body line").to_owned();
    symlink(&ca_key, dir.join("stacks/templates/x.tmpl")).unwrap();
    write_crate(dir, "x.tmpl");
    let errors = refused(&server, "templates/x.tmpl");
    assert!(
        errors.contains(&ca_key.display().to_string()),
        "says where it points: {errors}"
    );
    assert!(errors.contains("outside the stacks tree"), "{errors}");

    // The same through a relative link, and through a directory link.
    std::fs::remove_file(dir.join("stacks/templates/x.tmpl")).unwrap();
    symlink("../../tls/ca_key", dir.join("stacks/templates/x.tmpl")).unwrap();
    refused(&server, "templates/x.tmpl");
    std::fs::remove_file(dir.join("stacks/templates/x.tmpl")).unwrap();
    symlink(dir.join("tls"), dir.join("stacks/templates/keys")).unwrap();
    write_crate(dir, "keys/ca_key");
    refused(&server, "templates/keys");
    std::fs::remove_file(dir.join("stacks/templates/keys")).unwrap();

    // A fifo where a template is expected: refused at once, not a hung publish.
    let fifo = dir.join("stacks/templates/x.tmpl");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    write_crate(dir, "x.tmpl");
    assert!(refused(&server, "templates/x.tmpl").contains("a fifo"));
    std::fs::remove_file(&fifo).unwrap();

    // Nothing was published and the key is in no stored byte.
    let (_, live) = admin(&server, "GET", "/api/v1/config/version");
    assert_eq!(live["version"], first.as_str());
    let (_, history) = admin(&server, "GET", "/api/v1/config/history");
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
    server.stop().unwrap();
    for (file, bytes) in every_byte_under(&dir.join("db")) {
        assert!(
            !contains(&bytes, key_body.as_bytes()),
            "the CA key reached {file}"
        );
    }
}

#[test]
fn a_stacks_dir_resolving_to_the_data_dir_refuses_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vigo");
    std::fs::create_dir(&dir).unwrap();
    data_dir(&dir);
    let real = tmp.path().join("elsewhere");
    std::fs::rename(dir.join("stacks"), &real).unwrap();
    symlink(&dir, dir.join("stacks")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vigosrv"))
        .arg("--config")
        .arg(dir.join("server.yaml"))
        .arg("serve")
        .env("RUST_LOG", "error")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}: resolves to the data dir itself",
            dir.join("stacks").display()
        )),
        "{stderr}"
    );
    assert!(!dir.join("tls").exists(), "refused before any key was made");
}

#[test]
fn the_files_the_server_writes_have_private_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("srv");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = start(&dir, data_dir(&dir));
    // One write, so the WAL and its index exist.
    let (code, body) = common::admin(
        &server,
        "POST",
        "/api/v1/tokens",
        Some(r#"{"expires_in": "1h"}"#),
    );
    assert!((200..300).contains(&code), "{code} {body}");
    for (path, mode) in [
        ("", "700"),
        ("tls", "700"),
        ("tls/key", "600"),
        ("tls/ca_key", "600"),
        ("tls/bundle_key", "600"),
        ("tls/cert", "600"),
        ("tls/ca", "600"),
        ("secrets", "700"),
        ("secrets/.master.key", "600"),
        ("local-admin.token", "600"),
        ("db", "700"),
        ("db/vigo.db", "600"),
        ("db/vigo.db-wal", "600"),
        ("db/vigo.db-shm", "600"),
    ] {
        assert_eq!(stat_mode(&dir.join(path)), mode, "{path}");
    }
    assert!(
        server.log().contains("tightened to 0700"),
        "the log says the data dir was tightened: {}",
        server.log()
    );
    server.stop().unwrap();
}
