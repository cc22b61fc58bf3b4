//! The agent's one source of time. Production code asks a [`Clock`]; the system clock is
//! [`SystemClock`]; tests move a [`ManualClock`] instead of sleeping.
//!
//! A test that runs the real `vigo` binary reaches the time of that process only with
//! the dev-only cargo feature `test-clock` (enabled by this crate's dev-dependency on
//! itself, so `cargo build`/`cargo install` never have it): then, when
//! [`vigo_core::test_clock::TEST_CLOCK_FILE_ENV`] names a file, [`now_unix`] — and so
//! [`SystemClock`] — is the system time plus the seconds that file holds, re-read at each
//! reading, exactly as the server's clock. Without the feature the variable is ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where the agent reads the time (Unix seconds).
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        now_unix()
    }
}

/// A clock that only moves when told to (for tests).
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `now_unix`.
    pub fn at(now_unix: i64) -> Self {
        Self(Arc::new(AtomicI64::new(now_unix)))
    }

    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The shared handle the agent passes around.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock as a shared handle.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// Seconds since the Unix epoch by the system clock (0 if it is before 1970), shifted by
/// the test clock offset file in a `test-clock` build (see the module docs).
pub fn now_unix() -> i64 {
    system_unix().saturating_add(test_offset())
}

fn system_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The seconds the test clock offset file adds (feature `test-clock`; 0 without a file).
#[cfg(feature = "test-clock")]
fn test_offset() -> i64 {
    offset_of(std::env::var_os(vigo_core::test_clock::TEST_CLOCK_FILE_ENV))
}

/// The offset held by the file the variable's value `file` names, if any.
#[cfg(feature = "test-clock")]
fn offset_of(file: Option<std::ffi::OsString>) -> i64 {
    file.map_or(0, |path| {
        vigo_core::test_clock::offset_seconds(path.as_ref())
    })
}

/// Without the `test-clock` feature nothing moves the clock.
#[cfg(not(feature = "test-clock"))]
fn test_offset() -> i64 {
    0
}

#[cfg(all(test, feature = "test-clock"))]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_build_reads_the_offset_from_the_named_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("offset");
        assert_eq!(offset_of(None), 0, "no variable");
        assert_eq!(offset_of(Some(file.clone().into())), 0, "no file yet");
        std::fs::write(&file, "86400").unwrap();
        assert_eq!(offset_of(Some(file.into())), 86_400);
    }
}
