//! The in-memory fleet index: what the check-in path needs about every envoy (hostname,
//! ed25519 key, status, last seen, applied policy version, traits hash), so a check-in
//! never queries the database.
//!
//! - Loaded from the store at startup ([`Fleet::load`]); registration
//!   ([`Fleet::insert`]) and revocation ([`Fleet::revoke`]) update it immediately. The
//!   REST layer calls [`Fleet::revoke`] right after `Store::revoke_envoy`.
//! - Check-ins ([`Fleet::mark_seen`]) and trait uploads ([`Fleet::record_traits`]) change
//!   memory and queue a write; [`Fleet::flush`] writes the queue in batches of
//!   [`FLUSH_BATCH`] rows, one transaction each, and a background task
//!   ([`Fleet::spawn_flusher`]) calls it every few seconds. A failed flush puts the rows
//!   back, so nothing is lost but the database's view of "last seen" lags.
//! - The replay cache ([`Fleet::check_nonce`]) remembers every accepted (envoy, nonce)
//!   until the request's timestamp leaves the [`MAX_SKEW_SECS`] window, after which the
//!   timestamp check refuses a replay on its own. Memory is bounded
//!   ([`REPLAY_CAPACITY`]); when full of unexpired nonces, requests are refused
//!   (fail closed) rather than risking an accepted replay.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::publish::{read, write};
use crate::store::{Envoy, EnvoyFilter, EnvoySeen, EnvoyStatus, EnvoyTraits, Store, StoreError};

/// Largest accepted difference between a request's timestamp and the server clock.
pub const MAX_SKEW_SECS: i64 = 300;
/// Rows per flush transaction.
pub const FLUSH_BATCH: usize = 500;
/// Most (envoy, nonce) pairs the replay cache holds.
pub const REPLAY_CAPACITY: usize = 1 << 21;
/// Default period of the background flush.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// What the index knows about one envoy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvoyEntry {
    /// Its hostname.
    pub hostname: String,
    /// Its ed25519 key, which verifies every request it signs.
    pub public_key: VerifyingKey,
    /// Active or revoked.
    pub status: EnvoyStatus,
    /// SHA-256 (hex) of its latest traits document.
    pub traits_hash: Option<String>,
}

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// Not exactly 16 bytes.
    #[error("the nonce must be 16 bytes, got {0}")]
    Malformed(usize),
    /// Already used within the skew window.
    #[error("replayed request: this nonce was already used")]
    Replayed,
    /// The cache is full of unexpired nonces.
    #[error("too many requests in the replay window; retry later")]
    Full,
}

/// What one [`Fleet::flush`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushStats {
    /// Envoys whose last-seen time was written.
    pub seen: u64,
    /// Envoys whose traits changed in the database.
    pub traits: u64,
}

type NonceKey = (Uuid, [u8; 16]);

#[derive(Debug, Default)]
struct ReplayCache {
    seen: HashSet<NonceKey>,
    expiry: BinaryHeap<Reverse<(i64, NonceKey)>>,
}

impl ReplayCache {
    fn prune(&mut self, now: i64) {
        while let Some(Reverse((at, key))) = self.expiry.peek().copied() {
            if at > now {
                break;
            }
            self.expiry.pop();
            self.seen.remove(&key);
        }
    }
}

#[derive(Debug, Default)]
struct Pending {
    seen: HashMap<Uuid, EnvoySeen>,
    traits: HashMap<Uuid, EnvoyTraits>,
}

/// The fleet index. Shared as `Arc<Fleet>`.
#[derive(Debug, Default)]
pub struct Fleet {
    envoys: RwLock<HashMap<Uuid, EnvoyEntry>>,
    pending: Mutex<Pending>,
    replay: Mutex<ReplayCache>,
}

impl Fleet {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every envoy of the store, active and revoked.
    pub async fn load(store: &Store) -> Result<Fleet, StoreError> {
        let fleet = Fleet::new();
        fleet.reload(store).await?;
        Ok(fleet)
    }

    /// Re-reads every envoy from the store (revocations made by another replica),
    /// keeping the newer in-memory last-seen data.
    pub async fn reload(&self, store: &Store) -> Result<usize, StoreError> {
        let envoys = store.list_envoys(&EnvoyFilter::default()).await?;
        self.merge(&envoys);
        Ok(read(&self.envoys).len())
    }

