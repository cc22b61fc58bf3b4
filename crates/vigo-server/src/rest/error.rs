//! Errors of the REST API: [`ApiError`] is what a handler returns and what the client
//! sees (`{"message": …}` with an HTTP status); [`ServeError`] is why the listener could
//! not run.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vigo_api::ErrorBody;

use crate::ops::PublishError;
use crate::secrets::SecretsError;
use crate::store::StoreError;

/// A refused or failed request: an HTTP status and a one-line reason, sent as
/// `{"message": "…"}` (plus `"errors": […]` when there are several problems, as for an
/// invalid stacks tree).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a human.
    pub message: String,
    /// Every problem, when there are several (empty otherwise).
    pub errors: Vec<String>,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            errors: Vec::new(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401: no valid API token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403: the token's role does not allow this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404: no such thing.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409: the request conflicts with what is stored.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 503: a part of the server this request needs is not configured or not reachable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 500: the server failed. The full cause goes to the server log; the client gets
    /// `what` and the top-level reason.
    pub fn internal(what: &str, cause: &(dyn std::error::Error + 'static)) -> Self {
        let chain = error_chain(cause);
        tracing::error!(target: "vigo::rest", "{what}: {chain}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error while {what}: {cause}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            message: self.message,
            errors: self.errors,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound { .. } => ApiError::not_found(e.to_string()),
            StoreError::AlreadyExists { .. }
            | StoreError::HostnameEnrolled { .. }
            | StoreError::VersionNotNewer { .. } => ApiError::conflict(e.to_string()),
            StoreError::Invalid { .. } => ApiError::bad_request(e.to_string()),
            StoreError::TokenRejected(_) => ApiError::forbidden(e.to_string()),
            StoreError::Open { .. }
            | StoreError::DataDir { .. }
            | StoreError::Migrate { .. }
            | StoreError::Query { .. }
            | StoreError::Corrupt { .. } => ApiError::internal("using the database", &e),
        }
    }
}

impl From<SecretsError> for ApiError {
    fn from(e: SecretsError) -> Self {
        match &e {
            SecretsError::InvalidPath { .. } => ApiError::bad_request(e.to_string()),
            SecretsError::NotFound(_) => ApiError::not_found(e.to_string()),
            _ => ApiError::internal("using the secrets store", &e),
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Invalid(problems) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: PublishError::Invalid(problems.clone()).to_string(),
                errors: problems.into_iter().map(|p| p.message).collect(),
            },
            PublishError::Unchanged(_) => ApiError::conflict(e.to_string()),
            PublishError::UnknownVersion(_) => ApiError::not_found(e.to_string()),
            PublishError::Internal(_) => ApiError::internal("reading the configuration", &e),
        }
    }
}

/// An error and its causes, `outer: inner: …` ([`vigo_core::error::chain`]).
pub(crate) use vigo_core::error::chain as error_chain;

/// Why the REST listener could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listening socket could not be used or the server failed.
    #[error("serving the REST API on {addr}")]
    Io {
        /// The listening address (or `?` when unknown).
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The Prometheus recorder could not be installed (another one is installed).
    #[error("installing the Prometheus metrics recorder")]
    Metrics(#[source] metrics_exporter_prometheus::BuildError),
}
