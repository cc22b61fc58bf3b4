//! `server.connections:` what a connection to either listener may cost the server before
//! it has proved to be a client: how long its TLS handshake and its first request may
//! take, how long it may stay silent, and how many connections one source address and
//! all of them together may hold — with a separate budget per listener, so a flood of
//! one (gRPC on 1530, REST on 8443) never takes the other's slots.
//!
//! `crate::listen` enforces these; `docs/server.md` documents them.

use serde::Deserialize;

use super::values::ConfigDuration;

/// `server.connections:` timeouts shared by both listeners, and one budget per listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionsSection {
    /// How long the TLS handshake may take, from accept. Default `10s`.
    pub tls_handshake_timeout: ConfigDuration,
    /// How long a connection may take, from accept, to send the headers of its first
    /// request (bytes trickled slowly do not extend it). Default `10s`.
    pub first_request_timeout: ConfigDuration,
    /// How long a REST request's body may take to arrive whole, from its headers (gRPC
    /// request bodies are streams and have none). Default `30s`.
    pub request_body_timeout: ConfigDuration,
    /// How long a connection with no request in flight may go without a byte read or
    /// written before it is closed. Default `5m`.
    pub idle_timeout: ConfigDuration,
    /// How often the server pings a quiet HTTP/2 connection. Default `60s`.
    pub http2_keepalive_interval: ConfigDuration,
    /// How long the server waits for the answer to a ping before closing. Default `20s`.
    pub http2_keepalive_timeout: ConfigDuration,
    /// The gRPC listener's budget (agents). Default 16384 connections, 512 per source.
    #[serde(deserialize_with = "grpc_budget")]
    pub grpc: ListenerBudget,
    /// The REST listener's budget (vigocli, browsers, bootstrap). Default 1024
    /// connections, 64 per source.
    #[serde(deserialize_with = "api_budget")]
    pub api: ListenerBudget,
}

impl Default for ConnectionsSection {
    fn default() -> Self {
        ConnectionsSection {
            tls_handshake_timeout: ConfigDuration::from_secs(10),
            first_request_timeout: ConfigDuration::from_secs(10),
            request_body_timeout: ConfigDuration::from_secs(30),
            idle_timeout: ConfigDuration::from_secs(5 * 60),
            http2_keepalive_interval: ConfigDuration::from_secs(60),
            http2_keepalive_timeout: ConfigDuration::from_secs(20),
            grpc: GRPC_BUDGET,
            api: API_BUDGET,
        }
    }
}

/// How many connections one listener holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerBudget {
    /// Connections open at once, all sources together; more are closed at accept.
    pub max_connections: u32,
    /// Connections open at once from one source address (IPv4 address, IPv6 /64);
    /// more from that source are closed at accept.
    pub max_per_source: u32,
}

/// The gRPC listener's default budget.
const GRPC_BUDGET: ListenerBudget = ListenerBudget {
    max_connections: 16_384,
    max_per_source: 512,
};

/// The REST listener's default budget.
const API_BUDGET: ListenerBudget = ListenerBudget {
    max_connections: 1024,
    max_per_source: 64,
};

/// A budget as written: each key may be left out (the listener's default applies).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BudgetKeys {
    max_connections: Option<u32>,
    max_per_source: Option<u32>,
}

impl BudgetKeys {
    fn over(keys: Option<Self>, default: ListenerBudget) -> ListenerBudget {
        let Some(keys) = keys else {
            return default;
        };
        ListenerBudget {
            max_connections: keys.max_connections.unwrap_or(default.max_connections),
            max_per_source: keys.max_per_source.unwrap_or(default.max_per_source),
        }
    }
}

fn grpc_budget<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ListenerBudget, D::Error> {
    Option::<BudgetKeys>::deserialize(d).map(|k| BudgetKeys::over(k, GRPC_BUDGET))
}

fn api_budget<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ListenerBudget, D::Error> {
    Option::<BudgetKeys>::deserialize(d).map(|k| BudgetKeys::over(k, API_BUDGET))
}

impl ConnectionsSection {
    /// Checks that serde cannot make: every timeout at least a second (none may be
    /// switched off: that would fail open), budgets at least one, a source's share no
    /// larger than the whole. Returns the key path below `server.connections` and the
    /// message.
    pub(super) fn check(&self) -> Result<(), (Vec<&'static str>, String)> {
        let timeouts = [
            ("tls_handshake_timeout", self.tls_handshake_timeout),
            ("first_request_timeout", self.first_request_timeout),
            ("request_body_timeout", self.request_body_timeout),
            ("idle_timeout", self.idle_timeout),
            ("http2_keepalive_interval", self.http2_keepalive_interval),
            ("http2_keepalive_timeout", self.http2_keepalive_timeout),
        ];
        for (key, value) in timeouts {
            if value.get() < std::time::Duration::from_secs(1) {
                return Err((
                    vec![key],
                    "must be at least 1s (a timeout cannot be switched off): expected a \
                     duration like \"10s\" or \"5m\""
                        .to_owned(),
                ));
            }
        }
        for (name, budget) in [("grpc", self.grpc), ("api", self.api)] {
            if budget.max_connections == 0 {
                return Err((
                    vec![name, "max_connections"],
                    "must be at least 1".to_owned(),
                ));
            }
            if budget.max_per_source == 0 || budget.max_per_source > budget.max_connections {
                return Err((
                    vec![name, "max_per_source"],
                    format!(
                        "expected a whole number from 1 to `max_connections` ({})",
                        budget.max_connections
                    ),
                ));
            }
        }
        Ok(())
    }
}
