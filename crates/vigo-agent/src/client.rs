//! The agent's gRPC client for `vigo.v1.Agent` (tonic over TLS, ring provider).
//!
//! - **Signed requests**: every request travels as a [`SignedRequest`] whose signature
//!   covers exactly the bytes the proto describes ([`signed_bytes`]), made with the
//!   agent's ed25519 key; each attempt gets a fresh timestamp and 16-byte nonce.
//! - **TLS**: the client trusts only the CA in `--ca-file` and presents
//!   `--cert-file`/`--key-file`; `Register` is the one call made without a client
//!   certificate ([`TlsMaterial::for_register`]).
//! - **One connection, reused**: a [`Client`] dials once and keeps its channel; a
//!   transport failure drops it and the next call dials again. A renewed client
//!   certificate ([`Client::set_tls`]) is used from the next connection on, by the
//!   client and every [`sibling`](Client::sibling) (the held stream).
//! - **Fallback**: the addresses are tried in order (the primary — the bolt when routed —
//!   then `fallback_servers`); a call that cannot reach one server moves to the next.
//!   Only unreachability moves on: an answer from a server (even a refusal) is final.
//! - **Timeouts**: dialing is bounded by [`CONNECT_TIMEOUT`], each unary call by the
//!   client's RPC timeout ([`DEFAULT_RPC_TIMEOUT`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status, Streaming};
use vigo_proto::v1::agent_client::AgentClient;
use vigo_proto::v1::methods;
use vigo_proto::v1::{
    AgentFrame, CheckInRequest, CheckInResponse, RegisterRequest, RegisterResponse,
    RenewCertificateRequest, RenewCertificateResponse, ReportResultRequest, ReportTraitsRequest,
    ResolveSecretsRequest, ResolveSecretsResponse, ServerFrame, SignedRequest,
};

use crate::identity::AgentIdentity;

/// How long dialing one server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one unary call may take.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A TLS file could not be read or is not usable.
    #[error("{}: {message}", path.display())]
    Tls {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
        /// The OS error, when reading it failed.
        #[source]
        source: Option<std::io::Error>,
    },
    /// A server address is not `HOST:PORT`.
    #[error("bad server address `{address}`: {message}")]
    Address {
        /// The address as configured.
        address: String,
        /// Why it is not usable.
        message: String,
    },
    /// No configured server could be reached.
    #[error("cannot reach the server ({tried}): {last}")]
    Unreachable {
        /// The addresses tried, comma-separated.
        tried: String,
        /// The last error.
        last: String,
    },
    /// The server answered with an error.
    #[error("{method} refused by {server}: {message} ({code:?})")]
    Refused {
        /// The RPC.
        method: &'static str,
        /// The server that answered.
        server: String,
        /// The gRPC status code.
        code: Code,
        /// The server's message.
        message: String,
    },
    /// The OS random generator failed (nonce).
    #[error("random generator")]
    Random(#[source] getrandom::Error),
}

impl ClientError {
    /// True when no server could be reached (the offline path applies).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ClientError::Unreachable { .. })
    }

    /// True when the server refused *this envoy* (revoked, unknown, bad credentials): the
    /// agent must not keep converging from its cache as if it were merely offline.
    pub fn is_denied(&self) -> bool {
        matches!(
            self,
            ClientError::Refused {
                code: Code::PermissionDenied | Code::Unauthenticated,
                ..
            }
        )
    }
}

/// The bytes a request signature covers: [`vigo_core::signing::request_message`].
pub fn signed_bytes(
    method: &str,
    envoy_id: &str,
    timestamp_unix: i64,
    nonce: &[u8],
    body: &[u8],
) -> Vec<u8> {
    vigo_core::signing::request_message(method, envoy_id, timestamp_unix, nonce, body)
}

/// Wraps `body` (an encoded request message) into a [`SignedRequest`] for `method`, with
/// the current time and a fresh 16-byte nonce, signed by `identity`.
pub fn sign_request(
    identity: &AgentIdentity,
    method: &str,
    envoy_id: &str,
    body: Vec<u8>,
) -> Result<SignedRequest, ClientError> {
    let mut nonce = vec![0u8; 16];
    getrandom::fill(&mut nonce).map_err(ClientError::Random)?;
    let timestamp_unix = crate::clock::now_unix();
    let signature = identity
        .sign(&signed_bytes(
            method,
            envoy_id,
            timestamp_unix,
            &nonce,
            &body,
        ))
        .to_bytes()
        .to_vec();
    Ok(SignedRequest {
        envoy_id: envoy_id.to_owned(),
        timestamp_unix,
        nonce,
        body,
        signature,
    })
}

