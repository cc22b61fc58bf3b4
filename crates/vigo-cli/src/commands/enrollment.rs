//! `vigocli tokens` and `vigocli patterns`: what lets a machine enroll — one-time
//! enrollment tokens and approved (optionally trusted) hostname patterns.

use serde::Serialize;
use vigo_api::enrollment::{
    CreatedEnrollmentToken, EnrollmentToken, NewEnrollmentToken, Pattern, PatternBody,
};
use vigo_api::routes;

use super::Context;
use crate::CliError;
use crate::cli::{PatternsCmd, TokensCmd};
use crate::client::Body;
use crate::output::{self, fields, format_unix, opt, table, yes_no};

/// What `vigocli tokens revoke --json` prints (the server answers 204).
#[derive(Debug, Serialize)]
struct Revoked<'a> {
    /// The token's id.
    id: &'a str,
    /// Always true.
    revoked: bool,
}

/// What `vigocli patterns remove --json` prints (the server answers 204).
#[derive(Debug, Serialize)]
struct Removed<'a> {
    /// The pattern (or id) given.
    pattern: &'a str,
    /// Always true.
    removed: bool,
}

/// `vigocli tokens …`
pub fn tokens(ctx: &Context, cmd: TokensCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    match cmd {
        TokensCmd::Create { expires, pattern } => {
            let body = NewEnrollmentToken {
                expires_in: expires,
                hostname_pattern: pattern,
            };
            let t: CreatedEnrollmentToken = client
                .call(routes::TOKEN_CREATE, &[], &(), Some(Body::json(&body)))?
                .json()?;
            ctx.show(&t, |t| {
                let rows = fields(&[
                    ("ID", t.id.clone()),
                    ("Token", t.token.clone()),
                    ("Expires", format_unix(t.expires_at)),
                    (
                        "Pattern",
                        t.hostname_pattern
                            .clone()
                            .unwrap_or_else(|| "any hostname".to_owned()),
                    ),
                ]);
                println!("{rows}");
                eprintln!("The token is shown only now; it enrolls one machine.");
            });
        }
        TokensCmd::List => {
            let list: Vec<EnrollmentToken> = client.get_all(routes::TOKENS, &())?;
            ctx.show(&list, |list| print_tokens(list));
        }
        TokensCmd::Revoke { id } => {
            client.call(routes::TOKEN_DELETE, &[&id], &(), None)?;
            ctx.show(
                &Revoked {
                    id: &id,
                    revoked: true,
                },
                |_| println!("revoked enrollment token {id}"),
            );
        }
    }
    Ok(())
}

/// The enrollment tokens table. `-` in PATTERN: any hostname may use the token; in USED
/// BY: it has not enrolled a machine.
fn print_tokens(list: &[EnrollmentToken]) {
    let mut t = table(&["ID", "STATE", "CREATED", "EXPIRES", "PATTERN", "USED BY"]);
    for tok in list {
        t.add_row([
            tok.id.clone(),
            tok.state.as_str().to_owned(),
            format_unix(tok.created_at),
            format_unix(tok.expires_at),
            opt(tok.hostname_pattern.as_deref()),
            opt(tok.used_by.as_deref()),
        ]);
    }
    output::print_table(&t, "no enrollment tokens");
}

/// `vigocli patterns …`
pub fn patterns(ctx: &Context, cmd: PatternsCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    match cmd {
        PatternsCmd::Add { pattern, trusted } => {
            let body = PatternBody { pattern, trusted };
            let answer = client.call(routes::PATTERN_PUT, &[], &(), Some(Body::json(&body)))?;
            let p: Pattern = answer.json()?;
            ctx.show(&p, |p| {
                let kind = if p.trusted {
                    "trusted"
                } else {
                    "token required"
                };
                // 201: a new pattern; 200: an approved one whose trust changed.
                let verb = if answer.status == 201 {
                    "approved"
                } else {
                    "updated"
                };
                println!("{verb} pattern {} ({kind})", p.pattern);
            });
        }
        PatternsCmd::List => {
            let list: Vec<Pattern> = client.get_all(routes::PATTERNS, &())?;
            ctx.show(&list, |list| {
                let mut t = table(&["ID", "PATTERN", "TRUSTED", "CREATED"]);
                for p in list {
                    t.add_row([
                        p.id.clone(),
                        p.pattern.clone(),
                        yes_no(p.trusted),
                        format_unix(p.created_at),
                    ]);
                }
                output::print_table(&t, "no approved patterns");
            });
        }
        PatternsCmd::Remove { pattern } => {
            // One path segment: the client percent-encodes it (`web-*` → `web-%2A`… and `/`).
            client.call(routes::PATTERN_DELETE, &[&pattern], &(), None)?;
            ctx.show(
                &Removed {
                    pattern: &pattern,
                    removed: true,
                },
                |_| println!("removed pattern {pattern}"),
            );
        }
    }
    Ok(())
}
