//! `vigocli` end to end against a REAL `vigosrv`: the built server binary (beside
//! `vigocli` in the target directory) on loopback, with SQLite and a small stacks tree in
//! a temporary directory, killed by its own PID on drop. Every command is run as a
//! process with `assert_cmd`; `--json` output is parsed back and checked against what
//! was done. Envoys are registered through the real `POST /api/v1/register` (curl, a
//! CSR from rcgen); runs and traits are written into the server's own SQLite store with
//! `vigo_server::store` (what the gRPC `ReportResult`/`ReportTraits` handlers do), since
//! no agent runs here.
//!
//! Also: the error paths (unreachable server, wrong CA, unknown token 401, viewer 403 on
//! a change, an invalid publish listing every problem with file:line:column), login and
//! its settings file, the local admin token fallback, offline `config trace` on
//! `examples/stacks` against `vigo_lang`'s resolver, completions and man pages.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command as Cli;
use predicates::prelude::PredicateBooleanExt;
use serde_json::{Value, json};
use vigo_testkit::{Listeners, RefusedPort, Vigosrv, VigosrvOptions};

fn vigocli_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vigocli"))
}

/// `vigosrv`, built beside `vigocli`.
fn vigosrv_path() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_vigocli")).with_file_name("vigosrv");
    assert!(
        p.is_file(),
        "{} is missing: build the server first (cargo build -p vigo-server), with the same CARGO_TARGET_DIR",
        p.display()
    );
    p
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A small valid stacks tree: one crate for `web-*`, one for everything else.
fn write_stacks(dir: &Path) {
    write(
        &dir.join("stacks/envoys.vgo"),
        "envoys:\n  - match: \"web-*\"\n    configcrates: [motd, app]\n    vars:\n      greeting: hello\n  - match: \"*\"\n    configcrates: [motd]\n",
    );
    write(
        &dir.join("stacks/configcrates/motd.vgo"),
        "configcrate: motd\nresources:\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    content: managed\n    state: present\n",
    );
    write(
        &dir.join("stacks/configcrates/app.vgo"),
        "configcrate: app\nvars:\n  greeting: hi\nresources:\n  - name: app-dir\n    type: directory\n    target_path: /etc/app\n    state: present\n",
    );
}

/// Two broken files: an unknown attribute and an unknown resource type.
fn write_broken(stacks: &Path) {
    write(
        &stacks.join("configcrates/broken.vgo"),
        "configcrate: broken\nresources:\n  - name: x\n    type: file\n    target_path: /x\n    mdoe: \"0644\"\n    state: present\n",
    );
    write(
        &stacks.join("configcrates/worse.vgo"),
        "configcrate: worse\nresources:\n  - name: ghost\n    type: no_such_type\n",
    );
}

/// A running `vigosrv`, killed by its own PID on drop.
struct Server {
    // Declared first: the server stops before its data dir is removed.
    srv: Vigosrv,
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let listeners = Listeners::loopback().unwrap();
        write(
            &dir.join("server.yaml"),
            &format!("server:\n{}  hostname: localhost\n", listeners.yaml()),
        );
        write_stacks(&dir);
        std::fs::create_dir_all(dir.join("home")).unwrap();
        let srv = Vigosrv::start(VigosrvOptions::loopback(vigosrv_path(), &dir, listeners))
            .expect("start vigosrv");
        let server = Server {
            srv,
            dir,
            _tmp: tmp,
        };
        // vigocli itself must see it healthy too.
        assert!(
            server.cli().args(["server", "health"]).ok().is_ok(),
            "vigocli server health failed:\n{}",
            server.log()
        );
        server
    }

    fn url(&self) -> String {
        self.srv.url()
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("tls/ca")
    }

    fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    fn admin_token(&self) -> String {
        self.srv.admin_token().unwrap()
    }

    fn log(&self) -> String {
        self.srv.log()
    }

    /// `vigocli` with a clean environment: no settings file, no local admin token, no
    /// colour; `--server` and `--ca-file` given, no token.
    fn cli(&self) -> Cli {
        let mut c = bare_cli(&self.home());
        c.arg("--server")
            .arg(self.url())
            .arg("--ca-file")
            .arg(self.ca());
        c
    }

    /// `vigocli` as the local admin.
    fn admin(&self) -> Cli {
        let mut c = self.cli();
        c.arg("--token").arg(self.admin_token());
        c
    }

    /// Runs an admin command with `--json` and parses its stdout.
    /// `$ vigocli ARGS` as the admin and its output (see [`transcript`]).
    fn run(&self, args: &[&str]) -> String {
        transcript(&mut self.admin(), args)
    }

    /// Snapshots `name`: a read-only command's table and its `--json`, as the admin.
    fn snap(&self, name: &str, args: &[&str]) {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let text = format!("{}\n{}", self.run(args), self.run(&with_json));
        assert_transcript(name, &text);
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.admin().args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "vigocli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "vigocli {args:?} --json is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Registers `hostname` through `POST /api/v1/register` with a fresh CSR (curl).
    fn register(&self, hostname: &str, token: Option<&str>) -> Value {
        let key = rcgen::KeyPair::generate().unwrap();
        let csr = rcgen::CertificateParams::new(vec![hostname.to_owned()])
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let agent = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        let body = json!({
            "hostname": hostname,
            "token": token,
            "csr_pem": csr,
            "agent_public_key": hex::encode(agent.verifying_key().to_bytes()),
            "ip_addresses": ["192.0.2.10"],
            "agent_version": "0.1.0",
            "force": false,
        });
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "--max-time", "30", "--cacert"])
            .arg(self.ca())
            .args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(body.to_string())
            .arg(format!("{}/api/v1/register", self.url()))
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "register {hostname}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Writes traits and one run for `envoy_id` into the server's store (what the gRPC
    /// reports do); answers the run id.
    fn seed_run_and_traits(&self, envoy_id: &str, traits: &Value) -> String {
        use vigo_server::store::{EnvoyTraits, ResourceResult, Run, Store};
        let id = uuid::Uuid::parse_str(envoy_id).unwrap();
        let run_id = uuid::Uuid::now_v7();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = Store::open_sqlite(&self.dir.join("db")).await.unwrap();
            store
                .store_traits(&[EnvoyTraits {
                    id,
                    traits_json: traits.to_string(),
                }])
                .await
                .unwrap();
            let results = vec![
                ResourceResult {
                    resource_id: "file:/etc/motd".into(),
                    resource_type: "file".into(),
                    name: "motd".into(),
                    action: vigo_core::Action::Updated,
                    message: "content changed".into(),
                    duration_micros: 1200,
                },
                ResourceResult {
                    resource_id: "directory:/etc/app".into(),
                    resource_type: "directory".into(),
                    name: "app-dir".into(),
                    action: vigo_core::Action::None,
                    message: String::new(),
                    duration_micros: 800,
                },
            ];
            let run = Run {
                id: run_id,
                envoy_id: id,
                started_at: 1_700_000_000,
                finished_at: 1_700_000_002,
                duration_micros: 2_000_000,
                policy_version: Some("20260101T000000Z".into()),
                dry_run: false,
                counts: vigo_server::store::tally(&results),
            };
            store.record_run(&run, &results).await.unwrap();
        });
        run_id.to_string()
    }
}

