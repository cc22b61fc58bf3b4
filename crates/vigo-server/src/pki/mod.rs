//! The server's PKI: its certificate authority, its TLS certificate, the certificates
//! it signs for enrolling envoys, and the persisted ed25519 bundle-signing key.
//!
//! On first start, with nothing under `tls/`, [`Pki::load_or_create`] generates:
//!
//! - a CA (`tls/ca`, key `tls/ca_key`): ECDSA P-256 with SHA-256, valid 10 years,
//!   path length 0 (it signs end-entity certificates only);
//! - a server certificate (`tls/cert`, key `tls/key`) signed by that CA: ECDSA P-256,
//!   825 days, SANs `localhost`, 127.0.0.1, ::1, every interface address of the host
//!   (IPv6 link-local ones excepted: they cannot be dialled without a zone),
//!   `server.hostname` and `server.tls_sans`;
//! - the bundle-signing key (`tls/bundle_key`): ed25519, PKCS#8 PEM.
//!
//! Every key file is written atomically with mode 0600 in a 0700 directory, and a key
//! file readable by group or others is refused at load. Later starts load the same
//! material; only the server certificate is reissued (same key, same CA), when its SANs
//! no longer match or a third of its lifetime or less remains — at start, and while the
//! server runs ([`server_cert`]), served without a restart. A server certificate not
//! issued by our CA (a publicly trusted one the operator installed) is used as it is.
//! The bundle-signing key is rotated only on request, announcing the new key to agents
//! with a signature by the old one ([`bundle_key`]).
//!
//! **Why ECDSA P-256.** rustls with the ring provider verifies both P-256 and ed25519
//! client certificates, but browsers, curl and most HTTP stacks do not accept ed25519
//! server certificates, and the same CA and server certificate serve the REST API and
//! the web UI on 8443. P-256 works everywhere; envoy CSRs may use P-256, P-384 or
//! ed25519 keys.
//!
//! [`Pki::sign_csr`] checks the CSR's own signature, then throws away everything the CSR
//! asked for: the certificate's subject is `CN=<envoy id>`, its only SAN the approved
//! hostname, its only extended key usage client authentication, and it is never a CA.

pub mod bundle_key;
pub(crate) mod files;
mod issue;
pub mod server_cert;
mod tls;

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use std::sync::{Arc, RwLock};

use ed25519_dalek::SigningKey;
use rcgen::{Issuer, KeyPair};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::clock::Clock;
use crate::config::{SanName, ServerConfig};
use crate::publish::read;
use server_cert::{CertResolver, ServerCert};

pub use bundle_key::{BundleKeys, RotationInfo};
pub use issue::IssuedCert;
pub use server_cert::{SERVER_CERT_CHECK, ServerCertRenewal};
pub use tls::{ClientIdentity, client_config, crypto_provider};

/// Why the PKI could not be loaded, created or used.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "writing", …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A key file may be read by group or others.
    #[error(
        "{}: key file mode {mode:04o} is wider than 0600; refusing to use it (run `chmod 600 {}`)",
        path.display(),
        path.display()
    )]
    KeyMode {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A file does not hold what it should.
    #[error("{}: {what}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// Some TLS material is present and some is missing, so nothing can be generated
    /// without throwing away what is there.
    #[error("{}: {what}", path.display())]
    Incomplete {
        /// The file that is missing or cannot be used.
        path: PathBuf,
        /// What is wrong and what to do.
        what: String,
    },
    /// The server has no CA key, so it cannot issue certificates.
    #[error("no CA key: this server cannot sign certificates (set `server.tls.ca_key_file`)")]
    NoCaKey,
    /// A CSR was refused.
    #[error("certificate request refused: {0}")]
    BadCsr(String),
    /// An argument of `sign_csr` was refused.
    #[error("certificate request refused: {0}")]
    BadName(String),
    /// Certificate generation failed.
    #[error("certificate generation failed: {}{source}", prefix(.what))]
    Generate {
        /// What was being generated, when more than the key or certificate itself.
        what: Option<String>,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// rustls refused the configuration.
    #[error(
        "TLS configuration: {}{}",
        prefix_or_whole(.what, .source.is_some()),
        .source.as_ref().map(ToString::to_string).unwrap_or_default()
    )]
    Tls {
        /// Which part of it.
        what: String,
        /// The cause; `None` when something is missing rather than refused.
        #[source]
        source: Option<BoxError>,
    },
    /// No randomness available.
    #[error("no randomness from the OS: {0}")]
    Random(#[source] getrandom::Error),
}

