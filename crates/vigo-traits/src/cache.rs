//! Collector classes and the trait cache that decides what each check-in cycle re-runs.
//!
//! - **volatile** collectors run every cycle (`time`, `uptime`, `memory`, `ports`, …);
//! - **stable** ones every `--trait-refresh-cycles` cycles (default 10);
//! - **periodic** ones hourly (`cloud`).
//!
//! The cache is plain, typed data (serialisable) so the agent can keep it in its state
//! store; a cache written by an older agent does not parse and is simply collected anew.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::collectors::Traits;

/// How often a collector's value changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Re-run every cycle.
    Volatile,
    /// Re-run every N cycles.
    Stable,
    /// Re-run hourly.
    Periodic,
}

/// How long periodic collectors are cached.
pub const PERIODIC_SECS: i64 = 3_600;

/// When one cached collector value was collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The cycle it was collected in.
    pub cycle: u64,
    /// When (Unix seconds).
    pub at_unix: i64,
}

/// The cached values (typed) and when each was collected, plus the cycle counter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TraitCache {
    /// The current check-in cycle.
    pub cycle: u64,
    /// The cached values.
    pub traits: Traits,
    /// When each cached value was collected, by collector name.
    pub stamps: BTreeMap<String, Stamp>,
}

impl TraitCache {
    /// Whether `name` of `class` must be collected again in cycle `cycle` at `now`.
    pub fn is_due(
        &self,
        name: &str,
        class: Class,
        cycle: u64,
        now_unix: i64,
        refresh_cycles: u64,
    ) -> bool {
        let Some(e) = self.stamps.get(name) else {
            return true;
        };
        match class {
            Class::Volatile => true,
            Class::Stable => cycle.saturating_sub(e.cycle) >= refresh_cycles.max(1),
            Class::Periodic => now_unix - e.at_unix >= PERIODIC_SECS,
        }
    }

    /// Records fresh values collected in `cycle`.
    pub fn store(&mut self, fresh: &Traits, cycle: u64, now_unix: i64) {
        self.cycle = cycle;
        let stamp = Stamp {
            cycle,
            at_unix: now_unix,
        };
        for name in fresh.names() {
            self.stamps.insert(name.to_owned(), stamp);
        }
        self.traits.merge(fresh.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collectors::{cloud::Cloud, os::Os, time::Time};

    #[test]
    fn classes_drive_refresh() {
        let mut c = TraitCache::default();
        assert!(c.is_due("os", Class::Stable, 0, 0, 10), "never collected");
        let vals = Traits {
            os: Some(Os::default()),
            cloud: Some(Cloud::default()),
            time: Some(Time::default()),
            ..Traits::default()
        };
        c.store(&vals, 0, 1_000);
        assert!(c.is_due("time", Class::Volatile, 1, 1_001, 10));
        assert!(!c.is_due("os", Class::Stable, 9, 1_001, 10));
        assert!(c.is_due("os", Class::Stable, 10, 1_001, 10));
        assert!(!c.is_due("cloud", Class::Periodic, 50, 1_000 + 3_599, 10));
        assert!(c.is_due("cloud", Class::Periodic, 50, 1_000 + 3_600, 10));
        assert!(c.is_due("memory", Class::Volatile, 50, 1_000, 10));
    }

    #[test]
    fn the_cache_survives_a_round_trip_through_the_state_store() {
        let mut c = TraitCache::default();
        let os = Os {
            family: "debian".into(),
            ..Os::default()
        };
        c.store(
            &Traits {
                os: Some(os),
                ..Traits::default()
            },
            3,
            7,
        );
        let back: TraitCache = serde_json::from_slice(&serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.traits.os.unwrap().family, "debian");
    }
}
