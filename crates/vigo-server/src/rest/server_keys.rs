//! The bundle-signing key over the API: `GET /api/v1/server/bundle-key` (the key in use
//! and its rotations) and `POST /api/v1/server/rotate-bundle-key` (admin; audited as
//! `bundle_key.rotated`): a new key, announced to agents at their next check-in with a
//! signature by the old one, and used for every bundle signed from then on
//! ([`crate::pki::bundle_key`]).
//!
//! With `database.driver: postgres` a rotation is refused (409): every replica signs with
//! its own copy of the key file, so a key rotated on one replica would make the bundles
//! of the others fail verification on agents that re-pinned.

use axum::Json;
use axum::extract::State;
use serde_json::json;
use vigo_api::keys::{BundleKey, Rotated};

use super::ApiState;
use super::auth::{Admin, Authorized, FleetRead};
use super::error::ApiError;
use crate::store::Backend;

/// `GET /api/v1/server/bundle-key`.
pub(crate) async fn show(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
) -> Json<BundleKey> {
    let keys = app.rest.pki.bundle_keys();
    Json(BundleKey {
        key_id: keys.key_id(),
        public_key: hex::encode(keys.verifying_key().as_bytes()),
        rotations: keys.history(),
    })
}

/// `POST /api/v1/server/rotate-bundle-key`.
pub(crate) async fn rotate(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
) -> Result<Json<Rotated>, ApiError> {
    if app.rest.store.backend() == Backend::Postgres {
        return Err(ApiError::conflict(
            "rotating the bundle-signing key is refused with database.driver postgres: each \
             replica signs with its own copy of server.signing_key_file, so a key rotated \
             on one replica would make the bundles of the others fail verification on the \
             agents (see docs/server.md, \"Rotating the bundle-signing key\")",
        ));
    }
    let keys = std::sync::Arc::clone(app.rest.pki.bundle_keys());
    let now = app.now();
    let rotated = tokio::task::spawn_blocking({
        let keys = std::sync::Arc::clone(&keys);
        move || keys.rotate(now)
    })
    .await
    .map_err(|e| ApiError::internal("rotating the bundle-signing key", &e))?
    .map_err(|e| ApiError::internal("rotating the bundle-signing key", &e))?;
    tracing::info!(
        target: "vigo::rest",
        old = %rotated.old_key_id,
        new = %rotated.new_key_id,
        "bundle-signing key rotated"
    );
    app.audit(
        &auth.caller.name,
        "bundle_key.rotated",
        Some(&rotated.new_key_id),
        json!({ "old_key_id": rotated.old_key_id, "new_key_id": rotated.new_key_id }),
    )
    .await?;
    Ok(Json(Rotated {
        public_key: hex::encode(keys.verifying_key().as_bytes()),
        rotations: keys.history().len(),
        old_key_id: rotated.old_key_id,
        new_key_id: rotated.new_key_id,
        rotated_at: rotated.rotated_at,
    }))
}
