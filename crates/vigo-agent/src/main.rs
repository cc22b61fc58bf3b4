//! The `vigo` binary: parses the command line and dispatches.

use std::process::ExitCode;

use clap::Parser;
use vigo_agent::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Version) => {
            println!("vigo {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        None | Some(Command::Daemon) => not_implemented("the daemon"),
        Some(Command::Register(_)) => not_implemented("vigo register"),
        Some(Command::Bootstrap(_)) => not_implemented("vigo bootstrap"),
        Some(Command::Run(_)) => not_implemented("vigo run"),
        Some(Command::Status(_)) => not_implemented("vigo status"),
        Some(Command::Traits(_)) => not_implemented("vigo traits"),
        Some(Command::Apply(_)) => not_implemented("vigo apply"),
        Some(Command::Snapshots(args)) => report(vigo_agent::snapshots_cmd::run(
            &cli.global.snapshot_dir,
            cli.global.snapshot_retention,
            &args.command,
        )),
        Some(Command::Repo(_)) => not_implemented("vigo repo (gitback, tier 3)"),
        Some(Command::Crypt(_)) => not_implemented("vigo crypt (lockbox, tier 3)"),
    }
}

/// Prints a command's error with its causes and maps it to exit code 1.
fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("vigo: {e:#}");
        ExitCode::FAILURE
    })
}

/// Says plainly that a command exists in the contract but is not built yet.
fn not_implemented(what: &str) -> ExitCode {
    eprintln!("vigo: {what} is not implemented yet");
    ExitCode::FAILURE
}
