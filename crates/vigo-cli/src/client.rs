//! The REST client: one synchronous HTTPS client (ureq, rustls with the ring provider, no
//! async runtime) for `vigosrv`'s `/api/v1/…`, trusting only `--ca-file` when given, sending
//! the API token, reading answers into the types of [`vigo_api`], and turning every failure
//! into an [`ApiError`] that says what happened in one line and how to fix it.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use ureq::http;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};
use url::Url;
use vigo_api::{ErrorBody, Route};

use crate::settings::{Settings, Source};

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one call may take in all.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest answer read (a run page of 5000 results is about 1 MiB).
const MAX_ANSWER_BYTES: u64 = 64 * 1024 * 1024;
/// Rows asked per page by [`Client::get_all`] (the server's largest `?limit=`).
const PAGE: u32 = vigo_api::paging::MAX_LIMIT;

/// A cause kept under an [`ApiError`].
type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// A failed API call, with the hint shown under it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No server URL is configured.
    #[error("no server configured")]
    NoServer,
    /// No token is configured.
    #[error("no API token configured")]
    NoToken,
    /// The server URL does not parse.
    #[error("invalid server URL {url:?}: {detail}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        detail: String,
        /// The parser's error, when it was the parser.
        #[source]
        source: Option<url::ParseError>,
    },
    /// The CA file cannot be read or is not PEM.
    #[error("cannot use CA file {path}: {detail}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
        /// The read or PEM error, when there is one.
        #[source]
        source: Option<Cause>,
    },
    /// Nothing answers at the address.
    #[error("cannot reach the server at {url}: {detail}")]
    Unreachable {
        /// The server URL.
        url: String,
        /// The innermost cause, for the one line shown.
        detail: String,
        /// The transport error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The TLS handshake failed (most often: the server's CA is not trusted).
    #[error("TLS handshake with {url} failed: {detail}")]
    Tls {
        /// The server URL.
        url: String,
        /// The innermost cause, for the one line shown.
        detail: String,
        /// Whether a CA file was given.
        with_ca: bool,
        /// The TLS error.
        #[source]
        source: Box<ureq::Error>,
    },
    /// 401: the token is missing, unknown, revoked or expired.
    #[error("authentication refused: {0}")]
    Unauthorized(String),
    /// 403: the token's role lacks the permission.
    #[error("permission denied: {0}")]
    Forbidden(String),
    /// 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// 422 with the list of every problem of a stacks tree.
    #[error("{message}")]
    Invalid {
        /// The one-line message.
        message: String,
        /// Every problem, `file:line:column: …`.
        errors: Vec<String>,
    },
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// Any other error status.
    #[error("server answered {status}: {message}")]
    Status {
        /// The status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The answer is not the JSON expected.
    #[error("unexpected answer from the server to {endpoint}: {source}")]
    Decode {
        /// `METHOD /path` of the call.
        endpoint: String,
        /// What did not fit.
        #[source]
        source: Cause,
    },
}

impl ApiError {
    /// The hint line shown under the error.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            ApiError::NoServer => {
                "pass --server URL, set VIGO_SERVER, or run `vigocli login --server URL --token T`"
                    .into()
            }
            ApiError::NoToken => {
                "pass --token, set VIGO_TOKEN, or run `vigocli login --server URL --token T`".into()
            }
            ApiError::BadUrl { .. } => "the server URL looks like https://vigo.example.net:8443".into(),
            ApiError::CaFile { .. } => {
                "--ca-file must name the server's CA certificate in PEM (/srv/vigo/tls/ca on the server)"
                    .into()
            }
            ApiError::Unreachable { .. } => {
                "check --server (scheme, host and port) and that vigosrv is running".into()
            }
            ApiError::Tls { with_ca: false, .. } => {
                "the server's certificate is not trusted: pass --ca-file with its CA (/srv/vigo/tls/ca, or GET /api/v1/ca.pem)"
                    .into()
            }
            ApiError::Tls { with_ca: true, .. } => {
                "the CA in --ca-file did not sign the server's certificate, or the server name does not match it"
                    .into()
            }
            ApiError::Unauthorized(_) => {
                "check the token, or store a valid one with `vigocli login --server URL --token vgot_…`"
                    .into()
            }
            ApiError::Forbidden(_) => {
                "your token's role does not allow this; `vigocli server version` shows your role — ask an admin"
                    .into()
            }
            ApiError::NotFound(_) => "check the id or name (`… list` shows them)".into(),
            ApiError::Invalid { .. } => {
                "fix the problems above, then run `vigocli config validate` again".into()
            }
            ApiError::Decode { .. } => {
                "vigocli and vigosrv may be of different versions: `vigocli server version` shows both"
                    .into()
            }
            ApiError::Conflict(_) | ApiError::Status { .. } => return None,
        })
    }
}

