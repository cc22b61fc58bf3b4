//! `vigocli`, the admin CLI of Vigo: a REST client for `vigosrv` and its command groups.
//!
//! - [`cli`]: the command line (clap derive), the single definition that help, man pages
//!   and completions are generated from;
//! - [`settings`]: server, token and CA from flags, environment, `~/.config/vigo/cli.yaml`
//!   and the server host's local admin token;
//! - [`client`]: the HTTPS client and [`client::ApiError`], each failure with a hint;
//! - [`commands`]: one module per command group;
//! - [`output`]: tables, JSON, times and colour;
//! - [`error`]: [`CliError`], what a command returns when it fails.

pub mod cli;
pub mod client;
pub mod commands;
pub mod error;
pub mod output;
pub mod settings;

pub use error::CliError;

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> Result<(), CliError> {
    commands::dispatch(cli)
}
