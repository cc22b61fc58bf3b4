//! The Vigo wire protocol, generated from `proto/vigo/v1/*.proto`.
//!
//! This crate holds generated code only: no logic. The `.proto` files are the
//! single contract between the agent and the server; see their comments for the
//! meaning of every field and for the exact bytes a request signature covers.
//!
//! The messages are always built; the tonic client and server (`agent_client`,
//! `agent_server`) only with the `transport` feature, so crates that only read and
//! write messages (vigo-core, vigo-lang) do not compile the gRPC transport.

/// Version 1 of the protocol (`package vigo.v1`).
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    include!(concat!(env!("OUT_DIR"), "/vigo.v1.rs"));

    /// The RPC names of `vigo.v1.Agent`, generated from the `.proto`: what a
    /// `SignedRequest` signature covers, the same constant on both sides.
    pub mod methods {
        include!(concat!(env!("OUT_DIR"), "/methods.rs"));
    }
}
