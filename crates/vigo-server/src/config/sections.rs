//! The sections of `server.yaml`, one typed struct each, with their defaults.
//!
//! Every struct rejects unknown keys. Sections a single server acts on: `server`,
//! `database`, `secrets`, `auth`, `checkin`, `enrollment`, `retention`, `logging`,
//! `metrics`.
//! Parsed so that an operator's file loads and a typo is still an error, but refused as
//! soon as they turn their feature on (tier 3, see `support.rs`): `scrier`, `swarm`,
//! `spanner`, `peers`, `backup`, `integrations`, `smtp`, `ai`, `publish`.
//! `docs/server.md` is the operator's reference for every key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny};

use super::connections::ConnectionsSection;
use super::values::{ConfigDuration, ListenAddr, SanName, SecretText};

/// `server:` listeners, identity and TLS material.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// gRPC listener for agents (mTLS). Default `":1530"`.
    pub grpc_listen: ListenAddr,
    /// REST API, web UI and metrics listener (TLS). Default `":8443"`.
    pub api_listen: ListenAddr,
    /// The server's own hostname and the address agents are told to dial; also put in
    /// the generated certificate's SANs. Default: the OS hostname.
    pub hostname: Option<SanName>,
    /// The directory every relative path in the file is relative to. Default: the
    /// directory holding `server.yaml` (the working directory when there is no file).
    pub data_dir: PathBuf,
    /// TLS certificate and key files.
    #[serde(deserialize_with = "super::null_is_default")]
    pub tls: TlsSection,
    /// Extra SANs for the generated server certificate; `localhost`, 127.0.0.1, ::1,
    /// every interface IP and `hostname` are always included.
    pub tls_sans: Vec<SanName>,
    /// The persisted ed25519 bundle-signing key (PKCS#8 PEM, 0600). Default
    /// `tls/bundle_key`, beside the TLS material so HA copies of `tls/` share it.
    pub signing_key_file: PathBuf,
    /// Timeouts and connection budgets of both listeners.
    #[serde(deserialize_with = "super::null_is_default")]
    pub connections: ConnectionsSection,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            grpc_listen: ListenAddr::any(1530),
            api_listen: ListenAddr::any(8443),
            hostname: None,
            data_dir: PathBuf::from("."),
            tls: TlsSection::default(),
            tls_sans: Vec::new(),
            signing_key_file: PathBuf::from("tls/bundle_key"),
            connections: ConnectionsSection::default(),
        }
    }
}

/// `server.tls:` certificate and key files (plain PEM).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// Server certificate. Default `tls/cert`.
    pub cert_file: PathBuf,
    /// Server private key. Default `tls/key`.
    pub key_file: PathBuf,
    /// CA certificate that agent client certificates must chain to. Default `tls/ca`.
    pub ca_file: PathBuf,
    /// CA private key; when the file exists the server signs enrollment CSRs. Default
    /// `tls/ca_key`; `null` = never sign (an external CA issues agent certificates).
    pub ca_key_file: Option<PathBuf>,
}

impl Default for TlsSection {
    fn default() -> Self {
        TlsSection {
            cert_file: PathBuf::from("tls/cert"),
            key_file: PathBuf::from("tls/key"),
            ca_file: PathBuf::from("tls/ca"),
            ca_key_file: Some(PathBuf::from("tls/ca_key")),
        }
    }
}

/// `database.driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseDriver {
    /// Embedded SQLite (WAL), one server.
    #[default]
    Sqlite,
    /// PostgreSQL, shared by several replicas.
    #[serde(alias = "postgresql")]
    Postgres,
}

/// `database:` the store.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSection {
    /// `sqlite` (default) or `postgres`.
    pub driver: DatabaseDriver,
    /// Connection URL (`sqlite://…`, `postgres://…`) or `secret:<path>`. `dsn` is
    /// accepted as the original's name for it. Default for SQLite:
    /// `sqlite://<data_dir>/db/vigo.db?mode=rwc`; required for PostgreSQL.
    #[serde(alias = "dsn")]
    pub url: Option<SecretText>,
    /// PostgreSQL's connection pool size. Default 8. Refused with SQLite, whose pool is
    /// fixed (one writer, WAL readers beside it): a key nothing reads is an error.
    pub max_connections: Option<u32>,
}

