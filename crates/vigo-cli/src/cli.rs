//! The command line, defined once with clap derive: help, the man pages
//! (`vigocli man DIR`) and shell completions (`vigocli completions SHELL`) all come
//! from these definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The Vigo admin CLI, over the server's REST API.
#[derive(Debug, Parser)]
#[command(
    name = "vigocli",
    version,
    about = "Vigo admin CLI over the server's REST API",
    long_about = "Vigo admin CLI over the server's REST API.\n\nConnection settings come from the flags, then the environment (VIGO_SERVER, VIGO_TOKEN, VIGO_CA_FILE), then ~/.config/vigo/cli.yaml (written by `vigocli login`). On the server host, without a token, the local admin token (/srv/vigo/local-admin.token, or VIGO_LOCAL_ADMIN_TOKEN_FILE) is used when readable.\n\nExit codes: 0 success, 1 error, 2 usage error."
)]
pub struct Cli {
    /// Connection settings and output format.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Server REST API URL, e.g. https://vigo.example.net:8443
    #[arg(long, global = true, value_name = "URL", env = "VIGO_SERVER")]
    pub server: Option<String>,
    /// API token (vgot_…)
    #[arg(
        long,
        global = true,
        value_name = "TOKEN",
        env = "VIGO_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// CA certificate (PEM) to trust for the server
    #[arg(long, global = true, value_name = "PATH", env = "VIGO_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Print the API's JSON instead of tables
    #[arg(long, global = true)]
    pub json: bool,
}

/// The command groups.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a server URL and API token, and store them in ~/.config/vigo/cli.yaml
    Login,
    /// Envoys: list, show, revoke
    #[command(subcommand)]
    Envoys(EnvoysCmd),
    /// Enrollment tokens: create, list, revoke
    #[command(subcommand)]
    Tokens(TokensCmd),
    /// Approved hostname patterns: add, list, remove
    #[command(subcommand)]
    Patterns(PatternsCmd),
    /// Desired state: validate, publish, version, history, trace, tree, rollback
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Convergence runs and their per-resource results
    #[command(subcommand)]
    Runs(RunsCmd),
    /// Secrets: set, list, delete (values are never printed)
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// An envoy's traits
    #[command(subcommand)]
    Traits(TraitsCmd),
    /// The audit log
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Server health and version
    #[command(subcommand)]
    Server(ServerCmd),
    /// API tokens for vigocli and scripts: create, list, revoke
    #[command(subcommand, name = "api-tokens")]
    ApiTokens(ApiTokensCmd),
    /// Print a shell completion script
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages (vigocli.1 and one per subcommand) into a directory
    Man {
        /// Output directory (created when missing)
        dir: PathBuf,
    },
    /// Print the CLI version
    Version,
}

/// An envoy's status.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EnvoyStatus {
    /// Enrolled and not revoked.
    Active,
    /// Revoked.
    Revoked,
}

impl From<EnvoyStatus> for vigo_api::fleet::EnvoyStatus {
    fn from(status: EnvoyStatus) -> Self {
        match status {
            EnvoyStatus::Active => vigo_api::fleet::EnvoyStatus::Active,
            EnvoyStatus::Revoked => vigo_api::fleet::EnvoyStatus::Revoked,
        }
    }
}

/// `vigocli envoys …`
#[derive(Debug, Subcommand)]
pub enum EnvoysCmd {
    /// List envoys, by hostname
    List {
        /// Only envoys with this status
        #[arg(long, value_enum)]
        status: Option<EnvoyStatus>,
        /// Only hostnames matching this glob (web-*, case-insensitive)
        #[arg(long, value_name = "GLOB")]
        hostname: Option<String>,
        /// Only envoys whose trait at PATH equals VALUE (os.family=debian); repeatable
        #[arg(long = "trait", value_name = "PATH=VALUE")]
        traits: Vec<String>,
    },
    /// Show one envoy
    Show {
        /// UUID or hostname
        envoy: String,
    },
    /// Revoke an envoy: its certificate is refused from now on
    Revoke {
        /// UUID or hostname
        envoy: String,
    },
}

/// `vigocli tokens …`
#[derive(Debug, Subcommand)]
pub enum TokensCmd {
    /// Create a one-time enrollment token (printed once)
    Create {
        /// Lifetime (30m, 24h, 7d)
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Only hostnames matching this glob may enroll with it
        #[arg(long, value_name = "GLOB")]
        pattern: Option<String>,
    },
    /// List enrollment tokens, newest first
    List,
    /// Revoke (delete) an enrollment token
    Revoke {
        /// Token id (enr_…)
        id: String,
    },
}

