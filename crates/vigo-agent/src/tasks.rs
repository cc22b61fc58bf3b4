//! Ad-hoc tasks from the held stream: a `TaskDispatch` runs only after its `SignedTask`
//! verifies ([`vigo_core::task::verify`]: the pinned server key, this envoy's id, the
//! validity window) and its id was never received here; then the agent's own guardrails
//! ([`vigo_core::guardrails::dangerous_command`]) apply whatever the server allowed.
//! Every refusal is answered with a `TaskResult` whose `refused` says why.
//!
//! Task ids are remembered as empty files under `<state root>/tasks/` (one per id,
//! created with `O_EXCL`, so two deliveries of one task cannot both run), pruned once
//! older than any signature could be valid. An id is remembered only after the signature
//! checks out, so a forgery cannot burn the id of a real task.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use vigo_core::task::{self, MAX_CLOCK_SKEW_SECS, MAX_VALIDITY_SECS, TaskRefusal};
use vigo_exec::command::{self, CommandSpec};
use vigo_proto::v1::{TaskDispatch, TaskResult, TaskSpec};

use crate::clock::SharedClock;
use crate::enroll::load_pinned_key;

/// The most bytes of stdout and of stderr a task result carries.
pub const MAX_TASK_OUTPUT: usize = 64 * 1024;

/// Runs the tasks addressed to one envoy.
#[derive(Debug, Clone)]
pub struct TaskRunner {
    envoy_id: String,
    pinned_path: PathBuf,
    seen_dir: PathBuf,
    clock: SharedClock,
}

impl TaskRunner {
    /// A runner for `envoy_id` that reads the pinned key at `pinned_path` for each task
    /// (so a key rotation followed at check-in applies at once) and remembers task ids
    /// under `state_root/tasks`; validity windows are judged by `clock`.
    pub fn new(envoy_id: &str, pinned_path: &Path, state_root: &Path, clock: SharedClock) -> Self {
        Self {
            envoy_id: envoy_id.to_owned(),
            pinned_path: pinned_path.to_path_buf(),
            seen_dir: state_root.join("tasks"),
            clock,
        }
    }

    /// Verifies, runs and answers one dispatch (blocking: call it off the async runtime).
    pub fn handle(&self, dispatch: &TaskDispatch) -> TaskResult {
        let refused = |why: String| TaskResult {
            task_id: dispatch.task_id.clone(),
            exit_code: -1,
            refused: why,
            traceparent: dispatch.traceparent.clone(),
            ..Default::default()
        };
        let spec = match self.accept(dispatch) {
            Ok(spec) => spec,
            Err(why) => {
                tracing::warn!(task = %dispatch.task_id, "{why}");
                return refused(why);
            }
        };
        if let Some(why) = vigo_core::guardrails::dangerous_command(&spec.command) {
            let why = format!("refused by the agent's guardrail: {why}");
            tracing::warn!(task = %spec.task_id, "{why}");
            return TaskResult {
                task_id: spec.task_id,
                ..refused(why)
            };
        }
        tracing::info!(task = %spec.task_id, operator = %spec.operator, forced = spec.forced, "running task");
        run(&spec)
    }

    /// The verified task, or why it is refused.
    fn accept(&self, dispatch: &TaskDispatch) -> Result<TaskSpec, String> {
        let signed = dispatch
            .signed
            .as_ref()
            .ok_or_else(|| TaskRefusal::Unsigned.to_string())?;
        let pinned = load_pinned_key(&self.pinned_path)
            .map_err(|e| format!("refused: the pinned server key cannot be read: {e}"))?
            .ok_or_else(|| {
                format!(
                    "refused: no pinned server key at {}",
                    self.pinned_path.display()
                )
            })?;
        let mut remember_error = None;
        let spec = task::verify(
            signed,
            &pinned,
            &self.envoy_id,
            self.clock.now_unix(),
            |id| match self.remember(id) {
                Ok(first) => !first,
                Err(e) => {
                    remember_error = Some(e);
                    true
                }
            },
        );
        if let Some(e) = remember_error {
            return Err(format!(
                "refused: the task id cannot be recorded in {}: {e}",
                self.seen_dir.display()
            ));
        }
        let spec = spec.map_err(|e| e.to_string())?;
        if let Some(bad) = spec
            .params
            .keys()
            .find(|k| k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(format!(
                "refused: parameter name {bad:?} is not letters, digits and _"
            ));
        }
        Ok(spec)
    }

