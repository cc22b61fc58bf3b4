//! `vigocli envoys`, `vigocli runs` and `vigocli traits`: the fleet as the server sees
//! it.

use owo_colors::OwoColorize;
use reqwest::Method;
use serde_json::Value;

use super::Context;
use crate::CliError;
use crate::cli::{EnvoyStatus, EnvoysCmd, RunsCmd, TraitsCmd};
use crate::client::{ApiError, Client};
use crate::output::{self, cell, duration_field, fields, table, text, time};

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
            let mut query = Vec::new();
            if let Some(s) = status {
                let s = match s {
                    EnvoyStatus::Active => "active",
                    EnvoyStatus::Revoked => "revoked",
                };
                query.push(("status", s.to_owned()));
            }
            if let Some(h) = hostname {
                query.push(("hostname", h));
            }
            let all = client.get_all(&["api", "v1", "envoys"], &query)?;
            let mut kept = Vec::new();
            for envoy in all.as_array().into_iter().flatten() {
                if matches_traits(&client, envoy, &filters)? {
                    kept.push(envoy.clone());
                }
            }
            let list = Value::Array(kept);
            ctx.show(&list, |list| {
                let mut t = table(&[
                    "ID",
                    "HOSTNAME",
                    "STATUS",
                    "ENVIRONMENT",
                    "LAST SEEN",
                    "AGENT",
                    "POLICY",
                ]);
                for e in list.as_array().into_iter().flatten() {
                    t.add_row([
                        text(e, "id"),
                        text(e, "hostname"),
                        text(e, "status"),
                        text(e, "environment"),
                        time(e, "last_seen_at"),
                        text(e, "agent_version"),
                        text(e, "policy_version"),
                    ]);
                }
                output::print_table(&t, "no envoys");
            });
        }
        EnvoysCmd::Show { envoy } => {
            let e = client.get(&["api", "v1", "envoys", &envoy], &[])?;
            ctx.show(&e, print_envoy);
        }
        EnvoysCmd::Revoke { envoy } => {
            let url = client.url(&["api", "v1", "envoys", &envoy, "revoke"], &[]);
            let e = client.call(Method::POST, url, None)?.body;
            ctx.show(&e, |e| {
                anstream::println!(
                    "{} envoy {} ({})",
                    "revoked".red(),
                    text(e, "id"),
                    text(e, "hostname")
                );
            });
        }
    }
    Ok(())
}

fn print_envoy(e: &Value) {
    let t = fields(&[
        ("ID", text(e, "id")),
        ("Hostname", text(e, "hostname")),
        ("Status", text(e, "status")),
        ("Environment", text(e, "environment")),
        ("Address", text(e, "address")),
        ("Agent version", text(e, "agent_version")),
        ("Enrolled", time(e, "enrolled_at")),
        ("Last seen", time(e, "last_seen_at")),
        ("Revoked", time(e, "revoked_at")),
        ("Policy version", text(e, "policy_version")),
        ("Traits SHA-256", text(e, "traits_sha256")),
        ("Public key", text(e, "public_key")),
        ("Cert serial", text(e, "cert_serial")),
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
    envoy: &Value,
    filters: &[(String, String)],
) -> Result<bool, CliError> {
    let id = text(envoy, "id");
    for (path, want) in filters {
        let value = match client.get(
            &["api", "v1", "envoys", &id, "traits"],
            &[("path", path.clone())],
        ) {
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
            let list = client.get(
                &["api", "v1", "envoys", &envoy, "runs"],
                &[("limit", limit.to_string())],
            )?;
            ctx.show(&list, |list| {
                let mut t = table(&[
                    "RUN", "STARTED", "DURATION", "POLICY", "DRY RUN", "CHANGED", "ERRORS",
                ]);
                for r in list.as_array().into_iter().flatten() {
                    let counts = &r["counts"];
                    let n = |k: &str| counts.get(k).and_then(Value::as_u64).unwrap_or(0);
                    t.add_row([
                        text(r, "id"),
                        time(r, "started_at"),
                        duration_field(r, "duration_micros"),
                        text(r, "policy_version"),
                        if r["dry_run"].as_bool() == Some(true) {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        (n("created") + n("updated") + n("deleted")).to_string(),
                        n("error").to_string(),
                    ]);
                }
                output::print_table(&t, "no runs");
            });
        }
        RunsCmd::Show { run_id } => {
            let run = run_with_every_result(&client, &run_id)?;
            ctx.show(&run, print_run);
        }
    }
    Ok(())
}

/// `GET /api/v1/runs/{id}`, following `results_next` until the last page, so the run
/// comes back with all its results (the server pages them: a run can hold thousands).
fn run_with_every_result(client: &Client, run_id: &str) -> Result<Value, CliError> {
    const PAGE: u32 = 5000;
    let page = |from: u64| {
        client.get(
            &["api", "v1", "runs", run_id],
            &[
                ("results_from", from.to_string()),
                ("results_limit", PAGE.to_string()),
            ],
        )
    };
    let mut run = page(0)?;
    let mut next = run["results_next"].as_u64();
    while let Some(from) = next {
        let more = page(from)?;
        next = more["results_next"].as_u64();
        let (Some(all), Value::Array(extra)) =
            (run["results"].as_array_mut(), more["results"].clone())
        else {
            break;
        };
        all.extend(extra);
    }
    if let Some(map) = run.as_object_mut() {
        map.remove("results_from");
        map.remove("results_next");
    }
    Ok(run)
}

fn print_run(r: &Value) {
    let counts = r["counts"]
        .as_object()
        .map(|c| {
            c.iter()
                .filter(|(_, v)| v.as_u64().unwrap_or(0) > 0)
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let header = fields(&[
        ("Run", text(r, "id")),
        (
            "Envoy",
            format!("{} ({})", text(r, "hostname"), text(r, "envoy_id")),
        ),
        ("Started", time(r, "started_at")),
        ("Finished", time(r, "finished_at")),
        ("Duration", duration_field(r, "duration_micros")),
        ("Policy version", text(r, "policy_version")),
        (
            "Dry run",
            if r["dry_run"].as_bool() == Some(true) {
                "yes".into()
            } else {
                "no".into()
            },
        ),
        (
            "Counts",
            if counts.is_empty() {
                "-".into()
            } else {
                counts
            },
        ),
    ]);
    println!("{header}");
    let mut t = table(&["RESOURCE", "TYPE", "ACTION", "DURATION", "MESSAGE"]);
    for res in r["results"].as_array().into_iter().flatten() {
        t.add_row([
            text(res, "resource_id"),
            text(res, "resource_type"),
            text(res, "action"),
            duration_field(res, "duration_micros"),
            cell(&res["message"]),
        ]);
    }
    output::print_table(&t, "no resource results");
}

/// `vigocli traits show ENVOY [PATH]`
pub fn traits(ctx: &Context, cmd: TraitsCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    let TraitsCmd::Show { envoy, path } = cmd;
    let query: Vec<(&str, String)> = path.into_iter().map(|p| ("path", p)).collect();
    let value = client.get(&["api", "v1", "envoys", &envoy, "traits"], &query)?;
    match &value {
        Value::String(s) if !ctx.json => println!("{s}"),
        Value::Number(_) | Value::Bool(_) | Value::Null if !ctx.json => println!("{value}"),
        _ => output::print_json(&value),
    }
    Ok(())
}
