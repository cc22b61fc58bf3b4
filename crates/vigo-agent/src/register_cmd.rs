//! `vigo register --token T [--force]`: enrollment over the gRPC `Register` RPC, and the
//! enrollment steps `vigo bootstrap` shares (keys, CSR, saving what the server returns).
//!
//! ```console
//! # vigo --server vigo.example.com:1530 register --token vgoe_4f2a…
//! registered as a1b2c3d4-e5f6-7890-abcd-ef1234567890 with vigo.example.com:1530
//! ```
//!
//! Steps: collect the hostname and addresses (the `network` collector) → generate a new
//! ed25519 agent key and a TLS client key (ECDSA P-256) with its CSR (CN = hostname) →
//! `Register` over TLS without a client certificate, trusting `--ca-file` (fetched from
//! `--api-addr` on first use when absent, printing its fingerprint) → check the returned
//! bundle-signing key against its key id → save `ca.pem`, `cert.pem`, `key.pem` (0600),
//! `agent.key` (0600), `server.pub` (the pinned key) and the config file (`server`,
//! `envoy_id`). Nothing is written before the server has accepted the enrollment, so a
//! refused registration leaves a previous enrollment intact.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use ed25519_dalek::VerifyingKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePublicKey, EncodePublicKey};
use prost::Message;
use vigo_core::signing;
use vigo_exec::atomic::{FileMeta, write_file};
use vigo_proto::v1::{RegisterRequest, SignedBundle};

use crate::cli::RegisterArgs;
use crate::client::{Client, TlsMaterial};
use crate::identity::AgentIdentity;
use crate::settings::{ConfigFile, Settings};
use crate::state::StateStore;

/// The file in the data directory that holds the pinned bundle-signing key (SPKI PEM).
pub const SERVER_PUB: &str = "server.pub";
/// The file in the data directory that holds the agent's ed25519 key.
pub const AGENT_KEY: &str = "agent.key";

/// Errors reading or writing the enrollment files; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The server's answer is not usable.
    #[error("the server's registration answer is unusable: {0}")]
    BadAnswer(String),
    /// Generating keys or the CSR failed.
    #[error("generating the TLS key and CSR: {0}")]
    Keys(String),
}

/// What this machine sends to enroll: its names, its new keys and the CSR.
pub struct Enrollee {
    /// The hostname the server matches against its patterns.
    pub hostname: String,
    /// The machine's IP addresses.
    pub ip_addresses: Vec<String>,
    /// The new agent key (saved only once the server accepted it).
    pub identity: Arc<AgentIdentity>,
    /// The TLS client key, PKCS#8 PEM (saved 0600 once the server accepted it).
    tls_key_pem: String,
    /// The CSR for the TLS client certificate.
    pub csr_pem: String,
}

