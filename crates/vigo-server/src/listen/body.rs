//! A request body that must arrive whole by a deadline: the body-side slowloris (headers
//! sent at once, then the body one byte at a time) would otherwise keep a request in
//! flight, and its connection open, for as long as the client likes. Used for REST,
//! whose bodies are small JSON documents; gRPC request bodies are streams (a held
//! `AgentStream` lasts for hours) and get no deadline.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use tokio::time::Sleep;

/// The error a late body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTooSlow(Duration);

/// [`Incoming`], ended with [`BodyTooSlow`] when it is not complete by its deadline.
#[derive(Debug)]
pub struct DeadlineBody {
    inner: Incoming,
    deadline: Option<(Duration, Pin<Box<Sleep>>)>,
}

impl DeadlineBody {
    /// `inner`, which must be complete within `limit` from now (`None`: no deadline).
    pub fn new(inner: Incoming, limit: Option<Duration>) -> Self {
        DeadlineBody {
            inner,
            deadline: limit.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
        }
    }
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if let Some((limit, sleep)) = &mut this.deadline
            && sleep.as_mut().poll(cx).is_ready()
        {
            let limit = *limit;
            this.deadline = None;
            return Poll::Ready(Some(Err(Box::new(BodyTooSlow(limit)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
