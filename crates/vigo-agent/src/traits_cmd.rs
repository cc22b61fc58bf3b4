//! `vigo traits [COLLECTOR…|PATH] [--timing]`: run trait collectors and print JSON.
//!
//! - no argument: every collector;
//! - collector names (`os network`): only those;
//! - one dot path (`os.family`): the single value there (strings printed bare, for
//!   scripts), exit 1 with a hint when nothing is there.
//!
//! Names and paths are checked against the trait model ([`vigo_traits::schema`]) before
//! anything is collected, so a misspelt field gets a did-you-mean even when the host has
//! no value there. JSON is this command's output format only.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};
use serde_json::Value;
use vigo_traits::schema::hint;
use vigo_traits::{Collector, Ctx};

use crate::cli::TraitsArgs;

/// Runs `vigo traits`.
pub fn run(args: &TraitsArgs) -> Result<ExitCode> {
    let all = vigo_traits::all();
    let path = match args.selectors.iter().filter(|s| s.contains('.')).count() {
        0 => None,
        1 if args.selectors.len() == 1 => Some(args.selectors[0].as_str()),
        _ => bail!("give either collector names or one dot path (like os.family), not both"),
    };
    let wanted: Vec<&str> = match path {
        Some(p) => vec![p.split('.').next().unwrap_or(p)],
        None => args.selectors.iter().map(String::as_str).collect(),
    };
    let selected: Vec<Collector> = if wanted.is_empty() {
        all
    } else {
        let mut sel = Vec::new();
        for w in &wanted {
            match all.iter().find(|c| c.name == *w) {
                Some(c) => sel.push(*c),
                None => bail!(
                    "unknown collector `{w}`{}",
                    hint(w, all.iter().map(|c| c.name))
                ),
            }
        }
        sel
    };
    if let (Some(p), [collector]) = (path, selected.as_slice()) {
        let segments: Vec<&str> = p.split('.').collect();
        if let Err(e) = (collector.shape)().lookup(&segments[1..]) {
            bail!(
                "no trait at `{p}`: `{}` not found under `{}`{}",
                e.segment,
                segments[..=e.depth].join("."),
                e.hint()
            );
        }
    }
    let report = vigo_traits::run(&selected, &Ctx::default());
    for (name, why) in &report.errors {
        tracing::warn!("trait collector {name} failed: {why}");
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match path {
        None => {
            serde_json::to_writer_pretty(&mut out, &report.to_json(args.timing))?;
            writeln!(out)?;
        }
        Some(p) => {
            let doc = report.to_json(false);
            let mut node = &doc;
            let mut walked = Vec::new();
            for seg in p.split('.') {
                let next = match node {
                    Value::Object(m) => m.get(seg),
                    Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                };
                let Some(next) = next else {
                    let keys: Vec<String> = match node {
                        Value::Object(m) => m.keys().cloned().collect(),
                        _ => Vec::new(),
                    };
                    let at = if walked.is_empty() {
                        String::new()
                    } else {
                        format!(" under `{}`", walked.join("."))
                    };
                    bail!(
                        "no trait at `{p}`: `{seg}` not found{at}{}",
                        hint(seg, keys.iter().map(String::as_str))
                    );
                };
                walked.push(seg);
                node = next;
            }
            match node {
                Value::String(s) => writeln!(out, "{s}")?,
                other => writeln!(out, "{}", serde_json::to_string_pretty(other)?)?,
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
