//! The agent's effective settings: command-line flags > `/etc/vigo-envoy/config` >
//! built-in defaults.
//!
//! The config file is YAML with snake_case keys named after the long flags, plus
//! `envoy_id`, `fallback_servers` and `bolt` (spec/README.md, "Agent"). Register and
//! bootstrap write it; an unknown key or a value of the wrong type is an error that names
//! the file and the key, never silently ignored.

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::{Deserialize, Serialize};

use crate::cli::GlobalFlags;

/// Where the agent keeps its config, certificates and keys (fixed on Linux).
pub const DATA_DIR: &str = "/etc/vigo-envoy";
/// The agent's runtime state root.
pub const STATE_ROOT: &str = "/var/lib/vigo";

/// The content of `/etc/vigo-envoy/config`. Every field is optional: an absent key
/// falls back to the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Server gRPC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// CA certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Client key file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Log level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Server REST API address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_addr: Option<String>,
    /// Custom executor scripts directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executors_dir: Option<PathBuf>,
    /// File snapshots directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_dir: Option<PathBuf>,
    /// Max snapshots per file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_retention: Option<u32>,
    /// Trait refresh interval in check-in cycles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trait_refresh_cycles: Option<u32>,
    /// Result cache lifetime in cycles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_cache_cycles: Option<u32>,
    /// The envoy UUID assigned at registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy_id: Option<String>,
    /// gRPC addresses tried in order when the current server fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_servers: Vec<String>,
    /// Address a spanner hub routed this envoy to; used instead of `server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bolt: Option<String>,
}

/// The keys `ConfigFile` accepts, for "did you mean" hints.
const KEYS: &[&str] = &[
    "server",
    "ca_file",
    "cert_file",
    "key_file",
    "log_level",
    "api_addr",
    "executors_dir",
    "snapshot_dir",
    "snapshot_retention",
    "trait_refresh_cycles",
    "result_cache_cycles",
    "envoy_id",
    "fallback_servers",
    "bolt",
];

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists but could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid for the schema (syntax, unknown key, wrong type).
    #[error("{path}: {message}")]
    Invalid {
        /// The config file.
        path: PathBuf,
        /// What is wrong, with the key and, when known, a hint.
        message: String,
    },
    /// A value is of the right type but not allowed.
    #[error("{path}: key `{key}`: {message}")]
    BadValue {
        /// The config file.
        path: PathBuf,
        /// The offending key.
        key: &'static str,
        /// What was expected.
        message: String,
    },
}

impl ConfigFile {
    /// Reads the config file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(SettingsError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        Self::parse(path, &text)
    }

    /// Parses config text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SettingsError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let cfg: Self = serde_saphyr::from_str(text).map_err(|e| SettingsError::Invalid {
            path: path.to_path_buf(),
            message: with_hint(&locate(text, &e.to_string())),
        })?;
        if let Some(level) = &cfg.log_level
            && !LOG_LEVELS.contains(&level.as_str())
        {
            return Err(SettingsError::BadValue {
                path: path.to_path_buf(),
                key: "log_level",
                message: format!("`{level}` is not one of {}", LOG_LEVELS.join(", ")),
            });
        }
        Ok(cfg)
    }

    /// The YAML text of this config (what register/bootstrap write).
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_default()
    }
}

const LOG_LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];

