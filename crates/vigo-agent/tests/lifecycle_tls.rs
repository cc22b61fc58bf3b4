//! The client's transport against a minimal in-process gRPC endpoint over mutual TLS:
//! certificates made with rcgen, requests whose signatures the endpoint checks with
//! `client::signed_bytes`, fallback past a dead address, refusal without a client
//! certificate, and one online convergence cycle (bundle verified and cached, report
//! acknowledged). The life cycle: a client certificate in its last third renewed by the
//! cycle and presented from the next handshake on; a chain of key rotations re-pinned
//! and a forged one refused. It checks the agent's side of the wire; end-to-end tests
//! against the real `vigosrv` are separate.

use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use prost::Message;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};
use vigo_agent::client::{Client, TlsMaterial, signed_bytes};
use vigo_agent::converge::Converger;
use vigo_agent::enroll::{SERVER_PUB, pin_server_key};
use vigo_agent::identity::AgentIdentity;
use vigo_agent::settings::Settings;
use vigo_proto::v1::agent_server::{Agent, AgentServer};
use vigo_proto::v1::{
    CheckInRequest, CheckInResponse, KeyRotation, PolicyBundle, RegisterResponse,
    RenewCertificateRequest, RenewCertificateResponse, ReportResultRequest, ReportResultResponse,
    ReportTraitsResponse, ResolveSecretsResponse, ServerFrame, SignedRequest, check_in_response,
};

struct Pki {
    ca: String,
    issuer: Arc<Issuer<'static, KeyPair>>,
    server: (String, String),
    client: (String, String),
}

const DAY: i64 = 86_400;

/// A client certificate for `envoy-1` signed by `issuer`, valid `days_before` days in the
/// past to `days_after` days ahead, for `key`.
fn client_cert(
    issuer: &Issuer<'static, KeyPair>,
    key: &KeyPair,
    days_before: i64,
    days_after: i64,
) -> String {
    let now = vigo_agent::clock::now_unix();
    let at = |t| time::OffsetDateTime::from_unix_timestamp(t).unwrap();
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "envoy-1");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    client.not_before = at(now - days_before * DAY);
    client.not_after = at(now + days_after * DAY);
    client.signed_by(key, issuer).unwrap().pem()
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    // Day 10 of 365: not due for renewal.
    let client = client_cert(&issuer, &client_key, 10, 355);
    Pki {
        ca: ca_pem,
        issuer: Arc::new(issuer),
        server: (server.pem(), server_key.serialize_pem()),
        client: (client, client_key.serialize_pem()),
    }
}

#[derive(Default)]
struct Seen {
    methods: Vec<String>,
    reports: Vec<ReportResultRequest>,
    /// The client certificate each request came with (DER).
    peer_certs: Vec<Vec<u8>>,
    /// The key id each check-in said it pinned.
    pinned: Vec<String>,
    /// The certificates issued by `RenewCertificate` (PEM).
    renewed: Vec<String>,
}

/// What a check-in answers with instead of the usual bundle: rotations, and a bundle
/// signed by this key.
struct Rotated {
    chain: Vec<KeyRotation>,
    signer: SigningKey,
}

struct Endpoint {
    agent_key: VerifyingKey,
    bundle_key: SigningKey,
    issuer: Arc<Issuer<'static, KeyPair>>,
    rotated: Arc<Mutex<Option<Rotated>>>,
    seen: Arc<Mutex<Seen>>,
}

impl Endpoint {
    fn check(&self, req: &Request<SignedRequest>, method: &str) -> Result<(), Status> {
        let Some(leaf) = req.peer_certs().and_then(|c| c.first().cloned()) else {
            return Err(Status::unauthenticated("no client certificate"));
        };
        let r = req.get_ref();
        let msg = signed_bytes(method, &r.envoy_id, r.timestamp_unix, &r.nonce, &r.body);
        let sig = Signature::from_slice(&r.signature)
            .map_err(|_| Status::unauthenticated("bad signature"))?;
        self.agent_key
            .verify_strict(&msg, &sig)
            .map_err(|_| Status::unauthenticated("bad signature"))?;
        if r.envoy_id != "envoy-1" || r.nonce.len() != 16 {
            return Err(Status::unauthenticated("bad envelope"));
        }
        let mut seen = self.seen.lock().unwrap();
        seen.methods.push(method.to_owned());
        seen.peer_certs.push(leaf.as_ref().to_vec());
        Ok(())
    }
}

type FrameStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<ServerFrame, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Agent for Endpoint {
    async fn register(
        &self,
        _r: Request<SignedRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        Err(Status::unimplemented("not here"))
    }

    async fn check_in(
        &self,
        r: Request<SignedRequest>,
    ) -> Result<Response<CheckInResponse>, Status> {
        self.check(&r, "CheckIn")?;
        let body = CheckInRequest::decode(r.get_ref().body.as_slice())
            .map_err(|_| Status::invalid_argument("body"))?;
        self.seen
            .lock()
            .unwrap()
            .pinned
            .push(body.pinned_key_id.clone());
        let bundle = PolicyBundle {
            version: "20260202T000000Z".into(),
            max_age_secs: 3600,
            issued_at_unix: vigo_agent::clock::now_unix(),
            ..Default::default()
        };
        if let Some(rotated) = self.rotated.lock().unwrap().as_ref() {
            let signed = vigo_core::signing::sign(&bundle, &rotated.signer);
            return Ok(Response::new(CheckInResponse {
                outcome: Some(check_in_response::Outcome::Bundle(signed)),
                interval_secs: 42,
                key_rotation: rotated.chain.first().cloned(),
                key_rotation_chain: rotated.chain.clone(),
                ..Default::default()
            }));
        }
        let outcome = if body.policy_version == bundle.version {
            check_in_response::Outcome::NoChange(Default::default())
        } else {
            check_in_response::Outcome::Bundle(vigo_core::signing::sign(&bundle, &self.bundle_key))
        };
        Ok(Response::new(CheckInResponse {
            outcome: Some(outcome),
            interval_secs: 42,
            ..Default::default()
        }))
    }

    async fn renew_certificate(
        &self,
        r: Request<SignedRequest>,
    ) -> Result<Response<RenewCertificateResponse>, Status> {
        self.check(&r, "RenewCertificate")?;
        let body = RenewCertificateRequest::decode(r.get_ref().body.as_slice())
            .map_err(|_| Status::invalid_argument("body"))?;
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(&body.csr_pem)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let now = vigo_agent::clock::now_unix();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "envoy-1");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = time::OffsetDateTime::from_unix_timestamp(now - 3600).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(now + 365 * DAY).unwrap();
        csr.params = params;
        let cert = csr.signed_by(&self.issuer).unwrap().pem();
        self.seen.lock().unwrap().renewed.push(cert.clone());
        Ok(Response::new(RenewCertificateResponse {
            certificate_pem: cert,
            serial: String::new(),
            not_after_unix: now + 365 * DAY,
        }))
    }

    async fn report_result(
        &self,
        r: Request<SignedRequest>,
    ) -> Result<Response<ReportResultResponse>, Status> {
        self.check(&r, "ReportResult")?;
        let body = ReportResultRequest::decode(r.get_ref().body.as_slice())
            .map_err(|_| Status::invalid_argument("body"))?;
        self.seen.lock().unwrap().reports.push(body);
        Ok(Response::new(ReportResultResponse {}))
    }

    async fn report_traits(
        &self,
        r: Request<SignedRequest>,
    ) -> Result<Response<ReportTraitsResponse>, Status> {
        self.check(&r, "ReportTraits")?;
        Ok(Response::new(ReportTraitsResponse {}))
    }

    async fn resolve_secrets(
        &self,
        r: Request<SignedRequest>,
    ) -> Result<Response<ResolveSecretsResponse>, Status> {
        self.check(&r, "ResolveSecrets")?;
        Ok(Response::new(ResolveSecretsResponse::default()))
    }

    type AgentStreamStream = FrameStream;

    async fn agent_stream(
        &self,
        _r: Request<tonic::Streaming<SignedRequest>>,
    ) -> Result<Response<FrameStream>, Status> {
        Err(Status::unimplemented("not here"))
    }
}

