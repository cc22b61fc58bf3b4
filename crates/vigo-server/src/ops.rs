//! The seam between the REST API and the live configuration: what `/api/v1/config/*`
//! needs from the publisher (validate, publish, version, history, trace), as a trait so the
//! REST layer does not depend on how publishing and the bundle cache are built.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;

/// A boxed future, so [`ConfigOps`] can be used as `Arc<dyn ConfigOps>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One problem found in the stacks tree (`file:line:column` and what was expected).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// The whole diagnostic, one line: `configcrates/x.vgo:3:5: …`.
    pub message: String,
}

/// The live (or a historical) published version: the REST API's type.
pub use vigo_api::config::VersionInfo;

/// Why a publish or validation did not happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum PublishError {
    /// The tree is invalid: every problem, the live version unchanged.
    #[error("the stacks tree has {} error(s); nothing was published", .0.len())]
    Invalid(Vec<ConfigProblem>),
    /// The tree is identical to the live version.
    #[error("nothing changed since version {0}")]
    Unchanged(String),
    /// No published version has this name (rollback).
    #[error("no published version {0} (see the history)")]
    UnknownVersion(String),
    /// Reading the tree or storing the version failed.
    #[error(transparent)]
    Internal(InternalError),
}

impl PublishError {
    /// A failure of the server itself while `context`, keeping its cause.
    pub fn internal(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        PublishError::Internal(InternalError {
            context: context.into(),
            source: Arc::new(source),
        })
    }
}

/// A failure of the server itself (a task, the store, reading a stored tree): what it was
/// doing, with the cause kept as the error's source (a log shows the whole chain).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{context}")]
pub struct InternalError {
    context: String,
    #[source]
    source: Arc<dyn std::error::Error + Send + Sync>,
}

impl PartialEq for InternalError {
    fn eq(&self, other: &Self) -> bool {
        self.context == other.context && self.source.to_string() == other.source.to_string()
    }
}

impl Eq for InternalError {}

impl Serialize for InternalError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}: {}", self.context, self.source))
    }
}

/// What the REST API asks of the live configuration.
pub trait ConfigOps: Send + Sync {
    /// Validates the stacks directory as it is on disk now, changing nothing.
    fn validate(&self) -> BoxFuture<'_, Result<(), PublishError>>;
    /// Validates, then atomically makes the tree on disk the live version.
    fn publish<'a>(&'a self, actor: &'a str) -> BoxFuture<'a, Result<VersionInfo, PublishError>>;
    /// Makes an earlier version's tree live again, as a new version.
    fn rollback<'a>(
        &'a self,
        version: &'a str,
        actor: &'a str,
    ) -> BoxFuture<'a, Result<VersionInfo, PublishError>>;
    /// The live version, if any was published.
    fn version(&self) -> Option<VersionInfo>;
    /// Published versions, newest first.
    fn history(&self, limit: u32) -> BoxFuture<'_, Result<Vec<VersionInfo>, PublishError>>;
    /// How `hostname` resolves against the live version (JSON: the match blocks consulted,
    /// the winner, roles, crates, vars with their origin, resources).
    fn trace(&self, hostname: &str, environment: Option<&str>) -> Option<serde_json::Value>;
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn an_internal_failure_keeps_its_cause_as_the_source() {
        let cause = std::io::Error::other("disk on fire");
        let e = PublishError::internal("validating", cause);
        assert_eq!(e.to_string(), "validating");
        assert_eq!(
            e.source().map(ToString::to_string).as_deref(),
            Some("disk on fire"),
            "the cause is the source, not flattened into the text"
        );
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"Internal": "validating: disk on fire"})
        );
        assert_eq!(
            e,
            PublishError::internal("validating", std::io::Error::other("disk on fire"))
        );
    }
}