/// The PEM material of a TLS client: the CA to trust and, except for `Register`, the
/// client certificate and key.
#[derive(Clone)]
pub struct TlsMaterial {
    ca_pem: Vec<u8>,
    client: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the client key.
        f.debug_struct("TlsMaterial")
            .field("client_certificate", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ClientError::Tls {
                path: path.to_path_buf(),
                message: format!(
                    "no {what} (register or bootstrap this envoy first, or give its path)"
                ),
                source: None,
            }
        } else {
            ClientError::Tls {
                path: path.to_path_buf(),
                message: format!("reading the {what}"),
                source: Some(e),
            }
        }
    })
}

impl TlsMaterial {
    /// Reads the CA, client certificate and client key (the normal, mutual-TLS case).
    pub fn load(ca_file: &Path, cert_file: &Path, key_file: &Path) -> Result<Self, ClientError> {
        Ok(Self {
            ca_pem: read_pem(ca_file, "CA certificate")?,
            client: Some((
                read_pem(cert_file, "client certificate")?,
                read_pem(key_file, "client key")?,
            )),
        })
    }

    /// For `Register`: trust `ca_pem`, present no client certificate.
    pub fn for_register(ca_pem: Vec<u8>) -> Self {
        Self {
            ca_pem,
            client: None,
        }
    }
}

