//! `vigocli`'s command line: version, the command groups, and honest refusals.

use assert_cmd::Command;
use predicates::str::contains;

fn vigocli() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("vigocli"))
}

#[test]
fn version_is_the_crate_version() {
    let expected = format!("vigocli {}\n", env!("CARGO_PKG_VERSION"));
    vigocli()
        .arg("version")
        .assert()
        .success()
        .stdout(expected.clone());
    vigocli()
        .arg("--version")
        .assert()
        .success()
        .stdout(expected);
}

#[test]
fn help_lists_the_tier_one_groups() {
    let out = vigocli().arg("--help").output().expect("run vigocli");
    let help = String::from_utf8(out.stdout).expect("utf-8");
    for group in [
        "login",
        "envoys",
        "tokens",
        "patterns",
        "config",
        "runs",
        "secrets",
        "traits",
        "audit",
        "server",
        "completions",
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{group} "))),
            "{group} missing:\n{help}"
        );
    }
}

#[test]
fn a_group_not_built_yet_says_so() {
    vigocli()
        .args(["envoys", "list"])
        .assert()
        .failure()
        .code(1)
        .stderr(contains("not implemented yet"));
}