/// A cause of any type, kept for [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `"what: "`, or nothing.
fn prefix(what: &Option<String>) -> String {
    what.as_ref().map(|w| format!("{w}: ")).unwrap_or_default()
}

/// `"what: "` before a cause, `what` alone without one; empty `what` is nothing.
fn prefix_or_whole(what: &str, has_cause: bool) -> String {
    match (what.is_empty(), has_cause) {
        (true, _) => String::new(),
        (false, true) => format!("{what}: "),
        (false, false) => what.to_owned(),
    }
}

impl PkiError {
    /// [`PkiError::Generate`] of `source`, while generating `what` if given.
    pub(crate) fn generate(what: Option<String>, source: impl Into<BoxError>) -> PkiError {
        PkiError::Generate {
            what,
            source: source.into(),
        }
    }

    /// [`PkiError::Tls`] for `what`, refused with `source`.
    pub(crate) fn tls(what: &str, source: impl Into<BoxError>) -> PkiError {
        PkiError::Tls {
            what: what.to_owned(),
            source: Some(source.into()),
        }
    }
}

/// A subject alternative name of the server certificate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum San {
    /// A DNS name (lowercase).
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Dns(name) => f.write_str(name),
            San::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl From<&SanName> for San {
    fn from(name: &SanName) -> Self {
        match name.ip() {
            Some(ip) => San::Ip(ip),
            None => San::Dns(name.as_str().to_ascii_lowercase()),
        }
    }
}

/// Where the PKI lives and what the server certificate must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiOptions {
    /// CA certificate (PEM).
    pub ca_file: PathBuf,
    /// CA key (PKCS#8 PEM); `None` = this server never signs.
    pub ca_key_file: Option<PathBuf>,
    /// Server certificate (PEM, leaf first).
    pub cert_file: PathBuf,
    /// Server key (PKCS#8 PEM).
    pub key_file: PathBuf,
    /// ed25519 bundle-signing key (PKCS#8 PEM).
    pub signing_key_file: PathBuf,
    /// The server's hostname: the certificate's CN, and a SAN when it is a valid name.
    pub hostname: String,
    /// `server.tls_sans`.
    pub extra_sans: Vec<SanName>,
    /// The host's interface addresses.
    pub interface_ips: Vec<IpAddr>,
}

impl PkiOptions {
    /// The options `server.yaml` gives, with the interface addresses read from the OS.
    pub fn from_config(config: &ServerConfig) -> Self {
        let tls = &config.server.tls;
        PkiOptions {
            ca_file: tls.ca_file.clone(),
            ca_key_file: tls.ca_key_file.clone(),
            cert_file: tls.cert_file.clone(),
            key_file: tls.key_file.clone(),
            signing_key_file: config.server.signing_key_file.clone(),
            hostname: config.hostname(),
            extra_sans: config.server.tls_sans.clone(),
            interface_ips: local_interface_ips(),
        }
    }

    /// Every SAN the server certificate must carry.
    pub fn wanted_sans(&self) -> BTreeSet<San> {
        let mut sans = BTreeSet::from([
            San::Dns("localhost".to_owned()),
            San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            San::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ]);
        sans.extend(
            self.interface_ips
                .iter()
                .filter(|ip| !is_link_local_v6(ip))
                .map(|ip| San::Ip(*ip)),
        );
        if let Ok(name) = self.hostname.parse::<SanName>() {
            sans.insert(San::from(&name));
        }
        sans.extend(self.extra_sans.iter().map(San::from));
        sans
    }
}

/// What the server certificate step did at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCertStatus {
    /// Loaded as it was.
    Loaded,
    /// Generated: there was none.
    Created,
    /// Reissued with the same key, for the reason given.
    Reissued(String),
    /// Not issued by our CA (e.g. publicly trusted): used as it is, never reissued.
    External,
}

