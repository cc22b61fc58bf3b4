//! The shared vocabulary of Vigo: resources, actions, bundles, canonical encoding and
//! ed25519 signing, guardrails. Agent, server and CLI all speak these types.

pub mod guardrails;
pub mod signing;