/// `vigocli` with a clean environment rooted at `home`.
fn bare_cli(home: &Path) -> Cli {
    let mut c = Cli::new(vigocli_path());
    for var in [
        "VIGO_SERVER",
        "VIGO_TOKEN",
        "VIGO_CA_FILE",
        "XDG_CONFIG_HOME",
        "CLICOLOR_FORCE",
    ] {
        c.env_remove(var);
    }
    c.env("HOME", home)
        .env("NO_COLOR", "1")
        .env(
            "VIGO_LOCAL_ADMIN_TOKEN_FILE",
            home.join("no-local-admin.token"),
        )
        .timeout(Duration::from_secs(120));
    c
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts exit 1 and one `error:` line plus one `hint:` line containing the texts.
fn assert_error(out: &std::process::Output, cause: &str, hint: &str) {
    let err = stderr_of(out);
    assert_eq!(out.status.code(), Some(1), "stderr: {err}");
    let lines: Vec<&str> = err.lines().collect();
    let e = lines
        .iter()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(e.contains(cause), "{e:?} lacks {cause:?}");
    let h = lines
        .iter()
        .find(|l| l.starts_with("hint: "))
        .unwrap_or_else(|| panic!("no hint line: {err}"));
    assert!(h.contains(hint), "{h:?} lacks {hint:?}");
    assert!(!err.contains("panicked"), "{err}");
}

/// What differs from one run to the next, replaced in every snapshot: ids, secrets,
/// times, versions, hashes, keys, ports and temporary directories. In order: longer
/// patterns first, so a hash is never half-replaced by a shorter one.
fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            r"-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----(\\n)?",
            "[cert-pem]",
        ),
        (
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            "[uuid]",
        ),
        (r"vget_[0-9a-f]{64}", "[vget-secret]"),
        (r"vgot_[0-9a-f]{64}", "[vgot-secret]"),
        (r"tok_[0-9a-f]{16}", "[tok-id]"),
        (r"enr_[0-9a-f]{16}", "[enr-id]"),
        (r"\b[0-9a-f]{64}\b", "[sha256]"),
        (r"\b[0-9a-f]{32}\b", "[serial]"),
        (r"\b[0-9a-f]{16}\b", "[key-id]"),
        (r"\b[0-9a-f]{12}\b", "[short-hash]"),
        (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z", "[time]"),
        (r"\b\d{8}T\d{6}Z\b", "[version]"),
        (r"\b1[6-9]\d{8}\b", "[unix]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
        (r"/tmp/\.tmp\w+", "[tmp]"),
    ]
}

/// A table with its rows (between the header rule and the bottom border) sorted by
/// their second column onwards (the first is a random id), for listings whose order the
/// server does not fix.
fn sorted_table_rows(table: &str) -> String {
    let lines: Vec<&str> = table.lines().collect();
    let Some(body_start) = lines.iter().position(|l| l.starts_with('╞')) else {
        return table.to_owned();
    };
    let body_end = lines.len() - 1;
    let mut body = lines[body_start + 1..body_end].to_vec();
    body.sort_by_key(|row| row.split_once('┆').map_or(*row, |(_, rest)| rest));
    let mut out: Vec<&str> = lines[..=body_start].to_vec();
    out.extend(body);
    out.extend(&lines[body_end..]);
    out.join("\n") + "\n"
}

