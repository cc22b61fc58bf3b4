//! `server.yaml`: where it is found, every section with its defaults, and errors that
//! say where and what.
//!
//! The file is looked up, in order, at an explicit path (`vigosrv --config`), at
//! `$VIGO_CONFIG_FILE`, then as `server.yaml` in the working directory. No file at all
//! means every default; a file named explicitly or by the environment must exist.
//!
//! Every relative path in the file is relative to `server.data_dir`, which defaults to
//! the directory holding the file (the working directory when there is none). A loaded
//! [`ServerConfig`] holds absolute paths only.
//!
//! A bad value or an unknown key is an error naming the file, the line and column when
//! known, the key path (`checkin.interval`) and what was expected, with a "did you mean"
//! for a misspelt key. So is a key that turns on a feature this server does not have
//! yet (`auth.method: oidc`, `scrier.enabled: true`, …; see `support.rs`): the server
//! fails closed rather than start without what its file asks for. `docs/server.md`
//! documents every key.

mod connections;
mod sections;
mod support;
mod values;

use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use vigo_lang::yaml::{self, Node};

pub use connections::{ConnectionsSection, ListenerBudget};
pub use sections::*;
pub use values::{ConfigDuration, DURATION_EXPECTED, ListenAddr, SanName, SecretText, is_dns_name};

use crate::secrets::LocalSecrets;

/// The file name looked up in the working directory.
pub const CONFIG_FILE_NAME: &str = "server.yaml";
/// The environment variable naming the config file.
pub const CONFIG_FILE_ENV: &str = "VIGO_CONFIG_FILE";
/// The prefix of a value resolved through the secrets backend at startup.
pub const SECRET_PREFIX: &str = "secret:";

/// The whole of `server.yaml`, defaults filled in, paths absolute. (`Default` gives the
/// defaults with their relative paths; [`ServerConfig::defaults`] resolves them.)
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listeners, identity, TLS material.
    #[serde(deserialize_with = "null_is_default")]
    pub server: ServerSection,
    /// The store.
    #[serde(deserialize_with = "null_is_default")]
    pub database: DatabaseSection,
    /// The secrets backend.
    #[serde(deserialize_with = "null_is_default")]
    pub secrets: SecretsSection,
    /// Web and API login.
    #[serde(deserialize_with = "null_is_default")]
    pub auth: AuthSection,
    /// Check-in cadence and bundle lifetime.
    #[serde(deserialize_with = "null_is_default")]
    pub checkin: CheckinSection,
    /// Registration of new envoys.
    #[serde(deserialize_with = "null_is_default")]
    pub enrollment: EnrollmentSection,
    /// How long run history is kept.
    #[serde(deserialize_with = "null_is_default")]
    pub retention: RetentionSection,
    /// The server's log.
    #[serde(deserialize_with = "null_is_default")]
    pub logging: LoggingSection,
    /// The Prometheus endpoint.
    #[serde(deserialize_with = "null_is_default")]
    pub metrics: MetricsSection,
    /// Remote access (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub scrier: ScrierSection,
    /// Envoy peer substrate (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub swarm: SwarmSection,
    /// Federation (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub spanner: SpannerSection,
    /// HA replication (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub peers: PeersSection,
    /// Litestream backup (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub backup: BackupSection,
    /// Event fan-out (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub integrations: IntegrationsSection,
    /// Notification mail (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub smtp: SmtpSection,
    /// AI features (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub ai: AiSection,
    /// Publish pipeline options (tier 3: refused when switched on).
    #[serde(deserialize_with = "null_is_default")]
    pub publish: PublishSection,
    /// The file this was read from; `None` when every value is a default.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

/// Why `server.yaml` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--config` or `$VIGO_CONFIG_FILE` does not exist.
    #[error("{}: server config not found (named by {by})", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
        /// Who named it: `--config` or `$VIGO_CONFIG_FILE`.
        by: &'static str,
    },
    /// The file or the working directory could not be read.
    #[error("{}: cannot read the server config: {source}", path.display())]
    Read {
        /// The file (or directory).
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A syntax error, an unknown key or a bad value.
    #[error("{0}")]
    Invalid(Box<Invalid>),
    /// A `secret:<path>` value could not be resolved.
    #[error(
        "{}: resolving secret '{reference}' for `{key}`: {message}",
        file.as_deref().map_or_else(|| "server config".into(), |f| f.display().to_string())
    )]
    Secret {
        /// The config file, when there is one.
        file: Option<PathBuf>,
        /// The key holding the reference.
        key: String,
        /// The secret's path.
        reference: String,
        /// Why it failed (never the value).
        message: String,
    },
}