/// Rewrites serde-saphyr's multi-line message as `line L column C: key `K`: cause`, naming
/// the key found on the offending line.
fn locate(text: &str, message: &str) -> String {
    let first = message.lines().next().unwrap_or(message);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let Some((position, cause)) = first.split_once(": ") else {
        return first.to_owned();
    };
    let line_no = position
        .strip_prefix("line ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok());
    let key = line_no
        .and_then(|n| text.lines().nth(n.saturating_sub(1)))
        .and_then(|l| l.split_once(':'))
        .map(|(k, _)| k.trim().trim_start_matches("- "))
        .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    match key {
        Some(k) if !cause.contains(k) => format!("{position}: key `{k}`: {cause}"),
        _ => format!("{position}: {cause}"),
    }
}

/// Adds a "did you mean" to serde's unknown-field message.
fn with_hint(message: &str) -> String {
    let Some(rest) = message.split("unknown field `").nth(1) else {
        return message.to_owned();
    };
    let Some(unknown) = rest.split('`').next() else {
        return message.to_owned();
    };
    match vigo_core::suggest::closest(unknown, KEYS.iter().copied()) {
        Some(best) => {
            format!("unknown key `{unknown}` (did you mean `{best}`?); {message}")
        }
        _ => format!("unknown key `{unknown}`; {message}"),
    }
}

/// The agent's effective settings after precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Server gRPC address (the bolt address when a spanner hub routed this envoy).
    pub server: String,
    /// CA certificate file.
    pub ca_file: PathBuf,
    /// Client certificate file.
    pub cert_file: PathBuf,
    /// Client key file.
    pub key_file: PathBuf,
    /// Log level.
    pub log_level: String,
    /// Server REST API address.
    pub api_addr: String,
    /// Custom executor scripts directory.
    pub executors_dir: PathBuf,
    /// File snapshots directory.
    pub snapshot_dir: PathBuf,
    /// Max snapshots per file.
    pub snapshot_retention: u32,
    /// Trait refresh interval in check-in cycles.
    pub trait_refresh_cycles: u32,
    /// Result cache lifetime in cycles.
    pub result_cache_cycles: u32,
    /// Envoy UUID, when registered.
    pub envoy_id: Option<String>,
    /// Fallback gRPC addresses, in order.
    pub fallback_servers: Vec<String>,
    /// Bolt address, when routed.
    pub bolt: Option<String>,
    /// The agent's data directory (config, certs, keys).
    pub data_dir: PathBuf,
    /// The LMDB state directory.
    pub state_dir: PathBuf,
}

impl Settings {
    /// Resolves flags > config file > defaults. `matches` tells which flags were given on
    /// the command line; `flags` holds their values (or clap's defaults).
    pub fn resolve(
        matches: &ArgMatches,
        flags: &GlobalFlags,
        file: &ConfigFile,
        data_dir: &Path,
    ) -> Self {
        let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        fn pick<T: Clone>(cli_given: bool, cli: &T, file: Option<&T>) -> T {
            if cli_given {
                cli.clone()
            } else {
                file.cloned().unwrap_or_else(|| cli.clone())
            }
        }
        let default_in = |name: &str| data_dir.join(name);
        Settings {
            server: pick(given("server"), &flags.server, file.server.as_ref()),
            ca_file: flags
                .ca_file
                .clone()
                .or_else(|| file.ca_file.clone())
                .unwrap_or_else(|| default_in("ca.pem")),
            cert_file: flags
                .cert_file
                .clone()
                .or_else(|| file.cert_file.clone())
                .unwrap_or_else(|| default_in("cert.pem")),
            key_file: flags
                .key_file
                .clone()
                .or_else(|| file.key_file.clone())
                .unwrap_or_else(|| default_in("key.pem")),
            log_level: pick(
                given("log_level"),
                &flags.log_level,
                file.log_level.as_ref(),
            ),
            api_addr: pick(given("api_addr"), &flags.api_addr, file.api_addr.as_ref()),
            executors_dir: pick(
                given("executors_dir"),
                &flags.executors_dir,
                file.executors_dir.as_ref(),
            ),
            snapshot_dir: pick(
                given("snapshot_dir"),
                &flags.snapshot_dir,
                file.snapshot_dir.as_ref(),
            ),
            snapshot_retention: pick(
                given("snapshot_retention"),
                &flags.snapshot_retention,
                file.snapshot_retention.as_ref(),
            ),
            trait_refresh_cycles: pick(
                given("trait_refresh_cycles"),
                &flags.trait_refresh_cycles,
                file.trait_refresh_cycles.as_ref(),
            ),
            result_cache_cycles: pick(
                given("result_cache_cycles"),
                &flags.result_cache_cycles,
                file.result_cache_cycles.as_ref(),
            ),
            envoy_id: file.envoy_id.clone(),
            fallback_servers: file.fallback_servers.clone(),
            bolt: file.bolt.clone(),
            data_dir: data_dir.to_path_buf(),
            state_dir: Path::new(STATE_ROOT).join("state"),
        }
    }

