//! Trait collectors: one module per collector, run in parallel under timeouts.
