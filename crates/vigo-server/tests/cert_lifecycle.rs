//! Certificates and keys over time, end to end: the real `vigosrv` binary on loopback
//! and real `vigo` agents, each in its own disposable Debian root (vigo-testkit),
//! enrolled with `vigo bootstrap` and converging with `vigo run`. Time is moved, never
//! waited for: an agent's certificate is replaced by one issued (by the server's own CA)
//! 250 days into a 365-day life, or already expired.
//!
//! Covers: an agent in the last third of its certificate's life renews it at the next
//! run over its authenticated channel, the store records the new one, `vigo status`
//! shows the expiry, and the next handshake works with the new pair alone; an expired
//! certificate cannot renew and the agent says to enroll again, which works; a
//! bundle-key rotation (REST) re-pins an agent at its next run, an agent offline through
//! two rotations follows both at once, and bundles of the new key verify after a
//! publish and a server restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair, SanType};
use serde_json::Value;
use vigo_testkit::{Listeners, SandboxRoot, Vigosrv, VigosrvOptions};

const VIGO: &str = "/usr/local/sbin/vigo";
const DAY: i64 = 86_400;

fn vigo_binary() -> PathBuf {
    vigo_testkit::binary_beside(Path::new(env!("CARGO_BIN_EXE_vigosrv")), "vigo").unwrap()
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A server on loopback over `dir`, inheriting `listeners`, serving a one-file stack
/// to `envoy-*`.
fn start_server(dir: &Path, listeners: Listeners, greeting: &str) -> Vigosrv {
    std::fs::write(
        dir.join("server.yaml"),
        format!(
            "server:\n{}  hostname: localhost\ncheckin:\n  interval: 30s\n",
            listeners.yaml()
        ),
    )
    .unwrap();
    write_stack(dir, greeting);
    Vigosrv::start(VigosrvOptions::loopback(
        env!("CARGO_BIN_EXE_vigosrv"),
        dir,
        listeners,
    ))
    .expect("start vigosrv")
}

fn write_stack(dir: &Path, greeting: &str) {
    std::fs::create_dir_all(dir.join("stacks/configcrates")).unwrap();
    std::fs::write(
        dir.join("stacks/envoys.vgo"),
        "envoys:\n  - match: \"envoy-*\"\n    configcrates: [app]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("stacks/configcrates/app.vgo"),
        format!(
            "configcrate: app\nresources:\n  - name: greeting\n    type: file\n    target_path: /etc/greeting\n    content: \"{greeting}\\n\"\n    state: present\n"
        ),
    )
    .unwrap();
}

/// REST as the local admin, failing the test unless answered 2xx.
fn admin(server: &Vigosrv, method: &str, path: &str, body: Option<&str>) -> Value {
    let token = server.admin_token().unwrap();
    let (code, text) = server.curl(method, path, Some(&token), body);
    assert!((200..300).contains(&code), "{method} {path}: {code} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn enrollment_token(server: &Vigosrv) -> String {
    admin(
        server,
        "POST",
        "/api/v1/tokens",
        Some(r#"{"expires_in": "1h"}"#),
    )["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn envoy(name: &str) -> SandboxRoot {
    SandboxRoot::builder()
        .hostname(name)
        .with_binary(vigo_binary(), VIGO)
        .build()
        .expect("sandbox root")
}

fn sh(root: &SandboxRoot, cmd: &str) -> vigo_testkit::Output {
    root.run_timeout(&format!("{{ {cmd}; }} 2>&1"), Duration::from_secs(300))
        .expect("run in sandbox")
}

/// Runs `vigo ARGS` in `root`, asserting exit code `code`; returns its output.
fn vigo(root: &SandboxRoot, args: &str, code: i32) -> String {
    let out = sh(root, &format!("{VIGO} {args}"));
    assert_eq!(out.code, Some(code), "vigo {args}:\n{}", out.stdout);
    out.stdout
}

fn bootstrap(root: &SandboxRoot, server: &Vigosrv, extra: &str) {
    let token = enrollment_token(server);
    vigo(
        root,
        &format!(
            "bootstrap --server {} --token {token} --grpc-port {} {extra}",
            server.url(),
            server.grpc_port()
        ),
        0,
    );
}

/// The server's CA as an issuer, from its data dir.
fn server_ca(dir: &Path) -> Issuer<'static, KeyPair> {
    let ca = std::fs::read_to_string(dir.join("tls/ca")).unwrap();
    let key = KeyPair::from_pem(&std::fs::read_to_string(dir.join("tls/ca_key")).unwrap()).unwrap();
    Issuer::from_ca_cert_pem(&ca, key).unwrap()
}

/// Replaces the envoy's client certificate with one the server's CA issues for the same
/// envoy and key, valid from `from` to `until` (Unix seconds): the clock moved.
fn age_certificate(root: &SandboxRoot, dir: &Path, envoy_id: &str, from: i64, until: i64) {
    let key = KeyPair::from_pem(&root.read_file("/etc/vigo-envoy/key.pem").unwrap()).unwrap();
    let at = |t| time::OffsetDateTime::from_unix_timestamp(t).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, envoy_id);
    params.subject_alt_names = vec![SanType::DnsName("envoy-1".try_into().unwrap())];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = at(from);
    params.not_after = at(until);
    let cert = params.signed_by(&key, &server_ca(dir)).unwrap();
    root.write_file("/etc/vigo-envoy/cert.pem", cert.pem())
        .unwrap();
}

/// (serial hex, not_before, not_after) of a PEM certificate.
fn cert_facts(pem: &str) -> (String, i64, i64) {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    (
        hex::encode(cert.raw_serial()),
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    )
}

fn status_cert_line(root: &SandboxRoot) -> String {
    vigo(root, "status", 0)
        .lines()
        .find(|l| l.starts_with("Client cert:"))
        .unwrap_or_else(|| panic!("no Client cert line in vigo status"))
        .to_owned()
}

#[test]
fn an_agent_at_day_250_of_365_renews_its_certificate_and_an_expired_one_re_enrolls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = start_server(dir, Listeners::loopback().unwrap(), "hello");
    admin(
        &server,
        "POST",
        "/api/v1/patterns",
        Some(r#"{"pattern": "envoy-*"}"#),
    );
    let root = envoy("envoy-1");
    bootstrap(&root, &server, "");
    vigo(&root, "run", 0);
    let envoy_id = admin(&server, "GET", "/api/v1/envoys/envoy-1", None)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let line = status_cert_line(&root);
    assert!(
        line.starts_with("Client cert:      expires ") && !line.contains("due"),
        "fresh: {line}"
    );

    // Day 250 of 365: due. The next run renews it, with a new key.
    age_certificate(&root, dir, &envoy_id, now() - 250 * DAY, now() + 115 * DAY);
    let aged = root.read_file("/etc/vigo-envoy/cert.pem").unwrap();
    let old_key = root.read_file("/etc/vigo-envoy/key.pem").unwrap();
    assert!(status_cert_line(&root).ends_with("(renewal due)"));
    let out = vigo(&root, "run", 0);
    assert!(out.contains("client certificate renewed"), "{out}");
    let renewed = root.read_file("/etc/vigo-envoy/cert.pem").unwrap();
    assert_ne!(renewed, aged);
    assert_ne!(root.read_file("/etc/vigo-envoy/key.pem").unwrap(), old_key);
    let (serial, not_before, not_after) = cert_facts(&renewed);
    assert!((now() - not_before) < 2 * 3600, "issued now");
    assert!(not_after - now() > 364 * DAY, "a full lifetime again");
    // The server recorded it, and audited the renewal.
    let shown = admin(&server, "GET", "/api/v1/envoys/envoy-1", None);
    assert_eq!(shown["cert_serial"], serial.as_str(), "{shown}");
    let audit = admin(&server, "GET", "/api/v1/audit?limit=100", None);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "envoy.cert_renewed" && e["actor"] == envoy_id.as_str()),
        "{audit}"
    );
    // The new pair alone carries the next handshake; nothing is due any more.
    let out = vigo(&root, "run", 0);
    assert!(
        !out.contains("renewed") && !out.contains("offline"),
        "{out}"
    );
    assert!(!status_cert_line(&root).contains("due"));

    // Expired: the server's handshake refuses it, the agent says to enroll again...
    age_certificate(&root, dir, &envoy_id, now() - 400 * DAY, now() - DAY);
    let out = vigo(&root, "run", 0);
    assert!(out.contains("vigo: warning: offline: "), "{out}");
    assert!(out.contains("vigo bootstrap --force"), "{out}");
    assert!(status_cert_line(&root).contains("expired"));
    // ...and enrolling again works.
    bootstrap(&root, &server, "--force");
    let out = vigo(&root, "run", 0);
    assert!(!out.contains("offline"), "{out}");
    server.stop().unwrap();
}