    /// The address to dial first: the bolt when routed, else the server.
    pub fn primary_server(&self) -> &str {
        self.bolt.as_deref().unwrap_or(&self.server)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;
    use crate::cli::Cli;

    fn resolve(args: &[&str], file: &str) -> Settings {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let file = ConfigFile::parse(Path::new("/etc/vigo-envoy/config"), file).unwrap();
        Settings::resolve(&matches, &cli.global, &file, Path::new(DATA_DIR))
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let s = resolve(&["vigo"], "");
        assert_eq!(s.server, "localhost:1530");
        assert_eq!(s.api_addr, "https://localhost:8443");
        assert_eq!(s.snapshot_retention, 5);
        assert_eq!(s.trait_refresh_cycles, 10);
        assert_eq!(s.result_cache_cycles, 5);
        assert_eq!(s.ca_file, Path::new("/etc/vigo-envoy/ca.pem"));
        assert_eq!(s.state_dir, Path::new("/var/lib/vigo/state"));
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let file = "server: vigo.example.com:1530\nsnapshot_retention: 9\nlog_level: debug\n\
                    fallback_servers: [vigo2.example.com:1530]\nenvoy_id: a1b2\n";
        let s = resolve(&["vigo"], file);
        assert_eq!(s.server, "vigo.example.com:1530");
        assert_eq!(s.snapshot_retention, 9);
        assert_eq!(s.log_level, "debug");
        assert_eq!(s.fallback_servers, vec!["vigo2.example.com:1530"]);
        assert_eq!(s.envoy_id.as_deref(), Some("a1b2"));

        let s = resolve(
            &[
                "vigo",
                "--server",
                "other:1530",
                "--snapshot-retention",
                "5",
            ],
            file,
        );
        assert_eq!(s.server, "other:1530", "flag beats file");
        assert_eq!(
            s.snapshot_retention, 5,
            "a flag equal to the default still wins"
        );
    }

    #[test]
    fn bolt_is_dialled_instead_of_server() {
        let s = resolve(&["vigo"], "server: a:1530\nbolt: b:1530\n");
        assert_eq!(s.primary_server(), "b:1530");
    }

    #[test]
    fn unknown_key_names_the_file_and_key_with_a_hint() {
        let err = ConfigFile::parse(
            Path::new("/etc/vigo-envoy/config"),
            "snapshot_retension: 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("/etc/vigo-envoy/config: unknown key `snapshot_retension` (did you mean `snapshot_retention`?)"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = ConfigFile::parse(Path::new("/c"), "snapshot_retention: many\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "/c: line 1 column 21: key `snapshot_retention`: invalid u32"
        );
    }

    #[test]
    fn bad_log_level_names_the_key() {
        let err = ConfigFile::parse(Path::new("/c"), "log_level: loud\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "/c: key `log_level`: `loud` is not one of trace, debug, info, warn, error"
        );
    }

    #[test]
    fn written_config_reads_back() {
        let cfg = ConfigFile {
            server: Some("vigo:1530".into()),
            envoy_id: Some("id".into()),
            fallback_servers: vec!["b:1530".into()],
            ..Default::default()
        };
        let back = ConfigFile::parse(Path::new("/c"), &cfg.to_yaml()).unwrap();
        assert_eq!(back, cfg);
    }
}
