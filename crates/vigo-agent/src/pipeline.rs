//! The one pipeline every converging command runs: bundle → plan → run → report.
//!
//! ```text
//! lock            (Pipeline::lock: the one convergence lock under the state root; the
//!                  daemon takes the same lock through `preempt::try_acquire_for_daemon`)
//! bundle → plan   (plan: templates, `when:`, secrets, the default timeout)
//! plan → run      (Pipeline::run: leftovers swept unless dry-run, executors, guardrails,
//!                  snapshots, stop between resources on SIGTERM/SIGINT or preemption)
//! run → report    (finish for the commands; the daemon and `vigo run` also queue the
//!                  wire report, see `converge`)
//! ```
//!
//! The daemon and `vigo run` (through `converge::Converger`), `vigo apply` and
//! `vigo resource` all go through here, so the lock path, the stop handling, the sweep
//! and the engine options cannot differ between them. SIGTERM/SIGINT themselves are
//! handled once, in `main.rs`, which sets the `stop` flag this module reads.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use serde_json::Value;
use vigo_exec::executors::Registry;
use vigo_exec::snapshot::SnapshotStore;
use vigo_proto::v1::PolicyBundle;

use crate::engine::{
    self, LangEvaluator, Options, Plan, PlanInput, PlannedResource, RunReport, SystemProbe, Trace,
};
use crate::leftovers;
use crate::preempt::{self, ConvergenceGuard, LockError, Role};
use crate::settings::{self, Settings};
use crate::state::StateStore;

/// The per-resource time limit when the resource sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The engine's guardrail check, over vigo-core's lists.
pub fn guardrail(r: &PlannedResource) -> Result<(), String> {
    vigo_core::guardrails::check(&r.configcrate, &r.name, &r.type_name, &r.attributes)
        .map_err(|v| v.0)
}

/// What a bundle is planned with: the traits, the envoy facts, the secrets of this run.
#[derive(Debug)]
pub struct PlanFacts<'a> {
    /// Fresh traits, typed (templates see them as `.Traits`).
    pub traits: &'a vigo_traits::Traits,
    /// `envoy.*` for templates and `when:` (hostname, environment, envoy_id).
    pub envoy: Value,
    /// Resolved secrets (path → value), memory only.
    pub secrets: &'a HashMap<String, String>,
    /// Only this configcrate (`--configcrate`).
    pub only_crate: Option<&'a str>,
}

/// Plans `bundle` on this machine (templates, `when:` with the real system probe).
pub fn plan(bundle: &PolicyBundle, facts: PlanFacts<'_>) -> Plan {
    let probe = SystemProbe;
    let evaluator = LangEvaluator { probe: &probe };
    engine::plan(
        bundle,
        &PlanInput {
            traits: facts.traits,
            envoy: facts.envoy,
            secrets: facts.secrets,
            only_crate: facts.only_crate,
            evaluator: &evaluator,
            default_timeout: DEFAULT_TIMEOUT,
        },
    )
}

/// A run under the convergence lock.
#[derive(Debug)]
pub struct Pipeline<'a> {
    /// The effective settings (executors, snapshots, data directory).
    pub settings: &'a Settings,
    /// The convergence lock, held for the whole run.
    pub guard: &'a ConvergenceGuard,
    /// Set by SIGTERM/SIGINT: stop after the current resource.
    pub stop: &'a AtomicBool,
    /// Check only; change nothing.
    pub dry_run: bool,
    /// Print the per-resource trace (the daemon prints only summaries).
    pub quiet: bool,
    /// The state store whose stat cache spares re-reading unchanged files (none: every
    /// file is read).
    pub state: Option<&'a StateStore>,
}

impl Pipeline<'_> {
    /// Takes the one convergence lock for a manual command (`role`), preempting a
    /// converging daemon; `stop` ends the wait.
    pub fn lock(role: Role, stop: &AtomicBool) -> Result<ConvergenceGuard, LockError> {
        preempt::acquire_for_run(&settings::state_root(), role, preempt::RUN_WAIT, stop)
    }

    /// Runs `plan`: removes what an interrupted run left in the directories it writes
    /// (and in `extra_dirs`) unless dry-run, then the engine with the guardrails, the
    /// snapshots and the stop check between resources; prints the trace and the summary.
    pub fn run(&self, plan: &Plan, extra_dirs: &[PathBuf]) -> RunReport {
        if !self.dry_run {
            let mut dirs: BTreeSet<PathBuf> =
                leftovers::directories([self.guard.root(), self.settings.data_dir.as_path()], plan);
            dirs.extend(extra_dirs.iter().cloned());
            leftovers::sweep(&dirs);
        }
        let registry = Registry::with_custom_dir(&self.settings.executors_dir);
        let snapshots = SnapshotStore::new(
            &self.settings.snapshot_dir,
            self.settings.snapshot_retention as usize,
        );
        let preempted = || self.guard.preempted() || self.stop.load(Ordering::SeqCst);
        let opts = Options {
            dry_run: self.dry_run,
            registry: &registry,
            snapshots: Some(&snapshots),
            guardrail: &guardrail,
            preempted: &preempted,
            state: self.state,
        };
        let mut trace = if self.quiet {
            Trace::quiet()
        } else {
            Trace::stderr()
        };
        let report = engine::run(plan, &opts, &mut trace);
        trace.summary(&report.summary_line());
        report
    }
}

/// Prints the report as JSON when asked and maps it to the exit code: 0 converged, 2 some
/// resources failed, 1 stopped (SIGTERM/SIGINT) before every resource ran.
pub fn finish(report: &RunReport, json: bool) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    }
    if report.preempted {
        tracing::warn!(
            "stopped by a signal after {} resource{}; the rest did not run",
            report.results.len(),
            if report.results.len() == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(if report.failed() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
