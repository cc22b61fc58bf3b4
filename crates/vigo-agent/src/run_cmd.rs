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
//! Exit codes: 0 converged (or nothing to do), 2 some resources failed, 1 the run could
//! not happen (no bundle, expired bundle, lock timeout, bad settings).

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Result;

use crate::cli::RunArgs;
use crate::converge::{Converger, state_root};
use crate::preempt;
use crate::resource_cmd::finish;
use crate::settings::Settings;

/// Runs `vigo run`; `global_dry_run` is the top-level `vigo --dry-run`; `stop` is set by
/// SIGTERM/SIGINT (the run stops between resources).
pub async fn run(
    settings: Settings,
    args: &RunArgs,
    global_dry_run: bool,
    stop: &AtomicBool,
) -> Result<ExitCode> {
    let root = state_root();
    let guard = tokio::task::block_in_place(|| preempt::acquire_for_run(&root, preempt::RUN_WAIT))?;
    let mut converger = Converger::new(
        settings,
        args.dry_run || global_dry_run,
        args.configcrate.clone(),
    )?;
    let outcome = converger.cycle(&guard, stop, true).await?;
    drop(guard);
    if outcome.queued {
        eprintln!(
            "vigo: the server was not reachable: converged from the cached bundle {}; the report is queued",
            outcome.policy_version
        );
    }
    match &outcome.report {
        Some(report) => finish(report, args.json),
        None => Ok(ExitCode::FAILURE),
    }
}
