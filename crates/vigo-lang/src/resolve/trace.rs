//! `vigocli config trace`: how one hostname resolves — every match block consulted up to
//! the winner (and why it matched), the environment, roles, crates with the reason each
//! is there, and every var with the level and file that set it.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::BundleMeta;
use super::build::{self, CrateReason, VarReason};
use crate::diag::Errors;
use crate::model::{Origin, Stack};

/// One match block consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockCheck {
    /// Where the block is.
    pub origin: Origin,
    /// Its pattern.
    pub pattern: String,
    /// Whether the hostname fits it.
    pub matched: bool,
}

/// The explanation of one resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The hostname.
    pub hostname: String,
    /// Blocks in the order consulted, up to and including the winner.
    pub consulted: Vec<BlockCheck>,
    /// The environment used (`None` when none).
    pub environment: Option<String>,
    /// Roles of the winning block.
    pub roles: Vec<String>,
    /// Crates in bundle order, with why.
    pub crates: Vec<CrateReason>,
    /// Every var of every crate, with its origin.
    pub vars: Vec<VarReason>,
    /// Problems building the bundle (only with an unknown environment override).
    pub errors: Errors,
}

impl Trace {
    /// Whether some block matched.
    pub fn matched(&self) -> bool {
        self.consulted.last().is_some_and(|b| b.matched)
    }

    /// The trace as JSON, the shape of the server's `GET /api/v1/config/trace` and of
    /// `vigocli config trace --json` (online and offline alike).
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "hostname": self.hostname,
            "matched": self.matched(),
            "consulted": self.consulted.iter().map(|b| serde_json::json!({
                "origin": b.origin.to_string(),
                "pattern": b.pattern,
                "matched": b.matched,
            })).collect::<Vec<_>>(),
            "environment": self.environment,
            "roles": self.roles,
            "crates": self.crates.iter().map(|c| serde_json::json!({
                "name": c.name,
                "via": c.via,
                "when": c.when,
            })).collect::<Vec<_>>(),
            "vars": self.vars.iter().map(|v| serde_json::json!({
                "crate": v.krate,
                "name": v.name,
                "value": v.value,
                "level": v.level.as_str(),
                "origin": v.origin.to_string(),
            })).collect::<Vec<_>>(),
            "errors": self.errors.0.iter().map(ToString::to_string).collect::<Vec<_>>(),
        })
    }
}

pub(super) fn trace(stack: &Stack, meta: &BundleMeta, hostname: &str, env: Option<&str>) -> Trace {
    let mut t = Trace {
        hostname: hostname.to_owned(),
        consulted: Vec::new(),
        environment: None,
        roles: Vec::new(),
        crates: Vec::new(),
        vars: Vec::new(),
        errors: Errors::default(),
    };
    for block in &stack.blocks {
        let matched = block.pattern.matches(hostname);
        t.consulted.push(BlockCheck {
            origin: block.origin.clone(),
            pattern: block.pattern.as_str().to_owned(),
            matched,
        });
        if matched {
            let built = build::build(stack, block, env, meta, &mut t.errors);
            t.environment = Some(built.bundle.environment.clone()).filter(|e| !e.is_empty());
            t.roles = built.bundle.roles.clone();
            t.crates = built.crates;
            t.vars = built.vars;
            t.errors.normalize();
            break;
        }
    }
    t
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "hostname: {}", self.hostname)?;
        writeln!(f, "match blocks consulted (deeper directories first):")?;
        for b in &self.consulted {
            let mark = if b.matched { "MATCH" } else { "no" };
            writeln!(
                f,
                "  {mark:5} {:30} {}",
                format!("\"{}\"", b.pattern),
                b.origin
            )?;
        }
        let Some(winner) = self.consulted.last().filter(|b| b.matched) else {
            return writeln!(f, "result: no match block fits this hostname");
        };
        writeln!(
            f,
            "winner: \"{}\" at {} (first block whose pattern fits)",
            winner.pattern, winner.origin
        )?;
        writeln!(
            f,
            "environment: {}",
            self.environment.as_deref().unwrap_or("(none)")
        )?;
        writeln!(
            f,
            "roles: {}",
            if self.roles.is_empty() {
                "(none)".to_owned()
            } else {
                self.roles.join(", ")
            }
        )?;
        writeln!(f, "configcrates (in order):")?;
        for c in &self.crates {
            write!(f, "  {:20} via {}", c.name, c.via)?;
            if !c.when.is_empty() {
                write!(f, " [when: {}]", c.when)?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "vars (environment > match block > common.vgo > configcrate default):"
        )?;
        let mut by_name: BTreeMap<&str, Vec<&VarReason>> = BTreeMap::new();
        for v in &self.vars {
            by_name.entry(&v.name).or_default().push(v);
        }
        for (name, defs) in by_name {
            let same = defs
                .windows(2)
                .all(|w| w[0].origin == w[1].origin && w[0].value == w[1].value);
            let shown: &[&VarReason] = if same { &defs[..1] } else { &defs };
            for v in shown {
                let label = if same {
                    name.to_owned()
                } else {
                    format!("{}.{name}", v.krate)
                };
                writeln!(
                    f,
                    "  {label} = {}   ({}, {})",
                    short(&v.value),
                    v.level.as_str(),
                    v.origin
                )?;
            }
        }
        if !self.errors.is_empty() {
            writeln!(f, "errors:\n{}", self.errors)?;
        }
        Ok(())
    }
}
