//! `vigosrv`'s command line: version, help, and an honest refusal for what is not built.

use assert_cmd::Command;
use predicates::str::contains;

fn vigosrv() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("vigosrv"))
}

#[test]
fn version_is_the_crate_version() {
    let expected = format!("vigosrv {}\n", env!("CARGO_PKG_VERSION"));
    vigosrv()
        .arg("version")
        .assert()
        .success()
        .stdout(expected.clone());
    vigosrv()
        .arg("--version")
        .assert()
        .success()
        .stdout(expected);
}

#[test]
fn help_names_the_config_file_and_its_env_var() {
    vigosrv()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("--config <PATH>"))
        .stdout(contains("VIGO_CONFIG_FILE"));
}
