//! The agent-facing gRPC service `vigo.v1.Agent` (port 1530, TLS): `Register`, `CheckIn`,
//! `ReportResult`, `ReportTraits`, `ResolveSecrets`, `AgentStream`, `RenewCertificate`
//! ([`renew`]).
//!
//! Every request is a `SignedRequest`; [`auth`] checks it before the body is decoded.
//! `Register` is signed by the key inside its own body (proof of possession) and needs
//! no client certificate; every other RPC needs the envoy's certificate (see [`auth`]).
//!
//! **CheckIn is the hot path** and touches only memory: the fleet index (key, status,
//! last seen), the replay cache and the live version's per-block signed bundle. It
//! answers `no_change` when the agent reports the live `policy_version` and the
//! fingerprint of the block's current signed bundle
//! ([`payload_fingerprint`](crate::publish::payload_fingerprint)), and the cached
//! `SignedBundle` otherwise. When the agent's pinned bundle-signing key is not the one
//! that signed its bundle, the answer carries the rotations from one to the other
//! ([`BundleKeys::rotations_between`](crate::pki::BundleKeys::rotations_between)) and the
//! bundle itself.

pub mod auth;
mod renew;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;
use vigo_core::Action;
use vigo_proto::v1::agent_server::{Agent, AgentServer};
use vigo_proto::v1::methods;
use vigo_proto::v1::{
    AgentFrame, CheckInRequest, CheckInResponse, Keepalive, NoChange, RegisterRequest,
    RegisterResponse, RenewCertificateResponse, ReportResultRequest, ReportResultResponse,
    ReportTraitsRequest, ReportTraitsResponse, ResolveSecretsRequest, ResolveSecretsResponse,
    ServerFrame, SignedBundle, SignedRequest, agent_frame, check_in_response, server_frame,
};

use crate::enroll::{EnrollError, RegisterInput};
use crate::publish::{Live, SignedBlock};
use crate::state::AppState;
use crate::store::{NewAuditEntry, Recorded, ResourceResult, Run, StoreError};
use auth::Verified;

/// How often a held `AgentStream` gets a keepalive frame.
pub const STREAM_KEEPALIVE: Duration = Duration::from_secs(30);
/// Largest accepted traits document.
pub const MAX_TRAITS_BYTES: usize = 2 << 20;

/// The `vigo.v1.Agent` implementation.
#[derive(Debug, Clone)]
pub struct AgentService {
    state: AppState,
    shutdown: watch::Receiver<bool>,
}

impl AgentService {
    /// The service over `state`; held streams end when `shutdown` turns true.
    pub fn new(state: AppState, shutdown: watch::Receiver<bool>) -> Self {
        AgentService { state, shutdown }
    }

    /// Wrapped for tonic.
    pub fn into_server(self) -> AgentServer<AgentService> {
        AgentServer::new(self)
    }

    async fn authenticate(
        &self,
        request: &Request<SignedRequest>,
        method: &str,
    ) -> Result<Verified, Status> {
        let result = auth::authenticate(
            &self.state.fleet,
            &self.state.replay,
            request.peer_certs().as_deref().map(Vec::as_slice),
            request.get_ref(),
            method,
            self.state.clock.unix(),
        )
        .await;
        if let Err(status) = &result {
            tracing::info!(
                method,
                envoy = %request.get_ref().envoy_id,
                peer = ?request.remote_addr(),
                "request refused: {}",
                status.message()
            );
        }
        result
    }

    fn live(&self) -> Result<Arc<Live>, Status> {
        self.state
            .publisher
            .live()
            .ok_or_else(|| Status::failed_precondition("no configuration has been published yet"))
    }

