//! `vigocli config`: desired state. `validate`, `tree` and `trace --stacks` work on a
//! local stacks tree with the same loader and resolver as the server (`vigo_lang`);
//! `publish`, `version`, `history` and `trace` ask the server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use owo_colors::OwoColorize;
use serde::Serialize;
use serde_json::{Value, json};
use vigo_api::config::{HistoryQuery, RollbackBody, Trace, TraceQuery, VersionInfo};
use vigo_api::routes;
use vigo_lang::model::{Named, Stack};
use vigo_lang::resolve::{BundleMeta, Resolver};
use vigo_lang::{SourceTree, load};

use super::{Context, stacks_dir};
use crate::CliError;
use crate::cli::ConfigCmd;
use crate::client::{ApiError, Body};
use crate::output::{self, cell, fields, format_unix, join, table, text};

/// `vigocli config …`
pub fn run(ctx: &Context, cmd: ConfigCmd) -> Result<(), CliError> {
    match cmd {
        ConfigCmd::Validate { dir, remote: false } => validate_local(ctx, &stacks_dir(dir)),
        ConfigCmd::Validate { remote: true, .. } => validate_remote(ctx),
        ConfigCmd::Publish => publish(ctx),
        ConfigCmd::Version => {
            let v: VersionInfo = ctx.client()?.get(routes::CONFIG_VERSION, &[], &())?;
            ctx.show(&v, print_version);
            Ok(())
        }
        ConfigCmd::History { limit } => {
            let query = HistoryQuery { limit: Some(limit) };
            let list: Vec<VersionInfo> = ctx.client()?.get(routes::CONFIG_HISTORY, &[], &query)?;
            ctx.show(&list, |list| {
                let mut t = table(&["VERSION", "PUBLISHED", "BY", "TREE HASH"]);
                for v in list {
                    t.add_row([
                        v.version.clone(),
                        format_unix(v.published_at),
                        v.published_by.clone(),
                        short_hash(&v.tree_hash),
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
                    let query = TraceQuery {
                        hostname: Some(hostname),
                        environment,
                    };
                    ctx.client()?.get(routes::CONFIG_TRACE, &[], &query)?
                }
            };
            ctx.show(&trace, print_trace);
            Ok(())
        }
        ConfigCmd::Tree { dir } => {
            let dir = stacks_dir(dir);
            let stack = load_tree(&dir)?;
            if ctx.json {
                output::print_json(&tree_json(&stack));
            } else {
                print_tree(&stack);
            }
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
            source: None,
        });
    }
    SourceTree::read_dir(dir).map_err(|e| CliError::ReadTree {
        dir: dir.to_path_buf(),
        detail: e.to_string(),
        source: Some(e),
    })
}

fn validate_local(ctx: &Context, dir: &Path) -> Result<(), CliError> {
    let tree = read_tree(dir)?;
    match load(&tree) {
        Ok(stack) => {
            let v = Valid {
                valid: true,
                dir: dir.display().to_string(),
                tree_hash: stack.tree_hash.clone(),
                configcrates: stack.crates.len(),
                usercrates: stack.usercrates.len(),
                roles: stack.roles.len(),
                match_blocks: stack.blocks.len(),
            };
            ctx.show(&v, |v| {
                anstream::println!(
                    "{} {}: {} configcrates, {} usercrates, {} roles, {} match blocks (tree {})",
                    "valid".green().bold(),
                    v.dir,
                    v.configcrates,
                    v.usercrates,
                    v.roles,
                    v.match_blocks,
                    short_hash(&v.tree_hash),
                );
            });
            Ok(())
        }
        Err(errors) => {
            let list: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            if ctx.json {
                output::print_json(&Invalid {
                    valid: false,
                    message: None,
                    errors: &list,
                });
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

/// What `vigocli config validate --json` prints for a valid local tree.
#[derive(Debug, Serialize)]
struct Valid {
    /// Always true.
    valid: bool,
    /// The stacks directory.
    dir: String,
    /// The tree's SHA-256.
    tree_hash: String,
    /// How many configcrates.
    configcrates: usize,
    /// How many usercrates.
    usercrates: usize,
    /// How many roles.
    roles: usize,
    /// How many match blocks.
    match_blocks: usize,
}

/// What `--json` prints for an invalid tree (local or on the server).
#[derive(Debug, Serialize)]
struct Invalid<'a> {
    /// Always false.
    valid: bool,
    /// The server's one-line message (absent for a local tree).
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    /// Every problem, `file:line:column: …`.
    errors: &'a [String],
}

/// What `--json` prints when a publish or rollback changes nothing (409).
#[derive(Debug, Serialize)]
struct Unchanged<'a> {
    /// Always false.
    published: bool,
    /// The server's reason.
    message: &'a str,
}

fn validate_remote(ctx: &Context) -> Result<(), CliError> {
    let client = ctx.client()?;
    match client.call(routes::CONFIG_VALIDATE, &[], &(), None) {
        Ok(a) => {
            let v: vigo_api::config::Validated = a.json()?;
            ctx.show(&v, |_| {
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
            output::print_json(&Invalid {
                valid: false,
                message: Some(message),
                errors,
            });
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
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message("validating and publishing the stacks tree…");
    spinner.enable_steady_tick(Duration::from_millis(100));
    let result = client.call(routes::CONFIG_PUBLISH, &[], &(), None);
    spinner.finish_and_clear();
    match result {
        Ok(a) => {
            let v: VersionInfo = a.json()?;
            ctx.show(&v, |v| {
                anstream::println!(
                    "{} version {} (tree {})",
                    "published".green().bold(),
                    v.version,
                    short_hash(&v.tree_hash)
                );
            });
            Ok(())
        }
        Err(ApiError::Conflict(message)) => {
            let unchanged = Unchanged {
                published: false,
                message: &message,
            };
            ctx.show(&unchanged, |_| {
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
    let body = Body::json(&RollbackBody {
        version: version.to_owned(),
    });
    match client.call(routes::CONFIG_ROLLBACK, &[], &(), Some(body)) {
        Ok(a) => {
            let v: VersionInfo = a.json()?;
            ctx.show(&v, |v| {
                anstream::println!(
                    "{} to the tree of {version}: live version {} (tree {})",
                    "rolled back".green().bold(),
                    v.version,
                    short_hash(&v.tree_hash)
                );
            });
            Ok(())
        }
        Err(ApiError::Conflict(message)) => {
            let unchanged = Unchanged {
                published: false,
                message: &message,
            };
            ctx.show(&unchanged, |_| {
                println!("nothing to roll back: {message}");
            });
            Ok(())
        }
        Err(e) => Err(print_problems(ctx, e).into()),
    }
}

fn print_version(v: &VersionInfo) {
    let t = fields(&[
        ("Version", v.version.clone()),
        ("Published", format_unix(v.published_at)),
        ("Published by", v.published_by.clone()),
        ("Tree hash", v.tree_hash.clone()),
    ]);
    println!("{t}");
}

fn short_hash(h: &str) -> String {
    h.chars().take(12).collect()
}

/// The trace of `hostname` against a local tree: exactly what the server's
/// `GET /api/v1/config/trace` answers for the same tree.
pub fn trace_offline(
    dir: &Path,
    hostname: &str,
    environment: Option<&str>,
) -> Result<Trace, CliError> {
    let stack = load_tree(dir)?;
    let resolver = Resolver::new(Arc::new(stack), BundleMeta::default());
    serde_json::from_value(resolver.trace(hostname, environment).to_json())
        .map_err(|source| CliError::TraceShape { source })
}

/// Prints a trace (from the server or offline; both have the same shape). `-` in VIA or
/// WHEN: the crate has no reason or condition recorded.
fn print_trace(t: &Trace) {
    let host = &t.hostname;
    if !t.matched {
        anstream::println!(
            "{} {host}: no match block fits",
            "unmatched".yellow().bold()
        );
    }
    println!("Blocks consulted for {host}:");
    for b in &t.consulted {
        let mark = if b.matched {
            format!("{}", "✓ match".green())
        } else {
            "  -    ".to_owned()
        };
        anstream::println!("  {mark} {:<30} {}", b.pattern, b.origin);
    }
    if !t.matched {
        return;
    }
    let header = fields(&[
        (
            "Environment",
            t.environment.clone().unwrap_or_else(|| "none".to_owned()),
        ),
        ("Roles", join(&t.roles)),
    ]);
    println!("{header}");
    let mut crates = table(&["CRATE", "VIA", "WHEN"]);
    for c in &t.crates {
        crates.add_row([c.name.clone(), text(&c.via), text(&c.when)]);
    }
    output::print_table(&crates, "no crates");
    let mut vars = table(&["CRATE", "VAR", "VALUE", "LEVEL", "ORIGIN"]);
    for v in &t.vars {
        vars.add_row([
            v.krate.clone(),
            v.name.clone(),
            cell(&v.value),
            v.level.clone(),
            v.origin.clone(),
        ]);
    }
    output::print_table(&vars, "no vars");
    for e in &t.errors {
        anstream::println!("{}: {e}", "error".red().bold());
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

/// The stacks tree as tables, from the loaded [`Stack`] (the same facts as
/// [`tree_json`]). `-`: an empty list, or a match block without an environment.
fn print_tree(stack: &Stack) {
    let join_names = |list: &[Named]| join(&names(list));
    println!("Match blocks (in the order consulted):");
    let mut blocks = table(&["PATTERN", "ENVIRONMENT", "ROLES", "CONFIGCRATES", "ORIGIN"]);
    for b in &stack.blocks {
        blocks.add_row([
            b.pattern.as_str().to_owned(),
            b.environment
                .as_ref()
                .map_or_else(|| output::NONE.to_owned(), |e| e.name.clone()),
            join_names(&b.roles),
            join_names(&b.configcrates),
            b.origin.to_string(),
        ]);
    }
    output::print_table(&blocks, "no match blocks");
    println!("Roles:");
    let mut roles = table(&["ROLE", "CONFIGCRATES", "INCLUDES", "BY OS FAMILY", "ORIGIN"]);
    for r in stack.roles.values() {
        let case: Vec<String> = r
            .case
            .iter()
            .map(|(family, crates)| format!("{}: {}", family.name, join_names(crates)))
            .collect();
        roles.add_row([
            r.name.clone(),
            join_names(&r.configcrates),
            join_names(&r.includes),
            if case.is_empty() {
                output::NONE.to_owned()
            } else {
                case.join("; ")
            },
            r.origin.to_string(),
        ]);
    }
    output::print_table(&roles, "no roles");
    println!("Configcrates:");
    let mut crates = table(&["CONFIGCRATE", "RESOURCES", "DEPENDS ON", "ORIGIN"]);
    for c in stack.crates.values() {
        crates.add_row([
            c.name.clone(),
            c.resources.len().to_string(),
            join_names(&c.depends_on),
            c.origin.to_string(),
        ]);
    }
    output::print_table(&crates, "no configcrates");
    if !stack.usercrates.is_empty() {
        println!("Usercrates:");
        let mut users = table(&["USERCRATE", "USER", "RESOURCES", "ORIGIN"]);
        for c in stack.usercrates.values() {
            users.add_row([
                c.name.clone(),
                output::opt(c.user.as_deref()),
                c.resources.len().to_string(),
                c.origin.to_string(),
            ]);
        }
        println!("{users}");
    }
}
