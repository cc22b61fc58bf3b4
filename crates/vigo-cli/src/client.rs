//! The REST client: one blocking HTTPS client for `vigosrv`'s `/api/v1/…`, trusting
//! `--ca-file` when given, sending the API token, and turning every failure into an
//! [`ApiError`] that says what happened in one line and how to fix it.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder};
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use crate::settings::{Settings, Source};

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
    },
    /// The CA file cannot be read or is not PEM.
    #[error("cannot use CA file {path}: {detail}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// Nothing answers at the address.
    #[error("cannot reach the server at {url}: {detail}")]
    Unreachable {
        /// The server URL.
        url: String,
        /// The connection error.
        detail: String,
    },
    /// The TLS handshake failed (most often: the server's CA is not trusted).
    #[error("TLS handshake with {url} failed: {detail}")]
    Tls {
        /// The server URL.
        url: String,
        /// The TLS error.
        detail: String,
        /// Whether a CA file was given.
        with_ca: bool,
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
        status: StatusCode,
        /// The server's message.
        message: String,
    },
    /// The answer is not the JSON expected.
    #[error("unexpected answer from the server: {0}")]
    Decode(String),
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
            ApiError::Conflict(_) | ApiError::Status { .. } | ApiError::Decode(_) => return None,
        })
    }
}

/// An HTTPS client for one server with one token.
#[derive(Debug)]
pub struct Client {
    http: Http,
    base: Url,
    token: Option<String>,
    token_source: Source,
    with_ca: bool,
}

/// An answer: its status and body (JSON, or `Null` when empty).
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body as JSON (`Null` for an empty body).
    pub body: Value,
}

impl Client {
    /// A client for the settings' server, trusting only the CA file when given.
    pub fn new(settings: &Settings) -> Result<Client, ApiError> {
        let server = settings.server.as_deref().ok_or(ApiError::NoServer)?;
        let base = parse_base(server)?;
        let mut builder = Http::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("vigocli/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &settings.ca_file {
            builder = builder.tls_certs_only(read_ca(path)?);
        }
        let http = builder.build().map_err(|e| ApiError::Decode(chain(&e)))?;
        Ok(Client {
            http,
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

    /// The URL of `path` (already `/`-separated and encoded as needed) under the base.
    pub fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut p) = url.path_segments_mut() {
            p.pop_if_empty();
            for s in segments {
                p.push(s);
            }
        }
        if !query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
        }
        url
    }

    /// A call with the token; a 2xx answer is returned, any other is an [`ApiError`].
    pub fn call(&self, method: Method, url: Url, body: Option<Body>) -> Result<Answer, ApiError> {
        let token = self.token.as_deref().ok_or(ApiError::NoToken)?;
        let req = self.http.request(method, url).bearer_auth(token);
        self.send(req, body)
    }

    /// A call without a token (health).
    pub fn call_anonymous(&self, method: Method, url: Url) -> Result<Answer, ApiError> {
        self.send(self.http.request(method, url), None)
    }

    /// `GET` with the token, answering the JSON body.
    pub fn get(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Value, ApiError> {
        Ok(self
            .call(Method::GET, self.url(segments, query), None)?
            .body)
    }

    /// `GET` every page of a listing (`limit=1000` and `offset` until a short page).
    pub fn get_all(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Value, ApiError> {
        const PAGE: usize = 1000;
        let mut all = Vec::new();
        loop {
            let mut q = query.to_vec();
            q.push(("limit", PAGE.to_string()));
            q.push(("offset", all.len().to_string()));
            let page = self.get(segments, &q)?;
            let Value::Array(items) = page else {
                return Err(ApiError::Decode(
                    "a listing that is not a JSON array".into(),
                ));
            };
            let n = items.len();
            all.extend(items);
            if n < PAGE {
                return Ok(Value::Array(all));
            }
        }
    }

    fn send(&self, mut req: RequestBuilder, body: Option<Body>) -> Result<Answer, ApiError> {
        match body {
            Some(Body::Json(v)) => req = req.json(&v),
            Some(Body::Raw(bytes)) => {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(bytes);
            }
            None => {}
        }
        let resp = req.send().map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| self.transport_error(&e))?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(Answer { status, body });
        }
        Err(status_error(status, &body))
    }

    fn transport_error(&self, e: &reqwest::Error) -> ApiError {
        let url = self.base.as_str().trim_end_matches('/').to_owned();
        let detail = root_cause(e);
        if is_tls(e) {
            return ApiError::Tls {
                url,
                detail,
                with_ca: self.with_ca,
            };
        }
        if e.is_connect() || e.is_timeout() || e.is_request() {
            return ApiError::Unreachable { url, detail };
        }
        ApiError::Decode(detail)
    }
}

/// A request body.
#[derive(Debug)]
pub enum Body {
    /// JSON (`Content-Type: application/json`).
    Json(Value),
    /// Raw bytes (a secret's value).
    Raw(Vec<u8>),
}

/// The error for a non-2xx answer.
fn status_error(status: StatusCode, body: &Value) -> ApiError {
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| match body {
            Value::String(s) if !s.is_empty() => s.lines().next().unwrap_or_default().to_owned(),
            _ => status
                .canonical_reason()
                .unwrap_or("unknown status")
                .to_owned(),
        });
    let errors: Vec<String> = body
        .get("errors")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    match status {
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized(message),
        StatusCode::FORBIDDEN => ApiError::Forbidden(message),
        StatusCode::NOT_FOUND => ApiError::NotFound(message),
        StatusCode::CONFLICT => ApiError::Conflict(message),
        StatusCode::UNPROCESSABLE_ENTITY if !errors.is_empty() => {
            ApiError::Invalid { message, errors }
        }
        _ => ApiError::Status { status, message },
    }
}

fn parse_base(server: &str) -> Result<Url, ApiError> {
    let bad = |detail: String| ApiError::BadUrl {
        url: server.to_owned(),
        detail,
    };
    let with_scheme = if server.contains("://") {
        server.to_owned()
    } else {
        format!("https://{server}")
    };
    let mut url = Url::parse(&with_scheme).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad(format!("unsupported scheme {:?}", url.scheme())));
    }
    if url.host_str().is_none() {
        return Err(bad("no host".into()));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

fn read_ca(path: &Path) -> Result<Vec<reqwest::Certificate>, ApiError> {
    let err = |detail: String| ApiError::CaFile {
        path: path.to_path_buf(),
        detail,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| err(root_cause(&e)))?;
    if certs.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    Ok(certs)
}

/// Whether a TLS problem is somewhere in the error's chain.
fn is_tls(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = e.source();
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
    let text = chain(e).to_ascii_lowercase();
    text.contains("certificate") || text.contains("tls handshake")
}

/// The innermost error's text (the useful one: "Connection refused", "UnknownIssuer").
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last.trim_start_matches("error: ").to_owned()
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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
        let body =
            serde_json::json!({"message": "invalid", "errors": ["a.vgo:1:2: x", "b.vgo:3:4: y"]});
        match status_error(StatusCode::UNPROCESSABLE_ENTITY, &body) {
            ApiError::Invalid { errors, .. } => assert_eq!(errors.len(), 2),
            other => panic!("{other:?}"),
        }
        let e = status_error(
            StatusCode::FORBIDDEN,
            &serde_json::json!({"message": "needs admin"}),
        );
        assert_eq!(e.to_string(), "permission denied: needs admin");
        assert!(e.hint().unwrap().contains("role"));
    }
}