/// Where and what is wrong in `server.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// The dotted key path (`checkin.interval`); empty for the document itself.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
    /// A suggestion, e.g. "did you mean `interval`?".
    pub hint: Option<String>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if !self.key.is_empty() {
            write!(f, ": `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

/// Where the config comes from, before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigLocation {
    /// The file to read.
    pub path: PathBuf,
    /// Who named it: `--config`, `$VIGO_CONFIG_FILE`, or `None` for the default
    /// `./server.yaml` (which may be absent).
    pub named_by: Option<&'static str>,
}

/// Picks the file: an explicit path, else `$VIGO_CONFIG_FILE` (when set and not
/// empty), else `server.yaml` in `cwd`.
pub fn locate(explicit: Option<&Path>, env: Option<&Path>, cwd: &Path) -> ConfigLocation {
    let absolute = |p: &Path| normalize(&cwd.join(p));
    if let Some(p) = explicit {
        return ConfigLocation {
            path: absolute(p),
            named_by: Some("--config"),
        };
    }
    if let Some(p) = env.filter(|p| !p.as_os_str().is_empty()) {
        return ConfigLocation {
            path: absolute(p),
            named_by: Some("$VIGO_CONFIG_FILE"),
        };
    }
    ConfigLocation {
        path: cwd.join(CONFIG_FILE_NAME),
        named_by: None,
    }
}

impl ServerConfig {
    /// Finds and reads `server.yaml` (see [`locate`]): `explicit` first, then
    /// `$VIGO_CONFIG_FILE`, then the working directory. No file = every default.
    pub fn load(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let cwd = std::env::current_dir().map_err(|source| ConfigError::Read {
            path: PathBuf::from("."),
            source,
        })?;
        let env = std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from);
        Self::load_from(&locate(explicit, env.as_deref(), &cwd), &cwd)
    }

    /// Reads the located file; an absent default file means every default, with paths
    /// relative to `cwd`.
    pub fn load_from(location: &ConfigLocation, cwd: &Path) -> Result<Self, ConfigError> {
        let path = &location.path;
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let base = path.parent().unwrap_or(cwd);
                let mut config = Self::parse(&text, path, base)?;
                config.source = Some(path.clone());
                Ok(config)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match location.named_by {
                Some(by) => Err(ConfigError::NotFound {
                    path: path.clone(),
                    by,
                }),
                None => Ok(Self::defaults(cwd)),
            },
            Err(source) => Err(ConfigError::Read {
                path: path.clone(),
                source,
            }),
        }
    }

    /// Every default, with relative paths resolved against `base_dir`.
    pub fn defaults(base_dir: &Path) -> Self {
        let mut config = ServerConfig::default();
        config.resolve_paths(base_dir);
        config
    }

    /// Parses and checks config text. `file` is only used in messages; relative paths
    /// are resolved against `base_dir` (normally the file's directory).
    pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Self, ConfigError> {
        let invalid = |line, column, key: String, message: String, hint| {
            ConfigError::Invalid(Box::new(Invalid {
                file: file.to_path_buf(),
                line,
                column,
                key,
                message,
                hint,
            }))
        };
        // The positioned tree: syntax errors, and positions for checks made after serde.
        let tree = yaml::parse(text).map_err(|e| {
            let (line, column) = known_pos(e.pos);
            invalid(line, column, String::new(), e.message, None)
        })?;
        let mut config = match &tree.kind {
            yaml::Kind::Null => ServerConfig::default(),
            yaml::Kind::Map(_) => Self::deserialize_text(text).map_err(|e| {
                let (line, column) = match e.line {
                    Some(l) => (Some(l), e.column),
                    None => known_pos(position_of(&tree, &split_key(&e.key))),
                };
                invalid(line, column, e.key, e.message, e.hint)
            })?,
            _ => {
                let (line, column) = known_pos(tree.pos);
                return Err(invalid(
                    line,
                    column,
                    String::new(),
                    format!("expected a mapping of sections, found {}", tree.type_word()),
                    None,
                ));
            }
        };
        // What is not supported first: "`auth.oidc` is required" would send the
        // operator to write a block that is refused next.
        if let Some(refused) = first_unsupported(&config, &tree) {
            return Err(ConfigError::Invalid(Box::new(Invalid {
                file: file.to_path_buf(),
                ..refused
            })));
        }
        if let Err((segments, message)) = config.check() {
            let (line, column) = known_pos(position_of(&tree, &segments));
            return Err(invalid(line, column, segments.join("."), message, None));
        }
        config.resolve_paths(base_dir);
        Ok(config)
    }

    /// serde over serde-saphyr, remembering the key path of a failure.
    fn deserialize_text(text: &str) -> Result<Self, SerdeFailure> {
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
        let mut failed_at: Option<String> = None;
        let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
            let mut track = serde_path_to_error::Track::new();
            let tracked = serde_path_to_error::Deserializer::new(de, &mut track);
            let out = ServerConfig::deserialize(tracked);
            if out.is_err() {
                failed_at = Some(track.path().to_string());
            }
            out
        });
        result.map_err(|e| {
            let location = e.location();
            let mut key = failed_at.filter(|k| k != ".").unwrap_or_default();
            let (message, hint) = match e.without_snippet() {
                serde_saphyr::Error::SerdeUnknownField {
                    field, expected, ..
                } => {
                    key = join_key(&key, field);
                    explain_unknown("key", field, expected)
                }
                serde_saphyr::Error::SerdeUnknownVariant {
                    variant, expected, ..
                } => explain_unknown("value", variant, expected),
                other => (plain_message(&other.to_string()), None),
            };
            SerdeFailure {
                key,
                line: location
                    .and_then(|l| u32::try_from(l.line()).ok())
                    .filter(|l| *l > 0),
                column: location
                    .and_then(|l| u32::try_from(l.column()).ok())
                    .filter(|c| *c > 0),
                message,
                hint,
            }
        })
    }

    /// Checks that serde cannot make: ranges and keys that depend on each other.
    /// Returns the key path and the message.
    fn check(&self) -> Result<(), (Vec<&'static str>, String)> {
        let fail =
            |segments: &[&'static str], message: &str| Err((segments.to_vec(), message.to_owned()));
        if self.checkin.interval.get() < std::time::Duration::from_secs(1) {
            return fail(
                &["checkin", "interval"],
                "must be at least 1s: expected a duration like \"30s\" or \"5m\"",
            );
        }
        if self.enrollment.client_cert_validity.get() < std::time::Duration::from_secs(3600) {
            return fail(
                &["enrollment", "client_cert_validity"],
                "must be at least 1h: expected a duration like \"8760h\"",
            );
        }
        if self.retention.prune_interval.get() < std::time::Duration::from_secs(1) {
            return fail(
                &["retention", "prune_interval"],
                "must be at least 1s: expected a duration like \"1m\"",
            );
        }
        if !(1..=10_000).contains(&self.retention.prune_batch) {
            return fail(
                &["retention", "prune_batch"],
                "must be 1 to 10000 runs per transaction",
            );
        }
        match (self.database.driver, self.database.max_connections) {
            (_, Some(0)) => return fail(&["database", "max_connections"], "must be at least 1"),
            (DatabaseDriver::Sqlite, Some(_)) => {
                return fail(
                    &["database", "max_connections"],
                    "only PostgreSQL has a pool size to set: remove it with `driver: sqlite` \
                     (SQLite's pool is fixed: one writer, WAL readers beside it)",
                );
            }
            _ => {}
        }
        if let Err((mut segments, message)) = self.server.connections.check() {
            segments.splice(0..0, ["server", "connections"]);
            return Err((segments, message));
        }
        match (
            &self.database.driver,
            self.database.url.as_ref().map(SecretText::expose),
        ) {
            (DatabaseDriver::Postgres, None) => {
                return fail(
                    &["database", "url"],
                    "required with `driver: postgres`: expected \"postgres://user@host/db\" \
                     or \"secret:<path>\"",
                );
            }
            (driver, Some(url)) if !url.starts_with(SECRET_PREFIX) => {
                let ok = match driver {
                    DatabaseDriver::Sqlite => url.starts_with("sqlite:"),
                    DatabaseDriver::Postgres => {
                        url.starts_with("postgres://") || url.starts_with("postgresql://")
                    }
                };
                if !ok {
                    let wanted = match driver {
                        DatabaseDriver::Sqlite => "\"sqlite://PATH\"",
                        DatabaseDriver::Postgres => "\"postgres://…\"",
                    };
                    return fail(
                        &["database", "url"],
                        &format!(
                            "does not match `driver: {}`: expected {wanted} or \"secret:<path>\"",
                            driver.name()
                        ),
                    );
                }
            }
            _ => {}
        }
        if !(1..=100).contains(&self.swarm.max_bandwidth_percent) {
            return fail(
                &["swarm", "max_bandwidth_percent"],
                "expected a percentage from 1 to 100",
            );
        }
        if let Some(t) = &self.smtp.events.convergence_threshold
            && t.threshold > 100
        {
            return fail(
                &["smtp", "events", "convergence.threshold", "threshold"],
                "expected a percentage from 0 to 100",
            );
        }
        Ok(())
    }

    /// Makes `data_dir` absolute (against `base_dir`) and every other path absolute
    /// against `data_dir`.
    fn resolve_paths(&mut self, base_dir: &Path) {
        let data_dir = normalize(&base_dir.join(&self.server.data_dir));
        let under = |p: &mut PathBuf| *p = normalize(&data_dir.join(&*p));
        let tls = &mut self.server.tls;
        under(&mut tls.cert_file);
        under(&mut tls.key_file);
        under(&mut tls.ca_file);
        if let Some(p) = tls.ca_key_file.as_mut() {
            under(p);
        }
        under(&mut self.server.signing_key_file);
        under(&mut self.secrets.secrets_dir);
        if let Some(p) = self.secrets.key_file.as_mut() {
            under(p);
        }
        if let Some(p) = self.secrets.token_file.as_mut() {
            under(p);
        }
        under(&mut self.auth.local_admin_token_file);
        self.server.data_dir = data_dir;
    }

    /// The server's hostname: `server.hostname`, else the OS hostname, else `localhost`.
    pub fn hostname(&self) -> String {
        if let Some(h) = &self.server.hostname {
            return h.as_str().to_owned();
        }
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    }

    /// The database URL: `database.url`, or for SQLite the default file
    /// `<data_dir>/db/vigo.db`. Resolve secrets first when it may be a reference.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.server.data_dir.join("db/vigo.db").display()
            ),
        }
    }

    /// Every value that is a `secret:<path>` reference, as (key path, secret path).
    pub fn secret_refs(&self) -> Vec<(String, String)> {
        let mut copy = self.clone();
        copy.secret_fields()
            .into_iter()
            .filter_map(|(key, value)| {
                let reference = value.as_ref()?.reference()?;
                Some((key, reference.to_owned()))
            })
            .collect()
    }

    /// Replaces every `secret:<path>` value by what `resolve` returns for the path. The
    /// first failure stops with an error naming the key and the reference (never a value).
    pub fn resolve_secrets<F>(&mut self, mut resolve: F) -> Result<(), ConfigError>
    where
        F: FnMut(&str) -> Result<String, String>,
    {
        let file = self.source.clone();
        for (key, value) in self.secret_fields() {
            let Some(reference) = value
                .as_ref()
                .and_then(SecretText::reference)
                .map(str::to_owned)
            else {
                continue;
            };
            match resolve(&reference) {
                Ok(resolved) => *value = Some(SecretText::new(resolved)),
                Err(message) => {
                    return Err(ConfigError::Secret {
                        file,
                        key,
                        reference,
                        message,
                    });
                }
            }
        }
        Ok(())
    }

    /// [`resolve_secrets`](Self::resolve_secrets) through the local secrets store.
    pub fn resolve_secrets_from(&mut self, store: &LocalSecrets) -> Result<(), ConfigError> {
        self.resolve_secrets(|reference| {
            store
                .get(reference)
                .map(|v| v.expose().to_owned())
                .map_err(|e| e.to_string())
        })
    }

    /// The fields that may hold a `secret:<path>` reference. Only keys something reads:
    /// the secret-capable keys of sections that are not supported yet (`backup`,
    /// `smtp`, `ai`, `integrations`, `auth.oidc`) are either refused or switched off, so
    /// resolving them would only fail a start over a value nobody uses.
    fn secret_fields(&mut self) -> Vec<(String, &mut Option<SecretText>)> {
        vec![("database.url".into(), &mut self.database.url)]
    }
}

