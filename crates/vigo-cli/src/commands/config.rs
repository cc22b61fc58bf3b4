//! `vigocli config`: desired state. `validate`, `tree` and `trace --stacks` work on a
//! local stacks tree with the same loader and resolver as the server (`vigo_lang`);
//! `publish`, `version`, `history` and `trace` ask the server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use owo_colors::OwoColorize;
use reqwest::Method;
use serde_json::{Value, json};
use vigo_lang::model::{Named, Stack};
use vigo_lang::resolve::{BundleMeta, Resolver};
use vigo_lang::{SourceTree, load};

use super::{Context, stacks_dir};
use crate::CliError;
use crate::cli::ConfigCmd;
use crate::client::ApiError;
use crate::output::{self, cell, fields, table, text, time};

/// `vigocli config …`
pub fn run(ctx: &Context, cmd: ConfigCmd) -> Result<(), CliError> {
    match cmd {
        ConfigCmd::Validate { dir, remote: false } => validate_local(ctx, &stacks_dir(dir)),
        ConfigCmd::Validate { remote: true, .. } => validate_remote(ctx),
        ConfigCmd::Publish => publish(ctx),
        ConfigCmd::Version => {
            let v = ctx
                .client()?
                .get(&["api", "v1", "config", "version"], &[])?;
            ctx.show(&v, print_version);
            Ok(())
        }
        ConfigCmd::History { limit } => {
            let list = ctx.client()?.get(
                &["api", "v1", "config", "history"],
                &[("limit", limit.to_string())],
            )?;
            ctx.show(&list, |list| {
                let mut t = table(&["VERSION", "PUBLISHED", "BY", "TREE HASH"]);
                for v in list.as_array().into_iter().flatten() {
                    t.add_row([
                        text(v, "version"),
                        time(v, "published_at"),
                        text(v, "published_by"),
                        short_hash(&text(v, "tree_hash")),
                    ]);
                }
                output::print_table(&t, "nothing published yet");
            });
            Ok(())
        }
        ConfigCmd::Trace {
            hostname,
            environment,
            stacks,
        } => {
            let trace = match stacks {
                Some(dir) => trace_offline(&dir, &hostname, environment.as_deref())?,
                None => {
                    let mut query = vec![("hostname", hostname)];
                    if let Some(e) = environment {
                        query.push(("environment", e));
                    }
                    ctx.client()?
                        .get(&["api", "v1", "config", "trace"], &query)?
                }
            };
            ctx.show(&trace, print_trace);
            Ok(())
        }
        ConfigCmd::Tree { dir } => {
            let dir = stacks_dir(dir);
            let stack = load_tree(&dir)?;
            ctx.show(&tree_json(&stack), print_tree);
            Ok(())
        }
        ConfigCmd::Rollback { version } => rollback(ctx, &version),
    }
}

/// Reads and loads a stacks tree, printing every problem (`file:line:column: …`) to
/// stderr when it is invalid.
fn load_tree(dir: &Path) -> Result<Stack, CliError> {
    let tree = read_tree(dir)?;
    load(&tree).map_err(|errors| {
        for d in &errors.0 {
            anstream::eprintln!("{}: {d}", "error".red().bold());
        }
        CliError::InvalidTree {
            dir: dir.to_path_buf(),
            count: errors.0.len(),
        }
    })
}

fn read_tree(dir: &Path) -> Result<SourceTree, CliError> {
    if !dir.is_dir() {
        return Err(CliError::ReadTree {
            dir: dir.to_path_buf(),
            detail: "not a directory".into(),
        });
    }
    SourceTree::read_dir(dir).map_err(|e| CliError::ReadTree {
        dir: dir.to_path_buf(),
        detail: e.to_string(),
    })
}

fn validate_local(ctx: &Context, dir: &Path) -> Result<(), CliError> {
    let tree = read_tree(dir)?;
    match load(&tree) {
        Ok(stack) => {
            let v = json!({
                "valid": true,
                "dir": dir.display().to_string(),
                "tree_hash": stack.tree_hash,
                "configcrates": stack.crates.len(),
                "usercrates": stack.usercrates.len(),
                "roles": stack.roles.len(),
                "match_blocks": stack.blocks.len(),
            });
            ctx.show(&v, |v| {
                anstream::println!(
                    "{} {}: {} configcrates, {} usercrates, {} roles, {} match blocks (tree {})",
                    "valid".green().bold(),
                    dir.display(),
                    v["configcrates"],
                    v["usercrates"],
                    v["roles"],
                    v["match_blocks"],
                    short_hash(&text(v, "tree_hash")),
                );
            });
            Ok(())
        }
        Err(errors) => {
            let list: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            if ctx.json {
                output::print_json(&json!({"valid": false, "errors": list}));
            } else {
                for e in &list {
                    anstream::eprintln!("{}: {e}", "error".red().bold());
                }
            }
            Err(CliError::InvalidTree {
                dir: dir.to_path_buf(),
                count: list.len(),
            })
        }
    }
}

