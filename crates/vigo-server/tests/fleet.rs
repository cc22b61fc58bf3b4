//! The whole system end to end: the real `vigosrv` binary with SQLite and a stacks tree,
//! and real `vigo` agents, each inside its own disposable Debian root (vigo-testkit) —
//! in the main test each in its own network namespace, the server in a hub namespace
//! bridged to them — enrolled with `vigo bootstrap` and converging with `vigo run`. The
//! operator side is the REST API, driven with curl.
//!
//! Covers: bootstrap with a token, and refusal of a reused token, a wrong token and a
//! hostname outside the approved patterns; convergence and results visible over REST; a
//! published change applied on the next run; a bad publish changing nothing; a revoked
//! envoy refused; a secret reaching a file on the agent and appearing nowhere in the
//! server's database, logs or results, nor in the agent's state store; a server restart
//! keeping enrollments.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use vigo_testkit::{Listen, Listeners, SandboxRoot, TestClock, Vigosrv, VigosrvOptions};

const VIGO: &str = "/usr/local/sbin/vigo";
const SECRET: &str = "pa55-Sekret-e2e-7f3a";

/// How to build the agent these tests need: with its `test-clock` feature, which the
/// workspace's test build enables (a plain `cargo build` leaves it off).
const BUILD_AGENT: &str =
    "cargo nextest run --workspace --no-run, or cargo build -p vigo-agent --features test-clock";

/// The agent binary, built beside `vigosrv` (with its `test-clock` feature) when the
/// workspace's tests are built.
fn vigo_binary() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_vigosrv")).with_file_name("vigo");
    assert!(p.is_file(), "{} is missing: {BUILD_AGENT}", p.display());
    assert!(
        TestClock::moves(&p).expect("read the agent binary"),
        "{} was built without its test-clock feature: {BUILD_AGENT}",
        p.display()
    );
    p
}

/// The real `vigosrv` on `dir` (whose server.yaml names `listeners`' ports), on
/// loopback, inheriting `listeners`, its clock moved by `clock`.
fn start_server(dir: &Path, listeners: Listeners, clock: &mut TestClock) -> Vigosrv {
    let (key, file) = clock.server_env(dir);
    Vigosrv::start(
        VigosrvOptions::loopback(env!("CARGO_BIN_EXE_vigosrv"), dir, listeners).env(key, file),
    )
    .expect("start vigosrv")
}

/// The real `vigosrv` inside the network namespace at `netns`, binding `host`:`api` and
/// `grpc` itself (nothing else runs in that namespace), its clock moved by `clock`.
fn start_server_in(
    dir: &Path,
    (api, grpc): (u16, u16),
    netns: &str,
    host: &str,
    clock: &mut TestClock,
) -> Vigosrv {
    let (key, file) = clock.server_env(dir);
    Vigosrv::start(VigosrvOptions {
        binary: env!("CARGO_BIN_EXE_vigosrv").into(),
        dir: dir.to_path_buf(),
        host: host.to_owned(),
        listen: Listen::Bind {
            api_port: api,
            grpc_port: grpc,
        },
        netns: Some(netns.to_owned()),
        env: vec![(key.into(), file.into())],
    })
    .expect("start vigosrv")
}

