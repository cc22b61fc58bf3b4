//! One convergence cycle, shared by `vigo run` and the daemon.
//!
//! ```text
//! check in (policy_version, state_fingerprint, traits_hash)
//!   ├─ reachable:   no_change → the cached bundle | SignedBundle → verify (pinned key,
//!   │               max age) → state store;  redirect → config `bolt`;  key rotations
//!   │               (each signed by the key before) → re-pin (`repin`);  want_traits →
//!   │               ReportTraits;  client certificate in its last third → renew
//!   │               (`renew`);  drain the offline queue (in order, each deleted once
//!   │               acknowledged)
//!   └─ unreachable: the cached bundle (re-verified), until its max age
//! expired bundle → stop, record why (`vigo status` shows it)
//! ResolveSecrets for the bundle's markers (memory only, online only)
//! collect the traits the bundle reads (`engine::trait_needs`) → plan → run (stops between
//! resources when preempted or signalled)
//! the report, cut to size (`reports::bound`) → the offline queue → drained to the server
//! oldest first (a compact "steady" heartbeat when nothing changed); a report the server
//! refuses for good is moved aside, one it cannot take now stays queued
//! ```
//!
//! Invariants: a bundle is applied only after [`accept_bundle`] (signature by the pinned
//! key over its exact bytes, then its max age); secret values live in memory for one cycle,
//! and what derives from them is redacted by the engine (`engine::Sensitive`) before any
//! result is traced, printed, sent or queued.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;
use prost::Message;
use serde_json::json;
use sha2::{Digest, Sha256};
use vigo_core::secret;
use vigo_core::signing::{self, VerifyError};
use vigo_exec::executors::Registry;
use vigo_exec::snapshot::SnapshotStore;
use vigo_proto::v1::{
    CheckInRequest, CheckInResponse, PolicyBundle, ReportResultRequest, ReportTraitsRequest,
    ResolveSecretsRequest, ResourceResult as WireResult, SignedBundle, check_in_response::Outcome,
};

use crate::client::{Client, TlsMaterial};
use crate::engine::{
    self, Action, LangEvaluator, Options, PlanInput, RunReport, SystemProbe, Trace,
};
use crate::identity::AgentIdentity;
use crate::preempt::ConvergenceGuard;
use crate::register_cmd::{AGENT_KEY, SERVER_PUB, load_pinned_key, write_config};
use crate::reports::{self, Bounds, Drained};
use crate::resource_cmd::{DEFAULT_TIMEOUT, guardrail};
use crate::settings::{ConfigFile, DATA_DIR, STATE_ROOT, Settings};
use crate::state::{StateError, StateStore};

/// The check-in interval until the server sets one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// Test-only override of the runtime root (`/var/lib/vigo`): state store, lock, sentinel.
pub const STATE_ROOT_ENV: &str = "VIGO_STATE_ROOT";
/// Test-only override of the data directory (`/etc/vigo-envoy`).
pub const DATA_DIR_ENV: &str = "VIGO_DATA_DIR";

const META_CYCLE: &str = "cycle";
const META_TRAIT_CACHE: &str = "trait_cache";
const META_TRAITS_HASH: &str = "traits_hash";
const META_HALTED: &str = "halted";
const META_REPORT_DIGEST: &str = "report.digest";
const META_STEADY_RUN: &str = "report.steady_run";

/// The runtime root: `/var/lib/vigo`, or `$VIGO_STATE_ROOT` (for tests only).
pub fn state_root() -> PathBuf {
    std::env::var_os(STATE_ROOT_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(STATE_ROOT), PathBuf::from)
}

