//! `RenewCertificate`: a new client certificate for the calling envoy, before its
//! current one expires.
//!
//! The call passes the same checks as every other ([`super::auth`]): the current client
//! certificate (verified, so unexpired, by the TLS handshake) whose CN is the envoy, an
//! active envoy (a revoked one is refused), and the request signature by the envoy's
//! registered key. The CSR only contributes its public key (its signature must verify):
//! the certificate names the envoy exactly as enrollment did — `CN=<envoy id>`, the
//! envoy's hostname as its one SAN, client authentication only — and is valid for
//! `enrollment.client_cert_validity`. The store keeps the new certificate and serial in
//! place of the old, and the renewal is audited (`envoy.cert_renewed`).
//!
//! An envoy whose certificate has expired cannot get here (the handshake refuses it);
//! it enrolls again.

use rustls_pki_types::CertificateDer;
use tonic::{Request, Response, Status};
use vigo_proto::v1::methods;
use vigo_proto::v1::{RenewCertificateRequest, RenewCertificateResponse, SignedRequest};

use super::{AgentService, decode, store_status};
use crate::pki::PkiError;
use crate::store::StoreError;

impl AgentService {
    /// Serves `RenewCertificate` (see the module documentation).
    pub(super) async fn renew_certificate_for(
        &self,
        request: Request<SignedRequest>,
    ) -> Result<Response<RenewCertificateResponse>, Status> {
        let who = self
            .authenticate(&request, methods::RENEW_CERTIFICATE)
            .await?;
        let previous_serial = request
            .peer_certs()
            .and_then(|certs| certs.first().and_then(serial_of));
        let body: RenewCertificateRequest =
            decode(&request.get_ref().body, "RenewCertificateRequest")?;
        let envoy = who.envoy_id.to_string();
        let validity = self.state.config.enrollment.client_cert_validity.get();
        let cert = self
            .state
            .pki
            .sign_csr(&body.csr_pem, &who.hostname, &envoy, validity)
            .map_err(|e| match e {
                PkiError::NoCaKey => Status::failed_precondition(e.to_string()),
                other => Status::invalid_argument(other.to_string()),
            })?;
        self.state
            .store
            .record_renewed_cert(who.envoy_id, &cert.serial, &cert.cert_pem)
            .await
            .map_err(|e| match e {
                // Revoked since the request was authenticated.
                StoreError::NotFound { .. } => {
                    Status::permission_denied(format!("envoy {envoy} is revoked"))
                }
                other => store_status(&other),
            })?;
        self.audit(
            &envoy,
            "envoy.cert_renewed",
            &who.hostname,
            serde_json::json!({
                "serial": cert.serial,
                "previous_serial": previous_serial,
                "not_after": cert.not_after_unix,
            }),
        )
        .await;
        tracing::info!(envoy = %who.envoy_id, serial = %cert.serial, "client certificate renewed");
        Ok(Response::new(RenewCertificateResponse {
            certificate_pem: cert.cert_pem,
            serial: cert.serial,
            not_after_unix: cert.not_after_unix,
        }))
    }
}

/// A certificate's serial number as the store keeps it (lower-case hex).
fn serial_of(der: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(hex::encode(cert.raw_serial()))
}