/// An HTTPS client for one server with one token.
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    base: Url,
    token: Option<String>,
    token_source: Source,
    with_ca: bool,
}

/// A request body.
#[derive(Debug)]
pub enum Body {
    /// JSON (`Content-Type: application/json`).
    Json(Vec<u8>),
    /// Raw bytes (a secret's value).
    Raw(Vec<u8>),
}

impl Body {
    /// `value` as a JSON body.
    pub fn json(value: &impl Serialize) -> Body {
        // Serializing the API's plain structs to a Vec cannot fail.
        Body::Json(serde_json::to_vec(value).unwrap_or_default())
    }
}

/// A 2xx answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body (empty for 204).
    pub body: Vec<u8>,
    endpoint: String,
}

impl Answer {
    /// The body read as `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::Decode {
            endpoint: self.endpoint.clone(),
            source: Box::new(e),
        })
    }
}

/// Whether a call sends the API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Token,
    Anonymous,
}

impl Client {
    /// A client for the settings' server, trusting only the CA file when given (else the
    /// system's roots).
    pub fn new(settings: &Settings) -> Result<Client, ApiError> {
        let server = settings.server.as_deref().ok_or(ApiError::NoServer)?;
        let base = parse_base(server)?;
        let roots = match &settings.ca_file {
            Some(path) => RootCerts::new_with_certs(&read_ca(path)?),
            None => RootCerts::PlatformVerifier,
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(roots)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_TIMEOUT))
            .user_agent(concat!("vigocli/", env!("CARGO_PKG_VERSION")))
            .http_status_as_error(false)
            .tls_config(tls)
            .build();
        Ok(Client {
            agent: ureq::Agent::new_with_config(config),
            base,
            token: settings.token.clone(),
            token_source: settings.token_source,
            with_ca: settings.ca_file.is_some(),
        })
    }

    /// Where the token came from.
    pub fn token_source(&self) -> Source {
        self.token_source
    }

    /// `GET route` (placeholders filled by `args`) with `query`, read as `T`.
    pub fn get<T: DeserializeOwned>(
        &self,
        route: Route,
        args: &[&str],
        query: &impl Serialize,
    ) -> Result<T, ApiError> {
        self.call(route, args, query, None)?.json()
    }

    /// `GET` every page of a listing (`limit=1000` and `offset` until a short page).
    pub fn get_all<T: DeserializeOwned>(
        &self,
        route: Route,
        query: &impl Serialize,
    ) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        loop {
            let mut url = self.url(route, &[], query)?;
            url.query_pairs_mut()
                .append_pair("limit", &PAGE.to_string())
                .append_pair("offset", &all.len().to_string());
            let page: Vec<T> = self.send(route, &url, None, Auth::Token)?.json()?;
            let n = page.len();
            all.extend(page);
            if n < PAGE as usize {
                return Ok(all);
            }
        }
    }

    /// `route` with the token, `query` and `body`; a 2xx answer is returned, any other is
    /// an [`ApiError`].
    pub fn call(
        &self,
        route: Route,
        args: &[&str],
        query: &impl Serialize,
        body: Option<Body>,
    ) -> Result<Answer, ApiError> {
        let url = self.url(route, args, query)?;
        self.send(route, &url, body, Auth::Token)
    }

    /// `route` without a token (health).
    pub fn call_anonymous(&self, route: Route) -> Result<Answer, ApiError> {
        let url = self.url(route, &[], &())?;
        self.send(route, &url, None, Auth::Anonymous)
    }

    /// The URL of `route` under the base, each segment percent-encoded, with `query`.
    fn url(&self, route: Route, args: &[&str], query: &impl Serialize) -> Result<Url, ApiError> {
        let mut url = self.base.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty();
            p.extend(route.segments(args));
        }
        let query = serde_urlencoded::to_string(query).map_err(|e| ApiError::Decode {
            endpoint: endpoint(route),
            source: Box::new(e),
        })?;
        if !query.is_empty() {
            url.set_query(Some(&query));
        }
        Ok(url)
    }

    fn send(
        &self,
        route: Route,
        url: &Url,
        body: Option<Body>,
        auth: Auth,
    ) -> Result<Answer, ApiError> {
        let mut req = http::Request::builder()
            .method(route.method.as_str())
            .uri(url.as_str());
        if auth == Auth::Token {
            let token = self.token.as_deref().ok_or(ApiError::NoToken)?;
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let built = match body {
            None => req.body(()).map(|r| self.agent.run(r)),
            Some(Body::Json(bytes)) => req
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(bytes)
                .map(|r| self.agent.run(r)),
            Some(Body::Raw(bytes)) => req
                .header(http::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes)
                .map(|r| self.agent.run(r)),
        };
        let endpoint = endpoint(route);
        let mut resp = built
            .map_err(|e| ApiError::Decode {
                endpoint: endpoint.clone(),
                source: Box::new(e),
            })?
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| self.transport_error(e))?;
        if (200..300).contains(&status) {
            return Ok(Answer {
                status,
                body,
                endpoint,
            });
        }
        Err(status_error(status, &body))
    }

    fn transport_error(&self, e: ureq::Error) -> ApiError {
        let url = self.base.as_str().trim_end_matches('/').to_owned();
        let detail = root_cause(&e);
        if is_tls(&e) {
            return ApiError::Tls {
                url,
                detail,
                with_ca: self.with_ca,
                source: Box::new(e),
            };
        }
        ApiError::Unreachable {
            url,
            detail,
            source: Box::new(e),
        }
    }
}

