//! Starting and stopping a server: the data dir's modes, secrets, PKI, store, the live
//! version, the fleet index and its flush task, the local admin token, both listeners
//! (after raising the open-file limit; see [`crate::listen`]), and the periodic renewal of
//! the server certificate.
//!
//! [`start`] returns a [`Running`] server (tests bind `127.0.0.1:0` and read
//! [`Running::grpc_addr`]); [`Running::shutdown`] stops the listeners, waits for requests
//! in flight, flushes the fleet index and closes the store.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::{ConfigError, DatabaseDriver, ServerConfig};
use crate::datadir;
use crate::enroll::Enroller;
use crate::fleet::{FLUSH_INTERVAL, Fleet};
use crate::grpc::{self, AgentService};
use crate::listen;
use crate::listen::activation::{self, ActivationError, Listeners};
use crate::ops::PublishError;
use crate::pki::{Pki, PkiError, PkiOptions, files};
use crate::publish::{Publisher, PublisherOptions};
use crate::refusals::RefusalAudit;
use crate::replay::ReplayLedger;
use crate::secrets::{LocalSecrets, SecretsError};
use crate::state::AppState;
use crate::store::{ApiRole, NewApiToken, Store, StoreConfig, StoreError, TokenHash};

/// The name of the local admin API token in the store.
pub const LOCAL_ADMIN_TOKEN_NAME: &str = "local-admin";
/// How often the server re-reads the fleet and the latest version from the store
/// (revocations made through REST or by another replica, publishes of other replicas).
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(10);

/// Why the server could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// `server.yaml` (or a secret it references).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The secrets store.
    #[error("secrets: {0}")]
    Secrets(#[from] SecretsError),
    /// The CA, certificates or signing key.
    #[error("pki: {0}")]
    Pki(#[from] PkiError),
    /// The database.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The data dir is not safe to serve from (owner, mode, where the stacks are).
    #[error("data dir: {0}")]
    DataDir(#[from] crate::datadir::DataDirError),
    /// The stored or on-disk configuration could not be made live.
    #[error("configuration: {0}")]
    Publish(PublishError),
    /// A file or socket.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A server task panicked.
    #[error("server task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// The sockets passed in (socket activation) cannot be served on.
    #[error(transparent)]
    Activation(#[from] ActivationError),
}

/// The REST API over the shared state, for `server.api_listen`: the publisher as its
/// `ConfigOps`, the enroller as its `Registrar` (registration and revocation reach the
/// fleet index), the agent binary from `<data_dir>/agent/vigo` when present.
pub fn rest_router(state: &AppState) -> axum::Router {
    let agent_binary = state.config.server.data_dir.join(AGENT_BINARY);
    // Served to anyone: never when it leads to one of the server's private files.
    let agent_binary = match datadir::private_target(&state.config, &agent_binary) {
        Some(private) => {
            tracing::error!(
                binary = %agent_binary.display(),
                private = %private.display(),
                "the agent binary leads to a private file: not served"
            );
            None
        }
        None => Some(agent_binary),
    };
    let agent_binary = agent_binary.filter(|b| b.is_file());
    crate::rest::router(crate::rest::RestState {
        store: state.store.clone(),
        pki: Arc::clone(&state.pki),
        config: Arc::clone(&state.config),
        ops: state.config_ops(),
        secrets: state.secrets.clone(),
        registrar: Arc::clone(&state.enroller) as Arc<dyn crate::rest::Registrar>,
        refusals: Arc::clone(&state.refusals),
        agent_binary,
        metrics: metrics_handle(),
        clock: state.clock.clone(),
    })
}

/// Where the agent binary served by `GET /api/v1/agent/binary` (and so `/bootstrap`) is
/// looked for, under the data dir.
pub const AGENT_BINARY: &str = "agent/vigo";

/// The process-wide Prometheus recorder's handle, installed on first use (several servers
/// in one test process share it).
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            crate::rest::install_metrics_recorder().unwrap_or_else(|e| {
                tracing::warn!("metrics: {e}; /metrics will stay empty");
                metrics_exporter_prometheus::PrometheusBuilder::new()
                    .build_recorder()
                    .handle()
            })
        })
        .clone()
}

