//! Enrollment: who may register, and what registering does. Used by gRPC `Register` and
//! by the REST bootstrap endpoint (`POST /api/v1/register`).
//!
//! The rules, in order (the first that fails is the answer, and is audited):
//!
//! 1. the hostname is a valid DNS name and the agent key a valid ed25519 key;
//! 2. the hostname matches an **approved pattern** (`vigocli patterns`);
//! 3. without a token, a matching pattern must be `trusted`;
//! 4. a hostname that already has an active envoy is refused unless `force`, which
//!    revokes the old envoy in the same transaction as the new one is stored;
//! 5. the CSR is signed by the CA (`CN=<new envoy UUID>`, SAN = the hostname);
//! 6. with a token: it is consumed — single use, unexpired, and matching its own
//!    hostname pattern when it has one. Checks 4 and 5 come first, so a refused
//!    registration never burns a token.
//!
//! Then the envoy is stored with its ed25519 key and added to the fleet index.
//!
//! Before rule 1, [`RegisterInput::check`] bounds every field the same way for both
//! paths (gRPC `Register` and REST), so that nothing unbounded or malformed is ever
//! stored: the limits are the `MAX_*` constants of this module. Refusals are audited
//! through the bounded refusal audit ([`crate::refusals`]), so unauthenticated
//! registrations cannot flood the audit log.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;
use vigo_lang::glob::Pattern;

use crate::clock::Clock;
use crate::fleet::Fleet;
use crate::pki::{Pki, PkiError};
use crate::refusals::{Principal, Refusal, RefusalAudit};
use crate::store::{
    NewAuditEntry, NewEnvoy, Reenrollment, Store, StoreError, TokenHash, TokenRejection,
};

/// The longest hostname (a DNS name).
pub const MAX_HOSTNAME_LEN: usize = 253;
/// The largest CSR (PEM).
pub const MAX_CSR_LEN: usize = 16 * 1024;
/// The most addresses an agent may report.
pub const MAX_ADDRESSES: usize = 64;
/// The longest agent version.
pub const MAX_VERSION_LEN: usize = 64;
/// The longest enrollment token.
pub const MAX_TOKEN_LEN: usize = 256;

/// A registration request, from gRPC or REST.
#[derive(Clone, PartialEq, Eq)]
pub struct RegisterInput {
    /// The hostname the envoy reports.
    pub hostname: String,
    /// The one-time enrollment token; `None` for trusted enrollment.
    pub token: Option<String>,
    /// PEM certificate signing request for the envoy's mTLS client certificate.
    pub csr_pem: String,
    /// Raw ed25519 public key of the agent (32 bytes).
    pub agent_public_key: Vec<u8>,
    /// The addresses it reports.
    pub ip_addresses: Vec<String>,
    /// The agent's version.
    pub agent_version: Option<String>,
    /// Revoke an existing enrollment of this hostname.
    pub force: bool,
    /// The address the request came from (for the audit log).
    pub peer: Option<IpAddr>,
}

impl std::fmt::Debug for RegisterInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisterInput")
            .field("hostname", &self.hostname)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("force", &self.force)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl RegisterInput {
    /// Bounds and checks the form of every field (the one validation of both paths).
    pub fn check(&self) -> Result<(), EnrollError> {
        let invalid = |field: &'static str, expected: String| {
            Err(EnrollError::InvalidInput { field, expected })
        };
        if self.hostname.is_empty() || self.hostname.len() > MAX_HOSTNAME_LEN {
            return invalid(
                "hostname",
                format!("a DNS name of 1 to {MAX_HOSTNAME_LEN} bytes"),
            );
        }
        if self.csr_pem.is_empty() || self.csr_pem.len() > MAX_CSR_LEN {
            return invalid(
                "csr_pem",
                format!("a PEM certificate request of at most {MAX_CSR_LEN} bytes"),
            );
        }
        if self.ip_addresses.len() > MAX_ADDRESSES {
            return invalid(
                "ip_addresses",
                format!(
                    "at most {MAX_ADDRESSES} addresses, got {}",
                    self.ip_addresses.len()
                ),
            );
        }
        if let Some(bad) = self
            .ip_addresses
            .iter()
            .find(|a| a.len() > 45 || a.parse::<IpAddr>().is_err())
        {
            return invalid(
                "ip_addresses",
                format!(
                    "IPv4 or IPv6 addresses; `{}` is not one",
                    bad.chars().take(45).collect::<String>().escape_default()
                ),
            );
        }
        if let Some(v) = &self.agent_version
            && (v.len() > MAX_VERSION_LEN
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-+~_".contains(&b)))
        {
            return invalid(
                "agent_version",
                format!(
                    "at most {MAX_VERSION_LEN} letters, digits and `.-+~_` (a version such \
                     as 0.4.1)"
                ),
            );
        }
        if self.token.as_ref().is_some_and(|t| t.len() > MAX_TOKEN_LEN) {
            return invalid(
                "token",
                format!("an enrollment token of at most {MAX_TOKEN_LEN} bytes"),
            );
        }
        Ok(())
    }
}

