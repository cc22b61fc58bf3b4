//! `service`: a systemd unit — running or stopped, enabled or not, restarted or reloaded
//! when notified.
//!
//! ```yaml
//! - name: nginx-running
//!   type: service
//!   service: nginx
//!   state: running              # running | stopped | restarted | reloaded
//!   enabled: true               # omit to leave the boot setting alone
//! - name: nginx-reload
//!   type: service
//!   service: nginx
//!   state: reloaded             # always a change: only as a notify target
//!   when: "changed"
//!   reload_command: "nginx -s reload"   # instead of systemctl reload
//! ```
//!
//! State is read with `systemctl is-active` / `is-enabled` and changed with `systemctl`.
//! When the unit's file changed on disk since systemd loaded it (`NeedDaemonReload`), the
//! change starts with `systemctl daemon-reload`, as Puppet's systemd provider does.
//! `restarted` and `reloaded` always report a change, so the language requires them to be
//! gated by `when: "changed"` (the engine runs them only when a notifier changed).

use std::time::Duration;

use vigo_core::types;

use crate::attrs::{AttrError, Attrs};
use crate::command::{self, CommandSpec};
use crate::contract::{
    ChangeKind, Ctx, Difference, Drift, ExecError, Executor, Prepared, ResourceDecl,
};

/// The `service` executor.
#[derive(Debug, Default)]
pub struct ServiceExecutor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Running,
    Stopped,
    Restarted,
    Reloaded,
}

#[derive(Debug, Clone)]
struct ServiceSpec {
    unit: String,
    state: Wanted,
    enabled: Option<bool>,
    restart_command: Option<String>,
    reload_command: Option<String>,
}

impl Executor for ServiceExecutor {
    fn type_name(&self) -> &str {
        types::service::TYPE.name
    }

    fn prepare(&self, decl: &ResourceDecl<'_>) -> Result<Box<dyn Prepared>, AttrError> {
        let mut a = Attrs::new(&types::service::TYPE, decl.name, decl.attributes)?;
        // The unit name is checked by the definition (`Attrs::new`).
        let unit = a.req_str("service")?;
        let state = match a.req_enum("state")?.as_str() {
            "running" => Wanted::Running,
            "stopped" => Wanted::Stopped,
            "restarted" => Wanted::Restarted,
            _ => Wanted::Reloaded,
        };
        // `enabled: ""` means "leave as is", as in the reference.
        let enabled = match a.opt_str("enabled")?.as_deref() {
            None | Some("") => None,
            Some(_) => a.opt_bool("enabled")?,
        };
        let restart_command = a.opt_str("restart_command")?;
        let reload_command = a.opt_str("reload_command")?;
        a.finish()?;
        Ok(Box::new(ServiceSpec {
            unit,
            state,
            enabled,
            restart_command,
            reload_command,
        }))
    }
}

fn systemctl(args: &[&str], timeout: Duration) -> Result<command::CommandOutput, ExecError> {
    Ok(command::run(
        &CommandSpec::new(std::iter::once("systemctl").chain(args.iter().copied()))
            .timeout(timeout),
    )?)
}

fn must(what: &str, out: &command::CommandOutput) -> Result<(), ExecError> {
    if out.success() {
        return Ok(());
    }
    let detail = [out.stderr_str(), out.stdout_str()].join(" ");
    Err(ExecError::failed(format!(
        "{what} failed ({}): {}",
        out.describe_exit(),
        detail.trim()
    )))
}

impl ServiceSpec {
    fn is_active(&self, t: Duration) -> Result<String, ExecError> {
        Ok(systemctl(&["is-active", &self.unit], t)?
            .stdout_str()
            .trim()
            .to_owned())
    }

    /// `enabled`, `disabled`, `static`, `masked`, … or `not-found`.
    fn is_enabled(&self, t: Duration) -> Result<String, ExecError> {
        let out = systemctl(&["is-enabled", &self.unit], t)?;
        let word = out.stdout_str().trim().to_owned();
        Ok(if word.is_empty() {
            "not-found".to_owned()
        } else {
            word
        })
    }
}

