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
//! It goes through the one [`crate::pipeline`]: like `vigo run` it takes the convergence
//! lock first, removes what an interrupted run left, and SIGTERM/SIGINT let the resource
//! finish, then stop.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::CommandFactory as _;
use serde_json::{Map, Value};
use vigo_core::types;

use crate::cli::{Cli, ResourceArgs};
use crate::engine::{Plan, PlannedResource, Sensitive};
use crate::pipeline::{DEFAULT_TIMEOUT, Pipeline, finish};
use crate::preempt::Role;
use crate::settings::Settings;

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

/// The text of `vigo resource --help` (usage and the built-in types) or of
/// `vigo resource TYPE --help` (the type's attributes, from its definition).
pub fn help_text(type_name: Option<&str>) -> Result<String> {
    let Some(type_name) = type_name else {
        let mut cmd = Cli::command();
        cmd.build();
        let usage = cmd
            .find_subcommand_mut("resource")
            .map(|c| c.render_long_help().to_string())
            .unwrap_or_default();
        return Ok(format!("{usage}\n{}", types::help::types_list()));
    };
    match types::lookup(type_name) {
        Some(t) => Ok(types::help::type_help(t)),
        None => {
            let hint =
                vigo_core::suggest::did_you_mean(type_name, types::TYPES.iter().map(|t| t.name))
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
            Err(anyhow!(
                "`{type_name}` is not a built-in type{hint}; a custom executor takes the attributes its script reads\n\n{}",
                types::help::types_list()
            ))
        }
    }
}

/// Prints [`help_text`].
pub fn help(type_name: Option<&str>) -> Result<ExitCode> {
    print!("{}", help_text(type_name)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs `vigo resource`; `global_dry_run` is the top-level `vigo --dry-run`; `stop` is set
/// by SIGTERM/SIGINT.
pub fn run(
    settings: &Settings,
    args: &ResourceArgs,
    global_dry_run: bool,
    stop: &AtomicBool,
) -> Result<ExitCode> {
    let (Some(type_name), Some(name)) = (&args.type_name, &args.name) else {
        bail!("`vigo resource` needs TYPE and NAME (see `vigo resource --help`)");
    };
    let attributes = attributes(args)?;
    let timeout = timeout_of(&attributes)?;
    let mut sensitive = Sensitive::default();
    if matches!(attributes.get("sensitive"), Some(v) if v == &Value::Bool(true) || v == "true") {
        sensitive.mark_all();
    }
    let plan = Plan {
        resources: vec![PlannedResource {
            id: format!("cli/{name}"),
            configcrate: "cli".to_owned(),
            type_name: type_name.clone(),
            name: name.clone(),
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
    let guard = Pipeline::lock(Role::Resource, stop)?;
    let state = crate::state::StateStore::open_optional(&settings.state_dir);
    let pipeline = Pipeline {
        settings,
        guard: &guard,
        stop,
        dry_run: args.dry_run || global_dry_run,
        quiet: false,
        state: state.as_ref(),
    };
    finish(&pipeline.run(&plan, &[]), args.json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(attrs: &[&str], json: Option<&str>) -> ResourceArgs {
        ResourceArgs {
            type_name: Some("file".into()),
            name: Some("x".into()),
            attributes: attrs.iter().map(|s| (*s).to_owned()).collect(),
            attrs: json.map(str::to_owned),
            dry_run: false,
            json: false,
            help: false,
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
    fn help_lists_the_types_and_each_types_attributes() {
        insta::assert_snapshot!("resource_help", help_text(None).unwrap());
        insta::assert_snapshot!("resource_file_help", help_text(Some("file")).unwrap());
        insta::assert_snapshot!("resource_ini_help", help_text(Some("ini")).unwrap());
        insta::assert_snapshot!(
            "resource_unknown_help",
            help_text(Some("fiel")).unwrap_err().to_string()
        );
    }

    #[test]
    fn help_parses_without_type_or_name() {
        use clap::Parser as _;
        let cli = Cli::try_parse_from(["vigo", "resource", "--help"]).unwrap();
        let Some(crate::cli::Command::Resource(args)) = cli.command else {
            panic!("not the resource command")
        };
        assert!(args.help && args.type_name.is_none());
        let cli = Cli::try_parse_from(["vigo", "resource", "file", "--help"]).unwrap();
        let Some(crate::cli::Command::Resource(args)) = cli.command else {
            panic!("not the resource command")
        };
        assert_eq!(args.type_name.as_deref(), Some("file"));
        assert!(Cli::try_parse_from(["vigo", "resource", "file"]).is_err());
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
