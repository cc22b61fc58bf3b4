//! The `vigocli` binary: parses the command line and dispatches.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The Vigo admin CLI, over the server's REST API.
#[derive(Debug, Parser)]
#[command(
    name = "vigocli",
    version,
    about = "Vigo admin CLI over the server's REST API"
)]
struct Cli {
    /// Server REST API URL (env VIGO_SERVER)
    #[arg(long, global = true, value_name = "URL", env = "VIGO_SERVER")]
    server: Option<String>,
    /// API token (env VIGO_TOKEN)
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "VIGO_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// CA certificate to trust for the server
    #[arg(long, global = true, value_name = "PATH")]
    ca_file: Option<std::path::PathBuf>,
    /// Machine-readable JSON output
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store an API token for later commands
    Login(Rest),
    /// Envoys: list, show, revoke
    Envoys(Rest),
    /// Enrollment tokens: create, list, revoke
    Tokens(Rest),
    /// Approved hostname patterns: add, list, remove
    Patterns(Rest),
    /// Desired state: validate, publish, version, trace, tree, history, rollback
    Config(Rest),
    /// Convergence runs and per-resource results
    Runs(Rest),
    /// Secrets: set, list, delete (values are never printed)
    Secrets(Rest),
    /// An envoy's traits
    Traits(Rest),
    /// The audit log
    Audit(Rest),
    /// Server health and version
    Server(Rest),
    /// Shell completions
    Completions(Rest),
    /// Print the CLI version
    Version,
}

/// The arguments of a command group that is not built yet.
#[derive(Debug, Args)]
struct Rest {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let group = match cli.command {
        Command::Version => {
            println!("vigocli {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Login(_) => "login",
        Command::Envoys(_) => "envoys",
        Command::Tokens(_) => "tokens",
        Command::Patterns(_) => "patterns",
        Command::Config(_) => "config",
        Command::Runs(_) => "runs",
        Command::Secrets(_) => "secrets",
        Command::Traits(_) => "traits",
        Command::Audit(_) => "audit",
        Command::Server(_) => "server",
        Command::Completions(_) => "completions",
    };
    eprintln!("vigocli: `{group}` is not implemented yet");
    ExitCode::FAILURE
}
