//! rustls configurations over the PKI, all with the ring provider passed explicitly
//! (no process-wide default provider is needed, and aws-lc is never involved).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{Pki, PkiError};

/// The one crypto provider of Vigo's TLS: rustls' ring provider.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration with our certificate, taken from the PKI's resolver at every
/// handshake (so a renewed certificate is served without a restart). A client
/// certificate is verified against our CA when one is presented, and not required at
/// the TLS layer: both listeners serve callers that have none (gRPC `Register`, REST
/// operators and `/bootstrap`); the gRPC service refuses every other call without one.
pub(super) fn server_config(
    pki: &Pki,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let provider = crypto_provider();
    let roots = Arc::new(roots_of(std::slice::from_ref(pki.ca_der()))?);
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| PkiError::tls("client verifier", e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::tls("", e))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(pki.resolver.clone());
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client certificate and its key (PEM), for mTLS.
#[derive(Clone, Copy)]
pub struct ClientIdentity<'a> {
    /// The certificate chain (PEM, leaf first).
    pub cert_pem: &'a str,
    /// The private key (PKCS#8, SEC1 or PKCS#1 PEM).
    pub key_pem: &'a str,
}

impl std::fmt::Debug for ClientIdentity<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A client configuration that trusts only the CA in `ca_pem` and presents `identity`
/// when one is given (agents, `vigocli`, tests).
pub fn client_config(
    ca_pem: &str,
    identity: Option<ClientIdentity<'_>>,
) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let cas = CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::tls("CA certificate", e))?;
    let builder = rustls::ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| PkiError::tls("", e))?
        .with_root_certificates(roots_of(&cas)?);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(id) => {
            let chain = CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| PkiError::tls("client certificate", e))?;
            let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes())
                .map_err(|e| PkiError::tls("client key", e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| PkiError::tls("client certificate and key", e))?
        }
    };
    Ok(Arc::new(config))
}

fn roots_of(cas: &[CertificateDer<'static>]) -> Result<RootCertStore, PkiError> {
    if cas.is_empty() {
        return Err(PkiError::Tls {
            what: "no CA certificate".to_owned(),
            source: None,
        });
    }
    let mut roots = RootCertStore::empty();
    for ca in cas {
        roots
            .add(ca.clone())
            .map_err(|e| PkiError::tls("CA certificate", e))?;
    }
    Ok(roots)
}
