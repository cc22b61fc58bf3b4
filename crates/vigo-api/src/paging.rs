//! `?limit=&offset=` of every listing, and the bounds the server enforces.

use serde::{Deserialize, Serialize};

/// Rows in a page unless `?limit=` says otherwise.
pub const DEFAULT_LIMIT: u32 = 100;
/// The largest `?limit=` accepted.
pub const MAX_LIMIT: u32 = 1000;

/// The query of a paged listing (`GET /api/v1/tokens?limit=&offset=`, …).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paging {
    /// At most this many rows (1..=[`MAX_LIMIT`], default [`DEFAULT_LIMIT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Skip this many rows first (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}
