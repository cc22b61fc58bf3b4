//! `GET /api/v1/audit?limit=&before=`: the audit log, newest first.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ApiState;
use super::auth::{AuditRead, Authorized};
use super::error::ApiError;
use super::extract::{DEFAULT_LIMIT, Query, check_limit};
use crate::store::AuditEntry;

/// `GET /api/v1/audit` query.
#[derive(Debug, Deserialize)]
pub(crate) struct AuditQuery {
    /// At most this many entries (default 100, at most 1000).
    limit: Option<u32>,
    /// Only entries older than this id (the next page: the last id of this one).
    before: Option<i64>,
}

/// An audit entry as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct AuditView {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    target: Option<String>,
    detail: Value,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            target: e.target,
            detail: e.detail,
        }
    }
}

/// `GET /api/v1/audit?limit=&before=`: entries, newest first.
pub(crate) async fn list(
    State(app): State<ApiState>,
    _auth: Authorized<AuditRead>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    check_limit(limit)?;
    let entries = app.rest.store.list_audit(limit, q.before).await?;
    Ok(Json(entries.into_iter().map(AuditView::from).collect()))
}
