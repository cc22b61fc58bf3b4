//! Who may enroll: one-time enrollment tokens (`/api/v1/tokens`) and approved hostname
//! patterns (`/api/v1/patterns`).
//!
//! An enrollment token's secret (`vget_…`) is shown once, in the answer that creates
//! it; the store keeps its SHA-256 only.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use vigo_api::Paging as PageQuery;
use vigo_api::enrollment as api;

use super::auth::{Admin, Authorized, FleetRead};
use super::error::ApiError;
use super::extract::{Body, Paging, Path, Query};
use super::{ApiState, parse_lifetime, random_hex};
use crate::store::{ApprovedPattern, EnrollmentToken, NewEnrollmentToken, TokenHash};

/// The prefix of every enrollment token secret.
pub(crate) const ENROLLMENT_TOKEN_PREFIX: &str = "vget_";
/// The longest lifetime of an enrollment token.
const MAX_TOKEN_DAYS: u64 = 365;

/// An enrollment token as listed (never its secret or hash), its state as of `now`.
fn token_view(t: EnrollmentToken, now: i64) -> api::EnrollmentToken {
    let state = if t.used_at.is_some() {
        api::TokenState::Used
    } else if now >= t.expires_at {
        api::TokenState::Expired
    } else {
        api::TokenState::Unused
    };
    api::EnrollmentToken {
        id: t.id,
        created_at: t.created_at,
        expires_at: t.expires_at,
        hostname_pattern: t.hostname_pattern,
        used_at: t.used_at,
        used_by: t.used_by,
        state,
    }
}

/// `POST /api/v1/tokens` `{expires_in?, hostname_pattern?}` → 201 with the secret.
pub(crate) async fn create_token(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Body(body): Body<api::NewEnrollmentToken>,
) -> Result<(StatusCode, Json<api::CreatedEnrollmentToken>), ApiError> {
    let lifetime = match body.expires_in.as_deref() {
        Some(text) => parse_lifetime(text, "expires_in", MAX_TOKEN_DAYS)?,
        None => i64::try_from(app.rest.config.enrollment.token_ttl.as_secs())
            .unwrap_or(i64::MAX)
            .max(1),
    };
    let pattern = body
        .hostname_pattern
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());
    let created_at = app.now();
    let secret = format!("{ENROLLMENT_TOKEN_PREFIX}{}", random_hex(32)?);
    let new = NewEnrollmentToken {
        id: format!("enr_{}", random_hex(8)?),
        hash: TokenHash::of_secret(&secret),
        created_at,
        expires_at: created_at.saturating_add(lifetime),
        hostname_pattern: pattern,
    };
    let stored = app.rest.store.create_enrollment_token(&new).await?;
    app.audit(
        &auth.caller.name,
        "enrollment_token.created",
        Some(&stored.id),
        json!({
            "expires_at": stored.expires_at,
            "hostname_pattern": stored.hostname_pattern,
        }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(api::CreatedEnrollmentToken {
            id: stored.id,
            token: secret,
            created_at: stored.created_at,
            expires_at: stored.expires_at,
            hostname_pattern: stored.hostname_pattern,
        }),
    ))
}

/// `GET /api/v1/tokens`: every enrollment token, newest first, without secrets.
pub(crate) async fn list_tokens(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Vec<api::EnrollmentToken>>, ApiError> {
    let page = Paging::from_query(q.limit, q.offset)?;
    let now = app.now();
    let tokens = app.rest.store.list_enrollment_tokens().await?;
    Ok(Json(
        page.apply(tokens)
            .into_iter()
            .map(|t| token_view(t, now))
            .collect(),
    ))
}

/// `DELETE /api/v1/tokens/{id}` → 204.
pub(crate) async fn delete_token(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.rest.store.delete_enrollment_token(&id).await?;
    app.audit(
        &auth.caller.name,
        "enrollment_token.deleted",
        Some(&id),
        json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An approved hostname pattern as the API shows it.
fn pattern_view(p: ApprovedPattern) -> api::Pattern {
    api::Pattern {
        id: p.id(),
        pattern: p.pattern,
        trusted: p.trusted,
        created_at: p.created_at,
    }
}

/// `GET /api/v1/patterns`: approved hostname patterns, in lexical order.
pub(crate) async fn list_patterns(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Vec<api::Pattern>>, ApiError> {
    let page = Paging::from_query(q.limit, q.offset)?;
    let patterns = app.rest.store.list_patterns().await?;
    Ok(Json(
        page.apply(patterns).into_iter().map(pattern_view).collect(),
    ))
}

/// `POST /api/v1/patterns` `{pattern, trusted}`: approves a pattern (201), or changes
/// whether an approved one is trusted (200).
pub(crate) async fn put_pattern(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Body(body): Body<api::PatternBody>,
) -> Result<(StatusCode, Json<api::Pattern>), ApiError> {
    let pattern = body.pattern.trim().to_owned();
    if pattern.is_empty() {
        return Err(ApiError::bad_request("pattern must not be empty"));
    }
    if pattern.len() > ApprovedPattern::MAX_LEN {
        return Err(ApiError::bad_request(format!(
            "pattern is {} bytes; a hostname glob is at most {} (a hostname's length)",
            pattern.len(),
            ApprovedPattern::MAX_LEN
        )));
    }
    let store = &app.rest.store;
    let before = store
        .list_patterns()
        .await?
        .into_iter()
        .find(|p| p.pattern == pattern);
    store
        .put_pattern(&ApprovedPattern {
            pattern: pattern.clone(),
            trusted: body.trusted,
            created_at: app.now(),
        })
        .await?;
    let stored = store
        .list_patterns()
        .await?
        .into_iter()
        .find(|p| p.pattern == pattern)
        .ok_or_else(|| ApiError::conflict(format!("pattern `{pattern}` was removed meanwhile")))?;
    app.audit(
        &auth.caller.name,
        "pattern.approved",
        Some(&pattern),
        json!({ "trusted": stored.trusted, "was_trusted": before.as_ref().map(|p| p.trusted) }),
    )
    .await?;
    let status = if before.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(pattern_view(stored))))
}

/// `DELETE /api/v1/patterns/{id}` → 204: `id` is the pattern's id as listed (`pat_…`),
/// or the pattern itself (URL-encoded).
pub(crate) async fn delete_pattern(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    let store = &app.rest.store;
    let pattern = match store
        .list_patterns()
        .await?
        .into_iter()
        .find(|p| p.id() == key)
    {
        Some(p) => p.pattern,
        None => key,
    };
    store.remove_pattern(&pattern).await?;
    app.audit(
        &auth.caller.name,
        "pattern.removed",
        Some(&pattern),
        json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
