//! Publishing desired state: the `stacks/` tree on disk becomes the live version.
//!
//! A publish reads the whole tree, loads and validates it (`vigo_lang::load`, plus a check
//! that every `secret:` reference exists in the secrets store), and on any problem returns
//! every diagnostic and changes nothing. Otherwise it stamps a version — the UTC time as
//! `YYYYMMDDTHHMMSSZ`, bumped one second past the latest stored version when needed, so
//! versions strictly increase — stores the tree with it (so PostgreSQL replicas serve the
//! same version), appends an audit entry, and swaps the live version atomically.
//!
//! The live version ([`Live`]) holds the [`Resolver`] (one built bundle per match block)
//! and a per-block cache of the *signed* bundle: each block's bundle is encoded and signed
//! on first use and then handed to every envoy of that block. Its `issued_at` is the
//! publish time moved forward in steps of half `checkin.bundle_max_age`: a bundle is
//! re-signed (same content) once it is half its max age old, so an envoy that keeps
//! checking in never holds an expired bundle, and every restart and replica signs the
//! same bytes (ed25519 is deterministic), so nobody re-downloads an unchanged bundle.
//! Nothing here is compiled on the check-in path. Bundles are signed through the shared
//! [`BundleKeys`]: after a key rotation, each block's bundle is signed again with the new
//! key on its next request (same payload, so the same fingerprint).
//!
//! **State fingerprint.** The server's fingerprint of a block's bundle is the lower-case
//! hex SHA-256 of the exact `SignedBundle.payload` bytes ([`payload_fingerprint`]). An
//! agent that sends the live `policy_version` and that fingerprint gets `no_change`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;
use vigo_core::Bundle;
use vigo_lang::model::Stack;
use vigo_lang::resolve::{BundleMeta, ResolveError, Resolver, Trace};
use vigo_lang::secret::{MARKER_END, MARKER_START};
use vigo_lang::source::ReadOptions;
use vigo_lang::{Errors, SourceTree};
use vigo_proto::v1::SignedBundle;

use crate::clock::Clock;
use crate::ops::{BoxFuture, ConfigOps, ConfigProblem, PublishError, VersionInfo};
use crate::pki::BundleKeys;
use crate::secrets::LocalSecrets;
use crate::store::{ConfigVersion, NewAuditEntry, Store, StoreError};

/// How bundles of the live version are stamped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherOptions {
    /// The operator-edited tree (`<data_dir>/stacks`).
    pub stacks_dir: PathBuf,
    /// What reading it refuses besides the default rules: the server's private paths.
    pub read: ReadOptions,
    /// `checkin.bundle_max_age` in seconds (0 = bundles never expire).
    pub max_age_secs: u64,
    /// `checkin.observe_only`: ORed into every bundle's `observe_only`.
    pub observe_only: bool,
}

/// One match block's bundle, encoded and signed.
#[derive(Debug, Clone)]
pub struct SignedBlock {
    /// What travels to the agent.
    pub bundle: SignedBundle,
    /// Hex SHA-256 of `bundle.payload` (see [`payload_fingerprint`]).
    pub fingerprint: String,
    /// The secret paths whose markers the bundle holds: what `ResolveSecrets` may
    /// resolve for an envoy of this block.
    pub secret_paths: BTreeSet<String>,
    /// The bundle's `observe_only` (the block's, ORed with `checkin.observe_only`).
    pub observe_only: bool,
    /// When it was signed (Unix seconds).
    pub issued_at_unix: i64,
}

/// The live published version: resolver, per-block signed bundles, per-envoy block.
pub struct Live {
    /// The version.
    pub info: VersionInfo,
    /// The resolver over the version's stack.
    pub resolver: Resolver,
    keys: Arc<BundleKeys>,
    max_age_secs: u64,
    observe_only: bool,
    signed: Vec<RwLock<Option<Arc<SignedBlock>>>>,
    envoy_blocks: RwLock<HashMap<Uuid, Option<usize>>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("info", &self.info)
            .field("blocks", &self.signed.len())
            .finish_non_exhaustive()
    }
}

