//! The daemon (`vigo` with no command, or `vigo daemon`): converge on the interval the
//! server sets, keep converging from the cached bundle while it is unreachable, and hold
//! an `AgentStream` open for server-pushed work.
//!
//! - **Cadence**: one cycle ([`crate::converge`]) per interval (`interval_secs` from the
//!   last check-in, 5 min until the server says otherwise). `--once` runs one cycle and
//!   exits with `vigo run`'s codes.
//! - **Unreachable server**: reconnect attempts back off exponentially with jitter, capped
//!   at the interval; the cached bundle is still applied once per interval.
//! - **Preemption**: a cycle starts only when the convergence lock is free and no live
//!   manual run (`vigo run`, `apply`, `resource`) is waiting; a running cycle stops
//!   between resources when one arrives. A skipped cycle is logged with its reason and
//!   the owner (once per reason, at info); a stale sentinel is removed, never obeyed.
//!   `vigo --once` waits at most [`crate::preempt::RUN_WAIT`] for its turn, then exits 1.
//! - **SIGTERM/SIGINT**: the current cycle stops between resources, reports (or queues)
//!   what ran, and the daemon exits 0 (`--once`: 1 when the cycle did not finish).
//! - **AgentStream**: held open on its own connection, re-opened with backoff when it
//!   drops; `ForcePush` starts a cycle now; a `TaskDispatch` runs on a blocking thread
//!   only once its signature, address, validity and id check out ([`crate::tasks`]),
//!   and is answered with a `TaskResult` (its output, or why it was refused).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::sync::Notify;
use vigo_proto::v1::{AgentFrame, Keepalive, agent_frame, server_frame};

use crate::client::Client;
use crate::clock::now_unix;
use crate::converge::{ConvergeError, Converger, CycleOutcome, Delivery};
use crate::preempt::{self, Turn, Wait};
use crate::settings::Settings;
use crate::settings::state_root;
use crate::tasks::TaskRunner;

/// The first retry delay after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// How often a busy lock (a manual run) is looked at again.
pub const LOCK_RETRY: Duration = Duration::from_secs(5);
/// How often a keepalive frame is sent on the stream.
pub const KEEPALIVE: Duration = Duration::from_secs(30);

