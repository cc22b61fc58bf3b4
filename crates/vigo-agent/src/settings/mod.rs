//! The agent's effective settings: command-line flags > `/etc/vigo-envoy/config` >
//! built-in defaults.
//!
//! Every setting is declared once, in the table at the bottom of this file: its field
//! name is the config key and (in kebab case) the long flag; its doc line is the `--help`
//! line, the docs/agent.md row and the `vigo status` label; its default is written once.
//! From the table come [`SettingFlags`] (the clap global flags), [`ConfigFile`] (the YAML
//! file register and bootstrap write), [`Settings`] (the effective values, with the
//! [`Origin`] of each) and [`table`] (what the docs and `vigo status` list).
//!
//! The config file is parsed with positions: an unknown key or a value of the wrong type
//! is an error that names the file, the line and the key, never silently ignored.

mod table;
mod value;

use std::path::{Path, PathBuf};

use vigo_lang::yaml::{self, Node, Pos};

pub use table::{ConfigFile, Origins, SettingFlags, Settings, table};
pub use value::{LogLevel, Origin, SettingValue, Unset};

/// Where the agent keeps its config, certificates and keys (fixed on Linux).
pub const DATA_DIR: &str = "/etc/vigo-envoy";
/// The agent's runtime state root.
pub const STATE_ROOT: &str = "/var/lib/vigo";

/// Test-only override of the runtime root (`/var/lib/vigo`): state store, lock, sentinel.
pub const STATE_ROOT_ENV: &str = "VIGO_STATE_ROOT";
/// Test-only override of the data directory (`/etc/vigo-envoy`).
pub const DATA_DIR_ENV: &str = "VIGO_DATA_DIR";

/// The runtime root: `/var/lib/vigo`, or `$VIGO_STATE_ROOT` (for tests only).
pub fn state_root() -> PathBuf {
    std::env::var_os(STATE_ROOT_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(STATE_ROOT), PathBuf::from)
}

/// The data directory: `/etc/vigo-envoy`, or `$VIGO_DATA_DIR` (for tests only).
pub fn data_dir() -> PathBuf {
    std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DATA_DIR), PathBuf::from)
}

/// One setting as the docs and `vigo status` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingInfo {
    /// The config-file key (the field name).
    pub key: &'static str,
    /// The long flag's value name (`ADDR`), when the setting has a flag.
    pub value_name: Option<&'static str>,
    /// The doc line.
    pub doc: &'static str,
    /// The default as shown (`None`: unset unless given).
    pub default: Option<String>,
    /// Whether `--help` shows the default (not for paths under the data directory,
    /// which the reference leaves blank).
    pub default_in_help: bool,
}

impl SettingInfo {
    /// The long flag (`--snapshot-retention`), when the setting has one.
    pub fn flag(&self) -> Option<String> {
        self.value_name
            .map(|_| format!("--{}", self.key.replace('_', "-")))
    }
}

/// One effective setting as `vigo status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownSetting {
    /// The config key.
    pub key: &'static str,
    /// The value as shown.
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
    /// Whether it has a flag (config-only settings are the envoy's identity and routing,
    /// shown in the status header).
    pub has_flag: bool,
}

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file exists but could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("{}:{pos}: {message}", path.display())]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// Where the parser stopped.
        pos: Pos,
        /// What it found.
        message: String,
    },
    /// The document is not a mapping of keys to values.
    #[error("{}:{pos}: expected a mapping of settings (`key: value` lines), found {found}", path.display())]
    NotAMapping {
        /// The config file.
        path: PathBuf,
        /// Where the document starts.
        pos: Pos,
        /// What the document is.
        found: &'static str,
    },
    /// A key that no setting has.
    #[error("{}:{pos}: unknown key `{key}`{}; the keys are {}", path.display(),
        hint.map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default(), keys())]
    UnknownKey {
        /// The config file.
        path: PathBuf,
        /// Where the key is written.
        pos: Pos,
        /// The key as written.
        key: String,
        /// The closest known key.
        hint: Option<&'static str>,
    },
    /// A value of the wrong type or not allowed.
    #[error("{}:{pos}: key `{key}`: expected {expected}", path.display())]
    BadValue {
        /// The config file.
        path: PathBuf,
        /// Where the value is written.
        pos: Pos,
        /// The key.
        key: &'static str,
        /// What the key takes.
        expected: &'static str,
        /// What the value is and why it does not fit.
        #[source]
        source: serde_json::Error,
    },
    /// The config could not be written as YAML.
    #[error("writing the config as YAML")]
    Serialize(#[source] serde_saphyr::ser::Error),
}

