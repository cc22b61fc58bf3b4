//! Custom executors: an executable in the executors directory (`--executors-dir`, default
//! `/etc/vigo-envoy/executors`) whose file name without extension is a new `type:`.
//!
//! ```sh
//! #!/bin/sh
//! # /etc/vigo-envoy/executors/motd_line.sh   ->   type: motd_line
//! in=$(cat)
//! line=$(printf '%s' "$in" | jq -r '.params.line')
//! dry=$(printf '%s' "$in" | jq -r '.dry_run')
//! if grep -qxF "$line" /etc/motd 2>/dev/null; then
//!   echo '{"action":"none","changed":false,"error":""}'; exit 0
//! fi
//! [ "$dry" = "true" ] || printf '%s\n' "$line" >> /etc/motd
//! echo '{"action":"updated","changed":true,"error":""}'
//! ```
//!
//! Protocol: JSON on stdin, `{"params": {"name": …, <every attribute>}, "dry_run": bool}`;
//! JSON on stdout, `{"action": "created|updated|deleted|skipped|none", "changed": bool,
//! "error": ""}`. The agent's `check` runs the script with `dry_run: true` and its `apply`
//! with `dry_run: false`, so a script that honours `dry_run` gets exact dry-run parity.
//! The script runs in its own process group under the resource's timeout (`timeout:`),
//! killed with SIGTERM then SIGKILL when it expires.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::attrs::AttrError;
use crate::command::{self, CommandSpec};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};

/// One script of the executors directory.
#[derive(Debug, Clone)]
pub struct CustomExecutor {
    type_name: String,
    script: PathBuf,
}

impl CustomExecutor {
    /// The executor for `script`, named after its file stem.
    pub fn new(script: PathBuf) -> Option<Self> {
        let stem = script.file_stem()?.to_str()?.to_owned();
        let valid = !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        valid.then_some(Self {
            type_name: stem,
            script,
        })
    }

    /// The script's path.
    pub fn script(&self) -> &Path {
        &self.script
    }
}

/// Every executable regular file in `dir` (none when the directory does not exist).
pub fn discover(dir: &Path) -> Vec<CustomExecutor> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<CustomExecutor> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .filter_map(|e| CustomExecutor::new(e.path()))
        .collect();
    found.sort_by(|a, b| a.type_name.cmp(&b.type_name));
    found
}

#[derive(Debug, Clone)]
struct CustomResource {
    script: PathBuf,
    params: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct Reply {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    changed: Option<bool>,
    #[serde(default)]
    error: Option<String>,
}

impl Executor for CustomExecutor {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut params = decl.attributes.clone();
        params.insert("name".into(), Value::String(decl.name.to_owned()));
        Ok(Box::new(CustomResource {
            script: self.script.clone(),
            params,
        }))
    }
}

impl CustomResource {
    fn call(&self, dry_run: bool, ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let input = json!({ "params": self.params, "dry_run": dry_run }).to_string();
        let out = command::run(
            &CommandSpec::new([self.script.as_os_str()])
                .stdin(input)
                .timeout(ctx.timeout),
        )?;
        let script = self.script.display();
        if out.timed_out {
            return Err(ExecError::failed(format!(
                "custom executor {script} {}",
                out.describe_exit()
            )));
        }
        let stdout = out.stdout_str();
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let stderr = || format!("; stderr: {}", out.stderr_str().trim());
        let reply: Reply = serde_json::from_str(line).map_err(|e| ExecError::Output {
            summary: format!(
                "custom executor {script} ({}) did not answer with JSON on stdout ({e})",
                out.describe_exit(),
            ),
            output: stderr(),
        })?;
        if let Some(err) = reply.error.filter(|e| !e.is_empty()) {
            return Err(ExecError::Output {
                summary: format!("custom executor {script} reported an error"),
                output: format!(": {err}"),
            });
        }
        if !out.success() {
            return Err(ExecError::Output {
                summary: format!("custom executor {script} {}", out.describe_exit()),
                output: stderr(),
            });
        }
        let action = reply.action.unwrap_or_else(|| {
            if reply.changed == Some(true) {
                "updated".into()
            } else {
                "none".into()
            }
        });
        let kind = match action.as_str() {
            "none" => return Ok(Drift::InSync),
            "skipped" => {
                return Ok(Drift::Skipped(format!(
                    "custom executor {script} skipped it"
                )));
            }
            "created" => ChangeKind::Create,
            "updated" => ChangeKind::Update,
            "deleted" => ChangeKind::Delete,
            other => {
                return Err(ExecError::failed(format!(
                    "custom executor {script} answered action \"{other}\"; expected created, updated, deleted, skipped or none"
                )));
            }
        };
        Ok(Drift::change(
            kind,
            vec![Difference::new("custom", "drift", action)],
        ))
    }
}

