//! The stat cache: which files' content was verified, so an unchanged file is not read
//! again (what git's index does for `git status`).
//!
//! A [`Record`] says "the file at this path, with this identity (device, inode, size,
//! mtime and ctime to the nanosecond), held content whose SHA-256 is this". A check may
//! trust it instead of reading the file only while
//!
//! - the file's [`Stat`] is exactly the recorded one: any write changes mtime and ctime,
//!   `utimensat` (setting mtime back) and chmod/chown change ctime, which no one can set,
//!   and a file renamed over the path has another inode; and
//! - the record is not *racy* (git's rule): it was taken at least [`RACY_MARGIN`] after
//!   the file's mtime and ctime. A write in the same timestamp tick as the check that
//!   recorded it could leave the stat unchanged; such a record is never stored, so that
//!   file is read again until its times are older than the margin.
//!
//! The margin covers the filesystem's timestamp granularity (1 s on some, 2 s on FAT)
//! and the kernel's coarse clock, which stamps files up to a scheduler tick behind the
//! real time. Mode and owner are never cached: the check compares them from the `lstat`
//! it makes anyway. The engine forgets a path's record whenever a resource changes that
//! path; the agent keeps the records in its state store between runs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How much older than the record a file's mtime and ctime must be for the record to be
/// trusted.
pub const RACY_MARGIN: Duration = Duration::from_secs(2);

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The SHA-256 of `bytes`.
pub fn digest(bytes: &[u8]) -> Digest {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

/// A file's identity as `lstat` gives it: what must not change for a record to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: (i64, i64),
    /// Status change time: seconds and nanoseconds since the epoch.
    pub ctime: (i64, i64),
}

impl Stat {
    /// The identity of a file from its metadata.
    pub fn of(md: &Metadata) -> Self {
        Self {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime: (md.mtime(), md.mtime_nsec()),
            ctime: (md.ctime(), md.ctime_nsec()),
        }
    }
}

/// One verified file: its identity when it was read and the digest of what it held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// The file's identity, taken before its content was read.
    pub stat: Stat,
    /// The SHA-256 of the content read.
    pub digest: Digest,
    /// When the record was taken (before the `lstat`): seconds and nanoseconds.
    pub taken_at: (i64, i64),
}

/// The size of an encoded [`Record`].
pub const RECORD_LEN: usize = 8 * 9 + 32;

impl Record {
    /// Whether a file with this record's times may have changed within the same
    /// timestamp tick as the record (see the module doc).
    pub fn is_racy(&self) -> bool {
        let limit = nanos(self.taken_at).saturating_sub(RACY_MARGIN.as_nanos() as i128);
        nanos(self.stat.mtime) >= limit || nanos(self.stat.ctime) >= limit
    }

    /// The record as stored: fixed-size, big-endian.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let s = &self.stat;
        let words: [u64; 9] = [
            s.dev,
            s.ino,
            s.size,
            s.mtime.0 as u64,
            s.mtime.1 as u64,
            s.ctime.0 as u64,
            s.ctime.1 as u64,
            self.taken_at.0 as u64,
            self.taken_at.1 as u64,
        ];
        let mut out = [0u8; RECORD_LEN];
        for (chunk, w) in out.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        out[8 * 9..].copy_from_slice(&self.digest);
        out
    }

    /// A stored record; `None` when `bytes` is not one (a cache is only ever a hint).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != RECORD_LEN {
            return None;
        }
        let w = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some(Self {
            stat: Stat {
                dev: w(0),
                ino: w(1),
                size: w(2),
                mtime: (w(3) as i64, w(4) as i64),
                ctime: (w(5) as i64, w(6) as i64),
            },
            taken_at: (w(7) as i64, w(8) as i64),
            digest: bytes[8 * 9..].try_into().expect("32 bytes"),
        })
    }
}

fn nanos((secs, nsecs): (i64, i64)) -> i128 {
    i128::from(secs) * 1_000_000_000 + i128::from(nsecs)
}

/// A time as seconds and nanoseconds since the epoch (negative before it).
fn split(t: SystemTime) -> (i64, i64) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, i64::from(d.subsec_nanos())),
        Err(e) => {
            let d = e.duration();
            let whole = -(d.as_secs() as i64);
            match d.subsec_nanos() {
                0 => (whole, 0),
                n => (whole - 1, 1_000_000_000 - i64::from(n)),
            }
        }
    }
}

/// The records of one run: loaded from the agent's state, consulted and fed by the
/// checks, and the changes saved back at the end ([`ContentCache::changes`]).
pub struct ContentCache {
    records: RefCell<HashMap<PathBuf, Record>>,
    /// Paths whose record was added, replaced or forgotten during this run.
    changed: RefCell<HashMap<PathBuf, Option<Record>>>,
    clock: Box<dyn Fn() -> SystemTime>,
    hits: std::cell::Cell<u64>,
}

