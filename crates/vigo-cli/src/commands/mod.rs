//! The command groups, one module each, and [`Context`], what every command gets: the
//! output format and a lazily built REST client.

mod admin;
mod config;
mod enrollment;
mod fleet;
mod generate;
mod secrets;

use std::path::PathBuf;

use serde::Serialize;

use crate::CliError;
use crate::cli::{Cli, Command, GlobalArgs};
use crate::client::Client;
use crate::settings::{Overrides, Settings};

/// What a command runs with.
#[derive(Debug)]
pub struct Context {
    /// `--json`.
    pub json: bool,
    overrides: Overrides,
}

impl Context {
    /// A context from the global flags.
    pub fn new(global: GlobalArgs) -> Context {
        Context {
            json: global.json,
            overrides: Overrides {
                server: global.server,
                token: global.token,
                ca_file: global.ca_file,
            },
        }
    }

    /// The settings in force (flags, environment, `cli.yaml`, local admin token).
    pub fn settings(&self) -> Result<Settings, CliError> {
        Ok(Settings::resolve(self.overrides.clone())?)
    }

    /// A client for the configured server.
    pub fn client(&self) -> Result<Client, CliError> {
        Ok(Client::new(&self.settings()?)?)
    }

    /// Prints `value` as JSON when `--json`, else calls `human`.
    pub fn show<T: Serialize>(&self, value: &T, human: impl FnOnce(&T)) {
        if self.json {
            crate::output::print_json(value);
        } else {
            human(value);
        }
    }
}

/// Runs the command.
pub fn dispatch(cli: Cli) -> Result<(), CliError> {
    let ctx = Context::new(cli.global);
    match cli.command {
        Command::Login => admin::login(&ctx),
        Command::Envoys(c) => fleet::envoys(&ctx, c),
        Command::Tokens(c) => enrollment::tokens(&ctx, c),
        Command::Patterns(c) => enrollment::patterns(&ctx, c),
        Command::Config(c) => config::run(&ctx, c),
        Command::Runs(c) => fleet::runs(&ctx, c),
        Command::Secrets(c) => secrets::run(&ctx, c),
        Command::Traits(c) => fleet::traits(&ctx, c),
        Command::Audit(c) => admin::audit(&ctx, c),
        Command::Server(c) => admin::server(&ctx, c),
        Command::ApiTokens(c) => admin::api_tokens(&ctx, c),
        Command::Completions { shell } => {
            generate::completions(shell);
            Ok(())
        }
        Command::Man { dir } => generate::man(&dir),
        Command::Version => {
            println!("vigocli {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    }
}

/// The stacks directory: the one given, else `./stacks` when present, else
/// `/srv/vigo/stacks`.
pub(crate) fn stacks_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| {
        let local = PathBuf::from("stacks");
        if local.is_dir() {
            local
        } else {
            PathBuf::from("/srv/vigo/stacks")
        }
    })
}
