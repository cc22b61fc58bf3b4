//! `vigo apply STACKS_DIR`: masterless convergence — resolve a local `stacks/` tree for
//! this machine and converge it with the same engine, guardrails, snapshots and trace as
//! `vigo run` (what `puppet apply` and `salt-call --local` are to those tools).
//!
//! ```console
//! # vigo apply /srv/stacks                          # this machine's hostname
//! # vigo apply /srv/stacks --hostname web-01.example.net --environment staging --dry-run
//! # vigo apply /srv/stacks --configcrate ntp --json > result.json
//! ```
//!
//! Pipeline: read the tree → load and validate it (every error printed, exit 1) → resolve
//! the hostname to its match block's bundle → collect fresh traits → plan (templates,
//! `when:`) → run. `secret:` references need a server to resolve them, so a resource that
//! uses one fails with that reason (and only it). Exit codes: 0 converged, 2 some resources
//! failed, 1 the run could not happen.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use vigo_exec::executors::Registry;
use vigo_exec::snapshot::SnapshotStore;
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, ResolveError, Resolver};

use crate::cli::ApplyArgs;
use crate::engine::{self, LangEvaluator, Options, PlanInput, SystemProbe, Trace};
use crate::preempt;
use crate::resource_cmd::{DEFAULT_TIMEOUT, finish, guardrail};
use crate::settings::{STATE_ROOT, Settings};

/// Runs `vigo apply`; `global_dry_run` is the top-level `vigo --dry-run`.
pub fn run(settings: &Settings, args: &ApplyArgs, global_dry_run: bool) -> Result<ExitCode> {
    let mut phases = Phases::new(matches!(settings.log_level.as_str(), "debug" | "trace"));
    let tree = SourceTree::read_dir(&args.stacks_dir)
        .with_context(|| format!("reading stacks from {}", args.stacks_dir.display()))?;
    let stack = match vigo_lang::load(&tree) {
        Ok(stack) => stack,
        Err(errors) => {
            for d in &errors.0 {
                eprintln!("{}: {d}", args.stacks_dir.display());
            }
            bail!(
                "{} is not a valid stack ({} error{})",
                args.stacks_dir.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
        }
    };

    phases.done("load");
    // The hostname comes from the `network` collector unless --hostname says otherwise;
    // the other collectors run once the bundle says which it reads.
    let mut traits = serde_json::Map::new();
    let hostname = match &args.hostname {
        Some(h) => h.clone(),
        None => {
            collect(&mut traits, |c| c == "network");
            traits
                .get("network")
                .and_then(|n| n.get("hostname"))
                .and_then(Value::as_str)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .context("cannot tell this machine's hostname; give --hostname")?
        }
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?;
    let meta = BundleMeta {
        version: format!("local-{}", &tree.content_hash()[..12]),
        issued_at_unix: i64::try_from(now.as_secs())?,
        max_age_secs: 0,
    };
    let resolver = Resolver::new(Arc::new(stack), meta);
    let bundle = match resolver.resolve(&hostname, args.environment.as_deref()) {
        Ok(b) => b,
        Err(ResolveError::NoMatch(_)) => bail!(
            "no match block in {} fits hostname `{hostname}` (give --hostname to resolve as another host)",
            args.stacks_dir.display()
        ),
        Err(ResolveError::Invalid(errors)) => {
            bail!("resolving `{hostname}` failed:\n{errors}")
        }
    };
    let wire = bundle.to_proto();
    let needs = engine::trait_needs(&wire);
    collect(&mut traits, |c| needs.wants(c));
    phases.done("resolve, traits");
    if let Some(only) = &args.configcrate
        && !bundle.configcrates.iter().any(|c| &c.name == only)
    {
        let names: Vec<&str> = bundle
            .configcrates
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        bail!(
            "configcrate `{only}` is not in the bundle for `{hostname}` (it has: {})",
            names.join(", ")
        );
    }

    let probe = SystemProbe;
    let evaluator = LangEvaluator { probe: &probe };
    let secrets = std::collections::HashMap::new();
    let traits = Value::Object(traits);
    let plan = engine::plan(
        &wire,
        &PlanInput {
            traits: &traits,
            envoy: json!({
                "hostname": hostname,
                "environment": bundle.environment,
                "envoy_id": "",
            }),
            secrets: &secrets,
            only_crate: args.configcrate.as_deref(),
            evaluator: &evaluator,
            default_timeout: DEFAULT_TIMEOUT,
        },
    );

    phases.done("plan");
    // Like `vigo run`: take the machine from a converging daemon first.
    let _lock = preempt::acquire_for_run(std::path::Path::new(STATE_ROOT), preempt::RUN_WAIT)?;
    let registry = Registry::with_custom_dir(&settings.executors_dir);
    let snapshots =
        SnapshotStore::new(&settings.snapshot_dir, settings.snapshot_retention as usize);
    let dry_run = args.dry_run || global_dry_run || bundle.observe_only;
    let opts = Options {
        dry_run,
        registry: &registry,
        snapshots: Some(&snapshots),
        guardrail: &guardrail,
        preempted: &|| false,
    };
    let mut trace = Trace::stderr();
    let report = engine::run(&plan, &opts, &mut trace);
    trace.summary(&report.summary_line());
    phases.done("run");
    finish(&report, args.json)
}

/// Runs the collectors `want` selects and adds their values to `traits`.
fn collect(traits: &mut serde_json::Map<String, Value>, want: impl Fn(&str) -> bool) {
    let selected: Vec<vigo_traits::Collector> = vigo_traits::all()
        .into_iter()
        .filter(|c| want(c.name) && !traits.contains_key(c.name))
        .collect();
    if selected.is_empty() {
        return;
    }
    let report = vigo_traits::run(&selected, &vigo_traits::Ctx::default());
    for (name, why) in &report.errors {
        eprintln!("vigo: trait collector {name} failed: {why}");
    }
    if let Value::Object(values) = report.to_json(false) {
        traits.extend(values);
    }
}

/// Wall time per phase, printed at `--log-level debug`.
struct Phases {
    on: bool,
    last: std::time::Instant,
}

impl Phases {
    fn new(on: bool) -> Self {
        Phases {
            on,
            last: std::time::Instant::now(),
        }
    }

    fn done(&mut self, phase: &str) {
        if self.on {
            let now = std::time::Instant::now();
            eprintln!(
                "vigo: debug: {phase} took {:.1}ms",
                (now - self.last).as_secs_f64() * 1_000.0
            );
            self.last = now;
        }
    }
}
