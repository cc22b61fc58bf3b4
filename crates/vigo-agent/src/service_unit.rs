//! Installing the agent as the systemd service `vigo-envoy.service`
//! (`vigo bootstrap --install-service`).
//!
//! The unit runs `vigo daemon`, restarts it when it dies, and gives it the hardening the
//! agent also applies to itself (no core dumps). Installation writes the unit atomically,
//! reloads systemd, then enables and starts the service — through the real `systemctl`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use vigo_exec::atomic::{FileMeta, write_file};
use vigo_exec::command::{CommandSpec, run};

/// Where the unit is installed.
pub const UNIT_PATH: &str = "/etc/systemd/system/vigo-envoy.service";
/// The unit's name.
pub const UNIT_NAME: &str = "vigo-envoy.service";

/// Errors installing the service; each says which step failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Writing the unit file failed.
    #[error("writing {path}: {message}")]
    Write {
        /// The unit path.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A `systemctl` call failed.
    #[error("`{command}` failed ({exit}): {stderr}")]
    Systemctl {
        /// The command line.
        command: String,
        /// How it ended.
        exit: String,
        /// What it printed on stderr.
        stderr: String,
    },
}

/// The unit text for an agent binary at `exe`.
pub fn unit_text(exe: &Path) -> String {
    format!(
        "\
# Installed by `vigo bootstrap --install-service`.
[Unit]
Description=Vigo envoy agent: converge this machine to its signed policy
Documentation=man:vigo(8)
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
ExecStart={exe} daemon
Restart=always
RestartSec=10s
LimitCORE=0
KillMode=mixed
TimeoutStopSec=150s

[Install]
WantedBy=multi-user.target
",
        exe = exe.display()
    )
}

/// Writes the unit, reloads systemd, enables and starts the service.
pub fn install(exe: &Path) -> Result<(), ServiceError> {
    let path = Path::new(UNIT_PATH);
    let meta = FileMeta {
        mode: Some(0o644),
        uid: Some(0),
        gid: Some(0),
    };
    write_file(path, unit_text(exe).as_bytes(), &meta, None).map_err(|e| ServiceError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    systemctl(&["daemon-reload"])?;
    systemctl(&["enable", "--now", UNIT_NAME])
}

fn systemctl(args: &[&str]) -> Result<(), ServiceError> {
    let spec = CommandSpec::new(std::iter::once("systemctl").chain(args.iter().copied()))
        .timeout(Duration::from_secs(90));
    let failed = |exit: String, stderr: String| ServiceError::Systemctl {
        command: spec.display(),
        exit,
        stderr,
    };
    let out = run(&spec).map_err(|e| failed("not started".into(), e.to_string()))?;
    if out.success() {
        Ok(())
    } else {
        Err(failed(
            out.describe_exit(),
            out.stderr_str().trim().to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_runs_the_daemon_and_restarts_it() {
        let unit = unit_text(Path::new("/usr/local/sbin/vigo"));
        assert!(unit.contains("\nExecStart=/usr/local/sbin/vigo daemon\n"));
        assert!(unit.contains("\nRestart=always\n"));
        assert!(unit.contains("\nLimitCORE=0\n"));
        assert!(unit.contains("\nWantedBy=multi-user.target\n"));
        // Longer than `vigo run`'s 120 s preemption wait, so a stop never cuts a yield.
        assert!(unit.contains("\nTimeoutStopSec=150s\n"));
    }
}
