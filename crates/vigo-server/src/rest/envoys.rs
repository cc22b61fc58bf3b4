//! Envoys, their traits and their runs: `GET /api/v1/envoys`, `GET /api/v1/envoys/{id}`,
//! `POST /api/v1/envoys/{id}/revoke`, `GET /api/v1/envoys/{id}/traits`,
//! `GET /api/v1/envoys/{id}/runs`, `GET /api/v1/runs/{id}`.
//!
//! `{id}` of an envoy is its UUID, or a hostname, which names the active envoy holding
//! it.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use uuid::Uuid;
use vigo_api::fleet::{self as api, DEFAULT_RESULTS_PAGE, MAX_RESULTS_PAGE};

use super::ApiState;
use super::auth::{Admin, Authorized, FleetRead, ReportRead};
use super::error::ApiError;
use super::extract::{Paging, Path, Query};
use crate::enroll::MAX_HOSTNAME_LEN;
use crate::store::{Envoy, EnvoyFilter, EnvoyStatus, Page, ResourceResult, Run};

/// An envoy as the API shows it (with its certificate only in the single-envoy view).
fn envoy_view(e: Envoy, with_cert: bool) -> api::Envoy {
    api::Envoy {
        id: e.id.to_string(),
        hostname: e.hostname,
        status: e.status,
        environment: e.environment,
        address: e.address,
        agent_version: e.agent_version,
        enrolled_at: e.enrolled_at,
        revoked_at: e.revoked_at,
        last_seen_at: e.last_seen_at,
        policy_version: e.policy_version,
        traits_sha256: e.traits_sha256,
        public_key: hex::encode(e.public_key),
        cert_serial: e.cert_serial,
        cert_pem: with_cert.then_some(e.cert_pem),
    }
}