/// `HOST:PORT` (or `https://HOST:PORT`) → the endpoint URI and the TLS server name.
pub fn endpoint_parts(address: &str) -> Result<(String, String), ClientError> {
    let bad = |message: &str| ClientError::Address {
        address: address.to_owned(),
        message: message.to_owned(),
    };
    let rest = address
        .strip_prefix("https://")
        .unwrap_or(address)
        .trim_end_matches('/');
    if rest.contains("://") {
        return Err(bad("only https:// is supported"));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
        (host, after.strip_prefix(':').unwrap_or(""))
    } else {
        rest.rsplit_once(':').unwrap_or((rest, ""))
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port: u16 = if port.is_empty() {
        1530
    } else {
        port.parse().map_err(|_| bad("the port is not a number"))?
    };
    let uri_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    Ok((format!("https://{uri_host}:{port}"), host.to_owned()))
}

/// A client for the agent service: signs requests, keeps one connection, falls back.
pub struct Client {
    addresses: Vec<String>,
    current: usize,
    channel: Option<AgentClient<Channel>>,
    tls: Arc<RwLock<TlsMaterial>>,
    identity: Arc<AgentIdentity>,
    envoy_id: String,
    rpc_timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("addresses", &self.addresses)
            .field("current", &self.current)
            .field("connected", &self.channel.is_some())
            .field("envoy_id", &self.envoy_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `addresses` (tried in order; duplicates and empties removed), signing
    /// as `envoy_id` (empty for `Register`) with `identity`. Nothing is dialed yet.
    pub fn new(
        addresses: impl IntoIterator<Item = String>,
        tls: TlsMaterial,
        identity: Arc<AgentIdentity>,
        envoy_id: impl Into<String>,
    ) -> Self {
        let mut list: Vec<String> = Vec::new();
        for a in addresses {
            let a = a.trim().to_owned();
            if !a.is_empty() && !list.contains(&a) {
                list.push(a);
            }
        }
        Self {
            addresses: list,
            current: 0,
            channel: None,
            tls: Arc::new(RwLock::new(tls)),
            identity,
            envoy_id: envoy_id.into(),
            rpc_timeout: DEFAULT_RPC_TIMEOUT,
        }
    }

    /// Sets the per-call timeout.
    pub fn with_rpc_timeout(mut self, timeout: Duration) -> Self {
        self.rpc_timeout = timeout;
        self
    }

    /// The addresses, in the order they are tried.
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }

    /// The address in use (or tried first by the next call).
    pub fn current_address(&self) -> &str {
        self.addresses.get(self.current).map_or("", String::as_str)
    }

    /// Makes `address` the primary (a server `redirect`): it is tried first from now on.
    pub fn redirect(&mut self, address: &str) {
        self.addresses.retain(|a| a != address);
        self.addresses.insert(0, address.to_owned());
        self.current = 0;
        self.channel = None;
    }

    /// A client to the same servers with the same identity, with its own connection
    /// (for the held-open stream).
    pub fn sibling(&self) -> Self {
        Self {
            addresses: self.addresses.clone(),
            current: 0,
            channel: None,
            tls: Arc::clone(&self.tls),
            identity: Arc::clone(&self.identity),
            envoy_id: self.envoy_id.clone(),
            rpc_timeout: self.rpc_timeout,
        }
    }

    /// Presents `tls` from the next connection on (a renewed client certificate): the
    /// current connection is dropped, and siblings pick it up when they dial again.
    pub fn set_tls(&mut self, tls: TlsMaterial) {
        *self.tls.write().unwrap_or_else(PoisonError::into_inner) = tls;
        self.channel = None;
    }

    async fn dial(&self, address: &str) -> Result<AgentClient<Channel>, String> {
        let (uri, domain) = endpoint_parts(address).map_err(|e| e.to_string())?;
        let material = self
            .tls
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&material.ca_pem))
            .domain_name(domain);
        if let Some((cert, key)) = &material.client {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| e.to_string())?
            .tls_config(tls)
            .map_err(|e| format!("TLS configuration: {e}"))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true);
        let channel = tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect())
            .await
            .map_err(|_| format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()))?
            .map_err(|e| error_chain(&e))?;
        Ok(AgentClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20))
    }

    /// Calls one unary RPC with fallback: signs `body` afresh per attempt.
    async fn call<R, F, Fut>(
        &mut self,
        method: &'static str,
        body: Vec<u8>,
        rpc: F,
    ) -> Result<R, ClientError>
    where
        F: Fn(AgentClient<Channel>, tonic::Request<SignedRequest>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, Status>>,
    {
        if self.addresses.is_empty() {
            return Err(ClientError::Unreachable {
                tried: "no server configured".into(),
                last: "set --server".into(),
            });
        }
        let mut last = String::new();
        let n = self.addresses.len();
        // The connected server first, then the others in configured order.
        let order: Vec<usize> = std::iter::once(self.current)
            .chain((0..n).filter(|i| *i != self.current))
            .collect();
        for i in order {
            let address = self.addresses[i].clone();
            let client = match (&self.channel, i == self.current) {
                (Some(c), true) => c.clone(),
                _ => match self.dial(&address).await {
                    Ok(c) => {
                        self.current = i;
                        self.channel = Some(c.clone());
                        c
                    }
                    Err(e) => {
                        last = format!("{address}: {e}");
                        continue;
                    }
                },
            };
            let signed = sign_request(&self.identity, method, &self.envoy_id, body.clone())?;
            let mut request = tonic::Request::new(signed);
            request.set_timeout(self.rpc_timeout);
            match tokio::time::timeout(self.rpc_timeout, rpc(client, request)).await {
                Ok(Ok(response)) => return Ok(response.into_inner()),
                Ok(Err(status)) if is_transport(&status) => {
                    last = format!("{address}: {}", status_text(&status));
                }
                Ok(Err(status)) => {
                    return Err(ClientError::Refused {
                        method,
                        server: address,
                        code: status.code(),
                        message: status.message().to_owned(),
                    });
                }
                Err(_) => {
                    last = format!(
                        "{address}: {method} got no answer within {}s",
                        self.rpc_timeout.as_secs()
                    );
                }
            }
            // The connection is suspect: dial again next time.
            self.channel = None;
        }
        Err(ClientError::Unreachable {
            tried: self.addresses.join(", "),
            last,
        })
    }

    /// `Register`: enrolls this machine (the client must have been built with an empty
    /// envoy id and [`TlsMaterial::for_register`]).
    pub async fn register(
        &mut self,
        request: &RegisterRequest,
    ) -> Result<RegisterResponse, ClientError> {
        self.call(
            methods::REGISTER,
            request.encode_to_vec(),
            |mut c, r| async move { c.register(r).await },
        )
        .await
    }

    /// `CheckIn`.
    pub async fn check_in(
        &mut self,
        request: &CheckInRequest,
    ) -> Result<CheckInResponse, ClientError> {
        self.call(
            methods::CHECK_IN,
            request.encode_to_vec(),
            |mut c, r| async move { c.check_in(r).await },
        )
        .await
    }

    /// `ReportResult`; `Ok` means the server acknowledged the report.
    pub async fn report_result(
        &mut self,
        request: &ReportResultRequest,
    ) -> Result<(), ClientError> {
        self.call(
            methods::REPORT_RESULT,
            request.encode_to_vec(),
            |mut c, r| async move { c.report_result(r).await },
        )
        .await
        .map(|_| ())
    }

    /// `ReportTraits`.
    pub async fn report_traits(
        &mut self,
        request: &ReportTraitsRequest,
    ) -> Result<(), ClientError> {
        self.call(
            methods::REPORT_TRAITS,
            request.encode_to_vec(),
            |mut c, r| async move { c.report_traits(r).await },
        )
        .await
        .map(|_| ())
    }

    /// `ResolveSecrets`: the values are returned to the caller only, never stored.
    pub async fn resolve_secrets(
        &mut self,
        request: &ResolveSecretsRequest,
    ) -> Result<ResolveSecretsResponse, ClientError> {
        self.call(
            methods::RESOLVE_SECRETS,
            request.encode_to_vec(),
            |mut c, r| async move { c.resolve_secrets(r).await },
        )
        .await
    }

    /// `RenewCertificate`: a new client certificate for the CSR's key.
    pub async fn renew_certificate(
        &mut self,
        request: &RenewCertificateRequest,
    ) -> Result<RenewCertificateResponse, ClientError> {
        self.call(
            methods::RENEW_CERTIFICATE,
            request.encode_to_vec(),
            |mut c, r| async move { c.renew_certificate(r).await },
        )
        .await
    }

    /// The envoy id this client signs requests as.
    pub fn envoy_id(&self) -> &str {
        &self.envoy_id
    }

    /// Opens the held-open `AgentStream`: frames sent on the returned sender are signed and
    /// sent; the server's frames arrive on the returned stream.
    pub async fn open_stream(
        &mut self,
    ) -> Result<(mpsc::Sender<AgentFrame>, Streaming<ServerFrame>), ClientError> {
        let (frames_tx, mut frames_rx) = mpsc::channel::<AgentFrame>(16);
        let (signed_tx, signed_rx) = mpsc::channel::<SignedRequest>(16);
        let identity = Arc::clone(&self.identity);
        let envoy_id = self.envoy_id.clone();
        tokio::spawn(async move {
            while let Some(frame) = frames_rx.recv().await {
                let Ok(signed) = sign_request(
                    &identity,
                    methods::AGENT_STREAM,
                    &envoy_id,
                    frame.encode_to_vec(),
                ) else {
                    break;
                };
                if signed_tx.send(signed).await.is_err() {
                    break;
                }
            }
        });
        let outbound = tokio_stream::wrappers::ReceiverStream::new(signed_rx);
        let address = self.current_address().to_owned();
        let mut client = match &self.channel {
            Some(c) => c.clone(),
            None => {
                let mut last = String::new();
                let mut found = None;
                for (i, a) in self.addresses.clone().iter().enumerate() {
                    match self.dial(a).await {
                        Ok(c) => {
                            self.current = i;
                            self.channel = Some(c.clone());
                            found = Some(c);
                            break;
                        }
                        Err(e) => last = format!("{a}: {e}"),
                    }
                }
                found.ok_or_else(|| ClientError::Unreachable {
                    tried: self.addresses.join(", "),
                    last,
                })?
            }
        };
        match client.agent_stream(outbound).await {
            Ok(response) => Ok((frames_tx, response.into_inner())),
            Err(status) => {
                self.channel = None;
                if is_transport(&status) {
                    Err(ClientError::Unreachable {
                        tried: address,
                        last: status_text(&status),
                    })
                } else {
                    Err(ClientError::Refused {
                        method: methods::AGENT_STREAM,
                        server: address,
                        code: status.code(),
                        message: status.message().to_owned(),
                    })
                }
            }
        }
    }
}

