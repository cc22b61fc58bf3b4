//! Secrets end to end, tried as an attacker would: the real `vigosrv` and a real `vigo`
//! agent in a disposable Debian root, a secret holding template syntax and URL-special
//! characters, used raw, transformed (`urlquery`) inside a URL, through a `source:`
//! template, in a failing command that prints it, and through `exec`'s `secret_file`.
//!
//! The secret must reach exactly the files meant for it, render as data (never as
//! template code), and appear in no other form anywhere: not in the trace on stderr, not
//! in `vigo run --json`, not in the daemon's output, not in the results over REST, the
//! server's database or log, and not in the agent's state store or snapshots — also after
//! the secret is rotated.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use vigo_testkit::{Listeners, SandboxRoot, Vigosrv, VigosrvOptions, binary_beside};

const VIGO: &str = "/usr/local/sbin/vigo";
/// Template syntax, a marker-like end, URL-special characters and non-ASCII text.
const SECRET: &str = "p@ss {{ .Vars.host }} w&rd/€ __END__ 7f3a";
const ROTATED: &str = "n3w-{{-s3cr3t-}}-9c1e";

fn vigo_binary() -> PathBuf {
    binary_beside(Path::new(env!("CARGO_BIN_EXE_vigosrv")), "vigo").expect("the agent binary")
}

