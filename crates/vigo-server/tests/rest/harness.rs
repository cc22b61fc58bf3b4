//! The harness of `tests/rest.rs`: a `ConfigOps` over a real stacks tree, a
//! `Registrar` with real enrollment behaviour, and a REST server over real TLS with a
//! client trusting only its CA.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use uuid::Uuid;
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, Resolver};
use vigo_server::clock::Clock;
use vigo_server::config::ServerConfig;
use vigo_server::ops::{BoxFuture, ConfigOps, ConfigProblem, PublishError, VersionInfo};
use vigo_server::pki::{Pki, PkiOptions, client_config};
use vigo_server::rest::{self, RegisterBody, RegisterReply, Registrar, RestState};
use vigo_server::secrets::LocalSecrets;
use vigo_server::store::{
    ApiRole, ConfigVersion, NewApiToken, NewAuditEntry, NewEnvoy, Reenrollment, Store, TokenHash,
};

/// The secret of the admin token every server starts with (named `ci-admin`).
pub const ADMIN_SECRET: &str = "vgot_test_admin_0123456789abcdef";
/// The agent binary every server serves (unless started without one).
pub const AGENT_BYTES: &[u8] = b"#!/bin/sh\necho \"vigo-agent $*\"\n";

// ------------------------------------------------------------ a real ConfigOps

/// Publishes the stacks tree on disk into the store, as the publisher does, with
/// vigo-lang doing the loading, checking and tracing.
struct TreeOps {
    stacks: PathBuf,
    pub store: Store,
    live: Mutex<Option<(VersionInfo, Arc<vigo_lang::model::Stack>)>>,
}

impl TreeOps {
    /// Stores `tree` as the next version and makes it live.
    async fn install(
        &self,
        tree: SourceTree,
        stack: vigo_lang::model::Stack,
        actor: &str,
    ) -> Result<VersionInfo, PublishError> {
        let tree_hash = tree.content_hash();
        if let Some((live, _)) = self.live.lock().unwrap().as_ref()
            && live.tree_hash == tree_hash
        {
            return Err(PublishError::Unchanged(live.version.clone()));
        }
        let internal = |e: vigo_server::store::StoreError| PublishError::internal("the store", e);
        let latest = self.store.version_history(1).await.map_err(internal)?;
        let mut at = rest_now();
        while latest
            .first()
            .is_some_and(|l| l.version >= version_string(at))
        {
            at += 1;
        }
        let v = ConfigVersion {
            version: version_string(at),
            tree_hash: tree_hash.clone(),
            tree: tree
                .files()
                .map(|(p, t)| (p.to_owned(), t.to_owned()))
                .collect::<BTreeMap<_, _>>(),
            published_at: at,
            published_by: actor.to_owned(),
        };
        self.store.publish_version(&v).await.map_err(internal)?;
        let info = VersionInfo {
            version: v.version,
            tree_hash,
            published_at: at,
            published_by: v.published_by,
        };
        // Like the real publisher, a ConfigOps audits the publishes it makes.
        self.store
            .append_audit(&vigo_server::store::NewAuditEntry {
                at,
                actor: actor.to_owned(),
                action: "config_published".to_owned(),
                target: Some(info.version.clone()),
                detail: serde_json::json!({ "tree_hash": info.tree_hash }),
            })
            .await
            .map_err(internal)?;
        *self.live.lock().unwrap() = Some((info.clone(), Arc::new(stack)));
        Ok(info)
    }

    fn check(&self) -> Result<(SourceTree, vigo_lang::model::Stack), PublishError> {
        let tree = SourceTree::read_dir(&self.stacks)
            .map_err(|e| PublishError::internal("the test publisher", e))?;
        let stack = vigo_lang::load(&tree).map_err(|errors| {
            PublishError::Invalid(
                errors
                    .0
                    .iter()
                    .map(|d| ConfigProblem {
                        message: d.to_string(),
                    })
                    .collect(),
            )
        })?;
        Ok((tree, stack))
    }
}

fn version_string(unix: i64) -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&fmt)
        .unwrap()
}