struct Running {
    port: u16,
    seen: Arc<Mutex<Seen>>,
    rotated: Arc<Mutex<Option<Rotated>>>,
    pki: Pki,
    agent: Arc<AgentIdentity>,
    bundle_key: SigningKey,
}

async fn start() -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pki = pki();
    let agent = Arc::new(AgentIdentity::generate().unwrap());
    let bundle_key = SigningKey::from_bytes(&[5; 32]);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let rotated = Arc::new(Mutex::new(None));
    let endpoint = Endpoint {
        agent_key: VerifyingKey::from_bytes(&agent.public_key()).unwrap(),
        bundle_key: bundle_key.clone(),
        issuer: Arc::clone(&pki.issuer),
        rotated: Arc::clone(&rotated),
        seen: Arc::clone(&seen),
    };
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = incoming.local_addr().unwrap().port();
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(&pki.server.0, &pki.server.1))
        .client_ca_root(Certificate::from_pem(&pki.ca));
    let router = Server::builder()
        .tls_config(tls)
        .unwrap()
        .add_service(AgentServer::new(endpoint));
    tokio::spawn(router.serve_with_incoming(incoming));
    Running {
        port,
        seen,
        rotated,
        pki,
        agent,
        bundle_key,
    }
}

fn material(r: &Running, dir: &std::path::Path) -> TlsMaterial {
    std::fs::write(dir.join("ca.pem"), &r.pki.ca).unwrap();
    std::fs::write(dir.join("cert.pem"), &r.pki.client.0).unwrap();
    std::fs::write(dir.join("key.pem"), &r.pki.client.1).unwrap();
    TlsMaterial::load(
        &dir.join("ca.pem"),
        &dir.join("cert.pem"),
        &dir.join("key.pem"),
    )
    .unwrap()
}