impl Live {
    fn new(
        info: VersionInfo,
        stack: Arc<Stack>,
        options: &PublisherOptions,
        keys: &Arc<BundleKeys>,
    ) -> Self {
        let blocks = stack.blocks.len();
        let meta = BundleMeta {
            version: info.version.clone(),
            issued_at_unix: info.published_at,
            max_age_secs: options.max_age_secs,
        };
        Live {
            info,
            resolver: Resolver::new(stack, meta),
            keys: Arc::clone(keys),
            max_age_secs: options.max_age_secs,
            observe_only: options.observe_only,
            signed: (0..blocks).map(|_| RwLock::new(None)).collect(),
            envoy_blocks: RwLock::new(HashMap::new()),
        }
    }

    /// The match block of an envoy (first match wins), remembered per envoy for this
    /// version; `None` when no block fits its hostname.
    pub fn block_for(&self, envoy: Uuid, hostname: &str) -> Option<usize> {
        if let Some(b) = read(&self.envoy_blocks).get(&envoy) {
            return *b;
        }
        let block = self.resolver.match_block(hostname);
        write(&self.envoy_blocks).insert(envoy, block);
        block
    }

    /// The signed bundle of block `index` at `now`: signed on first use, re-signed
    /// (same content, new `issued_at`) once it is half its max age old (see
    /// `issue_time`), and re-signed (same payload) once the bundle-signing key rotated.
    pub fn signed_block(&self, index: usize, now: i64) -> Result<Arc<SignedBlock>, ResolveError> {
        let Some(slot) = self.signed.get(index) else {
            return Err(ResolveError::NoMatch(format!("#{index}")));
        };
        let issued_at = self.issue_time(now);
        let fresh = |s: &SignedBlock| {
            s.issued_at_unix == issued_at && self.keys.is_current(&s.bundle.key_id)
        };
        if let Some(s) = read(slot).as_ref()
            && fresh(s)
        {
            return Ok(Arc::clone(s));
        }
        let mut guard = write(slot);
        if let Some(s) = guard.as_ref()
            && fresh(s)
        {
            return Ok(Arc::clone(s));
        }
        let bundle = self.resolver.block_bundle(index)?;
        let signed = Arc::new(self.sign(&bundle, issued_at));
        *guard = Some(Arc::clone(&signed));
        Ok(signed)
    }

    /// When a bundle served at `now` says it was issued: the publish time, moved forward
    /// in steps of half the max age. Deterministic, so restarts and replicas produce the
    /// same bytes (ed25519 signatures are deterministic too) and no envoy re-downloads
    /// an unchanged bundle; and a served bundle is never older than half its max age.
    fn issue_time(&self, now: i64) -> i64 {
        let published = self.info.published_at;
        let step = i64::try_from(self.max_age_secs / 2).unwrap_or(i64::MAX);
        if step == 0 || now <= published {
            return published;
        }
        published + (now - published) / step * step
    }

    fn sign(&self, bundle: &Bundle, issued_at: i64) -> SignedBlock {
        let mut wire = bundle.to_proto();
        wire.version.clone_from(&self.info.version);
        wire.tree_hash.clone_from(&self.info.tree_hash);
        wire.issued_at_unix = issued_at;
        wire.max_age_secs = self.max_age_secs;
        wire.observe_only |= self.observe_only;
        let observe_only = wire.observe_only;
        let signed = self.keys.sign(&wire);
        SignedBlock {
            fingerprint: payload_fingerprint(&signed.payload),
            secret_paths: secret_markers(&signed.payload),
            observe_only,
            issued_at_unix: issued_at,
            bundle: signed,
        }
    }

    /// How `hostname` resolves against this version, as JSON.
    pub fn trace_json(&self, hostname: &str, environment: Option<&str>) -> serde_json::Value {
        trace_to_json(&self.resolver.trace(hostname, environment))
    }
}

/// The server's fingerprint of a signed bundle: lower-case hex SHA-256 of its payload.
pub fn payload_fingerprint(payload: &[u8]) -> String {
    hex::encode(Sha256::digest(payload))
}

/// The secret paths of every `__VIGO_SECRET__<path>__END__` marker in `bytes`.
pub fn secret_markers(bytes: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = BTreeSet::new();
    let mut rest: &str = &text;
    while let Some(i) = rest.find(MARKER_START) {
        rest = &rest[i + MARKER_START.len()..];
        let Some(end) = rest.find(MARKER_END) else {
            break;
        };
        let path = &rest[..end];
        if !path.is_empty()
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'))
        {
            out.insert(path.to_owned());
        }
        rest = &rest[end + MARKER_END.len()..];
    }
    out
}

