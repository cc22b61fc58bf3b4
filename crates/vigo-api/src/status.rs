//! `GET /api/v1/health` and `GET /api/v1/version`.

use serde::{Deserialize, Serialize};

use crate::config::VersionInfo;
use crate::tokens::ApiRole;

/// Whether a part of the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// It answers.
    Ok,
    /// It does not (the answer is then 503).
    Unavailable,
}

impl HealthState {
    /// The state's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Ok => "ok",
            HealthState::Unavailable => "unavailable",
        }
    }
}

/// `GET /api/v1/health`: 200 when everything answers, 503 otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The server as a whole.
    pub status: HealthState,
    /// The database.
    pub database: HealthState,
    /// Why it is unavailable; absent when healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `GET /api/v1/version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionReply {
    /// `vigosrv`'s version.
    pub server_version: String,
    /// The live config version; `null` before the first publish.
    pub config: Option<VersionInfo>,
    /// Who is asking (so a client can check its token).
    pub caller: CallerInfo,
}

/// A caller as shown to itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerInfo {
    /// The API token's name (the actor of what it does).
    pub name: String,
    /// The token's role.
    pub role: ApiRole,
    /// The token's id (`tok_…`).
    pub token_id: String,
}