/// `METHOD /path` of a route, for messages.
fn endpoint(route: Route) -> String {
    format!("{} {}", route.method.as_str(), route.path)
}

/// The error for a non-2xx answer: the server's [`ErrorBody`], or the first line of a
/// body that is not one, or the status's reason.
fn status_error(status: u16, body: &[u8]) -> ApiError {
    let ErrorBody { message, errors } = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => b,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let first = text.lines().next().unwrap_or_default().trim();
            let message = if first.is_empty() {
                http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("unknown status")
                    .to_owned()
            } else {
                first.to_owned()
            };
            ErrorBody {
                message,
                errors: Vec::new(),
            }
        }
    };
    match status {
        401 => ApiError::Unauthorized(message),
        403 => ApiError::Forbidden(message),
        404 => ApiError::NotFound(message),
        409 => ApiError::Conflict(message),
        422 if !errors.is_empty() => ApiError::Invalid { message, errors },
        _ => ApiError::Status { status, message },
    }
}

fn parse_base(server: &str) -> Result<Url, ApiError> {
    let bad = |detail: String, source: Option<url::ParseError>| ApiError::BadUrl {
        url: server.to_owned(),
        detail,
        source,
    };
    let with_scheme = if server.contains("://") {
        server.to_owned()
    } else {
        format!("https://{server}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| bad(e.to_string(), Some(e)))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad(format!("unsupported scheme {:?}", url.scheme()), None));
    }
    if url.host_str().is_none() {
        return Err(bad("no host".into(), None));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

fn read_ca(path: &Path) -> Result<Vec<Certificate<'static>>, ApiError> {
    let err = |detail: String, source: Option<Cause>| ApiError::CaFile {
        path: path.to_path_buf(),
        detail,
        source,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string(), Some(Box::new(e))))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(err(root_cause(&e), Some(Box::new(e)))),
        }
    }
    if certs.is_empty() {
        return Err(err("no certificate in the file".into(), None));
    }
    Ok(certs)
}

/// Whether a TLS problem is somewhere in the error's chain.
fn is_tls(e: &ureq::Error) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = match e {
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => return true,
        ureq::Error::Io(io) => Some(io),
        other => Some(other),
    };
    while let Some(s) = source {
        if s.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// The innermost error's text (the useful one: "Connection refused", "UnknownIssuer").
fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last.trim_start_matches("io: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_get_a_scheme_and_lose_queries() {
        assert_eq!(
            parse_base("vigo.example.net:8443").unwrap().as_str(),
            "https://vigo.example.net:8443/"
        );
        assert!(parse_base("ftp://x").is_err());
    }

    #[test]
    fn status_errors_keep_message_and_every_problem() {
        let body = br#"{"message": "invalid", "errors": ["a.vgo:1:2: x", "b.vgo:3:4: y"]}"#;
        match status_error(422, body) {
            ApiError::Invalid { errors, .. } => assert_eq!(errors.len(), 2),
            other => panic!("{other:?}"),
        }
        let e = status_error(403, br#"{"message": "needs admin"}"#);
        assert_eq!(e.to_string(), "permission denied: needs admin");
        assert!(e.hint().unwrap().contains("role"));
        let e = status_error(502, b"");
        assert_eq!(e.to_string(), "server answered 502: Bad Gateway");
    }

    #[test]
    fn a_mistyped_answer_names_the_endpoint_and_keeps_the_cause() {
        let answer = Answer {
            status: 200,
            body: br#"{"key_id": 7}"#.to_vec(),
            endpoint: endpoint(vigo_api::routes::BUNDLE_KEY),
        };
        let e = answer.json::<vigo_api::keys::BundleKey>().unwrap_err();
        assert!(
            e.to_string().starts_with(
                "unexpected answer from the server to GET /api/v1/server/bundle-key: "
            ),
            "{e}"
        );
        assert!(e.source().is_some());
    }
}
