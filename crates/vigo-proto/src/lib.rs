//! The Vigo wire protocol, generated from `proto/vigo/v1/*.proto`.
//!
//! This crate holds generated code only: no logic. The `.proto` files are the
//! single contract between the agent and the server; see their comments for the
//! meaning of every field and for the exact bytes a request signature covers.

/// Version 1 of the protocol (`package vigo.v1`).
pub mod v1 {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    tonic::include_proto!("vigo.v1");

    /// The RPC names of `vigo.v1.Agent`, generated from the `.proto`: what a
    /// `SignedRequest` signature covers, the same constant on both sides.
    pub mod methods {
        include!(concat!(env!("OUT_DIR"), "/methods.rs"));
    }
}