impl std::fmt::Debug for ContentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentCache")
            .field("records", &self.records.borrow().len())
            .field("changed", &self.changed.borrow().len())
            .finish_non_exhaustive()
    }
}

impl Default for ContentCache {
    fn default() -> Self {
        Self::new(std::iter::empty())
    }
}

impl ContentCache {
    /// A cache holding `records`, on the system clock.
    pub fn new(records: impl IntoIterator<Item = (PathBuf, Record)>) -> Self {
        Self::with_clock(records, Box::new(SystemTime::now))
    }

    /// A cache on the given clock (tests move time instead of sleeping).
    pub fn with_clock(
        records: impl IntoIterator<Item = (PathBuf, Record)>,
        clock: Box<dyn Fn() -> SystemTime>,
    ) -> Self {
        Self {
            records: RefCell::new(records.into_iter().collect()),
            changed: RefCell::default(),
            clock,
            hits: std::cell::Cell::new(0),
        }
    }

    /// The time to stamp a record with: read it *before* the `lstat` whose result the
    /// record will hold.
    pub fn now(&self) -> (i64, i64) {
        split((self.clock)())
    }

    /// Whether a trusted record says the file at `path`, whose `lstat` gave `md`, holds
    /// content with digest `want`. `false` means "read the file", never "it differs".
    pub fn vouches(&self, path: &Path, md: &Metadata, want: &Digest) -> bool {
        let records = self.records.borrow();
        let hit = records
            .get(path)
            .is_some_and(|r| r.stat == Stat::of(md) && !r.is_racy() && r.digest == *want);
        if hit {
            self.hits.set(self.hits.get() + 1);
        }
        hit
    }

    /// Records that the file at `path`, whose `lstat` at `taken_at` (from [`Self::now`])
    /// gave `md`, was read and held content with digest `digest`. A racy record is not
    /// kept (and any older one is forgotten).
    pub fn record(&self, path: &Path, md: &Metadata, digest: Digest, taken_at: (i64, i64)) {
        let record = Record {
            stat: Stat::of(md),
            digest,
            taken_at,
        };
        if record.is_racy() {
            self.forget(path);
            return;
        }
        let mut records = self.records.borrow_mut();
        if records.get(path) != Some(&record) {
            records.insert(path.to_path_buf(), record);
            self.changed
                .borrow_mut()
                .insert(path.to_path_buf(), Some(record));
        }
    }

    /// Forgets what was verified about `path` (something changed it).
    pub fn forget(&self, path: &Path) {
        if self.records.borrow_mut().remove(path).is_some() {
            self.changed.borrow_mut().insert(path.to_path_buf(), None);
        }
    }

    /// What this run added (`Some`) or forgot (`None`), to save.
    pub fn changes(&self) -> Vec<(PathBuf, Option<Record>)> {
        let mut out: Vec<_> = self
            .changed
            .borrow()
            .iter()
            .map(|(p, r)| (p.clone(), *r))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// How many checks a record spared a read, in this run.
    pub fn hits(&self) -> u64 {
        self.hits.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(mtime: (i64, i64), ctime: (i64, i64), taken_at: (i64, i64)) -> Record {
        Record {
            stat: Stat {
                dev: 1,
                ino: 2,
                size: 3,
                mtime,
                ctime,
            },
            digest: [7; 32],
            taken_at,
        }
    }

    #[test]
    fn a_record_is_racy_when_the_file_changed_within_the_margin() {
        let old = (1_000, 0);
        assert!(
            !record(old, old, (1_002, 1)).is_racy(),
            "2 s and 1 ns later"
        );
        assert!(record(old, old, (1_002, 0)).is_racy(), "exactly the margin");
        assert!(record((1_001, 999_999_999), old, (1_003, 0)).is_racy());
        assert!(
            record(old, (1_001, 5), (1_003, 0)).is_racy(),
            "ctime counts"
        );
        assert!(
            record(old, old, (999, 0)).is_racy(),
            "a file from the future"
        );
    }

    #[test]
    fn records_round_trip_and_garbage_is_no_record() {
        let r = record((-5, 7), (1_700_000_000, 999_999_999), (1_800_000_000, 1));
        assert_eq!(Record::decode(&r.encode()), Some(r));
        assert_eq!(Record::decode(&r.encode()[1..]), None);
        assert_eq!(Record::decode(b""), None);
    }

    #[test]
    fn time_before_the_epoch_splits_into_a_negative_second_and_positive_nanos() {
        let t = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(split(t), (-2, 500_000_000));
        assert_eq!(split(UNIX_EPOCH + Duration::new(3, 4)), (3, 4));
    }
}
