//! The live configuration, through [`ConfigOps`](crate::ops::ConfigOps):
//! `POST /api/v1/config/validate`, `POST /api/v1/config/publish`,
//! `GET /api/v1/config/version`, `GET /api/v1/config/history`,
//! `GET /api/v1/config/trace`.
//!
//! An invalid stacks tree is 422 `{"message": "…", "errors": ["file:line:col: …", …]}`
//! with every problem; publishing an unchanged tree is 409.

use axum::Json;
use axum::extract::State;
use serde_json::json;
use vigo_api::config::{DEFAULT_HISTORY, HistoryQuery, RollbackBody, Trace, TraceQuery, Validated};

use super::ApiState;
use super::auth::{Admin, Authorized, FleetRead};
use super::error::ApiError;
use super::extract::{Body, Peer, Query, check_limit};
use crate::enroll::MAX_HOSTNAME_LEN;
use crate::ops::{PublishError, VersionInfo};
use crate::refusals::Principal;

/// `POST /api/v1/config/validate`: checks the stacks tree on disk, changing nothing.
pub(crate) async fn validate(
    State(app): State<ApiState>,
    _auth: Authorized<Admin>,
) -> Result<Json<Validated>, ApiError> {
    app.rest.ops.validate().await?;
    Ok(Json(Validated { valid: true }))
}

/// `POST /api/v1/config/publish`: validates and makes the tree on disk the live
/// version; the new [`VersionInfo`], or 422 with every problem, or 409 when nothing
/// changed.
pub(crate) async fn publish(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    peer: Peer,
) -> Result<Json<VersionInfo>, ApiError> {
    let actor = auth.caller.name.as_str();
    // The publisher audits a publish itself (it also publishes at startup); a refusal is
    // audited here, where the caller is known.
    match app.rest.ops.publish(actor).await {
        Ok(version) => Ok(Json(version)),
        Err(e) => {
            let detail = match &e {
                PublishError::Invalid(problems) => {
                    json!({ "reason": "invalid", "errors": problems.len() })
                }
                PublishError::Unchanged(live) => json!({ "reason": "unchanged", "live": live }),
                PublishError::UnknownVersion(v) => {
                    json!({ "reason": "unknown_version", "version": v })
                }
                PublishError::Internal(e) => {
                    json!({ "reason": "internal", "error": super::error::error_chain(e) })
                }
            };
            app.audit_refusal(
                Principal::Known(actor.to_owned()),
                "config.publish_refused",
                None,
                peer,
                detail,
            )
            .await;
            Err(e.into())
        }
    }
}

/// `POST /api/v1/config/rollback` `{"version": V}`: makes version V's tree live again as
/// a new version (validated again; 404 for an unknown version, 422 if it no longer
/// validates, 409 if it is what is live).
pub(crate) async fn rollback(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    peer: Peer,
    Body(body): Body<RollbackBody>,
) -> Result<Json<VersionInfo>, ApiError> {
    let actor = auth.caller.name.as_str();
    match app.rest.ops.rollback(&body.version, actor).await {
        Ok(version) => Ok(Json(version)),
        Err(e) => {
            app.audit_refusal(
                Principal::Known(actor.to_owned()),
                "config.rollback_refused",
                Some(&body.version),
                peer,
                json!({ "reason": e.to_string() }),
            )
            .await;
            Err(e.into())
        }
    }
}

/// `GET /api/v1/config/version`: the live version; 404 before the first publish.
pub(crate) async fn version(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
) -> Result<Json<VersionInfo>, ApiError> {
    app.rest
        .ops
        .version()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no config version has been published yet"))
}

/// `GET /api/v1/config/history?limit=`: published versions, newest first.
pub(crate) async fn history(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<VersionInfo>>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_HISTORY);
    check_limit(limit)?;
    Ok(Json(app.rest.ops.history(limit).await?))
}

/// `GET /api/v1/config/trace?hostname=&environment=`: how the hostname resolves
/// against the live version.
pub(crate) async fn trace(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Query(q): Query<TraceQuery>,
) -> Result<Json<Trace>, ApiError> {
    let hostname = q
        .hostname
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| ApiError::bad_request("`?hostname=` is required"))?;
    if hostname.len() > MAX_HOSTNAME_LEN {
        return Err(ApiError::bad_request(format!(
            "hostname is longer than {MAX_HOSTNAME_LEN} bytes"
        )));
    }
    let environment = q.environment.as_deref().filter(|e| !e.is_empty());
    let trace = app
        .rest
        .ops
        .trace(hostname, environment)
        .ok_or_else(|| ApiError::not_found("no config version is live: publish one first"))?;
    serde_json::from_value(trace)
        .map(Json)
        .map_err(|e| ApiError::internal("shaping the trace", &e))
}
