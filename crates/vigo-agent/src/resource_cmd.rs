//! `vigo resource TYPE NAME [KEY=VALUE…]`: converge one resource given on the command
//! line, through the same engine, guardrails, snapshots and trace as a full run — what
//! `puppet resource` and `salt-call state.single` are to those tools.
//!
//! ```console
//! # vigo resource file /etc/motd target_path=/etc/motd content='Managed by Vigo' state=present
//! # vigo resource package tree package=tree state=present --dry-run
//! # vigo resource json_file log-size target_path=/etc/docker/daemon.json key=log-opts.max-size state=present --attrs '{"value": "\"10m\""}'
//! ```
//!
//! Like `vigo run` it takes the convergence lock under the state root first
//! ([`crate::preempt`]) and removes what an interrupted run left ([`crate::leftovers`]);
//! SIGTERM/SIGINT let the resource finish, then stop.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use vigo_exec::executors::Registry;
use vigo_exec::snapshot::SnapshotStore;

use crate::cli::ResourceArgs;
use crate::converge::state_root;
use crate::engine::{self, Options, Plan, PlannedResource, RunReport, Sensitive, Trace};
use crate::leftovers;
use crate::preempt::{self, Role};
use crate::settings::Settings;

/// The per-resource time limit when the resource sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Parses the attributes: the JSON object first, then KEY=VALUE pairs over it.
pub fn attributes(args: &ResourceArgs) -> Result<Map<String, Value>> {
    let mut map = match &args.attrs {
        None => Map::new(),
        Some(text) => {
            match serde_json::from_str::<Value>(text).context("--attrs is not valid JSON")? {
                Value::Object(m) => m,
                _ => bail!("--attrs must be a JSON object"),
            }
        }
    };
    for pair in &args.attributes {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("attribute `{pair}` is not KEY=VALUE");
        };
        if k.is_empty() {
            bail!("attribute `{pair}` has an empty key");
        }
        map.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    Ok(map)
}

/// The time limit a resource asks for (`timeout`/`timeout_secs`), or the default.
pub fn timeout_of(attrs: &Map<String, Value>) -> Result<Duration> {
    for key in ["timeout", "timeout_secs"] {
        if let Some(v) = attrs.get(key) {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return vigo_core::duration::parse(&text).with_context(|| format!("attribute `{key}`"));
        }
    }
    Ok(DEFAULT_TIMEOUT)
}

/// The engine's guardrail check, over vigo-core's lists.
pub fn guardrail(r: &PlannedResource) -> Result<(), String> {
    vigo_core::guardrails::check(&r.configcrate, &r.name, &r.type_name, &r.attributes)
        .map_err(|v| v.0)
}

/// Runs `vigo resource`; `stop` is set by SIGTERM/SIGINT.
pub fn run(settings: &Settings, args: &ResourceArgs, stop: &AtomicBool) -> Result<ExitCode> {
    let attributes = attributes(args)?;
    let timeout = timeout_of(&attributes)?;
    let mut sensitive = Sensitive::default();
    if matches!(attributes.get("sensitive"), Some(v) if v == &Value::Bool(true) || v == "true") {
        sensitive.mark_all();
    }
    let plan = Plan {
        resources: vec![PlannedResource {
            id: format!("cli/{}", args.name),
            configcrate: "cli".to_owned(),
            type_name: args.type_name.clone(),
            name: args.name.clone(),
            attributes,
            sensitive,
            depends_on: Vec::new(),
            notify: Vec::new(),
            notify_target: false,
            skip: None,
            error: None,
            timeout,
        }],
    };
    // Like `vigo run`: take the machine from a converging daemon first.
    let root = state_root();
    let _lock = preempt::acquire_for_run(&root, Role::Resource, preempt::RUN_WAIT, stop)?;
    if !args.dry_run {
        leftovers::sweep(&leftovers::directories(
            [root.as_path(), &settings.data_dir],
            &plan,
        ));
    }
    let registry = Registry::with_custom_dir(&settings.executors_dir);
    let snapshots =
        SnapshotStore::new(&settings.snapshot_dir, settings.snapshot_retention as usize);
    let state = crate::state::StateStore::open_optional(&settings.state_dir);
    let opts = Options {
        dry_run: args.dry_run,
        registry: &registry,
        snapshots: Some(&snapshots),
        guardrail: &guardrail,
        preempted: &|| stop.load(Ordering::SeqCst),
        state: state.as_ref(),
    };
    let report = engine::run(&plan, &opts, &mut Trace::stderr());
    finish(&report, args.json)
}

/// Prints the report as JSON when asked and maps it to the exit code: 0 converged, 2 some
/// resources failed, 1 stopped (SIGTERM/SIGINT) before every resource ran.
pub fn finish(report: &RunReport, json: bool) -> Result<ExitCode> {
    if json {
        println!("{}", serde_json::to_string(report)?);
    }
    if report.preempted {
        tracing::warn!(
            "stopped by a signal after {} resource{}; the rest did not run",
            report.results.len(),
            if report.results.len() == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(if report.failed() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(attrs: &[&str], json: Option<&str>) -> ResourceArgs {
        ResourceArgs {
            type_name: "file".into(),
            name: "x".into(),
            attributes: attrs.iter().map(|s| (*s).to_owned()).collect(),
            attrs: json.map(str::to_owned),
            dry_run: false,
            json: false,
        }
    }

    #[test]
    fn pairs_override_json_and_values_keep_equals_signs() {
        let m = attributes(&args(
            &["content=a=b", "mode=0600"],
            Some(r#"{"mode": "0644", "value": [1]}"#),
        ))
        .unwrap();
        assert_eq!(m["content"], "a=b");
        assert_eq!(m["mode"], "0600");
        assert_eq!(m["value"], serde_json::json!([1]));
        assert!(
            attributes(&args(&["novalue"], None))
                .unwrap_err()
                .to_string()
                .contains("is not KEY=VALUE")
        );
        assert!(
            attributes(&args(&[], Some("[1]")))
                .unwrap_err()
                .to_string()
                .contains("must be a JSON object")
        );
    }

    #[test]
    fn timeouts() {
        let m = attributes(&args(&["timeout=45m"], None)).unwrap();
        assert_eq!(timeout_of(&m).unwrap(), Duration::from_secs(2_700));
        assert_eq!(timeout_of(&Map::new()).unwrap(), DEFAULT_TIMEOUT);
        let m = attributes(&args(&["timeout=soon"], None)).unwrap();
        assert!(timeout_of(&m).is_err());
    }
}
