//! The server's own TLS certificate while it runs: both listeners take it from one
//! [`CertResolver`], so a renewed certificate is served from the next handshake on,
//! without a restart.
//!
//! Renewal follows the agents' rule ([`vigo_core::renewal`]): a certificate issued by our
//! CA is reissued — same key, same SANs, same CA — once a third of its lifetime or less
//! remains. [`Pki::load_or_create`](super::Pki::load_or_create) applies it at start
//! (with the SAN check), and [`Pki::spawn_server_cert_renewal`] every
//! [`SERVER_CERT_CHECK`] while the server runs. A certificate from another CA (one the
//! operator installed) is never reissued; the check only warns when it is near expiry.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rcgen::KeyPair;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

use super::{Pki, PkiError, San, issue, tls, write_file};
use crate::publish::{read, write};

/// How often a running server checks whether its certificate is due for renewal.
pub const SERVER_CERT_CHECK: Duration = Duration::from_secs(6 * 3600);
/// How close to expiry a certificate we may not reissue starts being warned about.
const EXTERNAL_WARN_BEFORE: time::Duration = time::Duration::days(30);

/// The server certificate in use, parsed.
pub(super) struct ServerCert {
    /// The chain as PEM, leaf first.
    pub pem: String,
    /// The leaf's DNS and IP SANs.
    pub sans: BTreeSet<San>,
    /// The leaf's validity.
    pub not_before: OffsetDateTime,
    /// The leaf's expiry.
    pub not_after: OffsetDateTime,
    /// Issued by our CA, so ours to reissue.
    pub ours: bool,
    key_pem: Zeroizing<String>,
}

impl ServerCert {
    /// Parses a chain and its key, checking that they belong together; returns the
    /// certificate and what rustls serves.
    pub(super) fn parse(
        pem: String,
        key_pem: Zeroizing<String>,
        ours: bool,
        cert_file: &Path,
    ) -> Result<(ServerCert, CertifiedKey), PkiError> {
        let invalid = |what: String| PkiError::Invalid {
            path: cert_file.to_path_buf(),
            what,
        };
        let chain = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("not a PEM certificate chain: {e}")))?;
        let leaf = chain
            .first()
            .ok_or_else(|| invalid("no certificate in the file".to_owned()))?;
        let sans = issue::sans_of(leaf).map_err(invalid)?;
        let (not_before, not_after) = issue::validity(leaf).map_err(invalid)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| PkiError::tls("server key", e))?;
        let certified = CertifiedKey::from_der(chain, key, &tls::crypto_provider())
            .map_err(|e| PkiError::tls("server certificate and key", e))?;
        Ok((
            ServerCert {
                pem,
                sans,
                not_before,
                not_after,
                ours,
                key_pem,
            },
            certified,
        ))
    }
}

/// Hands every TLS handshake the server certificate in use.
#[derive(Debug)]
pub(super) struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    pub(super) fn new(certified: CertifiedKey) -> Self {
        CertResolver {
            current: RwLock::new(Arc::new(certified)),
        }
    }

    fn replace(&self, certified: CertifiedKey) {
        *write(&self.current) = Arc::new(certified);
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&read(&self.current)))
    }
}

/// What one renewal check of the server certificate found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCertRenewal {
    /// More than a third of its lifetime remains.
    NotDue {
        /// When it becomes due (Unix seconds).
        renew_at: i64,
    },
    /// Reissued (same key, same SANs) and served from now on.
    Renewed {
        /// The new certificate's expiry (Unix seconds).
        not_after: i64,
    },
    /// Not issued by our CA: never reissued here.
    External {
        /// Its expiry (Unix seconds).
        not_after: i64,
    },
    /// Due, but this server has no CA key to reissue it with.
    CannotSign {
        /// Its expiry (Unix seconds).
        not_after: i64,
    },
}

impl Pki {
    /// Reissues the server certificate when a third of its lifetime or less remains at
    /// `now` (same key, same SANs, same CA), writes it to `server.tls.cert_file` and
    /// serves it from the next handshake on. A certificate of another CA is left alone.
    pub fn renew_server_cert(&self, now: OffsetDateTime) -> Result<ServerCertRenewal, PkiError> {
        let mut server = write(&self.server);
        let not_after = server.not_after.unix_timestamp();
        if !server.ours {
            return Ok(ServerCertRenewal::External { not_after });
        }
        let renew_at = vigo_core::renewal::renew_at(server.not_before.unix_timestamp(), not_after);
        if now.unix_timestamp() < renew_at {
            return Ok(ServerCertRenewal::NotDue { renew_at });
        }
        let Some(issuer) = self.issuer.as_ref() else {
            return Ok(ServerCertRenewal::CannotSign { not_after });
        };
        let key = KeyPair::from_pem(&server.key_pem).map_err(|e| PkiError::Invalid {
            path: self.key_file.clone(),
            what: format!("not a PKCS#8 PEM key: {e}"),
        })?;
        let pem = issue::server_cert(issuer, &key, &self.hostname, &server.sans, now)?;
        let (renewed, certified) =
            ServerCert::parse(pem, server.key_pem.clone(), true, &self.cert_file)?;
        write_file(&self.cert_file, &renewed.pem)?;
        self.resolver.replace(certified);
        let not_after = renewed.not_after.unix_timestamp();
        *server = renewed;
        Ok(ServerCertRenewal::Renewed { not_after })
    }

    /// Checks the server certificate every [`SERVER_CERT_CHECK`] until `stopped` turns
    /// true, renewing it when due ([`renew_server_cert`](Self::renew_server_cert)).
    pub fn spawn_server_cert_renewal(
        self: &Arc<Self>,
        mut stopped: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        let pki = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SERVER_CERT_CHECK);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let now = pki.clock.now();
                match pki.renew_server_cert(now) {
                    Ok(ServerCertRenewal::Renewed { not_after }) => tracing::info!(
                        not_after = %crate::rest::format_time(not_after),
                        "server certificate renewed; serving the new one"
                    ),
                    Ok(ServerCertRenewal::CannotSign { not_after }) => tracing::warn!(
                        not_after = %crate::rest::format_time(not_after),
                        "the server certificate is due for renewal, but this server has no \
                         CA key: replace server.tls.cert_file before it expires"
                    ),
                    Ok(ServerCertRenewal::External { not_after })
                        if not_after - now.unix_timestamp()
                            < EXTERNAL_WARN_BEFORE.whole_seconds() =>
                    {
                        tracing::warn!(
                            not_after = %crate::rest::format_time(not_after),
                            "the server certificate (not issued by the Vigo CA) expires soon: \
                             replace server.tls.cert_file"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "renewing the server certificate failed"),
                }
            }
        })
    }
}
