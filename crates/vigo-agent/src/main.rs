//! The `vigo` binary: parses the command line and dispatches.

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};
use vigo_agent::cli::{Cli, Command};
use vigo_agent::settings::{ConfigFile, DATA_DIR, Settings};

fn main() -> ExitCode {
    // Before anything can hold a secret: no core dumps, not dumpable. Best effort.
    if let Err(e) = vigo_agent::harden::harden_process() {
        eprintln!("vigo: warning: {e}");
    }
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let settings = || -> anyhow::Result<Settings> {
        let data_dir = std::path::Path::new(DATA_DIR);
        let file = ConfigFile::load(&data_dir.join("config"))?;
        Ok(Settings::resolve(&matches, &cli.global, &file, data_dir))
    };
    match cli.command {
        Some(Command::Version) => {
            println!("vigo {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        None | Some(Command::Daemon) => not_implemented("the daemon"),
        Some(Command::Register(_)) => not_implemented("vigo register"),
        Some(Command::Bootstrap(_)) => not_implemented("vigo bootstrap"),
        Some(Command::Run(_)) => not_implemented("vigo run"),
        Some(Command::Status(args)) => report(settings().and_then(|s| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("system clock before 1970")?;
            let view = vigo_agent::status_cmd::gather(&s, i64::try_from(now.as_secs())?);
            if args.json {
                println!("{}", vigo_agent::status_cmd::to_json(&view));
            } else {
                print!("{}", vigo_agent::status_cmd::render(&view));
            }
            Ok(ExitCode::SUCCESS)
        })),
        Some(Command::Traits(args)) => report(vigo_agent::traits_cmd::run(&args)),
        Some(Command::Apply(args)) => report(
            settings().and_then(|s| vigo_agent::apply_cmd::run(&s, &args, cli.global.dry_run)),
        ),
        Some(Command::Snapshots(args)) => report(settings().and_then(|s| {
            vigo_agent::snapshots_cmd::run(&s.snapshot_dir, s.snapshot_retention, &args.command)
        })),
        Some(Command::Resource(args)) => {
            report(settings().and_then(|s| vigo_agent::resource_cmd::run(&s, &args)))
        }
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
