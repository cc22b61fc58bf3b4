//! Command-line definition of the `vigo` agent.
//!
//! Every global flag, command and default here is the contract of
//! `agent-cli-reference.txt`; `vigo apply` and `vigo snapshots` are this
//! project's additions. Global flags are given before the command
//! (`vigo --once`, `vigo --server H:1530 run`); `bootstrap --server` and
//! `run --dry-run` are the commands' own flags, as in the reference.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::SettingFlags;

/// The Vigo agent: converges this machine (an envoy) to the policy its server assigns.
#[derive(Debug, Parser)]
#[command(
    name = "vigo",
    version,
    about = "Vigo agent: converge this machine (an envoy) to its signed policy bundle",
    long_about = None,
    term_width = 120,
    disable_version_flag = false,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    /// Flags that apply to every command.
    #[command(flatten)]
    pub global: GlobalFlags,

    /// What to do; no command runs the daemon.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The agent's global flags, in the reference's order, with its defaults: the settings
/// (declared once in [`crate::settings`]), then the two mode switches.
///
/// Settings resolve as CLI flags > `/etc/vigo-envoy/config` > defaults
/// ([`crate::settings::Settings::resolve`]).
#[derive(Debug, Args)]
pub struct GlobalFlags {
    /// The flags that set a setting.
    #[command(flatten)]
    pub settings: SettingFlags,

    /// Preview mode (no changes applied)
    #[arg(long)]
    pub dry_run: bool,

    /// Run a single convergence cycle and exit
    #[arg(long)]
    pub once: bool,
}

/// The agent's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Same as no command -- run the daemon loop
    Daemon,
    /// Register with the server
    Register(RegisterArgs),
    /// Full bootstrap (download certs, register, install service)
    Bootstrap(BootstrapArgs),
    /// One-shot convergence
    Run(RunArgs),
    /// Show local agent state (config, cached policy, pending results)
    Status(StatusArgs),
    /// Run trait collectors and print JSON
    Traits(TraitsArgs),
    /// Print agent version
    Version,
    /// Converge this machine from a local stacks/ tree, without a server (masterless)
    Apply(ApplyArgs),
    /// List, show and restore the file snapshots taken before every change
    Snapshots(SnapshotsArgs),
    /// Converge one resource given on the command line (like `puppet resource`)
    Resource(ResourceArgs),
    /// Inspect and recover gitback personal-DR mirrors
    Repo(PassthroughArgs),
    /// Manage lockbox -- per-user encrypted P2P directory
    Crypt(PassthroughArgs),
}

/// `vigo register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// One-time enrollment token (required)
    #[arg(long, value_name = "TOKEN", required = true)]
    pub token: String,
    /// Revoke any existing enrollment for this hostname and re-register
    #[arg(long)]
    pub force: bool,
}

/// `vigo bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// Server REST API URL (required, e.g. https://vigo.example.com:8443)
    #[arg(long = "server", value_name = "URL", required = true)]
    pub server_url: String,
    /// Enrollment token (optional if trusted enrollment is configured)
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Install and start the platform service (systemd, launchd, rc.d, rcctl, SMF, Windows Service)
    #[arg(long)]
    pub install_service: bool,
    /// Server gRPC port
    #[arg(long, value_name = "PORT", default_value_t = 1530)]
    pub grpc_port: u16,
    /// Revoke any existing enrollment for this hostname and re-register
    #[arg(long)]
    pub force: bool,
}

/// `vigo run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only apply resources from this configcrate
    #[arg(long, value_name = "name")]
    pub configcrate: Option<String>,
    /// Preview mode -- check state but do not apply changes
    #[arg(long)]
    pub dry_run: bool,
    /// Print the run's result as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// `vigo status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the state as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// `vigo traits`.
#[derive(Debug, Args)]
pub struct TraitsArgs {
    /// Collector names (`os network`) or one dot path (`os.family`); none = all collectors
    #[arg(value_name = "COLLECTOR|PATH")]
    pub selectors: Vec<String>,
    /// Add per-collector timing to the output
    #[arg(long)]
    pub timing: bool,
}

/// `vigo apply` (masterless).
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The stacks/ directory to resolve
    #[arg(value_name = "STACKS_DIR")]
    pub stacks_dir: PathBuf,
    /// Resolve as this hostname instead of the machine's own
    #[arg(long, value_name = "H")]
    pub hostname: Option<String>,
    /// Resolve in this environment
    #[arg(long, value_name = "E")]
    pub environment: Option<String>,
    /// Only apply resources from this configcrate
    #[arg(long, value_name = "C")]
    pub configcrate: Option<String>,
    /// Preview mode -- check state but do not apply changes
    #[arg(long)]
    pub dry_run: bool,
    /// Print the run's result as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// `vigo resource`: one resource through the same engine, guardrails and snapshots.
/// `--help` is its own flag so that `vigo resource TYPE --help` can print the type's
/// attributes, from the type's definition in `vigo_core::types`.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct ResourceArgs {
    /// The resource type (`file`, `package`, `service`, … or a custom executor)
    #[arg(value_name = "TYPE", required_unless_present = "help")]
    pub type_name: Option<String>,
    /// The resource name
    #[arg(value_name = "NAME", required_unless_present = "help")]
    pub name: Option<String>,
    /// Attributes as KEY=VALUE (values are strings; lists as "a,b")
    #[arg(value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
    /// Attributes as one JSON object (for structured values), merged under KEY=VALUE ones
    #[arg(long, value_name = "JSON")]
    pub attrs: Option<String>,
    /// Preview mode -- check state but do not apply changes
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Print help: the built-in types, or with TYPE that type's attributes
    #[arg(short = 'h', long)]
    pub help: bool,
}

/// `vigo snapshots`.
#[derive(Debug, Args)]
pub struct SnapshotsArgs {
    /// What to do with snapshots.
    #[command(subcommand)]
    pub command: SnapshotsCommand,
}

/// `vigo snapshots` subcommands.
#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    /// List snapshots, of every file or of PATH
    List {
        /// Only the snapshots of this file
        path: Option<PathBuf>,
    },
    /// Print the content of one snapshot
    Show {
        /// Snapshot id, as `list` prints it
        id: String,
    },
    /// Restore a file from one snapshot (atomically, snapshotting the current content first)
    Restore {
        /// Snapshot id, as `list` prints it
        id: String,
    },
}

/// Arguments of a command group that is not built yet (tier 3).
#[derive(Debug, Args)]
pub struct PassthroughArgs {
    /// The subcommand and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}