/// The delay before retry `attempt` (0-based): `base · 2^attempt`, capped at `cap`, with
/// "equal jitter" — half of it fixed, half scaled by `unit` ∈ [0, 1). Always within
/// `[min(base, cap)/2, cap]`.
pub fn backoff_delay(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.min(31)));
    let d = exp.min(cap);
    let half = d / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// Exponential backoff with jitter, capped.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base`.
    pub fn new(base: Duration) -> Self {
        Self { base, attempt: 0 }
    }

    /// The next delay, capped at `cap` (the check-in interval).
    pub fn next_delay(&mut self, cap: Duration) -> Duration {
        let mut r = [0u8; 8];
        let unit = if getrandom::fill(&mut r).is_ok() {
            (u64::from_be_bytes(r) >> 11) as f64 / (1u64 << 53) as f64
        } else {
            0.5
        };
        let d = backoff_delay(self.attempt, self.base, cap, unit);
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// After a success: start from `base` again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Whether a full (offline-capable) cycle is due: none ran yet, or the last one that
/// converged is at least `interval` old by the converger's clock.
pub fn cycle_due(last_converged: Option<i64>, now_unix: i64, interval: Duration) -> bool {
    let interval = i64::try_from(interval.as_secs()).unwrap_or(i64::MAX);
    last_converged.is_none_or(|t| now_unix.saturating_sub(t) >= interval)
}

/// Runs the daemon until `stop` is set (or after one cycle with `once`).
pub async fn run(
    settings: Settings,
    dry_run: bool,
    once: bool,
    stop: Arc<AtomicBool>,
    stopped: Arc<Notify>,
) -> Result<ExitCode> {
    let root = state_root();
    let mut converger = Converger::new(settings, dry_run, None)?;
    let force_push = Arc::new(Notify::new());
    let mut stream_started = false;
    let mut backoff = Backoff::new(BACKOFF_BASE);
    let mut last_converged: Option<i64> = None;
    let mut waiting: Option<(Wait, Instant)> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(if once {
                tracing::warn!("stopped by a signal before the cycle ran");
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            });
        }
        let guard = match preempt::try_acquire_for_daemon(&root)? {
            Turn::Go(guard) => {
                if let Some((why, _)) = waiting.take() {
                    tracing::info!("converging again: no longer waiting ({why})");
                }
                guard
            }
            Turn::Wait(why) => {
                let since = match waiting.take() {
                    Some((previous, since)) if previous == why => {
                        tracing::debug!("still not converging: {why}");
                        since
                    }
                    _ => {
                        tracing::info!(
                            "not converging now: {why}; looking again every {}s",
                            LOCK_RETRY.as_secs()
                        );
                        Instant::now()
                    }
                };
                if once && since.elapsed() >= preempt::RUN_WAIT {
                    tracing::error!("gave up after {}s: {why}", preempt::RUN_WAIT.as_secs());
                    return Ok(ExitCode::FAILURE);
                }
                waiting = Some((why, since));
                sleep_or_wake(LOCK_RETRY, &stopped, &force_push).await;
                continue;
            }
        };
        let interval = converger.interval();
        let due = cycle_due(last_converged, converger.now_unix(), interval);
        let result = converger.cycle(&guard, &stop, once || due).await;
        drop(guard);
        // With --once, a local failure (state store, data files) is the command's error.
        let result = match result {
            Err(
                e @ (ConvergeError::State(_)
                | ConvergeError::Files(_)
                | ConvergeError::Config(_)
                | ConvergeError::Renewal(_)),
            ) if once => return Err(e.into()),
            other => other,
        };
        let delay = match &result {
            Ok(outcome) => {
                if outcome.report.is_some() {
                    last_converged = Some(converger.now_unix());
                    tracing::info!("{}", cycle_line(outcome));
                }
                if outcome.online {
                    backoff.reset();
                    converger.interval()
                } else {
                    backoff.next_delay(converger.interval())
                }
            }
            Err(e) => {
                tracing::error!("{}", crate::client::error_chain(e));
                backoff.next_delay(converger.interval())
            }
        };
        if once {
            return Ok(match result {
                Ok(outcome) => match outcome.report {
                    Some(r) if r.preempted => {
                        tracing::warn!(
                            "the cycle stopped after {} resource(s); the rest did not run",
                            r.results.len()
                        );
                        ExitCode::FAILURE
                    }
                    Some(r) if r.failed() => ExitCode::from(2),
                    Some(_) => ExitCode::SUCCESS,
                    None => ExitCode::FAILURE,
                },
                Err(_) => ExitCode::FAILURE,
            });
        }
        if !stream_started && let Some(client) = converger.client() {
            let tasks = TaskRunner::new(
                client.envoy_id(),
                &converger.pinned_key_path(),
                &root,
                converger.clock(),
            );
            tokio::spawn(hold_stream(
                client.sibling(),
                tasks,
                Arc::clone(&force_push),
                Arc::clone(&stop),
            ));
            stream_started = true;
        }
        sleep_or_wake(delay, &stopped, &force_push).await;
    }
}

/// The line the daemon logs after a cycle: what ran and where its report went.
pub fn cycle_line(outcome: &CycleOutcome) -> String {
    let Some(report) = &outcome.report else {
        return String::new();
    };
    let mut line = format!(
        "{} {}: {}",
        if outcome.online {
            "converged"
        } else {
            "converged offline"
        },
        outcome.policy_version,
        report.summary_line()
    );
    match &outcome.delivery {
        Delivery::Sent => {}
        Delivery::QueuedOffline => line.push_str("; report queued (server not reachable)"),
        Delivery::QueuedRetry(_) => {
            line.push_str("; report queued (the server did not take it yet)");
        }
        Delivery::Rejected(_) => line.push_str("; report refused by the server and moved aside"),
    }
    if outcome.drained > 0 {
        line.push_str(&format!("; sent {} queued report(s)", outcome.drained));
    }
    if outcome.rejected > 0 {
        line.push_str(&format!(
            "; moved {} refused queued report(s) aside",
            outcome.rejected
        ));
    }
    line
}

/// Sleeps for `delay`, or less when a signal or a force-push arrives.
async fn sleep_or_wake(delay: Duration, stopped: &Notify, force_push: &Notify) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = stopped.notified() => {}
        () = force_push.notified() => {}
    }
}

