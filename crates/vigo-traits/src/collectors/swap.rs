//! `swap`: swap totals from `/proc/meminfo` and the devices of `/proc/swaps`.

use serde::{Deserialize, Serialize};

use super::{kb_fields, pct};
use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// One swap area.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct SwapDevice {
        /// File or device path.
        pub path: String,
        /// `partition` or `file`.
        pub r#type: String,
        /// Size in bytes.
        pub size_bytes: u64,
        /// Used bytes.
        pub used_bytes: u64,
        /// Priority.
        pub priority: i64,
    }
}

crate::trait_struct! {
    /// The `swap` trait.
    #[derive(Debug, Clone, PartialEq, Serialize, Default, Deserialize)]
    pub struct Swap {
        /// `SwapTotal`.
        pub total_bytes: u64,
        /// `SwapFree`.
        pub free_bytes: u64,
        /// Total minus free.
        pub used_bytes: u64,
        /// Used as a percentage of total.
        pub used_pct: f64,
        /// Swap areas.
        pub devices: Vec<SwapDevice>,
    }
}

/// Collects `swap`.
pub fn collect(ctx: &Ctx) -> Result<Swap, TraitError> {
    let meminfo = ctx.read("/proc/meminfo")?;
    let f = kb_fields(&meminfo);
    let total = f.get("SwapTotal").copied().unwrap_or(0);
    let free = f.get("SwapFree").copied().unwrap_or(0);
    let devices = ctx
        .read("/proc/swaps")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            Some(SwapDevice {
                path: (*p.first()?).to_owned(),
                r#type: (*p.get(1)?).to_owned(),
                size_bytes: p.get(2)?.parse::<u64>().ok()? * 1024,
                used_bytes: p.get(3)?.parse::<u64>().ok()? * 1024,
                priority: p.get(4)?.parse().ok()?,
            })
        })
        .collect();
    Ok(Swap {
        total_bytes: total,
        free_bytes: free,
        used_bytes: total.saturating_sub(free),
        used_pct: pct(total.saturating_sub(free), total),
        devices,
    })
}