fn validate_remote(ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    let url = client.url(&["api", "v1", "config", "validate"], &[]);
    match client.call(Method::POST, url, None) {
        Ok(a) => {
            ctx.show(&a.body, |_| {
                anstream::println!("{} the server's stacks tree", "valid".green().bold());
            });
            Ok(())
        }
        Err(e) => Err(print_problems(ctx, e).into()),
    }
}

/// Prints every problem of a 422 (stderr, or as JSON with `--json`), and gives the error
/// back.
fn print_problems(ctx: &Context, e: ApiError) -> ApiError {
    if let ApiError::Invalid { message, errors } = &e {
        if ctx.json {
            output::print_json(&json!({"valid": false, "message": message, "errors": errors}));
        } else {
            for line in errors {
                anstream::eprintln!("{}: {line}", "error".red().bold());
            }
        }
    }
    e
}

fn publish(ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    let url = client.url(&["api", "v1", "config", "publish"], &[]);
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("validating and publishing the stacks tree…");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let result = client.call(Method::POST, url, None);
    spinner.finish_and_clear();
    match result {
        Ok(a) => {
            ctx.show(&a.body, |v| {
                anstream::println!(
                    "{} version {} (tree {})",
                    "published".green().bold(),
                    text(v, "version"),
                    short_hash(&text(v, "tree_hash"))
                );
            });
            Ok(())
        }
        Err(ApiError::Conflict(message)) => {
            ctx.show(&json!({"published": false, "message": message}), |_| {
                println!("nothing to publish: {message}");
            });
            Ok(())
        }
        Err(e) => Err(print_problems(ctx, e).into()),
    }
}

/// `config rollback VERSION`: the server makes that version's tree live again, as a new
/// version (validated again; every error listed if it no longer validates).
fn rollback(ctx: &Context, version: &str) -> Result<(), CliError> {
    let client = ctx.client()?;
    let url = client.url(&["api", "v1", "config", "rollback"], &[]);
    let body = crate::client::Body::Json(json!({ "version": version }));
    match client.call(Method::POST, url, Some(body)) {
        Ok(a) => {
            ctx.show(&a.body, |v| {
                anstream::println!(
                    "{} to the tree of {version}: live version {} (tree {})",
                    "rolled back".green().bold(),
                    text(v, "version"),
                    short_hash(&text(v, "tree_hash"))
                );
            });
            Ok(())
        }
        Err(ApiError::Conflict(message)) => {
            ctx.show(&json!({"published": false, "message": message}), |_| {
                println!("nothing to roll back: {message}");
            });
            Ok(())
        }
        Err(e) => Err(print_problems(ctx, e).into()),
    }
}

fn print_version(v: &Value) {
    let t = fields(&[
        ("Version", text(v, "version")),
        ("Published", time(v, "published_at")),
        ("Published by", text(v, "published_by")),
        ("Tree hash", text(v, "tree_hash")),
    ]);
    println!("{t}");
}

fn short_hash(h: &str) -> String {
    h.chars().take(12).collect()
}

/// The trace of `hostname` against a local tree: exactly the JSON the server's
/// `GET /api/v1/config/trace` answers for the same tree.
pub fn trace_offline(
    dir: &Path,
    hostname: &str,
    environment: Option<&str>,
) -> Result<Value, CliError> {
    let stack = load_tree(dir)?;
    let resolver = Resolver::new(Arc::new(stack), BundleMeta::default());
    Ok(resolver.trace(hostname, environment).to_json())
}

