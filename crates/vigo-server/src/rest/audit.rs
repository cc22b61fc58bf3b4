//! `GET /api/v1/audit?limit=&before=`: the audit log, newest first.

use axum::Json;
use axum::extract::State;
use vigo_api::audit as api;

use super::ApiState;
use super::auth::{AuditRead, Authorized};
use super::error::ApiError;
use super::extract::{DEFAULT_LIMIT, Query, check_limit};
use crate::store::AuditEntry;

/// An audit entry as the API shows it.
fn entry_view(e: AuditEntry) -> api::AuditEntry {
    api::AuditEntry {
        id: e.id,
        at: e.at,
        actor: e.actor,
        action: e.action,
        target: e.target,
        detail: e.detail,
    }
}

/// `GET /api/v1/audit?limit=&before=`: entries, newest first.
pub(crate) async fn list(
    State(app): State<ApiState>,
    _auth: Authorized<AuditRead>,
    Query(q): Query<api::AuditQuery>,
) -> Result<Json<Vec<api::AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    check_limit(limit)?;
    let entries = app.rest.store.list_audit(limit, q.before).await?;
    Ok(Json(entries.into_iter().map(entry_view).collect()))
}