/// A successful registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOutput {
    /// The new envoy's id.
    pub envoy_id: Uuid,
    /// Its client certificate (PEM), signed by the CA.
    pub certificate_pem: String,
    /// The CA certificate (PEM) to pin.
    pub ca_pem: String,
    /// The bundle-signing public key to pin (32 bytes).
    pub server_signing_key: [u8; 32],
    /// Its key id.
    pub server_signing_key_id: String,
    /// The envoy this registration revoked (`force`), if any.
    pub revoked: Option<Uuid>,
}

/// Why a registration was refused. Every message says exactly why.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// A field is too long or not of its form.
    #[error("invalid registration: `{field}` must be {expected}")]
    InvalidInput {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: String,
    },
    /// The hostname is empty or not a DNS name.
    #[error("invalid hostname `{0}`: expected a DNS name (letters, digits, `-`, dots)")]
    InvalidHostname(String),
    /// The agent key is not a 32-byte ed25519 public key.
    #[error("invalid agent public key: expected 32 bytes of ed25519 key, got {0} bytes")]
    InvalidKey(usize),
    /// No approved pattern matches the hostname.
    #[error("hostname {0} is not approved for enrollment (no approved pattern matches it)")]
    HostnameNotApproved(String),
    /// No token was given, and no matching pattern is trusted.
    #[error("an enrollment token is required for {hostname}: pattern `{pattern}` is not trusted")]
    TokenRequired {
        /// The hostname.
        hostname: String,
        /// The (first) approved pattern that matched.
        pattern: String,
    },
    /// No token has this value.
    #[error("wrong enrollment token: no such token")]
    WrongToken,
    /// The token was already used.
    #[error("enrollment token already used by {used_by} at {used_at}")]
    TokenReused {
        /// The hostname that consumed it.
        used_by: String,
        /// When (Unix seconds).
        used_at: i64,
    },
    /// The token expired.
    #[error("enrollment token expired at {expires_at}")]
    TokenExpired {
        /// When (Unix seconds).
        expires_at: i64,
    },
    /// The token is scoped to other hostnames.
    #[error("enrollment token is limited to hostnames matching `{pattern}`, not {hostname}")]
    TokenPatternMismatch {
        /// The token's pattern.
        pattern: String,
        /// The hostname.
        hostname: String,
    },
    /// The hostname already has an active envoy and `force` was not given.
    #[error(
        "hostname {hostname} is already enrolled as envoy {envoy_id}; re-register with --force to revoke it"
    )]
    AlreadyEnrolled {
        /// The hostname.
        hostname: String,
        /// The active envoy.
        envoy_id: Uuid,
    },
    /// The CSR is malformed or its signature does not verify.
    #[error("{0}")]
    BadCsr(String),
    /// This server has no CA key.
    #[error("this server cannot sign certificates (no CA key)")]
    CannotSign,
    /// The store failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl EnrollError {
    /// A short stable word for the audit log and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            EnrollError::InvalidInput { .. } => "invalid_input",
            EnrollError::InvalidHostname(_) => "invalid_hostname",
            EnrollError::InvalidKey(_) => "invalid_key",
            EnrollError::HostnameNotApproved(_) => "hostname_not_approved",
            EnrollError::TokenRequired { .. } => "token_required",
            EnrollError::WrongToken => "wrong_token",
            EnrollError::TokenReused { .. } => "token_reused",
            EnrollError::TokenExpired { .. } => "token_expired",
            EnrollError::TokenPatternMismatch { .. } => "token_pattern_mismatch",
            EnrollError::AlreadyEnrolled { .. } => "already_enrolled",
            EnrollError::BadCsr(_) => "bad_csr",
            EnrollError::CannotSign => "cannot_sign",
            EnrollError::Store(_) => "internal",
        }
    }
}

/// Registers envoys.
#[derive(Debug, Clone)]
pub struct Enroller {
    store: Store,
    pki: Arc<Pki>,
    fleet: Arc<Fleet>,
    cert_validity: Duration,
    grpc_address: String,
    refusals: Arc<RefusalAudit>,
    clock: Clock,
}

impl Enroller {
    /// An enroller issuing client certificates valid for `cert_validity`
    /// (`enrollment.client_cert_validity`); refusals go to `refusals`. Token expiry and
    /// enrollment times follow `clock`.
    pub fn new(
        store: Store,
        pki: Arc<Pki>,
        fleet: Arc<Fleet>,
        cert_validity: Duration,
        refusals: Arc<RefusalAudit>,
        clock: Clock,
    ) -> Self {
        Enroller {
            store,
            pki,
            fleet,
            cert_validity,
            grpc_address: String::new(),
            refusals,
            clock,
        }
    }

