//! The agent's client/server lifecycle without a server: bundle verification in the
//! convergence cycle, the offline queue against the real LMDB store, saving an
//! enrollment, and the commands' errors when no server answers.
//!
//! End-to-end tests against a real `vigosrv` live elsewhere; everything here runs on
//! temporary directories only (the binary is pointed at them with `--ca-file` etc. and the
//! test-only `VIGO_DATA_DIR` / `VIGO_STATE_ROOT`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use assert_cmd::Command;
use ed25519_dalek::SigningKey;
use prost::Message;
use vigo_agent::client::ClientError;
use vigo_agent::clock::ManualClock;
use vigo_agent::converge::{ConvergeError, Converger, Delivery, accept_bundle};
use vigo_agent::enroll::{self, Enrollee, Enrollment, SERVER_PUB};
use vigo_agent::preempt::{self, Turn};
use vigo_agent::reports::{Bounds, Held, drain};
use vigo_agent::settings::{ConfigFile, Settings};
use vigo_agent::state::StateStore;
use vigo_core::signing::{self, VerifyError};
use vigo_proto::v1::{PolicyBundle, ReportResultRequest, SignedBundle};

fn now() -> i64 {
    vigo_agent::clock::now_unix()
}

fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

fn empty_bundle(issued: i64, max_age: u64) -> PolicyBundle {
    PolicyBundle {
        version: "20260101T000000Z".into(),
        match_pattern: "*".into(),
        max_age_secs: max_age,
        issued_at_unix: issued,
        ..Default::default()
    }
}

struct Env {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    root: PathBuf,
}

fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("etc");
    let root = tmp.path().join("var");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    Env {
        data,
        root,
        _tmp: tmp,
    }
}

fn settings(e: &Env) -> Settings {
    Settings {
        server: "127.0.0.1:1".into(),
        api_addr: "https://127.0.0.1:1".into(),
        executors_dir: e.data.join("executors"),
        snapshot_dir: e.root.join("snapshots"),
        ..Settings::defaults(&e.data, &e.root.join("state"))
    }
}

/// Caches `signed` as if it had been received, and pins `pinned`.
fn cache(e: &Env, signed: &SignedBundle, pinned: &SigningKey) {
    let store = StateStore::open(&e.root.join("state")).unwrap();
    store.put_bundle(&signed.encode_to_vec(), now()).unwrap();
    enroll::pin_server_key(&e.data.join(SERVER_PUB), &pinned.verifying_key()).unwrap();
}

async fn offline_cycle(e: &Env) -> Result<vigo_agent::converge::CycleOutcome, ConvergeError> {
    let Turn::Go(guard) = preempt::try_acquire_for_daemon(&e.root).unwrap() else {
        panic!("lock free");
    };
    let stop = AtomicBool::new(false);
    let mut c = Converger::new(settings(e), false, None).unwrap();
    c.cycle(&guard, &stop, true).await
}