/// Statuses that mean "this server could not be reached", not "it said no".
fn is_transport(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown
    ) && (status.code() != Code::Unknown || status.message().contains("transport"))
}

fn status_text(status: &Status) -> String {
    let mut text = status.message().to_owned();
    if text.is_empty() {
        text = format!("{:?}", status.code());
    }
    if let Some(source) = std::error::Error::source(status) {
        text.push_str(": ");
        text.push_str(&error_chain(source));
    }
    text
}

/// An error and its causes on one line ([`vigo_core::error::chain`]).
pub use vigo_core::error::chain as error_chain;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_bytes_follow_the_proto() {
        let b = signed_bytes("CheckIn", "id-1", 0x0102, &[9; 16], b"body");
        let mut want = b"vigo.v1.req\0CheckIn\0id-1\0".to_vec();
        want.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
        want.extend_from_slice(&[9; 16]);
        want.extend_from_slice(b"body");
        assert_eq!(b, want);
    }

    #[test]
    fn signed_request_verifies_and_nonces_differ() {
        let id = AgentIdentity::generate().unwrap();
        let a = sign_request(&id, "CheckIn", "e1", b"x".to_vec()).unwrap();
        let b = sign_request(&id, "CheckIn", "e1", b"x".to_vec()).unwrap();
        assert_eq!(a.nonce.len(), 16);
        assert_ne!(a.nonce, b.nonce);
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&id.public_key()).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&a.signature).unwrap();
        let msg = signed_bytes("CheckIn", "e1", a.timestamp_unix, &a.nonce, &a.body);
        vk.verify_strict(&msg, &sig).unwrap();
        let other = signed_bytes("ReportResult", "e1", a.timestamp_unix, &a.nonce, &a.body);
        assert!(vk.verify_strict(&other, &sig).is_err(), "method is covered");
    }

    #[test]
    fn addresses_parse() {
        assert_eq!(
            endpoint_parts("vigo.example.com:1530").unwrap(),
            (
                "https://vigo.example.com:1530".into(),
                "vigo.example.com".into()
            )
        );
        assert_eq!(
            endpoint_parts("https://10.0.0.1:99/").unwrap(),
            ("https://10.0.0.1:99".into(), "10.0.0.1".into())
        );
        assert_eq!(
            endpoint_parts("[::1]:1530").unwrap(),
            ("https://[::1]:1530".into(), "::1".into())
        );
        assert_eq!(endpoint_parts("h").unwrap().0, "https://h:1530");
        assert!(endpoint_parts("http://h:1").is_err());
        assert!(endpoint_parts("h:port").is_err());
    }

    #[test]
    fn redirect_becomes_primary_and_duplicates_go() {
        let id = Arc::new(AgentIdentity::generate().unwrap());
        let mut c = Client::new(
            [
                "a:1".to_owned(),
                "b:1".to_owned(),
                "a:1".to_owned(),
                String::new(),
            ],
            TlsMaterial::for_register(Vec::new()),
            id,
            "e",
        );
        assert_eq!(c.addresses(), ["a:1", "b:1"]);
        c.redirect("b:1");
        assert_eq!(c.addresses(), ["b:1", "a:1"]);
        assert_eq!(c.current_address(), "b:1");
    }

    #[tokio::test]
    async fn unreachable_servers_are_all_tried_and_named() {
        let id = Arc::new(AgentIdentity::generate().unwrap());
        // Two closed local ports: connection refused at once.
        let ports: Vec<u16> = (0..2)
            .map(|_| {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            })
            .collect();
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()])
            .unwrap()
            .cert
            .pem();
        let mut c = Client::new(
            ports.iter().map(|p| format!("127.0.0.1:{p}")),
            TlsMaterial::for_register(ca.into_bytes()),
            id,
            "e",
        );
        let err = c.check_in(&CheckInRequest::default()).await.unwrap_err();
        assert!(err.is_unreachable(), "{err}");
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{}", ports[0])), "{text}");
        assert!(text.contains(&format!("127.0.0.1:{}", ports[1])), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
