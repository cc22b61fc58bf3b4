//! The agent's LMDB state store under `/var/lib/vigo/state` (heed).
//!
//! It holds what lets the agent keep converging and reporting while the server is
//! unreachable, and what `vigo status` shows:
//!
//! - the last verified signed bundle (the exact `SignedBundle` bytes) and when it arrived;
//! - the trait cache (JSON) and when it was collected;
//! - the queue of results not yet reported, bounded in count and bytes: when full, the
//!   oldest entry is dropped and a counter remembers how many were lost;
//! - the *rejected* reports: queued reports the server refused for good, moved aside so
//!   they no longer block the queue — the newest few kept for diagnosis, a counter of all
//!   of them and the last refusal's reason (`vigo status` shows both);
//! - small meta values (cycle counters, the last report's digest);
//! - the stat cache: for each managed file verified by a check, its identity and the
//!   digest of its content ([`vigo_exec::stat_cache`]), keyed by path, so an unchanged
//!   file is not read again.
//!
//! Invariant: nothing secret is ever stored here. Callers store bundles as received
//! (secret *markers*, never values) and results whose messages have been scrubbed.

use std::path::{Path, PathBuf};

use heed::byteorder::BE;
use heed::types::{Bytes, Str, U64};
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions};
use vigo_exec::stat_cache::Record as StatRecord;

/// Default bound of the pending-results queue, in reports.
pub const DEFAULT_QUEUE_LIMIT: u64 = 1_000;
/// Default bound of the pending-results queue, in bytes (a quarter of the store's map).
pub const DEFAULT_QUEUE_BYTES: u64 = 64 << 20;
/// How many rejected reports are kept for diagnosis (the counter counts all of them).
pub const REJECTED_KEEP: u64 = 100;
/// How many bytes of rejected reports are kept.
pub const REJECTED_BYTES: u64 = 16 << 20;

const MAP_SIZE: usize = 256 << 20;
const K_BUNDLE: &str = "bundle";
const K_BUNDLE_AT: &str = "bundle.received_at";
const K_TRAITS: &str = "traits";
const K_TRAITS_AT: &str = "traits.collected_at";
const K_DROPPED: &str = "results.dropped";
const K_REJECTED: &str = "results.rejected";
const K_REJECTED_REASON: &str = "results.rejected.reason";
const K_REFUSALS: &str = "results.head_refusals";

/// Errors of the state store, naming its directory.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Opening or using the LMDB environment failed.
    #[error("state store {dir}: {source}")]
    Lmdb {
        /// The state directory.
        dir: PathBuf,
        /// The LMDB error.
        source: heed::Error,
    },
    /// The directory could not be created.
    #[error("state store {dir}: {source}")]
    Io {
        /// The state directory.
        dir: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A stored blob with the time (Unix seconds) it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// The stored bytes.
    pub bytes: Vec<u8>,
    /// When they were stored, Unix seconds.
    pub at_unix: i64,
}

/// What was moved aside: how many reports the server refused for good, and why the last
/// one was.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejected {
    /// Reports moved aside since the store was created.
    pub count: u64,
    /// The last refusal's reason.
    pub last_reason: Option<String>,
}

type Queue = Database<'static, U64<BE>, Bytes>;

