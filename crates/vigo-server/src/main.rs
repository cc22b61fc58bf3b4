//! The `vigosrv` binary: parses the command line and dispatches.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use vigo_lang::source::ReadOptions;
use vigo_server::clock::Clock;
use vigo_server::config::{LogFormat, ServerConfig};
use vigo_server::listen::activation::Listeners;
use vigo_server::publish::{check_tree, read_stacks};
use vigo_server::{datadir, serve};

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
    /// Load and validate a stacks tree (default: <data_dir>/stacks), printing every problem
    Validate {
        /// The stacks directory
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Version) => {
            println!("vigosrv {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(Command::Validate { dir }) => validate(cli.config.as_deref(), dir),
        None | Some(Command::Serve) => {
            let config = match load_config(cli.config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match run_server(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("vigosrv: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn load_config(explicit: Option<&Path>) -> Result<ServerConfig, ExitCode> {
    ServerConfig::load(explicit).map_err(|e| {
        // Already "file:line:column: `key`: what", one line.
        eprintln!("vigosrv: {e}");
        ExitCode::FAILURE
    })
}

fn validate(config: Option<&Path>, dir: Option<PathBuf>) -> ExitCode {
    // The server's own tree is read as a publish reads it, refusing its private paths;
    // a directory named on the command line with the reader's rules alone.
    let (dir, read) = match dir {
        Some(d) => (d, ReadOptions::default()),
        None => match load_config(config) {
            Ok(c) => (datadir::stacks_dir(&c), datadir::read_options(&c)),
            Err(code) => return code,
        },
    };
    let checked = read_stacks(&dir, &read)
        .and_then(|tree| check_tree(&tree, None).map_err(vigo_server::ops::PublishError::Invalid));
    match checked {
        Ok(stack) => {
            println!(
                "{}: valid ({} match blocks)",
                dir.display(),
                stack.blocks.len()
            );
            ExitCode::SUCCESS
        }
        Err(vigo_server::ops::PublishError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{}", p.message);
            }
            eprintln!("{}: {} error(s)", dir.display(), problems.len());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("vigosrv: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &ServerConfig) {
    let level = config.logging.level.as_str();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.logging.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn run_server(config: ServerConfig) -> anyhow::Result<()> {
    init_logging(&config);
    // Every TLS configuration passes ring explicitly; this covers any that would not.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let listeners = Listeners::from_env().context("starting the server")?;
        let running = serve::start_with(config, Clock::for_process(), listeners)
            .await
            .context("starting the server")?;
        wait_for_signal().await?;
        tracing::info!("shutting down");
        running.shutdown().await.context("shutting down")?;
        tracing::info!("stopped");
        Ok(())
    })
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}
