//! `time`: the local clock, for `hour_range` and schedule-aware templates.

use serde::{Deserialize, Serialize};

use crate::ctx::Ctx;
use crate::error::TraitError;

crate::trait_struct! {
    /// The `time` trait.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, Deserialize)]
    pub struct Time {
        /// Local hour, 0–23.
        pub hour: u8,
        /// Local minute.
        pub minute: u8,
        /// Lowercase weekday name.
        pub weekday: String,
        /// Day of month.
        pub day: u8,
        /// Month, 1–12.
        pub month: u8,
        /// Year.
        pub year: i32,
        /// `TZ`, or `Local`.
        pub timezone: String,
        /// UTC hour.
        pub utc_hour: u8,
        /// `HH:MM` local.
        pub clock: String,
        /// `YYYY-MM-DD` local.
        pub date: String,
        /// Seconds since the epoch.
        pub unix: i64,
    }
}

/// Collects `time` (local time through `localtime_r`, which honours `TZ` and
/// `/etc/localtime`).
pub fn collect(_ctx: &Ctx) -> Result<Time, TraitError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| TraitError::system("reading the clock", e))?;
    let secs = libc::time_t::try_from(now.as_secs())
        .map_err(|e| TraitError::system("converting the clock", e))?;
    // SAFETY: localtime_r/gmtime_r fill the zeroed tm structs we own; `secs` lives across
    // the calls.
    let (local, utc) = unsafe {
        let mut l: libc::tm = std::mem::zeroed();
        let mut u: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut l).is_null() || libc::gmtime_r(&secs, &mut u).is_null() {
            return Err(TraitError::malformed(
                "the C library could not convert the time",
            ));
        }
        (l, u)
    };
    const DAYS: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let b = |v: i32| u8::try_from(v).unwrap_or(0);
    let year = local.tm_year + 1900;
    let (month, day) = (b(local.tm_mon + 1), b(local.tm_mday));
    Ok(Time {
        hour: b(local.tm_hour),
        minute: b(local.tm_min),
        weekday: DAYS
            .get(usize::try_from(local.tm_wday).unwrap_or(0))
            .copied()
            .unwrap_or("sunday")
            .to_owned(),
        day,
        month,
        year,
        timezone: std::env::var("TZ")
            .ok()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Local".to_owned()),
        utc_hour: b(utc.tm_hour),
        clock: format!("{:02}:{:02}", local.tm_hour, local.tm_min),
        date: format!("{year:04}-{month:02}-{day:02}"),
        unix: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
    })
}
