//! [`AppState`]: everything a running `vigosrv` shares between its listeners — config,
//! PKI, store, secrets, the publisher (live version and bundle cache), the fleet index
//! and the enroller. Built by [`crate::serve::build_state`]; cheap to clone.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::enroll::Enroller;
use crate::fleet::Fleet;
use crate::ops::ConfigOps;
use crate::pki::Pki;
use crate::publish::Publisher;
use crate::refusals::RefusalAudit;
use crate::replay::ReplayLedger;
use crate::secrets::LocalSecrets;
use crate::store::Store;
use crate::streams::Streams;

/// The shared state of a running server.
#[derive(Debug, Clone)]
pub struct AppState {
    /// `server.yaml`, loaded, secrets resolved.
    pub config: Arc<ServerConfig>,
    /// CA, server certificate, bundle-signing key.
    pub pki: Arc<Pki>,
    /// The database.
    pub store: Store,
    /// The local secrets store (`None` when the backend is not `local`).
    pub secrets: Option<Arc<LocalSecrets>>,
    /// The live version, publishing, the signed-bundle cache.
    pub publisher: Arc<Publisher>,
    /// The in-memory fleet index. Call [`Fleet::revoke`] after revoking an envoy in the
    /// store so its next request is refused at once.
    pub fleet: Arc<Fleet>,
    /// Registration of new envoys (gRPC `Register`, REST `POST /api/v1/register`).
    pub enroller: Arc<Enroller>,
    /// The bounded audit trail of refused requests (REST and enrollment).
    pub refusals: Arc<RefusalAudit>,
    /// The durable replay ledger every signed request passes.
    pub replay: Arc<ReplayLedger>,
    /// The held `AgentStream`s by envoy: where tasks and force-pushes go.
    pub streams: Arc<Streams>,
    /// Where every part of the server reads the time (see [`crate::clock`]).
    pub clock: Clock,
}

impl AppState {
    /// The publisher as the REST layer's [`ConfigOps`].
    pub fn config_ops(&self) -> Arc<dyn ConfigOps> {
        Arc::clone(&self.publisher) as Arc<dyn ConfigOps>
    }
}