/// Publishes the stacks tree and holds the live version.
pub struct Publisher {
    options: PublisherOptions,
    store: Store,
    keys: Arc<BundleKeys>,
    secrets: Option<Arc<LocalSecrets>>,
    clock: Clock,
    live: RwLock<Option<Arc<Live>>>,
    publishing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("options", &self.options)
            .field("live", &self.version())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher with no live version yet; call [`start`](Self::start) next. Bundles
    /// are signed with the key `keys` holds at the time. With `secrets`, every `secret:`
    /// reference must exist there for a tree to be valid. Publish and audit times come
    /// from `clock`.
    pub fn new(
        options: PublisherOptions,
        store: Store,
        keys: Arc<BundleKeys>,
        secrets: Option<Arc<LocalSecrets>>,
        clock: Clock,
    ) -> Self {
        Publisher {
            options,
            store,
            keys,
            secrets,
            clock,
            live: RwLock::new(None),
            publishing: tokio::sync::Mutex::new(()),
        }
    }

    /// The options.
    pub fn options(&self) -> &PublisherOptions {
        &self.options
    }

    /// Startup: serves the latest stored version, or publishes the tree on disk when
    /// none was ever published (actor `startup`). Returns the live version, `None` when
    /// there is none (no stored version and no `stacks/` directory).
    pub async fn start(&self) -> Result<Option<VersionInfo>, PublishError> {
        if self.sync_from_store().await? {
            return Ok(self.version());
        }
        if !self.options.stacks_dir.is_dir() {
            return Ok(None);
        }
        self.publish_as("startup").await.map(Some)
    }

    /// Loads the latest stored version when it is newer than the live one (another
    /// replica published it). Returns whether the live version changed.
    pub async fn sync_from_store(&self) -> Result<bool, PublishError> {
        let Some(stored) = self.store.latest_version().await.map_err(internal)? else {
            return Ok(false);
        };
        if self
            .version()
            .is_some_and(|live| live.version >= stored.version)
        {
            return Ok(false);
        }
        let _guard = self.publishing.lock().await;
        let tree =
            SourceTree::from_files(stored.tree.iter().map(|(p, t)| (p.as_str(), t.as_str())));
        let stack = tokio::task::spawn_blocking(move || vigo_lang::load(&tree))
            .await
            .map_err(|e| PublishError::internal("loading stored version", e))?
            .map_err(|errors| PublishError::Invalid(problems(&errors)))?;
        let stack = Arc::new(stack);
        let info = VersionInfo {
            version: stored.version,
            tree_hash: stored.tree_hash,
            published_at: stored.published_at,
            published_by: stored.published_by,
        };
        self.swap(Live::new(info, stack, &self.options, &self.keys));
        Ok(true)
    }

    /// The live version, if any.
    pub fn live(&self) -> Option<Arc<Live>> {
        read(&self.live).clone()
    }

    /// The live version's description, if any.
    pub fn version(&self) -> Option<VersionInfo> {
        read(&self.live).as_ref().map(|l| l.info.clone())
    }

    /// Reads and validates the tree on disk; every problem on failure.
    pub async fn check_disk(&self) -> Result<(SourceTree, Arc<Stack>), PublishError> {
        let dir = self.options.stacks_dir.clone();
        let read = self.options.read.clone();
        let secrets = self.secrets.clone();
        tokio::task::spawn_blocking(move || {
            let tree = read_stacks(&dir, &read)?;
            let stack = check_tree(&tree, secrets.as_deref()).map_err(PublishError::Invalid)?;
            Ok((tree, stack))
        })
        .await
        .map_err(|e| PublishError::internal("validating", e))?
    }

    /// Validates the tree on disk and makes it the live version, published by `actor`.
    /// An invalid tree changes nothing and returns every problem; a tree identical to the
    /// live one is [`PublishError::Unchanged`].
    pub async fn publish_as(&self, actor: &str) -> Result<VersionInfo, PublishError> {
        let _guard = self.publishing.lock().await;
        // A refusal is audited by the caller (the REST API knows who asked).
        let (tree, stack) = self.check_disk().await?;
        self.install(
            actor,
            tree,
            stack,
            "config_published",
            serde_json::json!({}),
        )
        .await
    }