/// Go's `url.QueryEscape`, which the template function `urlquery` applies.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every form of a secret that must not leak: itself, its URL escape, and a distinctive
/// fragment of each.
fn forms(secret: &str) -> Vec<String> {
    let fragment = match secret {
        SECRET => "w&rd/€",
        _ => "s3cr3t",
    };
    vec![
        secret.to_owned(),
        query_escape(secret),
        fragment.to_owned(),
        query_escape(fragment),
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn assert_clean(what: &str, bytes: &[u8], secrets: &[&str]) {
    for s in secrets {
        for f in forms(s) {
            assert!(
                !contains(bytes, f.as_bytes()),
                "`{f}` (a form of a secret) leaked into {what}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

fn files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

fn write_stack(dir: &Path) {
    std::fs::create_dir_all(dir.join("stacks/configcrates")).unwrap();
    std::fs::create_dir_all(dir.join("stacks/templates")).unwrap();
    std::fs::write(
        dir.join("stacks/envoys.vgo"),
        "envoys:\n  - match: \"envoy-*\"\n    configcrates: [app]\n    vars:\n      host: db.internal\n      pw: \"secret:app/db\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("stacks/templates/app.conf.tmpl"),
        "[db]\nhost = {{ .Vars.host }}\npassword = {{ .Vars.pw }}\n# alerting rule kept verbatim: {{ `{{ $labels.instance }}` }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("stacks/configcrates/app.vgo"),
        r#"configcrate: app
resources:
  - name: app-dir
    type: directory
    target_path: /etc/app
    state: present
  - name: raw
    type: file
    target_path: /etc/app/raw
    content: "password=secret:app/db\n"
    mode: "0600"
    state: present
  - name: url
    type: file
    target_path: /etc/app/url
    content: "url=postgres://app:{{ .Vars.pw | urlquery }}@{{ .Vars.host }}/app\n"
    mode: "0600"
    state: present
  - name: conf
    type: file
    target_path: /etc/app/app.conf
    source: app.conf.tmpl
    mode: "0600"
    state: present
  - name: leaky
    type: exec
    command: "echo 'connecting with {{ .Vars.pw | urlquery }}' >&2; echo 'raw: secret:app/db'; exit 3"
  - name: via-file
    type: exec
    command: "cp {{secret_file}} /etc/app/from-secret-file"
    secret_file: "secret:app/db"
    creates: /etc/app/from-secret-file
"#,
    )
    .unwrap();
}

struct Setup {
    _tmp: tempfile::TempDir,
    server: Vigosrv,
    envoy: SandboxRoot,
}

impl Setup {
    fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let token = self.server.admin_token().unwrap();
        let (code, text) = self.server.curl(method, path, Some(&token), body);
        assert!((200..300).contains(&code), "{method} {path}: {code} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn set_secret(&self, value: &str) {
        let token = self.server.admin_token().unwrap();
        let (code, text) =
            self.server
                .curl("PUT", "/api/v1/secrets/app/db", Some(&token), Some(value));
        assert!((200..300).contains(&code), "secret set: {code} {text}");
    }

    /// Runs `cmd` in the envoy; stdout and stderr apart.
    fn run(&self, cmd: &str) -> (Option<i32>, String, String) {
        let err = self.envoy.host_path("/tmp/stderr");
        let out = self
            .envoy
            .run_timeout(&format!("{cmd} 2>/tmp/stderr"), Duration::from_secs(300))
            .expect("run in sandbox");
        let stderr = std::fs::read_to_string(err).unwrap_or_default();
        (out.code, out.stdout, stderr)
    }
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let listeners = Listeners::loopback().unwrap();
    let grpc = listeners.grpc_port();
    std::fs::write(
        dir.join("server.yaml"),
        format!(
            "server:\n{}  hostname: localhost\ncheckin:\n  interval: 30s\n",
            listeners.yaml()
        ),
    )
    .unwrap();
    // The first start publishes a tree without secrets; the real one follows once the
    // secret exists (a publish refuses a reference to a missing secret).
    std::fs::create_dir_all(dir.join("stacks")).unwrap();
    std::fs::write(dir.join("stacks/envoys.vgo"), "envoys: []\n").unwrap();
    let server = Vigosrv::start(VigosrvOptions::loopback(
        env!("CARGO_BIN_EXE_vigosrv"),
        &dir,
        listeners,
    ))
    .expect("start vigosrv");
    let envoy = SandboxRoot::builder()
        .hostname("envoy-1")
        .with_binary(vigo_binary(), VIGO)
        .build()
        .expect("sandbox root");
    let s = Setup {
        _tmp: tmp,
        server,
        envoy,
    };
    s.set_secret(SECRET);
    write_stack(&dir);
    s.admin("POST", "/api/v1/config/publish", None);
    s.admin(
        "POST",
        "/api/v1/patterns",
        Some(r#"{"pattern": "envoy-*", "trusted": false}"#),
    );
    let token = s.admin("POST", "/api/v1/tokens", Some(r#"{"expires_in": "1h"}"#))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (code, out, err) = s.run(&format!(
        "{VIGO} bootstrap --server {} --token {token} --grpc-port {grpc}",
        s.server.url()
    ));
    assert_eq!(code, Some(0), "bootstrap: {out}{err}");
    s
}

#[test]
fn a_secret_reaches_its_files_as_data_and_no_sink_in_any_form() {
    let s = setup();

    // A run: the trace on stderr, the JSON on stdout.
    let (code, json, trace) = s.run(&format!("{VIGO} run --json"));
    assert_eq!(code, Some(2), "the leaky exec fails: {json}\n{trace}");
    let expect_url = format!(
        "url=postgres://app:{}@db.internal/app\n",
        query_escape(SECRET)
    );
    assert_eq!(
        s.envoy.read_file("/etc/app/raw").unwrap(),
        format!("password={SECRET}\n")
    );
    assert_eq!(s.envoy.read_file("/etc/app/url").unwrap(), expect_url);
    assert_eq!(
        s.envoy.read_file("/etc/app/app.conf").unwrap(),
        format!(
            "[db]\nhost = db.internal\npassword = {SECRET}\n# alerting rule kept verbatim: {{{{ $labels.instance }}}}\n"
        ),
        "the secret is data, and the template's output is rendered once"
    );
    assert_eq!(
        s.envoy.read_file("/etc/app/from-secret-file").unwrap(),
        SECRET,
        "`{{{{secret_file}}}}` publishes and runs"
    );
    let report: Value = serde_json::from_str(&json).expect("--json is JSON");
    let leaky = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "leaky")
        .unwrap();
    assert_eq!(leaky["action"], "error");
    assert_eq!(
        leaky["message"],
        "command failed (exit code 3) (output hidden: the resource uses a secret)"
    );
    let url = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "url")
        .unwrap();
    assert!(
        url["message"].as_str().unwrap().contains("[sensitive]"),
        "{url}"
    );
    assert_clean("the trace on stderr", trace.as_bytes(), &[SECRET]);
    assert_clean("vigo run --json", json.as_bytes(), &[SECRET]);

    // Rotation: the files change, and nothing of either value is kept anywhere else.
    s.set_secret(ROTATED);
    let (code, out, err) = s.run(&format!("{VIGO} --once"));
    assert_eq!(code, Some(2), "the daemon's one cycle: {out}\n{err}");
    assert_eq!(
        s.envoy.read_file("/etc/app/raw").unwrap(),
        format!("password={ROTATED}\n")
    );
    assert_clean(
        "the daemon's output",
        format!("{out}{err}").as_bytes(),
        &[SECRET, ROTATED],
    );

    let (code, out, err) = s.run(&format!("{VIGO} snapshots list"));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("/etc/app/raw"),
        "a metadata-only snapshot is listed: {out}"
    );
    for f in files(&s.envoy.host_path("/var/lib/vigo")) {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert_clean(
            &format!("the agent's {}", f.display()),
            &bytes,
            &[SECRET, ROTATED],
        );
    }

    // The server: results over REST, the database, the log.
    let runs = s.admin("GET", "/api/v1/envoys/envoy-1/runs", None);
    let ids: Vec<String> = runs
        .as_array()
        .unwrap_or_else(|| panic!("runs: {runs}"))
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    assert!(ids.len() >= 2, "{runs}");
    for id in ids {
        let run = s.admin("GET", &format!("/api/v1/runs/{id}"), None);
        assert_clean(
            "a run over REST",
            run.to_string().as_bytes(),
            &[SECRET, ROTATED],
        );
    }
    for f in files(s.server.dir()) {
        if f.starts_with(s.server.dir().join("secrets")) {
            continue; // the encrypted store itself
        }
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert_clean(
            &format!("the server's {}", f.display()),
            &bytes,
            &[SECRET, ROTATED],
        );
    }
    assert_clean(
        "the server log",
        s.server.log().as_bytes(),
        &[SECRET, ROTATED],
    );
}