/// Builds the shared state from a loaded config: secrets (and the config's `secret:`
/// values), PKI, store, the live version, the fleet index, the enroller; every part
/// tells the time by `clock`.
pub async fn build_state(mut config: ServerConfig, clock: Clock) -> Result<AppState, ServeError> {
    // Before anything is written into it: the data dir is 0700 and the server's own.
    for t in datadir::secure(&config)? {
        tracing::warn!(
            dir = %t.path.display(),
            was = %format_args!("{:o}", t.was),
            "others could read this private directory: tightened to 0700"
        );
    }
    datadir::check_stacks_dir(&config)?;
    // Only the local backend is built: `isopass` stops the start with that reason instead
    // of serving without secrets.
    let secrets = Some(Arc::new(LocalSecrets::from_config(&config.secrets)?));
    if let Some(s) = &secrets {
        config.resolve_secrets_from(s)?;
    }
    let pki = Arc::new(Pki::load_or_create_with(
        &PkiOptions::from_config(&config),
        clock.clone(),
    )?);
    let report = pki.report();
    tracing::info!(
        created_ca = report.created_ca,
        server_cert = ?report.server_cert,
        created_signing_key = report.created_signing_key,
        signing_key_id = %pki.signing_key_id(),
        "PKI ready"
    );
    let store = Store::open(&store_config(&config)).await?;
    tracing::info!(backend = %store.backend(), "store open");

    let publisher = Arc::new(Publisher::new(
        PublisherOptions {
            stacks_dir: datadir::stacks_dir(&config),
            read: datadir::read_options(&config),
            max_age_secs: config.checkin.bundle_max_age.as_secs(),
            observe_only: config.checkin.observe_only,
        },
        store.clone(),
        Arc::clone(pki.bundle_keys()),
        secrets.clone(),
        clock.clone(),
    ));
    match publisher.start().await {
        Ok(Some(v)) => tracing::info!(version = %v.version, "configuration live"),
        Ok(None) => tracing::warn!(
            stacks = %publisher.options().stacks_dir.display(),
            "no configuration published and no stacks directory: check-ins will be refused"
        ),
        Err(PublishError::Invalid(problems)) => {
            for p in &problems {
                tracing::error!("{}", p.message);
            }
            return Err(ServeError::Publish(PublishError::Invalid(problems)));
        }
        Err(e) => return Err(ServeError::Publish(e)),
    }

    let fleet = Arc::new(Fleet::load(&store).await?);
    tracing::info!(envoys = fleet.count(None), "fleet index loaded");
    let refusals = RefusalAudit::new(store.clone(), clock.clone());
    let store_for_ledger = store.clone();
    let enroller = Arc::new(
        Enroller::new(
            store.clone(),
            Arc::clone(&pki),
            Arc::clone(&fleet),
            config.enrollment.client_cert_validity.get(),
            Arc::clone(&refusals),
            clock.clone(),
        )
        .with_grpc_address(format!(
            "{}:{}",
            config.hostname(),
            config.server.grpc_listen.port
        )),
    );
    ensure_local_admin_token(&store, &config.auth.local_admin_token_file, clock.unix()).await?;
    Ok(AppState {
        config: Arc::new(config),
        pki,
        store,
        secrets,
        publisher,
        fleet,
        enroller,
        refusals,
        replay: ReplayLedger::spawn(store_for_ledger, clock.clone()),
        streams: Arc::new(crate::streams::Streams::default()),
        clock,
    })
}