impl DatabaseDriver {
    /// The name as written in `server.yaml`.
    pub fn name(self) -> &'static str {
        match self {
            DatabaseDriver::Sqlite => "sqlite",
            DatabaseDriver::Postgres => "postgres",
        }
    }
}

/// An empty section (`checkin:` with every key commented out) is its defaults.
fn null_is_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// The first key of the file (by position) that asks for a feature this server does not
/// have, naming the others in the hint; `file` is left empty for the caller.
fn first_unsupported(config: &ServerConfig, tree: &Node) -> Option<Invalid> {
    let mut refused: Vec<_> = support::unsupported(config)
        .into_iter()
        .map(|u| {
            let pos = position_of(tree, &u.key);
            ((pos.line, pos.col), u)
        })
        .collect();
    refused.sort_by_key(|(pos, _)| *pos);
    let mut keys = refused.iter().map(|(_, u)| u.key.join("."));
    let first_key = keys.next()?;
    let others: Vec<String> = keys.map(|k| format!("`{k}`")).collect();
    let ((line, col), first) = refused.swap_remove(0);
    let (line, column) = known_pos(yaml::Pos { line, col });
    Some(Invalid {
        file: PathBuf::new(),
        line,
        column,
        key: first_key,
        message: first.message,
        hint: (!others.is_empty())
            .then(|| format!("not supported yet either: {}", others.join(", "))),
    })
}

