//! The REST API of `vigosrv` (`/api/v1/…`) as Rust types: the one definition of every
//! request and response body, query, endpoint path and small enum, used by `vigosrv`'s
//! handlers to answer and by `vigocli` to read the answers. A field renamed here fails to
//! compile on both sides instead of printing `-`.
//!
//! The JSON on the wire is the contract of `docs/api.md`: times are Unix seconds, a field
//! that may be absent is an [`Option`] (serialized as `null`), listings are JSON arrays
//! paged with `?limit=&offset=` ([`Paging`]).
//!
//! - [`routes`]: every endpoint, method and path;
//! - [`status`]: health, version, the caller;
//! - [`fleet`]: envoys, runs and their results;
//! - [`enrollment`]: enrollment tokens and approved patterns;
//! - [`config`]: published versions, validate, rollback, trace;
//! - [`tokens`]: API tokens and roles;
//! - [`audit`]: the audit log;
//! - [`keys`]: the bundle-signing key and its rotations;
//! - [`register`]: enrollment of a new envoy (`vigo bootstrap`);
//! - [`error`]: the error body every non-2xx answer carries;
//! - [`paging`]: `?limit=&offset=` and its bounds.
//!
//! No async runtime, HTTP client or server here: serde, serde_json and hex only.

pub mod audit;
pub mod config;
pub mod enrollment;
pub mod error;
pub mod fleet;
pub mod keys;
pub mod paging;
pub mod register;
pub mod routes;
pub mod status;
pub mod tokens;

pub use error::ErrorBody;
pub use paging::Paging;
pub use routes::{Method, Route};
