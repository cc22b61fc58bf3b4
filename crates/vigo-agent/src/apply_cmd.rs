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
//! the hostname to its match block's bundle (cached by tree content: an unchanged tree is
//! not parsed again) → collect the traits the bundle reads, fresh → plan (templates,
//! `when:`) → run. `secret:` references need a server to resolve them, so a resource that
//! uses one fails with that reason (and only it). Like `vigo run` it takes the convergence
//! lock under the state root first ([`crate::preempt`]), then removes what an interrupted
//! run left ([`crate::leftovers`]); SIGTERM/SIGINT stop it after the current resource.
//! Exit codes: 0 converged, 2 some resources failed, 1 the run could not happen (or was
//! stopped before every resource ran).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use prost::Message;
use serde_json::json;
use sha2::{Digest, Sha256};
use vigo_exec::atomic::{FileMeta, write_file};
use vigo_exec::executors::Registry;
use vigo_exec::snapshot::SnapshotStore;
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, ResolveError, Resolver};
use vigo_proto::v1::PolicyBundle;

use crate::cli::ApplyArgs;
use crate::converge::state_root;
use crate::engine::{self, LangEvaluator, Options, PlanInput, SystemProbe, Trace};
use crate::leftovers;
use crate::preempt::{self, Role};
use crate::resource_cmd::{DEFAULT_TIMEOUT, finish, guardrail};
use crate::settings::Settings;

/// The compiled-bundle cache's directory under the state root.
pub const CACHE_DIR: &str = "apply-cache";

