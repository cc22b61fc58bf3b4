//! The durable replay ledger: every accepted signed request's (envoy, nonce) is written
//! to the database before the request is served, so a captured request is refused after
//! a restart of this server and by every other replica sharing its PostgreSQL.
//!
//! The in-memory cache of the fleet index ([`crate::fleet::Fleet::check_nonce`]) still
//! answers first and refuses a replay seen by this process without touching the
//! database; what it accepts is then inserted here, and only an insert that the database
//! reports as new lets the request through.
//!
//! **Group commit.** Requests do not each run a transaction: [`ReplayLedger::remember`]
//! queues the nonce for one writer task, which takes everything queued (up to
//! [`MAX_BATCH`]) and inserts it in one transaction, then answers each waiting request.
//! Under load a batch holds every request that arrived during the previous commit, so
//! the cost per request falls as the rate rises.
//!
//! **Fail closed.** When the ledger cannot be written (database down, server shutting
//! down) the request is refused as `unavailable`, never accepted unrecorded.
//!
//! **Expiry.** A row is kept until its request's *signed* timestamp has left the skew
//! window ([`MAX_SKEW_SECS`]); after that the timestamp check refuses the request on its
//! own. The writer prunes expired rows every [`PRUNE_EVERY`], [`PRUNE_BATCH`] at a time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::fleet::MAX_SKEW_SECS;
use crate::store::{NonceRecord, Store, StoreError};

/// Most nonces written in one transaction.
pub const MAX_BATCH: usize = 1024;
/// Requests that may wait for the writer at once; past this, requests are refused as
/// busy (bounded memory under a flood).
pub const QUEUE: usize = 64 * 1024;
/// How often expired rows are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// Rows deleted per pruning statement.
pub const PRUNE_BATCH: u32 = 5000;

/// Why a nonce could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database already holds this (envoy, nonce): a replay.
    #[error(
        "replayed request: this nonce was already used (recorded before a restart or by \
         another replica)"
    )]
    Replayed,
    /// Too many requests are waiting for the ledger.
    #[error("the replay ledger is busy; retry later")]
    Busy,
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// The database failed; the request is refused rather than accepted unrecorded.
    #[error("the replay ledger could not be written: {0}")]
    Store(#[source] Arc<StoreError>),
}

struct Waiting {
    record: NonceRecord,
    reply: oneshot::Sender<Result<bool, Arc<StoreError>>>,
}

/// The handle requests use; the writer task runs beside it ([`ReplayLedger::spawn`])
/// until [`ReplayLedger::shutdown`].
#[derive(Debug)]
pub struct ReplayLedger {
    queue: mpsc::Sender<Waiting>,
    stop: watch::Sender<bool>,
    writer: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting")
            .field("envoy_id", &self.record.envoy_id)
            .finish_non_exhaustive()
    }
}

impl ReplayLedger {
    /// Starts the writer over `store` (on the current Tokio runtime); expired nonces are
    /// pruned by `clock`'s time.
    pub fn spawn(store: Store, clock: Clock) -> Arc<Self> {
        let (queue, rx) = mpsc::channel(QUEUE);
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(writer(store, clock, rx, stopped));
        Arc::new(ReplayLedger {
            queue,
            stop,
            writer: std::sync::Mutex::new(Some(task)),
        })
    }

    /// Stops the writer after it has answered what is queued; later requests are refused
    /// as [`LedgerError::Closed`]. Call it once the listeners have drained.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Records the nonce of an accepted request signed at `timestamp` (already checked
    /// against the clock); `Ok` only when the database had never seen it.
    pub async fn remember(
        &self,
        envoy_id: uuid::Uuid,
        nonce: [u8; 16],
        timestamp: i64,
    ) -> Result<(), LedgerError> {
        let record = NonceRecord {
            envoy_id,
            nonce,
            expires_at: expiry(timestamp),
        };
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Waiting { record, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => LedgerError::Busy,
                mpsc::error::TrySendError::Closed(_) => LedgerError::Closed,
            })?;
        match answer.await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(LedgerError::Replayed),
            Ok(Err(e)) => Err(LedgerError::Store(e)),
            Err(_) => Err(LedgerError::Closed),
        }
    }
}

/// When a nonce signed at `timestamp` may be forgotten: past it, the timestamp itself is
/// out of the window.
pub fn expiry(timestamp: i64) -> i64 {
    timestamp.saturating_add(MAX_SKEW_SECS + 1)
}

async fn writer(
    store: Store,
    clock: Clock,
    mut rx: mpsc::Receiver<Waiting>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            biased;
            n = rx.recv_many(&mut batch, MAX_BATCH) => {
                if n == 0 {
                    break;
                }
                commit(&store, &mut batch).await;
            }
            _ = prune.tick() => prune_expired(&store, clock.unix()).await,
            _ = stopped.changed() => {
                rx.close();
                while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                    commit(&store, &mut batch).await;
                }
                break;
            }
        }
    }
}

async fn commit(store: &Store, batch: &mut Vec<Waiting>) {
    let records: Vec<NonceRecord> = batch.iter().map(|w| w.record).collect();
    metrics::histogram!("vigo_replay_ledger_batch_size").record(records.len() as f64);
    match store.remember_nonces(&records).await {
        Ok(fresh) => {
            for (w, new) in batch.drain(..).zip(fresh) {
                let _ = w.reply.send(Ok(new));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "the replay ledger could not be written");
            let e = Arc::new(e);
            for w in batch.drain(..) {
                let _ = w.reply.send(Err(Arc::clone(&e)));
            }
        }
    }
}

async fn prune_expired(store: &Store, now: i64) {
    // Bounded per tick, so that commits waiting behind the pruning are not held long.
    for _ in 0..20 {
        match store.prune_nonces(now, PRUNE_BATCH).await {
            Ok(n) if n == u64::from(PRUNE_BATCH) => tokio::task::yield_now().await,
            Ok(_) => break,
            Err(e) => {
                tracing::warn!(error = %e, "pruning the replay ledger failed");
                break;
            }
        }
    }
}