/// Asserts the snapshot `name` of a transcript, redacted.
fn assert_transcript(name: &str, transcript: &str) {
    insta::with_settings!({filters => redactions(), omit_expression => true}, {
        insta::assert_snapshot!(name, transcript);
    });
}

/// `$ vigocli ARGS`, then what it printed on stdout, then each stderr line as
/// `stderr: …`; asserts success.
fn transcript(cli: &mut Cli, args: &[&str]) -> String {
    let out = cli.args(args).output().unwrap();
    assert!(
        out.status.success(),
        "vigocli {args:?}: {}",
        stderr_of(&out)
    );
    let mut text = format!("$ vigocli {}\n{}", args.join(" "), stdout_of(&out));
    for line in stderr_of(&out).lines() {
        text.push_str(&format!("stderr: {line}\n"));
    }
    text
}

// ------------------------------------------------------------------- fleet

#[test]
fn envoys_tokens_patterns_runs_and_traits_round_trip() {
    let s = Server::start();

    // Patterns: add (token required, then trusted), list, remove.
    let p = s.json(&["patterns", "add", "web-*"]);
    assert_eq!(p["pattern"], "web-*");
    assert_eq!(p["trusted"], false);
    let added = format!(
        "{}{}",
        s.run(&["patterns", "add", "web-*", "--trusted"]),
        s.run(&["patterns", "add", "db-*"])
    );
    assert_transcript("patterns_add", &added);
    let list = s.json(&["patterns", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{list}");
    assert!(names.contains(&"web-*") && names.contains(&"db-*"));
    s.snap("patterns_list", &["patterns", "list"]);

    // Tokens: create (shown once), list, enroll with it, revoke another.
    let t = s.json(&["tokens", "create", "--expires", "1h", "--pattern", "db-*"]);
    let token = t["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("vget_"), "{t}");
    assert_eq!(t["hostname_pattern"], "db-*");
    assert_transcript(
        "tokens_create_json",
        &serde_json::to_string_pretty(&t).unwrap(),
    );
    let human_out = s.run(&["tokens", "create", "--expires", "2h"]);
    assert_transcript("tokens_create", &human_out);
    let spare = human_out
        .lines()
        .find_map(|l| l.strip_prefix("ID:"))
        .unwrap()
        .trim()
        .to_owned();
    let listed = s.json(&["tokens", "list"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none()),
        "secrets are never listed: {listed}"
    );

    let db = s.register("db-01", Some(&token));
    let web1 = s.register("web-01", None); // trusted pattern
    let web2 = s.register("web-02", None);
    assert!(web2["envoy_id"].is_string(), "{web2}");
    let db_id = db["envoy_id"].as_str().unwrap().to_owned();
    let web1_id = web1["envoy_id"].as_str().unwrap().to_owned();
    assert_transcript("tokens_revoke", &s.run(&["tokens", "revoke", &spare]));
    let after = s.json(&["tokens", "list"]);
    assert_eq!(after.as_array().unwrap().len(), 1, "{after}");
    assert_eq!(after[0]["state"], "used");
    assert_eq!(after[0]["used_by"], "db-01");
    s.snap("tokens_list", &["tokens", "list"]);

    // Envoys: list, filters, show by name and id.
    let all = s.json(&["envoys", "list"]);
    let hosts: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["hostname"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["db-01", "web-01", "web-02"]);
    let webs = s.json(&["envoys", "list", "--hostname", "WEB-*"]);
    assert_eq!(webs.as_array().unwrap().len(), 2);
    let shown = s.json(&["envoys", "show", "web-01"]);
    assert_eq!(shown["id"], web1_id.as_str());
    assert!(shown["cert_pem"].as_str().unwrap().contains("CERTIFICATE"));
    s.snap("envoys_show", &["envoys", "show", &db_id]);
    s.snap("envoys_list", &["envoys", "list"]);

    // Traits and runs (written into the server's store as agents' reports would).
    let traits = json!({"os": {"family": "debian", "release": "12"}, "nics": [{"name": "eth0"}]});
    let run_id = s.seed_run_and_traits(&web1_id, &traits);
    assert_eq!(s.json(&["traits", "show", "web-01"]), traits);
    assert_eq!(s.json(&["traits", "show", "web-01", "os.family"]), "debian");
    s.admin()
        .args(["traits", "show", "web-01", "nics.0.name"])
        .assert()
        .success()
        .stdout("eth0\n");
    let missing = s
        .admin()
        .args(["traits", "show", "web-02"])
        .output()
        .unwrap();
    assert_error(&missing, "not found", "");

    // --trait: client-side over each envoy's traits; envoys without traits do not match.
    let debian = s.json(&["envoys", "list", "--trait", "os.family=debian"]);
    assert_eq!(debian.as_array().unwrap().len(), 1, "{debian}");
    assert_eq!(debian[0]["hostname"], "web-01");
    let none = s.json(&[
        "envoys",
        "list",
        "--trait",
        "os.family=debian",
        "--trait",
        "os.release=11",
    ]);
    assert_eq!(none, json!([]));

    let runs = s.json(&["runs", "list", "web-01"]);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["id"], run_id.as_str());
    assert_eq!(runs[0]["counts"]["updated"], 1);
    s.snap("runs_list", &["runs", "list", "web-01"]);
    let run = s.json(&["runs", "show", &run_id]);
    assert_eq!(run["hostname"], "web-01");
    assert_eq!(run["results"].as_array().unwrap().len(), 2);
    assert_eq!(run["results"][0]["duration_micros"], 1200);
    s.snap("runs_show", &["runs", "show", &run_id]);
    s.snap("traits_show", &["traits", "show", "web-01", "os"]);
    assert!(
        s.json(&["runs", "list", "db-01"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let bad_run = s
        .admin()
        .args(["runs", "show", &uuid::Uuid::now_v7().to_string()])
        .output()
        .unwrap();
    assert_error(&bad_run, "not found", "list");

    // Revoke by hostname; status filters see it.
    let revoked = s.json(&["envoys", "revoke", "web-02"]);
    assert_transcript(
        "envoys_revoke_json",
        &serde_json::to_string_pretty(&revoked).unwrap(),
    );
    assert_eq!(revoked["status"], "revoked");
    let revoked_list = s.json(&["envoys", "list", "--status", "revoked"]);
    assert_eq!(revoked_list.as_array().unwrap().len(), 1);
    assert_eq!(revoked_list[0]["hostname"], "web-02");
    let active = s.json(&["envoys", "list", "--status", "active"]);
    assert_eq!(active.as_array().unwrap().len(), 2);
    assert_transcript("envoys_revoke", &s.run(&["envoys", "revoke", &db_id]));

    // Remove a pattern (with a `*`, percent-encoded in the path).
    assert_transcript("patterns_remove", &s.run(&["patterns", "remove", "db-*"]));
    let left = s.json(&["patterns", "list"]);
    assert_eq!(left.as_array().unwrap().len(), 1);
    assert_eq!(left[0]["pattern"], "web-*");
    let gone = s
        .admin()
        .args(["patterns", "remove", "db-*"])
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(1), "{}", stderr_of(&gone));
}

// ------------------------------------------------------------------ config

#[test]
fn config_publish_version_history_trace_and_invalid_publish() {
    let s = Server::start();
    let stacks = s.dir.join("stacks");

    let v1 = s.json(&["config", "version"]);
    let first = v1["version"].as_str().unwrap().to_owned();
    assert_eq!(v1["published_by"], "startup");

    // Unchanged tree: 409 from the server, reported as nothing to publish (exit 0).
    let unchanged = format!(
        "{}{}",
        s.run(&["config", "publish"]),
        s.run(&["config", "publish", "--json"])
    );
    assert_transcript("config_publish_unchanged", &unchanged);

    // A change publishes a new version, visible in version and history.
    write(
        &stacks.join("configcrates/motd.vgo"),
        "configcrate: motd\nresources:\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    content: changed\n    state: present\n",
    );
    let published = s.json(&["config", "publish"]);
    assert_transcript(
        "config_publish_json",
        &serde_json::to_string_pretty(&published).unwrap(),
    );
    let second = published["version"].as_str().unwrap().to_owned();
    assert!(second > first, "{second} after {first}");
    assert_eq!(published["published_by"], "local-admin");
    assert_eq!(s.json(&["config", "version"])["version"], second.as_str());
    let history = s.json(&["config", "history"]);
    let versions: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, [second.as_str(), first.as_str()]);
    s.snap("config_history", &["config", "history"]);
    s.snap("config_version", &["config", "version"]);

    // Trace: the server's answer equals the offline one on the same tree.
    let online = s.json(&["config", "trace", "web-01"]);
    assert_eq!(online["matched"], true);
    assert_eq!(online["consulted"][0]["pattern"], "web-*");
    let offline = s.json(&[
        "config",
        "trace",
        "web-01",
        "--stacks",
        stacks.to_str().unwrap(),
    ]);
    assert_eq!(online, offline);
    let other = s.json(&["config", "trace", "db-01"]);
    assert_eq!(other["crates"][0]["name"], "motd");
    assert_eq!(other["crates"].as_array().unwrap().len(), 1);
    s.snap("config_trace", &["config", "trace", "web-01"]);

    // Remote validation of the server's tree.
    assert_eq!(s.json(&["config", "validate", "--remote"])["valid"], true);
    s.snap(
        "config_validate_remote",
        &["config", "validate", "--remote"],
    );

    // An invalid tree: publish refuses and lists every problem with file:line:column;
    // the live version does not change.
    write_broken(&stacks);
    let out = s.admin().args(["config", "publish"]).output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let problems: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("error: configcrates/"))
        .collect();
    assert!(
        problems
            .iter()
            .any(|l| l.contains("configcrates/broken.vgo:6:5")),
        "{err}"
    );
    assert!(
        problems
            .iter()
            .any(|l| l.contains("configcrates/worse.vgo:4:")),
        "{err}"
    );
    assert!(err.lines().any(|l| l.starts_with("hint: ")), "{err}");
    assert!(!err.contains("panicked"));
    let as_json = s
        .admin()
        .args(["config", "publish", "--json"])
        .output()
        .unwrap();
    assert_eq!(as_json.status.code(), Some(1));
    let body: Value = serde_json::from_slice(&as_json.stdout).unwrap();
    assert_eq!(body["valid"], false);
    assert_eq!(body["errors"].as_array().unwrap().len(), problems.len());
    assert_transcript(
        "config_publish_invalid",
        &format!("{err}\n{}", stdout_of(&as_json)),
    );
    let remote = s
        .admin()
        .args(["config", "validate", "--remote"])
        .output()
        .unwrap();
    assert_eq!(remote.status.code(), Some(1));
    assert!(stderr_of(&remote).contains("configcrates/worse.vgo:4:"));
    assert_eq!(s.json(&["config", "version"])["version"], second.as_str());

    // Rollback: the first version's tree becomes live again, as a new version.
    let rb = s.json(&["config", "rollback", &first]);
    assert_transcript(
        "config_rollback_json",
        &serde_json::to_string_pretty(&rb).unwrap(),
    );
    assert_transcript("config_rollback", &s.run(&["config", "rollback", &second]));
    let rolled = rb["version"].as_str().unwrap().to_owned();
    assert!(rolled.as_str() > second.as_str(), "{rb}");
    // Back to the first tree again: the live version is the one made now.
    let rb = s.json(&["config", "rollback", &first]);
    let rolled = rb["version"].as_str().unwrap().to_owned();
    let live = s.json(&["config", "version"]);
    assert_eq!(live["version"], rolled.as_str());
    let history = s.json(&["config", "history"]);
    let first_hash = history
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == first.as_str())
        .map(|v| v["tree_hash"].clone())
        .unwrap();
    assert_eq!(live["tree_hash"], first_hash, "the same tree as {first}");
    let unknown = s
        .admin()
        .args(["config", "rollback", "19990101T000000Z"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr_of(&unknown).contains("no published version 19990101T000000Z"),
        "{}",
        stderr_of(&unknown)
    );
}

// -------------------------------------------- auth, secrets, audit, server

#[test]
fn api_tokens_roles_secrets_audit_server_and_login() {
    let s = Server::start();

    // server health needs no token; server version names the caller.
    let health = format!(
        "{}\n{}",
        transcript(&mut s.cli(), &["server", "health"]),
        transcript(&mut s.cli(), &["server", "health", "--json"])
    );
    assert_transcript("server_health", &health);
    assert_eq!(s.json(&["server", "health"])["database"], "ok");
    s.snap("server_version", &["server", "version"]);
    s.snap("server_bundle_key", &["server", "bundle-key"]);
    let version = s.json(&["server", "version"]);
    assert_eq!(version["caller"]["name"], "local-admin");
    assert_eq!(version["caller"]["role"], "admin");
    assert!(version["config"]["version"].is_string());

    // API tokens: create (shown once), list, revoke.
    let viewer = s.json(&["api-tokens", "create", "ci-viewer", "--role", "viewer"]);
    let viewer_token = viewer["token"].as_str().unwrap().to_owned();
    let viewer_id = viewer["id"].as_str().unwrap().to_owned();
    assert!(viewer_token.starts_with("vgot_"));
    assert_eq!(viewer["role"], "viewer");
    let compliance = s.json(&[
        "api-tokens",
        "create",
        "auditor",
        "--role",
        "compliance",
        "--expires",
        "720h",
    ]);
    assert!(compliance["expires_at"].is_i64());
    assert_transcript(
        "api_tokens_create_json",
        &serde_json::to_string_pretty(&compliance).unwrap(),
    );
    assert_transcript(
        "api_tokens_create",
        &s.run(&[
            "api-tokens",
            "create",
            "ops",
            "--role",
            "admin",
            "--owner",
            "alice",
        ]),
    );
    let tokens = s.json(&["api-tokens", "list"]);
    let names: Vec<&str> = tokens
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    // Oldest first; tokens minted within the same second have no order among them.
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["auditor", "ci-viewer", "local-admin", "ops"]);
    assert!(
        tokens
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );
    // Rows sorted by name: tokens minted in the same second have no order among them.
    let listed = s.run(&["api-tokens", "list"]);
    let mut by_name = tokens.as_array().unwrap().clone();
    by_name.sort_by_key(|t| t["name"].as_str().unwrap().to_owned());
    assert_transcript(
        "api_tokens_list",
        &format!(
            "{}\n{}",
            sorted_table_rows(&listed),
            serde_json::to_string_pretty(&by_name).unwrap()
        ),
    );

    // The viewer reads, but a change is 403 with the role hint.
    let mut c = s.cli();
    c.args(["--token", &viewer_token, "envoys", "list", "--json"]);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let forbidden = s
        .cli()
        .args(["--token", &viewer_token, "tokens", "create"])
        .output()
        .unwrap();
    assert_error(&forbidden, "permission denied", "role");
    let forbidden = s
        .cli()
        .args(["--token", &viewer_token, "config", "publish"])
        .output()
        .unwrap();
    assert_error(&forbidden, "permission denied", "role");

    // Secrets: value from stdin, never echoed or listed with its value.
    let secret = "hunter2-never-echoed";
    let set = s
        .admin()
        .args(["secrets", "set", "db/password"])
        .write_stdin(format!("{secret}\n"))
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", stderr_of(&set));
    assert!(!stdout_of(&set).contains(secret) && !stderr_of(&set).contains(secret));
    s.admin()
        .args(["secrets", "set", "app/token"])
        .write_stdin("t0ken")
        .assert()
        .success();
    let empty = s
        .admin()
        .args(["secrets", "set", "app/empty"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_error(&empty, "empty", "stdin");
    let mut listed: Vec<String> = s
        .json(&["secrets", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["app/token", "db/password"]);
    let human = s.run(&["secrets", "list"]);
    assert!(!human.contains(secret));
    s.snap("secrets_list", &["secrets", "list"]);
    let changes = format!(
        "{}{}{}",
        transcript(
            s.admin().write_stdin("v1"),
            &["secrets", "set", "app/other", "--json"]
        ),
        s.run(&["secrets", "delete", "app/other"]),
        s.run(&["secrets", "delete", "app/token", "--json"]),
    );
    assert_transcript("secrets_set_delete", &changes);
    assert_eq!(s.json(&["secrets", "list"]), json!(["db/password"]));

    // The viewer's token revoked: now 401 with the login hint.
    let revoked = s.json(&["api-tokens", "revoke", &viewer_id]);
    assert!(revoked["revoked_at"].is_i64());
    assert_transcript(
        "api_tokens_revoke_json",
        &serde_json::to_string_pretty(&revoked).unwrap(),
    );
    let ops_id = by_name
        .iter()
        .find(|t| t["name"] == "ops")
        .and_then(|t| t["id"].as_str())
        .unwrap()
        .to_owned();
    assert_transcript(
        "api_tokens_revoke",
        &s.run(&["api-tokens", "revoke", &ops_id]),
    );
    let refused = s
        .cli()
        .args(["--token", &viewer_token, "envoys", "list"])
        .output()
        .unwrap();
    assert_error(&refused, "authentication refused", "vigocli login");

    // Audit: newest first, with the actions above; --limit honoured.
    let audit = s.json(&["audit", "list", "--limit", "100"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for want in [
        "api_token.created",
        "api_token.revoked",
        "secret.set",
        "secret.deleted",
        "auth.forbidden",
    ] {
        assert!(actions.contains(&want), "{want} missing: {actions:?}");
    }
    assert!(!audit.to_string().contains(secret));
    assert_eq!(
        s.json(&["audit", "list", "--limit", "2"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    s.snap("audit_list", &["audit", "list", "--limit", "4"]);

    // login: checks the token, writes cli.yaml (0600 in a 0700 dir); later commands use it.
    let home = s.home().display().to_string();
    let login = transcript(&mut s.cli(), &["login", "--token", &s.admin_token()])
        .replace(&home, "[home]")
        .replace(&s.admin_token(), "[vgot-secret]");
    assert_transcript("login", &login);
    let file = s.home().join(".config/vigo/cli.yaml");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.contains(&s.url()) && saved.contains("vgot_"),
        "{saved}"
    );
    let from_file = bare_cli(&s.home())
        .args(["server", "version", "--json"])
        .output()
        .unwrap();
    assert!(from_file.status.success(), "{}", stderr_of(&from_file));
    let v: Value = serde_json::from_slice(&from_file.stdout).unwrap();
    assert_eq!(v["caller"]["name"], "local-admin");
    // A flag overrides the file: a bad token from the environment wins and is refused.
    let env_wins = bare_cli(&s.home())
        .env("VIGO_TOKEN", "vgot_0000")
        .args(["envoys", "list"])
        .output()
        .unwrap();
    assert_error(&env_wins, "authentication refused", "login");
    // login refuses a bad token and keeps the stored settings.
    let bad_login = s
        .cli()
        .args(["login", "--token", "vgot_nope"])
        .output()
        .unwrap();
    assert_error(&bad_login, "authentication refused", "login");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), saved);

    // On the server host: no token anywhere → the local admin token file, the CA beside
    // it and the server given.
    let local = bare_cli(&s.dir.join("elsewhere"))
        .env(
            "VIGO_LOCAL_ADMIN_TOKEN_FILE",
            s.dir.join("local-admin.token"),
        )
        .args(["--server", &s.url(), "server", "version", "--json"])
        .output()
        .unwrap();
    assert!(local.status.success(), "{}", stderr_of(&local));
    let v: Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(v["caller"]["name"], "local-admin");
}

#[test]
fn connection_failures_are_one_line_with_a_hint() {
    let s = Server::start();
    let home = s.home();
    // Every error and hint below, in order, for one snapshot.
    let mut errors = String::new();

    // Nothing configured.
    let out = bare_cli(&home).args(["envoys", "list"]).output().unwrap();
    assert_error(&out, "no server configured", "vigocli login");
    errors.push_str(&stderr_of(&out));
    let out = bare_cli(&home)
        .args(["--server", &s.url(), "envoys", "list"])
        .output()
        .unwrap();
    assert_error(&out, "no API token configured", "vigocli login");
    errors.push_str(&stderr_of(&out));

    // Unreachable: a port nothing listens on (held, so nothing can start to).
    let refused = RefusedPort::new().unwrap();
    let dead = format!("https://127.0.0.1:{}", refused.port());
    let out = bare_cli(&home)
        .args(["--server", &dead, "--token", "vgot_x", "envoys", "list"])
        .output()
        .unwrap();
    assert_error(&out, "cannot reach the server", "vigosrv is running");
    errors.push_str(&stderr_of(&out));

    // The server's CA not trusted (no --ca-file), and a wrong CA file.
    let out = bare_cli(&home)
        .args([
            "--server",
            &s.url(),
            "--token",
            &s.admin_token(),
            "envoys",
            "list",
        ])
        .output()
        .unwrap();
    assert_error(&out, "TLS handshake", "--ca-file");
    errors.push_str(&stderr_of(&out));
    let other_ca = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap()
        .pem();
    let wrong = home.join("wrong-ca.pem");
    std::fs::write(&wrong, other_ca).unwrap();
    let out = bare_cli(&home)
        .args([
            "--server",
            &s.url(),
            "--token",
            &s.admin_token(),
            "--ca-file",
        ])
        .arg(&wrong)
        .args(["envoys", "list"])
        .output()
        .unwrap();
    assert_error(&out, "TLS handshake", "--ca-file");
    errors.push_str(&stderr_of(&out));
    let out = bare_cli(&home)
        .args(["--server", &s.url(), "--token", "vgot_x", "--ca-file"])
        .arg(home.join("missing.pem"))
        .args(["envoys", "list"])
        .output()
        .unwrap();
    assert_error(&out, "cannot use CA file", "PEM");
    errors.push_str(&stderr_of(&out));

    // An unknown token: 401.
    let out = s
        .cli()
        .args(["--token", "vgot_unknown", "envoys", "list"])
        .output()
        .unwrap();
    assert_error(&out, "authentication refused", "vigocli login");
    errors.push_str(&stderr_of(&out));

    // 404.
    let out = s.admin().args(["envoys", "show", "nope"]).output().unwrap();
    assert_error(&out, "not found", "list");
    errors.push_str(&stderr_of(&out));

    // A malformed --trait and a bad URL.
    let out = s
        .admin()
        .args(["envoys", "list", "--trait", "novalue"])
        .output()
        .unwrap();
    assert_error(&out, "PATH=VALUE", "--trait os.family=debian");
    errors.push_str(&stderr_of(&out));
    let out = bare_cli(&home)
        .args(["--server", "ftp://x", "--token", "vgot_x", "envoys", "list"])
        .output()
        .unwrap();
    assert_error(&out, "invalid server URL", "https://");
    errors.push_str(&stderr_of(&out));
    assert_transcript("connection_failures", &errors);
}

// ------------------------------------------------------- offline commands

/// `config trace --stacks examples/stacks` equals `vigo_lang`'s resolver, for three
/// hostnames (one per match block).
#[test]
fn offline_trace_on_the_example_stacks_equals_the_resolver() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stacks");
    let tree = vigo_lang::SourceTree::read_dir(&examples).unwrap();
    let stack = vigo_lang::load(&tree).unwrap();
    let resolver = vigo_lang::resolve::Resolver::new(
        Arc::new(stack),
        vigo_lang::resolve::BundleMeta::default(),
    );
    let home = tempfile::tempdir().unwrap();
    let mut patterns = Vec::new();
    for host in [
        "web-01.prod.example.net",
        "web-02.stage.example.net",
        "db-01.example.net",
    ] {
        let out = bare_cli(home.path())
            .args(["config", "trace", host, "--json", "--stacks"])
            .arg(&examples)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let want = resolver.trace(host, None).to_json();
        assert_eq!(got, want, "{host}");
        assert_eq!(got["matched"], true, "{host}");
        patterns.push(got["consulted"].as_array().unwrap().last().unwrap()["pattern"].clone());
    }
    assert_eq!(
        patterns,
        [
            json!("web-*.prod.example.net"),
            json!("web-*.stage.example.net"),
            json!("*")
        ]
    );
    assert_eq!(
        bare_cli(home.path())
            .args([
                "config",
                "trace",
                "web-01.prod.example.net",
                "--json",
                "-e",
                "staging",
                "--stacks"
            ])
            .arg(&examples)
            .output()
            .map(|o| serde_json::from_slice::<Value>(&o.stdout).unwrap())
            .unwrap(),
        resolver
            .trace("web-01.prod.example.net", Some("staging"))
            .to_json()
    );
}

#[test]
fn validate_and_tree_work_on_a_local_tree() {
    let tmp = tempfile::tempdir().unwrap();
    write_stacks(tmp.path());
    let stacks = tmp.path().join("stacks");
    let home = tmp.path().join("home");

    let dir = stacks.to_str().unwrap();
    let valid = format!(
        "{}{}",
        transcript(&mut bare_cli(&home), &["config", "validate", dir]),
        transcript(&mut bare_cli(&home), &["config", "validate", "--json", dir])
    );
    assert_transcript("config_validate_local", &valid);
    let v: Value = serde_json::from_slice(
        &bare_cli(&home)
            .args(["config", "validate", "--json"])
            .arg(&stacks)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["match_blocks"], 2);

    // `config tree`: blocks in the order consulted, crates.
    let tree: Value = serde_json::from_slice(
        &bare_cli(&home)
            .args(["config", "tree", "--json"])
            .arg(&stacks)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let patterns: Vec<&str> = tree["match_blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["pattern"].as_str().unwrap())
        .collect();
    assert_eq!(patterns, ["web-*", "*"]);
    assert_eq!(
        tree["match_blocks"][0]["configcrates"],
        json!(["motd", "app"])
    );
    assert_eq!(tree["configcrates"].as_array().unwrap().len(), 2);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stacks");
    let examples = examples.to_str().unwrap();
    let tree = format!(
        "{}\n{}",
        transcript(&mut bare_cli(&home), &["config", "tree", examples]),
        transcript(
            &mut bare_cli(&home),
            &["config", "tree", "--json", examples]
        )
    )
    .replace(examples, "[examples]");
    assert_transcript("config_tree", &tree);

    // Broken: every problem with file:line:column, exit 1.
    write_broken(&stacks);
    let out = bare_cli(&home)
        .args(["config", "validate"])
        .arg(&stacks)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_transcript("config_validate_local_invalid", &err);
    let out = bare_cli(&home)
        .args(["config", "validate", "--json"])
        .arg(&stacks)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_transcript("config_validate_local_invalid_json", &stdout_of(&out));
    // Offline trace of a broken tree fails the same way.
    let out = bare_cli(&home)
        .args(["config", "trace", "web-01", "--stacks"])
        .arg(&stacks)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("configcrates/worse.vgo:4:"));
    // A directory that does not exist.
    let out = bare_cli(&home)
        .args(["config", "validate"])
        .arg(tmp.path().join("nope"))
        .output()
        .unwrap();
    assert_error(&out, "cannot read the stacks tree", "stacks directory");
}

#[test]
fn usage_errors_exit_2_and_completions_and_man_pages_are_generated() {
    let home = tempfile::tempdir().unwrap();
    bare_cli(home.path()).arg("frobnicate").assert().code(2);
    bare_cli(home.path())
        .args(["envoys", "list", "--status", "sleeping"])
        .assert()
        .code(2);
    bare_cli(home.path())
        .args(["api-tokens", "create", "x", "--role", "root"])
        .assert()
        .code(2);
    bare_cli(home.path()).arg("--help").assert().success();
    bare_cli(home.path())
        .arg("version")
        .assert()
        .success()
        .stdout(predicates::str::starts_with("vigocli "));

    for (shell, marker) in [
        ("bash", "_vigocli()"),
        ("zsh", "#compdef vigocli"),
        ("fish", "complete -c vigocli"),
    ] {
        bare_cli(home.path())
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(predicates::str::contains(marker).and(predicates::str::contains("api-tokens")));
    }
    bare_cli(home.path())
        .args(["completions", "tcsh"])
        .assert()
        .code(2);

    let man = home.path().join("man");
    bare_cli(home.path())
        .arg("man")
        .arg(&man)
        .assert()
        .success();
    for page in [
        "vigocli.1",
        "vigocli-envoys.1",
        "vigocli-envoys-list.1",
        "vigocli-config-trace.1",
        "vigocli-api-tokens-create.1",
    ] {
        let text =
            std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let list = std::fs::read_to_string(man.join("vigocli-envoys-list.1")).unwrap();
    assert!(list.contains("trait"), "{list}");
}

#[test]
fn server_rotate_bundle_key_replaces_the_key_is_audited_and_admin_only() {
    let s = Server::start();
    let before = s.json(&["server", "bundle-key"]);
    let k0 = before["key_id"].as_str().unwrap().to_owned();
    assert_eq!(before["rotations"], json!([]));
    assert_eq!(before["public_key"].as_str().unwrap().len(), 64);

    // A viewer may look, not rotate.
    let viewer = s.json(&["api-tokens", "create", "ci-viewer", "--role", "viewer"]);
    let viewer_token = viewer["token"].as_str().unwrap().to_owned();
    let out = s
        .cli()
        .args(["--token", &viewer_token, "server", "bundle-key", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let forbidden = s
        .cli()
        .args(["--token", &viewer_token, "server", "rotate-bundle-key"])
        .output()
        .unwrap();
    assert_error(&forbidden, "permission denied", "role");
    assert_eq!(s.json(&["server", "bundle-key"])["key_id"], k0.as_str());

    // The admin rotates: the text names both keys.
    let out = s
        .admin()
        .args(["server", "rotate-bundle-key"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let after = s.json(&["server", "bundle-key"]);
    let k1 = after["key_id"].as_str().unwrap().to_owned();
    assert_ne!(k1, k0);
    assert_eq!(
        stdout_of(&out).trim(),
        format!("rotated bundle-signing key {k0} -> {k1}; agents re-pin at their next check-in")
    );
    let rotations = after["rotations"].as_array().unwrap();
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0]["old_key_id"], k0.as_str());
    assert_eq!(rotations[0]["new_key_id"], k1.as_str());
    // --json, a second time: the chain grows.
    let second = s.json(&["server", "rotate-bundle-key"]);
    assert_eq!(second["old_key_id"], k1.as_str());
    assert_eq!(second["rotations"], 2);
    let table = s.admin().args(["server", "bundle-key"]).output().unwrap();
    let text = stdout_of(&table);
    assert!(text.contains(&k0) && text.contains(&k1), "{text}");
    assert!(text.contains("ROTATED"), "{text}");
    // Audited, with both key ids.
    let audit = s.json(&["audit", "list"]);
    let rotated: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "bundle_key.rotated")
        .collect();
    assert_eq!(rotated.len(), 2, "{audit}");
    assert!(rotated.iter().all(|e| e["actor"] == "local-admin"));
    assert!(
        rotated
            .iter()
            .any(|e| e["detail"]["old_key_id"] == k0.as_str())
    );
}
