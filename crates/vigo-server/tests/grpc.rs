//! The agent protocol end to end: a real `vigosrv` on 127.0.0.1:0 with its generated CA,
//! real mTLS with a tonic client, SQLite in a temporary directory, a small stacks tree.
//! The agent side (request signing, CSR, bundle verification) is written here from the
//! proto's description, independently of the server code. Includes certificate renewal
//! (`RenewCertificate`) and the delivery of bundle-key rotations at check-in.

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use prost::Message;
use sha2::{Digest, Sha256};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tonic::{Code, Status};
use uuid::Uuid;
use vigo_core::Bundle;
use vigo_proto::v1::agent_client::AgentClient;
use vigo_proto::v1::{
    Action, CheckInRequest, CheckInResponse, RegisterRequest, RegisterResponse,
    RenewCertificateRequest, RenewCertificateResponse, ReportResultRequest, ReportTraitsRequest,
    ResolveSecretsRequest, ResourceResult, SignedBundle, SignedRequest, check_in_response,
};
use vigo_server::clock::Clock;
use vigo_server::config::ServerConfig;
use vigo_server::listen::activation::Listeners;
use vigo_server::ops::{ConfigOps, PublishError};
use vigo_server::secrets::LocalSecrets;
use vigo_server::serve::{self, Running};
use vigo_server::store::{ApprovedPattern, NewEnrollmentToken, Store, TokenHash};

const MOTD: &str = "configcrate: motd
vars:
  greeting: hello
resources:
  - name: motd
    type: file
    target_path: /etc/motd
    content: \"{{ .Vars.greeting }}\"
    state: present
  - name: app-config
    type: file
    target_path: /etc/app.conf
    content: \"password=secret:app/db_password\"
    state: present
";

const ENVOYS: &str = "envoys:
  - match: \"*.example.net\"
    configcrates: [motd]
";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A server in a temporary data directory.
struct Server {
    dir: tempfile::TempDir,
    running: Option<Running>,
}

impl Server {
    async fn start() -> Server {
        Server::start_on(Clock::system()).await
    }

    /// A server telling the time by `clock`.
    async fn start_on(clock: Clock) -> Server {
        let dir = tempfile::tempdir().unwrap();
        write_stacks(dir.path(), MOTD);
        let config = config(dir.path());
        let secrets = LocalSecrets::from_config(&config.secrets).unwrap();
        secrets.set("app/db_password", "hunter2").unwrap();
        secrets.set("other/secret", "not-for-envoys").unwrap();
        let running = serve::start_with(config, clock, Listeners::default())
            .await
            .unwrap();
        Server {
            dir,
            running: Some(running),
        }
    }

    async fn restart(&mut self) {
        self.running.take().unwrap().shutdown().await.unwrap();
        self.running = Some(serve::start(config(self.dir.path())).await.unwrap());
    }

    fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    fn store(&self) -> &Store {
        &self.running().state.store
    }

    fn ca_pem(&self) -> String {
        self.running().state.pki.ca_pem().to_owned()
    }

    async fn approve(&self, pattern: &str, trusted: bool) {
        self.store()
            .put_pattern(&ApprovedPattern {
                pattern: pattern.into(),
                trusted,
                created_at: now(),
            })
            .await
            .unwrap();
    }

    /// Creates an enrollment token valid for `ttl` seconds (negative: already expired).
    async fn token(&self, ttl: i64) -> String {
        let secret = format!("vget_{}", Uuid::new_v4().simple());
        let created_at = now() - 1000;
        self.store()
            .create_enrollment_token(&NewEnrollmentToken {
                id: format!("et_{}", &Uuid::new_v4().simple().to_string()[..8]),
                hash: TokenHash::of_secret(&secret),
                created_at,
                expires_at: now() + ttl,
                hostname_pattern: None,
            })
            .await
            .unwrap();
        secret
    }

    async fn channel(&self, identity: Option<(&str, &str)>) -> AgentClient<Channel> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(self.ca_pem()))
            .domain_name("localhost");
        if let Some((cert, key)) = identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        let url = format!("https://127.0.0.1:{}", self.running().grpc_addr.port());
        let channel = Channel::from_shared(url)
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .unwrap();
        AgentClient::new(channel)
    }

    async fn publish(&self) -> Result<vigo_server::ops::VersionInfo, PublishError> {
        self.running().state.publisher.publish("test").await
    }
}

fn config(dir: &Path) -> ServerConfig {
    let yaml = "server:\n  grpc_listen: \"127.0.0.1:0\"\n  api_listen: \"127.0.0.1:0\"\n  hostname: localhost\ncheckin:\n  interval: 90s\n";
    ServerConfig::parse(yaml, &dir.join("server.yaml"), dir).unwrap()
}

fn write_stacks(dir: &Path, motd: &str) {
    let stacks = dir.join("stacks");
    std::fs::create_dir_all(stacks.join("configcrates")).unwrap();
    std::fs::write(stacks.join("configcrates/motd.vgo"), motd).unwrap();
    std::fs::write(stacks.join("envoys.vgo"), ENVOYS).unwrap();
}

/// The agent's side: its key, its TLS identity once registered, its request signing.
struct Agent {
    hostname: String,
    key: SigningKey,
    tls_key_pem: String,
    csr_pem: String,
    envoy_id: String,
    cert_pem: String,
    server_key: Option<VerifyingKey>,
}