impl DatabaseSection {
    /// PostgreSQL's pool size: `max_connections`, default 8.
    pub fn postgres_pool_size(&self) -> u32 {
        self.max_connections.unwrap_or(8)
    }
}

impl Default for DatabaseSection {
    fn default() -> Self {
        DatabaseSection {
            driver: DatabaseDriver::Sqlite,
            url: None,
            max_connections: None,
        }
    }
}

/// `secrets.backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretsBackend {
    /// AES-256-GCM files under `secrets_dir` with a master key.
    #[default]
    Local,
    /// The isopass remote secret service (refused: not supported yet).
    Isopass,
}

/// `secrets:` where `secret:<path>` references are resolved.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsSection {
    /// `local` (default) or `isopass`.
    pub backend: SecretsBackend,
    /// Root of the local store: `secret:vigo/db/dsn` is `<secrets_dir>/vigo/db/dsn`.
    /// Default `secrets`.
    pub secrets_dir: PathBuf,
    /// Master key file (32 bytes as hex, 0600). Default `<secrets_dir>/.master.key`.
    pub key_file: Option<PathBuf>,
    /// isopass endpoint.
    pub url: Option<String>,
    /// isopass bearer-token file (0600).
    pub token_file: Option<PathBuf>,
}

impl SecretsSection {
    /// The master key file: `key_file`, or `.master.key` inside `secrets_dir`.
    pub fn master_key_file(&self) -> PathBuf {
        self.key_file
            .clone()
            .unwrap_or_else(|| self.secrets_dir.join(".master.key"))
    }
}

impl Default for SecretsSection {
    fn default() -> Self {
        SecretsSection {
            backend: SecretsBackend::Local,
            secrets_dir: PathBuf::from("secrets"),
            key_file: None,
            url: None,
            token_file: None,
        }
    }
}

/// `auth.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// Username and password (bcrypt) kept by the server.
    #[default]
    Basic,
    /// An OpenID Connect identity provider (refused: not supported yet).
    Oidc,
    /// The hosted isowebauth service (refused: not supported yet).
    Isowebauth,
}

/// `auth:` web and API login.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSection {
    /// `basic` (default), `oidc` or `isowebauth`.
    pub method: AuthMethod,
    /// Idle expiry of browser sessions; `0s` disables. Default `15m`.
    pub session_idle_timeout: ConfigDuration,
    /// Minimum password length for `basic`. Default 12.
    pub min_password_length: u32,
    /// Root-only file holding the local admin token `vigocli` uses on the server host,
    /// written at first start. Default `local-admin.token`.
    pub local_admin_token_file: PathBuf,
    /// OIDC provider settings; required when `method: oidc`.
    pub oidc: Option<OidcSection>,
    /// isowebauth settings; required when `method: isowebauth`.
    pub isowebauth: Option<IsowebauthSection>,
}

impl Default for AuthSection {
    fn default() -> Self {
        AuthSection {
            method: AuthMethod::Basic,
            session_idle_timeout: ConfigDuration::from_secs(15 * 60),
            min_password_length: 12,
            local_admin_token_file: PathBuf::from("local-admin.token"),
            oidc: None,
            isowebauth: None,
        }
    }
}

/// `auth.oidc:` an OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSection {
    /// Issuer URL (its `/.well-known/openid-configuration` is read).
    pub issuer: String,
    /// Client id.
    pub client_id: String,
    /// Client secret, or `secret:<path>`.
    #[serde(default)]
    pub client_secret: Option<SecretText>,
    /// Redirect URL registered with the provider. Default: `https://<hostname>:<api port>/auth/callback`.
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// Scopes requested. Default `[openid, profile, email]`.
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The claim holding the user's groups. Default `groups`.
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    /// Role → groups that grant it (`admin`, `viewer`, `compliance`).
    #[serde(default)]
    pub roles: BTreeMap<String, Vec<String>>,
}

fn default_oidc_scopes() -> Vec<String> {
    ["openid", "profile", "email"].map(String::from).to_vec()
}

fn default_role_claim() -> String {
    "groups".to_owned()
}

/// `auth.isowebauth:` the hosted SSH-key login service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsowebauthSection {
    /// Service URL.
    pub url: String,
}

