//! An envoy's client certificate after enrollment: renewal replaces the certificate (and
//! serial) the store keeps for it, for an active envoy only.

use uuid::Uuid;

use super::error::query_error;
use super::{Result, Store, StoreError};

const RECORD_RENEWED_CERT: &str = "UPDATE envoys SET cert_serial = $1, cert_pem = $2 \
     WHERE id = $3 AND status = 'active'";

impl Store {
    /// Records the certificate a renewal issued to an active envoy, replacing the one
    /// kept since enrollment (or the last renewal). An unknown or revoked envoy is
    /// [`StoreError::NotFound`]: a revoked envoy never gets a new certificate recorded.
    pub async fn record_renewed_cert(
        &self,
        id: Uuid,
        cert_serial: &str,
        cert_pem: &str,
    ) -> Result<()> {
        let updated = with_pool!(self, |pool| {
            sqlx::query(RECORD_RENEWED_CERT)
                .bind(cert_serial)
                .bind(cert_pem)
                .bind(id.to_string())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(query_error("recording a renewed certificate", id))?;
        if updated == 0 {
            return Err(StoreError::NotFound {
                what: "active envoy",
                id: id.to_string(),
            });
        }
        Ok(())
    }
}
