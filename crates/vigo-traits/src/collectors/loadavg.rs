//! `loadavg`: load averages and scheduler counts from `/proc/loadavg`.

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `loadavg` trait.
    #[derive(Debug, Clone, PartialEq, Serialize, Default, Deserialize)]
    pub struct LoadAvg {
        /// 1-minute load.
        pub load1: f64,
        /// 5-minute load.
        pub load5: f64,
        /// 15-minute load.
        pub load15: f64,
        /// Runnable scheduling entities now.
        pub running: u64,
        /// Scheduling entities in total.
        pub total: u64,
    }
}

/// Collects `loadavg`.
pub fn collect(ctx: &Ctx) -> Result<LoadAvg, TraitError> {
    let text = ctx.read("/proc/loadavg")?;
    let p: Vec<&str> = text.split_whitespace().collect();
    let bad = || TraitError::malformed("/proc/loadavg is malformed");
    let num = |i: usize| p.get(i).and_then(|v| v.parse::<f64>().ok()).ok_or_else(bad);
    let (running, total) = p.get(3).and_then(|s| s.split_once('/')).ok_or_else(bad)?;
    Ok(LoadAvg {
        load1: num(0)?,
        load5: num(1)?,
        load15: num(2)?,
        running: running.parse().map_err(|_| bad())?,
        total: total.parse().map_err(|_| bad())?,
    })
}