/// `checkin:` the agent loop as the server dictates it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckinSection {
    /// Agent check-in cadence. Default `5m`; at least `1s`.
    pub interval: ConfigDuration,
    /// Lifetime of a signed bundle; `0` = never expires. Default `24h`.
    pub bundle_max_age: ConfigDuration,
    /// Fleet-wide observe mode (ORed with a hostcrate's `observe_only`). Default false.
    pub observe_only: bool,
}

impl Default for CheckinSection {
    fn default() -> Self {
        CheckinSection {
            interval: ConfigDuration::from_secs(5 * 60),
            bundle_max_age: ConfigDuration::from_secs(24 * 3600),
            observe_only: false,
        }
    }
}

/// `retention:` how long run history is kept, and how it is pruned.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSection {
    /// Runs (and their per-resource results) that finished longer ago than this are
    /// deleted. Default `30d`; `0` = kept forever.
    pub runs: ConfigDuration,
    /// How often the pruner looks for expired runs. Default `1m`; at least `1s`.
    pub prune_interval: ConfigDuration,
    /// Runs deleted per transaction, so that pruning never holds the database long.
    /// Default `100`; 1 to 10000.
    pub prune_batch: u32,
}

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            runs: ConfigDuration::from_secs(30 * 86_400),
            prune_interval: ConfigDuration::from_secs(60),
            prune_batch: 100,
        }
    }
}

/// `enrollment:` registration of new envoys.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrollmentSection {
    /// Default lifetime of a one-time enrollment token. Default `24h`.
    pub token_ttl: ConfigDuration,
    /// Validity of the client certificates the CA signs at registration. Default
    /// `8760h` (365 days).
    pub client_cert_validity: ConfigDuration,
}

impl Default for EnrollmentSection {
    fn default() -> Self {
        EnrollmentSection {
            token_ttl: ConfigDuration::from_secs(24 * 3600),
            client_cert_validity: ConfigDuration::from_secs(365 * 24 * 3600),
        }
    }
}

/// `logging.level`: the workspace's one set of levels.
pub use vigo_core::log_level::LogLevel;

/// `logging.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Text,
    /// One JSON object per line (for Loki and friends).
    Json,
}

/// `logging:` the server's own log on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingSection {
    /// `trace`, `debug`, `info` (default), `warn` or `error`; `RUST_LOG` overrides.
    pub level: LogLevel,
    /// `text` (default) or `json`.
    pub format: LogFormat,
}

/// `metrics:` the Prometheus endpoint on the API listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSection {
    /// Serve `/metrics`. Default true.
    pub enabled: bool,
    /// Require an API token on `/metrics`. Default false.
    pub require_auth: bool,
}

impl Default for MetricsSection {
    fn default() -> Self {
        MetricsSection {
            enabled: true,
            require_auth: false,
        }
    }
}

/// `scrier:` remote access (tier 3: refused when switched on).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScrierSection {
    /// Turn the feature on. Default false.
    pub enabled: bool,
    /// guacd for RDP/VNC. Default `127.0.0.1:4822`.
    pub guacd_addr: String,
    /// Address guacd uses to reach the tunnel proxy. Default `127.0.0.1`.
    pub proxy_hostname: String,
    /// Loopback ports an agent may bridge to. Default `[22, 3389, 5900]`.
    pub allowed_ports: Vec<u16>,
    /// Concurrent session cap. Default 10.
    pub max_sessions: u32,
    /// Session recording (placeholder). Default false.
    pub recording_enabled: bool,
}

impl Default for ScrierSection {
    fn default() -> Self {
        ScrierSection {
            enabled: false,
            guacd_addr: "127.0.0.1:4822".to_owned(),
            proxy_hostname: "127.0.0.1".to_owned(),
            allowed_ports: vec![22, 3389, 5900],
            max_sessions: 10,
            recording_enabled: false,
        }
    }
}

/// A hostname pattern list gate: first match wins, a leading `-` denies, default deny,
/// empty disables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatternGate {
    /// The patterns.
    pub enabled: Vec<String>,
}

/// `swarm.curator:`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CuratorSection {
    /// Pattern list gate.
    pub enabled: Vec<String>,
    /// Per-blob cap in bytes. Default 2147483648 (2 GiB).
    pub max_bytes: u64,
}

