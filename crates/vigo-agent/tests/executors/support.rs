//! Running `vigo resource` inside sandboxes and reading its JSON report.

use serde_json::Value;
use vigo_testkit::{SandboxRoot, SystemdContainer};

/// Where the agent binary is bound inside fixtures.
pub const VIGO: &str = "/usr/local/sbin/vigo";

/// A fresh sandbox with the agent bound in.
pub fn sandbox() -> SandboxRoot {
    SandboxRoot::builder()
        .with_binary(env!("CARGO_BIN_EXE_vigo"), VIGO)
        .build()
        .expect("sandbox root")
}

/// A booted container with the agent bound in.
pub fn container() -> SystemdContainer {
    SystemdContainer::builder()
        .with_binary(env!("CARGO_BIN_EXE_vigo"), VIGO)
        .boot()
        .expect("systemd container")
}

/// One resource's outcome.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub action: String,
    pub message: String,
    pub exit: Option<i32>,
}

fn argv(type_name: &str, name: &str, attrs: &Value, dry_run: bool) -> Vec<String> {
    let mut v = vec![
        VIGO.to_owned(),
        "resource".into(),
        type_name.into(),
        name.into(),
        "--attrs".into(),
        attrs.to_string(),
        "--json".into(),
    ];
    if dry_run {
        v.push("--dry-run".into());
    }
    v
}

fn parse(out: &vigo_testkit::Output) -> Outcome {
    let report: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stdout: {}; stderr: {}",
            out.stdout, out.stderr
        )
    });
    let r = &report["results"][0];
    Outcome {
        action: r["action"].as_str().unwrap_or_default().to_owned(),
        message: r["message"].as_str().unwrap_or_default().to_owned(),
        exit: out.code,
    }
}

/// Applies (or previews) one resource in a sandbox.
pub fn apply(
    root: &SandboxRoot,
    type_name: &str,
    name: &str,
    attrs: &Value,
    dry_run: bool,
) -> Outcome {
    let args = argv(type_name, name, attrs, dry_run);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    parse(&root.run_argv(&args).expect("run vigo in the sandbox"))
}

/// Applies (or previews) one resource in a container.
pub fn apply_in(
    c: &SystemdContainer,
    type_name: &str,
    name: &str,
    attrs: &Value,
    dry_run: bool,
) -> Outcome {
    let args = argv(type_name, name, attrs, dry_run);
    let cmd = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    parse(&c.exec(&cmd).expect("run vigo in the container"))
}

/// Runs a shell command in the sandbox and returns stdout, failing the test on error.
pub fn sh(root: &SandboxRoot, cmd: &str) -> String {
    let out = root.run(cmd).expect("run in sandbox");
    assert!(
        out.success(),
        "`{cmd}` failed: {}{}",
        out.stdout,
        out.stderr
    );
    out.stdout
}

/// The five steps for a resource whose drift is introduced by `drift_cmd` and whose
/// desired state is checked by `verify` (a command that must print `expected`).
pub fn lifecycle(
    root: &SandboxRoot,
    type_name: &str,
    attrs: &Value,
    verify: &str,
    expected: &str,
    drift_cmd: &str,
    drift_action: &str,
) {
    let first = apply(root, type_name, "r", attrs, false);
    assert!(
        matches!(first.action.as_str(), "created" | "updated"),
        "first apply: {first:?}"
    );
    assert_eq!(first.exit, Some(0), "{first:?}");
    assert_eq!(sh(root, verify).trim(), expected, "after the first apply");
    let second = apply(root, type_name, "r", attrs, false);
    assert_eq!(
        second.action, "none",
        "second apply must be a no-op: {second:?}"
    );

    sh(root, drift_cmd);
    let before = root.changes_digest(&["/var/lib/vigo"]).unwrap();
    let dry = apply(root, type_name, "r", attrs, true);
    assert_eq!(dry.action, drift_action, "dry-run after drift: {dry:?}");
    assert_eq!(
        root.changes_digest(&["/var/lib/vigo"]).unwrap(),
        before,
        "the dry-run wrote something"
    );
    let repair = apply(root, type_name, "r", attrs, false);
    assert_eq!(
        repair.action, drift_action,
        "the real run takes the dry-run's action: {repair:?}"
    );
    assert_eq!(sh(root, verify).trim(), expected, "after the repair");
    assert_eq!(apply(root, type_name, "r", attrs, false).action, "none");
}

/// A bad attribute fails the resource with exit code 2 and a message naming it.
pub fn rejects(root: &SandboxRoot, type_name: &str, attrs: &Value, expected: &str) {
    let out = apply(root, type_name, "r", attrs, false);
    assert_eq!(out.action, "error", "{out:?}");
    assert_eq!(out.exit, Some(2), "{out:?}");
    assert_eq!(out.message, expected);
}