impl std::fmt::Debug for Enrollee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a private key.
        f.debug_struct("Enrollee")
            .field("hostname", &self.hostname)
            .field("ip_addresses", &self.ip_addresses)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl Enrollee {
    /// New keys and a CSR for `hostname` (CN = hostname; the server sets the names it
    /// approves).
    pub fn generate(hostname: &str, ip_addresses: Vec<String>) -> Result<Self, EnrollError> {
        let keys = |e: rcgen::Error| EnrollError::Keys(e.to_string());
        let key = rcgen::KeyPair::generate().map_err(keys)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(keys)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, hostname);
        let csr_pem = params
            .serialize_request(&key)
            .map_err(keys)?
            .pem()
            .map_err(keys)?;
        Ok(Self {
            hostname: hostname.to_owned(),
            ip_addresses,
            identity: Arc::new(
                AgentIdentity::generate().map_err(|e| EnrollError::Keys(e.to_string()))?,
            ),
            tls_key_pem: key.serialize_pem(),
            csr_pem,
        })
    }

    /// The `RegisterRequest` body for this enrollee.
    pub fn request(&self, token: &str, force: bool) -> RegisterRequest {
        RegisterRequest {
            hostname: self.hostname.clone(),
            ip_addresses: self.ip_addresses.clone(),
            agent_public_key: self.identity.public_key().to_vec(),
            token: token.to_owned(),
            force,
            csr_pem: self.csr_pem.clone(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// What the server returned for an accepted enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The envoy UUID.
    pub envoy_id: String,
    /// The signed TLS client certificate.
    pub certificate_pem: String,
    /// The CA to pin.
    pub ca_pem: String,
    /// The bundle-signing key to pin.
    pub server_signing_key: VerifyingKey,
    /// The gRPC address the agent uses from now on.
    pub server: String,
}

impl Enrollment {
    /// Checks the server's answer: an envoy id, a certificate, a 32-byte signing key whose
    /// id matches `key_id`.
    pub fn from_parts(
        envoy_id: String,
        certificate_pem: String,
        ca_pem: String,
        server_signing_key: &[u8],
        key_id: &str,
        server: String,
    ) -> Result<Self, EnrollError> {
        let bad = |m: &str| EnrollError::BadAnswer(m.to_owned());
        if envoy_id.trim().is_empty() {
            return Err(bad("no envoy id"));
        }
        if !certificate_pem.contains("BEGIN CERTIFICATE") {
            return Err(bad("no client certificate"));
        }
        if !ca_pem.contains("BEGIN CERTIFICATE") {
            return Err(bad("no CA certificate"));
        }
        let bytes: [u8; 32] = server_signing_key.try_into().map_err(|_| {
            EnrollError::BadAnswer(format!(
                "the server signing key has {} bytes, not 32",
                server_signing_key.len()
            ))
        })?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("the server signing key is not an ed25519 key"))?;
        let actual = signing::key_id(&key);
        if !key_id.is_empty() && actual != key_id {
            return Err(EnrollError::BadAnswer(format!(
                "the server signing key has id {actual}, but the server named {key_id}"
            )));
        }
        Ok(Self {
            envoy_id,
            certificate_pem,
            ca_pem,
            server_signing_key: key,
            server,
        })
    }
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> EnrollError {
    EnrollError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn write(path: &Path, content: &[u8], mode: u32) -> Result<(), EnrollError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| file_err(dir, e))?;
    }
    let meta = FileMeta {
        mode: Some(mode),
        uid: None,
        gid: None,
    };
    write_file(path, content, &meta, None).map_err(|e| file_err(path, e))
}

/// Pins the server's bundle-signing key: writes it as SPKI PEM (mode 0644).
pub fn pin_server_key(path: &Path, key: &VerifyingKey) -> Result<(), EnrollError> {
    let pem = key
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| file_err(path, e))?;
    write(path, pem.as_bytes(), 0o644)
}

/// The pinned bundle-signing key, or `None` when none is pinned.
pub fn load_pinned_key(path: &Path) -> Result<Option<VerifyingKey>, EnrollError> {
    let pem = match std::fs::read_to_string(path) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_err(path, e)),
    };
    VerifyingKey::from_public_key_pem(&pem)
        .map(Some)
        .map_err(|e| file_err(path, format!("not an ed25519 public key PEM: {e}")))
}

/// Writes the config file (mode 0644: it holds no secret).
pub fn write_config(path: &Path, config: &ConfigFile) -> Result<(), EnrollError> {
    write(path, config.to_yaml().as_bytes(), 0o644)
}

/// Saves an accepted enrollment: CA, certificate, TLS key (0600), agent key (0600),
/// pinned server key, and the config file (merged into the existing one: `server` and
/// `envoy_id` set, `bolt` cleared, the TLS file paths recorded when not the defaults).
/// Returns the config written.
pub fn save(
    settings: &Settings,
    enrollee: &Enrollee,
    enrollment: &Enrollment,
) -> Result<ConfigFile, EnrollError> {
    let data = &settings.data_dir;
    std::fs::create_dir_all(data).map_err(|e| file_err(data, e))?;
    write(&settings.ca_file, enrollment.ca_pem.as_bytes(), 0o644)?;
    write(
        &settings.cert_file,
        enrollment.certificate_pem.as_bytes(),
        0o644,
    )?;
    write(&settings.key_file, enrollee.tls_key_pem.as_bytes(), 0o600)?;
    let agent_key = data.join(AGENT_KEY);
    enrollee
        .identity
        .save(&agent_key)
        .map_err(|e| file_err(&agent_key, e))?;
    pin_server_key(&data.join(SERVER_PUB), &enrollment.server_signing_key)?;

    let config_path = data.join("config");
    let mut config = ConfigFile::load(&config_path).map_err(|e| file_err(&config_path, e))?;
    config.server = Some(enrollment.server.clone());
    config.envoy_id = Some(enrollment.envoy_id.clone());
    config.bolt = None;
    let non_default = |p: &Path, name: &str| (p != data.join(name)).then(|| p.to_path_buf());
    config.ca_file = non_default(&settings.ca_file, "ca.pem");
    config.cert_file = non_default(&settings.cert_file, "cert.pem");
    config.key_file = non_default(&settings.key_file, "key.pem");
    write_config(&config_path, &config)?;
    Ok(config)
}