/// The data directory: `/etc/vigo-envoy`, or `$VIGO_DATA_DIR` (for tests only).
pub fn data_dir() -> PathBuf {
    std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DATA_DIR), PathBuf::from)
}

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Why a cycle could not converge.
#[derive(Debug, thiserror::Error)]
pub enum ConvergeError {
    /// There is no verified bundle to apply.
    #[error("no policy bundle to apply: {0}")]
    NoBundle(String),
    /// The bundle is older than its max age: convergence stops until the server answers.
    #[error("the cached policy bundle is not applied: {0}; waiting for the server")]
    Expired(VerifyError),
    /// The server sent a bundle that does not verify; nothing was applied.
    #[error("refused the policy bundle from the server: {0}")]
    Refused(VerifyError),
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// `--configcrate` names a configcrate the bundle does not have.
    #[error("configcrate `{name}` is not in the bundle (it has: {have})")]
    UnknownCrate {
        /// The name asked for.
        name: String,
        /// The bundle's configcrates, comma-separated.
        have: String,
    },
    /// A data file (config, pinned key) could not be read or written.
    #[error("{0}")]
    Files(String),
    /// The server refused this envoy (revoked, unknown, bad credentials): nothing is
    /// applied, not even the cached bundle, until it is enrolled again.
    #[error("{0}")]
    Denied(String),
}

/// Verifies a received or cached bundle: the signature by the pinned key over its exact
/// bytes, then its max age. Nothing of the payload is used before this succeeds.
pub fn accept_bundle(
    signed: &SignedBundle,
    pinned: &VerifyingKey,
    now_unix: i64,
) -> Result<PolicyBundle, VerifyError> {
    let bundle = signing::verify(signed, pinned)?;
    signing::check_age(&bundle, now_unix)?;
    Ok(bundle)
}

/// The fingerprint of the held bundle sent at check-in: hex SHA-256 of its signed payload
/// bytes ("" when none).
pub fn state_fingerprint(signed: Option<&SignedBundle>) -> String {
    signed.map_or_else(String::new, |s| hex::encode(Sha256::digest(&s.payload)))
}

/// The secret paths the bundle's markers name (`__VIGO_SECRET__<path>__END__`), sorted.
pub fn secret_paths(bundle: &PolicyBundle) -> Vec<String> {
    let mut out = BTreeSet::new();
    for t in bundle.templates.values() {
        secret::collect_paths(t, &mut out);
    }
    for c in &bundle.configcrates {
        secret::collect_paths(&c.vars_json, &mut out);
        for r in &c.resources {
            secret::collect_paths(&r.attributes_json, &mut out);
        }
    }
    out.into_iter().collect()
}

/// Why a resolved secret is not used: it is not text, or it holds a secret marker (which
/// would make a value look like a reference).
pub fn unusable_secret(value: &[u8]) -> Option<&'static str> {
    match std::str::from_utf8(value) {
        Err(_) => Some("is not UTF-8 text"),
        Ok(v) if secret::has_marker(v) => Some("holds a Vigo secret marker"),
        Ok(_) => None,
    }
}

/// The wire report of a run. Its messages were redacted by the engine, resource by
/// resource, from what the resource derives from a secret.
pub fn wire_report(
    report: &RunReport,
    policy_version: &str,
    started_at_unix: i64,
) -> ReportResultRequest {
    ReportResultRequest {
        run_id: uuid::Uuid::now_v7().to_string(),
        policy_version: policy_version.to_owned(),
        dry_run: report.dry_run,
        started_at_unix,
        duration_micros: report.duration_micros,
        results: report
            .results
            .iter()
            .map(|r| WireResult {
                configcrate: r.configcrate.clone(),
                r#type: r.type_name.clone(),
                name: r.name.clone(),
                action: r.action.to_wire() as i32,
                duration_micros: r.duration_micros,
                message: r.message.clone(),
            })
            .collect(),
        steady: false,
        dropped_reports: 0,
        traceparent: String::new(),
    }
}

