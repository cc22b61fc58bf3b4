//! [`TestClock`]: one offset moving the clocks of the real `vigosrv` and `vigo` processes
//! a test started (both built with their dev-only `test-clock` feature), instead of
//! waiting for time to pass.
//!
//! Each process reads its own offset file, named by
//! [`vigo_core::test_clock::TEST_CLOCK_FILE_ENV`]; the server's lies in its data dir, an
//! agent's inside its sandbox (the agent sees only the sandbox's files). [`TestClock::set`]
//! writes the same number of seconds to every file, so server and agents agree on "now".

use std::path::{Path, PathBuf};

use vigo_core::test_clock::TEST_CLOCK_FILE_ENV;

use crate::{Error, SandboxRoot};

/// The agent's offset file, inside its sandbox.
const AGENT_FILE: &str = "/var/tmp/vigo-test-clock-offset";

/// The server's offset file's name, in its data dir.
const SERVER_FILE: &str = "test-clock-offset";

/// The offset files of a test's processes, all moved together.
#[derive(Debug, Clone, Default)]
pub struct TestClock {
    files: Vec<PathBuf>,
}

impl TestClock {
    /// A clock no process reads yet (offset 0).
    pub fn new() -> TestClock {
        TestClock::default()
    }

    /// The variable that points a `vigosrv` on `dir` at its offset file, which this clock
    /// moves from now on (pass it to [`crate::VigosrvOptions::env`]).
    pub fn server_env(&mut self, dir: &Path) -> (&'static str, PathBuf) {
        let file = dir.join(SERVER_FILE);
        self.add(file.clone());
        (TEST_CLOCK_FILE_ENV, file)
    }

    /// The variable that points agents run in a sandbox at their offset file (pass it
    /// to [`crate::SandboxBuilder::env`]); [`TestClock::attach`] the sandbox once built.
    pub fn agent_env() -> (&'static str, &'static str) {
        (TEST_CLOCK_FILE_ENV, AGENT_FILE)
    }

    /// This clock moves the agents of `root` (built with [`TestClock::agent_env`]) too.
    pub fn attach(&mut self, root: &SandboxRoot) {
        self.add(root.host_path(AGENT_FILE));
    }

    /// Every process's clock is the system time plus `secs` from now on.
    pub fn set(&self, secs: i64) -> Result<(), Error> {
        for file in &self.files {
            std::fs::write(file, secs.to_string())
                .map_err(Error::io("writing the test clock offset", file.clone()))?;
        }
        Ok(())
    }

    /// Whether the `vigo` or `vigosrv` executable at `binary` was built with its
    /// `test-clock` feature, so that this clock moves it: only such a build refers to
    /// the variable's name, which an ordinary build does not contain at all.
    pub fn moves(binary: &Path) -> Result<bool, Error> {
        let bytes = std::fs::read(binary).map_err(Error::io("reading the executable", binary))?;
        let name = TEST_CLOCK_FILE_ENV.as_bytes();
        Ok(bytes.windows(name.len()).any(|w| w == name))
    }

    fn add(&mut self, file: PathBuf) {
        if !self.files.contains(&file) {
            self.files.push(file);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_executable_naming_the_variable_is_moved() {
        let dir = tempfile::tempdir().unwrap();
        let (with, without) = (dir.path().join("with"), dir.path().join("without"));
        std::fs::write(&with, format!("\x7fELF..{TEST_CLOCK_FILE_ENV}..")).unwrap();
        std::fs::write(&without, "\x7fELF....").unwrap();
        assert!(TestClock::moves(&with).unwrap());
        assert!(!TestClock::moves(&without).unwrap());
        assert!(TestClock::moves(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn set_writes_one_offset_that_each_process_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut clock = TestClock::new();
        let (name, file) = clock.server_env(dir.path());
        assert_eq!(name, TEST_CLOCK_FILE_ENV);
        assert_eq!(vigo_core::test_clock::offset_seconds(&file), 0, "unset");
        clock.set(2_460).unwrap();
        assert_eq!(vigo_core::test_clock::offset_seconds(&file), 2_460);
        clock.set(-5).unwrap();
        assert_eq!(vigo_core::test_clock::offset_seconds(&file), -5);
    }
}
