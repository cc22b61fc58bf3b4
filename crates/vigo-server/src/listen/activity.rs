//! What a connection has done, and when it has had its chance: [`Watched`] wraps the
//! TCP stream (below TLS) and notes every byte read or written in the connection's
//! [`Activity`]; the service notes each request's start and end; [`Activity::verdict`]
//! says whether the connection is still welcome or must close:
//!
//! - no request started within `first_request_timeout` of accept (the TLS handshake
//!   included): closed, however many bytes trickle in meanwhile (slowloris);
//! - no request in flight and no byte either way for `idle_timeout`: closed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Why a connection was closed by its watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// No request began within the first-request timeout.
    NoRequest,
    /// Nothing happened for the idle timeout.
    Idle,
}

impl Closed {
    /// The reason as a metric label.
    pub fn label(self) -> &'static str {
        match self {
            Closed::NoRequest => "no_request",
            Closed::Idle => "idle",
        }
    }
}

/// One connection's activity, shared by its stream, its service and its watchdog.
#[derive(Debug)]
pub struct Activity {
    accepted: Instant,
    /// Milliseconds after `accepted` of the last byte read or written.
    last_ms: AtomicU64,
    requests: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    /// A connection accepted at `accepted`.
    pub fn new(accepted: Instant) -> Arc<Self> {
        Arc::new(Activity {
            accepted,
            last_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
        })
    }

    /// Notes traffic now.
    fn touch(&self) {
        let ms = u64::try_from(self.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Notes that a request began; it is in flight until the guard is dropped.
    pub fn begin_request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.touch();
        InFlight(Arc::clone(self))
    }

    /// `Ok(when to look again)` while the connection may stay open at `now`, else why
    /// it must close.
    pub fn verdict(
        &self,
        now: Instant,
        first_request: Duration,
        idle: Duration,
    ) -> Result<Instant, Closed> {
        let mut next = now + idle;
        if self.requests.load(Ordering::Relaxed) == 0 {
            let deadline = self.accepted + first_request;
            if now >= deadline {
                return Err(Closed::NoRequest);
            }
            next = next.min(deadline);
        }
        if self.in_flight.load(Ordering::Relaxed) == 0 {
            let last = self.accepted + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + idle;
            if now >= deadline {
                return Err(Closed::Idle);
            }
            next = next.min(deadline);
        }
        Ok(next)
    }

    /// Resolves when the connection must close (sleeps between checks).
    pub async fn watchdog(&self, first_request: Duration, idle: Duration) -> Closed {
        loop {
            match self.verdict(Instant::now(), first_request, idle) {
                Ok(at) => tokio::time::sleep_until(at.into()).await,
                Err(closed) => return closed,
            }
        }
    }
}

/// A request in flight; dropping it ends the request (and counts as activity).
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that notes its traffic in an [`Activity`].
#[derive(Debug)]
pub struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    /// Wraps `inner`.
    pub fn new(inner: TcpStream, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }

    fn noted<T>(
        &self,
        poll: Poll<io::Result<T>>,
        progressed: impl FnOnce(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        if let Poll::Ready(Ok(v)) = &poll
            && progressed(v)
        {
            self.activity.touch();
        }
        poll
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() > before;
        this.noted(poll, |()| read)
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.noted(poll, |n| *n > 0)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.noted(poll, |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The TCP addresses, as tonic reads them (`Request::remote_addr`, and with TLS on top,
/// `Request::peer_certs`).
impl Connected for Watched {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    #[test]
    fn a_connection_without_a_request_closes_at_the_first_request_deadline() {
        let t0 = Instant::now();
        let a = Activity::new(t0);
        // Bytes trickling in do not extend it.
        a.touch();
        assert_eq!(a.verdict(t0, FIRST, IDLE), Ok(t0 + FIRST));
        assert_eq!(a.verdict(t0 + FIRST, FIRST, IDLE), Err(Closed::NoRequest));
    }

    #[test]
    fn an_idle_connection_closes_after_the_idle_timeout_but_not_mid_request() {
        let t0 = Instant::now();
        let a = Activity::new(t0);
        let request = a.begin_request();
        // In flight: never idle, however long it takes.
        assert!(a.verdict(t0 + IDLE * 10, FIRST, IDLE).is_ok());
        drop(request);
        let ended = Instant::now();
        let next = a.verdict(ended, FIRST, IDLE).unwrap();
        assert!(next > ended && next <= ended + IDLE);
        assert_eq!(
            a.verdict(ended + IDLE + Duration::from_secs(1), FIRST, IDLE),
            Err(Closed::Idle)
        );
    }
}