/// Keeps an `AgentStream` open, re-opening it with backoff when it fails.
async fn hold_stream(
    mut client: Client,
    tasks: TaskRunner,
    force_push: Arc<Notify>,
    stop: Arc<AtomicBool>,
) {
    let mut backoff = Backoff::new(BACKOFF_BASE);
    let cap = Duration::from_secs(300);
    while !stop.load(Ordering::SeqCst) {
        match client.open_stream().await {
            Ok((tx, mut inbound)) => {
                backoff.reset();
                let mut keepalive = tokio::time::interval(KEEPALIVE);
                loop {
                    tokio::select! {
                        frame = inbound.message() => match frame {
                            Ok(Some(frame)) => match frame.frame {
                                Some(server_frame::Frame::ForcePush(_)) => force_push.notify_one(),
                                Some(server_frame::Frame::TaskDispatch(task)) => {
                                    let tasks = tasks.clone();
                                    let tx = tx.clone();
                                    tokio::spawn(async move {
                                        let result = tokio::task::spawn_blocking(move || {
                                            tasks.handle(&task)
                                        })
                                        .await;
                                        match result {
                                            Ok(result) => {
                                                let answer = AgentFrame {
                                                    frame: Some(agent_frame::Frame::TaskResult(result)),
                                                };
                                                // A closed stream loses the answer; the server
                                                // shows the task as unanswered.
                                                if tx.send(answer).await.is_err() {
                                                    tracing::warn!("task result not sent: the stream closed");
                                                }
                                            }
                                            Err(e) => tracing::error!("task runner failed: {e}"),
                                        }
                                    });
                                }
                                Some(server_frame::Frame::Keepalive(_)) | None => {}
                            },
                            Ok(None) => break,
                            Err(status) => {
                                tracing::warn!("agent stream closed: {}", status.message());
                                break;
                            }
                        },
                        _ = keepalive.tick() => {
                            let frame = AgentFrame {
                                frame: Some(agent_frame::Frame::Keepalive(Keepalive {
                                    timestamp_unix: now_unix(),
                                })),
                            };
                            if tx.send(frame).await.is_err() {
                                break;
                            }
                        }
                    }
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                }
            }
            Err(e) => {
                if !e.is_unreachable() {
                    tracing::warn!("agent stream: {e}");
                }
            }
        }
        tokio::time::sleep(backoff.next_delay(cap)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_due_once_the_clock_passes_the_interval() {
        use crate::clock::{Clock, ManualClock};
        let clock = ManualClock::at(1_000);
        let interval = Duration::from_secs(300);
        assert!(cycle_due(None, clock.now_unix(), interval), "first cycle");
        let last = Some(clock.now_unix());
        clock.advance(299);
        assert!(!cycle_due(last, clock.now_unix(), interval));
        clock.advance(1);
        assert!(cycle_due(last, clock.now_unix(), interval));
    }

    #[test]
    fn backoff_grows_and_is_capped_with_jitter_inside_bounds() {
        let base = Duration::from_secs(2);
        let cap = Duration::from_secs(60);
        for attempt in 0..40 {
            for unit in [0.0, 0.25, 0.5, 0.999_999] {
                let d = backoff_delay(attempt, base, cap, unit);
                let full = base
                    .saturating_mul(2u32.saturating_pow(attempt.min(31)))
                    .min(cap);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt} unit {unit}: {d:?}"
                );
                assert!(d <= cap);
            }
        }
        assert_eq!(backoff_delay(0, base, cap, 0.0), Duration::from_secs(1));
        assert_eq!(backoff_delay(3, base, cap, 1.0), Duration::from_secs(16));
        assert_eq!(backoff_delay(30, base, cap, 1.0), cap);
    }

    #[test]
    fn random_backoff_stays_under_the_interval() {
        let mut b = Backoff::new(BACKOFF_BASE);
        let cap = Duration::from_secs(15);
        let delays: Vec<Duration> = (0..50).map(|_| b.next_delay(cap)).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d <= cap && *d >= Duration::from_secs(1))
        );
        assert!(
            delays[10..].iter().all(|d| *d >= cap / 2),
            "reached the cap"
        );
        b.reset();
        assert!(b.next_delay(cap) <= BACKOFF_BASE);
    }
}
