//! The live configuration: `/api/v1/config/{validate,publish,rollback,version,history,trace}`.
//!
//! An invalid stacks tree is 422 with an [`ErrorBody`](crate::ErrorBody) listing every
//! problem; publishing an unchanged tree is 409.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A published version of the stacks tree (the live one or one from the history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// `YYYYMMDDTHHMMSSZ`.
    pub version: String,
    /// SHA-256 of the published tree.
    pub tree_hash: String,
    /// When it was published (Unix seconds).
    pub published_at: i64,
    /// Who published it (API token name, `local-admin`, `startup`).
    pub published_by: String,
}

/// The answer of a successful `POST /api/v1/config/validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validated {
    /// Always `true` (an invalid tree is a 422).
    pub valid: bool,
}

/// `POST /api/v1/config/rollback` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackBody {
    /// The version whose tree becomes live again.
    pub version: String,
}

/// Versions listed by `GET /api/v1/config/history` unless `?limit=` says otherwise.
pub const DEFAULT_HISTORY: u32 = 20;

/// `GET /api/v1/config/history` query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryQuery {
    /// At most this many versions (default [`DEFAULT_HISTORY`], at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `GET /api/v1/config/trace` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceQuery {
    /// The hostname to resolve (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// An environment instead of the one the match block names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

/// `GET /api/v1/config/trace`: how a hostname resolves (the same JSON as
/// `vigocli config trace --stacks DIR` computes offline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The hostname.
    pub hostname: String,
    /// Whether some match block fits it.
    pub matched: bool,
    /// The blocks in the order consulted, up to and including the winner.
    pub consulted: Vec<TraceBlock>,
    /// The environment used; `null` when none (or unmatched).
    pub environment: Option<String>,
    /// The roles of the winning block.
    pub roles: Vec<String>,
    /// The crates in bundle order, with why each is there.
    pub crates: Vec<TraceCrate>,
    /// Every var of every crate, with where it was set.
    pub vars: Vec<TraceVar>,
    /// Problems building the bundle (an unknown environment override).
    pub errors: Vec<String>,
    /// Fields a newer server adds, kept as they are.
    #[serde(flatten)]
    pub more: Map<String, Value>,
}

/// One match block consulted by a trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceBlock {
    /// Where the block is (`envoys.vgo:3:5`).
    pub origin: String,
    /// Its hostname glob.
    pub pattern: String,
    /// Whether the hostname fits it.
    pub matched: bool,
}

/// One crate of a traced bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceCrate {
    /// The crate's bundle name.
    pub name: String,
    /// How it got there (`role webserver (includes baseline)`, `match block`, …).
    pub via: String,
    /// Its crate-level `when:` (empty when none).
    pub when: String,
}

/// One var of a traced bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceVar {
    /// The crate it belongs to.
    #[serde(rename = "crate")]
    pub krate: String,
    /// Its name.
    pub name: String,
    /// Its value (secret references as written).
    pub value: Value,
    /// Which level set it (`crate`, `role`, `environment`, `match`, …).
    pub level: String,
    /// Where it was set.
    pub origin: String,
}