impl ConfigOps for TreeOps {
    fn validate(&self) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(async move { self.check().map(|_| ()) })
    }

    fn publish<'a>(&'a self, actor: &'a str) -> BoxFuture<'a, Result<VersionInfo, PublishError>> {
        Box::pin(async move {
            let (tree, stack) = self.check()?;
            self.install(tree, stack, actor).await
        })
    }

    fn rollback<'a>(
        &'a self,
        version: &'a str,
        actor: &'a str,
    ) -> BoxFuture<'a, Result<VersionInfo, PublishError>> {
        Box::pin(async move {
            let stored = self
                .store
                .config_version(version)
                .await
                .map_err(|e| PublishError::internal("the test publisher", e))?
                .ok_or_else(|| PublishError::UnknownVersion(version.to_owned()))?;
            let tree =
                SourceTree::from_files(stored.tree.iter().map(|(p, t)| (p.as_str(), t.as_str())));
            let stack = vigo_lang::load(&tree)
                .map_err(|e| PublishError::internal("the test publisher", e))?;
            self.install(tree, stack, actor).await
        })
    }

    fn version(&self) -> Option<VersionInfo> {
        self.live.lock().unwrap().as_ref().map(|(v, _)| v.clone())
    }

    fn history(&self, limit: u32) -> BoxFuture<'_, Result<Vec<VersionInfo>, PublishError>> {
        Box::pin(async move {
            let rows = self
                .store
                .version_history(limit)
                .await
                .map_err(|e| PublishError::internal("the test publisher", e))?;
            Ok(rows
                .into_iter()
                .map(|r| VersionInfo {
                    version: r.version,
                    tree_hash: r.tree_hash,
                    published_at: r.published_at,
                    published_by: r.published_by,
                })
                .collect())
        })
    }

    fn trace(&self, hostname: &str, environment: Option<&str>) -> Option<Value> {
        let (version, stack) = self.live.lock().unwrap().clone()?;
        let meta = BundleMeta {
            version: version.version,
            ..BundleMeta::default()
        };
        // The resolver's own JSON: the shape `vigo_api::config::Trace` types.
        Some(
            Resolver::new(stack, meta)
                .trace(hostname, environment)
                .to_json(),
        )
    }
}

// ------------------------------------------------------------ a real Registrar

/// Enrolls as the enrollment code does: token or trusted pattern, CSR signed by our CA,
/// envoy stored.
struct TestRegistrar {
    store: Store,
    pub pki: Arc<Pki>,
}

impl Registrar for TestRegistrar {
    fn register(
        &self,
        req: RegisterBody,
    ) -> BoxFuture<'_, Result<RegisterReply, (StatusCode, String)>> {
        Box::pin(async move {
            let hostname = req.hostname.clone();
            let result = self.try_register(req).await;
            let (actor, action) = match &result {
                Ok(reply) => (reply.envoy_id.clone(), "envoy.registered"),
                Err(_) => ("enrollment".to_owned(), "envoy.register_refused"),
            };
            self.store
                .append_audit(&NewAuditEntry {
                    at: rest_now(),
                    actor,
                    action: action.to_owned(),
                    target: Some(hostname),
                    detail: json!({ "error": result.as_ref().err().map(|e| e.1.clone()) }),
                })
                .await
                .unwrap();
            result
        })
    }
}

impl TestRegistrar {
    async fn try_register(&self, req: RegisterBody) -> Result<RegisterReply, (StatusCode, String)> {
        {
            let now = rest_now();
            let refuse = |e: &dyn std::fmt::Display| (StatusCode::FORBIDDEN, e.to_string());
            match &req.token {
                Some(t) => {
                    self.store
                        .consume_token(&TokenHash::of_secret(t), &req.hostname, now)
                        .await
                        .map_err(|e| refuse(&e))?;
                }
                None => {
                    let patterns = self.store.list_patterns().await.map_err(|e| refuse(&e))?;
                    let trusted = patterns.iter().any(|p| {
                        p.trusted
                            && vigo_lang::glob::Pattern::new(&p.pattern)
                                .is_ok_and(|g| g.matches(&req.hostname))
                    });
                    if !trusted {
                        return Err(refuse(
                            &"no enrollment token, and no trusted pattern matches",
                        ));
                    }
                }
            }
            let id = Uuid::new_v4();
            let cert = self
                .pki
                .sign_csr(
                    &req.csr_pem,
                    &req.hostname,
                    &id.to_string(),
                    Duration::from_secs(3600),
                )
                .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
            let new = NewEnvoy {
                id,
                hostname: req.hostname.clone(),
                public_key: req.public_key_bytes().unwrap(),
                cert_serial: cert.serial,
                cert_pem: cert.cert_pem.clone(),
                environment: None,
                address: req.peer_addr.map(|a| a.to_string()),
                agent_version: Some(req.agent_version.clone()),
                enrolled_at: now,
            };
            let mode = if req.force {
                Reenrollment::RevokePrevious
            } else {
                Reenrollment::Refuse
            };
            self.store
                .register_envoy(&new, mode)
                .await
                .map_err(|e| (StatusCode::CONFLICT, e.to_string()))?;
            Ok(RegisterReply {
                envoy_id: id.to_string(),
                certificate_pem: cert.cert_pem,
                ca_pem: self.pki.ca_pem().to_owned(),
                server_signing_key: hex::encode(self.pki.signing_key().verifying_key().to_bytes()),
                server_signing_key_id: self.pki.signing_key_id(),
                grpc_address: "vigo.test:1530".to_owned(),
            })
        }
    }
}

// ------------------------------------------------------------ the harness

/// Now, in Unix seconds.
pub fn rest_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One recorder per test process.
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| rest::install_metrics_recorder().expect("recorder"))
        .clone()
}

const MOTD: &str = "configcrate: motd\nresources:\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    content: hi\n    state: present\n";
const ENVOYS: &str = "envoys:\n  - match: \"web-*\"\n    configcrates: [motd]\n";

