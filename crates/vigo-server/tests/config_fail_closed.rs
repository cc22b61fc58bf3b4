//! `server.yaml` fails closed, seen from the real `vigosrv` binary: a key that turns on a
//! feature this server does not have stops it with one line naming the key and saying
//! "not supported yet", exit status 1, before anything is created in the data dir (no
//! CA, no database, no token). The messages are snapshots (insta).

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

/// Runs `vigosrv --config <dir>/server.yaml ARGS` with `yaml` as the file, bounded in
/// time (a server that starts instead of refusing would serve forever).
fn vigosrv(dir: &Path, yaml: &str, args: &[&str]) -> std::process::Output {
    std::fs::write(dir.join("server.yaml"), yaml).unwrap();
    Command::new(env!("CARGO_BIN_EXE_vigosrv"))
        .arg("--config")
        .arg(dir.join("server.yaml"))
        .args(args)
        .env_remove("RUST_LOG")
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap()
}

/// The data dir's entries besides `server.yaml`.
fn created(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "server.yaml")
        .collect();
    names.sort();
    names
}

/// Loopback listeners on ports the kernel picks, so that a server that did start would
/// not collide with anything.
fn listeners() -> String {
    "server:\n  grpc_listen: \"127.0.0.1:0\"\n  api_listen: \"127.0.0.1:0\"\n".to_owned()
}

#[test]
fn oidc_login_stops_vigosrv_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "{}auth:\n  method: oidc\n  oidc:\n    issuer: https://id.example.net\n    client_id: vigo\n",
        listeners()
    );
    let out = vigosrv(dir.path(), &yaml, &["serve"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr =
        String::from_utf8_lossy(&out.stderr).replace(&dir.path().display().to_string(), "[dir]");
    assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
    insta::assert_snapshot!(stderr, @"vigosrv: [dir]/server.yaml:5:3: `auth.method`: `oidc` login is not supported yet: use `method: basic` (API tokens)");
    assert_eq!(created(dir.path()), Vec::<String>::new(), "nothing created");
}

#[test]
fn every_unsupported_section_stops_serve_and_validate() {
    let cases = [
        "scrier:\n  enabled: true\n",
        "swarm:\n  enabled: [\"*\"]\n",
        "spanner:\n  mode: spanner\n",
        "peers:\n  role: primary\n  standbys: [\"cfg2:1530\"]\n",
        "backup:\n  url: s3://vigo-dr/lab\n",
        "integrations:\n  loki: { enabled: true, url: \"http://loki:3100\" }\n",
        "smtp:\n  host: mail.example.net\n",
        "ai:\n  enabled: true\n",
        "publish:\n  retraction: { enabled: true }\n",
        "secrets:\n  backend: isopass\n  url: https://isopass.example\n",
        "auth:\n  session_idle_timeout: 30m\n",
    ];
    let mut report = String::new();
    for case in cases {
        let dir = tempfile::tempdir().unwrap();
        let yaml = format!("{}{case}", listeners());
        for args in [&["serve"][..], &["validate"][..]] {
            let out = vigosrv(dir.path(), &yaml, args);
            assert_eq!(out.status.code(), Some(1), "{case:?} {args:?}: {out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr)
                .replace(&dir.path().display().to_string(), "[dir]");
            assert!(stderr.contains("not supported yet"), "{case:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{case:?}: {stderr}");
            if args == ["serve"] {
                report.push_str(&stderr);
            }
        }
        assert_eq!(created(dir.path()), Vec::<String>::new(), "{case:?}");
    }
    insta::assert_snapshot!(report);
}

#[test]
fn a_switched_off_section_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("stacks")).unwrap();
    std::fs::write(
        dir.path().join("stacks/envoys.vgo"),
        "envoys:\n  - match: \"*\"\n    configcrates: []\n",
    )
    .unwrap();
    let yaml = format!(
        "{}scrier: {{ enabled: false }}\nai: {{ enabled: false, provider: ollama }}\n",
        listeners()
    );
    let out = vigosrv(dir.path(), &yaml, &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
