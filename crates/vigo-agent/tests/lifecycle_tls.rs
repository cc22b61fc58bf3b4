//! The client's transport against a minimal in-process gRPC endpoint over mutual TLS:
//! certificates made with rcgen, requests whose signatures the endpoint checks with
//! `client::signed_bytes`, fallback past a dead address, refusal without a client
//! certificate, and one online convergence cycle (bundle verified and cached, report
//! acknowledged). It checks the agent's side of the wire; end-to-end tests against the
//! real `vigosrv` are separate.

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
use vigo_agent::identity::AgentIdentity;
use vigo_agent::register_cmd::{SERVER_PUB, pin_server_key};
use vigo_agent::settings::Settings;
use vigo_proto::v1::agent_server::{Agent, AgentServer};
use vigo_proto::v1::{
    CheckInRequest, CheckInResponse, PolicyBundle, RegisterResponse, ReportResultRequest,
    ReportResultResponse, ReportTraitsResponse, ResolveSecretsResponse, ServerFrame, SignedRequest,
    check_in_response,
};

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
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
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client
        .distinguished_name
        .push(DnType::CommonName, "envoy-1");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client = client.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca: ca_pem,
        server: (server.pem(), server_key.serialize_pem()),
        client: (client.pem(), client_key.serialize_pem()),
    }
}

#[derive(Default)]
struct Seen {
    methods: Vec<String>,
    reports: Vec<ReportResultRequest>,
}

struct Endpoint {
    agent_key: VerifyingKey,
    bundle_key: SigningKey,
    seen: Arc<Mutex<Seen>>,
}

impl Endpoint {
    fn check(&self, req: &Request<SignedRequest>, method: &str) -> Result<(), Status> {
        if req.peer_certs().is_none_or(|c| c.is_empty()) {
            return Err(Status::unauthenticated("no client certificate"));
        }
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
        self.seen.lock().unwrap().methods.push(method.to_owned());
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
        let bundle = PolicyBundle {
            version: "20260202T000000Z".into(),
            max_age_secs: 3600,
            issued_at_unix: vigo_agent::converge::now_unix(),
            ..Default::default()
        };
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
    let endpoint = Endpoint {
        agent_key: VerifyingKey::from_bytes(&agent.public_key()).unwrap(),
        bundle_key: bundle_key.clone(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_cycle_caches_the_verified_bundle_and_reports() {
    let r = start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("etc");
    let root = tmp.path().join("var");
    std::fs::create_dir_all(&data).unwrap();
    pin_server_key(&data.join(SERVER_PUB), &r.bundle_key.verifying_key()).unwrap();
    let settings = Settings {
        server: format!("localhost:{}", r.port),
        ca_file: data.join("ca.pem"),
        cert_file: data.join("cert.pem"),
        key_file: data.join("key.pem"),
        log_level: "info".into(),
        api_addr: "https://localhost:1".into(),
        executors_dir: data.join("executors"),
        snapshot_dir: root.join("snapshots"),
        snapshot_retention: 5,
        trait_refresh_cycles: 10,
        result_cache_cycles: 5,
        envoy_id: Some("envoy-1".into()),
        fallback_servers: Vec::new(),
        bolt: None,
        data_dir: data.clone(),
        state_dir: root.join("state"),
    };
    let client = Client::new(
        [settings.server.clone()],
        material(&r, &data),
        Arc::clone(&r.agent),
        "envoy-1",
    );
    let mut converger = Converger::new(settings, false, None)
        .unwrap()
        .with_client(client);
    let stop = AtomicBool::new(false);
    for round in 0..2 {
        let vigo_agent::preempt::Turn::Go(guard) =
            vigo_agent::preempt::try_acquire_for_daemon(&root).unwrap()
        else {
            panic!("the lock is free");
        };
        let outcome = converger.cycle(&guard, &stop, true).await.unwrap();
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
        "the second check-in got no_change (same version and fingerprint)"
    );
}
