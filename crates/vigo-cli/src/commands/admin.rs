//! `vigocli login`, `server`, `audit` and `api-tokens`: who talks to which server, and
//! what the server says about itself and about who did what.

use owo_colors::OwoColorize;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Context;
use crate::CliError;
use crate::cli::{ApiTokensCmd, AuditCmd, ServerCmd};
use crate::client::{ApiError, Body, Client};
use crate::output::{self, cell, fields, table, text, time};
use crate::settings::{SettingsFile, Source};

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
    let version = client.get(&["api", "v1", "version"], &[])?;
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
    let caller = &version["caller"];
    let out = json!({
        "server": settings.server,
        "settings_file": path.display().to_string(),
        "caller": caller,
        "server_version": version["server_version"],
    });
    ctx.show(&out, |_| {
        anstream::println!(
            "{} to {} as {} (role {}); settings saved in {}",
            "logged in".green().bold(),
            settings.server.as_deref().unwrap_or_default(),
            text(caller, "name"),
            text(caller, "role"),
            path.display()
        );
    });
    Ok(())
}

/// `vigocli server …`
pub fn server(ctx: &Context, cmd: ServerCmd) -> Result<(), CliError> {
    let settings = ctx.settings()?;
    let client = Client::new(&settings)?;
    match cmd {
        ServerCmd::Health => {
            let url = client.url(&["api", "v1", "health"], &[]);
            let health = client.call_anonymous(Method::GET, url)?.body;
            ctx.show(&health, |h| {
                anstream::println!(
                    "{} {} (database {})",
                    settings.server.as_deref().unwrap_or_default(),
                    text(h, "status").green().bold(),
                    text(h, "database")
                );
            });
        }
        ServerCmd::Version => {
            let v = client.get(&["api", "v1", "version"], &[])?;
            ctx.show(&v, |v| {
                let caller = &v["caller"];
                let config = &v["config"];
                let source = match settings.token_source {
                    Source::CommandLine => "flag or environment",
                    Source::File => "cli.yaml",
                    Source::LocalAdmin => "local admin token file",
                    Source::Unset => "none",
                };
                let t = fields(&[
                    ("Server", settings.server.clone().unwrap_or_default()),
                    ("Server version", text(v, "server_version")),
                    ("CLI version", env!("CARGO_PKG_VERSION").to_owned()),
                    (
                        "Config version",
                        if config.is_null() {
                            "nothing published".into()
                        } else {
                            text(config, "version")
                        },
                    ),
                    (
                        "Caller",
                        format!(
                            "{} (role {}, token {})",
                            text(caller, "name"),
                            text(caller, "role"),
                            text(caller, "token_id")
                        ),
                    ),
                    ("Token from", source.to_owned()),
                ]);
                println!("{t}");
            });
        }
        ServerCmd::BundleKey => {
            let k = client.get(&["api", "v1", "server", "bundle-key"], &[])?;
            ctx.show(&k, |k| {
                println!(
                    "{}",
                    fields(&[
                        ("Key id", text(k, "key_id")),
                        ("Public key", text(k, "public_key")),
                    ])
                );
                let rotations = k["rotations"].as_array().cloned().unwrap_or_default();
                if rotations.is_empty() {
                    println!("never rotated");
                    return;
                }
                let mut t = table(&["ROTATED", "FROM", "TO"]);
                for r in &rotations {
                    t.add_row([
                        time(r, "rotated_at"),
                        text(r, "old_key_id"),
                        text(r, "new_key_id"),
                    ]);
                }
                println!("{t}");
            });
        }
        ServerCmd::RotateBundleKey => {
            let url = client.url(&["api", "v1", "server", "rotate-bundle-key"], &[]);
            let r = client.call(Method::POST, url, None)?.body;
            ctx.show(&r, |r| {
                anstream::println!(
                    "{} bundle-signing key {} -> {}; agents re-pin at their next check-in",
                    "rotated".green().bold(),
                    text(r, "old_key_id"),
                    text(r, "new_key_id"),
                );
            });
        }
    }
    Ok(())
}

/// `vigocli audit list`
pub fn audit(ctx: &Context, cmd: AuditCmd) -> Result<(), CliError> {
    let AuditCmd::List { limit, before } = cmd;
    let mut query = vec![("limit", limit.to_string())];
    if let Some(b) = before {
        query.push(("before", b.to_string()));
    }
    let list = ctx.client()?.get(&["api", "v1", "audit"], &query)?;
    ctx.show(&list, |list| {
        let mut t = table(&["ID", "AT", "ACTOR", "ACTION", "TARGET", "DETAIL"]);
        for e in list.as_array().into_iter().flatten() {
            let detail = match &e["detail"] {
                Value::Object(m) if m.is_empty() => "-".to_owned(),
                other => cell(other),
            };
            t.add_row([
                text(e, "id"),
                time(e, "at"),
                text(e, "actor"),
                text(e, "action"),
                text(e, "target"),
                detail,
            ]);
        }
        output::print_table(&t, "no audit entries");
    });
    Ok(())
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
            let mut body = Map::new();
            body.insert("name".into(), Value::String(name));
            body.insert("role".into(), Value::String(role.as_str().to_owned()));
            if let Some(e) = expires {
                body.insert("expires_in".into(), Value::String(e));
            }
            if let Some(o) = owner {
                body.insert("owner".into(), Value::String(o));
            }
            let url = client.url(&["api", "v1", "api-tokens"], &[]);
            let t = client
                .call(Method::POST, url, Some(Body::Json(Value::Object(body))))?
                .body;
            ctx.show(&t, |t| {
                let rows = fields(&[
                    ("ID", text(t, "id")),
                    ("Token", text(t, "token")),
                    ("Name", text(t, "name")),
                    ("Role", text(t, "role")),
                    ("Expires", time(t, "expires_at")),
                ]);
                println!("{rows}");
                eprintln!(
                    "The token is shown only now; store it (vigocli login) or in a secret manager."
                );
            });
        }
        ApiTokensCmd::List => {
            let list = client.get_all(&["api", "v1", "api-tokens"], &[])?;
            ctx.show(&list, |list| {
                let mut t = table(&[
                    "ID", "NAME", "ROLE", "OWNER", "CREATED", "EXPIRES", "REVOKED",
                ]);
                for tok in list.as_array().into_iter().flatten() {
                    t.add_row([
                        text(tok, "id"),
                        text(tok, "name"),
                        text(tok, "role"),
                        text(tok, "owner"),
                        time(tok, "created_at"),
                        time(tok, "expires_at"),
                        time(tok, "revoked_at"),
                    ]);
                }
                output::print_table(&t, "no API tokens");
            });
        }
        ApiTokensCmd::Revoke { id } => {
            let url = client.url(&["api", "v1", "api-tokens", &id], &[]);
            let t = client.call(Method::DELETE, url, None)?.body;
            ctx.show(&t, |t| {
                println!("revoked API token {} ({})", text(t, "id"), text(t, "name"));
            });
        }
    }
    Ok(())
}
