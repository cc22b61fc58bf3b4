//! The agent's command line against its contract, `agent-cli-reference.txt`: every
//! global flag with its default, every command and its flags, and honest refusals for
//! commands that are not built yet.

use assert_cmd::Command;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

fn vigo() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("vigo"))
}

fn help_of(args: &[&str]) -> String {
    let out = vigo().args(args).output().expect("run vigo");
    assert!(out.status.success(), "vigo {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

/// The reference's global flags table: flag, value name, default.
const GLOBAL_FLAGS: &[(&str, Option<&str>, Option<&str>)] = &[
    ("--server", Some("<ADDR>"), Some("localhost:1530")),
    ("--ca-file", Some("<PATH>"), None),
    ("--cert-file", Some("<PATH>"), None),
    ("--key-file", Some("<PATH>"), None),
    ("--log-level", Some("<LEVEL>"), Some("info")),
    ("--api-addr", Some("<URL>"), Some("https://localhost:8443")),
    (
        "--executors-dir",
        Some("<PATH>"),
        Some("/etc/vigo-envoy/executors"),
    ),
    (
        "--snapshot-dir",
        Some("<PATH>"),
        Some("/var/lib/vigo/snapshots"),
    ),
    ("--snapshot-retention", Some("<N>"), Some("5")),
    ("--trait-refresh-cycles", Some("<N>"), Some("10")),
    ("--result-cache-cycles", Some("<N>"), Some("5")),
    ("--dry-run", None, None),
    ("--once", None, None),
];

#[test]
fn help_lists_every_global_flag_with_its_reference_default() {
    let help = help_of(&["--help"]);
    for (flag, value, default) in GLOBAL_FLAGS {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{flag} ")) || l.trim() == *flag)
            .unwrap_or_else(|| panic!("{flag} missing from vigo --help:\n{help}"));
        if let Some(value) = value {
            assert!(
                line.contains(&format!("{flag} {value}")),
                "{flag} value name: {line}"
            );
        }
        match default {
            Some(d) => assert!(
                line.contains(&format!("[default: {d}]")),
                "{flag} default: {line}"
            ),
            None => assert!(!line.contains("[default:"), "{flag} has no default: {line}"),
        }
    }
}

#[test]
fn help_lists_every_reference_command() {
    let help = help_of(&["--help"]);
    for cmd in [
        "daemon",
        "register",
        "bootstrap",
        "run",
        "status",
        "traits",
        "version",
        "repo",
        "crypt",
        "apply",
        "snapshots",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "command {cmd} missing from vigo --help:\n{help}"
        );
    }
}

#[test]
fn command_flags_match_the_reference() {
    let register = help_of(&["register", "--help"]);
    assert!(register.contains("--token <TOKEN>"), "{register}");
    assert!(register.contains("--force"), "{register}");
    assert!(
        register.contains("Usage: vigo register [OPTIONS] --token <TOKEN>"),
        "{register}"
    );

    let bootstrap = help_of(&["bootstrap", "--help"]);
    for flag in [
        "--server <URL>",
        "--token <TOKEN>",
        "--install-service",
        "--grpc-port <PORT>",
        "--force",
    ] {
        assert!(
            bootstrap.contains(flag),
            "bootstrap lacks {flag}:\n{bootstrap}"
        );
    }
    assert!(bootstrap.contains("[default: 1530]"), "{bootstrap}");

    let run = help_of(&["run", "--help"]);
    assert!(run.contains("--configcrate <name>"), "{run}");
    assert!(run.contains("--dry-run"), "{run}");

    let apply = help_of(&["apply", "--help"]);
    for flag in [
        "<STACKS_DIR>",
        "--hostname <H>",
        "--environment <E>",
        "--configcrate <C>",
        "--dry-run",
        "--json",
    ] {
        assert!(apply.contains(flag), "apply lacks {flag}:\n{apply}");
    }
}

#[test]
fn register_requires_a_token() {
    vigo()
        .arg("register")
        .assert()
        .failure()
        .code(2)
        .stderr(contains("--token <TOKEN>"));
}

#[test]
fn version_is_the_crate_version() {
    let expected = format!("vigo {}\n", env!("CARGO_PKG_VERSION"));
    vigo()
        .arg("version")
        .assert()
        .success()
        .stdout(expected.clone());
    vigo().arg("--version").assert().success().stdout(expected);
}

#[test]
fn commands_not_built_yet_say_so_and_fail() {
    for args in [&["repo", "list"][..], &["crypt", "status"][..]] {
        vigo()
            .args(args)
            .assert()
            .failure()
            .code(1)
            .stderr(contains("not implemented yet"))
            .stdout("");
    }
}

#[test]
fn snapshots_list_show_restore_round_trip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let snaps = tmp.path().join("snaps");
    let file = tmp.path().join("app.conf");
    std::fs::write(&file, "old\n").expect("write");
    let store = vigo_exec::snapshot::SnapshotStore::new(&snaps, 5);
    let id = store.take(&file).expect("take").expect("file exists").id;
    std::fs::write(&file, "new\n").expect("write");

    let dir = snaps.to_str().expect("utf-8 path");
    let list = vigo()
        .args(["--snapshot-dir", dir, "snapshots", "list"])
        .output()
        .expect("run");
    assert!(list.status.success());
    let list = String::from_utf8(list.stdout).expect("utf-8");
    assert!(list.starts_with("ID "), "{list}");
    assert!(
        list.contains(&id) && list.contains(file.to_str().expect("utf-8")),
        "{list}"
    );

    vigo()
        .args(["--snapshot-dir", dir, "snapshots", "show", &id])
        .assert()
        .success()
        .stdout("old\n");
    vigo()
        .args(["--snapshot-dir", dir, "snapshots", "restore", &id])
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "old\n");

    vigo()
        .args([
            "--snapshot-dir",
            dir,
            "snapshots",
            "show",
            "0123456789abcdef-00000000000000000001",
        ])
        .assert()
        .failure()
        .code(1)
        .stderr(contains("no snapshot with id"));
}