/// The open state store.
pub struct StateStore {
    dir: PathBuf,
    env: Env,
    kv: Database<'static, Str, Bytes>,
    results: Queue,
    /// Absent only in a read-only view of a store written by an older agent.
    rejected: Option<Queue>,
    /// Absent only in a read-only view of a store written by an older agent.
    stat: Option<Database<'static, Bytes, Bytes>>,
    queue_limit: u64,
    queue_bytes: u64,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl StateStore {
    /// Opens (creating if needed, mode 0700) the store in `dir` for reading and writing.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StateError::Io {
                dir: dir.to_path_buf(),
                source,
            })?;
        Self::open_env(dir, EnvFlags::empty())
    }

    /// [`Self::open`] for a command that can run without the store (`vigo apply`,
    /// `vigo resource`: it only holds their stat cache); a store that cannot be opened is
    /// logged and `None`.
    pub fn open_optional(dir: &Path) -> Option<Self> {
        Self::open(dir)
            .inspect_err(|e| tracing::warn!("{e}: running without the stat cache"))
            .ok()
    }

    /// Opens an existing store without writing to it (for `vigo status`).
    pub fn open_read_only(dir: &Path) -> Result<Self, StateError> {
        Self::open_env(dir, EnvFlags::READ_ONLY)
    }

    fn open_env(dir: &Path, flags: EnvFlags) -> Result<Self, StateError> {
        let lmdb = |source| StateError::Lmdb {
            dir: dir.to_path_buf(),
            source,
        };
        // SAFETY: the agent opens each state directory once per process, and the
        // convergence lock keeps two agent processes from writing it concurrently;
        // LMDB's own lock file handles concurrent readers such as `vigo status`.
        let env = unsafe {
            let mut opts = EnvOpenOptions::new();
            opts.map_size(MAP_SIZE).max_dbs(5);
            if !flags.is_empty() {
                opts.flags(flags);
            }
            opts.open(dir).map_err(lmdb)?
        };
        let (kv, results, rejected, stat) = if flags.contains(EnvFlags::READ_ONLY) {
            let rtxn = env.read_txn().map_err(lmdb)?;
            env.open_databases_and_commit(rtxn, |dbo, rtxn| {
                let kv = dbo.open_database(rtxn, Some("kv"))?;
                let results = dbo.open_database(rtxn, Some("results"))?;
                let rejected = dbo.open_database(rtxn, Some("rejected"))?;
                let stat = dbo.open_database(rtxn, Some("stat"))?;
                heed::Result::Ok(CommitOrAbort::<_, ()>::Commit((
                    kv, results, rejected, stat,
                )))
            })
            .map_err(lmdb)?
            .unwrap_commit()
        } else {
            let wtxn = env.write_txn().map_err(lmdb)?;
            env.create_databases_and_commit(wtxn, |dbo, wtxn| {
                let kv = dbo.create_database(wtxn, Some("kv"))?;
                let results = dbo.create_database(wtxn, Some("results"))?;
                let rejected = dbo.create_database(wtxn, Some("rejected"))?;
                let stat = dbo.create_database(wtxn, Some("stat"))?;
                heed::Result::Ok(CommitOrAbort::<_, ()>::Commit((
                    Some(kv),
                    Some(results),
                    Some(rejected),
                    Some(stat),
                )))
            })
            .map_err(lmdb)?
            .unwrap_commit()
        };
        let missing = || {
            lmdb(heed::Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the store has not been initialised by the agent yet",
            )))
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            env,
            kv: kv.ok_or_else(missing)?,
            results: results.ok_or_else(missing)?,
            rejected,
            stat,
            queue_limit: DEFAULT_QUEUE_LIMIT,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        })
    }

    /// Sets the bound of the pending-results queue, in reports (at least 1).
    pub fn with_queue_limit(mut self, limit: u64) -> Self {
        self.queue_limit = limit.max(1);
        self
    }

    /// Sets the bound of the pending-results queue, in bytes.
    pub fn with_queue_bytes(mut self, bytes: u64) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn err(&self) -> impl FnOnce(heed::Error) -> StateError + '_ {
        |source| StateError::Lmdb {
            dir: self.dir.clone(),
            source,
        }
    }

    fn put_stamped(
        &self,
        key: &str,
        at_key: &str,
        bytes: &[u8],
        at_unix: i64,
    ) -> Result<(), StateError> {
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        self.kv.put(&mut wtxn, key, bytes).map_err(self.err())?;
        self.kv
            .put(&mut wtxn, at_key, &at_unix.to_be_bytes())
            .map_err(self.err())?;
        wtxn.commit().map_err(self.err())
    }

    fn get_stamped(&self, key: &str, at_key: &str) -> Result<Option<Stamped>, StateError> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        let Some(bytes) = self.kv.get(&rtxn, key).map_err(self.err())? else {
            return Ok(None);
        };
        let at_unix = self
            .kv
            .get(&rtxn, at_key)
            .map_err(self.err())?
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, i64::from_be_bytes);
        Ok(Some(Stamped {
            bytes: bytes.to_vec(),
            at_unix,
        }))
    }

    /// Stores the verified signed bundle (encoded `SignedBundle`), replacing the old one.
    pub fn put_bundle(
        &self,
        signed_bundle: &[u8],
        received_at_unix: i64,
    ) -> Result<(), StateError> {
        self.put_stamped(K_BUNDLE, K_BUNDLE_AT, signed_bundle, received_at_unix)
    }

    /// The cached signed bundle, if any.
    pub fn bundle(&self) -> Result<Option<Stamped>, StateError> {
        self.get_stamped(K_BUNDLE, K_BUNDLE_AT)
    }

    /// Stores the trait cache (JSON).
    pub fn put_traits(&self, traits_json: &[u8], collected_at_unix: i64) -> Result<(), StateError> {
        self.put_stamped(K_TRAITS, K_TRAITS_AT, traits_json, collected_at_unix)
    }

    /// The trait cache, if any.
    pub fn traits(&self) -> Result<Option<Stamped>, StateError> {
        self.get_stamped(K_TRAITS, K_TRAITS_AT)
    }

    /// Sets a meta value.
    pub fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StateError> {
        let key = format!("meta.{key}");
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        self.kv.put(&mut wtxn, &key, value).map_err(self.err())?;
        wtxn.commit().map_err(self.err())
    }

    /// A meta value.
    pub fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StateError> {
        let key = format!("meta.{key}");
        let rtxn = self.env.read_txn().map_err(self.err())?;
        Ok(self
            .kv
            .get(&rtxn, &key)
            .map_err(self.err())?
            .map(<[u8]>::to_vec))
    }

    /// The stat-cache records of `paths` (those that have one), for a run that checks
    /// them.
    pub fn stat_records<'p>(
        &self,
        paths: impl IntoIterator<Item = &'p Path>,
    ) -> Result<Vec<(PathBuf, StatRecord)>, StateError> {
        use std::os::unix::ffi::OsStrExt;
        let Some(db) = self.stat else {
            return Ok(Vec::new());
        };
        let rtxn = self.env.read_txn().map_err(self.err())?;
        let mut out = Vec::new();
        for path in paths {
            let bytes = db
                .get(&rtxn, path.as_os_str().as_bytes())
                .map_err(self.err())?;
            if let Some(record) = bytes.and_then(StatRecord::decode) {
                out.push((path.to_path_buf(), record));
            }
        }
        Ok(out)
    }

    /// Saves a run's stat-cache changes in one transaction: `Some` stores the path's
    /// record, `None` deletes it. Nothing to save writes nothing.
    pub fn save_stat_records(
        &self,
        changes: &[(PathBuf, Option<StatRecord>)],
    ) -> Result<(), StateError> {
        use std::os::unix::ffi::OsStrExt;
        let Some(db) = self.stat.filter(|_| !changes.is_empty()) else {
            return Ok(());
        };
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        for (path, record) in changes {
            let key = path.as_os_str().as_bytes();
            match record {
                Some(r) => db.put(&mut wtxn, key, &r.encode()).map_err(self.err())?,
                None => {
                    db.delete(&mut wtxn, key).map_err(self.err())?;
                }
            }
        }
        wtxn.commit().map_err(self.err())
    }

    /// Appends a result (an encoded `ReportResultRequest`) to the pending queue and
    /// returns its sequence number. A full queue (in reports or bytes) drops its oldest
    /// entries first and counts them (see [`Self::dropped_results`]).
    pub fn enqueue_result(&self, report: &[u8]) -> Result<u64, StateError> {
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        let next = self
            .results
            .last(&wtxn)
            .map_err(self.err())?
            .map_or(1, |(k, _)| k + 1);
        let incoming = report.len() as u64;
        let (len, bytes) = self.footprint(&wtxn, &self.results)?;
        let dropped = self.trim_oldest(&mut wtxn, self.results, (len, bytes), |len, bytes| {
            len >= self.queue_limit || bytes + incoming > self.queue_bytes
        })?;
        if dropped > 0 {
            self.add_counter(&mut wtxn, K_DROPPED, dropped)?;
        }
        self.results
            .put(&mut wtxn, &next, report)
            .map_err(self.err())?;
        wtxn.commit().map_err(self.err())?;
        Ok(next)
    }

    /// The number of entries of `db` and their total size.
    fn footprint(&self, txn: &heed::RoTxn<'_>, db: &Queue) -> Result<(u64, u64), StateError> {
        let mut len = 0;
        let mut bytes = 0;
        for item in db.iter(txn).map_err(self.err())? {
            let (_, value) = item.map_err(self.err())?;
            len += 1;
            bytes += value.len() as u64;
        }
        Ok((len, bytes))
    }

    /// Deletes the oldest entries of `db` while `full(len, bytes)`; returns how many.
    fn trim_oldest(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        db: Queue,
        (mut len, mut bytes): (u64, u64),
        full: impl Fn(u64, u64) -> bool,
    ) -> Result<u64, StateError> {
        let mut dropped = 0;
        while len > 0 && full(len, bytes) {
            let Some((oldest, size)) = db
                .first(wtxn)
                .map_err(self.err())?
                .map(|(k, v)| (k, v.len() as u64))
            else {
                break;
            };
            db.delete(wtxn, &oldest).map_err(self.err())?;
            len -= 1;
            bytes = bytes.saturating_sub(size);
            dropped += 1;
        }
        Ok(dropped)
    }

    fn counter(&self, txn: &heed::RoTxn<'_>, key: &str) -> Result<u64, StateError> {
        Ok(self
            .kv
            .get(txn, key)
            .map_err(self.err())?
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_be_bytes))
    }

    fn add_counter(
        &self,
        wtxn: &mut heed::RwTxn<'_>,
        key: &str,
        n: u64,
    ) -> Result<u64, StateError> {
        let total = self.counter(wtxn, key)?.saturating_add(n);
        self.kv
            .put(wtxn, key, &total.to_be_bytes())
            .map_err(self.err())?;
        Ok(total)
    }

    /// Moves the queued result `seq` aside because the server refused it for good
    /// (`reason`): out of the queue, into the rejected store (the newest
    /// [`REJECTED_KEEP`], at most [`REJECTED_BYTES`], are kept), counted as rejected —
    /// and as dropped, so the next report tells the server one went missing. Returns the
    /// number rejected so far.
    pub fn reject_result(&self, seq: u64, reason: &str) -> Result<u64, StateError> {
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        let Some(bytes) = self
            .results
            .get(&wtxn, &seq)
            .map_err(self.err())?
            .map(<[u8]>::to_vec)
        else {
            return self.counter(&wtxn, K_REJECTED);
        };
        self.results.delete(&mut wtxn, &seq).map_err(self.err())?;
        if let Some(rejected) = self.rejected {
            let (len, size) = self.footprint(&wtxn, &rejected)?;
            let incoming = bytes.len() as u64;
            self.trim_oldest(&mut wtxn, rejected, (len, size), |len, size| {
                len >= REJECTED_KEEP || size + incoming > REJECTED_BYTES
            })?;
            if incoming <= REJECTED_BYTES {
                rejected.put(&mut wtxn, &seq, &bytes).map_err(self.err())?;
            }
        }
        let total = self.add_counter(&mut wtxn, K_REJECTED, 1)?;
        self.add_counter(&mut wtxn, K_DROPPED, 1)?;
        self.kv
            .put(&mut wtxn, K_REJECTED_REASON, reason.as_bytes())
            .map_err(self.err())?;
        self.kv.delete(&mut wtxn, K_REFUSALS).map_err(self.err())?;
        wtxn.commit().map_err(self.err())?;
        Ok(total)
    }

    /// How many reports were moved aside, and the last reason.
    pub fn rejected(&self) -> Result<Rejected, StateError> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        Ok(Rejected {
            count: self.counter(&rtxn, K_REJECTED)?,
            last_reason: self
                .kv
                .get(&rtxn, K_REJECTED_REASON)
                .map_err(self.err())?
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        })
    }

    /// The rejected reports kept, oldest first, with their sequence numbers.
    pub fn rejected_results(&self) -> Result<Vec<(u64, Vec<u8>)>, StateError> {
        let Some(rejected) = self.rejected else {
            return Ok(Vec::new());
        };
        let rtxn = self.env.read_txn().map_err(self.err())?;
        let mut out = Vec::new();
        for item in rejected.iter(&rtxn).map_err(self.err())? {
            let (seq, bytes) = item.map_err(self.err())?;
            out.push((seq, bytes.to_vec()));
        }
        Ok(out)
    }

    /// Counts one more answered-but-not-accepted attempt to send the queued result `seq`
    /// and returns how many in a row it has had (the count restarts for another `seq`).
    pub fn note_refusal(&self, seq: u64) -> Result<u32, StateError> {
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        let previous = self
            .kv
            .get(&wtxn, K_REFUSALS)
            .map_err(self.err())?
            .and_then(|b| <[u8; 12]>::try_from(b).ok())
            .map(|b| {
                let (s, n) = b.split_at(8);
                (
                    u64::from_be_bytes(s.try_into().unwrap_or_default()),
                    u32::from_be_bytes(n.try_into().unwrap_or_default()),
                )
            });
        let n = match previous {
            Some((s, n)) if s == seq => n.saturating_add(1),
            _ => 1,
        };
        let mut value = seq.to_be_bytes().to_vec();
        value.extend_from_slice(&n.to_be_bytes());
        self.kv
            .put(&mut wtxn, K_REFUSALS, &value)
            .map_err(self.err())?;
        wtxn.commit().map_err(self.err())?;
        Ok(n)
    }

    /// Number of results waiting to be reported.
    pub fn pending_results(&self) -> Result<u64, StateError> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        self.results.len(&rtxn).map_err(self.err())
    }

    /// The oldest `max` pending results, in order, with their sequence numbers.
    pub fn peek_results(&self, max: usize) -> Result<Vec<(u64, Vec<u8>)>, StateError> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        let mut out = Vec::new();
        for item in self.results.iter(&rtxn).map_err(self.err())?.take(max) {
            let (seq, bytes) = item.map_err(self.err())?;
            out.push((seq, bytes.to_vec()));
        }
        Ok(out)
    }

    /// Removes one reported result (and its refusal count). Draining in order means:
    /// peek, send, ack each.
    pub fn ack_result(&self, seq: u64) -> Result<(), StateError> {
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        self.results.delete(&mut wtxn, &seq).map_err(self.err())?;
        self.kv.delete(&mut wtxn, K_REFUSALS).map_err(self.err())?;
        wtxn.commit().map_err(self.err())
    }

    /// How many results left the queue undelivered (dropped from a full queue, or
    /// rejected) since the counter was last reset.
    pub fn dropped_results(&self) -> Result<u64, StateError> {
        let rtxn = self.env.read_txn().map_err(self.err())?;
        self.counter(&rtxn, K_DROPPED)
    }

    /// Resets the dropped counter (after the server has been told).
    pub fn reset_dropped_results(&self) -> Result<(), StateError> {
        let mut wtxn = self.env.write_txn().map_err(self.err())?;
        self.kv.delete(&mut wtxn, K_DROPPED).map_err(self.err())?;
        wtxn.commit().map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_records_persist_and_are_forgotten() {
        use vigo_exec::stat_cache::{Record, Stat};
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let record = Record {
            stat: Stat {
                dev: 1,
                ino: 2,
                size: 3,
                mtime: (4, 5),
                ctime: (6, 7),
            },
            digest: [9; 32],
            taken_at: (10, 11),
        };
        let (a, b) = (PathBuf::from("/etc/a"), PathBuf::from("/etc/b"));
        {
            let store = StateStore::open(&dir).unwrap();
            store
                .save_stat_records(&[(a.clone(), Some(record)), (b.clone(), Some(record))])
                .unwrap();
        }
        let store = StateStore::open(&dir).unwrap();
        let only_a = store.stat_records([a.as_path()]).unwrap();
        assert_eq!(
            only_a,
            vec![(a.clone(), record)],
            "only the paths asked for"
        );
        store.save_stat_records(&[(a.clone(), None)]).unwrap();
        assert_eq!(
            store.stat_records([a.as_path(), b.as_path()]).unwrap(),
            vec![(b.clone(), record)]
        );
        drop(store);
        let read_only = StateStore::open_read_only(&dir).unwrap();
        assert_eq!(
            read_only.stat_records([a.as_path(), b.as_path()]).unwrap(),
            vec![(b, record)]
        );
    }

    #[test]
    fn bundle_and_traits_persist_across_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        {
            let store = StateStore::open(&dir).unwrap();
            assert_eq!(store.bundle().unwrap(), None);
            store
                .put_bundle(b"signed-bundle-bytes", 1_700_000_000)
                .unwrap();
            store.put_traits(br#"{"os":{}}"#, 1_700_000_100).unwrap();
            store.set_meta("cycle", b"7").unwrap();
        }
        let store = StateStore::open(&dir).unwrap();
        assert_eq!(
            store.bundle().unwrap(),
            Some(Stamped {
                bytes: b"signed-bundle-bytes".to_vec(),
                at_unix: 1_700_000_000
            })
        );
        assert_eq!(store.traits().unwrap().unwrap().at_unix, 1_700_000_100);
        assert_eq!(store.meta("cycle").unwrap().as_deref(), Some(&b"7"[..]));
        assert_eq!(store.meta("absent").unwrap(), None);
    }

    #[test]
    fn queue_drains_in_order_exactly_once() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::open(tmp.path()).unwrap();
        for i in 0..5u8 {
            store.enqueue_result(&[i]).unwrap();
        }
        assert_eq!(store.pending_results().unwrap(), 5);
        let batch = store.peek_results(3).unwrap();
        assert_eq!(
            batch.iter().map(|(_, b)| b[0]).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        for (seq, _) in &batch {
            store.ack_result(*seq).unwrap();
        }
        let rest = store.peek_results(10).unwrap();
        assert_eq!(
            rest.iter().map(|(_, b)| b[0]).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(store.pending_results().unwrap(), 2);
    }

    /// The first byte of each queued result, oldest first.
    fn first_bytes(store: &StateStore) -> Vec<u8> {
        store
            .peek_results(100)
            .unwrap()
            .iter()
            .map(|(_, b)| b[0])
            .collect()
    }

    #[test]
    fn full_queue_drops_oldest_and_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::open(tmp.path()).unwrap().with_queue_limit(3);
        for i in 0..7u8 {
            store.enqueue_result(&[i]).unwrap();
        }
        assert_eq!(first_bytes(&store), vec![4, 5, 6]);
        assert_eq!(store.dropped_results().unwrap(), 4);
        store.reset_dropped_results().unwrap();
        assert_eq!(store.dropped_results().unwrap(), 0);
    }

    #[test]
    fn a_queue_full_in_bytes_drops_oldest_and_counts() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::open(tmp.path())
            .unwrap()
            .with_queue_bytes(10_000);
        for i in 0..5u8 {
            store.enqueue_result(&[i; 3_000]).unwrap();
        }
        assert_eq!(
            first_bytes(&store),
            vec![2, 3, 4],
            "at most 10,000 bytes are kept"
        );
        assert_eq!(store.dropped_results().unwrap(), 2);
    }

    #[test]
    fn rejected_reports_leave_the_queue_and_are_kept_counted_and_explained() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::open(tmp.path()).unwrap();
        let a = store.enqueue_result(b"a").unwrap();
        store.enqueue_result(b"b").unwrap();
        assert_eq!(store.note_refusal(a).unwrap(), 1);
        assert_eq!(store.note_refusal(a).unwrap(), 2);
        assert_eq!(store.reject_result(a, "too large (OutOfRange)").unwrap(), 1);
        assert_eq!(store.peek_results(10).unwrap().len(), 1);
        assert_eq!(store.rejected_results().unwrap(), vec![(a, b"a".to_vec())]);
        assert_eq!(
            store.rejected().unwrap(),
            Rejected {
                count: 1,
                last_reason: Some("too large (OutOfRange)".into())
            }
        );
        assert_eq!(store.dropped_results().unwrap(), 1, "the server is told");
        assert_eq!(
            store.note_refusal(a + 1).unwrap(),
            1,
            "a new head starts at 1"
        );
        drop(store);
        let ro = StateStore::open_read_only(tmp.path()).unwrap();
        assert_eq!(ro.rejected().unwrap().count, 1);
    }

    #[test]
    fn sequence_numbers_keep_growing_after_a_drain() {
        let tmp = tempfile::tempdir().unwrap();
        let store = StateStore::open(tmp.path()).unwrap();
        let a = store.enqueue_result(b"a").unwrap();
        store.ack_result(a).unwrap();
        let b = store.enqueue_result(b"b").unwrap();
        assert!(b > 0);
        assert_eq!(store.peek_results(1).unwrap(), vec![(b, b"b".to_vec())]);
    }

    #[test]
    fn read_only_open_sees_what_was_written_and_missing_store_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        StateStore::open(&dir).unwrap().put_bundle(b"x", 1).unwrap();
        let ro = StateStore::open_read_only(&dir).unwrap();
        assert_eq!(ro.bundle().unwrap().unwrap().bytes, b"x");

        let err = StateStore::open_read_only(&tmp.path().join("nowhere")).unwrap_err();
        assert!(err.to_string().contains("nowhere"), "{err}");
    }
}
