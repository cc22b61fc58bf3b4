//! Both listeners' accept loop (gRPC on `server.grpc_listen`, REST on
//! `server.api_listen`): what a connection may cost the server before it proves to be a
//! client, from `server.connections`.
//!
//! For every accepted TCP connection, in order:
//!
//! 1. **Admission** ([`admission`]): over the listener's `max_connections`, or over
//!    `max_per_source` for its source address, it is closed at once. Each listener has
//!    its own budget, so a flood of one never takes the other's slots, and the budgets
//!    are fitted under the open-file limit, raised to its hard limit at start
//!    ([`nofile`]).
//! 2. **TLS handshake** within `tls_handshake_timeout` of accept, in the connection's
//!    own task (the accept loop never waits on a client).
//! 3. **HTTP** (hyper): HTTP/2 only for gRPC, HTTP/1.1 or HTTP/2 for REST, with HTTP/2
//!    keepalive pings (`http2_keepalive_interval`, closed when unanswered within
//!    `http2_keepalive_timeout`) and, for HTTP/1.1, a header deadline per request.
//! 4. **Watchdog** ([`activity`]): closed when no request has begun within
//!    `first_request_timeout` of accept (slowloris: trickled bytes do not extend it), or
//!    when it goes `idle_timeout` with no request in flight and no byte either way.
//! 5. **Request bodies** ([`body`], REST only): a body not complete within
//!    `request_body_timeout` of its headers ends in an error, so a body trickled byte by
//!    byte does not keep its request in flight.
//!
//! Each request carries the peer's addresses and certificates in its extensions, the
//! way tonic (`Request::peer_certs`, `remote_addr`) and axum (`ConnectInfo`) read them.
//! Shutdown stops accepting, asks every connection to finish gracefully, and closes the
//! ones still open after [`SHUTDOWN_GRACE`].
//!
//! Metrics: `vigo_connections_open{listener}`, and
//! `vigo_connections_closed_total{listener,reason}` for every connection the server
//! closed on its own (`over_total`, `over_source`, `handshake_timeout`,
//! `handshake_failed`, `no_request`, `idle`).

pub mod activation;
pub mod activity;
pub mod admission;
pub mod body;
pub mod nofile;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::body::{Body, Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;
use tower_service::Service;

use crate::config::{ConnectionsSection, ListenerBudget};
use activity::{Activity, Watched};
use admission::{Admission, Slot};
use body::DeadlineBody;

/// The accept queue's length (the kernel caps it at `net.core.somaxconn`): a burst of
/// connects waits there instead of being dropped half-open, and the accept loop, which
/// only counts and hands off, drains it quickly.
pub const LISTEN_BACKLOG: u32 = 4096;
/// How long shutdown waits for connections to finish before closing them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The least time between two warnings that a listener turns connections away.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// The HTTP versions a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/2 only (gRPC).
    Http2,
    /// HTTP/1.1 or HTTP/2, whichever the client speaks (REST).
    Http1And2,
}

/// What a listener serves: a cloneable HTTP service that never fails (axum's `Router`,
/// tonic's generated servers).
pub trait Serves<B>:
    Service<
        Request<DeadlineBody>,
        Response = Response<B>,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<T, B> Serves<B> for T where
    T: Service<
            Request<DeadlineBody>,
            Response = Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// The body of a [`Serves`] response.
pub trait ResponseBody:
    Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + 'static
{
}

impl<T> ResponseBody for T where
    T: Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + 'static
{
}

/// One listener's settings: its name in logs and metrics, its protocol, its budget and
/// the timeouts of `server.connections`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    /// `grpc` or `rest`.
    pub name: &'static str,
    /// What it speaks.
    pub protocol: Protocol,
    /// How many connections it holds.
    pub budget: ListenerBudget,
    /// How long a request body may take to arrive; `None` for streams (gRPC).
    pub body_deadline: Option<Duration>,
    /// The timeouts.
    pub timeouts: ConnectionsSection,
}

impl Listener {
    /// The gRPC listener as `connections` configures it.
    pub fn grpc(connections: &ConnectionsSection) -> Self {
        Listener {
            name: "grpc",
            protocol: Protocol::Http2,
            budget: connections.grpc,
            body_deadline: None,
            timeouts: *connections,
        }
    }

    /// The REST listener as `connections` configures it.
    pub fn rest(connections: &ConnectionsSection) -> Self {
        Listener {
            name: "rest",
            protocol: Protocol::Http1And2,
            budget: connections.api,
            body_deadline: Some(connections.request_body_timeout.get()),
            timeouts: *connections,
        }
    }

    fn http(&self) -> auto::Builder<TokioExecutor> {
        let t = &self.timeouts;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(t.first_request_timeout.get());
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(t.http2_keepalive_interval.get())
            .keep_alive_timeout(t.http2_keepalive_timeout.get());
        match self.protocol {
            Protocol::Http2 => builder.http2_only(),
            Protocol::Http1And2 => builder,
        }
    }
}