/// A REST server on 127.0.0.1 and a client for it; stopped when dropped.
pub struct Server {
    _dir: TempDir,
    /// The stacks directory `ConfigOps` reads.
    pub stacks: PathBuf,
    /// `https://127.0.0.1:PORT`.
    pub base: String,
    /// The listening port.
    pub port: u16,
    /// A client trusting only the server's CA.
    pub client: reqwest::Client,
    /// The server's store.
    pub store: Store,
    /// The server's PKI.
    pub pki: Arc<Pki>,
    /// The server's refusal audit (to flush its aggregates).
    pub refusals: Arc<vigo_server::refusals::RefusalAudit>,
    /// The server's clock: manual, started at the system time; tests move it.
    pub clock: Clock,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), rest::ServeError>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Server {
    /// A server with an agent binary.
    pub async fn start() -> Server {
        Server::start_with(true, "").await
    }

    /// A server, with or without an agent binary, with more `server.yaml` sections.
    pub async fn start_with(with_binary: bool, more_yaml: &str) -> Server {
        let dir = TempDir::new().unwrap();
        let root = dir.path();
        let clock = Clock::manual(time::OffsetDateTime::now_utc());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let yaml = format!(
            "server:\n  hostname: vigo.test\n  api_listen: \"127.0.0.1:{port}\"\n{more_yaml}"
        );
        let config = ServerConfig::parse(&yaml, &root.join("server.yaml"), root).unwrap();
        let pki = Arc::new(Pki::load_or_create(&PkiOptions::from_config(&config)).unwrap());
        let store = Store::open_sqlite(&root.join("db")).await.unwrap();
        let secrets =
            LocalSecrets::open(&root.join("secrets"), &root.join("secrets/.master.key")).unwrap();
        let stacks = root.join("stacks");
        write(&stacks.join("configcrates/motd.vgo"), MOTD);
        write(&stacks.join("envoys.vgo"), ENVOYS);
        let binary = root.join("vigo-agent");
        std::fs::write(&binary, AGENT_BYTES).unwrap();
        store
            .create_api_token(&NewApiToken {
                id: "tok_admin".into(),
                name: "ci-admin".into(),
                hash: TokenHash::of_secret(ADMIN_SECRET),
                role: ApiRole::Admin,
                owner: None,
                created_at: rest_now(),
                expires_at: None,
            })
            .await
            .unwrap();
        let refusals = vigo_server::refusals::RefusalAudit::new(store.clone(), clock.clone());
        let state = RestState {
            store: store.clone(),
            pki: Arc::clone(&pki),
            config: Arc::new(config),
            ops: Arc::new(TreeOps {
                stacks: stacks.clone(),
                store: store.clone(),
                live: Mutex::new(None),
            }),
            secrets: Some(Arc::new(secrets)),
            registrar: Arc::new(TestRegistrar {
                store: store.clone(),
                pki: Arc::clone(&pki),
            }),
            refusals: Arc::clone(&refusals),
            agent_binary: with_binary.then_some(binary),
            metrics: metrics_handle(),
            clock: clock.clone(),
        };
        let tls = pki.rest_server_config().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(rest::serve(listener, rest::router(state), tls, async {
            let _ = stopped.await;
        }));
        let tls = client_config(pki.ca_pem(), None).unwrap();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .build()
            .unwrap();
        Server {
            _dir: dir,
            stacks,
            base: format!("https://127.0.0.1:{port}"),
            port,
            client,
            store,
            pki,
            refusals,
            clock,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Signals shutdown and waits for `rest::serve` to return.
    pub async fn stop(mut self) -> Result<(), rest::ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve task")
    }

    /// Sends a request; the status and the body (JSON when it is JSON, else a string).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(method, path, Some(ADMIN_SECRET), body).await
    }

    /// Creates an API token with `role` through the API; its secret.
    pub async fn token(&self, name: &str, role: &str) -> String {
        let (status, body) = self
            .admin(
                Method::POST,
                "/api/v1/api-tokens",
                Some(json!({"name": name, "role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// The actions in the audit log, oldest first.
    pub async fn audit_actions(&self) -> Vec<(String, String, Value)> {
        let (status, body) = self.get("/api/v1/audit?limit=1000", ADMIN_SECRET).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut out: Vec<_> = body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["actor"].as_str().unwrap().to_owned(),
                    e["action"].as_str().unwrap().to_owned(),
                    e.clone(),
                )
            })
            .collect();
        out.reverse();
        out
    }

    /// Registers `hostname` through the API with a fresh CSR and agent key.
    pub async fn register(
        &self,
        hostname: &str,
        token: Option<&str>,
        force: bool,
    ) -> (StatusCode, Value) {
        let key = rcgen::KeyPair::generate().unwrap();
        let csr = rcgen::CertificateParams::new(vec![hostname.to_owned()])
            .unwrap()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap();
        let agent = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let body = json!({
            "hostname": hostname,
            "token": token,
            "csr_pem": csr,
            "agent_public_key": hex::encode(agent.verifying_key().to_bytes()),
            "ip_addresses": ["192.0.2.10"],
            "agent_version": "0.1.0",
            "force": force,
        });
        self.call(Method::POST, "/api/v1/register", None, Some(body))
            .await
    }
}

/// Writes a file, creating its directory.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The `message` of an error body.
pub fn message(body: &Value) -> &str {
    body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message in {body}"))
}
