//! The REST API of `vigosrv` (HTTPS, `server.api_listen`, default `:8443`): what
//! `vigocli`, the web UI and the bootstrap script talk to.
//!
//! Conventions (spec: *Server*; reference §5):
//!
//! - JSON under `/api/v1/…`; times are Unix seconds; listings take `?limit=` (1..=1000,
//!   default 100) and `?offset=`, and answer a JSON array.
//! - Errors are `{"message": "…"}` with the HTTP status (plus `"errors": […]` when a
//!   stacks tree has several problems).
//! - Authentication is `Authorization: Bearer vgot_…` (roles and permissions in
//!   `docs/api.md`): 401 without a valid token, 403 when the token's role lacks the
//!   endpoint's [`Permission`]. `GET /api/v1/health`, `GET /api/v1/ca.pem`,
//!   `POST /api/v1/register` (the enrollment token is in the body), `GET /bootstrap`,
//!   `GET /api/v1/agent/binary` and `GET /metrics` (unless `metrics.require_auth`) need
//!   no token.
//! - Every change is appended to the audit log (actor = the token's name), and so are
//!   refusals of presented credentials (throttled).
//! - Bodies are limited to [`BODY_LIMIT`] bytes; every request is counted in
//!   `vigo_http_requests_total{method,route,status}`.
//!
//! Build the [`Router`] with [`router`] from a [`RestState`], and serve it over TLS with
//! [`serve`]. The publisher and the enrollment code plug in through
//! [`ConfigOps`] and [`Registrar`].

mod api_tokens;
mod audit;
mod auth;
mod bootstrap;
mod config;
mod enrollment;
mod envoys;
mod error;
mod extract;
mod metrics;
pub mod register;
mod secrets;
mod server_keys;
mod status;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;
use vigo_api::routes;

use crate::config::ServerConfig;
use crate::ops::ConfigOps;
use crate::pki::Pki;
use crate::secrets::LocalSecrets;
use crate::store::{NewAuditEntry, Store};

pub use auth::{API_TOKEN_PREFIX, Caller, Permission};
pub use error::{ApiError, ServeError};
pub use register::{RegisterBody, RegisterReply, Registrar};

/// The largest request body accepted (256 KiB); larger ones are refused with 413.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Everything the REST API works with. Cheap to clone.
#[derive(Clone)]
pub struct RestState {
    /// The database.
    pub store: Store,
    /// The CA and the server's keys (`GET /api/v1/ca.pem`).
    pub pki: Arc<Pki>,
    /// `server.yaml` (advertised hostname and port, enrollment and metrics settings).
    pub config: Arc<ServerConfig>,
    /// The live configuration: validate, publish, version, history, trace.
    pub ops: Arc<dyn ConfigOps>,
    /// The secrets store; `None` when no local backend is configured (the secrets
    /// endpoints then answer 503).
    pub secrets: Option<Arc<LocalSecrets>>,
    /// Registers new envoys (`POST /api/v1/register`).
    pub registrar: Arc<dyn Registrar>,
    /// The agent binary served to bootstrapping hosts; `None` = not configured.
    pub agent_binary: Option<PathBuf>,
    /// The bounded audit trail of refused requests, shared with enrollment.
    pub refusals: Arc<crate::refusals::RefusalAudit>,
    /// Renders `/metrics`: the handle of the process's Prometheus recorder
    /// (see [`install_metrics_recorder`]).
    pub metrics: PrometheusHandle,
    /// Where token expiry, audit and revocation times come from.
    pub clock: crate::clock::Clock,
}

impl std::fmt::Debug for RestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestState")
            .field("store", &self.store)
            .field("agent_binary", &self.agent_binary)
            .finish_non_exhaustive()
    }
}

/// The state the handlers share: the [`RestState`] plus what the API keeps itself.
pub(crate) struct App {
    rest: RestState,
    binary: bootstrap::BinaryCache,
}

/// What every handler receives.
pub(crate) type ApiState = Arc<App>;

impl App {
    /// Now, in Unix seconds, by the server's clock.
    pub(crate) fn now(&self) -> i64 {
        self.rest.clock.unix()
    }

    /// Appends an audit entry for a change made by `actor`. A failure to write it is a
    /// 500 that says the change itself was made.
    async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let entry = NewAuditEntry {
            at: self.now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.map(str::to_owned),
            detail,
        };
        match self.rest.store.append_audit(&entry).await {
            Ok(_) => Ok(()),
            Err(e) => Err(ApiError::internal(
                &format!("appending `{action}` to the audit log (the change itself was made)"),
                &e,
            )),
        }
    }

    /// Records a refused request in the bounded refusal audit
    /// ([`crate::refusals`]): `principal` is who was refused, `peer` where from. Never
    /// fails the request.
    async fn audit_refusal(
        &self,
        principal: crate::refusals::Principal,
        action: &'static str,
        target: Option<&str>,
        peer: extract::Peer,
        detail: serde_json::Value,
    ) {
        let actor = principal.name().to_owned();
        self.rest
            .refusals
            .record(crate::refusals::Refusal {
                action,
                actor,
                principal,
                source: peer.0.map(|a| a.ip()),
                target: target.map(str::to_owned),
                detail,
            })
            .await;
    }
}

