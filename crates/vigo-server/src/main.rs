//! The `vigosrv` binary: parses the command line and dispatches.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The Vigo server: enrollment and CA, signed policy bundles, results, REST API.
#[derive(Debug, Parser)]
#[command(
    name = "vigosrv",
    version,
    about = "Vigo server: enrollment, signed policy bundles, results, REST API"
)]
struct Cli {
    /// Path of server.yaml (default: ./server.yaml)
    #[arg(long, global = true, value_name = "PATH", env = "VIGO_CONFIG_FILE")]
    config: Option<PathBuf>,

    /// What to do; no command serves.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC (agents) and REST (API, UI, metrics) -- the default
    Serve,
    /// Print the server version
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Version) => {
            println!("vigosrv {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        None | Some(Command::Serve) => {
            eprintln!("vigosrv: serving is not implemented yet");
            ExitCode::FAILURE
        }
    }
}
