//! Bootstrapping a host: `GET /bootstrap` (no token) answers a POSIX shell script that
//! downloads the agent binary from `GET /api/v1/agent/binary` (no token), checks its
//! SHA-256 against the digest written into the script, installs it as
//! `/usr/local/sbin/vigo` and runs `vigo bootstrap --server <this server> "$@"`:
//!
//! ```text
//! curl -sSfk https://vigo.example.net:8443/bootstrap | sudo sh -s -- --token vget_…
//! ```
//!
//! The binary is read and hashed once and kept in memory until its file changes (size
//! or modification time), so a fleet bootstrapping at once costs one read.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;

/// Where the script installs the agent.
pub(crate) const AGENT_PATH: &str = "/usr/local/sbin/vigo";
/// The response header carrying the binary's SHA-256 (hex).
pub(crate) const SHA256_HEADER: &str = "x-vigo-sha256";
/// The largest agent binary served (512 MiB).
const MAX_BINARY_LEN: u64 = 512 << 20;

/// The agent binary as last read.
#[derive(Default)]
pub(crate) struct BinaryCache {
    current: tokio::sync::Mutex<Option<Cached>>,
}

struct Cached {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    sha256: String,
    bytes: Bytes,
}

impl BinaryCache {
    /// The binary at `path` and its SHA-256 (hex), from memory when the file did not
    /// change since it was read.
    async fn load(&self, path: &Path) -> Result<(String, Bytes), ApiError> {
        let unreadable = |e: &std::io::Error| {
            tracing::error!(target: "vigo::rest", "agent binary {}: {e}", path.display());
            ApiError::unavailable(format!(
                "the agent binary {} cannot be read: {e}",
                path.display()
            ))
        };
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| unreadable(&e))?;
        let (len, modified) = (meta.len(), meta.modified().ok());
        let mut current = self.current.lock().await;
        if let Some(c) = current.as_ref()
            && c.path == path
            && c.len == len
            && c.modified == modified
        {
            return Ok((c.sha256.clone(), c.bytes.clone()));
        }
        if len > MAX_BINARY_LEN {
            return Err(ApiError::unavailable(format!(
                "the agent binary {} is larger than {} MiB",
                path.display(),
                MAX_BINARY_LEN >> 20
            )));
        }
        let owned = path.to_path_buf();
        let (bytes, sha256) = tokio::task::spawn_blocking(move || {
            std::fs::read(&owned).map(|bytes| {
                let sha = hex::encode(Sha256::digest(&bytes));
                (Bytes::from(bytes), sha)
            })
        })
        .await
        .map_err(|e| ApiError::internal("reading the agent binary", &e))?
        .map_err(|e| unreadable(&e))?;
        *current = Some(Cached {
            path: path.to_path_buf(),
            len,
            modified,
            sha256: sha256.clone(),
            bytes: bytes.clone(),
        });
        Ok((sha256, bytes))
    }
}

/// The configured binary, or why there is none.
fn configured(app: &ApiState) -> Result<&Path, ApiError> {
    app.rest.agent_binary.as_deref().ok_or_else(|| {
        ApiError::not_found(
            "this server has no agent binary to serve: configure the agent binary of \
             vigosrv, or install the agent by other means and run `vigo bootstrap`",
        )
    })
}

