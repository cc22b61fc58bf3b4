//! `vigo status` inside a sandbox: the normal layout as root, and the degraded layout for a
//! user who cannot open the root-only state store; and, on temporary directories, a
//! cached bundle that does not verify.

mod envoy;

use envoy::{Envoy, empty_bundle, server_key};
use vigo_testkit::SandboxRoot;

#[test]
fn normal_and_degraded_layouts() {
    let root = SandboxRoot::builder()
        .with_binary(env!("CARGO_BIN_EXE_vigo"), "/usr/local/sbin/vigo")
        .build()
        .unwrap();
    let setup = root
        .run("mkdir -p /etc/vigo-envoy /var/lib/vigo/state && chmod 700 /var/lib/vigo/state && printf 'server: vigo.example.com:1530\\nenvoy_id: a1b2c3d4-e5f6-7890-abcd-ef1234567890\\n' > /etc/vigo-envoy/config")
        .unwrap();
    assert!(setup.success(), "{}", setup.stderr);

    // As an unprivileged user: the state store is unreadable.
    let degraded = root.run("su -s /bin/sh nobody -c 'vigo status'").unwrap();
    assert!(degraded.success(), "{}", degraded.stderr);
    assert_eq!(
        degraded.stdout,
        "\
Envoy ID:        a1b2c3d4-e5f6-7890-abcd-ef1234567890
Server:           vigo.example.com:1530
Fallback servers: none
Data directory:   /etc/vigo-envoy
State store:      /var/lib/vigo/state

Policy:           (state store unavailable: permission denied)
Traits:           (state store unavailable)
Pending results:  (state store unavailable)
Server pubkey:    absent

Settings:
  server                vigo.example.com:1530 (config)
  ca_file               /etc/vigo-envoy/ca.pem (default)
  cert_file             /etc/vigo-envoy/cert.pem (default)
  key_file              /etc/vigo-envoy/key.pem (default)
  log_level             info (default)
  api_addr              https://localhost:8443 (default)
  executors_dir         /etc/vigo-envoy/executors (default)
  snapshot_dir          /var/lib/vigo/snapshots (default)
  snapshot_retention    5 (default)
  trait_refresh_cycles  10 (default)
  result_cache_cycles   5 (default)
"
    );

    // As root with no store written yet: the normal layout, nothing cached.
    let normal = root
        .run("rmdir /var/lib/vigo/state && vigo status")
        .unwrap();
    assert!(normal.success(), "{}", normal.stderr);
    assert!(normal.stdout.contains("\nPolicy:\n  Cached:         no\n\nTraits:\n  Cached:         no\n\nPending results:  0\n"), "{}", normal.stdout);

    // A bad config value stops it, naming the file and the key.
    root.write_file("/etc/vigo-envoy/config", "snapshot_retension: 3\n")
        .unwrap();
    let bad = root.run("vigo status").unwrap();
    assert_eq!(bad.code, Some(1));
    assert!(bad.stderr.starts_with("vigo: /etc/vigo-envoy/config:1:1: unknown key `snapshot_retension` (did you mean `snapshot_retention`?)"), "{}", bad.stderr);
}

#[test]
fn a_tampered_cached_bundle_is_reported_not_shown() {
    let e = Envoy::new();
    let mut bundle = empty_bundle();
    bundle.version = "20260316T140000Z".into();
    let mut signed = vigo_core::signing::sign(&bundle, &server_key());
    // Someone with write access to the state store edits the version it claims.
    let at = signed
        .payload
        .windows(4)
        .position(|w| w == b"2026")
        .unwrap();
    signed.payload[at..at + 4].copy_from_slice(b"2099");
    e.cache(&signed);

    let out = e.vigo().arg("status").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "status reports; it does not fail"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("2099"), "{stdout}");
    insta::with_settings!({filters => vec![(e.tmp.path().to_str().unwrap(), "[TMP]")]}, {
        insta::assert_snapshot!(stdout, @r"
        Envoy ID:        (not registered)
        Server:           localhost:1530
        Fallback servers: none
        Data directory:   [TMP]/etc
        State store:      [TMP]/var/state

        Policy:           (cached bundle does not verify: bad signature: the bundle was altered or not signed by the pinned key)

        Traits:
          Cached:         no

        Pending results:  0
        Server pubkey:    present

        Settings:
          server                localhost:1530 (default)
          ca_file               [TMP]/etc/ca.pem (default)
          cert_file             [TMP]/etc/cert.pem (default)
          key_file              [TMP]/etc/key.pem (default)
          log_level             info (default)
          api_addr              https://localhost:8443 (default)
          executors_dir         [TMP]/executors (flag)
          snapshot_dir          [TMP]/snapshots (flag)
          snapshot_retention    5 (default)
          trait_refresh_cycles  10 (default)
          result_cache_cycles   5 (default)
        ");
    });

    // The agent refuses the same bundle, in the same words.
    let run = e.vigo().args(["run", "--dry-run"]).output().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("the cached bundle does not verify: bad signature"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