impl Agent {
    fn new(hostname: &str) -> Agent {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        let tls_key = rcgen::KeyPair::generate().unwrap();
        let csr = rcgen::CertificateParams::new(vec![hostname.to_owned()])
            .unwrap()
            .serialize_request(&tls_key)
            .unwrap();
        Agent {
            hostname: hostname.to_owned(),
            key: SigningKey::from_bytes(&seed),
            tls_key_pem: tls_key.serialize_pem(),
            csr_pem: csr.pem().unwrap(),
            envoy_id: String::new(),
            cert_pem: String::new(),
            server_key: None,
        }
    }

    /// A signed envelope, per `SignedRequest.signature` in agent.proto.
    fn sign_as(&self, key: &SigningKey, method: &str, body: Vec<u8>, ts: i64) -> SignedRequest {
        let mut nonce = vec![0u8; 16];
        getrandom::fill(&mut nonce).unwrap();
        let mut msg = b"vigo.v1.req\0".to_vec();
        msg.extend_from_slice(method.as_bytes());
        msg.push(0);
        msg.extend_from_slice(self.envoy_id.as_bytes());
        msg.push(0);
        msg.extend_from_slice(&ts.to_be_bytes());
        msg.extend_from_slice(&nonce);
        msg.extend_from_slice(&body);
        SignedRequest {
            envoy_id: self.envoy_id.clone(),
            timestamp_unix: ts,
            nonce,
            signature: key.sign(&msg).to_bytes().to_vec(),
            body,
        }
    }

    fn sign(&self, method: &str, body: Vec<u8>) -> SignedRequest {
        self.sign_as(&self.key, method, body, now())
    }

    async fn register(
        &mut self,
        server: &Server,
        token: Option<&str>,
        force: bool,
    ) -> Result<RegisterResponse, Status> {
        let body = RegisterRequest {
            hostname: self.hostname.clone(),
            ip_addresses: vec!["192.0.2.10".into()],
            agent_public_key: self.key.verifying_key().to_bytes().to_vec(),
            token: token.unwrap_or_default().to_owned(),
            force,
            csr_pem: self.csr_pem.clone(),
            agent_version: "0.1.0".into(),
        };
        let saved = std::mem::take(&mut self.envoy_id);
        let req = self.sign("Register", body.encode_to_vec());
        let mut client = server.channel(None).await;
        let result = client.register(req).await.map(tonic::Response::into_inner);
        match &result {
            Ok(resp) => {
                self.envoy_id.clone_from(&resp.envoy_id);
                self.cert_pem.clone_from(&resp.certificate_pem);
                let key: [u8; 32] = resp.server_signing_key.as_slice().try_into().unwrap();
                self.server_key = Some(VerifyingKey::from_bytes(&key).unwrap());
            }
            Err(_) => self.envoy_id = saved,
        }
        result
    }

    async fn client(&self, server: &Server) -> AgentClient<Channel> {
        server
            .channel(Some((&self.cert_pem, &self.tls_key_pem)))
            .await
    }

