//! `vigocli envoys`, `vigocli runs` and `vigocli traits`: the fleet as the server sees
//! it.

use owo_colors::OwoColorize;
use serde_json::Value;
use vigo_api::fleet::{Envoy, EnvoyQuery, MAX_RESULTS_PAGE, Run, RunDetail, RunQuery, TraitsQuery};
use vigo_api::{Paging, routes};

use super::Context;
use crate::CliError;
use crate::cli::{EnvoysCmd, RunsCmd, TraitsCmd};
use crate::client::{ApiError, Client};
use crate::output::{
    self, duration_micros, fields, format_unix, opt, opt_time, table, text, yes_no,
};

/// `vigocli envoys …`
pub fn envoys(ctx: &Context, cmd: EnvoysCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    match cmd {
        EnvoysCmd::List {
            status,
            hostname,
            traits,
        } => {
            let filters = traits
                .iter()
                .map(|t| parse_trait_filter(t))
                .collect::<Result<Vec<_>, _>>()?;
            let query = EnvoyQuery {
                status: status.map(Into::into),
                hostname,
                ..EnvoyQuery::default()
            };
            let all: Vec<Envoy> = client.get_all(routes::ENVOYS, &query)?;
            let mut kept = Vec::new();
            for envoy in all {
                if matches_traits(&client, &envoy, &filters)? {
                    kept.push(envoy);
                }
            }
            ctx.show(&kept, |list| print_envoys(list));
        }
        EnvoysCmd::Show { envoy } => {
            let e: Envoy = client.get(routes::ENVOY, &[&envoy], &())?;
            ctx.show(&e, print_envoy);
        }
        EnvoysCmd::Revoke { envoy } => {
            let e: Envoy = client
                .call(routes::ENVOY_REVOKE, &[&envoy], &(), None)?
                .json()?;
            ctx.show(&e, |e| {
                anstream::println!("{} envoy {} ({})", "revoked".red(), e.id, e.hostname);
            });
        }
    }
    Ok(())
}

/// The envoys table. `-` in ENVIRONMENT, LAST SEEN, AGENT and POLICY: the envoy has not
/// checked in (or run) since it enrolled, so the server has no value yet.
fn print_envoys(list: &[Envoy]) {
    let mut t = table(&[
        "ID",
        "HOSTNAME",
        "STATUS",
        "ENVIRONMENT",
        "LAST SEEN",
        "AGENT",
        "POLICY",
    ]);
    for e in list {
        t.add_row([
            e.id.clone(),
            e.hostname.clone(),
            e.status.as_str().to_owned(),
            opt(e.environment.as_deref()),
            opt_time(e.last_seen_at),
            opt(e.agent_version.as_deref()),
            opt(e.policy_version.as_deref()),
        ]);
    }
    output::print_table(&t, "no envoys");
}

/// One envoy; a `null` field says why in words (never checked in, not revoked, …).
fn print_envoy(e: &Envoy) {
    let or = |v: Option<&str>, none: &str| v.map_or_else(|| none.to_owned(), str::to_owned);
    let t = fields(&[
        ("ID", e.id.clone()),
        ("Hostname", e.hostname.clone()),
        ("Status", e.status.as_str().to_owned()),
        ("Environment", or(e.environment.as_deref(), "none yet")),
        ("Address", or(e.address.as_deref(), "unknown")),
        ("Agent version", or(e.agent_version.as_deref(), "unknown")),
        ("Enrolled", format_unix(e.enrolled_at)),
        (
            "Last seen",
            e.last_seen_at
                .map_or_else(|| "never".to_owned(), format_unix),
        ),
        (
            "Revoked",
            e.revoked_at.map_or_else(|| "no".to_owned(), format_unix),
        ),
        (
            "Policy version",
            or(e.policy_version.as_deref(), "none applied yet"),
        ),
        (
            "Traits SHA-256",
            or(e.traits_sha256.as_deref(), "no traits reported yet"),
        ),
        ("Public key", text(&e.public_key)),
        ("Cert serial", text(&e.cert_serial)),
    ]);
    println!("{t}");
}

/// A `--trait PATH=VALUE` filter.
fn parse_trait_filter(text: &str) -> Result<(String, String), CliError> {
    match text.split_once('=') {
        Some((path, value)) if !path.trim().is_empty() => {
            Ok((path.trim().to_owned(), value.to_owned()))
        }
        _ => Err(CliError::BadArgument {
            message: format!("--trait {text:?} is not PATH=VALUE"),
            hint: "write it as --trait os.family=debian".into(),
        }),
    }
}

