//! Connection settings: which server, which API token, which CA to trust.
//!
//! Each setting comes from the first place that has it: the command-line flag, the
//! environment (`VIGO_SERVER`, `VIGO_TOKEN`, `VIGO_CA_FILE`; clap reads both), then the
//! file `~/.config/vigo/cli.yaml` that `vigocli login` writes (`$XDG_CONFIG_HOME` is
//! honoured). On the server host, when no token is configured anywhere, the local admin
//! token that `vigosrv` writes at start (`/srv/vigo/local-admin.token`, or
//! `VIGO_LOCAL_ADMIN_TOKEN_FILE`) is used when readable, with the CA beside it
//! (`tls/ca` in the same directory) and `https://localhost:8443` as the default server.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where `vigosrv` writes its local admin token by default.
pub const LOCAL_ADMIN_TOKEN_FILE: &str = "/srv/vigo/local-admin.token";

/// The server used with the local admin token when none is configured.
pub const LOCAL_SERVER: &str = "https://localhost:8443";

/// A problem reading or writing the settings file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Neither `$XDG_CONFIG_HOME` nor `$HOME` is set.
    #[error("cannot find the settings directory: neither XDG_CONFIG_HOME nor HOME is set")]
    NoHome,
    /// The settings file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The settings file is not valid YAML of the expected shape.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's error (with line and column), boxed: it is large.
        source: Box<serde_saphyr::Error>,
    },
    /// The settings could not be written as YAML.
    #[error("{path}: {source}")]
    Serialize {
        /// The file.
        path: String,
        /// The serializer's error.
        source: serde_saphyr::ser::Error,
    },
}

/// The contents of `cli.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// The server's REST API URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The API token (`vgot_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The CA certificate to trust for the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl SettingsFile {
    /// The path of `cli.yaml`: `$XDG_CONFIG_HOME/vigo/cli.yaml` or `~/.config/vigo/cli.yaml`.
    pub fn path() -> Result<PathBuf, SettingsError> {
        let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x),
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .ok_or(SettingsError::NoHome)?;
                PathBuf::from(home).join(".config")
            }
        };
        Ok(base.join("vigo").join("cli.yaml"))
    }

    /// Reads `path`; a missing file is empty settings.
    pub fn read(path: &Path) -> Result<SettingsFile, SettingsError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(SettingsError::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_saphyr::from_str(&text).map_err(|source| SettingsError::Parse {
            path: path.display().to_string(),
            source: Box::new(source),
        })
    }

    /// Writes the settings to `path`: the directory is created 0700 and the file is
    /// written 0600 (it holds a token).
    pub fn write(&self, path: &Path) -> Result<(), SettingsError> {
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |source| SettingsError::Io { path: p, source }
        };
        if let Some(dir) = path.parent() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io(dir))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))?;
        }
        let text = serde_saphyr::to_string(self).map_err(|source| SettingsError::Serialize {
            path: path.display().to_string(),
            source,
        })?;
        let tmp = path.with_extension("yaml.tmp");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io(&tmp))?;
        file.write_all(text.as_bytes()).map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))
    }
}

/// Where a setting came from (shown by `vigocli server version` and in hints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A flag or its environment variable.
    CommandLine,
    /// `cli.yaml`.
    File,
    /// The local admin token file on the server host.
    LocalAdmin,
    /// Not set anywhere.
    Unset,
}

/// The settings in force for one command.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The server's REST API URL.
    pub server: Option<String>,
    /// The API token.
    pub token: Option<String>,
    /// The CA certificate to trust.
    pub ca_file: Option<PathBuf>,
    /// Where the token came from.
    pub token_source: Source,
}

/// The settings given on the command line (flags or their environment variables).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--server` / `VIGO_SERVER`.
    pub server: Option<String>,
    /// `--token` / `VIGO_TOKEN`.
    pub token: Option<String>,
    /// `--ca-file` / `VIGO_CA_FILE`.
    pub ca_file: Option<PathBuf>,
}

impl Settings {
    /// Resolves the settings: command line, then `cli.yaml`, then the local admin token.
    pub fn resolve(overrides: Overrides) -> Result<Settings, SettingsError> {
        let file = match SettingsFile::path() {
            Ok(p) => SettingsFile::read(&p)?,
            Err(SettingsError::NoHome) => SettingsFile::default(),
            Err(e) => return Err(e),
        };
        let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let mut settings = Settings {
            server: nonempty(overrides.server).or(nonempty(file.server)),
            token_source: Source::Unset,
            token: None,
            ca_file: overrides.ca_file.or(file.ca_file),
        };
        if let Some(t) = nonempty(overrides.token) {
            settings.token = Some(t);
            settings.token_source = Source::CommandLine;
        } else if let Some(t) = nonempty(file.token) {
            settings.token = Some(t);
            settings.token_source = Source::File;
        } else if let Some((token, dir)) = local_admin_token() {
            settings.token = Some(token);
            settings.token_source = Source::LocalAdmin;
            if settings.ca_file.is_none() {
                let ca = dir.join("tls").join("ca");
                if ca.is_file() {
                    settings.ca_file = Some(ca);
                }
            }
            if settings.server.is_none() {
                settings.server = Some(LOCAL_SERVER.to_owned());
            }
        }
        Ok(settings)
    }
}

/// The local admin token and its directory, when the file is readable.
fn local_admin_token() -> Option<(String, PathBuf)> {
    let path = std::env::var_os("VIGO_LOCAL_ADMIN_TOKEN_FILE")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(LOCAL_ADMIN_TOKEN_FILE), PathBuf::from);
    let token = fs::read_to_string(&path).ok()?.trim().to_owned();
    if token.is_empty() {
        return None;
    }
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Some((token, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_file_round_trips_with_private_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("vigo/cli.yaml");
        let s = SettingsFile {
            server: Some("https://vigo.example.net:8443".into()),
            token: Some("vgot_abc".into()),
            ca_file: Some(PathBuf::from("/etc/vigo/ca.pem")),
        };
        s.write(&path).unwrap();
        assert_eq!(SettingsFile::read(&path).unwrap(), s);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }

    #[test]
    fn missing_file_is_empty_and_unknown_keys_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("cli.yaml");
        assert_eq!(SettingsFile::read(&path).unwrap(), SettingsFile::default());
        fs::write(&path, "sever: https://x\n").unwrap();
        let err = SettingsFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("sever"), "{err}");
    }
}
