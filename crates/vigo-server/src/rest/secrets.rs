//! Secrets by name: `PUT /api/v1/secrets/{path}` (the body is the value),
//! `GET /api/v1/secrets` (names only), `DELETE /api/v1/secrets/{path}`.
//!
//! A value is never returned, logged or written to the audit log; agents get values
//! only through `ResolveSecrets`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;
use vigo_api::Paging as PageQuery;

use super::ApiState;
use super::auth::{Admin, Authorized, FleetRead};
use super::error::ApiError;
use super::extract::{Paging, Path, Query};
use crate::secrets::LocalSecrets;

/// The largest secret value accepted (64 KiB).
const MAX_VALUE_LEN: usize = 64 * 1024;

/// The store, or 503 when none is configured.
fn store(app: &ApiState) -> Result<Arc<LocalSecrets>, ApiError> {
    app.rest.secrets.clone().ok_or_else(|| {
        ApiError::unavailable(
            "no secrets store is configured on this server (`secrets.backend: local`)",
        )
    })
}

/// `PUT /api/v1/secrets/{path}` with the value as the body → 204.
pub(crate) async fn set(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Path(path): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let secrets = store(&app)?;
    crate::secrets::check_path(&path)?;
    if body.len() > MAX_VALUE_LEN {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a secret value is at most {MAX_VALUE_LEN} bytes"),
        ));
    }
    let value = zeroize::Zeroizing::new(
        String::from_utf8(body.to_vec())
            .map_err(|_| ApiError::bad_request("a secret value must be UTF-8 text"))?,
    );
    let existed = secrets.contains(&path);
    let task_path = path.clone();
    tokio::task::spawn_blocking(move || secrets.set(&task_path, &value))
        .await
        .map_err(|e| ApiError::internal("storing the secret", &e))??;
    app.audit(
        &auth.caller.name,
        "secret.set",
        Some(&path),
        json!({ "replaced": existed }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/secrets`: the names of every stored secret, sorted.
pub(crate) async fn list(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Query(q): Query<PageQuery>,
) -> Result<Json<Vec<String>>, ApiError> {
    let page = Paging::from_query(q.limit, q.offset)?;
    let secrets = store(&app)?;
    let names = tokio::task::spawn_blocking(move || secrets.list())
        .await
        .map_err(|e| ApiError::internal("listing secrets", &e))??;
    Ok(Json(page.apply(names)))
}

/// `DELETE /api/v1/secrets/{path}` → 204.
pub(crate) async fn delete(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Path(path): Path<String>,
) -> Result<StatusCode, ApiError> {
    let secrets = store(&app)?;
    let task_path = path.clone();
    tokio::task::spawn_blocking(move || secrets.delete(&task_path))
        .await
        .map_err(|e| ApiError::internal("deleting the secret", &e))??;
    app.audit(&auth.caller.name, "secret.deleted", Some(&path), json!({}))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
