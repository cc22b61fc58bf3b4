//! Reports against the real `vigosrv` (built beside `vigo`, on loopback, its own data
//! dir), from a real agent in a disposable Debian root: a run of 1,100 failing resources
//! with long output is delivered, cut to the report limits, instead of being refused
//! forever; a queued report the server refuses for good is moved aside, counted in
//! `vigo status`, and the reports behind it — one over the server's message limit, left
//! by an older agent — are delivered.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use prost::Message;
use serde_json::Value;
use vigo_agent::state::StateStore;
use vigo_proto::v1::{ReportResultRequest, ResourceResult};
use vigo_testkit::{Listeners, SandboxRoot, Vigosrv, VigosrvOptions};

const VIGO: &str = "/usr/local/sbin/vigo";
const FAILING: usize = 1_100;

/// `vigosrv`, built beside `vigo` by the workspace build.
fn vigosrv_path() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_vigo")).with_file_name("vigosrv");
    assert!(
        p.is_file(),
        "{} is missing: build the server first (cargo build -p vigo-server), with the same CARGO_TARGET_DIR",
        p.display()
    );
    p
}

/// The stack: every `envoy-*` host gets 1,100 commands that fail with long output.
fn write_stack(dir: &Path) {
    std::fs::create_dir_all(dir.join("stacks/configcrates")).unwrap();
    std::fs::write(
        dir.join("stacks/envoys.vgo"),
        "envoys:\n  - match: \"envoy-*\"\n    configcrates: [noisy]\n",
    )
    .unwrap();
    let mut noisy = String::from("configcrate: noisy\nresources:\n");
    for i in 0..FAILING {
        let _ = write!(
            noisy,
            "  - name: fail-{i:04}\n    type: exec\n    command: /usr/local/bin/noisy-fail\n"
        );
    }
    std::fs::write(dir.join("stacks/configcrates/noisy.vgo"), noisy).unwrap();
}

struct Server {
    srv: Vigosrv,
    _tmp: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let listeners = Listeners::loopback().unwrap();
        std::fs::write(
            dir.join("server.yaml"),
            format!("server:\n{}  hostname: localhost\n", listeners.yaml()),
        )
        .unwrap();
        write_stack(dir);
        let srv = Vigosrv::start(VigosrvOptions::loopback(vigosrv_path(), dir, listeners))
            .expect("start vigosrv");
        Server { srv, _tmp: tmp }
    }

    fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let token = self.srv.admin_token().unwrap();
        let (code, text) = self.srv.curl(method, path, Some(&token), body);
        assert!(
            (200..300).contains(&code),
            "{method} {path}: {code} {text}\n{}",
            self.srv.log()
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    fn runs(&self) -> Vec<Value> {
        let runs = self.admin("GET", "/api/v1/envoys/envoy-1/runs?limit=100", None);
        runs.as_array()
            .or_else(|| runs["runs"].as_array())
            .cloned()
            .unwrap_or_default()
    }
}

fn sh(root: &SandboxRoot, cmd: &str) -> vigo_testkit::Output {
    root.run_timeout(cmd, Duration::from_secs(300))
        .expect("run in sandbox")
}

/// `vigo run` in the sandbox: its exit code and its diagnostics (the `vigo:` lines of
/// stderr, without the 1,100-line trace).
fn vigo_run(root: &SandboxRoot) -> (Option<i32>, String) {
    let out = sh(
        root,
        &format!(
            "{VIGO} run 2>/tmp/run.err >/dev/null; code=$?; grep '^vigo:' /tmp/run.err; exit $code"
        ),
    );
    (out.code, out.stdout)
}

/// A queued report as the state store holds it.
fn queued(run_id: &str, message: &str) -> Vec<u8> {
    ReportResultRequest {
        run_id: run_id.to_owned(),
        policy_version: "20260101T000000Z".into(),
        started_at_unix: vigo_agent::clock::now_unix(),
        results: vec![ResourceResult {
            configcrate: "old".into(),
            r#type: "exec".into(),
            name: "left-by-an-older-agent".into(),
            action: 6,
            duration_micros: 1,
            message: message.to_owned(),
        }],
        ..Default::default()
    }
    .encode_to_vec()
}

/// Edits the sandboxed agent's state store while no agent runs: LMDB resolves its
/// directory to the host's view, where the sandbox's overlay is not mounted, so the data
/// file is copied out, edited with the agent's own store code, and copied back.
fn with_agent_store(root: &SandboxRoot, edit: impl FnOnce(&StateStore)) {
    let tmp = tempfile::tempdir().unwrap();
    let data = root.host_path("/var/lib/vigo/state/data.mdb");
    std::fs::copy(&data, tmp.path().join("data.mdb")).unwrap();
    {
        let store = StateStore::open(tmp.path()).unwrap();
        edit(&store);
    }
    std::fs::copy(tmp.path().join("data.mdb"), &data).unwrap();
    std::fs::remove_file(root.host_path("/var/lib/vigo/state/lock.mdb")).unwrap();
}