    async fn check_in(
        &self,
        server: &Server,
        version: &str,
        fingerprint: &str,
    ) -> Result<CheckInResponse, Status> {
        let body = CheckInRequest {
            policy_version: version.into(),
            state_fingerprint: fingerprint.into(),
            ..Default::default()
        };
        let req = self.sign("CheckIn", body.encode_to_vec());
        self.client(server)
            .await
            .check_in(req)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Verifies a bundle with the pinned key and decodes it.
    fn open(&self, signed: &SignedBundle) -> Bundle {
        let wire = vigo_core::signing::verify(signed, self.server_key.as_ref().unwrap())
            .expect("the bundle verifies with the key pinned at registration");
        vigo_core::signing::check_age(&wire, now()).unwrap();
        Bundle::from_proto(&wire).unwrap()
    }
}

fn bundle_of(resp: &CheckInResponse) -> &SignedBundle {
    match &resp.outcome {
        Some(check_in_response::Outcome::Bundle(b)) => b,
        other => panic!("expected a bundle, got {other:?}"),
    }
}

fn fingerprint(signed: &SignedBundle) -> String {
    hex::encode(Sha256::digest(&signed.payload))
}

fn assert_refused(result: Result<impl std::fmt::Debug, Status>, code: Code, words: &str) {
    let status = result.expect_err("the request must be refused");
    assert_eq!(status.code(), code, "{}", status.message());
    assert!(
        status.message().contains(words),
        "`{}` should say `{words}`",
        status.message()
    );
}

async fn enrolled(server: &Server, hostname: &str) -> Agent {
    let mut agent = Agent::new(hostname);
    let token = server.token(3600).await;
    agent.register(server, Some(&token), false).await.unwrap();
    agent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_check_in_no_change_and_publish() {
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    let mut agent = Agent::new("web-01.example.net");
    let token = server.token(3600).await;
    let reg = agent.register(&server, Some(&token), false).await.unwrap();
    assert!(Uuid::parse_str(&reg.envoy_id).is_ok());
    assert_eq!(reg.ca_pem, server.ca_pem());
    assert_eq!(
        reg.server_signing_key_id,
        server.running().state.pki.signing_key_id()
    );
    assert!(
        reg.certificate_pem
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    // The first bundle rides along with the registration.
    let first = reg.bundle.as_ref().expect("a first bundle");
    assert_eq!(
        agent.open(first).version,
        server.running().state.publisher.version().unwrap().version
    );

    let resp = agent.check_in(&server, "", "").await.unwrap();
    assert_eq!(resp.interval_secs, 90);
    let signed = bundle_of(&resp).clone();
    let bundle = agent.open(&signed);
    let live = server.running().state.publisher.version().unwrap();
    assert_eq!(bundle.version, live.version);
    assert_eq!(bundle.tree_hash, live.tree_hash);
    assert_eq!(bundle.max_age_secs, 24 * 3600);
    let crate0 = &bundle.configcrates[0];
    assert_eq!(crate0.name, "motd");
    let names: Vec<_> = crate0.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["motd", "app-config"]);
    assert_eq!(crate0.resources[0].attributes["target_path"], "/etc/motd");
    // Secrets travel as markers, never as values.
    let app = &crate0.resources[1].attributes["content"];
    assert_eq!(app, "password=__VIGO_SECRET__app/db_password__END__");
    assert!(!String::from_utf8_lossy(&signed.payload).contains("hunter2"));

    // Same version and fingerprint: no change.
    let again = agent
        .check_in(&server, &bundle.version, &fingerprint(&signed))
        .await
        .unwrap();
    assert!(matches!(
        again.outcome,
        Some(check_in_response::Outcome::NoChange(_))
    ));
    // Same version, another fingerprint: the bundle again.
    let other = agent
        .check_in(&server, &bundle.version, "00")
        .await
        .unwrap();
    assert_eq!(bundle_of(&other).payload, signed.payload);

    // Publish a change: the next check-in gets the new version.
    write_stacks(
        server.dir.path(),
        &MOTD.replace("greeting: hello", "greeting: bonjour"),
    );
    let published = server.publish().await.unwrap();
    assert!(
        published.version > live.version,
        "versions strictly increase"
    );
    assert_eq!(published.published_by, "test");
    let resp = agent
        .check_in(&server, &bundle.version, &fingerprint(&signed))
        .await
        .unwrap();
    let newer = agent.open(bundle_of(&resp));
    assert_eq!(newer.version, published.version);
    assert_eq!(newer.configcrates[0].vars["greeting"], "bonjour");
    // Publishing the same tree again is refused as unchanged.
    assert!(
        matches!(server.publish().await, Err(PublishError::Unchanged(v)) if v == published.version)
    );
    let history = server.running().state.publisher.history(10).await.unwrap();
    assert_eq!(history.len(), 2);
    let audit = server.store().list_audit(100, None).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "config_published"
        && a.target.as_deref() == Some(published.version.as_str())));
    assert!(audit.iter().any(|a| a.action == "envoy.registered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refusals_say_why() {
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    server.approve("*.trusted.example.org", true).await;

    // Hostname outside every approved pattern (with a good token, which stays unused).
    let token = server.token(3600).await;
    let mut stranger = Agent::new("db.elsewhere.com");
    assert_refused(
        stranger.register(&server, Some(&token), false).await,
        Code::PermissionDenied,
        "not approved",
    );
    // No token for an untrusted pattern.
    let mut web = Agent::new("web-01.example.net");
    assert_refused(
        web.register(&server, None, false).await,
        Code::Unauthenticated,
        "token is required",
    );
    // Wrong token.
    assert_refused(
        web.register(&server, Some("vget_not-a-token"), false).await,
        Code::Unauthenticated,
        "wrong enrollment token",
    );
    // Expired token.
    let expired = server.token(-10).await;
    assert_refused(
        web.register(&server, Some(&expired), false).await,
        Code::Unauthenticated,
        "expired",
    );
    // The good token, which the refusals above did not consume.
    web.register(&server, Some(&token), false).await.unwrap();
    let first_id = web.envoy_id.clone();
    // Reused token.
    let mut web2 = Agent::new("web-02.example.net");
    assert_refused(
        web2.register(&server, Some(&token), false).await,
        Code::Unauthenticated,
        "already used by web-01.example.net",
    );
    // Already enrolled, without force.
    let mut again = Agent::new("web-01.example.net");
    let token2 = server.token(3600).await;
    assert_refused(
        again.register(&server, Some(&token2), false).await,
        Code::AlreadyExists,
        "already enrolled",
    );
    // With force: the old envoy is revoked at once.
    again.register(&server, Some(&token2), true).await.unwrap();
    assert_ne!(again.envoy_id, first_id);
    assert_refused(
        web.check_in(&server, "", "").await,
        Code::PermissionDenied,
        "revoked",
    );
    again.check_in(&server, "", "").await.unwrap();
    let old = server
        .store()
        .envoy(Uuid::parse_str(&first_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.status, vigo_server::store::EnvoyStatus::Revoked);

    // Trusted pattern: no token needed.
    let mut kiosk = Agent::new("kiosk-1.trusted.example.org");
    kiosk.register(&server, None, false).await.unwrap();

    // Every refusal is audited with its reason.
    let audit = server.store().list_audit(200, None).await.unwrap();
    let reasons: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "envoy.register_refused")
        .filter_map(|a| a.detail["reason"].as_str())
        .collect();
    for r in [
        "hostname_not_approved",
        "token_required",
        "wrong_token",
        "token_expired",
        "token_reused",
        "already_enrolled",
    ] {
        assert!(reasons.contains(&r), "{r} not audited in {reasons:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_publish_changes_nothing_and_returns_every_error() {
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let before = server.running().state.publisher.version().unwrap();
    let bad = MOTD
        .replace(
            "    state: present\n  - name: app-config",
            "    mdoe: \"0644\"\n    state: present\n  - name: app-config",
        )
        .replace("target_path: /etc/app.conf", "target_pth: /etc/app.conf");
    write_stacks(server.dir.path(), &bad);
    let Err(PublishError::Invalid(problems)) = server.publish().await else {
        panic!("an invalid tree must be refused");
    };
    assert!(problems.len() >= 2, "{problems:?}");
    assert!(
        problems.iter().any(|p| p.message.contains("mdoe")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.message.contains("target_pth")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .all(|p| p.message.contains("configcrates/motd.vgo:")),
        "{problems:?}"
    );
    assert!(
        matches!(server.running().state.publisher.validate().await, Err(PublishError::Invalid(p)) if p == problems)
    );
    assert_eq!(server.running().state.publisher.version().unwrap(), before);
    let resp = agent.check_in(&server, "", "").await.unwrap();
    assert_eq!(agent.open(bundle_of(&resp)).version, before.version);

    // A reference to a secret the store does not hold is an error too.
    write_stacks(
        server.dir.path(),
        &MOTD.replace("app/db_password", "app/missing"),
    );
    let Err(PublishError::Invalid(problems)) = server.publish().await else {
        panic!("a missing secret must be refused");
    };
    assert!(
        problems[0]
            .message
            .contains("secret `app/missing` is not in the secrets store"),
        "{problems:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_replayed_revoked_and_foreign_requests_are_refused() {
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    let a = enrolled(&server, "web-01.example.net").await;
    let b = enrolled(&server, "web-02.example.net").await;
    let body = CheckInRequest::default().encode_to_vec();
    let mut client = a.client(&server).await;

    // Signed by another key.
    let forger = SigningKey::from_bytes(&[42; 32]);
    let forged = a.sign_as(&forger, "CheckIn", body.clone(), now());
    assert_refused(
        client.check_in(forged).await,
        Code::Unauthenticated,
        "bad request signature",
    );
    // Signed for another method.
    let wrong_method = a.sign("ReportTraits", body.clone());
    assert_refused(
        client.check_in(wrong_method).await,
        Code::Unauthenticated,
        "bad request signature",
    );
    // Stale and future timestamps.
    let stale = a.sign_as(&a.key, "CheckIn", body.clone(), now() - 400);
    assert_refused(
        client.check_in(stale).await,
        Code::Unauthenticated,
        "stale request",
    );
    let future = a.sign_as(&a.key, "CheckIn", body.clone(), now() + 400);
    assert_refused(
        client.check_in(future).await,
        Code::Unauthenticated,
        "stale request",
    );
    // Replayed nonce.
    let once = a.sign("CheckIn", body.clone());
    client.check_in(once.clone()).await.unwrap();
    assert_refused(
        client.check_in(once).await,
        Code::Unauthenticated,
        "replayed",
    );
    // A's certificate, B's identity and key.
    let as_b = b.sign("CheckIn", body.clone());
    assert_refused(
        client.check_in(as_b).await,
        Code::PermissionDenied,
        "client certificate is for envoy",
    );
    // No client certificate at all.
    let mut anonymous = server.channel(None).await;
    assert_refused(
        anonymous.check_in(a.sign("CheckIn", body.clone())).await,
        Code::Unauthenticated,
        "client certificate",
    );
    // Revoked through the store and the fleet index, as the REST API does.
    let id = Uuid::parse_str(&b.envoy_id).unwrap();
    server.store().revoke_envoy(id, now()).await.unwrap();
    assert!(server.running().state.fleet.revoke(id));
    assert_refused(
        b.check_in(&server, "", "").await,
        Code::PermissionDenied,
        "revoked",
    );
    // A is unaffected.
    a.check_in(&server, "", "").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_stored_and_replays_are_idempotent() {
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let run_id = Uuid::now_v7();
    let body = ReportResultRequest {
        run_id: run_id.to_string(),
        policy_version: "20260101T000000Z".into(),
        dry_run: false,
        started_at_unix: now() - 5,
        duration_micros: 2_500_000,
        results: vec![
            ResourceResult {
                configcrate: "motd".into(),
                r#type: "file".into(),
                name: "motd".into(),
                action: Action::Created as i32,
                duration_micros: 1200,
                message: "created".into(),
            },
            ResourceResult {
                configcrate: "motd".into(),
                r#type: "file".into(),
                name: "app-config".into(),
                action: Action::None as i32,
                duration_micros: 300,
                message: String::new(),
            },
        ],
        ..Default::default()
    };
    let mut client = agent.client(&server).await;
    for _ in 0..2 {
        // The second send is an offline-queue replay: a new envelope, the same run.
        client
            .report_result(agent.sign("ReportResult", body.encode_to_vec()))
            .await
            .unwrap();
    }
    let envoy = Uuid::parse_str(&agent.envoy_id).unwrap();
    let run = server
        .store()
        .run(run_id)
        .await
        .unwrap()
        .expect("run stored");
    assert_eq!(run.envoy_id, envoy);
    assert_eq!(run.counts.created, 1);
    assert_eq!(run.counts.none, 1);
    assert_eq!(run.policy_version.as_deref(), Some("20260101T000000Z"));
    let results = server.store().run_results(run_id).await.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].resource_id, "motd/file:motd");
    let runs = server
        .store()
        .runs_of_envoy(envoy, vigo_server::store::Page::first(10))
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);

    // An invalid action is refused.
    let mut bad = body.clone();
    bad.run_id = Uuid::now_v7().to_string();
    bad.results[0].action = 99;
    assert_refused(
        client
            .report_result(agent.sign("ReportResult", bad.encode_to_vec()))
            .await,
        Code::InvalidArgument,
        "no valid action",
    );

    // Traits: kept in memory, written by the batched flush.
    let traits = ReportTraitsRequest {
        traits_json: br#"{"os":{"family":"debian"}}"#.to_vec(),
        ..Default::default()
    };
    client
        .report_traits(agent.sign("ReportTraits", traits.encode_to_vec()))
        .await
        .unwrap();
    let hash = hex::encode(Sha256::digest(br#"{"os":{"family":"debian"}}"#));
    assert_eq!(
        server.running().state.fleet.traits_hash(envoy),
        Some(hash.clone())
    );
    let stats = server
        .running()
        .state
        .fleet
        .flush(server.store())
        .await
        .unwrap();
    assert_eq!(stats.traits, 1);
    assert!(stats.seen >= 1);
    let stored = server.store().envoy_traits(envoy).await.unwrap().unwrap();
    assert!(stored.contains("debian"));
    let row = server.store().envoy(envoy).await.unwrap().unwrap();
    assert!(row.last_seen_at.is_some());
    // A check-in with a known traits hash is not asked for traits; an unknown one is.
    let ask = |h: &str| CheckInRequest {
        traits_hash: h.into(),
        ..Default::default()
    };
    let resp = client
        .check_in(agent.sign("CheckIn", ask(&hash).encode_to_vec()))
        .await
        .unwrap();
    assert!(!resp.into_inner().want_traits);
    let resp = client
        .check_in(agent.sign("CheckIn", ask("abc").encode_to_vec()))
        .await
        .unwrap();
    assert!(resp.into_inner().want_traits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_resolve_only_for_markers_in_the_envoys_bundle() {
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let mut client = agent.client(&server).await;
    let ask = |paths: &[&str]| ResolveSecretsRequest {
        policy_version: String::new(),
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    };
    let resp = client
        .resolve_secrets(agent.sign("ResolveSecrets", ask(&["app/db_password"]).encode_to_vec()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.values["app/db_password"], b"hunter2");

    assert_refused(
        client
            .resolve_secrets(agent.sign(
                "ResolveSecrets",
                ask(&["app/db_password", "other/secret"]).encode_to_vec(),
            ))
            .await,
        Code::PermissionDenied,
        "other/secret",
    );
    let audit = server.store().list_audit(50, None).await.unwrap();
    let denied = audit
        .iter()
        .find(|a| a.action == "secrets.denied")
        .expect("the refusal is audited");
    assert_eq!(denied.actor, agent.envoy_id);
    assert_eq!(denied.detail["paths"][0], "other/secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_enrollments_version_and_signing_key() {
    let mut server = Server::start().await;
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let key_id = server.running().state.pki.signing_key_id();
    let version = server.running().state.publisher.version().unwrap();
    let resp = agent.check_in(&server, "", "").await.unwrap();
    let signed = bundle_of(&resp).clone();

    // The local admin token: a 0600 file whose hash is an admin API token.
    let token_file = server.dir.path().join("local-admin.token");
    let secret = std::fs::read_to_string(&token_file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let stored = server
        .store()
        .api_token_by_hash(&TokenHash::of_secret(secret.trim()))
        .await
        .unwrap()
        .expect("the local admin token is stored");
    assert_eq!(stored.role, vigo_server::store::ApiRole::Admin);

    server.restart().await;
    assert_eq!(server.running().state.pki.signing_key_id(), key_id);
    assert_eq!(server.running().state.publisher.version().unwrap(), version);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), secret);
    assert_eq!(server.store().list_api_tokens().await.unwrap().len(), 1);
    // The enrollment survived: same certificate, same key, no change since.
    let again = agent
        .check_in(&server, &version.version, &fingerprint(&signed))
        .await
        .unwrap();
    assert!(matches!(
        again.outcome,
        Some(check_in_response::Outcome::NoChange(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_stream_is_held_open_and_checks_every_frame() {
    use vigo_proto::v1::{AgentFrame, Keepalive, agent_frame};
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let frame = AgentFrame {
        frame: Some(agent_frame::Frame::Keepalive(Keepalive {
            timestamp_unix: now(),
        })),
    }
    .encode_to_vec();

    // Without a client certificate the stream is refused.
    let mut anonymous = server.channel(None).await;
    let good = agent.sign("AgentStream", frame.clone());
    assert_refused(
        anonymous.agent_stream(tokio_stream::iter(vec![good])).await,
        Code::Unauthenticated,
        "client certificate",
    );

    // A valid frame keeps it open; a forged one ends it with the reason.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut client = agent.client(&server).await;
    let mut inbound = client
        .agent_stream(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(agent.sign("AgentStream", frame.clone()))
        .await
        .unwrap();
    // The server greets with a keepalive, then stays quiet until the next one.
    let hello = inbound.message().await.unwrap().expect("a keepalive frame");
    assert!(matches!(
        hello.frame,
        Some(vigo_proto::v1::server_frame::Frame::Keepalive(_))
    ));
    let quiet = tokio::time::timeout(Duration::from_millis(300), inbound.message()).await;
    assert!(quiet.is_err(), "the stream stays open: {quiet:?}");
    let forger = SigningKey::from_bytes(&[7; 32]);
    tx.send(agent.sign_as(&forger, "AgentStream", frame, now()))
        .await
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), inbound.message())
        .await
        .expect("the server answers the forged frame");
    assert_refused(ended, Code::Unauthenticated, "bad request signature");
}

impl Agent {
    /// `CheckIn` reporting `pinned` as the pinned bundle-signing key.
    async fn check_in_pinned(
        &self,
        server: &Server,
        version: &str,
        fingerprint: &str,
        pinned: &VerifyingKey,
    ) -> CheckInResponse {
        let body = CheckInRequest {
            policy_version: version.into(),
            state_fingerprint: fingerprint.into(),
            pinned_key_id: vigo_core::signing::key_id(pinned),
            ..Default::default()
        };
        let req = self.sign("CheckIn", body.encode_to_vec());
        self.client(server)
            .await
            .check_in(req)
            .await
            .unwrap()
            .into_inner()
    }

    /// `RenewCertificate` for a CSR from a fresh key: the new key (PEM) and the answer.
    async fn renew(&self, server: &Server) -> (String, Result<RenewCertificateResponse, Status>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let csr = rcgen::CertificateParams::new(vec!["ignored.example".to_owned()])
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let body = RenewCertificateRequest { csr_pem: csr };
        let req = self.sign("RenewCertificate", body.encode_to_vec());
        let answer = self
            .client(server)
            .await
            .renew_certificate(req)
            .await
            .map(tonic::Response::into_inner);
        (key.serialize_pem(), answer)
    }
}

/// The CN, SANs, serial and public key of a PEM certificate.
fn names_of(pem: &str) -> (String, Vec<String>, String, Vec<u8>) {
    use rustls_pki_types::pem::PemObject;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let sans = cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect();
    (
        cn,
        sans,
        hex::encode(cert.raw_serial()),
        cert.public_key().subject_public_key.data.to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_envoy_renews_its_certificate_and_the_next_handshake_uses_it() {
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    let mut agent = enrolled(&server, "web-01.example.net").await;
    let id = Uuid::parse_str(&agent.envoy_id).unwrap();
    let (_, _, old_serial, _) = names_of(&agent.cert_pem);

    let (new_key, answer) = agent.renew(&server).await;
    let renewed = answer.unwrap();
    let (cn, sans, serial, public_key) = names_of(&renewed.certificate_pem);
    assert_eq!(cn, agent.envoy_id, "the same CN: the envoy id");
    assert_eq!(sans, ["DNSName(\"web-01.example.net\")"], "the same SAN");
    assert_eq!(serial, renewed.serial);
    assert_ne!(serial, old_serial);
    let new_key_pair = rcgen::KeyPair::from_pem(&new_key).unwrap();
    assert_eq!(
        public_key,
        new_key_pair.public_key_raw(),
        "the CSR's new key"
    );
    let lifetime = renewed.not_after_unix - now();
    assert!(
        (364 * 86_400..=366 * 86_400).contains(&lifetime),
        "enrollment.client_cert_validity: {lifetime}"
    );
    // The store keeps the new certificate; the renewal is audited.
    let stored = server.store().envoy(id).await.unwrap().unwrap();
    assert_eq!(stored.cert_serial, renewed.serial);
    assert_eq!(stored.cert_pem, renewed.certificate_pem);
    let audit = server.store().list_audit(100, None).await.unwrap();
    let entry = audit
        .iter()
        .find(|a| a.action == "envoy.cert_renewed")
        .expect("audited");
    assert_eq!(entry.actor, agent.envoy_id);
    assert_eq!(entry.detail["previous_serial"], old_serial.as_str());
    assert_eq!(entry.detail["serial"], renewed.serial.as_str());

    // The next connection presents the new certificate and key, and is served.
    agent.cert_pem = renewed.certificate_pem;
    agent.tls_key_pem = new_key;
    agent.check_in(&server, "", "").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_envoy_cannot_renew_and_a_bad_csr_is_refused() {
    let server = Server::start().await;
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let id = Uuid::parse_str(&agent.envoy_id).unwrap();

    let body = RenewCertificateRequest {
        csr_pem: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
            .into(),
    };
    let req = agent.sign("RenewCertificate", body.encode_to_vec());
    assert_refused(
        agent.client(&server).await.renew_certificate(req).await,
        Code::InvalidArgument,
        "certificate request refused",
    );

    server.store().revoke_envoy(id, now()).await.unwrap();
    assert!(server.running().state.fleet.revoke(id));
    let (_, answer) = agent.renew(&server).await;
    assert_refused(answer, Code::PermissionDenied, "revoked");
    let stored = server.store().envoy(id).await.unwrap().unwrap();
    assert_eq!(stored.cert_pem, agent.cert_pem, "nothing recorded");
    // The store refuses it too, whatever the fleet index says.
    assert!(matches!(
        server.store().record_renewed_cert(id, "00", "pem").await,
        Err(vigo_server::store::StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_in_leads_an_agent_through_every_rotation_to_the_new_key() {
    let mut server = Server::start().await;
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let k0 = *agent.server_key.as_ref().unwrap();
    let signed = bundle_of(&agent.check_in(&server, "", "").await.unwrap()).clone();
    let version = agent.open(&signed).version;
    let fp = fingerprint(&signed);
    let up_to_date = agent.check_in_pinned(&server, &version, &fp, &k0).await;
    assert!(matches!(
        up_to_date.outcome,
        Some(check_in_response::Outcome::NoChange(_))
    ));
    assert!(up_to_date.key_rotation.is_none() && up_to_date.key_rotation_chain.is_empty());

    // Two rotations while the agent is away.
    let keys = std::sync::Arc::clone(server.running().state.pki.bundle_keys());
    keys.rotate(now()).unwrap();
    let k1 = keys.verifying_key();
    keys.rotate(now()).unwrap();
    let k2 = keys.verifying_key();
    server.restart().await;

    // Back with the first key: the whole chain, and the bundle (never no_change),
    // signed by the last key, over the same payload.
    let resp = agent.check_in_pinned(&server, &version, &fp, &k0).await;
    assert_eq!(resp.key_rotation_chain.len(), 2);
    assert_eq!(resp.key_rotation.as_ref(), resp.key_rotation_chain.first());
    let reached = vigo_core::rotation::verify_chain(&resp.key_rotation_chain, &k0).unwrap();
    assert_eq!(reached, k2);
    let resigned = bundle_of(&resp);
    assert_eq!(resigned.key_id, vigo_core::signing::key_id(&k2));
    assert_eq!(resigned.payload, signed.payload);
    vigo_core::signing::verify(resigned, &k2).unwrap();
    // A forged chain (signed by a key the agent never pinned) does not verify.
    assert!(vigo_core::rotation::verify_chain(&resp.key_rotation_chain[1..], &k0).is_err());

    // With the middle key: the last rotation only. With the new key: nothing to do.
    let resp = agent.check_in_pinned(&server, &version, &fp, &k1).await;
    assert_eq!(resp.key_rotation_chain.len(), 1);
    let resp = agent.check_in_pinned(&server, &version, &fp, &k2).await;
    assert!(resp.key_rotation_chain.is_empty());
    assert!(matches!(
        resp.outcome,
        Some(check_in_response::Outcome::NoChange(_))
    ));
}

/// Issue "Trust" item 8: a captured signed request is refused after a restart (the
/// ledger is in the database, not only in memory), and so is a captured registration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_request_is_refused_after_a_restart_inside_its_window() {
    let mut server = Server::start().await;
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let captured = agent.sign("CheckIn", CheckInRequest::default().encode_to_vec());
    agent
        .client(&server)
        .await
        .check_in(captured.clone())
        .await
        .unwrap();

    server.restart().await;
    assert_refused(
        agent.client(&server).await.check_in(captured).await,
        Code::Unauthenticated,
        "replayed request",
    );
    // A fresh request of the same envoy still passes.
    agent.check_in(&server, "", "").await.unwrap();
    // The ledger holds the nonces with the expiry their signed timestamps give.
    let nonces = server
        .store()
        .prune_nonces(now() + 302, 1000)
        .await
        .unwrap();
    assert!(nonces >= 2, "{nonces} rows pruned");
}

/// Issue "Trust" item 9: gRPC `Register` enforces the same limits as REST, and nothing
/// of a refused registration is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_over_grpc_bounds_every_field_like_rest() {
    let server = Server::start().await;
    server.approve("*.example.net", true).await;
    type Mutation = Box<dyn Fn(&mut RegisterRequest)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "agent_version",
            Box::new(|b: &mut RegisterRequest| b.agent_version = "9".repeat(1 << 20)),
        ),
        (
            "agent_version",
            Box::new(|b: &mut RegisterRequest| b.agent_version = "<script>".into()),
        ),
        (
            "ip_addresses",
            Box::new(|b: &mut RegisterRequest| {
                b.ip_addresses = (0..5002)
                    .map(|i| format!("10.0.{}.{}", i / 250, i % 250))
                    .collect();
            }),
        ),
        (
            "ip_addresses",
            Box::new(|b: &mut RegisterRequest| {
                b.ip_addresses = vec!["<script>alert(1)</script>".into()];
            }),
        ),
        (
            "token",
            Box::new(|b: &mut RegisterRequest| b.token = "t".repeat(4096)),
        ),
        (
            "hostname",
            Box::new(|b: &mut RegisterRequest| b.hostname = "a".repeat(300)),
        ),
    ];
    for (field, mutate) in cases {
        let agent = Agent::new("web-01.example.net");
        let mut body = RegisterRequest {
            hostname: agent.hostname.clone(),
            ip_addresses: vec!["192.0.2.10".into()],
            agent_public_key: agent.key.verifying_key().to_bytes().to_vec(),
            token: String::new(),
            force: false,
            csr_pem: agent.csr_pem.clone(),
            agent_version: "0.1.0".into(),
        };
        mutate(&mut body);
        let req = agent.sign("Register", body.encode_to_vec());
        let result = server.channel(None).await.register(req).await;
        assert_refused(result, Code::InvalidArgument, &format!("`{field}` must be"));
    }
    assert!(
        server
            .store()
            .list_envoys(&Default::default())
            .await
            .unwrap()
            .is_empty(),
        "a refused registration stores nothing"
    );
    // The audit entries of the refusals are bounded strings too.
    let audit = server.store().list_audit(100, None).await.unwrap();
    assert!(audit.iter().all(|e| e.detail.to_string().len() < 4096));
    // A well-formed registration passes.
    let mut ok = Agent::new("web-01.example.net");
    ok.register(&server, None, false).await.unwrap();
}

/// Issue "Trust" item 7: refused registrations (no token needed) are bounded per source
/// in the audit log, and the rest is aggregated with the hostnames that were refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_registrations_cannot_flood_the_audit_log() {
    let server = Server::start().await;
    let mut client = server.channel(None).await;
    let attempts = 300;
    for i in 0..attempts {
        let agent = Agent::new(&format!("intruder-{i}.example.com"));
        let body = RegisterRequest {
            hostname: agent.hostname.clone(),
            agent_public_key: agent.key.verifying_key().to_bytes().to_vec(),
            csr_pem: agent.csr_pem.clone(),
            ..Default::default()
        };
        let req = agent.sign("Register", body.encode_to_vec());
        assert_refused(
            client.register(req).await,
            Code::PermissionDenied,
            "not approved",
        );
    }
    server.running().state.refusals.flush_all().await;
    let audit = server.store().list_audit(1000, None).await.unwrap();
    let written = audit
        .iter()
        .filter(|e| e.action == "envoy.register_refused")
        .count();
    assert_eq!(written, vigo_server::refusals::PER_SOURCE as usize);
    let aggregate: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "audit.refusals_aggregated")
        .collect();
    assert_eq!(aggregate.len(), 1);
    let detail = &aggregate[0].detail;
    assert_eq!(detail["count"], attempts - written);
    assert_eq!(detail["actions"]["envoy.register_refused"], detail["count"]);
    assert_eq!(
        detail["principals"].as_object().unwrap().len(),
        vigo_server::refusals::MAX_NAMED
    );
    assert!(
        detail["principals"]["intruder-299.example.com"].is_number()
            || detail["principals_unnamed"].as_u64().unwrap() > 0
    );
}

/// Issue "Trust" item 12: run history is pruned past `retention.runs`, by the server's
/// own background task, in bounded batches; fresh runs stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_past_retention_are_pruned_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    write_stacks(dir.path(), MOTD);
    let yaml = "server:\n  grpc_listen: \"127.0.0.1:0\"\n  api_listen: \"127.0.0.1:0\"\n  hostname: localhost\nretention:\n  runs: 1h\n  prune_interval: 1s\n  prune_batch: 7\n";
    let config = ServerConfig::parse(yaml, &dir.path().join("server.yaml"), dir.path()).unwrap();
    assert_eq!(config.retention.prune_batch, 7);
    let secrets = LocalSecrets::from_config(&config.secrets).unwrap();
    secrets.set("app/db_password", "hunter2").unwrap();
    let running = serve::start(config).await.unwrap();
    let store = running.state.store.clone();
    let server = Server {
        dir,
        running: Some(running),
    };
    server.approve("*.example.net", false).await;
    let agent = enrolled(&server, "web-01.example.net").await;
    let envoy_id = Uuid::parse_str(&agent.envoy_id).unwrap();
    let run_at = |finished_at: i64| vigo_server::store::Run {
        id: Uuid::now_v7(),
        envoy_id,
        started_at: finished_at - 1,
        finished_at,
        duration_micros: 1,
        policy_version: None,
        dry_run: false,
        counts: Default::default(),
    };
    let old: Vec<_> = (0..30).map(|i| run_at(now() - 7200 - i)).collect();
    for r in &old {
        store.record_run(r, &[]).await.unwrap();
    }
    let fresh = run_at(now() - 60);
    store.record_run(&fresh, &[]).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = store
            .runs_of_envoy(envoy_id, vigo_server::store::Page::first(100))
            .await
            .unwrap();
        if left.len() == 1 {
            assert_eq!(left[0].id, fresh.id);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} runs left after 20 s",
            left.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn token_expiry_and_request_freshness_follow_the_server_clock() {
    let clock = Clock::manual(time::OffsetDateTime::now_utc());
    let server = Server::start_on(clock.clone()).await;
    server.approve("*.example.net", false).await;
    let token = server.token(60).await;
    let mut web = Agent::new("web-01.example.net");
    // A minute later by the server's clock, without waiting: the token has expired.
    assert!(clock.advance(Duration::from_secs(60)));
    assert_refused(
        web.register(&server, Some(&token), false).await,
        Code::Unauthenticated,
        "expired",
    );
    let fresh = server.token(3600).await;
    web.register(&server, Some(&fresh), false).await.unwrap();
    let live = server.running().state.publisher.version().unwrap().version;
    web.check_in(&server, &live, "").await.unwrap();
    // Ten minutes on, the agent's timestamps are too far from the server's clock.
    assert!(clock.advance(Duration::from_secs(600)));
    assert_refused(
        web.check_in(&server, &live, "").await,
        Code::Unauthenticated,
        "stale request",
    );
}
