//! The `vigocli` binary: parses the command line, runs the command and reports a failure
//! as one line of cause plus a hint line. Exit codes: 0 success, 1 error, 2 usage error
//! (clap's).

use std::process::ExitCode;

use clap::Parser;
use owo_colors::OwoColorize;
use vigo_cli::CliError;
use vigo_cli::cli::Cli;

fn main() -> ExitCode {
    restore_sigpipe();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    // The REST client brings its TLS provider (ring, never aws-lc) itself.
    vigo_cli::run(cli)
}

fn report(e: &CliError) {
    anstream::eprintln!("{}: {e}", "error".red().bold());
    if let Some(hint) = e.hint() {
        anstream::eprintln!("{}: {hint}", "hint".cyan().bold());
    }
}

/// Dies quietly on a closed pipe (`vigocli envoys list | head`) like other Unix tools,
/// instead of failing to print.
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL installs no
    // handler code.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}