#[test]
fn oversized_and_refused_reports_never_block_the_queue() {
    let server = Server::start();
    server.admin(
        "POST",
        "/api/v1/patterns",
        Some(r#"{"pattern": "envoy-*", "trusted": false}"#),
    );
    let token = server.admin("POST", "/api/v1/tokens", Some(r#"{"expires_in": "1h"}"#))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = SandboxRoot::builder()
        .hostname("envoy-1")
        .with_binary(env!("CARGO_BIN_EXE_vigo"), VIGO)
        .build()
        .expect("sandbox root");
    let out = sh(
        &root,
        &format!(
            "{VIGO} bootstrap --server {} --token {token} --grpc-port {} 2>&1",
            server.srv.url(),
            server.srv.grpc_port()
        ),
    );
    assert_eq!(out.code, Some(0), "bootstrap: {}", out.stdout);
    let (x, y) = ("x".repeat(3_000), "y".repeat(3_000));
    root.write_file(
        "/usr/local/bin/noisy-fail",
        format!("#!/bin/sh\nprintf '%s' '{x}'\nprintf '%s' '{y}' >&2\nexit 1\n"),
    )
    .unwrap();
    assert!(sh(&root, "chmod 755 /usr/local/bin/noisy-fail").success());

    // 1,100 failures, ~4 KB of output each: over the server's 4 MiB message limit whole.
    let (code, diagnostics) = vigo_run(&root);
    assert_eq!(code, Some(2), "{diagnostics}");
    assert!(
        diagnostics.contains(&format!(
            "vigo: warning: the report of this run is too large for the server: shortened {FAILING} result messages"
        )),
        "{diagnostics}"
    );
    assert!(!diagnostics.contains("not reachable"), "{diagnostics}");
    let runs = server.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let detail = server.admin(
        "GET",
        &format!(
            "/api/v1/runs/{}?results_limit=5000",
            runs[0]["id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(detail["results_total"], FAILING);
    assert_eq!(detail["results_next"], Value::Null);
    let results = detail["results"].as_array().unwrap();
    assert_eq!(results.len(), FAILING, "every result is delivered");
    for r in results {
        let m = r["message"].as_str().unwrap();
        assert!(
            m.starts_with("command failed (exit code 1); stdout: "),
            "{m}"
        );
        assert!(m.ends_with(" bytes]") && m.contains("… [truncated "), "{m}");
    }
    let status = sh(&root, &format!("{VIGO} status"));
    assert!(
        status.stdout.contains("\nPending results:  0\n"),
        "{}",
        status.stdout
    );

    // Reports an older agent queued: one the server refuses for good (not a UUID), and one
    // far over its message limit.
    let big_id = uuid::Uuid::now_v7().to_string();
    with_agent_store(&root, |store| {
        store
            .enqueue_result(&queued("not-a-uuid", "refused"))
            .unwrap();
        store
            .enqueue_result(&queued(&big_id, &"z".repeat(5 << 20)))
            .unwrap();
    });
    let (code, diagnostics) = vigo_run(&root);
    assert_eq!(code, Some(2), "{diagnostics}");
    assert!(
        diagnostics.contains("vigo: warning: the server refused a report for good; moved it aside (1 so far): ReportResult refused by 127.0.0.1:"),
        "{diagnostics}"
    );
    assert!(
        diagnostics.contains("run_id `not-a-uuid` is not a UUID (InvalidArgument)"),
        "{diagnostics}"
    );
    assert!(!diagnostics.contains("not reachable"), "{diagnostics}");
    let big = server.admin("GET", &format!("/api/v1/runs/{big_id}"), None);
    let message = big["results"][0]["message"].as_str().unwrap();
    assert!(message.len() <= 4_096, "{}", message.len());
    assert!(message.ends_with(" bytes]"), "{message}");
    assert_eq!(
        server.runs().len(),
        3,
        "the first run, the big one and this run"
    );

    let status = sh(&root, &format!("{VIGO} status"));
    assert!(
        status.stdout.contains("\nPending results:  0\n"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("\nRejected results: 1 (last: ReportResult refused by 127.0.0.1:"),
        "{}",
        status.stdout
    );
    let Server { srv, _tmp } = server;
    srv.stop().unwrap();
}
