//! The `vigo` binary: parses the command line, sets up logging at the configured level,
//! and dispatches.
//!
//! Every command that converges (the daemon, `run`, `apply`, `resource`) runs under
//! [`with_stop_signals`]: SIGTERM or SIGINT lets the current resource finish, then the
//! command stops, releases the convergence lock and exits with its documented code; a
//! second signal exits at once.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::Parser;
use tokio::sync::Notify;
use vigo_agent::cli::{Cli, Command};
use vigo_agent::settings::{ConfigFile, Settings};

fn main() -> ExitCode {
    // Before anything can hold a secret: no core dumps, not dumpable. Best effort.
    let hardened = vigo_agent::harden::harden_process();
    let cli = Cli::parse();
    // `VIGO_DATA_DIR` / `VIGO_STATE_ROOT` exist for tests only (see converge.rs).
    let settings = (|| -> anyhow::Result<Settings> {
        let data_dir = vigo_agent::settings::data_dir();
        let file = ConfigFile::load(&data_dir.join("config"))?;
        let state_dir = vigo_agent::settings::state_root().join("state");
        Ok(Settings::resolve(
            &cli.global.settings,
            &file,
            &data_dir,
            &state_dir,
        ))
    })();
    // The level from the settings; when the config itself is bad, from the flag.
    let level = settings.as_ref().map_or_else(
        |_| cli.global.settings.log_level.unwrap_or_default(),
        |s| s.log_level,
    );
    if let Err(e) = vigo_agent::logging::init(level) {
        eprintln!("vigo: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = hardened {
        tracing::warn!("{e}");
    }
    match cli.command {
        Some(Command::Version) => {
            println!("vigo {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        None | Some(Command::Daemon) => report(settings.and_then(|s| {
            let (dry_run, once) = (cli.global.dry_run, cli.global.once);
            with_stop_signals(move |stop, stopped| {
                vigo_agent::daemon::run(s, dry_run, once, stop, stopped)
            })
        })),
        Some(Command::Register(args)) => report(settings.and_then(|s| {
            with_stop_signals(async move |_, _| vigo_agent::register_cmd::run(&s, &args).await)
        })),
        Some(Command::Bootstrap(args)) => report(settings.and_then(|s| {
            with_stop_signals(async move |_, _| vigo_agent::bootstrap_cmd::run(&s, &args).await)
        })),
        Some(Command::Run(args)) => report(settings.and_then(|s| {
            let dry_run = cli.global.dry_run;
            with_stop_signals(async move |stop, _| {
                vigo_agent::run_cmd::run(s, &args, dry_run, &stop).await
            })
        })),
        Some(Command::Status(args)) => report(settings.map(|s| {
            let view = vigo_agent::status_cmd::gather(&s, vigo_agent::clock::now_unix());
            if args.json {
                println!("{}", vigo_agent::status_cmd::to_json(&view));
            } else {
                print!("{}", vigo_agent::status_cmd::render(&view));
            }
            ExitCode::SUCCESS
        })),
        Some(Command::Traits(args)) => report(vigo_agent::traits_cmd::run(&args)),
        Some(Command::Apply(args)) => report(settings.and_then(|s| {
            let dry_run = cli.global.dry_run;
            with_stop_signals(async move |stop, _| {
                tokio::task::block_in_place(|| {
                    vigo_agent::apply_cmd::run(&s, &args, dry_run, &stop)
                })
            })
        })),
        Some(Command::Snapshots(args)) => report(settings.and_then(|s| {
            vigo_agent::snapshots_cmd::run(&s.snapshot_dir, s.snapshot_retention, &args.command)
        })),
        Some(Command::Resource(args)) if args.help => {
            report(vigo_agent::resource_cmd::help(args.type_name.as_deref()))
        }
        Some(Command::Resource(args)) => report(settings.and_then(|s| {
            let dry_run = cli.global.dry_run;
            with_stop_signals(async move |stop, _| {
                tokio::task::block_in_place(|| {
                    vigo_agent::resource_cmd::run(&s, &args, dry_run, &stop)
                })
            })
        })),
        Some(Command::Repo(_)) => not_implemented("vigo repo (gitback, tier 3)"),
        Some(Command::Crypt(_)) => not_implemented("vigo crypt (lockbox, tier 3)"),
    }
}

/// Runs a command on a multi-threaded runtime with the ring TLS provider and the one
/// SIGTERM/SIGINT handling of every command: the first signal sets `stop` (checked
/// between resources and while waiting for the convergence lock) and wakes `stopped`; a
/// second one exits at once (the kernel releases the lock; the next run removes the
/// sentinel left behind).
fn with_stop_signals<F, Fut>(command: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(Arc<AtomicBool>, Arc<Notify>) -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    // One crypto provider per process (ring; never aws-lc). Already set is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(Notify::new());
        let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
        let (s, n) = (Arc::clone(&stop), Arc::clone(&stopped));
        tokio::spawn(async move {
            let name = |term: bool| if term { "SIGTERM" } else { "SIGINT" };
            let first = tokio::select! {
                _ = term.recv() => true,
                _ = int.recv() => false,
            };
            tracing::info!(
                "{}: stopping after the current resource (a second signal exits at once)",
                name(first)
            );
            s.store(true, Ordering::SeqCst);
            n.notify_waiters();
            n.notify_one();
            let second = tokio::select! {
                _ = term.recv() => true,
                _ = int.recv() => false,
            };
            tracing::warn!("{}: exiting now", name(second));
            std::process::exit(1);
        });
        command(stop, stopped).await
    })
}

/// Logs a command's error with its causes and maps it to exit code 1.
fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    result.unwrap_or_else(|e| {
        tracing::error!("{e:#}");
        ExitCode::FAILURE
    })
}

/// Says plainly that a command exists in the contract but is not built yet.
fn not_implemented(what: &str) -> ExitCode {
    tracing::error!("{what} is not implemented yet");
    ExitCode::FAILURE
}