/// `vigocli patterns …`
#[derive(Debug, Subcommand)]
pub enum PatternsCmd {
    /// Approve a hostname pattern (or change whether it is trusted)
    Add {
        /// Hostname glob (web-*)
        pattern: String,
        /// Hosts matching it may enroll without a token
        #[arg(long)]
        trusted: bool,
    },
    /// List approved patterns
    List,
    /// Remove an approved pattern
    Remove {
        /// The pattern's id (pat_…) or the pattern itself, as listed
        pattern: String,
    },
}

/// `vigocli config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Validate a stacks tree locally with the server's loader (or the server's with --remote)
    Validate {
        /// Stacks directory (default: ./stacks when present, else /srv/vigo/stacks)
        dir: Option<PathBuf>,
        /// Ask the server to validate its own stacks tree instead
        #[arg(long, conflicts_with = "dir")]
        remote: bool,
    },
    /// Publish the server's stacks tree as a new version
    Publish,
    /// Show the live version
    Version,
    /// List published versions, newest first
    History {
        /// How many versions
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// How a hostname resolves: blocks consulted, roles, crates, vars with origin
    Trace {
        /// The hostname
        hostname: String,
        /// Override the environment
        #[arg(long, short = 'e')]
        environment: Option<String>,
        /// Trace offline against this local stacks tree instead of the server's live version
        #[arg(long, value_name = "DIR")]
        stacks: Option<PathBuf>,
    },
    /// Show a local stacks tree: match blocks in the order consulted, roles, crates
    Tree {
        /// Stacks directory (default: ./stacks when present, else /srv/vigo/stacks)
        dir: Option<PathBuf>,
    },
    /// Make a published version's tree live again, as a new version
    Rollback {
        /// The version (YYYYMMDDTHHMMSSZ)
        version: String,
    },
}

/// `vigocli runs …`
#[derive(Debug, Subcommand)]
pub enum RunsCmd {
    /// List an envoy's runs, newest first
    List {
        /// UUID or hostname
        envoy: String,
        /// How many runs
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
    },
    /// Show a run with its per-resource results and timings
    Show {
        /// Run id (UUID)
        run_id: String,
    },
}

/// `vigocli secrets …`
#[derive(Debug, Subcommand)]
pub enum SecretsCmd {
    /// Store a secret; the value is read from stdin (without echo on a terminal)
    Set {
        /// Secret path (db/password)
        path: String,
    },
    /// List secret names (never values)
    List,
    /// Delete a secret
    Delete {
        /// Secret path
        path: String,
    },
}

/// `vigocli traits …`
#[derive(Debug, Subcommand)]
pub enum TraitsCmd {
    /// Show an envoy's latest traits, or the value at a dotted path
    Show {
        /// UUID or hostname
        envoy: String,
        /// Dotted path (os.family, nics.0.name)
        path: Option<String>,
    },
}

/// `vigocli audit …`
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum AuditCmd {
    /// List audit entries, newest first
    List {
        /// How many entries
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Only entries older than this id (the next page)
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
    },
}

/// `vigocli server …`
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum ServerCmd {
    /// Check that the server and its database answer (no token needed)
    Health,
    /// Server version, live config version and who you are
    Version,
    /// The bundle-signing key in use and its rotations
    BundleKey,
    /// Replace the bundle-signing key; agents re-pin at their next check-in (admin)
    #[command(
        long_about = "Replace the server's bundle-signing key with a new ed25519 key (admin).\n\nThe server records the announcement of the new key, signed by the old one, and delivers it at every agent's next check-in, together with the bundle signed by the new key; an agent offline through several rotations gets all of them. Refused with database.driver postgres (each replica has its own key file)."
    )]
    RotateBundleKey,
}

/// An API token's role.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    /// Everything.
    Admin,
    /// Read the fleet and reports.
    Viewer,
    /// Read reports and the audit log.
    Compliance,
}

impl From<Role> for vigo_api::tokens::ApiRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => vigo_api::tokens::ApiRole::Admin,
            Role::Viewer => vigo_api::tokens::ApiRole::Viewer,
            Role::Compliance => vigo_api::tokens::ApiRole::Compliance,
        }
    }
}

/// `vigocli api-tokens …`
#[derive(Debug, Subcommand)]
pub enum ApiTokensCmd {
    /// Create an API token (printed once)
    Create {
        /// A name for it (shown in the audit log)
        name: String,
        /// Its role
        #[arg(long, value_enum)]
        role: Role,
        /// Lifetime (720h)
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Who it is for
        #[arg(long)]
        owner: Option<String>,
    },
    /// List API tokens, revoked ones included
    List,
    /// Revoke an API token
    Revoke {
        /// Token id (tok_…)
        id: String,
    },
}
