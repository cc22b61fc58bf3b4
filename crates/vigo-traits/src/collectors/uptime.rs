//! `uptime`: seconds since boot (`/proc/uptime`) and the boot time.

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `uptime` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Uptime {
        /// Whole seconds since boot.
        pub seconds: u64,
        /// When the machine booted, RFC 3339 UTC.
        pub boot_time: String,
    }
}

/// Collects `uptime`.
pub fn collect(ctx: &Ctx) -> Result<Uptime, TraitError> {
    let text = ctx.read("/proc/uptime")?;
    let secs: f64 = text
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| TraitError::malformed("/proc/uptime is malformed"))?;
    let seconds = secs as u64;
    let now = time::OffsetDateTime::now_utc();
    let boot = now - time::Duration::seconds(i64::try_from(seconds).unwrap_or(0));
    let boot_time = boot
        .replace_nanosecond(0)
        .unwrap_or(boot)
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| TraitError::system("formatting the boot time", e))?;
    Ok(Uptime { seconds, boot_time })
}
