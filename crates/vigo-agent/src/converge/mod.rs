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

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use prost::Message;
use serde_json::json;
use vigo_core::signing::{self, VerifyError};
use vigo_proto::v1::{
    CheckInRequest, CheckInResponse, PolicyBundle, SignedBundle, check_in_response::Outcome,
};

use crate::client::{Client, TlsMaterial, error_chain};
use crate::clock::{self, SharedClock};
use crate::engine::{self, RunReport};
use crate::enroll::{AGENT_KEY, EnrollError, SERVER_PUB, load_pinned_key, write_config};
use crate::identity::AgentIdentity;
use crate::pipeline::{self, Pipeline, PlanFacts};
use crate::preempt::ConvergenceGuard;
use crate::reports::{self, Bounds, Drained};
use crate::settings::{ConfigFile, Settings, SettingsError};
use crate::state::{StateError, StateStore};

mod bundle;
mod secrets;
mod traits;
mod wire;

pub use bundle::{CachedBundleError, accept_bundle, state_fingerprint, verify_cached};
pub use secrets::{secret_paths, unusable_secret};
pub use wire::{compact_if_steady, report_digest, wire_report};

/// The check-in interval until the server sets one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

const META_CYCLE: &str = "cycle";
const META_TRAIT_CACHE: &str = "trait_cache";
const META_TRAITS_HASH: &str = "traits_hash";
const META_HALTED: &str = "halted";
const META_REPORT_DIGEST: &str = "report.digest";
const META_STEADY_RUN: &str = "report.steady_run";

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
    /// A data file (pinned key, agent key) could not be read or written.
    #[error(transparent)]
    Files(#[from] EnrollError),
    /// The config file could not be read or written (a redirect is saved there).
    #[error(transparent)]
    Config(#[from] SettingsError),
    /// A certificate renewal a crash interrupted could not be finished.
    #[error("finishing an interrupted certificate renewal")]
    Renewal(#[source] crate::renew::RenewError),
    /// The server refused this envoy (revoked, unknown, bad credentials): nothing is
    /// applied, not even the cached bundle, until it is enrolled again.
    #[error(transparent)]
    Denied(crate::client::ClientError),
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
    clock: SharedClock,
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
        AgentIdentity::load(&settings.data_dir.join(AGENT_KEY)).map_err(|e| error_chain(&e))?;
    let tls = TlsMaterial::load(&settings.ca_file, &settings.cert_file, &settings.key_file)
        .map_err(|e| error_chain(&e))?;
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
            Err(e) => return Err(ConvergeError::Renewal(e)),
        }
        let pinned = load_pinned_key(&settings.data_dir.join(SERVER_PUB))?;
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
            clock: clock::system(),
        })
    }

    /// Replaces the client (tests point the agent at a server this way).
    pub fn with_client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self.client_problem = None;
        self
    }

    /// Reads the time from `clock` instead of the system clock (tests move time this
    /// way): the bundle's max age, the certificate renewal decision, the report's start.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// This converger's clock (the daemon's tasks read the time by it too).
    pub fn clock(&self) -> SharedClock {
        std::sync::Arc::clone(&self.clock)
    }

    /// The time by this converger's clock (Unix seconds).
    pub fn now_unix(&self) -> i64 {
        self.clock.now_unix()
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

    /// Where the pinned bundle-signing key lives (tasks read it from there each time).
    pub fn pinned_key_path(&self) -> std::path::PathBuf {
        self.settings.data_dir.join(SERVER_PUB)
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
        .map_err(|e| ConvergeError::NoBundle(error_chain(&e)))?;
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
        let now = self.clock.now_unix();
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
            self.collect(&mut cache, cycle_no, now, &|_| true, true)?;
        }
        let traits_hash = self
            .store
            .meta(META_TRAITS_HASH)?
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();

        let (online, fresh) = self.check_in(held, &traits_hash, now).await?;
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
        let secrets = secrets::resolve(
            self.client.as_mut().filter(|_| online),
            &policy_version,
            secret_paths(&bundle),
        )
        .await;

        // Fresh traits for what the bundle reads, then plan and run.
        let needs = engine::trait_needs(&bundle);
        self.collect(
            &mut cache,
            cycle_no,
            now,
            &|c| needs.wants(c) || c == "network",
            false,
        )?;
        let traits = cache.traits.clone();
        let hostname = traits.hostname().unwrap_or_default().to_owned();
        let started_at = self.clock.now_unix();
        let dry_run = self.dry_run || self.observe_only || bundle.observe_only;
        let pipeline = Pipeline {
            settings: &self.settings,
            guard,
            stop,
            dry_run,
            quiet: self.quiet,
            state: Some(&self.store),
        };
        let facts = PlanFacts {
            traits: &traits,
            envoy: json!({
                "hostname": hostname,
                "environment": bundle.environment,
                "envoy_id": self.settings.envoy_id.clone().unwrap_or_default(),
            }),
            secrets: &secrets,
            only_crate: self.only_crate.as_deref(),
        };
        let report =
            tokio::task::block_in_place(|| pipeline.run(&pipeline::plan(&bundle, facts), &[]));

        // The report, cut to size, goes through the queue: behind what is already there,
        // and drained when the server answers.
        let seq = self.queue_report(&report, &policy_version, started_at)?;
        drop(secrets);
        let late = match &early.held {
            // Not twice in one cycle past a report that stayed queued: the server said why.
            Some(held) => Drained {
                held: Some(held.clone()),
                ..Drained::default()
            },
            None => self.drain(online).await?,
        };
        let delivery = delivery_of(seq, &late);
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

    /// Checks in with the held bundle's version and the traits hash, and applies the
    /// answer (interval, re-pinning, redirect, a new bundle); renews the client
    /// certificate and uploads the traits when due. Returns whether the server answered,
    /// and the new verified bundle if one came.
    async fn check_in(
        &mut self,
        held: Option<(&SignedBundle, &str)>,
        traits_hash: &str,
        now: i64,
    ) -> Result<(bool, Option<(SignedBundle, PolicyBundle)>), ConvergeError> {
        let request = CheckInRequest {
            policy_version: held.map(|(_, v)| v.to_owned()).unwrap_or_default(),
            state_fingerprint: state_fingerprint(held.map(|(s, _)| s)),
            traits_hash: traits_hash.to_owned(),
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
                Err(e) if e.is_denied() => return Err(ConvergeError::Denied(e)),
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
            self.upload_traits(traits_hash).await;
        }
        Ok((online, fresh))
    }

    /// Turns the run into its wire report, cut to size and compacted to a steady
    /// heartbeat when nothing changed, and queues it; returns its queue sequence number.
    fn queue_report(
        &mut self,
        report: &RunReport,
        policy_version: &str,
        started_at: i64,
    ) -> Result<u64, ConvergeError> {
        let mut wire = wire_report(report, policy_version, started_at);
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
        Ok(self.store.enqueue_result(&wire.encode_to_vec())?)
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
            crate::repin::repin_on_check_in(&response, self.pinned.as_ref(), &pin_file)?
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
        let mut config = ConfigFile::load(&path)?;
        config.bolt = Some(address.to_owned());
        write_config(&path, &config)?;
        self.settings.bolt = Some(address.to_owned());
        if let Some(client) = self.client.as_mut() {
            client.redirect(address);
        }
        tracing::info!("the server redirected this envoy to {address}");
        Ok(())
    }
}

/// What became of the report queued as `seq`, after the drain `late`.
fn delivery_of(seq: u64, late: &Drained) -> Delivery {
    if late.sent.contains(&seq) {
        Delivery::Sent
    } else if let Some((_, why)) = late.rejected.iter().find(|(s, _)| *s == seq) {
        Delivery::Rejected(why.clone())
    } else {
        match &late.held {
            Some(held) if !held.unreachable => Delivery::QueuedRetry(held.reason.clone()),
            _ => Delivery::QueuedOffline,
        }
    }
}

#[cfg(test)]
mod tests {
    use vigo_proto::v1::{
        Configcrate, ReportResultRequest, Resource, ResourceResult as WireResult,
    };

    use crate::engine::Action;

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