    /// The envoy's current signed bundle.
    fn signed_for(&self, live: &Live, who: &Verified) -> Result<Arc<SignedBlock>, Status> {
        let Some(block) = live.block_for(who.envoy_id, &who.hostname) else {
            return Err(Status::failed_precondition(format!(
                "hostname {} matches no match block in version {}",
                who.hostname, live.info.version
            )));
        };
        live.signed_block(block, who.now).map_err(|e| {
            tracing::error!(block, error = %e, "building a bundle of the live version failed");
            Status::internal("the bundle for this envoy could not be built")
        })
    }

    fn interval_secs(&self) -> u32 {
        u32::try_from(self.state.config.checkin.interval.as_secs()).unwrap_or(u32::MAX)
    }

    async fn audit(&self, actor: &str, action: &str, target: &str, detail: serde_json::Value) {
        let entry = NewAuditEntry {
            at: self.state.clock.unix(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: Some(target.to_owned()),
            detail,
        };
        if let Err(e) = self.state.store.append_audit(&entry).await {
            tracing::error!(error = %e, action, "could not append the audit entry");
        }
    }
}

fn decode<M: Message + Default>(body: &[u8], what: &str) -> Result<M, Status> {
    M::decode(body).map_err(|e| Status::invalid_argument(format!("undecodable {what}: {e}")))
}

fn store_status(e: &StoreError) -> Status {
    match e {
        StoreError::NotFound { .. } => Status::not_found(e.to_string()),
        StoreError::Invalid { .. } => Status::invalid_argument(e.to_string()),
        _ => {
            tracing::error!(error = %e, "store");
            Status::internal("storage error; see the server log")
        }
    }
}

fn enroll_status(e: &EnrollError) -> Status {
    let msg = e.to_string();
    match e {
        EnrollError::InvalidInput { .. }
        | EnrollError::InvalidHostname(_)
        | EnrollError::InvalidKey(_)
        | EnrollError::BadCsr(_) => Status::invalid_argument(msg),
        EnrollError::WrongToken
        | EnrollError::TokenRequired { .. }
        | EnrollError::TokenReused { .. }
        | EnrollError::TokenExpired { .. } => Status::unauthenticated(msg),
        EnrollError::HostnameNotApproved(_) | EnrollError::TokenPatternMismatch { .. } => {
            Status::permission_denied(msg)
        }
        EnrollError::AlreadyEnrolled { .. } => Status::already_exists(msg),
        EnrollError::CannotSign => Status::failed_precondition(msg),
        EnrollError::Store(_) => Status::internal("storage error; see the server log"),
    }
}

#[tonic::async_trait]
impl Agent for AgentService {
    async fn register(
        &self,
        request: Request<SignedRequest>,
    ) -> Result<Response<RegisterResponse>, Status> {
        let peer = request.remote_addr().map(|a| a.ip());
        let envelope = request.into_inner();
        if !envelope.envoy_id.is_empty() {
            return Err(Status::invalid_argument(
                "Register is signed with an empty envoy_id",
            ));
        }
        let body: RegisterRequest = decode(&envelope.body, "RegisterRequest")?;
        let key_bytes: [u8; 32] = body.agent_public_key.as_slice().try_into().map_err(|_| {
            Status::invalid_argument(format!(
                "agent_public_key must be 32 bytes, got {}",
                body.agent_public_key.len()
            ))
        })?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| Status::invalid_argument("agent_public_key is not an ed25519 key"))?;
        // Proof of possession; nonces of registrations share the nil id.
        auth::verify_envelope(
            &self.state.fleet,
            &self.state.replay,
            &envelope,
            methods::REGISTER,
            &key,
            Uuid::nil(),
            self.state.clock.unix(),
        )
        .await?;
        let input = RegisterInput {
            hostname: body.hostname,
            token: Some(body.token).filter(|t| !t.is_empty()),
            csr_pem: body.csr_pem,
            agent_public_key: body.agent_public_key,
            ip_addresses: body.ip_addresses,
            agent_version: Some(body.agent_version).filter(|v| !v.is_empty()),
            force: body.force,
            peer,
        };
        let hostname = input.hostname.trim().to_ascii_lowercase();
        let out = self
            .state
            .enroller
            .register(input)
            .await
            .map_err(|e| enroll_status(&e))?;
        let bundle = self.state.publisher.live().and_then(|live| {
            let who = Verified {
                envoy_id: out.envoy_id,
                hostname,
                now: self.state.clock.unix(),
            };
            self.signed_for(&live, &who).ok().map(|s| s.bundle.clone())
        });
        Ok(Response::new(RegisterResponse {
            envoy_id: out.envoy_id.to_string(),
            certificate_pem: out.certificate_pem,
            ca_pem: out.ca_pem,
            server_signing_key: out.server_signing_key.to_vec(),
            server_signing_key_id: out.server_signing_key_id,
            bundle,
        }))
    }

