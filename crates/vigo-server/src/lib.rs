//! `vigosrv`: configuration publish, bundle resolution and signing, gRPC services,
//! REST API, storage, CA and enrollment. The modules arrive with the server issue.

pub mod config;
pub mod ops;
pub mod pki;
pub mod secrets;
pub mod store;
