//! Who is calling, and may they: `Authorization: Bearer vgot_…` → SHA-256 →
//! [`Store::api_token_by_hash`](crate::store::Store::api_token_by_hash), valid when
//! neither revoked nor expired, gives a [`Caller`]; each endpoint then needs one
//! [`Permission`], which the caller's role grants or not.
//!
//! | Role         | May                                                            |
//! |--------------|----------------------------------------------------------------|
//! | `admin`      | everything                                                     |
//! | `viewer`     | every read (`GET`) endpoint                                    |
//! | `compliance` | runs and their results, `GET /api/v1/version`; never the audit log |
//!
//! The permissions follow the reference's table (server-cli-security §5.2): fleet views
//! are `fleet.read`, the audit log is `audit.read`, run reports are the evidence of
//! `compliance.read`; the compliance role has `compliance.read` only and is explicitly
//! denied `audit.read`.
//!
//! No token, a malformed or unknown one, or a revoked or expired one is 401; a role
//! without the permission is 403. Refusals of a token that was presented are written
//! to the audit log through the bounded refusal audit ([`crate::refusals`]): budgets
//! per source and per principal, so that unauthenticated clients can neither flood the
//! append-only log nor hide a known token's refused attempts, and aggregates of what
//! is not written one by one.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde_json::json;

use super::error::ApiError;
use super::extract::Peer;
use super::{ApiState, App, format_time};
use crate::refusals::Principal;
use crate::store::{ApiRole, TokenHash};

/// The prefix of every API token secret.
pub const API_TOKEN_PREFIX: &str = "vgot_";
/// Longest `Authorization` value looked at; longer ones are refused unread.
const MAX_TOKEN_LEN: usize = 256;

/// The authenticated caller of a request: the API token's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name; the actor of the audit entries this request writes.
    pub name: String,
    /// What the token may do.
    pub role: ApiRole,
    /// The token's public id (`tok_…`).
    pub token_id: String,
}

/// What an endpoint needs from the caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `fleet.read`: envoys, traits, enrollment tokens, patterns, config, secret names,
    /// API tokens (`admin`, `viewer`).
    FleetRead,
    /// `compliance.read`: runs and their results, the evidence of compliance reports
    /// (`admin`, `viewer`, `compliance`).
    ReportRead,
    /// `audit.read`: the raw audit log (`admin`, `viewer`; the compliance role is denied
    /// it, as in the reference).
    AuditRead,
    /// Every change (`admin`).
    Admin,
}

impl Permission {
    /// Whether `role` grants this permission: the one role → permission table.
    pub fn allows(self, role: ApiRole) -> bool {
        match role {
            ApiRole::Admin => true,
            ApiRole::Viewer => !matches!(self, Permission::Admin),
            ApiRole::Compliance => matches!(self, Permission::ReportRead),
        }
    }

    /// The roles granting it, for error messages.
    pub fn roles(self) -> &'static str {
        match self {
            Permission::FleetRead | Permission::AuditRead => "admin or viewer",
            Permission::ReportRead => "admin, viewer or compliance",
            Permission::Admin => "admin",
        }
    }
}

/// A permission as a type, so that a handler's signature says what it needs.
pub(crate) trait Requirement {
    /// The permission.
    const PERMISSION: Permission;
}

/// Needs [`Permission::FleetRead`].
pub(crate) struct FleetRead;
/// Needs [`Permission::ReportRead`].
pub(crate) struct ReportRead;
/// Needs [`Permission::AuditRead`].
pub(crate) struct AuditRead;
/// Needs [`Permission::Admin`].
pub(crate) struct Admin;

impl Requirement for FleetRead {
    const PERMISSION: Permission = Permission::FleetRead;
}
impl Requirement for ReportRead {
    const PERMISSION: Permission = Permission::ReportRead;
}
impl Requirement for AuditRead {
    const PERMISSION: Permission = Permission::AuditRead;
}
impl Requirement for Admin {
    const PERMISSION: Permission = Permission::Admin;
}

/// A caller whose role grants `R`'s permission (extracting it answers 401/403 otherwise).
pub(crate) struct Authorized<R> {
    /// The caller.
    pub caller: Caller,
    need: PhantomData<fn() -> R>,
}