    /// Makes the tree of an earlier published `version` live again, as a new version (the
    /// history only grows: a rollback is itself a publish, audited as one). The tree is
    /// validated again, against this server's secrets and executors.
    pub async fn rollback_to(
        &self,
        version: &str,
        actor: &str,
    ) -> Result<VersionInfo, PublishError> {
        let _guard = self.publishing.lock().await;
        let stored = self
            .store
            .config_version(version)
            .await
            .map_err(internal)?
            .ok_or_else(|| PublishError::UnknownVersion(version.to_owned()))?;
        let secrets = self.secrets.clone();
        let (tree, stack) = tokio::task::spawn_blocking(move || {
            let tree =
                SourceTree::from_files(stored.tree.iter().map(|(p, t)| (p.as_str(), t.as_str())));
            let stack = check_tree(&tree, secrets.as_deref()).map_err(PublishError::Invalid)?;
            Ok::<_, PublishError>((tree, stack))
        })
        .await
        .map_err(|e| PublishError::internal("validating", e))??;
        self.install(
            actor,
            tree,
            stack,
            "config_rolled_back",
            serde_json::json!({ "to": version }),
        )
        .await
    }

    /// Stores `tree` as the next version and swaps it live (the caller holds the
    /// publishing lock and has validated it).
    async fn install(
        &self,
        actor: &str,
        tree: SourceTree,
        stack: Arc<Stack>,
        action: &str,
        extra: serde_json::Value,
    ) -> Result<VersionInfo, PublishError> {
        let tree_hash = tree.content_hash();
        if let Some(live) = self.version()
            && live.tree_hash == tree_hash
        {
            return Err(PublishError::Unchanged(live.version));
        }
        let files: BTreeMap<String, String> = tree
            .files()
            .map(|(p, t)| (p.to_owned(), t.to_owned()))
            .collect();
        let mut latest = self
            .store
            .latest_version()
            .await
            .map_err(internal)?
            .map(|v| v.version);
        let mut attempts = 0;
        let stored = loop {
            let now = self.clock.unix();
            let version = next_version(now, latest.as_deref());
            let candidate = ConfigVersion {
                version,
                tree_hash: tree_hash.clone(),
                tree: files.clone(),
                published_at: now,
                published_by: actor.to_owned(),
            };
            match self.store.publish_version(&candidate).await {
                Ok(()) => break candidate,
                // Another replica published in between: go one second past it.
                Err(StoreError::VersionNotNewer { latest: l, .. }) if attempts < 5 => {
                    attempts += 1;
                    latest = Some(l);
                }
                Err(e) => return Err(internal(e)),
            }
        };
        let info = VersionInfo {
            version: stored.version,
            tree_hash,
            published_at: stored.published_at,
            published_by: stored.published_by,
        };
        let mut detail = serde_json::json!({ "tree_hash": info.tree_hash, "files": files.len() });
        if let (Some(d), serde_json::Value::Object(more)) = (detail.as_object_mut(), extra) {
            d.extend(more);
        }
        self.audit(actor, action, Some(info.version.clone()), detail)
            .await;
        self.swap(Live::new(info.clone(), stack, &self.options, &self.keys));
        tracing::info!(version = %info.version, actor, "configuration published");
        Ok(info)
    }

    fn swap(&self, live: Live) {
        *write(&self.live) = Some(Arc::new(live));
    }

    async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) {
        let entry = NewAuditEntry {
            at: self.clock.unix(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target,
            detail,
        };
        if let Err(e) = self.store.append_audit(&entry).await {
            tracing::error!(error = %e, action, "could not append the audit entry");
        }
    }
}

impl ConfigOps for Publisher {
    fn validate(&self) -> BoxFuture<'_, Result<(), PublishError>> {
        Box::pin(async move { self.check_disk().await.map(|_| ()) })
    }

    fn rollback<'a>(
        &'a self,
        version: &'a str,
        actor: &'a str,
    ) -> BoxFuture<'a, Result<VersionInfo, PublishError>> {
        Box::pin(self.rollback_to(version, actor))
    }

    fn publish<'a>(&'a self, actor: &'a str) -> BoxFuture<'a, Result<VersionInfo, PublishError>> {
        Box::pin(self.publish_as(actor))
    }

    fn version(&self) -> Option<VersionInfo> {
        Publisher::version(self)
    }

    fn history(&self, limit: u32) -> BoxFuture<'_, Result<Vec<VersionInfo>, PublishError>> {
        Box::pin(async move {
            let rows = self.store.version_history(limit).await.map_err(internal)?;
            Ok(rows
                .into_iter()
                .map(|v| VersionInfo {
                    version: v.version,
                    tree_hash: v.tree_hash,
                    published_at: v.published_at,
                    published_by: v.published_by,
                })
                .collect())
        })
    }

    fn trace(&self, hostname: &str, environment: Option<&str>) -> Option<serde_json::Value> {
        self.live().map(|l| l.trace_json(hostname, environment))
    }
}