/// Where the store lives: `<data_dir>/db/vigo.db` for SQLite (the directory of a
/// `sqlite://` `database.url` when one is set), `database.url` for PostgreSQL.
pub fn store_config(config: &ServerConfig) -> StoreConfig {
    match config.database.driver {
        DatabaseDriver::Postgres => StoreConfig::Postgres {
            url: config.database_url(),
            max_connections: config.database.postgres_pool_size(),
        },
        DatabaseDriver::Sqlite => {
            let from_url = config.database.url.as_ref().and_then(|u| {
                let path = u.expose().strip_prefix("sqlite://")?;
                let path = path.split('?').next()?;
                Path::new(path).parent().map(Path::to_path_buf)
            });
            StoreConfig::Sqlite {
                data_dir: from_url.unwrap_or_else(|| config.server.data_dir.join("db")),
            }
        }
    }
}

/// Makes sure the local admin token file exists (0600, written at first start) and its
/// SHA-256 is an admin API token in the store. A token file replaced by hand replaces
/// the stored token. `now` is the Unix time the token's validity is judged (and its
/// creation recorded) at.
pub async fn ensure_local_admin_token(
    store: &Store,
    file: &Path,
    now: i64,
) -> Result<(), ServeError> {
    let io = |what: &str, source| ServeError::Io {
        what: format!("{what} {}", file.display()),
        source,
    };
    let secret = match std::fs::read_to_string(file) {
        Ok(text) if !text.trim().is_empty() => {
            check_private(file).map_err(|e| io("checking", e))?;
            text.trim().to_owned()
        }
        Ok(_) => return write_new_token(store, file, true, now).await,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return write_new_token(store, file, false, now).await;
        }
        Err(e) => return Err(io("reading", e)),
    };
    register_admin_token(store, &secret, now).await
}

async fn write_new_token(
    store: &Store,
    file: &Path,
    replace: bool,
    now: i64,
) -> Result<(), ServeError> {
    let secret = format!("vgot_{}", random_hex(32)?);
    let content = format!("{secret}\n");
    // The same private-file writer as the keys: temp file, fsync, rename (or, for a new
    // file, a link that never clobbers one another process created meanwhile).
    let written = if replace {
        files::write_private(file, content.as_bytes())
    } else {
        files::create_private(file, content.as_bytes()).and_then(|created| {
            if created {
                Ok(())
            } else {
                Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "created by another process meanwhile",
                ))
            }
        })
    };
    written.map_err(|source| ServeError::Io {
        what: format!("writing {}", file.display()),
        source,
    })?;
    tracing::info!(file = %file.display(), "local admin token written");
    register_admin_token(store, &secret, now).await
}

async fn register_admin_token(store: &Store, secret: &str, now: i64) -> Result<(), ServeError> {
    let hash = TokenHash::of_secret(secret);
    if let Some(t) = store.api_token_by_hash(&hash).await? {
        if t.is_valid_at(now) {
            return Ok(());
        }
        tracing::warn!("the local admin token in the file was revoked; it stays unusable");
        return Ok(());
    }
    // The file changed: retire the previous local admin token.
    for old in store.list_api_tokens().await? {
        if old.name == LOCAL_ADMIN_TOKEN_NAME && old.revoked_at.is_none() {
            store.revoke_api_token(&old.id, now).await?;
        }
    }
    store
        .create_api_token(&NewApiToken {
            id: format!("tok_{}", random_hex(8)?),
            name: LOCAL_ADMIN_TOKEN_NAME.to_owned(),
            hash,
            role: ApiRole::Admin,
            owner: None,
            created_at: now,
            expires_at: None,
        })
        .await?;
    Ok(())
}

fn check_private(file: &Path) -> std::io::Result<()> {
    match files::wider_than_owner(file)? {
        None => Ok(()),
        Some(mode) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("mode {mode:o} lets others read the token; chmod 600 it"),
        )),
    }
}