/// Finds the envoy `key` names: a UUID, or the hostname of an active envoy.
async fn find(app: &ApiState, key: &str) -> Result<Envoy, ApiError> {
    if let Ok(id) = Uuid::parse_str(key) {
        return app
            .rest
            .store
            .envoy(id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no envoy has id {id}")));
    }
    if key.is_empty() || key.len() > MAX_HOSTNAME_LEN {
        return Err(ApiError::bad_request(format!(
            "`{key}` is neither an envoy id nor a hostname"
        )));
    }
    app.rest
        .store
        .active_envoy_by_hostname(key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no active envoy has hostname `{key}`")))
}

/// `GET /api/v1/envoys?status=&hostname=&limit=&offset=`, ordered by hostname.
pub(crate) async fn list(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Query(q): Query<api::EnvoyQuery>,
) -> Result<Json<Vec<api::Envoy>>, ApiError> {
    let page = Paging::from_query(q.limit, q.offset)?;
    let filter = EnvoyFilter {
        status: q.status,
        hostname: q.hostname,
        limit: Some(page.limit),
        offset: page.offset,
    };
    let envoys = app.rest.store.list_envoys(&filter).await?;
    Ok(Json(
        envoys.into_iter().map(|e| envoy_view(e, false)).collect(),
    ))
}

/// `GET /api/v1/envoys/{id}`: one envoy, with its client certificate.
pub(crate) async fn show(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Path(key): Path<String>,
) -> Result<Json<api::Envoy>, ApiError> {
    Ok(Json(envoy_view(find(&app, &key).await?, true)))
}

/// `POST /api/v1/envoys/{id}/revoke`: the envoy can no longer check in, and its id is
/// never reused. Revoking a revoked envoy changes nothing (and is audited as such).
pub(crate) async fn revoke(
    State(app): State<ApiState>,
    auth: Authorized<Admin>,
    Path(key): Path<String>,
) -> Result<Json<api::Envoy>, ApiError> {
    let envoy = find(&app, &key).await?;
    let already = envoy.status == EnvoyStatus::Revoked;
    let revoked = app.rest.store.revoke_envoy(envoy.id, app.now()).await?;
    app.rest.registrar.envoy_revoked(envoy.id);
    app.audit(
        &auth.caller.name,
        "envoy.revoked",
        Some(&envoy.id.to_string()),
        json!({ "hostname": envoy.hostname, "already_revoked": already }),
    )
    .await?;
    Ok(Json(envoy_view(revoked, false)))
}

/// `GET /api/v1/envoys/{id}/traits[?path=a.b]`: the envoy's latest traits document, or
/// the value at `path` in it.
pub(crate) async fn traits(
    State(app): State<ApiState>,
    _auth: Authorized<FleetRead>,
    Path(key): Path<String>,
    Query(q): Query<api::TraitsQuery>,
) -> Result<Json<Value>, ApiError> {
    let envoy = find(&app, &key).await?;
    let Some(text) = app.rest.store.envoy_traits(envoy.id).await? else {
        return Err(ApiError::not_found(format!(
            "envoy {} ({}) has not reported traits yet",
            envoy.id, envoy.hostname
        )));
    };
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| ApiError::internal("reading the stored traits", &e))?;
    match q.path.as_deref().filter(|p| !p.is_empty()) {
        None => Ok(Json(doc)),
        Some(path) => lookup(doc, path).map(Json).ok_or_else(|| {
            ApiError::not_found(format!("the traits of {} have no `{path}`", envoy.hostname))
        }),
    }
}

/// The value at a dotted path: object keys, and array indexes as numbers.
fn lookup(mut doc: Value, path: &str) -> Option<Value> {
    for part in path.split('.') {
        doc = match doc {
            Value::Object(mut map) => map.remove(part)?,
            Value::Array(mut items) => {
                let i: usize = part.parse().ok()?;
                if i >= items.len() {
                    return None;
                }
                items.swap_remove(i)
            }
            _ => return None,
        };
    }
    Some(doc)
}

/// A run as the API shows it.
fn run_view(r: Run) -> api::Run {
    api::Run {
        id: r.id.to_string(),
        envoy_id: r.envoy_id.to_string(),
        started_at: r.started_at,
        finished_at: r.finished_at,
        duration_micros: r.duration_micros,
        policy_version: r.policy_version,
        dry_run: r.dry_run,
        counts: r.counts,
    }
}

/// `GET /api/v1/envoys/{id}/runs?limit=&offset=`: the envoy's runs, newest first.
pub(crate) async fn runs(
    State(app): State<ApiState>,
    _auth: Authorized<ReportRead>,
    Path(key): Path<String>,
    Query(q): Query<api::RunsQuery>,
) -> Result<Json<Vec<api::Run>>, ApiError> {
    let page = Paging::from_query(q.limit, q.offset)?;
    let envoy = find(&app, &key).await?;
    let runs = app
        .rest
        .store
        .runs_of_envoy(
            envoy.id,
            Page {
                limit: page.limit,
                offset: page.offset,
            },
        )
        .await?;
    Ok(Json(runs.into_iter().map(run_view).collect()))
}

/// One resource's outcome in a run.
fn result_view(r: ResourceResult) -> api::RunResult {
    api::RunResult {
        resource_id: r.resource_id,
        resource_type: r.resource_type,
        name: r.name,
        action: r.action.as_str().to_owned(),
        message: r.message,
        duration_micros: r.duration_micros,
    }
}

/// `GET /api/v1/runs/{id}?results_from=&results_limit=`: one run with a page of its
/// results and timings (500 by default, at most 5000).
pub(crate) async fn run(
    State(app): State<ApiState>,
    _auth: Authorized<ReportRead>,
    Path(id): Path<String>,
    Query(q): Query<api::RunQuery>,
) -> Result<Json<api::RunDetail>, ApiError> {
    let id = Uuid::parse_str(&id)
        .map_err(|e| ApiError::bad_request(format!("`{id}` is not a run id: {e}")))?;
    let limit = q.results_limit.unwrap_or(DEFAULT_RESULTS_PAGE);
    if !(1..=MAX_RESULTS_PAGE).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "results_limit must be 1 to {MAX_RESULTS_PAGE}, got {limit}"
        )));
    }
    let from = q.results_from.unwrap_or(0);
    let Some(run) = app.rest.store.run(id).await? else {
        return Err(ApiError::not_found(format!("no run has id {id}")));
    };
    let page = app.rest.store.run_results_page(id, from, limit).await?;
    let hostname = app
        .rest
        .store
        .envoy(run.envoy_id)
        .await?
        .map(|e| e.hostname);
    Ok(Json(api::RunDetail {
        results_total: run.counts.total(),
        run: run_view(run),
        hostname,
        results_from: from,
        results_next: page.next,
        results: page.results.into_iter().map(result_view).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::lookup;
    use serde_json::json;

    #[test]
    fn dotted_paths_walk_objects_and_arrays() {
        let doc = json!({"os": {"family": "debian"}, "nics": [{"name": "eth0"}]});
        assert_eq!(lookup(doc.clone(), "os.family"), Some(json!("debian")));
        assert_eq!(lookup(doc.clone(), "nics.0.name"), Some(json!("eth0")));
        assert_eq!(lookup(doc.clone(), "nics.1"), None);
        assert_eq!(lookup(doc.clone(), "nics.x"), None);
        assert_eq!(lookup(doc, "os.family.more"), None);
    }
}