/// The config keys, comma-separated, for messages.
fn keys() -> String {
    table()
        .iter()
        .map(|s| format!("`{}`", s.key))
        .collect::<Vec<_>>()
        .join(", ")
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

    /// Parses config text; `path` is only used in messages. Each key is checked against
    /// the table before its value is read.
    pub fn parse(path: &Path, text: &str) -> Result<Self, SettingsError> {
        let doc = yaml::parse(text).map_err(|e| SettingsError::Syntax {
            path: path.to_path_buf(),
            pos: e.pos,
            message: e.message,
        })?;
        let entries = match &doc.kind {
            yaml::Kind::Null => return Ok(Self::default()),
            yaml::Kind::Map(entries) => entries,
            _ => {
                return Err(SettingsError::NotAMapping {
                    path: path.to_path_buf(),
                    pos: doc.pos,
                    found: doc.type_word(),
                });
            }
        };
        let mut config = Self::default();
        for (key, node) in entries {
            config.set(path, &key.name, key.pos, node)?;
        }
        Ok(config)
    }

    /// The YAML text of this config (what register/bootstrap write).
    pub fn to_yaml(&self) -> Result<String, SettingsError> {
        serde_saphyr::to_string(self).map_err(SettingsError::Serialize)
    }
}

/// Reads one config value as the key's type; a key with no value (`bolt:`) is unset.
fn read_value<T: serde::de::DeserializeOwned + Default>(
    path: &Path,
    key: &'static str,
    node: &Node,
    expected: &'static str,
) -> Result<T, SettingsError> {
    if matches!(node.kind, yaml::Kind::Null) {
        return Ok(T::default());
    }
    serde_json::from_value(node.to_json()).map_err(|source| SettingsError::BadValue {
        path: path.to_path_buf(),
        pos: node.pos,
        key,
        expected,
        source,
    })
}

/// The unknown-key error for `key`, with the closest known key as a hint.
fn unknown_key(path: &Path, key: &str, pos: Pos) -> SettingsError {
    let known = table();
    SettingsError::UnknownKey {
        path: path.to_path_buf(),
        pos,
        key: key.to_owned(),
        hint: vigo_core::suggest::closest(key, known.iter().map(|s| s.key)),
    }
}

/// A flag's help line: the doc line and, when fixed, `[default: X]` as clap writes it.
fn help_line(doc: &str, default: Option<String>) -> String {
    match default {
        Some(d) => format!("{doc} [default: {d}]"),
        None => doc.to_owned(),
    }
}

impl Settings {
    /// The defaults (no flag, no config file) with these directories.
    pub fn defaults(data_dir: &Path, state_dir: &Path) -> Self {
        Self::resolve(
            &SettingFlags::default(),
            &ConfigFile::default(),
            data_dir,
            state_dir,
        )
    }

    /// The address to dial first: the bolt when routed, else the server.
    pub fn primary_server(&self) -> &str {
        self.bolt.as_deref().unwrap_or(&self.server)
    }
}

/// The docs/agent.md settings table (between its `settings-table` markers).
pub fn markdown_table() -> String {
    let mut out = String::from("| flag | config key | default | meaning |\n|---|---|---|---|\n");
    for s in table() {
        let flag = match (s.flag(), s.value_name) {
            (Some(f), Some(v)) => format!("`{f} <{v}>`"),
            _ => "(config only)".to_owned(),
        };
        let default = s.default.map(|d| format!("`{d}`")).unwrap_or_default();
        out.push_str(&format!(
            "| {flag} | `{}` | {default} | {} |\n",
            s.key, s.doc
        ));
    }
    out
}

#[cfg(test)]
mod tests;