impl Default for CuratorSection {
    fn default() -> Self {
        CuratorSection {
            enabled: Vec::new(),
            max_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// `swarm:` the envoy peer substrate (tier 3: refused when switched on).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwarmSection {
    /// Pattern list of envoys in the swarm. Default empty (off).
    pub enabled: Vec<String>,
    /// Agents' peer HTTPS/mTLS port. Default 1531.
    pub port: u16,
    /// Bandwidth throttle, 1-100. Default 50.
    pub max_bandwidth_percent: u8,
    /// Per-user identity (also gates lockbox).
    pub puddle: PatternGate,
    /// gitback.
    pub gitback: PatternGate,
    /// longdrawer.
    pub longdrawer: PatternGate,
    /// filecast payloads.
    pub payload: PatternGate,
    /// curator.
    pub curator: CuratorSection,
}

impl Default for SwarmSection {
    fn default() -> Self {
        SwarmSection {
            enabled: Vec::new(),
            port: 1531,
            max_bandwidth_percent: 50,
            puddle: PatternGate::default(),
            gitback: PatternGate::default(),
            longdrawer: PatternGate::default(),
            payload: PatternGate::default(),
            curator: CuratorSection::default(),
        }
    }
}

/// `spanner.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpannerMode {
    /// One server (default).
    #[default]
    Standalone,
    /// Federation of bolts.
    Spanner,
}

/// `spanner:` federation (tier 3: refused when switched on). The retired hub/spoke keys `role`,
/// `spokes`, `spoke_id` and `hub_addr` are an error with a migration pointer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpannerSection {
    /// `standalone` (default) or `spanner`.
    pub mode: SpannerMode,
    #[serde(rename = "role", deserialize_with = "retired_spanner_key")]
    retired_role: (),
    #[serde(rename = "spokes", deserialize_with = "retired_spanner_key")]
    retired_spokes: (),
    #[serde(rename = "spoke_id", deserialize_with = "retired_spanner_key")]
    retired_spoke_id: (),
    #[serde(rename = "hub_addr", deserialize_with = "retired_spanner_key")]
    retired_hub_addr: (),
}

fn retired_spanner_key<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    IgnoredAny::deserialize(d)?;
    Err(de::Error::custom(
        "the hub/spoke spanner keys (role, spokes, spoke_id, hub_addr) are retired: \
         use `spanner.mode: spanner` and add bolts with `vigocli spanner bolt add`",
    ))
}

/// `peers.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerRole {
    /// No replication (default).
    #[default]
    None,
    /// Ships its state to the standbys.
    Primary,
    /// Receives the primary's state.
    Standby,
}

/// `peers:` primary → standby replication (tier 3: refused when switched on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeersSection {
    /// `none` (default), `primary` or `standby`.
    pub role: PeerRole,
    /// A standby's primary (`host:port`).
    pub primary: Option<String>,
    /// A primary's standbys (`host:port`).
    pub standbys: Vec<String>,
}

/// `backup:` Litestream replication of the SQLite database (tier 3: refused when switched on).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSection {
    /// `s3://…`, `gcs://…`, `sftp://…` or `file:///…`.
    pub url: Option<String>,
    /// Credentials (may be `secret:<path>`).
    pub access_key_id: Option<SecretText>,
    /// Credentials (`secret:<path>` recommended).
    pub secret_access_key: Option<SecretText>,
    /// S3 region.
    pub region: Option<String>,
    /// How long replicas are kept. Default `720h`.
    pub retention: ConfigDuration,
    /// WAL shipping cadence. Default `1s`.
    pub sync_interval: ConfigDuration,
    /// S3-compatible endpoint.
    pub endpoint: Option<String>,
    /// Path-style S3 addressing. Default false.
    pub force_path_style: bool,
}

impl Default for BackupSection {
    fn default() -> Self {
        BackupSection {
            url: None,
            access_key_id: None,
            secret_access_key: None,
            region: None,
            retention: ConfigDuration::from_secs(720 * 3600),
            sync_interval: ConfigDuration::from_secs(1),
            endpoint: None,
            force_path_style: false,
        }
    }
}