    /// Records `task_id`; true when it was not recorded before.
    fn remember(&self, task_id: &str) -> std::io::Result<bool> {
        std::fs::create_dir_all(&self.seen_dir)?;
        self.prune();
        let name = hex::encode(Sha256::digest(task_id.as_bytes()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.seen_dir.join(name))
        {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Drops ids older than any task signature can be valid (they would be refused as
    /// expired anyway).
    fn prune(&self) {
        let keep = Duration::from_secs((MAX_VALIDITY_SECS + 2 * MAX_CLOCK_SKEW_SECS) as u64);
        let Ok(entries) = std::fs::read_dir(&self.seen_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| SystemTime::now().duration_since(t).unwrap_or_default() > keep);
            if old && let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::debug!("pruning task id {}: {e}", entry.path().display());
            }
        }
    }
}

/// Runs a verified task with its timeout, niceness and parameters (as `VIGO_PARAM_<NAME>`).
fn run(spec: &TaskSpec) -> TaskResult {
    let mut cmd = CommandSpec::shell(&spec.command)
        .timeout(Duration::from_secs(u64::from(spec.timeout_secs)))
        .max_output(MAX_TASK_OUTPUT);
    cmd.nice = spec.nice;
    for (k, v) in &spec.params {
        cmd = cmd.env(format!("VIGO_PARAM_{}", k.to_ascii_uppercase()), v);
    }
    let base = TaskResult {
        task_id: spec.task_id.clone(),
        traceparent: spec.traceparent.clone(),
        ..Default::default()
    };
    match command::run(&cmd) {
        Ok(out) => {
            let mut stderr = out.stderr;
            if out.timed_out {
                stderr.extend_from_slice(
                    format!("\n[vigo: timed out after {}s]\n", spec.timeout_secs).as_bytes(),
                );
            }
            TaskResult {
                exit_code: out.code.unwrap_or(-1),
                stdout: out.stdout,
                stderr,
                stdout_truncated: out.stdout_truncated,
                stderr_truncated: out.stderr_truncated,
                duration_micros: u64::try_from(out.duration.as_micros()).unwrap_or(u64::MAX),
                ..base
            }
        }
        Err(e) => TaskResult {
            exit_code: -1,
            stderr: vigo_core::error::chain(&e).into_bytes(),
            ..base
        },
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use vigo_proto::v1::SignedTask;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    const ME: &str = "0b0c3b5e-7d2b-4b8e-8f53-6c2f9a3e1d10";

    struct Fixture {
        dir: tempfile::TempDir,
        runner: TaskRunner,
        key: SigningKey,
        clock: ManualClock,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_bytes(&[9; 32]);
        let pinned = dir.path().join("server.pub");
        crate::enroll::pin_server_key(&pinned, &key.verifying_key()).unwrap();
        let clock = ManualClock::at(crate::clock::now_unix());
        let runner = TaskRunner::new(ME, &pinned, dir.path(), std::sync::Arc::new(clock.clone()));
        Fixture {
            dir,
            runner,
            key,
            clock,
        }
    }

    impl Fixture {
        /// A task for this envoy, valid for two minutes from now.
        fn spec(&self, id: &str, command: &str) -> TaskSpec {
            let now = self.clock.now_unix();
            TaskSpec {
                task_id: id.into(),
                envoy_id: ME.into(),
                issued_unix: now,
                expires_unix: now + 120,
                command: command.into(),
                timeout_secs: 10,
                params: [("who".to_string(), "world".to_string())].into(),
                ..Default::default()
            }
        }

        /// `spec` signed by the pinned key, as the server dispatches it.
        fn dispatch(&self, spec: &TaskSpec) -> TaskDispatch {
            TaskDispatch {
                task_id: spec.task_id.clone(),
                signed: Some(task::sign(spec, &self.key)),
                ..Default::default()
            }
        }
    }

    #[test]
    fn a_signed_task_runs_once_and_its_replay_is_refused() {
        let f = fixture();
        let d = f.dispatch(&f.spec("t1", "echo hello $VIGO_PARAM_WHO; exit 3"));
        let r = f.runner.handle(&d);
        assert_eq!(r.refused, "");
        assert_eq!(r.exit_code, 3);
        assert_eq!(r.stdout, b"hello world\n");
        let again = f.runner.handle(&d);
        assert_eq!(
            again.refused,
            "refused: task t1 was already received by this envoy (replay)"
        );
        assert!(again.stdout.is_empty());
    }

    #[test]
    fn unsigned_and_forged_tasks_never_run_and_do_not_burn_the_id() {
        let f = fixture();
        let marker = f.dir.path().join("ran");
        let command = format!("touch {}", marker.display());
        let unsigned = TaskDispatch {
            task_id: "t2".into(),
            command: command.clone(),
            timeout_secs: 10,
            ..Default::default()
        };
        assert!(f.runner.handle(&unsigned).refused.contains("not signed"));
        let real = f.dispatch(&f.spec("t2", &command));
        let other = SigningKey::from_bytes(&[1; 32]);
        let forged = TaskDispatch {
            signed: Some(SignedTask {
                signature: task::sign(&TaskSpec::default(), &other).signature,
                ..real.signed.clone().unwrap()
            }),
            ..real.clone()
        };
        assert!(
            f.runner
                .handle(&forged)
                .refused
                .contains("bad task signature")
        );
        assert!(!marker.exists(), "nothing ran");
        // The real task with that id still runs.
        assert_eq!(f.runner.handle(&real).refused, "");
        assert!(marker.exists());
    }

    #[test]
    fn the_agents_guardrail_refuses_what_the_server_signed() {
        let f = fixture();
        let r = f
            .runner
            .handle(&f.dispatch(&f.spec("t3", "systemctl stop vigo-envoy")));
        assert_eq!(
            r.refused,
            "refused by the agent's guardrail: `systemctl stop` of a Vigo service"
        );
    }

    #[test]
    fn an_expired_task_is_refused_with_how_long_ago() {
        let f = fixture();
        let d = f.dispatch(&f.spec("t4", "true"));
        f.clock.advance(200);
        assert_eq!(
            f.runner.handle(&d).refused,
            "refused: the task expired 80s ago"
        );
    }

    #[test]
    fn output_is_bounded_and_a_timeout_is_said() {
        let f = fixture();
        let spec = TaskSpec {
            timeout_secs: 1,
            ..f.spec("t5", "head -c 200000 /dev/zero; sleep 30")
        };
        let r = f.runner.handle(&f.dispatch(&spec));
        assert_eq!(r.stdout.len(), MAX_TASK_OUTPUT);
        assert!(r.stdout_truncated);
        assert!(String::from_utf8_lossy(&r.stderr).contains("[vigo: timed out after 1s]"));
    }
}