/// A serde failure with what serde-saphyr and the path tracker knew.
struct SerdeFailure {
    key: String,
    line: Option<u32>,
    column: Option<u32>,
    message: String,
    hint: Option<String>,
}

/// `0:0` means unknown.
fn known_pos(pos: yaml::Pos) -> (Option<u32>, Option<u32>) {
    if pos.line == 0 {
        (None, None)
    } else {
        (Some(pos.line), Some(pos.col).filter(|c| *c > 0))
    }
}

/// The position of the deepest key of `segments` present in the tree.
fn position_of(tree: &Node, segments: &[&str]) -> yaml::Pos {
    let mut node = tree;
    let mut pos = yaml::Pos::default();
    for segment in segments {
        let Some(child) = node.get(segment) else {
            break;
        };
        pos = node.key_pos(segment);
        node = child;
    }
    pos
}

/// A dotted key path as segments (list indexes dropped).
fn split_key(key: &str) -> Vec<&str> {
    key.split('.')
        .map(|s| s.split('[').next().unwrap_or(s))
        .filter(|s| !s.is_empty())
        .collect()
}

/// `parent.child`, or `child` at the top.
fn join_key(parent: &str, child: &str) -> String {
    if parent.is_empty() || parent.ends_with(&format!(".{child}")) || parent == child {
        parent.to_owned()
    } else {
        format!("{parent}.{child}")
    }
}

