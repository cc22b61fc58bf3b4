//! `memory`: physical memory from `/proc/meminfo`.

use serde::{Deserialize, Serialize};

use super::{kb_fields, pct};
use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `memory` trait (bytes).
    #[derive(Debug, Clone, PartialEq, Serialize, Default, Deserialize)]
    pub struct Memory {
        /// `MemTotal`.
        pub total_bytes: u64,
        /// `MemTotal` in MiB (for templates).
        pub total_mb: u64,
        /// `MemFree`.
        pub free_bytes: u64,
        /// `MemAvailable`: what can be allocated without swapping.
        pub available_bytes: u64,
        /// Total minus available.
        pub used_bytes: u64,
        /// `Buffers`.
        pub buffers_bytes: u64,
        /// `Cached`.
        pub cached_bytes: u64,
        /// Used as a percentage of total (two decimals).
        pub used_pct: f64,
    }
}

/// Collects `memory`.
pub fn collect(ctx: &Ctx) -> Result<Memory, TraitError> {
    let text = ctx.read("/proc/meminfo")?;
    let f = kb_fields(&text);
    let total = *f
        .get("MemTotal")
        .ok_or_else(|| TraitError::malformed("/proc/meminfo has no MemTotal"))?;
    let free = f.get("MemFree").copied().unwrap_or(0);
    let available = f.get("MemAvailable").copied().unwrap_or(free);
    let used = total.saturating_sub(available);
    Ok(Memory {
        total_bytes: total,
        total_mb: total / (1024 * 1024),
        free_bytes: free,
        available_bytes: available,
        used_bytes: used,
        buffers_bytes: f.get("Buffers").copied().unwrap_or(0),
        cached_bytes: f.get("Cached").copied().unwrap_or(0),
        used_pct: pct(used, total),
    })
}