/// Reads a `stacks/` directory into a tree, refusing what `options` names on top of the
/// reader's rules (symlinks out of the tree, special files, size bounds).
pub fn read_stacks(dir: &Path, options: &ReadOptions) -> Result<SourceTree, PublishError> {
    if !dir.is_dir() {
        return Err(PublishError::Invalid(vec![ConfigProblem {
            message: format!("{}: the stacks directory does not exist", dir.display()),
        }]));
    }
    SourceTree::read_dir_with(dir, options).map_err(|e| {
        PublishError::Invalid(vec![ConfigProblem {
            message: format!("{}: {e}", dir.display()),
        }])
    })
}

/// Loads and validates a tree: every problem of the language, and (with `secrets`)
/// every `secret:` reference missing from the secrets store.
pub fn check_tree(
    tree: &SourceTree,
    secrets: Option<&LocalSecrets>,
) -> Result<Arc<Stack>, Vec<ConfigProblem>> {
    let stack = Arc::new(vigo_lang::load(tree).map_err(|e| problems(&e))?);
    if let Some(secrets) = secrets {
        let missing = missing_secrets(&stack, secrets);
        if !missing.is_empty() {
            return Err(missing);
        }
    }
    Ok(stack)
}

/// Every secret reference of every block's bundle that the store does not hold, one
/// problem per (place, path).
fn missing_secrets(stack: &Arc<Stack>, secrets: &LocalSecrets) -> Vec<ConfigProblem> {
    let resolver = Resolver::new(Arc::clone(stack), BundleMeta::default());
    let mut found = BTreeSet::new();
    for index in 0..stack.blocks.len() {
        let Ok(bundle) = resolver.block_bundle(index) else {
            continue;
        };
        for krate in &bundle.configcrates {
            let vars = serde_json::Value::Object(krate.vars.clone()).to_string();
            for path in secret_markers(vars.as_bytes()) {
                if !secrets.contains(&path) {
                    found.insert(format!(
                        "configcrate \"{}\" vars: secret `{path}` is not in the secrets store",
                        krate.name
                    ));
                }
            }
            for r in &krate.resources {
                let attrs = serde_json::Value::Object(r.attributes.clone()).to_string();
                for path in secret_markers(attrs.as_bytes()) {
                    if !secrets.contains(&path) {
                        found.insert(format!(
                            "{}: configcrate \"{}\" resource \"{}\": secret `{path}` is not in the secrets store",
                            r.origin, krate.name, r.name
                        ));
                    }
                }
            }
        }
    }
    found
        .into_iter()
        .map(|message| ConfigProblem { message })
        .collect()
}

fn problems(errors: &Errors) -> Vec<ConfigProblem> {
    errors
        .0
        .iter()
        .map(|d| ConfigProblem {
            message: d.to_string(),
        })
        .collect()
}

/// A trace as JSON: the blocks consulted, the winner, roles, crates, vars with origin.
pub fn trace_to_json(t: &Trace) -> serde_json::Value {
    t.to_json()
}

/// The version for a publish at `now` (Unix seconds): its UTC time `YYYYMMDDTHHMMSSZ`,
/// or one second past `latest` when that is not older.
pub fn next_version(now: i64, latest: Option<&str>) -> String {
    let after_latest = latest.and_then(parse_version).map(|t| t + 1);
    version_string(after_latest.map_or(now, |l| l.max(now)))
}

/// `unix` (seconds) as `YYYYMMDDTHHMMSSZ`.
pub fn version_string(unix: i64) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "99991231T235959Z".to_owned())
}