/// A listening socket on `addr` (`SO_REUSEADDR`, like the standard library's) with a
/// [`LISTEN_BACKLOG`]-long accept queue. `[::]` accepts IPv4 too on Linux.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `service` over TLS (`tls`) on `listener` until `shutdown` completes, under
/// `spec`'s limits. Returns after every connection has closed (at most
/// [`SHUTDOWN_GRACE`] after `shutdown`).
pub async fn serve<S, B>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    spec: Listener,
    service: S,
    shutdown: impl Future<Output = ()> + Send,
) where
    S: Serves<B>,
    B: ResponseBody,
{
    let admission = Admission::new(spec.budget);
    let acceptor = TlsAcceptor::from(tls);
    let http = Arc::new(spec.http());
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let turned_away = Mutex::new(None::<Instant>);
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(listener = spec.name, error = %e, "accept failed");
                // Out of descriptors or memory: give the connections time to close.
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let slot = match admission.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refused) => {
                closed(spec.name, refused.label());
                warn_turned_away(&turned_away, spec, refused.label(), peer);
                continue;
            }
        };
        // Nagle only delays small HTTP/2 frames.
        let _ = tcp.set_nodelay(true);
        connections.spawn(connection(
            Accepted { tcp, peer, slot },
            acceptor.clone(),
            Arc::clone(&http),
            service.clone(),
            spec,
            stopped.clone(),
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            listener = spec.name,
            open = connections.len(),
            "closing the connections still open after {}s",
            SHUTDOWN_GRACE.as_secs()
        );
        connections.shutdown().await;
    }
}

/// A connection that was admitted.
struct Accepted {
    tcp: TcpStream,
    peer: SocketAddr,
    slot: Slot,
}

/// Serves one connection: handshake, HTTP, watchdog, graceful stop.
async fn connection<S, B>(
    accepted: Accepted,
    acceptor: TlsAcceptor,
    http: Arc<auto::Builder<TokioExecutor>>,
    service: S,
    spec: Listener,
    mut stopped: watch::Receiver<bool>,
) where
    S: Serves<B>,
    B: ResponseBody,
{
    let Accepted { tcp, peer, slot } = accepted;
    let _open = OpenGauge::new(spec.name);
    let activity = Activity::new(Instant::now());
    let t = spec.timeouts;
    let handshake = tokio::time::timeout(
        t.tls_handshake_timeout.get(),
        acceptor.accept(Watched::new(tcp, Arc::clone(&activity))),
    );
    let tls = match handshake.await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(listener = spec.name, %peer, error = %e, "TLS handshake failed");
            closed(spec.name, "handshake_failed");
            return;
        }
        Err(_) => {
            tracing::debug!(listener = spec.name, %peer, "TLS handshake timed out");
            closed(spec.name, "handshake_timeout");
            return;
        }
    };
    let tls_info = tls.connect_info();
    let requests = Arc::clone(&activity);
    let body_deadline = spec.body_deadline;
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let in_flight = requests.begin_request();
        let mut request = request.map(|b| DeadlineBody::new(b, body_deadline));
        request.extensions_mut().insert(tls_info.clone());
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        let mut service = service.clone();
        async move {
            std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
            let response = service.call(request).await;
            drop(in_flight);
            response
        }
    });
    let conn = http.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(listener = spec.name, %peer, error = %e, "connection ended");
                }
                break;
            }
            reason = activity.watchdog(t.first_request_timeout.get(), t.idle_timeout.get()) => {
                tracing::debug!(listener = spec.name, %peer, reason = reason.label(), "closing the connection");
                closed(spec.name, reason.label());
                break;
            }
            _ = stopped.wait_for(|s| *s), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
    drop(slot);
}

/// Counts a connection the server closed on its own.
fn closed(listener: &'static str, reason: &'static str) {
    metrics::counter!("vigo_connections_closed_total", "listener" => listener, "reason" => reason)
        .increment(1);
}

/// Warns, at most every [`WARN_EVERY`] per listener, that connections are turned away.
fn warn_turned_away(last: &Mutex<Option<Instant>>, spec: Listener, reason: &str, peer: SocketAddr) {
    let mut last = last.lock().unwrap_or_else(PoisonError::into_inner);
    if last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
        return;
    }
    *last = Some(Instant::now());
    tracing::warn!(
        listener = spec.name,
        %peer,
        reason,
        max_connections = spec.budget.max_connections,
        max_per_source = spec.budget.max_per_source,
        "connection budget reached: closing new connections (see \
         vigo_connections_closed_total; next warning in a minute at the earliest)"
    );
}

/// `vigo_connections_open{listener}` up while it lives.
struct OpenGauge(&'static str);

impl OpenGauge {
    fn new(listener: &'static str) -> Self {
        metrics::gauge!("vigo_connections_open", "listener" => listener).increment(1.0);
        OpenGauge(listener)
    }
}

impl Drop for OpenGauge {
    fn drop(&mut self) {
        metrics::gauge!("vigo_connections_open", "listener" => self.0).decrement(1.0);
    }
}
