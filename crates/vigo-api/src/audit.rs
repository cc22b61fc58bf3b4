//! `GET /api/v1/audit?limit=&before=`: the audit log, newest first.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET /api/v1/audit` query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// At most this many entries (default 100, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only entries older than this id (the next page: the last id of this one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing id.
    pub id: i64,
    /// When (Unix seconds).
    pub at: i64,
    /// Who: an API token's name, an envoy id, `startup`, `enrollment`, `anonymous`.
    pub actor: String,
    /// What, e.g. `envoy.revoked` (the table in `docs/api.md`).
    pub action: String,
    /// On what; `null` for actions without a target.
    pub target: Option<String>,
    /// The action's details (an object; its keys depend on the action).
    pub detail: Value,
}