/// A version's Unix time.
pub fn parse_version(version: &str) -> Option<i64> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(version, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

fn internal(e: StoreError) -> PublishError {
    PublishError::internal("the configuration store", e)
}

/// Reads a lock, ignoring poisoning: every writer here replaces a value in one step.
pub(crate) fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Writes a lock, ignoring poisoning (see [`read`]).
pub(crate) fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_utc_and_strictly_increasing() {
        assert_eq!(version_string(0), "19700101T000000Z");
        assert_eq!(parse_version("19700101T000010Z"), Some(10));
        assert_eq!(next_version(100, None), version_string(100));
        assert_eq!(
            next_version(100, Some(&version_string(100))),
            version_string(101)
        );
        assert_eq!(
            next_version(100, Some(&version_string(500))),
            version_string(501)
        );
        assert_eq!(
            next_version(900, Some(&version_string(500))),
            version_string(900)
        );
        assert_eq!(parse_version("garbage"), None);
    }

    fn live(published_at: i64, max_age_secs: u64) -> Live {
        live_with(published_at, max_age_secs, &keys())
    }

    fn keys() -> Arc<BundleKeys> {
        Arc::new(BundleKeys::in_memory(
            ed25519_dalek::SigningKey::from_bytes(&[3; 32]),
        ))
    }

    fn live_with(published_at: i64, max_age_secs: u64, keys: &Arc<BundleKeys>) -> Live {
        let tree = SourceTree::from_files([
            (
                "configcrates/motd.vgo",
                "configcrate: motd\nresources:\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    content: \"secret:a/b\"\n    state: present\n",
            ),
            (
                "envoys.vgo",
                "envoys:\n  - match: \"*\"\n    configcrates: [motd]\n",
            ),
        ]);
        let stack = check_tree(&tree, None).unwrap();
        let info = VersionInfo {
            version: version_string(published_at),
            tree_hash: tree.content_hash(),
            published_at,
            published_by: "test".into(),
        };
        let options = PublisherOptions {
            stacks_dir: PathBuf::new(),
            read: ReadOptions::default(),
            max_age_secs,
            observe_only: true,
        };
        Live::new(info, stack, &options, keys)
    }

    #[test]
    fn bundles_are_signed_once_and_refreshed_at_half_their_max_age() {
        let a = live(1000, 100);
        let first = a.signed_block(0, 1000).unwrap();
        assert_eq!(first.issued_at_unix, 1000);
        assert!(first.observe_only, "checkin.observe_only is ORed in");
        assert_eq!(first.secret_paths.iter().collect::<Vec<_>>(), ["a/b"]);
        assert!(Arc::ptr_eq(&first, &a.signed_block(0, 1049).unwrap()));
        let second = a.signed_block(0, 1050).unwrap();
        assert_eq!(second.issued_at_unix, 1050);
        assert_ne!(second.fingerprint, first.fingerprint);
        // Another replica (or a restart) signs the very same bytes.
        let b = live(1000, 100);
        assert_eq!(b.signed_block(0, 1070).unwrap().bundle, second.bundle);
        // Max age 0: issued at publish, forever.
        assert_eq!(
            live(1000, 0)
                .signed_block(0, 99_999)
                .unwrap()
                .issued_at_unix,
            1000
        );
        assert!(a.signed_block(0, 1000).is_ok());
        assert!(a.signed_block(5, 1000).is_err());
    }

    #[test]
    fn a_rotated_key_re_signs_the_same_payload() {
        let keys = keys();
        let live = live_with(1000, 100, &keys);
        let before = live.signed_block(0, 1000).unwrap();
        let rotated = keys.rotate(1001).unwrap();
        let after = live.signed_block(0, 1001).unwrap();
        assert_eq!(before.bundle.key_id, rotated.old_key_id);
        assert_eq!(after.bundle.key_id, rotated.new_key_id);
        assert_eq!(after.bundle.payload, before.bundle.payload);
        assert_eq!(after.fingerprint, before.fingerprint);
        vigo_core::signing::verify(&after.bundle, &keys.verifying_key()).unwrap();
        assert!(Arc::ptr_eq(&after, &live.signed_block(0, 1002).unwrap()));
    }

    #[test]
    fn markers_are_found_in_bytes() {
        let text = b"x __VIGO_SECRET__vigo/db/pw__END__ y __VIGO_SECRET__a.b__END__\
                     __VIGO_SECRET__bad path__END__ __VIGO_SECRET__open";
        let found: Vec<_> = secret_markers(text).into_iter().collect();
        assert_eq!(found, ["a.b", "vigo/db/pw"]);
    }
}
