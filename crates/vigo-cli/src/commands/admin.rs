//! `vigocli login`, `server`, `audit` and `api-tokens`: who talks to which server, and
//! what the server says about itself and about who did what.

use owo_colors::OwoColorize;
use serde::Serialize;
use serde_json::Value;
use vigo_api::audit::{AuditEntry, AuditQuery};
use vigo_api::keys::{BundleKey, Rotated};
use vigo_api::routes;
use vigo_api::status::{CallerInfo, Health, VersionReply};
use vigo_api::tokens::{ApiRole, ApiToken, CreatedApiToken, NewApiToken};

use super::Context;
use crate::CliError;
use crate::cli::{ApiTokensCmd, AuditCmd, ServerCmd};
use crate::client::{ApiError, Body, Client};
use crate::output::{self, cell, fields, format_unix, opt, opt_time, table};
use crate::settings::{SettingsFile, Source};

/// What `vigocli login --json` prints.
#[derive(Debug, Serialize)]
struct LoggedIn {
    /// The server logged in to.
    server: Option<String>,
    /// Where the settings were saved.
    settings_file: String,
    /// Who the token is.
    caller: CallerInfo,
    /// The server's version.
    server_version: String,
}

/// `vigocli login`: checks the server, token and CA given (flags or environment) with
/// `GET /api/v1/version`, then stores them in `cli.yaml` (0600).
pub fn login(ctx: &Context) -> Result<(), CliError> {
    let settings = ctx.settings()?;
    if settings.server.is_none() {
        return Err(ApiError::NoServer.into());
    }
    if settings.token_source != Source::CommandLine {
        return Err(CliError::BadArgument {
            message: "vigocli login needs a token".into(),
            hint: "vigocli login --server URL --token vgot_… [--ca-file CA.pem]".into(),
        });
    }
    let client = Client::new(&settings)?;
    let version: VersionReply = client.get(routes::VERSION, &[], &())?;
    let ca_file = match &settings.ca_file {
        Some(p) => Some(std::fs::canonicalize(p).map_err(|source| CliError::Io {
            path: p.clone(),
            source,
        })?),
        None => None,
    };
    let file = SettingsFile {
        server: settings.server.clone(),
        token: settings.token.clone(),
        ca_file,
    };
    let path = SettingsFile::path()?;
    file.write(&path)?;
    let out = LoggedIn {
        server: settings.server,
        settings_file: path.display().to_string(),
        caller: version.caller,
        server_version: version.server_version,
    };
    ctx.show(&out, |out| {
        anstream::println!(
            "{} to {} as {} (role {}); settings saved in {}",
            "logged in".green().bold(),
            out.server.as_deref().unwrap_or_default(),
            out.caller.name,
            out.caller.role.as_str(),
            out.settings_file
        );
    });
    Ok(())
}

/// `vigocli server …`
pub fn server(ctx: &Context, cmd: ServerCmd) -> Result<(), CliError> {
    let settings = ctx.settings()?;
    let client = Client::new(&settings)?;
    let server = settings.server.clone().unwrap_or_default();
    match cmd {
        ServerCmd::Health => {
            let health: Health = client.call_anonymous(routes::HEALTH)?.json()?;
            ctx.show(&health, |h| {
                anstream::println!(
                    "{server} {} (database {})",
                    h.status.as_str().green().bold(),
                    h.database.as_str()
                );
            });
        }
        ServerCmd::Version => {
            let v: VersionReply = client.get(routes::VERSION, &[], &())?;
            ctx.show(&v, |v| {
                let source = match settings.token_source {
                    Source::CommandLine => "flag or environment",
                    Source::File => "cli.yaml",
                    Source::LocalAdmin => "local admin token file",
                    Source::Unset => "none",
                };
                let t = fields(&[
                    ("Server", server.clone()),
                    ("Server version", v.server_version.clone()),
                    ("CLI version", env!("CARGO_PKG_VERSION").to_owned()),
                    (
                        "Config version",
                        v.config
                            .as_ref()
                            .map_or_else(|| "nothing published".into(), |c| c.version.clone()),
                    ),
                    (
                        "Caller",
                        format!(
                            "{} (role {}, token {})",
                            v.caller.name,
                            v.caller.role.as_str(),
                            v.caller.token_id
                        ),
                    ),
                    ("Token from", source.to_owned()),
                ]);
                println!("{t}");
            });
        }
        ServerCmd::BundleKey => {
            let k: BundleKey = client.get(routes::BUNDLE_KEY, &[], &())?;
            ctx.show(&k, |k| {
                println!(
                    "{}",
                    fields(&[
                        ("Key id", k.key_id.clone()),
                        ("Public key", k.public_key.clone()),
                    ])
                );
                if k.rotations.is_empty() {
                    println!("never rotated");
                    return;
                }
                let mut t = table(&["ROTATED", "FROM", "TO"]);
                for r in &k.rotations {
                    t.add_row([
                        format_unix(r.rotated_at),
                        r.old_key_id.clone(),
                        r.new_key_id.clone(),
                    ]);
                }
                println!("{t}");
            });
        }
        ServerCmd::RotateBundleKey => {
            let r: Rotated = client
                .call(routes::ROTATE_BUNDLE_KEY, &[], &(), None)?
                .json()?;
            ctx.show(&r, |r| {
                anstream::println!(
                    "{} bundle-signing key {} -> {}; agents re-pin at their next check-in",
                    "rotated".green().bold(),
                    r.old_key_id,
                    r.new_key_id,
                );
            });
        }
    }
    Ok(())
}

