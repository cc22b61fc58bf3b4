//! REST API tokens: `POST /api/v1/api-tokens` `{name, role, expires_in?}` (the
//! `vgot_…` secret is shown once), `GET /api/v1/api-tokens`,
//! `DELETE /api/v1/api-tokens/{id}` (revokes).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use vigo_api::Paging as PageQuery;
use vigo_api::tokens as api;

use super::auth::{API_TOKEN_PREFIX, Admin, Authorized, FleetRead};
use super::error::ApiError;
use super::extract::{Body, Paging, Path, Query};
use super::{ApiState, parse_lifetime, random_hex};
use crate::store::{ApiRole, ApiToken, NewApiToken, TokenHash};

/// The longest token name.
const MAX_NAME_LEN: usize = 64;
/// The longest lifetime of an API token.
const MAX_TOKEN_DAYS: u64 = 3650;

/// An API token as listed (never its secret or hash).
fn token_view(t: ApiToken) -> api::ApiToken {
    api::ApiToken {
        id: t.id,
        name: t.name,
        role: t.role,
        owner: t.owner,
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
    }
}

/// Checks a token name: 1..=64 printable characters, no control characters.
fn check_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(ApiError::bad_request(format!(
            "name must be 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    if name.chars().any(char::is_control) || name != name.trim() {
        return Err(ApiError::bad_request(
            "name must not contain control characters or surrounding spaces",
        ));
    }
    Ok(())
}

/// `POST /api/v1/api-tokens` → 201 with the `vgot_…` secret.
pub(crate) async fn create(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Body(body): Body<api::NewApiToken>,
) -> Result<(StatusCode, Json<api::CreatedApiToken>), ApiError> {
    check_name(&body.name)?;
    let role = ApiRole::parse(&body.role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "role must be `admin`, `viewer` or `compliance`, got `{}`",
            body.role
        ))
    })?;
    let created_at = app.now();
    let expires_at = body
        .expires_in
        .as_deref()
        .map(|t| parse_lifetime(t, "expires_in", MAX_TOKEN_DAYS))
        .transpose()?
        .map(|secs| created_at.saturating_add(secs));
    let secret = format!("{API_TOKEN_PREFIX}{}", random_hex(32)?);
    let new = NewApiToken {
        id: format!("tok_{}", random_hex(8)?),
        name: body.name,
        hash: TokenHash::of_secret(&secret),
        role,
        owner: body.owner.filter(|o| !o.is_empty()),
        created_at,
        expires_at,
    };
    let stored = app.rest.store.create_api_token(&new).await?;
    app.audit(
        &auth.caller.name,
        "api_token.created",
        Some(&stored.id),
        json!({
            "name": stored.name,
            "role": stored.role.as_str(),
            "expires_at": stored.expires_at,
        }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(api::CreatedApiToken {
            token_info: token_view(stored),
            token: secret,
        }),
    ))
}

/// `GET /api/v1/api-tokens`: every token, oldest first, revoked ones included.
pub(crate) async fn list(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Vec<api::ApiToken>>, ApiError> {
    let page = Paging::from_query(q.limit, q.offset)?;
    let tokens = app.rest.store.list_api_tokens().await?;
    Ok(Json(
        page.apply(tokens).into_iter().map(token_view).collect(),
    ))
}

/// `DELETE /api/v1/api-tokens/{id}`: revokes the token (it stays listed, with
/// `revoked_at`); answers the token as stored.
pub(crate) async fn revoke(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Path(id): Path<String>,
) -> Result<Json<api::ApiToken>, ApiError> {
    let revoked = app.rest.store.revoke_api_token(&id, app.now()).await?;
    app.audit(
        &auth.caller.name,
        "api_token.revoked",
        Some(&revoked.id),
        json!({ "name": revoked.name, "role": revoked.role.as_str() }),
    )
    .await?;
    Ok(Json(token_view(revoked)))
}
