//! [`Clock`]: the one source of "now" in the server. Every decision that depends on the
//! time — API and enrollment token expiry, envoy staleness, the issue time of a signed
//! bundle (and so its max age), resync, certificate renewal and expiry, the retention
//! cut-off, replay-window pruning, refusal windows — asks the clock held by
//! [`crate::state::AppState`] instead of the operating system.
//!
//! Production runs on [`Clock::system`]. Tests build a [`Clock::manual`] clock and move
//! it ([`Clock::advance`], [`Clock::set`]) instead of sleeping.
//!
//! A test that runs the real `vigosrv` binary reaches the time of that process only with
//! the cargo feature `test-clock` (enabled by this crate's own dev-dependency on itself,
//! so `cargo build`/`cargo install` never have it): then, when
//! [`TEST_CLOCK_FILE_ENV`] names a file, the clock is the system time plus the signed
//! number of seconds that file holds, re-read at each reading (a missing or empty file
//! is 0). Without the feature the variable is ignored.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

/// With the `test-clock` feature: the variable naming the file that holds the offset, in
/// seconds, that the process's clock adds to the system time ([`vigo_core::test_clock`]).
pub use vigo_core::test_clock::TEST_CLOCK_FILE_ENV;

/// Where "now" comes from. Cheap to clone; clones share a manual clock's time.
#[derive(Clone, Default)]
pub struct Clock(Source);

#[derive(Clone, Default)]
enum Source {
    /// The operating system's clock.
    #[default]
    System,
    /// A time set by hand, in Unix nanoseconds; it moves only when told.
    Manual(Arc<AtomicI64>),
    /// The system time plus the seconds in a file (feature `test-clock` only).
    #[cfg(feature = "test-clock")]
    OffsetFile(Arc<std::path::Path>),
}

impl Clock {
    /// The operating system's clock.
    pub fn system() -> Clock {
        Clock(Source::System)
    }

    /// The clock of this process: [`Clock::system`], or (feature `test-clock` only) the
    /// system clock shifted by the file named in [`TEST_CLOCK_FILE_ENV`].
    pub fn for_process() -> Clock {
        #[cfg(feature = "test-clock")]
        if let Some(path) = std::env::var_os(TEST_CLOCK_FILE_ENV) {
            return Clock(Source::OffsetFile(std::path::PathBuf::from(path).into()));
        }
        Clock::system()
    }

    /// A clock standing still at `start` until [`Clock::advance`] or [`Clock::set`].
    pub fn manual(start: OffsetDateTime) -> Clock {
        Clock(Source::Manual(Arc::new(AtomicI64::new(unix_nanos(start)))))
    }

    /// Now.
    pub fn now(&self) -> OffsetDateTime {
        match &self.0 {
            Source::System => OffsetDateTime::now_utc(),
            Source::Manual(nanos) => from_unix_nanos(nanos.load(Ordering::SeqCst)),
            #[cfg(feature = "test-clock")]
            Source::OffsetFile(path) => {
                let offset = vigo_core::test_clock::offset_seconds(path);
                OffsetDateTime::now_utc()
                    .checked_add(time::Duration::seconds(offset))
                    .unwrap_or_else(OffsetDateTime::now_utc)
            }
        }
    }

    /// Now, in Unix seconds.
    pub fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Moves a manual clock forward by `by`. A system clock cannot be moved: `false`.
    pub fn advance(&self, by: Duration) -> bool {
        match &self.0 {
            Source::Manual(nanos) => {
                let by = i64::try_from(by.as_nanos()).unwrap_or(i64::MAX);
                // fetch_update cannot fail with a closure that always returns Some.
                let _ = nanos.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    Some(n.saturating_add(by))
                });
                true
            }
            _ => false,
        }
    }

    /// Sets a manual clock to `at`. A system clock cannot be set: `false`.
    pub fn set(&self, at: OffsetDateTime) -> bool {
        match &self.0 {
            Source::Manual(nanos) => {
                nanos.store(unix_nanos(at), Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::System => f.write_str("Clock::System"),
            Source::Manual(_) => write!(f, "Clock::Manual({})", self.now()),
            #[cfg(feature = "test-clock")]
            Source::OffsetFile(path) => write!(f, "Clock::OffsetFile({})", path.display()),
        }
    }
}

/// `t` in Unix nanoseconds, clamped to what an `i64` holds (years ±292).
fn unix_nanos(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos()).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

fn from_unix_nanos(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let clock = Clock::manual(start);
        let clone = clock.clone();
        assert_eq!(clock.unix(), 1_700_000_000);
        assert!(clock.advance(Duration::from_secs(90)));
        assert_eq!(clone.unix(), 1_700_000_090);
        let later = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        assert!(clone.set(later));
        assert_eq!(clock.now(), later);
    }

    #[test]
    fn the_system_clock_cannot_be_moved() {
        let clock = Clock::system();
        assert!(!clock.advance(Duration::from_secs(1)));
        assert!(!clock.set(OffsetDateTime::UNIX_EPOCH));
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!((clock.unix() - now).abs() <= 1);
    }
}