/// The hostname and IP addresses this machine registers with (the `network` collector).
pub fn host_facts() -> Result<(String, Vec<String>)> {
    let network: Vec<vigo_traits::Collector> = vigo_traits::all()
        .into_iter()
        .filter(|c| c.name == "network")
        .collect();
    let traits = vigo_traits::run(&network, &vigo_traits::Ctx::default()).values;
    let hostname = traits
        .hostname()
        .map(str::to_owned)
        .context("cannot tell this machine's hostname (the network collector found none)")?;
    let ips = traits
        .network
        .map(|n| {
            n.ip_addresses
                .iter()
                // Plain addresses only (drop a `/prefix` if a collector adds one).
                .filter_map(|ip| ip.split('/').next()?.parse::<std::net::IpAddr>().ok())
                .map(|ip| ip.to_string())
                .collect()
        })
        .unwrap_or_default();
    Ok((hostname, ips))
}

/// Stores the first bundle the server may send with the enrollment, if it verifies
/// against the key just pinned. Best effort: a failure only warns.
pub fn keep_first_bundle(
    state_dir: &Path,
    bundle: &SignedBundle,
    key: &VerifyingKey,
    now_unix: i64,
) {
    let outcome = signing::verify(bundle, key)
        .and_then(|b| signing::check_age(&b, now_unix).map(|()| b))
        .map_err(|e| e.to_string())
        .and_then(|_| {
            let store = StateStore::open(state_dir).map_err(|e| e.to_string())?;
            store
                .put_bundle(&bundle.encode_to_vec(), now_unix)
                .map_err(|e| e.to_string())
        });
    if let Err(why) = outcome {
        tracing::warn!("the first policy bundle was not kept: {why}");
    }
}

/// Runs `vigo register`.
pub async fn run(settings: &Settings, args: &RegisterArgs) -> Result<ExitCode> {
    let ca_pem = match std::fs::read(&settings.ca_file) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // First contact: fetch the CA from the REST API (trust on first use).
            let url = crate::bootstrap_cmd::ServerUrl::parse(&settings.api_addr)?;
            let ca = crate::bootstrap_cmd::fetch_ca(&url, None).await?;
            tracing::warn!(
                "trusting the server CA fetched from {} on first use; SHA-256 fingerprint {}",
                settings.api_addr,
                crate::bootstrap_cmd::ca_fingerprint(&ca)?
            );
            ca.into_bytes()
        }
        Err(e) => bail!("reading {}: {e}", settings.ca_file.display()),
    };
    let (hostname, ips) = tokio::task::spawn_blocking(host_facts).await??;
    let enrollee = Enrollee::generate(&hostname, ips)?;
    let server = settings.primary_server().to_owned();
    let mut addresses = vec![server];
    addresses.extend(settings.fallback_servers.iter().cloned());
    // Register is signed by the new key itself (proof of possession), no envoy id yet.
    let mut client = Client::new(
        addresses,
        TlsMaterial::for_register(ca_pem.clone()),
        Arc::clone(&enrollee.identity),
        "",
    );
    let response = client
        .register(&enrollee.request(&args.token, args.force))
        .await?;
    let ca_answer = if response.ca_pem.is_empty() {
        String::from_utf8(ca_pem).context("the CA file is not UTF-8 PEM")?
    } else {
        response.ca_pem
    };
    let enrollment = Enrollment::from_parts(
        response.envoy_id,
        response.certificate_pem,
        ca_answer,
        &response.server_signing_key,
        &response.server_signing_key_id,
        client.current_address().to_owned(),
    )?;
    save(settings, &enrollee, &enrollment)?;
    if let Some(bundle) = &response.bundle {
        keep_first_bundle(
            &settings.state_dir,
            bundle,
            &enrollment.server_signing_key,
            crate::converge::now_unix(),
        );
    }
    println!(
        "registered as {} with {}",
        enrollment.envoy_id, enrollment.server
    );
    Ok(ExitCode::SUCCESS)
}
