//! `vigosrv`: configuration publish, bundle resolution and signing, gRPC services,
//! REST API, storage, CA and enrollment. The modules arrive with the server issue.
