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
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use prost::Message;
use serde_json::json;
use sha2::{Digest, Sha256};
use vigo_exec::atomic::{FileMeta, write_file};
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, ResolveError, Resolver};
use vigo_proto::v1::PolicyBundle;

use crate::cli::ApplyArgs;
use crate::engine;
use crate::pipeline::{self, Pipeline, PlanFacts, finish};
use crate::preempt::Role;
use crate::settings::{Settings, state_root};

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
            if let Err(e) = cache.put(&key, &wire) {
                tracing::warn!(
                    "the compiled bundle was not cached (the next apply compiles again): {e:#}"
                );
            }
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

    let secrets = std::collections::HashMap::new();
    let plan = pipeline::plan(
        &wire,
        PlanFacts {
            traits: &traits,
            envoy: json!({
                "hostname": hostname,
                "environment": wire.environment,
                "envoy_id": "",
            }),
            secrets: &secrets,
            only_crate: args.configcrate.as_deref(),
        },
    );

    phases.done("plan");
    // Like `vigo run`: take the machine from a converging daemon first.
    let guard = Pipeline::lock(Role::Apply, stop)?;
    let state = crate::state::StateStore::open_optional(&settings.state_dir);
    let pipeline = Pipeline {
        settings,
        guard: &guard,
        stop,
        dry_run: args.dry_run || global_dry_run || wire.observe_only,
        quiet: false,
        state: state.as_ref(),
    };
    let report = pipeline.run(&plan, &[cache.dir]);
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
    let meta = BundleMeta {
        version: format!("local-{}", &tree_hash[..12]),
        issued_at_unix: crate::clock::now_unix(),
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

    /// Stores `bundle` under `key` and keeps the newest few. The cache only saves time:
    /// the caller warns about a failure and carries on.
    fn put(&self, key: &str, bundle: &PolicyBundle) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let meta = FileMeta {
            mode: Some(0o600),
            uid: None,
            gid: None,
        };
        let path = self.dir.join(key);
        write_file(&path, &bundle.encode_to_vec(), &meta, None)
            .with_context(|| format!("writing {}", path.display()))?;
        // Keep the newest few: one per hostname/environment an operator applies as.
        let rd = std::fs::read_dir(&self.dir)
            .with_context(|| format!("reading {}", self.dir.display()))?;
        let mut entries: Vec<(SystemTime, PathBuf)> = rd
            .filter_map(Result::ok)
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (_, old) in entries.into_iter().skip(Self::KEEP) {
            match std::fs::remove_file(&old) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("removing {}", old.display()));
                }
            }
        }
        Ok(())
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