    /// Merges what changed in the store since `since` (enrollments and revocations by
    /// another replica) without re-reading the whole fleet; returns how many rows came.
    pub async fn refresh(&self, store: &Store, since: i64) -> Result<usize, StoreError> {
        let envoys = store.envoys_changed_since(since).await?;
        self.merge(&envoys);
        Ok(envoys.len())
    }

    /// Puts `envoys` into the index, keeping the in-memory traits hash.
    /// Keys are parsed before the lock is taken: check-ins wait only for the map updates.
    fn merge(&self, envoys: &[Envoy]) {
        let fresh: Vec<(Uuid, EnvoyEntry)> = envoys
            .iter()
            .filter_map(|envoy| match entry_of(envoy) {
                Some(entry) => Some((envoy.id, entry)),
                None => {
                    tracing::error!(envoy = %envoy.id, "stored public key is not an ed25519 key; envoy ignored");
                    None
                }
            })
            .collect();
        let mut map = write(&self.envoys);
        for (id, mut entry) in fresh {
            if let Some(old) = map.get(&id)
                && old.traits_hash.is_some()
            {
                entry.traits_hash.clone_from(&old.traits_hash);
            }
            map.insert(id, entry);
        }
    }

    /// The entry of an envoy.
    pub fn get(&self, id: Uuid) -> Option<EnvoyEntry> {
        read(&self.envoys).get(&id).cloned()
    }

    /// How many envoys have `status` (all when `None`).
    pub fn count(&self, status: Option<EnvoyStatus>) -> usize {
        read(&self.envoys)
            .values()
            .filter(|e| status.is_none_or(|s| e.status == s))
            .count()
    }

    /// Adds a newly registered envoy.
    pub fn insert(&self, envoy: &Envoy) {
        if let Some(entry) = entry_of(envoy) {
            write(&self.envoys).insert(envoy.id, entry);
        }
    }

    /// Marks an envoy revoked: its next request is refused. Returns whether it was known.
    pub fn revoke(&self, id: Uuid) -> bool {
        match write(&self.envoys).get_mut(&id) {
            Some(e) => {
                e.status = EnvoyStatus::Revoked;
                true
            }
            None => false,
        }
    }

    /// Records a check-in at `now` with the policy version the envoy holds, for the next
    /// batched write (last-seen lives only there until it reaches the store).
    pub fn mark_seen(&self, id: Uuid, now: i64, policy_version: Option<&str>) {
        // Only the pending batch: the hot path takes no lock on the index itself.
        let mut pending = lock(&self.pending);
        let seen = pending.seen.entry(id).or_insert(EnvoySeen {
            id,
            last_seen_at: now,
            policy_version: None,
        });
        seen.last_seen_at = seen.last_seen_at.max(now);
        if let Some(v) = policy_version {
            seen.policy_version = Some(v.to_owned());
        }
    }

    /// The traits hash the index holds for an envoy.
    pub fn traits_hash(&self, id: Uuid) -> Option<String> {
        read(&self.envoys)
            .get(&id)
            .and_then(|e| e.traits_hash.clone())
    }

    /// Keeps an envoy's traits document for the next flush; an unchanged document (same
    /// SHA-256) is not queued. Returns its hash.
    pub fn record_traits(&self, id: Uuid, traits_json: String) -> String {
        let hash = hex::encode(Sha256::digest(traits_json.as_bytes()));
        {
            let mut map = write(&self.envoys);
            let Some(e) = map.get_mut(&id) else {
                return hash;
            };
            if e.traits_hash.as_deref() == Some(hash.as_str()) {
                return hash;
            }
            e.traits_hash = Some(hash.clone());
        }
        lock(&self.pending)
            .traits
            .insert(id, EnvoyTraits { id, traits_json });
        hash
    }