impl<R: Requirement> FromRequestParts<ApiState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &ApiState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let need = R::PERMISSION;
        if !need.allows(caller.role) {
            metrics::counter!("vigo_api_auth_refused_total", "reason" => "forbidden").increment(1);
            app.audit_refusal(
                Principal::Known(caller.name.clone()),
                "auth.forbidden",
                Some(parts.uri.path()),
                Peer::of(parts),
                json!({
                    "method": parts.method.as_str(),
                    "role": caller.role.as_str(),
                    "token_id": caller.token_id,
                }),
            )
            .await;
            return Err(ApiError::forbidden(format!(
                "API token `{}` has role {}; {} {} needs role {}",
                caller.name,
                caller.role,
                parts.method,
                parts.uri.path(),
                need.roles()
            )));
        }
        Ok(Authorized {
            caller,
            need: PhantomData,
        })
    }
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &ApiState) -> Result<Self, ApiError> {
        authenticate(parts, app).await
    }
}

/// The 401 of a request without a usable `Authorization` header.
fn unusable_header(reason: &str) -> ApiError {
    metrics::counter!("vigo_api_auth_refused_total", "reason" => "malformed").increment(1);
    ApiError::unauthorized(format!(
        "{reason}: send `Authorization: Bearer vgot_…` with an API token \
         (`vigocli auth create-token`)"
    ))
}

async fn authenticate(parts: &Parts, app: &App) -> Result<Caller, ApiError> {
    let Some(value) = parts.headers.get(AUTHORIZATION) else {
        return Err(unusable_header("missing API token"));
    };
    let Ok(value) = value.to_str() else {
        return Err(unusable_header("the Authorization header is not ASCII"));
    };
    if value.len() > MAX_TOKEN_LEN {
        return Err(unusable_header("the Authorization header is too long"));
    }
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(unusable_header(
            "the Authorization header is not a bearer token",
        ));
    };
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unusable_header(
            "the Authorization header is not a bearer token",
        ));
    }
    if !token.starts_with(API_TOKEN_PREFIX) {
        return Err(unusable_header(
            "not an API token (they start with `vgot_`)",
        ));
    }
    let hash = TokenHash::of_secret(token);
    let peer = Peer::of(parts);
    let Some(stored) = app.rest.store.api_token_by_hash(&hash).await? else {
        metrics::counter!("vigo_api_auth_refused_total", "reason" => "unknown").increment(1);
        app.audit_refusal(
            Principal::Claimed("anonymous".to_owned()),
            "auth.refused",
            Some(parts.uri.path()),
            peer,
            json!({ "reason": "unknown token", "method": parts.method.as_str() }),
        )
        .await;
        return Err(ApiError::unauthorized("unknown API token"));
    };
    let now = app.now();
    if stored.is_valid_at(now) {
        return Ok(Caller {
            name: stored.name,
            role: stored.role,
            token_id: stored.id,
        });
    }
    let (reason, message) = match (stored.revoked_at, stored.expires_at) {
        (Some(at), _) => (
            "revoked",
            format!(
                "API token `{}` was revoked at {}",
                stored.name,
                format_time(at)
            ),
        ),
        (None, Some(at)) => (
            "expired",
            format!("API token `{}` expired at {}", stored.name, format_time(at)),
        ),
        (None, None) => (
            "invalid",
            format!("API token `{}` is not valid", stored.name),
        ),
    };
    metrics::counter!("vigo_api_auth_refused_total", "reason" => reason).increment(1);
    app.audit_refusal(
        Principal::Known(stored.name.clone()),
        "auth.refused",
        Some(parts.uri.path()),
        peer,
        json!({
            "reason": reason,
            "token_id": stored.id,
            "method": parts.method.as_str(),
        }),
    )
    .await;
    Err(ApiError::unauthorized(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_permissions() {
        use ApiRole::*;
        use Permission::*;
        for p in [FleetRead, ReportRead, AuditRead, Permission::Admin] {
            assert!(p.allows(ApiRole::Admin));
        }
        assert!(FleetRead.allows(Viewer));
        assert!(ReportRead.allows(Viewer));
        assert!(AuditRead.allows(Viewer));
        assert!(!Permission::Admin.allows(Viewer));
        assert!(ReportRead.allows(Compliance));
        assert!(!FleetRead.allows(Compliance));
        assert!(!Permission::Admin.allows(Compliance));
    }

    #[test]
    fn the_compliance_role_is_denied_the_audit_log() {
        assert!(!Permission::AuditRead.allows(ApiRole::Compliance));
        assert_eq!(Permission::AuditRead.roles(), "admin or viewer");
    }
}