/// One event fan-out target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationTarget {
    /// Send events there. Default false.
    pub enabled: bool,
    /// Endpoint or webhook URL (may be `secret:<path>`: a Slack webhook URL is a secret).
    pub url: Option<SecretText>,
    /// Token / API key / HEC token / shared key (may be `secret:<path>`).
    pub token: Option<SecretText>,
    /// Slack channel.
    pub channel: Option<String>,
    /// PagerDuty routing key (may be `secret:<path>`).
    pub routing_key: Option<SecretText>,
    /// Elastic index, Splunk index, Sentinel table.
    pub index: Option<String>,
    /// Basic-auth user (ServiceNow).
    pub username: Option<String>,
    /// Basic-auth password (may be `secret:<path>`).
    pub password: Option<SecretText>,
    /// Event names sent (`run.*`, `audit.*`, …); empty = all.
    pub events: Vec<String>,
}

/// `integrations:` event fan-out targets (tier 3: refused when switched on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationsSection {
    /// Grafana Loki.
    pub loki: IntegrationTarget,
    /// Splunk HEC.
    pub splunk: IntegrationTarget,
    /// Datadog.
    pub datadog: IntegrationTarget,
    /// Microsoft Sentinel.
    pub sentinel: IntegrationTarget,
    /// Elastic.
    pub elastic: IntegrationTarget,
    /// Slack.
    pub slack: IntegrationTarget,
    /// PagerDuty.
    pub pagerduty: IntegrationTarget,
    /// ServiceNow.
    pub servicenow: IntegrationTarget,
    /// Prometheus remote write / Alertmanager.
    pub prometheus: IntegrationTarget,
}

/// `smtp.tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS on a plain connection (default, port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS.
    None,
}

/// `smtp.events."convergence.threshold"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConvergenceThreshold {
    /// Mail when fleet convergence crosses this percentage. Default 90.
    pub threshold: u8,
}

impl Default for ConvergenceThreshold {
    fn default() -> Self {
        ConvergenceThreshold { threshold: 90 }
    }
}

/// A mail event that is only switched on or off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpToggle {
    /// Send it. Default false.
    pub enabled: bool,
}

/// `smtp.events:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpEvents {
    /// Mail once per transition when fleet convergence crosses the threshold.
    #[serde(rename = "convergence.threshold")]
    pub convergence_threshold: Option<ConvergenceThreshold>,
    /// Mail on an envoy's first transition to stale.
    #[serde(rename = "envoy.stale")]
    pub envoy_stale: Option<SmtpToggle>,
}

/// `smtp:` notification mail (tier 3: refused when switched on).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSection {
    /// Mail relay host.
    pub host: Option<String>,
    /// Relay port. Default 587.
    pub port: u16,
    /// `starttls` (default), `tls` or `none`.
    pub tls: SmtpTls,
    /// Login user.
    pub username: Option<String>,
    /// Login password (`secret:<path>` recommended).
    pub password: Option<SecretText>,
    /// Sender address.
    pub from: Option<String>,
    /// Recipients.
    pub to: Vec<String>,
    /// Which events send mail.
    pub events: SmtpEvents,
}

impl Default for SmtpSection {
    fn default() -> Self {
        SmtpSection {
            host: None,
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            from: None,
            to: Vec::new(),
            events: SmtpEvents::default(),
        }
    }
}

/// `ai.provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AiProvider {
    /// Anthropic Claude.
    Claude,
    /// OpenAI.
    Openai,
    /// A local Ollama.
    Ollama,
}

/// `ai:` assistant features (tier 3: refused when switched on).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AiSection {
    /// Turn AI features on. Default false.
    pub enabled: bool,
    /// `claude`, `openai` or `ollama`.
    pub provider: Option<AiProvider>,
    /// Model name.
    pub model: Option<String>,
    /// API key (`secret:<path>` recommended).
    pub api_key: Option<SecretText>,
    /// Endpoint (Ollama, proxies).
    pub url: Option<String>,
}

/// `publish.retraction:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetractionSection {
    /// Generate `.retract` configcrates at publish. Default false.
    pub enabled: bool,
}

/// `publish:` the publish pipeline (tier 3: refused when switched on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PublishSection {
    /// Module retraction.
    pub retraction: RetractionSection,
}