    /// Accepts a request nonce once: refuses it when the same envoy used it within the
    /// skew window. `timestamp` is the request's (already checked against `now`).
    /// Returns the nonce, for the durable ledger ([`crate::replay`]).
    pub fn check_nonce(
        &self,
        id: Uuid,
        nonce: &[u8],
        timestamp: i64,
        now: i64,
    ) -> Result<[u8; 16], NonceError> {
        let nonce: [u8; 16] = nonce
            .try_into()
            .map_err(|_| NonceError::Malformed(nonce.len()))?;
        let key = (id, nonce);
        let mut cache = lock(&self.replay);
        cache.prune(now);
        if cache.seen.contains(&key) {
            return Err(NonceError::Replayed);
        }
        if cache.seen.len() >= REPLAY_CAPACITY {
            return Err(NonceError::Full);
        }
        cache.seen.insert(key);
        // Past this, the timestamp itself is out of the window.
        let expires = crate::replay::expiry(timestamp).max(now + 1);
        cache.expiry.push(Reverse((expires, key)));
        Ok(nonce)
    }

    /// Writes the queued check-ins and traits to the store, [`FLUSH_BATCH`] rows per
    /// transaction. Rows of a failed batch are queued again (unless newer ones arrived).
    pub async fn flush(&self, store: &Store) -> Result<FlushStats, StoreError> {
        let taken = std::mem::take(&mut *lock(&self.pending));
        let mut stats = FlushStats::default();
        let seen: Vec<EnvoySeen> = taken.seen.into_values().collect();
        let traits: Vec<EnvoyTraits> = taken.traits.into_values().collect();
        let mut failure = None;
        let mut seen_left = Vec::new();
        for (i, chunk) in seen.chunks(FLUSH_BATCH).enumerate() {
            match store.touch_envoys(chunk).await {
                Ok(n) => stats.seen += n,
                Err(e) => {
                    seen_left.extend_from_slice(&seen[i * FLUSH_BATCH..]);
                    failure = Some(e);
                    break;
                }
            }
        }
        let mut traits_left = Vec::new();
        if failure.is_none() {
            for (i, chunk) in traits.chunks(FLUSH_BATCH).enumerate() {
                match store.store_traits(chunk).await {
                    Ok(n) => stats.traits += n,
                    Err(e) => {
                        traits_left.extend_from_slice(&traits[i * FLUSH_BATCH..]);
                        failure = Some(e);
                        break;
                    }
                }
            }
        } else {
            traits_left = traits;
        }
        match failure {
            None => Ok(stats),
            Some(e) => {
                let mut pending = lock(&self.pending);
                for s in seen_left {
                    pending.seen.entry(s.id).or_insert(s);
                }
                for t in traits_left {
                    pending.traits.entry(t.id).or_insert(t);
                }
                Err(e)
            }
        }
    }

    /// Flushes every `period` until `shutdown` resolves, then flushes once more.
    pub fn spawn_flusher(
        self: Arc<Self>,
        store: Store,
        period: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.changed() => break,
                }
                if let Err(e) = self.flush(&store).await {
                    tracing::warn!(error = %e, "flushing the fleet index failed; will retry");
                }
            }
            match self.flush(&store).await {
                Ok(s) => tracing::debug!(seen = s.seen, traits = s.traits, "final fleet flush"),
                Err(e) => tracing::error!(error = %e, "final fleet flush failed"),
            }
        })
    }
}

fn entry_of(envoy: &Envoy) -> Option<EnvoyEntry> {
    Some(EnvoyEntry {
        hostname: envoy.hostname.clone(),
        public_key: VerifyingKey::from_bytes(&envoy.public_key).ok()?,
        status: envoy.status,
        traits_hash: envoy.traits_sha256.clone(),
    })
}

/// Locks `m`, taking over a poisoned lock (the data it guards stays consistent: every
/// update is a single insert or remove).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_within_the_window() {
        let fleet = Fleet::new();
        let id = Uuid::new_v4();
        let n = [7u8; 16];
        assert_eq!(fleet.check_nonce(id, &n, 1000, 1000), Ok(n));
        assert_eq!(
            fleet.check_nonce(id, &n, 1000, 1200),
            Err(NonceError::Replayed)
        );
        // Another envoy may use the same bytes.
        assert_eq!(fleet.check_nonce(Uuid::new_v4(), &n, 1000, 1000), Ok(n));
        assert_eq!(
            fleet.check_nonce(id, &[1; 3], 1000, 1000),
            Err(NonceError::Malformed(3))
        );
        // Once the timestamp is out of the window the entry is dropped.
        assert_eq!(fleet.check_nonce(id, &[9; 16], 1000, 1400), Ok([9; 16]));
        assert!(!lock(&fleet.replay).seen.contains(&(id, n)));
    }
}