/// What [`Pki::load_or_create`] did, for the startup log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiReport {
    /// A new CA was generated.
    pub created_ca: bool,
    /// What happened to the server certificate.
    pub server_cert: ServerCertStatus,
    /// A new bundle-signing key was generated.
    pub created_signing_key: bool,
}

/// The loaded PKI. `Debug` shows no key material.
pub struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    ca_not_after: OffsetDateTime,
    issuer: Option<Issuer<'static, KeyPair>>,
    hostname: String,
    cert_file: PathBuf,
    key_file: PathBuf,
    server: RwLock<ServerCert>,
    resolver: Arc<CertResolver>,
    bundle_keys: Arc<BundleKeys>,
    report: PkiReport,
    clock: Clock,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("can_sign", &self.can_sign())
            .field("server_sans", &self.server_sans())
            .field("signing_key_id", &self.signing_key_id())
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads the PKI, generating whatever is missing on first start (see the module
    /// documentation), and reissuing the server certificate when its SANs changed or it
    /// is due for renewal.
    pub fn load_or_create(options: &PkiOptions) -> Result<Pki, PkiError> {
        Pki::load_or_create_with(options, Clock::system())
    }

    /// [`load_or_create`](Self::load_or_create) with a clock standing still at `now`:
    /// what is created is valid from `now`, and renewal is decided at `now`.
    pub fn load_or_create_at(options: &PkiOptions, now: OffsetDateTime) -> Result<Pki, PkiError> {
        Pki::load_or_create_with(options, Clock::manual(now))
    }

    /// [`load_or_create`](Self::load_or_create) on `clock`: what is created is valid from
    /// its now, and client certificates and renewals later follow it too.
    pub fn load_or_create_with(options: &PkiOptions, clock: Clock) -> Result<Pki, PkiError> {
        let now = clock.now();
        let (bundle_keys, created_signing_key) =
            BundleKeys::load_or_create(&options.signing_key_file)?;
        let (ca_pem, issuer, created_ca) = load_or_create_ca(options, now)?;
        let ca_der =
            CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| PkiError::Invalid {
                path: options.ca_file.clone(),
                what: format!("not a PEM certificate: {e}"),
            })?;
        let ca_not_after = issue::not_after(&ca_der).map_err(|what| PkiError::Invalid {
            path: options.ca_file.clone(),
            what,
        })?;
        let (server_cert_pem, server_key_pem, status) =
            load_or_create_server_cert(options, &ca_der, issuer.as_ref(), created_ca, now)?;
        let ours = status != ServerCertStatus::External;
        let (server, certified) =
            ServerCert::parse(server_cert_pem, server_key_pem, ours, &options.cert_file)?;
        Ok(Pki {
            ca_pem,
            ca_der,
            ca_not_after,
            issuer,
            hostname: options.hostname.clone(),
            cert_file: options.cert_file.clone(),
            key_file: options.key_file.clone(),
            server: RwLock::new(server),
            resolver: Arc::new(CertResolver::new(certified)),
            bundle_keys: Arc::new(bundle_keys),
            report: PkiReport {
                created_ca,
                server_cert: status,
                created_signing_key,
            },
            clock,
        })
    }

    /// The clock certificates are issued and renewed on.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// What the load did.
    pub fn report(&self) -> &PkiReport {
        &self.report
    }

    /// The CA certificate (PEM), for agents to pin.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA certificate (DER).
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The server certificate chain in use (PEM, leaf first).
    pub fn server_cert_pem(&self) -> String {
        read(&self.server).pem.clone()
    }

    /// The SANs of the server certificate in use.
    pub fn server_sans(&self) -> BTreeSet<San> {
        read(&self.server).sans.clone()
    }

    /// When the server certificate in use expires.
    pub fn server_cert_not_after(&self) -> OffsetDateTime {
        read(&self.server).not_after
    }

    /// True when the CA key is present, so [`sign_csr`](Self::sign_csr) works.
    pub fn can_sign(&self) -> bool {
        self.issuer.is_some()
    }

    /// The persisted ed25519 bundle-signing key in use.
    pub fn signing_key(&self) -> SigningKey {
        self.bundle_keys.signing_key()
    }

    /// The bundle-signing key's id (`vigo_core::signing::key_id`).
    pub fn signing_key_id(&self) -> String {
        self.bundle_keys.key_id()
    }

    /// The bundle-signing key and its rotations, shared with the publisher.
    pub fn bundle_keys(&self) -> &Arc<BundleKeys> {
        &self.bundle_keys
    }

    /// Signs an envoy's CSR (PEM). The CSR's signature must verify; everything it asks
    /// for is ignored: the certificate names `CN=<envoy_id>` with the single SAN
    /// `hostname`, allows client authentication only, is not a CA, and is valid for
    /// `validity` (never beyond the CA's own expiry).
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        hostname: &str,
        envoy_id: &str,
        validity: std::time::Duration,
    ) -> Result<IssuedCert, PkiError> {
        let issuer = self.issuer.as_ref().ok_or(PkiError::NoCaKey)?;
        issue::sign_csr(
            issuer,
            self.ca_not_after,
            csr_pem,
            hostname,
            envoy_id,
            validity,
            self.clock.now(),
        )
    }

    /// The gRPC listener's TLS, ALPN `h2`: a client certificate from our CA is verified
    /// when presented but not required at the TLS layer, so `Register` works from a host
    /// that has no certificate yet; every other RPC refuses a request without one
    /// (`grpc::auth`).
    pub fn grpc_server_config(&self) -> Result<std::sync::Arc<rustls::ServerConfig>, PkiError> {
        tls::server_config(self, &[b"h2"])
    }

    /// The REST listener's TLS: a client certificate from our CA is verified when one is
    /// presented, and not required. ALPN `h2`, `http/1.1`.
    pub fn rest_server_config(&self) -> Result<std::sync::Arc<rustls::ServerConfig>, PkiError> {
        tls::server_config(self, &[b"h2", b"http/1.1"])
    }
}

