//! API tokens: `POST/GET /api/v1/api-tokens`, `DELETE /api/v1/api-tokens/{id}`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an API token may do (see the permission table of `docs/api.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiRole {
    /// Everything.
    Admin,
    /// Read everything, change nothing.
    Viewer,
    /// Read runs and their results only.
    Compliance,
}

impl ApiRole {
    /// Every role.
    pub const ALL: [ApiRole; 3] = [ApiRole::Admin, ApiRole::Viewer, ApiRole::Compliance];

    /// The role's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiRole::Admin => "admin",
            ApiRole::Viewer => "viewer",
            ApiRole::Compliance => "compliance",
        }
    }

    /// The role named `word` ([`ApiRole::as_str`]).
    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == word)
    }
}

impl fmt::Display for ApiRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /api/v1/api-tokens` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    /// Unique among unrevoked tokens; the actor of what the token does.
    pub name: String,
    /// `admin`, `viewer` or `compliance` (a string, so the server can say what it got).
    pub role: String,
    /// Lifetime, e.g. `"720h"`; the token never expires when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// The web user the token belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// An API token as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// `tok_` and 16 hex digits.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: ApiRole,
    /// The web user it belongs to; `null` for tokens made by hand.
    pub owner: Option<String>,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it expires; `null` = never.
    pub expires_at: Option<i64>,
    /// When it was revoked; `null` = not revoked.
    pub revoked_at: Option<i64>,
}

/// The answer of `POST /api/v1/api-tokens` (201): the token and its secret, shown this
/// once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiToken {
    /// The token as it will be listed.
    #[serde(flatten)]
    pub token_info: ApiToken,
    /// The secret for `Authorization: Bearer …` (`vgot_…`).
    pub token: String,
}