/// serde-saphyr's first line without its own position, in an operator's words.
fn plain_message(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg).trim();
    let stripped = first.strip_prefix("error: ").unwrap_or(first);
    let stripped = match stripped.strip_prefix("line ") {
        Some(rest) => rest
            .split_once(": ")
            .map_or(stripped, |(_, message)| message),
        None => stripped,
    };
    let stripped = match stripped.rfind(" at line ") {
        Some(i) => &stripped[..i],
        None => stripped,
    };
    let stripped = match stripped.find(", set DuplicateKeyPolicy") {
        Some(i) => &stripped[..i],
        None => stripped,
    };
    let friendly = match stripped {
        "invalid boolean" => "expected true or false",
        "invalid u8" => "expected a whole number from 0 to 255",
        "invalid u16" => "expected a whole number from 0 to 65535",
        "invalid u32" => "expected a whole number from 0 to 4294967295",
        "invalid u64" => "expected a whole number from 0 to 18446744073709551615",
        "expected mapping start" => "expected a mapping (`key: value` lines)",
        "expected sequence start" => "expected a list",
        other => other,
    };
    friendly.to_owned()
}

/// "unknown key `x`: expected one of …" and a "did you mean" when one is close.
fn explain_unknown(what: &str, unknown: &str, expected: &[&str]) -> (String, Option<String>) {
    let listed = expected
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = if listed.is_empty() {
        format!("unknown {what} `{unknown}`")
    } else {
        format!("unknown {what} `{unknown}`: expected one of {listed}")
    };
    let hint = vigo_core::suggest::did_you_mean(unknown, expected.iter().copied());
    (text, hint)
}

/// A path without `.` components (`..` is kept).
fn normalize(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests;
