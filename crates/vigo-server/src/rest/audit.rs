//! `GET /api/v1/audit?limit=&before=`: the audit log, newest first.

use axum::Json;
use axum::extract::State;
use vigo_api::audit::{AuditEntry, AuditQuery};

use super::ApiState;
use super::auth::{AuditRead, Authorized};
use super::error::ApiError;
use super::extract::{DEFAULT_LIMIT, Query, check_limit};

/// `GET /api/v1/audit?limit=&before=`: entries, newest first.
pub(crate) async fn list(
    State(app): State<ApiState>,
    _auth: Authorized<AuditRead>,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    check_limit(limit)?;
    let entries = app.rest.store.list_audit(limit, q.before).await?;
    Ok(Json(entries))
}
