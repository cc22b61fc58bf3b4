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

use std::fmt;
use std::net::IpAddr;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

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

/// The JSON body of `POST /api/v1/register`. `Debug` hides the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterBody {
    /// The agent's hostname.
    pub hostname: String,
    /// The one-time enrollment token (`vget_…`); absent for trusted enrollment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A PKCS#10 CSR (PEM) for the agent's TLS key; only its key is used.
    pub csr_pem: String,
    /// The agent's ed25519 public key, 64 hex characters (32 bytes).
    pub agent_public_key: String,
    /// The host's addresses as the agent sees them.
    #[serde(default)]
    pub ip_addresses: Vec<IpAddr>,
    /// The agent's version.
    #[serde(default)]
    pub agent_version: String,
    /// Revoke the hostname's current envoy, if any, and register anew.
    #[serde(default)]
    pub force: bool,
    /// The address the request came from (set by the server, not read from JSON).
    #[serde(skip)]
    pub peer_addr: Option<IpAddr>,
}

impl fmt::Debug for RegisterBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterBody")
            .field("hostname", &self.hostname)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("agent_public_key", &self.agent_public_key)
            .field("ip_addresses", &self.ip_addresses)
            .field("agent_version", &self.agent_version)
            .field("force", &self.force)
            .field("peer_addr", &self.peer_addr)
            .finish_non_exhaustive()
    }
}

impl RegisterBody {
    /// The agent's ed25519 public key, decoded.
    pub fn public_key_bytes(&self) -> Option<[u8; 32]> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(&self.agent_public_key, &mut key).ok()?;
        Some(key)
    }

    /// The registration as the enrollment code takes it (the key decoded; an
    /// undecodable key becomes an empty one, which enrollment refuses).
    pub fn to_input(&self) -> crate::enroll::RegisterInput {
        crate::enroll::RegisterInput {
            hostname: self.hostname.clone(),
            token: self.token.clone(),
            csr_pem: self.csr_pem.clone(),
            agent_public_key: self.public_key_bytes().map(Vec::from).unwrap_or_default(),
            ip_addresses: self.ip_addresses.iter().map(ToString::to_string).collect(),
            agent_version: Some(self.agent_version.clone()).filter(|v| !v.is_empty()),
            force: self.force,
            peer: self.peer_addr,
        }
    }
}

/// The JSON answer of a successful `POST /api/v1/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterReply {
    /// The new envoy's id (UUID).
    pub envoy_id: String,
    /// The agent's client certificate (PEM), for mTLS on the gRPC port.
    pub certificate_pem: String,
    /// Our CA certificate (PEM), to verify the server.
    pub ca_pem: String,
    /// The ed25519 bundle-signing public key (hex), to pin.
    pub server_signing_key: String,
    /// That key's id.
    pub server_signing_key_id: String,
    /// Where to check in (`host:port`).
    pub grpc_address: String,
}

/// `POST /api/v1/register`: enrolls an envoy (see the module documentation).
pub(crate) async fn register(
    State(app): State<ApiState>,
    peer: Peer,
    Body(mut body): Body<RegisterBody>,
) -> Result<Json<RegisterReply>, ApiError> {
    body.peer_addr = peer.0.map(|a| a.ip());
    // The one validation of both paths, before any registrar sees the request.
    if let Err(e) = body.to_input().check() {
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
