//! The result of a command run inside a fixture, and the one host-command helper the
//! harness uses (over `vigo_exec::command`, the project's only command runner).

use std::time::Duration;

use vigo_exec::command::{self, CommandSpec};

use crate::Error;

/// What a command printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when killed by a signal or timed out.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `spec` on the host, returning its output whatever the exit code.
pub(crate) fn run(spec: &CommandSpec) -> Result<Output, Error> {
    let out = command::run(spec).map_err(|e| Error::Other(e.to_string()))?;
    Ok(Output {
        code: if out.timed_out { None } else { out.code },
        stdout: out.stdout_str(),
        stderr: if out.timed_out {
            format!("{}\n(timed out)", out.stderr_str())
        } else {
            out.stderr_str()
        },
    })
}

/// Runs a host command that must succeed.
pub(crate) fn must(what: &str, argv: &[&str], timeout: Duration) -> Result<Output, Error> {
    let spec = CommandSpec::new(argv.iter().copied()).timeout(timeout);
    let out = run(&spec)?;
    if out.success() {
        Ok(out)
    } else {
        Err(Error::Command {
            what: what.to_owned(),
            command: spec.display(),
            exit: out.code.map_or_else(
                || "killed or timed out".to_owned(),
                |c| format!("exit code {c}"),
            ),
            stderr: out.stderr.trim().to_owned(),
        })
    }
}

/// The environment commands inside fixtures start with: nothing from the test process.
pub(crate) const CLEAN_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("LANG", "C.UTF-8"),
    ("TERM", "dumb"),
    ("DEBIAN_FRONTEND", "noninteractive"),
];

/// `env -i K=V… ` prefix for a command run inside a fixture.
pub(crate) fn clean_env_argv() -> Vec<String> {
    let mut argv = vec!["env".to_owned(), "-i".to_owned()];
    argv.extend(CLEAN_ENV.iter().map(|(k, v)| format!("{k}={v}")));
    argv
}