    async fn check_in(
        &self,
        request: Request<SignedRequest>,
    ) -> Result<Response<CheckInResponse>, Status> {
        let who = self.authenticate(&request, methods::CHECK_IN).await?;
        let body: CheckInRequest = decode(&request.get_ref().body, "CheckInRequest")?;
        let fleet = &self.state.fleet;
        let reported = Some(body.policy_version.as_str()).filter(|v| !v.is_empty());
        fleet.mark_seen(who.envoy_id, who.now, reported);
        let mut want_traits = false;
        if !body.traits_json.is_empty() {
            let json = traits_document(body.traits_json)?;
            fleet.record_traits(who.envoy_id, json);
        } else if !body.traits_hash.is_empty() {
            want_traits = fleet.traits_hash(who.envoy_id).as_deref() != Some(&body.traits_hash);
        }
        let live = self.live()?;
        let signed = self.signed_for(&live, &who)?;
        let rotations = self
            .state
            .pki
            .bundle_keys()
            .rotations_between(&body.pinned_key_id, &signed.bundle.key_id);
        let current = body.policy_version == live.info.version
            && body.state_fingerprint == signed.fingerprint
            && rotations.is_empty();
        metrics::counter!(
            "vigo_checkins_total",
            "outcome" => if current { "no_change" } else { "bundle" }
        )
        .increment(1);
        let outcome = if current {
            check_in_response::Outcome::NoChange(NoChange {})
        } else {
            tracing::debug!(envoy = %who.envoy_id, version = %live.info.version, "sending bundle");
            check_in_response::Outcome::Bundle(SignedBundle::clone(&signed.bundle))
        };
        Ok(Response::new(CheckInResponse {
            outcome: Some(outcome),
            interval_secs: self.interval_secs(),
            observe_only: signed.observe_only,
            want_traits,
            redirect: String::new(),
            key_rotation: rotations.first().cloned(),
            key_rotation_chain: rotations,
        }))
    }