fn dead_address() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("127.0.0.1:{}", l.local_addr().unwrap().port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_check_in_over_mutual_tls_with_fallback_and_reuse() {
    let r = start().await;
    let tmp = tempfile::tempdir().unwrap();
    let live = format!("localhost:{}", r.port);
    let mut client = Client::new(
        [dead_address(), live.clone()],
        material(&r, tmp.path()),
        Arc::clone(&r.agent),
        "envoy-1",
    );
    let answer = client.check_in(&CheckInRequest::default()).await.unwrap();
    assert_eq!(answer.interval_secs, 42);
    assert_eq!(
        client.current_address(),
        live,
        "fell back to the live server"
    );
    // Reused connection: the next call goes straight to the live server.
    client.check_in(&CheckInRequest::default()).await.unwrap();
    assert_eq!(r.seen.lock().unwrap().methods, ["CheckIn", "CheckIn"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_certificate_only_tls_refuses() {
    let r = start().await;
    let mut client = Client::new(
        [format!("localhost:{}", r.port)],
        TlsMaterial::for_register(r.pki.ca.clone().into_bytes()),
        Arc::clone(&r.agent),
        "envoy-1",
    );
    let err = client
        .check_in(&CheckInRequest::default())
        .await
        .unwrap_err();
    assert!(r.seen.lock().unwrap().methods.is_empty(), "{err}");
}

/// An enrolled agent's files (TLS material, pinned key) in a temporary directory, and
/// its settings.
fn enrolled(r: &Running) -> (tempfile::TempDir, Settings) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("etc");
    let root = tmp.path().join("var");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&root).unwrap();
    pin_server_key(&data.join(SERVER_PUB), &r.bundle_key.verifying_key()).unwrap();
    material(r, &data);
    let settings = Settings {
        server: format!("localhost:{}", r.port),
        api_addr: "https://localhost:1".into(),
        executors_dir: data.join("executors"),
        snapshot_dir: root.join("snapshots"),
        envoy_id: Some("envoy-1".into()),
        ..Settings::defaults(&data, &root.join("state"))
    };
    (tmp, settings)
}

/// A converger over `settings`, talking to `r`.
fn converger(r: &Running, settings: &Settings) -> Converger {
    let tls =
        TlsMaterial::load(&settings.ca_file, &settings.cert_file, &settings.key_file).unwrap();
    let client = Client::new(
        [settings.server.clone()],
        tls,
        Arc::clone(&r.agent),
        "envoy-1",
    );
    Converger::new(settings.clone(), false, None)
        .unwrap()
        .with_client(client)
}

async fn cycle(
    c: &mut Converger,
    settings: &Settings,
) -> Result<vigo_agent::converge::CycleOutcome, vigo_agent::converge::ConvergeError> {
    let root = settings.state_dir.parent().unwrap();
    let vigo_agent::preempt::Turn::Go(guard) =
        vigo_agent::preempt::try_acquire_for_daemon(root).unwrap()
    else {
        panic!("the lock is free");
    };
    c.cycle(&guard, &AtomicBool::new(false), true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_cycle_caches_the_verified_bundle_and_reports() {
    let r = start().await;
    let (_tmp, settings) = enrolled(&r);
    let mut converger = converger(&r, &settings);
    for round in 0..2 {
        let outcome = cycle(&mut converger, &settings).await.unwrap();
        assert!(outcome.online, "round {round}");
        assert!(!outcome.queued, "round {round}");
        assert_eq!(outcome.delivery, vigo_agent::converge::Delivery::Sent);
        assert_eq!(outcome.policy_version, "20260202T000000Z");
    }
    assert_eq!(converger.interval().as_secs(), 42);
    let store = converger.store();
    assert!(store.bundle().unwrap().is_some(), "verified bundle cached");
    assert_eq!(store.pending_results().unwrap(), 0);
    let seen = r.seen.lock().unwrap();
    assert_eq!(seen.reports.len(), 2);
    assert!(!seen.reports[0].steady);
    assert!(
        seen.reports[1].steady,
        "an identical all-none run is a heartbeat"
    );
    assert_eq!(
        seen.methods,
        ["CheckIn", "ReportResult", "CheckIn", "ReportResult"],
        "the second check-in got no_change (same version and fingerprint); day 10 of \
         365 is no time to renew the certificate"
    );
    let pinned = vigo_core::signing::key_id(&r.bundle_key.verifying_key());
    assert_eq!(
        seen.pinned,
        [pinned.clone(), pinned],
        "the pinned key is reported"
    );
}

fn der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_at_day_250_of_365_is_renewed_and_the_next_handshake_presents_it() {
    use std::os::unix::fs::PermissionsExt;
    let r = start().await;
    let (_tmp, settings) = enrolled(&r);
    let old_key = KeyPair::from_pem(&r.pki.client.1).unwrap();
    let old_cert = client_cert(&r.pki.issuer, &old_key, 250, 115);
    std::fs::write(&settings.cert_file, &old_cert).unwrap();
    let mut converger = converger(&r, &settings);

    cycle(&mut converger, &settings).await.unwrap();
    let renewed = {
        let seen = r.seen.lock().unwrap();
        assert_eq!(
            seen.renewed.len(),
            1,
            "renewed at the check-in: {:?}",
            seen.methods
        );
        assert_eq!(
            seen.peer_certs[seen
                .methods
                .iter()
                .position(|m| m == "RenewCertificate")
                .unwrap()],
            der(&old_cert),
            "the renewal is authenticated by the current certificate"
        );
        seen.renewed[0].clone()
    };
    // The new pair is installed: certificate and a new key (0600), nothing left beside.
    assert_eq!(
        std::fs::read_to_string(&settings.cert_file).unwrap(),
        renewed
    );
    let new_key = std::fs::read_to_string(&settings.key_file).unwrap();
    assert_ne!(new_key, r.pki.client.1, "a new key");
    let key_pair = KeyPair::from_pem(&new_key).unwrap();
    let renewed_der = der(&renewed);
    let (_, cert) = x509_parser::parse_x509_certificate(&renewed_der).unwrap();
    assert_eq!(
        cert.public_key().subject_public_key.data.as_ref(),
        key_pair.public_key_raw()
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&settings.key_file), 0o600);
    let dir: Vec<_> = std::fs::read_dir(settings.cert_file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".new"))
        .collect();
    assert!(dir.is_empty(), "{dir:?}");

    // The next cycle's handshake presents the new certificate, and renews nothing.
    let before = r.seen.lock().unwrap().methods.len();
    cycle(&mut converger, &settings).await.unwrap();
    let seen = r.seen.lock().unwrap();
    assert!(
        seen.peer_certs[before..]
            .iter()
            .all(|c| *c == der(&renewed))
    );
    assert!(!seen.methods[before..].contains(&"RenewCertificate".to_owned()));
    assert_eq!(seen.renewed.len(), 1);
    // And `vigo status` says when it expires, no longer due.
    let status = vigo_agent::status_cmd::render(&vigo_agent::status_cmd::gather(
        &settings,
        vigo_agent::clock::now_unix(),
    ));
    let line = status
        .lines()
        .find(|l| l.starts_with("Client cert:"))
        .unwrap();
    assert!(line.starts_with("Client cert:      expires "), "{status}");
    assert!(!line.contains("renewal due"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_rotations_is_re_pinned_and_the_new_keys_bundle_applies() {
    let r = start().await;
    let (_tmp, settings) = enrolled(&r);
    let (k1, k2) = (
        SigningKey::from_bytes(&[6; 32]),
        SigningKey::from_bytes(&[7; 32]),
    );
    *r.rotated.lock().unwrap() = Some(Rotated {
        chain: vec![
            vigo_core::rotation::sign_rotation(&r.bundle_key, &k1.verifying_key()),
            vigo_core::rotation::sign_rotation(&k1, &k2.verifying_key()),
        ],
        signer: k2.clone(),
    });
    let mut converger = converger(&r, &settings);
    let outcome = cycle(&mut converger, &settings).await.unwrap();
    assert!(outcome.online && outcome.report.is_some());
    let pinned = vigo_agent::enroll::load_pinned_key(&settings.data_dir.join(SERVER_PUB)).unwrap();
    assert_eq!(pinned, Some(k2.verifying_key()));
    // From now on the agent reports the new key, and the cached bundle of the new key
    // verifies with it (the next answer is no_change).
    *r.rotated.lock().unwrap() = None;
    let outcome = cycle(&mut converger, &settings).await.unwrap();
    assert!(outcome.online && outcome.report.is_some());
    let seen = r.seen.lock().unwrap();
    assert_eq!(
        seen.pinned.last().unwrap(),
        &vigo_core::signing::key_id(&k2.verifying_key())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_rotation_is_refused_and_the_old_pin_kept() {
    let r = start().await;
    let (_tmp, settings) = enrolled(&r);
    let forger = SigningKey::from_bytes(&[8; 32]);
    let theirs = SigningKey::from_bytes(&[9; 32]);
    *r.rotated.lock().unwrap() = Some(Rotated {
        chain: vec![vigo_core::rotation::sign_rotation(
            &forger,
            &theirs.verifying_key(),
        )],
        signer: theirs,
    });
    let mut converger = converger(&r, &settings);
    let outcome = cycle(&mut converger, &settings).await;
    assert!(
        matches!(
            outcome,
            Err(vigo_agent::converge::ConvergeError::Refused(_))
        ),
        "the bundle signed by the announced key is not applied: {outcome:?}"
    );
    let pinned = vigo_agent::enroll::load_pinned_key(&settings.data_dir.join(SERVER_PUB)).unwrap();
    assert_eq!(pinned, Some(r.bundle_key.verifying_key()));
    assert!(
        converger.store().bundle().unwrap().is_none(),
        "nothing cached"
    );
    // The real server's bundle verifies again once the forgery stops.
    *r.rotated.lock().unwrap() = None;
    cycle(&mut converger, &settings).await.unwrap();
}
