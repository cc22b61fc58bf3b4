//! `GET /api/v1/health` (no token), `GET /api/v1/version`, and the JSON answers for
//! unknown routes and methods.

use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use vigo_api::status::{CallerInfo, Health, HealthState, VersionReply};

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;

/// `GET /api/v1/health`: 200 `{"status": "ok", "database": "ok"}`, or 503 when the
/// database does not answer. Cheap enough for a load balancer's probe.
pub(crate) async fn health(State(app): State<ApiState>) -> (StatusCode, Json<Health>) {
    match app.rest.store.version_history(1).await {
        Ok(_) => (
            StatusCode::OK,
            Json(Health {
                status: HealthState::Ok,
                database: HealthState::Ok,
                message: None,
            }),
        ),
        Err(e) => {
            tracing::warn!(target: "vigo::rest", "health: database: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: HealthState::Unavailable,
                    database: HealthState::Unavailable,
                    message: Some(format!("the database does not answer: {e}")),
                }),
            )
        }
    }
}

/// `GET /api/v1/version` (any valid token): the server's version, the live config
/// version and the caller.
pub(crate) async fn version(State(app): State<ApiState>, caller: Caller) -> Json<VersionReply> {
    Json(VersionReply {
        server_version: env!("CARGO_PKG_VERSION").to_owned(),
        config: app.rest.ops.version(),
        caller: CallerInfo {
            name: caller.name,
            role: caller.role,
            token_id: caller.token_id,
        },
    })
}

/// Any unknown path: 404 `{"message": …}`.
pub(crate) async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {method} {}", uri.path()))
}

/// A known path with another method: 405 `{"message": …}`.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