fn random_hex(bytes: usize) -> Result<String, ServeError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ServeError::Io {
        what: "reading randomness".to_owned(),
        source: std::io::Error::other(e),
    })?;
    Ok(hex::encode(buf))
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// Where gRPC listens.
    pub grpc_addr: SocketAddr,
    /// Where the REST API listens.
    pub api_addr: SocketAddr,
    rest: JoinHandle<()>,
    /// The shared state.
    pub state: AppState,
    stop: watch::Sender<bool>,
    grpc: JoinHandle<()>,
    flusher: JoinHandle<()>,
    resync: JoinHandle<()>,
    cert_renewal: JoinHandle<()>,
    /// Further background tasks (refusal aggregates, ...), each ending when `stop` is sent.
    background: Vec<JoinHandle<()>>,
}

/// Starts a server from a loaded config, on the clock of this process
/// ([`Clock::for_process`]: the system's), binding both configured listen addresses.
pub async fn start(config: ServerConfig) -> Result<Running, ServeError> {
    start_with(config, Clock::for_process(), Listeners::default()).await
}

/// Starts a server from a loaded config on `clock` (tests pass a [`Clock::manual`]),
/// serving on the sockets in `listeners` (socket activation, or a test's pre-bound
/// `127.0.0.1:0`) and binding the configured address of any other.
pub async fn start_with(
    config: ServerConfig,
    clock: Clock,
    listeners: Listeners,
) -> Result<Running, ServeError> {
    let state = build_state(config, clock).await?;
    start_with_state(state, listeners).await
}

/// Starts the listeners (the sockets in `listeners`, else bound from the config) and
/// background tasks over a built state: raises the open-file limit first and fits both
/// listeners' connection budgets under it.
pub async fn start_with_state(
    state: AppState,
    listeners: Listeners,
) -> Result<Running, ServeError> {
    let (grpc_limits, rest_limits) = listener_limits(&state.config);
    let (stop, stopped) = watch::channel(false);
    let (listener, grpc_addr) = listen_on(
        ("gRPC", activation::GRPC_NAME, "grpc_listen"),
        listeners.grpc,
        state.config.server.grpc_listen.socket_addr(),
    )?;
    let tls = state.pki.grpc_server_config()?;
    let service = AgentService::new(state.clone(), stopped.clone());
    let mut grpc_stop = stopped.clone();
    let grpc = tokio::spawn(grpc::serve(
        listener,
        tls,
        service,
        grpc_limits,
        async move {
            let _ = grpc_stop.wait_for(|s| *s).await;
        },
    ));
    tracing::info!(addr = %grpc_addr, "gRPC listening");

    let (api_listener, api_addr) = listen_on(
        ("REST", activation::API_NAME, "api_listen"),
        listeners.api,
        state.config.server.api_listen.socket_addr(),
    )?;
    let tls = state.pki.rest_server_config()?;
    let mut rest_stop = stopped.clone();
    let rest = tokio::spawn(crate::rest::serve_with(
        api_listener,
        rest_router(&state),
        tls,
        rest_limits,
        async move {
            let _ = rest_stop.wait_for(|s| *s).await;
        },
    ));
    tracing::info!(addr = %api_addr, "REST listening");

    let flusher = Arc::clone(&state.fleet).spawn_flusher(
        state.store.clone(),
        FLUSH_INTERVAL,
        stopped.clone(),
    );
    let cert_renewal = state.pki.spawn_server_cert_renewal(stopped.clone());
    let background = vec![
        Arc::clone(&state.refusals).spawn_flusher(stopped.clone()),
        crate::retention::spawn_pruner(
            state.store.clone(),
            state.config.retention.clone(),
            state.clock.clone(),
            stopped.clone(),
        ),
    ];
    let resync = spawn_resync(state.clone(), stopped);
    Ok(Running {
        grpc_addr,
        api_addr,
        rest,
        state,
        stop,
        grpc,
        flusher,
        resync,
        cert_renewal,
        background,
    })
}