/// `vigocli audit list`
pub fn audit(ctx: &Context, cmd: AuditCmd) -> Result<(), CliError> {
    let AuditCmd::List { limit, before } = cmd;
    let query = AuditQuery {
        limit: Some(limit),
        before,
    };
    let list: Vec<AuditEntry> = ctx.client()?.get(routes::AUDIT, &[], &query)?;
    ctx.show(&list, |list| print_audit(list));
    Ok(())
}

/// The audit table. `-` in TARGET: the action has no target (a refused publish); `-` in
/// DETAIL: the entry has no details.
fn print_audit(list: &[AuditEntry]) {
    let mut t = table(&["ID", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL"]);
    for e in list {
        let detail = match &e.detail {
            Value::Object(m) if m.is_empty() => output::NONE.to_owned(),
            other => cell(other),
        };
        t.add_row([
            e.id.to_string(),
            format_unix(e.at),
            e.actor.clone(),
            e.action.clone(),
            opt(e.target.as_deref()),
            detail,
        ]);
    }
    output::print_table(&t, "no audit entries");
}

/// `vigocli api-tokens …`
pub fn api_tokens(ctx: &Context, cmd: ApiTokensCmd) -> Result<(), CliError> {
    let client = ctx.client()?;
    match cmd {
        ApiTokensCmd::Create {
            name,
            role,
            expires,
            owner,
        } => {
            let body = NewApiToken {
                name,
                role: ApiRole::from(role).as_str().to_owned(),
                expires_in: expires,
                owner,
            };
            let t: CreatedApiToken = client
                .call(routes::API_TOKEN_CREATE, &[], &(), Some(Body::json(&body)))?
                .json()?;
            ctx.show(&t, |t| {
                let rows = fields(&[
                    ("ID", t.token_info.id.clone()),
                    ("Token", t.token.clone()),
                    ("Name", t.token_info.name.clone()),
                    ("Role", t.token_info.role.as_str().to_owned()),
                    (
                        "Expires",
                        t.token_info
                            .expires_at
                            .map_or_else(|| "never".to_owned(), format_unix),
                    ),
                ]);
                println!("{rows}");
                eprintln!(
                    "The token is shown only now; store it (vigocli login) or in a secret manager."
                );
            });
        }
        ApiTokensCmd::List => {
            let list: Vec<ApiToken> = client.get_all(routes::API_TOKENS, &())?;
            ctx.show(&list, |list| print_api_tokens(list));
        }
        ApiTokensCmd::Revoke { id } => {
            let t: ApiToken = client
                .call(routes::API_TOKEN_REVOKE, &[&id], &(), None)?
                .json()?;
            ctx.show(&t, |t| {
                println!("revoked API token {} ({})", t.id, t.name);
            });
        }
    }
    Ok(())
}

/// The API tokens table. `-` in OWNER: made by hand, not for a web user; in EXPIRES:
/// never expires; in REVOKED: not revoked.
fn print_api_tokens(list: &[ApiToken]) {
    let mut t = table(&[
        "ID", "NAME", "ROLE", "OWNER", "CREATED", "EXPIRES", "REVOKED",
    ]);
    for tok in list {
        t.add_row([
            tok.id.clone(),
            tok.name.clone(),
            tok.role.as_str().to_owned(),
            opt(tok.owner.as_deref()),
            format_unix(tok.created_at),
            opt_time(tok.expires_at),
            opt_time(tok.revoked_at),
        ]);
    }
    output::print_table(&t, "no API tokens");
}