/// The digest that tells two reports apart for the steady heartbeat: the version and
/// every resource's identity and action.
pub fn report_digest(r: &ReportResultRequest) -> String {
    let mut h = Sha256::new();
    h.update(r.policy_version.as_bytes());
    h.update([u8::from(r.dry_run)]);
    for x in &r.results {
        for part in [&x.configcrate, &x.r#type, &x.name] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(x.action.to_be_bytes());
    }
    hex::encode(h.finalize())
}

/// `--result-cache-cycles`: a report identical to the previous one with every action
/// `none` becomes a compact steady heartbeat (no per-resource results), at most
/// `cache_cycles` in a row. Returns the digest and the new steady-run length to remember.
pub fn compact_if_steady(
    report: &mut ReportResultRequest,
    previous_digest: Option<&str>,
    steady_run: u32,
    cache_cycles: u32,
) -> (String, u32) {
    let digest = report_digest(report);
    let all_none = report
        .results
        .iter()
        .all(|r| r.action == Action::None.to_wire() as i32);
    if all_none && previous_digest == Some(digest.as_str()) && steady_run < cache_cycles {
        report.steady = true;
        report.results.clear();
        (digest, steady_run + 1)
    } else {
        (digest, 0)
    }
}

/// What became of a cycle's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server acknowledged it.
    Sent,
    /// Queued: no server was reachable.
    QueuedOffline,
    /// Queued: the server answered but did not take it (why); sent again next cycle.
    QueuedRetry(String),
    /// The server refused it for good (why): moved aside.
    Rejected(String),
}

/// What one cycle did.
#[derive(Debug)]
pub struct CycleOutcome {
    /// The server answered the check-in.
    pub online: bool,
    /// The run, when the cycle converged (`None`: offline and not due).
    pub report: Option<RunReport>,
    /// The version of the bundle applied.
    pub policy_version: String,
    /// The report is still queued (see `delivery` for why).
    pub queued: bool,
    /// What became of this cycle's report.
    pub delivery: Delivery,
    /// Earlier queued reports sent this cycle.
    pub drained: usize,
    /// Queued reports the server refused for good this cycle (moved aside).
    pub rejected: usize,
}

/// Why a cached bundle cannot be applied, before its age is even looked at.
#[derive(Debug, thiserror::Error)]
pub enum CachedBundleError {
    /// The stored bytes are not a signed bundle.
    #[error("the cached bundle is unreadable: {0}")]
    Unreadable(#[source] prost::DecodeError),
    /// There is no pinned key to verify it with.
    #[error("no pinned server key ({}) to verify the cached bundle", .0.display())]
    NoPinnedKey(PathBuf),
    /// The signature does not verify with the pinned key.
    #[error("the cached bundle does not verify: {0}")]
    DoesNotVerify(#[source] VerifyError),
}

/// Verifies the cached signed bundle `bytes` with `pinned` (its path in the error when
/// there is none): the check the converge path applies before using it, and the one
/// `vigo status` applies before showing it. The age is checked separately
/// (`signing::check_age`).
pub fn verify_cached(
    bytes: &[u8],
    pinned: Option<&VerifyingKey>,
    pinned_path: &std::path::Path,
) -> Result<(SignedBundle, PolicyBundle), CachedBundleError> {
    let signed = SignedBundle::decode(bytes).map_err(CachedBundleError::Unreadable)?;
    let pinned = pinned.ok_or_else(|| CachedBundleError::NoPinnedKey(pinned_path.to_path_buf()))?;
    let bundle = signing::verify(&signed, pinned).map_err(CachedBundleError::DoesNotVerify)?;
    Ok((signed, bundle))
}

/// Everything a cycle needs, kept across the daemon's cycles (one connection, the trait
/// cache, the interval the server set).
pub struct Converger {
    settings: Settings,
    store: StateStore,
    pinned: Option<VerifyingKey>,
    client: Option<Client>,
    client_problem: Option<String>,
    dry_run: bool,
    only_crate: Option<String>,
    interval: Duration,
    observe_only: bool,
    want_traits: bool,
    quiet: bool,
}

impl std::fmt::Debug for Converger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Converger")
            .field("server", &self.settings.primary_server())
            .field("pinned", &self.pinned.as_ref().map(signing::key_id))
            .field("client", &self.client)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

/// Builds the client from the settings: the agent key, the TLS files and the envoy id.
pub fn build_client(settings: &Settings) -> Result<Client, String> {
    let envoy_id = settings
        .envoy_id
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            "this envoy is not registered (no envoy_id in the config): run `vigo register` \
             or `vigo bootstrap`"
                .to_owned()
        })?;
    let identity =
        AgentIdentity::load(&settings.data_dir.join(AGENT_KEY)).map_err(|e| e.to_string())?;
    let tls = TlsMaterial::load(&settings.ca_file, &settings.cert_file, &settings.key_file)
        .map_err(|e| e.to_string())?;
    let mut addresses = vec![settings.primary_server().to_owned()];
    addresses.extend(settings.fallback_servers.iter().cloned());
    if settings.bolt.is_some() {
        addresses.push(settings.server.clone());
    }
    Ok(Client::new(addresses, tls, Arc::new(identity), envoy_id))
}