/// The real `vigosrv` on `dir` (see [`start_server`]) and `envoy-1` (see [`envoy`])
/// enrolled with it, both clocks moved by `clock`.
fn enrolled_envoy(
    dir: &Path,
    listeners: Listeners,
    clock: &mut TestClock,
) -> (Vigosrv, SandboxRoot) {
    let server = start_server(dir, listeners, clock);
    server.admin(
        "POST",
        "/api/v1/patterns",
        Some(r#"{"pattern": "envoy-*"}"#),
    );
    let token = server.admin("POST", "/api/v1/tokens", Some(r#"{"expires_in": "1h"}"#))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = envoy("envoy-1", clock);
    assert_eq!(bootstrap(&root, &server, &token).code, Some(0));
    (server, root)
}

/// REST calls as the local admin that fail the test unless answered 2xx.
trait Admin {
    fn token(&self) -> String;
    fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Value;
}

impl Admin for Vigosrv {
    fn token(&self) -> String {
        self.admin_token().expect("the local admin token")
    }

    fn admin(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let (code, text) = self.curl(method, path, Some(&self.token()), body);
        assert!((200..300).contains(&code), "{method} {path}: {code} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
}

/// The stack: a directory, a templated file and, once the secret exists (a publish
/// refuses a reference to a missing secret), a file holding it.
fn write_stack(dir: &Path, greeting: &str, with_secret: bool) {
    std::fs::create_dir_all(dir.join("stacks/configcrates")).unwrap();
    std::fs::write(
        dir.join("stacks/envoys.vgo"),
        format!(
            "envoys:\n  - match: \"envoy-*\"\n    configcrates: [app]\n    vars:\n      greeting: {greeting}\n"
        ),
    )
    .unwrap();
    let mut app = String::from(
        "configcrate: app\nresources:\n  - name: greeting\n    type: file\n    target_path: /etc/app/greeting\n    content: \"{{ .Vars.greeting }} from {{ .Traits.network.hostname }}\\n\"\n    state: present\n  - name: app-dir\n    type: directory\n    target_path: /etc/app\n    state: present\n",
    );
    if with_secret {
        app.push_str("  - name: credentials\n    type: file\n    target_path: /etc/app/credentials\n    content: \"password=secret:app/password\\n\"\n    mode: \"0600\"\n    state: present\n");
    }
    std::fs::write(dir.join("stacks/configcrates/app.vgo"), app).unwrap();
}

/// An envoy in its own Debian root, its agent's clock moved by `clock`.
fn envoy(name: &str, clock: &mut TestClock) -> SandboxRoot {
    let root = SandboxRoot::builder()
        .hostname(name)
        .with_binary(vigo_binary(), VIGO)
        .env(TestClock::agent_env())
        .build()
        .expect("sandbox root");
    clock.attach(&root);
    root
}

/// An envoy in its own Debian root and its own network namespace.
fn envoy_in(name: &str, netns: &vigo_testkit::Netns) -> SandboxRoot {
    SandboxRoot::builder()
        .hostname(name)
        .with_binary(vigo_binary(), VIGO)
        .network_namespace(netns.path())
        .build()
        .expect("sandbox root")
}

fn sh(root: &SandboxRoot, cmd: &str) -> vigo_testkit::Output {
    root.run_timeout(&format!("{{ {cmd}; }} 2>&1"), Duration::from_secs(300))
        .expect("run in sandbox")
}

fn bootstrap(root: &SandboxRoot, server: &Vigosrv, token: &str) -> vigo_testkit::Output {
    sh(
        root,
        &format!(
            "{VIGO} bootstrap --server {} --token {token} --grpc-port {}",
            server.url(),
            server.grpc_port()
        ),
    )
}

#[test]
fn fleet_bootstrap_converge_publish_revoke_and_secrets() {
    // A small LAN: the server in the hub, each envoy in its own namespace.
    let star = vigo_testkit::NetnsStar::new(5).expect("test network");
    let hub = star.hub().path();
    let addr = star.hub_addr().to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (api, grpc) = (8443, 1530);
    std::fs::write(
        dir.join("server.yaml"),
        format!(
            "server:\n  grpc_listen: \"{addr}:{grpc}\"\n  api_listen: \"{addr}:{api}\"\n  hostname: \"{addr}\"\ncheckin:\n  interval: 30s\n"
        ),
    )
    .unwrap();
    write_stack(dir, "hello", false);
    let mut clock = TestClock::new();
    let server = start_server_in(dir, (api, grpc), &hub, &addr, &mut clock);

    // The operator: a secret, an approved pattern, one token per envoy plus spares.
    let (code, _) = server.curl(
        "PUT",
        "/api/v1/secrets/app/password",
        Some(&server.token()),
        Some(SECRET),
    );
    assert!((200..300).contains(&code), "secret set: {code}");
    server.admin(
        "POST",
        "/api/v1/patterns",
        Some(r#"{"pattern": "envoy-*", "trusted": false}"#),
    );
    let token = |pattern: Option<&str>| -> String {
        let body = match pattern {
            Some(p) => format!(r#"{{"expires_in": "1h", "hostname_pattern": "{p}"}}"#),
            None => r#"{"expires_in": "1h"}"#.to_owned(),
        };
        let v = server.admin("POST", "/api/v1/tokens", Some(&body));
        v["token"]
            .as_str()
            .expect("plaintext token once")
            .to_owned()
    };
    // The first start published the tree on disk; now that the secret exists, the crate
    // that uses it is published.
    write_stack(dir, "hello", true);
    server.admin("POST", "/api/v1/config/publish", None);

    // Three envoys bootstrap with their own token and converge.
    let envoys: Vec<SandboxRoot> = (1..=3)
        .map(|i| envoy_in(&format!("envoy-{i}"), star.member(i - 1)))
        .collect();
    let mut tokens = Vec::new();
    for root in &envoys {
        let t = token(None);
        let out = bootstrap(root, &server, &t);
        assert_eq!(out.code, Some(0), "bootstrap: {}", out.stdout);
        tokens.push(t);
        let out = sh(root, &format!("{VIGO} run"));
        assert_eq!(out.code, Some(0), "run: {}", out.stdout);
    }
    for (i, root) in envoys.iter().enumerate() {
        assert_eq!(
            root.read_file("/etc/app/greeting").unwrap(),
            format!("hello from envoy-{}\n", i + 1)
        );
        assert_eq!(
            root.read_file("/etc/app/credentials").unwrap(),
            format!("password={SECRET}\n"),
            "the secret reached the file"
        );
    }
    // Results through REST.
    let runs = server.admin("GET", "/api/v1/envoys/envoy-1/runs", None);
    let run_id = runs
        .as_array()
        .and_then(|a| a.first())
        .or_else(|| runs["runs"].as_array().and_then(|a| a.first()))
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("no run for envoy-1: {runs}"))
        .to_owned();
    let run = server.admin("GET", &format!("/api/v1/runs/{run_id}"), None);
    let text = run.to_string();
    assert!(
        text.contains("/etc/app/greeting") || text.contains("greeting"),
        "{text}"
    );
    assert!(text.contains("created"), "{text}");

    // Refusals: a reused token, a wrong token, a hostname outside the patterns.
    let extra = envoy_in("envoy-4", star.member(3));
    let out = bootstrap(&extra, &server, &tokens[0]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("already used"), "{}", out.stdout);
    let out = bootstrap(
        &extra,
        &server,
        "vget_0000000000000000000000000000000000000000000000000000000000000000",
    );
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("wrong enrollment token"),
        "{}",
        out.stdout
    );
    let short = server.admin("POST", "/api/v1/tokens", Some(r#"{"expires_in": "1s"}"#))["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two seconds later by the server's clock (no waiting): the token has expired.
    clock.set(2).unwrap();
    let out = bootstrap(&extra, &server, &short);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("enrollment token expired"),
        "{}",
        out.stdout
    );
    let stranger = envoy_in("db-1", star.member(4));
    let out = bootstrap(&stranger, &server, &token(None));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("not approved"), "{}", out.stdout);

    // A published change reaches the next run; a bad publish changes nothing.
    write_stack(dir, "bonjour", true);
    let v1 = server.admin("POST", "/api/v1/config/publish", None);
    let out = sh(&envoys[0], &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(
        envoys[0].read_file("/etc/app/greeting").unwrap(),
        "bonjour from envoy-1\n"
    );
    std::fs::write(
        dir.join("stacks/configcrates/broken.vgo"),
        "configcrate: broken\nresources:\n  - name: x\n    type: fiel\n",
    )
    .unwrap();
    let (code, text) = server.curl(
        "POST",
        "/api/v1/config/publish",
        Some(&server.token()),
        None,
    );
    assert_eq!(code, 422, "{text}");
    assert!(text.contains("configcrates/broken.vgo:4:"), "{text}");
    let live = server.admin("GET", "/api/v1/config/version", None);
    assert_eq!(
        live["version"], v1["version"],
        "a bad publish changes nothing"
    );
    std::fs::remove_file(dir.join("stacks/configcrates/broken.vgo")).unwrap();

    // A revoked envoy is refused.
    server.admin("POST", "/api/v1/envoys/envoy-3/revoke", None);
    let out = sh(&envoys[2], &format!("{VIGO} run"));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("revoked"), "{}", out.stdout);

    // The secret is nowhere but in the file it was meant for.
    let stop_dir = dir.to_path_buf();
    server.stop().unwrap();
    // (A restart keeps every enrollment and the signing key: envoy-2 converges again.)
    let server = start_server_in(&stop_dir, (api, grpc), &hub, &addr, &mut clock);
    let out = sh(&envoys[1], &format!("{VIGO} run"));
    assert_eq!(
        out.code,
        Some(0),
        "restart keeps enrollments: {}",
        out.stdout
    );
    for entry in walkdir(dir) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        if entry.starts_with(dir.join("secrets")) {
            continue; // the encrypted store itself
        }
        assert!(
            !contains(&bytes, SECRET.as_bytes()),
            "the secret leaked into {}",
            entry.display()
        );
    }
    assert!(!server.log().contains(SECRET));
    for root in &envoys {
        for entry in walkdir(&root.host_path("/var/lib/vigo")) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(
                !contains(&bytes, SECRET.as_bytes()),
                "the secret leaked into the agent's {}",
                entry.display()
            );
        }
    }
    let runs = server.admin("GET", "/api/v1/envoys/envoy-2/runs", None);
    assert!(!runs.to_string().contains(SECRET));
    server.stop().unwrap();
    drop((envoys, extra, stranger));
    star.close().unwrap();
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out
}

/// The run ids the server holds for `hostname`, newest first.
fn run_ids(server: &Vigosrv, hostname: &str) -> Vec<String> {
    let runs = server.admin(
        "GET",
        &format!("/api/v1/envoys/{hostname}/runs?limit=100"),
        None,
    );
    runs.as_array()
        .unwrap_or_else(|| panic!("runs: {runs}"))
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect()
}

fn server_yaml(dir: &Path, listeners: &Listeners, max_age: &str) {
    std::fs::write(
        dir.join("server.yaml"),
        format!(
            "server:\n{}  hostname: localhost\ncheckin:\n  interval: 30s\n  bundle_max_age: {max_age}\n",
            listeners.yaml()
        ),
    )
    .unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn offline_repair_queue_drain_expiry_and_fallback() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    std::fs::create_dir_all(&dir).unwrap();
    let listeners = Listeners::loopback().unwrap();
    let (api, grpc) = (listeners.api_port(), listeners.grpc_port());
    server_yaml(&dir, &listeners, "20s");
    write_stack(&dir, "hello", false);
    let mut clock = TestClock::new();
    let (server, root) = enrolled_envoy(&dir, listeners, &mut clock);
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(run_ids(&server, "envoy-1").len(), 1);

    // The server goes away; someone edits the managed file; the agent repairs it from
    // its cached bundle and queues the report.
    server.stop().unwrap();
    root.write_file("/etc/app/greeting", "tampered\n").unwrap();
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(
        out.stdout.contains("the report is queued"),
        "{}",
        out.stdout
    );
    assert_eq!(
        root.read_file("/etc/app/greeting").unwrap(),
        "hello from envoy-1\n",
        "repaired offline"
    );
    let status = sh(&root, &format!("{VIGO} status"));
    assert!(
        status.stdout.contains("Pending results:  1"),
        "{}",
        status.stdout
    );

    // Back online: the queue drains first, in order, exactly once.
    let server = start_server(&dir, Listeners::rebind(api, grpc).unwrap(), &mut clock);
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let ids = run_ids(&server, "envoy-1");
    assert_eq!(ids.len(), 3, "initial + queued + this run: {ids:?}");
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    // An all-`none` run identical to the last is a steady heartbeat, not a new run row.
    let again = run_ids(&server, "envoy-1");
    assert_eq!(again, ids, "nothing sent twice after the drain");
    let status = sh(&root, &format!("{VIGO} status"));
    assert!(
        status.stdout.contains("Pending results:  0"),
        "{}",
        status.stdout
    );

    // A fallback server (a replica of the data dir on other ports) takes over when the
    // primary is down.
    server.stop().unwrap();
    let dir_b = tmp.path().join("b");
    copy_dir(&dir, &dir_b);
    let _ = std::fs::remove_file(dir_b.join("server.log"));
    let listeners_b = Listeners::loopback().unwrap();
    let grpc_b = listeners_b.grpc_port();
    // A version of its own, so the agent takes the fallback's bundle (an unchanged
    // version is answered `no_change` and the agent keeps the primary's).
    server_yaml(&dir_b, &listeners_b, "20s");
    write_stack(&dir_b, "hello again", false);
    let fallback = start_server(&dir_b, listeners_b, &mut clock);
    fallback.admin("POST", "/api/v1/config/publish", None);
    let config = root.read_file("/etc/vigo-envoy/config").unwrap();
    root.write_file(
        "/etc/vigo-envoy/config",
        format!("{config}fallback_servers: [\"127.0.0.1:{grpc_b}\"]\n"),
    )
    .unwrap();
    root.write_file("/etc/app/greeting", "tampered again\n")
        .unwrap();
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(
        !out.stdout.contains("queued"),
        "served by the fallback: {}",
        out.stdout
    );
    assert_eq!(
        run_ids(&fallback, "envoy-1").len(),
        4,
        "the fallback got the report"
    );
    fallback.stop().unwrap();

    // With every server gone past the bundle's max age, convergence stops and says why.
    // The expiry is judged by the agent's own clock: a minute later (no waiting) the 20 s
    // bundle has expired.
    clock.set(60).unwrap();
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("expired"), "{}", out.stdout);
    let status = sh(&root, &format!("{VIGO} status"));
    assert!(
        status
            .stdout
            .contains("Expired:        yes (convergence stopped"),
        "{}",
        status.stdout
    );
}

/// The client certificate's serial and PEM as the server holds them.
fn server_cert(server: &Vigosrv, hostname: &str) -> (String, String) {
    let envoy = server.admin("GET", &format!("/api/v1/envoys/{hostname}"), None);
    let field = |k: &str| {
        envoy[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k}: {envoy}"))
            .to_owned()
    };
    (field("cert_serial"), field("cert_pem"))
}

#[test]
fn client_certificate_renewal_once_a_third_of_its_lifetime_remains() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let listeners = Listeners::loopback().unwrap();
    // Certificates of one hour (the shortest allowed), bundles that never expire: the
    // certificate's renewal point, 40 minutes on, is what the moved clocks pass.
    std::fs::write(
        dir.join("server.yaml"),
        format!(
            "server:\n{}  hostname: localhost\ncheckin:\n  interval: 30s\n  bundle_max_age: 0\nenrollment:\n  client_cert_validity: 1h\n",
            listeners.yaml()
        ),
    )
    .unwrap();
    write_stack(dir, "hello", false);
    let mut clock = TestClock::new();
    let (server, root) = enrolled_envoy(dir, listeners, &mut clock);
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let (serial, pem) = server_cert(&server, "envoy-1");
    assert_eq!(root.read_file("/etc/vigo-envoy/cert.pem").unwrap(), pem);
    let status = sh(&root, &format!("{VIGO} status"));
    assert!(!status.stdout.contains("renewal due"), "{}", status.stdout);

    // 41 minutes later on both clocks (no waiting): under a third of the lifetime is
    // left. The new certificate's start is backdated an hour by the server, so it is
    // already valid by the real clock that TLS checks.
    clock.set(41 * 60).unwrap();
    let status = sh(&root, &format!("{VIGO} status"));
    assert!(status.stdout.contains("(renewal due)"), "{}", status.stdout);
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let (renewed_serial, renewed_pem) = server_cert(&server, "envoy-1");
    assert_ne!(
        renewed_serial, serial,
        "the server recorded a new certificate"
    );
    assert_eq!(
        root.read_file("/etc/vigo-envoy/cert.pem").unwrap(),
        renewed_pem,
        "the agent installed the certificate the server recorded"
    );
    let status = sh(&root, &format!("{VIGO} status"));
    assert!(!status.stdout.contains("renewal due"), "{}", status.stdout);

    // It keeps checking in with the new certificate: a changed file is repaired and
    // reported, and nothing is renewed again.
    let before = run_ids(&server, "envoy-1");
    root.write_file("/etc/app/greeting", "tampered\n").unwrap();
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(!out.stdout.contains("queued"), "{}", out.stdout);
    assert_eq!(run_ids(&server, "envoy-1").len(), before.len() + 1);
    assert_eq!(server_cert(&server, "envoy-1").0, renewed_serial);
}

#[test]
fn bootstrap_install_service_converges_on_its_own_in_a_booted_container() {
    let pair = vigo_testkit::NetnsPair::new().expect("network namespace pair");
    let server_ns = pair.netns(vigo_testkit::Side::A).path();
    let addr = pair.addr(vigo_testkit::Side::A).to_owned();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("server.yaml"),
        format!(
            "server:\n  grpc_listen: \"{addr}:1530\"\n  api_listen: \"{addr}:8443\"\n  hostname: \"{addr}\"\ncheckin:\n  interval: 2s\n"
        ),
    )
    .unwrap();
    write_stack(dir, "hello", false);
    // The container's hostname is its machine name: match every host.
    let envoys = std::fs::read_to_string(dir.join("stacks/envoys.vgo")).unwrap();
    std::fs::write(
        dir.join("stacks/envoys.vgo"),
        envoys.replace("\"envoy-*\"", "\"*\""),
    )
    .unwrap();
    let server = start_server_in(dir, (8443, 1530), &server_ns, &addr, &mut TestClock::new());
    server.admin("POST", "/api/v1/patterns", Some(r#"{"pattern": "*"}"#));
    let token = server.admin("POST", "/api/v1/tokens", Some(r#"{"expires_in": "1h"}"#))["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let c = vigo_testkit::SystemdContainer::builder()
        .with_binary(vigo_binary(), VIGO)
        .network_namespace(pair.netns(vigo_testkit::Side::B).path())
        .boot()
        .expect("systemd container");
    let out = c
        .exec(&format!(
            "{VIGO} bootstrap --server {} --token {token} --install-service 2>&1",
            server.url()
        ))
        .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let sh = |cmd: &str| c.exec(cmd).unwrap().stdout.trim().to_owned();
    assert_eq!(sh("systemctl is-enabled vigo-envoy"), "enabled");
    assert_eq!(sh("systemctl is-active vigo-envoy"), "active");

    // The daemon converges on its own, then repairs drift at its next check-in.
    let hostname = sh("hostname");
    let want = format!("hello from {hostname}\n");
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if c.read_file("/etc/app/greeting").ok().as_deref() == Some(want.as_str()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {}",
                sh("journalctl -u vigo-envoy --no-pager | tail -20")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    };
    wait_for("the daemon did not converge");
    c.write_file("/etc/app/greeting", "tampered\n").unwrap();
    wait_for("the daemon did not repair the drift");
    let rss = sh("grep VmRSS /proc/$(systemctl show -p MainPID --value vigo-envoy)/status");
    println!("daemon {rss}");
    c.shutdown().unwrap();
    server.stop().unwrap();
    pair.close().unwrap();
}

#[test]
fn vigo_run_preempts_a_converging_daemon_between_resources() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let listeners = Listeners::loopback().unwrap();
    server_yaml(dir, &listeners, "24h");
    std::fs::create_dir_all(dir.join("stacks/configcrates")).unwrap();
    std::fs::write(
        dir.join("stacks/envoys.vgo"),
        "envoys:\n  - match: \"envoy-*\"\n    configcrates: [slow]\n",
    )
    .unwrap();
    // Six resources of one second each, changing on every run.
    let mut slow = String::from("configcrate: slow\nresources:\n");
    for i in 1..=6 {
        slow.push_str(&format!(
            "  - name: step-{i}\n    type: exec\n    command: \"sleep 1; echo {i} >> /tmp/steps\"\n"
        ));
    }
    std::fs::write(dir.join("stacks/configcrates/slow.vgo"), slow).unwrap();
    let mut clock = TestClock::new();
    let (server, root) = enrolled_envoy(dir, listeners, &mut clock);

    // The daemon starts converging; once it is inside the pass, a manual run asks for the
    // machine.
    sh(
        &root,
        &format!("{VIGO} daemon > /tmp/daemon.log 2>&1 & true"),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !root.read_file("/tmp/steps").is_ok_and(|s| !s.is_empty()) {
        assert!(
            Instant::now() < deadline,
            "the daemon never started converging"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = sh(&root, &format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let daemon = root.read_file("/tmp/daemon.log").unwrap();
    assert!(
        daemon.contains("(preempted by a manual run)"),
        "the daemon yielded: {daemon}"
    );
    // The daemon finished at most the resource it was in after the run asked: its pass
    // wrote fewer than six steps before the manual run's six.
    let steps = root.read_file("/tmp/steps").unwrap();
    let lines: Vec<&str> = steps.lines().collect();
    let daemon_steps = lines.len() - 6;
    assert!(
        (1..6).contains(&daemon_steps),
        "daemon ran {daemon_steps} steps before yielding: {steps}"
    );
    assert_eq!(&lines[daemon_steps..], ["1", "2", "3", "4", "5", "6"]);
    server.stop().unwrap();
}
