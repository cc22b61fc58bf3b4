//! Enrollment over REST: `POST /api/v1/register` (no API token: the one-time
//! enrollment token travels in the body, or the hostname matches a trusted pattern) and
//! `GET /api/v1/ca.pem`.
//!
//! `vigo bootstrap` generates its TLS key and CSR and its ed25519 agent key, then posts
//! a [`RegisterBody`]; the [`Registrar`] (the enrollment code) checks the token or
//! pattern, signs the CSR and stores the envoy, and the agent gets a [`RegisterReply`]:
//! its id, certificate, our CA, the pinned bundle-signing key and the gRPC address.
//!
//! The registrar checks every field's size and form, the same way for REST and gRPC
//! ([`RegisterInput::check`](crate::enroll::RegisterInput::check)). The registrar writes the audit entries (`envoy.registered`,
//! `envoy.register_refused`), since it serves gRPC `Register` as well; the REST layer
//! counts outcomes in `vigo_registrations_total{outcome}`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::ApiError;
use super::extract::{Body, Peer};
use crate::ops::BoxFuture;

/// Registers new envoys; implemented by the enrollment code, called by
/// `POST /api/v1/register`.
pub trait Registrar: Send + Sync {
    /// Checks `req` (enrollment token or trusted pattern, approved hostname, `force`),
    /// signs its CSR, stores the envoy and appends the audit entry of the outcome. A
    /// refusal is an HTTP status and a one-line reason for the agent (e.g. 403
    /// "enrollment token rejected: expired at …", 409 "hostname … is already enrolled …").
    fn register(
        &self,
        req: RegisterBody,
    ) -> BoxFuture<'_, Result<RegisterReply, (StatusCode, String)>>;

    /// Called after `POST /api/v1/envoys/{id}/revoke` revoked `id` in the store, so the
    /// live fleet index refuses its next request at once.
    fn envoy_revoked(&self, _id: uuid::Uuid) {}
}

pub use vigo_api::register::{RegisterBody, RegisterReply};

/// The registration as the enrollment code takes it (the key decoded; an undecodable key
/// becomes an empty one, which enrollment refuses).
pub fn register_input(body: &RegisterBody) -> crate::enroll::RegisterInput {
    crate::enroll::RegisterInput {
        hostname: body.hostname.clone(),
        token: body.token.clone(),
        csr_pem: body.csr_pem.clone(),
        agent_public_key: body.public_key_bytes().map(Vec::from).unwrap_or_default(),
        ip_addresses: body.ip_addresses.iter().map(ToString::to_string).collect(),
        agent_version: Some(body.agent_version.clone()).filter(|v| !v.is_empty()),
        force: body.force,
        peer: body.peer_addr,
    }
}

/// `POST /api/v1/register`: enrolls an envoy (see the module documentation).
pub(crate) async fn register(
    State(app): State<ApiState>,
    peer: Peer,
    Body(mut body): Body<RegisterBody>,
) -> Result<Json<RegisterReply>, ApiError> {
    body.peer_addr = peer.0.map(|a| a.ip());
    // The one validation of both paths, before any registrar sees the request.
    if let Err(e) = register_input(&body).check() {
        return Err(ApiError::bad_request(e.to_string()));
    }
    if body.public_key_bytes().is_none() {
        return Err(ApiError::bad_request(
            "agent_public_key must be the 32-byte ed25519 key as 64 hex characters",
        ));
    }
    match app.rest.registrar.register(body).await {
        Ok(reply) => {
            metrics::counter!("vigo_registrations_total", "outcome" => "registered").increment(1);
            Ok(Json(reply))
        }
        Err((status, message)) => {
            metrics::counter!("vigo_registrations_total", "outcome" => "refused").increment(1);
            Err(ApiError::new(status, message))
        }
    }
}

/// `GET /api/v1/ca.pem`: our CA certificate (no token).
pub(crate) async fn ca_pem(State(app): State<ApiState>) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-pem-file"),
        )],
        app.rest.pki.ca_pem().to_owned(),
    )
        .into_response()
}