/// One listener, `(what, socket name, server.KEY)`: the `inherited` socket when there
/// is one (its port checked against `addr`), else `addr` bound (see [`listen::bind`]);
/// the socket and its address.
fn listen_on(
    (what, name, key): (&str, &'static str, &'static str),
    inherited: Option<std::net::TcpListener>,
    addr: SocketAddr,
) -> Result<(tokio::net::TcpListener, SocketAddr), ServeError> {
    let listener = match inherited {
        Some(socket) => {
            activation::check_port(&socket, name, key, addr)?;
            let io = |source| ServeError::Io {
                what: format!("serving the {what} listener passed in"),
                source,
            };
            activation::set_backlog(&socket).map_err(io)?;
            socket.set_nonblocking(true).map_err(io)?;
            tokio::net::TcpListener::from_std(socket).map_err(io)?
        }
        None => listen::bind(addr).map_err(|source| ServeError::Io {
            what: format!("binding the {what} listener on {addr}"),
            source,
        })?,
    };
    let bound = listener.local_addr().map_err(|source| ServeError::Io {
        what: format!("reading the {what} listener's address"),
        source,
    })?;
    Ok((listener, bound))
}

/// The two listeners' limits from `server.connections`, after raising the open-file
/// limit to its hard limit; budgets that do not fit under it are lowered (and logged).
fn listener_limits(config: &ServerConfig) -> (listen::Listener, listen::Listener) {
    let connections = &config.server.connections;
    let mut grpc = listen::Listener::grpc(connections);
    let mut rest = listen::Listener::rest(connections);
    match listen::nofile::raise() {
        Ok(files) => {
            tracing::info!(
                before = files.before,
                now = files.now,
                "open-file limit (RLIMIT_NOFILE) raised to the hard limit"
            );
            let (g, r) = listen::nofile::fit(files.now, grpc.budget, rest.budget);
            if (g, r) != (grpc.budget, rest.budget) {
                tracing::warn!(
                    limit = files.now,
                    grpc_max_connections = g.max_connections,
                    api_max_connections = r.max_connections,
                    "the open-file limit is below server.connections' budgets: lowered to fit"
                );
            }
            (grpc.budget, rest.budget) = (g, r);
        }
        Err(e) => tracing::warn!(error = %e, "the open-file limit could not be read or raised"),
    }
    (grpc, rest)
}

/// Every [`RESYNC_INTERVAL`]: revocations from the store into the fleet index, and a
/// version published by another replica into the publisher.
fn spawn_resync(state: AppState, mut stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RESYNC_INTERVAL);
        tick.tick().await;
        // Only what changed since the last pass (with a margin for replicas' clocks): a
        // fleet of 100,000 is not re-read every interval.
        let margin = 2 * i64::try_from(RESYNC_INTERVAL.as_secs()).unwrap_or(10) + 60;
        let mut since = state.clock.unix() - margin;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            let started = state.clock.unix();
            match state.fleet.refresh(&state.store, since).await {
                Ok(_) => since = started - margin,
                Err(e) => tracing::warn!(error = %e, "re-reading the changed envoys failed"),
            }
            match state.publisher.sync_from_store().await {
                Ok(true) => tracing::info!(version = ?state.publisher.version().map(|v| v.version),
                    "a newer version published elsewhere is live"),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "loading the latest stored version failed"),
            }
        }
    })
}

impl Running {
    /// Stops accepting, ends held streams, waits for requests in flight, flushes the
    /// fleet index and closes the store.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        let grpc = self.grpc.await;
        if let Err(e) = self.rest.await {
            tracing::warn!("REST: {e}");
        }
        let _ = self.resync.await;
        let _ = self.cert_renewal.await;
        let _ = self.flusher.await;
        self.state.replay.shutdown().await;
        for task in self.background {
            let _ = task.await;
        }
        self.state.refusals.flush_all().await;
        self.state.store.close().await;
        grpc.map_err(ServeError::Task)
    }
}