impl Prepared for ServiceSpec {
    fn check(&self, ctx: &Ctx<'_>) -> Result<Drift, ExecError> {
        let t = ctx.timeout;
        let enabled_state = self.is_enabled(t)?;
        if enabled_state == "not-found" {
            let load =
                systemctl(&["show", "-p", "LoadState", "--value", &self.unit], t)?.stdout_str();
            if load.trim() == "not-found" {
                return Err(ExecError::failed(format!("unit {} not found", self.unit)));
            }
        }
        let mut diffs = Vec::new();
        let active = self.is_active(t)?;
        match self.state {
            Wanted::Running if active != "active" => {
                diffs.push(Difference::new("state", &active, "active"));
            }
            Wanted::Stopped
                if active == "active" || active == "activating" || active == "reloading" =>
            {
                diffs.push(Difference::new("state", &active, "inactive"));
            }
            Wanted::Restarted => diffs.push(Difference::new("state", &active, "restarted")),
            Wanted::Reloaded => diffs.push(Difference::new("state", &active, "reloaded")),
            _ => {}
        }
        if let Some(want) = self.enabled {
            let is_on = matches!(
                enabled_state.as_str(),
                "enabled" | "enabled-runtime" | "alias"
            );
            if want != is_on {
                if enabled_state == "static" || enabled_state == "masked" {
                    return Err(ExecError::failed(format!(
                        "unit {} is {enabled_state}; it cannot be enabled or disabled",
                        self.unit
                    )));
                }
                diffs.push(Difference::new(
                    "enabled",
                    &enabled_state,
                    if want { "enabled" } else { "disabled" },
                ));
            }
        }
        Ok(if diffs.is_empty() {
            Drift::InSync
        } else {
            Drift::change(ChangeKind::Update, diffs)
        })
    }

    fn apply(&self, drift: &Drift, ctx: &Ctx<'_>) -> Result<(), ExecError> {
        let Drift::Change { differences, .. } = drift else {
            return Ok(());
        };
        let t = ctx.timeout;
        // A unit file changed on disk (often by a `file` resource earlier in this run):
        // systemd must re-read it before it is enabled, started or restarted.
        let need = systemctl(
            &["show", "-p", "NeedDaemonReload", "--value", &self.unit],
            t,
        )?;
        if need.stdout_str().trim() == "yes" {
            must(
                "systemctl daemon-reload",
                &systemctl(&["daemon-reload"], t)?,
            )?;
        }
        if let Some(want) = self.enabled
            && differences.iter().any(|d| d.attribute == "enabled")
        {
            let verb = if want { "enable" } else { "disable" };
            must(
                &format!("systemctl {verb} {}", self.unit),
                &systemctl(&[verb, &self.unit], t)?,
            )?;
        }
        if !differences.iter().any(|d| d.attribute == "state") {
            return Ok(());
        }
        let custom = match self.state {
            Wanted::Restarted => self.restart_command.as_deref(),
            Wanted::Reloaded => self.reload_command.as_deref(),
            _ => None,
        };
        if let Some(script) = custom {
            let out = command::run(&CommandSpec::shell(script).timeout(t))?;
            return must(&format!("`{script}`"), &out);
        }
        let verb = match self.state {
            Wanted::Running => "start",
            Wanted::Stopped => "stop",
            Wanted::Restarted => "restart",
            Wanted::Reloaded => "reload",
        };
        must(
            &format!("systemctl {verb} {}", self.unit),
            &systemctl(&[verb, &self.unit], t)?,
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn prepare(attrs: Value) -> Result<Box<dyn Prepared>, AttrError> {
        let Value::Object(map) = attrs else { panic!() };
        ServiceExecutor.prepare(&ResourceDecl {
            type_name: "service",
            name: "s",
            attributes: &map,
        })
    }

    #[test]
    fn attributes() {
        prepare(json!({"service": "nginx", "state": "running", "enabled": "true"})).unwrap();
        prepare(json!({"service": "getty@tty1.service", "state": "stopped", "enabled": ""}))
            .unwrap();
        let cases = [
            (
                json!({"service": "ngi nx", "state": "running"}),
                "service \"s\": attribute `service`: \"ngi nx\" is not a systemd unit name",
            ),
            (
                json!({"service": "nginx", "state": "up"}),
                "service \"s\": attribute `state`: expected one of running, stopped, restarted, reloaded, found \"up\"",
            ),
            (
                json!({"service": "nginx", "state": "running", "enabled": "sometimes"}),
                "service \"s\": attribute `enabled`: expected true or false, found \"sometimes\"",
            ),
        ];
        for (attrs, expected) in cases {
            assert_eq!(
                prepare(attrs).err().expect("must fail").to_string(),
                expected
            );
        }
    }
}
