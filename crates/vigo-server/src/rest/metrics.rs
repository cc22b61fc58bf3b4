//! `GET /metrics` (Prometheus text) and the middleware counting every request in
//! `vigo_http_requests_total{method, route, status}` (`route` is the route pattern, e.g.
//! `/api/v1/envoys/{id}`, or `unmatched`, so hostile paths cannot grow the label set).
//!
//! The endpoint needs no token unless `metrics.require_auth` is set (then any valid
//! token); with `metrics.enabled: false` it is 404.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::auth::Caller;
use super::error::ApiError;

/// Counts the request once its response is known.
pub(crate) async fn count_requests(req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(req).await;
    metrics::counter!(
        "vigo_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string(),
    )
    .increment(1);
    response
}

/// `GET /metrics`: the Prometheus text exposition of the process's recorder.
pub(crate) async fn render(
    State(app): State<ApiState>,
    req: Request,
) -> Result<Response, ApiError> {
    let settings = app.rest.config.metrics;
    if !settings.enabled {
        return Err(ApiError::not_found(
            "metrics are disabled on this server (`metrics.enabled: false`)",
        ));
    }
    if settings.require_auth {
        let (mut parts, _) = req.into_parts();
        <Caller as axum::extract::FromRequestParts<ApiState>>::from_request_parts(&mut parts, &app)
            .await?;
    }
    let text = app.rest.metrics.render();
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}
