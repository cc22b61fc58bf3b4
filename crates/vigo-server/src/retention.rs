//! Retention: a background task that deletes runs (and their results) older than
//! `retention.runs`, off the hot path and in small batches (`retention.prune_batch` runs
//! per transaction, a pause between batches) so that check-ins and reports waiting for
//! the database's write lock are never held up for long.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::config::RetentionSection;
use crate::store::{Store, StoreError};

/// The pause between two batches of one pruning pass.
pub const PAUSE: Duration = Duration::from_millis(20);

/// Deletes every run that finished before `now - retention.runs`, one batch per
/// transaction; returns how many runs were deleted. Nothing when `retention.runs` is 0.
pub async fn prune_once(
    store: &Store,
    retention: &RetentionSection,
    now: i64,
) -> Result<u64, StoreError> {
    let keep = retention.runs.get();
    if keep.is_zero() {
        return Ok(0);
    }
    let cutoff = now.saturating_sub(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX));
    let mut total = 0;
    loop {
        let n = store.prune_runs(cutoff, retention.prune_batch).await?;
        total += n;
        metrics::counter!("vigo_runs_pruned_total").increment(n);
        if n < u64::from(retention.prune_batch) {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE).await;
    }
}

/// Prunes every `retention.prune_interval` until `stopped` turns true, the cut-off
/// taken from `clock`.
pub fn spawn_pruner(
    store: Store,
    retention: RetentionSection,
    clock: Clock,
    mut stopped: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(retention.prune_interval.get());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            let pass = prune_once(&store, &retention, clock.unix());
            tokio::select! {
                result = pass => match result {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(runs = n, "pruned runs past retention.runs"),
                    Err(e) => tracing::warn!(error = %e, "pruning old runs failed; retrying at the next interval"),
                },
                _ = stopped.changed() => break,
            }
        }
    })
}