    async fn report_result(
        &self,
        request: Request<SignedRequest>,
    ) -> Result<Response<ReportResultResponse>, Status> {
        let who = self.authenticate(&request, methods::REPORT_RESULT).await?;
        let body: ReportResultRequest = decode(&request.get_ref().body, "ReportResultRequest")?;
        let version = Some(body.policy_version.clone()).filter(|v| !v.is_empty());
        self.state
            .fleet
            .mark_seen(who.envoy_id, who.now, version.as_deref());
        if body.dropped_reports > 0 {
            tracing::warn!(envoy = %who.envoy_id, dropped = body.dropped_reports,
                "the envoy dropped queued reports while offline");
        }
        if body.steady && body.results.is_empty() {
            // A heartbeat: same actions as the last full report, all `none`.
            return Ok(Response::new(ReportResultResponse {}));
        }
        let run_id = Uuid::parse_str(&body.run_id).map_err(|_| {
            Status::invalid_argument(format!("run_id `{}` is not a UUID", body.run_id))
        })?;
        let mut results = Vec::with_capacity(body.results.len());
        for r in &body.results {
            let action = vigo_proto::v1::Action::try_from(r.action)
                .ok()
                .and_then(Action::from_wire)
                .ok_or_else(|| {
                    Status::invalid_argument(format!(
                        "resource {}:{} has no valid action ({})",
                        r.r#type, r.name, r.action
                    ))
                })?;
            let resource_id = if r.configcrate.is_empty() {
                format!("{}:{}", r.r#type, r.name)
            } else {
                format!("{}/{}:{}", r.configcrate, r.r#type, r.name)
            };
            results.push(ResourceResult {
                resource_id,
                resource_type: r.r#type.clone(),
                name: r.name.clone(),
                action,
                message: r.message.clone(),
                duration_micros: r.duration_micros,
            });
        }
        let duration_secs = i64::try_from(body.duration_micros.div_ceil(1_000_000)).unwrap_or(0);
        let run = Run {
            id: run_id,
            envoy_id: who.envoy_id,
            started_at: body.started_at_unix,
            finished_at: body.started_at_unix.saturating_add(duration_secs),
            duration_micros: body.duration_micros,
            policy_version: version,
            dry_run: body.dry_run,
            counts: crate::store::tally(&results),
        };
        match self.state.store.record_run(&run, &results).await {
            Ok(Recorded::New) => {
                tracing::debug!(envoy = %who.envoy_id, run = %run_id, "run recorded");
            }
            Ok(Recorded::Replay) => {
                tracing::debug!(envoy = %who.envoy_id, run = %run_id, "run already recorded");
            }
            Err(e) => return Err(store_status(&e)),
        }
        Ok(Response::new(ReportResultResponse {}))
    }

    async fn report_traits(
        &self,
        request: Request<SignedRequest>,
    ) -> Result<Response<ReportTraitsResponse>, Status> {
        let who = self.authenticate(&request, methods::REPORT_TRAITS).await?;
        let body: ReportTraitsRequest = decode(&request.get_ref().body, "ReportTraitsRequest")?;
        let json = traits_document(body.traits_json)?;
        self.state.fleet.record_traits(who.envoy_id, json);
        Ok(Response::new(ReportTraitsResponse {}))
    }

    async fn resolve_secrets(
        &self,
        request: Request<SignedRequest>,
    ) -> Result<Response<ResolveSecretsResponse>, Status> {
        let who = self
            .authenticate(&request, methods::RESOLVE_SECRETS)
            .await?;
        let body: ResolveSecretsRequest = decode(&request.get_ref().body, "ResolveSecretsRequest")?;
        let live = self.live()?;
        let signed = self.signed_for(&live, &who)?;
        let refused: Vec<&String> = body
            .paths
            .iter()
            .filter(|p| !signed.secret_paths.contains(*p))
            .collect();
        let envoy = who.envoy_id.to_string();
        if !refused.is_empty() {
            self.audit(
                &envoy,
                "secrets.denied",
                &who.hostname,
                serde_json::json!({ "paths": refused, "version": live.info.version }),
            )
            .await;
            return Err(Status::permission_denied(format!(
                "secrets not referenced by this envoy's bundle (version {}): {}",
                live.info.version,
                refused
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let Some(secrets) = &self.state.secrets else {
            return Err(Status::unavailable(
                "this server has no local secrets store",
            ));
        };
        let mut values = std::collections::BTreeMap::new();
        for path in &body.paths {
            match secrets.get(path) {
                Ok(v) => {
                    values.insert(path.clone(), v.expose().as_bytes().to_vec());
                }
                Err(e) => {
                    tracing::error!(envoy = %who.envoy_id, %path, error = %e, "resolving a secret failed");
                    return Err(Status::not_found(format!(
                        "secret `{path}` cannot be read on the server"
                    )));
                }
            }
        }
        tracing::debug!(envoy = %who.envoy_id, count = values.len(), "secrets resolved");
        Ok(Response::new(ResolveSecretsResponse { values }))
    }

    async fn renew_certificate(
        &self,
        request: Request<SignedRequest>,
    ) -> Result<Response<RenewCertificateResponse>, Status> {
        self.renew_certificate_for(request).await
    }

    type AgentStreamStream = ReceiverStream<Result<ServerFrame, Status>>;

    async fn agent_stream(
        &self,
        request: Request<Streaming<SignedRequest>>,
    ) -> Result<Response<Self::AgentStreamStream>, Status> {
        let certs = request.peer_certs();
        let cn = auth::client_cn(certs.as_deref().map(Vec::as_slice))?;
        let envoy = Uuid::parse_str(&cn)
            .ok()
            .and_then(|id| self.state.fleet.get(id).map(|e| (id, e)));
        let envoy_id = match envoy {
            Some((id, e)) if e.status == crate::store::EnvoyStatus::Active => id,
            Some((id, _)) => {
                return Err(Status::permission_denied(format!("envoy {id} is revoked")));
            }
            None => {
                return Err(Status::unauthenticated(format!(
                    "envoy {cn} is not enrolled on this server"
                )));
            }
        };
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let streams = Arc::clone(&self.state.streams);
        let fleet = Arc::clone(&self.state.fleet);
        let ledger = Arc::clone(&self.state.replay);
        let clock = self.state.clock.clone();
        let mut shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let _held = streams.hold(envoy_id, tx.clone());
            let mut tick = tokio::time::interval(STREAM_KEEPALIVE);
            loop {
                tokio::select! {
                    frame = inbound.message() => {
                        let Ok(Some(frame)) = frame else { break };
                        let now = clock.unix();
                        let checked = auth::authenticate(&fleet, &ledger, certs.as_deref().map(Vec::as_slice), &frame, methods::AGENT_STREAM, now)
                            .await
                            .and_then(|who| decode::<AgentFrame>(&frame.body, "AgentFrame").map(|f| (who, f)));
                        match checked {
                            Ok((who, f)) => {
                                fleet.mark_seen(who.envoy_id, now, None);
                                if let Some(agent_frame::Frame::TaskResult(r)) = f.frame {
                                    tracing::info!(envoy = %who.envoy_id, task = %r.task_id, exit = r.exit_code, refused = %r.refused, "task result");
                                    streams.record_result(who.envoy_id, r);
                                }
                            }
                            Err(status) => {
                                let _ = tx.send(Err(status)).await;
                                break;
                            }
                        }
                    }
                    _ = tick.tick() => {
                        let frame = ServerFrame {
                            frame: Some(server_frame::Frame::Keepalive(Keepalive { timestamp_unix: clock.unix() })),
                        };
                        if tx.send(Ok(frame)).await.is_err() {
                            break;
                        }
                    }
                    _ = shutdown.changed() => break,
                    () = tx.closed() => break,
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Checks that uploaded traits are a JSON object of bounded size.
fn traits_document(bytes: Vec<u8>) -> Result<String, Status> {
    if bytes.len() > MAX_TRAITS_BYTES {
        return Err(Status::invalid_argument(format!(
            "traits document of {} bytes exceeds {MAX_TRAITS_BYTES}",
            bytes.len()
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Status::invalid_argument("traits document is not UTF-8"))?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(text),
        Ok(_) => Err(Status::invalid_argument(
            "traits document is not a JSON object",
        )),
        Err(e) => Err(Status::invalid_argument(format!(
            "traits document is not JSON: {e}"
        ))),
    }
}

/// Serves `service` on `listener` with `tls` until `shutdown` resolves, then drains the
/// connections in flight; HTTP/2 only, under `limits` (see [`crate::listen`]).
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    service: AgentService,
    limits: crate::listen::Listener,
    shutdown: impl Future<Output = ()> + Send,
) {
    crate::listen::serve(listener, tls, limits, service.into_server(), shutdown).await;
}
