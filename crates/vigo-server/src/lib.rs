//! `vigosrv`: configuration publish, bundle resolution and signing, gRPC services,
//! REST API, storage, CA and enrollment. The modules arrive with the server issue.

pub mod clock;
pub mod config;
pub mod datadir;
pub mod enroll;
pub mod fleet;
pub mod grpc;
pub mod listen;
pub mod ops;
pub mod pki;
pub mod publish;
pub mod refusals;
pub mod replay;
pub mod rest;
pub mod retention;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod store;
pub mod streams;