/// The host's interface addresses (every family-inet address of every interface).
/// An unreadable interface list is an empty list: loopback is always in the SANs.
pub fn local_interface_ips() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut ips: Vec<IpAddr> = addrs
        .filter_map(|ifa| {
            let addr = ifa.address?;
            if let Some(v4) = addr.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                addr.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

fn is_link_local_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

/// Reads a key file, refusing one readable by group or others.
fn read_key_file(path: &Path) -> Result<Zeroizing<String>, PkiError> {
    let io_err = |source| PkiError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    };
    if let Some(mode) = files::wider_than_owner(path).map_err(io_err)? {
        return Err(PkiError::KeyMode {
            path: path.to_path_buf(),
            mode,
        });
    }
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(io_err)
}

fn read_cert_file(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), PkiError> {
    files::write_private(path, text.as_bytes()).map_err(|source| PkiError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source,
    })
}

/// The CA certificate PEM, its issuer when the key is there, and whether it is new.
fn load_or_create_ca(
    options: &PkiOptions,
    now: OffsetDateTime,
) -> Result<(String, Option<Issuer<'static, KeyPair>>, bool), PkiError> {
    let key_path = options.ca_key_file.as_deref();
    let key_exists = key_path.is_some_and(Path::exists);
    if options.ca_file.exists() {
        let ca_pem = read_cert_file(&options.ca_file)?;
        let issuer = match key_path.filter(|_| key_exists) {
            Some(key_path) => Some(issue::load_issuer(&ca_pem, &options.ca_file, key_path)?),
            None => None,
        };
        return Ok((ca_pem, issuer, false));
    }
    let Some(key_path) = key_path else {
        return Err(PkiError::Incomplete {
            path: options.ca_file.clone(),
            what: "no CA certificate, and no `server.tls.ca_key_file` to create a CA with"
                .to_owned(),
        });
    };
    if key_exists {
        return Err(PkiError::Incomplete {
            path: options.ca_file.clone(),
            what: format!(
                "missing, but the CA key {} exists: restore the CA certificate or remove \
                 the key to start a new CA",
                key_path.display()
            ),
        });
    }
    let generated = issue::new_ca(&options.hostname, now)?;
    write_file(key_path, &generated.key_pem)?;
    write_file(&options.ca_file, &generated.cert_pem)?;
    let issuer = issue::load_issuer(&generated.cert_pem, &options.ca_file, key_path)?;
    Ok((generated.cert_pem, Some(issuer), true))
}