/// Runs `vigo apply`; `global_dry_run` is the top-level `vigo --dry-run`; `stop` is set
/// by SIGTERM/SIGINT (the run stops after the current resource).
pub fn run(
    settings: &Settings,
    args: &ApplyArgs,
    global_dry_run: bool,
    stop: &AtomicBool,
) -> Result<ExitCode> {
    let root = state_root();
    let mut phases = Phases::new();
    let tree = SourceTree::read_dir(&args.stacks_dir)
        .with_context(|| format!("reading stacks from {}", args.stacks_dir.display()))?;
    let tree_hash = tree.content_hash();

    // The hostname comes from the `network` collector unless --hostname says otherwise;
    // the other collectors run once the bundle says which it reads.
    let mut traits = vigo_traits::Traits::default();
    let hostname = match &args.hostname {
        Some(h) => h.clone(),
        None => {
            collect(&mut traits, |c| c == "network");
            traits
                .hostname()
                .map(str::to_owned)
                .context("cannot tell this machine's hostname; give --hostname")?
        }
    };

    let cache = BundleCache::new(root.join(CACHE_DIR));
    let key = BundleCache::key(&tree_hash, &hostname, args.environment.as_deref());
    let wire = match cache.get(&key) {
        Some(wire) => wire,
        None => {
            let wire = compile(&tree, &tree_hash, args, &hostname)?;
            cache.put(&key, &wire);
            wire
        }
    };
    phases.done("load, resolve");
    let needs = engine::trait_needs(&wire);
    collect(&mut traits, |c| needs.wants(c));
    phases.done("traits");
    if let Some(only) = &args.configcrate
        && !wire.configcrates.iter().any(|c| &c.name == only)
    {
        let names: Vec<&str> = wire.configcrates.iter().map(|c| c.name.as_str()).collect();
        bail!(
            "configcrate `{only}` is not in the bundle for `{hostname}` (it has: {})",
            names.join(", ")
        );
    }

    let probe = SystemProbe;
    let evaluator = LangEvaluator { probe: &probe };
    let secrets = std::collections::HashMap::new();
    let plan = engine::plan(
        &wire,
        &PlanInput {
            traits: &traits,
            envoy: json!({
                "hostname": hostname,
                "environment": wire.environment,
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
    let _lock = preempt::acquire_for_run(&root, Role::Apply, preempt::RUN_WAIT, stop)?;
    let dry_run = args.dry_run || global_dry_run || wire.observe_only;
    if !dry_run {
        let mut dirs = leftovers::directories([root.as_path(), &settings.data_dir], &plan);
        dirs.insert(cache.dir);
        leftovers::sweep(&dirs);
    }
    let registry = Registry::with_custom_dir(&settings.executors_dir);
    let snapshots =
        SnapshotStore::new(&settings.snapshot_dir, settings.snapshot_retention as usize);
    let opts = Options {
        dry_run,
        registry: &registry,
        snapshots: Some(&snapshots),
        guardrail: &guardrail,
        preempted: &|| stop.load(Ordering::SeqCst),
    };
    let mut trace = Trace::stderr();
    let report = engine::run(&plan, &opts, &mut trace);
    trace.summary(&report.summary_line());
    phases.done("run");
    finish(&report, args.json)
}

/// Loads and validates the whole tree and resolves `hostname`: the bundle, or every error.
fn compile(
    tree: &SourceTree,
    tree_hash: &str,
    args: &ApplyArgs,
    hostname: &str,
) -> Result<PolicyBundle> {
    let stack = match vigo_lang::load(tree) {
        Ok(stack) => stack,
        Err(errors) => {
            for d in &errors.0 {
                tracing::error!("{}: {d}", args.stacks_dir.display());
            }
            bail!(
                "{} is not a valid stack ({} error{})",
                args.stacks_dir.display(),
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("system clock before 1970")?;
    let meta = BundleMeta {
        version: format!("local-{}", &tree_hash[..12]),
        issued_at_unix: i64::try_from(now.as_secs())?,
        max_age_secs: 0,
    };
    let resolver = Resolver::new(Arc::new(stack), meta);
    match resolver.resolve(hostname, args.environment.as_deref()) {
        Ok(b) => Ok(b.to_proto()),
        Err(ResolveError::NoMatch(_)) => bail!(
            "no match block in {} fits hostname `{hostname}` (give --hostname to resolve as another host)",
            args.stacks_dir.display()
        ),
        Err(ResolveError::Invalid(errors)) => {
            bail!("resolving `{hostname}` failed:\n{errors}")
        }
    }
}

/// Bundles compiled by `vigo apply`, so an unchanged tree is not parsed and validated
/// again (as CFEngine skips re-validating unchanged policy). Keyed by the tree's content
/// hash, the hostname, the environment and the agent version; only valid trees are
/// cached, written atomically, the newest [`BundleCache::KEEP`] kept. A cache that cannot
/// be read or written is skipped silently: it only ever saves time.
struct BundleCache {
    dir: PathBuf,
}

impl BundleCache {
    const KEEP: usize = 8;

    fn new(dir: PathBuf) -> Self {
        BundleCache { dir }
    }

    fn key(tree_hash: &str, hostname: &str, environment: Option<&str>) -> String {
        let mut h = Sha256::new();
        for part in [
            tree_hash,
            hostname,
            environment.unwrap_or("\0"),
            env!("CARGO_PKG_VERSION"),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }

    fn get(&self, key: &str) -> Option<PolicyBundle> {
        let bytes = std::fs::read(self.dir.join(key)).ok()?;
        PolicyBundle::decode(bytes.as_slice()).ok()
    }

    fn put(&self, key: &str, bundle: &PolicyBundle) {
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let meta = FileMeta {
            mode: Some(0o600),
            uid: None,
            gid: None,
        };
        if write_file(&self.dir.join(key), &bundle.encode_to_vec(), &meta, None).is_err() {
            return;
        }
        // Keep the newest few: one per hostname/environment an operator applies as.
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(SystemTime, PathBuf)> = rd
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (_, old) in entries.into_iter().skip(Self::KEEP) {
            let _ = std::fs::remove_file(old);
        }
    }
}

/// Runs the collectors `want` selects and adds their values to `traits`.
fn collect(traits: &mut vigo_traits::Traits, want: impl Fn(&str) -> bool) {
    let have = traits.names();
    let selected: Vec<vigo_traits::Collector> = vigo_traits::all()
        .into_iter()
        .filter(|c| want(c.name) && !have.contains(&c.name))
        .collect();
    if selected.is_empty() {
        return;
    }
    let report = vigo_traits::run(&selected, &vigo_traits::Ctx::default());
    for (name, why) in &report.errors {
        tracing::warn!("trait collector {name} failed: {why}");
    }
    traits.merge(report.values);
}

/// Wall time per phase, logged at `--log-level debug`.
struct Phases {
    last: std::time::Instant,
}

impl Phases {
    fn new() -> Self {
        Phases {
            last: std::time::Instant::now(),
        }
    }

    fn done(&mut self, phase: &str) {
        let now = std::time::Instant::now();
        tracing::debug!(
            "{phase} took {:.1}ms",
            (now - self.last).as_secs_f64() * 1_000.0
        );
        self.last = now;
    }
}
