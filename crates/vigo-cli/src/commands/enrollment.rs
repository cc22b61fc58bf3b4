//! `vigocli tokens` and `vigocli patterns`: what lets a machine enroll — one-time
//! enrollment tokens and approved (optionally trusted) hostname patterns.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::Context;
use crate::CliError;
use crate::cli::{PatternsCmd, TokensCmd};
use crate::client::Body;
use crate::output::{self, fields, table, text, time};

/// `vigocli tokens …`
pub fn tokens(ctx: &Context, cmd: TokensCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    match cmd {
        TokensCmd::Create { expires, pattern } => {
            let mut body = Map::new();
            if let Some(e) = expires {
                body.insert("expires_in".into(), Value::String(e));
            }
            if let Some(p) = pattern {
                body.insert("hostname_pattern".into(), Value::String(p));
            }
            let url = client.url(&["api", "v1", "tokens"], &[]);
            let t = client
                .call(Method::POST, url, Some(Body::Json(Value::Object(body))))?
                .body;
            ctx.show(&t, |t| {
                let rows = fields(&[
                    ("ID", text(t, "id")),
                    ("Token", text(t, "token")),
                    ("Expires", time(t, "expires_at")),
                    ("Pattern", text(t, "hostname_pattern")),
                ]);
                println!("{rows}");
                eprintln!("The token is shown only now; it enrolls one machine.");
            });
        }
        TokensCmd::List => {
            let list = client.get_all(&["api", "v1", "tokens"], &[])?;
            ctx.show(&list, |list| {
                let mut t = table(&["ID", "STATE", "CREATED", "EXPIRES", "PATTERN", "USED BY"]);
                for tok in list.as_array().into_iter().flatten() {
                    t.add_row([
                        text(tok, "id"),
                        text(tok, "state"),
                        time(tok, "created_at"),
                        time(tok, "expires_at"),
                        text(tok, "hostname_pattern"),
                        text(tok, "used_by"),
                    ]);
                }
                output::print_table(&t, "no enrollment tokens");
            });
        }
        TokensCmd::Revoke { id } => {
            let url = client.url(&["api", "v1", "tokens", &id], &[]);
            client.call(Method::DELETE, url, None)?;
            ctx.show(&json!({"id": id, "revoked": true}), |_| {
                println!("revoked enrollment token {id}");
            });
        }
    }
    Ok(())
}

/// `vigocli patterns …`
pub fn patterns(ctx: &Context, cmd: PatternsCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    match cmd {
        PatternsCmd::Add { pattern, trusted } => {
            let url = client.url(&["api", "v1", "patterns"], &[]);
            let answer = client.call(
                Method::POST,
                url,
                Some(Body::Json(json!({"pattern": pattern, "trusted": trusted}))),
            )?;
            ctx.show(&answer.body, |p| {
                let kind = if p["trusted"].as_bool() == Some(true) {
                    "trusted"
                } else {
                    "token required"
                };
                let verb = if answer.status == StatusCode::CREATED {
                    "approved"
                } else {
                    "updated"
                };
                println!("{verb} pattern {} ({kind})", text(p, "pattern"));
            });
        }
        PatternsCmd::List => {
            let list = client.get_all(&["api", "v1", "patterns"], &[])?;
            ctx.show(&list, |list| {
                let mut t = table(&["ID", "PATTERN", "TRUSTED", "CREATED"]);
                for p in list.as_array().into_iter().flatten() {
                    t.add_row([
                        text(p, "id"),
                        text(p, "pattern"),
                        if p["trusted"].as_bool() == Some(true) {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        time(p, "created_at"),
                    ]);
                }
                output::print_table(&t, "no approved patterns");
            });
        }
        PatternsCmd::Remove { pattern } => {
            // One path segment: the client percent-encodes it (`web-*` → `web-%2A`… and `/`).
            let url = client.url(&["api", "v1", "patterns", &pattern], &[]);
            client.call(Method::DELETE, url, None)?;
            ctx.show(&json!({"pattern": pattern, "removed": true}), |_| {
                println!("removed pattern {pattern}");
            });
        }
    }
    Ok(())
}