#[test]
fn accept_bundle_refuses_tampered_unknown_key_and_expired() {
    let key = server_key();
    let good = signing::sign(&empty_bundle(now(), 3600), &key);
    assert!(accept_bundle(&good, &key.verifying_key(), now()).is_ok());

    let mut tampered = good.clone();
    let last = tampered.payload.len() - 1;
    tampered.payload[last] ^= 1;
    assert!(matches!(
        accept_bundle(&tampered, &key.verifying_key(), now()),
        Err(VerifyError::BadSignature | VerifyError::Undecodable(_))
    ));

    let other = SigningKey::from_bytes(&[7; 32]);
    let foreign = signing::sign(&empty_bundle(now(), 3600), &other);
    assert!(matches!(
        accept_bundle(&foreign, &key.verifying_key(), now()),
        Err(VerifyError::WrongKey { .. })
    ));
    // Same key id but a signature by another key: still refused.
    let forged = SignedBundle {
        key_id: good.key_id,
        ..foreign
    };
    assert_eq!(
        accept_bundle(&forged, &key.verifying_key(), now()),
        Err(VerifyError::BadSignature)
    );

    let old = signing::sign(&empty_bundle(now() - 7200, 3600), &key);
    assert!(matches!(
        accept_bundle(&old, &key.verifying_key(), now()),
        Err(VerifyError::Expired { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_refuses_a_tampered_cached_bundle() {
    let e = env();
    let key = server_key();
    let mut signed = signing::sign(&empty_bundle(now(), 0), &key);
    signed.payload.push(0);
    cache(&e, &signed, &key);
    let err = offline_cycle(&e).await.unwrap_err();
    assert!(
        err.to_string().contains("does not verify"),
        "a tampered bundle is never applied: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_refuses_a_bundle_signed_by_an_unpinned_key() {
    let e = env();
    let signed = signing::sign(&empty_bundle(now(), 0), &SigningKey::from_bytes(&[9; 32]));
    cache(&e, &signed, &server_key());
    let err = offline_cycle(&e).await.unwrap_err();
    assert!(err.to_string().contains("pinned server key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cycle_without_a_pinned_key_applies_nothing() {
    let e = env();
    let key = server_key();
    let store = StateStore::open(&e.root.join("state")).unwrap();
    store
        .put_bundle(
            &signing::sign(&empty_bundle(now(), 0), &key).encode_to_vec(),
            now(),
        )
        .unwrap();
    drop(store);
    let err = offline_cycle(&e).await.unwrap_err();
    assert!(err.to_string().contains("no pinned server key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_cached_bundle_stops_convergence_and_status_says_so() {
    let e = env();
    let key = server_key();
    cache(
        &e,
        &signing::sign(&empty_bundle(now() - 100, 10), &key),
        &key,
    );
    let err = offline_cycle(&e).await.unwrap_err();
    assert!(matches!(err, ConvergeError::Expired(_)), "{err}");
    assert!(err.to_string().contains("bundle expired"), "{err}");
    let store = StateStore::open(&e.root.join("state")).unwrap();
    let halted = String::from_utf8(store.meta("halted").unwrap().unwrap()).unwrap();
    assert!(halted.contains("expired"), "{halted}");
    assert_eq!(store.pending_results().unwrap(), 0, "nothing ran");
    drop(store);
    let view = vigo_agent::status_cmd::gather(&settings(&e), now());
    assert!(view.store.unwrap().policy.verified().unwrap().expired);
}

/// Time is moved, not waited for: the same cached bundle converges until its max age,
/// then stops convergence, and the report carries the clock's start time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_bundle_expires_when_the_clock_passes_its_max_age() {
    let e = env();
    let key = server_key();
    let issued = 1_900_000_000;
    cache(&e, &signing::sign(&empty_bundle(issued, 600), &key), &key);
    let clock = ManualClock::at(issued + 10);
    let Turn::Go(guard) = preempt::try_acquire_for_daemon(&e.root).unwrap() else {
        panic!("lock free");
    };
    let stop = AtomicBool::new(false);
    let mut c = Converger::new(settings(&e), false, None)
        .unwrap()
        .with_clock(Arc::new(clock.clone()));
    let outcome = c.cycle(&guard, &stop, true).await.unwrap();
    assert!(!outcome.report.unwrap().failed());
    let queued = c.store().peek_results(10).unwrap();
    let report = ReportResultRequest::decode(queued[0].1.as_slice()).unwrap();
    assert_eq!(report.started_at_unix, issued + 10);

    clock.advance(600);
    let err = c.cycle(&guard, &stop, true).await.unwrap_err();
    assert!(matches!(err, ConvergeError::Expired(_)), "{err}");
    assert_eq!(c.store().pending_results().unwrap(), 1, "nothing more ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_cycle_applies_the_cached_bundle_and_queues_the_report() {
    let e = env();
    let key = server_key();
    cache(&e, &signing::sign(&empty_bundle(now(), 3600), &key), &key);
    let outcome = offline_cycle(&e).await.unwrap();
    assert!(!outcome.online);
    assert!(outcome.queued);
    assert_eq!(outcome.delivery, Delivery::QueuedOffline);
    assert_eq!(outcome.policy_version, "20260101T000000Z");
    assert!(!outcome.report.unwrap().failed());
    let store = StateStore::open(&e.root.join("state")).unwrap();
    let queued = store.peek_results(10).unwrap();
    assert_eq!(queued.len(), 1);
    let report = ReportResultRequest::decode(queued[0].1.as_slice()).unwrap();
    assert_eq!(report.policy_version, "20260101T000000Z");
    assert!(uuid_v7(&report.run_id), "{}", report.run_id);
    assert!(store.traits().unwrap().is_some(), "traits collected");
}

fn uuid_v7(s: &str) -> bool {
    s.len() == 36 && s.as_bytes()[14] == b'7'
}

fn report(n: u8) -> ReportResultRequest {
    ReportResultRequest {
        run_id: format!("run-{n}"),
        policy_version: "v".into(),
        ..Default::default()
    }
}

fn unreachable() -> ClientError {
    ClientError::Unreachable {
        tried: "a:1".into(),
        last: "down".into(),
    }
}

fn refused(code: tonic::Code) -> ClientError {
    ClientError::Refused {
        method: "ReportResult",
        server: "a:1".into(),
        code,
        message: "no".into(),
    }
}

#[tokio::test]
async fn queue_drains_in_order_exactly_once_and_keeps_what_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::open(tmp.path()).unwrap().with_queue_limit(4);
    for n in 0..6 {
        store.enqueue_result(&report(n).encode_to_vec()).unwrap();
    }
    assert_eq!(store.dropped_results().unwrap(), 2);

    // The server acknowledges two, then becomes unreachable.
    let mut seen: Vec<(String, u64)> = Vec::new();
    let drained = drain(
        &store,
        &Bounds::default(),
        async |r: &ReportResultRequest| {
            if seen.len() == 2 {
                return Err(unreachable());
            }
            seen.push((r.run_id.clone(), r.dropped_reports));
            Ok(())
        },
    )
    .await
    .unwrap();
    let held = drained.held.expect("the rest stays queued");
    assert!(
        held.unreachable && held.reason.contains("cannot reach"),
        "{held:?}"
    );
    assert_eq!(
        seen,
        vec![("run-2".into(), 2), ("run-3".into(), 0)],
        "oldest kept first; the dropped count rides once"
    );
    assert_eq!(store.pending_results().unwrap(), 2);
    assert_eq!(store.dropped_results().unwrap(), 0);

    // On reconnect the rest goes, in order, and nothing twice.
    let mut rest = Vec::new();
    let drained = drain(
        &store,
        &Bounds::default(),
        async |r: &ReportResultRequest| {
            rest.push(r.run_id.clone());
            Ok(())
        },
    )
    .await
    .unwrap();
    assert_eq!(drained.sent.len(), 2);
    assert_eq!(drained.held, None);
    assert_eq!(rest, ["run-4", "run-5"]);
    assert_eq!(store.pending_results().unwrap(), 0);
    let again = drain(
        &store,
        &Bounds::default(),
        async |_r: &ReportResultRequest| panic!("nothing is left to send"),
    )
    .await
    .unwrap();
    assert!(again.sent.is_empty());
}

#[tokio::test]
async fn a_report_refused_for_good_is_moved_aside_and_the_queue_behind_it_drains() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::open(tmp.path()).unwrap();
    for n in 0..3 {
        store.enqueue_result(&report(n).encode_to_vec()).unwrap();
    }
    store.enqueue_result(b"\xff not a report").unwrap();
    store.enqueue_result(&report(4).encode_to_vec()).unwrap();
    // The server refuses run-1 for good (as it refuses a report over its message limit).
    let mut delivered: Vec<(String, u64)> = Vec::new();
    let drained = drain(
        &store,
        &Bounds::default(),
        async |r: &ReportResultRequest| {
            if r.run_id == "run-1" {
                return Err(refused(tonic::Code::OutOfRange));
            }
            delivered.push((r.run_id.clone(), r.dropped_reports));
            Ok(())
        },
    )
    .await
    .unwrap();
    assert_eq!(
        delivered,
        [
            ("run-0".to_owned(), 0),
            ("run-2".to_owned(), 1),
            ("run-4".to_owned(), 1)
        ],
        "what is behind the refused report is delivered; the server learns one is missing"
    );
    assert_eq!(drained.rejected.len(), 2, "{:?}", drained.rejected);
    assert!(drained.rejected[0].1.contains("(OutOfRange)"));
    assert!(drained.rejected[1].1.contains("unreadable"));
    assert_eq!(store.pending_results().unwrap(), 0);
    let rejected = store.rejected().unwrap();
    assert_eq!(rejected.count, 2);
    assert!(rejected.last_reason.unwrap().contains("unreadable"));
    let kept = store.rejected_results().unwrap();
    assert_eq!(
        ReportResultRequest::decode(kept[0].1.as_slice())
            .unwrap()
            .run_id,
        "run-1",
        "the refused report is kept aside, not lost"
    );
}

#[tokio::test]
async fn a_report_the_server_keeps_failing_on_is_moved_aside_after_a_few_tries() {
    let tmp = tempfile::tempdir().unwrap();
    let store = StateStore::open(tmp.path()).unwrap();
    store.enqueue_result(&report(0).encode_to_vec()).unwrap();
    store.enqueue_result(&report(1).encode_to_vec()).unwrap();
    let failing = async |r: &ReportResultRequest| {
        if r.run_id == "run-0" {
            Err(refused(tonic::Code::Internal))
        } else {
            Ok(())
        }
    };
    for attempt in 1..vigo_agent::reports::MAX_REFUSALS {
        let drained = drain(&store, &Bounds::default(), failing).await.unwrap();
        let Some(Held {
            unreachable,
            reason,
            ..
        }) = drained.held
        else {
            panic!("attempt {attempt}: held");
        };
        assert!(!unreachable && reason.contains("(Internal)"), "{reason}");
        assert_eq!(store.pending_results().unwrap(), 2, "attempt {attempt}");
    }
    // An unreachable server does not count against the report.
    let drained = drain(
        &store,
        &Bounds::default(),
        async |_r: &ReportResultRequest| Err(unreachable()),
    )
    .await
    .unwrap();
    assert!(drained.held.unwrap().unreachable);
    let drained = drain(&store, &Bounds::default(), failing).await.unwrap();
    assert_eq!(drained.rejected.len(), 1);
    assert!(
        drained.rejected[0]
            .1
            .starts_with("refused 5 times in a row"),
        "{:?}",
        drained.rejected
    );
    assert_eq!(drained.sent.len(), 1, "run-1 behind it is delivered");
    assert_eq!(store.pending_results().unwrap(), 0);
}

#[tokio::test]
async fn queue_survives_a_restart_between_send_and_ack() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let store = StateStore::open(tmp.path()).unwrap();
        store.enqueue_result(&report(1).encode_to_vec()).unwrap();
        // Sent but the answer never came: not acknowledged, so still queued.
        let _ = drain(
            &store,
            &Bounds::default(),
            async |_r: &ReportResultRequest| {
                Err(ClientError::Unreachable {
                    tried: "a".into(),
                    last: "timeout".into(),
                })
            },
        )
        .await;
    }
    let store = StateStore::open(tmp.path()).unwrap();
    assert_eq!(store.pending_results().unwrap(), 1);
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn saving_an_enrollment_writes_files_config_and_pins_the_key() {
    let e = env();
    let mut s = settings(&e);
    std::fs::write(
        e.data.join("config"),
        "log_level: debug\nbolt: old-hub:1530\nfallback_servers: [b:1530]\n",
    )
    .unwrap();
    let enrollee = Enrollee::generate("web-01.example.net", vec!["10.0.0.5".into()]).unwrap();
    assert!(enrollee.csr_pem.contains("BEGIN CERTIFICATE REQUEST"));
    let ca = rcgen::generate_simple_self_signed(vec!["ca".into()])
        .unwrap()
        .cert
        .pem();
    let key = server_key().verifying_key();
    let enrollment = Enrollment::from_parts(
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890".into(),
        ca.clone(),
        ca.clone(),
        key.as_bytes(),
        &signing::key_id(&key),
        "vigo.example.net:1530".into(),
    )
    .unwrap();
    s.key_file = e.data.join("tls").join("client.key");
    let written = enroll::save(&s, &enrollee, &enrollment).unwrap();

    let config = ConfigFile::load(&e.data.join("config")).unwrap();
    assert_eq!(config, written);
    assert_eq!(config.server.as_deref(), Some("vigo.example.net:1530"));
    assert_eq!(
        config.envoy_id.as_deref(),
        Some("a1b2c3d4-e5f6-7890-abcd-ef1234567890")
    );
    assert_eq!(
        config.bolt, None,
        "a new enrollment forgets the old routing"
    );
    assert_eq!(
        config.log_level,
        Some(vigo_agent::settings::LogLevel::Debug),
        "other keys kept"
    );
    assert_eq!(config.fallback_servers, ["b:1530"]);
    assert_eq!(config.key_file.as_deref(), Some(s.key_file.as_path()));
    assert_eq!(config.ca_file, None, "default paths are not written");

    assert_eq!(mode(&s.key_file), 0o600);
    assert_eq!(mode(&e.data.join("agent.key")), 0o600);
    assert!(
        std::fs::read_to_string(&s.key_file)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    assert_eq!(std::fs::read_to_string(&s.ca_file).unwrap(), ca);
    let loaded = vigo_agent::identity::AgentIdentity::load(&e.data.join("agent.key")).unwrap();
    assert_eq!(loaded.public_key(), enrollee.identity.public_key());
    assert_eq!(
        enroll::load_pinned_key(&e.data.join(SERVER_PUB))
            .unwrap()
            .unwrap(),
        key
    );
    let view = vigo_agent::status_cmd::gather(&s, now());
    assert!(view.server_pubkey);
}

#[test]
fn an_enrollment_answer_with_a_mismatched_key_id_is_refused() {
    let key = server_key().verifying_key();
    let cert = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".to_owned();
    let err = Enrollment::from_parts(
        "id".into(),
        cert.clone(),
        cert.clone(),
        key.as_bytes(),
        "0000000000000000",
        "s:1530".into(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("has id"), "{err}");
    let short = Enrollment::from_parts("id".into(), cert.clone(), cert, &[1; 31], "", "s".into())
        .unwrap_err();
    assert!(short.to_string().contains("31 bytes"), "{short}");
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn vigo(e: &Env) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin!("vigo"));
    cmd.env("VIGO_DATA_DIR", &e.data)
        .env("VIGO_STATE_ROOT", &e.root)
        .env("NO_COLOR", "1");
    cmd
}

fn one_line_error(out: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].starts_with("vigo: "), "{stderr}");
    stderr
}

#[test]
fn register_with_an_unreachable_server_is_a_one_line_error() {
    let e = env();
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()])
        .unwrap()
        .cert
        .pem();
    std::fs::write(e.data.join("ca.pem"), ca).unwrap();
    let port = closed_port();
    let out = vigo(&e)
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "register",
            "--token",
            "vget_x",
        ])
        .output()
        .unwrap();
    let stderr = one_line_error(&out);
    assert!(
        stderr.contains(&format!("cannot reach the server (127.0.0.1:{port})")),
        "{stderr}"
    );
    assert!(
        !e.data.join("config").exists(),
        "nothing written on failure"
    );
    assert!(!e.data.join("agent.key").exists());
}

#[test]
fn register_without_a_ca_and_an_unreachable_api_is_a_one_line_error() {
    let e = env();
    let port = closed_port();
    let out = vigo(&e)
        .args([
            "--api-addr",
            &format!("https://127.0.0.1:{port}"),
            "register",
            "--token",
            "t",
        ])
        .output()
        .unwrap();
    let stderr = one_line_error(&out);
    assert!(
        stderr.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn bootstrap_needs_https_and_reports_an_unreachable_server() {
    let e = env();
    let out = vigo(&e)
        .args(["bootstrap", "--server", "http://vigo.example.net:8443"])
        .output()
        .unwrap();
    assert!(one_line_error(&out).contains("must start with https://"));
    let port = closed_port();
    let out = vigo(&e)
        .args([
            "bootstrap",
            "--server",
            &format!("https://127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert!(one_line_error(&out).contains("cannot connect"));
}

#[test]
fn run_with_nothing_registered_and_no_bundle_exits_1_and_says_why() {
    let e = env();
    let out = vigo(&e).args(["run", "--dry-run"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not registered"), "{stderr}");
    assert!(stderr.contains("no policy bundle to apply"), "{stderr}");
}