    /// Sets the `host:port` agents are told to check in at (REST registration).
    #[must_use]
    pub fn with_grpc_address(mut self, address: String) -> Self {
        self.grpc_address = address;
        self
    }

    /// The `host:port` agents check in at.
    pub fn grpc_address(&self) -> String {
        self.grpc_address.clone()
    }

    /// Refuses `id` in the fleet index at once (after it was revoked in the store).
    pub fn fleet_revoke(&self, id: Uuid) {
        self.fleet.revoke(id);
    }

    /// Registers an envoy (see the module documentation for the rules). Every outcome,
    /// refusals included, is audited.
    pub async fn register(&self, input: RegisterInput) -> Result<RegisterOutput, EnrollError> {
        let checked = input.check();
        let hostname = input.hostname.trim().to_ascii_lowercase();
        let result = match checked {
            Ok(()) => self.try_register(&hostname, &input).await,
            Err(e) => Err(e),
        };
        match &result {
            Ok(out) => {
                let entry = NewAuditEntry {
                    at: self.clock.unix(),
                    actor: out.envoy_id.to_string(),
                    action: "envoy.registered".to_owned(),
                    target: Some(hostname.clone()),
                    detail: serde_json::json!({
                        "envoy_id": out.envoy_id.to_string(),
                        "with_token": input.token.is_some(),
                        "force": input.force,
                        "revoked": out.revoked.map(|r| r.to_string()),
                        "peer": input.peer.map(|p| p.to_string()),
                    }),
                };
                if let Err(e) = self.store.append_audit(&entry).await {
                    tracing::error!(error = %e, "could not append the enrollment audit entry");
                }
                tracing::info!(%hostname, envoy = %out.envoy_id, revoked = ?out.revoked, "envoy registered");
            }
            Err(e) => {
                // Bounded: a refused hostname is at most a valid-length name, else cut.
                let claimed: String = hostname.chars().take(MAX_HOSTNAME_LEN).collect();
                self.refusals
                    .record(Refusal {
                        action: "envoy.register_refused",
                        actor: "enrollment".to_owned(),
                        principal: Principal::Claimed(claimed.clone()),
                        source: input.peer,
                        target: Some(claimed.clone()),
                        detail: serde_json::json!({
                            "reason": e.reason(),
                            "message": e.to_string(),
                            "with_token": input.token.is_some(),
                            "force": input.force,
                        }),
                    })
                    .await;
                tracing::warn!(hostname = %claimed, reason = e.reason(), "registration refused: {e}");
            }
        }
        result
    }

    async fn try_register(
        &self,
        hostname: &str,
        input: &RegisterInput,
    ) -> Result<RegisterOutput, EnrollError> {
        if !valid_hostname(hostname) {
            return Err(EnrollError::InvalidHostname(input.hostname.clone()));
        }
        let key: [u8; 32] = input
            .agent_public_key
            .as_slice()
            .try_into()
            .map_err(|_| EnrollError::InvalidKey(input.agent_public_key.len()))?;
        ed25519_dalek::VerifyingKey::from_bytes(&key).map_err(|_| EnrollError::InvalidKey(32))?;

        let patterns = self.store.list_patterns().await?;
        let matching: Vec<_> = patterns
            .iter()
            .filter(|p| Pattern::new(&p.pattern).is_ok_and(|g| g.matches(hostname)))
            .collect();
        let Some(first) = matching.first() else {
            return Err(EnrollError::HostnameNotApproved(hostname.to_owned()));
        };
        let token = input.token.as_deref().filter(|t| !t.is_empty());
        if token.is_none() && !matching.iter().any(|p| p.trusted) {
            return Err(EnrollError::TokenRequired {
                hostname: hostname.to_owned(),
                pattern: first.pattern.clone(),
            });
        }
        if !input.force
            && let Some(holder) = self.store.active_envoy_by_hostname(hostname).await?
        {
            return Err(EnrollError::AlreadyEnrolled {
                hostname: hostname.to_owned(),
                envoy_id: holder.id,
            });
        }

        let envoy_id = Uuid::new_v4();
        let cert = self
            .pki
            .sign_csr(
                &input.csr_pem,
                hostname,
                &envoy_id.to_string(),
                self.cert_validity,
            )
            .map_err(|e| match e {
                PkiError::NoCaKey => EnrollError::CannotSign,
                other => EnrollError::BadCsr(other.to_string()),
            })?;

        let now = self.clock.unix();
        if let Some(secret) = token {
            self.store
                .consume_token(&TokenHash::of_secret(secret), hostname, now)
                .await
                .map_err(|e| match e {
                    StoreError::TokenRejected(why) => token_error(why),
                    other => EnrollError::Store(other),
                })?;
        }

        let new = NewEnvoy {
            id: envoy_id,
            hostname: hostname.to_owned(),
            public_key: key,
            cert_serial: cert.serial.clone(),
            cert_pem: cert.cert_pem.clone(),
            environment: None,
            address: input
                .ip_addresses
                .first()
                .cloned()
                .or_else(|| input.peer.map(|p| p.to_string())),
            agent_version: input.agent_version.clone().filter(|v| !v.is_empty()),
            enrolled_at: now,
        };
        let mode = if input.force {
            Reenrollment::RevokePrevious
        } else {
            Reenrollment::Refuse
        };
        let registered = self
            .store
            .register_envoy(&new, mode)
            .await
            .map_err(|e| match e {
                StoreError::HostnameEnrolled { hostname, envoy_id } => {
                    EnrollError::AlreadyEnrolled { hostname, envoy_id }
                }
                other => EnrollError::Store(other),
            })?;
        if let Some(old) = registered.revoked {
            self.fleet.revoke(old);
            let entry = NewAuditEntry {
                at: now,
                actor: envoy_id.to_string(),
                action: "envoy.revoked".to_owned(),
                target: Some(old.to_string()),
                detail: serde_json::json!({ "reason": "forced re-registration", "hostname": hostname }),
            };
            if let Err(e) = self.store.append_audit(&entry).await {
                tracing::error!(error = %e, "could not append the revocation audit entry");
            }
        }
        self.fleet.insert(&registered.envoy);
        let signing = self.pki.signing_key().verifying_key();
        Ok(RegisterOutput {
            envoy_id,
            certificate_pem: cert.cert_pem,
            ca_pem: self.pki.ca_pem().to_owned(),
            server_signing_key: signing.to_bytes(),
            server_signing_key_id: self.pki.signing_key_id(),
            revoked: registered.revoked,
        })
    }
}

