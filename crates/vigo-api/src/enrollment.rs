//! Who may enroll: one-time enrollment tokens (`/api/v1/tokens`) and approved hostname
//! patterns (`/api/v1/patterns`).

use serde::{Deserialize, Serialize};

/// `POST /api/v1/tokens` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEnrollmentToken {
    /// Lifetime, e.g. `"24h"`; default `enrollment.token_ttl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// Only hostnames matching this glob may use the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname_pattern: Option<String>,
}

/// The answer of `POST /api/v1/tokens` (201): the secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedEnrollmentToken {
    /// The token's id.
    pub id: String,
    /// The secret to give `vigo bootstrap --token` (`vget_…`).
    pub token: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// The glob hostnames must match; `null` = any hostname.
    pub hostname_pattern: Option<String>,
}

/// Whether an enrollment token can still enroll a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// Neither used nor expired.
    Unused,
    /// It enrolled a machine.
    Used,
    /// Past its expiry, unused.
    Expired,
}

impl TokenState {
    /// The state's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Unused => "unused",
            TokenState::Used => "used",
            TokenState::Expired => "expired",
        }
    }
}

/// An enrollment token as listed (never its secret or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentToken {
    /// The token's id.
    pub id: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it expires (Unix seconds).
    pub expires_at: i64,
    /// The glob hostnames must match; `null` = any hostname.
    pub hostname_pattern: Option<String>,
    /// When it enrolled a machine; `null` while unused.
    pub used_at: Option<i64>,
    /// The hostname it enrolled; `null` while unused.
    pub used_by: Option<String>,
    /// Unused, used or expired.
    pub state: TokenState,
}

/// `POST /api/v1/patterns` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternBody {
    /// A hostname glob (hostcrate `match:` syntax), at most 253 bytes.
    pub pattern: String,
    /// Whether matching hostnames may enroll without a token (default false).
    #[serde(default)]
    pub trusted: bool,
}

/// An approved hostname pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pattern {
    /// `pat_` and 16 hex digits of the pattern's SHA-256.
    pub id: String,
    /// The hostname glob.
    pub pattern: String,
    /// Whether matching hostnames may enroll without a token.
    pub trusted: bool,
    /// When it was approved (Unix seconds).
    pub created_at: i64,
}