/// `GET /api/v1/agent/binary` (no token): the agent, with `X-Vigo-Sha256`.
pub(crate) async fn agent_binary(State(app): State<ApiState>) -> Result<Response, ApiError> {
    let (sha256, bytes) = app.binary.load(configured(&app)?).await?;
    let sha = HeaderValue::from_str(&sha256)
        .map_err(|e| ApiError::internal("writing the digest header", &e))?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"vigo\""),
            ),
            (header::HeaderName::from_static(SHA256_HEADER), sha),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /bootstrap` (no token): the install script. When it cannot be written (no
/// binary, unusable hostname), the answer is still a script, one that says why and
/// fails, with an error status (so `curl -f` fails too).
pub(crate) async fn script(State(app): State<ApiState>) -> Response {
    match build_script(&app).await {
        Ok(text) => shell(StatusCode::OK, text),
        Err(e) => {
            let message = e.message.replace('\'', "");
            shell(
                e.status,
                format!("#!/bin/sh\necho 'vigo bootstrap: {message}' >&2\nexit 1\n"),
            )
        }
    }
}

fn shell(status: StatusCode, text: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/x-shellscript; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// The URL agents reach this server's REST API at: `server.hostname` (or the host's
/// name) and the port of `server.api_listen`.
pub(crate) fn server_url(app: &ApiState) -> Result<String, ApiError> {
    let config = &app.rest.config;
    let host = config.hostname();
    let port = config.server.api_listen.port;
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
    {
        return Err(ApiError::unavailable(format!(
            "the server hostname {host:?} cannot be used in a URL: set server.hostname"
        )));
    }
    Ok(match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("https://[{ip}]:{port}"),
        _ => format!("https://{host}:{port}"),
    })
}

async fn build_script(app: &ApiState) -> Result<String, ApiError> {
    let url = server_url(app)?;
    let (sha256, _) = app.binary.load(configured(app)?).await?;
    Ok(render_script(&url, &sha256))
}

/// The script for a server at `url` serving an agent whose SHA-256 is `sha256`. Both
/// are checked by the caller to contain no shell-special characters.
fn render_script(url: &str, sha256: &str) -> String {
    format!(
        r#"#!/bin/sh
# Vigo agent bootstrap, generated by vigosrv {version}.
# Usage: curl -sSfk {url}/bootstrap | sudo sh -s -- [--token vget_...] [--force] [--install-service]
set -eu

VIGO_SERVER='{url}'
VIGO_SHA256='{sha256}'
VIGO_AGENT='{agent}'

fail() {{ echo "vigo bootstrap: $*" >&2; exit 1; }}

[ "$(id -u)" -eq 0 ] || fail "run this script as root (… | sudo sh -s -- --token TOKEN)"

mkdir -p "$(dirname "$VIGO_AGENT")"
tmp=$(mktemp "$(dirname "$VIGO_AGENT")/.vigo.XXXXXX") || fail "cannot create a temporary file"
trap 'rm -f "$tmp"' EXIT INT TERM

# The server's certificate may be self-signed: the download is checked against the
# SHA-256 above instead.
if command -v curl >/dev/null 2>&1; then
    curl -sSfk -o "$tmp" "$VIGO_SERVER/api/v1/agent/binary" || fail "downloading the agent from $VIGO_SERVER failed"
elif command -v wget >/dev/null 2>&1; then
    wget -q --no-check-certificate -O "$tmp" "$VIGO_SERVER/api/v1/agent/binary" || fail "downloading the agent from $VIGO_SERVER failed"
else
    fail "neither curl nor wget is installed"
fi

if command -v sha256sum >/dev/null 2>&1; then
    got=$(sha256sum "$tmp" | cut -d ' ' -f 1)
elif command -v shasum >/dev/null 2>&1; then
    got=$(shasum -a 256 "$tmp" | cut -d ' ' -f 1)
elif command -v openssl >/dev/null 2>&1; then
    got=$(openssl dgst -sha256 -r "$tmp" | cut -d ' ' -f 1)
else
    fail "no SHA-256 tool (sha256sum, shasum or openssl) is installed"
fi
[ "$got" = "$VIGO_SHA256" ] || fail "the downloaded agent has SHA-256 $got, expected $VIGO_SHA256; not installing it"

chmod 0755 "$tmp"
mv -f "$tmp" "$VIGO_AGENT"
trap - EXIT INT TERM
echo "vigo bootstrap: installed $VIGO_AGENT (sha256 $VIGO_SHA256)" >&2

exec "$VIGO_AGENT" bootstrap --server "$VIGO_SERVER" "$@"
"#,
        version = env!("CARGO_PKG_VERSION"),
        agent = AGENT_PATH,
    )
}

#[cfg(test)]
mod tests {
    use super::render_script;

    #[test]
    fn script_checks_the_digest_and_passes_arguments_on() {
        let s = render_script("https://vigo.example.net:8443", "ab12");
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(s.contains("VIGO_SERVER='https://vigo.example.net:8443'"));
        assert!(s.contains("VIGO_SHA256='ab12'"));
        assert!(s.contains("[ \"$got\" = \"$VIGO_SHA256\" ]"));
        assert!(s.contains("exec \"$VIGO_AGENT\" bootstrap --server \"$VIGO_SERVER\" \"$@\""));
    }
}