/// The server certificate chain PEM, its key PEM, and what was done.
fn load_or_create_server_cert(
    options: &PkiOptions,
    ca_der: &CertificateDer<'static>,
    issuer: Option<&Issuer<'static, KeyPair>>,
    created_ca: bool,
    now: OffsetDateTime,
) -> Result<(String, Zeroizing<String>, ServerCertStatus), PkiError> {
    let wanted = options.wanted_sans();
    let cert_exists = options.cert_file.exists();
    let key_exists = options.key_file.exists();
    match (cert_exists, key_exists) {
        (true, true) => {}
        (false, false) => {
            let issuer = issuer.ok_or(PkiError::NoCaKey)?;
            let key = KeyPair::generate().map_err(|e| PkiError::generate(None, e))?;
            let key_pem = Zeroizing::new(key.serialize_pem());
            let cert_pem = issue::server_cert(issuer, &key, &options.hostname, &wanted, now)?;
            write_file(&options.key_file, &key_pem)?;
            write_file(&options.cert_file, &cert_pem)?;
            return Ok((cert_pem, key_pem, ServerCertStatus::Created));
        }
        (true, false) | (false, true) => {
            let (missing, present) = if cert_exists {
                (&options.key_file, &options.cert_file)
            } else {
                (&options.cert_file, &options.key_file)
            };
            return Err(PkiError::Incomplete {
                path: missing.clone(),
                what: format!(
                    "missing while {} exists: restore it, or remove both to generate a new \
                     server certificate",
                    present.display()
                ),
            });
        }
    }
    let cert_pem = read_cert_file(&options.cert_file)?;
    let key_pem = read_key_file(&options.key_file)?;
    let leaf =
        CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| PkiError::Invalid {
            path: options.cert_file.clone(),
            what: format!("not a PEM certificate: {e}"),
        })?;
    let reason = if issue::issued_by(&leaf, ca_der) {
        issue::reissue_reason(&leaf, &wanted, now).map_err(|what| PkiError::Invalid {
            path: options.cert_file.clone(),
            what,
        })?
    } else if created_ca && issue::issued_by_a_vigo_ca(&leaf) {
        // Ours, from a CA that is gone: the new CA reissues it.
        Some("the CA was regenerated".to_owned())
    } else {
        return Ok((cert_pem, key_pem, ServerCertStatus::External));
    };
    match (reason, issuer) {
        (Some(reason), Some(issuer)) => {
            let key = KeyPair::from_pem(&key_pem).map_err(|e| PkiError::Invalid {
                path: options.key_file.clone(),
                what: format!("not a PKCS#8 PEM key: {e}"),
            })?;
            let cert_pem = issue::server_cert(issuer, &key, &options.hostname, &wanted, now)?;
            write_file(&options.cert_file, &cert_pem)?;
            Ok((cert_pem, key_pem, ServerCertStatus::Reissued(reason)))
        }
        _ => Ok((cert_pem, key_pem, ServerCertStatus::Loaded)),
    }
}

#[cfg(test)]
mod error_tests {
    use std::error::Error as _;

    use super::PkiError;

    #[test]
    fn pki_errors_keep_their_cause_and_read_as_before() {
        let cause = || std::io::Error::other("bad key");
        let e = PkiError::tls("server key", cause());
        assert_eq!(e.to_string(), "TLS configuration: server key: bad key");
        assert_eq!(e.source().unwrap().to_string(), "bad key");
        let e = PkiError::generate(Some("SAN x".to_owned()), cause());
        assert_eq!(
            e.to_string(),
            "certificate generation failed: SAN x: bad key"
        );
        assert!(e.source().is_some());
        let e = PkiError::generate(None, cause());
        assert_eq!(e.to_string(), "certificate generation failed: bad key");
        let missing = PkiError::Tls {
            what: "no CA certificate".to_owned(),
            source: None,
        };
        assert_eq!(missing.to_string(), "TLS configuration: no CA certificate");
        assert!(missing.source().is_none());
    }
}
