//! `vigo run [--configcrate NAME] [--dry-run] [--json]`: one convergence cycle with the
//! server, then exit.
//!
//! ```console
//! # vigo run
//! # vigo run --configcrate nginx --dry-run
//! ```
//!
//! Preemption first: the run raises the preempt sentinel and waits up to 120 s for the
//! convergence lock (a converging daemon yields between resources); then one cycle
//! ([`crate::converge`]): check in, verify and cache the bundle, resolve secrets, collect
//! the traits it reads, plan, apply, report (or queue the report when the server is
//! unreachable, converging from the cached bundle). The colour trace goes to stderr.
//! SIGTERM/SIGINT stop the run after the current resource (or end the wait for the
//! lock); what ran is still reported. Exit codes: 0 converged (or nothing to do), 2 some
//! resources failed, 1 the run could not happen (no bundle, expired bundle, lock timeout,
//! bad settings) or was stopped before every resource ran.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Result;

use crate::cli::RunArgs;
use crate::converge::{Converger, Delivery};
use crate::pipeline::{Pipeline, finish};
use crate::preempt::Role;
use crate::settings::Settings;

/// Runs `vigo run`; `global_dry_run` is the top-level `vigo --dry-run`; `stop` is set by
/// SIGTERM/SIGINT (the run stops between resources).
pub async fn run(
    settings: Settings,
    args: &RunArgs,
    global_dry_run: bool,
    stop: &AtomicBool,
) -> Result<ExitCode> {
    let guard = tokio::task::block_in_place(|| Pipeline::lock(Role::Run, stop))?;
    let mut converger = Converger::new(
        settings,
        args.dry_run || global_dry_run,
        args.configcrate.clone(),
    )?;
    let outcome = converger.cycle(&guard, stop, true).await?;
    drop(guard);
    match &outcome.delivery {
        Delivery::Sent => {}
        Delivery::QueuedOffline if !outcome.online => tracing::warn!(
            "the server was not reachable: converged from the cached bundle {}; the report is queued",
            outcome.policy_version
        ),
        Delivery::QueuedOffline => {
            tracing::warn!("the server stopped answering after the check-in; the report is queued");
        }
        Delivery::QueuedRetry(why) => {
            tracing::warn!("the report is queued and sent again next time: {why}");
        }
        Delivery::Rejected(why) => tracing::warn!(
            "the server refused the report for good and it was moved aside (`vigo status` counts them): {why}"
        ),
    }
    match &outcome.report {
        Some(report) => finish(report, args.json),
        None => Ok(ExitCode::FAILURE),
    }
}
