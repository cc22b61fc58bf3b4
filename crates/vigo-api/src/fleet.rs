//! The fleet: envoys (`/api/v1/envoys…`), their runs and each run's results
//! (`/api/v1/runs/{id}`).

use serde::{Deserialize, Serialize};

/// Whether an envoy may check in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvoyStatus {
    /// Enrolled and allowed to check in.
    Active,
    /// Revoked (by an operator, or replaced by a forced re-registration): refused at its
    /// next request; kept for history, its id never reused.
    Revoked,
}

impl EnvoyStatus {
    /// Every status.
    pub const ALL: [EnvoyStatus; 2] = [EnvoyStatus::Active, EnvoyStatus::Revoked];

    /// The status's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvoyStatus::Active => "active",
            EnvoyStatus::Revoked => "revoked",
        }
    }

    /// The status named `word` ([`EnvoyStatus::as_str`]).
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == word)
    }
}

/// An envoy (an enrolled machine) as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envoy {
    /// Its UUID.
    pub id: String,
    /// The hostname it enrolled with.
    pub hostname: String,
    /// Active or revoked.
    pub status: EnvoyStatus,
    /// Its environment; `null` until its first check-in names one.
    pub environment: Option<String>,
    /// The address it last came from; `null` when unknown.
    pub address: Option<String>,
    /// The agent's version; `null` when it did not say.
    pub agent_version: Option<String>,
    /// When it enrolled (Unix seconds).
    pub enrolled_at: i64,
    /// When it was revoked; `null` while active.
    pub revoked_at: Option<i64>,
    /// Its last check-in; `null` before the first.
    pub last_seen_at: Option<i64>,
    /// The config version it last applied; `null` before its first run.
    pub policy_version: Option<String>,
    /// SHA-256 of its latest traits document; `null` before its first report.
    pub traits_sha256: Option<String>,
    /// Its ed25519 public key (hex).
    pub public_key: String,
    /// Its client certificate's serial number.
    pub cert_serial: String,
    /// Its client certificate (PEM); only in `GET /api/v1/envoys/{id}` (absent from
    /// listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
}

/// `GET /api/v1/envoys` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvoyQuery {
    /// Only envoys with this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EnvoyStatus>,
    /// Only hostnames matching this glob (`web-*`, case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// At most this many (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Skip this many first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// `GET /api/v1/envoys/{id}/traits` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraitsQuery {
    /// A dotted path into the document (`os.family`, `nics.0.name`); the whole document
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// How many resources of a run ended with each action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionCounts {
    /// Already as desired.
    pub none: u32,
    /// Created.
    pub created: u32,
    /// Changed.
    pub updated: u32,
    /// Removed.
    pub deleted: u32,
    /// Not run (`when:` false, or a dependency not met).
    pub skipped: u32,
    /// Refused by a guardrail.
    pub blocked: u32,
    /// Failed.
    pub error: u32,
}

impl ActionCounts {
    /// Resources the run changed (created, updated or deleted).
    pub fn changed(&self) -> u64 {
        u64::from(self.created) + u64::from(self.updated) + u64::from(self.deleted)
    }

    /// All resources of the run.
    pub fn total(&self) -> u64 {
        self.by_action().iter().map(|(_, n)| u64::from(*n)).sum()
    }

    /// Each action with its count, in the order of the fields.
    pub fn by_action(&self) -> [(&'static str, u32); 7] {
        [
            ("none", self.none),
            ("created", self.created),
            ("updated", self.updated),
            ("deleted", self.deleted),
            ("skipped", self.skipped),
            ("blocked", self.blocked),
            ("error", self.error),
        ]
    }
}

/// One run of an envoy's agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Its UUID.
    pub id: String,
    /// The envoy's UUID.
    pub envoy_id: String,
    /// When it started (Unix seconds).
    pub started_at: i64,
    /// When it finished (Unix seconds).
    pub finished_at: i64,
    /// How long it took, in microseconds.
    pub duration_micros: u64,
    /// The config version it applied; `null` when it had none.
    pub policy_version: Option<String>,
    /// Whether it only reported what it would do.
    pub dry_run: bool,
    /// Resources per action.
    pub counts: ActionCounts,
}

/// `GET /api/v1/envoys/{id}/runs` and the token and pattern listings: [`crate::Paging`].
pub type RunsQuery = crate::Paging;

/// Results per page of `GET /api/v1/runs/{id}` unless `?results_limit=` says otherwise.
pub const DEFAULT_RESULTS_PAGE: u32 = 500;
/// The largest `?results_limit=`.
pub const MAX_RESULTS_PAGE: u32 = 5000;

/// `GET /api/v1/runs/{id}` query: which page of the results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunQuery {
    /// The position of the first result (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_from: Option<u64>,
    /// At most this many results (default [`DEFAULT_RESULTS_PAGE`], at most
    /// [`MAX_RESULTS_PAGE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_limit: Option<u32>,
}

/// One resource's outcome in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    /// `type:name` of the resource.
    pub resource_id: String,
    /// Its type (`file`, `package`, …).
    pub resource_type: String,
    /// Its name.
    pub name: String,
    /// What happened: one of the [`ActionCounts`] names.
    pub action: String,
    /// What the executor said (empty when nothing).
    pub message: String,
    /// How long it took, in microseconds.
    pub duration_micros: u64,
}

/// `GET /api/v1/runs/{id}`: a run with one page of its results, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: Run,
    /// The envoy's hostname; `null` when the envoy is no longer known.
    pub hostname: Option<String>,
    /// How many results the run has in all.
    pub results_total: u64,
    /// The position of this page's first result.
    pub results_from: u64,
    /// Where the next page starts (`?results_from=`); `null` on the last page.
    pub results_next: Option<u64>,
    /// This page's results.
    pub results: Vec<RunResult>,
}