/// The API's routes over `state`. Serve it with [`serve`] (which provides the peer
/// addresses recorded in audit entries).
pub fn router(state: RestState) -> Router {
    let app: ApiState = Arc::new(App {
        rest: state,
        binary: bootstrap::BinaryCache::default(),
    });
    // Every path comes from `vigo_api::routes`, the one list vigocli builds URLs from.
    Router::new()
        .route(routes::HEALTH.path, get(status::health))
        .route(routes::VERSION.path, get(status::version))
        .route(routes::CA_PEM.path, get(register::ca_pem))
        .route(routes::REGISTER.path, post(register::register))
        .route(routes::AGENT_BINARY.path, get(bootstrap::agent_binary))
        .route(routes::ENVOYS.path, get(envoys::list))
        .route(routes::ENVOY.path, get(envoys::show))
        .route(routes::ENVOY_REVOKE.path, post(envoys::revoke))
        .route(routes::ENVOY_TRAITS.path, get(envoys::traits))
        .route(routes::ENVOY_RUNS.path, get(envoys::runs))
        .route(routes::RUN.path, get(envoys::run))
        .route(
            routes::TOKENS.path,
            get(enrollment::list_tokens).post(enrollment::create_token),
        )
        .route(routes::TOKEN_DELETE.path, delete(enrollment::delete_token))
        .route(
            routes::PATTERNS.path,
            get(enrollment::list_patterns).post(enrollment::put_pattern),
        )
        .route(
            routes::PATTERN_DELETE.path,
            delete(enrollment::delete_pattern),
        )
        .route(routes::CONFIG_VALIDATE.path, post(config::validate))
        .route(routes::CONFIG_PUBLISH.path, post(config::publish))
        .route(routes::CONFIG_ROLLBACK.path, post(config::rollback))
        .route(routes::CONFIG_VERSION.path, get(config::version))
        .route(routes::CONFIG_HISTORY.path, get(config::history))
        .route(routes::CONFIG_TRACE.path, get(config::trace))
        .route(routes::SECRETS.path, get(secrets::list))
        .route(
            routes::SECRET_SET.path,
            put(secrets::set).delete(secrets::delete),
        )
        .route(
            routes::API_TOKENS.path,
            get(api_tokens::list).post(api_tokens::create),
        )
        .route(routes::API_TOKEN_REVOKE.path, delete(api_tokens::revoke))
        .route(routes::AUDIT.path, get(audit::list))
        .route(routes::BUNDLE_KEY.path, get(server_keys::show))
        .route(routes::ROTATE_BUNDLE_KEY.path, post(server_keys::rotate))
        .route(routes::BOOTSTRAP.path, get(bootstrap::script))
        .route(routes::METRICS.path, get(metrics::render))
        .fallback(status::not_found)
        .method_not_allowed_fallback(status::method_not_allowed)
        .layer(axum::middleware::from_fn(metrics::count_requests))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(app)
}

/// Serves `router` over TLS (`tls`, e.g. [`Pki::rest_server_config`]) on `listener`
/// until `shutdown` completes, with the default `server.connections` limits (see
/// [`serve_with`]).
pub async fn serve(
    listener: std::net::TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "?".to_owned(), |a| a.to_string());
    let listener = listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
        .map_err(|source| ServeError::Io { addr, source })?;
    let limits = crate::listen::Listener::rest(&crate::config::ConnectionsSection::default());
    serve_with(listener, router, tls, limits, shutdown).await;
    Ok(())
}

/// Serves `router` over TLS on `listener` until `shutdown` completes, then lets
/// requests in flight finish (up to 10 s). HTTP/1.1 and HTTP/2 (by ALPN), under
/// `limits`: handshake, first-request and idle timeouts, connection budgets (see
/// [`crate::listen`]). The peer's address reaches handlers as `ConnectInfo`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
    limits: crate::listen::Listener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    crate::listen::serve(listener, tls, limits, router, shutdown).await;
}

/// Installs the process-wide Prometheus recorder (once, at startup) and returns the
/// handle [`RestState::metrics`] renders. Fails when a recorder is already installed.
pub fn install_metrics_recorder() -> Result<PrometheusHandle, ServeError> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(ServeError::Metrics)
}

/// A Unix time as RFC 3339 (UTC), for messages.
pub(crate) fn format_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// `bytes` random bytes from the OS, as lower-case hex (token secrets and ids).
pub(crate) fn random_hex(bytes: usize) -> Result<String, ApiError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ApiError::internal("drawing random bytes", &e))?;
    Ok(hex::encode(buf))
}

/// Parses a lifetime such as `"24h"` or `"720h"` (the `server.yaml` duration syntax):
/// more than zero, at most `max_days` days.
pub(crate) fn parse_lifetime(text: &str, what: &str, max_days: u64) -> Result<i64, ApiError> {
    let d: crate::config::ConfigDuration = text
        .parse()
        .map_err(|e: String| ApiError::bad_request(format!("{what}: {e}")))?;
    let secs = d.as_secs();
    if secs == 0 {
        return Err(ApiError::bad_request(format!(
            "{what}: must be at least one second"
        )));
    }
    if secs > max_days * 86_400 {
        return Err(ApiError::bad_request(format!(
            "{what}: at most {max_days} days, got {d}"
        )));
    }
    i64::try_from(secs).map_err(|_| ApiError::bad_request(format!("{what}: too long")))
}