#[test]
fn rotation_re_pins_online_and_offline_agents_and_new_bundles_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let server = start_server(dir, Listeners::loopback().unwrap(), "hello");
    let ports = (server.api_port(), server.grpc_port());
    admin(
        &server,
        "POST",
        "/api/v1/patterns",
        Some(r#"{"pattern": "envoy-*"}"#),
    );
    let (online, offline) = (envoy("envoy-1"), envoy("envoy-2"));
    for root in [&online, &offline] {
        bootstrap(root, &server, "");
        vigo(root, "run", 0);
    }
    let pinned = |root: &SandboxRoot| root.read_file("/etc/vigo-envoy/server.pub").unwrap();
    let k0 = pinned(&online);
    assert_eq!(pinned(&offline), k0);

    // One rotation: the agent that runs re-pins and converges.
    let first = admin(&server, "POST", "/api/v1/server/rotate-bundle-key", None);
    let k1_id = first["new_key_id"].as_str().unwrap().to_owned();
    let out = vigo(&online, "run", 0);
    assert!(out.contains(&format!("key rotated to {k1_id}")), "{out}");
    assert_ne!(pinned(&online), k0);

    // A second one while envoy-2 still sleeps: it follows both at its next run.
    let second = admin(&server, "POST", "/api/v1/server/rotate-bundle-key", None);
    let k2_id = second["new_key_id"].as_str().unwrap().to_owned();
    let out = vigo(&offline, "run", 0);
    assert!(out.contains(&format!("key rotated to {k2_id}")), "{out}");
    let out = vigo(&online, "run", 0);
    assert!(out.contains(&format!("key rotated to {k2_id}")), "{out}");
    assert_eq!(pinned(&online), pinned(&offline));

    // Bundles of the new key verify: a publish reaches both, also after a restart.
    write_stack(dir, "bonjour");
    admin(&server, "POST", "/api/v1/config/publish", None);
    server.stop().unwrap();
    let server = start_server(dir, Listeners::rebind(ports.0, ports.1).unwrap(), "bonjour");
    assert_eq!(
        admin(&server, "GET", "/api/v1/server/bundle-key", None)["key_id"],
        k2_id.as_str(),
        "the rotated key survives the restart"
    );
    for root in [&online, &offline] {
        let out = vigo(root, "run", 0);
        assert!(
            !out.contains("rotated") && !out.contains("refused"),
            "{out}"
        );
        assert_eq!(root.read_file("/etc/greeting").unwrap(), "bonjour\n");
    }
    server.stop().unwrap();
}
