//! Enrollment: `POST /api/v1/register` (no API token: the one-time enrollment token
//! travels in the body, or the hostname matches a trusted pattern). `vigo bootstrap`
//! sends a [`RegisterBody`] and keeps the [`RegisterReply`].

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

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