/// Whether the envoy's traits fit every filter (the API has no trait filter, so each
/// envoy's value is fetched: `GET /envoys/{id}/traits?path=`). An envoy without traits
/// or without the path does not match.
fn matches_traits(
    client: &Client,
    envoy: &Envoy,
    filters: &[(String, String)],
) -> Result<bool, CliError> {
    for (path, want) in filters {
        let query = TraitsQuery {
            path: Some(path.clone()),
        };
        let value: Value = match client.get(routes::ENVOY_TRAITS, &[&envoy.id], &query) {
            Ok(v) => v,
            Err(ApiError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let have = match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if !have.eq_ignore_ascii_case(want) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `vigocli runs …`
pub fn runs(ctx: &Context, cmd: RunsCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    match cmd {
        RunsCmd::List { envoy, limit } => {
            let query = Paging {
                limit: Some(limit),
                offset: None,
            };
            let list: Vec<Run> = client.get(routes::ENVOY_RUNS, &[&envoy], &query)?;
            ctx.show(&list, |list| print_runs(list));
        }
        RunsCmd::Show { run_id } => {
            let run = run_with_every_result(&client, &run_id)?;
            ctx.show(&run, print_run);
        }
    }
    Ok(())
}

/// The runs table. `-` in POLICY: the run had no config version (nothing published).
fn print_runs(list: &[Run]) {
    let mut t = table(&[
        "RUN", "STARTED", "DURATION", "POLICY", "DRY RUN", "CHANGED", "ERRORS",
    ]);
    for r in list {
        t.add_row([
            r.id.clone(),
            format_unix(r.started_at),
            duration_micros(r.duration_micros),
            opt(r.policy_version.as_deref()),
            yes_no(r.dry_run),
            r.counts.changed().to_string(),
            r.counts.error.to_string(),
        ]);
    }
    output::print_table(&t, "no runs");
}

/// `GET /api/v1/runs/{id}`, following `results_next` until the last page, so the run
/// comes back with all its results (the server pages them: a run can hold thousands).
/// The answer is the first page's, with every result and `results_next` `null`.
fn run_with_every_result(client: &Client, run_id: &str) -> Result<RunDetail, CliError> {
    let page = |from: u64| -> Result<RunDetail, ApiError> {
        let query = RunQuery {
            results_from: Some(from),
            results_limit: Some(MAX_RESULTS_PAGE),
        };
        client.get(routes::RUN, &[run_id], &query)
    };
    let mut run = page(0)?;
    while let Some(from) = run.results_next {
        let more = page(from)?;
        if more.results.is_empty() {
            break;
        }
        run.results.extend(more.results);
        run.results_next = more.results_next;
    }
    Ok(run)
}

/// One run and its results; the `Envoy` line says `unknown` when the server no longer
/// knows the envoy (`hostname` is `null`).
fn print_run(r: &RunDetail) {
    let counts: Vec<String> = r
        .run
        .counts
        .by_action()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let header = fields(&[
        ("Run", r.run.id.clone()),
        (
            "Envoy",
            format!(
                "{} ({})",
                r.hostname.as_deref().unwrap_or("unknown"),
                r.run.envoy_id
            ),
        ),
        ("Started", format_unix(r.run.started_at)),
        ("Finished", format_unix(r.run.finished_at)),
        ("Duration", duration_micros(r.run.duration_micros)),
        (
            "Policy version",
            r.run
                .policy_version
                .clone()
                .unwrap_or_else(|| "none".to_owned()),
        ),
        ("Dry run", yes_no(r.run.dry_run)),
        ("Counts", output::join(&counts)),
    ]);
    println!("{header}");
    let mut t = table(&["RESOURCE", "TYPE", "ACTION", "DURATION", "MESSAGE"]);
    for res in &r.results {
        t.add_row([
            res.resource_id.clone(),
            res.resource_type.clone(),
            res.action.clone(),
            duration_micros(res.duration_micros),
            text(&res.message),
        ]);
    }
    output::print_table(&t, "no resource results");
}

/// `vigocli traits show ENVOY [PATH]`: the traits document is free-form JSON (its shape
/// is the collectors', see docs/traits.md), so it stays a JSON value here.
pub fn traits(ctx: &Context, cmd: TraitsCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    let TraitsCmd::Show { envoy, path } = cmd;
    let value: Value = client.get(routes::ENVOY_TRAITS, &[&envoy], &TraitsQuery { path })?;
    match &value {
        Value::String(s) if !ctx.json => println!("{s}"),
        Value::Number(_) | Value::Bool(_) | Value::Null if !ctx.json => println!("{value}"),
        _ => output::print_json(&value),
    }
    Ok(())
}