impl Prepared for CustomResource {
    fn check(&self, ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        self.call(true, ctx)
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        if matches!(drift, Drift::Change { .. }) {
            self.call(false, ctx)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    use super::*;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    const CTX: Ctx<'static> = Ctx {
        snapshots: None,
        timeout: Duration::from_secs(10),
    };

    #[test]
    fn discovers_executables_by_stem() {
        let tmp = tempfile::tempdir().unwrap();
        script(tmp.path(), "motd_line.sh", "true");
        fs::write(tmp.path().join("not_exec.sh"), "").unwrap();
        let found = discover(tmp.path());
        assert_eq!(
            found.iter().map(|e| e.type_name()).collect::<Vec<_>>(),
            vec!["motd_line"]
        );
        assert!(discover(Path::new("/nonexistent/vigo")).is_empty());
    }

    #[test]
    fn protocol_round_trip_with_dry_run_parity() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("motd");
        let body = format!(
            r#"in=$(cat)
line=$(printf '%s' "$in" | sed -n 's/.*"line":"\([^"]*\)".*/\1/p')
dry=$(printf '%s' "$in" | sed -n 's/.*"dry_run":\(true\|false\).*/\1/p')
if grep -qxF "$line" {t} 2>/dev/null; then echo '{{"action":"none","changed":false,"error":""}}'; exit 0; fi
[ "$dry" = "true" ] || printf '%s\n' "$line" >> {t}
echo '{{"action":"updated","changed":true,"error":""}}'"#,
            t = target.display()
        );
        let exe = CustomExecutor::new(script(tmp.path(), "motd_line.sh", &body)).unwrap();
        let mut attrs = Map::new();
        attrs.insert("line".into(), json!("hello"));
        let p = exe
            .prepare(&ResourceDecl {
                type_name: "motd_line",
                name: "m",
                attributes: &attrs,
            })
            .unwrap();
        let d = p.check(&CTX).unwrap();
        assert!(matches!(
            d,
            Drift::Change {
                kind: ChangeKind::Update,
                ..
            }
        ));
        assert!(!target.exists(), "check ran the script in dry-run");
        p.apply(&d, &CTX).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "hello\n");
        assert_eq!(p.check(&CTX).unwrap(), Drift::InSync);
    }

    #[test]
    fn errors_are_reported_with_the_script() {
        let tmp = tempfile::tempdir().unwrap();
        let attrs = Map::new();
        let run = |body: &str, name: &str| {
            let exe = CustomExecutor::new(script(tmp.path(), name, body)).unwrap();
            let p = exe
                .prepare(&ResourceDecl {
                    type_name: name,
                    name: "r",
                    attributes: &attrs,
                })
                .unwrap();
            p.check(&CTX).unwrap_err().to_string()
        };
        let e = run(
            r#"cat >/dev/null; echo '{"action":"none","error":"disk on fire"}'"#,
            "a",
        );
        assert!(e.ends_with("a reported an error: disk on fire"), "{e}");
        let e = run("cat >/dev/null; echo not json", "b");
        assert!(e.contains("did not answer with JSON on stdout"), "{e}");
        let e = run(r#"cat >/dev/null; echo '{"action":"exploded"}'"#, "c");
        assert!(
            e.ends_with(
                "answered action \"exploded\"; expected created, updated, deleted, skipped or none"
            ),
            "{e}"
        );
    }

    #[test]
    fn timeout_kills_the_script() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = CustomExecutor::new(script(tmp.path(), "slow", "sleep 30")).unwrap();
        let attrs = Map::new();
        let p = exe
            .prepare(&ResourceDecl {
                type_name: "slow",
                name: "r",
                attributes: &attrs,
            })
            .unwrap();
        let ctx = Ctx {
            snapshots: None,
            timeout: Duration::from_millis(200),
        };
        let started = std::time::Instant::now();
        let e = p.check(&ctx).unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
