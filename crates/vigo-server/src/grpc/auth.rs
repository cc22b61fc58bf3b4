//! The three checks every agent request passes before its body is decoded:
//!
//! 1. **mTLS**: a client certificate issued by our CA (verified by rustls during the
//!    handshake) whose CN equals `SignedRequest.envoy_id` — `Register` excepted, which
//!    comes from a host that has no certificate yet;
//! 2. **the envoy**: known to the fleet index and active;
//! 3. **the envelope**: `|now − timestamp_unix| ≤ 300 s`, a valid ed25519 signature by
//!    the envoy's stored key over the exact bytes the proto describes, and a nonce never
//!    seen in the window (checked last, so forged requests cannot fill the cache): first
//!    by this process's memory, then by the durable replay ledger ([`crate::replay`]),
//!    which refuses a replay after a restart and across replicas.
//!
//! A refusal is `unauthenticated` (no or bad credentials: no certificate, unknown envoy,
//! bad signature, stale timestamp, replayed nonce) or `permission_denied` (valid
//! credentials that may not do this: certificate of another envoy, revoked envoy), with
//! a message naming the check that failed.

use ed25519_dalek::{Signature, VerifyingKey};
use rustls_pki_types::CertificateDer;
use tonic::Status;
use uuid::Uuid;
use vigo_proto::v1::SignedRequest;

use crate::fleet::{Fleet, MAX_SKEW_SECS, NonceError};
use crate::replay::{LedgerError, ReplayLedger};
use crate::store::EnvoyStatus;

/// The exact bytes an agent signs for `req` ([`vigo_core::signing::request_message`]).
pub fn request_message(method: &str, req: &SignedRequest) -> Vec<u8> {
    vigo_core::signing::request_message(
        method,
        &req.envoy_id,
        req.timestamp_unix,
        &req.nonce,
        &req.body,
    )
}

/// An authenticated envoy request.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The envoy.
    pub envoy_id: Uuid,
    /// Its hostname (from the fleet index).
    pub hostname: String,
    /// The server time the request was checked at.
    pub now: i64,
}

/// Checks an envoy request: certificate CN, envoy status, timestamp, signature, nonce.
pub async fn authenticate(
    fleet: &Fleet,
    ledger: &ReplayLedger,
    certs: Option<&[CertificateDer<'static>]>,
    req: &SignedRequest,
    method: &str,
    now: i64,
) -> Result<Verified, Status> {
    let cn = client_cn(certs)?;
    if cn != req.envoy_id {
        return Err(Status::permission_denied(format!(
            "client certificate is for envoy {cn}, but the request is signed as envoy {}",
            req.envoy_id
        )));
    }
    let envoy_id = Uuid::parse_str(&req.envoy_id).map_err(|_| {
        Status::unauthenticated(format!("envoy_id `{}` is not a UUID", req.envoy_id))
    })?;
    let Some(entry) = fleet.get(envoy_id) else {
        return Err(Status::unauthenticated(format!(
            "envoy {envoy_id} is not enrolled on this server"
        )));
    };
    if entry.status == EnvoyStatus::Revoked {
        return Err(Status::permission_denied(format!(
            "envoy {envoy_id} is revoked; re-register it with a new enrollment"
        )));
    }
    verify_envelope(fleet, ledger, req, method, &entry.public_key, envoy_id, now).await?;
    Ok(Verified {
        envoy_id,
        hostname: entry.hostname,
        now,
    })
}

/// Checks timestamp, signature (by `key`) and nonce (remembered under `nonce_owner`,
/// in memory and in the ledger).
pub async fn verify_envelope(
    fleet: &Fleet,
    ledger: &ReplayLedger,
    req: &SignedRequest,
    method: &str,
    key: &VerifyingKey,
    nonce_owner: Uuid,
    now: i64,
) -> Result<(), Status> {
    let skew = now.saturating_sub(req.timestamp_unix);
    if skew.unsigned_abs() > MAX_SKEW_SECS.unsigned_abs() {
        return Err(Status::unauthenticated(format!(
            "stale request: its timestamp is {skew} s off the server clock (at most \
             {MAX_SKEW_SECS} s allowed); check the envoy's clock"
        )));
    }
    let signature: [u8; 64] = req.signature.as_slice().try_into().map_err(|_| {
        Status::unauthenticated(format!(
            "malformed request signature ({} bytes, expected 64)",
            req.signature.len()
        ))
    })?;
    key.verify_strict(
        &request_message(method, req),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| {
        Status::unauthenticated(format!(
            "bad request signature: not signed by the envoy's registered key for {method}"
        ))
    })?;
    let nonce = fleet
        .check_nonce(nonce_owner, &req.nonce, req.timestamp_unix, now)
        .map_err(|e| match e {
            NonceError::Full => Status::resource_exhausted(e.to_string()),
            NonceError::Malformed(_) | NonceError::Replayed => {
                Status::unauthenticated(e.to_string())
            }
        })?;
    ledger
        .remember(nonce_owner, nonce, req.timestamp_unix)
        .await
        .map_err(|e| match e {
            LedgerError::Replayed => Status::unauthenticated(e.to_string()),
            LedgerError::Busy => Status::resource_exhausted(e.to_string()),
            LedgerError::Closed | LedgerError::Store(_) => Status::unavailable(e.to_string()),
        })
}

/// The common name of the client certificate (the envoy id), or why there is none.
pub fn client_cn(certs: Option<&[CertificateDer<'static>]>) -> Result<String, Status> {
    let Some(leaf) = certs.and_then(|c| c.first()) else {
        return Err(Status::unauthenticated(
            "a client certificate issued by this server's CA is required (register first)",
        ));
    };
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
        .map_err(|_| Status::unauthenticated("the client certificate cannot be parsed"))?;
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| Status::unauthenticated("the client certificate has no common name"))
}