impl Converger {
    /// Opens the state store and the pinned key and prepares the client. A missing
    /// client (not registered, no certificates) is not an error here: the cycle then
    /// runs offline from the cached bundle and says why.
    pub fn new(
        settings: Settings,
        dry_run: bool,
        only_crate: Option<String>,
    ) -> Result<Self, ConvergeError> {
        let store = StateStore::open(&settings.state_dir)?;
        match crate::renew::finish_interrupted(&settings.cert_file, &settings.key_file) {
            Ok(Some(what)) => eprintln!("vigo: {what}"),
            Ok(None) => {}
            Err(e) => return Err(ConvergeError::Files(e.to_string())),
        }
        let pinned = load_pinned_key(&settings.data_dir.join(SERVER_PUB))
            .map_err(|e| ConvergeError::Files(e.to_string()))?;
        let (client, client_problem) = match build_client(&settings) {
            Ok(c) => (Some(c), None),
            Err(why) => (None, Some(why)),
        };
        Ok(Self {
            settings,
            store,
            pinned,
            client,
            client_problem,
            dry_run,
            only_crate,
            interval: DEFAULT_INTERVAL,
            observe_only: false,
            want_traits: false,
            quiet: false,
        })
    }

    /// Replaces the client (tests point the agent at a server this way).
    pub fn with_client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self.client_problem = None;
        self
    }

    /// Does not print the per-resource trace (the daemon prints only summaries).
    pub fn quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
        self
    }

    /// The interval the server set (or the default).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The client, when the envoy is registered.
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref()
    }

    /// The state store.
    pub fn store(&self) -> &StateStore {
        &self.store
    }

    fn meta_u64(&self, key: &str) -> u64 {
        self.store
            .meta(key)
            .ok()
            .flatten()
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map_or(0, u64::from_be_bytes)
    }

    /// The cached bundle, verified; `Err` says why it cannot be used.
    fn cached(&self, now: i64) -> Result<(SignedBundle, PolicyBundle), ConvergeError> {
        let Some(stamped) = self.store.bundle()? else {
            return Err(ConvergeError::NoBundle(
                "none cached yet (the server has not sent one)".into(),
            ));
        };
        let (signed, bundle) = verify_cached(
            &stamped.bytes,
            self.pinned.as_ref(),
            &self.settings.data_dir.join(SERVER_PUB),
        )
        .map_err(|e| ConvergeError::NoBundle(e.to_string()))?;
        signing::check_age(&bundle, now).map_err(ConvergeError::Expired)?;
        Ok((signed, bundle))
    }

    /// Runs one cycle. `converge_offline`: when the server is unreachable, still apply
    /// the cached bundle (false lets the daemon only retry the connection).
    pub async fn cycle(
        &mut self,
        guard: &ConvergenceGuard,
        stop: &AtomicBool,
        converge_offline: bool,
    ) -> Result<CycleOutcome, ConvergeError> {
        let now = now_unix();
        let cycle_no = self.meta_u64(META_CYCLE);
        self.store
            .set_meta(META_CYCLE, &(cycle_no + 1).to_be_bytes())?;
        let cached = self.cached(now);
        let held = match &cached {
            Ok((signed, bundle)) => Some((signed, bundle.version.as_str())),
            // An expired bundle is still the version held: the server may say no_change.
            Err(_) => None,
        };

        // Traits on the refresh cadence: the full set, its hash reported at check-in.
        let refresh_every = u64::from(self.settings.trait_refresh_cycles.max(1));
        let mut cache = self.trait_cache();
        if cycle_no.is_multiple_of(refresh_every)
            || self.want_traits
            || self.store.traits()?.is_none()
        {
            self.collect(&mut cache, cycle_no, now, &|_| true, true);
        }
        let traits_hash = self
            .store
            .meta(META_TRAITS_HASH)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();

        // Check in.
        let request = CheckInRequest {
            policy_version: held.map(|(_, v)| v.to_owned()).unwrap_or_default(),
            state_fingerprint: state_fingerprint(held.map(|(s, _)| s)),
            traits_hash: traits_hash.clone(),
            traits_json: Vec::new(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            traceparent: String::new(),
            pinned_key_id: self
                .pinned
                .as_ref()
                .map(signing::key_id)
                .unwrap_or_default(),
        };
        let mut online = false;
        let mut fresh: Option<(SignedBundle, PolicyBundle)> = None;
        match self.client.as_mut() {
            None => {
                if let Some(why) = &self.client_problem {
                    tracing::warn!("offline: {why}");
                }
            }
            Some(client) => match client.check_in(&request).await {
                Ok(response) => {
                    online = true;
                    fresh = self.handle_check_in(response, now)?;
                }
                Err(e) if e.is_denied() => return Err(ConvergeError::Denied(e.to_string())),
                Err(e) if e.is_unreachable() => {
                    tracing::warn!("offline: {e}");
                    crate::renew::explain_unreachable(&self.settings, now);
                }
                Err(e) => tracing::warn!("the server did not give a bundle: {e}"),
            },
        }
        if online && let Some(client) = self.client.as_mut() {
            crate::renew::renew_on_check_in(client, &self.settings, now).await;
        }
        if online && self.want_traits {
            self.upload_traits(&traits_hash).await;
        }
        if !online && !converge_offline {
            return Ok(CycleOutcome {
                online,
                report: None,
                policy_version: String::new(),
                queued: false,
                delivery: Delivery::QueuedOffline,
                drained: 0,
                rejected: 0,
            });
        }

        // The bundle to apply.
        let (policy_version, bundle) = match fresh {
            Some((_, b)) => (b.version.clone(), b),
            None => match cached {
                Ok((_, b)) => (b.version.clone(), b),
                Err(e) => {
                    let why = e.to_string();
                    self.store.set_meta(META_HALTED, why.as_bytes())?;
                    return Err(e);
                }
            },
        };
        self.store.set_meta(META_HALTED, b"")?;
        if let Some(only) = &self.only_crate
            && !bundle.configcrates.iter().any(|c| &c.name == only)
        {
            return Err(ConvergeError::UnknownCrate {
                name: only.clone(),
                have: bundle
                    .configcrates
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }

        // Drain what was queued while offline, before this run's report.
        let early = self.drain(online).await?;

        // Secrets: memory only, for this cycle only.
        let mut secrets: HashMap<String, String> = HashMap::new();
        let paths = secret_paths(&bundle);
        if !paths.is_empty() {
            match (online, self.client.as_mut()) {
                (true, Some(client)) => {
                    let req = ResolveSecretsRequest {
                        policy_version: policy_version.clone(),
                        paths,
                    };
                    match client.resolve_secrets(&req).await {
                        Ok(resp) => {
                            for (path, value) in resp.values {
                                match unusable_secret(&value) {
                                    None => {
                                        secrets.insert(
                                            path,
                                            String::from_utf8(value).unwrap_or_default(),
                                        );
                                    }
                                    Some(why) => tracing::warn!(
                                        "secret `{path}` {why}: the resources that use it fail"
                                    ),
                                }
                            }
                        }
                        Err(e) => tracing::warn!("secrets not resolved: {e}"),
                    }
                }
                _ => tracing::warn!("offline: the resources that use secrets cannot be applied"),
            }
        }

        // Fresh traits for what the bundle reads, then plan and run.
        let needs = engine::trait_needs(&bundle);
        self.collect(
            &mut cache,
            cycle_no,
            now,
            &|c| needs.wants(c) || c == "network",
            false,
        );
        let traits = cache.traits.clone();
        let hostname = traits.hostname().unwrap_or_default().to_owned();
        let started_at = now_unix();
        let dry_run = self.dry_run || self.observe_only || bundle.observe_only;
        let report = {
            let settings = &self.settings;
            let only = self.only_crate.as_deref();
            let quiet = self.quiet;
            let envoy = json!({
                "hostname": hostname,
                "environment": bundle.environment,
                "envoy_id": settings.envoy_id.clone().unwrap_or_default(),
            });
            let secrets = &secrets;
            let bundle = &bundle;
            let traits = &traits;
            tokio::task::block_in_place(move || {
                let probe = SystemProbe;
                let evaluator = LangEvaluator { probe: &probe };
                let plan = engine::plan(
                    bundle,
                    &PlanInput {
                        traits,
                        envoy,
                        secrets,
                        only_crate: only,
                        evaluator: &evaluator,
                        default_timeout: DEFAULT_TIMEOUT,
                    },
                );
                if !dry_run {
                    crate::leftovers::sweep(&crate::leftovers::directories(
                        [guard.root(), &settings.data_dir],
                        &plan,
                    ));
                }
                let registry = Registry::with_custom_dir(&settings.executors_dir);
                let snapshots = SnapshotStore::new(
                    &settings.snapshot_dir,
                    settings.snapshot_retention as usize,
                );
                let preempted = || guard.preempted() || stop.load(Ordering::SeqCst);
                let opts = Options {
                    dry_run,
                    registry: &registry,
                    snapshots: Some(&snapshots),
                    guardrail: &guardrail,
                    preempted: &preempted,
                };
                let mut trace = if quiet {
                    Trace::quiet()
                } else {
                    Trace::stderr()
                };
                let report = engine::run(&plan, &opts, &mut trace);
                trace.summary(&report.summary_line());
                report
            })
        };

        // The report, cut to size, goes through the queue: behind what is already there,
        // and drained when the server answers.
        let mut wire = wire_report(&report, &policy_version, started_at);
        drop(secrets);
        if let Some(trimmed) = reports::bound(&mut wire, &Bounds::default()) {
            tracing::warn!("the report of this run is too large for the server: {trimmed}");
        }
        let previous = self
            .store
            .meta(META_REPORT_DIGEST)?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let steady_run = u32::try_from(self.meta_u64(META_STEADY_RUN)).unwrap_or(u32::MAX);
        let (digest, run) = compact_if_steady(
            &mut wire,
            previous.as_deref(),
            steady_run,
            self.settings.result_cache_cycles,
        );
        self.store.set_meta(META_REPORT_DIGEST, digest.as_bytes())?;
        self.store
            .set_meta(META_STEADY_RUN, &u64::from(run).to_be_bytes())?;
        let seq = self.store.enqueue_result(&wire.encode_to_vec())?;
        // Not twice in one cycle past a report that stayed queued: the server said why.
        let late = match &early.held {
            Some(held) => Drained {
                held: Some(held.clone()),
                ..Drained::default()
            },
            None => self.drain(online).await?,
        };
        let delivery = if late.sent.contains(&seq) {
            Delivery::Sent
        } else if let Some((_, why)) = late.rejected.iter().find(|(s, _)| *s == seq) {
            Delivery::Rejected(why.clone())
        } else {
            match &late.held {
                Some(held) if !held.unreachable => Delivery::QueuedRetry(held.reason.clone()),
                _ => Delivery::QueuedOffline,
            }
        };
        let earlier = |d: &Drained| d.sent.iter().filter(|s| **s != seq).count();
        let rejected_earlier = |d: &Drained| d.rejected.iter().filter(|(s, _)| *s != seq).count();
        Ok(CycleOutcome {
            online,
            report: Some(report),
            policy_version,
            queued: matches!(delivery, Delivery::QueuedOffline | Delivery::QueuedRetry(_)),
            delivery,
            drained: earlier(&early) + earlier(&late),
            rejected: rejected_earlier(&early) + rejected_earlier(&late),
        })
    }

    /// Sends what the queue holds when the server answered the check-in (see
    /// [`reports::drain`]); says why the rest stays queued.
    async fn drain(&mut self, online: bool) -> Result<Drained, ConvergeError> {
        let Some(client) = self.client.as_mut().filter(|_| online) else {
            return Ok(Drained::default());
        };
        let drained = reports::drain(&self.store, &Bounds::default(), async |r| {
            client.report_result(r).await
        })
        .await?;
        if let Some(held) = &drained.held {
            tracing::warn!(
                "{} queued report(s) stay queued for the next cycle: {}",
                self.store.pending_results()?,
                held.reason
            );
        }
        Ok(drained)
    }

    /// Applies a check-in answer; returns the new bundle when one came and verified.
    fn handle_check_in(
        &mut self,
        response: CheckInResponse,
        now: i64,
    ) -> Result<Option<(SignedBundle, PolicyBundle)>, ConvergeError> {
        if response.interval_secs > 0 {
            self.interval = Duration::from_secs(u64::from(response.interval_secs));
        }
        self.observe_only = response.observe_only;
        self.want_traits = response.want_traits;
        let pin_file = self.settings.data_dir.join(SERVER_PUB);
        if let Some(new) =
            crate::repin::repin_on_check_in(&response, self.pinned.as_ref(), &pin_file)
                .map_err(|e| ConvergeError::Files(e.to_string()))?
        {
            self.pinned = Some(new);
        }
        if !response.redirect.is_empty()
            && self.settings.bolt.as_deref() != Some(response.redirect.as_str())
        {
            self.redirect(&response.redirect)?;
        }
        match response.outcome {
            Some(Outcome::Bundle(signed)) => {
                let Some(pinned) = &self.pinned else {
                    return Err(ConvergeError::NoBundle(format!(
                        "no pinned server key ({}) to verify the bundle",
                        self.settings.data_dir.join(SERVER_PUB).display()
                    )));
                };
                match accept_bundle(&signed, pinned, now) {
                    Ok(bundle) => {
                        self.store.put_bundle(&signed.encode_to_vec(), now)?;
                        Ok(Some((signed, bundle)))
                    }
                    Err(e) => {
                        let why = format!("refused the bundle from the server: {e}");
                        self.store.set_meta(META_HALTED, why.as_bytes())?;
                        Err(ConvergeError::Refused(e))
                    }
                }
            }
            Some(Outcome::NoChange(_)) | None => Ok(None),
        }
    }

    /// Stores a server `redirect` as the config's `bolt` and dials it from now on.
    fn redirect(&mut self, address: &str) -> Result<(), ConvergeError> {
        let path = self.settings.data_dir.join("config");
        let mut config =
            ConfigFile::load(&path).map_err(|e| ConvergeError::Files(e.to_string()))?;
        config.bolt = Some(address.to_owned());
        write_config(&path, &config).map_err(|e| ConvergeError::Files(e.to_string()))?;
        self.settings.bolt = Some(address.to_owned());
        if let Some(client) = self.client.as_mut() {
            client.redirect(address);
        }
        tracing::info!("the server redirected this envoy to {address}");
        Ok(())
    }

    async fn upload_traits(&mut self, traits_hash: &str) {
        let Ok(Some(traits)) = self.store.traits() else {
            return;
        };
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let req = ReportTraitsRequest {
            traits_json: traits.bytes,
            traits_hash: traits_hash.to_owned(),
            traceparent: String::new(),
        };
        match client.report_traits(&req).await {
            Ok(()) => self.want_traits = false,
            Err(e) => tracing::warn!("traits not reported: {e}"),
        }
    }

    fn trait_cache(&self) -> vigo_traits::TraitCache {
        self.store
            .meta(META_TRAIT_CACHE)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Runs the collectors `want` selects that the cache says are due; with `full`, also
    /// stores the whole trait document and its hash (the refresh cadence).
    fn collect(
        &self,
        cache: &mut vigo_traits::TraitCache,
        cycle: u64,
        now: i64,
        want: &dyn Fn(&str) -> bool,
        full: bool,
    ) {
        let refresh = u64::from(self.settings.trait_refresh_cycles.max(1));
        let due: Vec<vigo_traits::Collector> = vigo_traits::all()
            .into_iter()
            .filter(|c| want(c.name) && cache.is_due(c.name, c.class, cycle, now, refresh))
            .collect();
        if !due.is_empty() {
            let report = tokio::task::block_in_place(|| {
                vigo_traits::run(&due, &vigo_traits::Ctx::default())
            });
            for (name, why) in &report.errors {
                tracing::warn!("trait collector {name} failed: {why}");
            }
            cache.store(&report.values, cycle, now);
            if let Ok(bytes) = serde_json::to_vec(&*cache) {
                let _ = self.store.set_meta(META_TRAIT_CACHE, &bytes);
            }
        }
        if full && let Ok(bytes) = serde_json::to_vec(&cache.traits.to_json()) {
            let hash = hex::encode(Sha256::digest(&bytes));
            let _ = self.store.put_traits(&bytes, now);
            let _ = self.store.set_meta(META_TRAITS_HASH, hash.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use vigo_proto::v1::{Configcrate, Resource};

    use super::*;

    fn bundle(issued: i64, max_age: u64) -> PolicyBundle {
        PolicyBundle {
            version: "20260101T000000Z".into(),
            configcrates: vec![Configcrate {
                name: "base".into(),
                resources: vec![Resource {
                    r#type: "file".into(),
                    name: "motd".into(),
                    attributes_json: r#"{"content": "__VIGO_SECRET__db/pass__END__ and __VIGO_SECRET__api__END__"}"#.into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            templates: [("t".to_owned(), "x __VIGO_SECRET__db/pass__END__".to_owned())].into(),
            max_age_secs: max_age,
            issued_at_unix: issued,
            ..Default::default()
        }
    }

    #[test]
    fn secret_paths_are_found_once_each() {
        assert_eq!(secret_paths(&bundle(0, 0)), vec!["api", "db/pass"]);
    }

    #[test]
    fn secrets_that_are_not_text_or_hold_a_marker_are_not_used() {
        assert_eq!(unusable_secret(b"hunter2"), None);
        assert_eq!(unusable_secret(&[0xff, 0xfe]), Some("is not UTF-8 text"));
        assert_eq!(
            unusable_secret(b"x__VIGO_SECRET__other__END__"),
            Some("holds a Vigo secret marker")
        );
    }

    #[test]
    fn steady_heartbeat_at_most_n_in_a_row() {
        let make = |action: Action| ReportResultRequest {
            policy_version: "v".into(),
            results: vec![WireResult {
                configcrate: "c".into(),
                r#type: "file".into(),
                name: "n".into(),
                action: action.to_wire() as i32,
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut previous: Option<String> = None;
        let mut run = 0;
        let mut kinds = Vec::new();
        for _ in 0..8 {
            let mut r = make(Action::None);
            let (d, n) = compact_if_steady(&mut r, previous.as_deref(), run, 3);
            kinds.push(r.steady);
            assert_eq!(r.results.is_empty(), r.steady);
            previous = Some(d);
            run = n;
        }
        assert_eq!(
            kinds,
            [false, true, true, true, false, true, true, true],
            "full, 3 steady, full again"
        );
        let mut changed = make(Action::Updated);
        let (d, _) = compact_if_steady(&mut changed, None, 0, 3);
        let mut again = make(Action::Updated);
        compact_if_steady(&mut again, Some(&d), 0, 3);
        assert!(
            !again.steady,
            "a run that changed something is always reported"
        );
    }

    #[test]
    fn fingerprint_is_the_payload_hash() {
        assert_eq!(state_fingerprint(None), "");
        let s = SignedBundle {
            payload: b"abc".to_vec(),
            ..Default::default()
        };
        assert_eq!(
            state_fingerprint(Some(&s)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
