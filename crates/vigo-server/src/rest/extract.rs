//! Request extractors whose rejections are JSON [`ApiError`]s (axum's own answer with
//! plain text), and the peer address of the connection.

use std::net::SocketAddr;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body; a malformed, oversized or mistyped body is a JSON 400/413/415.
pub(crate) struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let message = match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "expected a JSON body with `Content-Type: application/json`".to_owned()
        }
        other => format!("invalid JSON body: {}", other.body_text()),
    };
    ApiError::new(rejection.status(), message)
}

/// Query parameters; a malformed query is a JSON 400.
pub(crate) struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r: QueryRejection| {
                ApiError::bad_request(format!("invalid query: {}", r.body_text()))
            })
    }
}

/// Path parameters; a malformed one is a JSON 400.
pub(crate) struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|r: PathRejection| ApiError::new(r.status(), r.body_text()))
    }
}

/// The address of the connection's peer, when the server was started with connect
/// info (as [`serve`](super::serve) does).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub Option<SocketAddr>);

impl Peer {
    /// Reads the peer address from a request's extensions.
    pub(crate) fn of(parts: &Parts) -> Self {
        Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer::of(parts))
    }
}

/// One page of a listing, from `?limit=&offset=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    /// At most this many (default 100, at most 1000).
    pub limit: u32,
    /// Skip this many first.
    pub offset: u32,
}

pub(crate) use vigo_api::paging::{DEFAULT_LIMIT, MAX_LIMIT};

impl Paging {
    /// The page a query asks for, checking the limit (1..=1000).
    pub(crate) fn from_query(limit: Option<u32>, offset: Option<u32>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        check_limit(limit)?;
        Ok(Paging {
            limit,
            offset: offset.unwrap_or(0),
        })
    }

    /// One page of an in-memory listing.
    pub(crate) fn apply<T>(self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .skip(self.offset as usize)
            .take(self.limit as usize)
            .collect()
    }
}

/// Checks a `?limit=`: 1..=1000.
pub(crate) fn check_limit(limit: u32) -> Result<(), ApiError> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}, got {limit}"
        )));
    }
    Ok(())
}