fn token_error(why: TokenRejection) -> EnrollError {
    match why {
        TokenRejection::Unknown => EnrollError::WrongToken,
        TokenRejection::AlreadyUsed { used_at, used_by } => {
            EnrollError::TokenReused { used_by, used_at }
        }
        TokenRejection::Expired { expires_at } => EnrollError::TokenExpired { expires_at },
        TokenRejection::HostnameMismatch { pattern, hostname } => {
            EnrollError::TokenPatternMismatch { pattern, hostname }
        }
    }
}

/// Whether `h` is a DNS hostname: 1–253 characters, labels of 1–63 letters, digits and
/// `-` (not at either end), separated by single dots.
pub fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= MAX_HOSTNAME_LEN
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The enrollment authority behind `POST /api/v1/register` (`vigo bootstrap`) and REST
/// revocation: the same checks, audit and fleet index as the gRPC `Register`.
impl crate::rest::Registrar for Enroller {
    fn register(
        &self,
        req: crate::rest::RegisterBody,
    ) -> crate::ops::BoxFuture<
        '_,
        Result<crate::rest::RegisterReply, (axum::http::StatusCode, String)>,
    > {
        Box::pin(async move {
            let input = crate::rest::register::register_input(&req);
            match self.register(input).await {
                Ok(out) => Ok(crate::rest::RegisterReply {
                    envoy_id: out.envoy_id.to_string(),
                    certificate_pem: out.certificate_pem,
                    ca_pem: out.ca_pem,
                    server_signing_key: hex::encode(out.server_signing_key),
                    server_signing_key_id: out.server_signing_key_id,
                    grpc_address: self.grpc_address(),
                }),
                Err(e) => Err((rest_status(&e), e.to_string())),
            }
        })
    }

    fn envoy_revoked(&self, id: Uuid) {
        self.fleet_revoke(id);
    }
}

/// The HTTP status of a refusal: bad input 400, refused 403, a conflict 409, ours 500.
fn rest_status(e: &EnrollError) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    match e {
        EnrollError::InvalidInput { .. }
        | EnrollError::InvalidHostname(_)
        | EnrollError::InvalidKey(_)
        | EnrollError::BadCsr(_) => StatusCode::BAD_REQUEST,
        EnrollError::AlreadyEnrolled { .. } => StatusCode::CONFLICT,
        EnrollError::CannotSign | EnrollError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::FORBIDDEN,
    }
}

#[cfg(test)]
mod tests {
    use super::valid_hostname;

    #[test]
    fn hostnames() {
        assert!(valid_hostname("web-01.example.net"));
        assert!(valid_hostname("localhost"));
        assert!(!valid_hostname(""));
        assert!(!valid_hostname("a..b"));
        assert!(!valid_hostname("-a"));
        assert!(!valid_hostname("a b"));
        assert!(!valid_hostname("*.example.net"));
        assert!(!valid_hostname(&"a".repeat(64)));
    }
}