/// Prints a trace (from the server or offline; both have the same JSON).
fn print_trace(t: &Value) {
    let host = text(t, "hostname");
    if t["matched"].as_bool() != Some(true) {
        anstream::println!(
            "{} {host}: no match block fits",
            "unmatched".yellow().bold()
        );
    }
    println!("Blocks consulted for {host}:");
    for b in t["consulted"].as_array().into_iter().flatten() {
        let mark = if b["matched"].as_bool() == Some(true) {
            format!("{}", "✓ match".green())
        } else {
            "  -    ".to_owned()
        };
        anstream::println!("  {mark} {:<30} {}", text(b, "pattern"), text(b, "origin"));
    }
    if t["matched"].as_bool() != Some(true) {
        return;
    }
    let roles: Vec<String> = t["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect();
    let header = fields(&[
        ("Environment", text(t, "environment")),
        (
            "Roles",
            if roles.is_empty() {
                "-".into()
            } else {
                roles.join(", ")
            },
        ),
    ]);
    println!("{header}");
    let mut crates = table(&["CRATE", "VIA", "WHEN"]);
    for c in t["crates"].as_array().into_iter().flatten() {
        crates.add_row([text(c, "name"), text(c, "via"), text(c, "when")]);
    }
    output::print_table(&crates, "no crates");
    let mut vars = table(&["CRATE", "VAR", "VALUE", "LEVEL", "ORIGIN"]);
    for v in t["vars"].as_array().into_iter().flatten() {
        vars.add_row([
            text(v, "crate"),
            text(v, "name"),
            cell(&v["value"]),
            text(v, "level"),
            text(v, "origin"),
        ]);
    }
    output::print_table(&vars, "no vars");
    for e in t["errors"].as_array().into_iter().flatten() {
        anstream::println!("{}: {}", "error".red().bold(), cell(e));
    }
}

fn names(list: &[Named]) -> Vec<String> {
    list.iter().map(|n| n.name.clone()).collect()
}

/// The stacks tree as JSON: match blocks in the order consulted, roles, crates.
pub fn tree_json(stack: &Stack) -> Value {
    json!({
        "tree_hash": stack.tree_hash,
        "match_blocks": stack.blocks.iter().map(|b| json!({
            "pattern": b.pattern.as_str(),
            "origin": b.origin.to_string(),
            "dir": b.dir,
            "environment": b.environment.as_ref().map(|e| e.name.clone()),
            "roles": names(&b.roles),
            "configcrates": names(&b.configcrates),
            "usercrates": names(&b.usercrates),
            "observe_only": b.observe_only,
        })).collect::<Vec<_>>(),
        "roles": stack.roles.values().map(|r| json!({
            "name": r.name,
            "origin": r.origin.to_string(),
            "configcrates": names(&r.configcrates),
            "includes": names(&r.includes),
            "case": r.case.iter().map(|(family, crates)| json!({
                "os_family": family.name,
                "configcrates": names(crates),
            })).collect::<Vec<_>>(),
            "usercrates": names(&r.usercrates),
        })).collect::<Vec<_>>(),
        "configcrates": stack.crates.values().map(|c| json!({
            "name": c.name,
            "origin": c.origin.to_string(),
            "resources": c.resources.len(),
            "depends_on": names(&c.depends_on),
        })).collect::<Vec<_>>(),
        "usercrates": stack.usercrates.values().map(|c| json!({
            "name": c.name,
            "origin": c.origin.to_string(),
            "user": c.user,
            "resources": c.resources.len(),
        })).collect::<Vec<_>>(),
    })
}

fn print_tree(v: &Value) {
    let join = |v: &Value| -> String {
        let items: Vec<String> = v.as_array().into_iter().flatten().map(cell).collect();
        if items.is_empty() {
            "-".into()
        } else {
            items.join(", ")
        }
    };
    println!("Match blocks (in the order consulted):");
    let mut blocks = table(&["PATTERN", "ENVIRONMENT", "ROLES", "CONFIGCRATES", "ORIGIN"]);
    for b in v["match_blocks"].as_array().into_iter().flatten() {
        blocks.add_row([
            text(b, "pattern"),
            text(b, "environment"),
            join(&b["roles"]),
            join(&b["configcrates"]),
            text(b, "origin"),
        ]);
    }
    output::print_table(&blocks, "no match blocks");
    println!("Roles:");
    let mut roles = table(&["ROLE", "CONFIGCRATES", "INCLUDES", "BY OS FAMILY", "ORIGIN"]);
    for r in v["roles"].as_array().into_iter().flatten() {
        let case: Vec<String> = r["case"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{}: {}", text(c, "os_family"), join(&c["configcrates"])))
            .collect();
        roles.add_row([
            text(r, "name"),
            join(&r["configcrates"]),
            join(&r["includes"]),
            if case.is_empty() {
                "-".into()
            } else {
                case.join("; ")
            },
            text(r, "origin"),
        ]);
    }
    output::print_table(&roles, "no roles");
    println!("Configcrates:");
    let mut crates = table(&["CONFIGCRATE", "RESOURCES", "DEPENDS ON", "ORIGIN"]);
    for c in v["configcrates"].as_array().into_iter().flatten() {
        crates.add_row([
            text(c, "name"),
            text(c, "resources"),
            join(&c["depends_on"]),
            text(c, "origin"),
        ]);
    }
    output::print_table(&crates, "no configcrates");
    if v["usercrates"].as_array().is_some_and(|u| !u.is_empty()) {
        println!("Usercrates:");
        let mut users = table(&["USERCRATE", "USER", "RESOURCES", "ORIGIN"]);
        for c in v["usercrates"].as_array().into_iter().flatten() {
            users.add_row([
                text(c, "name"),
                text(c, "user"),
                text(c, "resources"),
                text(c, "origin"),
            ]);
        }
        println!("{users}");
    }
}
