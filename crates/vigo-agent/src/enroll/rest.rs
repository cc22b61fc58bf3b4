//! The REST side of enrollment: a small HTTP/1.1 client (hyper) over tokio-rustls with the
//! ring provider, so the one unverified fetch (the CA on first use) is explicit and
//! nothing else skips verification; `GET /api/v1/ca.pem` and `POST /api/v1/register`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use vigo_api::error::ErrorBody;
use vigo_api::register::{RegisterBody, RegisterReply};
use vigo_api::routes;

/// How long one HTTPS exchange (connect, TLS, request, answer) may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed `https://HOST[:PORT]` REST address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    /// The host (name or IP, without brackets).
    pub host: String,
    /// The port (8443 when absent).
    pub port: u16,
}

impl ServerUrl {
    /// Parses `https://HOST[:PORT][/]`.
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| anyhow!("`{url}`: the server URL must start with https://"))?;
        let rest = rest.split('/').next().unwrap_or_default();
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| anyhow!("`{url}`: unclosed `[`"))?;
            (h, after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            bail!("`{url}`: no host");
        }
        let port = match port {
            None => 8443,
            Some(p) => p
                .parse()
                .map_err(|_| anyhow!("`{url}`: the port is not a number"))?,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// `HOST:PORT`, for messages.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// The SHA-256 fingerprint of the first certificate in `ca_pem`, as `AB:CD:…`.
pub fn ca_fingerprint(ca_pem: &str) -> Result<String> {
    let der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .context("the CA is not a PEM certificate")?;
    Ok(Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":"))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS config that trusts only the certificates in `ca_pem`.
fn pinned_config(ca_pem: &[u8]) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.context("the CA is not a PEM certificate")?)
            .context("the CA certificate is not usable as a trust anchor")?;
    }
    if roots.is_empty() {
        bail!("the CA file holds no certificate");
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Trust on first use: accepts any server certificate, still checks the handshake
/// signatures. Used only to download the CA when none is pinned yet.
#[derive(Debug)]
struct FirstUse(Arc<CryptoProvider>);

impl ServerCertVerifier for FirstUse {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn first_use_config() -> Result<ClientConfig> {
    let p = provider();
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&p))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(FirstUse(p)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// One HTTPS/1.1 request; returns the status and the body.
async fn https(
    url: &ServerUrl,
    config: ClientConfig,
    method: &str,
    path: &str,
    json_body: Option<Vec<u8>>,
) -> Result<(u16, Vec<u8>)> {
    let authority = url.authority();
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
            .await
            .with_context(|| format!("cannot connect to {authority}"))?;
        let name = ServerName::try_from(url.host.clone())
            .map_err(|e| anyhow!("`{}` is not a valid server name: {e}", url.host))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .with_context(|| format!("TLS handshake with {authority} failed"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .with_context(|| format!("HTTP with {authority}"))?;
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &authority)
            .header(hyper::header::ACCEPT, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("vigo/", env!("CARGO_PKG_VERSION")),
            );
        if json_body.is_some() {
            request = request.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(json_body.unwrap_or_default())))
            .context("building the request")?;
        let response = sender
            .send_request(request)
            .await
            .with_context(|| format!("{method} https://{authority}{path}"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the answer to {method} {path}"))?
            .to_bytes()
            .to_vec();
        anyhow::Ok((status, body))
    };
    tokio::time::timeout(HTTP_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            anyhow!(
                "no answer from https://{authority} within {}s",
                HTTP_TIMEOUT.as_secs()
            )
        })?
}

/// The `message` of an error answer, or the body as text.
fn error_message(status: u16, body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => e.message,
        Err(_) => {
            let text = String::from_utf8_lossy(body).trim().to_owned();
            if text.is_empty() {
                format!("the server answered HTTP {status}")
            } else {
                format!("the server answered HTTP {status}: {text}")
            }
        }
    }
}

/// `GET /api/v1/ca.pem`: verified against `pinned_ca` when given, else on first use.
pub async fn fetch_ca(url: &ServerUrl, pinned_ca: Option<&[u8]>) -> Result<String> {
    let config = match pinned_ca {
        Some(ca) => pinned_config(ca)?,
        None => first_use_config()?,
    };
    let (status, body) = https(
        url,
        config,
        routes::CA_PEM.method.as_str(),
        routes::CA_PEM.path,
        None,
    )
    .await?;
    if status != 200 {
        bail!("{}", error_message(status, &body));
    }
    let pem = String::from_utf8(body).context("the CA answer is not text")?;
    ca_fingerprint(&pem)?;
    Ok(pem)
}

/// `POST /api/v1/register`, verified against `ca_pem`; a refusal is the server's message.
pub async fn register_rest(
    url: &ServerUrl,
    ca_pem: &[u8],
    body: &RegisterBody,
) -> Result<RegisterReply> {
    let json = serde_json::to_vec(body)?;
    let (status, answer) = https(
        url,
        pinned_config(ca_pem)?,
        routes::REGISTER.method.as_str(),
        routes::REGISTER.path,
        Some(json),
    )
    .await?;
    if !(200..300).contains(&status) {
        bail!("{}", error_message(status, &answer));
    }
    serde_json::from_slice(&answer).context("the registration answer is not the expected JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(
            ServerUrl::parse("https://vigo.example.com:8443/").unwrap(),
            ServerUrl {
                host: "vigo.example.com".into(),
                port: 8443
            }
        );
        assert_eq!(ServerUrl::parse("https://h").unwrap().port, 8443);
        assert_eq!(ServerUrl::parse("https://[::1]:9").unwrap().host, "::1");
        assert_eq!(
            ServerUrl::parse("https://[::1]:9").unwrap().authority(),
            "[::1]:9"
        );
        assert!(
            ServerUrl::parse("http://h:1")
                .unwrap_err()
                .to_string()
                .contains("https://")
        );
        assert!(ServerUrl::parse("https://h:x").is_err());
    }

    #[test]
    fn error_answers_print_the_message_as_is() {
        assert_eq!(
            error_message(403, br#"{"message": "token expired"}"#),
            "token expired"
        );
        assert_eq!(
            error_message(502, b"bad gateway"),
            "the server answered HTTP 502: bad gateway"
        );
    }

    #[test]
    fn fingerprint_is_colon_hex_of_the_der() {
        let cert = rcgen::generate_simple_self_signed(vec!["ca".into()])
            .unwrap()
            .cert;
        let fp = ca_fingerprint(&cert.pem()).unwrap();
        assert_eq!(fp.len(), 32 * 3 - 1);
        let want = Sha256::digest(cert.der().as_ref());
        assert_eq!(fp.split(':').next().unwrap(), format!("{:02X}", want[0]));
        assert!(ca_fingerprint("junk").is_err());
    }
}