/// `vigo apply` refuses what it cannot run before it touches anything: an invalid stack
/// (every error, with file:line:column), a hostname no block matches.
#[test]
fn apply_refuses_an_invalid_stack_or_an_unmatched_hostname() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let stacks = tmp.path().join("stacks");
    std::fs::create_dir_all(stacks.join("configcrates")).unwrap();
    std::fs::write(
        stacks.join("configcrates/motd.vgo"),
        "configcrate: motd\nresources:\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    mdoe: \"0644\"\n    state: present\n",
    )
    .unwrap();
    std::fs::write(
        stacks.join("envoys.vgo"),
        "envoys:\n  - match: \"web-*\"\n    configcrates: [motd, ntp]\n",
    )
    .unwrap();
    let out = vigo()
        .args(["apply", stacks.to_str().unwrap(), "--hostname", "web-1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("configcrates/motd.vgo:6:5: configcrate \"motd\" resource \"motd\": unknown attribute `mdoe` for type file; did you mean `mode`?"),
        "{stderr}"
    );
    assert!(stderr.contains("envoys.vgo:3:"), "{stderr}");
    assert!(
        stderr.contains("is not a valid stack (2 errors)"),
        "{stderr}"
    );

    std::fs::write(
        stacks.join("configcrates/motd.vgo"),
        "configcrate: motd\nresources:\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    content: hi\n    state: present\n",
    )
    .unwrap();
    std::fs::write(
        stacks.join("envoys.vgo"),
        "envoys:\n  - match: \"web-*\"\n    configcrates: [motd]\n",
    )
    .unwrap();
    vigo()
        .args(["apply", stacks.to_str().unwrap(), "--hostname", "db-1"])
        .assert()
        .failure()
        .code(1)
        .stderr(contains("no match block in").and(contains("fits hostname `db-1`")));
    vigo()
        .args(["apply", tmp.path().join("missing").to_str().unwrap()])
        .assert()
        .failure()
        .code(1)
        .stderr(contains("reading stacks from"));
}
